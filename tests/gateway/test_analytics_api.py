"""The leads' analytics API (gateway/analytics_api.py) over HTTP with the real app and the real system of record
(PostgreSQL when it answers): a small past day seeded through the records store and the event store, its figures
as the definitions give them (docs/analytics.md), each chart's part, the CSV, the filters, and every refusal.

The day D is 2 November 2026 (UTC), long past: every conversation's 72 hours are over. Customers: A (b2c, ru),
B (b2b, ru), C (b2c, en).

Contacts:
    k-a1  A webchat   D 09:00    internet_down                  contained
    k-b1  B telegram  D 10:00    payment_missing  handoff h-b1  escalated
    k-c1  C webchat   D 11:00    payment_methods                repeated: k-c2 on the same intent 23 h later
    k-a2  A sms       D 15:00    change_tariff                  contained
    k-c2  C webchat   D+1 10:00  payment_methods                contained (the next day)

Survey answers: CSAT A 5 (webchat), B 2 (telegram), C 4 (webchat), A 3 (sms) on D, C 1 (webchat) on D+1; NPS C 10,
B 6 on D. Handoff h-b1: opened 10:00:05 (human_request, anger; churn risk), first reply in 300 s within the SLA,
closed after 1800 s. The bot answered m-a1 in 2 s and m-b1 in 4 s.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from gateway_testkit import LEAD_TOKEN, OPERATOR_TOKEN, AppContext, StartApp, bearer, closed_port
from pydantic import TypeAdapter

from gateway.analytics_api import CHART_NAMES, DAY_COLUMNS, FiguresOut, csv_cell
from zabota.events import Event
from zabota.events.model import EventKind
from zabota.events.store import EventStore
from zabota.records import ContactData, CustomerData, RecordsSettings, create_engine
from zabota.records.store import CONTACT_CHANNELS

pytestmark = pytest.mark.usefixtures("empty_records")

LEAD = bearer(LEAD_TOKEN)
OPERATOR = bearer(OPERATOR_TOKEN)
FIGURES = "/api/v1/analytics/figures"
CSV = "/api/v1/analytics/export.csv"

D = datetime(2026, 11, 2, tzinfo=UTC)
DAY, NEXT, THIRD = "2026-11-02", "2026-11-03", "2026-11-04"
A, B, C = "c-00000000000000a1", "c-00000000000000b2", "c-00000000000000c3"
PROFILE = {A: ("b2c", "ru"), B: ("b2b", "ru"), C: ("b2c", "en")}
CHANNEL = {A: "webchat", B: "telegram", C: "webchat"}
# the part of ``Figures.to_dict()`` each chart gives
PART = {"response_times": "response"}


def at(hour: int, minute: int = 0, second: int = 0, day: int = 0) -> datetime:
    return D + timedelta(days=day, hours=hour, minutes=minute, seconds=second)


def event(
    kind: EventKind, when: datetime, customer: str, ref: str | None, channel: str | None = None, **data: Any
) -> Event:
    return Event(
        kind,
        when.timestamp(),
        customer_id=customer,
        channel=channel or CHANNEL[customer],
        lang=PROFILE[customer][1],
        ref=ref,
        data=data,
    )


def events() -> list[Event]:
    seeded = [
        event("message_in", at(9), A, "m-a1", role="customer", chars=20),
        event("message_out", at(9, 0, 2), A, "m-a1", role="bot"),
        event("message_in", at(10), B, "m-b1", role="customer", chars=30),
        event("message_out", at(10, 0, 4), B, "m-b1", role="bot"),
        event("triage", at(9), A, "m-a1", intent="internet_down", reasons=[]),
        event("triage", at(10), B, "m-b1", intent="payment_missing", reasons=["human_request", "anger"]),
        event("triage", at(11), C, "m-c1", intent="payment_methods", reasons=[]),
        event("triage", at(15), A, "m-a2", channel="sms", intent="change_tariff", reasons=[]),
        event("triage", at(10, day=1), C, "m-c2", intent="payment_methods", reasons=[]),
        event("handoff_opened", at(10, 0, 5), B, "h-b1", reasons=["human_request", "anger"], churn_risk=True),
        event("handoff_first_reply", at(10, 5, 5), B, "h-b1", response_s=300.0, within_sla=True),
        event("handoff_closed", at(10, 30, 5), B, "h-b1", duration_s=1800.0, answered=True),
        event("kb_miss", at(9, 0, 1), A, None, text="не работает вайфай", message_id="m-a1", score="0.2"),
    ]
    answers = [
        (A, at(9, 10), "csat", 5, None),
        (B, at(10, 40), "csat", 2, None),
        (C, at(11, 10), "csat", 4, None),
        (A, at(15, 10), "csat", 3, "sms"),
        (C, at(11, 11), "nps", 10, None),
        (B, at(10, 41), "nps", 6, None),
        (C, at(10, 10, day=1), "csat", 1, None),
    ]
    seeded += [
        event("survey_answer", when, customer, f"s-{n}", channel=channel, metric=metric, score=score, comment=None)
        for n, (customer, when, metric, score, channel) in enumerate(answers)
    ]
    return seeded


async def seed(ctx: AppContext) -> None:
    records = ctx.services.records
    for customer, (segment, language) in PROFILE.items():
        await records.upsert_customer(CustomerData(segment=segment, language=language), customer_id=customer)
    contacts = [
        ("k-a1", A, "webchat", at(9), "internet_down", None),
        ("k-b1", B, "telegram", at(10), "payment_missing", "h-b1"),
        ("k-c1", C, "webchat", at(11), "payment_methods", None),
        ("k-a2", A, "sms", at(15), "change_tariff", None),
        ("k-c2", C, "webchat", at(10, day=1), "payment_methods", None),
    ]
    for contact_id, customer, channel, started, intent, handoff in contacts:
        await records.record_contact(
            ContactData(
                id=contact_id,
                customer_id=customer,
                channel=channel,
                started_at=started,
                intents=(intent,),
                handoff_id=handoff,
                handoff_priority="p3" if handoff else None,
            )
        )
    assert await EventStore(records.engine).insert_events(events()) == len(events())


async def get(ctx: AppContext, path: str, **params: str) -> Any:
    response = await ctx.client.get(path, params=params, headers=LEAD)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_figures_of_a_seeded_day(start_app: StartApp) -> None:
    async with start_app() as ctx:
        await seed(ctx)
        response = await ctx.client.get(FIGURES, params={"from": DAY, "to": DAY}, headers=LEAD)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    # k-a1 k-b1 k-c1 k-a2 (k-c2 is the next day): k-a1 and k-a2 contained, k-c1 repeated, k-b1 escalated
    assert body["conversations"] == {
        "total": 4,
        "contained": 2,
        "repeated": 1,
        "escalated": 1,
        "pending": 0,
        "containment_rate": 0.5,
        "escalation_rate": 0.25,
    }
    assert body["escalation"] == {
        "handoffs": 1,
        "reasons": [{"reason": "anger", "count": 1}, {"reason": "human_request", "count": 1}],
    }
    # CSAT 5 2 4 3: 2 of 4 satisfied, mean 3.5 (C's 1 is the next day); NPS 10 and 6: 50 % − 50 %
    assert body["surveys"]["csat"] == {"n": 4, "satisfied": 2, "rate": 0.5, "mean": 3.5}
    assert body["surveys"]["nps"] == {"n": 2, "promoters": 1, "passives": 0, "detractors": 1, "score": 0.0}
    assert body["surveys"]["ces"] == {"n": 0, "mean": None}
    # bot 2 s and 4 s: p50 3, p90 2 + 0.9 × 2 = 3.8
    assert body["response"]["bot_first_response"] == {"n": 2, "p50": 3.0, "p90": 3.8}
    assert body["response"]["human_first_response"] == {"n": 1, "p50": 300.0, "p90": 300.0}
    assert body["response"]["resolution"] == {"n": 1, "p50": 1800.0, "p90": 1800.0}
    assert body["sla"] == {
        "opened": 1,
        "first_replies_within": 1,
        "first_replies_late": 0,
        "missed": 0,
        "breached": 0,
        "breach_rate": 0.0,
    }
    assert [i["intent"] for i in body["top_intents"]] == [
        "change_tariff",
        "internet_down",
        "payment_methods",
        "payment_missing",
    ]
    assert body["knowledge_base"]["misses"] == 1
    assert body["churn_risk"]["customers"] == 1
    assert body["days"] == [
        {
            "date": DAY,
            "conversations": 4,
            "contained": 2,
            "pending": 0,
            "containment_rate": 0.5,
            "escalated": 1,
            "escalation_rate": 0.25,
            "csat_n": 4,
            "csat": 0.5,
            "human_first_response_p50": 300.0,
        }
    ]
    window = body["window"]
    assert (window["from"], window["to"]) == (DAY, DAY)
    assert (window["since"], window["until"]) == ("2026-11-02T00:00:00+00:00", "2026-11-03T00:00:00+00:00")
    assert body["filters"] == {"channel": None, "lang": None, "segment": None}
    # the OpenAPI document's shape is the body's, key for key
    FiguresOut.model_validate(body)


async def test_the_filters_narrow_every_figure(start_app: StartApp) -> None:
    async with start_app() as ctx:
        await seed(ctx)
        webchat = await get(ctx, FIGURES, **{"from": DAY, "channel": "webchat"})
        b2b = await get(ctx, FIGURES, **{"from": DAY, "segment": "b2b"})
        english = await get(ctx, FIGURES, **{"from": DAY, "lang": "en"})
        both = await get(ctx, FIGURES, **{"from": DAY, "channel": "telegram", "segment": "b2c"})
    # webchat: k-a1 contained, k-c1 repeated; CSAT A 5 and C 4
    assert webchat["conversations"]["total"] == 2
    assert (webchat["conversations"]["containment_rate"], webchat["conversations"]["escalation_rate"]) == (0.5, 0.0)
    assert webchat["surveys"]["csat"] == {"n": 2, "satisfied": 2, "rate": 1.0, "mean": 4.5}
    assert webchat["escalation"]["handoffs"] == 0
    assert webchat["filters"] == {"channel": "webchat", "lang": None, "segment": None}
    # b2b: B only, escalated; CSAT 2
    assert (b2b["conversations"]["total"], b2b["conversations"]["escalation_rate"]) == (1, 1.0)
    assert b2b["conversations"]["containment_rate"] == 0.0
    assert b2b["surveys"]["csat"] == {"n": 1, "satisfied": 0, "rate": 0.0, "mean": 2.0}
    assert b2b["escalation"]["handoffs"] == 1
    # English: C's k-c1 came back; C's CSAT 4
    assert (english["conversations"]["total"], english["conversations"]["repeated"]) == (1, 1)
    assert english["surveys"]["csat"]["n"] == 1 and english["surveys"]["csat"]["rate"] == 1.0
    # telegram and b2c: nobody; an empty window's rates are null, not 0
    assert both["conversations"]["total"] == 0
    assert both["conversations"]["containment_rate"] is None and both["surveys"]["csat"]["rate"] is None
    assert both["filters"] == {"channel": "telegram", "lang": None, "segment": "b2c"}


async def test_each_chart_gives_its_part_of_the_figures(start_app: StartApp) -> None:
    async with start_app() as ctx:
        await seed(ctx)
        params = {"from": DAY, "to": NEXT, "channel": "webchat"}
        whole = await get(ctx, FIGURES, **params)
        parts = {chart: await get(ctx, f"/api/v1/analytics/{chart}", **params) for chart in CHART_NAMES}
    assert set(CHART_NAMES) == {
        "conversations",
        "escalation",
        "response_times",
        "sla",
        "surveys",
        "top_intents",
        "knowledge_base",
        "recurring",
        "churn_risk",
        "prevented",
        "days",
    }
    for chart, part in parts.items():
        assert part == whole[PART.get(chart, chart)], chart
    # two days: k-a1 k-c1 (webchat) on D, k-c2 on D+1 (contained: nothing came back within its 72 h)
    assert parts["conversations"]["total"] == 3
    assert [(d["date"], d["conversations"], d["contained"]) for d in parts["days"]] == [(DAY, 2, 1), (NEXT, 1, 1)]
    assert parts["surveys"]["csat"]["n"] == 3


async def test_the_csv_has_a_header_and_one_row_per_day(start_app: StartApp) -> None:
    async with start_app() as ctx:
        await seed(ctx)
        response = await ctx.client.get(CSV, params={"from": DAY, "to": THIRD}, headers=LEAD)
        webchat = await ctx.client.get(CSV, params={"from": DAY, "channel": "webchat"}, headers=LEAD)
        days = await get(ctx, "/api/v1/analytics/days", **{"from": DAY, "to": THIRD})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="zabota-days-{DAY}-{THIRD}.csv"'
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == list(DAY_COLUMNS)
    assert rows[1:] == [
        [DAY, "4", "2", "0", "0.5", "1", "0.25", "4", "0.5", "300.0"],
        [NEXT, "1", "1", "0", "1.0", "0", "0.0", "1", "0.0", ""],  # C's CSAT 1; no handoff that day
        [THIRD, "0", "0", "0", "", "0", "", "0", "", ""],  # an empty day: zeros and blanks
    ]
    # the same series as the chart
    assert [[csv_cell(day[column]) for column in DAY_COLUMNS] for day in days] == rows[1:]
    assert webchat.status_code == 200
    assert webchat.headers["content-disposition"] == f'attachment; filename="zabota-days-{DAY}-{DAY}-webchat.csv"'
    assert list(csv.reader(io.StringIO(webchat.text)))[1][:2] == [DAY, "2"]


def test_a_cell_a_spreadsheet_would_run_stays_text() -> None:
    assert [csv_cell(v) for v in ("=SUM(A1)", "+1", "-2", "@cmd", "\tx", "\rx")] == [
        "'=SUM(A1)",
        "'+1",
        "'-2",
        "'@cmd",
        "'\tx",
        "'\rx",
    ]
    assert [csv_cell(v) for v in (None, 0, 0.5, date(2026, 11, 2), "ok")] == ["", "0", "0.5", "2026-11-02", "ok"]


async def test_the_window_defaults_to_today_and_may_be_a_whole_year(start_app: StartApp) -> None:
    async with start_app() as ctx:
        before = datetime.now(UTC).date().isoformat()
        today = await get(ctx, FIGURES)
        after = datetime.now(UTC).date().isoformat()
        only_to = await get(ctx, "/api/v1/analytics/days", to=DAY)
        year = await get(ctx, "/api/v1/analytics/days", **{"from": "2024-01-01", "to": "2024-12-31"})
    assert today["window"]["from"] == today["window"]["to"] in (before, after)
    assert len(today["days"]) == 1
    assert [d["date"] for d in only_to] == [DAY]  # `from` defaults to `to`
    assert len(year) == 366  # a leap year: the longest window


BAD_REQUESTS: list[tuple[str, dict[str, str], str, str]] = [
    (FIGURES, {"from": "2026-13-01"}, "invalid_request", "from"),
    (FIGURES, {"from": "02.11.2026"}, "invalid_request", "YYYY-MM-DD"),
    (FIGURES, {"from": "1793577600"}, "invalid_request", "from"),  # a Unix time is not a day
    (FIGURES, {"to": "2026-02-30"}, "invalid_request", "to"),
    (FIGURES, {"from": NEXT, "to": DAY}, "invalid_window", f"to ({DAY}) is before from ({NEXT})"),
    (FIGURES, {"from": "2025-01-01", "to": "2026-01-02"}, "invalid_window", "367 days"),
    (FIGURES, {"to": "9999-12-31"}, "invalid_window", "out of range"),
    (FIGURES, {"channel": "fax"}, "invalid_request", "channel"),
    (FIGURES, {"channel": "outreach"}, "invalid_request", "channel"),
    (FIGURES, {"lang": "de"}, "invalid_request", "lang"),
    (FIGURES, {"segment": "vip"}, "invalid_request", "segment"),
    ("/api/v1/analytics/sla", {"from": "yesterday"}, "invalid_request", "from"),
    ("/api/v1/analytics/top_intents", {"from": DAY, "to": "2028-01-01"}, "invalid_window", "at most 366"),
    (CSV, {"from": THIRD, "to": DAY}, "invalid_window", "before"),
    (CSV, {"segment": "B2B"}, "invalid_request", "segment"),
]


async def test_bad_parameters_are_refused_with_the_reason(start_app: StartApp) -> None:
    async with start_app() as ctx:
        answers = [(await ctx.client.get(path, params=params, headers=LEAD)) for path, params, _, _ in BAD_REQUESTS]
        unknown = await ctx.client.get("/api/v1/analytics/containment", headers=LEAD)
    for (path, params, error, reason), response in zip(BAD_REQUESTS, answers, strict=True):
        assert response.status_code == 422, (path, params, response.text)
        body = response.json()
        assert body["error"] == error, (params, body)
        assert reason in body["detail"], (params, body)
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "not_found"
    assert "conversations" in unknown.json()["detail"]


async def test_only_a_lead_reads_the_analytics(start_app: StartApp) -> None:
    paths = [FIGURES, "/api/v1/analytics/conversations", CSV, "/api/v1/analytics/containment"]
    async with start_app() as ctx:
        anonymous = [await ctx.client.get(path) for path in paths]
        operator = [await ctx.client.get(path, headers=OPERATOR) for path in paths]
        # refused before the parameters are read: an operator learns nothing from a bad one either
        bad = await ctx.client.get(FIGURES, params={"from": "nonsense"}, headers=OPERATOR)
    assert [r.status_code for r in anonymous] == [401] * len(paths)
    assert [r.status_code for r in operator] == [403] * len(paths)
    assert {r.json()["error"] for r in operator} == {"forbidden"}
    assert bad.status_code == 403


async def test_an_unreadable_database_is_a_503_with_retry_after(start_app: StartApp) -> None:
    dead = create_engine(RecordsSettings(f"postgresql://postgres@127.0.0.1:{closed_port()}/none"))
    async with start_app() as ctx:
        records = ctx.services.records
        alive, records.engine = records.engine, dead
        try:
            answers = [
                await ctx.client.get(path, params={"from": DAY}, headers=LEAD)
                for path in (FIGURES, "/api/v1/analytics/knowledge_base", "/api/v1/analytics/prevented", CSV)
            ]
        finally:
            records.engine = alive
            await dead.dispose()
    for response in answers:
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "records_unavailable"
        assert int(response.headers["retry-after"]) > 0


async def test_the_openapi_document_describes_every_route(start_app: StartApp) -> None:
    async with start_app() as ctx:
        document = (await ctx.client.get("/openapi.json")).json()
    paths = document["paths"]
    for name in ("figures", "export.csv", *CHART_NAMES):
        operation = paths[f"/api/v1/analytics/{name}"]["get"]
        assert operation["summary"] and operation["description"], name
        parameters = {p["name"]: p for p in operation["parameters"]}
        assert set(parameters) == {"from", "to", "channel", "lang", "segment"}, name
        assert all(p["description"] for p in parameters.values()), name
        assert set(operation["responses"]) >= {"200", "401", "403", "422", "503"}, name
        assert operation["responses"]["422"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"
        }
        content = operation["responses"]["200"]["content"]
        assert content["text/csv" if name == "export.csv" else "application/json"]["example"], name
    channel = paths["/api/v1/analytics/figures"]["get"]["parameters"][2]["schema"]["anyOf"][0]
    assert set(channel["enum"]) == set(CONTACT_CHANNELS) - {"outreach"}
    figures_schema = paths["/api/v1/analytics/figures"]["get"]["responses"]["200"]["content"]["application/json"]
    assert figures_schema["schema"] == {"$ref": "#/components/schemas/FiguresOut"}
    # the definitions travel with the schemas (the model's docstrings)
    assert "contained / (total − pending)" in document["components"]["schemas"]["Conversations"]["description"]
    # the examples have the answers' shape
    FiguresOut.model_validate(figures_schema["example"])
    TypeAdapter(list[dict[str, Any]]).validate_python(
        paths["/api/v1/analytics/days"]["get"]["responses"]["200"]["content"]["application/json"]["example"]
    )
