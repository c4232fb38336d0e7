"""Test setup shared by the action tests: the repository on sys.path, the action server's Redis on db 15."""

from __future__ import annotations

import sys
from pathlib import Path

# `pytest tests/actions` does not put the repository root on sys.path: like tests/zabota and tests/kb_index, this
# directory has no __init__.py (see tests/zabota/conftest.py). The Makefile exports PYTHONPATH, a bare run does
# not; `pythonpath = ["."]` in pyproject.toml would make this redundant.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from collections.abc import AsyncIterator

import pytest
from actions_testkit import TEST_REDIS_URL
from redis.asyncio import Redis
from redis.exceptions import RedisError

from actions.settings import close_redis


@pytest.fixture
async def redis_db15(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Redis]:
    """Database 15 of the real Redis, flushed before and after; the actions' client points at it."""
    client = Redis.from_url(TEST_REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError):
        await client.aclose()
        pytest.skip("no Redis at 127.0.0.1:6379")
    await client.flushdb()
    monkeypatch.setenv("REDIS_URL", TEST_REDIS_URL)
    await close_redis()
    try:
        yield client
    finally:
        await close_redis()
        await client.flushdb()
        await client.aclose()
