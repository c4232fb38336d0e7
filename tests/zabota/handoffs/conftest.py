"""Fixtures for the handoff tests: the real Redis (database 15 only), each test under its own key prefix."""

from __future__ import annotations

import sys
from pathlib import Path

# `pytest tests/zabota/handoffs` does not put the repository root on sys.path (no tests/__init__.py chain);
# the Makefile exports PYTHONPATH, a bare run does not.
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

import uuid
from collections.abc import AsyncIterator

import pytest
from handoffs_testkit import TEST_REDIS_URL, FakeClock
from redis.asyncio import Redis

from zabota import redis_keys
from zabota.handoffs.sla import SlaPolicy
from zabota.handoffs.store import HandoffStore


@pytest.fixture(autouse=True)
def key_prefix(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every zabota key (and pub/sub channel) of this test under its own prefix.

    Database 15 is shared: the whole suite may run twice at once (a developer and CI, or two sessions), and
    a per-test prefix keeps one run's streams, queues and events out of another's assertions.
    """
    root = redis_keys.PREFIX  # read once: PREFIX itself is among the names rewritten below
    prefix = f"{root}test-{uuid.uuid4().hex[:12]}:"
    for name in dir(redis_keys):
        value = getattr(redis_keys, name)
        if name.isupper() and isinstance(value, str) and value.startswith(root):
            monkeypatch.setattr(redis_keys, name, prefix + value.removeprefix(root))
    assert redis_keys.HANDOFF_QUEUE.startswith(prefix)
    assert redis_keys.conversation_handoff("c").startswith(prefix)
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
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sla() -> SlaPolicy:
    return SlaPolicy()


@pytest.fixture
def store(redis: Redis, sla: SlaPolicy, clock: FakeClock) -> HandoffStore:
    return HandoffStore(redis, sla, clock=clock)
