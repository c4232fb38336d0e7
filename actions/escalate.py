"""action_escalate: hand the conversation to a person (the gateway opens the handoff from the marker below)."""

from __future__ import annotations

from typing import Any

import structlog
from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions.tracker_data import (
    FALLBACK_INTENT,
    HANDOFF_ENTITY_SLOTS,
    active_loop_name,
    conversation_language,
    events,
    has_response,
    input_channel,
    latest_intent,
    problem_intent,
    slot_text,
)
from zabota import markers
from zabota.catalog import load_catalog
from zabota.handoff_request import HandoffRecord, build_handoff
from zabota.redaction import mask_for_log

log = structlog.stdlib.get_logger(__name__)

GENERIC_RESPONSE = "utter_handoff"
FALLBACK_REASON = "fallback"


def handoff_response(record: HandoffRecord, domain: DomainDict) -> str:
    """``utter_handoff_<intent>`` where the domain has one (crisis, fraud_report...), else one for the reason
    (``utter_handoff_fallback``, ``utter_handoff_kb_unhelpful``) where the domain has it, else ``utter_handoff``."""
    candidates = [f"{GENERIC_RESPONSE}_{record.intent}", f"{GENERIC_RESPONSE}_{record.reason}"]
    return next((name for name in candidates if has_response(domain, name)), GENERIC_RESPONSE)


def handoff_from_tracker(tracker: Tracker, reason: str | None = None) -> HandoffRecord:
    """The handoff of this conversation. ``reason`` is given when another action decided the handoff (the
    knowledge base could not help); the customer's problem is then the intent before their "no", not the "no"."""
    intent, confidence = problem_intent(tracker) if reason else latest_intent(tracker)
    if reason is None and intent == FALLBACK_INTENT:
        reason = FALLBACK_REASON
    entities = {name: value for name in HANDOFF_ENTITY_SLOTS if (value := slot_text(tracker, name)) is not None}
    return build_handoff(
        catalog=load_catalog(),
        conversation_id=str(tracker.sender_id),
        intent=intent,
        confidence=confidence,
        language=conversation_language(tracker),
        channel=input_channel(tracker),
        events=events(tracker),
        reason=reason,
        entities=entities,
    )


# The custom payload (Rasa's json_message) that tells the gateway "the bot hands this conversation to a person".
# The gateway opens the handoff itself (zabota/handoffs): only it has what the summary needs (the customer's
# identity and channels across conversations, the history in every channel, the triage's reasons), and only it
# routes the customer's next messages to the operator. The marker never reaches the customer: the gateway strips
# it from the replies.
HANDOFF_MARKER = markers.HANDOFF


def handoff_marker(record: HandoffRecord) -> dict[str, Any]:
    return {
        HANDOFF_MARKER: {
            "intent": record.intent,
            "confidence": record.confidence,
            "priority": record.priority,
            "reason": record.reason,
            "sensitive": record.sensitive,
            "language": record.language,
            "entities": record.entities,  # already redacted by build_handoff
        }
    }


async def escalate(
    dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, reason: str | None = None
) -> list[dict[str, Any]]:
    """Hands the conversation to a person: the customer told what happens next, the gateway told to open the
    handoff (``HANDOFF_MARKER``), any active form stopped. ``action_escalate`` runs it, and so do actions that
    decide a handoff themselves (actions/kb.py), so every handoff is made the same way."""
    record = handoff_from_tracker(tracker, reason)
    response = handoff_response(record, domain)
    # The intent's own response first: it carries what the customer must do now (112 and the helpline for
    # crisis, the number that blocks a SIM for lost_device and fraud_report).
    dispatcher.utter_message(response=response)
    dispatcher.utter_message(json_message=handoff_marker(record))
    log.info(
        "handoff.requested",
        conversation=mask_for_log(record.conversation_id),
        intent=record.intent,
        confidence=record.confidence,
        priority=record.priority,
        reason=record.reason,
        sensitive=record.sensitive,
        language=record.language,
        channel=record.channel,
        entities=sorted(record.entities),  # names only: the values are personal data
        response=response,
    )

    if active_loop_name(tracker) is None:
        return []
    # A person takes over: the form the customer was in must not ask its next question.
    return [ActiveLoop(None), SlotSet(REQUESTED_SLOT, None)]


class ActionEscalate(Action):  # type: ignore[misc]  # rasa_sdk ships no type information
    def name(self) -> str:
        return "action_escalate"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        return await escalate(dispatcher, tracker, domain)
