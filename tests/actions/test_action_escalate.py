from __future__ import annotations

import json
from typing import Any

import pytest
from actions_testkit import (
    DEAD_REDIS_URL,
    SENDER,
    bot_event,
    make_domain,
    make_tracker,
    read_handoffs,
    response_names,
    user_event,
)
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from redis.asyncio import Redis
from structlog.testing import capture_logs

from actions.escalate import ActionEscalate
from actions.settings import close_redis
from zabota.handoff import HandoffRecord
from zabota.redaction import CARD_MASK

CARD = "4111 1111 1111 1111"
PHONE = "+79161234567"
DOMAIN = make_domain("utter_handoff", "utter_handoff_crisis", "utter_handoff_fallback")


async def stream_records(redis: Redis) -> list[tuple[dict[str, str], dict[str, Any]]]:
    return [(fields, json.loads(fields["record"])) for _, fields in await read_handoffs(redis)]


def crisis_tracker(**overrides: Any) -> Any:
    text = f"мне очень плохо, с карты {CARD} украли все деньги, не хочу жить"
    arguments: dict[str, Any] = {
        "text": text,
        "intent": "crisis",
        "confidence": 0.97531,
        "slots": {"lang": "ru", "phone": PHONE, "order_id": None, "amount": "1200 RUB"},
        "metadata": {"channel": "telegram"},
        "events": [
            {"event": "action", "timestamp": 0.5, "name": "action_listen"},
            user_event("привет", "greet", timestamp=1.0, input_channel="telegram"),
            bot_event("Здравствуйте! Чем помочь?", timestamp=1.5),
            user_event(text, "crisis", 0.97531, timestamp=2.0, input_channel="telegram"),
        ],
    }
    arguments.update(overrides)
    return make_tracker(**arguments)


async def test_creates_the_handoff_and_utters_the_intent_response(redis_db15: Redis) -> None:
    dispatcher = CollectingDispatcher()
    with capture_logs() as logs:
        events = await ActionEscalate().run(dispatcher, crisis_tracker(), DOMAIN)

    assert events == []
    assert response_names(dispatcher.messages) == ["utter_handoff_crisis"]

    [(fields, record)] = await stream_records(redis_db15)
    assert fields["conversation_id"] == SENDER
    assert fields["priority"] == "p1"
    assert fields["intent"] == "crisis"
    assert record["intent"] == "crisis"
    assert record["confidence"] == 0.9753
    assert record["priority"] == "p1"
    assert record["sensitive"] is True
    assert record["reason"] == "intent:crisis"
    assert record["language"] == "ru"
    assert record["channel"] == "telegram"
    assert record["entities"] == {"phone": PHONE, "amount": "1200 RUB"}
    transcript = record["transcript"]
    assert [line["role"] for line in transcript] == ["customer", "bot", "customer"]
    assert transcript[2]["text"] == f"мне очень плохо, с карты {CARD_MASK} украли все деньги, не хочу жить"
    assert "1111" not in json.dumps(record)
    assert HandoffRecord.from_json(fields["record"]).priority == "p1"

    [created] = [log for log in logs if log["event"] == "handoff.created"]
    assert created["log_level"] == "info"
    assert created["intent"] == "crisis"
    assert created["priority"] == "p1"
    assert created["entities"] == ["amount", "phone"]
    assert created["entry_id"]


async def test_logs_no_personal_data(redis_db15: Redis) -> None:
    tracker = crisis_tracker(sender_id="+7 916 123-45-67")  # a voice caller's number as the conversation id
    with capture_logs() as logs:
        await ActionEscalate().run(CollectingDispatcher(), tracker, DOMAIN)
    logged = json.dumps(logs, ensure_ascii=False, default=str)
    assert "916" not in logged
    assert "1111" not in logged
    assert "1200" not in logged
    assert "не хочу жить" not in logged


async def test_fallback_handoff(redis_db15: Redis) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("ыва ываыва", "nlu_fallback", 0.21, slots={"lang": "en"}, input_channel="webchat")
    await ActionEscalate().run(dispatcher, tracker, DOMAIN)

    assert response_names(dispatcher.messages) == ["utter_handoff_fallback"]
    [(_, record)] = await stream_records(redis_db15)
    assert record["intent"] == "nlu_fallback"
    assert record["reason"] == "fallback"
    assert record["priority"] == "p3"
    assert record["sensitive"] is False
    assert record["language"] == "en"
    assert record["channel"] == "webchat"  # no channel in the metadata: the tracker's input channel


async def test_generic_response_when_the_domain_has_no_specific_one(redis_db15: Redis) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("позовите оператора", "request_human", 0.9, slots={"lang": "ru"})
    await ActionEscalate().run(dispatcher, tracker, make_domain("utter_handoff"))
    assert response_names(dispatcher.messages) == ["utter_handoff"]
    [(_, record)] = await stream_records(redis_db15)
    assert record["priority"] == "p3"


async def test_missing_lang_channel_and_intent_have_defaults(redis_db15: Redis) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("", None, slots={}, input_channel=None)
    await ActionEscalate().run(dispatcher, tracker, DOMAIN)
    [(_, record)] = await stream_records(redis_db15)
    assert record["intent"] == "nlu_fallback"
    assert record["confidence"] == 0.0
    assert record["language"] == "ru"
    assert record["channel"] == "unknown"
    assert record["transcript"] == []


async def test_an_active_form_is_closed(redis_db15: Redis) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        "оператора дайте", "request_human", 0.88, slots={"requested_slot": "order_id"}, active_loop="order_status_form"
    )
    events = await ActionEscalate().run(dispatcher, tracker, DOMAIN)
    assert events == [ActiveLoop(None), SlotSet("requested_slot", None)]
    assert response_names(dispatcher.messages) == ["utter_handoff"]
    assert len(await stream_records(redis_db15)) == 1


async def test_redis_down_logs_the_failure_and_still_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", DEAD_REDIS_URL)
    await close_redis()
    dispatcher = CollectingDispatcher()
    try:
        with capture_logs() as logs:
            events = await ActionEscalate().run(dispatcher, crisis_tracker(active_loop="payment_missing_form"), DOMAIN)
    finally:
        await close_redis()

    # The customer still gets the crisis response (it holds 112 and the helpline); the form is closed.
    assert response_names(dispatcher.messages) == ["utter_handoff_crisis"]
    assert events == [ActiveLoop(None), SlotSet("requested_slot", None)]
    assert [log["event"] for log in logs] == ["handoff.store_failed"]
    [failed] = logs
    assert failed["log_level"] == "error"
    assert failed["error"] == "ConnectionError"
    assert failed["priority"] == "p1"
    assert "1111" not in json.dumps(logs, default=str)


def test_name() -> None:
    assert ActionEscalate().name() == "action_escalate"
