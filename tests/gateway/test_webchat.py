from __future__ import annotations

from typing import Any

import pytest
from gateway_testkit import FakeRasa, StartApp, closed_url, stream_fields
from redis.asyncio import Redis
from structlog.testing import capture_logs

from gateway.inbox import Redeliverer
from gateway.texts import DELAYED_ANSWER
from zabota import redis_keys

URL = "/api/v1/webchat/messages"
CARD = "4111 1111 1111 1111"


async def test_message_is_stored_then_answered(start_app: StartApp, fake_rasa: FakeRasa, redis: Redis) -> None:
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        response = await ctx.client.post(URL, json={"sender_id": "w-1", "text": "  Привет!  ", "metadata": {"p": 1}})
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "message_id": body["message_id"],
        "sender_id": "w-1",
        "lang": "ru",
        "replies": [
            {"text": "echo: Привет!", "buttons": [{"title": "Да", "payload": "/affirm"}], "image": None, "custom": None}
        ],
        "delivered": True,
    }
    assert fake_rasa.inbound_seen == [1]  # the message was in Redis before Rasa saw it
    [request] = fake_rasa.requests
    # Rasa's sender is the customer behind the widget's visitor id (one identity across channels).
    customer = await redis.get(redis_keys.identity("web:w-1"))
    assert customer and customer.startswith("c-") and request["sender"] == customer
    metadata = request["metadata"]
    assert metadata.pop("zabota_triage")["escalate"] is False
    assert metadata.pop("zabota_tone") == {"tone": "neutral", "why": "default", "name": None}
    assert metadata == {"p": 1, "channel": "webchat", "lang": "ru", "message_id": body["message_id"]}
    assert await redis.xlen(redis_keys.PENDING_STREAM) == 0


async def test_english_message_is_english(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        response = await ctx.client.post(URL, json={"sender_id": "w-1", "text": "my wifi is down"})
    assert response.status_code == 200
    assert response.json()["lang"] == "en"
    assert fake_rasa.requests[0]["metadata"]["lang"] == "en"


async def test_card_numbers_never_reach_rasa_or_storage(start_app: StartApp, fake_rasa: FakeRasa, redis: Redis) -> None:
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        response = await ctx.client.post(URL, json={"sender_id": "w-1", "text": f"списали с карты {CARD}"})
    assert response.status_code == 200
    assert CARD not in fake_rasa.requests[0]["message"]
    [fields] = await stream_fields(redis, redis_keys.INBOUND_STREAM)
    assert CARD not in fields["text"]


@pytest.mark.parametrize(
    ("payload", "error", "reason"),
    [
        ({"sender_id": "w-1", "text": ""}, "empty_text", "text is empty"),
        ({"sender_id": "w-1", "text": " \n\t "}, "empty_text", "text is empty"),
        ({"sender_id": "w-1"}, "invalid_request", "text: Field required"),
        ({"sender_id": "w-1", "text": 5}, "invalid_request", "text: Input should be a valid string"),
        ({"sender_id": "", "text": "hi"}, "invalid_request", "sender_id"),
        ({"sender_id": "a b", "text": "hi"}, "invalid_request", "sender_id: String should match pattern"),
        ({"sender_id": "x" * 129, "text": "hi"}, "invalid_request", "sender_id"),
        ({"sender_id": "w-1", "text": "hi", "extra": 1}, "invalid_request", "extra: Extra inputs are not permitted"),
        ({"sender_id": "w-1", "text": "hi", "metadata": [1]}, "invalid_request", "metadata"),
        ([1, 2], "invalid_request", "valid dictionary"),
    ],
)
async def test_invalid_requests_are_422_with_a_reason(
    start_app: StartApp, payload: Any, error: str, reason: str, redis: Redis
) -> None:
    async with start_app() as ctx:
        response = await ctx.client.post(URL, json=payload)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == error
    assert reason in body["detail"]
    assert await redis.xlen(redis_keys.INBOUND_STREAM) == 0  # nothing invalid is stored


async def test_invalid_json_is_422(start_app: StartApp) -> None:
    async with start_app() as ctx:
        response = await ctx.client.post(
            URL, content=b'{"sender_id": "w-1", "text": ', headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert "not valid JSON" in response.json()["detail"]


async def test_validation_errors_do_not_echo_the_input(start_app: StartApp) -> None:
    async with start_app() as ctx:
        response = await ctx.client.post(URL, json={"sender_id": f"card {CARD}", "text": "hi"})
    assert response.status_code == 422
    assert CARD not in response.text


async def test_too_long_text_is_413(start_app: StartApp, redis: Redis) -> None:
    async with start_app(max_message_chars=10) as ctx:
        at_limit = await ctx.client.post(URL, json={"sender_id": "w-1", "text": "x" * 10})
        over = await ctx.client.post(URL, json={"sender_id": "w-1", "text": "x" * 11})
    assert at_limit.status_code == 202  # Rasa is down in this test; the message was accepted
    assert over.status_code == 413
    assert over.json() == {"error": "message_too_long", "detail": "text has 11 characters; the limit is 10"}


async def test_too_large_metadata_is_413(start_app: StartApp) -> None:
    async with start_app() as ctx:
        response = await ctx.client.post(URL, json={"sender_id": "w-1", "text": "hi", "metadata": {"k": "v" * 5000}})
    assert response.status_code == 413
    assert response.json()["error"] == "metadata_too_large"


@pytest.mark.parametrize(("text", "lang"), [("не работает интернет", "ru"), ("internet is down", "en")])
async def test_rasa_down_parks_and_answers_202_in_the_customer_language(
    start_app: StartApp, redis: Redis, text: str, lang: str
) -> None:
    async with start_app(rasa_url=closed_url()) as ctx:
        response = await ctx.client.post(URL, json={"sender_id": "w-1", "text": text})
    assert response.status_code == 202
    body = response.json()
    assert body["delivered"] is False
    assert body["lang"] == lang
    assert [r["text"] for r in body["replies"]] == [DELAYED_ANSWER[lang]]  # type: ignore[index]
    [fields] = await stream_fields(redis, redis_keys.PENDING_STREAM)
    assert (fields["message_id"], fields["text"]) == (body["message_id"], text)


async def test_replies_to_redelivered_messages_reach_the_history(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    fake_rasa.mode = "error"
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        sent = await ctx.client.post(URL, json={"sender_id": "w-1", "text": "hello"})
        assert sent.status_code == 202
        fake_rasa.mode = "echo"  # Rasa is back
        services = ctx.services
        redeliverer = Redeliverer(services.inbox, services.rasa, interval_seconds=1, lock_timeout_seconds=10)
        assert await redeliverer.run_once() == 1
        history = await ctx.client.get("/api/v1/webchat/w-1/history")
    assert history.status_code == 200
    messages = history.json()["messages"]
    assert history.json()["sender_id"] == "w-1"
    assert [(m["role"], m["text"], m["delayed"]) for m in messages] == [
        ("customer", "hello", False),
        ("bot", "echo: hello", True),
    ]
    assert {m["message_id"] for m in messages} == {sent.json()["message_id"]}


async def test_history_of_an_unknown_sender_is_empty(start_app: StartApp) -> None:
    async with start_app() as ctx:
        response = await ctx.client.get("/api/v1/webchat/nobody/history")
    assert response.status_code == 200
    assert response.json() == {"sender_id": "nobody", "messages": []}


async def test_history_validates_its_parameters(start_app: StartApp) -> None:
    async with start_app() as ctx:
        bad_id = await ctx.client.get("/api/v1/webchat/a%20b/history")
        bad_limit = await ctx.client.get("/api/v1/webchat/w-1/history", params={"limit": 0})
    assert (bad_id.status_code, bad_limit.status_code) == (422, 422)
    assert bad_limit.json()["detail"].startswith("limit:")


async def test_redis_down_is_503_and_nothing_is_claimed(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    async with start_app(redis_url=closed_url("redis", "/15"), rasa_url=fake_rasa.url) as ctx:
        post = await ctx.client.post(URL, json={"sender_id": "w-1", "text": "hello"})
        history = await ctx.client.get("/api/v1/webchat/w-1/history")
    for response in (post, history):
        assert response.status_code == 503
        assert response.json()["error"] == "storage_unavailable"
        assert response.headers["Retry-After"] == "5"
    assert "not accepted" in post.json()["detail"]
    assert fake_rasa.requests == []  # never routed what it could not store


async def test_unexpected_errors_are_500_json(start_app: StartApp, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(**kwargs: Any) -> None:
        raise RuntimeError(f"bug with customer data {CARD}")

    async with start_app() as ctx:
        monkeypatch.setattr(ctx.services.dispatcher, "handle", broken)
        with capture_logs() as logs:
            response = await ctx.client.post(URL, json={"sender_id": "w-1", "text": "hi"})
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "internal_error"
    assert CARD not in body["detail"]
    [event] = [e for e in logs if e["event"] == "gateway.internal_error"]
    assert event["error"] == "RuntimeError"
    assert event["error_id"] in body["detail"]


async def test_logs_have_dotted_events_and_no_personal_data(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    text = f"карта {CARD}, телефон +7 916 123-45-67, почта ivan@example.com"
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        with capture_logs() as logs:
            await ctx.client.post(URL, json={"sender_id": "79161234567", "text": text})
    fake_rasa.mode = "error"
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        with capture_logs() as more:
            await ctx.client.post(URL, json={"sender_id": "79161234567", "text": text})
    events = [e["event"] for e in logs + more]
    assert "webchat.received" in events
    assert "rasa.unavailable" in events
    assert "inbox.parked" in events
    assert all("." in e for e in events)
    dump = repr(logs + more)
    for secret in (CARD, "916 123-45-67", "ivan@example.com", "79161234567"):
        assert secret not in dump
