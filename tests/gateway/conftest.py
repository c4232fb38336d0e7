"""Fixtures for the gateway tests: the real Redis (database 15 only), a fake Rasa over real HTTP, the app."""

from __future__ import annotations

import sys
from pathlib import Path

# `pytest tests/gateway` does not put the repository root on sys.path (no tests/__init__.py); the Makefile
# exports PYTHONPATH, a bare run does not. `pythonpath = ["."]` in pyproject.toml would make this redundant.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import gateway_testkit
import httpx
import pytest
import redis as redis_sync
import sqlalchemy
from gateway_testkit import AppContext, FakeRasa, StartApp, make_settings, serve_fake_rasa, sync_redis
from redis.asyncio import Redis

from gateway.app import create_app
from tests import redis_isolation
from zabota.records import RecordsSettings
from zabota.records.migrate import upgrade
from zabota.records.schema import Base

# The real Redis, isolated per test (tests/redis_isolation.py): ``key_prefix`` (autouse) and ``redis``.
key_prefix = redis_isolation.key_prefix
redis = redis_isolation.redis


@pytest.fixture(scope="session", autouse=True)
def gateway_database(make_database: Callable[[], RecordsSettings]) -> str:
    """The system of record every app of these tests uses: one migrated database of the tests' own."""
    settings = make_database()
    upgrade(settings)
    gateway_testkit.TEST_DATABASE_URL = settings.url
    return settings.url


@pytest.fixture
def empty_records(gateway_database: str) -> Iterator[None]:
    """For the tests that write to the system of record: its tables emptied after the test."""
    yield
    engine = sqlalchemy.create_engine(RecordsSettings(gateway_database).sync_url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
    finally:
        engine.dispose()


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    with serve_fake_rasa() as fake:
        yield fake


@pytest.fixture
async def start_app(redis: Redis) -> AsyncIterator[StartApp]:
    """``async with start_app(**settings_overrides) as ctx``: the app with its lifespan, and an HTTP client."""

    @asynccontextmanager
    async def _start(**overrides: Any) -> AsyncIterator[AppContext]:
        app = create_app(make_settings(**overrides))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
                yield AppContext(app, client)

    yield _start


@pytest.fixture
def store(key_prefix: str) -> Iterator[redis_sync.Redis]:
    """A synchronous client on the test's key prefix, for tests that drive the app with Starlette's TestClient."""
    with sync_redis(key_prefix) as client:
        yield client
