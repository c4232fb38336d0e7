"""When a survey is offered and what it asks next (zabota/surveys/policy.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from zabota.surveys.policy import Survey, TurnFacts, needs_recovery, new_survey, offer_after_turn

RESOLVED = TurnFacts(intent="thank", answered_before=True)


def test_a_thanks_after_an_answer_or_a_helpful_article_is_asked_how_it_went() -> None:
    assert offer_after_turn(RESOLVED)
    assert offer_after_turn(replace(RESOLVED, intent="goodbye"))
    assert offer_after_turn(TurnFacts(intent="affirm", answered_before=False, article_helped=True))


@pytest.mark.parametrize(
    "facts",
    [
        replace(RESOLVED, answered_before=False),  # a thanks for nothing the bot did
        replace(RESOLVED, intent="internet_down"),  # the conversation goes on
        replace(RESOLVED, handoff=True),  # a person has it (the close asks instead)
        replace(RESOLVED, sensitive=True),
        replace(RESOLVED, surveyed_this_contact=True),  # one survey a conversation
        replace(RESOLVED, surveyed_recently=True),  # one a customer a week
        replace(RESOLVED, survey_in_progress=True),
    ],
)
def test_not_asked(facts: TurnFacts) -> None:
    assert not offer_after_turn(facts)


def test_csat_then_ces_then_nps_when_due() -> None:
    survey = new_survey("resolved", "k-1", "webchat", "ru", "neutral", 0.0, nps_due=True)
    assert survey.next_metric() == "csat"
    survey = survey.answered("csat", 5, None)
    assert survey.next_metric() == "ces"
    survey = survey.answered("ces", 6, "быстро")
    assert survey.next_metric() == "nps" and survey.comments == {"ces": "быстро"}
    assert survey.answered("nps", 9, None).next_metric() is None
    not_due = new_survey("resolved", "k-2", "sms", "en", "formal", 0.0, nps_due=False).answered("csat", 4, None)
    assert not_due.answered("ces", 5, None).next_metric() is None
    assert Survey.from_json(survey.to_json()) == survey


@pytest.mark.parametrize(
    ("metric", "score", "recovery"),
    [("csat", 2, True), ("csat", 3, False), ("ces", 2, True), ("ces", 3, False), ("nps", 6, True), ("nps", 7, False)],
)
def test_a_low_score_is_followed_up_by_a_person(metric: str, score: int, recovery: bool) -> None:
    assert needs_recovery(metric, score) is recovery  # type: ignore[arg-type]
