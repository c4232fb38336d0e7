"""Handoffs to human operators: the summary an operator reads, the SLA that orders the queue, and the Redis
store with its router (zabota/handoffs/store.py). Replaces zabota/handoff.py, which stays until actions/ moves
over."""

from zabota.handoffs.sla import SlaPolicy, queue_score
from zabota.handoffs.store import (
    Handoff,
    HandoffConflict,
    HandoffError,
    HandoffForbidden,
    HandoffNotFound,
    HandoffRouter,
    HandoffState,
    HandoffStore,
    LogEntry,
    Note,
    OperatorRole,
)
from zabota.handoffs.summary import (
    BotAttempt,
    CustomerInfo,
    HandoffSummary,
    IntentSeen,
    TranscriptLine,
    build_summary,
)

__all__ = [
    "BotAttempt",
    "CustomerInfo",
    "Handoff",
    "HandoffConflict",
    "HandoffError",
    "HandoffForbidden",
    "HandoffNotFound",
    "HandoffRouter",
    "HandoffState",
    "HandoffStore",
    "HandoffSummary",
    "IntentSeen",
    "LogEntry",
    "Note",
    "OperatorRole",
    "SlaPolicy",
    "TranscriptLine",
    "build_summary",
    "queue_score",
]
