from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from zabota.catalog import load_catalog
from zabota.records.churn import ChurnRisk, churn_risk, raised_priority
from zabota.records.store import ContactData, ContactRecord

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
CATALOG = load_catalog()


def contact(
    days_ago: float, *, intents: tuple[str, ...] = (), signals: tuple[str, ...] = (), **kw: object
) -> ContactRecord:
    fields: dict[str, object] = {
        "id": f"k-{days_ago}",
        "customer_id": "c-00000000000000c1",
        "channel": "webchat",
        "started_at": NOW - timedelta(days=days_ago),
        "ended_at": None,
        "intents": intents,
        "articles": (),
        "flows": (),
        "feedback": None,
        "handoff_id": None,
        "handoff_priority": None,
        "handoff_outcome": None,
        "signals": signals,
    }
    fields.update(kw)
    return ContactRecord(**fields)  # type: ignore[arg-type]


def test_a_quiet_history_is_no_risk() -> None:
    risk = churn_risk([contact(1, intents=("check_balance",)), contact(40, intents=("roaming",))], CATALOG, NOW)
    assert not risk.at_risk and risk.details == ()


def test_the_same_problem_in_three_contacts_within_a_month() -> None:
    history = [contact(d, intents=("internet_down", "greet")) for d in (1, 8, 20)]
    risk = churn_risk(history, CATALOG, NOW)
    assert risk.reasons == ("repeated_problem",)
    assert risk.details == ("internet_down in 3 contacts within 30 days",)
    assert not churn_risk([*history[:2], contact(45, intents=("internet_down",))], CATALOG, NOW).at_risk


def test_the_contact_being_handed_over_counts_for_the_repeated_problem_only() -> None:
    """The third report, not recorded yet when its handoff opens, is the third; merged into its own contact when
    an earlier turn of it is recorded; its anger and a wish to leave are that handoff's reasons, not a risk."""
    history = [contact(d, intents=("internet_down",)) for d in (1, 3)]
    now = ContactData("k-now", "c-00000000000000c1", "webchat", NOW, intents=("internet_down", "cancel_contract"))
    risk = churn_risk(history, CATALOG, NOW, in_progress=replace(now, signals=("anger",)))
    assert risk.reasons == ("repeated_problem",)
    assert risk.details == ("internet_down in 3 contacts within 30 days",)
    same_contact = replace(now, id="k-1")  # the conversation of yesterday goes on: still two contacts
    assert not churn_risk(history, CATALOG, NOW, in_progress=same_contact).at_risk


def test_a_recurring_problem_is_not_raised_twice_for_the_same_count() -> None:
    """The recurring rule escalated it for the problem coming back; the churn risk's repeated problem is that same
    fact, so only another reason (an unsolved handoff, anger, a wish to leave) raises the priority."""
    repeated = ChurnRisk(("repeated_problem",), ("internet_down in 3 contacts within 30 days",))
    assert raised_priority("p3", repeated, ["recurring"]) == "p3"
    assert raised_priority("p3", repeated, ["anger"]) == "p2"
    both = ChurnRisk(("repeated_problem", "unresolved_handoff"), ("...", "..."))
    assert raised_priority("p3", both, ["recurring"]) == "p2"


def test_anger_an_unsolved_handoff_and_a_wish_to_leave() -> None:
    history = [
        contact(2, signals=("anger",)),
        contact(3, handoff_id="h-1", handoff_outcome="unresolved"),
        contact(5, handoff_id="h-2"),  # never closed
        contact(60, intents=("cancel_contract",)),
    ]
    risk = churn_risk(history, CATALOG, NOW)
    assert risk.reasons == ("anger", "unresolved_handoff", "wants_to_leave")
    assert "2 handoff(s) without a solution" in risk.details[1]


def test_a_handoff_opened_today_and_one_resolved_are_not_unsolved() -> None:
    history = [contact(0.1, handoff_id="h-1"), contact(3, handoff_id="h-2", handoff_outcome="resolved")]
    assert not churn_risk(history, CATALOG, NOW).at_risk


@pytest.mark.parametrize(("priority", "raised"), [("p4", "p3"), ("p3", "p2"), ("p2", "p2"), ("p1", "p1")])
def test_at_risk_the_priority_is_one_step_more_urgent_never_p1(priority: str, raised: str) -> None:
    risk = ChurnRisk(("anger",), ("anger in 1 contact(s)",))
    assert raised_priority(priority, risk) == raised  # type: ignore[arg-type]
    assert raised_priority(priority, ChurnRisk()) == priority  # type: ignore[arg-type]
