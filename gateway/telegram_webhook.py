"""``POST /webhooks/telegram``: Telegram Bot API updates in, replies out through ``sendMessage``.

Authenticated by the secret token given to setWebhook (``X-Telegram-Bot-Api-Secret-Token``). A 2xx tells
Telegram the update is handled; anything else makes it resend, which is exactly what a refused (rate-limited)
or unstored (Redis down) message needs.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Header, Request

from gateway.channels.telegram import (
    SECRET_HEADER,
    TelegramBotApi,
    TelegramError,
    TelegramInbound,
    parse_update,
    render_replies,
    secret_token_ok,
)
from gateway.errors import ApiError, ErrorBody
from gateway.rasa_client import BotReply
from gateway.recognition import recorded_customer
from gateway.services import Services, get_services
from gateway.texts import DELAYED_ANSWER, PHONE_LINKED
from zabota import redis_keys
from zabota.identity import channel_key
from zabota.language import Language

log = structlog.get_logger(__name__)
router = APIRouter(tags=["telegram"])

CHANNEL = "telegram"
# Updates are small JSON objects; anything bigger is not Telegram.
MAX_UPDATE_BYTES = 64 * 1024


@router.post(
    "/webhooks/telegram",
    summary="Telegram Bot API webhook (updates in; replies go out through sendMessage)",
    responses={
        401: {"model": ErrorBody, "description": "Missing or wrong X-Telegram-Bot-Api-Secret-Token"},
        413: {"model": ErrorBody, "description": "Update too large"},
        422: {"model": ErrorBody, "description": "Not JSON"},
        429: {"model": ErrorBody, "description": "Too many messages from this user (Telegram resends later)"},
        503: {"model": ErrorBody, "description": "Telegram channel not configured, or storage unavailable"},
    },
)
async def telegram_update(
    request: Request,
    services: Annotated[Services, Depends(get_services)],
    secret: Annotated[str | None, Header(alias=SECRET_HEADER, include_in_schema=False)] = None,
) -> dict[str, Any]:
    settings = services.settings
    api = services.channels.telegram
    expected = settings.telegram_webhook_secret.get_secret_value() if settings.telegram_webhook_secret else ""
    if api is None or not expected:
        raise ApiError(503, "channel_off", "the Telegram channel is not configured on this gateway")
    if not secret_token_ok(secret, expected):
        log.warning("telegram.bad_secret")
        raise ApiError(401, "unauthorized", f"missing or wrong {SECRET_HEADER}")
    raw = await request.body()
    if len(raw) > MAX_UPDATE_BYTES:
        raise ApiError(413, "update_too_large", f"the update is over {MAX_UPDATE_BYTES} bytes")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ApiError(422, "invalid_json", "the body is not JSON") from exc
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_update", "an update is a JSON object")
    inbound = parse_update(data)
    if inbound is None:
        return {"ok": True, "handled": False}
    seen_key = redis_keys.telegram_update_seen(inbound.update_id)
    if await services.redis.exists(seen_key):
        log.info("telegram.update_repeated", update_id=inbound.update_id)
        return {"ok": True, "handled": False}
    await services.limiter.enforce(f"{CHANNEL}:{inbound.user_id}")
    await handle_inbound(services, api, inbound)
    await services.redis.set(seen_key, "1", ex=redis_keys.TELEGRAM_UPDATE_SEEN_TTL_SECONDS)
    return {"ok": True, "handled": True}


async def handle_inbound(services: Services, api: TelegramBotApi, inbound: TelegramInbound) -> None:
    customers = services.customers
    key = channel_key("tg", str(inbound.user_id))
    customer_id = await customers.resolve(key)
    if inbound.contact_phone is not None:
        # Telegram checked the number is the user's own: the same customer as the one calling from it, or the
        # one the company's records hold it for.
        await recorded_customer(customers, services.records, inbound.contact_phone)
        linked = await customers.link_verified(customer_id, channel_key("tel", inbound.contact_phone))
        if linked != customer_id:
            await customers.point(key, linked)
            customer_id = linked
        # Connecting the messenger to the phone number is the customer's choice of it: instructions asked for
        # on a call go to Telegram from now on (the channel policy's "linked and preferred").
        await customers.update_profile(customer_id, phone=inbound.contact_phone, preferred_channel="telegram")
        log.info("telegram.phone_linked", merged=linked != customer_id)
    await customers.update_profile(
        customer_id, telegram_chat_id=inbound.chat_id, last_channel=CHANNEL, name=inbound.first_name
    )
    if inbound.callback_query_id is not None:
        try:
            await api.answer_callback_query(inbound.callback_query_id)
        except TelegramError as exc:
            log.warning("telegram.callback_answer_failed", reason=str(exc))
    if not inbound.text.strip():
        lang: Language = "en" if (inbound.language_code or "").startswith("en") else "ru"
        tone = await services.dispatcher.tone_for(customer_id, CHANNEL)
        await _send(api, inbound.chat_id, [BotReply(text=PHONE_LINKED.say(lang, tone))])
        return
    outcome = await services.dispatcher.handle(
        channel=CHANNEL, sender_id=str(inbound.user_id), text=inbound.text, metadata={}, customer_id=customer_id
    )
    if outcome.held:
        # An operator holds the conversation: their reply comes through the operator API; the customer only
        # hears, once, that the message reached the specialist.
        if outcome.replies:
            await _send(api, inbound.chat_id, outcome.replies)
        return
    if not outcome.delivered:
        await _send(api, inbound.chat_id, [BotReply(text=DELAYED_ANSWER.say(outcome.message.lang, outcome.tone))])
        return
    copies = await services.replies.copies_for_chat(outcome)
    await _send(api, inbound.chat_id, [*outcome.replies, *copies])


async def _send(api: TelegramBotApi, chat_id: int, replies: list[BotReply]) -> None:
    try:
        await api.send_replies(chat_id, render_replies(replies))
    except TelegramError as exc:
        # The replies are in the conversation history, where an operator sees them; Telegram did not take them.
        log.error("telegram.reply_failed", reason=str(exc))
