"""The outreach schedule in Redis: planned messages wait here until their time (restarts lose nothing), the
same event is sent once (dedupe), a customer gets at most the rules' number a day (floods capped), and each
message's status is kept (scheduled, sent, failed) with its attempts.

The sender (the gateway's loop) claims due messages with ``claim_due`` (one worker per message), delivers
them and reports back with ``mark_sent`` or ``mark_failed``; a failed delivery is retried later, up to
``MAX_ATTEMPTS``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from redis.asyncio import Redis

from zabota import redis_keys
from zabota.events import Event, queue_event
from zabota.outreach.planning import FollowUp, OutreachPlan, OutreachRules
from zabota.outreach.replies import OutreachContext
from zabota.redaction import mask_for_log

log = structlog.stdlib.get_logger(__name__)

Accepted = Literal["scheduled", "duplicate", "capped"]
Status = Literal["scheduled", "sending", "sent", "failed"]
MAX_ATTEMPTS = 3
RETRY_SECONDS = 60.0


@dataclass(frozen=True)
class Admission:
    status: Accepted
    # the message's id: the new one, or the first one for a duplicate; None when capped
    outreach_id: str | None


def _plan_json(plan: OutreachPlan) -> str:
    data = asdict(plan)
    data["send_at"] = plan.send_at.timestamp()
    return json.dumps(data, ensure_ascii=False)


def _plan_of(raw: str) -> OutreachPlan:
    data: dict[str, Any] = json.loads(raw)
    follow_up: FollowUp = "confirm" if data.get("follow_up") == "confirm" else "none"
    return OutreachPlan(
        trigger=str(data["trigger"]),
        customer_id=str(data["customer_id"]),
        channel=str(data["channel"]),
        text=str(data["text"]),
        send_at=datetime.fromtimestamp(float(data["send_at"]), UTC),
        deferred=bool(data["deferred"]),
        follow_up=follow_up,
        dedupe_key=str(data["dedupe_key"]),
        why=str(data["why"]),
    )


# KEYS: dedupe, daily counter, item, schedule. ARGV: id, dedupe ttl, daily ttl, cap, plan, now, send_at, item ttl.
# Returns {status, detail}: duplicate + the first id, capped + today's count, scheduled + the new id.
_ACCEPT_SCRIPT = """
local existing = redis.call('GET', KEYS[1])
if existing then return {'duplicate', existing} end
local today = tonumber(redis.call('GET', KEYS[2]) or '0')
if today >= tonumber(ARGV[4]) then return {'capped', tostring(today)} end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('HSET', KEYS[3], 'plan', ARGV[5], 'status', 'scheduled', 'attempts', '0', 'planned_at', ARGV[6])
redis.call('EXPIRE', KEYS[3], ARGV[8])
redis.call('ZADD', KEYS[4], ARGV[7], ARGV[1])
return {'scheduled', ARGV[1]}
"""


# KEYS: from, to (sorted sets). ARGV: id, score. Moves the id when it is in "from"; 1 when it moved (the caller
# owns it now), 0 when another worker moved it first.
_MOVE_SCRIPT = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
  return 1
end
return 0
"""


def sent_event(outreach_id: str, planned: OutreachPlan, now: float) -> Event:
    return Event(
        "outreach_sent",
        now,
        customer_id=planned.customer_id,
        channel=planned.channel,
        ref=outreach_id,
        data={
            "trigger": planned.trigger,
            "deferred": planned.deferred,
            "follow_up": planned.follow_up,
            "tone": planned.tone,
            "planned_at": planned.send_at.timestamp(),
        },
    )


class OutreachQueue:
    def __init__(self, redis: Redis, rules: OutreachRules) -> None:
        self._redis = redis
        self._rules = rules
        self._accept_script = redis.register_script(_ACCEPT_SCRIPT)
        self._claim_script = redis.register_script(_MOVE_SCRIPT)

    @property
    def rules(self) -> OutreachRules:
        return self._rules

    async def accept(self, plan: OutreachPlan, now: float) -> Admission:
        """Schedules ``plan`` unless it is a duplicate or the customer's daily cap is reached: one atomic step,
        so a copy arriving meanwhile is a duplicate of a message that was scheduled, never of one that was
        capped (and a capped event may come again another day)."""
        outreach_id = "o-" + secrets.token_hex(8)
        dedupe = redis_keys.outreach_dedupe(hashlib.sha256(plan.dedupe_key.encode()).hexdigest()[:32])
        day = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d")
        status, existing = await self._accept_script(
            keys=[
                dedupe,
                redis_keys.outreach_daily(plan.customer_id, day),
                redis_keys.outreach_item(outreach_id),
                redis_keys.OUTREACH_SCHEDULE,
            ],
            args=[
                outreach_id,
                self._rules.dedupe_hours * 3600,
                redis_keys.OUTREACH_DAILY_TTL_SECONDS,
                self._rules.max_per_customer_per_day,
                _plan_json(plan),
                f"{now:.3f}",
                plan.send_at.timestamp(),
                redis_keys.OUTREACH_ITEM_TTL_SECONDS,
            ],
        )
        status = status.decode() if isinstance(status, bytes) else str(status)
        existing = existing.decode() if isinstance(existing, bytes) else str(existing)
        if status == "duplicate":
            log.info("outreach.duplicate", trigger=plan.trigger, first=existing)
            return Admission("duplicate", existing)
        if status == "capped":
            log.info("outreach.capped", trigger=plan.trigger, today=int(existing))
            return Admission("capped", None)
        log.info("outreach.scheduled", outreach_id=outreach_id, trigger=plan.trigger, deferred=plan.deferred)
        return Admission("scheduled", outreach_id)

    async def claim_due(self, now: float, limit: int = 100) -> list[tuple[str, OutreachPlan]]:
        """Due messages, each claimed by this caller alone (moved from the schedule to the claimed set, status
        "sending"). Claims a sender never reported back on (it crashed or was stopped mid-send) go back to the
        schedule first: a planned message survives a restart at any point (at least once: a crash after the
        provider took it and before ``mark_sent`` sends it again, logged as ``outreach.claim_recovered``)."""
        await self._recover_stalled(now)
        due = await self._redis.zrangebyscore(redis_keys.OUTREACH_SCHEDULE, "-inf", now, start=0, num=limit)
        claimed = []
        for member in due:
            outreach_id = member.decode() if isinstance(member, bytes) else str(member)
            if not await self._claim_script(
                keys=[redis_keys.OUTREACH_SCHEDULE, redis_keys.OUTREACH_CLAIMED], args=[outreach_id, now]
            ):
                continue  # another worker took it
            raw = await self._redis.hget(redis_keys.outreach_item(outreach_id), "plan")
            if raw is None:
                log.error("outreach.item_lost", outreach_id=outreach_id)
                await self._redis.zrem(redis_keys.OUTREACH_CLAIMED, outreach_id)
                continue
            await self._redis.hset(redis_keys.outreach_item(outreach_id), "status", "sending")
            claimed.append((outreach_id, _plan_of(raw.decode() if isinstance(raw, bytes) else raw)))
        return claimed

    async def _recover_stalled(self, now: float) -> None:
        stalled = await self._redis.zrangebyscore(
            redis_keys.OUTREACH_CLAIMED, "-inf", now - redis_keys.OUTREACH_CLAIM_TIMEOUT_SECONDS, start=0, num=100
        )
        for member in stalled:
            outreach_id = member.decode() if isinstance(member, bytes) else str(member)
            if await self._claim_script(
                keys=[redis_keys.OUTREACH_CLAIMED, redis_keys.OUTREACH_SCHEDULE], args=[outreach_id, now]
            ):
                await self._redis.hset(redis_keys.outreach_item(outreach_id), "status", "scheduled")
                log.warning("outreach.claim_recovered", outreach_id=outreach_id)

    async def mark_sent(self, outreach_id: str, now: float, planned: OutreachPlan | None = None) -> None:
        """Sent: the status, and with ``planned`` the leads' ``outreach_sent`` event, in one transaction."""
        item = redis_keys.outreach_item(outreach_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrem(redis_keys.OUTREACH_CLAIMED, outreach_id)
            pipe.hset(item, mapping={"status": "sent", "sent_at": f"{now:.3f}"})
            pipe.hincrby(item, "attempts", 1)
            if planned is not None:
                queue_event(pipe, sent_event(outreach_id, planned, now))
            await pipe.execute()
        log.info("outreach.sent", outreach_id=outreach_id)

    async def mark_failed(self, outreach_id: str, now: float, error: str) -> Status:
        """A delivery failed: retried in ``RETRY_SECONDS`` until ``MAX_ATTEMPTS``, then failed for good."""
        item = redis_keys.outreach_item(outreach_id)
        await self._redis.zrem(redis_keys.OUTREACH_CLAIMED, outreach_id)
        attempts = int(await self._redis.hincrby(item, "attempts", 1))
        if attempts < MAX_ATTEMPTS:
            await self._redis.hset(item, mapping={"status": "scheduled", "error": error[:200]})
            await self._redis.zadd(redis_keys.OUTREACH_SCHEDULE, {outreach_id: now + RETRY_SECONDS})
            log.warning("outreach.retry", outreach_id=outreach_id, attempts=attempts, error=error[:200])
            return "scheduled"
        await self._redis.hset(item, mapping={"status": "failed", "error": error[:200], "failed_at": f"{now:.3f}"})
        log.error("outreach.failed", outreach_id=outreach_id, attempts=attempts, error=error[:200])
        return "failed"

    async def status(self, outreach_id: str) -> dict[str, str] | None:
        raw = await self._redis.hgetall(redis_keys.outreach_item(outreach_id))
        if not raw:
            return None
        decoded = {
            (k.decode() if isinstance(k, bytes) else str(k)): (v.decode() if isinstance(v, bytes) else str(v))
            for k, v in raw.items()
        }
        decoded.pop("plan", None)
        return decoded

    # --- replies ----------------------------------------------------------------------------------------------
    async def remember_sent(self, customer_id: str, context: OutreachContext) -> None:
        """What the customer was just sent, for their reply (the latest outreach replaces an earlier one)."""
        await self._redis.set(
            redis_keys.outreach_reply(customer_id), context.to_json(), ex=redis_keys.OUTREACH_REPLY_TTL_SECONDS
        )

    async def reply_context(self, customer_id: str) -> OutreachContext | None:
        """The outreach the customer's message replies to, within the reply window; None when there is none."""
        raw = await self._redis.get(redis_keys.outreach_reply(customer_id))
        if raw is None:
            return None
        context = OutreachContext.from_json(raw.decode() if isinstance(raw, bytes) else str(raw))
        if context is None:
            log.error("outreach.reply_context_unreadable", customer=mask_for_log(customer_id))
        return context

    async def question_answered(self, customer_id: str, context: OutreachContext) -> None:
        """The confirm question was answered (or let go by another message): it is not read again; the context
        stays for the rest of the window (the summary, the contacts-prevented count)."""
        key = redis_keys.outreach_reply(customer_id)
        ttl = await self._redis.ttl(key)
        if ttl is None or int(ttl) <= 0:
            return
        answered = replace(context, awaiting_answer=False)
        await self._redis.set(key, answered.to_json(), ex=int(ttl), xx=True)
