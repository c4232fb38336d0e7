"""The held-out sets stay held out: no message shared with the training data, every catalog intent covered."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.heldout import HELDOUT, MIN_PER_INTENT, ROOT, normalise, overlapping, read_rows, training_texts
from zabota.catalog import load_catalog


@pytest.fixture(scope="module")
def train() -> set[str]:
    return set(training_texts())


@pytest.mark.parametrize("lang", sorted(HELDOUT))
def test_heldout_shares_no_message_with_training_data(lang: str, train: set[str]) -> None:
    assert overlapping(read_rows(HELDOUT[lang]), train) == []


@pytest.mark.parametrize("lang", sorted(HELDOUT))
def test_heldout_covers_every_catalog_intent(lang: str) -> None:
    counts = Counter(r["intent"] for r in read_rows(HELDOUT[lang]))
    intents = set(load_catalog().intents)
    assert set(counts) == intents
    assert min(counts.values()) >= MIN_PER_INTENT


@pytest.mark.parametrize(("lang", "minimum"), [("ru", 30), ("en", 15)])
def test_training_data_covers_every_catalog_intent(lang: str, minimum: int) -> None:
    per_intent = Counter(training_texts(ROOT / "nlu_data" / lang).values())
    for intent in load_catalog().intents:
        assert per_intent[intent] >= minimum, intent


def test_normalise_ignores_case_punctuation_and_yo() -> None:
    assert normalise("Всё, ОК!") == normalise("все ок")
