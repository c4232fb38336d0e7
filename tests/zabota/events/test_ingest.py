"""The ingester on the real Redis and the real system of record: nothing lost, nothing stored twice, nothing
dropped silently. A process stopping is played by what it leaves behind: entries read and never acknowledged,
rows committed and their entries still pending."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from sqlalchemy.exc import DataError, OperationalError, SQLAlchemyError
from structlog.testing import capture_logs

from zabota import redis_keys
from zabota.events import Event, EventLog
from zabota.events import ingest as ingest_module
from zabota.events.ingest import EventIngester, IngestLag, IngestRound
from zabota.events.store import EventStore
from zabota.records import RecordsSettings, create_engine

GROUP = redis_keys.EVENTS_INGEST_GROUP


class ProcessKilled(BaseException):
    """The process ends here (a BaseException: nothing on the way catches it)."""


class DiesAfterCommit(EventStore):
    """Commits the batch, then the process is killed before it can acknowledge."""

    async def insert_events(self, events: Iterable[Event]) -> int:
        await super().insert_events(events)
        raise ProcessKilled


class Outage(EventStore):
    """The database is unreachable while ``down``."""

    down = True

    async def insert_events(self, events: Iterable[Event]) -> int:
        if self.down:
            raise OperationalError("INSERT INTO events", {}, ConnectionRefusedError("connection refused"))
        return await super().insert_events(events)


class RefusesPoison(EventStore):
    """The database refuses the value of any event whose ref is ``poison`` (as PostgreSQL refuses a value out of
    its column's type), and with it the whole statement."""

    async def insert_events(self, events: Iterable[Event]) -> int:
        batch = list(events)
        if any(event.ref == "poison" for event in batch):
            raise DataError("INSERT INTO events", {}, ValueError("value too long for type character varying(32)"))
        return await super().insert_events(batch)


def _ingester(redis: Redis, store: EventStore, consumer: str = "ingest-a", **options: Any) -> EventIngester:
    return EventIngester(redis, store, consumer=consumer, batch_size=options.pop("batch_size", 100), **options)


def _events(n: int, kind: str = "message_in", start: int = 0) -> list[Event]:
    now = time.time()
    return [
        Event(
            kind,  # type: ignore[arg-type]
            now + i / 1000,
            customer_id="c-0123456789abcdef",
            channel="telegram",
            lang="ru",
            ref=f"m-{start + i}",
            data={"role": "customer", "text": "Интернет не работает, телефон [PHONE]", "chars": 37},
        )
        for i in range(n)
    ]


async def _emit(redis: Redis, events: list[Event]) -> list[Event]:
    await EventLog(redis).emit_all(events)
    return events


async def _read_without_ack(redis: Redis, consumer: str) -> int:
    """A process that read a batch and stopped before it wrote anything."""
    response: Any = await redis.xreadgroup(GROUP, consumer, {redis_keys.EVENTS_STREAM: ">"}, count=1000)
    return sum(len(entries) for _, entries in response)


async def _dead_entries(redis: Redis) -> list[tuple[str, dict[str, str]]]:
    return cast(list[tuple[str, dict[str, str]]], await redis.xrange(redis_keys.EVENTS_DEAD_STREAM))


async def test_events_written_with_the_event_log_reach_the_table_once(redis: Redis, store: EventStore) -> None:
    # emitted before any ingester ran: the group starts at the stream's beginning
    events = await _emit(redis, _events(4) + _events(1, "handoff_opened", start=4))
    ingester = _ingester(redis, store)
    assert await ingester.run_once() == IngestRound(read=5, stored=5, dead=0)
    for event in events:
        stored = await store.get(event.id)
        assert stored is not None and stored.at == pytest.approx(event.at, abs=1e-5)
        assert (stored.kind, stored.customer_id, stored.channel, stored.lang, stored.ref, stored.data) == (
            event.kind,
            event.customer_id,
            event.channel,
            event.lang,
            event.ref,
            event.data,
        )
    assert await store.count("handoff_opened") == 1
    assert await ingester.pending() == IngestLag(undelivered=0, pending=0)
    assert await ingester.run_once() == IngestRound()

    # a producer that wrote the same events again (a retried pipeline): read, acknowledged, not stored
    await _emit(redis, events[:3])
    assert await ingester.run_once() == IngestRound(read=3, stored=0, dead=0)
    assert await store.count() == 5
    assert await ingester.pending() == IngestLag(0, 0)


async def test_a_backlog_is_read_a_batch_at_a_time(redis: Redis, store: EventStore) -> None:
    await _emit(redis, _events(25))
    ingester = _ingester(redis, store, batch_size=10)
    await ingester.ensure_group()
    assert await ingester.pending() == IngestLag(undelivered=25, pending=0)
    assert (await ingester.run_once()).stored == 10
    assert await ingester.pending() == IngestLag(undelivered=15, pending=0)
    assert [(await ingester.run_once()).stored for _ in range(3)] == [10, 5, 0]
    assert await store.count() == 25


@pytest.mark.parametrize("restart", ["same consumer name", "another consumer after the idle time"])
async def test_entries_read_but_never_written_are_ingested_after_a_restart(
    redis: Redis, store: EventStore, restart: str
) -> None:
    events = await _emit(redis, _events(4))
    await _ingester(redis, store).ensure_group()
    assert await _read_without_ack(redis, "ingest-a") == 4  # ... and the process stopped
    if restart == "same consumer name":
        successor = _ingester(redis, store, "ingest-a")  # the default idle time: its own entries need none
    else:
        successor = _ingester(redis, store, "ingest-b", claim_idle_ms=50)
        assert await successor.run_once() == IngestRound()  # not idle long enough: the other may be working
        await asyncio.sleep(0.1)
    assert await successor.pending() == IngestLag(0, 4)
    assert await successor.run_once() == IngestRound(read=4, stored=4, dead=0)
    assert await store.count() == len(events)
    assert await successor.pending() == IngestLag(0, 0)


@pytest.mark.parametrize("restart", ["same consumer name", "another consumer after the idle time"])
async def test_a_stop_between_commit_and_ack_redelivers_and_stores_nothing_twice(
    redis: Redis, store: EventStore, restart: str
) -> None:
    await _emit(redis, _events(6))
    doomed = _ingester(redis, DiesAfterCommit(store.engine))
    with pytest.raises(ProcessKilled):
        await doomed.run_once()
    assert await store.count() == 6  # committed ...
    assert await doomed.pending() == IngestLag(0, 6)  # ... and not acknowledged
    if restart == "same consumer name":
        successor = _ingester(redis, store, "ingest-a")
    else:
        successor = _ingester(redis, store, "ingest-b", claim_idle_ms=50)
        await asyncio.sleep(0.1)
    assert await successor.run_once() == IngestRound(read=6, stored=0, dead=0)
    assert await store.count() == 6
    assert await successor.pending() == IngestLag(0, 0)


async def test_a_database_that_fails_leaves_the_batch_pending_until_a_later_round(
    redis: Redis, store: EventStore, tmp_path: Path
) -> None:
    await _emit(redis, _events(3))
    await redis.xadd(redis_keys.EVENTS_STREAM, {"kind": "not-a-kind"})
    # a real failure: the database file's folder does not exist
    broken = EventStore(create_engine(RecordsSettings(f"sqlite:///{tmp_path / 'missing' / 'records.sqlite3'}")))
    try:
        with capture_logs() as logs, pytest.raises(SQLAlchemyError):
            await _ingester(redis, broken).run_once()
    finally:
        await broken.engine.dispose()
    failed = [entry for entry in logs if entry["event"] == "events.ingest_failed"]
    assert failed and failed[0]["entries"] == 4 and failed[0]["log_level"] == "error"
    # nothing acknowledged, not even the malformed entry of the same batch, nor copied to the dead stream
    assert await _ingester(redis, store).pending() == IngestLag(0, 4)
    assert await redis.xlen(redis_keys.EVENTS_DEAD_STREAM) == 0

    assert await _ingester(redis, store).run_once() == IngestRound(read=4, stored=3, dead=1)
    assert await store.count() == 3
    assert await redis.xlen(redis_keys.EVENTS_DEAD_STREAM) == 1


async def test_the_loop_backs_off_through_an_outage_and_catches_up(
    redis: Redis, store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_module, "_BACKOFF_MIN_SECONDS", 0.02)
    monkeypatch.setattr(ingest_module, "_BACKOFF_MAX_SECONDS", 0.05)
    flaky = Outage(store.engine)
    ingester = _ingester(redis, flaky, block_ms=50)
    stop = asyncio.Event()
    await _emit(redis, _events(5))
    with capture_logs() as logs:
        task = asyncio.create_task(ingester.run(stop))
        try:
            await _until(lambda: sum(entry["event"] == "events.ingest_failed" for entry in logs) >= 3)
            assert await store.count() == 0
            assert await ingester.pending() == IngestLag(0, 5)
            flaky.down = False  # the database is back
            await _until_count(store, 5)
            await _emit(redis, _events(3, start=5))  # and new events keep coming
            await _until_count(store, 8)
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=5)
    assert await ingester.pending() == IngestLag(0, 0)
    assert not [entry for entry in logs if entry["log_level"] == "critical"]


async def test_malformed_entries_go_to_the_dead_stream_and_the_good_ones_are_stored(
    redis: Redis, store: EventStore
) -> None:
    good = _events(3)
    stream = redis_keys.EVENTS_STREAM
    await _emit(redis, good[:1])
    bad = [
        {"kind": "not-a-kind", "at": "1", "id": "e-0000000000000001"},
        {**good[0].to_fields(), "id": "e-0000000000000002", "at": "yesterday"},
        {**good[0].to_fields(), "id": "e-0000000000000003", "data": "[1, 2]"},
        {"unrelated": "entry"},
        # an event by its format, but not by the table's: a channel longer than the column
        Event("triage", time.time(), channel="x" * 40, id="e-0000000000000004").to_fields(),
    ]
    bad_ids = [await redis.xadd(stream, fields) for fields in bad[:3]]  # type: ignore[arg-type]
    await _emit(redis, good[1:2])
    bad_ids += [await redis.xadd(stream, fields) for fields in bad[3:]]  # type: ignore[arg-type]
    await _emit(redis, good[2:])

    ingester = _ingester(redis, store)
    with capture_logs() as logs:
        assert await ingester.run_once() == IngestRound(read=8, stored=3, dead=5)
    assert await store.count() == 3
    assert [await store.get(event.id) is not None for event in good] == [True, True, True]
    assert await ingester.pending() == IngestLag(0, 0)  # all acknowledged, the dead ones too

    dead = await _dead_entries(redis)
    assert [fields["_entry"] for _, fields in dead] == bad_ids
    for (_, fields), original in zip(dead, bad, strict=True):
        assert {name: fields[name] for name in original} == original  # the original fields, unchanged
        assert fields["_error"] and fields["_consumer"] == "ingest-a"
    errors = [fields["_error"] for _, fields in dead]
    assert "unknown event kind" in errors[0] and "channel longer than 32" in errors[4]
    malformed = [entry for entry in logs if entry["event"] == "events.malformed"]
    assert [entry["entry_id"] for entry in malformed] == bad_ids
    assert all(entry["log_level"] == "error" for entry in malformed)

    assert await ingester.run_once() == IngestRound()  # nothing comes back
    assert await redis.xlen(redis_keys.EVENTS_DEAD_STREAM) == 5


async def test_a_value_the_database_refuses_is_dead_lettered_alone(redis: Redis, store: EventStore) -> None:
    events = _events(4)
    poison = Event("kb_answer", time.time(), ref="poison", data={"article": "a-1"})
    await _emit(redis, [*events[:2], poison, *events[2:]])
    with capture_logs() as logs:
        done = await _ingester(redis, RefusesPoison(store.engine)).run_once()
    assert done == IngestRound(read=5, stored=4, dead=1)
    assert await store.count() == 4 and await store.get(poison.id) is None
    (_, fields), *_ = await _dead_entries(redis)
    assert fields["id"] == poison.id
    assert fields["_error"] == "refused by the database: value too long for type character varying(32)"
    assert any(entry["event"] == "events.batch_refused" for entry in logs)
    assert await _ingester(redis, store).pending() == IngestLag(0, 0)


async def test_a_value_postgresql_refuses_does_not_hold_the_stream_up(
    redis: Redis, store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps any length; the PostgreSQL server did not answer")
    # as if the check before the insert missed a case: PostgreSQL itself refuses the row
    monkeypatch.setattr(ingest_module, "check_storable", lambda event: None)
    too_long = Event("triage", time.time(), channel="x" * 40)
    await _emit(redis, [*_events(2), too_long])
    assert await _ingester(redis, store).run_once() == IngestRound(read=3, stored=2, dead=1)
    (_, fields), *_ = await _dead_entries(redis)
    assert fields["id"] == too_long.id and "refused by the database" in fields["_error"]


@pytest.mark.parametrize("restart", ["same consumer name", "another consumer after the idle time"])
async def test_entries_trimmed_while_pending_are_acknowledged_and_logged(
    redis: Redis, store: EventStore, restart: str
) -> None:
    await _emit(redis, _events(3))
    await _ingester(redis, store).ensure_group()
    await _read_without_ack(redis, "ingest-a")
    await redis.xtrim(redis_keys.EVENTS_STREAM, maxlen=0)  # trimmed before anyone stored them
    if restart == "same consumer name":
        successor = _ingester(redis, store, "ingest-a")
    else:
        successor = _ingester(redis, store, "ingest-b", claim_idle_ms=50)
        await asyncio.sleep(0.1)
    with capture_logs() as logs:
        await successor.run_once()
    assert await store.count() == 0
    assert await successor.pending() == IngestLag(0, 0)
    trimmed = [entry for entry in logs if entry["event"] == "events.trimmed_unread"]
    assert sum(entry["entries"] for entry in trimmed) == 3


async def test_the_lag_before_and_during_ingestion(redis: Redis, store: EventStore) -> None:
    ingester = _ingester(redis, store)
    assert await ingester.pending() == IngestLag(0, 0)  # no stream yet
    await _emit(redis, _events(5))
    assert await ingester.pending() == IngestLag(5, 0)  # no group yet: every entry waits
    await ingester.ensure_group()
    await redis.xreadgroup(GROUP, "ingest-x", {redis_keys.EVENTS_STREAM: ">"}, count=2)
    assert await ingester.pending() == IngestLag(undelivered=3, pending=2)


async def test_a_deleted_stream_gets_its_group_again(redis: Redis, store: EventStore) -> None:
    ingester = _ingester(redis, store)
    await _emit(redis, _events(1))
    assert (await ingester.run_once()).stored == 1
    await redis.delete(redis_keys.EVENTS_STREAM)
    with pytest.raises(ResponseError, match="NOGROUP"):
        await ingester.run_once()
    await _emit(redis, _events(2, start=1))
    assert (await ingester.run_once()).stored == 2  # the group was made again, from the stream's start


async def test_consumers_gone_for_good_are_forgotten(
    redis: Redis, store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_module, "_DEPARTED_IDLE_MS", 50)
    await _emit(redis, _events(2))
    await _ingester(redis, store).ensure_group()
    await redis.xgroup_createconsumer(redis_keys.EVENTS_STREAM, GROUP, "gone")  # read nothing, then left
    await redis.xreadgroup(GROUP, "holding", {redis_keys.EVENTS_STREAM: ">"}, count=1)  # left one pending
    await asyncio.sleep(0.1)
    await _ingester(redis, store, "ingest-new").ensure_group()
    names = {consumer["name"] for consumer in await redis.xinfo_consumers(redis_keys.EVENTS_STREAM, GROUP)}
    assert "gone" not in names and "holding" in names  # its pending entry is not given up


async def _until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def _until_count(store: EventStore, count: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while await store.count() != count:
        assert time.monotonic() < deadline, f"timed out at {await store.count()} of {count}"
        await asyncio.sleep(0.02)
