"""SLA policy and the queue order it gives."""

from __future__ import annotations

import pytest
from handoffs_testkit import T0, FakeClock, make_summary
from redis.asyncio import Redis

from zabota.handoffs.sla import SlaPolicy, queue_score
from zabota.handoffs.store import HandoffRouter, HandoffStore


def test_defaults() -> None:
    sla = SlaPolicy()
    assert [sla.seconds(p) for p in ("p1", "p2", "p3", "p4")] == [300, 900, 7200, 86400]
    assert sla.reminder_interval == 300
    assert sla.due_at("p2", T0) == T0 + 900


def test_from_env_overrides_what_is_set() -> None:
    sla = SlaPolicy.from_env({"HANDOFF_SLA_P1": "60", "HANDOFF_SLA_P4": "3600", "HANDOFF_REMINDER_SECONDS": "30"})
    assert (sla.p1, sla.p2, sla.p3, sla.p4, sla.reminder_interval) == (60, 900, 7200, 3600, 30)
    assert SlaPolicy.from_env({}) == SlaPolicy()


def test_from_env_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOFF_SLA_P3", "1800")
    assert SlaPolicy.from_env().p3 == 1800


@pytest.mark.parametrize("value", ["soon", "0", "-5"])
def test_from_env_rejects_nonsense(value: str) -> None:
    with pytest.raises(ValueError, match="HANDOFF_SLA_P2"):
        SlaPolicy.from_env({"HANDOFF_SLA_P2": value})


def test_priority_first_then_earliest_due() -> None:
    # A p1 due in a year still comes before a p2 already overdue.
    assert queue_score("p1", T0 + 365 * 86400) < queue_score("p2", T0 - 3600)
    assert queue_score("p2", T0 + 86400 * 30) < queue_score("p3", T0)
    assert queue_score("p3", T0 + 10) < queue_score("p4", T0)
    assert queue_score("p2", T0) < queue_score("p2", T0 + 0.001)


async def test_the_queue_in_redis_is_ordered_by_priority_then_due(redis: Redis, clock: FakeClock) -> None:
    store = HandoffStore(redis, SlaPolicy(), clock=clock)
    opened = [
        ("c-p3-late", "p3", T0 + 100),
        ("c-p2-late", "p2", T0 + 50),
        ("c-p1", "p1", T0 + 200),
        ("c-p3-early", "p3", T0),
        ("c-p2-early", "p2", T0 - 500),
        ("c-p4", "p4", T0 - 10_000),
    ]
    for customer_id, priority, now in opened:
        await store.open(make_summary(customer_id, priority=priority, now=now))  # type: ignore[arg-type]
    await HandoffRouter(store, "r1").run_once()
    order = [h.customer_id for h in await store.queue()]
    assert order == ["c-p1", "c-p2-early", "c-p2-late", "c-p3-early", "c-p3-late", "c-p4"]
    assert [h.customer_id for h in await store.queue(limit=2)] == ["c-p1", "c-p2-early"]
