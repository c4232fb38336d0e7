"""The bot's handoff request: what the action server knows when it hands a conversation to a person (intent,
confidence, the catalog's priority, the reason, redacted entities and transcript).

Built from plain data (Rasa event dicts, catalog entries) so it is testable without a server. The action sends
it to the gateway as a marker (actions/escalate.py), and the gateway opens the handoff with the full summary
(zabota/handoffs/).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from zabota.catalog import Catalog, Priority
from zabota.redaction import redact

Role = Literal["customer", "bot"]

# Priority when the reason is not an escalate intent with its own priority in the catalog.
DEFAULT_PRIORITY: Priority = "p3"


@dataclass(frozen=True)
class TranscriptLine:
    role: Role
    text: str
    timestamp: float


@dataclass(frozen=True)
class HandoffRecord:
    conversation_id: str
    intent: str
    confidence: float
    priority: Priority
    language: str
    channel: str
    reason: str
    sensitive: bool
    transcript: list[TranscriptLine]
    entities: dict[str, str] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> HandoffRecord:
        data = json.loads(raw)
        data["transcript"] = [TranscriptLine(**line) for line in data["transcript"]]
        return cls(**data)


def transcript_from_events(events: Iterable[Mapping[str, Any]], limit: int = 50) -> list[TranscriptLine]:
    """Customer and bot lines of a Rasa tracker's events, oldest first, redacted, at most ``limit`` lines."""
    lines: list[TranscriptLine] = []
    for event in events:
        kind = event.get("event")
        text = event.get("text")
        if kind not in ("user", "bot") or not text:
            continue
        role: Role = "customer" if kind == "user" else "bot"
        lines.append(TranscriptLine(role=role, text=redact(str(text)), timestamp=float(event.get("timestamp") or 0)))
    return lines[-limit:]


def build_handoff(
    *,
    catalog: Catalog,
    conversation_id: str,
    intent: str,
    confidence: float,
    language: str,
    channel: str,
    events: Iterable[Mapping[str, Any]],
    reason: str | None = None,
    entities: Mapping[str, str] | None = None,
) -> HandoffRecord:
    entry = catalog.intent(intent)
    priority: Priority = entry.priority if entry is not None and entry.priority else DEFAULT_PRIORITY
    return HandoffRecord(
        conversation_id=conversation_id,
        intent=intent,
        confidence=round(float(confidence), 4),
        priority=priority,
        language=language,
        channel=channel,
        reason=reason or f"intent:{intent}",
        sensitive=bool(entry and entry.sensitive),
        transcript=transcript_from_events(events),
        entities={k: redact(v) for k, v in (entities or {}).items()},
    )
