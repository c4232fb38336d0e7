"""Browser tests: the website chat widget and the operator console in a real headless Chromium.

The browser is Debian's /usr/bin/chromium driven by Playwright's sync API (``playwright install`` is never
needed). When it is missing, the tests fail with a message saying so; they are never skipped.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser_kit import LAUNCH_ARGS, Customer, Operator, chromium_path, new_context
from playwright.sync_api import Browser, sync_playwright

from tests.conftest import Tokens
from zabota.stack import Stack


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium, started once per test module.

    Not once per session: while Playwright's sync API is started it marks its own asyncio loop as the running
    one, so every async test (pytest-asyncio) collected after a still-open browser would fail with "Runner.run()
    cannot be called from a running event loop". Closing it at the end of each module keeps the rest of the
    suite working, for the price of one Chromium start (about a second) per module.
    """
    try:
        executable = chromium_path()
    except FileNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def gateway_url(stack: Stack) -> str:
    """The gateway of the test stack (tests/conftest.py): real Rasa model, Redis, action server."""
    return stack.gateway_url.rstrip("/")


@pytest.fixture(scope="session")
def operator_token(tokens: Tokens) -> str:
    """The personal token of "anna", an operator of the test stack."""
    return tokens.operator


@pytest.fixture()
def customer(browser: Browser, gateway_url: str) -> Iterator[Customer]:
    """A fresh visitor (own cookies and localStorage, so a new conversation) on the demo site."""
    context = new_context(browser)
    try:
        visitor = Customer(context, gateway_url)
        yield visitor
        assert not visitor.page_errors.errors, f"the widget threw: {visitor.page_errors.errors}"
    finally:
        context.close()


@pytest.fixture()
def operator(browser: Browser, gateway_url: str) -> Iterator[Operator]:
    """The operator console in a browser context of its own."""
    context = new_context(browser)
    try:
        console = Operator(context, gateway_url)
        yield console
        assert not console.page_errors.errors, f"the console threw: {console.page_errors.errors}"
    finally:
        context.close()
