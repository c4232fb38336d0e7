from __future__ import annotations

import json
from typing import Any

from actions_testkit import (
    bot_event,
    custom_payloads,
    make_domain,
    make_tracker,
    response_names,
    user_event,
)
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from structlog.testing import capture_logs

from actions.escalate import HANDOFF_MARKER, ActionEscalate

CARD = "4111 1111 1111 1111"
PHONE = "+79161234567"
DOMAIN = make_domain("utter_handoff", "utter_handoff_crisis", "utter_handoff_fallback")


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


def marker(dispatcher: CollectingDispatcher) -> dict[str, Any]:
    [record] = custom_payloads(dispatcher.messages, HANDOFF_MARKER)
    return record


async def test_utters_the_intent_response_then_the_handoff_marker() -> None:
    dispatcher = CollectingDispatcher()
    with capture_logs() as logs:
        events = await ActionEscalate().run(dispatcher, crisis_tracker(), DOMAIN)

    assert events == []
    assert response_names(dispatcher.messages) == ["utter_handoff_crisis"]
    # the customer-facing response comes first: the marker is for the gateway and is stripped there
    assert dispatcher.messages[0]["response"] == "utter_handoff_crisis"
    record = marker(dispatcher)
    assert record == {
        "intent": "crisis",
        "confidence": 0.9753,
        "priority": "p1",
        "reason": "intent:crisis",
        "sensitive": True,
        "language": "ru",
        "entities": {"phone": PHONE, "amount": "1200 RUB"},
    }

    [requested] = [log for log in logs if log["event"] == "handoff.requested"]
    assert requested["log_level"] == "info"
    assert requested["priority"] == "p1"
    assert requested["channel"] == "telegram"
    assert requested["entities"] == ["amount", "phone"]


async def test_logs_no_personal_data() -> None:
    tracker = crisis_tracker(sender_id="+7 916 123-45-67")  # a voice caller's number as the conversation id
    with capture_logs() as logs:
        await ActionEscalate().run(CollectingDispatcher(), tracker, DOMAIN)
    logged = json.dumps(logs, ensure_ascii=False, default=str)
    assert "916" not in logged
    assert "1111" not in logged
    assert "1200" not in logged
    assert "не хочу жить" not in logged


async def test_fallback_handoff() -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("ыва ываыва", "nlu_fallback", 0.21, slots={"lang": "en"}, input_channel="webchat")
    await ActionEscalate().run(dispatcher, tracker, DOMAIN)

    assert response_names(dispatcher.messages) == ["utter_handoff_fallback"]
    record = marker(dispatcher)
    assert record["intent"] == "nlu_fallback"
    assert record["reason"] == "fallback"
    assert record["priority"] == "p3"
    assert record["sensitive"] is False
    assert record["language"] == "en"


async def test_generic_response_when_the_domain_has_no_specific_one() -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("позовите оператора", "request_human", 0.9, slots={"lang": "ru"})
    await ActionEscalate().run(dispatcher, tracker, make_domain("utter_handoff"))
    assert response_names(dispatcher.messages) == ["utter_handoff"]
    assert marker(dispatcher)["priority"] == "p3"


async def test_missing_lang_channel_and_intent_have_defaults() -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("", None, slots={}, input_channel=None)
    await ActionEscalate().run(dispatcher, tracker, DOMAIN)
    record = marker(dispatcher)
    assert record["intent"] == "nlu_fallback"
    assert record["confidence"] == 0.0
    assert record["language"] == "ru"


async def test_an_active_form_is_closed() -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        "оператора дайте", "request_human", 0.88, slots={"requested_slot": "order_id"}, active_loop="order_status_form"
    )
    events = await ActionEscalate().run(dispatcher, tracker, DOMAIN)
    assert events == [ActiveLoop(None), SlotSet("requested_slot", None)]
    assert response_names(dispatcher.messages) == ["utter_handoff"]
    assert marker(dispatcher)["intent"] == "request_human"


async def test_card_numbers_in_entities_are_redacted() -> None:
    dispatcher = CollectingDispatcher()
    tracker = crisis_tracker(slots={"lang": "ru", "account_number": CARD})
    await ActionEscalate().run(dispatcher, tracker, DOMAIN)
    assert "1111" not in json.dumps(marker(dispatcher))


def test_name() -> None:
    assert ActionEscalate().name() == "action_escalate"
