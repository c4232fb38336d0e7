"""Databases of the tests' own for the system of record: on the real PostgreSQL server when one answers
(127.0.0.1:5432, database ``test`` to connect through; ``ZABOTA_TEST_POSTGRES_URL`` overrides), else SQLite
files. Every database here is created by the tests and dropped by them: nothing else on the server is touched.
``make test`` prints which one the session used (the root conftest's terminal summary)."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from zabota.records import RecordsSettings, create_engine
from zabota.records.migrate import upgrade

POSTGRES_URL = os.environ.get("ZABOTA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
# where the session's system-of-record tests ran, for the terminal summary
DATABASE_USED = pytest.StashKey[str]()


def _postgres_answers() -> bool:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@pytest.fixture(scope="session")
def make_database(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], RecordsSettings]]:
    """Creates empty databases (not migrated) on demand; drops each at the end of the session."""
    on_postgres = _postgres_answers()
    where = (
        f"PostgreSQL ({POSTGRES_URL.rsplit('@', 1)[-1]})" if on_postgres else "SQLite files (no PostgreSQL answered)"
    )
    pytestconfig.stash[DATABASE_USED] = where
    created: list[str] = []

    def make() -> RecordsSettings:
        if not on_postgres:
            path = tmp_path_factory.mktemp("records") / "zabota.sqlite3"
            return RecordsSettings(f"sqlite:///{path}")
        name = f"zabota_records_{secrets.token_hex(6)}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return RecordsSettings(POSTGRES_URL.rsplit("/", 1)[0] + "/" + name)

    yield make
    if created:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            for name in created:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.asynccontextmanager
async def migrated_engine(settings: RecordsSettings) -> AsyncIterator[AsyncEngine]:
    """An engine on ``settings``' database, migrated to the newest revision first; disposed at the end."""
    upgrade(settings)
    engine = create_engine(settings)
    try:
        yield engine
    finally:
        await engine.dispose()


def sqlite_settings(folder: Path) -> RecordsSettings:
    return RecordsSettings(f"sqlite:///{folder / 'records.sqlite3'}")
