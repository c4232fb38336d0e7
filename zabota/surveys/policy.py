"""When a customer is asked how it went, and what comes next (plain: no I/O).

- After a conversation the bot resolved (the customer thanks or says goodbye after an answer, or says an
  article helped) and after a handoff is closed; never during or after a sensitive case.
- One survey per conversation (its contact), at most one per customer in ``min_days_between``; NPS at most once
  in ``nps_every_days``.
- CSAT first, then CES, then NPS when it is due; each answer may carry a comment. Answers are accepted late,
  within ``answer_window_hours``: the customer may write about something else first and answer afterwards.
- A low score (questions.RECOVERY_AT_OR_BELOW) opens a p3 follow-up handoff, "service recovery".
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, cast

from zabota.surveys.questions import RECOVERY_AT_OR_BELOW, Metric

Trigger = Literal["resolved", "handoff_closed"]
# what the customer said that closes a conversation the bot resolved
CLOSING_INTENTS = frozenset({"thank", "goodbye"})


@dataclass(frozen=True)
class SurveyConfig:
    min_days_between: float = 7.0
    nps_every_days: float = 90.0
    answer_window_hours: float = 72.0


@dataclass(frozen=True)
class Survey:
    """A survey in progress: what was asked last and what was answered so far."""

    survey_id: str
    trigger: Trigger
    ref: str  # the contact (resolved) or the handoff (handoff_closed) it is about
    channel: str
    lang: str
    tone: str
    asked: Metric
    started_at: float
    nps_due: bool
    answers: Mapping[str, int] = field(default_factory=dict)
    comments: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Survey:
        data: dict[str, Any] = json.loads(raw)
        return cls(**data)

    def answered(self, metric: Metric, score: int, comment: str | None) -> Survey:
        comments = {**self.comments, metric: comment} if comment else dict(self.comments)
        return replace(self, answers={**self.answers, metric: score}, comments=comments)

    def next_metric(self) -> Metric | None:
        """CSAT, CES, then NPS when due: the first not answered yet."""
        order: tuple[Metric, ...] = ("csat", "ces", "nps") if self.nps_due else ("csat", "ces")
        return next((metric for metric in order if metric not in self.answers), None)


def new_survey(trigger: Trigger, ref: str, channel: str, lang: str, tone: str, now: float, *, nps_due: bool) -> Survey:
    return Survey(
        survey_id="s-" + secrets.token_hex(8),
        trigger=trigger,
        ref=ref,
        channel=channel,
        lang=lang,
        tone=tone,
        asked="csat",
        started_at=now,
        nps_due=nps_due,
    )


@dataclass(frozen=True)
class TurnFacts:
    """What the gateway knows of the turn that may close a conversation."""

    intent: str
    # the bot answered a problem in this conversation (an article, a flow's answer) before this turn
    answered_before: bool
    # the customer said an article helped, in this turn
    article_helped: bool = False
    handoff: bool = False  # a handoff is open or was opened in this conversation
    sensitive: bool = False  # the triage found this conversation sensitive
    surveyed_this_contact: bool = False
    surveyed_recently: bool = False  # within min_days_between
    survey_in_progress: bool = False


def offer_after_turn(facts: TurnFacts) -> bool:
    """Whether to ask now, after a conversation the bot resolved."""
    if facts.handoff or facts.sensitive or facts.surveyed_this_contact or facts.surveyed_recently:
        return False
    if facts.survey_in_progress:
        return False
    return facts.article_helped or (facts.intent in CLOSING_INTENTS and facts.answered_before)


def needs_recovery(metric: Metric, score: int) -> bool:
    return score <= RECOVERY_AT_OR_BELOW[metric]


def metric_of(name: str) -> Metric:
    if name not in ("csat", "ces", "nps"):
        raise ValueError(f"not a survey metric: {name!r}")
    return cast(Metric, name)
