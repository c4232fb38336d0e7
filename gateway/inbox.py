"""The inbox: every inbound message is stored before it goes anywhere, and nothing undeliverable is lost.

- ``Inbox.accept`` stores a message (redacted) in the inbound stream and the conversation history, in one
  MULTI, before any routing; a Redis failure therefore means "not accepted" and the client keeps the message.
- ``Inbox.park`` puts a message Rasa could not take on the pending stream.
- ``Redeliverer`` replays the pending stream in order once Rasa answers again, and deletes each entry only
  after its replies are recorded (at-least-once: a crash in between replays that one message again).

A conversation is keyed by the customer id (zabota/identity.py: one customer across channels, each channel's
ids kept apart), which is also Rasa's sender id; ``sender_id`` keeps the channel's own id of the sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from gateway.rasa_client import BotReply, Button, RasaClient, RasaUnavailable
from zabota import markers, redis_keys
from zabota.events import Event, queue_event
from zabota.language import Language, detect_language
from zabota.redaction import mask_for_log, redact

log = structlog.get_logger(__name__)

# Deletes one delivered pending entry and lowers its conversation's pending count in one step, so a message
# parked at the same moment can never see a count of zero while its predecessor is still queued.
_ACK_SCRIPT = """
redis.call('XDEL', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then
  local left = redis.call('HINCRBY', KEYS[2], ARGV[2], -1)
  if left <= 0 then redis.call('HDEL', KEYS[2], ARGV[2]) end
end
return 1
"""


def _redact_json(value: Any) -> Any:
    """Client metadata is stored too, so its strings get the same redaction as the text."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(k): _redact_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_json(v) for v in value]
    return value


@dataclass(frozen=True)
class InboundMessage:
    message_id: str
    conversation_id: str
    channel: str
    sender_id: str
    text: str  # already redacted: this is what is stored and what Rasa sees
    lang: Language
    timestamp: float
    metadata: dict[str, Any] = field(default_factory=dict)

    def rasa_metadata(self) -> dict[str, Any]:
        # The gateway's own keys win over the client's: a client must not claim another channel.
        return {**self.metadata, "channel": self.channel, "lang": self.lang, "message_id": self.message_id}

    def to_fields(self) -> dict[str, str]:
        return {
            "message_id": self.message_id,
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            "sender_id": self.sender_id,
            "text": self.text,
            "lang": self.lang,
            "timestamp": repr(self.timestamp),
            "metadata": json.dumps(self.metadata, ensure_ascii=False),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> InboundMessage:
        """Raises ``ValueError`` (or ``KeyError``) for an entry this code did not write."""
        lang = fields["lang"]
        if lang not in ("ru", "en"):
            raise ValueError(f"unknown language {lang!r}")
        metadata = json.loads(fields.get("metadata") or "{}")
        if not isinstance(metadata, dict):
            raise ValueError("metadata is not an object")
        return cls(
            message_id=fields["message_id"],
            conversation_id=fields["conversation_id"],
            channel=fields["channel"],
            sender_id=fields["sender_id"],
            text=fields["text"],
            lang=lang,  # type: ignore[arg-type]  # checked above
            timestamp=float(fields["timestamp"]),
            metadata=metadata,
        )


class HistoryEntry(BaseModel):
    """One line of a conversation as the customer's channel shows it."""

    model_config = ConfigDict(frozen=True)

    role: Literal["customer", "bot", "operator", "system"]
    message_id: str = Field(description="The customer message this line is, or answers.")
    timestamp: float
    channel: str
    lang: str | None = None
    text: str | None = None
    buttons: list[Button] = Field(default_factory=list)
    image: str | None = None
    custom: Any = None
    delayed: bool = Field(default=False, description="A reply to a message that was answered after a Rasa outage.")
    author: str | None = Field(default=None, description="The operator's display name, on operator lines.")


@dataclass(frozen=True)
class PendingEntry:
    entry_id: str
    message: InboundMessage | None  # None: an entry this code cannot read (see Redeliverer)
    conversation_id: str


class Inbox:
    def __init__(self, redis: Redis, *, clock: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self._clock = clock
        self._ack = redis.register_script(_ACK_SCRIPT)

    async def accept(
        self,
        *,
        channel: str,
        sender_id: str,
        text: str,
        metadata: Mapping[str, Any],
        conversation_id: str | None = None,
    ) -> InboundMessage:
        """``sender_id`` is the channel's own id of the sender; ``conversation_id`` the customer's (see
        zabota/identity.py), which defaults to the sender id for callers that have no identity mapping."""
        conv = conversation_id or sender_id
        # Keys of the gateway's own (the triage) never come from a client.
        metadata = {k: v for k, v in metadata.items() if not str(k).startswith(markers.RESERVED_PREFIX)}
        lang_key = redis_keys.conversation_language(conv)
        previous = await self._redis.get(lang_key)
        message = InboundMessage(
            message_id=uuid.uuid4().hex,
            conversation_id=conv,
            channel=channel,
            sender_id=sender_id,
            text=redact(text),
            lang=detect_language(text, _as_str(previous)),
            timestamp=self._clock(),
            metadata=_redact_json(dict(metadata)),
        )
        entry = HistoryEntry(
            role="customer",
            message_id=message.message_id,
            timestamp=message.timestamp,
            channel=channel,
            lang=message.lang,
            text=message.text,
        )
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(
                redis_keys.INBOUND_STREAM,
                message.to_fields(),  # type: ignore[arg-type]  # redis-py's stub wants a broader mapping type
                maxlen=redis_keys.INBOUND_STREAM_MAXLEN,
                approximate=True,
            )
            pipe.set(lang_key, message.lang, ex=redis_keys.CONVERSATION_HISTORY_TTL_SECONDS)
            self._queue_history(pipe, conv, [entry])
            await pipe.execute()
        return message

    async def record_replies(self, message: InboundMessage, replies: Sequence[BotReply], *, delayed: bool) -> None:
        now = self._clock()
        entries = [
            HistoryEntry(
                role="bot",
                message_id=message.message_id,
                timestamp=now,
                channel=message.channel,
                lang=message.lang,
                delayed=delayed,
                **reply.model_dump(),
            )
            for reply in replies
        ]
        if not entries:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            self._queue_history(pipe, message.conversation_id, entries)
            await pipe.execute()

    async def record_lines(self, conv: str, entries: Sequence[HistoryEntry]) -> None:
        """Lines that answer no inbound message (operator replies, status notices)."""
        if not entries:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            self._queue_history(pipe, conv, entries)
            await pipe.execute()

    async def history(self, conv: str, limit: int = redis_keys.CONVERSATION_HISTORY_MAX_ITEMS) -> list[HistoryEntry]:
        raw = await self._redis.lrange(redis_keys.conversation_history(conv), -limit, -1)
        return [HistoryEntry.model_validate_json(item) for item in raw]

    async def has_pending(self, conv: str) -> bool:
        return bool(await self._redis.hexists(redis_keys.PENDING_CONVERSATIONS, conv))

    async def park(self, message: InboundMessage) -> str:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(redis_keys.PENDING_STREAM, message.to_fields())  # type: ignore[arg-type]
            pipe.hincrby(redis_keys.PENDING_CONVERSATIONS, message.conversation_id, 1)
            entry_id, _ = await pipe.execute()
        return _as_str(entry_id) or ""

    async def pending(self, count: int = 100) -> list[PendingEntry]:
        """The oldest ``count`` parked entries, oldest first."""
        rows = await self._redis.xrange(redis_keys.PENDING_STREAM, "-", "+", count=count)
        entries: list[PendingEntry] = []
        for raw_id, raw_fields in rows or []:
            fields = {_as_str(k) or "": _as_str(v) or "" for k, v in (raw_fields or {}).items()}
            try:
                message: InboundMessage | None = InboundMessage.from_fields(fields)
            except (KeyError, ValueError):
                message = None
            entries.append(PendingEntry(_as_str(raw_id) or "", message, fields.get("conversation_id", "")))
        return entries

    async def pending_count(self) -> int:
        return int(await self._redis.xlen(redis_keys.PENDING_STREAM))

    async def ack(self, entry: PendingEntry) -> None:
        await self._ack(
            keys=[redis_keys.PENDING_STREAM, redis_keys.PENDING_CONVERSATIONS],
            args=[entry.entry_id, entry.conversation_id],
        )

    def redelivery_lock(self, timeout_seconds: float) -> Lock:
        # thread_local=False: the token must survive across tasks of one event loop, not threads.
        return self._redis.lock(redis_keys.REDELIVERY_LOCK, timeout=timeout_seconds, blocking=False, thread_local=False)

    @staticmethod
    def _queue_history(pipe: Pipeline, conv: str, entries: Sequence[HistoryEntry]) -> None:
        """The lines, and their events for the leads' analytics, in the caller's transaction."""
        key = redis_keys.conversation_history(conv)
        pipe.rpush(key, *(e.model_dump_json() for e in entries))
        pipe.ltrim(key, -redis_keys.CONVERSATION_HISTORY_MAX_ITEMS, -1)
        pipe.expire(key, redis_keys.CONVERSATION_HISTORY_TTL_SECONDS)
        for entry in entries:
            queue_event(pipe, message_event(conv, entry))


# A customer's words kept in the message event (redacted, as in the history): enough to group the questions
# the knowledge base had no answer for, not a second copy of a pasted letter.
EVENT_TEXT_CHARS = 500


def message_event(conv: str, entry: HistoryEntry) -> Event:
    """``message_in`` for the customer's line (its redacted words, for the knowledge base's gaps), ``message_out``
    for every other (who said it; its length, not its text: the leads count answers, they do not reread them)."""
    data: dict[str, Any] = {"role": entry.role, "message_id": entry.message_id, "chars": len(entry.text or "")}
    if entry.role == "customer":
        data["text"] = (entry.text or "")[:EVENT_TEXT_CHARS]
    else:
        data.update(buttons=len(entry.buttons), delayed=entry.delayed)
        if entry.author:
            data["author"] = entry.author
    return Event(
        "message_in" if entry.role == "customer" else "message_out",
        entry.timestamp,
        customer_id=conv,
        channel=entry.channel,
        lang=entry.lang,
        ref=entry.message_id,
        data=data,
    )


def _as_str(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


# Called after a redelivered message's replies are in the history; later channels (Telegram, voice) push the
# replies to the customer from here, since the request that brought the message is long gone.
DeliveryHook = Callable[[InboundMessage, list[BotReply]], Awaitable[None]]
# Runs one parked message through the whole pipeline (triage, bot, handoff) and records its replies; returns
# the replies the customer is to see. Raises ``RasaUnavailable`` like ``RasaClient.send``.
ProcessHook = Callable[[InboundMessage], Awaitable[list[BotReply]]]


class Redeliverer:
    def __init__(
        self,
        inbox: Inbox,
        rasa: RasaClient,
        *,
        interval_seconds: float,
        lock_timeout_seconds: float,
        on_delivered: DeliveryHook | None = None,
        process: ProcessHook | None = None,
        batch_size: int = 100,
    ) -> None:
        self._inbox = inbox
        self._rasa = rasa
        self._interval = interval_seconds
        self._lock_timeout = lock_timeout_seconds
        self._on_delivered = on_delivered
        self._process = process
        self._batch_size = batch_size
        # Logged once per outage, not on every tick.
        self._blocked = False

    async def run(self, stop: asyncio.Event) -> None:
        """Replay every ``interval_seconds`` until ``stop`` is set; never raises (Redis may come and go)."""
        while not stop.is_set():
            try:
                await self.run_once()
            except RedisError as exc:
                log.warning("inbox.redelivery_redis_error", error=type(exc).__name__)
            except Exception:
                log.exception("inbox.redelivery_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)

    async def run_once(self) -> int:
        """Deliver parked messages in order; stop at the first Rasa failure. Returns how many were delivered."""
        if await self._inbox.pending_count() == 0:
            return 0
        lock = self._inbox.redelivery_lock(self._lock_timeout)
        if not await lock.acquire():
            return 0  # another worker is replaying
        delivered = 0
        try:
            while batch := await self._inbox.pending(self._batch_size):
                for entry in batch:
                    if not await self._deliver(entry):
                        return delivered
                    delivered += 1
                    # Each Rasa call may take its full timeout; keep the lock for as long as there is work.
                    await lock.reacquire()
            return delivered
        except LockError:
            log.warning("inbox.redelivery_lock_lost", delivered=delivered)
            return delivered
        finally:
            # Expired or unreachable: the lock lapses on its own after its timeout.
            with contextlib.suppress(LockError, RedisError):
                await lock.release()

    async def _deliver(self, entry: PendingEntry) -> bool:
        message = entry.message
        if message is None:
            # Not written by this code; its text is still in the inbound stream (the audit trail), so
            # dropping it here loses nothing, while keeping it would block every message behind it.
            log.error("inbox.pending_unreadable", entry_id=entry.entry_id)
            await self._inbox.ack(entry)
            return True
        try:
            if self._process is not None:
                replies = await self._process(message)
            else:
                replies = await self._rasa.send(message.conversation_id, message.text, message.rasa_metadata())
                await self._inbox.record_replies(message, replies, delayed=True)
        except RasaUnavailable as exc:
            if not self._blocked:
                log.warning("rasa.unavailable", reason=str(exc), waiting=await self._inbox.pending_count())
            self._blocked = True
            return False
        if self._blocked:
            log.info("inbox.redelivery_resumed")
            self._blocked = False
        if self._on_delivered is not None:
            try:
                await self._on_delivered(message, replies)
            except Exception:
                # The replies are in the history already; sending the message to Rasa again would not help.
                log.exception("inbox.delivery_hook_failed", message_id=message.message_id)
        await self._inbox.ack(entry)
        log.info(
            "inbox.redelivered",
            message_id=message.message_id,
            conversation=mask_for_log(message.conversation_id),
            replies=len(replies),
            delay_seconds=round(time.time() - message.timestamp, 1),
        )
        return True
