"""The analytics' tests: the same figures on the real PostgreSQL server (tests/records_database.py; SQLite files
when none answers) and on a SQLite file, each migrated once for the session and emptied after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.records_database import migrated_engine, sqlite_settings
from zabota.records import RecordsSettings
from zabota.records.schema import Base


@pytest.fixture(scope="session")
async def analytics_engine(make_database: Callable[[], RecordsSettings]) -> AsyncIterator[AsyncEngine]:
    async with migrated_engine(make_database()) as engine:
        yield engine


@pytest.fixture(scope="session")
async def sqlite_analytics_engine(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AsyncEngine]:
    async with migrated_engine(sqlite_settings(tmp_path_factory.mktemp("analytics"))) as engine:
        yield engine


@pytest.fixture(params=["session", "sqlite"])
async def engine(
    request: pytest.FixtureRequest, analytics_engine: AsyncEngine, sqlite_analytics_engine: AsyncEngine
) -> AsyncIterator[AsyncEngine]:
    """The session's database (PostgreSQL when it answers), then SQLite; every table emptied after the test."""
    chosen = analytics_engine if request.param == "session" else sqlite_analytics_engine
    yield chosen
    async with chosen.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(delete(table))
