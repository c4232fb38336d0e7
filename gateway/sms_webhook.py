"""``POST /webhooks/sms``: a customer's SMS reply, from the SMS provider (Twilio's inbound webhook format,
form-encoded, signed with ``X-Twilio-Signature`` over the public URL and the form). The bot's answer goes back
by SMS through the provider's REST API; the webhook itself answers an empty TwiML document.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

import structlog
from fastapi import APIRouter, Depends, Header, Request, Response

from gateway.channels.sms import SIGNATURE_HEADER, InvalidInboundSms, parse_inbound_sms, signature_ok
from gateway.errors import ApiError, ErrorBody
from gateway.outbound import reply_text
from gateway.recognition import customer_for_verified_phone
from gateway.services import Services, get_services
from gateway.texts import DELAYED_ANSWER
from zabota.channels.phones import normalize_phone, phone_for_log

log = structlog.get_logger(__name__)
router = APIRouter(tags=["sms"])

CHANNEL = "sms"
MAX_FORM_BYTES = 16 * 1024
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@router.post(
    "/webhooks/sms",
    summary="Inbound SMS from the provider (Twilio format); the answer goes back by SMS",
    responses={
        401: {"model": ErrorBody, "description": "Missing or wrong X-Twilio-Signature"},
        413: {"model": ErrorBody, "description": "Form too large"},
        415: {"model": ErrorBody, "description": "Not a urlencoded form"},
        422: {"model": ErrorBody, "description": "Not an inbound SMS form"},
        503: {"model": ErrorBody, "description": "SMS channel not configured, or storage unavailable"},
    },
)
async def inbound_sms(
    request: Request,
    services: Annotated[Services, Depends(get_services)],
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER, include_in_schema=False)] = None,
) -> Response:
    settings = services.settings
    if services.channels.sms is None or settings.sms_auth_token is None:
        raise ApiError(503, "channel_off", "the SMS channel is not configured on this gateway")
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        raise ApiError(413, "form_too_large", f"the form is over {MAX_FORM_BYTES} bytes")
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise ApiError(415, "unsupported_media_type", "send the provider's form (application/x-www-form-urlencoded)")
    try:
        # Twilio's webhook is a plain urlencoded form; parsed here, without a multipart dependency.
        form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError as exc:
        raise ApiError(422, "invalid_form", "the form is not UTF-8") from exc
    url = settings.public_base_url.rstrip("/") + request.url.path
    if not signature_ok(url, form, settings.sms_auth_token.get_secret_value(), signature):
        log.warning("sms.bad_signature")
        raise ApiError(401, "unauthorized", f"missing or wrong {SIGNATURE_HEADER}")
    try:
        inbound = parse_inbound_sms(form)
    except InvalidInboundSms as exc:
        raise ApiError(422, "invalid_sms", str(exc)) from exc
    phone = normalize_phone(inbound.from_number)
    text = inbound.body.strip()
    if phone is None or not text:
        log.info("sms.ignored", reason="no phone number" if phone is None else "empty body")
        return Response(EMPTY_TWIML, media_type="application/xml")
    if len(text) > settings.max_message_chars:
        text = text[: settings.max_message_chars]
    await services.limiter.enforce(f"{CHANNEL}:{phone}")
    customer_id = await customer_for_verified_phone(services.customers, services.records, phone)
    await services.customers.update_profile(customer_id, phone=phone, last_channel=CHANNEL)
    outcome = await services.dispatcher.handle(
        channel=CHANNEL, sender_id=phone, text=text, metadata={}, customer_id=customer_id
    )
    log.info("sms.received", sender=phone_for_log(phone), delivered=outcome.delivered, held=outcome.held)
    if outcome.held:
        texts = [reply_text(reply) for reply in outcome.replies]  # at most the "passed to the specialist" notice
    elif outcome.delivered:
        copies = await services.replies.copies_for_chat(outcome)
        texts = [reply_text(reply, with_buttons=True) for reply in [*outcome.replies, *copies]]
    else:
        texts = [DELAYED_ANSWER.say(outcome.message.lang, outcome.tone)]
    body = "\n\n".join(text for text in texts if text)
    if body:
        await services.channels.send_sms(phone, body)
    return Response(EMPTY_TWIML, media_type="application/xml")
