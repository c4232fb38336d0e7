"""The widget restores the conversation from the server after a page reload."""

from __future__ import annotations

import pytest
from browser_kit import REPLY_TIMEOUT_MS, Customer
from playwright.sync_api import expect

pytestmark = pytest.mark.integration


def test_history_survives_a_reload(customer: Customer) -> None:
    customer.visit()
    customer.open_chat()
    customer.say("Здравствуйте!")
    customer.wait_for_reply("bot", 0)
    bots = customer.by_role("bot").count()
    customer.say("как оплатить интернет?")
    customer.wait_for_reply("bot", bots)
    customer.page.wait_for_timeout(1000)  # the rest of a multi-message answer
    before = customer.transcript()
    sender = customer.sender_id
    assert [role for role, _ in before].count("customer") == 2

    customer.page.reload()
    customer.open_chat()
    assert customer.sender_id == sender, "the visitor id must survive the reload"
    expect(customer.messages).to_have_count(len(before), timeout=REPLY_TIMEOUT_MS)
    assert customer.transcript() == before


def test_a_new_tab_shows_the_same_conversation(customer: Customer) -> None:
    customer.visit()
    customer.open_chat()
    customer.say("Здравствуйте!")
    customer.wait_for_reply("bot", 0)
    customer.page.wait_for_timeout(1000)
    before = customer.transcript()

    second = Customer(customer.context, customer.gateway_url)  # same browser profile: same visitor id
    second.visit()
    second.open_chat()
    expect(second.messages).to_have_count(len(before), timeout=REPLY_TIMEOUT_MS)
    assert second.transcript() == before
    assert not second.page_errors.errors, second.page_errors.errors
