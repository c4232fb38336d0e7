"""The events table (``zabota.records.schema.StoredEvent``): every SQL statement on it is written here."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import String, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from zabota.events.model import Event, EventKind
from zabota.records.schema import StoredEvent

# Rows per INSERT: 8 parameters a row stays far below the parameter limits of SQLite (32,766) and PostgreSQL
# (65,535), while a batch of the ingester still takes only a few round trips.
ROWS_PER_STATEMENT = 250


def _column_chars(name: str) -> int:
    column_type = StoredEvent.__table__.c[name].type
    assert isinstance(column_type, String) and column_type.length is not None
    return column_type.length


# the text columns and their sizes, read from the schema so that the check below and the table never disagree
_TEXT_COLUMNS = {name: _column_chars(name) for name in ("id", "kind", "customer_id", "channel", "lang", "ref")}


def _at(event: Event) -> datetime:
    try:
        return datetime.fromtimestamp(event.at, UTC)
    except (ValueError, OverflowError, OSError) as error:  # NaN, infinities, years past 9999
        raise ValueError(f"event time {event.at!r} is not a date") from error


def check_storable(event: Event) -> None:
    """``ValueError`` for an event the database would refuse (``Event.from_fields`` accepts it): a text longer
    than its column, a NUL (PostgreSQL text has none), NaN in the data (not JSON), a lone surrogate (not UTF-8),
    a time out of range. Refused before the insert, one such event never holds back the batch it came in."""
    texts = {
        "id": event.id,
        "kind": event.kind,
        "customer_id": event.customer_id,
        "channel": event.channel,
        "lang": event.lang,
        "ref": event.ref,
    }
    for name, value in texts.items():
        if value is None:
            continue
        if len(value) > _TEXT_COLUMNS[name]:
            raise ValueError(f"{name} longer than {_TEXT_COLUMNS[name]} characters")
        if "\x00" in value:
            raise ValueError(f"{name} holds a NUL character")
        if not _utf8(value):
            raise ValueError(f"{name} holds a lone surrogate (not UTF-8)")
    try:
        data = json.dumps(dict(event.data), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"data is not JSON (NaN or infinity): {error}") from error
    if not _utf8(data):
        raise ValueError("data holds a lone surrogate (not UTF-8)")
    _at(event)


def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _row(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": _at(event),
        "kind": event.kind,
        "customer_id": event.customer_id,
        "channel": event.channel,
        "lang": event.lang,
        "ref": event.ref,
        "data": dict(event.data),
    }


class EventStore:
    """Writes and reads the events of one database (the system of record's engine)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def insert_events(self, events: Iterable[Event]) -> int:
        """Writes ``events`` in one transaction; an id already in the table is skipped (a replayed entry), so
        the call is idempotent. Returns how many rows were inserted. Raises ``SQLAlchemyError`` with nothing
        written."""
        # one row per id: the same event read twice in one batch would be its own conflict
        rows = list({event.id: _row(event) for event in events}.values())
        if not rows:
            return 0
        inserted = 0
        async with self.engine.begin() as connection:
            for start in range(0, len(rows), ROWS_PER_STATEMENT):
                result = await connection.execute(self._insert_new(rows[start : start + ROWS_PER_STATEMENT]))
                inserted += len(result.all())
        return inserted

    def _insert_new(self, rows: list[dict[str, Any]]) -> Any:
        """INSERT … ON CONFLICT (id) DO NOTHING RETURNING id in the engine's dialect (both spell it alike, from
        different constructs). The ids returned are the rows inserted: psycopg's rowcount of a multi-row insert
        is not to be relied on (-1 through the async adapter)."""
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        return insert(StoredEvent).values(rows).on_conflict_do_nothing(index_elements=["id"]).returning(StoredEvent.id)

    async def count(self, kind: str | None = None) -> int:
        statement = select(func.count()).select_from(StoredEvent)
        if kind is not None:
            statement = statement.where(StoredEvent.kind == kind)
        async with self.engine.connect() as connection:
            return int((await connection.execute(statement)).scalar_one())

    async def get(self, event_id: str) -> Event | None:
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(StoredEvent).where(StoredEvent.id == event_id))).one_or_none()
        if row is None:
            return None
        # SQLite keeps no zone: its datetimes come back naive, and they were written in UTC
        at = row.at if row.at.tzinfo is not None else row.at.replace(tzinfo=UTC)
        return Event(
            kind=cast(EventKind, row.kind),
            at=at.timestamp(),
            customer_id=row.customer_id,
            channel=row.channel,
            lang=row.lang,
            ref=row.ref,
            data=row.data,
            id=row.id,
        )
