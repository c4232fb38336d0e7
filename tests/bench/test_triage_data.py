"""The triage sets stay usable and held out: they parse, their priorities fit, the held-out set shares no message
with the development set or the NLU training data; and the evaluation's scoring, on a fake NLU."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench.heldout import normalise, training_texts
from bench.triage_eval import (
    DEV,
    HELDOUT,
    Case,
    evaluate,
    intent_only,
    keyword_baseline,
    nlu_from_parse,
    parse_cases,
    read_cases,
)
from zabota.catalog import load_catalog
from zabota.triage.model import NluResult, Signal
from zabota.triage.policy import TriageConfig, TriagePolicy


@pytest.fixture(scope="module")
def heldout() -> list[Case]:
    return read_cases(HELDOUT)


@pytest.fixture(scope="module")
def dev() -> list[Case]:
    return read_cases(DEV)


def test_heldout_size_and_mix(heldout: list[Case]) -> None:
    assert len(heldout) >= 300
    escalations = [c for c in heldout if c.escalate]
    routine = [c for c in heldout if not c.escalate]
    assert len(escalations) >= 120 and len(routine) >= 180
    by_lang = Counter(c.lang for c in heldout)
    assert 0.55 <= by_lang["ru"] / len(heldout) <= 0.75
    assert {c.priority for c in escalations} == {"p1", "p2", "p3"}
    assert Counter(c.priority for c in escalations)["p1"] >= 20
    # harmless senses of scary words are in it
    assert sum(c.category == "tricky" for c in routine) >= 30


def test_dev_size(dev: list[Case]) -> None:
    assert len(dev) >= 150
    assert any(c.escalate for c in dev) and any(not c.escalate for c in dev)


@pytest.mark.parametrize("path", [HELDOUT, DEV], ids=["heldout", "dev"])
def test_no_duplicate_messages(path: Path) -> None:
    counts = Counter(normalise(c.text) for c in read_cases(path))
    assert [t for t, n in counts.items() if n > 1] == []


def test_heldout_shares_no_message_with_dev(heldout: list[Case], dev: list[Case]) -> None:
    dev_texts = {normalise(c.text) for c in dev}
    assert [c.text for c in heldout if normalise(c.text) in dev_texts] == []


def test_heldout_shares_no_message_with_nlu_training_data(heldout: list[Case]) -> None:
    train = set(training_texts())
    assert [c.text for c in heldout if normalise(c.text) in train] == []


@pytest.mark.parametrize(
    "row",
    [
        "text,ru,1,,crisis",  # escalation without a priority
        "text,ru,0,p2,internet",  # routine with one
        "text,ru,1,p7,crisis",  # no such priority
        "text,de,0,,internet",  # language
        "text,ru,yes,p1,crisis",  # flag
    ],
)
def test_malformed_rows_are_refused(tmp_path: Path, row: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("text,lang,expected_escalate,expected_priority,category\n" + row + "\n", encoding="utf-8")
    with pytest.raises(ValueError):
        read_cases(path)


# -- the evaluation's scoring, on a fake NLU ----------------------------------------------------------------


def fake_parse(text: str) -> dict[str, object]:
    """What a Rasa server would say: the intent is named in the text for these tests."""
    intent = {"суицид": "crisis", "украли": "lost_device"}.get(text.split()[0], "internet_down")
    return {
        "intent": {"name": intent, "confidence": 0.9},
        "intent_ranking": [{"name": intent, "confidence": 0.9}, {"name": "greet", "confidence": 0.05}],
        "entities": [{"entity": "phone", "value": "89161234567", "start": 0, "end": 11}],
    }


def fake_detector(text: str, lang: str) -> list[Signal]:
    if "газ" in text:
        return [Signal("danger_to_life", "p1", "crisis", "пахнуть газ", lang)]
    if "оператор" in text:
        return [Signal("human_request", "p3", "request_human", "позвать оператор", lang)]
    return []


CASES = [
    Case("суицид думаю", "ru", True, "p1", "crisis"),  # intent: all three catch it
    Case("украли телефон", "ru", True, "p2", "lost_device"),  # intent
    Case("пахнет газом в подъезде", "ru", True, "p1", "danger"),  # signal only (keyword: "газ")
    Case("позовите оператора", "ru", True, "p3", "human_request"),  # signal only (keyword: "оператор")
    Case("the internet is down", "en", False, None, "internet"),
    Case("how to kill time", "en", False, None, "tricky"),  # the keyword baseline's "kill"
]


def test_nlu_from_parse() -> None:
    result = nlu_from_parse(fake_parse("суицид"))
    assert result == NluResult(
        "crisis",
        0.9,
        (("crisis", 0.9), ("greet", 0.05)),
        ({"entity": "phone", "value": "89161234567", "start": 0, "end": 11},),
    )
    assert nlu_from_parse({}) == NluResult("nlu_fallback", 0.0)


def test_parse_cases_uses_and_fills_the_cache(tmp_path: Path) -> None:
    calls: list[str] = []

    def parse(text: str) -> dict[str, object]:
        calls.append(text)
        return fake_parse(text)

    cache = tmp_path / "nlu.json"
    first, latencies = parse_cases(CASES, parse, cache)
    assert len(calls) == len(CASES) and len(latencies) == len(CASES)
    again, latencies = parse_cases(CASES, parse, cache)
    assert again == first and len(calls) == len(CASES) and latencies == []


def test_baselines() -> None:
    catalog = load_catalog()
    assert intent_only(catalog, NluResult("crisis", 0.9)).priority == "p1"
    assert not intent_only(catalog, NluResult("internet_down", 0.9)).escalate
    keyword = keyword_baseline(catalog, "how to kill time", NluResult("out_of_scope", 0.9))
    assert keyword.escalate and keyword.priority == "p2"
    # the intent's priority wins when more urgent than the substring's
    assert keyword_baseline(catalog, "суд, суицид", NluResult("internet_down", 0.9)).priority == "p1"


def test_evaluate_scores_three_systems() -> None:
    nlu, _ = parse_cases(CASES, fake_parse)
    policy = TriagePolicy(load_catalog(), TriageConfig())
    evaluation = evaluate(CASES, nlu, fake_detector, policy, parse_ms=[5.0, 7.0])
    figures = evaluation.figures()

    intent = figures["intent"]["all"]
    assert intent["escalations"] == 4 and intent["routine"] == 2
    assert intent["recall"] == 0.5 and intent["missed_p1_p2"] == 1 and intent["missed"] == 2
    assert intent["false_escalation_rate"] == 0.0
    assert intent["priority_accuracy"] == 0.5

    keyword = figures["keyword"]["all"]
    assert keyword["recall"] == 1.0
    assert keyword["false_escalation_rate"] == 0.5  # "kill" in "how to kill time"

    triage = figures["triage"]["all"]
    assert triage["recall"] == 1.0 and triage["missed_p1_p2"] == 0
    assert triage["false_escalation_rate"] == 0.0
    assert triage["priority_accuracy"] == 1.0
    assert figures["triage"]["en"]["escalations"] == 0 and figures["triage"]["en"]["recall"] is None
    assert figures["targets_met"] is True
    assert figures["latency_ms"]["nlu_parse_p50"] in (5.0, 7.0)
    assert figures["latency_ms"]["signal_detection_p95"] >= 0

    missed = evaluation.scores["intent"]["all"].missed_p1_p2
    assert len(missed) == 1 and "пахнет газом" in missed[0]


def test_evaluate_flags_under_prioritised_and_targets() -> None:
    cases = [Case("суицид", "ru", True, "p1", "crisis"), Case("оператор", "ru", False, None, "x")]
    nlu = [NluResult("legal_threat", 0.9), NluResult("internet_down", 0.9)]
    policy = TriagePolicy(load_catalog(), TriageConfig())
    evaluation = evaluate(cases, nlu, fake_detector, policy)
    figures = evaluation.figures()
    assert figures["triage"]["all"]["under_prioritised_p1_p2"] == 1  # p1 case handed over at p3
    assert figures["triage"]["all"]["false_escalation_rate"] == 1.0
    assert figures["targets_met"] is False
    with pytest.raises(ValueError):
        evaluate(cases, nlu[:1], fake_detector, policy)
