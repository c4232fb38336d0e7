"""Knowledge-base actions: answer from the FAISS index with the article as the source, ask whether it helped,
and hand the customer to a person when the knowledge base cannot help (``kb_index.answering``): two unhelpful
answers or two answerless questions in a row run the same escalation as ``action_escalate``, reason
``kb_unhelpful``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog
from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

from actions.escalate import escalate
from actions.settings import get_kb, get_redis
from actions.tracker_data import (
    FALLBACK_INTENT,
    conversation_language,
    intent_ranking,
    latest_intent,
    latest_message,
    latest_text,
    slot_text,
)
from kb_index.answering import ESCALATION_REASON, KbChoice, KbCounters, choose_article, steps_text
from kb_index.directory import load_directory, topic_for_intent
from kb_index.index import IndexError_
from kb_index.search import QueryError
from zabota import markers, redis_keys
from zabota.catalog import Catalog, load_catalog
from zabota.events import Event, EventKind, queue_event
from zabota.intent_did_you_mean import IntentDidYouMean, offerable_topic
from zabota.language import Language
from zabota.redaction import mask_for_log

log = structlog.stdlib.get_logger(__name__)

# Slots (bot/domain.yml) that carry the knowledge-base state between turns.
ARTICLE_SLOT = "kb_article"
UNHELPFUL_SLOT = "kb_unhelpful"
MISSES_SLOT = "kb_misses"

# The custom payload (Rasa's json_message) that tells the gateway which article was shown: the channel policy
# sends steps and links by SMS during a call, and the handoff summary lists what the bot tried. The gateway
# strips it from the replies the customer sees.
KB_MARKER = markers.KB_ARTICLE
# two close knowledge-base intents are offered as buttons (zabota/intent_did_you_mean.py has the measurement)
INTENT_DID_YOU_MEAN = IntentDidYouMean()


def kb_marker(article: str, title: str, url: str, lang: str) -> dict[str, Any]:
    return {KB_MARKER: {"article": article, "title": title, "url": url, "lang": lang}}


def counters(tracker: Tracker) -> KbCounters:
    def number(name: str) -> int:
        value = tracker.get_slot(name)
        return int(value) if isinstance(value, int | float) else 0

    return KbCounters(number(UNHELPFUL_SLOT), number(MISSES_SLOT))


def counter_events(state: KbCounters) -> list[dict[str, Any]]:
    return [
        SlotSet(UNHELPFUL_SLOT, float(state.unhelpful_in_a_row)),
        SlotSet(MISSES_SLOT, float(state.misses_in_a_row)),
    ]


async def hand_over(
    dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, state: KbCounters
) -> list[dict[str, Any]]:
    """The knowledge base cannot help: the foundation's escalation (``actions.escalate``), reason kb_unhelpful."""
    log.info("kb.escalated", unhelpful=state.unhelpful_in_a_row, misses=state.misses_in_a_row)
    events = await escalate(dispatcher, tracker, domain, reason=ESCALATION_REASON)
    return [*counter_events(KbCounters()), SlotSet(ARTICLE_SLOT, None), *events]


# The knowledge base's stream entries as the leads' events (zabota/events).
KB_EVENT_KINDS: dict[str, EventKind] = {
    "answer": "kb_answer",
    "miss": "kb_miss",
    "did_you_mean": "kb_choices",
    "feedback": "kb_feedback",
}
# A question no article answered, in its (redacted) words: the leads group these into the knowledge base's gaps.
MISS_TEXT_CHARS = 500


async def record_event(tracker: Tracker, fields: dict[str, str]) -> None:
    """Appends to the knowledge-base event stream and, in the same transaction, the leads' event stream. A Redis
    failure is logged, not raised: the customer's answer does not depend on it, and the conversation itself is
    stored by Rasa's tracker store."""
    at = time.time()
    message = latest_message(tracker)
    raw_metadata = message.get("metadata")
    metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
    data: dict[str, Any] = {k: v for k, v in fields.items() if k not in ("kind", "conversation", "lang", "article")}
    data["message_id"] = metadata.get("message_id")
    if fields["kind"] == "miss":
        data["text"] = str(message.get("text") or "")[:MISS_TEXT_CHARS]  # the gateway sent it redacted
    event = Event(
        KB_EVENT_KINDS[fields["kind"]],
        at,
        customer_id=str(tracker.sender_id),
        channel=str(metadata.get("channel") or "") or None,
        lang=fields.get("lang"),
        ref=fields.get("article") or None,
        data=data,
    )
    try:
        entry: dict[FieldT, EncodableT] = {"at": f"{at:.3f}"}
        entry.update(fields)
        async with get_redis().pipeline(transaction=True) as pipe:
            pipe.xadd(
                redis_keys.KB_EVENTS_STREAM,
                entry,
                maxlen=redis_keys.KB_EVENTS_STREAM_MAXLEN,
                approximate=True,
            )
            queue_event(pipe, event)
            await pipe.execute()
    except (RedisError, OSError) as error:
        log.error("kb.event_store_failed", error=type(error).__name__, kind=fields.get("kind"))


def _search(text: str, lang: Language, topic: str | None) -> KbChoice:
    """The article for ``text``; raises ``IndexError_`` when the index cannot be used (the caller logs it)."""
    retriever = get_kb().get()
    return choose_article(retriever.search(text, lang=lang, k=5), topic)


class ActionAnswerFromKb(Action):  # type: ignore[misc]  # rasa_sdk ships no type information
    def name(self) -> str:
        return "action_answer_from_kb"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        intent, confidence = latest_intent(tracker)
        lang = conversation_language(tracker)
        text = latest_text(tracker)
        catalog = load_catalog()
        titled = load_directory().topic_of_title(text) if text else None
        if titled is None:
            close = _close_intents(tracker, intent, catalog)
            if close is not None:
                return await self._offer_intents(dispatcher, tracker, intent, lang, close, catalog)
        # a pressed "did you mean" button sends the article's title: that article, whatever the NLU made of it
        topic = titled or topic_for_intent(catalog, intent, text)
        conversation = mask_for_log(str(tracker.sender_id))
        choice: KbChoice | None = None
        try:
            # the search embeds the query (CPU, ~10-50 ms): off the event loop so other conversations go on
            choice = await asyncio.to_thread(_search, text, lang, topic) if text else KbChoice(None, "none")
        except QueryError as error:
            log.info("kb.query_rejected", reason=str(error), intent=intent)
            choice = KbChoice(None, "none")
        except IndexError_ as error:
            log.error("kb.index_unavailable", error=str(error), intent=intent)

        if choice is None:
            # The index is missing or broken: the catalog still names the intent's article, so the customer gets
            # its title and link rather than nothing. Loud in the logs (above), not silent.
            directory = load_directory()
            if topic is not None and topic in directory:
                article = directory.article(topic, lang)
                dispatcher.utter_message(response="utter_kb_link", title=article.title, url=article.url)
                dispatcher.utter_message(json_message=kb_marker(topic, article.title, article.url, lang))
                dispatcher.utter_message(response="utter_ask_helpful")
                return [SlotSet(ARTICLE_SLOT, topic)]
            choice = KbChoice(None, "none")

        if choice.options:
            return await self._offer(dispatcher, tracker, intent, lang, choice)
        state = counters(tracker).after_answer(choice.hit is not None)
        if choice.hit is None:
            log.info("kb.not_found", intent=intent, confidence=confidence, lang=lang, conversation=conversation)
            await record_event(
                tracker, {"kind": "miss", "conversation": str(tracker.sender_id), "intent": intent, "lang": lang}
            )
            if state.escalate:
                return await hand_over(dispatcher, tracker, domain, state)
            # a low-confidence message was not understood at all: ask to rephrase rather than "no article"
            dispatcher.utter_message(
                response="utter_please_rephrase" if intent == FALLBACK_INTENT else "utter_kb_not_found"
            )
            return [SlotSet(ARTICLE_SLOT, None), *counter_events(state)]

        hit = choice.hit
        log.info("kb.answered", intent=intent, topic=hit.id, source=choice.source, score=hit.score, lang=lang)
        await record_event(
            tracker,
            {
                "kind": "answer",
                "conversation": str(tracker.sender_id),
                "intent": intent,
                "article": hit.id,
                "lang": hit.lang,
                "score": f"{hit.score:.4f}",
                "source": choice.source,
            },
        )
        dispatcher.utter_message(
            response="utter_kb_answer", title=hit.title, steps=steps_text(hit.snippet), url=hit.url
        )
        dispatcher.utter_message(json_message=kb_marker(hit.id, hit.title, hit.url, hit.lang))
        dispatcher.utter_message(response="utter_ask_helpful")
        return [SlotSet(ARTICLE_SLOT, hit.id), *counter_events(state)]

    @staticmethod
    async def _offer(
        dispatcher: CollectingDispatcher, tracker: Tracker, intent: str, lang: Language, choice: KbChoice
    ) -> list[dict[str, Any]]:
        """Two articles the search cannot tell apart: both as buttons rather than a guess."""
        log.info(
            "kb.did_you_mean",
            intent=intent,
            topics=[hit.id for hit in choice.options],
            scores=[round(h.score, 4) for h in choice.options],
        )
        return await _offer_articles(
            dispatcher, tracker, intent, lang, [(h.id, h.title) for h in choice.options], "search"
        )

    @staticmethod
    async def _offer_intents(
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        intent: str,
        lang: Language,
        close: tuple[str, str],
        catalog: Catalog,
    ) -> list[dict[str, Any]]:
        """Two intents the NLU cannot tell apart: their articles as buttons rather than a guess."""
        directory = load_directory()
        options = []
        for name in close:
            topic = offerable_topic(catalog, name)
            if topic is not None and topic in directory:
                options.append((topic, directory.article(topic, lang).title))
        log.info("kb.did_you_mean_intents", intent=intent, intents=list(close), topics=[t for t, _ in options])
        return await _offer_articles(dispatcher, tracker, intent, lang, options, "intent")


def _close_intents(tracker: Tracker, intent: str, catalog: Catalog) -> tuple[str, str] | None:
    """The two knowledge-base intents the NLU could not tell apart, when the message's intent is still the
    NLU's own (the triage's override or a fallback below the threshold leaves the ranking as it was)."""
    ranking = intent_ranking(tracker)
    own = [name for name, _ in ranking if name != FALLBACK_INTENT]
    if not own or (intent != FALLBACK_INTENT and intent != own[0]):
        return None
    return INTENT_DID_YOU_MEAN.choose(ranking, catalog)


async def _offer_articles(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    intent: str,
    lang: Language,
    options: list[tuple[str, str]],
    by: str,
) -> list[dict[str, Any]]:
    """(article, title) options as buttons. A button sends the article's title as the customer's next message,
    which opens that very article (``TopicDirectory.topic_of_title``)."""
    await record_event(
        tracker,
        {
            "kind": "did_you_mean",
            "conversation": str(tracker.sender_id),
            "intent": intent,
            "articles": ",".join(topic for topic, _ in options),
            "lang": lang,
            "by": by,
        },
    )
    buttons = [{"title": title, "payload": title} for _, title in options]
    dispatcher.utter_message(response="utter_kb_did_you_mean", buttons=buttons)
    # neither a miss nor an answer: the counters stay, and no article waits for «помогло?»
    return [SlotSet(ARTICLE_SLOT, None)]


class ActionKbFeedback(Action):  # type: ignore[misc]  # rasa_sdk ships no type information
    """The customer's answer to «Помогло?»: recorded; two «нет» in a row hand over to a person."""

    def name(self) -> str:
        return "action_kb_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        intent, _ = latest_intent(tracker)
        helpful = intent == "affirm"
        article = slot_text(tracker, ARTICLE_SLOT) or ""
        await record_event(
            tracker,
            {
                "kind": "feedback",
                "conversation": str(tracker.sender_id),
                "article": article,
                "helpful": "yes" if helpful else "no",
                "lang": conversation_language(tracker),
            },
        )
        state = counters(tracker).after_feedback(helpful)
        log.info("kb.feedback", article=article, helpful=helpful, unhelpful_in_a_row=state.unhelpful_in_a_row)
        if state.escalate:
            return await hand_over(dispatcher, tracker, domain, state)
        dispatcher.utter_message(response="utter_kb_helped" if helpful else "utter_kb_not_helped")
        return counter_events(state)
