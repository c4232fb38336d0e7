"""Fixtures for the gateway tests: the real Redis (database 15 only), a fake Rasa over real HTTP, the app."""

from __future__ import annotations

import sys
from pathlib import Path

# `pytest tests/gateway` does not put the repository root on sys.path (no tests/__init__.py); the Makefile
# exports PYTHONPATH, a bare run does not. `pythonpath = ["."]` in pyproject.toml would make this redundant.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from gateway_testkit import AppContext, FakeRasa, StartApp, make_settings, serve_fake_rasa
from redis.asyncio import Redis

from gateway.app import create_app
from tests import redis_isolation

# The real Redis, isolated per test (tests/redis_isolation.py): ``key_prefix`` (autouse) and ``redis``.
key_prefix = redis_isolation.key_prefix
redis = redis_isolation.redis


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
