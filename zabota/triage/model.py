"""The triage's data: what it reads (NLU result, text signals, conversation context) and what it decides.

Plain frozen dataclasses, JSON-friendly through ``as_dict``: the gateway's /api/v1/triage response, the Rasa
metadata that makes the bot escalate, and the handoff summary all carry the same ``TriageDecision``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from zabota.catalog import Priority

PRIORITY_ORDER: dict[Priority, int] = {"p1": 1, "p2": 2, "p3": 3, "p4": 4}

# The kinds of text signal the detector knows (zabota/triage/signals.yml has the patterns for each).
SignalKind = Literal[
    "self_harm",  # suicide, self-harm, "no reason to live": p1
    "danger_to_life",  # fire, gas, someone not breathing, an emergency now: p1
    "threat",  # someone threatens the customer (or the customer threatens violence): p2
    "violence",  # violence happened or is happening: p2
    "child_at_risk",  # a child in danger, abused, contacted by a stranger: p2
    "abuse",  # harassment, stalking, domestic abuse, blackmail: p2
    "data_leak",  # personal data leaked, someone else sees my data, account taken over: p2
    "fraud",  # fraud told by its facts: a charge, a SIM swap, a code given to a "security service": p2
    "lost_device",  # the phone or SIM lost or stolen (not asked about in advance): p2
    "legal",  # court, lawyer, regulator (Роскомнадзор, Роспотребнадзор, prosecutor), formal claim: p3
    "anger",  # strong anger: insults, caps, "last time", "disgusting": p3 (complexity)
    "bereavement",  # someone close died, told without the usual words: p3
    "human_request",  # an explicit request for a person: p3 (complexity, never stonewalled)
    "leaving",  # the customer says they are leaving for good: p3 (complexity, to retention as cancel_contract)
]

ReasonCode = Literal[
    "sensitive_intent",  # the NLU intent is sensitive / escalate in the catalog
    "sensitive_signal",  # a sensitive signal in the text (overrides a routine intent)
    "human_request",  # the customer asked for a person
    "low_confidence",  # two low-confidence or fallback turns in a row
    "kb_unhelpful",  # the knowledge-base answer was marked unhelpful twice
    "recurring",  # the same problem three times in seven days
    "anger",  # strong anger
    "leaving",  # the customer says they are leaving: cancel_contract, to a person who can keep them
    "outreach_denied",  # a "no" to an outreach security check (a payment the customer did not make)
    "service_recovery",  # a low survey score (CSAT, CES, an NPS detractor): a person follows up
    "routine",  # nothing to escalate: the bot answers
]

Sentiment = Literal["positive", "neutral", "negative", "angry"]


@dataclass(frozen=True)
class NluResult:
    """What Rasa's /model/parse said about one message."""

    intent: str
    confidence: float
    # (intent, confidence) best first, as Rasa's intent_ranking; may be empty
    ranking: tuple[tuple[str, float], ...] = ()
    # Rasa entity dicts: {"entity", "value", "start", "end", ...}
    entities: tuple[dict[str, Any], ...] = ()
    # (intent, confidence) of each clause of a longer message classified on its own (zabota/triage/clauses.py),
    # in order; the clauses' words are not kept
    clauses: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Signal:
    kind: SignalKind
    priority: Priority
    # The catalog intent this signal stands for when it overrides a routine intent (self_harm -> crisis).
    intent: str
    # The matched words as lemmas (never the raw text: it may hold personal data), e.g. "покончить с собой".
    evidence: str
    lang: str


@dataclass(frozen=True)
class Reason:
    code: ReasonCode
    detail: str


@dataclass(frozen=True)
class TriageContext:
    """What the conversation so far adds to one message. Everything counts turns BEFORE this message."""

    channel: str = "webchat"
    # Consecutive earlier turns that were low-confidence or nlu_fallback (0 = the last turn was understood).
    low_confidence_streak: int = 0
    # Consecutive knowledge-base answers the customer marked unhelpful (Rasa's kb_unhelpful slot).
    kb_unhelpful: int = 0
    # intent -> how many earlier conversations/turns of this customer had it in the last 7 days; a group of
    # intents that are one problem (TriageConfig.same_problem) also under its problem key, counted once per
    # occasion however many of its intents came up then.
    recent_intents: dict[str, int] = field(default_factory=dict)
    # True when the bot's last turn asked "did this help?" after a knowledge-base answer.
    awaiting_kb_feedback: bool = False


@dataclass(frozen=True)
class TriageDecision:
    intent: str
    confidence: float
    sensitive: bool
    escalate: bool
    priority: Priority | None  # None when not escalated
    reasons: tuple[Reason, ...]
    signals: tuple[Signal, ...] = ()
    sentiment: Sentiment = "neutral"
    # The intent the bot should act on: the NLU intent, or the one a signal/complexity overrides it with
    # (crisis for self-harm, request_human for a complexity escalation).
    handoff_intent: str | None = None
    lang: str = "ru"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
