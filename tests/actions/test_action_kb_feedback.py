"""action_kb_feedback: the customer's answer to «Помогло?» after a knowledge-base article."""

from __future__ import annotations

from typing import Any

from actions_testkit import SENDER, bot_event, custom_payloads, make_domain, make_tracker, response_names, user_event
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from redis.asyncio import Redis
from structlog.testing import capture_logs

from actions.kb import ActionKbFeedback
from zabota import redis_keys

DOMAIN = make_domain(
    "utter_kb_answer",
    "utter_ask_helpful",
    "utter_kb_helped",
    "utter_kb_not_helped",
    "utter_handoff",
    "utter_handoff_kb_unhelpful",
)
QUESTION = "сколько стоит роуминг в турции"


def feedback_tracker(text: str, intent: str, lang: str = "ru", **slots: Any) -> Any:
    """After the question (intent roaming), the bot's article and «Помогло?», the customer's ``text``."""
    return make_tracker(
        text,
        intent,
        0.95,
        slots={"lang": lang, "kb_article": "roaming", **slots},
        events=[
            {"event": "action", "timestamp": 0.5, "name": "action_listen"},
            user_event(QUESTION, "roaming", 0.91, timestamp=1.0),
            bot_event("Из справочного центра, «Роуминг»: ...", timestamp=1.5),
            bot_event("Помогло?", timestamp=1.6),
            user_event(text, intent, 0.95, timestamp=2.0),
        ],
    )


async def run(tracker: Any) -> tuple[CollectingDispatcher, list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    with capture_logs() as logs:
        events = await ActionKbFeedback().run(dispatcher, tracker, DOMAIN)
    return dispatcher, events, logs


async def kb_events(redis: Redis) -> list[dict[str, str]]:
    entries = await redis.xrange(redis_keys.KB_EVENTS_STREAM)
    return [{key.decode(): value.decode() for key, value in fields.items()} for _, fields in entries]


async def test_helpful_is_recorded_and_resets_the_unhelpful_count(redis_db15: Redis) -> None:
    dispatcher, events, logs = await run(feedback_tracker("да, спасибо", "affirm", kb_unhelpful=1.0))

    assert response_names(dispatcher.messages) == ["utter_kb_helped"]
    assert events == [SlotSet("kb_unhelpful", 0.0), SlotSet("kb_misses", 0.0)]
    [event] = await kb_events(redis_db15)
    assert event["kind"] == "feedback"
    assert event["helpful"] == "yes"
    assert event["article"] == "roaming"
    assert event["conversation"] == SENDER
    assert event["lang"] == "ru"
    [feedback] = [log for log in logs if log["event"] == "kb.feedback"]
    assert feedback["helpful"] is True
    assert custom_payloads(dispatcher.messages, "zabota_handoff") == []


async def test_the_first_no_asks_for_more_detail(redis_db15: Redis) -> None:
    dispatcher, events, _ = await run(feedback_tracker("no, it didn't", "deny", lang="en"))

    assert response_names(dispatcher.messages) == ["utter_kb_not_helped"]
    assert events == [SlotSet("kb_unhelpful", 1.0), SlotSet("kb_misses", 0.0)]
    [event] = await kb_events(redis_db15)
    assert event["helpful"] == "no"
    assert event["lang"] == "en"
    assert custom_payloads(dispatcher.messages, "zabota_handoff") == []


async def test_the_second_no_in_a_row_hands_over_with_the_problem_intent(redis_db15: Redis) -> None:
    dispatcher, events, logs = await run(feedback_tracker("нет, не помогло", "deny", kb_unhelpful=1.0))

    assert response_names(dispatcher.messages) == ["utter_handoff_kb_unhelpful"]
    assert events == [SlotSet("kb_unhelpful", 0.0), SlotSet("kb_misses", 0.0), SlotSet("kb_article", None)]

    [record] = custom_payloads(dispatcher.messages, "zabota_handoff")
    # what the customer needs, not their "no"
    assert record["reason"] == "kb_unhelpful"
    assert record["intent"] == "roaming"
    assert record["confidence"] == 0.91
    assert record["language"] == "ru"
    [event] = await kb_events(redis_db15)
    assert event["helpful"] == "no"
    assert {"kb.feedback", "kb.escalated", "handoff.requested"} <= {str(log["event"]) for log in logs}


async def test_without_an_article_slot_the_feedback_is_still_recorded(redis_db15: Redis) -> None:
    tracker = make_tracker("да", "affirm", slots={"lang": "ru"})
    dispatcher, _, _ = await run(tracker)
    assert response_names(dispatcher.messages) == ["utter_kb_helped"]
    [event] = await kb_events(redis_db15)
    assert event["article"] == ""


def test_name() -> None:
    assert ActionKbFeedback().name() == "action_kb_feedback"
