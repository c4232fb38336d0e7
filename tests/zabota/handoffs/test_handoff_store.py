"""HandoffStore against the real Redis: opening, operator actions, events and reminders."""

from __future__ import annotations

import asyncio
import json

import pytest
from handoffs_testkit import CARD, T0, Events, FakeClock, make_summary, stream_entries
from redis.asyncio import Redis

from zabota import redis_keys
from zabota.handoffs.sla import queue_score
from zabota.handoffs.store import (
    Handoff,
    HandoffConflict,
    HandoffForbidden,
    HandoffNotFound,
    HandoffRouter,
    HandoffStore,
)
from zabota.handoffs.summary import HandoffSummary
from zabota.redaction import CARD_MASK


async def _open_routed(store: HandoffStore, customer_id: str = "cust-1", **kwargs: object) -> str:
    handoff_id = await store.open(make_summary(customer_id, **kwargs))  # type: ignore[arg-type]
    await HandoffRouter(store, "router-test").run_once()
    return handoff_id


async def _get(store: HandoffStore, handoff_id: str) -> Handoff:
    handoff = await store.get(handoff_id)
    assert handoff is not None
    return handoff


# --- Opening ------------------------------------------------------------------------------------------------------


async def test_open_writes_record_pointer_and_intake_entry(store: HandoffStore, redis: Redis) -> None:
    summary = make_summary("cust-1", priority="p2")
    handoff_id = await store.open(summary)
    assert handoff_id == summary.handoff_id
    assert await store.active_for_customer("cust-1") == handoff_id
    assert await redis.get(redis_keys.conversation_handoff("cust-1")) == handoff_id

    handoff = await _get(store, handoff_id)
    assert (handoff.state, handoff.priority, handoff.assignee, handoff.routed) == ("queued", "p2", None, False)
    assert handoff.due_at == summary.due_at
    assert handoff.summary == summary
    assert [e.action for e in handoff.log] == ["opened"]

    entries = await stream_entries(redis)
    assert len(entries) == 1
    fields = entries[0][1]
    assert (fields["handoff_id"], fields["customer_id"], fields["priority"]) == (handoff_id, "cust-1", "p2")
    assert HandoffSummary.from_dict(json.loads(fields["record"])) == summary
    # Not queued until the router has seen it.
    assert await redis.zcard(redis_keys.HANDOFF_QUEUE) == 0


async def test_no_active_handoff_for_an_unknown_customer(store: HandoffStore) -> None:
    assert await store.active_for_customer("nobody") is None
    assert await store.get("nothing") is None


async def test_second_open_returns_the_active_one_and_notes_the_reasons(store: HandoffStore, redis: Redis) -> None:
    first = await store.open(make_summary("cust-1", priority="p3"))
    again = make_summary("cust-1", priority="p4", now=T0 + 60, reasons=(("anger", "caps and insults"),))
    assert await store.open(again) == first
    assert await redis.xlen(redis_keys.HANDOFF_STREAM) == 1
    handoff = await _get(store, first)
    assert handoff.priority == "p3"  # p4 is less urgent: unchanged
    assert len(handoff.notes) == 1
    assert handoff.notes[0].author == "system"
    assert "anger: caps and insults" in handoff.notes[0].text
    assert handoff.notes[0].text.startswith("Повторная эскалация")


async def test_a_more_urgent_repeat_raises_the_priority_of_the_queued_handoff(
    store: HandoffStore, redis: Redis, clock: FakeClock
) -> None:
    first = await _open_routed(store, "cust-1", priority="p3")
    clock.advance(60)
    async with Events(redis, redis_keys.OPERATOR_EVENTS) as events:
        assert await store.open(make_summary("cust-1", priority="p1", now=clock.now)) == first
        received = await events.drain()
    handoff = await _get(store, first)
    assert handoff.priority == "p1"
    assert handoff.due_at == clock.now + 300
    assert await redis.zscore(redis_keys.HANDOFF_QUEUE, first) == queue_score("p1", clock.now + 300)
    assert [e.action for e in handoff.log] == ["opened", "escalated"]
    assert received == [
        (
            redis_keys.OPERATOR_EVENTS,
            {
                "type": "handoff_updated",
                "handoff_id": first,
                "state": "queued",
                "assignee": None,
                "priority": "p1",
                "due_at": clock.now + 300,
                "change": "escalated",
                "urgent": True,
            },
        )
    ]


async def test_after_close_the_customer_gets_a_new_handoff(store: HandoffStore) -> None:
    first = await _open_routed(store, "cust-1")
    await store.close(first, "op-1", "operator", "done")
    second = await store.open(make_summary("cust-1", now=T0 + 10))
    assert second != first
    assert await store.active_for_customer("cust-1") == second


async def test_reusing_a_handoff_id_is_refused(store: HandoffStore) -> None:
    summary = make_summary("cust-1", handoff_id="same")
    await store.open(summary)
    await store.close("same", "op-1", "operator", "done")
    with pytest.raises(HandoffConflict) as raised:
        await store.open(summary)
    assert raised.value.reason == "id_exists"


async def test_a_stale_pointer_does_not_block_a_new_handoff(store: HandoffStore, redis: Redis) -> None:
    await redis.set(redis_keys.conversation_handoff("cust-1"), "vanished")
    handoff_id = await store.open(make_summary("cust-1"))
    assert handoff_id != "vanished"
    assert await store.active_for_customer("cust-1") == handoff_id


# --- Claiming -----------------------------------------------------------------------------------------------------


async def test_claim_publishes_to_operators_and_to_the_customer(store: HandoffStore, redis: Redis) -> None:
    handoff_id = await _open_routed(store, "cust-1")
    async with Events(redis, redis_keys.OPERATOR_EVENTS, redis_keys.conversation_events("cust-1")) as events:
        claimed = await store.claim(handoff_id, "op-1", "operator", operator_name="Анна")
        received = await events.drain()
    assert (claimed.state, claimed.assignee, claimed.assignee_name) == ("claimed", "op-1", "Анна")
    assert await _get(store, handoff_id) == claimed
    assert received == [
        (
            redis_keys.OPERATOR_EVENTS,
            {
                "type": "handoff_updated",
                "handoff_id": handoff_id,
                "state": "claimed",
                "assignee": "op-1",
                "priority": "p2",
                "due_at": claimed.due_at,
                "change": "claimed",
                "urgent": True,
            },
        ),
        (
            redis_keys.conversation_events("cust-1"),
            {"type": "handoff_status", "handoff_id": handoff_id, "state": "claimed", "operator_name": "Анна"},
        ),
    ]
    # Claimed handoffs stay in the queue (the leads see who has what).
    assert [h.handoff_id for h in await store.queue()] == [handoff_id]


async def test_an_operator_cannot_take_a_claimed_handoff_but_a_lead_can(store: HandoffStore) -> None:
    handoff_id = await _open_routed(store)
    await store.claim(handoff_id, "op-1", "operator")
    with pytest.raises(HandoffConflict) as raised:
        await store.claim(handoff_id, "op-2", "operator")
    assert raised.value.reason == "already_claimed"
    same = await store.claim(handoff_id, "op-1", "operator")  # claiming again is harmless
    assert same.assignee == "op-1"
    taken = await store.claim(handoff_id, "lead-1", "lead")
    assert taken.assignee == "lead-1"
    assert [(e.action, e.actor, e.text) for e in taken.log[1:]] == [
        ("claimed", "op-1", ""),
        ("taken_over", "lead-1", "op-1"),
    ]


async def test_concurrent_claims_have_exactly_one_winner(store: HandoffStore) -> None:
    handoff_id = await _open_routed(store)
    results = await asyncio.gather(
        *(store.claim(handoff_id, f"op-{i}", "operator") for i in range(5)), return_exceptions=True
    )
    winners = [r for r in results if isinstance(r, Handoff)]
    losers = [r for r in results if isinstance(r, HandoffConflict)]
    assert len(winners) == 1 and len(losers) == 4
    assert (await _get(store, handoff_id)).assignee == winners[0].assignee


async def test_claim_refusals(store: HandoffStore) -> None:
    handoff_id = await _open_routed(store)
    with pytest.raises(HandoffForbidden):
        await store.claim(handoff_id, "x", "admin")
    with pytest.raises(HandoffNotFound):
        await store.claim("missing", "op-1", "operator")
    await store.close(handoff_id, "op-1", "operator", "spam")
    with pytest.raises(HandoffConflict) as raised:
        await store.claim(handoff_id, "op-1", "lead")
    assert raised.value.reason == "not_active"


# --- Notes and replies --------------------------------------------------------------------------------------------


async def test_notes_are_redacted_internal_and_kept_after_close(store: HandoffStore, redis: Redis) -> None:
    handoff_id = await _open_routed(store, "cust-1")
    async with Events(redis, redis_keys.conversation_events("cust-1")) as customer_events:
        noted = await store.add_note(handoff_id, "op-1", f"клиент продиктовал карту {CARD}")
        assert await customer_events.drain() == []  # a note is never shown to the customer
    assert noted.notes[-1].text == f"клиент продиктовал карту {CARD_MASK}"
    assert noted.notes[-1].author == "op-1"
    await store.close(handoff_id, "op-1", "operator", "done")
    later = await store.add_note(handoff_id, "lead-1", "проверено")
    assert [n.text for n in later.notes] == [f"клиент продиктовал карту {CARD_MASK}", "проверено"]
    with pytest.raises(ValueError):
        await store.add_note(handoff_id, "op-1", "   ")


async def test_only_the_assignee_or_a_lead_replies(store: HandoffStore, clock: FakeClock) -> None:
    handoff_id = await _open_routed(store)
    with pytest.raises(HandoffForbidden):
        await store.record_reply(handoff_id, "op-1", "Здравствуйте")  # not claimed yet
    await store.claim(handoff_id, "op-1", "operator")
    with pytest.raises(HandoffForbidden):
        await store.record_reply(handoff_id, "op-2", "Здравствуйте")
    clock.advance(30)
    text = await store.record_reply(handoff_id, "op-1", f"Карта {CARD} заблокирована")
    assert text == f"Карта {CARD_MASK} заблокирована"
    clock.advance(30)
    assert await store.record_reply(handoff_id, "lead-1", "Я подключилась", role="lead") == "Я подключилась"
    handoff = await _get(store, handoff_id)
    assert handoff.first_reply_at == T0 + 30
    assert [(e.action, e.actor, e.text) for e in handoff.log if e.action == "reply"] == [
        ("reply", "op-1", text),
        ("reply", "lead-1", "Я подключилась"),
    ]
    with pytest.raises(ValueError):
        await store.record_reply(handoff_id, "op-1", "")
    await store.close(handoff_id, "op-1", "operator", "done")
    with pytest.raises(HandoffConflict):
        await store.record_reply(handoff_id, "op-1", "ещё")


# --- Finishing ----------------------------------------------------------------------------------------------------


async def test_hand_back_clears_pointer_and_queue_and_tells_everyone(store: HandoffStore, redis: Redis) -> None:
    handoff_id = await _open_routed(store, "cust-1")
    await store.claim(handoff_id, "op-1", "operator", operator_name="Анна")
    async with Events(redis, redis_keys.OPERATOR_EVENTS, redis_keys.conversation_events("cust-1")) as events:
        back = await store.hand_back(handoff_id, "op-1", "operator")
        received = await events.drain()
    assert back.state == "handed_back"
    assert await store.active_for_customer("cust-1") is None
    assert await redis.zcard(redis_keys.HANDOFF_QUEUE) == 0
    assert await store.queue() == []
    assert [(channel, event["type"], event["state"]) for channel, event in received] == [
        (redis_keys.OPERATOR_EVENTS, "handoff_updated", "handed_back"),
        (redis_keys.conversation_events("cust-1"), "handoff_status", "handed_back"),
    ]
    assert "operator_name" not in received[1][1]
    ttl = await redis.ttl(redis_keys.handoff_record(handoff_id))
    assert 0 < ttl <= redis_keys.HANDOFF_CLOSED_TTL_SECONDS


async def test_close_records_the_redacted_resolution(store: HandoffStore, redis: Redis) -> None:
    handoff_id = await _open_routed(store, "cust-1")
    await store.claim(handoff_id, "op-1", "operator")
    with pytest.raises(HandoffForbidden):
        await store.close(handoff_id, "op-2", "operator", "not mine")
    with pytest.raises(HandoffForbidden):
        await store.hand_back(handoff_id, "op-2", "operator")
    closed = await store.close(handoff_id, "op-1", "operator", f"вернули деньги на карту {CARD}")
    assert closed.state == "closed"
    assert closed.resolution == f"вернули деньги на карту {CARD_MASK}"
    assert await store.active_for_customer("cust-1") is None
    with pytest.raises(HandoffConflict) as raised:
        await store.close(handoff_id, "op-1", "operator", "again")
    assert raised.value.reason == "not_active"
    # A later note keeps the record's expiry instead of extending it.
    await redis.expire(redis_keys.handoff_record(handoff_id), 1000)
    await store.add_note(handoff_id, "lead-1", "ok")
    assert 0 < await redis.ttl(redis_keys.handoff_record(handoff_id)) <= 1000


async def test_a_lead_finishes_someone_elses_and_anyone_a_queued_one(store: HandoffStore) -> None:
    claimed = await _open_routed(store, "cust-1")
    await store.claim(claimed, "op-1", "operator")
    assert (await store.hand_back(claimed, "lead-1", "lead")).state == "handed_back"
    queued = await _open_routed(store, "cust-2")
    assert (await store.close(queued, "op-2", "operator", "duplicate")).state == "closed"


async def test_finishing_keeps_a_newer_pointer(store: HandoffStore, redis: Redis) -> None:
    handoff_id = await _open_routed(store, "cust-1")
    # The pointer moved on (another handoff of the same conversation): finishing this one must not clear it.
    await redis.set(redis_keys.conversation_handoff("cust-1"), "newer")
    await store.close(handoff_id, "op-1", "operator", "done")
    assert await store.active_for_customer("cust-1") == "newer"


# --- Reminders ----------------------------------------------------------------------------------------------------


async def test_overdue_queued_handoffs_are_reminded_once_per_interval(
    store: HandoffStore, redis: Redis, clock: FakeClock
) -> None:
    handoff_id = await _open_routed(store, "cust-1", priority="p2")  # due at T0 + 900
    assert await store.due_reminders(T0 + 899) == []
    async with Events(redis, redis_keys.OPERATOR_EVENTS) as events:
        reminded = await store.due_reminders(T0 + 901)
        received = await events.drain()
    assert [h.handoff_id for h in reminded] == [handoff_id]
    assert reminded[0].reminded_at == T0 + 901
    assert received == [
        (
            redis_keys.OPERATOR_EVENTS,
            {
                "type": "reminder",
                "handoff_id": handoff_id,
                "customer_id": "cust-1",
                "state": "queued",
                "assignee": None,
                "priority": "p2",
                "due_at": T0 + 900,
                "overdue_seconds": 1.0,
                "urgent": True,
            },
        )
    ]
    assert await store.due_reminders(T0 + 901 + 299) == []
    assert [h.handoff_id for h in await store.due_reminders(T0 + 901 + 300)] == [handoff_id]
    assert (await _get(store, handoff_id)).reminded_at == T0 + 1201


async def test_claimed_handoffs_are_reminded_until_the_first_reply(store: HandoffStore) -> None:
    handoff_id = await _open_routed(store, "cust-1", priority="p1")  # due at T0 + 300
    await store.claim(handoff_id, "op-1", "operator")
    assert [h.handoff_id for h in await store.due_reminders(T0 + 400)] == [handoff_id]
    await store.record_reply(handoff_id, "op-1", "Я здесь")
    assert await store.due_reminders(T0 + 2000) == []


async def test_finished_handoffs_are_not_reminded(store: HandoffStore) -> None:
    handoff_id = await _open_routed(store, "cust-1", priority="p1")
    await store.close(handoff_id, "op-1", "operator", "done")
    assert await store.due_reminders(T0 + 10_000) == []


async def test_reminders_cover_every_priority(store: HandoffStore) -> None:
    ids = {p: await _open_routed(store, f"cust-{p}", priority=p) for p in ("p1", "p2", "p3", "p4")}
    assert {h.handoff_id for h in await store.due_reminders(T0 + 7201)} == {ids["p1"], ids["p2"], ids["p3"]}
    # A day later all four are overdue, and the first three's last reminder is long past the interval.
    assert {h.handoff_id for h in await store.due_reminders(T0 + 86401)} == set(ids.values())


async def test_handoff_json_round_trip(store: HandoffStore) -> None:
    handoff_id = await _open_routed(store)
    await store.claim(handoff_id, "op-1", "operator", operator_name="Анна")
    await store.add_note(handoff_id, "op-1", "note")
    handoff = await _get(store, handoff_id)
    assert Handoff.from_json(handoff.to_json()) == handoff
    with pytest.raises(ValueError):
        Handoff.from_json('{"handoff_id": "x"}')
    with pytest.raises(ValueError):
        Handoff.from_json("[]")
