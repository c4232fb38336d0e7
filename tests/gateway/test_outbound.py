"""CustomerChannels on the real Redis, with the local Telegram Bot API and Twilio fakes over real HTTP: lines that
answer no request of the customer's are recorded, pushed to open webchat windows and sent in the customer's
last channel; a provider failure is logged, never raised."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from redis.asyncio import Redis
from structlog.testing import capture_logs

from gateway.channels.sms import TwilioSms
from gateway.channels.telegram import MAX_TEXT_UNITS, TelegramBotApi
from gateway.inbox import HistoryEntry, InboundMessage, Inbox
from gateway.outbound import CustomerChannels, Sent, deliver_late_replies, entry_from_reply, reply_text
from gateway.rasa_client import BotReply, Button
from tests.fakes.telegram_api import FakeTelegram, serve_fake_telegram
from tests.fakes.twilio_api import FakeTwilio, serve_fake_twilio
from zabota import redis_keys
from zabota.channels.phones import phone_for_log
from zabota.identity import CustomerDirectory

PHONE = "+79161234567"
CHAT_ID = 5550123


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    with serve_fake_telegram() as fake:
        yield fake


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with serve_fake_twilio() as fake:
        yield fake


@pytest.fixture
async def channels(
    redis: Redis, fake_telegram: FakeTelegram, fake_twilio: FakeTwilio
) -> AsyncIterator[CustomerChannels]:
    telegram = TelegramBotApi(fake_telegram.api_base_url, fake_telegram.token, timeout=2.0)
    sms = TwilioSms(fake_twilio.url, fake_twilio.account_sid, fake_twilio.auth_token, fake_twilio.from_number, 2.0)
    result = CustomerChannels(redis, Inbox(redis), CustomerDirectory(redis), telegram=telegram, sms=sms, email=None)
    try:
        yield result
    finally:
        await result.aclose()


def line(text: str | None, *, role: str = "operator", channel: str = "webchat", **extra: Any) -> HistoryEntry:
    return HistoryEntry.model_validate(
        {
            "role": role,
            "message_id": "op-" + (text or "x")[:8],
            "timestamp": time.time(),
            "channel": channel,
            "lang": "ru",
            "text": text,
            **extra,
        }
    )


async def history(redis: Redis, customer: str) -> list[HistoryEntry]:
    return await Inbox(redis).history(customer)


async def collect(redis: Redis, customer: str, action: Any, count: int) -> list[dict[str, Any]]:
    """Subscribe to the conversation's events (confirmed), run ``action``, and return the next ``count`` events."""
    pubsub = redis.pubsub()
    await pubsub.subscribe(redis_keys.conversation_events(customer))
    try:
        assert (await pubsub.get_message(timeout=2.0) or {}).get("type") == "subscribe"
        await action()
        received: list[dict[str, Any]] = []
        deadline = asyncio.get_running_loop().time() + 5.0
        while len(received) < count and asyncio.get_running_loop().time() < deadline:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
            if message is not None:
                received.append(json.loads(message["data"]))
        assert await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2) is None
        return received
    finally:
        await pubsub.unsubscribe()
        await pubsub.aclose()


# --- record and publish ---------------------------------------------------------------------------------------


async def test_deliver_records_and_publishes_the_lines(
    channels: CustomerChannels, redis: Redis, fake_telegram: FakeTelegram, fake_twilio: FakeTwilio
) -> None:
    customer = "c-00000000000000f1"
    entries = [line("Здравствуйте, это Анна", author="Анна"), line("Проверяю ваш счёт", author="Анна")]
    sent: list[Sent] = []

    async def act() -> None:
        sent.extend(await channels.deliver(customer, entries))

    events = await collect(redis, customer, act, 2)

    assert events == [{"type": "message", "entry": entry.model_dump(mode="json")} for entry in entries]
    assert await history(redis, customer) == entries
    # A webchat customer (no profile): the open windows and the history are the channel.
    assert sent == []
    assert fake_telegram.calls == [] and fake_twilio.request_count == 0


async def test_deliver_without_recording_only_publishes(channels: CustomerChannels, redis: Redis) -> None:
    customer = "c-00000000000000f2"
    entry = line("Ответ")

    async def act() -> None:
        await channels.deliver(customer, [entry], record=False)

    events = await collect(redis, customer, act, 1)
    assert [event["entry"]["text"] for event in events] == ["Ответ"]
    assert await history(redis, customer) == []


async def test_nothing_to_deliver_does_nothing(channels: CustomerChannels, redis: Redis) -> None:
    customer = "c-00000000000000f3"
    await CustomerDirectory(redis).update_profile(customer, phone=PHONE, last_channel="sms")
    assert await channels.deliver(customer, []) == []
    assert await history(redis, customer) == []


# --- the customer's last channel ---------------------------------------------------------------------------------


async def test_a_telegram_customer_gets_the_lines_in_telegram(
    channels: CustomerChannels, redis: Redis, fake_telegram: FakeTelegram, fake_twilio: FakeTwilio
) -> None:
    customer = "c-00000000000000f4"
    await CustomerDirectory(redis).update_profile(
        customer, telegram_chat_id=CHAT_ID, phone=PHONE, last_channel="telegram"
    )
    entries = [
        line("К разговору подключился специалист: Анна.", role="system", channel="telegram"),
        line("Помогло?", role="bot", channel="telegram", buttons=[{"title": "Да", "payload": "/affirm"}]),
        line(None, role="bot", channel="telegram", image=None),  # nothing to show in Telegram
    ]

    sent = await channels.deliver(customer, entries)

    messages = fake_telegram.sent_messages()
    assert [(m["chat_id"], m["text"]) for m in messages] == [
        (CHAT_ID, "К разговору подключился специалист: Анна."),
        (CHAT_ID, "Помогло?"),
    ]
    assert "reply_markup" not in messages[0]
    assert messages[1]["reply_markup"] == {"inline_keyboard": [[{"text": "Да", "callback_data": "/affirm"}]]}
    assert [(item.channel, item.to) for item in sent] == [("telegram", "chat"), ("telegram", "chat")]
    assert [item.id for item in sent] == ["1001", "1002"]
    assert fake_twilio.request_count == 0  # the phone on file is not the last channel
    assert len(await history(redis, customer)) == 3


async def test_a_telegram_channel_without_a_chat_id_sends_nothing(
    channels: CustomerChannels, redis: Redis, fake_telegram: FakeTelegram
) -> None:
    customer = "c-00000000000000f5"
    await CustomerDirectory(redis).update_profile(customer, last_channel="telegram")
    assert await channels.deliver(customer, [line("Ответ", channel="telegram")]) == []
    assert fake_telegram.calls == []
    assert [entry.text for entry in await history(redis, customer)] == ["Ответ"]


@pytest.mark.parametrize("last_channel", ["sms", "voice"])
async def test_an_sms_or_phone_customer_gets_one_sms(
    channels: CustomerChannels, redis: Redis, fake_twilio: FakeTwilio, fake_telegram: FakeTelegram, last_channel: str
) -> None:
    customer = "c-00000000000000f6"
    await CustomerDirectory(redis).update_profile(
        customer, phone=PHONE, telegram_chat_id=CHAT_ID, last_channel=last_channel
    )
    entries = [
        line("Специалист подключился.", role="system", channel=last_channel),
        line(None, role="bot", channel=last_channel, buttons=[{"title": "Да"}]),  # no text: nothing for SMS
        line("Перезагрузите роутер.", channel=last_channel),
    ]

    sent = await channels.deliver(customer, entries)

    (message,) = fake_twilio.messages
    assert message["to"] == PHONE
    assert message["body"] == "Специалист подключился.\n\nПерезагрузите роутер."
    assert sent == [Sent("sms", phone_for_log(PHONE), message["sid"])]
    assert fake_telegram.calls == []


async def test_without_a_last_channel_the_lines_own_channel_decides(
    channels: CustomerChannels, redis: Redis, fake_twilio: FakeTwilio
) -> None:
    customer = "c-00000000000000f7"
    await CustomerDirectory(redis).update_profile(customer, phone=PHONE)
    await channels.deliver(customer, [line("Ответ по звонку", channel="voice")])
    assert [m["body"] for m in fake_twilio.messages] == ["Ответ по звонку"]


async def test_an_explicit_channel_overrides_the_last_one(
    channels: CustomerChannels, redis: Redis, fake_twilio: FakeTwilio, fake_telegram: FakeTelegram
) -> None:
    customer = "c-00000000000000f8"
    await CustomerDirectory(redis).update_profile(
        customer, phone=PHONE, telegram_chat_id=CHAT_ID, last_channel="telegram"
    )
    await channels.deliver(customer, [line("Ответ", channel="sms")], channel="sms")
    assert [m["body"] for m in fake_twilio.messages] == ["Ответ"]
    assert fake_telegram.calls == []


async def test_a_phone_customer_without_a_phone_on_file_gets_nothing(
    channels: CustomerChannels, redis: Redis, fake_twilio: FakeTwilio
) -> None:
    customer = "c-00000000000000f9"
    await CustomerDirectory(redis).update_profile(customer, last_channel="sms")
    assert await channels.deliver(customer, [line("Ответ", channel="sms")]) == []
    assert fake_twilio.request_count == 0


# --- failures are logged, not raised -------------------------------------------------------------------------------


async def test_a_failing_sms_provider_is_logged_and_the_lines_stay_in_the_history(
    channels: CustomerChannels, redis: Redis, fake_twilio: FakeTwilio
) -> None:
    customer = "c-00000000000000fa"
    await CustomerDirectory(redis).update_profile(customer, phone=PHONE, last_channel="sms")
    fake_twilio.fail_next(500)
    with capture_logs() as logs:
        sent = await channels.deliver(customer, [line("Ответ специалиста", channel="sms")])
    assert sent == []
    assert fake_twilio.messages == [] and fake_twilio.request_count == 1
    failed = [entry for entry in logs if entry["event"] == "outbound.sms_failed"]
    assert len(failed) == 1 and failed[0]["log_level"] == "error"
    assert failed[0]["to"] == phone_for_log(PHONE)
    assert PHONE not in json.dumps(logs, ensure_ascii=False, default=str)
    assert [entry.text for entry in await history(redis, customer)] == ["Ответ специалиста"]


@pytest.mark.parametrize("failure", [500, 403])
async def test_a_failing_telegram_is_logged_and_the_lines_stay_in_the_history(
    channels: CustomerChannels, redis: Redis, fake_telegram: FakeTelegram, failure: int
) -> None:
    customer = "c-00000000000000fb"
    await CustomerDirectory(redis).update_profile(customer, telegram_chat_id=CHAT_ID, last_channel="telegram")
    if failure == 403:
        fake_telegram.blocked_chats.add(CHAT_ID)
    else:
        fake_telegram.fail_next(failure)
    entries = [line("Первый", channel="telegram"), line("Второй", channel="telegram")]
    with capture_logs() as logs:
        sent = await channels.deliver(customer, entries)
    failed = [entry for entry in logs if entry["event"] == "outbound.telegram_failed"]
    if failure == 403:
        assert sent == [] and len(failed) == 2
    else:
        # One failed call does not stop the next line.
        assert [item.channel for item in sent] == ["telegram"] and len(failed) == 1
        assert [m["text"] for m in fake_telegram.sent_messages()] == ["Второй"]
    assert [entry.text for entry in await history(redis, customer)] == ["Первый", "Второй"]


async def test_sms_that_is_not_configured_is_logged(redis: Redis) -> None:
    customer = "c-00000000000000fc"
    await CustomerDirectory(redis).update_profile(customer, phone=PHONE, last_channel="sms")
    channels = CustomerChannels(redis, Inbox(redis), CustomerDirectory(redis), telegram=None, sms=None, email=None)
    with capture_logs() as logs:
        assert await channels.deliver(customer, [line("Ответ", channel="sms")]) == []
    assert [entry["event"] for entry in logs if entry["event"].startswith("outbound.")] == ["outbound.sms_off"]
    assert [entry.text for entry in await history(redis, customer)] == ["Ответ"]


# --- late replies ----------------------------------------------------------------------------------------------


@dataclass
class _Services:
    channels: CustomerChannels


def parked(customer: str, channel: str) -> InboundMessage:
    return InboundMessage(
        message_id="m-parked",
        conversation_id=customer,
        channel=channel,
        sender_id="s",
        text="интернет не работает",
        lang="ru",
        timestamp=time.time() - 120,
    )


async def test_late_replies_are_marked_delayed_and_sent_in_the_messages_channel(
    channels: CustomerChannels, redis: Redis, fake_telegram: FakeTelegram, fake_twilio: FakeTwilio
) -> None:
    customer = "c-00000000000000fd"
    # The customer has since called in; the late answer goes where the question was asked.
    await CustomerDirectory(redis).update_profile(customer, telegram_chat_id=CHAT_ID, phone=PHONE, last_channel="voice")
    message = parked(customer, "telegram")
    replies = [BotReply(text="Перезагрузите роутер."), BotReply(text="Помогло?", buttons=[Button(title="Да")])]

    async def act() -> None:
        await deliver_late_replies(_Services(channels), message, replies)

    events = await collect(redis, customer, act, 2)

    entries = [event["entry"] for event in events]
    assert [entry["text"] for entry in entries] == ["Перезагрузите роутер.", "Помогло?"]
    assert all(entry["delayed"] is True for entry in entries)
    assert all(entry["role"] == "bot" and entry["message_id"] == "m-parked" for entry in entries)
    assert all(entry["channel"] == "telegram" and entry["lang"] == "ru" for entry in entries)
    assert [m["text"] for m in fake_telegram.sent_messages()] == ["Перезагрузите роутер.", "Помогло?"]
    assert fake_twilio.request_count == 0
    # The redelivery recorded the replies already: they are not written twice.
    assert await history(redis, customer) == []


async def test_late_replies_to_an_sms_go_by_sms(
    channels: CustomerChannels, redis: Redis, fake_twilio: FakeTwilio
) -> None:
    customer = "c-00000000000000fe"
    await CustomerDirectory(redis).update_profile(customer, phone=PHONE, last_channel="webchat")
    await deliver_late_replies(_Services(channels), parked(customer, "sms"), [BotReply(text="Ответ")])
    assert [m["body"] for m in fake_twilio.messages] == ["Ответ"]


async def test_a_late_reply_of_buttons_only_reaches_telegram(
    channels: CustomerChannels, redis: Redis, fake_telegram: FakeTelegram
) -> None:
    """``deliver`` sends an entry with buttons and no text (``entry.text or entry.buttons``) as an empty text,
    which the Bot API refuses ("message text is empty"); the Telegram webhook's own path (``render_replies``)
    puts such buttons under BUTTONS_ONLY_TEXT."""
    customer = "c-00000000000000ff"
    await CustomerDirectory(redis).update_profile(customer, telegram_chat_id=CHAT_ID, last_channel="telegram")
    replies = [BotReply(buttons=[Button(title="Да", payload="/affirm"), Button(title="Нет", payload="/deny")])]

    await deliver_late_replies(_Services(channels), parked(customer, "telegram"), replies)

    messages = fake_telegram.sent_messages()
    assert messages, "the buttons never reached the customer"
    assert all(m["text"].strip() for m in messages)
    keyboards = [m["reply_markup"]["inline_keyboard"] for m in messages if "reply_markup" in m]
    assert keyboards == [[[{"text": "Да", "callback_data": "/affirm"}], [{"text": "Нет", "callback_data": "/deny"}]]]


async def test_a_late_reply_longer_than_one_telegram_message_reaches_telegram(
    channels: CustomerChannels, redis: Redis, fake_telegram: FakeTelegram
) -> None:
    """A knowledge-base answer may exceed sendMessage's 4096 UTF-16 units; the webhook's path splits it
    (``render_replies``), ``deliver`` sends it whole and the Bot API refuses it ("message is too long")."""
    customer = "c-0000000000000100"
    await CustomerDirectory(redis).update_profile(customer, telegram_chat_id=CHAT_ID, last_channel="telegram")
    paragraph = "Перезагрузите роутер и проверьте кабель. " * 40  # about 1 640 characters
    long_text = "\n\n".join([paragraph.strip()] * 3)
    assert len(long_text) > MAX_TEXT_UNITS

    await deliver_late_replies(_Services(channels), parked(customer, "telegram"), [BotReply(text=long_text)])

    messages = fake_telegram.sent_messages()
    assert messages, "the late answer never reached the customer"
    assert all(len(m["text"].encode("utf-16-le")) // 2 <= MAX_TEXT_UNITS for m in messages)
    assert "".join("".join(m["text"].split()) for m in messages) == "".join(long_text.split())


# --- plain helpers ----------------------------------------------------------------------------------------------


def test_reply_text_is_the_text_then_the_image() -> None:
    assert reply_text(BotReply(text="Схема подключения", image="https://x/scheme.png")) == (
        "Схема подключения\nhttps://x/scheme.png"
    )
    assert reply_text(BotReply(image="https://x/scheme.png")) == "https://x/scheme.png"
    assert reply_text(BotReply(text="  Готово  ")) == "Готово"
    assert reply_text(BotReply()) == ""


def test_entry_from_reply_keeps_the_reply_and_adds_the_line() -> None:
    reply = BotReply(text="Помогло?", buttons=[Button(title="Да", payload="/affirm")], custom={"card": 1})
    entry = entry_from_reply(
        reply, role="operator", message_id="m-1", timestamp=12.5, channel="webchat", lang="en", author="Анна"
    )
    assert entry == HistoryEntry(
        role="operator",
        message_id="m-1",
        timestamp=12.5,
        channel="webchat",
        lang="en",
        text="Помогло?",
        buttons=[Button(title="Да", payload="/affirm")],
        custom={"card": 1},
        author="Анна",
    )
    assert entry.delayed is False
