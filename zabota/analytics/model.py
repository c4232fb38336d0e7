"""The leads' figures as a tree of frozen dataclasses (``Figures``): what the dashboard's JSON API, ``make report``
and the benchmark all read. Each figure's definition is in its class's docstring and in docs/analytics.md
("Definitions"); ``to_dict`` gives the JSON-ready form (datetimes in ISO 8601, tuples as lists)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types: dataclasses as dicts, tuples as lists, dates and datetimes in ISO 8601."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def share(part: int, whole: int) -> float | None:
    """``part / whole``; None when there is nothing to divide (an empty window is not a 0 % rate)."""
    return part / whole if whole else None


@dataclass(frozen=True)
class Window:
    """What the figures are about: events and contacts with ``since`` ≤ time < ``until`` (UTC), seen at ``now``
    (which decides what is still pending), narrowed by the filters given (None: all)."""

    since: datetime
    until: datetime
    now: datetime
    channel: str | None = None
    lang: str | None = None
    segment: str | None = None


@dataclass(frozen=True)
class Percentiles:
    """A distribution of seconds: how many values, their median and 90th percentile (linear interpolation
    between the two nearest values, as PostgreSQL's ``percentile_cont``), rounded to the millisecond; None
    without values."""

    n: int = 0
    p50: float | None = None
    p90: float | None = None


@dataclass(frozen=True)
class Conversations:
    """Conversations: the contacts (zabota/records, table ``contacts``) started in the window, outreach messages
    (channel ``outreach``) left out. Each is exactly one of

    - ``escalated``: a handoff was opened in it (``handoff_id`` set);
    - ``repeated``: no handoff, but the same customer started another contact (any channel but outreach) within
      72 h after it started that shares one of its intents: the question came back;
    - ``pending``: neither, and its 72 h have not passed yet at ``now``: not counted in the containment rate;
    - ``contained``: neither, and its 72 h have passed: the bot solved it on its own.

    ``containment_rate`` = contained / (total − pending); ``escalation_rate`` = escalated / total."""

    total: int = 0
    contained: int = 0
    repeated: int = 0
    escalated: int = 0
    pending: int = 0
    containment_rate: float | None = None
    escalation_rate: float | None = None


@dataclass(frozen=True)
class ReasonCount:
    reason: str
    count: int


@dataclass(frozen=True)
class Escalation:
    """Handoffs opened in the window (``handoff_opened`` events) and how often each reason code was among their
    reasons (``data.reasons``; one handoff has several), most frequent first. The escalation *rate* is the
    conversations' (``Conversations.escalation_rate``)."""

    handoffs: int = 0
    reasons: tuple[ReasonCount, ...] = ()


@dataclass(frozen=True)
class ResponseTimes:
    """Seconds, from the events of the window:

    - ``bot_first_response``: per customer message (``message_in``) in the window, from it to the first
      ``message_out`` with role ``bot`` for the same message id (``ref``); ``bot_unanswered`` counts the customer
      messages with no such line (handed to a person, parked, a survey answer the bot never saw);
    - ``human_first_response``: ``handoff_first_reply`` events in the window, their ``data.response_s`` (handoff
      opened → first operator reply);
    - ``resolution``: ``handoff_closed`` events in the window, their ``data.duration_s`` (opened → closed; a
      handoff handed back to the bot is not a resolution)."""

    bot_first_response: Percentiles = Percentiles()
    bot_unanswered: int = 0
    human_first_response: Percentiles = Percentiles()
    resolution: Percentiles = Percentiles()


@dataclass(frozen=True)
class Sla:
    """The handoffs' service level:

    - ``opened``: ``handoff_opened`` events in the window;
    - ``first_replies_within`` / ``first_replies_late``: ``handoff_first_reply`` events in the window with
      ``data.within_sla`` true / false;
    - ``missed``: ``handoff_sla_missed`` events in the window (nobody had answered by the due time);
    - ``breached``: of the handoffs opened in the window, those with a ``handoff_sla_missed`` event or a late
      first reply (at any time up to now); ``breach_rate`` = breached / opened."""

    opened: int = 0
    first_replies_within: int = 0
    first_replies_late: int = 0
    missed: int = 0
    breached: int = 0
    breach_rate: float | None = None


@dataclass(frozen=True)
class Csat:
    """CSAT answers (``survey_answer`` with ``data.metric`` csat, 1-5) in the window: ``rate`` = share of 4 and
    5 (satisfied / n), and the mean score."""

    n: int = 0
    satisfied: int = 0
    rate: float | None = None
    mean: float | None = None


@dataclass(frozen=True)
class Ces:
    """CES answers (``data.metric`` ces, 1-7, 7 = very easy) in the window: their mean."""

    n: int = 0
    mean: float | None = None


@dataclass(frozen=True)
class Nps:
    """NPS answers (``data.metric`` nps, 0-10) in the window: ``score`` = % promoters (9-10) − % detractors
    (0-6), from −100 to 100; passives are 7-8."""

    n: int = 0
    promoters: int = 0
    passives: int = 0
    detractors: int = 0
    score: float | None = None


@dataclass(frozen=True)
class Surveys:
    csat: Csat = Csat()
    ces: Ces = Ces()
    nps: Nps = Nps()


@dataclass(frozen=True)
class IntentCount:
    intent: str
    count: int


@dataclass(frozen=True)
class Example:
    """One occurrence to link to: the customer's conversation (customer id), the message, when."""

    customer_id: str | None
    message_id: str | None
    at: datetime


@dataclass(frozen=True)
class KbGap:
    """Questions no article answered (``kb_miss`` events' ``data.text``) grouped by similar wording
    (zabota/analytics/wording.py): the group's most frequent wording, how many misses and distinct customers,
    and the latest few to link to."""

    text: str
    count: int
    customers: int
    examples: tuple[Example, ...] = ()


@dataclass(frozen=True)
class UnhelpfulArticle:
    """An article answered «не помогло» (``kb_feedback`` with ``data.helpful`` "no"): how often, out of how many
    answers about it, and the share."""

    article: str
    unhelpful: int
    feedback: int
    share: float


@dataclass(frozen=True)
class KnowledgeBase:
    """``misses``: ``kb_miss`` events in the window; ``gaps``: the largest groups of them; ``unhelpful``: the
    articles with an unhelpful answer, most unhelpful first."""

    misses: int = 0
    gaps: tuple[KbGap, ...] = ()
    unhelpful: tuple[UnhelpfulArticle, ...] = ()


@dataclass(frozen=True)
class CustomerLink:
    customer_id: str
    count: int
    last_at: datetime


@dataclass(frozen=True)
class RecurringProblem:
    """Triage decisions in the window with the reason ``recurring`` (the same problem three times in seven
    days), per intent: how many, how many distinct customers, the latest customers to link to."""

    intent: str
    count: int
    customers: int
    examples: tuple[CustomerLink, ...] = ()


@dataclass(frozen=True)
class ChurnRisk:
    """Distinct customers with a handoff opened in the window with ``data.churn_risk`` true; the latest of them
    to link to (how many such handoffs each)."""

    customers: int = 0
    examples: tuple[CustomerLink, ...] = ()


@dataclass(frozen=True)
class PreventedByTrigger:
    trigger: str
    reached: int
    wrote_in: int
    prevented: int
    pending: int


@dataclass(frozen=True)
class Prevented:
    """Contacts prevented by outreach (zabota/outreach/prevented.py): of the outreach messages sent in the window
    whose 72 h have passed (``reached``), those whose customer did not reply or write in about the same thing
    (``prevented``); ``share`` = prevented / reached; ``pending``: sent less than 72 h before now."""

    reached: int = 0
    wrote_in: int = 0
    prevented: int = 0
    pending: int = 0
    share: float | None = None
    by_trigger: tuple[PreventedByTrigger, ...] = ()


@dataclass(frozen=True)
class Day:
    """One UTC day of the window, for the charts: the conversations' figures of the contacts started that day,
    CSAT of that day's answers, the median human first response of that day's first replies."""

    date: date
    conversations: int = 0
    contained: int = 0
    pending: int = 0
    containment_rate: float | None = None
    escalated: int = 0
    escalation_rate: float | None = None
    csat_n: int = 0
    csat: float | None = None
    human_first_response_p50: float | None = None


@dataclass(frozen=True)
class Figures:
    window: Window
    conversations: Conversations
    escalation: Escalation
    response: ResponseTimes
    sla: Sla
    surveys: Surveys
    top_intents: tuple[IntentCount, ...]
    knowledge_base: KnowledgeBase
    recurring: tuple[RecurringProblem, ...]
    churn_risk: ChurnRisk
    prevented: Prevented
    days: tuple[Day, ...]

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = jsonable(self)
        return result
