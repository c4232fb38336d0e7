"""The triage policy: every rule, their combinations, the reasons a decision carries, and its configuration.

Signals are built by hand here (the detector has its own tests), so each rule is tested alone.
(Named test_triage_policy.py: tests/zabota/channels/test_policy.py exists, and test directories have no
__init__.py.)"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest

from zabota.catalog import Priority, load_catalog
from zabota.triage import (
    NluResult,
    Signal,
    SignalKind,
    TriageConfig,
    TriageContext,
    TriageDecision,
    TriagePolicy,
)
from zabota.triage.policy import problem_key

KIND_SPECS: dict[str, tuple[Priority, str]] = {
    "self_harm": ("p1", "crisis"),
    "danger_to_life": ("p1", "crisis"),
    "threat": ("p2", "harassment_report"),
    "violence": ("p2", "harassment_report"),
    "child_at_risk": ("p2", "harassment_report"),
    "abuse": ("p2", "harassment_report"),
    "data_leak": ("p2", "privacy_request"),
    "fraud": ("p2", "fraud_report"),
    "lost_device": ("p2", "lost_device"),
    "legal": ("p3", "legal_threat"),
    "bereavement": ("p3", "bereavement"),
    "anger": ("p3", "complaint"),
    "human_request": ("p3", "request_human"),
    "leaving": ("p3", "cancel_contract"),
}


def sig(kind: SignalKind, evidence: str = "x") -> Signal:
    priority, intent = KIND_SPECS[kind]
    return Signal(kind, priority, intent, evidence, "ru")


def nlu(intent: str, confidence: float = 0.9) -> NluResult:
    return NluResult(intent=intent, confidence=confidence)


def no_cues(text: str, lang: str) -> set[str]:
    return set()


# The optional confidence gate on doubtful sensitive intents, as tuned on the development set.
GATED = TriageConfig(sensitive_min_confidence=0.6)


@pytest.fixture(scope="module")
def policy() -> TriagePolicy:
    # with a cue source (here one that never confirms), as the product runs it: doubtful intents are doubted
    return TriagePolicy(load_catalog(), GATED, cues=no_cues)


def decide(
    policy: TriagePolicy,
    intent: str,
    signals: list[Signal] | None = None,
    context: TriageContext | None = None,
    confidence: float = 0.9,
) -> TriageDecision:
    return policy.decide("текст", "ru", nlu(intent, confidence), signals or [], context or TriageContext())


def codes(decision: TriageDecision) -> list[str]:
    return [r.code for r in decision.reasons]


# -- routine ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("intent", ["internet_down", "check_balance", "greet", "out_of_scope", "complaint", "deny"])
def test_routine_intent_is_answered_by_the_bot(policy: TriagePolicy, intent: str) -> None:
    decision = decide(policy, intent)
    assert not decision.escalate
    assert decision.priority is None
    assert codes(decision) == ["routine"]
    assert decision.handoff_intent == intent
    assert not decision.sensitive


def test_unknown_intent_is_routine_when_confident(policy: TriagePolicy) -> None:
    decision = decide(policy, "something_new")
    assert not decision.escalate and codes(decision) == ["routine"]


# -- sensitive intents --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("intent", "priority"),
    [
        ("crisis", "p1"),
        ("fraud_report", "p2"),
        ("lost_device", "p2"),
        ("harassment_report", "p2"),
        ("legal_threat", "p3"),
        ("privacy_request", "p3"),
        ("bereavement", "p3"),
    ],
)
def test_sensitive_intent_escalates_with_catalog_priority(policy: TriagePolicy, intent: str, priority: str) -> None:
    decision = decide(policy, intent, confidence=0.8)
    assert decision.escalate
    assert decision.priority == priority
    assert decision.sensitive
    assert codes(decision) == ["sensitive_intent"]
    assert decision.handoff_intent == intent
    assert decision.sentiment == "negative"


def test_escalate_intent_that_is_not_sensitive(policy: TriagePolicy) -> None:
    decision = decide(policy, "cancel_contract")
    assert decision.escalate and decision.priority == "p3"
    assert codes(decision) == ["sensitive_intent"]
    assert not decision.sensitive
    assert decision.handoff_intent == "cancel_contract"


def test_request_human_intent_has_reason_human_request(policy: TriagePolicy) -> None:
    decision = decide(policy, "request_human")
    assert decision.escalate and decision.priority == "p3"
    assert codes(decision) == ["human_request"]
    assert not decision.sensitive
    assert decision.handoff_intent == "request_human"
    # the intent and the signal together: one reason, naming both
    both = decide(policy, "request_human", [sig("human_request", "позвать оператор")])
    assert codes(both) == ["human_request"]
    assert "позвать оператор" in both.reasons[0].detail


# -- a doubtful sensitive intent ---------------------------------------------------------------------------


def test_doubtful_sensitive_intent_needs_the_text_to_confirm_it(policy: TriagePolicy) -> None:
    # «батарейка в пульте умерла» read as bereavement at 0.23: the bot answers
    decision = decide(policy, "bereavement", confidence=0.23)
    assert not decision.escalate
    assert codes(decision) == ["routine"]
    assert "below 0.6 and not confirmed" in decision.reasons[0].detail
    assert not decision.sensitive
    # at the threshold it is trusted
    assert decide(policy, "bereavement", confidence=0.6).escalate


def test_doubtful_intent_confirmed_by_a_signal_for_it(policy: TriagePolicy) -> None:
    decision = decide(policy, "legal_threat", [sig("legal", "подать в суд")], confidence=0.3)
    assert decision.escalate and decision.priority == "p3"
    assert codes(decision) == ["sensitive_intent", "sensitive_signal"]
    assert decide(policy, "request_human", [sig("human_request")], confidence=0.3).escalate


def test_doubtful_intent_confirmed_by_a_cue() -> None:
    seen: list[tuple[str, str]] = []

    def cues(text: str, lang: str) -> set[str]:
        seen.append((text, lang))
        return {"lost_device"} if "украли" in text else set()

    policy = TriagePolicy(load_catalog(), GATED, cues=cues)
    confirmed = policy.decide("у меня украли телефон", "ru", nlu("lost_device", 0.4), [], TriageContext())
    assert confirmed.escalate and confirmed.priority == "p2" and confirmed.handoff_intent == "lost_device"
    doubted = policy.decide("сын разбил экран", "ru", nlu("lost_device", 0.4), [], TriageContext())
    assert not doubted.escalate
    assert seen == [("у меня украли телефон", "ru"), ("сын разбил экран", "ru")]
    # a confident intent does not need the cues
    policy.decide("x", "ru", nlu("lost_device", 0.9), [], TriageContext())
    assert len(seen) == 2


def test_doubtful_crisis_counts_unless_another_signal_explains_it(policy: TriagePolicy) -> None:
    alone = decide(policy, "crisis", confidence=0.25)
    assert alone.escalate and alone.priority == "p1" and alone.handoff_intent == "crisis"
    with_anger = decide(policy, "crisis", [sig("anger")], confidence=0.25)
    assert with_anger.priority == "p1"
    # a threat read as crisis is the threat
    threat = decide(policy, "crisis", [sig("threat")], confidence=0.3)
    assert threat.priority == "p2" and threat.handoff_intent == "harassment_report"
    # "I need to escalate this" read as crisis is a request for a person
    person = decide(policy, "crisis", [sig("human_request")], confidence=0.23)
    assert person.priority == "p3" and person.handoff_intent == "request_human"
    assert codes(person) == ["human_request"]


def test_min_confidence_zero_trusts_every_intent() -> None:
    policy = TriagePolicy(load_catalog(), TriageConfig(sensitive_min_confidence=0.0), cues=no_cues)
    assert decide(policy, "bereavement", confidence=0.21).escalate


def test_the_default_gate_needs_confirmation_only_below_it() -> None:
    policy = TriagePolicy(load_catalog(), TriageConfig(), cues=no_cues)
    assert not decide(policy, "bereavement", confidence=0.21).escalate
    assert decide(policy, "fraud_report", confidence=0.45).priority == "p2"


def test_without_a_cue_source_every_sensitive_intent_counts() -> None:
    policy = TriagePolicy(load_catalog(), GATED)
    decision = decide(policy, "bereavement", confidence=0.21)
    assert decision.escalate and decision.priority == "p3" and decision.sensitive


# -- sensitive signals --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "priority", "handoff"),
    [
        ("self_harm", "p1", "crisis"),
        ("danger_to_life", "p1", "crisis"),
        ("threat", "p2", "harassment_report"),
        ("violence", "p2", "harassment_report"),
        ("child_at_risk", "p2", "harassment_report"),
        ("abuse", "p2", "harassment_report"),
        ("data_leak", "p2", "privacy_request"),
        ("legal", "p3", "legal_threat"),
    ],
)
def test_sensitive_signal_overrides_routine_intent(
    policy: TriagePolicy, kind: SignalKind, priority: str, handoff: str
) -> None:
    decision = decide(policy, "internet_down", [sig(kind, "не хотеть жить")])
    assert decision.escalate
    assert decision.priority == priority
    assert decision.handoff_intent == handoff
    assert decision.intent == "internet_down"  # the NLU's intent stays on record
    assert decision.sensitive
    assert codes(decision) == ["sensitive_signal"]
    assert decision.reasons[0].detail == f"signal {kind}: 'не хотеть жить', {priority}"


def test_most_urgent_of_signal_and_intent(policy: TriagePolicy) -> None:
    # a p1 signal beats a p3 sensitive intent, and the bot acts on the signal's intent
    decision = decide(policy, "legal_threat", [sig("self_harm")])
    assert decision.priority == "p1"
    assert decision.handoff_intent == "crisis"
    assert codes(decision) == ["sensitive_intent", "sensitive_signal"]
    # a p3 signal does not lower a p2 intent, and the intent is kept
    decision = decide(policy, "fraud_report", [sig("legal")])
    assert decision.priority == "p2"
    assert decision.handoff_intent == "fraud_report"
    # on a tie the NLU's sensitive intent is kept
    decision = decide(policy, "fraud_report", [sig("data_leak")])
    assert decision.priority == "p2" and decision.handoff_intent == "fraud_report"


def test_several_signals_all_listed(policy: TriagePolicy) -> None:
    signals = [sig("self_harm"), sig("threat"), sig("anger"), sig("human_request")]
    decision = decide(policy, "complaint", signals)
    assert decision.priority == "p1"
    assert decision.handoff_intent == "crisis"
    assert codes(decision) == ["sensitive_signal", "sensitive_signal", "human_request", "anger"]
    assert decision.sentiment == "angry"
    assert decision.signals == tuple(signals)


# -- complexity ---------------------------------------------------------------------------------------------


def test_low_confidence_twice_in_a_row(policy: TriagePolicy) -> None:
    first = decide(policy, "internet_slow", confidence=0.3, context=TriageContext(low_confidence_streak=0))
    assert not first.escalate
    second = decide(policy, "internet_slow", confidence=0.3, context=TriageContext(low_confidence_streak=1))
    assert second.escalate and second.priority == "p3"
    assert codes(second) == ["low_confidence"]
    assert second.handoff_intent == "request_human"
    assert not second.sensitive


def test_fallback_counts_as_low_confidence(policy: TriagePolicy) -> None:
    decision = decide(policy, "nlu_fallback", confidence=0.9, context=TriageContext(low_confidence_streak=1))
    assert codes(decision) == ["low_confidence"]


def test_confident_turn_after_low_confidence_is_routine(policy: TriagePolicy) -> None:
    decision = decide(policy, "internet_slow", confidence=0.8, context=TriageContext(low_confidence_streak=3))
    assert not decision.escalate


def test_kb_unhelpful_twice(policy: TriagePolicy) -> None:
    after_article = TriageContext(awaiting_kb_feedback=True, kb_unhelpful=1)
    decision = decide(policy, "deny", context=after_article)
    assert decision.escalate and codes(decision) == ["kb_unhelpful"]
    assert decision.handoff_intent == "request_human"
    assert decision.sentiment == "negative"
    # the first "no" does not escalate; a "no" that does not answer an article does not count
    assert not decide(policy, "deny", context=TriageContext(awaiting_kb_feedback=True, kb_unhelpful=0)).escalate
    assert not decide(policy, "deny", context=TriageContext(awaiting_kb_feedback=False, kb_unhelpful=5)).escalate


def test_recurring_problem(policy: TriagePolicy) -> None:
    third = decide(policy, "internet_down", context=TriageContext(recent_intents={"internet_down": 2}))
    assert third.escalate and codes(third) == ["recurring"]
    assert "3 times within 7 days" in third.reasons[0].detail
    second = decide(policy, "internet_down", context=TriageContext(recent_intents={"internet_down": 1}))
    assert not second.escalate
    other = decide(policy, "internet_down", context=TriageContext(recent_intents={"tv_problem": 5}))
    assert not other.escalate


def test_recurring_counts_the_intents_that_are_one_problem_together(policy: TriagePolicy) -> None:
    """TriageConfig.same_problem: slow on Monday and Wednesday, down today is the same connection the third time;
    the group's own count (a contact naming both once) decides, not the sum of its intents'."""
    key = problem_key(["internet_down", "internet_slow"])
    assert policy.problem_of["internet_slow"] == key
    third = decide(policy, "internet_down", context=TriageContext(recent_intents={"internet_slow": 2, key: 2}))
    assert third.escalate and codes(third) == ["recurring"]
    assert third.reasons[0].detail == "internet_down (internet_down+internet_slow) 3 times within 7 days"
    # one earlier contact said both: one occasion of the problem, not two
    once = decide(
        policy, "internet_down", context=TriageContext(recent_intents={"internet_slow": 1, "internet_down": 1, key: 1})
    )
    assert not once.escalate
    apart = TriagePolicy(load_catalog(), TriageConfig(same_problem=""))
    assert not decide(
        apart, "internet_down", context=TriageContext(recent_intents={"internet_slow": 2, key: 2})
    ).escalate


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("internet_down", "two or more intents"),
        ("internet_down+", "two or more intents"),
        ("internet_down+internet_slow;internet_slow+tv_problem", "in two groups"),
    ],
)
def test_a_malformed_same_problem_is_refused(value: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        TriageConfig(same_problem=value)
    with pytest.raises(ValueError, match=error):
        TriageConfig.from_env({"TRIAGE_SAME_PROBLEM": value})


def test_same_problem_names_catalog_intents() -> None:
    with pytest.raises(ValueError, match="no_such_intent"):
        TriagePolicy(load_catalog(), TriageConfig(same_problem="internet_down+no_such_intent"))


@pytest.mark.parametrize("intent", ["greet", "thank", "out_of_scope", "bot_challenge"])
def test_recurring_ignores_smalltalk(policy: TriagePolicy, intent: str) -> None:
    assert not decide(policy, intent, context=TriageContext(recent_intents={intent: 10})).escalate


def test_anger_escalates(policy: TriagePolicy) -> None:
    decision = decide(policy, "internet_down", [sig("anger", "издевательство")])
    assert decision.escalate and decision.priority == "p3"
    assert codes(decision) == ["anger"]
    assert decision.reasons[0].detail == "signal anger: 'издевательство'"
    assert decision.handoff_intent == "request_human"
    assert decision.sentiment == "angry"
    assert not decision.sensitive  # anger is complexity, not sensitivity


def test_anger_does_not_escalate_when_configured_off() -> None:
    policy = TriagePolicy(load_catalog(), TriageConfig(anger_escalates=False), cues=no_cues)
    decision = decide(policy, "internet_down", [sig("anger")])
    assert not decision.escalate
    assert decision.sentiment == "angry"


def test_human_request_signal_escalates_a_routine_intent(policy: TriagePolicy) -> None:
    decision = decide(policy, "internet_down", [sig("human_request", "живой человек")])
    assert decision.escalate and decision.priority == "p3"
    assert codes(decision) == ["human_request"]
    assert decision.handoff_intent == "request_human"
    assert not decision.sensitive


def test_all_complexity_reasons_together(policy: TriagePolicy) -> None:
    context = TriageContext(
        low_confidence_streak=1, kb_unhelpful=1, awaiting_kb_feedback=True, recent_intents={"deny": 5}
    )
    decision = decide(policy, "deny", [sig("anger"), sig("human_request")], context, confidence=0.4)
    # deny is smalltalk: no recurring
    assert codes(decision) == ["human_request", "low_confidence", "kb_unhelpful", "anger"]
    assert decision.priority == "p3"
    assert decision.handoff_intent == "request_human"


def test_complexity_with_a_sensitive_signal_keeps_the_sensitive_intent(policy: TriagePolicy) -> None:
    decision = decide(policy, "complaint", [sig("legal"), sig("anger")])
    assert decision.priority == "p3"
    assert decision.handoff_intent == "legal_threat"
    assert codes(decision) == ["sensitive_signal", "anger"]
    assert decision.sensitive


def test_complexity_priority_is_configurable(policy: TriagePolicy) -> None:
    urgent = TriagePolicy(load_catalog(), TriageConfig(complexity_priority="p2"))
    decision = decide(urgent, "internet_down", [sig("anger")])
    assert decision.priority == "p2"
    # more urgent than a p3 sensitive signal: the priority rises, the bot still acts on the sensitive intent
    decision = decide(urgent, "internet_down", [sig("legal"), sig("anger")])
    assert decision.priority == "p2"
    assert decision.handoff_intent == "legal_threat"


def test_thresholds_are_configurable() -> None:
    config = TriageConfig(low_confidence_threshold=0.7, low_confidence_turns=3, kb_unhelpful_turns=1, recurring_count=2)
    policy = TriagePolicy(load_catalog(), config)
    assert not decide(policy, "internet_slow", confidence=0.6, context=TriageContext(low_confidence_streak=1)).escalate
    assert decide(policy, "internet_slow", confidence=0.6, context=TriageContext(low_confidence_streak=2)).escalate
    assert decide(policy, "deny", context=TriageContext(awaiting_kb_feedback=True)).escalate
    assert decide(policy, "order_status", context=TriageContext(recent_intents={"order_status": 1})).escalate


# -- sentiment and the decision's form ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("intent", "sentiment"),
    [("thank", "positive"), ("affirm", "positive"), ("greet", "neutral"), ("complaint", "negative")],
)
def test_sentiment(policy: TriagePolicy, intent: str, sentiment: str) -> None:
    assert decide(policy, intent).sentiment == sentiment


def test_decision_is_json_friendly(policy: TriagePolicy) -> None:
    decision = decide(policy, "internet_down", [sig("self_harm", "покончить с себя")])
    data = json.loads(json.dumps(decision.as_dict(), ensure_ascii=False))
    assert data["escalate"] is True and data["priority"] == "p1"
    assert data["reasons"] == [
        {"code": "sensitive_signal", "detail": "signal self_harm: 'покончить с себя', p1"},
    ]
    assert data["signals"][0]["kind"] == "self_harm"
    assert data["lang"] == "ru"


# -- configuration from the environment ---------------------------------------------------------------------


def test_config_defaults() -> None:
    config = TriageConfig()
    assert config.low_confidence_threshold == 0.5
    assert config.low_confidence_turns == 2
    assert config.kb_unhelpful_turns == 2
    assert config.recurring_count == 3
    assert config.recurring_days == 7
    assert config.anger_escalates is True
    assert config.fallback_intent == "nlu_fallback"
    assert config.complexity_priority == "p3"
    assert config.sensitive_min_confidence == 0.4
    assert TriageConfig.from_env({}) == config


def test_config_from_env() -> None:
    env = {
        "TRIAGE_LOW_CONFIDENCE_THRESHOLD": "0.35",
        "TRIAGE_LOW_CONFIDENCE_TURNS": "3",
        "TRIAGE_KB_UNHELPFUL_TURNS": "1",
        "TRIAGE_RECURRING_COUNT": "4",
        "TRIAGE_RECURRING_DAYS": "14",
        "TRIAGE_ANGER_ESCALATES": "false",
        "TRIAGE_FALLBACK_INTENT": "fallback",
        "TRIAGE_COMPLEXITY_PRIORITY": "p2",
        "TRIAGE_SENSITIVE_MIN_CONFIDENCE": "0",
        "TRIAGE_CLAUSE_P1_MIN_CONFIDENCE": "0.6",
        "TRIAGE_READ_CLAUSES": "no",
        "TRIAGE_SAME_PROBLEM": "tv_problem+mobile_no_signal",
        "UNRELATED": "x",
    }
    config = TriageConfig.from_env(env)
    assert dataclasses.asdict(config) == {
        "low_confidence_threshold": 0.35,
        "low_confidence_turns": 3,
        "kb_unhelpful_turns": 1,
        "recurring_count": 4,
        "recurring_days": 14,
        "anger_escalates": False,
        "fallback_intent": "fallback",
        "complexity_priority": "p2",
        "sensitive_min_confidence": 0.0,
        "clause_p1_min_confidence": 0.6,
        "read_clauses": False,
        "same_problem": "tv_problem+mobile_no_signal",
    }


def test_config_from_process_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_ANGER_ESCALATES", "yes")
    monkeypatch.setenv("TRIAGE_RECURRING_COUNT", "")  # empty: the default
    config = TriageConfig.from_env()
    assert config.anger_escalates is True and config.recurring_count == 3


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRIAGE_LOW_CONFIDENCE_THRESHOLD", "high"),
        ("TRIAGE_LOW_CONFIDENCE_THRESHOLD", "1.5"),
        ("TRIAGE_RECURRING_COUNT", "0"),
        ("TRIAGE_ANGER_ESCALATES", "maybe"),
        ("TRIAGE_COMPLEXITY_PRIORITY", "p9"),
        ("TRIAGE_SENSITIVE_MIN_CONFIDENCE", "-0.1"),
    ],
)
def test_config_from_env_refuses_bad_values(name: str, value: str) -> None:
    with pytest.raises(ValueError):
        TriageConfig.from_env({name: value})


# -- intents the text explains away ---------------------------------------------------------------------------


def vetoing(*intents: str) -> Callable[[str, str], set[str]]:
    def vetoes(text: str, lang: str) -> set[str]:
        return set(intents)

    return vetoes


def test_an_intent_the_text_explains_away_is_routine_however_confident() -> None:
    policy = TriagePolicy(load_catalog(), TriageConfig(), cues=no_cues, vetoes=vetoing("lost_device"))
    decision = decide(policy, "lost_device", confidence=0.95)
    assert not decision.escalate
    assert "explained away" in decision.reasons[0].detail


def test_a_p1_intent_is_never_explained_away() -> None:
    policy = TriagePolicy(load_catalog(), TriageConfig(), cues=no_cues, vetoes=vetoing("crisis"))
    assert decide(policy, "crisis").priority == "p1"


def test_a_signal_for_the_same_intent_beats_its_veto() -> None:
    policy = TriagePolicy(load_catalog(), TriageConfig(), cues=no_cues, vetoes=vetoing("fraud_report"))
    decision = decide(policy, "fraud_report", [sig("fraud")])
    assert decision.escalate and decision.priority == "p2"


def test_a_veto_for_another_intent_changes_nothing() -> None:
    policy = TriagePolicy(load_catalog(), TriageConfig(), cues=no_cues, vetoes=vetoing("bereavement"))
    assert decide(policy, "fraud_report").priority == "p2"


def test_a_customer_leaving_goes_to_retention(policy: TriagePolicy) -> None:
    decision = decide(policy, "check_balance", [sig("leaving", "уйти к конкурент")])
    assert decision.escalate and decision.priority == "p3"
    assert decision.handoff_intent == "cancel_contract"
    assert codes(decision) == ["leaving"]
    assert not decision.sensitive


def test_leaving_with_a_sensitive_signal_acts_on_the_sensitive_one(policy: TriagePolicy) -> None:
    decision = decide(policy, "check_balance", [sig("fraud"), sig("leaving")])
    assert decision.priority == "p2" and decision.handoff_intent == "fraud_report"


@pytest.mark.parametrize("kind", ["fraud", "lost_device", "bereavement"])
def test_the_new_sensitive_kinds_override_a_routine_intent(policy: TriagePolicy, kind: SignalKind) -> None:
    priority, intent = KIND_SPECS[kind]
    decision = decide(policy, "check_balance", [sig(kind)])
    assert decision.escalate and decision.sensitive
    assert (decision.priority, decision.handoff_intent) == (priority, intent)


# --- clauses read alone ----------------------------------------------------------------------------------------


def with_clauses(intent: str, *clauses: tuple[str, float]) -> NluResult:
    return NluResult(intent=intent, confidence=0.9, clauses=clauses)


def test_a_clause_read_as_crisis_escalates_p1_whatever_the_whole_message_was(policy: TriagePolicy) -> None:
    decision = policy.decide(
        "текст", "ru", with_clauses("change_tariff", ("change_tariff", 0.95), ("crisis", 0.97)), []
    )
    assert decision.escalate and decision.priority == "p1"
    assert decision.handoff_intent == "crisis"
    assert decision.sensitive is True
    [reason] = decision.reasons
    assert (reason.code, reason.detail) == ("sensitive_intent", "clause 2 of the message: intent crisis (0.97), p1")


@pytest.mark.parametrize(
    "clauses",
    [
        (("change_tariff", 0.95), ("crisis", 0.39)),  # below the clause threshold
        (("change_tariff", 0.95), ("fraud_report", 0.99)),  # p1 only: a p2 clause is for the signals and vetoes
        (),
    ],
)
def test_no_escalation_from_these_clauses(policy: TriagePolicy, clauses: tuple[tuple[str, float], ...]) -> None:
    decision = policy.decide("текст", "ru", with_clauses("change_tariff", *clauses), [])
    assert decision.escalate is False


def test_reading_clauses_can_be_switched_off() -> None:
    config = TriageConfig.from_env({"TRIAGE_READ_CLAUSES": "false", "TRIAGE_CLAUSE_P1_MIN_CONFIDENCE": "0.5"})
    assert (config.read_clauses, config.clause_p1_min_confidence) == (False, 0.5)
    quiet = TriagePolicy(load_catalog(), config, cues=no_cues)
    assert quiet.decide("текст", "ru", with_clauses("change_tariff", ("crisis", 0.97)), []).escalate is False


def test_a_crisis_intent_and_a_crisis_clause_give_one_reason(policy: TriagePolicy) -> None:
    decision = policy.decide("текст", "ru", with_clauses("crisis", ("crisis", 0.97)), [])
    assert decision.priority == "p1"
    assert codes(decision) == ["sensitive_intent"]
