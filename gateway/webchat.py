"""Webchat HTTP API for the website widget. Routes only translate between JSON and ``Dispatcher``."""

from __future__ import annotations

import json
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gateway.errors import ApiError, ErrorBody
from gateway.inbox import HistoryEntry
from gateway.rasa_client import BotReply, Button
from gateway.services import Services, get_services
from gateway.texts import DELAYED_ANSWER
from zabota import redis_keys
from zabota.language import Language
from zabota.redaction import mask_for_log

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/v1/webchat", tags=["webchat"])

CHANNEL = "webchat"
SENDER_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
# Client metadata is stored with the message and passed to Rasa; bound it like the text.
MAX_METADATA_CHARS = 4096

# The widget makes the id up (a random UUID) and keeps it; it is the conversation's only key until customer
# identity mapping arrives, so the widget should not use guessable ids.
SenderId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128, pattern=SENDER_ID_PATTERN),
    Field(description="The widget's conversation id: 1-128 of A-Z a-z 0-9 _ . : -", examples=["w-3f2b9c4e"]),
]
ServicesDep = Annotated[Services, Depends(get_services)]


class WebchatMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sender_id: SenderId
    text: str = Field(description="The customer's message; not empty, at most MAX_MESSAGE_CHARS characters.")
    metadata: dict[str, Any] | None = Field(default=None, description="Passed to Rasa with the message.")


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
        413: {"model": ErrorBody, "description": "Text or metadata too long"},
        422: {"model": ErrorBody, "description": "Invalid request (empty text, bad sender_id, not JSON, ...)"},
        503: {"model": ErrorBody, "description": "Storage unavailable; the message was not accepted"},
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

    outcome = await services.dispatcher.handle(channel=CHANNEL, sender_id=body.sender_id, text=text, metadata=metadata)
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
        replies = [_reply_out(r) for r in outcome.replies]
    else:
        response.status_code = 202
        replies = [ReplyOut(text=DELAYED_ANSWER[message.lang])]
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
    messages = await services.inbox.history(sender_id, limit)
    return HistoryOut(sender_id=sender_id, messages=messages)
