"""The knowledge base end to end: gateway -> Rasa -> action server -> FAISS index (built by `make kb-build`
from kb/articles with the real embedder) -> Redis."""

from __future__ import annotations

import uuid

import httpx
import pytest
import redis

from tests.integration.stack_kit import customer_of, handoff_of, reply_text, say
from zabota import redis_keys

pytestmark = pytest.mark.integration


def kb_events(app_redis: redis.Redis, sender: str) -> list[dict[str, str]]:
    customer = customer_of(app_redis, f"web:{sender}")
    return [f for _, f in app_redis.xrange(redis_keys.KB_EVENTS_STREAM) if f.get("conversation") == customer]


def test_russian_question_is_answered_from_the_article_with_its_link(
    gateway: httpx.Client, app_redis: redis.Redis
) -> None:
    sender = f"it-kb-ru-{uuid.uuid4().hex[:8]}"
    body = say(gateway, sender, "как подключить роуминг перед поездкой в турцию")
    text = reply_text(body)
    assert "https://zabota.example/help/ru/roaming" in text
    assert "Помогло?" in text
    assert any(b.get("payload") == "/affirm" for r in body["replies"] for b in r.get("buttons") or [])
    events = kb_events(app_redis, sender)
    assert [(e["kind"], e["article"], e["lang"]) for e in events] == [("answer", "roaming", "ru")]


def test_english_question_gets_the_english_article(gateway: httpx.Client) -> None:
    body = say(gateway, f"it-kb-en-{uuid.uuid4().hex[:8]}", "how do I change the password of my wifi network?")
    assert "https://zabota.example/help/en/wifi-password" in reply_text(body)


def test_two_unhelpful_answers_hand_the_customer_to_a_person(gateway: httpx.Client, app_redis: redis.Redis) -> None:
    sender = f"it-kb-no-{uuid.uuid4().hex[:8]}"
    assert "/help/ru/roaming" in reply_text(say(gateway, sender, "как подключить роуминг перед поездкой в турцию"))
    say(gateway, sender, "нет")
    second = say(gateway, sender, "сколько стоит мобильный интернет в роуминге за границей")
    assert "zabota.example/help/ru/" in reply_text(second)
    say(gateway, sender, "нет, не помогло")

    summary = handoff_of(app_redis, customer_of(app_redis, f"web:{sender}"))["summary"]
    assert "kb_unhelpful" in [reason["code"] for reason in summary["reasons"]]
    assert summary["intent"] == "roaming"
    assert [attempt["kind"] for attempt in summary["bot_tried"]].count("kb_article") >= 1
    feedback = [e["helpful"] for e in kb_events(app_redis, sender) if e["kind"] == "feedback"]
    assert feedback == ["no", "no"]
