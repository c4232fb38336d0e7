"""Handoffs in Redis: opened by the bot, routed to the operators' queue, worked by operators and leads.

- ``HandoffStore.open`` (the action server, when the bot escalates) writes the handoff record, points the
  conversation at it and appends it to the intake stream, in one Lua script: the gateway sends the customer's
  next messages to operators at once, before anything consumed the stream, and a crash leaves all or nothing.
- ``HandoffRouter`` (the operator side; consumer group HANDOFF_CONSUMER_GROUP) puts each new handoff in the
  priority queue and tells the operators' consoles, acknowledging the entry in the same MULTI: a redelivered
  entry finds the handoff already routed and changes nothing.
- Operator actions (claim, note, reply, hand back, close) and reminders are compare-and-set updates of the one
  record key (WATCH/MULTI); each state change is published to the operators (OPERATOR_EVENTS) and to the
  customer's conversation (CONVERSATION_EVENTS) in the same MULTI.

Event JSON on OPERATOR_EVENTS:
  {"type": "handoff_new", "handoff_id", "customer_id", "state", "priority", "intent", "sensitive", "channel",
   "language", "created_at", "due_at", "urgent"}
  {"type": "handoff_updated", "handoff_id", "state", "assignee", "priority", "due_at", "change", "urgent"}
  {"type": "reminder", "handoff_id", "customer_id", "state", "assignee", "priority", "due_at", "overdue_seconds",
   "urgent"}
and on CONVERSATION_EVENTS: {"type": "handoff_status", "handoff_id", "state", "operator_name"?}.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, NamedTuple, cast, get_args

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError, ResponseError, WatchError

from zabota import redis_keys
from zabota.catalog import Priority
from zabota.events import Event, EventKind, EventLog, queue_event
from zabota.handoffs.sla import SlaPolicy, priority_band, queue_score
from zabota.handoffs.summary import HandoffSummary
from zabota.redaction import redact
from zabota.triage.model import PRIORITY_ORDER

log = structlog.get_logger(__name__)

HandoffState = Literal["queued", "claimed", "closed", "handed_back"]
OperatorRole = Literal["operator", "lead"]
LogAction = Literal["opened", "escalated", "claimed", "taken_over", "reply", "handed_back", "closed"]

ACTIVE_STATES: frozenset[HandoffState] = frozenset({"queued", "claimed"})
# p1 and p2 (life and safety, money and security) interrupt an operator; p3 and p4 wait in the queue.
URGENT_PRIORITIES: frozenset[Priority] = frozenset({"p1", "p2"})

# The action log keeps operator replies too; past this many entries the oldest go (the conversation's own
# history keeps every message).
LOG_MAX_ENTRIES = 500
# A compare-and-set that keeps losing to concurrent writers gives up with HandoffConflict("busy"); a handful
# of operators on one handoff never get near this.
_MAX_ATTEMPTS = 20

_SYSTEM = "system"  # the actor of what no operator did


class HandoffError(Exception):
    pass


class HandoffNotFound(HandoffError):
    def __init__(self, handoff_id: str) -> None:
        super().__init__(f"no handoff {handoff_id}")
        self.handoff_id = handoff_id


class HandoffConflict(HandoffError):
    """The handoff's state does not allow the action: ``reason`` is "already_claimed", "not_active", "busy" or
    "id_exists"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HandoffForbidden(HandoffError):
    """This operator may not do this (not the assignee, not a lead, or an unknown role)."""


@dataclass(frozen=True)
class Note:
    """Internal: operators and leads only, never shown to the customer."""

    author: str
    text: str
    at: float


@dataclass(frozen=True)
class LogEntry:
    at: float
    actor: str  # an operator id, or "system"
    action: LogAction
    text: str = ""  # the reply, the resolution, the previous assignee: redacted


@dataclass(frozen=True)
class Handoff:
    handoff_id: str
    customer_id: str
    state: HandoffState
    priority: Priority
    due_at: float
    created_at: float
    assignee: str | None
    summary: HandoffSummary
    notes: tuple[Note, ...] = ()
    reminded_at: float | None = None
    updated_at: float = 0.0
    assignee_name: str | None = None  # what the customer is told ("Anna is with you"); None: say nothing
    first_reply_at: float | None = None  # None: no operator has answered the customer yet
    resolution: str | None = None
    log: tuple[LogEntry, ...] = ()
    # The router has queued it and told the operators: a redelivered intake entry must not do it again.
    routed: bool = False

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def urgent(self) -> bool:
        return self.priority in URGENT_PRIORITIES

    @classmethod
    def new(cls, summary: HandoffSummary, now: float) -> Handoff:
        return cls(
            handoff_id=summary.handoff_id,
            customer_id=summary.customer.customer_id,
            state="queued",
            priority=summary.priority,
            due_at=summary.due_at,
            created_at=summary.created_at,
            assignee=None,
            summary=summary,
            updated_at=now,
            log=(LogEntry(now, _SYSTEM, "opened"),),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "handoff_id": self.handoff_id,
            "customer_id": self.customer_id,
            "state": self.state,
            "priority": self.priority,
            "due_at": self.due_at,
            "created_at": self.created_at,
            "assignee": self.assignee,
            "summary": self.summary.to_dict(),
            "notes": [{"author": n.author, "text": n.text, "at": n.at} for n in self.notes],
            "reminded_at": self.reminded_at,
            "updated_at": self.updated_at,
            "assignee_name": self.assignee_name,
            "first_reply_at": self.first_reply_at,
            "resolution": self.resolution,
            "log": [{"at": e.at, "actor": e.actor, "action": e.action, "text": e.text} for e in self.log],
            "routed": self.routed,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Handoff:
        """Raises ``ValueError`` for data that is not a handoff."""
        try:
            return cls(
                handoff_id=str(data["handoff_id"]),
                customer_id=str(data["customer_id"]),
                state=_literal(data["state"], HandoffState),
                priority=_literal(data["priority"], Priority),
                due_at=float(data["due_at"]),
                created_at=float(data["created_at"]),
                assignee=_opt_str(data.get("assignee")),
                summary=HandoffSummary.from_dict(data["summary"]),
                notes=tuple(Note(str(n["author"]), str(n["text"]), float(n["at"])) for n in data.get("notes") or ()),
                reminded_at=_opt_float(data.get("reminded_at")),
                updated_at=float(data.get("updated_at") or 0.0),
                assignee_name=_opt_str(data.get("assignee_name")),
                first_reply_at=_opt_float(data.get("first_reply_at")),
                resolution=_opt_str(data.get("resolution")),
                log=tuple(
                    LogEntry(float(e["at"]), str(e["actor"]), _literal(e["action"], LogAction), str(e.get("text", "")))
                    for e in data.get("log") or ()
                ),
                routed=bool(data.get("routed", False)),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a handoff: {exc!r}") from exc

    @classmethod
    def from_json(cls, raw: str | bytes) -> Handoff:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("a handoff record is a JSON object")
        return cls.from_dict(data)

    def logged(self, *entries: LogEntry) -> tuple[LogEntry, ...]:
        return (*self.log, *entries)[-LOG_MAX_ENTRIES:]


# --- Events -----------------------------------------------------------------------------------------------------


def new_event(handoff: Handoff) -> str:
    return _dumps(
        {
            "type": "handoff_new",
            "handoff_id": handoff.handoff_id,
            "customer_id": handoff.customer_id,
            "state": handoff.state,
            "priority": handoff.priority,
            "intent": handoff.summary.intent,
            "sensitive": handoff.summary.sensitive,
            "channel": handoff.summary.channel,
            "language": handoff.summary.language,
            "created_at": handoff.created_at,
            "due_at": handoff.due_at,
            "urgent": handoff.urgent,
        }
    )


def updated_event(handoff: Handoff, change: str) -> str:
    return _dumps(
        {
            "type": "handoff_updated",
            "handoff_id": handoff.handoff_id,
            "state": handoff.state,
            "assignee": handoff.assignee,
            "priority": handoff.priority,
            "due_at": handoff.due_at,
            "change": change,
            "urgent": handoff.urgent,
        }
    )


def status_event(handoff: Handoff) -> str:
    """For the customer's channel: no operator ids, only the name the operator chose to show."""
    event: dict[str, Any] = {"type": "handoff_status", "handoff_id": handoff.handoff_id, "state": handoff.state}
    if handoff.state == "claimed" and handoff.assignee_name:
        event["operator_name"] = handoff.assignee_name
    return _dumps(event)


def reminder_event(handoff: Handoff, now: float) -> str:
    return _dumps(
        {
            "type": "reminder",
            "handoff_id": handoff.handoff_id,
            "customer_id": handoff.customer_id,
            "state": handoff.state,
            "assignee": handoff.assignee,
            "priority": handoff.priority,
            "due_at": handoff.due_at,
            "overdue_seconds": round(max(0.0, now - handoff.due_at), 3),
            "urgent": handoff.urgent,
        }
    )


# --- The store --------------------------------------------------------------------------------------------------

# Opens a handoff unless the conversation already has one; all or nothing, so the pointer never names a handoff
# that has no record or never reaches the stream.
# KEYS: conversation pointer, handoff record, intake stream.
# ARGV: handoff id, record JSON, customer id, priority, summary JSON, stream max length.
_OPEN_SCRIPT = """
local existing = redis.call('GET', KEYS[1])
if existing then return {'existing', existing} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'id_exists', ARGV[1]} end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[1], ARGV[1])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*',
  'handoff_id', ARGV[1], 'customer_id', ARGV[3], 'priority', ARGV[4], 'record', ARGV[5])
return {'opened', ARGV[1]}
"""

# A command queued in the MULTI that writes a record, e.g. a PUBLISH or a ZADD.
_Effect = Callable[[Pipeline], object]


class _Outcome(NamedTuple):
    handoff: Handoff
    effects: tuple[_Effect, ...] = ()


@dataclass(frozen=True)
class _Context:
    now: float
    pointer: str | None  # the conversation's active-handoff pointer, read under WATCH


# Returns None for "nothing to change"; raises HandoffConflict or HandoffForbidden to refuse.
_Change = Callable[[Handoff, _Context], _Outcome | None]


class HandoffStore:
    def __init__(self, redis: Redis, sla: SlaPolicy, *, clock: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self._sla = sla
        self._clock = clock
        self._open_script = redis.register_script(_OPEN_SCRIPT)

    @property
    def redis(self) -> Redis:
        return self._redis

    @property
    def sla(self) -> SlaPolicy:
        return self._sla

    def now(self) -> float:
        return self._clock()

    # --- Opening ------------------------------------------------------------------------------------------------

    async def open(self, summary: HandoffSummary) -> str:
        """Open a handoff for the summary's conversation; returns its id.

        A conversation has at most one active handoff: if it has one, that id is returned, the new reasons are
        added to it as a note, and its priority is raised if the new one is more urgent (a crisis while a p3 waits).
        """
        customer_id = summary.customer.customer_id
        for _ in range(2):  # the second round only after clearing a stale pointer
            status, handoff_id = await self._run_open(summary)
            if status == "opened":
                log.info("handoff.opened", handoff_id=handoff_id, priority=summary.priority, intent=summary.intent)
                await EventLog(self._redis).emit(opened_event(summary))
                return handoff_id
            if status == "id_exists":
                raise HandoffConflict("id_exists")
            try:
                await self._merge_repeat(handoff_id, summary)
            except (HandoffNotFound, _StalePointer):
                await self._clear_stale_pointer(customer_id, handoff_id)
                continue
            log.info("handoff.repeat", handoff_id=handoff_id, priority=summary.priority, intent=summary.intent)
            return handoff_id
        raise HandoffConflict("busy")

    async def _run_open(self, summary: HandoffSummary) -> tuple[str, str]:
        handoff = Handoff.new(summary, self._clock())
        result = await self._open_script(
            keys=[
                redis_keys.conversation_handoff(handoff.customer_id),
                redis_keys.handoff_record(handoff.handoff_id),
                redis_keys.HANDOFF_STREAM,
            ],
            args=[
                handoff.handoff_id,
                handoff.to_json(),
                handoff.customer_id,
                handoff.priority,
                _dumps(summary.to_dict()),
                redis_keys.HANDOFF_STREAM_MAXLEN,
            ],
        )
        status, handoff_id = (_as_str(part) for part in result)
        return status, handoff_id

    async def _merge_repeat(self, handoff_id: str, summary: HandoffSummary) -> Handoff:
        words = "Повторная эскалация" if summary.language == "ru" else "Repeated escalation"
        reasons = "; ".join(f"{r.code}: {r.detail}" if r.detail else r.code for r in summary.reasons)
        text = redact(f"{words} ({summary.priority}, {summary.intent}): {reasons}".rstrip(": "))

        def change(handoff: Handoff, ctx: _Context) -> _Outcome:
            if not handoff.active or ctx.pointer != handoff.handoff_id:
                raise _StalePointer
            notes = (*handoff.notes, Note(_SYSTEM, text, ctx.now))
            if PRIORITY_ORDER[summary.priority] >= PRIORITY_ORDER[handoff.priority]:
                noted = replace(handoff, notes=notes, updated_at=ctx.now)
                return _Outcome(noted, (_publish_operators(noted, "note"),))
            raised = replace(
                handoff,
                notes=notes,
                priority=summary.priority,
                due_at=min(handoff.due_at, summary.due_at),
                # A more urgent handoff is reminded on its own new schedule.
                reminded_at=None,
                updated_at=ctx.now,
                log=handoff.logged(LogEntry(ctx.now, _SYSTEM, "escalated", summary.priority)),
            )
            effects: list[_Effect] = [_publish_operators(raised, "escalated")]
            if handoff.routed:
                effects.append(_enqueue(raised))
            return _Outcome(raised, tuple(effects))

        return await self._transact(handoff_id, change)

    async def _clear_stale_pointer(self, customer_id: str, handoff_id: str) -> None:
        """A pointer to a handoff that is gone or finished would keep the customer from operators forever."""
        key = redis_keys.conversation_handoff(customer_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            with contextlib.suppress(WatchError):
                await pipe.watch(key)
                if _as_str(await pipe.get(key)) == handoff_id:
                    _multi(pipe)
                    pipe.delete(key)
                    await pipe.execute()
                    log.warning("handoff.pointer_stale", handoff_id=handoff_id)

    # --- Routing (called by HandoffRouter) ----------------------------------------------------------------------

    async def route(self, entry_id: str, fields: Mapping[str, str], *, group: str) -> bool:
        """Queue one intake entry's handoff and tell the operators, acking the entry in the same MULTI.

        True if it was routed now, False if it had been already (a redelivery). Raises ``ValueError`` for an
        entry this code cannot read.
        """
        handoff_id = fields.get("handoff_id") or ""
        if not handoff_id:
            raise ValueError("intake entry without handoff_id")
        key = redis_keys.handoff_record(handoff_id)
        for _ in range(_MAX_ATTEMPTS):
            async with self._redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    if raw is not None:
                        handoff = Handoff.from_json(raw)
                    else:
                        # Written by another producer than ``open`` (no record, no pointer): build the record from
                        # the entry, so the handoff still reaches the operators.
                        summary = HandoffSummary.from_dict(json.loads(fields.get("record") or "null") or {})
                        handoff = Handoff.new(summary, self._clock())
                    _multi(pipe)
                    if handoff.routed:
                        pipe.xack(redis_keys.HANDOFF_STREAM, group, entry_id)
                        await pipe.execute()
                        return False
                    routed = replace(handoff, routed=True)
                    _write_record(pipe, key, routed, was_active=handoff.active if raw is not None else True)
                    if routed.active:
                        _enqueue(routed)(pipe)
                        pipe.publish(redis_keys.OPERATOR_EVENTS, new_event(routed))
                    pipe.xack(redis_keys.HANDOFF_STREAM, group, entry_id)
                    await pipe.execute()
                    log.info("handoff.routed", handoff_id=handoff_id, priority=routed.priority, state=routed.state)
                    return True
                except WatchError:
                    continue
        raise HandoffConflict("busy")

    # --- Reading ------------------------------------------------------------------------------------------------

    async def get(self, handoff_id: str) -> Handoff | None:
        raw = await self._redis.get(redis_keys.handoff_record(handoff_id))
        return None if raw is None else Handoff.from_json(raw)

    async def active_for_customer(self, customer_id: str) -> str | None:
        raw = await self._redis.get(redis_keys.conversation_handoff(customer_id))
        return None if raw is None else _as_str(raw)

    async def queue(self, limit: int = 100) -> list[Handoff]:
        """Queued and claimed handoffs, the most urgent priority first, then the earliest due."""
        if limit <= 0:
            return []
        ids = [_as_str(i) for i in await self._redis.zrange(redis_keys.HANDOFF_QUEUE, 0, limit - 1)]
        if not ids:
            return []
        raws = await self._redis.mget([redis_keys.handoff_record(i) for i in ids])
        result: list[Handoff] = []
        for handoff_id, raw in zip(ids, raws, strict=True):
            if raw is None:
                log.warning("handoff.queue_stale", handoff_id=handoff_id)
                continue
            handoff = Handoff.from_json(raw)
            if handoff.active:
                result.append(handoff)
        return result

    # --- Operator actions ---------------------------------------------------------------------------------------

    async def claim(self, handoff_id: str, operator_id: str, role: str, *, operator_name: str | None = None) -> Handoff:
        """queued -> claimed. A lead may take over a handoff another operator claimed; an operator may not."""
        checked = _check_role(role)
        shown_name = (redact(operator_name).strip() or None) if operator_name else None

        def change(handoff: Handoff, ctx: _Context) -> _Outcome | None:
            if not handoff.active:
                raise HandoffConflict("not_active")
            action: LogAction = "claimed"
            if handoff.state == "claimed":
                if handoff.assignee == operator_id:
                    return None
                if checked != "lead":
                    raise HandoffConflict("already_claimed")
                action = "taken_over"
            claimed = replace(
                handoff,
                state="claimed",
                assignee=operator_id,
                assignee_name=shown_name,
                updated_at=ctx.now,
                log=handoff.logged(LogEntry(ctx.now, operator_id, action, handoff.assignee or "")),
            )
            event = _handoff_event(
                claimed,
                "handoff_claimed",
                ctx.now,
                operator=operator_id,
                action=action,
                waited_s=ctx.now - handoff.created_at,
            )
            return _Outcome(claimed, (_publish_operators(claimed, action), _publish_customer(claimed), event))

        result = await self._transact(handoff_id, change)
        log.info("handoff.claimed", handoff_id=handoff_id, operator_id=operator_id, role=checked)
        return result

    async def add_note(self, handoff_id: str, operator_id: str, text: str) -> Handoff:
        """An internal note (never shown to the customer), in any state: a lead may comment on a closed one."""
        clean = redact(text).strip()
        if not clean:
            raise ValueError("empty note")

        def change(handoff: Handoff, ctx: _Context) -> _Outcome:
            noted = replace(handoff, notes=(*handoff.notes, Note(operator_id, clean, ctx.now)), updated_at=ctx.now)
            return _Outcome(noted, (_publish_operators(noted, "note"),))

        result = await self._transact(handoff_id, change)
        log.info("handoff.note_added", handoff_id=handoff_id, operator_id=operator_id)
        return result

    async def record_reply(self, handoff_id: str, operator_id: str, text: str, *, role: str = "operator") -> str:
        """Log an operator's reply to the customer; returns the redacted text to send.

        Only the assignee of a claimed handoff, or a lead, may reply. Delivering the text is the gateway's job.
        """
        checked = _check_role(role)
        clean = redact(text).strip()
        if not clean:
            raise ValueError("empty reply")

        def change(handoff: Handoff, ctx: _Context) -> _Outcome:
            if not handoff.active:
                raise HandoffConflict("not_active")
            if checked != "lead" and (handoff.state != "claimed" or handoff.assignee != operator_id):
                raise HandoffForbidden("only the assignee or a lead may reply")
            replied = replace(
                handoff,
                first_reply_at=handoff.first_reply_at if handoff.first_reply_at is not None else ctx.now,
                updated_at=ctx.now,
                log=handoff.logged(LogEntry(ctx.now, operator_id, "reply", clean)),
            )
            effects: list[_Effect] = [_publish_operators(replied, "reply")]
            if handoff.first_reply_at is None:
                effects.append(
                    _handoff_event(
                        replied,
                        "handoff_first_reply",
                        ctx.now,
                        operator=operator_id,
                        response_s=ctx.now - handoff.created_at,
                        within_sla=ctx.now <= handoff.due_at,
                    )
                )
            return _Outcome(replied, tuple(effects))

        await self._transact(handoff_id, change)
        log.info("handoff.replied", handoff_id=handoff_id, operator_id=operator_id, role=checked)
        return clean

    async def hand_back(self, handoff_id: str, operator_id: str, role: str) -> Handoff:
        """Return the conversation to the bot: claimed/queued -> handed_back."""
        result = await self._finish(handoff_id, operator_id, role, "handed_back", None)
        log.info("handoff.handed_back", handoff_id=handoff_id, operator_id=operator_id)
        return result

    async def close(self, handoff_id: str, operator_id: str, role: str, resolution: str) -> Handoff:
        """The operator solved it (or it needs nothing more): claimed/queued -> closed."""
        result = await self._finish(handoff_id, operator_id, role, "closed", resolution)
        log.info("handoff.closed", handoff_id=handoff_id, operator_id=operator_id)
        return result

    async def _finish(
        self,
        handoff_id: str,
        operator_id: str,
        role: str,
        target: Literal["closed", "handed_back"],
        resolution: str | None,
    ) -> Handoff:
        checked = _check_role(role)
        clean = redact(resolution).strip() if resolution else ""

        def change(handoff: Handoff, ctx: _Context) -> _Outcome:
            if not handoff.active:
                raise HandoffConflict("not_active")
            # Anyone may finish a queued handoff (a duplicate, spam); a claimed one is its assignee's or a lead's.
            if handoff.state == "claimed" and checked != "lead" and handoff.assignee != operator_id:
                raise HandoffForbidden("only the assignee or a lead may finish a claimed handoff")
            finished = replace(
                handoff,
                state=target,
                resolution=clean or handoff.resolution,
                updated_at=ctx.now,
                log=handoff.logged(LogEntry(ctx.now, operator_id, target, clean)),
            )
            effects: list[_Effect] = [lambda pipe: pipe.zrem(redis_keys.HANDOFF_QUEUE, handoff.handoff_id)]
            if ctx.pointer == handoff.handoff_id:
                pointer = redis_keys.conversation_handoff(handoff.customer_id)
                effects.append(lambda pipe: pipe.delete(pointer))
            effects += [
                _publish_operators(finished, target),
                _publish_customer(finished),
                _handoff_event(
                    finished,
                    "handoff_closed" if target == "closed" else "handoff_handed_back",
                    ctx.now,
                    operator=operator_id,
                    duration_s=ctx.now - handoff.created_at,
                    answered=handoff.first_reply_at is not None,
                ),
            ]
            return _Outcome(finished, tuple(effects))

        return await self._transact(handoff_id, change)

    # --- Reminders ----------------------------------------------------------------------------------------------

    async def due_reminders(self, now: float | None = None) -> list[Handoff]:
        """Remind the operators of every handoff past its due time that nobody has answered: queued, or claimed
        without a reply. Each is reminded at most once per ``sla.reminder_interval``; returns those reminded now.
        """
        at = self._clock() if now is None else now
        ids: list[str] = []
        for priority in cast(tuple[Priority, ...], get_args(Priority)):
            low, high = priority_band(priority, at)
            ids += [_as_str(i) for i in await self._redis.zrangebyscore(redis_keys.HANDOFF_QUEUE, low, high)]
        reminded: list[Handoff] = []
        for handoff_id in ids:
            sent: list[Handoff] = []

            def change(handoff: Handoff, ctx: _Context, sent: list[Handoff] = sent) -> _Outcome | None:
                sent.clear()  # a retried round (WatchError) decides afresh
                if not _needs_reminder(handoff, at, self._sla.reminder_interval):
                    return None
                marked = replace(handoff, reminded_at=at)
                sent.append(marked)
                effects: list[_Effect] = [
                    lambda pipe: pipe.publish(redis_keys.OPERATOR_EVENTS, reminder_event(marked, at))
                ]
                if handoff.reminded_at is None:  # the first reminder is the moment the SLA was missed
                    effects.append(
                        _handoff_event(
                            marked, "handoff_sla_missed", at, overdue_s=at - handoff.due_at, state=handoff.state
                        )
                    )
                return _Outcome(marked, tuple(effects))

            try:
                await self._transact(handoff_id, change)
            except (HandoffNotFound, HandoffConflict):
                continue  # gone, or busy with an operator right now: the next round looks again
            if sent:
                reminded.append(sent[-1])
                log.info("handoff.reminded", handoff_id=handoff_id, priority=sent[-1].priority)
        return reminded

    # --- Compare-and-set ----------------------------------------------------------------------------------------

    async def _transact(self, handoff_id: str, change: _Change) -> Handoff:
        """Read the record and the conversation pointer under WATCH, apply ``change``, write it and its effects
        in one MULTI; start over when another writer got there first."""
        key = redis_keys.handoff_record(handoff_id)
        for _ in range(_MAX_ATTEMPTS):
            async with self._redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    if raw is None:
                        raise HandoffNotFound(handoff_id)
                    current = Handoff.from_json(raw)
                    pointer_key = redis_keys.conversation_handoff(current.customer_id)
                    await pipe.watch(pointer_key)
                    raw_pointer = await pipe.get(pointer_key)
                    pointer = None if raw_pointer is None else _as_str(raw_pointer)
                    outcome = change(current, _Context(now=self._clock(), pointer=pointer))
                    if outcome is None:
                        return current
                    _multi(pipe)
                    _write_record(pipe, key, outcome.handoff, was_active=current.active)
                    for effect in outcome.effects:
                        effect(pipe)
                    await pipe.execute()
                    return outcome.handoff
                except WatchError:
                    continue
        raise HandoffConflict("busy")


class _StalePointer(Exception):
    """The conversation's pointer names a handoff that is no longer active."""


def _needs_reminder(handoff: Handoff, now: float, interval: float) -> bool:
    if handoff.due_at > now:
        return False
    waiting = handoff.state == "queued" or (handoff.state == "claimed" and handoff.first_reply_at is None)
    if not waiting:
        return False
    return handoff.reminded_at is None or now - handoff.reminded_at >= interval


def _write_record(pipe: Pipeline, key: str, handoff: Handoff, *, was_active: bool) -> None:
    if handoff.active:
        pipe.set(key, handoff.to_json())
    elif was_active:
        # Finished now: kept for the leads' review, then it goes (it holds a transcript).
        pipe.set(key, handoff.to_json(), ex=redis_keys.HANDOFF_CLOSED_TTL_SECONDS)
    else:
        pipe.set(key, handoff.to_json(), keepttl=True)  # a note on a finished one does not extend its life


def _multi(pipe: Pipeline) -> None:
    """``Pipeline.multi`` is unannotated in redis-py: one typed place for the ignore."""
    pipe.multi()  # type: ignore[no-untyped-call]


def _enqueue(handoff: Handoff) -> _Effect:
    score = queue_score(handoff.priority, handoff.due_at)
    return lambda pipe: pipe.zadd(redis_keys.HANDOFF_QUEUE, {handoff.handoff_id: score})


def _publish_operators(handoff: Handoff, change: str) -> _Effect:
    message = updated_event(handoff, change)
    return lambda pipe: pipe.publish(redis_keys.OPERATOR_EVENTS, message)


def opened_event(summary: HandoffSummary) -> Event:
    """What the leads' analytics keep of an opened handoff: why, how urgent, by when."""
    return Event(
        "handoff_opened",
        summary.created_at,
        customer_id=summary.customer.customer_id,
        channel=summary.channel,
        lang=summary.language,
        ref=summary.handoff_id,
        data={
            "priority": summary.priority,
            "intent": summary.intent,
            "sensitive": summary.sensitive,
            "reasons": [reason.code for reason in summary.reasons],
            "due_at": summary.due_at,
            "churn_risk": bool(summary.churn_risk),
            "segment": summary.customer.segment,
        },
    )


def _handoff_event(handoff: Handoff, kind: EventKind, at: float, **data: Any) -> _Effect:
    """The event of a handoff's change, written in the change's own transaction."""
    event = Event(
        kind,
        at,
        customer_id=handoff.customer_id,
        channel=handoff.summary.channel,
        lang=handoff.summary.language,
        ref=handoff.handoff_id,
        data={"priority": handoff.priority, "intent": handoff.summary.intent, **data},
    )
    return lambda pipe: queue_event(pipe, event)


def _publish_customer(handoff: Handoff) -> _Effect:
    channel = redis_keys.conversation_events(handoff.customer_id)
    message = status_event(handoff)
    return lambda pipe: pipe.publish(channel, message)


def _check_role(role: str) -> OperatorRole:
    if role not in get_args(OperatorRole):
        raise HandoffForbidden(f"unknown role {role!r}")
    return cast(OperatorRole, role)


# --- The router -------------------------------------------------------------------------------------------------

_BACKOFF_MIN_SECONDS = 0.5
_BACKOFF_MAX_SECONDS = 30.0


class HandoffRouter:
    """Consumes the intake stream as one consumer of HANDOFF_CONSUMER_GROUP and sends reminders.

    Run one per operator-side process, each with its own ``consumer_name`` (stable across restarts, so a
    restarted router finds its own unacknowledged entries). Entries another consumer left unacknowledged for
    ``claim_idle_ms`` (a router that died for good) are taken over with XAUTOCLAIM.
    """

    def __init__(
        self,
        store: HandoffStore,
        consumer_name: str,
        *,
        group: str = redis_keys.HANDOFF_CONSUMER_GROUP,
        batch_size: int = 100,
        claim_idle_ms: int = 60_000,
        reminder_every_seconds: float = 15.0,
    ) -> None:
        self._store = store
        self._redis = store.redis
        self._consumer = consumer_name
        self._group = group
        self._batch = batch_size
        self._claim_idle_ms = claim_idle_ms
        self._reminder_every = reminder_every_seconds
        self._group_ready = False

    async def ensure_group(self) -> None:
        """Create the consumer group (and the stream) if missing. From id 0: handoffs opened before any router
        ever ran are routed too."""
        try:
            await self._redis.xgroup_create(redis_keys.HANDOFF_STREAM, self._group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def run_once(self, block_ms: int = 0) -> int:
        """Route entries left unacknowledged (own, then stale ones of other consumers), then new ones, waiting up
        to ``block_ms`` for them (0: do not wait). Returns how many entries were handled."""
        if not self._group_ready:
            await self.ensure_group()
        try:
            handled = await self._own_pending()
            handled += await self._claim_stale()
            response = await self._redis.xreadgroup(
                self._group,
                self._consumer,
                {redis_keys.HANDOFF_STREAM: ">"},
                count=self._batch,
                block=block_ms if block_ms > 0 else None,
            )
            handled += await self._handle(_entries(response))
        except ResponseError as exc:
            if "NOGROUP" in str(exc):
                self._group_ready = False  # the stream was deleted: recreate the group next time
            raise
        return handled

    async def _own_pending(self) -> int:
        handled = 0
        last = "0"
        while True:
            response = await self._redis.xreadgroup(
                self._group, self._consumer, {redis_keys.HANDOFF_STREAM: last}, count=self._batch
            )
            entries = _entries(response)
            if not entries:
                return handled
            handled += await self._handle(entries)
            last = entries[-1][0]
            if len(entries) < self._batch:
                return handled

    async def _claim_stale(self) -> int:
        handled = 0
        start = "0-0"
        for _ in range(100):  # bounded: a huge backlog is worked through over several rounds
            response = await self._redis.xautoclaim(
                redis_keys.HANDOFF_STREAM,
                self._group,
                self._consumer,
                min_idle_time=self._claim_idle_ms,
                start_id=start,
                count=self._batch,
            )
            start = _as_str(response[0])
            handled += await self._handle(_entry_list(response[1]))
            if start == "0-0":
                break
        return handled

    async def _handle(self, entries: Sequence[tuple[str, dict[str, str] | None]]) -> int:
        handled = 0
        for entry_id, fields in entries:
            try:
                if not fields:
                    # Trimmed or deleted while pending: nothing left to route.
                    await self._redis.xack(redis_keys.HANDOFF_STREAM, self._group, entry_id)
                else:
                    await self._store.route(entry_id, fields, group=self._group)
                handled += 1
            except RedisError:
                raise  # the run loop backs off; the entry stays pending and is retried
            except ValueError as exc:
                # Not this code's format (e.g. the old zabota.handoff records): acknowledged so it does not block
                # the stream; the entry itself stays in the stream for inspection.
                log.error("handoff.entry_unreadable", entry_id=entry_id, error=str(exc)[:200])
                await self._redis.xack(redis_keys.HANDOFF_STREAM, self._group, entry_id)
                handled += 1
            except HandoffConflict:
                log.warning("handoff.route_busy", entry_id=entry_id)  # left pending: the next round retries it
            except Exception:
                # A bug, not bad data: left pending and retried each round, without holding up the entries after it.
                log.exception("handoff.route_failed", entry_id=entry_id)
        return handled

    async def run(self, stop: asyncio.Event, *, block_ms: int = 1000) -> None:
        """Route and remind until ``stop`` is set. Never raises: Redis may come and go; backs off while it is gone."""
        backoff = _BACKOFF_MIN_SECONDS
        next_reminders = 0.0
        block = max(1, block_ms)  # never 0 here: the loop would spin
        while not stop.is_set():
            try:
                await self.run_once(block)
                now = self._store.now()
                if now >= next_reminders:
                    await self._store.due_reminders(now)
                    next_reminders = now + self._reminder_every
                backoff = _BACKOFF_MIN_SECONDS
                continue
            except RedisError as exc:
                log.warning("handoff.router_redis_error", error=type(exc).__name__, retry_in=backoff)
            except Exception:
                log.exception("handoff.router_failed", retry_in=backoff)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX_SECONDS)


# --- Helpers ----------------------------------------------------------------------------------------------------


def _entries(response: Any) -> list[tuple[str, dict[str, str] | None]]:
    """XREADGROUP's reply for the one stream read, as (entry id, fields) pairs: RESP2 ([[stream, entries]]) or
    RESP3 ({stream: [entries]})."""
    if not response:
        return []
    if isinstance(response, Mapping):
        streams = list(response.values())
        return _entry_list(streams[0] if streams else [])
    return _entry_list(response[0][1])


def _entry_list(raw: Any) -> list[tuple[str, dict[str, str] | None]]:
    entries: list[tuple[str, dict[str, str] | None]] = []
    for entry_id, fields in raw or []:
        if fields is None:
            entries.append((_as_str(entry_id), None))
        else:
            entries.append((_as_str(entry_id), {_as_str(k): _as_str(v) for k, v in dict(fields).items()}))
    return entries


def _as_str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _literal(value: Any, kind: Any) -> Any:
    allowed = get_args(kind)
    if value not in allowed:
        raise ValueError(f"{value!r} is not one of {allowed}")
    return value


def _dumps(data: Mapping[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False)
