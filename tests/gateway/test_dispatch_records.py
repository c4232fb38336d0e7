"""Every turn through the dispatcher lands in the system of record: the customer's row, the contact with its
intents, articles, flows, feedback and handoff, the handoff's outcome when an operator closes it; and a
database failure does not hold the customer's answer back."""

from __future__ import annotations

import pytest
from gateway_testkit import LEAD_TOKEN, FakeRasa, StartApp
from structlog.testing import capture_logs

from zabota.records import CustomerRecords, RecordsSettings, create_engine

pytestmark = pytest.mark.usefixtures("empty_records")

CUSTOMER = "c-00000000000000c1"
KB_MARKER = {
    "custom": {"zabota_kb": {"article": "roaming", "title": "Роуминг", "url": "https://x/roaming", "lang": "ru"}}
}


async def send(ctx: object, text: str, channel: str = "webchat") -> object:
    return await ctx.services.dispatcher.handle(  # type: ignore[attr-defined]
        channel=channel, sender_id="abc", text=text, metadata={}, customer_id=CUSTOMER
    )


async def test_a_conversation_is_one_contact_with_what_the_bot_did(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    fake_rasa.intents = {"роуминг": "roaming", "да": "affirm", "баланс": "check_balance"}
    fake_rasa.extra_replies = {"роуминг": [KB_MARKER]}
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        await send(ctx, "как подключить роуминг")
        await send(ctx, "да")
        await send(ctx, "а какой у меня баланс")
        customer = await ctx.services.records.get(CUSTOMER)
        [contact] = await ctx.services.records.recent_contacts(CUSTOMER)
    assert customer is not None and customer.language == "ru"
    assert contact.channel == "webchat"
    assert contact.intents == ("roaming", "affirm", "check_balance")
    assert contact.articles == ("roaming",)
    assert contact.flows == ("check_balance",)
    assert contact.feedback == "helpful"


async def test_another_channel_is_another_contact(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        await send(ctx, "интернет не работает")
        await send(ctx, "всё ещё не работает", channel="telegram")
        contacts = await ctx.services.records.recent_contacts(CUSTOMER)
    assert sorted(c.channel for c in contacts) == ["telegram", "webchat"]


async def test_a_handoff_and_its_outcome_are_on_the_contact(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    fake_rasa.intents = {"оператор": "request_human"}
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        outcome = await send(ctx, "позовите оператора")
        handoff_id = outcome.handoff.handoff_id  # type: ignore[attr-defined]
        [contact] = await ctx.services.records.recent_contacts(CUSTOMER)
        assert (contact.handoff_id, contact.handoff_priority) == (handoff_id, "p3")
        headers = {"Authorization": f"Bearer {LEAD_TOKEN}"}
        claimed = await ctx.client.post(f"/api/v1/operator/handoffs/{handoff_id}/claim", headers=headers)
        closed = await ctx.client.post(f"/api/v1/operator/handoffs/{handoff_id}/close", headers=headers)
        [after] = await ctx.services.records.recent_contacts(CUSTOMER)
    assert claimed.status_code == 200 and closed.status_code == 200
    assert after.handoff_outcome == "resolved" and after.ended_at is not None


async def test_a_database_failure_is_logged_and_the_customer_still_gets_the_answer(
    start_app: StartApp, fake_rasa: FakeRasa
) -> None:
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        dead = create_engine(RecordsSettings("postgresql://postgres@127.0.0.1:1/nowhere"))
        ctx.services.dispatcher._records = CustomerRecords(dead)
        with capture_logs() as logs:
            outcome = await send(ctx, "привет")
        await dead.dispose()
    assert [r.text for r in outcome.replies] == ["echo: привет"]  # type: ignore[attr-defined]
    events = [entry["event"] for entry in logs]
    # the recurring rule falls back to the Redis window, and the turn is not recorded: both said loudly
    assert "records.history_unavailable" in events and "records.contact_failed" in events


async def test_a_customer_at_risk_gets_a_more_urgent_handoff_with_the_reasons(
    start_app: StartApp, fake_rasa: FakeRasa
) -> None:
    from datetime import UTC, datetime, timedelta

    from zabota.records import ContactData, CustomerData

    fake_rasa.intents = {"оператор": "request_human"}
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        records = ctx.services.records
        await records.upsert_customer(CustomerData(), customer_id=CUSTOMER)
        now = datetime.now(UTC)
        for n in range(3):
            started = now - timedelta(days=2 + 5 * n)
            await records.record_contact(
                ContactData(f"k-old-{n}", CUSTOMER, "voice", started, intents=("internet_down",))
            )
        outcome = await send(ctx, "позовите оператора")
        handoff = await ctx.services.desk.store.get(outcome.handoff.handoff_id)  # type: ignore[attr-defined]
    assert outcome.handoff.priority == "p2"  # type: ignore[attr-defined]  # request_human is p3
    assert handoff is not None
    assert handoff.summary.churn_risk == ("internet_down in 3 contacts within 30 days",)


async def test_the_operator_sees_the_recorded_profile_and_the_last_contacts(
    start_app: StartApp, fake_rasa: FakeRasa
) -> None:
    from zabota.records import CustomerData

    fake_rasa.intents = {"оператор": "request_human"}
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        await ctx.services.records.upsert_customer(
            CustomerData(name="Анна", tags=("vip",), phones=("+79161234567",), age_band="65+"), customer_id=CUSTOMER
        )
        outcome = await send(ctx, "позовите оператора")
        handoff_id = outcome.handoff.handoff_id  # type: ignore[attr-defined]
        response = await ctx.client.get(
            f"/api/v1/operator/handoffs/{handoff_id}", headers={"Authorization": f"Bearer {LEAD_TOKEN}"}
        )
    profile = response.json()["profile"]
    assert (profile["name"], profile["tags"], profile["age_band"]) == ("Анна", ["vip"], "65+")
    assert profile["phones"] == ["+7 *** ***-45-67"]
    assert [(c["channel"], c["intents"]) for c in profile["recent_contacts"]] == [("webchat", ["request_human"])]


async def test_the_recurring_problem_rule_reads_the_recorded_history_of_every_channel(
    start_app: StartApp, fake_rasa: FakeRasa
) -> None:
    from datetime import UTC, datetime, timedelta

    from zabota.records import ContactData, CustomerData

    async with start_app(rasa_url=fake_rasa.url) as ctx:
        records = ctx.services.records
        await records.upsert_customer(CustomerData(), customer_id=CUSTOMER)
        now = datetime.now(UTC)
        for n, channel in enumerate(("voice", "telegram")):
            started = now - timedelta(days=1 + 2 * n)
            await records.record_contact(
                ContactData(f"k-past-{n}", CUSTOMER, channel, started, intents=("internet_down",))
            )
        outcome = await send(ctx, "интернет опять не работает")  # the fake's default intent: internet_down
    decision = outcome.decision  # type: ignore[attr-defined]
    assert decision.escalate is True
    assert "recurring" in [reason.code for reason in decision.reasons]


async def test_stop_opts_the_channel_out_and_start_back_in_without_the_bot(
    start_app: StartApp, fake_rasa: FakeRasa
) -> None:
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        stopped = await send(ctx, "STOP", channel="sms")
        after_stop = await ctx.services.records.get(CUSTOMER)
        started = await send(ctx, "подписаться", channel="sms")
        after_start = await ctx.services.records.get(CUSTOMER)
        history = await ctx.services.inbox.history(CUSTOMER)
    assert fake_rasa.requests == []  # neither reached the bot
    assert "no longer message you first" in stopped.replies[0].text  # type: ignore[attr-defined]  # STOP reads as English
    assert after_stop is not None and after_stop.opted_out == {"sms"}
    assert "снова включены" in started.replies[0].text  # type: ignore[attr-defined]
    assert after_start is not None and after_start.opted_out == frozenset()
    assert [entry.role for entry in history] == ["customer", "bot", "customer", "bot"]


async def test_the_bot_is_told_the_tone_the_rules_choose(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    from zabota.records import CustomerData

    async with start_app(rasa_url=fake_rasa.url) as ctx:
        await send(ctx, "какой у меня баланс")
        await ctx.services.records.upsert_customer(
            CustomerData(external_id="crm-9", name="Анна Петрова", age_band="65+"), customer_id=CUSTOMER
        )
        await send(ctx, "какой у меня баланс")
    tones = [request["metadata"]["zabota_tone"] for request in fake_rasa.requests]
    assert tones[0] == {"tone": "neutral", "why": "default", "name": None}
    assert tones[1] == {"tone": "formal", "why": "older customer", "name": "Анна Петрова"}


async def test_the_handoff_summary_carries_what_the_record_knows_so_nobody_asks_again(
    start_app: StartApp, fake_rasa: FakeRasa
) -> None:
    from zabota.records import CustomerData
    from zabota.records.store import Account

    fake_rasa.intents = {"оператор": "request_human"}
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        await ctx.services.records.upsert_customer(
            CustomerData(
                name="Анна Петрова",
                segment="b2c",
                phones=("+79161234567",),
                accounts=(Account("230045678903"),),
            ),
            customer_id=CUSTOMER,
        )
        outcome = await send(ctx, "позовите оператора")
        handoff = await ctx.services.desk.store.get(outcome.handoff.handoff_id)  # type: ignore[attr-defined]
    assert handoff is not None
    summary = handoff.summary
    assert (summary.customer.name, summary.customer.segment) == ("Анна Петрова", "b2c")
    assert summary.customer.contacts == {"phone": "+7 *** ***-45-67"}
    assert summary.entities["account_number"] == "230045678903"
