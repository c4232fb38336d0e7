"""Fixtures for the gateway tests: the real Redis (database 15 only), a fake Rasa over real HTTP, the app."""

from __future__ import annotations

import sys
from pathlib import Path

# `pytest tests/gateway` does not put the repository root on sys.path (no tests/__init__.py); the Makefile
# exports PYTHONPATH, a bare run does not. `pythonpath = ["."]` in pyproject.toml would make this redundant.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from gateway_testkit import TEST_REDIS_URL, AppContext, FakeRasa, StartApp, make_settings, serve_fake_rasa
from redis.asyncio import Redis

from gateway.app import create_app
from zabota import redis_keys


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    with serve_fake_rasa() as fake:
        yield fake


@pytest.fixture(autouse=True)
def key_prefix(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every zabota key of this test under its own prefix.

    Database 15 is shared: the whole suite may run twice at once (a developer and CI, or two sessions), and
    a per-test prefix keeps one run's streams and counters out of another's assertions.
    """
    root = redis_keys.PREFIX  # read once: PREFIX itself is among the names rewritten below
    prefix = f"{root}test-{uuid.uuid4().hex[:12]}:"
    for name in dir(redis_keys):
        value = getattr(redis_keys, name)
        if name.isupper() and isinstance(value, str) and value.startswith(root):
            monkeypatch.setattr(redis_keys, name, prefix + value.removeprefix(root))
    assert redis_keys.REDELIVERY_LOCK.startswith(prefix)
    return prefix


@pytest.fixture
async def redis(key_prefix: str) -> AsyncIterator[Redis]:
    """Database 15 of the real Redis; this test's keys are deleted before and after (nobody else's)."""
    client = Redis.from_url(TEST_REDIS_URL, decode_responses=True)

    async def clean() -> None:
        keys = [key async for key in client.scan_iter(match=key_prefix + "*")]
        if keys:
            await client.delete(*keys)

    await clean()
    try:
        yield client
    finally:
        await clean()
        await client.aclose()


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
