"""Customer text is shown as text everywhere: markup in a message never runs, in the widget or the console."""

from __future__ import annotations

import pytest
from browser_kit import REPLY_TIMEOUT_MS, Customer, Operator
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.integration

PAYLOAD = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
ASK_FOR_HUMAN = "соедините меня с живым оператором пожалуйста"


def assert_not_injected(page: Page) -> None:
    # An <img src=x> would fire its onerror at once; give it a moment anyway.
    page.wait_for_timeout(500)
    assert page.evaluate("() => typeof window.__pwned") == "undefined"
    assert page.locator("img[src='x']").count() == 0  # locators see into the widget's shadow root too
    assert page.locator("script:has-text('__pwned')").count() == 0


def test_markup_in_a_customer_message_stays_text(customer: Customer, operator: Operator, operator_token: str) -> None:
    operator.login(operator_token)
    known = operator.handoff_ids()

    customer.visit()
    customer.open_chat()
    customer.say(PAYLOAD)  # waits until the message, as text, is confirmed by the gateway
    bots = customer.by_role("bot").count()
    customer.say(ASK_FOR_HUMAN)
    customer.wait_for_reply("bot", bots)

    shown = customer.by_role("customer").get_by_test_id("zabota-text").filter(has_text="__pwned")
    expect(shown).to_have_text(PAYLOAD)
    assert_not_injected(customer.page)

    # The history path (a reload renders it from the server) escapes too.
    customer.page.reload()
    customer.open_chat()
    expect(customer.by_role("customer").get_by_test_id("zabota-text").filter(has_text="__pwned")).to_have_text(
        PAYLOAD, timeout=REPLY_TIMEOUT_MS
    )
    assert_not_injected(customer.page)

    item = operator.wait_for_new_item(known)
    operator.open_item(item)
    line = operator.lines("customer").filter(has_text="__pwned")
    expect(line.first).to_be_visible()
    expect(line.first.get_by_test_id("op-line-text")).to_have_text(PAYLOAD)
    preview = item.get_by_test_id("op-preview")
    if preview.count():
        assert "<" not in (preview.inner_html()), "the preview must hold text, not markup"
    assert_not_injected(operator.page)
