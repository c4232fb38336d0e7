"""Surveys in the customer's channel (zabota/surveys): the question after a conversation the bot resolved or a
handoff closed, with buttons in the webchat and Telegram and digits elsewhere, and the answers, read before the
bot sees the message. A low score opens a p3 "service recovery" handoff with the customer's comment."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import cast

import structlog

from gateway.inbox import InboundMessage
from gateway.rasa_client import BotReply, Button
from zabota.events import Event
from zabota.language import Language
from zabota.surveys.policy import Survey, Trigger, TurnFacts, needs_recovery, new_survey, offer_after_turn
from zabota.surveys.questions import (
    RECOVERY,
    SCALES,
    THANKS,
    Metric,
    button_payload,
    is_score_button,
    question,
    read_answer,
)
from zabota.surveys.store import SurveyStore
from zabota.tone import Tone
from zabota.triage.model import Reason, TriageDecision

log = structlog.get_logger(__name__)

# channels that show buttons; the others read the scale from the question and answer in digits or words
BUTTON_CHANNELS = frozenset({"webchat", "telegram"})


@dataclass(frozen=True)
class SurveyTurn:
    """What an answer gives: the replies (the next question, or thanks) and, for a low score, the decision that
    opens the service-recovery handoff."""

    replies: list[BotReply]
    recovery: TriageDecision | None = None


def question_reply(metric: Metric, channel: str, lang: Language, tone: Tone) -> BotReply:
    """The question, marked as the survey's (``custom``): a call speaks it whole after the answer, and it is
    not copied to other channels with the answer's instructions."""
    low, high = SCALES[metric]
    text = question(metric, lang, "neutral" if channel == "voice" else tone)
    marker = {"survey": metric}
    if channel not in BUTTON_CHANNELS:
        return BotReply(text=text, custom=marker)
    buttons = [Button(title=str(score), payload=button_payload(score)) for score in range(low, high + 1)]
    return BotReply(text=text, buttons=buttons, custom=marker)


def is_survey_question(reply: BotReply) -> bool:
    return isinstance(reply.custom, dict) and "survey" in reply.custom


class SurveyDesk:
    def __init__(self, store: SurveyStore) -> None:
        self.store = store

    async def offer(self, message: InboundMessage, facts: TurnFacts, tone: Tone, contact_id: str) -> BotReply | None:
        """The first question, when the turn closes a conversation the bot resolved (and the throttles allow)."""
        conv = message.conversation_id
        last = await self.store.last_ref(conv)
        facts = TurnFacts(
            intent=facts.intent,
            answered_before=facts.answered_before,
            article_helped=facts.article_helped,
            handoff=facts.handoff,
            sensitive=facts.sensitive,
            surveyed_this_contact=last == contact_id,
            surveyed_recently=last is not None,
            survey_in_progress=await self.store.in_progress(conv) is not None,
        )
        if not offer_after_turn(facts):
            return None
        return await self._start(conv, "resolved", contact_id, message.channel, message.lang, tone)

    async def start_after_handoff(
        self, customer_id: str, handoff_id: str, channel: str, lang: Language, tone: Tone
    ) -> BotReply | None:
        """The first question after a handoff was closed (not a sensitive one: the caller checks), unless the
        customer was surveyed within the throttle's days."""
        if await self.store.last_ref(customer_id) is not None:
            return None
        return await self._start(customer_id, "handoff_closed", handoff_id, channel, lang, tone)

    async def _start(
        self, customer_id: str, trigger: Trigger, ref: str, channel: str, lang: Language, tone: Tone
    ) -> BotReply:
        now = time.time()
        survey = new_survey(trigger, ref, channel, lang, tone, now, nps_due=await self.store.nps_due(customer_id))
        event = Event(
            "survey_sent",
            now,
            customer_id=customer_id,
            channel=channel,
            lang=lang,
            ref=survey.survey_id,
            data={"trigger": trigger, "about": ref, "metric": survey.asked},
        )
        await self.store.start(customer_id, survey, event)
        log.info("survey.started", survey_id=survey.survey_id, trigger=trigger, channel=channel)
        return question_reply(survey.asked, channel, lang, tone)

    async def answer(self, message: InboundMessage) -> SurveyTurn | None:
        """The message as an answer to the survey in progress; None when there is none or the message is not a
        score on its scale (it goes to the bot; the survey waits, answers are accepted late)."""
        conv = message.conversation_id
        survey = await self.store.in_progress(conv)
        if survey is None:
            if is_score_button(message.text):
                # a button pressed after the answer window: thanked, not sent to the bot as a riddle
                log.info("survey.late_press", message_id=message.message_id)
                return SurveyTurn([BotReply(text=THANKS["neutral"]["en" if message.lang == "en" else "ru"])])
            return None
        read = read_answer(message.text, survey.asked)
        if read is None:
            return None
        metric = survey.asked
        answered = survey.answered(metric, read.score, read.comment)
        recovery = needs_recovery(metric, read.score)
        events = [
            Event(
                "survey_answer",
                message.timestamp,
                customer_id=conv,
                channel=message.channel,
                lang=message.lang,
                ref=survey.survey_id,
                data={
                    "metric": metric,
                    "score": read.score,
                    "comment": read.comment,
                    "trigger": survey.trigger,
                    "about": survey.ref,
                    "late_s": round(message.timestamp - survey.started_at, 1),
                    "recovery": recovery,
                },
            )
        ]
        tone = _tone(survey)
        lang: Language = "en" if message.lang == "en" else "ru"
        following = None if recovery else answered.next_metric()
        if following is None:
            await self.store.advance(conv, None, events)
            log.info("survey.answered", survey_id=survey.survey_id, metric=metric, last=True, recovery=recovery)
            text = (RECOVERY if recovery else THANKS)[tone][lang]
            decision = _recovery_decision(metric, read.score, read.comment) if recovery else None
            return SurveyTurn([BotReply(text=text)], decision)
        asked = replace(answered, asked=following)
        await self.store.advance(conv, asked, events)
        log.info("survey.answered", survey_id=survey.survey_id, metric=metric, last=False)
        return SurveyTurn([question_reply(following, message.channel, lang, tone)])


def _tone(survey: Survey) -> Tone:
    return cast(Tone, survey.tone) if survey.tone in ("formal", "friendly", "neutral") else "neutral"


def _recovery_decision(metric: Metric, score: int, comment: str | None) -> TriageDecision:
    """A p3 follow-up for a person: the customer was not happy with how it went."""
    detail = f"{metric.upper()} {score}" + (f": «{comment}»" if comment else "")
    return TriageDecision(
        intent="complaint",
        confidence=1.0,
        sensitive=False,
        escalate=True,
        priority="p3",
        reasons=(Reason("service_recovery", detail),),
        handoff_intent="complaint",
    )
