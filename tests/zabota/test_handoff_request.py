from __future__ import annotations

import json
from typing import Any

from zabota.catalog import load_catalog
from zabota.handoff_request import DEFAULT_PRIORITY, HandoffRecord, build_handoff, transcript_from_events
from zabota.redaction import CARD_MASK, PASSPORT_MASK

EVENTS: list[dict[str, Any]] = [
    {"event": "action", "name": "action_listen", "timestamp": 1.0},
    {"event": "user", "text": "с карты 4111 1111 1111 1111 списали деньги", "timestamp": 2.0},
    {"event": "slot", "name": "lang", "value": "ru", "timestamp": 2.1},
    {"event": "bot", "text": "Передаю специалисту", "timestamp": 3.0},
    {"event": "bot", "text": None, "timestamp": 3.5},
    {"event": "user", "text": "паспорт 45 06 123456", "timestamp": 4.0},
]


def test_transcript_keeps_customer_and_bot_lines_redacted() -> None:
    lines = transcript_from_events(EVENTS)
    assert [(line.role, line.timestamp) for line in lines] == [("customer", 2.0), ("bot", 3.0), ("customer", 4.0)]
    assert lines[0].text == f"с карты {CARD_MASK} списали деньги"
    assert lines[2].text == PASSPORT_MASK


def test_transcript_keeps_only_the_newest_lines() -> None:
    events = [{"event": "user", "text": f"сообщение {i}", "timestamp": float(i)} for i in range(10)]
    lines = transcript_from_events(events, limit=3)
    assert [line.text for line in lines] == ["сообщение 7", "сообщение 8", "сообщение 9"]


def test_build_handoff_takes_priority_and_sensitivity_from_the_catalog() -> None:
    record = build_handoff(
        catalog=load_catalog(),
        conversation_id="c1",
        intent="fraud_report",
        confidence=0.912345,
        language="ru",
        channel="telegram",
        events=EVENTS,
        entities={"phone": "+79161234567", "account_number": "230045678912"},
    )
    assert record.priority == "p2"
    assert record.sensitive is True
    assert record.reason == "intent:fraud_report"
    assert record.confidence == 0.9123
    assert record.entities == {"phone": "+79161234567", "account_number": "230045678912"}
    assert len(record.transcript) == 3


def test_build_handoff_defaults_for_intents_without_a_priority() -> None:
    record = build_handoff(
        catalog=load_catalog(),
        conversation_id="c2",
        intent="nlu_fallback",
        confidence=0.2,
        language="en",
        channel="webchat",
        events=[],
        reason="fallback",
        entities={"amount": "1200 RUB", "note": "card 4111 1111 1111 1111"},
    )
    assert record.priority == DEFAULT_PRIORITY
    assert record.sensitive is False
    assert record.reason == "fallback"
    assert record.entities["note"] == f"card {CARD_MASK}"


def test_record_json_round_trip() -> None:
    record = build_handoff(
        catalog=load_catalog(),
        conversation_id="c3",
        intent="crisis",
        confidence=0.99,
        language="ru",
        channel="voice",
        events=EVENTS,
    )
    raw = record.to_json()
    assert "Передаю" in raw  # Cyrillic stays readable
    assert HandoffRecord.from_json(raw) == record
    assert json.loads(raw)["priority"] == "p1"
