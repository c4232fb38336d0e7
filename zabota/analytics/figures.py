"""The leads' analytics (issue 11): every figure of the dashboard, ``make report`` and the benchmark, from the
system of record (the ``contacts`` and ``events`` tables), counted and grouped in SQL (SQLAlchemy Core, the
same on SQLite and PostgreSQL; zabota/analytics/sql.py spells what differs).

    figures = await figures(engine, since, until, channel="telegram")   # the whole tree
    figures.to_dict()                                                   # JSON-ready

The definitions are in the classes of zabota/analytics/model.py and in docs/analytics.md ("Definitions"). A
chart that needs one part asks for it alone, on one connection::

    scope = scope_of(engine, since, until, lang="en")
    async with analytics_connection(engine) as connection:
        times = await response_times(connection, scope)

Filters: ``channel`` is the contact's or the event's own channel; ``lang`` is the event's own language and, for
the contacts (which keep none), their customer's language (``customers.language``, the language of their
latest message); ``segment`` is the customer's (``customers.segment``: b2c, b2b).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any, Protocol

from sqlalchemy import and_, case, exists, func, literal, or_, select, text, true
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from zabota.analytics.model import (
    Ces,
    ChurnRisk,
    Conversations,
    Csat,
    CustomerLink,
    Day,
    Escalation,
    Example,
    Figures,
    IntentCount,
    KbGap,
    KnowledgeBase,
    Nps,
    Percentiles,
    Prevented,
    PreventedByTrigger,
    ReasonCount,
    RecurringProblem,
    ResponseTimes,
    Sla,
    Surveys,
    UnhelpfulArticle,
    Window,
    share,
)
from zabota.analytics.sql import (
    Scope,
    as_date,
    as_utc,
    customers_where,
    day_of,
    distributions,
    elements,
    event_filters,
    events,
    field_false,
    field_number,
    field_text,
    field_true,
    hours_after,
    seconds_between,
    utc,
)
from zabota.analytics.wording import group_texts
from zabota.outreach.planning import load_outreach_rules
from zabota.outreach.prevented import OUTREACH_CHANNEL, contacts_prevented
from zabota.outreach.prevented import WINDOW as REPLY_WINDOW
from zabota.records.schema import Contact
from zabota.records.store import CustomerRecords

contacts = Contact.__table__

# a conversation's question "came back" when the customer wrote in on one of its intents within this long
REPEAT_HOURS = 72
TOP_INTENTS = 10
# the knowledge base's misses read for grouping: the latest this many of the window (the count is of all)
MAX_MISSES_GROUPED = 50_000
KB_GAPS = 50
UNHELPFUL_ARTICLES = 50
EXAMPLES = 5
CHURN_EXAMPLES = 50
# «не помогло» as the knowledge base's stream writes it ("no"), or a JSON false (SQLite reads it back as 0)
_UNHELPFUL = ("no", "false", "0")


class HasEngine(Protocol):
    """A store of the system of record (``EventStore``, ``CustomerRecords``): anything with its engine."""

    @property
    def engine(self) -> AsyncEngine: ...


def engine_of(source: AsyncEngine | HasEngine) -> AsyncEngine:
    return source if isinstance(source, AsyncEngine) else source.engine


def scope_of(
    source: AsyncEngine | HasEngine,
    since: datetime,
    until: datetime,
    *,
    channel: str | None = None,
    lang: str | None = None,
    segment: str | None = None,
    now: datetime | None = None,
) -> Scope:
    """The window [since, until) (naive times are UTC) seen at ``now`` (default: the present), with filters."""
    since, until = utc(since), utc(until)
    if until <= since:
        raise ValueError("until must be after since")
    return Scope(
        dialect=engine_of(source).dialect.name,
        since=since,
        until=until,
        now=utc(now) if now is not None else datetime.now(UTC),
        channel=channel,
        lang=lang,
        segment=segment,
    )


@asynccontextmanager
async def analytics_connection(source: AsyncEngine | HasEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for the figures' queries. PostgreSQL: without JIT compilation for its transaction (``SET
    LOCAL``, gone when the connection goes back to the pool): the planner's cost of the per-message lookups
    crosses ``jit_above_cost`` on a single day of 100,000 conversations, and compiling costs ~0.5 s, several
    times the query itself."""
    engine = engine_of(source)
    async with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text("SET LOCAL jit = off"))
        yield connection


@cache
def outreach_about() -> Mapping[str, frozenset[str]]:
    """Per outreach trigger, the intents that mean the customer wrote in about it (zabota/outreach/rules.yml)."""
    return {name: rule.about for name, rule in load_outreach_rules().triggers.items()}


async def figures(
    engine_or_store: AsyncEngine | HasEngine,
    since: datetime,
    until: datetime,
    *,
    channel: str | None = None,
    lang: str | None = None,
    segment: str | None = None,
    now: datetime | None = None,
    about: Mapping[str, frozenset[str]] | None = None,
) -> Figures:
    """Every figure of the window [since, until) (UTC), filtered by channel, language and segment, as seen at
    ``now`` (default: the present: what is pending depends on it). ``about``: the outreach triggers' intents
    (default: zabota/outreach/rules.yml). Raises ``SQLAlchemyError`` when the database cannot be read."""
    engine = engine_of(engine_or_store)
    scope = scope_of(engine, since, until, channel=channel, lang=lang, segment=segment, now=now)
    async with analytics_connection(engine) as connection:
        conversation_totals, conversation_days = await conversations(connection, scope)
        escalated = await escalation(connection, scope)
        response = await response_times(connection, scope)
        human_days = await human_first_response_by_day(connection, scope)
        service_level = await sla(connection, scope)
        answers, csat_days = await surveys(connection, scope)
        intents = await top_intents(connection, scope)
        knowledge = await knowledge_base(connection, scope)
        problems = await recurring(connection, scope)
        churn = await churn_risk(connection, scope)
        outreach = await prevented(connection, scope, about)
    days = _series(scope, conversation_days, csat_days, human_days)
    return Figures(
        window=Window(scope.since, scope.until, scope.now, channel, lang, segment),
        conversations=conversation_totals,
        escalation=escalated,
        response=response,
        sla=service_level,
        surveys=answers,
        top_intents=intents,
        knowledge_base=knowledge,
        recurring=problems,
        churn_risk=churn,
        prevented=outreach,
        days=days,
    )


async def days(connection: AsyncConnection, scope: Scope) -> tuple[Day, ...]:
    """``Figures.days`` alone (a trend chart), from the three queries it needs."""
    _, conversation_days = await conversations(connection, scope)
    _, csat_days = await surveys(connection, scope)
    return _series(scope, conversation_days, csat_days, await human_first_response_by_day(connection, scope))


def _series(
    scope: Scope,
    conversation_days: Mapping[date, Conversations],
    csat_days: Mapping[date, Csat],
    human_days: Mapping[date, Percentiles],
) -> tuple[Day, ...]:
    """Every UTC day of the window, in order, empty ones as zeros and blanks."""
    series = []
    for day in scope.days():
        counts, csat, human = (
            conversation_days.get(day, Conversations()),
            csat_days.get(day, Csat()),
            human_days.get(day),
        )
        series.append(
            Day(
                date=day,
                conversations=counts.total,
                contained=counts.contained,
                pending=counts.pending,
                containment_rate=counts.containment_rate,
                escalated=counts.escalated,
                escalation_rate=counts.escalation_rate,
                csat_n=csat.n,
                csat=csat.rate,
                human_first_response_p50=human.p50 if human is not None else None,
            )
        )
    return tuple(series)


# The longest window a lead may ask for (the dashboard's API and ``make report``).
MAX_WINDOW_DAYS = 366


def day_window(first: date, last: date) -> tuple[datetime, datetime]:
    """The UTC days ``first``..``last`` (both included) as [since, until); ``ValueError`` with the reason for a
    window that ends before it starts, is over ``MAX_WINDOW_DAYS``, or ends at the last representable day."""
    if last < first:
        raise ValueError(f"to ({last}) is before from ({first})")
    length = (last - first).days + 1
    if length > MAX_WINDOW_DAYS:
        raise ValueError(f"the window is {length} days ({first}..{last}); at most {MAX_WINDOW_DAYS}")
    if last == date.max:
        raise ValueError(f"to ({last}) is out of range")
    return datetime.combine(first, time(), UTC), datetime.combine(last + timedelta(days=1), time(), UTC)


# --- Conversations: containment and escalation -------------------------------------------------------------------


@dataclass
class _Outcomes:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def figures(self) -> Conversations:
        total = sum(self.counts.values())
        contained, pending, escalated = self.counts["contained"], self.counts["pending"], self.counts["escalated"]
        return Conversations(
            total=total,
            contained=contained,
            repeated=self.counts["repeated"],
            escalated=escalated,
            pending=pending,
            containment_rate=share(contained, total - pending),
            escalation_rate=share(escalated, total),
        )


async def conversations(connection: AsyncConnection, scope: Scope) -> tuple[Conversations, dict[date, Conversations]]:
    """The conversations of the window (``Conversations``), in all and per UTC day of their start."""
    c, d = contacts.alias("c"), contacts.alias("d")
    their_intents = elements(scope, c.c.intents)
    later_intents = elements(scope, d.c.intents)
    came_back = exists(
        select(literal(1))
        .select_from(d.join(later_intents, true()))
        .where(
            d.c.customer_id == c.c.customer_id,
            d.c.channel != OUTREACH_CHANNEL,
            d.c.started_at > c.c.started_at,
            d.c.started_at <= hours_after(scope, c.c.started_at, REPEAT_HOURS),
            later_intents.c.value.in_(select(their_intents.c.value)),
        )
    )
    outcome = case(
        (c.c.handoff_id.is_not(None), "escalated"),
        (came_back, "repeated"),
        (c.c.started_at > scope.now - timedelta(hours=REPEAT_HOURS), "pending"),
        else_="contained",
    )
    conditions = [
        c.c.started_at >= scope.since,
        c.c.started_at < scope.until,
        c.c.channel != OUTREACH_CHANNEL,
    ]
    if scope.channel is not None:
        conditions.append(c.c.channel == scope.channel)
    customers = customers_where(lang=scope.lang, segment=scope.segment)
    if customers is not None:
        conditions.append(c.c.customer_id.in_(customers))
    sub = select(day_of(scope, c.c.started_at).label("day"), outcome.label("outcome")).where(*conditions).subquery()
    rows = await connection.execute(select(sub.c.day, sub.c.outcome, func.count()).group_by(sub.c.day, sub.c.outcome))
    total = _Outcomes()
    by_day: dict[date, _Outcomes] = defaultdict(_Outcomes)
    for day, kind, count in rows:
        total.counts[kind] += int(count)
        by_day[as_date(day)].counts[kind] += int(count)
    return total.figures(), {day: outcomes.figures() for day, outcomes in by_day.items()}


async def escalation(connection: AsyncConnection, scope: Scope) -> Escalation:
    """Handoffs opened in the window and the counts of their reason codes (``Escalation``)."""
    handoffs = await connection.scalar(select(func.count()).where(*event_filters(scope, "handoff_opened")))
    reasons = elements(scope, events.c.data, "reasons")
    rows = await connection.execute(
        select(reasons.c.value, func.count())
        .select_from(events.join(reasons, true()))
        .where(*event_filters(scope, "handoff_opened"), reasons.c.value.is_not(None))
        .group_by(reasons.c.value)
    )
    counted = sorted(((str(reason), int(count)) for reason, count in rows), key=lambda rc: (-rc[1], rc[0]))
    return Escalation(handoffs=int(handoffs or 0), reasons=tuple(ReasonCount(r, n) for r, n in counted))


# --- Response times and SLA --------------------------------------------------------------------------------------


async def response_times(connection: AsyncConnection, scope: Scope) -> ResponseTimes:
    """First response of the bot and of a person, and time to resolution (``ResponseTimes``)."""
    message, line = events.alias("m"), events.alias("o")
    first_bot_line = (
        select(func.min(line.c.at))
        .where(
            line.c.ref == message.c.ref,
            line.c.kind == "message_out",
            field_text(line, "role") == "bot",
            line.c.at >= message.c.at,
        )
        .scalar_subquery()
    )
    bot_values = select(seconds_between(scope, message.c.at, first_bot_line).label("v")).where(
        *event_filters(scope, "message_in", message), message.c.ref.is_not(None)
    )
    bot = await distributions(connection, scope, bot_values)
    human = await distributions(connection, scope, _seconds_of(scope, "handoff_first_reply", "response_s"))
    resolution = await distributions(connection, scope, _seconds_of(scope, "handoff_closed", "duration_s"))
    return ResponseTimes(
        bot_first_response=bot.overall,
        bot_unanswered=bot.rows - bot.overall.n,
        human_first_response=human.overall,
        resolution=resolution.overall,
    )


def _seconds_of(scope: Scope, kind: str, name: str, by_day: bool = False) -> Any:
    columns = [field_number(events, name).label("v")]
    if by_day:
        columns.append(day_of(scope, events.c.at).label("g"))
    return select(*columns).where(*event_filters(scope, kind))


async def human_first_response_by_day(connection: AsyncConnection, scope: Scope) -> dict[date, Percentiles]:
    """``ResponseTimes.human_first_response`` per UTC day of the reply."""
    spread = await distributions(
        connection, scope, _seconds_of(scope, "handoff_first_reply", "response_s", by_day=True)
    )
    return {as_date(day): value for day, value in spread.by_group.items()}


async def sla(connection: AsyncConnection, scope: Scope) -> Sla:
    """The handoffs' service level (``Sla``)."""
    kinds = ("handoff_opened", "handoff_first_reply", "handoff_sla_missed")
    within = case((field_true(events, "within_sla"), 1), else_=0)
    late = case((field_false(events, "within_sla"), 1), else_=0)
    counts = {
        kind: (int(n), int(w or 0), int(lt or 0))
        for kind, n, w, lt in await connection.execute(
            select(events.c.kind, func.count(), func.sum(within), func.sum(late))
            .where(*event_filters(scope, kinds))
            .group_by(events.c.kind)
        )
    }
    opened_event, later = events.alias("h"), events.alias("x")
    breached_it = exists(
        select(literal(1)).where(
            later.c.ref == opened_event.c.ref,
            or_(
                later.c.kind == "handoff_sla_missed",
                and_(later.c.kind == "handoff_first_reply", field_false(later, "within_sla")),
            ),
        )
    )
    breached = await connection.scalar(
        select(func.count()).where(
            *event_filters(scope, "handoff_opened", opened_event), opened_event.c.ref.is_not(None), breached_it
        )
    )
    opened = counts.get("handoff_opened", (0, 0, 0))[0]
    replies = counts.get("handoff_first_reply", (0, 0, 0))
    return Sla(
        opened=opened,
        first_replies_within=replies[1],
        first_replies_late=replies[2],
        missed=counts.get("handoff_sla_missed", (0, 0, 0))[0],
        breached=int(breached or 0),
        breach_rate=share(int(breached or 0), opened),
    )


# --- Surveys -----------------------------------------------------------------------------------------------------


@dataclass
class _Scores:
    n: int = 0
    total: float = 0.0
    high: int = 0  # CSAT 4-5, NPS 9-10
    low: int = 0  # NPS 0-6

    def add(self, n: int, total: float, high: int, low: int) -> None:
        self.n, self.total, self.high, self.low = self.n + n, self.total + total, self.high + high, self.low + low

    def mean(self) -> float | None:
        return round(self.total / self.n, 3) if self.n else None

    def csat(self) -> Csat:
        return Csat(n=self.n, satisfied=self.high, rate=share(self.high, self.n), mean=self.mean())


async def surveys(connection: AsyncConnection, scope: Scope) -> tuple[Surveys, dict[date, Csat]]:
    """CSAT, CES and NPS of the window's answers (``Surveys``), and CSAT per UTC day of the answer."""
    score = field_number(events, "score")
    sub = (
        select(
            day_of(scope, events.c.at).label("day"),
            field_text(events, "metric").label("metric"),
            score.label("score"),
        )
        .where(*event_filters(scope, "survey_answer"), score.is_not(None))
        .subquery()
    )
    metric = sub.c.metric
    high = case((and_(metric == "csat", sub.c.score >= 4), 1), (and_(metric == "nps", sub.c.score >= 9), 1), else_=0)
    low = case((and_(metric == "nps", sub.c.score <= 6), 1), else_=0)
    rows = await connection.execute(
        select(sub.c.day, metric, func.count(), func.sum(sub.c.score), func.sum(high), func.sum(low))
        .where(metric.in_(("csat", "ces", "nps")))
        .group_by(sub.c.day, metric)
    )
    totals: dict[str, _Scores] = defaultdict(_Scores)
    csat_days: dict[date, _Scores] = defaultdict(_Scores)
    for day, name, n, total, high_n, low_n in rows:
        values = (int(n), float(total or 0), int(high_n or 0), int(low_n or 0))
        totals[name].add(*values)
        if name == "csat":
            csat_days[as_date(day)].add(*values)
    nps = totals["nps"]
    promoters_pct = share(nps.high * 100, nps.n)
    detractors_pct = share(nps.low * 100, nps.n)
    return (
        Surveys(
            csat=totals["csat"].csat(),
            ces=Ces(n=totals["ces"].n, mean=totals["ces"].mean()),
            nps=Nps(
                n=nps.n,
                promoters=nps.high,
                passives=nps.n - nps.high - nps.low,
                detractors=nps.low,
                score=(
                    round(promoters_pct - detractors_pct, 3)
                    if promoters_pct is not None and detractors_pct is not None
                    else None
                ),
            ),
        ),
        {day: scores.csat() for day, scores in csat_days.items()},
    )


# --- Intents, the knowledge base, recurring problems, churn ------------------------------------------------------


async def top_intents(connection: AsyncConnection, scope: Scope, limit: int = TOP_INTENTS) -> tuple[IntentCount, ...]:
    """The intents of the window's triage decisions (``data.intent``), most frequent first (ties by name)."""
    sub = select(field_text(events, "intent").label("intent")).where(*event_filters(scope, "triage")).subquery()
    count = func.count().label("n")
    rows = await connection.execute(
        select(sub.c.intent, count)
        .where(sub.c.intent.is_not(None))
        .group_by(sub.c.intent)
        .order_by(count.desc(), sub.c.intent)
        .limit(limit)
    )
    return tuple(IntentCount(str(intent), int(n)) for intent, n in rows)


async def knowledge_base(connection: AsyncConnection, scope: Scope) -> KnowledgeBase:
    """The knowledge base's gaps and its unhelpful articles (``KnowledgeBase``)."""
    misses = await connection.scalar(select(func.count()).where(*event_filters(scope, "kb_miss")))
    rows = (
        await connection.execute(
            select(field_text(events, "text"), events.c.customer_id, field_text(events, "message_id"), events.c.at)
            .where(*event_filters(scope, "kb_miss"))
            .order_by(events.c.at.desc(), events.c.id)
            .limit(MAX_MISSES_GROUPED)
        )
    ).all()
    gaps = []
    for group in group_texts([words or "" for words, *_ in rows])[:KB_GAPS]:
        members = [rows[i] for i in group.members]  # newest first, as read
        gaps.append(
            KbGap(
                text=group.text,
                count=group.count,
                customers=len({customer for _, customer, _, _ in members if customer is not None}),
                examples=tuple(
                    Example(customer, message, as_utc(at)) for _, customer, message, at in members[:EXAMPLES]
                ),
            )
        )
    unhelpful = case((field_text(events, "helpful").in_(_UNHELPFUL), 1), else_=0)
    sub = (
        select(events.c.ref.label("article"), unhelpful.label("unhelpful"))
        .where(*event_filters(scope, "kb_feedback"), events.c.ref.is_not(None))
        .subquery()
    )
    articles = [
        UnhelpfulArticle(str(article), int(no), int(n), int(no) / int(n))
        for article, n, no in await connection.execute(
            select(sub.c.article, func.count(), func.sum(sub.c.unhelpful)).group_by(sub.c.article)
        )
        if no
    ]
    articles.sort(key=lambda a: (-a.unhelpful, -a.share, a.article))
    return KnowledgeBase(misses=int(misses or 0), gaps=tuple(gaps), unhelpful=tuple(articles[:UNHELPFUL_ARTICLES]))


def _links(rows: list[tuple[str, int, datetime]], limit: int) -> tuple[CustomerLink, ...]:
    latest = sorted(rows, key=lambda row: (row[2], row[0]), reverse=True)[:limit]
    return tuple(CustomerLink(customer, count, at) for customer, count, at in latest)


async def recurring(connection: AsyncConnection, scope: Scope) -> tuple[RecurringProblem, ...]:
    """Triage decisions with the reason ``recurring``, per intent (``RecurringProblem``), most frequent first."""
    reasons = elements(scope, events.c.data, "reasons")
    is_recurring = exists(select(literal(1)).select_from(reasons).where(reasons.c.value == "recurring"))
    sub = (
        select(field_text(events, "intent").label("intent"), events.c.customer_id, events.c.at)
        .where(*event_filters(scope, "triage"), events.c.customer_id.is_not(None), is_recurring)
        .subquery()
    )
    rows = await connection.execute(
        select(sub.c.intent, sub.c.customer_id, func.count(), func.max(sub.c.at)).group_by(
            sub.c.intent, sub.c.customer_id
        )
    )
    per_intent: dict[str, list[tuple[str, int, datetime]]] = defaultdict(list)
    for intent, customer, count, last_at in rows:
        per_intent[str(intent) if intent is not None else ""].append((str(customer), int(count), as_utc(last_at)))
    problems = [
        RecurringProblem(
            intent=intent,
            count=sum(count for _, count, _ in customers),
            customers=len(customers),
            examples=_links(customers, EXAMPLES),
        )
        for intent, customers in per_intent.items()
    ]
    problems.sort(key=lambda p: (-p.count, -p.customers, p.intent))
    return tuple(problems)


async def churn_risk(connection: AsyncConnection, scope: Scope) -> ChurnRisk:
    """Distinct customers of the window's handoffs with a churn risk (``ChurnRisk``)."""
    rows = await connection.execute(
        select(events.c.customer_id, func.count(), func.max(events.c.at))
        .where(
            *event_filters(scope, "handoff_opened"),
            field_true(events, "churn_risk"),
            events.c.customer_id.is_not(None),
        )
        .group_by(events.c.customer_id)
    )
    customers = [(str(customer), int(count), as_utc(last_at)) for customer, count, last_at in rows]
    return ChurnRisk(customers=len(customers), examples=_links(customers, CHURN_EXAMPLES))


# --- Contacts prevented by outreach ------------------------------------------------------------------------------


async def prevented(
    connection: AsyncConnection, scope: Scope, about: Mapping[str, frozenset[str]] | None = None
) -> Prevented:
    """Contacts prevented by the outreach sent in the window (zabota/outreach/prevented.py): ``channel`` is the
    one the message went by (its ``outreach_sent`` event), ``lang`` and ``segment`` the customer's."""
    records = CustomerRecords(connection.engine)
    found = await records.outreach_with_replies(scope.since, scope.until, REPLY_WINDOW)
    if scope.channel is not None or scope.lang is not None or scope.segment is not None:
        sent = select(contacts.c.id).where(
            contacts.c.channel == OUTREACH_CHANNEL,
            contacts.c.started_at >= scope.since,
            contacts.c.started_at < scope.until,
        )
        customers = customers_where(lang=scope.lang, segment=scope.segment)
        if customers is not None:
            sent = sent.where(contacts.c.customer_id.in_(customers))
        if scope.channel is not None:
            sent = sent.where(
                exists(
                    select(literal(1)).where(
                        events.c.ref == contacts.c.id,
                        events.c.kind == "outreach_sent",
                        events.c.channel == scope.channel,
                    )
                )
            )
        kept = set((await connection.scalars(sent)).all())
        found = [c for c in found if c.channel != OUTREACH_CHANNEL or c.id in kept]
    report = contacts_prevented(found, outreach_about() if about is None else about, scope.now)
    return Prevented(
        reached=report.reached,
        wrote_in=report.wrote_in,
        prevented=report.prevented,
        pending=report.pending,
        share=report.prevented_share,
        by_trigger=tuple(
            PreventedByTrigger(name, count.reached, count.wrote_in, count.prevented, count.pending)
            for name, count in sorted(report.by_trigger.items())
        ),
    )
