"""``POST /api/v1/triage``: the dry run of the live triage, with a fake Rasa's NLU and the real signal detector;
validation, the answer's shape, escalation by a signal the classifier missed, and no side effects at all."""

from __future__ import annotations

import json
from typing import Any

import pytest
from gateway_testkit import FakeRasa, StartApp, closed_url
from redis.asyncio import Redis

from gateway.conversation_state import ConversationState, ConversationStateStore
from zabota import redis_keys

URL = "/api/v1/triage"
CUSTOMER = "c-00000000000000aa"


@pytest.mark.parametrize(
    ("payload", "status", "error", "field"),
    [
        ({"text": ""}, 422, "empty_text", "text is empty"),
        ({"text": " \n "}, 422, "empty_text", "text is empty"),
        ({}, 422, "invalid_request", "text"),
        ({"text": "x" * 31}, 413, "message_too_long", "31 characters"),
        ({"text": "привет", "channel": "fax"}, 422, "unknown_channel", "channel"),
        ({"text": "привет", "channel": "x" * 33}, 422, "invalid_request", "channel"),
        ({"text": "привет", "extra": 1}, 422, "invalid_request", "extra"),
        ({"text": "привет", "customer_id": "c 1"}, 422, "invalid_request", "customer_id"),
        ({"text": "привет", "customer_id": "<script>"}, 422, "invalid_request", "customer_id"),
        ({"text": "привет", "lang": "de"}, 422, "unsupported_language", "lang"),
        ([1, 2], 422, "invalid_request", "valid dictionary"),
    ],
)
async def test_invalid_requests_are_refused(
    start_app: StartApp, fake_rasa: FakeRasa, payload: Any, status: int, error: str, field: str
) -> None:
    async with start_app(rasa_url=fake_rasa.url, max_message_chars=30) as ctx:
        response = await ctx.client.post(URL, json=payload)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert field in response.json()["detail"]
    assert fake_rasa.parsed == []


async def test_a_body_that_is_not_json_is_422(start_app: StartApp) -> None:
    async with start_app() as ctx:
        response = await ctx.client.post(URL, content=b'{"text": ', headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert "not valid JSON" in response.json()["detail"]


async def test_a_routine_message_is_not_escalated(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        response = await ctx.client.post(URL, json={"text": "не работает интернет"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "intent",
        "handoff_intent",
        "sensitive",
        "escalate",
        "priority",
        "reasons",
        "signals",
        "sentiment",
        "lang",
        "reply_channels",
        "kb",
        "ranking",
    }
    assert body["intent"] == {"name": "internet_down", "confidence": 0.9}
    assert body["ranking"] == [{"name": "internet_down", "confidence": 0.9}]
    assert (body["escalate"], body["priority"], body["sensitive"], body["signals"]) == (False, None, False, [])
    assert [reason["code"] for reason in body["reasons"]] == ["routine"]
    assert body["lang"] == "ru"
    assert body["reply_channels"][0] == {**body["reply_channels"][0], "channel": "webchat", "purpose": "reply"}
    for hit in body["kb"]:
        assert set(hit) == {"id", "title", "score", "url", "answers"}
    assert fake_rasa.parsed == ["не работает интернет"]


async def test_a_crisis_in_the_text_escalates_p1_whatever_the_classifier_says(
    start_app: StartApp, fake_rasa: FakeRasa
) -> None:
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        response = await ctx.client.post(URL, json={"text": "не хочу больше жить"})
    body = response.json()
    assert body["intent"]["name"] == "internet_down"  # the fake classifier missed it
    assert (body["escalate"], body["priority"], body["sensitive"], body["handoff_intent"]) == (
        True,
        "p1",
        True,
        "crisis",
    )
    assert "sensitive_signal" in [reason["code"] for reason in body["reasons"]]
    assert [(signal["kind"], signal["priority"], signal["intent"]) for signal in body["signals"]] == [
        ("self_harm", "p1", "crisis")
    ]
    assert body["sentiment"] == "negative"
    # An urgent sensitive chat also offers a call-back (or the hotline).
    assert [(c["channel"], c["purpose"]) for c in body["reply_channels"]] == [
        ("webchat", "reply"),
        ("voice", "callback_offer"),
    ]


async def test_language_and_channel_are_taken_into_account(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        english = await ctx.client.post(URL, json={"text": "my internet is down", "channel": "telegram"})
        forced = await ctx.client.post(URL, json={"text": "123456", "lang": "en"})
    assert english.json()["lang"] == "en"
    assert english.json()["reply_channels"][0]["channel"] == "telegram"
    assert forced.json()["lang"] == "en"


async def test_the_dry_run_has_no_side_effects(start_app: StartApp, fake_rasa: FakeRasa, redis: Redis) -> None:
    state = ConversationState(low_confidence_streak=1, intents=({"name": "nlu_fallback", "confidence": 0.2},))
    fake_rasa.default_confidence = 0.3  # a second misunderstood turn in a row: the live path would escalate
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        await ConversationStateStore(redis).save(CUSTOMER, state)
        stored = await redis.get(redis_keys.conversation_triage(CUSTOMER))
        inbound_before = await redis.xlen(redis_keys.INBOUND_STREAM)
        handoffs_before = await redis.xlen(redis_keys.HANDOFF_STREAM)
        known = await ctx.client.post(URL, json={"text": "не понимаю", "customer_id": CUSTOMER})
        unknown = await ctx.client.post(URL, json={"text": "не хочу больше жить", "customer_id": "c-00000000000000bb"})
        assert await redis.get(redis_keys.conversation_triage(CUSTOMER)) == stored  # read, never written
        assert not await redis.exists(redis_keys.conversation_triage("c-00000000000000bb"))
        for customer in (CUSTOMER, "c-00000000000000bb"):
            assert not await redis.exists(redis_keys.conversation_history(customer))
            assert not await redis.exists(redis_keys.customer_intents(customer))
            assert not await redis.exists(redis_keys.conversation_handoff(customer))
            assert not await redis.exists(redis_keys.customer_profile(customer))
        assert await redis.xlen(redis_keys.INBOUND_STREAM) == inbound_before == 0
        assert await redis.xlen(redis_keys.HANDOFF_STREAM) == handoffs_before == 0
        assert await redis.zcard(redis_keys.HANDOFF_QUEUE) == 0
    assert known.status_code == 200 and unknown.status_code == 200
    # The stored state counted: the low-confidence streak escalates this one.
    assert known.json()["escalate"] is True
    assert "low_confidence" in [reason["code"] for reason in known.json()["reasons"]]
    assert unknown.json()["priority"] == "p1"
    assert fake_rasa.requests == []  # the bot never saw either message
    assert json.loads(stored or "{}")["low_confidence_streak"] == 1


async def test_rasa_down_is_503(start_app: StartApp) -> None:
    async with start_app(rasa_url=closed_url()) as ctx:
        response = await ctx.client.post(URL, json={"text": "не работает интернет"})
    assert response.status_code == 503
    assert response.json() == {"error": "rasa_unavailable", "detail": "the classifier is not answering; retry shortly"}


async def test_a_classifier_error_is_503_too(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    fake_rasa.fail_on = "сломай"
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        response = await ctx.client.post(URL, json={"text": "сломай классификатор"})
    assert response.status_code == 503
    assert response.json()["error"] == "rasa_unavailable"


@pytest.mark.parametrize(
    ("channel", "expected"),
    [("webchat", "webchat"), ("Web", "webchat"), ("chat", "webchat"), ("phone", "voice"), ("call", "voice"),
     ("tg", "telegram"), ("SMS", "sms")],
)  # fmt: skip
async def test_channel_aliases_are_understood(
    start_app: StartApp, fake_rasa: FakeRasa, channel: str, expected: str
) -> None:
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        response = await ctx.client.post(URL, json={"text": "не работает интернет", "channel": channel})
    assert response.status_code == 200
    assert response.json()["reply_channels"][0]["channel"] == expected


async def test_lang_variants_and_unknown_customers_are_accepted(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        regional = await ctx.client.post(URL, json={"text": "hello", "lang": "en-US"})
        upper = await ctx.client.post(URL, json={"text": "привет", "lang": "RU"})
        stranger = await ctx.client.post(URL, json={"text": "привет", "customer_id": "crm-12345"})
    assert regional.json()["lang"] == "en" and upper.json()["lang"] == "ru"
    assert stranger.status_code == 200  # triaged without history
