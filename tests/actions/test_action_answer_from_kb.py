from __future__ import annotations

from actions_testkit import make_domain, make_tracker, response_names
from rasa_sdk.executor import CollectingDispatcher
from structlog.testing import capture_logs

from actions.kb import ActionAnswerFromKb
from kb_index.directory import load_directory

DOMAIN = make_domain("utter_kb_answer", "utter_ask_helpful", "utter_kb_not_found")


async def test_answers_with_the_article_of_the_intent_in_the_conversation_language() -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("how much is roaming in turkey", "roaming", 0.93, slots={"lang": "en"})
    with capture_logs() as logs:
        events = await ActionAnswerFromKb().run(dispatcher, tracker, DOMAIN)

    assert events == []
    assert response_names(dispatcher.messages) == ["utter_kb_answer", "utter_ask_helpful"]
    answer = dispatcher.messages[0]
    assert answer["title"] == load_directory().article("roaming", "en").title
    assert answer["url"] == "https://zabota.example/help/en/roaming"
    assert [(log["event"], log["topic"]) for log in logs] == [("kb.answered", "roaming")]


async def test_russian_article() -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("инет не работает", "internet_down", 0.9, slots={"lang": "ru"})
    await ActionAnswerFromKb().run(dispatcher, tracker, DOMAIN)
    answer = dispatcher.messages[0]
    assert answer["title"] == load_directory().article("router-reboot", "ru").title
    assert answer["url"] == "https://zabota.example/help/ru/router-reboot"


async def test_without_a_lang_slot_the_article_is_russian() -> None:
    dispatcher = CollectingDispatcher()
    await ActionAnswerFromKb().run(dispatcher, make_tracker("роуминг", "roaming"), DOMAIN)
    assert dispatcher.messages[0]["url"] == "https://zabota.example/help/ru/roaming"


async def test_feature_howto_finds_the_feature_article() -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("как включить переадресацию звонков", "feature_howto", 0.8, slots={"lang": "ru"})
    await ActionAnswerFromKb().run(dispatcher, tracker, DOMAIN)
    assert response_names(dispatcher.messages) == ["utter_kb_answer", "utter_ask_helpful"]
    assert dispatcher.messages[0]["url"] == "https://zabota.example/help/ru/call-forwarding"


async def test_no_article_for_an_unknown_feature() -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("how does this thing work", "feature_howto", 0.8, slots={"lang": "en"})
    with capture_logs() as logs:
        events = await ActionAnswerFromKb().run(dispatcher, tracker, DOMAIN)
    assert events == []
    assert response_names(dispatcher.messages) == ["utter_kb_not_found"]
    assert [log["event"] for log in logs] == ["kb.not_found"]


async def test_no_article_for_an_intent_without_a_topic() -> None:
    dispatcher = CollectingDispatcher()
    await ActionAnswerFromKb().run(dispatcher, make_tracker("жалоба", "complaint", 0.7), DOMAIN)
    assert response_names(dispatcher.messages) == ["utter_kb_not_found"]


def test_name() -> None:
    assert ActionAnswerFromKb().name() == "action_answer_from_kb"
