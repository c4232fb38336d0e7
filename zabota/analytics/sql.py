"""The SQL the figures share (SQLAlchemy Core), spelled for both databases of the system of record where they
differ: the UTC day of a time, seconds between two times, a time 72 h later, the elements of a JSON array, and
percentiles (PostgreSQL's ``percentile_cont``; SQLite has none, so its values are read, sorted, and
interpolated here the same way)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, Float, Select, String, case, cast, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import TableValuedAlias

from zabota.analytics.model import Percentiles
from zabota.records.schema import Customer, StoredEvent

customers = Customer.__table__
events = StoredEvent.__table__


def utc(moment: datetime) -> datetime:
    """Aware and in UTC (a naive time is taken as UTC): SQLite stores the wall time it is given."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class Scope:
    """What one query is about: the window [since, until) in UTC, the moment it is seen at, the filters, and the
    database's dialect (``sqlite`` or ``postgresql``)."""

    dialect: str
    since: datetime
    until: datetime
    now: datetime
    channel: str | None = None
    lang: str | None = None
    segment: str | None = None

    @property
    def postgres(self) -> bool:
        return self.dialect == "postgresql"

    def days(self) -> list[date]:
        """Every UTC date the window touches, in order."""
        first, last = self.since.date(), (self.until - timedelta(microseconds=1)).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def customers_where(*, lang: str | None = None, segment: str | None = None) -> Select[Any] | None:
    """The ids of the customers of a language and/or segment (customers table), or None without either."""
    conditions = []
    if lang is not None:
        conditions.append(customers.c.language == lang)
    if segment is not None:
        conditions.append(customers.c.segment == segment)
    return select(customers.c.id).where(*conditions) if conditions else None


def event_filters(scope: Scope, kind: str | Sequence[str], table: Any = events) -> list[ColumnElement[bool]]:
    """Events of ``kind`` in the window, of the scope's channel and language (the event's own) and segment
    (its customer's)."""
    kinds = [kind] if isinstance(kind, str) else list(kind)
    conditions: list[ColumnElement[bool]] = [
        table.c.kind == kinds[0] if len(kinds) == 1 else table.c.kind.in_(kinds),
        table.c.at >= scope.since,
        table.c.at < scope.until,
    ]
    if scope.channel is not None:
        conditions.append(table.c.channel == scope.channel)
    if scope.lang is not None:
        conditions.append(table.c.lang == scope.lang)
    segment = customers_where(segment=scope.segment)
    if segment is not None:
        conditions.append(table.c.customer_id.in_(segment))
    return conditions


def field_text(table: Any, name: str) -> ColumnElement[str]:
    """``data.name`` as text (a JSON number or boolean too: SQLite gives those back as numbers, cast here)."""
    value: ColumnElement[str] = cast(table.c.data[name].as_string(), String)
    return value


def field_number(table: Any, name: str) -> ColumnElement[float]:
    value: ColumnElement[float] = table.c.data[name].as_float()
    return value


def field_true(table: Any, name: str) -> ColumnElement[bool]:
    """``data.name`` is JSON true."""
    result: ColumnElement[bool] = table.c.data[name].as_boolean() == True  # noqa: E712 (SQL, not Python)
    return result


def field_false(table: Any, name: str) -> ColumnElement[bool]:
    result: ColumnElement[bool] = table.c.data[name].as_boolean() == False  # noqa: E712
    return result


def day_of(scope: Scope, column: Any) -> ColumnElement[Any]:
    """The UTC date of a time column (SQLite: text 'YYYY-MM-DD'; PostgreSQL: a date; ``as_date`` reads both)."""
    if scope.postgres:
        return cast(func.timezone("UTC", column), Date)
    result: ColumnElement[Any] = func.date(column)
    return result


def as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def as_utc(value: Any) -> datetime:
    """A time column's value as an aware UTC datetime (SQLite gives naive ones, written in UTC)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return utc(value)


def seconds_between(scope: Scope, earlier: Any, later: Any) -> ColumnElement[float]:
    if scope.postgres:
        return cast(func.extract("epoch", later - earlier), Float)
    result: ColumnElement[float] = (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return result


def hours_after(scope: Scope, column: Any, hours: int) -> ColumnElement[Any]:
    """``column`` + ``hours``, comparable with the same table's times (SQLite: text in SQLAlchemy's storage
    format, to the millisecond)."""
    if scope.postgres:
        result: ColumnElement[Any] = column + timedelta(hours=hours)
        return result
    return func.strftime("%Y-%m-%d %H:%M:%f000", column, f"+{hours} hours")


def elements(scope: Scope, column: Any, key: str | None = None) -> TableValuedAlias:
    """The elements of a JSON array (the column itself, or its ``key``) as a table with one column ``value``
    (text), for a join ``ON true``. PostgreSQL: anything that is not an array has no elements (rather than an
    error for the whole query)."""
    if scope.postgres:
        array = column if key is None else column[key]
        guarded = case((func.json_typeof(array) == "array", array), else_=literal_column("'[]'::json"))
        return func.json_array_elements_text(guarded).table_valued("value")
    if key is None:
        return func.json_each(column).table_valued("value")
    return func.json_each(column, f'$."{key}"').table_valued("value")


def percentile(values: Sequence[float], fraction: float) -> float:
    """``percentile_cont``: linear interpolation between the two nearest of the sorted ``values``."""
    position = (len(values) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


@dataclass(frozen=True)
class Spread:
    """``distributions``' answer: in all, per group, and how many rows there were (a null value included)."""

    overall: Percentiles
    by_group: dict[Any, Percentiles]
    rows: int


async def distributions(connection: AsyncConnection, scope: Scope, values: Select[Any]) -> Spread:
    """``values``: a select of a column ``v`` (seconds, null where there is none) and, optionally, ``g`` (a
    group, e.g. a day). The median and 90th percentile of its non-null values, in all and per group (empty
    without ``g``). ``v`` is evaluated once a row (no ``WHERE v IS NOT NULL``, which would compute it twice):
    PostgreSQL's aggregates skip nulls, SQLite's rows are filtered here."""
    sub = values.subquery()
    grouped = "g" in sub.c
    if scope.postgres:
        aggregates = (
            func.count(),
            func.count(sub.c.v),
            func.percentile_cont(0.5).within_group(sub.c.v),
            func.percentile_cont(0.9).within_group(sub.c.v),
        )
        if not grouped:
            rows, n, p50, p90 = (await connection.execute(select(*aggregates))).one()
            return Spread(Percentiles(int(n), _seconds(p50), _seconds(p90)), {}, int(rows))
        by_group: dict[Any, Percentiles] = {}
        rows = 0
        for g, group_rows, n, p50, p90 in await connection.execute(select(sub.c.g, *aggregates).group_by(sub.c.g)):
            rows += int(group_rows)
            by_group[g] = Percentiles(int(n), _seconds(p50), _seconds(p90))
        overall = (await connection.execute(select(*aggregates[1:]))).one() if by_group else (0, None, None)
        return Spread(Percentiles(int(overall[0]), _seconds(overall[1]), _seconds(overall[2])), by_group, rows)
    every: list[float] = []
    values_of: dict[Any, list[float]] = defaultdict(list)
    rows = 0
    for row in await connection.execute(select(sub.c.v, sub.c.g) if grouped else select(sub.c.v)):
        rows += 1
        if row[0] is None:
            continue
        every.append(float(row[0]))
        if grouped:
            values_of[row[1]].append(float(row[0]))
    every.sort()
    return Spread(_of(every), {g: _of(sorted(vs)) for g, vs in values_of.items()}, rows)


def _of(values: Sequence[float]) -> Percentiles:
    if not values:
        return Percentiles()
    return Percentiles(len(values), _seconds(percentile(values, 0.5)), _seconds(percentile(values, 0.9)))
