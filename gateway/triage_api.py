"""``POST /api/v1/triage``: the triage on one message as a dry run - the same code the live path runs
(gateway/triage.py), with no side effects: nothing is stored, no conversation or counter changes."""

from __future__ import annotations

import re
import time
from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from gateway.errors import ApiError, ErrorBody
from gateway.rasa_client import RasaUnavailable
from gateway.services import Services, get_services
from zabota.channels.phones import normalize_phone
from zabota.identity import CustomerProfile
from zabota.language import Language, detect_language
from zabota.triage.model import TriageContext

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/v1", tags=["triage"])

Channel = Literal["webchat", "telegram", "voice", "sms", "email"]
CHANNELS: tuple[Channel, ...] = ("webchat", "telegram", "voice", "sms", "email")
# Other names callers use for the same channels (an outside evaluation speaks its own words).
CHANNEL_ALIASES: dict[str, Channel] = {
    "web": "webchat", "chat": "webchat", "website": "webchat", "site": "webchat", "widget": "webchat",
    "tg": "telegram", "messenger": "telegram",
    "phone": "voice", "call": "voice", "ivr": "voice", "telephony": "voice",
    "text": "sms", "mail": "email", "e-mail": "email",
}  # fmt: skip
CUSTOMER_ID_PATTERN = r"^[A-Za-z0-9_.:+@-]{1,128}$"
ZABOTA_CUSTOMER = re.compile(r"^c-[0-9a-f]{16}$")


class TriageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="The customer's message (not empty, at most the gateway's message limit).")
    channel: str = Field(
        default="webchat",
        max_length=32,
        description="webchat | telegram | voice | sms | email (also: web, chat, phone, call, tg, ...).",
    )
    customer_id: str | None = Field(
        default=None,
        pattern=CUSTOMER_ID_PATTERN,
        description="A known customer (zabota's c-... id, or a phone number the service knows): their recent "
        "problems and conversation state count, read only. Unknown ids are triaged without history.",
    )
    lang: str | None = Field(default=None, max_length=16, description="ru or en (ru-RU, EN...); detected when absent.")


def normalise_channel(raw: str) -> Channel:
    name = raw.strip().lower()
    if name in CHANNELS:
        return name  # type: ignore[return-value]  # checked just above
    if name in CHANNEL_ALIASES:
        return CHANNEL_ALIASES[name]
    raise ApiError(422, "unknown_channel", f"channel {raw!r} is not one of {', '.join(CHANNELS)}")


def normalise_lang(raw: str | None, text: str) -> Language:
    if raw is None or not raw.strip():
        return detect_language(text)
    code = raw.strip().lower()[:2]
    if code not in ("ru", "en"):
        raise ApiError(422, "unsupported_language", f"lang {raw!r}: the assistant speaks ru and en")
    return code  # type: ignore[return-value]  # checked just above


async def known_customer(services: Services, customer_id: str) -> str | None:
    """The zabota customer behind ``customer_id``: our own id, or a phone number / channel key we know."""
    if ZABOTA_CUSTOMER.match(customer_id):
        return customer_id
    phone = normalize_phone(customer_id)
    candidates = [f"tel:{phone}"] if phone else []
    candidates.append(customer_id)  # "tg:123", "web:w-1": a channel key as zabota writes it
    for key in candidates:
        found = await services.customers.lookup(key)
        if found:
            return found
    return None


class IntentOut(BaseModel):
    name: str
    confidence: float


class ReasonOut(BaseModel):
    code: str
    detail: str


class SignalOut(BaseModel):
    kind: str
    priority: str
    intent: str
    evidence: str


class KbOut(BaseModel):
    id: str
    title: str
    score: float
    url: str
    answers: bool = Field(description="The score clears the no-answer threshold: the bot would answer with it.")


class ChannelOut(BaseModel):
    channel: str
    purpose: str
    reason: str


class TriageOut(BaseModel):
    intent: IntentOut = Field(description="Rasa's intent for the message, with its confidence.")
    handoff_intent: str | None = Field(description="The intent the bot acts on (a signal may override).")
    sensitive: bool
    escalate: bool
    priority: Literal["p1", "p2", "p3", "p4"] | None
    reasons: list[ReasonOut]
    signals: list[SignalOut]
    sentiment: str
    lang: Literal["ru", "en"]
    reply_channels: list[ChannelOut]
    kb: list[KbOut]
    ranking: list[IntentOut] = Field(description="Rasa's intent ranking, best first.")


@router.post(
    "/triage",
    response_model=TriageOut,
    summary="Dry-run the triage on one message: intent, sensitivity, escalation, priority, reasons, channels, KB",
    responses={
        413: {"model": ErrorBody, "description": "Text too long"},
        422: {"model": ErrorBody, "description": "Invalid request"},
        503: {"model": ErrorBody, "description": "Rasa or Redis unavailable: no decision could be made"},
    },
)
async def triage(body: TriageIn, services: Annotated[Services, Depends(get_services)]) -> TriageOut:
    text = body.text.strip()
    if not text:
        raise ApiError(422, "empty_text", "text is empty: send at least one character that is not whitespace")
    limit = services.settings.max_message_chars
    if len(text) > limit:
        raise ApiError(413, "message_too_long", f"text has {len(text)} characters; the limit is {limit}")
    lang = normalise_lang(body.lang, text)
    channel = normalise_channel(body.channel)
    context = TriageContext(channel=channel)
    profile: CustomerProfile | None = None
    customer = await known_customer(services, body.customer_id) if body.customer_id else None
    if customer is not None:
        # Read only: the same state the live path would use for this customer's next message.
        state = await services.dispatcher.states.get(customer)
        recent = await services.customers.recent_intents(customer, time.time(), services.engine.problem_of)
        context = state.context(channel, recent)
        profile = await services.customers.profile(customer)
    try:
        result = await services.engine.dry_run(text, lang, context, profile)
    except RasaUnavailable as exc:
        log.warning("triage.rasa_unavailable", reason=str(exc))
        raise ApiError(503, "rasa_unavailable", "the classifier is not answering; retry shortly") from exc
    decision = result.decision
    log.info(
        "triage.dry_run",
        intent=result.nlu.intent,
        escalate=decision.escalate,
        priority=decision.priority,
        reasons=[reason.code for reason in decision.reasons],
    )
    return TriageOut(
        intent=IntentOut(name=result.nlu.intent, confidence=round(result.nlu.confidence, 4)),
        handoff_intent=decision.handoff_intent,
        sensitive=decision.sensitive,
        escalate=decision.escalate,
        priority=decision.priority,
        reasons=[ReasonOut(code=r.code, detail=r.detail) for r in decision.reasons],
        signals=[
            SignalOut(kind=s.kind, priority=s.priority, intent=s.intent, evidence=s.evidence) for s in decision.signals
        ],
        sentiment=decision.sentiment,
        lang=lang,
        reply_channels=[
            ChannelOut(channel=c.channel, purpose=c.purpose, reason=c.reason) for c in result.reply_channels
        ],
        kb=[KbOut(id=k.id, title=k.title, score=k.score, url=k.url, answers=k.answers) for k in result.kb],
        ranking=[IntentOut(name=name, confidence=round(conf, 4)) for name, conf in result.nlu.ranking[:5]],
    )
