"""A sensitive request goes from the website chat to an operator and, after the handback, back to the bot."""

from __future__ import annotations

import pytest
from browser_kit import PRIORITY_P2_OR_BETTER, UI_TIMEOUT_MS, Customer, Operator
from playwright.sync_api import expect

pytestmark = pytest.mark.integration

SENSITIVE = "мне угрожает бывший муж, он взломал мой аккаунт и пишет с моего номера"
GREETING = "Здравствуйте, я Анна, помогу"
PAYMENT = "как оплатить интернет?"


def test_sensitive_message_is_handed_to_an_operator_and_back(
    customer: Customer, operator: Operator, operator_token: str
) -> None:
    # The operator is already on shift, so the handoff arrives live over the console's WebSocket.
    operator.login(operator_token)
    known = operator.handoff_ids()

    customer.visit()
    customer.open_chat()
    customer.say(SENSITIVE)

    # Urgent: the item in the queue with a priority of p2 or better, and a banner about it.
    item = operator.wait_for_new_item(known, priorities=("p1", "p2"))
    expect(item).to_have_attribute("data-priority", PRIORITY_P2_OR_BETTER)
    handoff_id = item.get_attribute("data-handoff-id")
    assert handoff_id
    expect(operator.page.locator(f'[data-testid="op-alert"][data-handoff-id="{handoff_id}"]')).to_be_visible()

    # The summary says why the bot handed over; the transcript has the customer's words.
    operator.open_item(item)
    summary = operator.page.get_by_test_id("op-summary")
    expect(summary.get_by_test_id("op-reason").first).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(operator.lines("customer").filter(has_text=SENSITIVE).first).to_be_visible()
    # The system of record's history beside it: this very conversation, recorded as a webchat contact.
    expect(summary.get_by_test_id("op-contacts")).to_contain_text("webchat", timeout=UI_TIMEOUT_MS)

    # Before the claim the operator cannot answer; after it they can.
    expect(operator.page.get_by_test_id("op-reply-input")).to_be_disabled()
    operator.click_action("op-claim")
    expect(operator.page.get_by_test_id("op-detail-state")).to_have_attribute(
        "data-state", "claimed", timeout=UI_TIMEOUT_MS
    )

    operators_before = customer.by_role("operator").count()
    operator.reply(GREETING)
    answer = customer.wait_for_reply("operator", operators_before, timeout=UI_TIMEOUT_MS)
    expect(answer.get_by_test_id("zabota-text")).to_have_text(GREETING)
    expect(answer.get_by_test_id("zabota-author")).not_to_be_empty()

    # Handed back: the bot answers again.
    operator.click_action("op-handback")
    expect(operator.page.get_by_test_id("op-detail-state")).to_have_attribute(
        "data-state", "handed_back", timeout=UI_TIMEOUT_MS
    )
    bots_before = customer.by_role("bot").count()
    operators_before = customer.by_role("operator").count()
    customer.say(PAYMENT)
    reply = customer.wait_for_reply("bot", bots_before)
    expect(reply.get_by_test_id("zabota-text")).not_to_be_empty()
    assert customer.by_role("operator").count() == operators_before
