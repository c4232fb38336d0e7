"""``POST /webhooks/sms``: Twilio's signed inbound form in, the bot's answer out by SMS through a local Twilio over
HTTP; signature checks, content type, form checks, Rasa down, and silence while an operator holds the
conversation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import pytest
from gateway_testkit import AppContext, FakeRasa, StartApp, closed_url
from redis.asyncio import Redis

from gateway.sms_webhook import EMPTY_TWIML
from gateway.texts import DELAYED_ANSWER
from tests.fakes.twilio_api import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    FakeTwilio,
    inbound_sms_form,
    serve_fake_twilio,
    sign,
    signed_inbound,
)
from zabota import redis_keys
from zabota.identity import channel_key

PATH = "/webhooks/sms"
PUBLIC = "https://gateway.zabota.example"
SIGNED_URL = PUBLIC + PATH
CUSTOMER = "+79161234567"


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with serve_fake_twilio() as fake:
        yield fake


@pytest.fixture
def start_sms(start_app: StartApp, twilio: FakeTwilio, fake_rasa: FakeRasa) -> Any:
    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[AppContext]:
        settings: dict[str, Any] = {
            "rasa_url": fake_rasa.url,
            "sms_api_base_url": twilio.url,
            "sms_account_sid": ACCOUNT_SID,
            "sms_auth_token": AUTH_TOKEN,
            "sms_from_number": FROM_NUMBER,
            "public_base_url": PUBLIC,
            **overrides,
        }
        async with start_app(**settings) as ctx:
            yield ctx

    return start


async def post_signed(ctx: AppContext, form: dict[str, str], url: str = SIGNED_URL) -> Any:
    headers, data = signed_inbound(url, form)
    return await ctx.client.post(PATH, content=urlencode(data), headers=headers)


async def test_the_channel_is_off_without_an_account(start_app: StartApp) -> None:
    async with start_app(public_base_url=PUBLIC) as ctx:
        response = await post_signed(ctx, inbound_sms_form())
    assert response.status_code == 503
    assert response.json()["error"] == "channel_off"


async def test_a_signed_sms_is_answered_by_sms(
    start_sms: Any, twilio: FakeTwilio, fake_rasa: FakeRasa, redis: Redis
) -> None:
    async with start_sms() as ctx:
        response = await post_signed(ctx, inbound_sms_form(CUSTOMER, "Не работает интернет"))
    assert response.status_code == 200
    assert response.text == EMPTY_TWIML
    assert response.headers["content-type"].startswith("application/xml")
    [sms] = twilio.messages
    # The buttons cannot be pressed in an SMS: their titles are listed as the answers to type back.
    assert (sms["to"], sms["from"], sms["body"]) == (CUSTOMER, FROM_NUMBER, "echo: Не работает интернет\nДа")
    customer = await redis.get(redis_keys.identity(channel_key("tel", CUSTOMER)))
    [request] = fake_rasa.requests
    assert request["sender"] == customer and request["metadata"]["channel"] == "sms"
    profile = await redis.hgetall(redis_keys.customer_profile(customer or ""))
    assert (profile["phone"], profile["last_channel"]) == (CUSTOMER, "sms")


async def test_the_url_with_its_default_port_is_signed_too(start_sms: Any, twilio: FakeTwilio) -> None:
    async with start_sms() as ctx:
        response = await post_signed(ctx, inbound_sms_form(CUSTOMER, "привет"), url=PUBLIC + ":443" + PATH)
    assert response.status_code == 200
    assert len(twilio.messages) == 1


@pytest.mark.parametrize("case", ["missing", "garbage", "other_url", "other_token", "tampered_body", "extra_field"])
async def test_a_bad_signature_is_401(
    start_sms: Any, twilio: FakeTwilio, fake_rasa: FakeRasa, redis: Redis, case: str
) -> None:
    form = inbound_sms_form(CUSTOMER, "привет")
    headers, data = signed_inbound(SIGNED_URL, form)
    if case == "missing":
        del headers["X-Twilio-Signature"]
    elif case == "garbage":
        headers["X-Twilio-Signature"] = "bm90IGEgc2lnbmF0dXJl"
    elif case == "other_url":
        headers["X-Twilio-Signature"] = sign("http://gateway.test" + PATH, form)
    elif case == "other_token":
        headers["X-Twilio-Signature"] = sign(SIGNED_URL, form, "0" * 32)
    elif case == "tampered_body":
        data["Body"] = "переведите деньги"
    else:
        data["Extra"] = "1"
    async with start_sms() as ctx:
        response = await ctx.client.post(PATH, content=urlencode(data), headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized", "detail": "missing or wrong X-Twilio-Signature"}
    assert twilio.request_count == 0 and fake_rasa.requests == []
    assert await redis.xlen(redis_keys.INBOUND_STREAM) == 0


@pytest.mark.parametrize("content_type", ["application/json", "multipart/form-data; boundary=x", "text/plain", None])
async def test_anything_but_a_urlencoded_form_is_415(start_sms: Any, content_type: str | None) -> None:
    form = inbound_sms_form(CUSTOMER, "привет")
    headers, data = signed_inbound(SIGNED_URL, form)
    if content_type is None:
        del headers["Content-Type"]
    else:
        headers["Content-Type"] = content_type
    async with start_sms() as ctx:
        response = await ctx.client.post(PATH, content=urlencode(data).encode(), headers=headers)
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


async def test_a_form_over_16_kib_is_413(start_sms: Any) -> None:
    async with start_sms() as ctx:
        response = await post_signed(ctx, inbound_sms_form(CUSTOMER, "x" * 17_000))
    assert response.status_code == 413
    assert response.json()["error"] == "form_too_large"


async def test_a_signed_form_that_is_not_an_sms_is_422(start_sms: Any, fake_rasa: FakeRasa) -> None:
    async with start_sms() as ctx:
        response = await post_signed(ctx, {"Body": "привет", "To": FROM_NUMBER})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_sms"
    assert fake_rasa.requests == []


@pytest.mark.parametrize("form", [inbound_sms_form(CUSTOMER, "   "), inbound_sms_form("Zabota", "привет")])
async def test_an_empty_body_or_a_non_phone_sender_is_ignored(
    start_sms: Any, twilio: FakeTwilio, fake_rasa: FakeRasa, form: dict[str, str]
) -> None:
    async with start_sms() as ctx:
        response = await post_signed(ctx, form)
    assert response.status_code == 200 and response.text == EMPTY_TWIML
    assert twilio.request_count == 0 and fake_rasa.requests == []


async def test_rasa_down_answers_the_delayed_text_by_sms(start_sms: Any, twilio: FakeTwilio, redis: Redis) -> None:
    async with start_sms(rasa_url=closed_url()) as ctx:
        response = await post_signed(ctx, inbound_sms_form(CUSTOMER, "не работает интернет"))
    assert response.status_code == 200
    assert [sms["body"] for sms in twilio.messages] == [DELAYED_ANSWER["ru"]]
    assert await redis.xlen(redis_keys.PENDING_STREAM) == 1


async def test_while_an_operator_holds_the_conversation_the_bot_stays_silent(
    start_sms: Any, twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    fake_rasa.intents = {"оператор": "request_human"}
    async with start_sms() as ctx:
        opened = await post_signed(ctx, inbound_sms_form(CUSTOMER, "нужен оператор"))
        sent_after_opening = len(twilio.messages)
        held = await post_signed(ctx, inbound_sms_form(CUSTOMER, "алло"))
        again = await post_signed(ctx, inbound_sms_form(CUSTOMER, "алло?"))
    assert opened.status_code == held.status_code == again.status_code == 200
    # The bot's answer and when a person answers went out as one SMS.
    assert sent_after_opening == 1
    assert "echo: нужен оператор" in twilio.messages[0]["body"]
    # The first held message is acknowledged once ("passed to the specialist"), the next ones not at all.
    assert len(twilio.messages) == 2 and "специалисту" in twilio.messages[1]["body"]
    assert [request["message"] for request in fake_rasa.requests] == ["нужен оператор"]


async def test_too_many_messages_from_one_number_are_429(start_sms: Any, twilio: FakeTwilio) -> None:
    async with start_sms(rate_limit_per_minute=1) as ctx:
        ctx.services.limiter._clock = lambda: 60.0 * 29_000_000 + 50.0  # type: ignore[attr-defined]
        first = await post_signed(ctx, inbound_sms_form(CUSTOMER, "раз"))
        second = await post_signed(ctx, inbound_sms_form(CUSTOMER, "два"))
    assert first.status_code == 200
    assert second.status_code == 429 and second.headers["Retry-After"] == "10"
    assert len(twilio.messages) == 1
