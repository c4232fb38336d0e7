"""The operator side of a conversation, between the dispatcher, the operator API and the handoff store.

- ``open``: the summary (zabota/handoffs/summary.py) from the conversation's history, the triage's decision,
  the bot's marker and the customer's profile, into the store (zabota/handoffs/store.py), which queues it and
  tells the operators.
- ``customer_wrote``: while an operator holds the conversation, the customer's messages go to the operators'
  live channel instead of the bot.
- ``claim`` / ``reply`` / ``note`` / ``hand_back`` / ``close``: the operator's actions; the customer is told in
  their channel when a person joins, answers and leaves.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from gateway import texts
from gateway.conversation_state import ConversationState
from gateway.dispatch import OpenedHandoff
from gateway.inbox import HistoryEntry, InboundMessage, Inbox
from gateway.operator_auth import Operator
from gateway.outbound import CustomerChannels
from gateway.rasa_client import BotReply, RasaClient, RasaUnavailable
from gateway.surveys import SurveyDesk
from zabota import redis_keys
from zabota.catalog import Catalog, Priority
from zabota.channels.policy import ChannelPolicyConfig, ContactProfile, choose_channels, content_from_replies
from zabota.handoffs.sla import SlaPolicy
from zabota.handoffs.store import Handoff, HandoffStore
from zabota.handoffs.summary import CustomerInfo, IntentSeen, build_summary
from zabota.identity import CustomerDirectory
from zabota.language import Language
from zabota.records import ContactData, CustomerRecord, CustomerRecords
from zabota.records.churn import ChurnRisk, churn_risk
from zabota.records.known_data import known_data
from zabota.redaction import mask_for_log, redact
from zabota.tone import Tone
from zabota.triage.model import PRIORITY_ORDER, Reason, TriageDecision

log = structlog.get_logger(__name__)

# the customer's last contacts the churn rules read when a handoff opens
CHURN_HISTORY = 50


def new_handoff_id() -> str:
    return "h-" + secrets.token_hex(6)


def merge_marker(decision: TriageDecision, marker: Mapping[str, Any] | None, catalog: Catalog) -> TriageDecision:
    """The triage's decision, completed with what the bot decided on its own (a second unhelpful article, a
    flow that gave up): the more urgent priority of the two, the bot's reason added."""
    if marker is None:
        return decision
    marker_priority = marker.get("priority")
    priority: Priority | None = decision.priority
    if marker_priority in PRIORITY_ORDER and (
        priority is None or PRIORITY_ORDER[marker_priority] < PRIORITY_ORDER[priority]
    ):
        priority = marker_priority
    reasons = list(decision.reasons)
    bot_reason = str(marker.get("reason") or "")
    if not decision.escalate:
        # The triage found the message routine; the bot escalated on its own.
        reasons = [r for r in reasons if r.code != "routine"]
        code = (
            "kb_unhelpful" if bot_reason == "kb_unhelpful" else "low_confidence" if bot_reason == "fallback" else None
        )
        if code is not None:
            reasons.append(Reason(code, f"the bot handed over: {bot_reason}"))  # type: ignore[arg-type]
        else:
            reasons.append(
                Reason(
                    "sensitive_intent" if marker.get("sensitive") else "human_request",
                    f"the bot handed over: {bot_reason or 'escalation'}",
                )
            )
    marker_intent = str(marker.get("intent") or "")
    # The bot names the customer's problem (roaming, after two unhelpful articles) where the triage only knows
    # that a person is needed.
    if marker_intent and (not decision.escalate or decision.handoff_intent in (None, "request_human")):
        intent = marker_intent
    else:
        intent = decision.handoff_intent or decision.intent
    entry = catalog.intent(intent)
    return replace(
        decision,
        escalate=True,
        priority=priority or (entry.priority if entry and entry.priority else "p3"),
        sensitive=decision.sensitive or bool(marker.get("sensitive")),
        reasons=tuple(reasons),
        handoff_intent=intent,
    )


class HandoffDesk:
    def __init__(
        self,
        redis: Redis,
        rasa: RasaClient,
        store: HandoffStore,
        inbox: Inbox,
        customers: CustomerDirectory,
        channels: CustomerChannels,
        sla: SlaPolicy,
        catalog: Catalog,
        channel_policy: ChannelPolicyConfig,
        *,
        timezone: str,
        care_phone: str,
        records: CustomerRecords | None = None,
        surveys: SurveyDesk | None = None,
    ) -> None:
        self._redis = redis
        self._surveys = surveys
        self._rasa = rasa
        self.store = store
        self._inbox = inbox
        self._customers = customers
        self._channels = channels
        self._records = records
        self._sla = sla
        self._catalog = catalog
        self.channel_policy = channel_policy
        self._tz = ZoneInfo(timezone)
        self._care_phone = care_phone

    # --- the dispatcher's side ------------------------------------------------------------------------------
    async def active_for(self, customer_id: str) -> str | None:
        return await self.store.active_for_customer(customer_id)

    async def customer_wrote(self, handoff_id: str, message: InboundMessage) -> list[BotReply]:
        """Pass the message to the operators; returns what the customer is told (once per handoff, while nobody
        has answered yet: that the message went to the specialist), else nothing - the person answers."""
        entry = HistoryEntry(
            role="customer",
            message_id=message.message_id,
            timestamp=message.timestamp,
            channel=message.channel,
            lang=message.lang,
            text=message.text,  # redacted when it was stored
        )
        frame = {"type": "customer_message", "handoff_id": handoff_id, "entry": entry.model_dump(mode="json")}
        await self._redis.publish(redis_keys.OPERATOR_EVENTS, json.dumps(frame, ensure_ascii=False))
        handoff = await self.store.get(handoff_id)
        if handoff is None or handoff.first_reply_at is not None:
            return []
        first = await self._redis.set(
            redis_keys.handoff_wait_notice(handoff_id), "1", nx=True, ex=redis_keys.HANDOFF_WAIT_NOTICE_TTL_SECONDS
        )
        if not first:
            return []
        replies = [BotReply(text=texts.WITH_OPERATOR.say(message.lang, handoff.summary.tone))]
        await self._inbox.record_replies(message, replies, delayed=False)
        return replies

    async def open(
        self,
        message: InboundMessage,
        decision: TriageDecision,
        marker: Mapping[str, Any] | None,
        state: ConversationState,
        *,
        tone: Tone = "neutral",
        current: ContactData | None = None,
    ) -> OpenedHandoff:
        """``current``: what this turn adds to the customer's contact, not recorded yet (its churn risk counts)."""
        decision = merge_marker(decision, marker, self._catalog)
        profile = await self._customers.profile(message.conversation_id)
        now = time.time()
        record, churn = await self._recorded(message.conversation_id, now, current)
        contacts: dict[str, str] = {}
        # what the system of record knows fills what the channels did not tell: the operator never asks again
        known = known_data(profile, record)
        if known.phone:
            contacts["phone"] = known.phone
        if known.email:
            contacts["email"] = known.email
        if profile.telegram_chat_id is not None:
            contacts["telegram"] = "linked"
        customer = CustomerInfo(
            customer_id=message.conversation_id,
            name=profile.name or (record.name if record else None),
            segment=profile.segment or (record.segment if record else None),
            language=message.lang,
            channel=message.channel,
            contacts=contacts,
        )
        history = [entry.model_dump(mode="json") for entry in await self._inbox.history(message.conversation_id)]
        intents = [
            IntentSeen(str(item.get("name")), float(item.get("confidence") or 0.0), float(item.get("timestamp") or 0.0))
            for item in state.intents
        ]
        entities: dict[str, str] = {}
        if marker is not None and isinstance(marker.get("entities"), Mapping):
            entities = {str(k): str(v) for k, v in marker["entities"].items() if v is not None}
        if known.account_number and "account_number" not in entities:
            entities["account_number"] = known.account_number
        summary = build_summary(
            handoff_id=new_handoff_id(),
            customer=customer,
            decision=decision,
            history=history,
            intents_seen=intents,
            entities=entities,
            kb_events=list(state.kb_events),
            sla=self._sla,
            now=now,
            catalog=self._catalog,
            churn=churn,
            tone=tone,
        )
        handoff_id = await self.store.open(summary)
        existing = handoff_id != summary.handoff_id
        handoff = await self.store.get(handoff_id)
        priority = handoff.priority if handoff else summary.priority
        due_at = handoff.due_at if handoff else summary.due_at
        log.info(
            "handoff.requested_by_dispatch",
            handoff_id=handoff_id,
            priority=priority,
            existing=existing,
            reasons=[reason.code for reason in decision.reasons],
        )
        return OpenedHandoff(handoff_id, priority, due_at, existing)

    async def _recorded(
        self, customer_id: str, now: float, current: ContactData | None = None
    ) -> tuple[CustomerRecord | None, ChurnRisk]:
        """The customer's record and churn risk from the system of record and the contact in progress
        (``current``); neither when the records cannot be read (logged: the handoff itself must open)."""
        if self._records is None:
            return None, ChurnRisk()
        try:
            record = await self._records.get(customer_id)
            contacts = await self._records.recent_contacts(customer_id, limit=CHURN_HISTORY) if record else []
        except (SQLAlchemyError, OSError) as exc:
            log.error("records.churn_unavailable", customer=mask_for_log(customer_id), error=type(exc).__name__)
            return None, ChurnRisk()
        risk = churn_risk(contacts, self._catalog, datetime.fromtimestamp(now, UTC), in_progress=current)
        if risk.at_risk:
            log.info("handoff.churn_risk", customer=mask_for_log(customer_id), reasons=list(risk.reasons))
        return record, risk

    def notices(
        self, message: InboundMessage, decision: TriageDecision, opened: OpenedHandoff, tone: Tone = "neutral"
    ) -> list[BotReply]:
        """What the customer is told after the bot's own handoff text: when a person answers, and for urgent
        sensitive chat cases the phone line and a call-back (channel policy)."""
        lang: Language = message.lang
        replies: list[BotReply] = []
        if opened.existing:
            return replies
        if message.channel != "voice":
            minutes = max(1, round((opened.due_at - time.time()) / 60))
            due = datetime.fromtimestamp(opened.due_at, self._tz).strftime("%H:%M")
            replies.append(BotReply(text=texts.HANDOFF_ETA.say(lang, tone).format(minutes=minutes, due=due)))
        content = content_from_replies([], sensitive=decision.sensitive, priority=opened.priority)
        choices = choose_channels(message.channel, content, ContactProfile(), self.channel_policy)
        if any(choice.purpose == "callback_offer" for choice in choices):
            replies.append(BotReply(text=texts.CALLBACK_OFFER.say(lang, tone).format(phone=self._care_phone)))
        return replies

    # --- the operators' side --------------------------------------------------------------------------------
    async def claim(self, handoff_id: str, operator: Operator) -> Handoff:
        before = await self.store.get(handoff_id)
        handoff = await self.store.claim(handoff_id, operator.id, operator.role, operator_name=operator.name)
        # A repeated claim (a double click, a retried request) changes nothing: the customer hears it once.
        if before is None or before.state != "claimed" or before.assignee != operator.id:
            await self._tell_customer(handoff, texts.OPERATOR_JOINED, name=operator.name)
        return handoff

    async def reply(self, handoff_id: str, operator: Operator, text: str) -> tuple[Handoff, HistoryEntry]:
        stored = await self.store.record_reply(handoff_id, operator.id, text, role=operator.role)
        handoff = await self.store.get(handoff_id)
        if handoff is None:  # closed and expired in between: nothing left to deliver to
            raise LookupError(handoff_id)
        entry = HistoryEntry(
            role="operator",
            message_id="op-" + secrets.token_hex(8),
            timestamp=time.time(),
            channel=handoff.summary.channel,
            lang=handoff.summary.language,
            text=stored,
            author=operator.name,
        )
        await self._channels.deliver(handoff.customer_id, [entry])
        return handoff, entry

    async def note(self, handoff_id: str, operator: Operator, text: str) -> Handoff:
        return await self.store.add_note(handoff_id, operator.id, redact(text))

    async def hand_back(self, handoff_id: str, operator: Operator) -> Handoff:
        handoff = await self.store.hand_back(handoff_id, operator.id, operator.role)
        await self._resume_bot(handoff)
        await self._tell_customer(handoff, texts.HANDED_BACK)
        return handoff

    async def _resume_bot(self, handoff: Handoff) -> None:
        """The bot resumes with the context: what the operator said goes into its tracker, and its counters of
        unhelpful articles and misunderstood messages start again (the person dealt with those)."""
        events: list[dict[str, Any]] = [
            {"event": "bot", "text": entry.text, "timestamp": entry.at, "metadata": {"operator": entry.actor}}
            for entry in handoff.log
            if entry.action == "reply" and entry.text
        ]
        events += [
            {"event": "slot", "name": "kb_unhelpful", "value": 0.0},
            {"event": "slot", "name": "kb_misses", "value": 0.0},
        ]
        try:
            await self._rasa.append_events(handoff.customer_id, events)
        except RasaUnavailable as exc:
            # The conversation still goes back to the bot; it only lacks the operator's lines in its tracker.
            log.warning("handoff.resume_context_failed", handoff_id=handoff.handoff_id, reason=str(exc))

    async def close(self, handoff_id: str, operator: Operator, resolution: str | None) -> Handoff:
        handoff = await self.store.close(handoff_id, operator.id, operator.role, redact(resolution or ""))
        await self._tell_customer(handoff, texts.CLOSED)
        await self._survey_after(handoff)
        return handoff

    async def _survey_after(self, handoff: Handoff) -> None:
        """How did it go: the survey's first question after a closed handoff, never after a sensitive one (a
        person in crisis or defrauded is not asked for a score). Redis failing: logged, the close stands."""
        if self._surveys is None or handoff.summary.sensitive:
            return
        lang: Language = "en" if handoff.summary.language == "en" else "ru"
        # a call is over when its handoff closes: the question goes by SMS, which the answer comes back by
        channel = "sms" if handoff.summary.channel == "voice" else handoff.summary.channel
        try:
            question = await self._surveys.start_after_handoff(
                handoff.customer_id, handoff.handoff_id, channel, lang, handoff.summary.tone
            )
        except RedisError as exc:
            log.error("survey.unavailable", handoff_id=handoff.handoff_id, error=type(exc).__name__)
            return
        if question is None:
            return
        entry = HistoryEntry(
            role="bot",
            message_id="sv-" + secrets.token_hex(8),
            timestamp=time.time(),
            channel=channel,
            lang=lang,
            text=question.text,
            buttons=question.buttons,
        )
        await self._channels.deliver(handoff.customer_id, [entry], channel=channel)

    async def _tell_customer(self, handoff: Handoff, text: texts.Phrase, **values: str) -> None:
        """A status change said in the customer's channel, in the tone the handoff was opened in."""
        lang: Language = "en" if handoff.summary.language == "en" else "ru"
        entry = HistoryEntry(
            role="system",
            message_id="sys-" + secrets.token_hex(8),
            timestamp=time.time(),
            channel=handoff.summary.channel,
            lang=lang,
            text=text.say(lang, handoff.summary.tone).format(**values),
        )
        await self._channels.deliver(handoff.customer_id, [entry])
