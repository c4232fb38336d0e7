"""``POST /api/v1/voice/events``: the call-centre platform sends what the caller said (recognised text); the
answer holds the short text to speak, what was sent to other channels (the instructions by SMS or Telegram,
documents by email), and whether to transfer the call to a person.

The caller's number is verified by the telephone network, so it is the customer's identity (``tel:+7...``):
a caller who linked the number in Telegram is the same customer there.
"""

from __future__ import annotations

from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, ConfigDict, Field

from gateway.errors import ApiError, ErrorBody
from gateway.operator_auth import require_service_token
from gateway.outbound import reply_text
from gateway.recognition import customer_for_verified_phone
from gateway.services import Services, get_services
from gateway.surveys import is_survey_question
from gateway.texts import VOICE_DELAYED_ANSWER, VOICE_TRANSFER
from zabota.channels.phones import normalize_phone, phone_for_log
from zabota.channels.voice import spoken_text

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/v1/voice", tags=["voice"])

CHANNEL = "voice"


class VoiceEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    call_id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,128}$", description="The platform's id of the call.")
    caller: str = Field(min_length=3, max_length=32, description="The caller's number (E.164 or Russian 8...).")
    text: str = Field(description="What the caller said, as recognised; not empty.")
    event: Literal["speech", "dtmf"] = Field(
        default="speech",
        description="speech: what the caller said; dtmf: the keys they pressed, as digits in text (the answer to a "
        "survey question, «оцените от 1 до 5»).",
    )
    confidence: float | None = Field(default=None, ge=0, le=1, description="The recogniser's confidence.")


class SentOut(BaseModel):
    channel: str
    to: str = Field(description="The address, masked.")
    id: str = Field(description="The provider's message id.")


class VoiceReplyOut(BaseModel):
    call_id: str
    speak: str = Field(description="The short text to say to the caller.")
    lang: Literal["ru", "en"]
    sent: list[SentOut] = Field(description="Messages sent to other channels for this answer.")
    transfer_to_operator: bool = Field(description="A person should take the call (the handoff is queued).")
    handoff_id: str | None = None
    priority: str | None = None
    delivered: bool = Field(description="False: Rasa was unavailable; the question is stored and answered later.")


@router.post(
    "/events",
    response_model=VoiceReplyOut,
    summary="A caller's recognised speech in; the text to speak and what was sent elsewhere out",
    responses={
        401: {"model": ErrorBody, "description": "Missing or wrong platform token"},
        422: {"model": ErrorBody, "description": "Invalid event (bad caller number, empty text, ...)"},
        429: {"model": ErrorBody, "description": "Too many events for this caller"},
        503: {"model": ErrorBody, "description": "Voice channel not configured, or storage unavailable"},
    },
)
async def voice_event(
    body: VoiceEventIn,
    services: Annotated[Services, Depends(get_services)],
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> VoiceReplyOut:
    require_service_token(
        services.settings.voice_api_token,
        authorization,
        off_error="channel_off",
        off_detail="the voice channel is not configured on this gateway",
        who="platform",
    )
    caller = normalize_phone(body.caller)
    if caller is None:
        raise ApiError(422, "bad_caller", "caller is not a phone number (E.164, or a Russian 8/+7 number)")
    text = body.text.strip()
    if not text:
        raise ApiError(422, "empty_text", "text is empty")
    limit = services.settings.max_message_chars
    if len(text) > limit:
        raise ApiError(413, "message_too_long", f"text has {len(text)} characters; the limit is {limit}")
    await services.limiter.enforce(f"{CHANNEL}:{caller}")

    customer_id = await customer_for_verified_phone(services.customers, services.records, caller)
    await services.customers.update_profile(customer_id, phone=caller, last_channel=CHANNEL)
    outcome = await services.dispatcher.handle(
        channel=CHANNEL, sender_id=caller, text=text, metadata={"call_id": body.call_id}, customer_id=customer_id
    )
    lang = outcome.message.lang
    if not outcome.delivered:
        return VoiceReplyOut(
            call_id=body.call_id,
            speak=VOICE_DELAYED_ANSWER.say(lang, outcome.tone),
            lang=lang,
            sent=[],
            transfer_to_operator=False,
            delivered=False,
        )
    if outcome.held or outcome.handoff is not None:
        handoff = outcome.handoff
        return VoiceReplyOut(
            call_id=body.call_id,
            speak=" ".join(
                [
                    spoken_text([r.text or "" for r in outcome.replies[:1]], [], lang),
                    VOICE_TRANSFER.say(lang, outcome.tone),
                ]
            ).strip(),
            lang=lang,
            sent=[],
            transfer_to_operator=True,
            handoff_id=handoff.handoff_id if handoff else None,
            priority=handoff.priority if handoff else None,
            delivered=True,
        )

    routed = await services.replies.route(outcome, caller=caller)
    sent = routed.sent
    answer = [reply for reply in outcome.replies if not is_survey_question(reply)]
    speak = spoken_text([reply_text(reply) for reply in answer], routed.sent_channels, lang)
    # the survey's question at the end of the call, whole: the caller answers it by voice or keys (dtmf)
    speak = " ".join([speak, *(reply.text or "" for reply in outcome.replies if is_survey_question(reply))]).strip()
    log.info(
        "voice.answered",
        call_id=body.call_id,
        caller=phone_for_log(caller),
        lang=lang,
        sent=[item.channel for item in sent],
        reasons=[choice.reason for choice in routed.choices],
    )
    return VoiceReplyOut(
        call_id=body.call_id,
        speak=speak,
        lang=lang,
        sent=[SentOut(channel=item.channel, to=item.to, id=item.id) for item in sent],
        transfer_to_operator=False,
        delivered=True,
    )
