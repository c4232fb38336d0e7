"""One event: what happened, when, to whom, in which channel, and its own data (plain JSON, already redacted:
the parts that emit events hold redacted texts only)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

EventKind = Literal[
    "message_in",  # a customer's message (redacted text, its length)
    "message_out",  # a line to the customer: the bot's, an operator's, or the gateway's own (role in data)
    "triage",  # the triage's decision on a message: intent, confidence, escalate, priority, reasons
    "kb_answer",  # an article shown (article, score)
    "kb_miss",  # a question no article answered (its redacted words, for the knowledge base's gaps)
    "kb_choices",  # articles offered to choose from ("did you mean")
    "kb_feedback",  # "did it help?" answered (article, helpful)
    "handoff_opened",
    "handoff_claimed",
    "handoff_first_reply",  # the first operator reply of a handoff
    "handoff_handed_back",
    "handoff_closed",
    "handoff_sla_missed",  # nobody answered by the handoff's due time
    "outreach_sent",
    "outreach_answered",
    "survey_sent",
    "survey_answer",
]
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)
# A stream entry or a row larger than this is not an event of ours (a runaway text): refused, not stored.
MAX_DATA_CHARS = 8_000


def new_event_id() -> str:
    """``e-`` + 16 hex: given when the event happens, so a replay of it is recognised (idempotent)."""
    return "e-" + secrets.token_hex(8)


@dataclass(frozen=True)
class Event:
    kind: EventKind
    at: float  # Unix time of when it happened
    customer_id: str | None = None
    channel: str | None = None
    lang: str | None = None
    # the handoff, message, article or outreach the event is about, when it is about one
    ref: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_event_id)

    def to_fields(self) -> dict[str, str]:
        """The stream entry: flat strings, empty for None."""
        return {
            "id": self.id,
            "kind": self.kind,
            "at": repr(self.at),
            "customer": self.customer_id or "",
            "channel": self.channel or "",
            "lang": self.lang or "",
            "ref": self.ref or "",
            "data": json.dumps(dict(self.data), ensure_ascii=False, separators=(",", ":")),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Event:
        """The inverse of ``to_fields``; ``ValueError`` for an entry that is not an event."""
        kind = fields.get("kind", "")
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        raw = fields.get("data") or "{}"
        if len(raw) > MAX_DATA_CHARS:
            raise ValueError(f"event data over {MAX_DATA_CHARS} characters")
        try:
            data = json.loads(raw)
            at = float(fields["at"])
        except (KeyError, ValueError) as error:
            raise ValueError(f"not an event: {error}") from error
        if not isinstance(data, dict):
            raise ValueError("event data is not an object")
        event_id = fields.get("id", "")
        if not event_id.startswith("e-") or len(event_id) > 40:
            raise ValueError(f"bad event id {event_id!r}")
        return cls(
            kind=cast(EventKind, kind),
            at=at,
            customer_id=fields.get("customer") or None,
            channel=fields.get("channel") or None,
            lang=fields.get("lang") or None,
            ref=fields.get("ref") or None,
            data=data,
            id=event_id,
        )
