"""The real Redis for tests, isolated per test: database 15 only, every zabota key under a prefix of its own.

Database 15 is shared: the whole suite may run twice at once (a developer and CI, or two sessions), and a
per-test prefix keeps one run's streams, queues, counters and pub/sub events out of another's assertions.
A conftest makes these fixtures its own by importing them (``from tests.redis_isolation import key_prefix,
redis``); ``key_prefix`` is autouse there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from zabota import redis_keys

TEST_REDIS_URL = os.environ.get("ZABOTA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
assert TEST_REDIS_URL.rstrip("/").endswith("/15"), "tests must use Redis database 15 only"


@pytest.fixture(autouse=True)
def key_prefix(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every zabota key (and pub/sub channel) of this test under its own prefix."""
    root = redis_keys.PREFIX  # read once: PREFIX itself is among the names rewritten below
    prefix = f"{root}test-{uuid.uuid4().hex[:12]}:"
    for name in dir(redis_keys):
        value = getattr(redis_keys, name)
        if name.isupper() and isinstance(value, str) and value.startswith(root):
            monkeypatch.setattr(redis_keys, name, prefix + value.removeprefix(root))
    # Keys of every kind follow: plain constants and the ones the helper functions format at call time.
    assert redis_keys.REDELIVERY_LOCK.startswith(prefix)
    assert redis_keys.HANDOFF_QUEUE.startswith(prefix)
    assert redis_keys.conversation_handoff("c").startswith(prefix)
    assert redis_keys.identity("web:x").startswith(prefix)
    assert redis_keys.customer_intents("c").startswith(prefix)
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
