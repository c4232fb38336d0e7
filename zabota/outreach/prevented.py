"""Contacts prevented by outreach (plain): of the customers an outreach message reached, those who did not write
in about it within the reply window (72 h). Writing in about it is a reply to the message (a yes to a security
check is not: it settles the question the service asked) or a contact whose intents are the trigger's ``about``
intents (zabota/outreach/rules.yml). A message whose window is still open is pending, not counted either way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from zabota.records.store import ContactRecord

OUTREACH_CHANNEL = "outreach"
SENT_FLOW = "outreach:"
REPLY_FLOW = "outreach_reply:"
WINDOW = timedelta(hours=72)


@dataclass
class TriggerCount:
    reached: int = 0
    wrote_in: int = 0
    prevented: int = 0
    pending: int = 0


@dataclass
class PreventedReport:
    reached: int = 0
    wrote_in: int = 0
    prevented: int = 0
    # sent less than the window ago: not counted yet
    pending: int = 0
    by_trigger: dict[str, TriggerCount] = field(default_factory=dict)

    @property
    def prevented_share(self) -> float | None:
        return self.prevented / self.reached if self.reached else None


def trigger_of(contact: ContactRecord) -> str | None:
    for flow in contact.flows:
        if flow.startswith(SENT_FLOW):
            return flow[len(SENT_FLOW) :]
    return None


def wrote_in_about(contact: ContactRecord, trigger: str, about: frozenset[str]) -> bool:
    return f"{REPLY_FLOW}{trigger}" in contact.flows or bool(about.intersection(contact.intents))


def contacts_prevented(
    contacts: Sequence[ContactRecord],
    about: Mapping[str, frozenset[str]],
    now: datetime,
    window: timedelta = WINDOW,
) -> PreventedReport:
    """``contacts``: the outreach contacts to report on and the same customers' other contacts from the first
    outreach on (any order)."""
    by_customer: dict[str, list[ContactRecord]] = defaultdict(list)
    sent: list[tuple[ContactRecord, str]] = []
    for contact in contacts:
        trigger = trigger_of(contact) if contact.channel == OUTREACH_CHANNEL else None
        if trigger is not None:
            sent.append((contact, trigger))
        elif contact.channel != OUTREACH_CHANNEL:
            by_customer[contact.customer_id].append(contact)
    report = PreventedReport()
    for outreach, trigger in sent:
        count = report.by_trigger.setdefault(trigger, TriggerCount())
        end = outreach.started_at + window
        wrote = any(
            outreach.started_at <= other.started_at <= end
            and wrote_in_about(other, trigger, about.get(trigger, frozenset()))
            for other in by_customer[outreach.customer_id]
        )
        if not wrote and end > now:
            report.pending += 1
            count.pending += 1
            continue
        report.reached += 1
        count.reached += 1
        if wrote:
            report.wrote_in += 1
            count.wrote_in += 1
        else:
            report.prevented += 1
            count.prevented += 1
    return report
