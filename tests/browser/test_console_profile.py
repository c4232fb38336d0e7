"""A known customer writes in the website chat; the operator sees their profile and history in the console.

The company loads the customer through the customers API (profile, then two earlier contacts this week about the
internet being down: a call and an SMS), the company's website vouches for the logged-in customer with a signed
site identity (docs/webchat-identity.md), and the customer reports the problem a third time. The recurring rule
(three times in seven days, across channels, read from the system of record) hands it to a person; the console's
summary shows who it is from the records and what happened before.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from browser_kit import REPLY_TIMEOUT_MS, UI_TIMEOUT_MS, Customer, Operator
from playwright.sync_api import ConsoleMessage, expect

from tests.conftest import Tokens
from zabota.redaction import mask_email, mask_phone
from zabota.site_identity import sign

pytestmark = pytest.mark.integration

THIRD_TIME = "опять пропал интернет, уже третий раз за неделю, сколько можно"
# gateway/texts.py HANDOFF_ETA, the formal variant (55-64 is formal by zabota/tone/rules.yml); the rest of it
# has the minutes and the time, which change from run to run
HANDOFF_FORMAL = "Ваш вопрос передан специалисту"
HANDOFF_NEUTRAL = "Я передал ваш вопрос специалисту"


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), f"{response.request.url}: {response.status_code} {response.text}"
    body: dict[str, Any] = response.json()
    return body


def _known_customer(gateway: httpx.Client, lead_token: str) -> dict[str, Any]:
    """A customer of the company's, loaded as its systems would: the profile, then the contacts before this one.
    Everything unique to this run, so a rerun on the same database meets no one else's records."""
    run = uuid.uuid4()
    digits = f"{run.int % 10**12:012d}"
    profile = {
        "external_id": f"crm-{run.hex[:12]}",
        "name": "Галина Петровна Смирнова",
        "segment": "b2c",
        "age_band": "55-64",
        "region": "Новосибирская область",
        "timezone": "Asia/Novosibirsk",
        "language": "ru",
        "phones": [f"+7913{digits[:7]}", f"+7383{digits[5:12]}"],
        "emails": [f"g.smirnova.{run.hex[:8]}@example.ru"],
        "accounts": [{"account_number": digits}],
    }
    headers = {"Authorization": f"Bearer {lead_token}"}
    saved = _ok(gateway.post("/api/v1/customers", json=profile, headers=headers))
    assert saved["external_id"] == profile["external_id"]
    customer_id = saved["customer_id"]
    now = datetime.now(UTC)
    earlier = [
        # a call three days ago that went to a person and did not end in a solution
        {
            "id": f"cc-{run.hex[:12]}-1",
            "channel": "voice",
            "started_at": (now - timedelta(days=3)).isoformat(),
            "ended_at": (now - timedelta(days=3) + timedelta(minutes=9)).isoformat(),
            "intents": ["internet_down"],
            "handoff_id": f"legacy-{run.hex[:12]}",
            "handoff_priority": "p3",
            "handoff_outcome": "unresolved",
        },
        # an SMS yesterday, answered by the bot
        {
            "id": f"cc-{run.hex[:12]}-2",
            "channel": "sms",
            "started_at": (now - timedelta(days=1)).isoformat(),
            "intents": ["internet_down"],
        },
    ]
    for contact in earlier:
        _ok(gateway.post(f"/api/v1/customers/{customer_id}/contacts", json=contact, headers=headers))
    return {**profile, "customer_id": customer_id}


def test_known_customers_profile_and_history_are_in_the_console(
    customer: Customer,
    operator: Operator,
    operator_token: str,
    gateway: httpx.Client,
    tokens: Tokens,
    webchat_identity_secret: str,
) -> None:
    known = _known_customer(gateway, tokens.lead)

    # The operator is on shift before the customer writes.
    operator.login(operator_token)
    queue_before = operator.handoff_ids()

    # The company's site, where the customer is logged in, gives the widget the token its server signed.
    token = sign(known["external_id"], webchat_identity_secret, ttl_seconds=600)
    customer.page.add_init_script(f"window.zabotaIdentity = {json.dumps(token)};")
    warnings: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("warning", "error"):
            warnings.append(message.text)

    customer.page.on("console", on_console)
    customer.visit()
    customer.open_chat()
    bots_before = customer.by_role("bot").count()
    customer.say(THIRD_TIME)
    customer.wait_for_reply("bot", bots_before)
    refused = [w for w in warnings if "site identity" in w]
    assert not refused, f"the gateway refused the signed site identity: {refused}"

    # The customer is told, formally (55-64), that a specialist will answer.
    handoff_notice = customer.by_role("bot").filter(has_text=HANDOFF_FORMAL)
    expect(handoff_notice.first).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    assert not customer.by_role("bot").filter(has_text=HANDOFF_NEUTRAL).count(), customer.transcript()

    # The recurring problem is in the operator's queue.
    item = operator.wait_for_new_item(queue_before)
    operator.open_item(item)
    page = operator.page
    summary = page.get_by_test_id("op-summary")

    # The summary's reasons: the same problem for the third time within the week.
    expect(summary.locator('[data-testid="op-reason"][data-code="recurring"]')).to_have_count(1, timeout=UI_TIMEOUT_MS)

    # Who it is, from the system of record: the name, the record the site identity pointed the visitor at, and
    # the profile (phones and emails masked, as everywhere in the console; the account number in full).
    expect(page.get_by_test_id("op-detail-customer")).to_have_text(known["name"], timeout=UI_TIMEOUT_MS)
    expect(summary).to_contain_text(known["name"])
    expect(summary).to_contain_text(known["customer_id"])
    expect(summary).to_contain_text("b2c")
    expect(summary).to_contain_text("55-64")
    expect(summary).to_contain_text(f"{known['region']} · {known['timezone']}")
    for phone in known["phones"]:
        expect(summary).to_contain_text(mask_phone(phone))
        expect(summary).not_to_contain_text(phone)
    for email in known["emails"]:
        expect(summary).to_contain_text(mask_email(email))
        expect(summary).not_to_contain_text(email)
    expect(summary).to_contain_text(known["accounts"][0]["account_number"])

    # The earlier contacts, in every channel: the call with its unresolved handoff and the SMS; and this chat.
    contacts = summary.get_by_test_id("op-contacts").locator("li")
    expect(contacts.filter(has_text="webchat")).to_have_count(1, timeout=UI_TIMEOUT_MS)
    voice = contacts.filter(has_text="voice")
    expect(voice).to_have_count(1, timeout=UI_TIMEOUT_MS)
    expect(voice).to_contain_text("internet_down")
    expect(voice).to_contain_text("unresolved")
    sms = contacts.filter(has_text="sms")
    expect(sms).to_have_count(1)
    expect(sms).to_contain_text("internet_down")

    # Why the history puts the customer at risk of leaving: the call's handoff that ended without a solution, and
    # the same problem in three contacts (this one, not recorded yet when its handoff opened, included).
    churn = summary.get_by_test_id("op-churn-risk")
    expect(churn).to_be_visible()
    expect(churn).to_contain_text("without a solution")
    expect(churn).to_contain_text("internet_down in 3 contacts")

    # And the customer's own words in the transcript.
    expect(operator.lines("customer").filter(has_text=THIRD_TIME).first).to_be_visible()
