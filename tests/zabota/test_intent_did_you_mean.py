from __future__ import annotations

import pytest

from zabota.catalog import load_catalog
from zabota.intent_did_you_mean import IntentDidYouMean, offerable_topic

CATALOG = load_catalog()
ASK = IntentDidYouMean(margin=0.1, floor=0.1)


def test_two_close_knowledge_base_intents_are_offered_best_first() -> None:
    ranking = [("mobile_no_signal", 0.37), ("roaming", 0.41), ("greet", 0.05)]
    assert ASK.choose(ranking, CATALOG) == ("roaming", "mobile_no_signal")


def test_the_fallback_entry_is_not_an_intent() -> None:
    ranking = [("nlu_fallback", 0.8), ("roaming", 0.15), ("mobile_no_signal", 0.12)]
    assert ASK.choose(ranking, CATALOG) == ("roaming", "mobile_no_signal")


@pytest.mark.parametrize(
    "ranking",
    [
        [("roaming", 0.6), ("mobile_no_signal", 0.3)],  # the first is clear
        [("roaming", 0.1), ("mobile_no_signal", 0.05)],  # the second is noise
        [("roaming", 0.4), ("fraud_report", 0.38)],  # an escalation is never behind a button
        [("roaming", 0.4), ("greet", 0.38)],  # smalltalk has no article
        [("roaming", 0.4)],
        [],
    ],
)
def test_no_offer(ranking: list[tuple[str, float]]) -> None:
    assert ASK.choose(ranking, CATALOG) is None


def test_switched_off() -> None:
    assert IntentDidYouMean(enabled=False).choose([("roaming", 0.4), ("mobile_no_signal", 0.39)], CATALOG) is None


def test_offerable_topics() -> None:
    assert offerable_topic(CATALOG, "roaming") == "roaming"
    assert offerable_topic(CATALOG, "cancel_contract") is None  # has an article, but escalates
    assert offerable_topic(CATALOG, "nope") is None
