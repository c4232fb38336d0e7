"""action_answer_from_kb over a real FAISS index built in tmp_path with the fake (spelling-only) embedder.

The fake embedder hashes character trigrams: the queries below share words with the articles' titles and
sections, which is all it can match on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from actions_testkit import (
    DEAD_REDIS_URL,
    SENDER,
    bot_event,
    custom_payloads,
    make_domain,
    make_tracker,
    response_names,
    user_event,
)
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from redis.asyncio import Redis
from structlog.testing import capture_logs

import actions.settings
from actions.kb import ActionAnswerFromKb
from kb_index.build import build_index
from kb_index.directory import load_directory
from kb_index.embedders import HashingFakeEmbedder
from zabota import redis_keys
from zabota.events import Event

DOMAIN = make_domain(
    "utter_kb_answer",
    "utter_kb_link",
    "utter_ask_helpful",
    "utter_kb_not_found",
    "utter_please_rephrase",
    "utter_kb_did_you_mean",
    "utter_kb_helped",
    "utter_kb_not_helped",
    "utter_handoff",
    "utter_handoff_kb_unhelpful",
)

ARTICLES = {
    "roaming.en.md": """---
id: roaming
lang: en
title: Roaming abroad — prices and the travel option
url: https://zabota.example/help/en/roaming
tags: [roaming, abroad, travel]
---
Roaming is on by default on every tariff.

## How to turn on the travel option for roaming
1. Open the **My Zabota** app.
2. Go to *Services* and add the travel option, or dial `*111#`.
3. Turn on data roaming in the phone settings.
""",
    "roaming.ru.md": """---
id: roaming
lang: ru
title: Роуминг за границей — цены и опция «Путешествия»
url: https://zabota.example/help/ru/roaming
tags: [роуминг, заграница, поездка]
---
Роуминг включён по умолчанию на всех тарифах.

## Как подключить опцию «Путешествия» для роуминга
1. Откройте приложение **Мой Забота**.
2. В разделе *Услуги* подключите опцию или наберите `*111#`.
3. Включите передачу данных в роуминге в настройках телефона.
""",
    "router-reboot.en.md": """---
id: router-reboot
lang: en
title: Home internet is down — reboot the router
url: https://zabota.example/help/en/router-reboot
tags: [internet, router, wifi]
---
## How to reboot the router
1. Unplug the router from the power socket.
2. Wait 30 seconds and plug it back in.
3. Wait until the internet light is on.
""",
    "router-reboot.ru.md": """---
id: router-reboot
lang: ru
title: Не работает домашний интернет — перезагрузите роутер
url: https://zabota.example/help/ru/router-reboot
tags: [интернет, роутер, wifi]
---
## Как перезагрузить роутер
1. Выньте вилку роутера из розетки.
2. Подождите 30 секунд и включите роутер снова.
3. Дождитесь, пока загорится индикатор интернета.
""",
    "call-forwarding.en.md": """---
id: call-forwarding
lang: en
title: Call forwarding — send calls to another number
url: https://zabota.example/help/en/call-forwarding
tags: [calls, forwarding]
---
## How to turn on call forwarding
1. Dial `**21*number#` and press call.
2. To turn call forwarding off, dial `##21#`.
""",
    "call-forwarding.ru.md": """---
id: call-forwarding
lang: ru
title: Переадресация звонков на другой номер
url: https://zabota.example/help/ru/call-forwarding
tags: [звонки, переадресация]
---
## Как включить переадресацию звонков
1. Наберите `**21*номер#` и нажмите вызов.
2. Чтобы выключить переадресацию, наберите `##21#`.
""",
}


@pytest.fixture(scope="module")
def built_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The index of ARTICLES, built once for this module (the searches only read it)."""
    root = tmp_path_factory.mktemp("kb")
    source = root / "articles"
    source.mkdir()
    for name, text in ARTICLES.items():
        (source / name).write_text(text, encoding="utf-8")
    report = build_index(source, root / "index", HashingFakeEmbedder(64), progress=False)
    assert report.n_documents == len(ARTICLES) and not report.errors
    return root / "index"


def use_index(monkeypatch: pytest.MonkeyPatch, index_dir: Path) -> None:
    monkeypatch.setenv("KB_INDEX_DIR", str(index_dir))
    monkeypatch.setenv("KB_EMBEDDER", "fake:64")
    # the fake embedder's scores are on no real scale: the threshold is pinned (the service's default was chosen
    # for multilingual-e5), at the value these tests were written for
    monkeypatch.setenv("KB_THRESHOLD", "0.55")
    # the process-wide retriever is created from the environment on first use: none before, none left after
    monkeypatch.setattr(actions.settings, "_kb", None)


@pytest.fixture
def kb(monkeypatch: pytest.MonkeyPatch, built_index: Path) -> Iterator[Path]:
    use_index(monkeypatch, built_index)
    yield built_index
    actions.settings._kb = None  # a test's own retriever, even one created after setattr, goes too


@pytest.fixture
def no_index(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """KB_INDEX_DIR is an empty directory: no index was ever built there."""
    use_index(monkeypatch, tmp_path)
    yield tmp_path
    actions.settings._kb = None


@pytest.fixture
def no_good_answer(monkeypatch: pytest.MonkeyPatch, kb: Path) -> None:
    """No confidence reaches the threshold: only an intent topic among the top hits could still answer."""
    monkeypatch.setenv("KB_THRESHOLD", "5")


@pytest.fixture
async def dead_redis(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    monkeypatch.setenv("REDIS_URL", DEAD_REDIS_URL)
    await actions.settings.close_redis()
    try:
        yield
    finally:
        await actions.settings.close_redis()  # the next test's client must not point at the dead one


async def run(tracker: Any) -> tuple[CollectingDispatcher, list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    with capture_logs() as logs:
        events = await ActionAnswerFromKb().run(dispatcher, tracker, DOMAIN)
    return dispatcher, events, logs


async def kb_events(redis: Redis) -> list[dict[str, str]]:
    entries = await redis.xrange(redis_keys.KB_EVENTS_STREAM)
    return [{key.decode(): value.decode() for key, value in fields.items()} for _, fields in entries]


async def leads_events(redis: Redis) -> list[Event]:
    entries = await redis.xrange(redis_keys.EVENTS_STREAM)
    return [Event.from_fields({key.decode(): value.decode() for key, value in fields.items()}) for _, fields in entries]


def log_events(logs: list[dict[str, Any]]) -> list[str]:
    return [str(log["event"]) for log in logs]


# -- answers ------------------------------------------------------------------------------------------------------
async def test_answers_with_the_article_and_asks_whether_it_helped(kb: Path, redis_db15: Redis) -> None:
    tracker = make_tracker("как подключить роуминг за границей", "roaming", 0.93, slots={"lang": "ru"})
    dispatcher, events, logs = await run(tracker)

    assert response_names(dispatcher.messages) == ["utter_kb_answer", "utter_ask_helpful"]
    answer = dispatcher.messages[0]
    assert answer["title"] == "Роуминг за границей — цены и опция «Путешествия»"
    assert answer["url"] == "https://zabota.example/help/ru/roaming"
    assert "Откройте приложение Мой Забота." in answer["steps"]
    assert "наберите *111#." in answer["steps"]  # markup dropped, the USSD code kept as it is dialled
    assert "**" not in answer["steps"] and "`" not in answer["steps"]
    assert events == [SlotSet("kb_article", "roaming"), SlotSet("kb_unhelpful", 0.0), SlotSet("kb_misses", 0.0)]

    [answered] = [log for log in logs if log["event"] == "kb.answered"]
    assert answered["topic"] == "roaming"
    assert answered["source"] == "intent_topic"
    assert answered["lang"] == "ru"


async def test_the_answer_is_recorded_on_the_kb_event_stream(kb: Path, redis_db15: Redis) -> None:
    tracker = make_tracker("как подключить роуминг за границей", "roaming", 0.93, slots={"lang": "ru"})
    await run(tracker)

    [event] = await kb_events(redis_db15)
    assert event["kind"] == "answer"
    assert event["conversation"] == SENDER
    assert event["intent"] == "roaming"
    assert event["article"] == "roaming"
    assert event["lang"] == "ru"
    assert event["source"] == "intent_topic"
    assert 0.0 < float(event["score"]) <= 1.0
    assert float(event["at"]) > 0
    # and, in the same transaction, the leads' event (zabota/events)
    [lead_event] = await leads_events(redis_db15)
    assert (lead_event.kind, lead_event.ref, lead_event.customer_id) == ("kb_answer", "roaming", SENDER)
    assert lead_event.data["intent"] == "roaming" and abs(lead_event.at - float(event["at"])) < 0.001


async def test_an_english_conversation_gets_the_english_article(kb: Path, redis_db15: Redis) -> None:
    tracker = make_tracker("how much is roaming abroad", "roaming", 0.9, slots={"lang": "en"})
    dispatcher, _, _ = await run(tracker)

    assert response_names(dispatcher.messages) == ["utter_kb_answer", "utter_ask_helpful"]
    answer = dispatcher.messages[0]
    assert answer["title"] == "Roaming abroad — prices and the travel option"
    assert answer["url"] == "https://zabota.example/help/en/roaming"
    assert "Open the My Zabota app." in answer["steps"]
    [event] = await kb_events(redis_db15)
    assert event["lang"] == "en"


async def test_without_a_lang_slot_the_article_is_russian(kb: Path, redis_db15: Redis) -> None:
    dispatcher, _, _ = await run(make_tracker("роуминг", "roaming"))
    assert dispatcher.messages[0]["url"] == "https://zabota.example/help/ru/roaming"


async def test_feature_howto_answers_with_the_feature_asked_about(kb: Path, redis_db15: Redis) -> None:
    tracker = make_tracker("как включить переадресацию звонков", "feature_howto", 0.8, slots={"lang": "ru"})
    dispatcher, events, _ = await run(tracker)

    assert response_names(dispatcher.messages) == ["utter_kb_answer", "utter_ask_helpful"]
    answer = dispatcher.messages[0]
    assert answer["url"] == "https://zabota.example/help/ru/call-forwarding"
    assert "Наберите **21*номер# и нажмите вызов." in answer["steps"]
    assert events[0] == SlotSet("kb_article", "call-forwarding")


async def test_an_intent_without_a_topic_is_answered_by_the_search(kb: Path, redis_db15: Redis) -> None:
    tracker = make_tracker("не работает интернет, как перезагрузить роутер", "complaint", 0.6, slots={"lang": "ru"})
    dispatcher, events, logs = await run(tracker)

    assert response_names(dispatcher.messages) == ["utter_kb_answer", "utter_ask_helpful"]
    assert dispatcher.messages[0]["url"] == "https://zabota.example/help/ru/router-reboot"
    assert events[0] == SlotSet("kb_article", "router-reboot")
    [answered] = [log for log in logs if log["event"] == "kb.answered"]
    assert answered["source"] == "search"


async def test_an_answer_resets_the_misses_and_keeps_the_unhelpful_count(kb: Path, redis_db15: Redis) -> None:
    tracker = make_tracker("роуминг", "roaming", slots={"lang": "ru", "kb_unhelpful": 1.0, "kb_misses": 1.0})
    _, events, _ = await run(tracker)
    assert events == [SlotSet("kb_article", "roaming"), SlotSet("kb_unhelpful", 1.0), SlotSet("kb_misses", 0.0)]


# -- no good answer -----------------------------------------------------------------------------------------------
async def test_no_good_answer(no_good_answer: None, redis_db15: Redis) -> None:
    # check_balance names the topic balance-check, which this index does not have: the threshold decides
    tracker = make_tracker("как подключить роуминг за границей", "check_balance", 0.7, slots={"lang": "ru"})
    dispatcher, events, logs = await run(tracker)

    assert response_names(dispatcher.messages) == ["utter_kb_not_found"]
    assert events == [SlotSet("kb_article", None), SlotSet("kb_unhelpful", 0.0), SlotSet("kb_misses", 1.0)]
    assert "kb.not_found" in log_events(logs)
    [event] = await kb_events(redis_db15)
    assert event["kind"] == "miss"
    assert event["intent"] == "check_balance"
    assert event["lang"] == "ru"
    [gap] = await leads_events(redis_db15)  # the question's words, for the leads' knowledge-base gaps
    assert gap.kind == "kb_miss" and gap.data["text"] == "как подключить роуминг за границей"
    assert custom_payloads(dispatcher.messages, "zabota_handoff") == []


async def test_the_intent_topic_among_the_top_hits_answers_below_the_threshold(
    no_good_answer: None, redis_db15: Redis
) -> None:
    dispatcher, events, logs = await run(make_tracker("роуминг", "roaming", slots={"lang": "ru"}))
    assert response_names(dispatcher.messages) == ["utter_kb_answer", "utter_ask_helpful"]
    assert events[0] == SlotSet("kb_article", "roaming")
    [answered] = [log for log in logs if log["event"] == "kb.answered"]
    assert answered["source"] == "intent_topic"


async def test_a_second_miss_in_a_row_hands_over_to_a_person(no_good_answer: None, redis_db15: Redis) -> None:
    first, second = "сколько стоит мой тариф", "сколько денег на балансе"
    tracker = make_tracker(
        second,
        "check_balance",
        0.7,
        slots={"lang": "ru", "kb_misses": 1.0},
        events=[
            {"event": "action", "timestamp": 0.5, "name": "action_listen"},
            user_event(first, "check_balance", 0.6, timestamp=1.0),
            bot_event("Готового ответа на этот вопрос не нашлось.", timestamp=1.5),
            user_event(second, "check_balance", 0.7, timestamp=2.0),
        ],
    )
    dispatcher, events, logs = await run(tracker)

    assert response_names(dispatcher.messages) == ["utter_handoff_kb_unhelpful"]
    assert events == [SlotSet("kb_unhelpful", 0.0), SlotSet("kb_misses", 0.0), SlotSet("kb_article", None)]
    [record] = custom_payloads(dispatcher.messages, "zabota_handoff")
    assert record["reason"] == "kb_unhelpful"
    assert record["intent"] == "check_balance"
    assert record["language"] == "ru"
    assert {"kb.not_found", "kb.escalated", "handoff.requested"} <= set(log_events(logs))
    [event] = await kb_events(redis_db15)
    assert event["kind"] == "miss"


async def test_the_generic_handoff_response_when_the_domain_has_no_kb_one(
    no_good_answer: None, redis_db15: Redis
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("сколько денег на балансе", "check_balance", 0.7, slots={"kb_misses": 1.0})
    await ActionAnswerFromKb().run(dispatcher, tracker, make_domain("utter_handoff", "utter_kb_not_found"))
    assert response_names(dispatcher.messages) == ["utter_handoff"]
    [record] = custom_payloads(dispatcher.messages, "zabota_handoff")
    assert record["reason"] == "kb_unhelpful"


async def test_a_message_not_understood_is_asked_to_be_rephrased(no_good_answer: None, redis_db15: Redis) -> None:
    tracker = make_tracker("ыва ываыва", "nlu_fallback", 0.2, slots={"lang": "ru"})
    dispatcher, events, _ = await run(tracker)
    assert response_names(dispatcher.messages) == ["utter_please_rephrase"]
    assert events == [SlotSet("kb_article", None), SlotSet("kb_unhelpful", 0.0), SlotSet("kb_misses", 1.0)]


async def test_a_query_without_words_is_no_answer(kb: Path, redis_db15: Redis) -> None:
    dispatcher, events, logs = await run(make_tracker("???", "check_balance", 0.5, slots={"lang": "ru"}))
    assert response_names(dispatcher.messages) == ["utter_kb_not_found"]
    assert events[-1] == SlotSet("kb_misses", 1.0)
    assert "kb.query_rejected" in log_events(logs)


# -- failures -----------------------------------------------------------------------------------------------------
async def test_without_an_index_the_catalog_still_gives_the_article_link(no_index: Path, redis_db15: Redis) -> None:
    tracker = make_tracker("how much is roaming abroad", "roaming", 0.9, slots={"lang": "en"})
    dispatcher, events, logs = await run(tracker)

    [error] = [log for log in logs if log["event"] == "kb.index_unavailable"]
    assert error["log_level"] == "error"
    assert error["intent"] == "roaming"
    article = load_directory().article("roaming", "en")
    assert response_names(dispatcher.messages) == ["utter_kb_link", "utter_ask_helpful"]
    assert dispatcher.messages[0]["title"] == article.title
    assert dispatcher.messages[0]["url"] == "https://zabota.example/help/en/roaming"
    assert events == [SlotSet("kb_article", "roaming")]


async def test_without_an_index_or_a_topic_there_is_no_answer(no_index: Path, redis_db15: Redis) -> None:
    dispatcher, events, logs = await run(make_tracker("жалоба", "complaint", 0.7, slots={"lang": "ru"}))
    assert "kb.index_unavailable" in log_events(logs)
    assert response_names(dispatcher.messages) == ["utter_kb_not_found"]
    assert events[-1] == SlotSet("kb_misses", 1.0)


async def test_with_redis_down_the_customer_still_gets_the_answer(kb: Path, dead_redis: None) -> None:
    tracker = make_tracker("how much is roaming abroad", "roaming", 0.9, slots={"lang": "en"})
    dispatcher, events, logs = await run(tracker)

    assert response_names(dispatcher.messages) == ["utter_kb_answer", "utter_ask_helpful"]
    assert dispatcher.messages[0]["url"] == "https://zabota.example/help/en/roaming"
    assert events[0] == SlotSet("kb_article", "roaming")
    [failed] = [log for log in logs if log["event"] == "kb.event_store_failed"]
    assert failed["log_level"] == "error"
    assert failed["kind"] == "answer"


def test_name() -> None:
    assert ActionAnswerFromKb().name() == "action_answer_from_kb"


# -- did you mean -------------------------------------------------------------------------------------------------


async def test_two_close_articles_are_offered_as_buttons(
    kb: Path, redis_db15: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kb_index.answering import KbChoice
    from kb_index.search import Hit

    def close(doc_id: str, title: str, score: float) -> Hit:
        return Hit(doc_id, "ru", title, f"https://zabota.example/help/ru/{doc_id}", score, "", "", score, score)

    options = (close("router-reboot", "Перезагрузка роутера", 0.71), close("slow-internet", "Медленный интернет", 0.7))
    monkeypatch.setattr("actions.kb._search", lambda text, lang, topic: KbChoice(None, "did_you_mean", options))
    tracker = make_tracker("что-то с инетом", "nlu_fallback", 0.2, slots={"lang": "ru", "kb_misses": 1.0})
    dispatcher, events, logs = await run(tracker)

    assert response_names(dispatcher.messages) == ["utter_kb_did_you_mean"]
    assert dispatcher.messages[0]["buttons"] == [
        {"title": "Перезагрузка роутера", "payload": "Перезагрузка роутера"},
        {"title": "Медленный интернет", "payload": "Медленный интернет"},
    ]
    # a question, not a miss: the second unclear message in a row does not hand over
    assert events == [SlotSet("kb_article", None)]
    assert "kb.did_you_mean" in log_events(logs)
    [event] = [e for e in await kb_events(redis_db15) if e["kind"] == "did_you_mean"]
    assert event["articles"] == "router-reboot,slow-internet"


def ranked(tracker: Any, *ranking: tuple[str, float]) -> Any:
    tracker.latest_message["intent_ranking"] = [{"name": n, "confidence": c} for n, c in ranking]
    return tracker


async def test_two_close_intents_are_offered_as_their_articles(kb: Path, redis_db15: Redis) -> None:
    tracker = make_tracker("в поездке не ловит", "roaming", 0.41, slots={"lang": "ru"})
    ranked(tracker, ("roaming", 0.41), ("mobile_no_signal", 0.37), ("greet", 0.02))
    dispatcher, events, logs = await run(tracker)

    directory = load_directory()
    titles = [directory.article(t, "ru").title for t in ("roaming", "mobile-no-signal")]
    assert response_names(dispatcher.messages) == ["utter_kb_did_you_mean"]
    assert dispatcher.messages[0]["buttons"] == [{"title": t, "payload": t} for t in titles]
    assert events == [SlotSet("kb_article", None)]
    assert "kb.did_you_mean_intents" in log_events(logs)
    [event] = [e for e in await kb_events(redis_db15) if e["kind"] == "did_you_mean"]
    assert (event["articles"], event["by"]) == ("roaming,mobile-no-signal", "intent")


async def test_a_clear_first_intent_is_answered(kb: Path, redis_db15: Redis) -> None:
    tracker = make_tracker("роуминг за границей", "roaming", 0.8, slots={"lang": "ru"})
    ranked(tracker, ("roaming", 0.8), ("mobile_no_signal", 0.1))
    dispatcher, _, _ = await run(tracker)
    assert response_names(dispatcher.messages)[0] == "utter_kb_answer"


async def test_an_escalation_intent_is_never_offered_as_a_button(kb: Path, redis_db15: Redis) -> None:
    tracker = make_tracker("роуминг за границей", "roaming", 0.4, slots={"lang": "ru"})
    ranked(tracker, ("roaming", 0.4), ("fraud_report", 0.38))
    dispatcher, _, _ = await run(tracker)
    assert "utter_kb_did_you_mean" not in response_names(dispatcher.messages)


async def test_an_intent_the_triage_changed_is_not_second_guessed(kb: Path, redis_db15: Redis) -> None:
    # the ranking is the classifier's; the message's intent is someone else's decision
    tracker = make_tracker("роуминг за границей", "sim_replacement", 0.9, slots={"lang": "ru"})
    ranked(tracker, ("roaming", 0.4), ("mobile_no_signal", 0.38))
    dispatcher, _, _ = await run(tracker)
    assert "utter_kb_did_you_mean" not in response_names(dispatcher.messages)


async def test_a_pressed_button_opens_its_article_whatever_the_nlu_made_of_it(kb: Path, redis_db15: Redis) -> None:
    title = load_directory().article("roaming", "ru").title
    tracker = make_tracker(title, "mobile_no_signal", 0.42, slots={"lang": "ru"})
    ranked(tracker, ("mobile_no_signal", 0.42), ("roaming", 0.4))
    dispatcher, events, _ = await run(tracker)
    assert response_names(dispatcher.messages)[0] == "utter_kb_answer"
    assert SlotSet("kb_article", "roaming") in events
