"""The handoff desk: ``merge_marker`` (the triage's decision completed with the bot's own handoff marker) as a
pure function, and ``HandoffDesk`` end to end on the real Redis through the app's services: the summary it
opens, what the customer is told after a handoff (``notices``), and the operator's actions that the customer
sees in their history, their open webchat windows (pub/sub) and their channel."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from gateway_testkit import OPERATOR_TOKEN, AppContext, FakeRasa, StartApp
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from gateway import texts
from gateway.conversation_state import ConversationState
from gateway.dispatch import OpenedHandoff
from gateway.handoff_desk import HandoffDesk, merge_marker
from gateway.inbox import InboundMessage
from gateway.operator_auth import Operator
from gateway.rasa_client import BotReply
from tests.fakes.telegram_api import FakeTelegram, serve_fake_telegram
from zabota import redis_keys
from zabota.catalog import Catalog, load_catalog
from zabota.handoffs.summary import BotAttempt
from zabota.triage.model import Reason, TriageDecision

CATALOG: Catalog = load_catalog()


def routine(intent: str = "deny", confidence: float = 0.95) -> TriageDecision:
    return TriageDecision(
        intent=intent,
        confidence=confidence,
        sensitive=False,
        escalate=False,
        priority=None,
        reasons=(Reason("routine", f"intent {intent} ({confidence:.2f}): the bot answers"),),
        handoff_intent=intent,
    )


def escalated(
    intent: str,
    priority: str,
    *,
    handoff_intent: str | None = None,
    sensitive: bool = False,
    reasons: tuple[Reason, ...] | None = None,
    lang: str = "ru",
) -> TriageDecision:
    return TriageDecision(
        intent=intent,
        confidence=0.93,
        sensitive=sensitive,
        escalate=True,
        priority=priority,  # type: ignore[arg-type]  # the tests pass valid priorities
        reasons=reasons or (Reason("sensitive_intent", f"intent {intent} (0.93) is sensitive, {priority}"),),
        handoff_intent=handoff_intent or intent,
        lang=lang,
    )


def marker(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "intent": "roaming",
        "confidence": 0.8,
        "priority": "p3",
        "reason": "kb_unhelpful",
        "sensitive": False,
        "language": "ru",
        "entities": {},
    }
    base.update(fields)
    return base


# --- merge_marker ---------------------------------------------------------------------------------------------


def test_no_marker_leaves_the_decision_as_it_is() -> None:
    decision = routine()
    assert merge_marker(decision, None, CATALOG) is decision


def test_the_bot_escalates_a_routine_message_on_its_own() -> None:
    merged = merge_marker(routine("deny"), marker(), CATALOG)
    assert merged.escalate is True
    assert [reason.code for reason in merged.reasons] == ["kb_unhelpful"]  # "routine" is gone
    assert merged.handoff_intent == "roaming"  # the problem the bot knows, not the customer's "no"
    assert merged.priority == "p3"
    assert merged.sensitive is False
    assert merged.intent == "deny"  # the NLU's intent of the message itself is kept


def test_the_markers_priority_applies_to_a_routine_message() -> None:
    merged = merge_marker(routine("deny"), marker(priority="p2"), CATALOG)
    assert merged.priority == "p2"


def test_without_a_marker_priority_the_catalog_decides() -> None:
    merged = merge_marker(routine("deny"), marker(intent="fraud_report", priority=None, reason="flow"), CATALOG)
    assert merged.handoff_intent == "fraud_report"
    assert merged.priority == "p2"  # fraud_report's priority in the catalog
    merged = merge_marker(routine("deny"), marker(intent="roaming", priority=None, reason="flow"), CATALOG)
    assert merged.priority == "p3"  # roaming has none: the default


def test_an_unknown_marker_priority_is_ignored() -> None:
    merged = merge_marker(escalated("fraud_report", "p2", sensitive=True), marker(priority="urgent"), CATALOG)
    assert merged.priority == "p2"


@pytest.mark.parametrize(
    ("bot_reason", "sensitive", "code"),
    [
        ("kb_unhelpful", False, "kb_unhelpful"),
        ("fallback", False, "low_confidence"),
        ("flow_gave_up", False, "human_request"),
        ("", False, "human_request"),
        ("flow_gave_up", True, "sensitive_intent"),
    ],
)
def test_the_bots_reason_becomes_a_triage_reason(bot_reason: str, sensitive: bool, code: str) -> None:
    merged = merge_marker(routine(), marker(reason=bot_reason, sensitive=sensitive), CATALOG)
    assert [reason.code for reason in merged.reasons] == [code]
    assert merged.sensitive is sensitive


def test_a_sensitive_p1_keeps_its_priority_and_intent_against_a_p3_marker() -> None:
    decision = escalated(
        "internet_down",
        "p1",
        handoff_intent="crisis",
        sensitive=True,
        reasons=(Reason("sensitive_signal", "signal self_harm: 'не хотеть жить', p1"),),
    )
    merged = merge_marker(decision, marker(priority="p3"), CATALOG)
    assert merged.priority == "p1"
    assert merged.handoff_intent == "crisis"
    assert merged.sensitive is True
    assert merged.reasons == decision.reasons


def test_a_more_urgent_marker_wins() -> None:
    decision = escalated(
        "complaint",
        "p3",
        handoff_intent="request_human",
        reasons=(Reason("anger", "signal anger: 'безобразие'"),),
    )
    merged = merge_marker(decision, marker(intent="fraud_report", priority="p2", sensitive=True), CATALOG)
    assert merged.priority == "p2"
    assert merged.sensitive is True


def test_a_request_for_a_person_takes_the_problem_intent_from_the_marker() -> None:
    decision = escalated(
        "request_human",
        "p3",
        reasons=(Reason("human_request", "intent request_human (0.93)"),),
    )
    merged = merge_marker(decision, marker(intent="roaming"), CATALOG)
    assert merged.handoff_intent == "roaming"
    assert merged.priority == "p3"
    assert merged.reasons == decision.reasons


def test_an_escalated_problem_intent_is_not_replaced_by_the_marker() -> None:
    decision = escalated("fraud_report", "p2", sensitive=True)
    merged = merge_marker(decision, marker(intent="roaming"), CATALOG)
    assert merged.handoff_intent == "fraud_report"


# --- HandoffDesk: helpers ---------------------------------------------------------------------------------------


@asynccontextmanager
async def subscribed(redis: Redis, customer: str) -> AsyncIterator[PubSub]:
    """A subscription to the customer's conversation events, confirmed before the test acts."""
    pubsub = redis.pubsub()
    await pubsub.subscribe(redis_keys.conversation_events(customer))
    confirmation = await pubsub.get_message(timeout=2.0)
    assert confirmation is not None and confirmation["type"] == "subscribe"
    try:
        yield pubsub
    finally:
        await pubsub.unsubscribe()
        await pubsub.aclose()


async def frames(pubsub: PubSub, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The next ``count`` events, then a short wait that must bring no more."""
    received: list[dict[str, Any]] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while len(received) < count and asyncio.get_running_loop().time() < deadline:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if message is not None:
            received.append(json.loads(message["data"]))
    extra = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
    assert extra is None, f"unexpected event {extra}"
    return received


def operator(ctx: AppContext) -> Operator:
    found: Operator | None = ctx.services.operators.authenticate(OPERATOR_TOKEN)
    assert found is not None
    return found


async def open_handoff(
    ctx: AppContext, customer: str, text: str, decision: TriageDecision, *, channel: str = "webchat"
) -> tuple[InboundMessage, OpenedHandoff]:
    message = await ctx.services.inbox.accept(
        channel=channel, sender_id="s-" + customer, text=text, metadata={}, conversation_id=customer
    )
    opened = await ctx.services.desk.open(message, decision, None, ConversationState())
    return message, opened


def inbound(channel: str = "webchat", lang: str = "ru") -> InboundMessage:
    return InboundMessage(
        message_id="m-1",
        conversation_id="c-00000000000000e0",
        channel=channel,
        sender_id="s-1",
        text="…",
        lang=lang,  # type: ignore[arg-type]  # "ru" or "en"
        timestamp=time.time(),
    )


# --- HandoffDesk.open -------------------------------------------------------------------------------------------


async def test_open_builds_the_summary_from_history_profile_and_state(
    start_app: StartApp, fake_rasa: FakeRasa, redis: Redis
) -> None:
    customer = "c-00000000000000d1"
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        services = ctx.services
        await services.customers.update_profile(
            customer,
            name="Иван",
            segment="vip",
            phone="+79161234567",
            email="ivan.petrov@mail.ru",
            telegram_chat_id=777000,
        )
        first = await services.inbox.accept(
            channel="webchat", sender_id="w-d1", text="Как подключить роуминг?", metadata={}, conversation_id=customer
        )
        await services.inbox.record_replies(first, [BotReply(text="Вот статья про роуминг. Помогло?")], delayed=False)
        second = await services.inbox.accept(
            channel="webchat",
            sender_id="w-d1",
            text="Нет, и ещё с карты списали деньги, я не платил",
            metadata={},
            conversation_id=customer,
        )
        state = ConversationState(
            intents=(
                {"name": "roaming", "confidence": 0.91, "timestamp": first.timestamp},
                {"name": "deny", "confidence": 0.97, "timestamp": second.timestamp},
            ),
            kb_events=(
                {"event": "answer", "article": "roaming", "title": "Роуминг", "timestamp": first.timestamp},
                {"event": "feedback", "article": "roaming", "helpful": False, "timestamp": second.timestamp},
            ),
        )
        decision = escalated("fraud_report", "p2", sensitive=True)
        bot_marker = marker(
            intent="fraud_report",
            priority="p2",
            reason="flow",
            sensitive=True,
            entities={"account": "123456789", "phone": "+79161234567", "unknown": None},
        )
        before = time.time()
        opened = await services.desk.open(second, decision, bot_marker, state)
        handoff = await services.desk.store.get(opened.handoff_id)
        active = await services.desk.active_for(customer)
        raw = await redis.get(redis_keys.handoff_record(opened.handoff_id))

    assert not opened.existing
    assert opened.priority == "p2"
    assert before + 900 <= opened.due_at <= time.time() + 900  # p2: 15 minutes
    assert active == opened.handoff_id
    assert handoff is not None and handoff.customer_id == customer
    summary = handoff.summary
    assert summary.intent == "fraud_report" and summary.priority == "p2" and summary.sensitive
    assert summary.channel == "webchat" and summary.language == "ru"
    assert [(line.role, line.text) for line in summary.transcript] == [
        ("customer", "Как подключить роуминг?"),
        ("bot", "Вот статья про роуминг. Помогло?"),
        ("customer", "Нет, и ещё с карты списали деньги, я не платил"),
    ]
    assert summary.customer.name == "Иван" and summary.customer.segment == "vip"
    assert summary.customer.contacts == {"phone": "+7 *** ***-45-67", "email": "i***@mail.ru", "telegram": "linked"}
    assert summary.entities == {"account": "123456789", "phone": "+7 *** ***-45-67"}
    assert BotAttempt("kb_article", "Роуминг (roaming)") in summary.bot_tried
    assert BotAttempt("kb_feedback", "roaming: не помогла") in summary.bot_tried
    assert [seen.name for seen in summary.intents] == ["roaming", "deny", "fraud_report"]
    # The operator recognises the contacts; the record never holds them whole.
    assert raw is not None
    assert "+79161234567" not in raw and "ivan.petrov" not in raw and "777000" not in raw


async def test_a_second_open_joins_the_active_handoff_and_raises_its_priority(
    start_app: StartApp, fake_rasa: FakeRasa
) -> None:
    customer = "c-00000000000000d2"
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        message, first = await open_handoff(
            ctx, customer, "Хочу расторгнуть договор", escalated("cancel_contract", "p3")
        )
        crisis = escalated(
            "cancel_contract",
            "p1",
            handoff_intent="crisis",
            sensitive=True,
            reasons=(Reason("sensitive_signal", "signal self_harm, p1"),),
        )
        second = await ctx.services.desk.open(message, crisis, None, ConversationState())
        handoff = await ctx.services.desk.store.get(first.handoff_id)
        notices = ctx.services.desk.notices(message, crisis, second)
    assert not first.existing and first.priority == "p3"
    assert second.existing and second.handoff_id == first.handoff_id
    assert second.priority == "p1"
    assert handoff is not None and handoff.priority == "p1"
    assert notices == []  # the customer was told when the first handoff opened


async def test_open_with_the_bots_marker_on_a_routine_message(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    customer = "c-00000000000000d3"
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        message = await ctx.services.inbox.accept(
            channel="telegram", sender_id="42", text="нет, не помогло", metadata={}, conversation_id=customer
        )
        opened = await ctx.services.desk.open(message, routine("deny"), marker(), ConversationState())
        handoff = await ctx.services.desk.store.get(opened.handoff_id)
    assert handoff is not None
    assert handoff.summary.intent == "roaming"
    assert [reason.code for reason in handoff.summary.reasons] == ["kb_unhelpful"]
    assert handoff.priority == "p3" and handoff.summary.channel == "telegram"


# --- HandoffDesk.notices ----------------------------------------------------------------------------------------


def local_hhmm(timestamp: float, utc_offset_hours: int) -> str:
    """Written without zoneinfo, so the test does not repeat the code's own computation."""
    return (datetime.fromtimestamp(timestamp, UTC) + timedelta(hours=utc_offset_hours)).strftime("%H:%M")


async def test_the_eta_names_the_minutes_and_the_local_time(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    async with start_app(rasa_url=fake_rasa.url, timezone="Asia/Vladivostok") as ctx:  # UTC+10, no DST
        due_at = time.time() + 15 * 60 + 20
        opened = OpenedHandoff("h-1", "p2", due_at)
        ru = ctx.services.desk.notices(inbound(), escalated("fraud_report", "p2"), opened)
        en = ctx.services.desk.notices(inbound(lang="en"), escalated("fraud_report", "p2", lang="en"), opened)
    due = local_hhmm(due_at, 10)
    assert [reply.text for reply in ru] == [texts.HANDOFF_ETA["ru"].format(minutes=15, due=due)]
    assert [reply.text for reply in en] == [texts.HANDOFF_ETA["en"].format(minutes=15, due=due)]
    assert f"15 мин. (до {due})" in (ru[0].text or "")


async def test_the_eta_follows_the_configured_timezone(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    due_at = time.time() + 2 * 3600
    opened = OpenedHandoff("h-1", "p3", due_at)
    async with start_app(rasa_url=fake_rasa.url) as ctx:  # the default: Europe/Moscow, UTC+3
        moscow = ctx.services.desk.notices(inbound(), escalated("request_human", "p3"), opened)
    assert moscow[0].text == texts.HANDOFF_ETA["ru"].format(minutes=120, due=local_hhmm(due_at, 3))


async def test_an_overdue_eta_still_says_at_least_one_minute(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        opened = OpenedHandoff("h-1", "p1", time.time() - 600)
        replies = ctx.services.desk.notices(inbound(), escalated("complaint", "p1"), opened)
    assert "1 мин." in (replies[0].text or "")


@pytest.mark.parametrize(
    ("channel", "priority", "sensitive", "expected"),
    [
        ("webchat", "p1", True, ["eta", "callback"]),
        ("telegram", "p2", True, ["eta", "callback"]),
        ("webchat", "p3", True, ["eta"]),  # not urgent
        ("webchat", "p1", False, ["eta"]),  # urgent but not sensitive
        ("voice", "p1", True, []),  # the caller is on the phone already and is transferred
        ("sms", "p2", True, ["eta"]),  # not a chat
    ],
)
async def test_a_callback_is_offered_only_for_urgent_sensitive_chats(
    start_app: StartApp, fake_rasa: FakeRasa, channel: str, priority: str, sensitive: bool, expected: list[str]
) -> None:
    async with start_app(rasa_url=fake_rasa.url, care_phone="8 800 555-00-00") as ctx:
        decision = escalated("fraud_report", priority, sensitive=sensitive)
        opened = OpenedHandoff("h-1", priority, time.time() + 900)
        replies = ctx.services.desk.notices(inbound(channel), decision, opened)
    kinds = ["callback" if "8 800 555-00-00" in (reply.text or "") else "eta" for reply in replies]
    assert kinds == expected
    if "callback" in expected:
        assert replies[-1].text == texts.CALLBACK_OFFER["ru"].format(phone="8 800 555-00-00")


async def test_nothing_is_said_for_an_existing_handoff(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        opened = OpenedHandoff("h-1", "p1", time.time() + 300, existing=True)
        assert ctx.services.desk.notices(inbound(), escalated("crisis", "p1", sensitive=True), opened) == []


# --- the operator's actions, as the customer sees them ----------------------------------------------------------


async def test_claim_reply_and_close_are_told_to_the_customer(
    start_app: StartApp, fake_rasa: FakeRasa, redis: Redis
) -> None:
    customer = "c-00000000000000d4"
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        desk: HandoffDesk = ctx.services.desk
        anna = operator(ctx)
        _, opened = await open_handoff(ctx, customer, "С карты списали деньги", escalated("fraud_report", "p2"))
        async with subscribed(redis, customer) as pubsub:
            claimed = await desk.claim(opened.handoff_id, anna)
            on_claim = await frames(pubsub, 2)
            _, reply = await desk.reply(opened.handoff_id, anna, "Проверяю списание, минуту")
            on_reply = await frames(pubsub, 1)
            closed = await desk.close(opened.handoff_id, anna, "вернули деньги")
            on_close = await frames(pubsub, 3)
        history = await ctx.services.inbox.history(customer)
        active = await desk.active_for(customer)

    joined = texts.OPERATOR_JOINED["ru"].format(name="Анна")
    assert claimed.state == "claimed" and claimed.assignee == "anna"
    status = {"type": "handoff_status", "handoff_id": opened.handoff_id, "state": "claimed", "operator_name": "Анна"}
    assert on_claim[0] == status
    assert on_claim[1]["type"] == "message"
    assert on_claim[1]["entry"]["role"] == "system" and on_claim[1]["entry"]["text"] == joined
    assert on_reply[0]["entry"] == reply.model_dump(mode="json")
    assert reply.role == "operator" and reply.author == "Анна" and reply.text == "Проверяю списание, минуту"
    assert closed.state == "closed" and closed.resolution == "вернули деньги"
    assert on_close[0] == {"type": "handoff_status", "handoff_id": opened.handoff_id, "state": "closed"}
    assert on_close[1]["entry"]["role"] == "system" and on_close[1]["entry"]["text"] == texts.CLOSED["ru"]
    # then, the case not being a sensitive one, how it went (gateway/surveys.py)
    survey = on_close[2]["entry"]
    assert survey["role"] == "bot" and [button["title"] for button in survey["buttons"]] == ["1", "2", "3", "4", "5"]
    assert [(entry.role, entry.text) for entry in history] == [
        ("customer", "С карты списали деньги"),
        ("system", joined),
        ("operator", "Проверяю списание, минуту"),
        ("system", texts.CLOSED["ru"]),
        ("bot", survey["text"]),
    ]
    assert {entry.channel for entry in history} == {"webchat"}
    assert active is None  # the customer's next message goes to the bot again


async def test_hand_back_is_told_in_the_conversations_language(
    start_app: StartApp, fake_rasa: FakeRasa, redis: Redis
) -> None:
    customer = "c-00000000000000d5"
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        desk = ctx.services.desk
        anna = operator(ctx)
        message, opened = await open_handoff(
            ctx, customer, "My card was charged twice and I did not pay", escalated("fraud_report", "p2", lang="en")
        )
        await desk.claim(opened.handoff_id, anna)
        async with subscribed(redis, customer) as pubsub:
            handed_back = await desk.hand_back(opened.handoff_id, anna)
            events = await frames(pubsub, 2)
        history = await ctx.services.inbox.history(customer)
        active = await desk.active_for(customer)
    assert message.lang == "en"
    assert handed_back.state == "handed_back"
    assert events[0] == {"type": "handoff_status", "handoff_id": opened.handoff_id, "state": "handed_back"}
    assert events[1]["entry"]["text"] == texts.HANDED_BACK["en"] and events[1]["entry"]["lang"] == "en"
    assert [entry.text for entry in history if entry.role == "system"] == [
        texts.OPERATOR_JOINED["en"].format(name="Анна"),
        texts.HANDED_BACK["en"],
    ]
    assert active is None


async def test_a_note_stays_with_the_operators(start_app: StartApp, fake_rasa: FakeRasa, redis: Redis) -> None:
    customer = "c-00000000000000d6"
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        desk = ctx.services.desk
        anna = operator(ctx)
        _, opened = await open_handoff(ctx, customer, "Интернет пропал", escalated("request_human", "p3"))
        await desk.claim(opened.handoff_id, anna)
        before = await ctx.services.inbox.history(customer)
        async with subscribed(redis, customer) as pubsub:
            noted = await desk.note(opened.handoff_id, anna, "карта клиента 4111 1111 1111 1111, проверить")
            events = await frames(pubsub, 0)
        after = await ctx.services.inbox.history(customer)
    assert events == []
    assert after == before
    assert len(noted.notes) == 1 and noted.notes[0].author == "anna"
    assert noted.notes[0].text == "карта клиента [карта скрыта], проверить"


async def test_a_telegram_customer_is_told_in_telegram(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    customer = "c-00000000000000d7"
    with serve_fake_telegram() as telegram:
        fake: FakeTelegram = telegram
        async with start_app(
            rasa_url=fake_rasa.url, telegram_bot_token=fake.token, telegram_api_base_url=fake.api_base_url
        ) as ctx:
            await ctx.services.customers.update_profile(customer, telegram_chat_id=5550001, last_channel="telegram")
            _, opened = await open_handoff(
                ctx, customer, "Меня взломали", escalated("fraud_report", "p2"), channel="telegram"
            )
            await ctx.services.desk.claim(opened.handoff_id, operator(ctx))
            await ctx.services.desk.reply(opened.handoff_id, operator(ctx), "Блокирую доступ")
        sent = fake.sent_messages()
    assert [(message["chat_id"], message["text"]) for message in sent] == [
        (5550001, texts.OPERATOR_JOINED["ru"].format(name="Анна")),
        (5550001, "Блокирую доступ"),
    ]
