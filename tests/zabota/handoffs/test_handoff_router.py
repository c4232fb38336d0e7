"""HandoffRouter against the real Redis: consumer group, routing, idempotence, restarts and the run loop."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from handoffs_testkit import T0, Events, FakeClock, add_entry, make_summary, stream_entries, wait_for
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from zabota import redis_keys
from zabota.handoffs.sla import SlaPolicy
from zabota.handoffs.store import HandoffRouter, HandoffStore

GROUP = redis_keys.HANDOFF_CONSUMER_GROUP


async def _pending(redis: Redis) -> int:
    info = await redis.xpending(redis_keys.HANDOFF_STREAM, GROUP)
    return int(info["pending"])


async def test_group_is_created_on_an_empty_stream_and_twice_is_fine(store: HandoffStore, redis: Redis) -> None:
    assert await HandoffRouter(store, "r1").run_once() == 0
    assert await HandoffRouter(store, "r2").run_once() == 0  # BUSYGROUP ignored
    groups = await redis.xinfo_groups(redis_keys.HANDOFF_STREAM)
    assert [g["name"] for g in groups] == [GROUP]


async def test_routes_a_handoff_opened_before_the_group_existed(store: HandoffStore, redis: Redis) -> None:
    handoff_id = await store.open(make_summary("cust-1", priority="p2"))
    low = await store.open(make_summary("cust-2", priority="p3"))
    async with Events(redis, redis_keys.OPERATOR_EVENTS) as events:
        assert await HandoffRouter(store, "r1").run_once() == 2
        received = [event for _, event in await events.drain()]
    assert [h.handoff_id for h in await store.queue()] == [handoff_id, low]
    handoff = await store.get(handoff_id)
    assert handoff is not None and handoff.routed
    assert received[0] == {
        "type": "handoff_new",
        "handoff_id": handoff_id,
        "customer_id": "cust-1",
        "state": "queued",
        "priority": "p2",
        "intent": "fraud_report",
        "sensitive": True,
        "channel": "webchat",
        "language": "ru",
        "created_at": T0,
        "due_at": T0 + 900,
        "urgent": True,
    }
    assert received[1]["handoff_id"] == low and received[1]["urgent"] is False
    assert await _pending(redis) == 0


async def test_a_redelivered_entry_changes_nothing(store: HandoffStore, redis: Redis) -> None:
    handoff_id = await store.open(make_summary("cust-1"))
    router = HandoffRouter(store, "r1")
    await router.run_once()
    await store.claim(handoff_id, "op-1", "operator")
    # The same intake entry again (a producer retried, or an entry replayed after a crash).
    fields = (await stream_entries(redis))[0][1]
    await add_entry(redis, fields)
    async with Events(redis, redis_keys.OPERATOR_EVENTS) as events:
        assert await router.run_once() == 1
        assert await events.drain() == []
    assert await redis.zcard(redis_keys.HANDOFF_QUEUE) == 1
    handoff = await store.get(handoff_id)
    assert handoff is not None and (handoff.state, handoff.assignee) == ("claimed", "op-1")
    assert await _pending(redis) == 0


async def test_a_restarted_router_routes_the_entries_it_had_read(store: HandoffStore, redis: Redis) -> None:
    first = HandoffRouter(store, "r1")
    await first.ensure_group()
    handoff_id = await store.open(make_summary("cust-1"))
    # The first instance read the entry and died before routing it: the entry is pending for consumer r1.
    await redis.xreadgroup(GROUP, "r1", {redis_keys.HANDOFF_STREAM: ">"}, count=10)
    assert await _pending(redis) == 1
    assert await redis.zcard(redis_keys.HANDOFF_QUEUE) == 0
    restarted = HandoffRouter(store, "r1")
    assert await restarted.run_once() == 1
    assert [h.handoff_id for h in await store.queue()] == [handoff_id]
    assert await _pending(redis) == 0


async def test_entries_of_a_dead_consumer_are_taken_over_once_idle(store: HandoffStore, redis: Redis) -> None:
    await HandoffRouter(store, "r1").ensure_group()
    handoff_id = await store.open(make_summary("cust-1"))
    await redis.xreadgroup(GROUP, "dead", {redis_keys.HANDOFF_STREAM: ">"}, count=10)
    # Not idle long enough for the default (a live router may be working on it).
    assert await HandoffRouter(store, "r2").run_once() == 0
    assert await _pending(redis) == 1
    assert await HandoffRouter(store, "r2", claim_idle_ms=0).run_once() == 1
    assert [h.handoff_id for h in await store.queue()] == [handoff_id]
    assert await _pending(redis) == 0


async def test_an_unreadable_entry_is_acknowledged_and_does_not_block(store: HandoffStore, redis: Redis) -> None:
    # The old zabota.handoff format: no handoff_id.
    await redis.xadd(
        redis_keys.HANDOFF_STREAM, {"conversation_id": "c", "priority": "p3", "intent": "x", "record": "{}"}
    )
    await redis.xadd(redis_keys.HANDOFF_STREAM, {"handoff_id": "h-broken", "record": "not json"})
    handoff_id = await store.open(make_summary("cust-1"))
    assert await HandoffRouter(store, "r1").run_once() == 3
    assert [h.handoff_id for h in await store.queue()] == [handoff_id]
    assert await _pending(redis) == 0
    assert await redis.xlen(redis_keys.HANDOFF_STREAM) == 3  # acknowledged, not deleted: still there to inspect


async def test_an_entry_without_a_record_is_built_from_its_summary(store: HandoffStore, redis: Redis) -> None:
    summary = make_summary("cust-9", priority="p1")
    fields = {
        "handoff_id": summary.handoff_id,
        "customer_id": "cust-9",
        "priority": "p1",
        "record": json.dumps(summary.to_dict(), ensure_ascii=False),
    }
    await add_entry(redis, fields)
    assert await HandoffRouter(store, "r1").run_once() == 1
    handoff = await store.get(summary.handoff_id)
    assert handoff is not None and handoff.summary == summary and handoff.state == "queued" and handoff.routed
    assert [h.handoff_id for h in await store.queue()] == [summary.handoff_id]


async def test_a_handoff_finished_before_routing_is_not_queued(store: HandoffStore, redis: Redis) -> None:
    handoff_id = await store.open(make_summary("cust-1"))
    await store.close(handoff_id, "lead-1", "lead", "customer left")
    async with Events(redis, redis_keys.OPERATOR_EVENTS) as events:
        assert await HandoffRouter(store, "r1").run_once() == 1
        assert await events.drain() == []
    assert await redis.zcard(redis_keys.HANDOFF_QUEUE) == 0
    assert await _pending(redis) == 0


async def test_a_deleted_stream_gets_its_group_back(store: HandoffStore, redis: Redis) -> None:
    router = HandoffRouter(store, "r1")
    await router.run_once()
    await redis.delete(redis_keys.HANDOFF_STREAM)
    with pytest.raises(ResponseError):
        await router.run_once()
    assert await router.run_once() == 0
    await store.open(make_summary("cust-1"))
    assert await router.run_once() == 1


async def test_run_routes_and_reminds_until_stopped(store: HandoffStore, redis: Redis, clock: FakeClock) -> None:
    stop = asyncio.Event()
    router = HandoffRouter(store, "r1", reminder_every_seconds=0)
    async with Events(redis, redis_keys.OPERATOR_EVENTS) as events:
        task = asyncio.create_task(router.run(stop, block_ms=50))
        handoff_id = await store.open(make_summary("cust-1", priority="p1"))

        async def queued() -> bool:
            return bool(await store.queue())

        await wait_for(queued)
        clock.advance(301)  # past the p1 due time

        async def reminded() -> bool:
            handoff = await store.get(handoff_id)
            return handoff is not None and handoff.reminded_at is not None

        await wait_for(reminded)
        stop.set()
        await asyncio.wait_for(task, timeout=5)
        types = [event["type"] for _, event in await events.drain()]
    assert types == ["handoff_new", "reminder"]


async def test_run_survives_redis_being_unreachable(clock: FakeClock) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    unreachable = Redis.from_url(f"redis://127.0.0.1:{port}/15", decode_responses=True)
    try:
        router = HandoffRouter(HandoffStore(unreachable, SlaPolicy(), clock=clock), "r1")
        stop = asyncio.Event()
        task = asyncio.create_task(router.run(stop, block_ms=50))
        await asyncio.sleep(0.8)  # at least two failed rounds with a back-off between them
        assert not task.done()
        stop.set()
        await asyncio.wait_for(task, timeout=5)  # returns, does not raise
    finally:
        await unreachable.aclose()
