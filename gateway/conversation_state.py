"""What the triage remembers about a conversation between turns, and how one turn changes it.

The rules "two low-confidence turns in a row" and "the article did not help twice" need the previous turns;
the handoff summary needs the intents seen and what the bot tried. ``ConversationState`` holds exactly that,
``advance`` computes the next state from one turn (a pure function), and ``ConversationStateStore`` keeps it
in one Redis hash per conversation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from redis.asyncio import Redis

from zabota import redis_keys
from zabota.triage.model import NluResult, TriageContext, TriageDecision

# Below this confidence a turn counts as not understood (the same as the triage's own threshold by default).
LOW_CONFIDENCE = 0.5
FALLBACK_INTENT = "nlu_fallback"
# The summary shows this many of the latest intents and knowledge-base events.
MAX_INTENTS = 10
MAX_KB_EVENTS = 20


@dataclass(frozen=True)
class ConversationState:
    low_confidence_streak: int = 0
    awaiting_kb_feedback: bool = False
    kb_unhelpful: int = 0
    # [{"name", "confidence", "timestamp"}], oldest first
    intents: tuple[dict[str, Any], ...] = ()
    # What the bot tried from the knowledge base, oldest first, as the summary reads it
    # (zabota/handoffs/summary.py): {"event": "answer", "article", "title", "timestamp"} and
    # {"event": "feedback", "article", "helpful", "timestamp"}.
    kb_events: tuple[dict[str, Any], ...] = ()
    # The contact of the system of record this conversation's messages go to now
    # (zabota/records/contact_log.py ContactPointer.as_dict), None before the first
    contact: dict[str, Any] | None = None
    # The contact in which a handoff was last opened: a conversation a person took (a sensitive case, a
    # complex one) is not the bot's to survey as resolved (zabota/surveys/policy.py)
    escalated_contact: str | None = None

    def last_article(self) -> str | None:
        answers = [event for event in self.kb_events if event.get("event") == "answer"]
        return str(answers[-1].get("article")) if answers else None

    def context(self, channel: str, recent_intents: Mapping[str, int]) -> TriageContext:
        return TriageContext(
            channel=channel,
            low_confidence_streak=self.low_confidence_streak,
            kb_unhelpful=self.kb_unhelpful,
            recent_intents=dict(recent_intents),
            awaiting_kb_feedback=self.awaiting_kb_feedback,
        )


# The NLU's entities that are a datum the bot's forms ask for (bot/domain.yml's entities).
DATUM_ENTITIES = frozenset({"account_number", "phone", "order_id", "amount", "date", "address"})


def advance(
    state: ConversationState,
    nlu: NluResult,
    decision: TriageDecision,
    kb_articles: Sequence[Mapping[str, Any]],
    now: float,
    *,
    low_confidence: float = LOW_CONFIDENCE,
    answered: bool = False,
) -> ConversationState:
    """The state after one turn: the NLU result, the triage's decision and the articles the bot showed.

    A turn is understood when the NLU was sure of it, when the bot answered it all the same (an article, or
    articles offered to choose from: ``answered``), or when it gave a datum the NLU found (an order number, a
    phone, an amount: what the bot's forms ask for; «ZB-5530872» alone is an answer, not a riddle). A customer
    whose question the bot answered is not handed to a person for "two misunderstood turns" when they then say
    «спасибо» in a way the NLU is unsure of."""
    gave_datum = any(str(entity.get("entity")) in DATUM_ENTITIES for entity in nlu.entities)
    understood = (
        (nlu.intent != FALLBACK_INTENT and nlu.confidence >= low_confidence)
        or answered
        or bool(kb_articles)
        or gave_datum
    )
    kb_events = list(state.kb_events)
    unhelpful = state.kb_unhelpful
    if state.awaiting_kb_feedback and nlu.intent in ("affirm", "deny"):
        helpful = nlu.intent == "affirm"
        unhelpful = 0 if helpful else unhelpful + 1
        kb_events.append(
            {"event": "feedback", "article": state.last_article() or "", "helpful": helpful, "timestamp": now}
        )
    for article in kb_articles:
        kb_events.append(
            {
                "event": "answer",
                "article": str(article.get("article") or ""),
                "title": str(article.get("title") or ""),
                "timestamp": now,
            }
        )
    intents = [*state.intents, {"name": nlu.intent, "confidence": round(nlu.confidence, 4), "timestamp": now}]
    return replace(
        state,
        low_confidence_streak=0 if understood else state.low_confidence_streak + 1,
        awaiting_kb_feedback=bool(kb_articles),
        # A handoff starts the count again: after the operator hands back, old misses are not held against
        # the bot's next answers.
        kb_unhelpful=0 if decision.escalate else unhelpful,
        intents=tuple(intents[-MAX_INTENTS:]),
        kb_events=tuple(kb_events[-MAX_KB_EVENTS:]),
    )


class ConversationStateStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def get(self, conversation_id: str) -> ConversationState:
        raw = await self._redis.get(redis_keys.conversation_triage(conversation_id))
        if raw is None:
            return ConversationState()
        try:
            data = json.loads(raw)
            return ConversationState(
                low_confidence_streak=int(data.get("low_confidence_streak", 0)),
                awaiting_kb_feedback=bool(data.get("awaiting_kb_feedback", False)),
                kb_unhelpful=int(data.get("kb_unhelpful", 0)),
                intents=tuple(data.get("intents") or ()),
                kb_events=tuple(data.get("kb_events") or ()),
                contact=data.get("contact") if isinstance(data.get("contact"), dict) else None,
                escalated_contact=data.get("escalated_contact")
                if isinstance(data.get("escalated_contact"), str)
                else None,
            )
        except (ValueError, TypeError, AttributeError):
            # Written by another version: start afresh rather than fail the customer's message.
            return ConversationState()

    async def save(self, conversation_id: str, state: ConversationState) -> None:
        await self._redis.set(
            redis_keys.conversation_triage(conversation_id),
            json.dumps(asdict(state), ensure_ascii=False),
            ex=redis_keys.CONVERSATION_HISTORY_TTL_SECONDS,
        )
