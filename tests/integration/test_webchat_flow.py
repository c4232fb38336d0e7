"""End to end over real HTTP: gateway -> Rasa (trained model) -> action server -> Redis."""

from __future__ import annotations

import json
import re
import uuid

import httpx
import pytest
import redis

from tests.integration.stack_kit import customer_of, handoff_of, reply_text, say
from zabota import redis_keys
from zabota.stack import Stack

pytestmark = pytest.mark.integration

CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)


def test_health_reports_both_dependencies(gateway: httpx.Client) -> None:
    body = gateway.get("/health").json()
    assert body["redis"] == "ok" and body["rasa"] == "ok"


def test_russian_message_gets_a_russian_answer(gateway: httpx.Client) -> None:
    body = say(gateway, f"it-ru-{uuid.uuid4().hex[:8]}", "Здравствуйте!")
    assert body["lang"] == "ru"
    assert CYRILLIC.search(reply_text(body))


def test_english_message_gets_an_english_answer(gateway: httpx.Client) -> None:
    body = say(gateway, f"it-en-{uuid.uuid4().hex[:8]}", "Hello there, good morning")
    assert body["lang"] == "en"
    text = reply_text(body)
    assert text and not CYRILLIC.search(text)


def test_escalation_leaves_a_handoff_record(gateway: httpx.Client, app_redis: redis.Redis) -> None:
    sender = f"it-esc-{uuid.uuid4().hex[:8]}"
    body = say(gateway, sender, "соедините меня с живым оператором пожалуйста")
    assert "специалист" in reply_text(body)  # when a person will answer
    customer = customer_of(app_redis, f"web:{sender}")
    entries = app_redis.xrange(redis_keys.HANDOFF_STREAM)
    mine = [fields for _, fields in entries if fields["customer_id"] == customer]
    assert len(mine) == 1
    summary = handoff_of(app_redis, customer)["summary"]
    assert summary["intent"] == "request_human"
    assert summary["priority"] == "p3"
    assert summary["language"] == "ru"
    assert summary["channel"] == "webchat"
    assert 0 < summary["intents"][-1]["confidence"] <= 1
    assert any(line["role"] == "customer" and "оператор" in line["text"] for line in summary["transcript"])


def test_sensitive_english_message_is_escalated_at_its_priority(gateway: httpx.Client, app_redis: redis.Redis) -> None:
    sender = f"it-fraud-{uuid.uuid4().hex[:8]}"
    say(gateway, sender, "someone charged my account without permission, I think I was scammed")
    summary = handoff_of(app_redis, customer_of(app_redis, f"web:{sender}"))["summary"]
    assert summary["priority"] == "p2"
    assert summary["language"] == "en"
    assert summary["sensitive"] is True


def test_order_status_form_fills_the_order_id(gateway: httpx.Client) -> None:
    sender = f"it-form-{uuid.uuid4().hex[:8]}"
    first = say(gateway, sender, "где мой заказ? хочу узнать статус заказа")
    assert "заказ" in reply_text(first).lower()
    second = say(gateway, sender, "ZB-4829173")
    assert "ZB-4829173" in reply_text(second)


def test_inbound_messages_are_stored_before_routing(gateway: httpx.Client, app_redis: redis.Redis) -> None:
    sender = f"it-store-{uuid.uuid4().hex[:8]}"
    say(gateway, sender, "моя карта 4111 1111 1111 1111, баланс какой?")
    stored = [f for _, f in app_redis.xrange(redis_keys.INBOUND_STREAM) if f.get("sender_id") == sender]
    assert stored, "the inbound message was not stored"
    assert "4111 1111 1111 1111" not in json.dumps(stored, ensure_ascii=False)


def test_rasa_api_needs_the_token(stack: Stack) -> None:
    url = f"http://127.0.0.1:{stack.settings.rasa_port}"
    assert httpx.get(f"{url}/status").status_code in (401, 403)
    assert httpx.get(f"{url}/status", params={"token": stack.settings.rasa_token}).status_code == 200
