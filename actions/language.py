"""action_detect_language: the custom slot mapping of ``lang``, ``tone`` and the customer slots, run by
action_extract_slots on every user turn.

Besides the language it carries the gateway's metadata of the turn into slots: the tone to speak in
(``zabota_tone``), which the responses' conditional variations read, and what the company's records know of the
customer (``zabota_profile``). Rasa 3.6's ActionExtractSlots keeps every SlotSet a custom mapping action returns,
not only those of the slots whose mapping names the action (rasa/core/actions/action.py, ``_run_custom_action``),
so ``phone`` and ``account_number`` keep their own mappings and need no custom one (tests/bot/test_tone.py runs
this action inside Rasa's ActionExtractSlots).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import structlog
from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions.tracker_data import LANG_SLOT, active_loop_name, as_text, latest_intent, latest_message, latest_text
from zabota import markers
from zabota.entity_values import find_address, find_amount, find_date, normalize_amount
from zabota.language import detect_language

log = structlog.stdlib.get_logger(__name__)

TONES = ("formal", "friendly", "neutral")
TONE_SLOT = "tone"
NAME_SLOT = "customer_name"
NAMED_SLOT = "named"
ACCOUNT_KNOWN_SLOT = "account_known"
# Profile fields (markers.PROFILE_METADATA) copied into the slots of the same name while those are empty.
PROFILE_SLOTS = ("phone", "account_number")
ADDRESS_SLOT = "address"
PAYMENT_INTENT = "payment_missing"
PAYMENT_FORM = "payment_missing_form"


def gateway_metadata(tracker: Tracker, key: str) -> Mapping[str, Any] | None:
    """The mapping the gateway sent under ``key`` with the latest message; None when there is none."""
    metadata = latest_message(tracker).get("metadata")
    value = metadata.get(key) if isinstance(metadata, Mapping) else None
    return value if isinstance(value, Mapping) else None


def tone_events(tone: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The tone and the name to address the customer by. Without the gateway's tone (``rasa shell``, the test
    stories) the slots stay as they are; so they do with a tone the domain has no variants for."""
    if tone is None:
        return []
    if tone.get("tone") not in TONES:
        log.warning("tone.metadata_invalid")  # not the payload: it carries the customer's name
        return []
    # the gateway already chose the name for the tone (none for neutral, the first name for friendly)
    name = as_text(tone.get("name"))
    return [SlotSet(TONE_SLOT, tone["tone"]), SlotSet(NAME_SLOT, name), SlotSet(NAMED_SLOT, name is not None)]


def entity_slots(tracker: Tracker) -> set[str]:
    """The slots the latest message's entities fill (the slots are named as their entities)."""
    entities = latest_message(tracker).get("entities")
    return {str(e["entity"]) for e in entities or [] if isinstance(e, Mapping) and e.get("entity")}


def asked_slot(tracker: Tracker) -> str | None:
    """The slot an active form asked for, which the latest message answers."""
    requested = tracker.get_slot(REQUESTED_SLOT)
    return requested if active_loop_name(tracker) and isinstance(requested, str) else None


def said_now(tracker: Tracker) -> set[str]:
    """Slots the latest message itself fills: its entities and the slot an active form asked for. The customer's
    own words win over the records, so the profile leaves these alone."""
    asked = asked_slot(tracker)
    return entity_slots(tracker) | ({asked} if asked else set())


def profile_events(tracker: Tracker, profile: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """``account_known`` on every turn (the gateway sends the profile whenever it knows the customer), and the
    profile's phone and account number into the slots that are still empty: never over what the customer said."""
    record = profile or {}
    events = [SlotSet(ACCOUNT_KNOWN_SLOT, as_text(record.get("account_number")) is not None)]
    said = said_now(tracker)
    filled: list[str] = []
    for slot in PROFILE_SLOTS:
        value = as_text(record.get(slot))
        if value is not None and tracker.get_slot(slot) is None and slot not in said:
            events.append(SlotSet(slot, value))
            filled.append(slot)
    if filled:
        log.info("profile.slots_filled", slots=filled)  # the names only: the values are personal data
    return events


# An answer to the form's own question may be the value and nothing else, in words too («тысячу двести
# рублей»), which the finders (a value inside a longer question) do not look for.
WHOLE_ANSWER_READERS: dict[str, Callable[[str], str | None]] = {"amount": normalize_amount}


def from_text_refuses(domain: DomainDict, slot: str, intent: str | None) -> bool:
    """Whether the slot's from_text mapping (bot/domain.yml) leaves a message of ``intent`` alone (its
    ``not_intent``): then a form's question answered so is not filled by Rasa."""
    mappings = (domain.get("slots", {}).get(slot) or {}).get("mappings") or []
    return any(m.get("type") == "from_text" and intent in (m.get("not_intent") or []) for m in mappings)


def text_value_events(tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
    """The values the message that asks the question already holds, into their empty slots, so the form does not
    ask for them: an address («есть авария на Гагарина 15?») whatever the question, the date and amount of a
    missing payment («оплатила 12 марта 2300 рублей») in that case only (a date or a sum means something else
    elsewhere). The NLU's entities and a form's own question come first (``said_now``); but where the form's
    from_text mapping leaves the answer alone because of its intent («тысячу двести рублей» said on a call, read
    as out of scope), the finder reads it: it takes only what is plainly the value (a sum, a date, an address
    with a house number)."""
    intent, _ = latest_intent(tracker)
    said = said_now(tracker)
    asked = asked_slot(tracker)
    if asked is not None and asked not in entity_slots(tracker) and from_text_refuses(domain, asked, intent):
        said.discard(asked)
    text = latest_text(tracker)
    payment = intent == PAYMENT_INTENT or active_loop_name(tracker) == PAYMENT_FORM
    finders: list[tuple[str, Callable[[str], str | None]]] = [(ADDRESS_SLOT, find_address)]
    if payment:
        finders += [("date", find_date), ("amount", find_amount)]
    events: list[dict[str, Any]] = []
    for slot, find in finders:
        if tracker.get_slot(slot) is not None or slot in said:
            continue
        found = find(text)
        if found is None and slot == asked and slot in WHOLE_ANSWER_READERS:
            found = WHOLE_ANSWER_READERS[slot](text)
        if found is not None:
            events.append(SlotSet(slot, found))
    if events:
        log.info("slots.found_in_text", slots=[event["name"] for event in events])  # not the values: personal data
    return events


class ActionDetectLanguage(Action):  # type: ignore[misc]  # rasa_sdk ships no type information
    def name(self) -> str:
        return "action_detect_language"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        previous = tracker.get_slot(LANG_SLOT)
        lang = detect_language(latest_text(tracker), previous if isinstance(previous, str) else None)
        return [
            SlotSet(LANG_SLOT, lang),
            *tone_events(gateway_metadata(tracker, markers.TONE_METADATA)),
            *profile_events(tracker, gateway_metadata(tracker, markers.PROFILE_METADATA)),
            *text_value_events(tracker, domain),
        ]
