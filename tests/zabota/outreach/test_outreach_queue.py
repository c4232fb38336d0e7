"""The outreach schedule on the real Redis (database 15, a key prefix per test)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

from redis.asyncio import Redis

from zabota import redis_keys
from zabota.outreach.planning import OutreachPlan, load_outreach_rules
from zabota.outreach.queue import MAX_ATTEMPTS, RETRY_SECONDS, OutreachQueue

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC).timestamp()
PLAN = OutreachPlan(
    trigger="delivery_delayed",
    customer_id="c-00000000000000c1",
    channel="sms",
    text="Заказ ZB-1 задерживается",
    send_at=datetime.fromtimestamp(NOW + 3600, UTC),
    deferred=True,
    follow_up="none",
    dedupe_key="c-00000000000000c1|delivery_delayed|ZB-1",
    why="test",
)


async def test_a_planned_message_waits_for_its_time_and_is_claimed_once(redis: Redis) -> None:
    queue = OutreachQueue(redis, load_outreach_rules())
    admitted = await queue.accept(PLAN, NOW)
    assert admitted.status == "scheduled" and admitted.outreach_id
    assert await queue.claim_due(NOW) == []  # not yet: an hour to go
    other_worker = OutreachQueue(redis, load_outreach_rules())
    [(outreach_id, plan)] = await queue.claim_due(NOW + 3600)
    assert await other_worker.claim_due(NOW + 3600) == []
    assert (outreach_id, plan) == (admitted.outreach_id, PLAN)
    await queue.mark_sent(outreach_id, NOW + 3601)
    status = await queue.status(outreach_id)
    assert status is not None and (status["status"], status["attempts"]) == ("sent", "1")


async def test_the_same_event_again_is_a_duplicate(redis: Redis) -> None:
    queue = OutreachQueue(redis, load_outreach_rules())
    first = await queue.accept(PLAN, NOW)
    again = await queue.accept(replace(PLAN, text="другой текст"), NOW + 60)
    assert (again.status, again.outreach_id) == ("duplicate", first.outreach_id)
    assert len(await queue.claim_due(NOW + 7200)) == 1


async def test_a_flood_is_capped_per_customer_and_day(redis: Redis) -> None:
    rules = load_outreach_rules()
    queue = OutreachQueue(redis, rules)
    results = [
        (await queue.accept(replace(PLAN, dedupe_key=f"c|delivery_delayed|ZB-{n}"), NOW)).status
        for n in range(rules.max_per_customer_per_day + 2)
    ]
    assert results == ["scheduled"] * rules.max_per_customer_per_day + ["capped", "capped"]
    # a capped event is not remembered as sent: the next day it goes
    tomorrow = NOW + 24 * 3600
    assert (await queue.accept(replace(PLAN, dedupe_key="c|delivery_delayed|ZB-9"), tomorrow)).status == "scheduled"


async def test_copies_of_a_capped_event_sent_at_once_are_all_capped(redis: Redis) -> None:
    """Accepting is one atomic step: a copy is never a "duplicate" of a message that was capped, not scheduled."""
    rules = load_outreach_rules()
    queue = OutreachQueue(redis, rules)
    for n in range(rules.max_per_customer_per_day):
        await queue.accept(replace(PLAN, dedupe_key=f"c|delivery_delayed|ZB-{n}"), NOW)
    over = replace(PLAN, dedupe_key="c|delivery_delayed|ZB-over")
    copies = await asyncio.gather(*(queue.accept(over, NOW) for _ in range(5)))
    assert [(c.status, c.outreach_id) for c in copies] == [("capped", None)] * 5


async def test_a_failed_delivery_is_retried_then_given_up(redis: Redis) -> None:
    queue = OutreachQueue(redis, load_outreach_rules())
    admitted = await queue.accept(replace(PLAN, send_at=datetime.fromtimestamp(NOW, UTC)), NOW)
    now = NOW
    outcomes = []
    for _ in range(MAX_ATTEMPTS):
        [(outreach_id, _plan)] = await queue.claim_due(now)
        outcomes.append(await queue.mark_failed(outreach_id, now, "twilio 500"))
        now += RETRY_SECONDS
    assert outcomes == ["scheduled"] * (MAX_ATTEMPTS - 1) + ["failed"]
    assert await queue.claim_due(now + 3600) == []
    status = await queue.status(admitted.outreach_id or "")
    assert status is not None and (status["status"], status["error"]) == ("failed", "twilio 500")
    assert await queue.status("o-missing") is None


async def test_a_claim_whose_sender_stopped_mid_send_goes_back_to_the_schedule(redis: Redis) -> None:
    """A restart at any point loses nothing: the claim of a sender that never reported back is recovered."""
    queue = OutreachQueue(redis, load_outreach_rules())
    admitted = await queue.accept(replace(PLAN, send_at=datetime.fromtimestamp(NOW, UTC)), NOW)
    [(outreach_id, _plan)] = await queue.claim_due(NOW)  # ...and the sender dies here
    restarted = OutreachQueue(redis, load_outreach_rules())
    assert await restarted.claim_due(NOW + 60) == []  # still someone's: not yet given up on
    [(again, _plan)] = await restarted.claim_due(NOW + redis_keys.OUTREACH_CLAIM_TIMEOUT_SECONDS + 1)
    assert again == outreach_id == admitted.outreach_id
    await restarted.mark_sent(again, NOW + redis_keys.OUTREACH_CLAIM_TIMEOUT_SECONDS + 2)
    assert await restarted.claim_due(NOW + 10 * redis_keys.OUTREACH_CLAIM_TIMEOUT_SECONDS) == []
