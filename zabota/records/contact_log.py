"""Which contact a message belongs to, and what one bot turn adds to it (plain; the gateway's dispatcher writes
it with ``CustomerRecords.record_contact``).

A contact is one conversation in one channel: it goes on while the customer keeps writing in that channel and
ends after ``CONTACT_GAP_SECONDS`` of silence, or when they write in another channel (a call after a chat is
a second contact, which is what a care team counts).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from zabota.catalog import Catalog
from zabota.records.store import CONTACT_CHANNELS, ContactData

# a pause this long (30 minutes) ends a contact: the next message starts another
CONTACT_GAP_SECONDS = 30 * 60
FALLBACK_INTENT = "nlu_fallback"


@dataclass(frozen=True)
class ContactPointer:
    """The conversation's current contact, kept with the triage state between turns."""

    contact_id: str
    channel: str
    last_at: float

    def as_dict(self) -> dict[str, Any]:
        return {"contact_id": self.contact_id, "channel": self.channel, "last_at": self.last_at}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> ContactPointer | None:
        if not raw or not isinstance(raw.get("contact_id"), str) or not isinstance(raw.get("channel"), str):
            return None
        try:
            return cls(raw["contact_id"], raw["channel"], float(raw.get("last_at", 0.0)))
        except (TypeError, ValueError):
            return None


def contact_channel(channel: str) -> str:
    """The channel as the system of record names it (the gateway's names are the same; anything else is
    recorded as the webchat it came through)."""
    return channel if channel in CONTACT_CHANNELS else "webchat"


def current_contact(
    customer_id: str, channel: str, now: float, pointer: ContactPointer | None, message_id: str
) -> tuple[ContactPointer, bool]:
    """The contact this message belongs to (and whether it starts a new one)."""
    channel = contact_channel(channel)
    if pointer is not None and pointer.channel == channel and now - pointer.last_at < CONTACT_GAP_SECONDS:
        return ContactPointer(pointer.contact_id, channel, now), False
    # stable for the message: a redelivered message lands in the same contact
    digest = hashlib.sha256(f"{customer_id}|{message_id}".encode()).hexdigest()[:16]
    return ContactPointer(f"k-{digest}", channel, now), True


def turn_contact(
    pointer: ContactPointer,
    customer_id: str,
    *,
    started: float,
    intent: str,
    catalog: Catalog,
    articles: Sequence[str] = (),
    feedback: bool | None = None,
    handoff_id: str | None = None,
    handoff_priority: str | None = None,
    signals: Sequence[str] = (),
    flows: Sequence[str] = (),
) -> ContactData:
    """What one turn adds to its contact: the intent (not the fallback), a flow when the intent is one, the
    articles shown, the answer to «помогло?», the handoff opened, and ``flows`` of the gateway's own (a reply to an
    outreach message)."""
    entry = catalog.intent(intent)
    return ContactData(
        id=pointer.contact_id,
        customer_id=customer_id,
        channel=pointer.channel,
        started_at=datetime.fromtimestamp(started, UTC),
        intents=(intent,) if intent != FALLBACK_INTENT else (),
        flows=((intent,) if entry is not None and entry.handling == "flow" else ()) + tuple(flows),
        articles=tuple(a for a in articles if a),
        feedback=None if feedback is None else ("helpful" if feedback else "unhelpful"),
        handoff_id=handoff_id,
        handoff_priority=handoff_priority,
        signals=tuple(dict.fromkeys(signals)),
    )
