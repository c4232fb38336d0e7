from __future__ import annotations

import pytest
from actions_testkit import make_domain, make_tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.language import ActionDetectLanguage


@pytest.mark.parametrize(
    ("text", "previous", "expected"),
    [
        ("интернет не работает", None, "ru"),
        ("интернет не работает", "en", "ru"),
        ("my internet is down", "ru", "en"),
        ("89161234567", "en", "en"),  # no words: the conversation's language stays
        ("ZB-4829173", "ru", "ru"),
        ("ok", "ru", "ru"),
        ("/affirm", "en", "en"),  # a button payload, not the customer's words
        ("/affirm", None, "ru"),
        (None, "en", "en"),
        ("hello", "de", "en"),
    ],
)
async def test_sets_the_lang_slot(text: str | None, previous: str | None, expected: str) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(text, "greet", slots={"lang": previous})
    events = await ActionDetectLanguage().run(dispatcher, tracker, make_domain())
    assert events == [SlotSet("lang", expected)]
    assert dispatcher.messages == []


def test_name() -> None:
    assert ActionDetectLanguage().name() == "action_detect_language"
