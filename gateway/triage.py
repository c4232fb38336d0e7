"""The triage as the gateway runs it: Rasa's NLU, the text signals, the policy, the knowledge base and the
channel choice, put together for one message.

``TriageEngine.classify`` is what the live path runs before a message goes to the bot; ``dry_run`` is
``POST /api/v1/triage`` - the same classification and decision, plus the articles and reply channels, with
no side effects (nothing stored, no conversation touched).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import get_args

import structlog

from gateway.rasa_client import RasaClient
from kb_index.index import IndexError_
from kb_index.live import LiveRetriever
from kb_index.search import QueryError
from zabota.catalog import Catalog
from zabota.channels.policy import (
    ChannelChoice,
    ChannelPolicyConfig,
    ContactProfile,
    choose_channels,
    content_from_replies,
)
from zabota.identity import CustomerProfile, PreferredChannel
from zabota.records import CustomerRecord
from zabota.records.known_data import known_data
from zabota.triage import SignalDetector, TriagePolicy
from zabota.triage.clauses import clause_units
from zabota.triage.model import NluResult, TriageContext, TriageDecision

log = structlog.get_logger(__name__)

# Stands for the caller's number in a dry run of a voice message (only its presence matters to the policy).
CALLER_PLACEHOLDER = "caller"
# How many articles the dry run lists.
KB_SUGGESTIONS = 3


@dataclass(frozen=True)
class KbSuggestion:
    id: str
    title: str
    score: float
    url: str
    lang: str
    # Whether the score clears the knowledge base's no-answer threshold (the bot would answer with it).
    answers: bool


@dataclass(frozen=True)
class DryRun:
    nlu: NluResult
    decision: TriageDecision
    kb: list[KbSuggestion]
    reply_channels: list[ChannelChoice]


def contact_profile(
    profile: CustomerProfile | None, caller: str | None = None, record: CustomerRecord | None = None
) -> ContactProfile:
    """Where the channel policy can reach the customer; ``caller`` is the number a call comes from. The system
    of record fills what the channels have not told (an email or phone loaded from the company's CRM), and its
    preferred channel counts where the customer has not chosen one in a channel."""
    known = known_data(profile, record)
    choices = (profile.preferred_channel if profile else None, record.preferred_channel if record else None)
    preferred = next((choice for choice in choices if choice in get_args(PreferredChannel)), None)
    return ContactProfile(
        phone=caller or known.phone,
        email=known.email,
        telegram_chat_id=profile.telegram_chat_id if profile else None,
        preferred=preferred,
    )


class TriageEngine:
    def __init__(
        self,
        rasa: RasaClient,
        detector: SignalDetector,
        policy: TriagePolicy,
        catalog: Catalog,
        kb: LiveRetriever | None,
        channels: ChannelPolicyConfig,
    ) -> None:
        self._rasa = rasa
        self._detector = detector
        self._policy = policy
        self._catalog = catalog
        self._kb = kb
        self._channels = channels

    @property
    def problem_of(self) -> dict[str, str]:
        """intent -> the key of the problem it is one with, for counting the recurring rule's occasions."""
        return self._policy.problem_of

    async def warm_up(self) -> None:
        """Load the spaCy pipelines before the first customer waits for them."""
        await asyncio.to_thread(self._detector.detect, "проверка", "ru")
        await asyncio.to_thread(self._detector.detect, "check", "en")

    async def classify(self, text: str, lang: str, context: TriageContext) -> tuple[NluResult, TriageDecision]:
        """Raises ``RasaUnavailable`` when Rasa cannot classify (the caller parks the message)."""
        nlu = await self._rasa.parse(text)
        units = clause_units(text) if self._policy.config.read_clauses else []
        if units:
            # each clause alone as well (zabota/triage/clauses.py): a crisis folded into a routine question
            parsed = await asyncio.gather(*(self._rasa.parse(unit) for unit in units))
            nlu = replace(nlu, clauses=tuple((p.intent, p.confidence) for p in parsed))
        return nlu, await self.decide(text, lang, nlu, context)

    async def decide(self, text: str, lang: str, nlu: NluResult, context: TriageContext) -> TriageDecision:
        # spaCy is CPU work (a few ms): off the event loop so other customers' requests go on.
        signals = await asyncio.to_thread(self._detector.detect, text, lang)
        return self._policy.decide(text, lang, nlu, signals, context)

    async def dry_run(self, text: str, lang: str, context: TriageContext, profile: CustomerProfile | None) -> DryRun:
        nlu, decision = await self.classify(text, lang, context)
        kb = await self.suggest_articles(text, lang)
        entry = self._catalog.intent(decision.handoff_intent or decision.intent)
        content = content_from_replies(
            [],
            has_kb_article=any(hit.answers for hit in kb) and not decision.escalate,
            intent_handling=entry.handling if entry else None,
            sensitive=decision.sensitive,
            priority=decision.priority,
        )
        # A call always comes from a number: the SMS goes to the caller even when the customer is not known yet.
        caller = CALLER_PLACEHOLDER if context.channel == "voice" and not (profile and profile.phone) else None
        contacts = contact_profile(profile, caller)
        channels = choose_channels(context.channel, content, contacts, self._channels)
        return DryRun(nlu, decision, kb, channels)

    async def suggest_articles(self, text: str, lang: str) -> list[KbSuggestion]:
        if self._kb is None:
            return []
        kb = self._kb
        try:
            response = await asyncio.to_thread(lambda: kb.get().search(text, lang=lang, k=KB_SUGGESTIONS))
        except QueryError:
            return []
        except IndexError_ as exc:
            # The triage still answers without articles; the missing index is loud in the logs.
            log.error("kb.index_unavailable", error=str(exc))
            return []
        return [
            KbSuggestion(hit.id, hit.title, round(hit.score, 4), hit.url, hit.lang, hit.score >= response.threshold)
            for hit in response.hits
        ]
