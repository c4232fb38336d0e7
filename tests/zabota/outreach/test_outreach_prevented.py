"""Contacts prevented: reached by outreach and did not write in about it within 72 h."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from zabota.outreach.prevented import contacts_prevented
from zabota.records.store import ContactRecord

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
ABOUT = {"delivery_delayed": frozenset({"delivery_delay", "order_status"})}


def contact(
    cid: str, customer: str, hours_ago: float, channel: str, intents: tuple[str, ...] = (), flows: tuple[str, ...] = ()
) -> ContactRecord:
    return ContactRecord(
        id=cid,
        customer_id=customer,
        channel=channel,
        started_at=NOW - timedelta(hours=hours_ago),
        ended_at=None,
        intents=intents,
        articles=(),
        flows=flows,
        feedback=None,
        handoff_id=None,
        handoff_priority=None,
        handoff_outcome=None,
    )


def sent(cid: str, customer: str, hours_ago: float, trigger: str = "delivery_delayed") -> ContactRecord:
    return contact(cid, customer, hours_ago, "outreach", flows=(f"outreach:{trigger}",))


def test_who_wrote_in_about_it_is_not_prevented_and_the_rest_are() -> None:
    contacts = [
        sent("o1", "a", 100),
        contact("k1", "a", 90, "telegram", intents=("order_status",)),  # wrote in about it
        sent("o2", "b", 100),
        contact("k2", "b", 95, "webchat", intents=("check_balance",)),  # something else: still prevented
        sent("o3", "c", 100),
        contact("k3", "c", 99, "sms", flows=("outreach_reply:delivery_delayed",)),  # replied
        sent("o4", "d", 100),
        contact("k4", "d", 10, "sms", intents=("delivery_delay",)),  # after the window: prevented
        sent("o5", "e", 100, "suspicious_payment"),
        contact("k5", "e", 99, "sms", flows=("outreach_confirmed:suspicious_payment",)),  # a yes settles it
    ]
    report = contacts_prevented(contacts, ABOUT, NOW)
    assert (report.reached, report.wrote_in, report.prevented, report.pending) == (5, 2, 3, 0)
    assert report.by_trigger["delivery_delayed"].prevented == 2
    assert report.by_trigger["suspicious_payment"].prevented == 1
    assert report.prevented_share == 3 / 5


def test_a_window_still_open_is_pending_unless_they_already_wrote() -> None:
    contacts = [
        sent("o1", "a", 10),
        sent("o2", "b", 10),
        contact("k2", "b", 5, "telegram", intents=("delivery_delay",)),
    ]
    report = contacts_prevented(contacts, ABOUT, NOW)
    assert (report.reached, report.wrote_in, report.prevented, report.pending) == (1, 1, 0, 1)
    assert contacts_prevented([], ABOUT, NOW).prevented_share is None
