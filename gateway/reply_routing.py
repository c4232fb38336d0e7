"""Where a bot answer goes besides the channel the customer wrote in (the channel policy of
zabota/channels/policy.py, with its reasons): during a call the instructions go by SMS (or Telegram when linked
and preferred); documents and long texts go by email when the customer has an address on file.

Used by the dispatcher's callers after the bot answered: the voice endpoint, and the chat channels (webchat,
Telegram, SMS), where a note in the reply says what was sent where.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from gateway.dispatch import Outcome
from gateway.inbox import Inbox
from gateway.outbound import CustomerChannels, Sent, reply_text
from gateway.rasa_client import BotReply
from gateway.surveys import is_survey_question
from gateway.texts import COPY_PLACES, COPY_SENT
from gateway.triage import contact_profile
from zabota.catalog import Catalog
from zabota.channels.policy import ChannelChoice, ChannelPolicyConfig, choose_channels, content_from_replies
from zabota.identity import CustomerDirectory
from zabota.language import Language
from zabota.records import CustomerRecord, CustomerRecords
from zabota.redaction import mask_for_log
from zabota.tone import Tone

log = structlog.get_logger(__name__)

# Purposes of a choice that are not a message to send now: the answer in the inbound channel itself, and the
# call-back offer (said in the answer by the handoff desk).
NOT_SENT = frozenset({"reply", "callback_offer"})


@dataclass(frozen=True)
class Routed:
    choices: list[ChannelChoice]
    sent: list[Sent] = field(default_factory=list)

    @property
    def sent_channels(self) -> list[str]:
        return [item.channel for item in self.sent]


def subject_for(lang: str) -> str:
    return "Your answer from Zabota customer care" if lang == "en" else "Ответ службы заботы"


class ReplyRouter:
    def __init__(
        self,
        channels: CustomerChannels,
        customers: CustomerDirectory,
        inbox: Inbox,
        catalog: Catalog,
        policy: ChannelPolicyConfig,
        records: CustomerRecords | None = None,
    ) -> None:
        self._channels = channels
        self._records = records
        self._inbox = inbox
        self._customers = customers
        self._catalog = catalog
        self._policy = policy

    async def route(self, outcome: Outcome, *, caller: str | None = None) -> Routed:
        """Choose the channels for the bot's answer in ``outcome`` and send it to each one besides the inbound."""
        if not outcome.delivered or outcome.held or outcome.handoff is not None or not outcome.replies:
            return Routed([])
        message = outcome.message
        # the survey's question stays in the channel it was asked in
        texts = [reply_text(reply) for reply in outcome.replies if not is_survey_question(reply)]
        decision = outcome.decision
        entry = self._catalog.intent(decision.intent) if decision else None
        content = content_from_replies(
            texts, has_kb_article=bool(outcome.kb_articles), intent_handling=entry.handling if entry else None
        )
        profile = await self._customers.profile(message.conversation_id)
        contact = contact_profile(profile, caller, await self._record(message.conversation_id))
        choices = choose_channels(message.channel, content, contact, self._policy)
        full_text = "\n\n".join(text for text in texts if text)
        sent: list[Sent] = []
        for choice in choices:
            if choice.purpose in NOT_SENT or choice.channel == message.channel:
                continue
            item: Sent | None = None
            if choice.channel == "sms":
                item = await self._channels.send_sms(contact.phone, full_text) if contact.phone else None
            elif choice.channel == "telegram" and contact.telegram_chat_id is not None:
                item = await self._channels.send_telegram(contact.telegram_chat_id, full_text)
            elif choice.channel == "email" and contact.email:
                item = await self._channels.send_email(contact.email, subject_for(message.lang), full_text)
            if item is not None:
                sent.append(item)
        if sent or len(choices) > 1:
            log.info(
                "reply.routed",
                message_id=message.message_id,
                inbound=message.channel,
                sent=[item.channel for item in sent],
                reasons=[choice.reason for choice in choices],
            )
        return Routed(choices, sent)

    async def _record(self, customer_id: str) -> CustomerRecord | None:
        """The customer's row in the system of record (its email and phones reach them too); None when there
        is none or it cannot be read (logged: the answer still goes where the channels' profile says)."""
        if self._records is None:
            return None
        try:
            return await self._records.get(customer_id)
        except (SQLAlchemyError, OSError) as exc:
            log.error("records.profile_unavailable", customer=mask_for_log(customer_id), error=type(exc).__name__)
            return None

    async def copies_for_chat(self, outcome: Outcome) -> list[BotReply]:
        """For a chat channel: send the answer where the policy wants a copy (a document by email) and return
        the note that says so, recorded in the history; [] when nothing was sent."""
        routed = await self.route(outcome)
        note = self.note(routed, outcome.message.lang, outcome.tone)
        if not note:
            return []
        replies = [BotReply(text=note)]
        try:
            await self._inbox.record_replies(outcome.message, replies, delayed=False)
        except RedisError as exc:
            log.error("inbox.history_failed", message_id=outcome.message.message_id, error=type(exc).__name__)
        return replies

    @staticmethod
    def note(routed: Routed, lang: str, tone: Tone = "neutral") -> str:
        """«Копию ответа отправил вам на электронную почту.» for what was sent; "" when nothing was."""
        language: Language = "en" if lang == "en" else "ru"
        names = COPY_PLACES[language]
        places = [names[channel] for channel in dict.fromkeys(routed.sent_channels) if channel in names]
        if not places:
            return ""
        last = (" и " if language == "ru" else " and ") + places[-1]
        joined = places[0] if len(places) == 1 else ", ".join(places[:-1]) + last
        return COPY_SENT.say(language, tone).format(places=joined)
