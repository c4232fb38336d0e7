"""The leads' figures as a JSON API (issue 11, item 4: the dashboard's data), lead role only:

- ``GET /api/v1/analytics/figures``: every figure of a window of UTC days (``Figures.to_dict()``), with the window
  and the filters it was asked for;
- ``GET /api/v1/analytics/<chart>``: one part of it (conversations, escalation, response_times, sla, surveys,
  top_intents, knowledge_base, recurring, churn_risk, prevented, days), on its own queries, so that each chart of
  the dashboard loads fast and on its own;
- ``GET /api/v1/analytics/export.csv``: the per-day series as CSV.

Every number comes from ``zabota.analytics.figures`` (definitions: zabota/analytics/model.py, docs/analytics.md);
this module reads the parameters, picks the function and shapes the answer, nothing more.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.responses import JSONResponse, Response

from gateway.errors import RETRY_AFTER_SECONDS, ApiError, ErrorBody
from gateway.operator_auth import Operator
from gateway.operators import OperatorDep, ServicesDep
from gateway.services import Services
from zabota.analytics.figures import (
    MAX_WINDOW_DAYS,
    analytics_connection,
    churn_risk,
    conversations,
    day_window,
    days,
    escalation,
    figures,
    knowledge_base,
    prevented,
    recurring,
    response_times,
    scope_of,
    sla,
    surveys,
    top_intents,
)
from zabota.analytics.model import (
    Ces,
    ChurnRisk,
    Conversations,
    Csat,
    CustomerLink,
    Day,
    Escalation,
    Example,
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
    jsonable,
)
from zabota.analytics.sql import Scope
from zabota.language import Language

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])

# the longest window one request may ask for (as ``make report``): a year, leap day included
# the filter's values: the contacts' channels (zabota/records/store.py CONTACT_CHANNELS) but "outreach", which is
# no conversation's channel (an outreach message's events carry the channel it went by)
Channel = Literal["webchat", "telegram", "voice", "sms", "email"]
Segment = Literal["b2c", "b2b"]
About = Mapping[str, frozenset[str]]
# the series' columns, in order: the CSV's header and the days' JSON keys
DAY_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Day))
# a spreadsheet runs a cell that starts with one of these as a formula (CSV injection): such a cell is quoted
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: Any) -> Any:
    """A UTC day as ``YYYY-MM-DD`` and nothing else (no timestamps, no times, no other spellings)."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError("not a date: give a UTC day as YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"not a calendar date ({error})") from error


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


# --- The parameters ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnalyticsQuery:
    """What one request is about: the UTC days ``first``..``last`` (both included) and the filters."""

    first: date
    last: date
    channel: str | None = None
    lang: str | None = None
    segment: str | None = None

    def span(self) -> tuple[datetime, datetime]:
        """[since, until) in UTC (the days were checked when the query was read)."""
        return day_window(self.first, self.last)

    def scope(self, services: Services) -> Scope:
        since, until = self.span()
        return scope_of(
            services.records.engine,
            since,
            until,
            channel=self.channel,
            lang=self.lang,
            segment=self.segment,
        )

    def filters(self) -> dict[str, str | None]:
        return {"channel": self.channel, "lang": self.lang, "segment": self.segment}


def analytics_query(
    first: Annotated[
        IsoDate | None,
        Query(
            alias="from",
            description="The first UTC day of the window, YYYY-MM-DD. Default: `to` when given, else today (UTC).",
            examples=["2026-12-01"],
        ),
    ] = None,
    last: Annotated[
        IsoDate | None,
        Query(
            alias="to",
            description="The last UTC day of the window, included, YYYY-MM-DD; not before `from`, at most "
            f"{MAX_WINDOW_DAYS} days from it. Default: `from` when given, else today (UTC).",
            examples=["2026-12-07"],
        ),
    ] = None,
    channel: Annotated[
        Channel | None,
        Query(
            description="Only this channel: the contact's for conversations, the event's own for the rest (outreach: "
            "the channel the message went by). Default: every channel."
        ),
    ] = None,
    lang: Annotated[
        Language | None,
        Query(
            description="Only this language: the event's own; for conversations and outreach the customer's "
            "(the language of their latest message). Default: both."
        ),
    ] = None,
    segment: Annotated[
        Segment | None, Query(description="Only customers of this segment (the customer's). Default: both.")
    ] = None,
) -> AnalyticsQuery:
    today = datetime.now(UTC).date()
    first, last = first or last or today, last or first or today
    try:
        day_window(first, last)
    except ValueError as error:
        raise ApiError(422, "invalid_window", str(error)) from error
    return AnalyticsQuery(first, last, channel, lang, segment)


def require_lead(operator: OperatorDep) -> Operator:
    """An operator token (401 without one), of a lead (403 for an operator): checked before the parameters."""
    if not operator.is_lead:
        raise ApiError(403, "forbidden", "the analytics need a lead's token")
    return operator


LeadDep = Annotated[Operator, Depends(require_lead)]
QueryDep = Annotated[AnalyticsQuery, Depends(analytics_query)]


# --- Reading -----------------------------------------------------------------------------------------------------


@asynccontextmanager
async def _records_read() -> AsyncIterator[None]:
    """The database unavailable: 503 with Retry-After (nothing was changed; the same request may be repeated)."""
    try:
        yield
    except (SQLAlchemyError, OSError) as exc:
        log.error("analytics.records_unavailable", error=type(exc).__name__)
        raise ApiError(
            503,
            "records_unavailable",
            "the system of record cannot be read now; retry later",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from exc


def outreach_about(services: Services) -> About:
    """Per outreach trigger, the intents that mean its customer wrote in about it (the gateway's loaded rules)."""
    return {name: rule.about for name, rule in services.outreach.rules.triggers.items()}


Reader = Callable[[AsyncConnection, Scope, About], Awaitable[Any]]


def _plain(read: Callable[[AsyncConnection, Scope], Awaitable[Any]]) -> Reader:
    async def reader(connection: AsyncConnection, scope: Scope, about: About) -> Any:
        return await read(connection, scope)

    return reader


def _totals(read: Callable[[AsyncConnection, Scope], Awaitable[tuple[Any, Any]]]) -> Reader:
    """For the functions that give the window's figure and its days: the figure."""

    async def reader(connection: AsyncConnection, scope: Scope, about: About) -> Any:
        return (await read(connection, scope))[0]

    return reader


async def _prevented(connection: AsyncConnection, scope: Scope, about: About) -> Prevented:
    return await prevented(connection, scope, about)


@dataclass(frozen=True)
class Chart:
    name: str  # the route's last segment
    key: str  # the part's key in ``Figures.to_dict()``
    model: Any  # the part's type (its schema in the OpenAPI document)
    read: Reader
    summary: str
    doc: str


CHARTS: tuple[Chart, ...] = (
    Chart(
        "conversations",
        "conversations",
        Conversations,
        _totals(conversations),
        "Conversations: containment and escalation rate (lead role)",
        "Contacts started in the window, outreach left out: contained, repeated, escalated, pending, the "
        "containment rate (contained / (total − pending)) and the escalation rate (escalated / total).",
    ),
    Chart(
        "escalation",
        "escalation",
        Escalation,
        _plain(escalation),
        "Handoffs opened and their reasons (lead role)",
        "`handoff_opened` events in the window and how often each reason code was among their reasons, most "
        "frequent first.",
    ),
    Chart(
        "response_times",
        "response",
        ResponseTimes,
        _plain(response_times),
        "First response (bot, people) and time to resolution, p50/p90 seconds (lead role)",
        "The part `response` of the whole figures: the bot's first response per customer message, the first "
        "operator reply of a handoff, opened → closed; seconds, p50 and p90, with n.",
    ),
    Chart(
        "sla",
        "sla",
        Sla,
        _plain(sla),
        "SLA: handoffs answered in time, late, missed; breach rate (lead role)",
        "Handoffs opened in the window; first replies within / past the SLA; SLA-missed events; of the handoffs "
        "opened, the share breached (a missed SLA or a late first reply).",
    ),
    Chart(
        "surveys",
        "surveys",
        Surveys,
        _totals(surveys),
        "CSAT, CES and NPS (lead role)",
        "Survey answers in the window: CSAT (share of 4-5 and the mean), CES (the mean), NPS (% promoters − % "
        "detractors), each with n.",
    ),
    Chart(
        "top_intents",
        "top_intents",
        list[IntentCount],
        _plain(top_intents),
        "The 10 most frequent intents (lead role)",
        "Triage decisions in the window per intent, most frequent first (ties by name), at most 10.",
    ),
    Chart(
        "knowledge_base",
        "knowledge_base",
        KnowledgeBase,
        _plain(knowledge_base),
        "The knowledge base's gaps and unhelpful articles (lead role)",
        "Questions no article answered, grouped by similar wording (the 50 largest groups, each with the latest "
        "customers and messages to open), and the articles answered «не помогло», most unhelpful first.",
    ),
    Chart(
        "recurring",
        "recurring",
        list[RecurringProblem],
        _plain(recurring),
        "Recurring problems per intent (lead role)",
        "Triage decisions with the reason `recurring` (the same problem three times in seven days), per intent: "
        "how many, distinct customers, the latest customers to link to; most frequent first.",
    ),
    Chart(
        "churn_risk",
        "churn_risk",
        ChurnRisk,
        _plain(churn_risk),
        "Customers at churn risk (lead role)",
        "Distinct customers with a handoff opened in the window with a churn risk; the latest 50 to link to.",
    ),
    Chart(
        "prevented",
        "prevented",
        Prevented,
        _prevented,
        "Contacts prevented by outreach (lead role)",
        "Of the outreach messages sent in the window whose 72 h have passed (reached), those whose customer did "
        "not reply or write in about the same thing (prevented); share = prevented / reached; per trigger.",
    ),
    Chart(
        "days",
        "days",
        list[Day],
        _plain(days),
        "The per-day series for the trend lines (lead role)",
        "One entry per UTC day of the window, in order, empty days as zeros and nulls: conversations, contained, "
        "pending, containment and escalation rate of the contacts started that day; CSAT of that day's answers; "
        "the median human first response of that day's first replies. The same rows as `export.csv`.",
    ),
)
CHART_NAMES = tuple(chart.name for chart in CHARTS)


# --- The answers' shapes (the OpenAPI document; the bodies are ``Figures.to_dict()`` and its parts) -------------


class WindowOut(BaseModel):
    """The window asked for: the UTC days ``from``..``to`` (both included), that is ``since`` ≤ time < ``until``,
    seen at ``now`` (what is still pending depends on it)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    from_: date = Field(alias="from", description="The first UTC day")
    to: date = Field(description="The last UTC day, included")
    since: datetime = Field(description="`from` 00:00 UTC")
    until: datetime = Field(description="The day after `to`, 00:00 UTC (excluded)")
    now: datetime = Field(description="When the figures were counted")


class FiltersOut(BaseModel):
    """The filters asked for; null: not filtered."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel | None
    lang: Language | None
    segment: Segment | None


class FiguresOut(BaseModel):
    """Every figure of the window (``Figures.to_dict()``, its ``window`` given as the days asked for)."""

    model_config = ConfigDict(extra="forbid")

    window: WindowOut
    filters: FiltersOut
    conversations: Conversations
    escalation: Escalation
    response: ResponseTimes = Field(description="The chart `response_times`")
    sla: Sla
    surveys: Surveys = Field(description="CSAT (1-5), CES (1-7) and NPS (0-10) of the window's answers")
    top_intents: list[IntentCount] = Field(description="The 10 most frequent intents of the triage decisions")
    knowledge_base: KnowledgeBase
    recurring: list[RecurringProblem] = Field(description="Recurring problems per intent, most frequent first")
    churn_risk: ChurnRisk
    prevented: Prevented
    days: list[Day] = Field(description="One entry per UTC day of the window, in order")


# --- Examples for the OpenAPI document (made-up numbers of one day, in the answers' exact shape) ----------------
# (every value set: the OpenAPI document leaves an example's nulls out)

_DAY = date(2026, 12, 1)
_AT = datetime(2026, 12, 1, 15, 4, 5, tzinfo=UTC)
_EXAMPLE_PARTS: dict[str, Any] = {
    "conversations": Conversations(1240, 868, 62, 210, 100, 868 / 1140, 210 / 1240),
    "escalation": Escalation(214, (ReasonCount("human_request", 96), ReasonCount("anger", 41))),
    "response": ResponseTimes(
        Percentiles(3120, 1.2, 2.9), 188, Percentiles(201, 95.0, 410.5), Percentiles(180, 1260.0, 5400.0)
    ),
    "sla": Sla(214, 180, 21, 9, 28, 28 / 214),
    "surveys": Surveys(Csat(310, 254, 254 / 310, 4.31), Ces(280, 5.8), Nps(95, 52, 28, 15, 38.947)),
    "top_intents": (IntentCount("internet_down", 312), IntentCount("payment_missing", 140)),
    "knowledge_base": KnowledgeBase(
        57,
        (KbGap("не работает вайфай", 12, 9, (Example("c-00000000000000a1", "m-1f2e3d4c", _AT),)),),
        (UnhelpfulArticle("router-reboot", 7, 30, 7 / 30),),
    ),
    "recurring": (RecurringProblem("internet_down", 18, 6, (CustomerLink("c-00000000000000a1", 3, _AT),)),),
    "churn_risk": ChurnRisk(4, (CustomerLink("c-00000000000000b2", 2, _AT),)),
    "prevented": Prevented(120, 14, 106, 35, 106 / 120, (PreventedByTrigger("maintenance_planned", 120, 14, 106, 35),)),
    "days": (Day(_DAY, 1240, 868, 100, 868 / 1140, 210, 210 / 1240, 310, 254 / 310, 95.0),),
}
_EXAMPLE_FIGURES: dict[str, Any] = {
    "window": {
        "from": _DAY.isoformat(),
        "to": _DAY.isoformat(),
        "since": "2026-12-01T00:00:00+00:00",
        "until": "2026-12-02T00:00:00+00:00",
        "now": "2026-12-08T09:30:00+00:00",
    },
    "filters": {"channel": "telegram", "lang": "ru", "segment": "b2c"},
    **{key: jsonable(part) for key, part in _EXAMPLE_PARTS.items()},
}


def _error(description: str, error: str, detail: str) -> dict[str, Any]:
    return {
        "model": ErrorBody,
        "description": description,
        "content": {"application/json": {"example": {"error": error, "detail": detail}}},
    }


_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _error(
        "Missing or invalid operator token",
        "unauthorized",
        "send the operator token as 'Authorization: Bearer <token>'",
    ),
    403: _error("An operator's token: the analytics are for leads", "forbidden", "the analytics need a lead's token"),
    422: _error(
        "A bad parameter, the reason in `detail`: `invalid_request` for a date not YYYY-MM-DD or an unknown "
        "channel, language or segment (the parameter named in `fields`); `invalid_window` for `to` before `from` "
        f"or a window over {MAX_WINDOW_DAYS} days",
        "invalid_window",
        "the window is 400 days (2026-01-01..2027-02-04); at most 366",
    ),
    503: {
        **_error(
            "The system of record cannot be read now; retry after `Retry-After` seconds",
            "records_unavailable",
            "the system of record cannot be read now; retry later",
        ),
        "headers": {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}},
    },
}


def _ok(example: Any, description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description, "content": {"application/json": {"example": example}}}, **_RESPONSES}


def _json(content: Any) -> Response:
    # the figures are a lead's view of customers (ids to open conversations): not for shared caches
    return JSONResponse(content, headers={"Cache-Control": "no-store"})


# --- The routes --------------------------------------------------------------------------------------------------


@router.get(
    "/figures",
    response_model=FiguresOut,
    responses=_ok(_EXAMPLE_FIGURES, "Every figure of the window"),
    summary="Every figure of a window of UTC days (lead role)",
    description=(
        "Every figure of the dashboard for the UTC days `from`..`to` (both included; default today), filtered by "
        "channel, language and segment: `Figures.to_dict()` of zabota/analytics, its `window` given as the days "
        'asked for, and the `filters`. Definitions: docs/analytics.md ("Definitions"), also in each part\'s '
        "schema. A rate with nothing to divide is null, not 0. Each part has its own route, `GET "
        f"/api/v1/analytics/{{chart}}` with chart one of {', '.join(CHART_NAMES)} (any other name: 404), on "
        "only the queries that part needs."
    ),
)
async def analytics_figures(lead: LeadDep, query: QueryDep, services: ServicesDep) -> Response:
    since, until = query.span()
    async with _records_read():
        found = await figures(
            services.records.engine,
            since,
            until,
            channel=query.channel,
            lang=query.lang,
            segment=query.segment,
            about=outreach_about(services),
        )
    body = found.to_dict()
    window = body["window"]
    body["window"] = {
        "from": query.first.isoformat(),
        "to": query.last.isoformat(),
        "since": window["since"],
        "until": window["until"],
        "now": window["now"],
    }
    body["filters"] = query.filters()
    return _json(body)


def csv_cell(value: Any) -> str:
    """One cell: blank for a null; a text a spreadsheet would run as a formula (= + - @, a tab or a carriage
    return first) behind a quote, so that it stays text."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, date) else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def days_csv(days: tuple[Day, ...]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(DAY_COLUMNS)
    for day in days:
        writer.writerow([csv_cell(getattr(day, column)) for column in DAY_COLUMNS])
    return buffer.getvalue()


@router.get(
    "/export.csv",
    response_class=Response,
    responses={
        200: {
            "description": "The per-day series: a header row, then one row per UTC day of the window, in order; "
            "a null is an empty cell; rates are fractions (0.5 = 50 %), times seconds. Sent as an attachment.",
            "content": {"text/csv": {"schema": {"type": "string"}, "example": days_csv(_EXAMPLE_PARTS["days"])}},
            "headers": {
                "Content-Disposition": {
                    "description": 'attachment; filename="zabota-days-FROM-TO.csv"',
                    "schema": {"type": "string"},
                }
            },
        },
        **_RESPONSES,
    },
    summary="The per-day series as CSV (lead role)",
    description=(
        f"Columns: {', '.join(DAY_COLUMNS)} (the entries of the chart `days`). The same parameters as the figures. "
        "A cell that starts with = + - @ (or a tab or carriage return) is prefixed with a quote, so that a "
        "spreadsheet never runs it as a formula."
    ),
)
async def analytics_export_csv(lead: LeadDep, query: QueryDep, services: ServicesDep) -> Response:
    scope = query.scope(services)
    async with _records_read(), analytics_connection(services.records.engine) as connection:
        series = await days(connection, scope)
    filters = "".join(f"-{value}" for value in query.filters().values() if value)
    filename = f"zabota-days-{query.first}-{query.last}{filters}.csv"
    return Response(
        days_csv(series),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def _chart_route(chart: Chart) -> Callable[..., Awaitable[Response]]:
    async def read_chart(lead: LeadDep, query: QueryDep, services: ServicesDep) -> Response:
        scope = query.scope(services)
        async with _records_read(), analytics_connection(services.records.engine) as connection:
            part = await chart.read(connection, scope, outreach_about(services))
        return _json(jsonable(part))

    return read_chart


for _chart in CHARTS:
    router.add_api_route(
        f"/{_chart.name}",
        _chart_route(_chart),
        methods=["GET"],
        response_model=_chart.model,
        responses=_ok(jsonable(_EXAMPLE_PARTS[_chart.key]), f"The part `{_chart.key}` of the figures"),
        summary=_chart.summary,
        description=_chart.doc + " The same parameters as `GET /api/v1/analytics/figures`; the same value as its "
        f"`{_chart.key}`.",
        name=f"analytics_{_chart.name}",
    )


@router.get("/{chart}", include_in_schema=False)
async def unknown_chart(lead: LeadDep, chart: Annotated[str, Path()]) -> Response:
    raise ApiError(404, "not_found", f"no such chart; one of: {', '.join(CHART_NAMES)}, or figures, export.csv")
