"""Trackers, domains and Redis for the action tests, built in code (no Rasa server, no bot/domain.yml)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker

TEST_REDIS_URL = "redis://127.0.0.1:6379/15"  # the tests' database: flushed before and after each test
# Nothing listens on port 1: every command fails to connect at once.
DEAD_REDIS_URL = "redis://127.0.0.1:1/15"

SENDER = "user-42"


def user_event(
    text: str,
    intent: str | None = None,
    confidence: float = 1.0,
    timestamp: float = 1.0,
    input_channel: str | None = "rest",
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "event": "user",
        "timestamp": timestamp,
        "text": text,
        "parse_data": {
            "text": text,
            "intent": {"name": intent, "confidence": confidence} if intent else {},
            "entities": [],
        },
        "input_channel": input_channel,
        "metadata": metadata or {},
    }


def bot_event(text: str, timestamp: float = 1.5) -> dict[str, Any]:
    return {"event": "bot", "timestamp": timestamp, "text": text, "data": {}, "metadata": {}}


def slot_event(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "timestamp": None, "name": name, "value": value}


def make_tracker(
    text: str | None = "",
    intent: str | None = None,
    confidence: float = 1.0,
    slots: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    active_loop: str | None = None,
    metadata: dict[str, Any] | None = None,
    input_channel: str | None = "rest",
    sender_id: str = SENDER,
) -> Tracker:
    """A tracker after the user's message ``text``: that message is the latest event unless ``events`` is given."""
    latest: dict[str, Any] = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence} if intent else {},
        "entities": [],
        "intent_ranking": [],
        "metadata": metadata or {},
    }
    if events is None:
        events = [
            {"event": "action", "timestamp": 0.5, "name": "action_listen"},
            user_event(text or "", intent, confidence, input_channel=input_channel, metadata=metadata),
        ]
    return Tracker(
        sender_id,
        slots or {},
        latest,
        events,
        False,
        None,
        {"name": active_loop, "is_interrupted": False, "rejected": False} if active_loop else {},
        "action_listen",
    )


def make_domain(*responses: str, forms: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """A domain dict as Rasa sends it to the action server: responses, slots and forms."""
    slot_names = ["lang", "account_number", "phone", "order_id", "amount", "date", "address"]
    return {
        "responses": {name: [{"text": name}] for name in responses},
        "slots": {name: {"type": "text", "mappings": [{"type": "custom"}]} for name in slot_names},
        "forms": {name: {"required_slots": required} for name, required in (forms or {}).items()},
    }


def response_names(messages: list[dict[str, Any]]) -> list[str]:
    """The domain responses uttered, in order (custom payloads, the gateway's markers, are left out)."""
    return [str(message["response"]) for message in messages if message.get("response")]


def custom_payloads(messages: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """The ``key`` part of every custom payload (``json_message``) uttered, in order."""
    return [
        message["custom"][key]
        for message in messages
        if isinstance(message.get("custom"), dict) and key in message["custom"]
    ]
