"""Outreach at the gateway: the company's systems post trigger events (``POST /api/v1/outreach/events``, a token
of their own), each is planned (zabota/outreach/planning.py) for the customer the system of record knows and
scheduled (zabota/outreach/queue.py); ``OutreachSender`` delivers what is due in the planned channel and
records it as an "outreach" contact."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Depends, Header, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from gateway.errors import ApiError, ErrorBody
from gateway.inbox import HistoryEntry
from gateway.operator_auth import require_service_token
from gateway.operators import OperatorDep
from gateway.rasa_client import Button
from gateway.services import Services, get_services
from zabota.channels.policy import ContactProfile
from zabota.language import Language
from zabota.outreach.planning import NotSent, OutreachError, OutreachEvent, OutreachPlan, Recipient, plan
from zabota.outreach.prevented import WINDOW, contacts_prevented
from zabota.outreach.queue import OutreachQueue
from zabota.outreach.replies import NO_PAYLOAD, YES_PAYLOAD, OutreachContext
from zabota.records import ContactData, CustomerRecord
from zabota.records.known_data import known_data
from zabota.redaction import mask_for_log, redact

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/v1/outreach", tags=["outreach"])
ServicesDep = Annotated[Services, Depends(get_services)]
MAX_DATA_FIELDS = 20

_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or wrong outreach token"},
    404: {"model": ErrorBody, "description": "No such customer (or outreach message)"},
    422: {"model": ErrorBody, "description": "Unknown trigger, missing data, bad field"},
    503: {"model": ErrorBody, "description": "Outreach is not configured on this gateway"},
}


class OutreachEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    trigger: str = Field(pattern=r"^[a-z_]{1,64}$")
    customer_id: str | None = Field(default=None, pattern=r"^c-[0-9a-f]{16}$")
    external_id: str | None = Field(default=None, pattern=r"^[\w.:\-]{1,128}$")
    ref: str = Field(min_length=1, max_length=128, description="What it is about: an order, an area, a payment")
    data: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=200)]] = Field(
        default_factory=dict, max_length=MAX_DATA_FIELDS
    )


class OutreachOut(BaseModel):
    status: Literal["scheduled", "duplicate", "capped", "not_sent"]
    outreach_id: str | None = None
    channel: str | None = None
    send_at: datetime | None = None
    deferred: bool = False
    reason: str | None = None


class OutreachStatusOut(BaseModel):
    outreach_id: str
    status: str
    attempts: int
    error: str | None = None


def _authorised(services: Services, authorization: str | None) -> None:
    require_service_token(
        services.settings.outreach_api_token,
        authorization,
        off_error="outreach_off",
        off_detail="outreach is not configured on this gateway (OUTREACH_API_TOKEN)",
        who="outreach",
    )


async def recipient_of(services: Services, record: CustomerRecord) -> Recipient:
    """Where and how to reach the customer: the channels' profile, filled from the system of record."""
    profile = await services.customers.profile(record.customer_id)
    known = known_data(profile, record)
    contact = ContactProfile(
        phone=known.phone,
        email=known.email,
        telegram_chat_id=profile.telegram_chat_id,
        preferred=record.preferred_channel or profile.preferred_channel,
    )
    language: Language = "en" if (record.language or profile.language) == "en" else "ru"
    return Recipient(
        contact,
        language,
        record.timezone or services.settings.timezone,
        record.opted_out,
        segment=record.segment,
        age_band=record.age_band,
        known=record.external_id is not None,
    )


@router.post("/events", response_model=OutreachOut, status_code=202, responses=_RESPONSES, summary="Trigger outreach")
async def outreach_event(
    body: OutreachEventIn,
    response: Response,
    services: ServicesDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> OutreachOut:
    _authorised(services, authorization)
    if (body.customer_id is None) == (body.external_id is None):
        raise ApiError(422, "invalid", "give either customer_id or external_id")
    record = (
        await services.records.get(body.customer_id)
        if body.customer_id is not None
        else await services.records.by_external_id(body.external_id or "")
    )
    if record is None:
        raise ApiError(404, "not_found", "no such customer in the system of record")
    event = OutreachEvent(body.trigger, record.customer_id, body.ref, body.data)
    now = time.time()
    try:
        planned = plan(
            event,
            await recipient_of(services, record),
            datetime.fromtimestamp(now, UTC),
            channels=services.desk.channel_policy,  # the deployment's quiet hours (CHANNEL_QUIET_HOURS_*)
            project=services.settings.zabota_project or None,
        )
    except OutreachError as error:
        raise ApiError(422, "invalid", str(error)) from error
    if isinstance(planned, NotSent):
        response.status_code = 200
        log.info("outreach.not_sent", trigger=body.trigger, reason=planned.reason)
        return OutreachOut(status="not_sent", reason=planned.detail)
    admission = await services.outreach.accept(planned, now)
    if admission.status != "scheduled":
        response.status_code = 200
    return OutreachOut(
        status=admission.status,
        outreach_id=admission.outreach_id,
        channel=planned.channel if admission.status == "scheduled" else None,
        send_at=planned.send_at if admission.status == "scheduled" else None,
        deferred=planned.deferred and admission.status == "scheduled",
    )


class TriggerCountOut(BaseModel):
    reached: int
    wrote_in: int
    prevented: int
    pending: int


class PreventedOut(BaseModel):
    since: datetime
    until: datetime
    reached: int = Field(description="Customers reached by outreach whose 72-hour window has closed")
    wrote_in: int = Field(description="Of those, how many replied or wrote in about the same thing within 72 h")
    prevented: int = Field(description="Contacts prevented: reached and did not write in about it within 72 h")
    prevented_share: float | None
    pending: int = Field(description="Sent less than 72 h ago: not counted yet")
    by_trigger: dict[str, TriggerCountOut]


@router.get(
    "/report",
    response_model=PreventedOut,
    responses={401: _RESPONSES[401], 403: {"model": ErrorBody, "description": "Not a lead's token"}},
    summary="Contacts prevented by outreach (lead role)",
)
async def outreach_report(
    services: ServicesDep,
    operator: OperatorDep,
    days: Annotated[int, Query(ge=1, le=90, description="Outreach sent in the last this many days")] = 7,
) -> PreventedOut:
    if not operator.is_lead:
        raise ApiError(403, "forbidden", "the outreach report needs a lead's token")
    now = datetime.now(UTC)
    since = now - timedelta(days=days)
    try:
        contacts = await services.records.outreach_with_replies(since, now, WINDOW)
    except (SQLAlchemyError, OSError) as exc:
        log.error("outreach.report_failed", error=type(exc).__name__)
        raise ApiError(503, "records_unavailable", "the system of record cannot be read now") from exc
    about = {name: rule.about for name, rule in services.outreach.rules.triggers.items()}
    report = contacts_prevented(contacts, about, now)
    return PreventedOut(
        since=since,
        until=now,
        reached=report.reached,
        wrote_in=report.wrote_in,
        prevented=report.prevented,
        prevented_share=report.prevented_share,
        pending=report.pending,
        by_trigger={name: TriggerCountOut(**vars(count)) for name, count in report.by_trigger.items()},
    )


@router.get("/{outreach_id}", response_model=OutreachStatusOut, responses=_RESPONSES, summary="A message's status")
async def outreach_status(
    outreach_id: Annotated[str, Path(pattern=r"^o-[0-9a-f]{16}$")],
    services: ServicesDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> OutreachStatusOut:
    _authorised(services, authorization)
    status = await services.outreach.status(outreach_id)
    if status is None:
        raise ApiError(404, "not_found", "no such outreach message")
    return OutreachStatusOut(
        outreach_id=outreach_id,
        status=status.get("status", ""),
        attempts=int(status.get("attempts", "0")),
        error=status.get("error"),
    )


def confirm_buttons(language: Language) -> tuple[Button, ...]:
    """Yes / no under a confirm question in Telegram (zabota/outreach/replies.py reads the payloads)."""
    if language == "en":
        return (
            Button(title="Yes, it was me", payload=YES_PAYLOAD),
            Button(title="No, it was not me", payload=NO_PAYLOAD),
        )
    return (Button(title="Да, это я", payload=YES_PAYLOAD), Button(title="Нет, это не я", payload=NO_PAYLOAD))


class OutreachSender:
    """Delivers what is due, in the planned channel, to the customer's current address for it."""

    def __init__(self, services: Services, interval_seconds: float) -> None:
        self._services = services
        self._interval = interval_seconds

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.send_due(time.time())
            except Exception as exc:  # the loop must outlive one bad round; logged loudly
                log.error("outreach.round_failed", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)

    async def send_due(self, now: float) -> int:
        queue: OutreachQueue = self._services.outreach
        sent = 0
        for outreach_id, planned in await queue.claim_due(now):
            if await self._deliver(planned):
                await queue.mark_sent(outreach_id, now, planned)
                await self._continue_conversation(outreach_id, planned, now)
                await self._record(outreach_id, planned, now)
                sent += 1
            else:
                await queue.mark_failed(outreach_id, now, f"{planned.channel} delivery failed or not configured")
        return sent

    async def _deliver(self, planned: OutreachPlan) -> bool:
        services = self._services
        record = await services.records.get(planned.customer_id)
        if record is None:
            return False
        recipient = await recipient_of(services, record)
        contact, channels = recipient.contact, services.channels
        if planned.channel == "telegram" and contact.telegram_chat_id is not None:
            buttons = confirm_buttons(recipient.language) if planned.follow_up == "confirm" else ()
            return await channels.send_telegram(contact.telegram_chat_id, planned.text, buttons) is not None
        if planned.channel == "sms" and contact.phone:
            return await channels.send_sms(contact.phone, planned.text) is not None
        if planned.channel == "email" and contact.email:
            subject = "Забота" if recipient.language == "ru" else "Zabota"
            return await channels.send_email(contact.email, subject, planned.text) is not None
        return False

    async def _continue_conversation(self, outreach_id: str, planned: OutreachPlan, now: float) -> None:
        """The message joins the customer's conversation (their history, the operator's summary) and is
        remembered for the reply window: a reply continues it, a confirm question reads the yes or no."""
        services = self._services
        rule = services.outreach.rules.triggers.get(planned.trigger)
        context = OutreachContext(
            outreach_id=outreach_id,
            trigger=planned.trigger,
            channel=planned.channel,
            text=planned.text,
            sent_at=now,
            follow_up=planned.follow_up,
            awaiting_answer=planned.follow_up == "confirm",
            on_no=rule.on_no if rule is not None else None,
        )
        entry = HistoryEntry(
            role="bot",
            message_id=outreach_id,
            timestamp=now,
            channel=planned.channel,
            text=redact(planned.text),
            custom={"outreach": {"id": outreach_id, "trigger": planned.trigger}},
        )
        try:
            await services.outreach.remember_sent(planned.customer_id, context)
            await services.inbox.record_lines(planned.customer_id, [entry])
        except RedisError as exc:
            # sent already: a reply then goes to the bot without the outreach's context (logged loudly)
            log.error("outreach.context_failed", outreach_id=outreach_id, error=type(exc).__name__)

    async def _record(self, outreach_id: str, planned: OutreachPlan, now: float) -> None:
        try:
            await self._services.records.record_contact(
                ContactData(
                    id=outreach_id,
                    customer_id=planned.customer_id,
                    channel="outreach",
                    started_at=datetime.fromtimestamp(now, UTC),
                    flows=(f"outreach:{planned.trigger}",),
                )
            )
        except (SQLAlchemyError, OSError) as exc:
            log.error(
                "records.outreach_contact_failed", customer=mask_for_log(planned.customer_id), error=type(exc).__name__
            )
