"""action_detect_language: the custom slot mapping of ``lang``, run by action_extract_slots on every user turn."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.tracker_data import LANG_SLOT, latest_text
from zabota.language import detect_language


class ActionDetectLanguage(Action):  # type: ignore[misc]  # rasa_sdk ships no type information
    def name(self) -> str:
        return "action_detect_language"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        previous = tracker.get_slot(LANG_SLOT)
        lang = detect_language(latest_text(tracker), previous if isinstance(previous, str) else None)
        return [SlotSet(LANG_SLOT, lang)]
