"""Helpers shared by the handoff tests (a uniquely named module: several test folders have a conftest)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from zabota import redis_keys
from zabota.catalog import Priority
from zabota.handoffs.sla import SlaPolicy
from zabota.handoffs.summary import CustomerInfo, HandoffSummary, IntentSeen, build_summary
from zabota.triage.model import Reason, ReasonCode, Signal, TriageDecision

# Tests use database 15 and nothing else, each test under its own key prefix (conftest.key_prefix).

# Luhn-valid (checked in test_handoff_summary), grouped as customers type it.
CARD = "4276 3800 1234 5679"
T0 = 1_800_000_000.0  # a fixed "now" for the tests' clocks

_PRIORITY_INTENT: dict[Priority, str] = {
    "p1": "crisis",
    "p2": "fraud_report",
    "p3": "request_human",
    "p4": "complaint",
}


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def decision(
    intent: str = "fraud_report",
    *,
    priority: Priority | None = "p2",
    reasons: tuple[tuple[ReasonCode, str], ...] = (("sensitive_intent", "fraud_report is sensitive"),),
    signals: tuple[Signal, ...] = (),
    handoff_intent: str | None = None,
    sensitive: bool = True,
    lang: str = "ru",
    confidence: float = 0.93,
) -> TriageDecision:
    return TriageDecision(
        intent=intent,
        confidence=confidence,
        sensitive=sensitive,
        escalate=priority is not None,
        priority=priority,
        reasons=tuple(Reason(code, detail) for code, detail in reasons),
        signals=signals,
        sentiment="negative",
        handoff_intent=handoff_intent,
        lang=lang,
    )


def entry(role: str, text: str | None, timestamp: float, **extra: Any) -> dict[str, Any]:
    """A gateway history entry (gateway.inbox.HistoryEntry) as a dict."""
    return {
        "role": role,
        "message_id": f"m{timestamp}",
        "timestamp": timestamp,
        "channel": "webchat",
        "lang": "ru",
        "text": text,
        "buttons": [],
        **extra,
    }


def make_summary(
    customer_id: str = "cust-1",
    *,
    handoff_id: str | None = None,
    priority: Priority = "p2",
    now: float = T0,
    sla: SlaPolicy | None = None,
    reasons: tuple[tuple[ReasonCode, str], ...] | None = None,
) -> HandoffSummary:
    intent = _PRIORITY_INTENT[priority]
    return build_summary(
        handoff_id=handoff_id or f"h-{customer_id}-{priority}-{now}",
        customer=CustomerInfo(customer_id=customer_id, name="Иван", language="ru", channel="webchat"),
        decision=decision(
            intent,
            priority=priority,
            reasons=reasons if reasons is not None else (("sensitive_intent", f"{intent} is sensitive"),),
        ),
        history=[entry("customer", "помогите", now - 10)],
        intents_seen=[IntentSeen(intent, 0.9, now - 9)],
        entities={},
        sla=sla or SlaPolicy(),
        now=now,
    )


class Events:
    """Subscribed to pub/sub channels for the duration of an ``async with``; ``drain`` returns the JSON events."""

    def __init__(self, redis: Redis, *channels: str) -> None:
        self._redis = redis
        self._channels = channels
        self._pubsub: PubSub | None = None

    async def __aenter__(self) -> Events:
        self._pubsub = self._redis.pubsub()
        await self._pubsub.subscribe(*self._channels)
        # Wait for every confirmation: only then is a PUBLISH from another connection certain to reach us.
        confirmed = 0
        deadline = time.monotonic() + 5
        while confirmed < len(self._channels) and time.monotonic() < deadline:
            message = await self._pubsub.get_message(timeout=1.0)
            if message and message["type"] == "subscribe":
                confirmed += 1
        assert confirmed == len(self._channels)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._pubsub is not None
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]

    async def drain(self, quiet: float = 0.2) -> list[tuple[str, dict[str, Any]]]:
        """(channel, event) pairs received until nothing arrives for ``quiet`` seconds."""
        assert self._pubsub is not None
        events: list[tuple[str, dict[str, Any]]] = []
        while True:
            message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=quiet)
            if message is None:
                return events
            events.append((str(message["channel"]), json.loads(message["data"])))


async def stream_entries(redis: Redis) -> list[tuple[str, dict[str, str]]]:
    """The intake stream's entries (the client decodes responses)."""
    return cast(list[tuple[str, dict[str, str]]], await redis.xrange(redis_keys.HANDOFF_STREAM))


async def add_entry(redis: Redis, fields: Mapping[str, str]) -> None:
    """Append an entry to the intake stream directly, as another producer would."""
    await redis.xadd(redis_keys.HANDOFF_STREAM, dict(fields))  # type: ignore[arg-type]  # redis-py's narrow stub


async def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    """Poll an async predicate until it is true (for the background router loop)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")
