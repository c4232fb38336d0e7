"""The customer-style sets (bench/data/wild: held out, never tuned on; bench/data/wild_dev: for tuning) stay
usable and apart: their size and mix, every catalog intent and knowledge-base topic covered, and no message
shared with the training data, the knowledge base's ways of asking, or each other."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from bench.heldout import ROOT, normalise, training_texts
from bench.triage_eval import read_cases
from kb_index.documents import read_questions
from zabota.catalog import load_catalog

WILD = ROOT / "bench" / "data" / "wild"
WILD_DEV = ROOT / "bench" / "data" / "wild_dev"
KB_QUESTIONS = ROOT / "kb" / "questions"


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def kb_question_texts() -> set[str]:
    """The articles' ways of asking, read as the index reads them."""
    return {normalise(q) for path in KB_QUESTIONS.rglob("*.txt") for q in read_questions(path)}


def heldout_texts() -> list[str]:
    """Every message of the held-out sets (bench/data/wild)."""
    texts = [r["query"] for r in rows(WILD / "kb.csv")] + [r["text"] for r in rows(WILD / "kb_negatives.csv")]
    texts += [c.text for c in read_cases(WILD / "triage.csv")]
    texts += [r["text"] for lang in ("ru", "en") for r in rows(WILD / f"intents_{lang}.csv")]
    return texts


@pytest.fixture(scope="module")
def seen() -> set[str]:
    """Every text the service learns from: the NLU training data and the articles' ways of asking."""
    return set(training_texts()) | kb_question_texts()


def test_dev_triage_set_mix() -> None:
    cases = read_cases(WILD_DEV / "triage.csv")
    assert len(cases) >= 300
    escalations = [c for c in cases if c.escalate]
    assert len(escalations) >= 150 and len(cases) - len(escalations) >= 150
    assert Counter(c.priority for c in escalations)["p1"] >= 30
    routine = Counter(c.category for c in cases if not c.escalate)
    assert routine["advance_question"] >= 30 and routine["praise"] >= 20 and routine["tricky"] >= 30


def test_heldout_triage_set_mix() -> None:
    cases = read_cases(WILD / "triage.csv")
    assert len(cases) >= 300
    escalations = [c for c in cases if c.escalate]
    assert len(escalations) >= len(cases) // 2
    assert Counter(c.priority for c in escalations)["p1"] >= 30
    assert {c.lang for c in cases} == {"ru", "en"}


def test_intent_sets_cover_every_intent() -> None:
    intents = set(load_catalog().intents)
    total = 0
    for lang in ("ru", "en"):
        data = rows(WILD / f"intents_{lang}.csv")
        total += len(data)
        assert {r["intent"] for r in data} == intents, lang
    assert total >= 600


def test_kb_set_covers_every_topic_in_both_languages() -> None:
    topics = set(load_catalog().kb_topics)
    data = rows(WILD / "kb.csv")
    for lang in ("ru", "en"):
        assert {r["expected_id"] for r in data if r["lang"] == lang} == topics, lang
    assert len(data) >= 400
    assert len(rows(WILD / "kb_negatives.csv")) >= 40


def test_heldout_shares_nothing_with_what_the_service_learns_from(seen: set[str]) -> None:
    assert [t for t in heldout_texts() if normalise(t) in seen] == []


def test_heldout_shares_nothing_with_the_development_set() -> None:
    dev = {normalise(c.text) for c in read_cases(WILD_DEV / "triage.csv")}
    dev |= {normalise(r["query"]) for r in rows(WILD_DEV / "kb.csv")}
    dev |= {normalise(r["text"]) for r in rows(WILD_DEV / "kb_negatives.csv")}
    assert [t for t in heldout_texts() if normalise(t) in dev] == []


def test_dev_kb_negatives_are_out_of_scope_questions_of_their_own(seen: set[str]) -> None:
    data = rows(WILD_DEV / "kb_negatives.csv")
    assert len(data) >= 40
    assert {r["intent"] for r in data} == {"out_of_scope"}
    assert [r["text"] for r in data if normalise(r["text"]) in seen] == []


@pytest.mark.parametrize(
    "path",
    [
        "wild/kb.csv",
        "wild/kb_negatives.csv",
        "wild/triage.csv",
        "wild/intents_ru.csv",
        "wild/intents_en.csv",
        "wild_dev/triage.csv",
        "wild_dev/kb.csv",
        "wild_dev/kb_negatives.csv",
    ],
)
def test_no_duplicates_within_a_set(path: str) -> None:
    data = rows(ROOT / "bench" / "data" / path)
    column = next(c for c in ("text", "query") if c in data[0])
    counts = Counter(normalise(r[column]) for r in data)
    assert [t for t, n in counts.items() if n > 1] == []


def test_the_knn_exemplars_share_nothing_with_the_heldout_sets() -> None:
    exemplars = (ROOT / "bench" / "data" / "triage_knn" / "p1_exemplars.txt").read_text(encoding="utf-8")
    written = {normalise(line) for line in exemplars.splitlines() if line.strip()}
    assert len(written) >= 40
    assert [t for t in heldout_texts() if normalise(t) in written] == []
