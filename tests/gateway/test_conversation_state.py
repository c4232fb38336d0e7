"""What the triage remembers between turns: ``advance`` (a pure function) and the Redis store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from redis.asyncio import Redis

from gateway.conversation_state import (
    DATUM_ENTITIES,
    MAX_INTENTS,
    MAX_KB_EVENTS,
    ConversationState,
    ConversationStateStore,
    advance,
)
from zabota import redis_keys
from zabota.triage.model import NluResult, Reason, TriageDecision

NOW = 1_790_000_000.0
ROUTER = {"article": "router-reboot", "title": "Перезагрузка роутера", "url": "https://x/router", "lang": "ru"}
WIFI = {"article": "wifi-password", "title": "Пароль Wi-Fi", "url": "https://x/wifi", "lang": "ru"}


def nlu(intent: str = "internet_down", confidence: float = 0.9) -> NluResult:
    return NluResult(intent=intent, confidence=confidence)


def decision(escalate: bool = False) -> TriageDecision:
    return TriageDecision(
        intent="internet_down",
        confidence=0.9,
        sensitive=False,
        escalate=escalate,
        priority="p3" if escalate else None,
        reasons=(Reason("human_request" if escalate else "routine", "test"),),
    )


def test_a_fresh_state_is_empty() -> None:
    state = ConversationState()
    assert (state.low_confidence_streak, state.awaiting_kb_feedback, state.kb_unhelpful) == (0, False, 0)
    assert state.last_article() is None
    context = state.context("telegram", {"internet_down": 2})
    assert (context.channel, context.recent_intents, context.low_confidence_streak) == (
        "telegram",
        {"internet_down": 2},
        0,
    )


@pytest.mark.parametrize(
    ("intent", "confidence", "misunderstood"),
    [
        ("internet_down", 0.9, False),
        ("internet_down", 0.5, False),  # at the threshold: understood
        ("internet_down", 0.49, True),
        ("nlu_fallback", 0.99, True),  # a fallback is never understood, however sure Rasa is of it
    ],
)
def test_the_low_confidence_streak(intent: str, confidence: float, misunderstood: bool) -> None:
    state = ConversationState(low_confidence_streak=2)
    after = advance(state, nlu(intent, confidence), decision(), [], NOW)
    assert after.low_confidence_streak == (3 if misunderstood else 0)


def test_a_streak_grows_turn_by_turn_and_one_understood_turn_resets_it() -> None:
    state = ConversationState()
    for expected in (1, 2, 3):
        state = advance(state, nlu("nlu_fallback", 0.3), decision(), [], NOW)
        assert state.low_confidence_streak == expected
    state = advance(state, nlu("internet_down", 0.8), decision(), [], NOW)
    assert state.low_confidence_streak == 0


def test_an_article_waits_for_feedback_and_is_recorded() -> None:
    state = advance(ConversationState(), nlu(), decision(), [ROUTER], NOW)
    assert state.awaiting_kb_feedback is True
    assert state.kb_events == (
        {"event": "answer", "article": "router-reboot", "title": "Перезагрузка роутера", "timestamp": NOW},
    )
    assert state.last_article() == "router-reboot"
    # The next turn shows no article: nothing to give feedback on any more.
    assert advance(state, nlu("greet"), decision(), [], NOW + 1).awaiting_kb_feedback is False


def test_deny_after_an_article_counts_as_unhelpful_and_affirm_resets() -> None:
    state = advance(ConversationState(), nlu(), decision(), [ROUTER], NOW)
    state = advance(state, nlu("deny"), decision(), [WIFI], NOW + 10)
    assert state.kb_unhelpful == 1
    state = advance(state, nlu("deny"), decision(), [], NOW + 20)
    assert state.kb_unhelpful == 2
    assert [(e["event"], e["article"], e.get("helpful")) for e in state.kb_events] == [
        ("answer", "router-reboot", None),
        ("feedback", "router-reboot", False),  # about the article shown before this turn
        ("answer", "wifi-password", None),
        ("feedback", "wifi-password", False),
    ]
    state = advance(state, nlu("deny"), decision(), [ROUTER], NOW + 30)
    assert state.kb_unhelpful == 2  # no article was waiting for feedback: a "no" is just a "no"
    state = advance(state, nlu("affirm"), decision(), [], NOW + 40)
    assert state.kb_unhelpful == 0
    assert state.kb_events[-1] == {
        "event": "feedback",
        "article": "router-reboot",
        "helpful": True,
        "timestamp": NOW + 40,
    }


def test_other_intents_after_an_article_are_not_feedback() -> None:
    state = advance(ConversationState(kb_unhelpful=1), nlu(), decision(), [ROUTER], NOW)
    state = advance(state, nlu("internet_slow"), decision(), [], NOW + 1)
    assert state.kb_unhelpful == 1
    assert [e["event"] for e in state.kb_events] == ["answer"]


def test_an_escalation_resets_the_unhelpful_count() -> None:
    state = ConversationState(
        awaiting_kb_feedback=True, kb_unhelpful=1, kb_events=({"event": "answer", "article": "a"},)
    )
    after = advance(state, nlu("deny"), decision(escalate=True), [], NOW)
    assert after.kb_unhelpful == 0
    assert after.kb_events[-1]["helpful"] is False  # the feedback is still recorded for the summary


def test_intents_are_recorded_and_bounded() -> None:
    state = ConversationState()
    for turn in range(MAX_INTENTS + 5):
        state = advance(state, nlu(f"intent_{turn}", 0.87654), decision(), [], NOW + turn)
    assert len(state.intents) == MAX_INTENTS
    assert state.intents[0] == {"name": "intent_5", "confidence": 0.8765, "timestamp": NOW + 5}
    assert state.intents[-1]["name"] == f"intent_{MAX_INTENTS + 4}"


def test_kb_events_are_bounded() -> None:
    state = ConversationState()
    for turn in range(MAX_KB_EVENTS):
        state = advance(state, nlu(), decision(), [ROUTER, WIFI], NOW + turn)
    assert len(state.kb_events) == MAX_KB_EVENTS
    assert state.kb_events[-1]["article"] == "wifi-password"
    assert state.kb_events[-1]["timestamp"] == NOW + MAX_KB_EVENTS - 1


def test_advance_does_not_change_the_state_it_is_given() -> None:
    state = ConversationState(intents=({"name": "greet", "confidence": 1.0, "timestamp": 1.0},))
    advance(state, nlu(), decision(), [ROUTER], NOW)
    assert state == ConversationState(intents=({"name": "greet", "confidence": 1.0, "timestamp": 1.0},))


# --- the store --------------------------------------------------------------------------------------------------


async def test_the_store_round_trips_a_state(redis: Redis) -> None:
    store = ConversationStateStore(redis)
    assert await store.get("c-0000000000000001") == ConversationState()
    state = advance(ConversationState(), nlu("nlu_fallback", 0.2), decision(), [ROUTER], NOW)
    state = advance(state, nlu("deny"), decision(), [], NOW + 1)
    await store.save("c-0000000000000001", state)
    assert await store.get("c-0000000000000001") == state
    assert await store.get("c-0000000000000002") == ConversationState()
    ttl = await redis.ttl(redis_keys.conversation_triage("c-0000000000000001"))
    assert 0 < ttl <= redis_keys.CONVERSATION_HISTORY_TTL_SECONDS


@pytest.mark.parametrize(
    "raw",
    [
        "{not json",
        "[1, 2]",
        '"a string"',
        '{"low_confidence_streak": "many"}',
        '{"kb_unhelpful": [1]}',
    ],
)
async def test_a_corrupt_state_starts_afresh(redis: Redis, raw: str) -> None:
    await redis.set(redis_keys.conversation_triage("c-0000000000000003"), raw)
    assert await ConversationStateStore(redis).get("c-0000000000000003") == ConversationState()


async def test_missing_fields_take_their_defaults(redis: Redis) -> None:
    await redis.set(redis_keys.conversation_triage("c-0000000000000004"), json.dumps({"kb_unhelpful": 1}))
    assert await ConversationStateStore(redis).get("c-0000000000000004") == ConversationState(kb_unhelpful=1)


def test_a_turn_the_bot_answered_all_the_same_is_understood() -> None:
    """An unsure NLU but an article shown, or articles offered to choose from: not a misunderstood turn."""
    shown = advance(ConversationState(), nlu("nlu_fallback", 0.3), decision(), [ROUTER], NOW)
    offered = advance(ConversationState(), nlu("roaming", 0.3), decision(), [], NOW, answered=True)
    missed = advance(ConversationState(), nlu("roaming", 0.3), decision(), [], NOW)
    assert (shown.low_confidence_streak, offered.low_confidence_streak, missed.low_confidence_streak) == (0, 0, 1)


def test_a_datum_the_nlu_found_is_an_answer_not_a_misunderstood_turn() -> None:
    """«ZB-5530872» alone is the order number the form asked for, however unsure the intent."""
    order = {"entity": "order_id", "value": "ZB-5530872", "start": 0, "end": 10}
    gave = advance(
        ConversationState(low_confidence_streak=1),
        NluResult("order_status", 0.45, entities=(order,)),
        decision(),
        [],
        NOW,
    )
    other = {"entity": "something_else", "value": "x", "start": 0, "end": 1}
    not_a_datum = advance(ConversationState(), NluResult("roaming", 0.3, entities=(other,)), decision(), [], NOW)
    assert (gave.low_confidence_streak, not_a_datum.low_confidence_streak) == (0, 1)


def test_the_datum_entities_are_the_bot_s_entities() -> None:
    domain = yaml.safe_load((Path(__file__).resolve().parents[2] / "bot" / "domain.yml").read_text(encoding="utf-8"))
    assert set(domain["entities"]) == DATUM_ENTITIES
