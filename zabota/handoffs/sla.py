"""How soon an operator must answer a handoff, and the queue order that follows from it.

The catalog's priorities (zabota/catalog.yml): p1 now (life, safety), p2 within 15 minutes (money, security),
p3 within 2 hours, p4 within a business day (taken here as 24 hours). Each is configurable, in seconds, with
HANDOFF_SLA_P1..HANDOFF_SLA_P4; HANDOFF_REMINDER_SECONDS sets how often an overdue handoff is reminded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from zabota.catalog import Priority
from zabota.triage.model import PRIORITY_ORDER

# Width of one priority's band of queue scores. Due times are Unix seconds (about 1.8e9 now, under 1e11 until
# the year 5138), so every p1 score is below every p2 score; a double still resolves well under a millisecond
# at 4e11.
_BAND = 1e11


@dataclass(frozen=True)
class SlaPolicy:
    p1: float = 300.0
    p2: float = 900.0
    p3: float = 7200.0
    p4: float = 86400.0
    # A handoff still waiting past its due time is reminded at most once per this many seconds.
    reminder_interval: float = 300.0

    def __post_init__(self) -> None:
        for name in ("p1", "p2", "p3", "p4", "reminder_interval"):
            if not getattr(self, name) > 0:
                raise ValueError(f"SLA {name} must be a positive number of seconds")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SlaPolicy:
        """The defaults, overridden by HANDOFF_SLA_P1..P4 and HANDOFF_REMINDER_SECONDS where set."""
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            p1=_seconds(env, "HANDOFF_SLA_P1", defaults.p1),
            p2=_seconds(env, "HANDOFF_SLA_P2", defaults.p2),
            p3=_seconds(env, "HANDOFF_SLA_P3", defaults.p3),
            p4=_seconds(env, "HANDOFF_SLA_P4", defaults.p4),
            reminder_interval=_seconds(env, "HANDOFF_REMINDER_SECONDS", defaults.reminder_interval),
        )

    def seconds(self, priority: Priority) -> float:
        value: float = getattr(self, priority)
        return value

    def due_at(self, priority: Priority, now: float) -> float:
        return now + self.seconds(priority)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {raw!r}")
    return value


def queue_score(priority: Priority, due_at: float) -> float:
    """Score in the handoff queue: every handoff of a more urgent priority first, then the earliest due."""
    return PRIORITY_ORDER[priority] * _BAND + due_at


def priority_band(priority: Priority, until: float) -> tuple[float, float]:
    """(min, max) queue scores of the handoffs of ``priority`` due at or before ``until``."""
    low = PRIORITY_ORDER[priority] * _BAND
    return low, low + until
