"""Messages to a customer that answer no request of theirs: an operator's reply, a status notice, the bot's
late answer to a message parked during an outage. They go into the conversation history, to the customer's
open webchat windows (Redis pub/sub, so any gateway worker's WebSocket gets them), and out through the
channel the customer last wrote in: Telegram's Bot API, or SMS for a phone customer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.channels.email import EmailError, SmtpEmail
from gateway.channels.sms import SmsError, TwilioSms
from gateway.channels.telegram import TelegramBotApi, TelegramError, render_replies
from gateway.inbox import HistoryEntry, InboundMessage, Inbox
from gateway.rasa_client import BotReply, Button
from zabota import redis_keys
from zabota.channels.phones import phone_for_log
from zabota.identity import CustomerDirectory

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Sent:
    """One message sent to another channel, as an API response lists it (the address masked)."""

    channel: str
    to: str
    id: str


def reply_text(reply: BotReply, *, with_buttons: bool = False) -> str:
    """A reply as plain text (SMS, email, voice): the text, then the image's address; ``with_buttons`` adds the
    buttons' titles as the answers the customer can type back ("Да / Нет"), for SMS where nothing is pressed."""
    parts = [reply.text or ""]
    if reply.image:
        parts.append(reply.image)
    if with_buttons and reply.buttons:
        parts.append(" / ".join(button.title for button in reply.buttons))
    return "\n".join(part for part in parts if part).strip()


def entry_from_reply(
    reply: BotReply,
    *,
    role: str,
    message_id: str,
    timestamp: float,
    channel: str,
    lang: str,
    author: str | None = None,
) -> HistoryEntry:
    return HistoryEntry.model_validate(
        {
            **reply.model_dump(),
            "role": role,
            "message_id": message_id,
            "timestamp": timestamp,
            "channel": channel,
            "lang": lang,
            "author": author,
        }
    )


class CustomerChannels:
    def __init__(
        self,
        redis: Redis,
        inbox: Inbox,
        customers: CustomerDirectory,
        telegram: TelegramBotApi | None,
        sms: TwilioSms | None,
        email: SmtpEmail | None,
    ) -> None:
        self._redis = redis
        self._inbox = inbox
        self._customers = customers
        self.telegram = telegram
        self.sms = sms
        self.email = email

    async def deliver(
        self,
        customer_id: str,
        entries: Sequence[HistoryEntry],
        *,
        record: bool = True,
        channel: str | None = None,
    ) -> list[Sent]:
        """Store the lines (unless the caller did), push them to open webchat windows, and send them in the
        customer's last channel. A channel failure is logged and reported by omission from the result: the
        lines are in the history either way, where the webchat and the operator see them."""
        if not entries:
            return []
        if record:
            await self._inbox.record_lines(customer_id, entries)
        await self.publish(customer_id, entries)
        profile = await self._customers.profile(customer_id)
        channel = channel or profile.last_channel or entries[-1].channel
        texts = [entry.text for entry in entries if entry.text]
        sent: list[Sent] = []
        if channel == "telegram" and profile.telegram_chat_id is not None and self.telegram is not None:
            replies = [BotReply(text=e.text, buttons=e.buttons, image=e.image) for e in entries]
            # Split to Telegram's length limit, buttons under the last text (a buttons-only line gets one); one
            # failed message does not stop the next.
            for outgoing in render_replies(replies):
                item = await self.send_telegram(profile.telegram_chat_id, outgoing.text, outgoing.buttons)
                if item is not None:
                    sent.append(item)
        elif channel in ("sms", "voice") and profile.phone and texts:
            body = "\n\n".join(
                reply_text(BotReply(text=e.text, buttons=e.buttons, image=e.image), with_buttons=True)
                for e in entries
                if e.text  # a line of buttons alone means nothing without its question
            )
            item = await self.send_sms(profile.phone, body)
            if item is not None:
                sent.append(item)
        return sent

    async def publish(self, customer_id: str, entries: Sequence[HistoryEntry]) -> None:
        try:
            for entry in entries:
                frame = {"type": "message", "entry": entry.model_dump(mode="json")}
                await self._redis.publish(
                    redis_keys.conversation_events(customer_id), json.dumps(frame, ensure_ascii=False)
                )
        except RedisError as exc:
            # The lines are in the history: an open window gets them on its next poll or reconnect.
            log.warning("outbound.publish_failed", error=type(exc).__name__)

    async def send_telegram(self, chat_id: int, text: str, buttons: Sequence[Button] = ()) -> Sent | None:
        if self.telegram is None:
            return None
        try:
            message_id = await self.telegram.send_message(chat_id, text, buttons)
        except TelegramError as exc:
            log.error("outbound.telegram_failed", reason=str(exc))
            return None
        return Sent("telegram", "chat", str(message_id))

    async def send_sms(self, phone: str, text: str) -> Sent | None:
        if self.sms is None:
            log.warning("outbound.sms_off", to=phone_for_log(phone))
            return None
        try:
            sid = await self.sms.send(phone, text)
        except SmsError as exc:
            log.error("outbound.sms_failed", reason=str(exc), to=phone_for_log(phone))
            return None
        log.info("outbound.sms_sent", to=phone_for_log(phone), sid=sid)
        return Sent("sms", phone_for_log(phone), sid)

    async def send_email(self, address: str, subject: str, text: str) -> Sent | None:
        if self.email is None:
            return None
        try:
            message_id = await self.email.send(address, subject, text)
        except EmailError as exc:
            log.error("outbound.email_failed", reason=str(exc))
            return None
        return Sent("email", "email", message_id)

    async def aclose(self) -> None:
        for client in (self.telegram, self.sms):
            if client is not None:
                await client.aclose()


class _HasChannels(Protocol):
    @property
    def channels(self) -> CustomerChannels: ...


async def deliver_late_replies(services: _HasChannels, message: InboundMessage, replies: Sequence[BotReply]) -> None:
    """The ``Redeliverer``'s hook: replies to a message parked during an outage reach the customer's channel
    (the history has them already)."""
    now = time.time()
    entries = [
        entry_from_reply(
            reply, role="bot", message_id=message.message_id, timestamp=now, channel=message.channel, lang=message.lang
        ).model_copy(update={"delayed": True})
        for reply in replies
    ]
    await services.channels.deliver(message.conversation_id, entries, record=False, channel=message.channel)
