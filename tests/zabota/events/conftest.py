"""The events' tests: the real Redis (isolated per test by tests/zabota/conftest.py) and the system of record,
migrated once for the session: on the real PostgreSQL when it answers (tests/records_database.py), and always
on a SQLite file too, for the tests that run on both dialects."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.records_database import migrated_engine, sqlite_settings
from zabota.events.store import EventStore
from zabota.records import RecordsSettings
from zabota.records.schema import StoredEvent


@pytest.fixture(scope="session")
async def events_engine(make_database: Callable[[], RecordsSettings]) -> AsyncIterator[AsyncEngine]:
    async with migrated_engine(make_database()) as engine:
        yield engine


@pytest.fixture(scope="session")
async def sqlite_events_engine(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AsyncEngine]:
    async with migrated_engine(sqlite_settings(tmp_path_factory.mktemp("events"))) as engine:
        yield engine


async def _emptied(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(delete(StoredEvent))


@pytest.fixture
async def store(events_engine: AsyncEngine) -> AsyncIterator[EventStore]:
    """The session's database (PostgreSQL when it answers), its events deleted after each test."""
    yield EventStore(events_engine)
    await _emptied(events_engine)


@pytest.fixture(params=["session", "sqlite"])
async def any_store(
    request: pytest.FixtureRequest, events_engine: AsyncEngine, sqlite_events_engine: AsyncEngine
) -> AsyncIterator[EventStore]:
    """The same tests on the session's database and on SQLite: the insert is spelled per dialect."""
    engine = events_engine if request.param == "session" else sqlite_events_engine
    yield EventStore(engine)
    await _emptied(engine)
