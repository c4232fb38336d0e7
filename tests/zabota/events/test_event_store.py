"""The events table's store, on the session's database (PostgreSQL when it answers) and on SQLite."""

from __future__ import annotations

import math

import pytest

from zabota.events import Event
from zabota.events.store import ROWS_PER_STATEMENT, EventStore, check_storable


def _event(n: int, **overrides: object) -> Event:
    values: dict[str, object] = {
        "kind": "message_in",
        "at": 1_765_000_000.25 + n,
        "customer_id": "c-0123456789abcdef",
        "channel": "webchat",
        "lang": "ru",
        "ref": f"m-{n}",
        "data": {"role": "customer", "text": "Не работает интернет, счёт [ACCOUNT]", "chars": 38},
    }
    values.update(overrides)
    return Event(**values)  # type: ignore[arg-type]


async def test_an_event_is_stored_as_it_was_emitted(any_store: EventStore) -> None:
    event = _event(1)
    assert await any_store.insert_events([event]) == 1
    stored = await any_store.get(event.id)
    assert stored is not None
    assert stored.at == pytest.approx(event.at, abs=1e-5)
    assert stored == Event(**{**event.__dict__, "at": stored.at})  # every other field exactly


async def test_an_event_without_customer_or_channel_is_stored(any_store: EventStore) -> None:
    # no foreign key: an event may come before its customer's row, or with no customer at all
    event = Event("handoff_sla_missed", 1_765_000_000.0, ref="h-1", data={})
    assert await any_store.insert_events([event]) == 1
    assert await any_store.get(event.id) == event


async def test_a_replayed_event_is_not_stored_twice(any_store: EventStore) -> None:
    first = [_event(n) for n in range(3)]
    assert await any_store.insert_events(first) == 3
    # the same three again with two new ones, and one new one twice in the same batch
    again = [*first, _event(3), _event(4)]
    assert await any_store.insert_events([*again, again[-1]]) == 2
    assert await any_store.insert_events(again) == 0
    assert await any_store.count() == 5


async def test_a_batch_larger_than_one_statement_is_counted_whole(any_store: EventStore) -> None:
    events = [_event(n, kind="triage" if n % 2 else "message_in") for n in range(ROWS_PER_STATEMENT * 2 + 7)]
    assert await any_store.insert_events(events[:ROWS_PER_STATEMENT]) == ROWS_PER_STATEMENT
    assert await any_store.insert_events(events) == len(events) - ROWS_PER_STATEMENT
    assert await any_store.count() == len(events)
    assert await any_store.count("triage") == len(events) // 2
    assert await any_store.count("survey_answer") == 0


async def test_nothing_is_empty(any_store: EventStore) -> None:
    assert await any_store.insert_events([]) == 0
    assert await any_store.count() == 0
    assert await any_store.get("e-0000000000000000") is None


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"channel": "x" * 33}, "channel longer than 32"),
        ({"ref": "r" * 129}, "ref longer than 128"),
        ({"customer_id": "c-\x00"}, "NUL"),
        ({"lang": "\ud800"}, "surrogate"),
        ({"data": {"score": math.nan}}, "NaN"),
        ({"data": {"text": "\udcff"}}, "surrogate"),
        ({"at": math.inf}, "not a date"),
        ({"at": 1e20}, "not a date"),
    ],
)
def test_what_the_database_would_refuse_is_refused_before(overrides: dict[str, object], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_storable(_event(1, **overrides))


def test_a_storable_event_passes_the_check() -> None:
    check_storable(_event(1, data={"text": "NUL \x00 inside JSON is escaped", "nested": {"list": [1, 2.5, None]}}))
