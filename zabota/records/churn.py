"""Churn risk from a customer's contact history (plain rules): a customer whose history shows the same problem
again and again, anger, a handoff that did not end in a solution, or a stated wish to leave is at risk. The
flag raises a new handoff's priority one step (never to p1, which is for life and safety) and is shown to the
operator with its reasons.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from zabota.catalog import Catalog, Priority
from zabota.records.store import ContactData, ContactRecord

ChurnReason = Literal["repeated_problem", "anger", "unresolved_handoff", "wants_to_leave"]
CANCEL_INTENT = "cancel_contract"


@dataclass(frozen=True)
class ChurnRules:
    # the same problem intent in this many contacts within window_days
    repeated_contacts: int = 3
    window_days: int = 30
    # a stated wish to leave counts for longer: people decide slowly
    leaving_window_days: int = 90
    # a handoff still without an outcome after this long did not end in a solution
    open_handoff_days: int = 1


@dataclass(frozen=True)
class ChurnRisk:
    reasons: tuple[ChurnReason, ...] = ()
    # one line per reason for the operator, e.g. "internet_down in 3 contacts within 30 days"
    details: tuple[str, ...] = ()

    @property
    def at_risk(self) -> bool:
        return bool(self.reasons)


def churn_risk(
    contacts: Sequence[ContactRecord],
    catalog: Catalog,
    now: datetime,
    rules: ChurnRules | None = None,
    in_progress: ContactData | None = None,
) -> ChurnRisk:
    """``in_progress``: what the turn being handed over adds to its contact, not recorded yet. It counts for the
    repeated problem (the third report is the third); its anger and a wish to leave are the handoff's own
    reasons already, not a risk on top of them."""
    rules = rules or ChurnRules()
    window = now - timedelta(days=rules.window_days)
    recent = [c for c in contacts if c.started_at >= window]
    reasons: list[ChurnReason] = []
    details: list[str] = []

    intents_per_contact = {contact.id: set(contact.intents) for contact in recent}
    if in_progress is not None:
        intents_per_contact.setdefault(in_progress.id, set()).update(in_progress.intents)
    problems: Counter[str] = Counter()
    for intents in intents_per_contact.values():
        for intent in intents:
            entry = catalog.intent(intent)
            if (entry is not None and entry.handling in ("flow", "kb")) or intent == "complaint":
                problems[intent] += 1
    repeated = [(intent, n) for intent, n in problems.most_common() if n >= rules.repeated_contacts]
    if repeated:
        reasons.append("repeated_problem")
        intent, n = repeated[0]
        details.append(f"{intent} in {n} contacts within {rules.window_days} days")

    angry = [c for c in recent if "anger" in c.signals]
    if angry:
        reasons.append("anger")
        details.append(f"anger in {len(angry)} contact(s) within {rules.window_days} days")

    stale = now - timedelta(days=rules.open_handoff_days)
    unresolved = [
        c
        for c in recent
        if c.handoff_id
        and (c.handoff_outcome in ("unresolved", "abandoned") or (c.handoff_outcome is None and c.started_at < stale))
    ]
    if unresolved:
        reasons.append("unresolved_handoff")
        details.append(f"{len(unresolved)} handoff(s) without a solution within {rules.window_days} days")

    leaving_window = now - timedelta(days=rules.leaving_window_days)
    leaving = [
        c for c in contacts if c.started_at >= leaving_window and (CANCEL_INTENT in c.intents or "leaving" in c.signals)
    ]
    if leaving:
        reasons.append("wants_to_leave")
        details.append(f"said they want to leave, {len(leaving)} contact(s) within {rules.leaving_window_days} days")
    return ChurnRisk(tuple(reasons), tuple(details))


def raised_priority(priority: Priority, risk: ChurnRisk, escalated_for: Collection[str] = ()) -> Priority:
    """One step more urgent for a customer at risk, never to p1 (life and safety only). ``escalated_for``: the
    handoff's own reason codes; a problem that came back is the recurring rule's reason already (the same count),
    so it does not raise the priority a second time."""
    reasons = set(risk.reasons)
    if "recurring" in escalated_for:
        reasons.discard("repeated_problem")
    if not reasons:
        return priority
    order: tuple[Priority, ...] = ("p1", "p2", "p3", "p4")
    index = order.index(priority)
    return order[max(1, index - 1)] if index > 1 else priority
