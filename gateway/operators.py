"""The operator API: the queue, one handoff with its summary, transcript and profile, and the actions -
claim, reply (delivered in the customer's channel), internal note, hand back to the bot, close - plus the
console's live WebSocket. Every route needs an operator token (gateway/operator_auth.py)."""

from __future__ import annotations

import time
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Header, Path, Query, WebSocket
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError

from gateway.errors import ApiError, ErrorBody
from gateway.operator_auth import Operator, require_operator_from
from gateway.operator_hub import OperatorHub, handoff_item
from gateway.services import Services, get_services
from zabota.handoffs.store import Handoff, HandoffConflict, HandoffForbidden, HandoffNotFound
from zabota.handoffs.summary import mask_entity
from zabota.redaction import mask_for_log

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/v1/operator", tags=["operators"])

HANDOFF_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
MAX_OPERATOR_TEXT = 4000

ServicesDep = Annotated[Services, Depends(get_services)]
HandoffId = Annotated[str, Path(pattern=HANDOFF_ID_PATTERN)]

_AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid operator token"},
}
_ACTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    **_AUTH_RESPONSES,
    403: {"model": ErrorBody, "description": "The operator's role does not allow this"},
    404: {"model": ErrorBody, "description": "No such handoff"},
    409: {"model": ErrorBody, "description": "The handoff's state does not allow this (claimed by someone else...)"},
}


def current_operator(
    services: ServicesDep, authorization: Annotated[str | None, Header(include_in_schema=False)] = None
) -> Operator:
    return require_operator_from(services.operators, authorization)


OperatorDep = Annotated[Operator, Depends(current_operator)]


class OperatorOut(BaseModel):
    id: str
    name: str
    role: str


class QueueOut(BaseModel):
    items: list[dict[str, Any]]


class TextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_OPERATOR_TEXT)


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: str | None = Field(default=None, max_length=1000)


class HandoffOut(BaseModel):
    handoff: dict[str, Any]
    entry: dict[str, Any] | None = None


class HandoffDetailOut(BaseModel):
    handoff: dict[str, Any]
    history: list[dict[str, Any]]
    profile: dict[str, Any]


def _refused(exc: Exception) -> ApiError:
    if isinstance(exc, HandoffNotFound):
        return ApiError(404, "not_found", "no such handoff")
    if isinstance(exc, HandoffForbidden):
        return ApiError(403, "forbidden", str(exc) or "your role does not allow this")
    if isinstance(exc, HandoffConflict):
        return ApiError(409, "conflict", f"the handoff's state does not allow this: {exc}")
    if isinstance(exc, ValueError):
        return ApiError(422, "invalid", str(exc))
    raise exc


# what closing and handing back mean for the contact history (zabota/records)
OUTCOMES = {"close": "resolved", "handback": "handed_back"}


async def _record_outcome(services: Services, handoff_id: str, outcome: str) -> None:
    """Loud, not fatal: the handoff itself is closed in Redis; only the contact history misses its outcome."""
    try:
        await services.records.set_handoff_outcome(handoff_id, outcome)
    except (SQLAlchemyError, OSError) as exc:
        log.error("records.outcome_failed", handoff_id=handoff_id, error=type(exc).__name__)


def _item(services: Services, handoff: Handoff) -> dict[str, Any]:
    return handoff_item(handoff, services.operators.name_of(handoff.assignee) if handoff.assignee else None)


@router.get("/me", response_model=OperatorOut, responses=_AUTH_RESPONSES, summary="Who the token belongs to")
async def me(operator: OperatorDep) -> OperatorOut:
    return OperatorOut(id=operator.id, name=operator.name, role=operator.role)


@router.get("/queue", response_model=QueueOut, responses=_AUTH_RESPONSES, summary="Open handoffs, most urgent first")
async def queue(
    services: ServicesDep, operator: OperatorDep, limit: Annotated[int, Query(ge=1, le=500)] = 200
) -> QueueOut:
    handoffs = await services.desk.store.queue(limit)
    return QueueOut(items=[_item(services, h) for h in handoffs])


@router.get(
    "/handoffs/{handoff_id}",
    response_model=HandoffDetailOut,
    responses=_ACTION_RESPONSES,
    summary="One handoff: summary, notes, the conversation's history and the customer's profile",
)
async def handoff_detail(handoff_id: HandoffId, services: ServicesDep, operator: OperatorDep) -> HandoffDetailOut:
    handoff = await services.desk.store.get(handoff_id)
    if handoff is None:
        raise ApiError(404, "not_found", "no such handoff")
    history = await services.inbox.history(handoff.customer_id, 200)
    customer = handoff.summary.customer
    profile = await services.customers.profile(handoff.customer_id)
    detail = {
        **_item(services, handoff),
        "summary": handoff.summary.to_dict(),
        "notes": [
            {
                "operator_id": note.author,
                "author": services.operators.name_of(note.author),
                "text": note.text,
                "timestamp": note.at,
            }
            for note in handoff.notes
        ],
        "resolution": handoff.resolution,
    }
    return HandoffDetailOut(
        handoff=detail,
        history=[entry.model_dump(mode="json") for entry in history],
        profile={
            "customer_id": handoff.customer_id,
            "name": customer.name,
            "segment": customer.segment,
            "language": customer.language,
            "contacts": customer.contacts,  # masked in the summary
            "channels": profile.channels(),
            **await _recorded_profile(services, handoff.customer_id),
        },
    )


# the customer's last contacts the console shows beside a handoff
CONSOLE_CONTACTS = 5


async def _recorded_profile(services: Services, customer_id: str) -> dict[str, Any]:
    """What the system of record knows of the customer, for the operator: the profile (phones and emails
    masked, as in the summary) and the last contacts in every channel. Nothing when it cannot be read (logged:
    the handoff is still shown)."""
    try:
        record = await services.records.get(customer_id)
        contacts = await services.records.recent_contacts(customer_id, CONSOLE_CONTACTS) if record else []
    except (SQLAlchemyError, OSError) as exc:
        log.error("records.profile_unavailable", customer=mask_for_log(customer_id), error=type(exc).__name__)
        return {}
    if record is None:
        return {}
    known = {
        "name": record.name,
        "segment": record.segment,
        "age_band": record.age_band,
        "region": record.region,
        "timezone": record.timezone,
        "tags": list(record.tags),
        "phones": [mask_entity("phone", phone) for phone in record.phones],
        "emails": [mask_entity("email", email) for email in record.emails],
        "accounts": [account.account_number for account in record.accounts],
        "opted_out": sorted(record.opted_out),
        "recent_contacts": [
            {
                "channel": c.channel,
                "started_at": c.started_at.timestamp(),
                "intents": list(c.intents),
                "articles": list(c.articles),
                "handoff_priority": c.handoff_priority,
                "handoff_outcome": c.handoff_outcome,
            }
            for c in contacts
        ],
    }
    # what the record does not know stays as the summary had it
    return {key: value for key, value in known.items() if value not in (None, [])} | {
        "recent_contacts": known["recent_contacts"]
    }


async def _act(services: Services, operator: Operator, action: str, handoff_id: str, **kwargs: Any) -> HandoffOut:
    desk = services.desk
    entry: dict[str, Any] | None = None
    try:
        if action == "claim":
            handoff = await desk.claim(handoff_id, operator)
        elif action == "reply":
            handoff, line = await desk.reply(handoff_id, operator, kwargs["text"])
            entry = line.model_dump(mode="json")
        elif action == "note":
            handoff = await desk.note(handoff_id, operator, kwargs["text"])
        elif action == "handback":
            handoff = await desk.hand_back(handoff_id, operator)
        else:
            handoff = await desk.close(handoff_id, operator, kwargs.get("resolution"))
    except (HandoffNotFound, HandoffForbidden, HandoffConflict, ValueError) as exc:
        raise _refused(exc) from exc
    except LookupError as exc:
        raise ApiError(404, "not_found", "no such handoff") from exc
    log.info(f"operator.{action}", handoff_id=handoff_id, operator_id=operator.id, at=round(time.time(), 3))
    if action in OUTCOMES:
        await _record_outcome(services, handoff_id, OUTCOMES[action])
    return HandoffOut(handoff=_item(services, handoff), entry=entry)


@router.post(
    "/handoffs/{handoff_id}/claim",
    response_model=HandoffOut,
    responses=_ACTION_RESPONSES,
    summary="Take the handoff (a lead may take over another operator's)",
)
async def claim(handoff_id: HandoffId, services: ServicesDep, operator: OperatorDep) -> HandoffOut:
    return await _act(services, operator, "claim", handoff_id)


@router.post(
    "/handoffs/{handoff_id}/reply",
    response_model=HandoffOut,
    responses=_ACTION_RESPONSES,
    summary="Answer the customer, in their channel",
)
async def reply(handoff_id: HandoffId, body: TextIn, services: ServicesDep, operator: OperatorDep) -> HandoffOut:
    text = body.text.strip()
    if not text:
        raise ApiError(422, "empty_text", "the reply is empty")
    return await _act(services, operator, "reply", handoff_id, text=text)


@router.post(
    "/handoffs/{handoff_id}/note",
    response_model=HandoffOut,
    responses=_ACTION_RESPONSES,
    summary="An internal note (never shown to the customer)",
)
async def note(handoff_id: HandoffId, body: TextIn, services: ServicesDep, operator: OperatorDep) -> HandoffOut:
    text = body.text.strip()
    if not text:
        raise ApiError(422, "empty_text", "the note is empty")
    return await _act(services, operator, "note", handoff_id, text=text)


@router.post(
    "/handoffs/{handoff_id}/handback",
    response_model=HandoffOut,
    responses=_ACTION_RESPONSES,
    summary="Return the conversation to the bot, which resumes with its context",
)
async def hand_back(handoff_id: HandoffId, services: ServicesDep, operator: OperatorDep) -> HandoffOut:
    return await _act(services, operator, "handback", handoff_id)


@router.post(
    "/handoffs/{handoff_id}/close",
    response_model=HandoffOut,
    responses=_ACTION_RESPONSES,
    summary="Close the handoff (solved); the bot answers the customer's next message",
)
async def close(
    handoff_id: HandoffId, services: ServicesDep, operator: OperatorDep, body: CloseIn | None = None
) -> HandoffOut:
    return await _act(services, operator, "close", handoff_id, resolution=(body.resolution if body else None))


@router.websocket("/ws")
async def operator_socket(websocket: WebSocket) -> None:
    """The console's live queue. First frame from the client: {"type": "auth", "token"} (never in the URL)."""
    hub: OperatorHub = websocket.app.state.operator_hub
    await hub.serve(websocket)
