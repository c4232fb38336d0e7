"""What happens to one inbound message, whatever channel brought it.

1. Stored first (``Inbox.accept``): a failure here is the only way a message is refused, and the client is told.
2. Held by an operator? Then it goes to the operator (``HandoffDesk.customer_wrote``), not to the bot.
3. Otherwise Rasa classifies it, the triage decides (``TriageEngine``), and the message goes to the bot with the
   decision in its metadata (the bot escalates what the triage escalates: bot/components/triage_override.py).
4. The bot's replies are split: the markers for the gateway (zabota/markers.py) are taken out; a handoff (the
   bot's marker, or the triage's decision) is opened with its summary, and the customer is told when a person
   will answer.
5. Rasa down: the message is parked and replayed in order later (``Redeliverer``, through ``process``).

Channel adapters (webchat, Telegram, voice, SMS) call ``Dispatcher.handle`` and only translate its ``Outcome``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from gateway import texts
from gateway.conversation_state import LOW_CONFIDENCE, ConversationState, ConversationStateStore, advance
from gateway.inbox import InboundMessage, Inbox
from gateway.rasa_client import BotReply, RasaClient, RasaUnavailable
from gateway.surveys import SurveyDesk, SurveyTurn
from gateway.triage import TriageEngine
from zabota import markers, redis_keys
from zabota.catalog import Catalog
from zabota.events import Event, EventLog
from zabota.identity import CustomerDirectory
from zabota.outreach.replies import Answer, OutreachContext, confirm_answer
from zabota.records import ContactData, CustomerData, CustomerRecord, CustomerRecords, RecordError
from zabota.records.contact_log import (
    CONTACT_GAP_SECONDS,
    ContactPointer,
    contact_channel,
    current_contact,
    turn_contact,
)
from zabota.records.known_data import known_data
from zabota.records.opt_out import Consent, consent_channel, consent_request
from zabota.redaction import mask_for_log
from zabota.surveys.policy import TurnFacts
from zabota.tone import Tone, ToneChoice, ToneFacts, ToneRules, load_tone_rules
from zabota.triage.model import NluResult, Reason, TriageDecision

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class OpenedHandoff:
    handoff_id: str
    priority: str
    due_at: float
    # True when the customer already had an open handoff (the new reasons were added to it).
    existing: bool = False


@dataclass(frozen=True)
class Outcome:
    message: InboundMessage
    # What the customer is shown: the bot's replies without the markers, plus the gateway's notices.
    replies: list[BotReply]
    # False: the message is parked; its replies will reach the history after redelivery.
    delivered: bool
    # True: an operator holds the conversation; the message went to them and the bot said nothing.
    held: bool = False
    handoff: OpenedHandoff | None = None
    decision: TriageDecision | None = None
    # The articles the bot answered with ({"article", "title", "url", "lang"}).
    kb_articles: tuple[dict[str, Any], ...] = ()
    # The tone the turn was said in (zabota/tone): the channel's own notes on it (a delay, a copy) follow it.
    tone: Tone = "neutral"


@dataclass(frozen=True)
class BotTurn:
    """The bot's replies split into what the customer sees and what is meant for the gateway."""

    visible: list[BotReply]
    handoff: dict[str, Any] | None = None
    kb_articles: list[dict[str, Any]] = field(default_factory=list)


def split_markers(replies: Sequence[BotReply]) -> BotTurn:
    visible: list[BotReply] = []
    handoff: dict[str, Any] | None = None
    articles: list[dict[str, Any]] = []
    for reply in replies:
        custom = reply.custom
        if isinstance(custom, dict) and (markers.HANDOFF in custom or markers.KB_ARTICLE in custom):
            if isinstance(custom.get(markers.HANDOFF), dict):
                handoff = custom[markers.HANDOFF]
            if isinstance(custom.get(markers.KB_ARTICLE), dict):
                articles.append(custom[markers.KB_ARTICLE])
            rest = {k: v for k, v in custom.items() if k not in (markers.HANDOFF, markers.KB_ARTICLE)}
            if not (reply.text or reply.buttons or reply.image or rest):
                continue
            reply = reply.model_copy(update={"custom": rest or None})
        visible.append(reply)
    return BotTurn(visible, handoff, articles)


def offered_choices(replies: Sequence[BotReply]) -> bool:
    """The bot offered answers to choose from (its "did you mean" articles: buttons that send a title, not an
    intent payload like ``/affirm``)."""
    return any(button.payload and not button.payload.startswith("/") for reply in replies for button in reply.buttons)


# Escalation reasons the bot sees for itself (its own counters of unhelpful articles and misunderstood
# messages): it hands over with the customer's problem intent, so the triage does not override the intent.
BOT_OWN_REASONS = frozenset({"kb_unhelpful", "low_confidence"})


def triage_event(
    message: InboundMessage,
    nlu: NluResult,
    decision: TriageDecision,
    opened: OpenedHandoff | None,
    outreach: OutreachContext | None,
) -> Event:
    """What the leads' analytics keep of one triaged message: the intent and how sure, whether and why it went
    to a person, and whether it answered an outreach message."""
    return Event(
        "triage",
        message.timestamp,
        customer_id=message.conversation_id,
        channel=message.channel,
        lang=message.lang,
        ref=message.message_id,
        data={
            "intent": nlu.intent,
            "confidence": round(nlu.confidence, 4),
            "sensitive": decision.sensitive,
            "escalate": decision.escalate,
            "priority": decision.priority,
            "reasons": [reason.code for reason in decision.reasons],
            "handoff_id": opened.handoff_id if opened is not None else None,
            "outreach": outreach.trigger if outreach is not None else None,
        },
    )


def triage_metadata(nlu: NluResult, decision: TriageDecision) -> dict[str, Any]:
    """What Rasa gets in ``metadata.zabota_triage``: the decision, and the intent to act on when it escalates a
    message the classifier found routine for reasons the bot cannot see (a signal in the text, anger, a
    recurring problem, a request for a person the classifier missed)."""
    data: dict[str, Any] = {
        "escalate": decision.escalate,
        "priority": decision.priority,
        "sensitive": decision.sensitive,
        "reasons": [reason.code for reason in decision.reasons],
    }
    target = decision.handoff_intent
    codes = {reason.code for reason in decision.reasons}
    if decision.escalate and target and target != nlu.intent and not codes <= BOT_OWN_REASONS:
        data["override_intent"] = target
    return data


class OperatorSide(Protocol):
    """The operator side as the dispatcher sees it (gateway/handoff_desk.py)."""

    async def active_for(self, customer_id: str) -> str | None: ...

    async def customer_wrote(self, handoff_id: str, message: InboundMessage) -> list[BotReply]: ...

    async def open(
        self,
        message: InboundMessage,
        decision: TriageDecision,
        marker: Mapping[str, Any] | None,
        state: ConversationState,
        *,
        tone: Tone = "neutral",
        current: ContactData | None = None,
    ) -> OpenedHandoff: ...

    def notices(
        self, message: InboundMessage, decision: TriageDecision, opened: OpenedHandoff, tone: Tone = "neutral"
    ) -> list[BotReply]: ...


class OutreachReplies(Protocol):
    """The outreach side as the dispatcher sees it (zabota/outreach/queue.py): what the customer was last sent."""

    async def reply_context(self, customer_id: str) -> OutreachContext | None: ...

    async def question_answered(self, customer_id: str, context: OutreachContext) -> None: ...


def outreach_denied(decision: TriageDecision, context: OutreachContext) -> TriageDecision:
    """A "no" to a security check: a p1 handoff at once for the trigger's intent, whatever the NLU made of the
    word "нет"."""
    return replace(
        decision,
        sensitive=True,
        escalate=True,
        priority="p1",
        reasons=(Reason("outreach_denied", f"the customer answered no to the {context.trigger} check"),),
        handoff_intent=context.on_no or "fraud_report",
    )


class Dispatcher:
    def __init__(
        self,
        inbox: Inbox,
        rasa: RasaClient,
        engine: TriageEngine,
        states: ConversationStateStore,
        customers: CustomerDirectory,
        desk: OperatorSide,
        catalog: Catalog,
        records: CustomerRecords | None = None,
        tone_rules: ToneRules | None = None,
        project: str | None = None,
        outreach: OutreachReplies | None = None,
        events: EventLog | None = None,
        surveys: SurveyDesk | None = None,
    ) -> None:
        self._inbox = inbox
        self._rasa = rasa
        self._engine = engine
        self.states = states
        self._customers = customers
        self._desk = desk
        self._catalog = catalog
        self._records = records
        self._tone_rules = tone_rules or load_tone_rules()
        self._project = project
        self._outreach = outreach
        self._events = events
        self._surveys = surveys

    async def handle(
        self,
        *,
        channel: str,
        sender_id: str,
        text: str,
        metadata: Mapping[str, Any],
        customer_id: str | None = None,
    ) -> Outcome:
        """Raises ``RedisError`` when the message could not be stored (the caller must not drop it)."""
        message = await self._inbox.accept(
            channel=channel, sender_id=sender_id, text=text, metadata=metadata, conversation_id=customer_id
        )
        if await self._inbox.has_pending(message.conversation_id):
            # Earlier messages of this conversation are still waiting: queue behind them, keep the order.
            await self._park(message, reason="conversation has parked messages")
            return Outcome(
                message, [], delivered=False, tone=await self.tone_for(message.conversation_id, message.channel)
            )
        try:
            return await self.process(message)
        except RasaUnavailable as exc:
            log.warning("rasa.unavailable", reason=str(exc), message_id=message.message_id)
            await self._park(message, reason="rasa unavailable")
            return Outcome(
                message, [], delivered=False, tone=await self.tone_for(message.conversation_id, message.channel)
            )

    async def process(self, message: InboundMessage, *, delayed: bool = False) -> Outcome:
        """Everything after storing: operator or bot, triage, handoff, history. Raises ``RasaUnavailable``."""
        conv = message.conversation_id
        handoff_id = await self._desk.active_for(conv)
        if handoff_id is not None:
            notices = await self._desk.customer_wrote(handoff_id, message)
            log.info("dispatch.to_operator", message_id=message.message_id, handoff_id=handoff_id)
            return Outcome(message, notices, delivered=True, held=True)

        consent = consent_request(message.text) if self._records is not None else None
        if consent is not None:
            return await self._change_consent(message, consent, delayed=delayed)

        outreach, answer = await self._outreach_reply(message)
        if outreach is not None and answer == "yes":
            return await self._outreach_confirmed(message, outreach, delayed=delayed)

        survey = await self._survey_answer(message)
        if survey is not None:
            return await self._survey_answered(message, survey, delayed=delayed)

        now = time.time()
        state = await self.states.get(conv)
        pointer, _ = current_contact(
            conv, message.channel, now, ContactPointer.from_dict(state.contact), message.message_id
        )
        recent = await self._recent_problems(conv, pointer, now)
        nlu, decision = await self._engine.classify(message.text, message.lang, state.context(message.channel, recent))
        if outreach is not None and answer == "no":
            decision = outreach_denied(decision, outreach)
            log.info("outreach.denied", message_id=message.message_id, trigger=outreach.trigger)
        record = await self._recorded_customer(message)
        tone = self._tone(message.channel, decision.sensitive, record)
        known = known_data(await self._customers.profile(conv), record)
        metadata = {
            **message.rasa_metadata(),
            markers.TRIAGE_METADATA: triage_metadata(nlu, decision),
            markers.TONE_METADATA: {"tone": tone.tone, "why": tone.why, "name": tone.name},
        }
        if known.as_metadata():
            # what the bot's forms need not ask (actions/language.py fills the empty slots from it)
            metadata[markers.PROFILE_METADATA] = known.as_metadata()
        turn = split_markers(await self._rasa.send(conv, message.text, metadata))
        next_state = advance(state, nlu, decision, turn.kb_articles, now, answered=offered_choices(turn.visible))
        log.info(
            "triage.decided",
            message_id=message.message_id,
            conversation=mask_for_log(conv),
            channel=message.channel,
            intent=nlu.intent,
            confidence=round(nlu.confidence, 3),
            escalate=decision.escalate,
            priority=decision.priority,
            reasons=[reason.code for reason in decision.reasons],
            bot_handoff=turn.handoff is not None,
        )

        replies = list(turn.visible)
        feedback = nlu.intent == "affirm" if state.awaiting_kb_feedback and nlu.intent in ("affirm", "deny") else None
        contact = turn_contact(
            pointer,
            conv,
            started=now,
            intent=nlu.intent,
            catalog=self._catalog,
            articles=[str(a.get("article") or "") for a in turn.kb_articles],
            feedback=feedback,
            signals=[signal.kind for signal in decision.signals],
            flows=[outreach.reply_flow()] if outreach is not None else [],
        )
        opened: OpenedHandoff | None = None
        if turn.handoff is not None or decision.escalate:
            # Redis errors propagate: a handoff that could not be stored must not look opened. The churn risk
            # reads this contact too (it is recorded only after, with the handoff's id).
            opened = await self._desk.open(message, decision, turn.handoff, next_state, tone=tone.tone, current=contact)
            replies.extend(self._desk.notices(message, decision, opened, tone.tone))
            contact = replace(contact, handoff_id=opened.handoff_id, handoff_priority=opened.priority)
            next_state = replace(next_state, escalated_contact=pointer.contact_id)
        elif not decision.escalate and self._surveys is not None:
            question = await self._survey_offer(message, state, nlu.intent, feedback, pointer, tone.tone, now)
            if question is not None:
                replies.append(question)
        next_state = replace(next_state, contact=pointer.as_dict())
        await self._record_contact(message, contact, record)
        try:
            await self.states.save(conv, next_state)
            if self._events is not None:
                await self._events.emit(triage_event(message, nlu, decision, opened, outreach))
            entry = self._catalog.intent(nlu.intent)
            if entry is not None and entry.handling in ("flow", "kb", "escalate"):
                await self._customers.record_intent(conv, nlu.intent, message.message_id, now)
            await self._inbox.record_replies(message, replies, delayed=delayed)
        except RedisError as exc:
            # The customer still gets the replies in this response; only the stored history/state misses them.
            log.error("inbox.history_failed", message_id=message.message_id, error=type(exc).__name__)
        return Outcome(
            message,
            replies,
            delivered=True,
            handoff=opened,
            decision=decision,
            kb_articles=tuple(turn.kb_articles),
            tone=tone.tone,
        )

    async def _change_consent(self, message: InboundMessage, consent: Consent, *, delayed: bool) -> Outcome:
        """STOP / START as the whole message: the channel's consent in the system of record, confirmed to the
        customer; the bot does not see it (it is not a question)."""
        assert self._records is not None
        channel = consent_channel(message.channel)
        try:
            await self._records.upsert_customer(
                CustomerData(language=message.lang), customer_id=message.conversation_id
            )
            await self._records.set_opt_out(message.conversation_id, channel, consent == "opt_out", source="customer")
            tone = await self.tone_for(message.conversation_id, message.channel)
            text = (texts.OPTED_OUT if consent == "opt_out" else texts.OPTED_IN).say(message.lang, tone)
            log.info(
                "records.consent_by_customer",
                conversation=mask_for_log(message.conversation_id),
                channel=channel,
                consent=consent,
            )
        except (RecordError, SQLAlchemyError, OSError) as exc:
            log.error("records.consent_failed", message_id=message.message_id, error=type(exc).__name__)
            tone = self._tone(message.channel, False, None).tone
            text = texts.CONSENT_FAILED.say(message.lang, tone)
        replies = [BotReply(text=text)]
        try:
            await self._inbox.record_replies(message, replies, delayed=delayed)
        except RedisError as exc:
            log.error("inbox.history_failed", message_id=message.message_id, error=type(exc).__name__)
        return Outcome(message, replies, delivered=True, tone=tone)

    async def _outreach_reply(self, message: InboundMessage) -> tuple[OutreachContext | None, Answer | None]:
        """The outreach this message replies to (within the reply window) and, to an open confirm question, the
        yes or no it gives; the question is answered by this message either way. Redis down: no context (logged),
        the message goes to the bot as any other."""
        if self._outreach is None:
            return None, None
        try:
            context = await self._outreach.reply_context(message.conversation_id)
            if context is None:
                return None, None
            answer = confirm_answer(message.text) if context.awaiting_answer else None
            if context.awaiting_answer:
                await self._outreach.question_answered(message.conversation_id, context)
            if self._events is not None:
                await self._events.emit(
                    Event(
                        "outreach_answered",
                        message.timestamp,
                        customer_id=message.conversation_id,
                        channel=message.channel,
                        lang=message.lang,
                        ref=context.outreach_id,
                        data={"trigger": context.trigger, "answer": answer, "message_id": message.message_id},
                    )
                )
        except RedisError as exc:
            log.error("outreach.reply_unavailable", message_id=message.message_id, error=type(exc).__name__)
            return None, None
        return context, answer

    async def _outreach_confirmed(self, message: InboundMessage, context: OutreachContext, *, delayed: bool) -> Outcome:
        """A "yes" to a security check: settled, nobody needs to call; recorded as the reply it is."""
        log.info("outreach.confirmed", message_id=message.message_id, trigger=context.trigger)
        record = await self._recorded_customer(message)
        tone = self._tone(message.channel, False, record)
        replies = [BotReply(text=texts.OUTREACH_CONFIRMED.say(message.lang, tone.tone))]
        now = time.time()
        state = await self.states.get(message.conversation_id)
        pointer, _ = current_contact(
            message.conversation_id, message.channel, now, ContactPointer.from_dict(state.contact), message.message_id
        )
        await self._record_contact(
            message,
            ContactData(
                id=pointer.contact_id,
                customer_id=message.conversation_id,
                channel=pointer.channel,
                started_at=datetime.fromtimestamp(now, UTC),
                flows=(f"outreach_confirmed:{context.trigger}",),
            ),
            record,
        )
        try:
            await self.states.save(message.conversation_id, replace(state, contact=pointer.as_dict()))
            await self._inbox.record_replies(message, replies, delayed=delayed)
        except RedisError as exc:
            log.error("inbox.history_failed", message_id=message.message_id, error=type(exc).__name__)
        return Outcome(message, replies, delivered=True, tone=tone.tone)

    async def _survey_answer(self, message: InboundMessage) -> SurveyTurn | None:
        """The message as an answer to the customer's survey in progress (zabota/surveys); Redis down: not read
        as one (logged), the message goes to the bot as any other."""
        if self._surveys is None:
            return None
        try:
            return await self._surveys.answer(message)
        except RedisError as exc:
            log.error("survey.unavailable", message_id=message.message_id, error=type(exc).__name__)
            return None

    async def _survey_answered(self, message: InboundMessage, survey: SurveyTurn, *, delayed: bool) -> Outcome:
        """A score: the next question or thanks, and for a low one a p3 follow-up handoff with the comment."""
        opened: OpenedHandoff | None = None
        tone = await self.tone_for(message.conversation_id, message.channel)
        if survey.recovery is not None:
            state = await self.states.get(message.conversation_id)
            opened = await self._desk.open(message, survey.recovery, None, state, tone=tone)
            log.info("survey.recovery_opened", message_id=message.message_id, handoff_id=opened.handoff_id)
        try:
            await self._inbox.record_replies(message, survey.replies, delayed=delayed)
        except RedisError as exc:
            log.error("inbox.history_failed", message_id=message.message_id, error=type(exc).__name__)
        return Outcome(message, survey.replies, delivered=True, handoff=opened, decision=survey.recovery, tone=tone)

    async def _survey_offer(
        self,
        message: InboundMessage,
        state: ConversationState,
        intent: str,
        feedback: bool | None,
        pointer: ContactPointer,
        tone: Tone,
        now: float,
    ) -> BotReply | None:
        """The survey's first question when this turn closes a conversation the bot resolved; None otherwise
        (and when Redis fails: logged, the answer goes out without it)."""
        assert self._surveys is not None
        since = now - CONTACT_GAP_SECONDS
        answered = any(
            float(item.get("timestamp") or 0) >= since
            and float(item.get("confidence") or 0) >= LOW_CONFIDENCE
            and (entry := self._catalog.intent(str(item.get("name")))) is not None
            and entry.handling in ("kb", "flow")
            for item in state.intents
        )
        facts = TurnFacts(
            intent=intent,
            answered_before=answered,
            article_helped=feedback is True,
            handoff=state.escalated_contact == pointer.contact_id
            or await self._desk.active_for(message.conversation_id) is not None,
        )
        try:
            return await self._surveys.offer(message, facts, tone, pointer.contact_id)
        except RedisError as exc:
            log.error("survey.unavailable", message_id=message.message_id, error=type(exc).__name__)
            return None

    async def tone_for(self, conversation_id: str, channel: str) -> Tone:
        """The tone of a text said outside a bot turn (a parked message's "answer comes later", a linked phone
        number) from the customer's record and the channel; without the record when it cannot be read (logged)."""
        return self._tone(channel, False, await self._record_of(conversation_id)).tone

    async def _recorded_customer(self, message: InboundMessage) -> CustomerRecord | None:
        """The customer's row in the system of record, read once per turn (the tone and the contact use it)."""
        return await self._record_of(message.conversation_id, message.message_id)

    async def _record_of(self, conversation_id: str, message_id: str | None = None) -> CustomerRecord | None:
        """The customer's row; None when there is none yet or it cannot be read (logged)."""
        if self._records is None:
            return None
        try:
            return await self._records.get(conversation_id)
        except (SQLAlchemyError, OSError) as exc:
            log.error(
                "records.profile_unavailable",
                conversation=mask_for_log(conversation_id),
                message_id=message_id,
                error=type(exc).__name__,
            )
            return None

    def _tone(self, channel: str, sensitive: bool, record: CustomerRecord | None) -> ToneChoice:
        """The tone for this turn (zabota/tone/rules.yml) from the recorded profile, the channel and the triage;
        without a profile, from the channel and the triage alone."""
        facts = ToneFacts(
            channel=contact_channel(channel),
            sensitive=sensitive,
            segment=record.segment if record else None,
            age_band=record.age_band if record else None,
            project=self._project,
            known=record is not None and record.external_id is not None,
        )
        return self._tone_rules.choose(facts, name=record.name if record else None)

    async def _recent_problems(self, customer_id: str, pointer: ContactPointer, now: float) -> dict[str, int]:
        """intent -> earlier occasions within the recurring rule's week, for ``TriageContext.recent_intents``:
        the customer's earlier contacts in every channel from the system of record; the Redis window when the
        database cannot be read (logged)."""
        if self._records is not None:
            since = datetime.fromtimestamp(now - redis_keys.CUSTOMER_INTENTS_WINDOW_SECONDS, UTC)
            try:
                return await self._records.intent_occasions(
                    customer_id, since, exclude_contact=pointer.contact_id, problem_of=self._engine.problem_of
                )
            except (SQLAlchemyError, OSError) as exc:
                log.error("records.history_unavailable", customer=mask_for_log(customer_id), error=type(exc).__name__)
        return await self._customers.recent_intents(customer_id, now, self._engine.problem_of)

    async def _record_contact(
        self, message: InboundMessage, contact: ContactData, record: CustomerRecord | None
    ) -> None:
        """The turn into the system of record (the customer's row made on first sight, its language kept as the
        customer's latest). A database failure is logged loudly and does not hold the customer's answer back:
        the message and the replies are in the inbox and the history already."""
        if self._records is None:
            return
        try:
            if record is None or record.language != message.lang:
                await self._records.upsert_customer(
                    CustomerData(language=message.lang), customer_id=message.conversation_id
                )
            await self._records.record_contact(contact)
        except RecordError as exc:
            log.warning("records.contact_refused", message_id=message.message_id, field=exc.field, reason=exc.reason)
        except (SQLAlchemyError, OSError) as exc:
            log.error("records.contact_failed", message_id=message.message_id, error=type(exc).__name__)

    async def redeliver(self, message: InboundMessage) -> list[BotReply]:
        """``Redeliverer``'s process hook: a parked message through the whole pipeline."""
        return (await self.process(message, delayed=True)).replies

    async def _park(self, message: InboundMessage, *, reason: str) -> None:
        entry_id = await self._inbox.park(message)
        log.info(
            "inbox.parked",
            message_id=message.message_id,
            conversation=mask_for_log(message.conversation_id),
            entry_id=entry_id,
            reason=reason,
        )
