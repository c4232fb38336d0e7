"""Plain values read from a rasa_sdk tracker: the only place that knows the shape of Rasa's tracker data."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from rasa_sdk import Tracker

from zabota.language import DEFAULT_LANGUAGE, SUPPORTED, Language

LANG_SLOT = "lang"
FALLBACK_INTENT = "nlu_fallback"
UNKNOWN_CHANNEL = "unknown"
# Slots whose values an operator needs in a handoff, in the order they are shown.
HANDOFF_ENTITY_SLOTS = ("account_number", "phone", "order_id", "amount", "date", "address")


def as_text(value: Any) -> str | None:
    """A slot or entity value as text: the last item of a list, numbers as written, nothing for blanks."""
    if isinstance(value, list):
        texts = [text for text in (as_text(item) for item in value) if text is not None]
        return texts[-1] if texts else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def latest_message(tracker: Tracker) -> Mapping[str, Any]:
    message = tracker.latest_message
    return message if isinstance(message, Mapping) else {}


def latest_text(tracker: Tracker) -> str:
    """The latest user text; empty for none and for Rasa's intent payloads (``/affirm``), which are not words."""
    text = latest_message(tracker).get("text")
    if not isinstance(text, str) or text.startswith("/"):
        return ""
    return text


def latest_intent(tracker: Tracker) -> tuple[str, float]:
    """Name and confidence of the latest message's intent; ``nlu_fallback`` with 0 when there is none."""
    intent = latest_message(tracker).get("intent")
    if not isinstance(intent, Mapping) or not isinstance(intent.get("name"), str) or not intent["name"]:
        return FALLBACK_INTENT, 0.0
    confidence = intent.get("confidence")
    return str(intent["name"]), float(confidence) if isinstance(confidence, int | float) else 0.0


def intent_ranking(tracker: Tracker) -> list[tuple[str, float]]:
    """The NLU's ranking of the latest message as (intent, confidence), best first, as Rasa gave it."""
    ranking = latest_message(tracker).get("intent_ranking")
    out: list[tuple[str, float]] = []
    for entry in ranking if isinstance(ranking, list) else []:
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            confidence = entry.get("confidence")
            out.append((entry["name"], float(confidence) if isinstance(confidence, int | float) else 0.0))
    return out


# Replies that answer the bot's question rather than say what the customer needs.
REPLY_INTENTS = frozenset({"affirm", "deny", "thank", "greet", "goodbye", FALLBACK_INTENT})


def problem_intent(tracker: Tracker) -> tuple[str, float]:
    """The intent of the customer's latest message that says what they need (not a yes/no to the bot's
    question); the latest intent when there is none."""
    for event in reversed(events(tracker)):
        if event.get("event") != "user":
            continue
        parse = event.get("parse_data")
        intent = parse.get("intent") if isinstance(parse, Mapping) else None
        name = intent.get("name") if isinstance(intent, Mapping) else None
        if isinstance(name, str) and name and name not in REPLY_INTENTS:
            confidence = intent.get("confidence") if isinstance(intent, Mapping) else None
            return name, float(confidence) if isinstance(confidence, int | float) else 0.0
    return latest_intent(tracker)


def slot_text(tracker: Tracker, name: str) -> str | None:
    return as_text(tracker.get_slot(name))


def conversation_language(tracker: Tracker) -> Language:
    lang = tracker.get_slot(LANG_SLOT)
    for supported in SUPPORTED:
        if lang == supported:
            return supported
    return DEFAULT_LANGUAGE


def input_channel(tracker: Tracker) -> str:
    """The channel of the latest message: the gateway's metadata first, then Rasa's input channel."""
    metadata = latest_message(tracker).get("metadata")
    if isinstance(metadata, Mapping):
        channel = as_text(metadata.get("channel"))
        if channel:
            return channel
    return as_text(tracker.get_latest_input_channel()) or UNKNOWN_CHANNEL


def events(tracker: Tracker) -> list[Mapping[str, Any]]:
    return [event for event in tracker.events or [] if isinstance(event, Mapping)]


def active_loop_name(tracker: Tracker) -> str | None:
    loop = tracker.active_loop
    return as_text(loop.get("name")) if isinstance(loop, Mapping) else None


def has_response(domain: Mapping[str, Any], name: str) -> bool:
    responses = domain.get("responses")
    return isinstance(responses, Mapping) and name in responses
