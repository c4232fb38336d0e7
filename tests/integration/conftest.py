"""The real stack for integration tests: Redis, the trained Rasa model, the action server and the gateway,
started once per test session on their own ports and Redis databases (so a running `make run` is untouched)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
import redis

from zabota.stack import RedisLocation, Stack, StackSettings, free_port

# Redis databases used only by the tests; flushed before the stack starts.
TEST_DB_APP = 14
TEST_DB_RASA = 13


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    base = RedisLocation.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    settings = StackSettings(
        redis_url=base.url(db=TEST_DB_APP),
        rasa_db=TEST_DB_RASA,
        gateway_port=free_port(),
        rasa_port=free_port(),
        action_port=free_port(),
    )
    stack = Stack(settings)
    stack.start_redis()  # may start a private redis-server when REDIS_URL does not answer
    for db in (TEST_DB_APP, TEST_DB_RASA):
        redis.Redis.from_url(RedisLocation.from_url(stack.redis_url).url(db=db)).flushdb()
    try:
        stack.start_actions()
        stack.start_rasa()
        stack.start_gateway()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def gateway(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as client:
        yield client


@pytest.fixture()
def app_redis(stack: Stack) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    yield client
    client.close()
