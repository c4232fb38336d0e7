"""A reply to an outreach message continues its conversation: a security check's "нет" by SMS opens a p1
handoff at once, a "да" settles it without the bot, any other reply goes to the bot with the message in the
history; the lead's report counts who did not need to write in."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import pytest
from gateway_testkit import LEAD_TOKEN, AppContext, FakeRasa, StartApp, bearer, sms_settings

from gateway.outreach import OutreachSender, confirm_buttons
from gateway.texts import OUTREACH_CONFIRMED
from tests.fakes.twilio_api import FakeTwilio, inbound_sms_form, serve_fake_twilio, signed_inbound
from zabota import redis_keys
from zabota.events import Event
from zabota.outreach.replies import NO_PAYLOAD
from zabota.records import CustomerData

pytestmark = pytest.mark.usefixtures("empty_records")

TOKEN = "outreach-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PUBLIC = "https://gateway.zabota.example"
PHONE = "+79161234567"
FRAUD = {"trigger": "suspicious_payment", "ref": "pay-1", "data": {"amount": "4 990 ₽", "merchant": "OZON"}}
DELAY = {"trigger": "delivery_delayed", "ref": "ZB-4829173", "data": {"order_id": "ZB-4829173", "new_date": "12.12"}}


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with serve_fake_twilio() as fake:
        yield fake


@pytest.fixture
def start(start_app: StartApp, twilio: FakeTwilio, fake_rasa: FakeRasa) -> Any:
    @asynccontextmanager
    async def _start() -> AsyncIterator[AppContext]:
        async with start_app(
            outreach_api_token=TOKEN,
            outreach_interval_seconds=3600.0,
            rasa_url=fake_rasa.url,
            public_base_url=PUBLIC,
            **sms_settings(twilio.url),
        ) as ctx:
            yield ctx

    return _start


async def reached_by_sms(ctx: AppContext, event: dict[str, Any]) -> str:
    """A recorded customer (reachable by SMS, awake in Moscow's afternoon or not: the check ignores quiet hours
    and the delay is sent in a zone where it is midday) sent ``event``; returns the customer id."""
    record, _ = await ctx.services.records.upsert_customer(
        CustomerData(external_id="crm-7", phones=(PHONE,), preferred_channel="sms", timezone=midday_zone())
    )
    response = await ctx.client.post("/api/v1/outreach/events", json={**event, "external_id": "crm-7"}, headers=AUTH)
    assert response.status_code == 202, response.text
    assert await OutreachSender(ctx.services, 1.0).send_due(time.time()) == 1
    return record.customer_id


def midday_zone() -> str:
    offset = (12 - time.gmtime().tm_hour + 12) % 24 - 12
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"


async def sms_from_customer(ctx: AppContext, text: str) -> None:
    headers, data = signed_inbound(PUBLIC + "/webhooks/sms", inbound_sms_form(PHONE, text))
    response = await ctx.client.post("/webhooks/sms", content=urlencode(data), headers=headers)
    assert response.status_code == 200, response.text


async def test_a_no_to_the_fraud_check_opens_a_p1_handoff_at_once(
    start: Any, twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    fake_rasa.intents = {"нет": "deny"}
    async with start() as ctx:
        cid = await reached_by_sms(ctx, FRAUD)
        await sms_from_customer(ctx, "нет")
        handoff_id = await ctx.services.desk.store.active_for_customer(cid)
        handoff = await ctx.services.desk.store.get(handoff_id or "")
        history = await ctx.services.inbox.history(cid)
        contacts = await ctx.services.records.recent_contacts(cid)
        rows = await ctx.services.redis.xrange(redis_keys.EVENTS_STREAM)
    assert handoff is not None and handoff.priority == "p1"
    # the leads' events: the check sent, and answered "no"
    events = [Event.from_fields({str(k): str(v) for k, v in fields.items()}) for _, fields in rows]
    [sent] = [event for event in events if event.kind == "outreach_sent"]
    [answered] = [event for event in events if event.kind == "outreach_answered"]
    assert (sent.customer_id, sent.channel, sent.data["trigger"]) == (cid, "sms", "suspicious_payment")
    assert (answered.ref, answered.data["answer"]) == (sent.ref, "no")
    triage = fake_rasa.requests[-1]["metadata"]["zabota_triage"]
    assert triage["escalate"] is True and triage["override_intent"] == "fraud_report"
    assert "outreach_denied" in triage["reasons"]
    # the check itself is the first line of the conversation the operator sees
    # (a security check is sensitive: the formal variant of zabota/outreach/rules.yml)
    assert history[0].role == "bot" and history[0].text and "это Вы оплатили" in history[0].text
    assert any("outreach_reply:suspicious_payment" in c.flows for c in contacts)
    assert twilio.messages[0]["body"].startswith("Подтвердите, пожалуйста: это Вы оплатили 4 990 ₽")


async def test_a_yes_settles_it_without_the_bot_or_a_person(
    start: Any, twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    async with start() as ctx:
        cid = await reached_by_sms(ctx, FRAUD)
        await sms_from_customer(ctx, "Да, это я")
        await sms_from_customer(ctx, "да")  # the question was answered: this "да" is the bot's
        handoff_id = await ctx.services.desk.store.active_for_customer(cid)
    assert handoff_id is None
    assert twilio.messages[1]["body"] == OUTREACH_CONFIRMED["ru"]
    assert [r["message"] for r in fake_rasa.requests] == ["да"]


async def test_another_reply_goes_to_the_bot_with_the_message_in_its_conversation(
    start: Any, twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    fake_rasa.intents = {"суббот": "delivery_delay"}
    async with start() as ctx:
        cid = await reached_by_sms(ctx, DELAY)
        await sms_from_customer(ctx, "а можно привезти в субботу?")
        history = await ctx.services.inbox.history(cid)
        contacts = await ctx.services.records.recent_contacts(cid)
        report = await ctx.client.get("/api/v1/outreach/report", headers=bearer(LEAD_TOKEN))
    assert [r["message"] for r in fake_rasa.requests] == ["а можно привезти в субботу?"]
    assert [entry.role for entry in history[:2]] == ["bot", "customer"]
    assert history[0].text and history[0].text.startswith("Заказ ZB-4829173 задерживается")
    reply = next(c for c in contacts if c.channel == "sms")
    assert "outreach_reply:delivery_delayed" in reply.flows
    # the window is still open, but the customer wrote in about it: counted, not prevented
    body = report.json()
    assert report.status_code == 200, report.text
    assert (body["reached"], body["wrote_in"], body["prevented"], body["pending"]) == (1, 1, 0, 0)


async def test_the_report_is_for_leads_only(start: Any) -> None:
    async with start() as ctx:
        anonymous = await ctx.client.get("/api/v1/outreach/report")
        outreach_token = await ctx.client.get("/api/v1/outreach/report", headers=AUTH)
        too_long = await ctx.client.get("/api/v1/outreach/report?days=1000", headers=bearer(LEAD_TOKEN))
    assert anonymous.status_code == 401 and outreach_token.status_code == 401
    assert too_long.status_code == 422


def test_telegram_gets_yes_no_buttons_whose_payloads_the_reply_reader_knows() -> None:
    yes, no = confirm_buttons("ru")
    assert (yes.title, no.title) == ("Да, это я", "Нет, это не я")
    assert no.payload == NO_PAYLOAD
