"""The analytics' definitions checked against a small day computed by hand (docs/analytics.md, "Definitions"),
on PostgreSQL and on SQLite: customers and contacts written through the system of record, events through the
event store, every time known to the second.

The day D is 2 March 2026 (UTC). Customers: A (b2c, ru), B (b2b, ru), C (b2c, en), E (b2c, ru), F (b2b, en).

Contacts (· = outside the window [D, D+1)):
    k-a0  A sms       D-1 22:00  internet_down                 · repeated: k-a1 on the same intent 11 h later
    k-a1  A webchat   09:00      internet_down                   repeated: k-a2 on the same intent 25 h later
    k-a2  A webchat   D+1 10:00  internet_down                 ·
    k-b1  B telegram  10:00      payment_missing  handoff h-b1   escalated
    k-b2  B telegram  15:59      payment_missing  handoff h-b2   escalated
    k-c1  C webchat   11:00      payment_methods                 contained: k-c3 comes 72 h + 1 s later
    k-c2  C webchat   15:00      change_tariff                   contained
    k-c3  C webchat   D+3 11:00:01 payment_methods             ·
    k-e1  E telegram  13:00      change_tariff                   contained
    k-f1  F voice     12:00      internet_down    handoff h-f1   escalated
    o-…e4 E outreach  08:00      maintenance_planned (sms)       not a conversation; E never writes about it
    o-…f5 F outreach  08:30      maintenance_planned (telegram)  not a conversation; F writes k-f1 about it
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from zabota.analytics.figures import figures
from zabota.analytics.model import (
    CustomerLink,
    Example,
    IntentCount,
    Percentiles,
    PreventedByTrigger,
    ReasonCount,
    UnhelpfulArticle,
)
from zabota.analytics.wording import group_texts, key_words
from zabota.events.model import Event, EventKind
from zabota.events.store import EventStore
from zabota.records import ContactData, CustomerData, CustomerRecords

D = datetime(2026, 3, 2, tzinfo=UTC)
NEXT_DAY = D + timedelta(days=1)
LATER = D + timedelta(days=5)  # every 72-hour window of the day has passed

A, B, C, E, F = (f"c-00000000000000{suffix}" for suffix in ("a1", "b2", "c3", "e4", "f5"))
PROFILE = {A: ("b2c", "ru"), B: ("b2b", "ru"), C: ("b2c", "en"), E: ("b2c", "ru"), F: ("b2b", "en")}
# each customer's channel and language in the events (A's sms events are the day before, given per event)
CHANNEL = {A: "webchat", B: "telegram", C: "webchat", E: "telegram", F: "voice"}
OUTREACH_E, OUTREACH_F = "o-00000000000000e4", "o-00000000000000f5"


def at(hour: int, minute: int = 0, second: float = 0, day: int = 0) -> datetime:
    return D + timedelta(days=day, hours=hour, minutes=minute, seconds=second)


CONTACTS: list[tuple[str, str, str, datetime, tuple[str, ...], str | None]] = [
    ("k-a0", A, "sms", at(22, day=-1), ("internet_down",), None),
    ("k-a1", A, "webchat", at(9), ("internet_down",), None),
    ("k-a2", A, "webchat", at(10, day=1), ("internet_down",), None),
    ("k-b1", B, "telegram", at(10), ("payment_missing",), "h-b1"),
    ("k-b2", B, "telegram", at(15, 59), ("payment_missing",), "h-b2"),
    ("k-c1", C, "webchat", at(11), ("payment_methods",), None),
    ("k-c2", C, "webchat", at(15), ("change_tariff",), None),
    ("k-c3", C, "webchat", at(11, 0, 1, day=3), ("payment_methods",), None),
    ("k-e1", E, "telegram", at(13), ("change_tariff",), None),
    ("k-f1", F, "voice", at(12), ("internet_down",), "h-f1"),
]


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


def message_events() -> list[Event]:
    """Bot first responses of the day: m-a1 2 s (its second line at 5 s is not the first), m-b1 4 s, m-c1 1 s
    (an operator's line at 0.5 s is not the bot's), m-f1 10 s, m-c2 3 s; m-a5 has no bot line."""
    lines = []
    for customer, ref, start, replies in (
        (A, "m-a1", at(9), (2, 5)),
        (A, "m-a5", at(9, 1), ()),
        (B, "m-b1", at(10), (4,)),
        (C, "m-c1", at(11), (1,)),
        (F, "m-f1", at(12), (10,)),
        (C, "m-c2", at(15), (3,)),
    ):
        lines.append(event("message_in", start, customer, ref, role="customer", text="…"))
        lines += [event("message_out", start + timedelta(seconds=s), customer, ref, role="bot") for s in replies]
    lines.append(event("message_out", at(11, 0, 0.5), C, "m-c1", role="operator"))
    # the day before: its reply comes inside the window, the message does not
    lines.append(event("message_in", at(23, 59, 59, day=-1), A, "m-x", channel="sms", role="customer"))
    lines.append(event("message_out", at(0, 0, 1), A, "m-x", channel="sms", role="bot"))
    return lines


def triage_events() -> list[Event]:
    rows = [
        (A, "m-a1", at(9), "internet_down", ["recurring"]),
        (A, "m-a5", at(9, 1), "internet_down", ["recurring"]),
        (B, "m-b1", at(10), "payment_missing", ["human_request", "anger"]),
        (C, "m-c1", at(11), "payment_methods", []),
        (F, "m-f1", at(12), "internet_down", ["recurring", "anger"]),
        (E, "m-e1", at(13), "change_tariff", []),
        (C, "m-c2", at(15), "change_tariff", []),
        (B, "m-b2", at(15, 59), "payment_missing", ["kb_unhelpful"]),
    ]
    triaged = [event("triage", when, c, ref, intent=i, reasons=r) for c, ref, when, i, r in rows]
    triaged.append(event("triage", at(23, 59, 59, day=-1), A, "m-x", channel="sms", intent="internet_down"))
    return triaged


def handoff_events() -> list[Event]:
    return [
        event(
            "handoff_opened",
            at(10, 0, 5),
            B,
            "h-b1",
            priority="p3",
            reasons=["human_request", "anger"],
            churn_risk=True,
        ),
        event("handoff_first_reply", at(10, 5, 5), B, "h-b1", response_s=300.0, within_sla=True),
        event("handoff_closed", at(10, 30, 5), B, "h-b1", duration_s=1800.0, answered=True),
        event(
            "handoff_opened", at(12, 0, 11), F, "h-f1", priority="p2", reasons=["recurring", "anger"], churn_risk=False
        ),
        event("handoff_sla_missed", at(12, 15, 11), F, "h-f1", overdue_s=0.0),
        event("handoff_first_reply", at(12, 30, 11), F, "h-f1", response_s=1800.0, within_sla=False),
        event("handoff_closed", at(13, 0, 11), F, "h-f1", duration_s=3600.0, answered=True),
        event("handoff_opened", at(15, 59, 5), B, "h-b2", priority="p3", reasons=["kb_unhelpful"], churn_risk=True),
        event("handoff_first_reply", at(16, 0, 5), B, "h-b2", response_s=60.0, within_sla=True),
        event("handoff_handed_back", at(16, 30, 5), B, "h-b2", duration_s=1860.0, answered=True),
        # opened the day before, its SLA missed inside the window
        event(
            "handoff_opened",
            at(23, 50, day=-1),
            A,
            "h-old",
            channel="sms",
            priority="p2",
            reasons=["sensitive_intent"],
            churn_risk=False,
        ),
        event("handoff_sla_missed", at(0, 30), A, "h-old", channel="sms", overdue_s=1200.0),
    ]


def survey_events() -> list[Event]:
    rows = [
        (A, at(9, 10), "csat", 5),
        (A, at(9, 11), "ces", 6),
        (A, at(9, 12), "nps", 9),
        (B, at(10, 40), "csat", 2),
        (C, at(11, 10), "csat", 4),
        (C, at(11, 11), "nps", 10),
        (E, at(13, 10), "csat", 3),
        (E, at(13, 11), "ces", 2),
        (E, at(13, 12), "nps", 6),
        (F, at(13, 10), "nps", 8),
        (A, NEXT_DAY, "csat", 1),  # at the window's end: not in it
    ]
    return [
        event("survey_answer", when, c, f"s-{n}", metric=m, score=s, comment=None)
        for n, (c, when, m, s) in enumerate(rows)
    ]


def kb_events() -> list[Event]:
    misses = [
        (A, at(9, 0, 1), "m-a1", "не работает вайфай"),
        (A, at(9, 1, 1), "m-a5", "Вайфай не работает совсем!"),
        (B, at(10, 0, 1), "m-b1", "не работает вайфай"),
        (C, at(11, 0, 1), "m-c1", "how do I pay by card"),
        (E, at(13, 0, 1), "m-e1", "как оплатить картой?"),
        (B, at(15, 59, 1), "m-b2", "Как оплатить картой"),
    ]
    feedback = [
        (A, at(9, 5), "router-reboot", "no"),
        (B, at(10, 1), "router-reboot", "no"),
        (C, at(11, 5), "router-reboot", "yes"),
        (E, at(13, 5), "payment-methods", "yes"),
        (B, at(15, 59, 30), "payment-methods", "no"),
        (C, at(15, 5), "tariff-change", "yes"),
    ]
    # the data as actions/kb.py's record_event writes it: the stream's fields but kind, conversation, lang, article
    return [event("kb_miss", when, c, None, score="0.21", message_id=m, text=t) for c, when, m, t in misses] + [
        event("kb_feedback", when, c, article, helpful=h, message_id=None) for c, when, article, h in feedback
    ]


def outreach_events() -> list[Event]:
    return [
        event("outreach_sent", at(8), E, OUTREACH_E, channel="sms", trigger="maintenance_planned"),
        event("outreach_sent", at(8, 30), F, OUTREACH_F, channel="telegram", trigger="maintenance_planned"),
    ]


async def seed(engine: AsyncEngine) -> None:
    records = CustomerRecords(engine)
    for customer, (segment, language) in PROFILE.items():
        await records.upsert_customer(CustomerData(segment=segment, language=language), customer_id=customer)
    for contact_id, customer, channel, started, intents, handoff in CONTACTS:
        await records.record_contact(
            ContactData(
                id=contact_id,
                customer_id=customer,
                channel=channel,
                started_at=started,
                intents=intents,
                handoff_id=handoff,
                handoff_priority="p3" if handoff else None,
            )
        )
    for outreach_id, customer, sent in ((OUTREACH_E, E, at(8)), (OUTREACH_F, F, at(8, 30))):
        await records.record_contact(
            ContactData(
                id=outreach_id,
                customer_id=customer,
                channel="outreach",
                started_at=sent,
                flows=("outreach:maintenance_planned",),
            )
        )
    everything = message_events() + triage_events() + handoff_events() + survey_events() + kb_events()
    await EventStore(engine).insert_events(everything + outreach_events())


async def test_the_day_by_hand(engine: AsyncEngine) -> None:
    await seed(engine)
    day = await figures(EventStore(engine), D, NEXT_DAY, now=LATER)

    # 7 conversations (k-a1 k-b1 k-b2 k-c1 k-c2 k-e1 k-f1; not the outreach messages, not k-a0, k-a2, k-c3):
    # 3 escalated (b1 b2 f1), 1 repeated (a1: k-a2 within 72 h), 3 contained (c1: k-c3 is 72 h + 1 s later)
    conversations = day.conversations
    assert (conversations.total, conversations.escalated, conversations.repeated) == (7, 3, 1)
    assert (conversations.contained, conversations.pending) == (3, 0)
    assert conversations.containment_rate == pytest.approx(3 / 7)
    assert conversations.escalation_rate == pytest.approx(3 / 7)

    # handoffs opened in the day: h-b1, h-f1, h-b2 (h-old the day before); reasons anger 2, the rest 1 each
    assert day.escalation.handoffs == 3
    assert day.escalation.reasons == (
        ReasonCount("anger", 2),
        ReasonCount("human_request", 1),
        ReasonCount("kb_unhelpful", 1),
        ReasonCount("recurring", 1),
    )

    # bot: sorted 1 2 3 4 10 -> p50 3, p90 at 0.9 × 4 = 3.6: 4 + 0.6 × (10 − 4) = 7.6; m-a5 unanswered
    # (m-x's reply is in the day, its message is not)
    assert day.response.bot_first_response == Percentiles(5, 3.0, 7.6)
    assert day.response.bot_unanswered == 1
    # human: 60 300 1800 -> p50 300, p90 at 1.8: 300 + 0.8 × 1500 = 1500
    assert day.response.human_first_response == Percentiles(3, 300.0, 1500.0)
    # resolution: closed h-b1 1800, h-f1 3600 (h-b2 handed back) -> p50 2700, p90 1800 + 0.9 × 1800 = 3420
    assert day.response.resolution == Percentiles(2, 2700.0, 3420.0)

    # SLA: 3 opened; first replies 2 within (h-b1, h-b2), 1 late (h-f1); missed events 2 (h-f1, h-old's in the
    # day); of the day's handoffs only h-f1 breached -> 1/3
    sla = day.sla
    assert (sla.opened, sla.first_replies_within, sla.first_replies_late, sla.missed) == (3, 2, 1, 2)
    assert sla.breached == 1
    assert sla.breach_rate == pytest.approx(1 / 3)

    # CSAT 5 2 4 3: 2 of 4 satisfied, mean 3.5; CES 6 2: mean 4; NPS 9 10 6 8: (2 − 1) / 4 = 25
    # (A's CSAT 1 at the window's end is not in it)
    surveys = day.surveys
    assert (surveys.csat.n, surveys.csat.satisfied, surveys.csat.rate, surveys.csat.mean) == (4, 2, 0.5, 3.5)
    assert (surveys.ces.n, surveys.ces.mean) == (2, 4.0)
    nps = surveys.nps
    assert (nps.n, nps.promoters, nps.passives, nps.detractors, nps.score) == (4, 2, 1, 1, 25.0)

    # triage of the day: internet_down a1 a5 f1, change_tariff e1 c2, payment_missing b1 b2, payment_methods c1
    assert day.top_intents == (
        IntentCount("internet_down", 3),
        IntentCount("change_tariff", 2),
        IntentCount("payment_missing", 2),
        IntentCount("payment_methods", 1),
    )

    # misses: the wifi wording 3 (A twice, B), the Russian card wording 2 (E, B), the English one 1
    kb = day.knowledge_base
    assert kb.misses == 6
    assert [(g.text, g.count, g.customers) for g in kb.gaps] == [
        ("не работает вайфай", 3, 2),
        ("Как оплатить картой", 2, 2),  # one each: the shorter wording
        ("how do I pay by card", 1, 1),
    ]
    assert kb.gaps[0].examples == (
        Example(B, "m-b1", at(10, 0, 1)),
        Example(A, "m-a5", at(9, 1, 1)),
        Example(A, "m-a1", at(9, 0, 1)),
    )
    # router-reboot: no, no, yes; payment-methods: yes, no; tariff-change: yes (not listed)
    assert kb.unhelpful == (
        UnhelpfulArticle("router-reboot", 2, 3, pytest.approx(2 / 3)),
        UnhelpfulArticle("payment-methods", 1, 2, 0.5),
    )

    # recurring: internet_down a1 a5 (A) and f1 (F): 3 decisions, 2 customers, the latest first
    assert len(day.recurring) == 1
    problem = day.recurring[0]
    assert (problem.intent, problem.count, problem.customers) == ("internet_down", 3, 2)
    assert problem.examples == (CustomerLink(F, 1, at(12)), CustomerLink(A, 2, at(9, 1)))

    # churn risk: h-b1 and h-b2 (both B), not h-f1
    assert day.churn_risk.customers == 1
    assert day.churn_risk.examples == (CustomerLink(B, 2, at(15, 59, 5)),)

    # outreach: E never wrote about it (prevented), F wrote k-f1 on internet_down (maintenance_planned's)
    outreach = day.prevented
    assert (outreach.reached, outreach.wrote_in, outreach.prevented, outreach.pending) == (2, 1, 1, 0)
    assert outreach.share == 0.5
    assert outreach.by_trigger == (PreventedByTrigger("maintenance_planned", 2, 1, 1, 0),)

    # one day: the same as the totals
    assert len(day.days) == 1
    only = day.days[0]
    assert only.date == D.date()
    assert (only.conversations, only.contained, only.escalated, only.csat_n) == (7, 3, 3, 4)
    assert only.containment_rate == pytest.approx(3 / 7)
    assert only.csat == 0.5
    assert only.human_first_response_p50 == 300.0

    data = json.loads(json.dumps(day.to_dict()))
    assert data["window"]["since"] == "2026-03-02T00:00:00+00:00"
    assert data["days"][0]["date"] == "2026-03-02"
    assert data["knowledge_base"]["gaps"][0]["examples"][0]["customer_id"] == B


async def test_pending_until_72_hours_have_passed(engine: AsyncEngine) -> None:
    await seed(engine)
    day = await figures(engine, D, NEXT_DAY, now=at(12, day=1))

    # at D+1 12:00: k-a1 came back already (k-a2 at D+1 10:00); c1 c2 e1 have no repeat yet and less than 72 h
    # -> pending; escalated ones are decided
    conversations = day.conversations
    assert (conversations.total, conversations.escalated, conversations.repeated) == (7, 3, 1)
    assert (conversations.contained, conversations.pending) == (0, 3)
    assert conversations.containment_rate == 0.0  # 0 of the 4 decided
    assert conversations.escalation_rate == pytest.approx(3 / 7)
    # outreach: F's is decided (wrote in), E's window is still open
    assert (day.prevented.reached, day.prevented.wrote_in, day.prevented.pending) == (1, 1, 1)


async def test_two_days_as_series(engine: AsyncEngine) -> None:
    await seed(engine)
    both = await figures(engine, D - timedelta(days=1), NEXT_DAY, now=LATER)

    # D-1: k-a0 only, repeated by k-a1 (11 h later, the same intent); D: as in the day's test
    before, day = both.days
    assert (before.date, before.conversations, before.contained, before.escalated) == (D.date() - timedelta(1), 1, 0, 0)
    assert (before.containment_rate, before.escalation_rate) == (0.0, 0.0)
    assert (before.csat_n, before.csat, before.human_first_response_p50) == (0, None, None)
    assert (day.conversations, day.contained, day.escalated, day.csat, day.human_first_response_p50) == (
        7,
        3,
        3,
        0.5,
        300.0,
    )
    assert both.conversations.total == 8
    assert both.conversations.containment_rate == pytest.approx(3 / 8)
    # h-old is in the window now: 4 opened; m-x answered in 2 s joins the bot's: 1 2 2 3 4 10 -> p50 2.5
    assert both.escalation.handoffs == 4
    assert both.response.bot_first_response.p50 == 2.5


async def test_by_channel(engine: AsyncEngine) -> None:
    await seed(engine)
    web = await figures(engine, D, NEXT_DAY, channel="webchat", now=LATER)

    # k-a1 (repeated), k-c1 and k-c2 (contained); no handoff in the webchat
    assert (web.conversations.total, web.conversations.contained, web.conversations.escalated) == (3, 2, 0)
    assert web.conversations.containment_rate == pytest.approx(2 / 3)
    assert web.conversations.escalation_rate == 0.0
    assert web.escalation.handoffs == 0
    assert web.sla.breach_rate is None
    assert web.response.human_first_response == Percentiles()
    # bot: m-a1 2, m-c1 1, m-c2 3 -> 1 2 3: p50 2, p90 2 + 0.8 = 2.8; m-a5 unanswered
    assert web.response.bot_first_response == Percentiles(3, 2.0, 2.8)
    assert web.response.bot_unanswered == 1
    # CSAT A 5, C 4; NPS A 9, C 10
    assert (web.surveys.csat.n, web.surveys.csat.rate, web.surveys.csat.mean) == (2, 1.0, 4.5)
    assert web.surveys.nps.score == 100.0
    assert web.top_intents == (
        IntentCount("internet_down", 2),
        IntentCount("change_tariff", 1),
        IntentCount("payment_methods", 1),
    )
    assert [(g.text, g.count, g.customers) for g in web.knowledge_base.gaps] == [
        ("не работает вайфай", 2, 1),
        ("how do I pay by card", 1, 1),
    ]
    assert web.knowledge_base.unhelpful == (UnhelpfulArticle("router-reboot", 1, 2, 0.5),)
    # outreach by the channel it went by: none by webchat; E's went by SMS
    assert (web.prevented.reached, web.prevented.share) == (0, None)
    sms = await figures(engine, D, NEXT_DAY, channel="sms", now=LATER)
    assert (sms.prevented.reached, sms.prevented.prevented, sms.prevented.share) == (1, 1, 1.0)
    assert sms.sla.missed == 1  # h-old's, in the SMS channel


async def test_by_language(engine: AsyncEngine) -> None:
    await seed(engine)
    english = await figures(engine, D, NEXT_DAY, lang="en", now=LATER)

    # contacts by their customer's language: C and F: k-c1, k-c2 (contained), k-f1 (escalated)
    assert (english.conversations.total, english.conversations.contained, english.conversations.escalated) == (
        3,
        2,
        1,
    )
    assert english.conversations.containment_rate == pytest.approx(2 / 3)
    # events by their own language: bot m-c1 1, m-f1 10, m-c2 3 -> 1 3 10: p50 3, p90 3 + 0.8 × 7 = 8.6
    assert english.response.bot_first_response == Percentiles(3, 3.0, 8.6)
    assert english.response.human_first_response == Percentiles(1, 1800.0, 1800.0)
    assert (english.sla.opened, english.sla.first_replies_late, english.sla.missed, english.sla.breach_rate) == (
        1,
        1,
        1,
        1.0,
    )
    assert english.escalation.reasons == (ReasonCount("anger", 1), ReasonCount("recurring", 1))
    # CSAT C 4; no CES; NPS C 10, F 8: one promoter, one passive -> 50
    assert (english.surveys.csat.n, english.surveys.csat.rate) == (1, 1.0)
    assert (english.surveys.ces.n, english.surveys.ces.mean) == (0, None)
    assert english.surveys.nps.score == 50.0
    assert english.churn_risk.customers == 0
    # F's outreach (F is English): F wrote in
    assert (english.prevented.reached, english.prevented.wrote_in, english.prevented.prevented) == (1, 1, 0)


async def test_by_segment(engine: AsyncEngine) -> None:
    await seed(engine)
    business = await figures(engine, D, NEXT_DAY, segment="b2b", now=LATER)

    # B and F: k-b1, k-b2, k-f1, all escalated
    assert (business.conversations.total, business.conversations.escalated) == (3, 3)
    assert (business.conversations.containment_rate, business.conversations.escalation_rate) == (0.0, 1.0)
    # bot: m-b1 4, m-f1 10 -> p50 7, p90 4 + 0.9 × 6 = 9.4
    assert business.response.bot_first_response == Percentiles(2, 7.0, 9.4)
    # all three handoffs are B's and F's; h-old (A's) is not: one missed
    assert (business.sla.opened, business.sla.missed, business.sla.breached) == (3, 1, 1)
    assert business.top_intents == (IntentCount("payment_missing", 2), IntentCount("internet_down", 1))
    assert (business.surveys.csat.n, business.surveys.csat.rate, business.surveys.csat.mean) == (1, 0.0, 2.0)
    assert (business.surveys.nps.passives, business.surveys.nps.score) == (1, 0.0)
    assert business.churn_risk.customers == 1
    assert (business.prevented.reached, business.prevented.prevented, business.prevented.share) == (1, 0, 0.0)
    assert [problem.customers for problem in business.recurring] == [1]  # F's


async def test_an_empty_window_is_zeros_not_errors(engine: AsyncEngine) -> None:
    await seed(engine)
    since = datetime(2020, 1, 1, tzinfo=UTC)
    empty = await figures(engine, since, since + timedelta(days=2), now=LATER)

    assert empty.conversations.total == 0
    assert (empty.conversations.containment_rate, empty.conversations.escalation_rate) == (None, None)
    assert empty.escalation.handoffs == 0 and empty.escalation.reasons == ()
    assert empty.response.bot_first_response == Percentiles()
    assert empty.response.bot_unanswered == 0
    assert empty.response.human_first_response == Percentiles()
    assert empty.response.resolution == Percentiles()
    assert (empty.sla.opened, empty.sla.breached, empty.sla.breach_rate) == (0, 0, None)
    assert (empty.surveys.csat.n, empty.surveys.csat.rate, empty.surveys.csat.mean) == (0, None, None)
    assert (empty.surveys.ces.mean, empty.surveys.nps.score) == (None, None)
    assert empty.top_intents == () and empty.recurring == ()
    assert (empty.knowledge_base.misses, empty.knowledge_base.gaps, empty.knowledge_base.unhelpful) == (0, (), ())
    assert empty.churn_risk.customers == 0
    assert (empty.prevented.reached, empty.prevented.share) == (0, None)
    assert [(d.date.isoformat(), d.conversations, d.containment_rate, d.csat) for d in empty.days] == [
        ("2020-01-01", 0, None, None),
        ("2020-01-02", 0, None, None),
    ]
    # filters that match nothing, on the seeded day
    nobody = await figures(engine, D, NEXT_DAY, channel="webchat", segment="b2b", now=LATER)
    assert nobody.conversations.total == 0 and nobody.response.bot_first_response.n == 0
    json.dumps(nobody.to_dict())


async def test_the_window_must_be_a_period(engine: AsyncEngine) -> None:
    with pytest.raises(ValueError, match="until"):
        await figures(engine, D, D)


def test_kb_gaps_group_similar_wording() -> None:
    texts = ["не работает вайфай", "вайфай не работает совсем", "как оплатить картой"]
    groups = group_texts(texts)
    assert [(group.text, group.members) for group in groups] == [
        ("не работает вайфай", (0, 1)),
        ("как оплатить картой", (2,)),
    ]
    # the same texts in another order: the same groups
    backwards = list(reversed(texts))
    assert [sorted(backwards[i] for i in g.members) for g in group_texts(backwards)] == [
        sorted(texts[i] for i in g.members) for g in groups
    ]


def test_key_words() -> None:
    # lower case, ё → е, no punctuation or digits, no stop words, stems of at most five letters
    assert key_words("Вайфай НЕ работает совсем!!!") == {"вайфа", "работ"}
    assert key_words("не работают вайфай") == key_words("вайфай не работал")
    assert key_words("Ещё 3 дня нет света, ёлки") == key_words("еще дня нет света елки")
    assert key_words("Payment failed") == key_words("payments failing") == {"pay", "fail"}
    assert key_words("?!, 123") == frozenset()


def test_groups_by_overlap_and_keep_wordless_texts_apart() -> None:
    texts = [
        "интернет не работает",
        "не работает интернет уже 3 дня",  # {интер, работ, дня}: 2 of 3 shared with the first
        "роутер мигает красным",  # nothing shared
        "???",
        "...",
    ]
    groups = group_texts(texts)
    assert sorted(g.members for g in groups) == [(0, 1), (2,), (3, 4)]
