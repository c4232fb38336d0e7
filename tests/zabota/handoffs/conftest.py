"""Fixtures for the handoff tests: the real Redis (database 15 only), each test under its own key prefix."""

from __future__ import annotations

import sys
from pathlib import Path

# `pytest tests/zabota/handoffs` does not put the repository root on sys.path (no tests/__init__.py chain);
# the Makefile exports PYTHONPATH, a bare run does not.
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))


import pytest
from handoffs_testkit import FakeClock
from redis.asyncio import Redis

from zabota.handoffs.sla import SlaPolicy
from zabota.handoffs.store import HandoffStore


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sla() -> SlaPolicy:
    return SlaPolicy()


@pytest.fixture
def store(redis: Redis, sla: SlaPolicy, clock: FakeClock) -> HandoffStore:
    return HandoffStore(redis, sla, clock=clock)
