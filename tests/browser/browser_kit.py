"""Page helpers for the browser tests: the customer's website chat widget and the operator console.

Everything is found through the data-testid hooks the front ends promise (gateway/static/); Playwright's
locators pierce the widget's open shadow root, so the same calls work there as on a plain page.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# The first answer of a freshly started Rasa can take a while; everything else is quicker.
REPLY_TIMEOUT_MS = 60_000
UI_TIMEOUT_MS = 15_000


def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(
            f"{CHROMIUM} is missing: the browser tests drive Debian's Chromium (apt-get install chromium); "
            "`playwright install` is not used and does not work offline"
        )
    return CHROMIUM


class PageErrors:
    """Uncaught JavaScript exceptions of a page: a front end that throws fails the test that saw it."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))


class Customer:
    """A visitor of the demo site with the chat widget."""

    def __init__(self, context: BrowserContext, gateway_url: str) -> None:
        self.context = context
        self.gateway_url = gateway_url
        self.page = context.new_page()
        self.page_errors = PageErrors(self.page)

    # -- locators
    @property
    def panel(self) -> Locator:
        return self.page.get_by_test_id("zabota-panel")

    @property
    def status(self) -> Locator:
        return self.page.get_by_test_id("zabota-status")

    @property
    def messages(self) -> Locator:
        return self.page.get_by_test_id("zabota-messages").get_by_test_id("zabota-msg")

    def by_role(self, role: str) -> Locator:
        return self.page.locator(f'[data-testid="zabota-msg"][data-role="{role}"]')

    # -- actions
    def visit(self) -> None:
        self.page.goto(f"{self.gateway_url}/webchat/demo")
        expect(self.page.get_by_test_id("zabota-launcher")).to_be_visible(timeout=UI_TIMEOUT_MS)

    def open_chat(self) -> None:
        """Opens the panel (unless it is open already) and waits for the live connection."""
        if not self.panel.is_visible():
            self.page.get_by_test_id("zabota-launcher").click()
        expect(self.panel).to_be_visible(timeout=UI_TIMEOUT_MS)
        expect(self.status).to_have_attribute("data-state", "online", timeout=UI_TIMEOUT_MS)

    def say(self, text: str) -> None:
        """Types and sends a message, then waits until the gateway has confirmed it (echo or HTTP answer)."""
        before = self.by_role("customer").count()
        self.page.get_by_test_id("zabota-input").fill(text)
        send = self.page.get_by_test_id("zabota-send")
        expect(send).to_be_enabled()
        send.click()
        mine = self.by_role("customer").nth(before)
        expect(mine.get_by_test_id("zabota-text")).to_have_text(text, timeout=UI_TIMEOUT_MS)
        expect(mine).not_to_have_attribute("data-pending", "true", timeout=REPLY_TIMEOUT_MS)

    def wait_for_reply(self, role: str, already: int, timeout: int = REPLY_TIMEOUT_MS) -> Locator:
        """The first ``role`` message after the ``already`` ones seen before."""
        reply = self.by_role(role).nth(already)
        expect(reply).to_be_visible(timeout=timeout)
        return reply

    @property
    def sender_id(self) -> str:
        value = self.page.evaluate("() => window.localStorage.getItem('zabota.sender_id')")
        assert isinstance(value, str) and value.startswith("w-"), value
        return value

    def transcript(self) -> list[tuple[str, str]]:
        """(role, text) of every message shown, in order."""
        rows: list[tuple[str, str]] = []
        for msg in self.messages.all():
            role = msg.get_attribute("data-role") or ""
            rows.append((role, msg.get_by_test_id("zabota-text").inner_text()))
        return rows


class Operator:
    """An operator in the console at /operator."""

    def __init__(self, context: BrowserContext, gateway_url: str) -> None:
        self.context = context
        self.gateway_url = gateway_url
        self.page = context.new_page()
        self.page_errors = PageErrors(self.page)

    def login(self, token: str) -> None:
        self.page.goto(f"{self.gateway_url}/operator")
        self.page.get_by_test_id("op-token-input").fill(token)
        self.page.get_by_test_id("op-login").click()
        expect(self.page.get_by_test_id("op-logout")).to_be_visible(timeout=UI_TIMEOUT_MS)
        expect(self.page.get_by_test_id("op-status")).to_have_attribute("data-state", "online", timeout=UI_TIMEOUT_MS)

    def item(self, handoff_id: str) -> Locator:
        return self.page.locator(f'[data-testid="op-item"][data-handoff-id="{handoff_id}"]')

    def handoff_ids(self) -> set[str]:
        """The handoffs in the queue now."""
        ids = self.page.get_by_test_id("op-item").evaluate_all("(items) => items.map((i) => i.dataset.handoffId)")
        return set(ids)

    def wait_for_new_item(
        self,
        known: set[str],
        priorities: tuple[str, ...] = ("p1", "p2", "p3", "p4"),
        timeout_ms: int = REPLY_TIMEOUT_MS,
    ) -> Locator:
        """The first queue item (in the console's order) that was not in ``known`` and has one of ``priorities``.

        The gateway gives a customer an opaque id of its own (not the widget's visitor id), so a test knows its
        handoff as the one that appeared after its customer wrote, with the console already open.
        """
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            for node in self.page.get_by_test_id("op-item").all():
                handoff_id = node.get_attribute("data-handoff-id") or ""
                if handoff_id and handoff_id not in known and node.get_attribute("data-priority") in priorities:
                    return self.item(handoff_id)
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no new handoff with priority {'/'.join(priorities)} reached the operator queue in "
                    f"{timeout_ms / 1000:.0f} s; queue now: {sorted(self.handoff_ids())}"
                )
            self.page.wait_for_timeout(250)

    def open_item(self, item: Locator) -> None:
        expect(item).to_have_count(1, timeout=UI_TIMEOUT_MS)
        item.click()
        expect(item).to_have_attribute("aria-current", "true")
        expect(self.page.get_by_test_id("op-summary")).to_be_visible(timeout=UI_TIMEOUT_MS)

    def lines(self, role: str) -> Locator:
        return self.page.get_by_test_id("op-transcript").locator(f'[data-testid="op-line"][data-role="{role}"]')

    def click_action(self, testid: str) -> None:
        button = self.page.get_by_test_id(testid)
        expect(button).to_be_enabled(timeout=UI_TIMEOUT_MS)
        button.click()

    def reply(self, text: str) -> None:
        self.page.get_by_test_id("op-reply-input").fill(text)
        self.click_action("op-reply-send")
        expect(self.lines("operator").filter(has_text=text)).to_have_count(1, timeout=UI_TIMEOUT_MS)


def new_context(browser: Browser) -> BrowserContext:
    return browser.new_context(locale="ru-RU", timezone_id="Europe/Moscow", viewport={"width": 1280, "height": 860})


PRIORITY_P2_OR_BETTER = re.compile(r"^p[12]$")
