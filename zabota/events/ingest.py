"""The ingester: moves the events stream (``redis_keys.EVENTS_STREAM``) into the system of record's events table,
as one consumer of the group ``EVENTS_INGEST_GROUP`` (one per gateway process, each its own consumer name).

What it guarantees:
- nothing is lost: an entry is acknowledged only after the transaction holding its row has committed. A process
  that stops before leaves it pending: the same consumer name reads it again at its next round, and any other
  consumer takes it over once it has been idle ``EVENTS_CLAIM_IDLE_MS`` (XAUTOCLAIM). The group starts at id 0,
  so what was emitted before any ingester ran is read too, and a restarted one catches up from where it was.
- nothing is stored twice: the row's key is the event's own id, given when it happened, and the insert skips an
  id already there (a stop between commit and acknowledgement, a producer that wrote an entry twice).
- nothing is dropped silently: an entry that is not an event (or one the database refuses) is copied to
  ``EVENTS_DEAD_STREAM`` with the reason, logged (``events.malformed``) and only then acknowledged, in one
  Redis transaction.
- a database that fails leaves the whole batch pending (``events.ingest_failed``); the loop backs off and
  retries it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from sqlalchemy.exc import DataError, SQLAlchemyError

from zabota import redis_keys
from zabota.events.model import Event
from zabota.events.store import EventStore, check_storable

log = structlog.stdlib.get_logger(__name__)

_BACKOFF_MIN_SECONDS = 0.5
_BACKOFF_MAX_SECONDS = 30.0
# `events.ingested` at info at most this often (the counts since the last one); each batch at debug
_SUMMARY_EVERY_SECONDS = 60.0
# A dead entry keeps its fields, each cut to this length: a runaway text must not fill Redis 100,000 times over.
_DEAD_VALUE_CHARS = 16_000
# A consumer with nothing pending that has not read for this long is a process gone for good (the names carry
# a pid, so every restart leaves one behind): removed from the group, which would otherwise only grow.
_DEPARTED_IDLE_MS = 24 * 3600 * 1000
# XAUTOCLAIM and re-reads of pending entries stop after this many batches a round; the next round goes on.
_MAX_BATCHES_PER_STEP = 20

Entry = tuple[str, dict[str, str] | None]  # (stream id, fields); none or empty: trimmed while pending


@dataclass(frozen=True)
class IngestRound:
    """What one or more rounds did."""

    read: int = 0  # stream entries handled: new, re-read, taken over
    stored: int = 0  # rows inserted (a replayed event inserts none)
    dead: int = 0  # entries that were not events, now in the dead stream

    def __add__(self, other: IngestRound) -> IngestRound:
        return IngestRound(self.read + other.read, self.stored + other.stored, self.dead + other.dead)


class IngestLag(NamedTuple):
    """How far the ingesters are behind: entries not yet delivered to the group (``None`` where Redis cannot
    tell: entries deleted from the middle of the stream) and entries delivered but not yet acknowledged."""

    undelivered: int | None
    pending: int


@dataclass(frozen=True)
class _Parsed:
    entry_id: str
    fields: dict[str, str]
    event: Event


@dataclass(frozen=True)
class _Dead:
    entry_id: str
    fields: dict[str, str]
    error: str


class EventIngester:
    """One consumer of the events stream. ``consumer`` must be unique among the processes running at once."""

    def __init__(
        self,
        redis: Redis,
        store: EventStore,
        *,
        consumer: str,
        group: str = redis_keys.EVENTS_INGEST_GROUP,
        batch_size: int = 500,
        block_ms: int = 1000,
        claim_idle_ms: int = redis_keys.EVENTS_CLAIM_IDLE_MS,
    ) -> None:
        self._redis = redis
        self._store = store
        self._consumer = consumer
        self._group = group
        self._batch = batch_size
        self._block_ms = block_ms
        self._claim_idle_ms = claim_idle_ms
        self._group_ready = False

    async def ensure_group(self) -> None:
        """Creates the group (and the stream) if missing, from id 0: events emitted before any ingester ran are
        ingested too."""
        try:
            await self._redis.xgroup_create(redis_keys.EVENTS_STREAM, self._group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        await self._forget_departed_consumers()
        self._group_ready = True

    async def run_once(self, block_ms: int = 0) -> IngestRound:
        """Takes over entries other consumers left idle, re-reads this consumer's own unacknowledged ones (after a
        restart or a failed round), then reads one batch of new entries, waiting up to ``block_ms`` for them (0:
        not at all). Raises ``SQLAlchemyError`` (nothing of that batch acknowledged) or ``RedisError``."""
        if not self._group_ready:
            await self.ensure_group()
        try:
            done = await self._take_over_idle()
            done += await self._reread_own_pending()
            done += await self._ingest(await self._read(">", block_ms))
        except ResponseError as exc:
            if "NOGROUP" in str(exc):
                self._group_ready = False  # the stream was deleted: the group is created again next round
            raise
        return done

    async def run(self, stop: asyncio.Event) -> None:
        """Ingests until ``stop`` is set. Never raises: Redis and the database may come and go, and while either
        is gone it backs off, leaving the entries pending."""
        backoff = _BACKOFF_MIN_SECONDS
        block = max(1, self._block_ms)  # never 0 here: the loop would spin
        summary, summary_at = IngestRound(), time.monotonic()
        log.info("events.ingester_started", consumer=self._consumer, group=self._group)
        while not stop.is_set():
            try:
                done = await self.run_once(block)
            except SQLAlchemyError:
                pass  # logged with its batch as events.ingest_failed
            except RedisError as exc:
                log.warning("events.redis_error", error=type(exc).__name__, retry_in=backoff)
            except Exception:  # a bug, not an outage: the loop must outlive it, and the entries stay pending
                log.exception("events.ingester_failed", retry_in=backoff)
            else:
                backoff = _BACKOFF_MIN_SECONDS
                summary += done
                if summary.read and time.monotonic() - summary_at >= _SUMMARY_EVERY_SECONDS:
                    log.info("events.ingested", read=summary.read, stored=summary.stored, dead=summary.dead)
                    summary, summary_at = IngestRound(), time.monotonic()
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX_SECONDS)

    async def pending(self) -> IngestLag:
        """The group's lag, for the metrics."""
        stream = redis_keys.EVENTS_STREAM
        try:
            groups = await self._redis.xinfo_groups(stream)
        except ResponseError as exc:
            if "no such key" in str(exc).lower():
                return IngestLag(0, 0)
            raise
        for group in groups:
            if group["name"] == self._group:
                lag = group.get("lag")
                return IngestLag(None if lag is None else int(lag), int(group["pending"]))
        return IngestLag(int(await self._redis.xlen(stream)), 0)  # no group yet: every entry waits

    # --- reading ------------------------------------------------------------------------------------------------

    async def _read(self, start: str, block_ms: int = 0) -> list[Entry]:
        response = await self._redis.xreadgroup(
            self._group,
            self._consumer,
            {redis_keys.EVENTS_STREAM: start},
            count=self._batch,
            block=block_ms if block_ms > 0 and start == ">" else None,
        )
        return _entries(response)

    async def _take_over_idle(self) -> IngestRound:
        """Entries any consumer (a process that stopped for good) has held unacknowledged for longer than the claim
        idle time."""
        done = IngestRound()
        start = "0-0"
        for _ in range(_MAX_BATCHES_PER_STEP):
            response = await self._redis.xautoclaim(
                redis_keys.EVENTS_STREAM,
                self._group,
                self._consumer,
                min_idle_time=self._claim_idle_ms,
                start_id=start,
                count=self._batch,
            )
            start = _as_str(response[0])
            claimed = _entry_list(response[1])
            # Redis 7 drops from the group by itself the entries trimmed while pending, and names them here
            trimmed = response[2] if len(response) > 2 else []
            if trimmed:
                log.warning("events.trimmed_unread", entries=len(trimmed))
            if claimed:
                log.info("events.taken_over", entries=len(claimed), consumer=self._consumer)
                done += await self._ingest(claimed)
            if start == "0-0":
                break
        return done

    async def _reread_own_pending(self) -> IngestRound:
        done = IngestRound()
        last = "0"
        for _ in range(_MAX_BATCHES_PER_STEP):
            entries = await self._read(last)
            if not entries:
                break
            log.info("events.pending_reread", entries=len(entries), consumer=self._consumer)
            done += await self._ingest(entries)
            last = entries[-1][0]
            if len(entries) < self._batch:
                break
        return done

    async def _forget_departed_consumers(self) -> None:
        consumers = await self._redis.xinfo_consumers(redis_keys.EVENTS_STREAM, self._group)
        for consumer in consumers:
            name = _as_str(consumer["name"])
            if name != self._consumer and int(consumer["pending"]) == 0 and int(consumer["idle"]) > _DEPARTED_IDLE_MS:
                await self._redis.xgroup_delconsumer(redis_keys.EVENTS_STREAM, self._group, name)
                log.info("events.consumer_forgotten", consumer=name)

    # --- one batch ----------------------------------------------------------------------------------------------

    async def _ingest(self, entries: Sequence[Entry]) -> IngestRound:
        if not entries:
            return IngestRound()
        parsed: list[_Parsed] = []
        dead: list[_Dead] = []
        trimmed = 0
        for entry_id, fields in entries:
            if not fields:
                # trimmed from the stream while pending (XADD never writes an entry without fields): nothing to store
                trimmed += 1
                continue
            try:
                event = Event.from_fields(fields)
                check_storable(event)
            except ValueError as exc:
                dead.append(_Dead(entry_id, fields, str(exc)[:500]))
            else:
                parsed.append(_Parsed(entry_id, fields, event))
        if trimmed:
            log.warning("events.trimmed_unread", entries=trimmed)
        stored = 0
        if parsed:
            try:
                stored = await self._write(parsed, dead)
            except SQLAlchemyError as exc:
                # Nothing acknowledged: every entry of the batch stays pending and is read again.
                log.error(
                    "events.ingest_failed",
                    entries=len(entries),
                    error=type(exc).__name__,
                    # the driver's error, by its class only: SQLAlchemy's message quotes the parameters
                    cause=_cause(exc),
                )
                raise
        await self._acknowledge([entry_id for entry_id, _ in entries], dead)
        for item in dead:
            log.error(
                "events.malformed",
                entry_id=item.entry_id,
                kind=item.fields.get("kind", "")[:40],
                error=item.error[:200],
            )
        log.debug("events.batch_ingested", read=len(entries), stored=stored, dead=len(dead))
        return IngestRound(read=len(entries), stored=stored, dead=len(dead))

    async def _write(self, parsed: Sequence[_Parsed], dead: list[_Dead]) -> int:
        """The batch in one transaction. Should the database refuse a value of it (``DataError``: a check of
        ``check_storable`` missed it), each event is written on its own and the refused ones join ``dead``:
        retrying a refused value would hold the stream up forever."""
        try:
            return await self._store.insert_events(item.event for item in parsed)
        except DataError as exc:
            log.warning("events.batch_refused", entries=len(parsed), cause=_cause(exc))
        stored = 0
        for item in parsed:
            try:
                stored += await self._store.insert_events([item.event])
            except DataError as exc:
                dead.append(_Dead(item.entry_id, item.fields, f"refused by the database: {_first_line(exc.orig)}"))
        return stored

    async def _acknowledge(self, entry_ids: Sequence[str], dead: Sequence[_Dead]) -> None:
        """Copies the dead entries and acknowledges the batch in one MULTI: a dead entry is never acknowledged
        without its copy, nor copied twice."""
        async with self._redis.pipeline(transaction=True) as pipe:
            for item in dead:
                fields = {name: value[:_DEAD_VALUE_CHARS] for name, value in item.fields.items()}
                fields.update({"_error": item.error, "_entry": item.entry_id, "_consumer": self._consumer})
                pipe.xadd(
                    redis_keys.EVENTS_DEAD_STREAM,
                    fields,  # type: ignore[arg-type]  # redis-py's stub wants a broader mapping type
                    maxlen=redis_keys.EVENTS_DEAD_STREAM_MAXLEN,
                    approximate=True,
                )
            pipe.xack(redis_keys.EVENTS_STREAM, self._group, *entry_ids)
            await pipe.execute()


# --- helpers ------------------------------------------------------------------------------------------------------


def _cause(error: SQLAlchemyError) -> str | None:
    orig = getattr(error, "orig", None)  # DBAPIError's; a pool timeout or a closed engine has none
    return type(orig).__name__ if orig is not None else None


def _first_line(error: BaseException | None) -> str:
    """The database's message without its DETAIL lines (which may quote the value)."""
    return (str(error).splitlines() or [""])[0][:200]


def _as_str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entries(response: Any) -> list[Entry]:
    """XREADGROUP's reply for the one stream read: RESP2 ([[stream, entries]]) or RESP3 ({stream: [entries]})."""
    if not response:
        return []
    if isinstance(response, Mapping):
        streams = list(response.values())
        return _entry_list(streams[0] if streams else [])
    return _entry_list(response[0][1])


def _entry_list(raw: Any) -> list[Entry]:
    entries: list[Entry] = []
    for entry_id, fields in raw or []:
        if fields is None:
            entries.append((_as_str(entry_id), None))
        else:
            entries.append((_as_str(entry_id), {_as_str(k): _as_str(v) for k, v in dict(fields).items()}))
    return entries
