"""Webchat HTTP API for the website widget. Routes only translate between JSON and ``Dispatcher``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Depends, Path, Query, Response, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from redis.exceptions import RedisError

from gateway.dispatch import Outcome
from gateway.errors import ApiError, ErrorBody
from gateway.inbox import HistoryEntry
from gateway.outbound import entry_from_reply
from gateway.rasa_client import BotReply, Button
from gateway.recognition import customer_for_site_identity
from gateway.services import Services, get_services
from gateway.texts import DELAYED_ANSWER
from gateway.ws_frames import receive_text_frame
from zabota import redis_keys
from zabota.identity import channel_key
from zabota.language import Language
from zabota.redaction import mask_for_log

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/v1/webchat", tags=["webchat"])

CHANNEL = "webchat"
SENDER_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
# Client metadata is stored with the message and passed to Rasa; bound it like the text.
MAX_METADATA_CHARS = 4096

# The widget makes the id up (a random UUID) and keeps it: the visitor's identity ("web:<id>", zabota/identity.py)
# and the key to their history, so it must not be guessable.
SenderId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128, pattern=SENDER_ID_PATTERN),
    Field(description="The widget's conversation id: 1-128 of A-Z a-z 0-9 _ . : -", examples=["w-3f2b9c4e"]),
]
ServicesDep = Annotated[Services, Depends(get_services)]

# Room for a v1 token with the longest external id (zabota/site_identity.py); anything longer is not one.
MAX_IDENTITY_CHARS = 512
IDENTITY_DESCRIPTION = (
    "Optional signed site identity: the company's website, where the customer is logged in, vouches for their "
    "external_id (the id of POST /api/v1/customers), and the visitor id is linked to that customer. "
    "Token: payload = 'v1.' + external_id + '.' + expires (Unix seconds); token = payload + '.' + "
    "lowercase hex HMAC-SHA256(key = WEBCHAT_IDENTITY_SECRET, message = payload), UTF-8 throughout; at most "
    "24 h ahead. Empty or absent: an anonymous visitor (or whoever the visitor id was linked to before). "
    "Refused with 400 identity_not_configured (no secret on this gateway), 401 identity_invalid / "
    "identity_expired, 404 unknown_customer (no such external_id in the records)."
)


class WebchatMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sender_id: SenderId
    text: str = Field(description="The customer's message; not empty, at most MAX_MESSAGE_CHARS characters.")
    metadata: dict[str, Any] | None = Field(default=None, description="Passed to Rasa with the message.")
    identity: str | None = Field(
        default=None,
        max_length=MAX_IDENTITY_CHARS,
        description=IDENTITY_DESCRIPTION,
        examples=["v1.crm-1001.1767225600.<64 hex digits>"],
    )


class ReplyOut(BaseModel):
    text: str | None = None
    buttons: list[Button] = Field(default_factory=list)
    image: str | None = None
    custom: Any = None


class WebchatMessageOut(BaseModel):
    message_id: str
    sender_id: str
    lang: Language
    replies: list[ReplyOut]
    delivered: bool = Field(description="False: stored, the assistant answers later (see the history).")


class HistoryOut(BaseModel):
    sender_id: str
    messages: list[HistoryEntry]


def _reply_out(reply: BotReply) -> ReplyOut:
    return ReplyOut.model_validate(reply.model_dump())


@router.post(
    "/messages",
    response_model=WebchatMessageOut,
    summary="Send a customer message; the bot's replies come back in the response",
    responses={
        202: {"model": WebchatMessageOut, "description": "Stored; the assistant is unavailable and answers later"},
        400: {"model": ErrorBody, "description": "identity_not_configured: a token, but no secret on this gateway"},
        401: {"model": ErrorBody, "description": "identity_invalid or identity_expired; nothing was stored"},
        404: {"model": ErrorBody, "description": "unknown_customer: the token's external_id is not in the records"},
        413: {"model": ErrorBody, "description": "Text or metadata too long"},
        429: {"model": ErrorBody, "description": "Too many messages from this sender; see Retry-After"},
        422: {"model": ErrorBody, "description": "Invalid request (empty text, bad sender_id, not JSON, ...)"},
        503: {"model": ErrorBody, "description": "Storage or records unavailable; the message was not accepted"},
    },
)
async def post_message(body: WebchatMessageIn, response: Response, services: ServicesDep) -> WebchatMessageOut:
    text = body.text.strip()
    if not text:
        raise ApiError(422, "empty_text", "text is empty: send at least one character that is not whitespace")
    limit = services.settings.max_message_chars
    if len(text) > limit:
        raise ApiError(413, "message_too_long", f"text has {len(text)} characters; the limit is {limit}")
    metadata = body.metadata or {}
    if len(json.dumps(metadata, ensure_ascii=False)) > MAX_METADATA_CHARS:
        raise ApiError(413, "metadata_too_large", f"metadata is over {MAX_METADATA_CHARS} characters as JSON")

    await services.limiter.enforce(f"{CHANNEL}:{body.sender_id}")
    customer_id = await webchat_customer(services, body.sender_id, body.identity)
    outcome = await services.dispatcher.handle(
        channel=CHANNEL, sender_id=body.sender_id, text=text, metadata=metadata, customer_id=customer_id
    )
    message = outcome.message
    log.info(
        "webchat.received",
        message_id=message.message_id,
        sender=mask_for_log(body.sender_id),
        lang=message.lang,
        chars=len(text),
        delivered=outcome.delivered,
        replies=len(outcome.replies),
    )
    if outcome.delivered:
        copies = await services.replies.copies_for_chat(outcome)
        replies = [_reply_out(r) for r in [*outcome.replies, *copies]]
    else:
        response.status_code = 202
        replies = [ReplyOut(text=DELAYED_ANSWER.say(message.lang, outcome.tone))]
    return WebchatMessageOut(
        message_id=message.message_id,
        sender_id=body.sender_id,
        lang=message.lang,
        replies=replies,
        delivered=outcome.delivered,
    )


@router.get(
    "/{sender_id}/history",
    response_model=HistoryOut,
    summary="The conversation so far, oldest first, including replies to messages answered after an outage",
    responses={503: {"model": ErrorBody, "description": "Storage unavailable"}},
)
async def get_history(
    sender_id: Annotated[str, Path(min_length=1, max_length=128, pattern=SENDER_ID_PATTERN)],
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=redis_keys.CONVERSATION_HISTORY_MAX_ITEMS)] = 100,
) -> HistoryOut:
    customer_id = await services.customers.lookup(channel_key("web", sender_id))
    messages = await services.inbox.history(customer_id, limit) if customer_id else []
    return HistoryOut(sender_id=sender_id, messages=messages)


async def webchat_customer(services: Services, sender_id: str, identity: str | None = None) -> str:
    """The customer behind a widget's visitor id: the one a signed site identity names (raises ``ApiError`` when
    the token cannot be used), else the one the visitor id points at (created on first sight); the webchat is
    their last channel."""
    if identity:
        customer_id = await customer_for_site_identity(
            services.customers, services.records, sender_id, identity, services.settings.webchat_identity_secret
        )
    else:
        customer_id = await services.customers.resolve(channel_key("web", sender_id))
    await services.customers.update_profile(customer_id, last_channel=CHANNEL, webchat_id=sender_id)
    return customer_id


# ---------------------------------------------------------------------------------------------- WebSocket
ws_router = APIRouter(tags=["webchat"])

# Close codes: 1008 policy violation (a bad sender id), 1011 the server cannot serve now (Redis down).
WS_POLICY_VIOLATION = 1008
WS_UNAVAILABLE = 1011
# The longest frame the widget may send: the text limit plus room for the JSON around it.
MAX_FRAME_CHARS = 20_000


class ClientFrame(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["message", "ping"]
    text: str | None = None
    client_id: str | None = Field(default=None, max_length=64)


def _entries(outcome: Outcome, copies: list[BotReply]) -> list[HistoryEntry]:
    message = outcome.message
    customer = HistoryEntry(
        role="customer",
        message_id=message.message_id,
        timestamp=message.timestamp,
        channel=message.channel,
        lang=message.lang,
        text=message.text,
    )
    replies = (
        [*outcome.replies, *copies]
        if outcome.delivered
        else [BotReply(text=DELAYED_ANSWER.say(message.lang, outcome.tone))]
    )
    return [customer] + [
        entry_from_reply(
            r,
            role="bot",
            message_id=message.message_id,
            timestamp=time.time(),
            channel=message.channel,
            lang=message.lang,
        )
        for r in replies
    ]


@ws_router.websocket("/api/v1/webchat/ws")
async def webchat_socket(websocket: WebSocket, sender_id: str = "", identity: str = "") -> None:
    """The widget's live connection: history on connect, replies, operator lines, typing. Query: ``sender_id``,
    and ``identity``, the website's signed token (as in POST /api/v1/webchat/messages). Frames are JSON:
    client -> {"type": "message", "text", "client_id"?} | {"type": "ping"}; server -> {"type": "history",
    "messages"} | {"type": "message", "entry", "client_id"?} | {"type": "typing", "on"} | {"type": "error",
    "code", "detail"} | {"type": "pong"}. A refused identity: an error frame with the HTTP route's code
    (identity_not_configured, identity_invalid, identity_expired, unknown_customer), then close 1008; the
    records unavailable: close 1011."""
    services: Services = websocket.app.state.services
    await websocket.accept()
    if not re.fullmatch(SENDER_ID_PATTERN, sender_id):
        await websocket.close(WS_POLICY_VIOLATION, "sender_id: 1-128 of A-Z a-z 0-9 _ . : -")
        return
    if len(identity) > MAX_IDENTITY_CHARS:
        await websocket.close(WS_POLICY_VIOLATION, f"identity: at most {MAX_IDENTITY_CHARS} characters")
        return
    try:
        customer_id = await webchat_customer(services, sender_id, identity)
        history = await services.inbox.history(customer_id, 100)
        pubsub = services.redis.pubsub()
        await pubsub.subscribe(redis_keys.conversation_events(customer_id))
    except RedisError:
        await websocket.close(WS_UNAVAILABLE, "storage unavailable, retry shortly")
        return
    except ApiError as exc:
        if exc.status_code >= 500:
            await websocket.close(WS_UNAVAILABLE, "customer records unavailable, retry shortly")
            return
        # the frame first: a close reason is cut at 123 bytes, and the widget reads the code from the frame
        await websocket.send_text(
            json.dumps({"type": "error", "code": exc.error, "detail": exc.detail}, ensure_ascii=False)
        )
        await websocket.close(WS_POLICY_VIOLATION, exc.error)
        return
    send_lock = asyncio.Lock()

    async def send(frame: dict[str, Any]) -> None:
        async with send_lock:
            await websocket.send_text(json.dumps(frame, ensure_ascii=False))

    async def forward_events() -> None:
        while True:
            try:
                event = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except RedisError:
                await asyncio.sleep(1.0)
                continue
            if event is None:
                continue
            try:
                frame = json.loads(event["data"])
            except (TypeError, ValueError):
                continue
            if isinstance(frame, dict) and frame.get("type") == "message":
                await send({"type": "message", "entry": frame.get("entry")})

    forwarder = asyncio.create_task(forward_events(), name="webchat-events")
    try:
        await send({"type": "history", "messages": [entry.model_dump(mode="json") for entry in history]})
        while True:
            raw = await receive_text_frame(websocket)
            if raw is None:
                await send({"type": "error", "code": "bad_frame", "detail": "frames are JSON text"})
                continue
            await _on_frame(services, sender_id, customer_id, raw, send)
    except WebSocketDisconnect:
        pass
    finally:
        forwarder.cancel()
        with contextlib.suppress(Exception):
            await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped


async def _on_frame(
    services: Services,
    sender_id: str,
    customer_id: str,
    raw: str,
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    if len(raw) > MAX_FRAME_CHARS:
        await send(
            {
                "type": "error",
                "code": "frame_too_large",
                "detail": f"frames are limited to {MAX_FRAME_CHARS} characters",
            }
        )
        return
    try:
        frame = ClientFrame.model_validate_json(raw)
    except ValidationError:
        await send({"type": "error", "code": "bad_frame", "detail": 'send {"type": "message", "text": "..."}'})
        return
    if frame.type == "ping":
        await send({"type": "pong"})
        return
    text = (frame.text or "").strip()
    limit = services.settings.max_message_chars
    if not text:
        await send(
            {"type": "error", "code": "empty_text", "detail": "the message is empty", "client_id": frame.client_id}
        )
        return
    if len(text) > limit:
        await send(
            {
                "type": "error",
                "code": "message_too_long",
                "detail": f"text has {len(text)} characters; the limit is {limit}",
                "client_id": frame.client_id,
            }
        )
        return
    try:
        await services.limiter.enforce(f"{CHANNEL}:{sender_id}")
    except ApiError as exc:
        await send({"type": "error", "code": exc.error, "detail": exc.detail, "client_id": frame.client_id})
        return
    await send({"type": "typing", "on": True})
    try:
        outcome = await services.dispatcher.handle(
            channel=CHANNEL, sender_id=sender_id, text=text, metadata={}, customer_id=customer_id
        )
    except RedisError:
        await send({"type": "typing", "on": False})
        await send(
            {
                "type": "error",
                "code": "storage_unavailable",
                "detail": "the message was not accepted; please send it again shortly",
                "client_id": frame.client_id,
            }
        )
        return
    log.info(
        "webchat.received",
        message_id=outcome.message.message_id,
        sender=mask_for_log(sender_id),
        lang=outcome.message.lang,
        chars=len(text),
        delivered=outcome.delivered,
        held=outcome.held,
        replies=len(outcome.replies),
        transport="websocket",
    )
    copies = await services.replies.copies_for_chat(outcome)
    entries = _entries(outcome, copies)
    await send({"type": "message", "entry": entries[0].model_dump(mode="json"), "client_id": frame.client_id})
    for entry in entries[1:]:
        await send({"type": "message", "entry": entry.model_dump(mode="json")})
    await send({"type": "typing", "on": False})
