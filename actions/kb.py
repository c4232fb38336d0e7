"""action_answer_from_kb: answer with the knowledge-base article of the latest intent, then ask if it helped."""

from __future__ import annotations

from typing import Any

import structlog
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.tracker_data import conversation_language, latest_intent, latest_text
from kb_index.directory import load_directory, topic_for_intent
from zabota.catalog import load_catalog

log = structlog.stdlib.get_logger(__name__)


class ActionAnswerFromKb(Action):  # type: ignore[misc]  # rasa_sdk ships no type information
    def name(self) -> str:
        return "action_answer_from_kb"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        intent, _ = latest_intent(tracker)
        lang = conversation_language(tracker)
        topic = topic_for_intent(load_catalog(), intent, latest_text(tracker))
        directory = load_directory()
        if topic is None or topic not in directory:
            if topic is not None:
                log.error("kb.topic_unknown", topic=topic, intent=intent)
            log.info("kb.not_found", intent=intent, lang=lang)
            dispatcher.utter_message(response="utter_kb_not_found")
            return []
        article = directory.article(topic, lang)
        log.info("kb.answered", intent=intent, topic=topic, lang=lang)
        dispatcher.utter_message(response="utter_kb_answer", title=article.title, url=article.url)
        dispatcher.utter_message(response="utter_ask_helpful")
        return []
