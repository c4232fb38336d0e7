"""``POST /webhooks/telegram`` with real update payloads, a local Telegram Bot API over HTTP, a fake Rasa and the
real Redis: the secret, the body checks, ignored updates, replies with keyboards, button presses, repeated
updates, the rate limit, a Rasa outage and the shared contact that links the phone identity."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from gateway_testkit import AppContext, FakeRasa, StartApp, closed_url, stream_fields
from redis.asyncio import Redis

from gateway.texts import DELAYED_ANSWER, PHONE_LINKED
from tests.fakes.telegram_api import (
    FakeTelegram,
    callback_update,
    contact_update,
    edited_update,
    group_update,
    photo_update,
    serve_fake_telegram,
    sticker_update,
    text_update,
    tg_user,
)
from zabota import redis_keys
from zabota.identity import channel_key

URL = "/webhooks/telegram"
SECRET = "s3cr3t-webhook-token"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with serve_fake_telegram() as fake:
        yield fake


@pytest.fixture
def start_bot(start_app: StartApp, telegram: FakeTelegram, fake_rasa: FakeRasa) -> Any:
    """``async with start_bot(**overrides)``: the app with the Telegram channel on, Rasa the fake."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[AppContext]:
        settings: dict[str, Any] = {
            "rasa_url": fake_rasa.url,
            "telegram_bot_token": telegram.token,
            "telegram_api_base_url": telegram.api_base_url,
            "telegram_webhook_secret": SECRET,
            **overrides,
        }
        async with start_app(**settings) as ctx:
            yield ctx

    return start


async def test_the_channel_is_off_without_a_token_or_a_secret(start_app: StartApp, telegram: FakeTelegram) -> None:
    update = text_update("привет")
    async with start_app(telegram_webhook_secret=SECRET) as ctx:
        no_token = await ctx.client.post(URL, json=update, headers=HEADERS)
    async with start_app(telegram_bot_token=telegram.token, telegram_api_base_url=telegram.api_base_url) as ctx:
        no_secret = await ctx.client.post(URL, json=update, headers=HEADERS)
    for response in (no_token, no_secret):
        assert response.status_code == 503
        assert response.json() == {
            "error": "channel_off",
            "detail": "the Telegram channel is not configured on this gateway",
        }
    assert telegram.calls == []


@pytest.mark.parametrize(
    "headers", [{}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}, {"X-Telegram-Bot-Api-Secret-Token": ""}]
)
async def test_a_missing_or_wrong_secret_is_401(
    start_bot: Any, telegram: FakeTelegram, fake_rasa: FakeRasa, redis: Redis, headers: dict[str, str]
) -> None:
    async with start_bot() as ctx:
        response = await ctx.client.post(URL, json=text_update("привет"), headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized", "detail": "missing or wrong X-Telegram-Bot-Api-Secret-Token"}
    assert telegram.calls == [] and fake_rasa.requests == []
    assert await redis.xlen(redis_keys.INBOUND_STREAM) == 0


@pytest.mark.parametrize(
    ("body", "error"),
    [(b"{not json", "invalid_json"), (b"", "invalid_json"), (b"[1, 2]", "invalid_update"), (b'"x"', "invalid_update")],
)
async def test_a_body_that_is_not_an_update_object_is_422(start_bot: Any, body: bytes, error: str) -> None:
    async with start_bot() as ctx:
        response = await ctx.client.post(URL, content=body, headers={**HEADERS, "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"] == error


async def test_a_body_over_64_kib_is_413(start_bot: Any, fake_rasa: FakeRasa) -> None:
    update = text_update("x" * (64 * 1024))
    async with start_bot() as ctx:
        response = await ctx.client.post(URL, content=json.dumps(update), headers=HEADERS)
    assert response.status_code == 413
    assert response.json()["error"] == "update_too_large"
    assert fake_rasa.requests == []


@pytest.mark.parametrize(
    "update",
    [
        edited_update("исправил сообщение"),
        group_update("всем привет"),
        sticker_update(),
        photo_update(),
        text_update("я тоже бот", tg_user(user_id=4242, is_bot=True)),
        contact_update("79990001122", contact_user_id=111),  # somebody else's card: not a verified number
        {"update_id": 734_000_001, "my_chat_member": {"chat": {"id": 1, "type": "private"}}},
        {"update_id": "not a number", "message": {}},
        {"hello": "world"},
    ],
)
async def test_updates_the_bot_does_not_answer_are_200_not_handled(
    start_bot: Any, telegram: FakeTelegram, fake_rasa: FakeRasa, redis: Redis, update: dict[str, Any]
) -> None:
    async with start_bot() as ctx:
        response = await ctx.client.post(URL, json=update, headers=HEADERS)
    assert response.status_code == 200
    assert response.json() == {"ok": True, "handled": False}  # 2xx: Telegram must not resend it
    assert telegram.calls == [] and fake_rasa.requests == []
    assert await redis.xlen(redis_keys.INBOUND_STREAM) == 0


async def test_a_text_message_is_answered_with_an_inline_keyboard(
    start_bot: Any, telegram: FakeTelegram, fake_rasa: FakeRasa, redis: Redis
) -> None:
    user = tg_user(user_id=555_001, first_name="Анна")
    async with start_bot() as ctx:
        response = await ctx.client.post(URL, json=text_update("Не работает интернет", user), headers=HEADERS)
    assert response.status_code == 200
    assert response.json() == {"ok": True, "handled": True}
    [sent] = telegram.sent_messages()
    assert sent == {
        "chat_id": 555_001,
        "text": "echo: Не работает интернет",
        "reply_markup": {"inline_keyboard": [[{"text": "Да", "callback_data": "/affirm"}]]},
    }
    customer = await redis.get(redis_keys.identity("tg:555001"))
    [request] = fake_rasa.requests
    assert request["sender"] == customer and request["metadata"]["channel"] == "telegram"
    profile = await redis.hgetall(redis_keys.customer_profile(customer or ""))
    assert (profile["telegram_chat_id"], profile["last_channel"], profile["name"]) == ("555001", "telegram", "Анна")


async def test_a_button_press_is_acknowledged_and_sent_to_the_bot(
    start_bot: Any, telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    user = tg_user(user_id=555_002)
    update = callback_update("/affirm", user, query_id="8812345678901234567")
    async with start_bot() as ctx:
        response = await ctx.client.post(URL, json=update, headers=HEADERS)
    assert response.json() == {"ok": True, "handled": True}
    assert telegram.answered_callbacks() == ["8812345678901234567"]
    assert [call.method for call in telegram.calls] == ["answerCallbackQuery", "sendMessage"]  # the spinner first
    assert fake_rasa.requests[0]["message"] == "/affirm"
    assert telegram.sent_messages()[0]["text"] == "echo: /affirm"


async def test_a_repeated_update_is_handled_once(start_bot: Any, telegram: FakeTelegram, fake_rasa: FakeRasa) -> None:
    update = text_update("привет", tg_user(user_id=555_003))
    async with start_bot() as ctx:
        first = await ctx.client.post(URL, json=update, headers=HEADERS)
        again = await ctx.client.post(URL, json=update, headers=HEADERS)
    assert first.json() == {"ok": True, "handled": True}
    assert again.status_code == 200 and again.json() == {"ok": True, "handled": False}
    assert len(fake_rasa.requests) == 1 and len(telegram.sent_messages()) == 1


async def test_too_many_messages_are_429_with_retry_after_and_not_marked_seen(
    start_bot: Any, telegram: FakeTelegram, fake_rasa: FakeRasa, redis: Redis
) -> None:
    user = tg_user(user_id=555_004)
    first, second = text_update("раз", user), text_update("два", user)
    other = text_update("я другой", tg_user(user_id=555_005))
    async with start_bot(rate_limit_per_minute=1) as ctx:
        ctx.services.limiter._clock = lambda: 60.0 * 29_000_000 + 15.0  # type: ignore[attr-defined]
        allowed = await ctx.client.post(URL, json=first, headers=HEADERS)
        refused = await ctx.client.post(URL, json=second, headers=HEADERS)
        another_user = await ctx.client.post(URL, json=other, headers=HEADERS)
        seen = await redis.exists(redis_keys.telegram_update_seen(second["update_id"]))
    assert allowed.status_code == 200
    assert refused.status_code == 429  # not 2xx: Telegram resends the update later
    assert refused.headers["Retry-After"] == "45"
    assert refused.json()["error"] == "rate_limited"
    assert seen == 0  # the resent copy will be handled
    assert another_user.status_code == 200  # each sender has their own limit
    assert [request["message"] for request in fake_rasa.requests] == ["раз", "я другой"]


async def test_rasa_down_parks_the_message_and_tells_the_customer(
    start_bot: Any, telegram: FakeTelegram, redis: Redis
) -> None:
    user = tg_user(user_id=555_006, language_code="en")
    async with start_bot(rasa_url=closed_url()) as ctx:
        response = await ctx.client.post(URL, json=text_update("my internet is down", user), headers=HEADERS)
    assert response.json() == {"ok": True, "handled": True}
    assert [sent["text"] for sent in telegram.sent_messages()] == [DELAYED_ANSWER["en"]]
    [parked] = await stream_fields(redis, redis_keys.PENDING_STREAM)
    assert (parked["channel"], parked["text"], parked["sender_id"]) == ("telegram", "my internet is down", "555006")


async def test_a_shared_contact_links_the_phone_to_the_telegram_customer(
    start_bot: Any, telegram: FakeTelegram, fake_rasa: FakeRasa, redis: Redis
) -> None:
    user = tg_user(user_id=555_007)
    async with start_bot() as ctx:
        await ctx.client.post(URL, json=text_update("привет", user), headers=HEADERS)
        response = await ctx.client.post(URL, json=contact_update("79161234567", user), headers=HEADERS)
    assert response.json() == {"ok": True, "handled": True}
    tg = await redis.get(redis_keys.identity(channel_key("tg", "555007")))
    tel = await redis.get(redis_keys.identity(channel_key("tel", "+79161234567")))
    assert tg is not None and tel == tg
    profile = await redis.hgetall(redis_keys.customer_profile(tg))
    assert profile["phone"] == "+79161234567"
    assert telegram.sent_messages()[-1]["text"] == PHONE_LINKED["ru"]
    assert [request["message"] for request in fake_rasa.requests] == ["привет"]  # a contact is not a message


async def test_a_shared_contact_of_a_known_caller_joins_the_two(
    start_bot: Any, telegram: FakeTelegram, fake_rasa: FakeRasa, redis: Redis
) -> None:
    user = tg_user(user_id=555_008)
    async with start_bot() as ctx:
        # The number called before: the caller is a known customer with a conversation.
        caller = await ctx.services.customers.resolve(channel_key("tel", "+79161234567"))
        await ctx.client.post(URL, json=contact_update("+79161234567", user), headers=HEADERS)
        await ctx.client.post(URL, json=text_update("это снова я", user), headers=HEADERS)
    assert await redis.get(redis_keys.identity(channel_key("tg", "555008"))) == caller
    assert fake_rasa.requests[-1]["sender"] == caller  # the bot's context follows the customer
    profile = await redis.hgetall(redis_keys.customer_profile(caller))
    assert (profile["phone"], profile["telegram_chat_id"]) == ("+79161234567", "555008")
