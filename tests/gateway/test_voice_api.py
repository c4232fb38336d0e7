"""``POST /api/v1/voice/events`` with a fake Rasa and a local Twilio over HTTP: the platform token, validation,
instructions that go by SMS while the call speaks a short text, plain answers that send nothing, and handoffs
that transfer the call."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from gateway_testkit import AppContext, FakeRasa, StartApp, closed_url, sms_settings
from redis.asyncio import Redis

from gateway.texts import VOICE_DELAYED_ANSWER, VOICE_TRANSFER
from tests.fakes.twilio_api import FROM_NUMBER, FakeTwilio, serve_fake_twilio
from zabota import redis_keys
from zabota.identity import channel_key

URL = "/api/v1/voice/events"
TOKEN = "voice-platform-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CALLER = "+79161234567"
STEPS = (
    "Чтобы перезагрузить роутер, сделайте так:\n"
    "1. Выключите роутер из розетки.\n"
    "2. Подождите 30 секунд и включите снова.\n"
    "Подробнее: https://help.zabota.example/router-reboot"
)


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with serve_fake_twilio() as fake:
        yield fake


@pytest.fixture
def start_voice(start_app: StartApp, twilio: FakeTwilio, fake_rasa: FakeRasa) -> Any:
    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[AppContext]:
        settings: dict[str, Any] = {
            "rasa_url": fake_rasa.url,
            "voice_api_token": TOKEN,
            **sms_settings(twilio.url),
            **overrides,
        }
        async with start_app(**settings) as ctx:
            yield ctx

    return start


def event(text: str = "не работает интернет", **fields: Any) -> dict[str, Any]:
    return {"call_id": "call-1", "caller": CALLER, "text": text, **fields}


async def test_the_channel_is_off_without_a_token(start_app: StartApp) -> None:
    async with start_app() as ctx:
        response = await ctx.client.post(URL, json=event(), headers=AUTH)
    assert response.status_code == 503
    assert response.json()["error"] == "channel_off"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": TOKEN}],
)
async def test_a_missing_or_wrong_token_is_401(start_voice: Any, fake_rasa: FakeRasa, headers: dict[str, str]) -> None:
    async with start_voice() as ctx:
        response = await ctx.client.post(URL, json=event(), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert fake_rasa.requests == []


@pytest.mark.parametrize(
    ("payload", "status", "error"),
    [
        (event(caller="12"), 422, "invalid_request"),
        (event(caller="not a phone"), 422, "bad_caller"),
        (event(text="   "), 422, "empty_text"),
        (event(text="x" * 51), 413, "message_too_long"),
        (event(call_id="call 1"), 422, "invalid_request"),
        (event(event="hangup"), 422, "invalid_request"),
        (event(confidence=1.5), 422, "invalid_request"),
        (event(extra="x"), 422, "invalid_request"),
        ({"call_id": "call-1", "caller": CALLER}, 422, "invalid_request"),
    ],
)
async def test_invalid_events_are_refused(
    start_voice: Any, fake_rasa: FakeRasa, redis: Redis, payload: dict[str, Any], status: int, error: str
) -> None:
    async with start_voice(max_message_chars=50) as ctx:
        response = await ctx.client.post(URL, json=payload, headers=AUTH)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert fake_rasa.requests == []
    assert await redis.xlen(redis_keys.INBOUND_STREAM) == 0


async def test_instructions_go_by_sms_and_the_call_says_so(
    start_voice: Any, fake_rasa: FakeRasa, twilio: FakeTwilio, redis: Redis
) -> None:
    fake_rasa.extra_replies = {"интернет": [{"recipient_id": "x", "text": STEPS}]}
    async with start_voice() as ctx:
        response = await ctx.client.post(URL, json=event(caller="8 (916) 123-45-67", confidence=0.93), headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    [sms] = twilio.messages
    assert (sms["to"], sms["from"]) == (CALLER, FROM_NUMBER)
    assert "1. Выключите роутер из розетки." in sms["body"]
    assert "https://help.zabota.example/router-reboot" in sms["body"]
    assert body["sent"] == [{"channel": "sms", "to": body["sent"][0]["to"], "id": sms["sid"]}]
    assert "123-45-67" not in body["sent"][0]["to"]  # masked
    assert "SMS" in body["speak"] and "http" not in body["speak"] and "1." not in body["speak"]
    assert body["speak"].endswith("Инструкцию отправил вам в SMS.")
    assert (body["call_id"], body["lang"], body["transfer_to_operator"], body["delivered"]) == (
        "call-1",
        "ru",
        False,
        True,
    )
    assert (body["handoff_id"], body["priority"]) == (None, None)
    # The caller's number is the customer's identity; Rasa saw the call id.
    customer = await redis.get(redis_keys.identity(channel_key("tel", CALLER)))
    assert fake_rasa.requests[0]["sender"] == customer
    assert fake_rasa.requests[0]["metadata"]["call_id"] == "call-1"


async def test_a_reply_without_instructions_sends_nothing(
    start_voice: Any, fake_rasa: FakeRasa, twilio: FakeTwilio
) -> None:
    async with start_voice() as ctx:
        response = await ctx.client.post(URL, json=event("привет"), headers=AUTH)
    body = response.json()
    assert response.status_code == 200
    assert body["sent"] == [] and twilio.request_count == 0
    assert body["speak"] == "echo: привет."
    assert body["transfer_to_operator"] is False


async def test_instructions_without_sms_configured_are_spoken_without_a_promise(
    start_app: StartApp, fake_rasa: FakeRasa
) -> None:
    fake_rasa.extra_replies = {"интернет": [{"recipient_id": "x", "text": STEPS}]}
    async with start_app(rasa_url=fake_rasa.url, voice_api_token=TOKEN) as ctx:
        response = await ctx.client.post(URL, json=event(), headers=AUTH)
    body = response.json()
    assert body["sent"] == []
    assert "SMS" not in body["speak"]  # nothing was sent, so nothing is promised


async def test_a_handoff_transfers_the_call(start_voice: Any, fake_rasa: FakeRasa, twilio: FakeTwilio) -> None:
    fake_rasa.intents = {"оператор": "request_human"}
    async with start_voice() as ctx:
        response = await ctx.client.post(URL, json=event("соедините с оператором"), headers=AUTH)
        held = await ctx.client.post(URL, json=event("алло"), headers=AUTH)
        handoff = await ctx.services.desk.store.get(response.json()["handoff_id"])
    body = response.json()
    assert body["transfer_to_operator"] is True and body["delivered"] is True
    assert body["priority"] == "p3" and body["handoff_id"].startswith("h-")
    assert body["speak"].endswith(VOICE_TRANSFER["ru"])
    assert body["sent"] == [] and twilio.request_count == 0
    assert handoff is not None and handoff.summary.channel == "voice"
    # The next phrase of the same caller goes to the operator, not the bot.
    assert held.json()["transfer_to_operator"] is True and held.json()["handoff_id"] is None
    assert [request["message"] for request in fake_rasa.requests] == ["соедините с оператором"]


async def test_rasa_down_says_the_answer_comes_later(start_voice: Any, redis: Redis) -> None:
    async with start_voice(rasa_url=closed_url()) as ctx:
        response = await ctx.client.post(URL, json=event("my internet is down"), headers=AUTH)
    body = response.json()
    assert response.status_code == 200
    # on a call the late answer comes by SMS (gateway/outbound.py), and the caller is told so
    assert (body["delivered"], body["speak"], body["lang"]) == (False, VOICE_DELAYED_ANSWER["en"], "en")
    assert await redis.xlen(redis_keys.PENDING_STREAM) == 1


async def test_too_many_events_from_one_caller_are_429(start_voice: Any, fake_rasa: FakeRasa) -> None:
    async with start_voice(rate_limit_per_minute=1) as ctx:
        ctx.services.limiter._clock = lambda: 60.0 * 29_000_000 + 30.0  # type: ignore[attr-defined]
        first = await ctx.client.post(URL, json=event("привет"), headers=AUTH)
        second = await ctx.client.post(URL, json=event("привет ещё раз"), headers=AUTH)
    assert first.status_code == 200
    assert second.status_code == 429 and second.headers["Retry-After"] == "30"
    assert len(fake_rasa.requests) == 1


async def test_the_call_ends_with_the_survey_question_and_keys_answer_it(
    start_voice: Any, fake_rasa: FakeRasa, twilio: FakeTwilio
) -> None:
    """After a resolved question the call asks the CSAT question whole (not cut to the spoken limit, not sent by
    SMS with the answer); the caller presses 4 and hears the next question."""
    fake_rasa.intents = {"роуминг": "roaming", "спасибо": "thank"}
    async with start_voice() as ctx:
        await ctx.client.post(URL, json=event("как включить роуминг"), headers=AUTH)
        thanks = (await ctx.client.post(URL, json=event("спасибо, понятно"), headers=AUTH)).json()
        sms_before = len(twilio.messages)
        keys = (await ctx.client.post(URL, json=event("4", event="dtmf"), headers=AUTH)).json()
    assert thanks["speak"].endswith("Оцените, пожалуйста, как мы помогли: от 1 (плохо) до 5 (отлично).")
    assert not any("Оцените" in message["body"] for message in twilio.messages)
    assert keys["speak"].startswith("Насколько легко было решить вопрос")
    assert len(twilio.messages) == sms_before
