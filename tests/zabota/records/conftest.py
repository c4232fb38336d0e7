"""The system of record's tests: one migrated database for the session (tests/records_database.py), emptied
after each test; the migration tests make their own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from zabota.records import CustomerRecords, RecordsSettings, create_engine
from zabota.records.migrate import upgrade
from zabota.records.schema import Base


@pytest.fixture(scope="session")
def migrated(make_database: Callable[[], RecordsSettings]) -> RecordsSettings:
    settings = make_database()
    upgrade(settings)
    return settings


@pytest.fixture(scope="session")
async def engine(migrated: RecordsSettings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(migrated)
    yield engine
    await engine.dispose()


@pytest.fixture
async def records(engine: AsyncEngine) -> AsyncIterator[CustomerRecords]:
    """The session's database, emptied after each test."""
    yield CustomerRecords(engine)
    async with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(delete(table))


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> RecordsSettings:
    return RecordsSettings(f"sqlite:///{tmp_path / 'records.sqlite3'}")
