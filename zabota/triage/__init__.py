"""Triage: decides, for each customer message, whether the bot answers or a person takes over, how urgently,
and why. Plain and typed: no server, nothing loaded at import (the spaCy pipelines load on first use).

    detector = SignalDetector()
    policy = TriagePolicy(load_catalog(), TriageConfig.from_env())
    decision = policy.decide(text, lang, nlu, detector.detect(text, lang), context)
"""

from zabota.triage.model import (
    PRIORITY_ORDER,
    NluResult,
    Reason,
    ReasonCode,
    Sentiment,
    Signal,
    SignalKind,
    TriageContext,
    TriageDecision,
)
from zabota.triage.policy import TriageConfig, TriagePolicy
from zabota.triage.signals import SignalDetector, is_sensitive, load_signal_config

__all__ = [
    "PRIORITY_ORDER",
    "NluResult",
    "Reason",
    "ReasonCode",
    "Sentiment",
    "Signal",
    "SignalDetector",
    "SignalKind",
    "TriageConfig",
    "TriageContext",
    "TriageDecision",
    "TriagePolicy",
    "is_sensitive",
    "load_signal_config",
]
