"""The customers API: profiles in the system of record (zabota/records), for the company's other systems and the
console. ``POST /api/v1/customers`` is an idempotent upsert by the company's own id (``external_id``), for a
lead's token; reading a profile and its last contacts needs any operator token (an operator sees the profile of
the customer they answer anyway)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Depends, Header, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.errors import ApiError, ErrorBody
from gateway.operator_auth import Operator
from gateway.operators import OperatorDep, ServicesDep
from zabota.records import ContactData, CustomerData, CustomerRecord, RecordError
from zabota.records.store import Account, ContactRecord

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/v1/customers", tags=["customers"])

# a profile is a few kilobytes; anything far larger is a mistake or an attack, refused before it is read
MAX_BODY_BYTES = 64 * 1024
CUSTOMER_ID_PATTERN = r"^c-[0-9a-f]{16}$"
EXTERNAL_ID_PATTERN = r"^[\w.:\-]{1,128}$"

CustomerId = Annotated[str, Path(pattern=CUSTOMER_ID_PATTERN, description="The customer id (c- and 16 hex digits)")]
Segment = Literal["b2c", "b2b"]
AgeBand = Literal["under-18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"]
ConsentChannel = Literal["sms", "telegram", "email", "voice", "webchat"]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid operator token"},
    403: {"model": ErrorBody, "description": "The token's role does not allow this"},
    404: {"model": ErrorBody, "description": "No such customer"},
    409: {"model": ErrorBody, "description": "The data belongs to another customer (an account number)"},
    413: {"model": ErrorBody, "description": "The body is larger than 64 KB"},
    422: {"model": ErrorBody, "description": "A field is invalid; `detail` names it"},
}


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_number: str = Field(min_length=1, max_length=32, description="12 digits, spaces allowed")
    contract_number: str | None = Field(default=None, max_length=64)


class CustomerIn(BaseModel):
    """A profile from the company's records. Fields left out stay as they are; phones, emails and accounts are
    added to the customer's (they are the company's records, so verified)."""

    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(pattern=EXTERNAL_ID_PATTERN, description="The company's id of this customer")
    name: str | None = Field(default=None, max_length=200)
    segment: Segment | None = None
    age_band: AgeBand | None = None
    region: str | None = Field(default=None, max_length=100)
    timezone: str | None = Field(default=None, max_length=64, description="IANA time zone, e.g. Europe/Moscow")
    language: Literal["ru", "en"] | None = None
    preferred_channel: Literal["sms", "telegram", "email"] | None = None
    tags: list[Annotated[str, Field(max_length=40)]] | None = Field(default=None, max_length=20)
    phones: list[Annotated[str, Field(max_length=32)]] = Field(default_factory=list, max_length=10)
    emails: list[Annotated[str, Field(max_length=254)]] = Field(default_factory=list, max_length=10)
    accounts: list[AccountIn] = Field(default_factory=list, max_length=10)
    opted_out: list[ConsentChannel] = Field(default_factory=list, max_length=5)

    def data(self) -> CustomerData:
        return CustomerData(
            external_id=self.external_id,
            name=self.name,
            segment=self.segment,
            age_band=self.age_band,
            region=self.region,
            timezone=self.timezone,
            language=self.language,
            preferred_channel=self.preferred_channel,
            tags=tuple(self.tags) if self.tags is not None else None,
            phones=tuple(self.phones),
            emails=tuple(self.emails),
            accounts=tuple(Account(a.account_number, a.contract_number) for a in self.accounts),
            opted_out=tuple(self.opted_out),
        )


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    account_number: str
    contract_number: str | None


class CustomerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    customer_id: str
    external_id: str | None
    name: str | None
    segment: str | None
    age_band: str | None
    region: str | None
    timezone: str | None
    language: str | None
    preferred_channel: str | None
    tags: list[str]
    phones: list[str]
    emails: list[str]
    accounts: list[AccountOut]
    opted_out: list[str]
    created_at: datetime
    updated_at: datetime

    @field_validator("opted_out", mode="before")
    @classmethod
    def _in_order(cls, value: Any) -> Any:
        return sorted(value) if isinstance(value, set | frozenset) else value

    @classmethod
    def of(cls, record: CustomerRecord) -> CustomerOut:
        return cls.model_validate(record)


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    channel: str
    started_at: datetime
    ended_at: datetime | None
    intents: list[str]
    articles: list[str]
    flows: list[str]
    feedback: str | None
    handoff_id: str | None
    handoff_priority: str | None
    handoff_outcome: str | None
    signals: list[str]

    @classmethod
    def of(cls, contact: ContactRecord) -> ContactOut:
        return cls.model_validate(contact)


class ContactIn(BaseModel):
    """A past contact from the company's other systems (a call-centre log, an older helpdesk), so that the
    history the service reads (recurring problems, churn risk, the console) starts where theirs ends."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[\w.:\-]{1,64}$", description="The contact's id in the source system")
    channel: Literal["webchat", "telegram", "voice", "sms", "email", "outreach"]
    started_at: datetime = Field(description="With its time zone, e.g. 2026-12-01T10:00:00+03:00")
    ended_at: datetime | None = None
    intents: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=20)
    articles: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=20)
    flows: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=20)
    feedback: Literal["helpful", "unhelpful"] | None = None
    handoff_id: str | None = Field(default=None, max_length=64)
    handoff_priority: Literal["p1", "p2", "p3", "p4"] | None = None
    handoff_outcome: Literal["resolved", "handed_back", "unresolved", "abandoned"] | None = None
    signals: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=20)


class ContactsOut(BaseModel):
    customer_id: str
    contacts: list[ContactOut]


def limited_body(content_length: Annotated[int | None, Header(include_in_schema=False)] = None) -> None:
    if content_length is not None and content_length > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", f"the body is {content_length} bytes; at most {MAX_BODY_BYTES}")


def _refused(error: RecordError) -> ApiError:
    if error.conflict:
        return ApiError(409, "conflict", str(error))
    return ApiError(422, "invalid", str(error))


def _lead(operator: Operator) -> None:
    if not operator.is_lead:
        raise ApiError(403, "forbidden", "loading customer profiles needs a lead's token")


@router.post(
    "",
    response_model=CustomerOut,
    status_code=200,
    responses={**_RESPONSES, 201: {"model": CustomerOut, "description": "A new customer was created"}},
    dependencies=[Depends(limited_body)],
    summary="Create or update a customer by external_id (idempotent; lead role)",
)
async def upsert_customer(
    body: CustomerIn, response: Response, services: ServicesDep, operator: OperatorDep
) -> CustomerOut:
    _lead(operator)
    try:
        record, created = await services.records.upsert_customer(body.data())
    except RecordError as error:
        raise _refused(error) from error
    response.status_code = 201 if created else 200
    log.info("customers.saved", customer=record.customer_id, created=created, by=operator.id)
    return CustomerOut.of(record)


@router.get("", response_model=CustomerOut, responses=_RESPONSES, summary="Find a customer by external_id")
async def find_customer(
    services: ServicesDep,
    operator: OperatorDep,
    external_id: Annotated[str, Query(pattern=EXTERNAL_ID_PATTERN)],
) -> CustomerOut:
    record = await services.records.by_external_id(external_id)
    if record is None:
        raise ApiError(404, "not_found", "no customer with this external_id")
    return CustomerOut.of(record)


@router.get("/{customer_id}", response_model=CustomerOut, responses=_RESPONSES, summary="One customer's profile")
async def get_customer(customer_id: CustomerId, services: ServicesDep, operator: OperatorDep) -> CustomerOut:
    record = await services.records.get(customer_id)
    if record is None:
        raise ApiError(404, "not_found", "no such customer")
    return CustomerOut.of(record)


@router.get(
    "/{customer_id}/contacts",
    response_model=ContactsOut,
    responses=_RESPONSES,
    summary="The customer's last contacts, newest first, every channel",
)
async def customer_contacts(
    customer_id: CustomerId,
    services: ServicesDep,
    operator: OperatorDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> ContactsOut:
    if await services.records.get(customer_id) is None:
        raise ApiError(404, "not_found", "no such customer")
    contacts = await services.records.recent_contacts(customer_id, limit)
    return ContactsOut(customer_id=customer_id, contacts=[ContactOut.of(c) for c in contacts])


@router.post(
    "/{customer_id}/contacts",
    response_model=ContactOut,
    responses=_RESPONSES,
    dependencies=[Depends(limited_body)],
    summary="Load a past contact into the customer's history (idempotent by contact id; lead role)",
)
async def add_contact(
    customer_id: CustomerId, body: ContactIn, services: ServicesDep, operator: OperatorDep
) -> ContactOut:
    _lead(operator)
    if await services.records.get(customer_id) is None:
        raise ApiError(404, "not_found", "no such customer")
    data = ContactData(
        id=body.id,
        customer_id=customer_id,
        channel=body.channel,
        started_at=body.started_at,
        ended_at=body.ended_at,
        intents=tuple(body.intents),
        articles=tuple(body.articles),
        flows=tuple(body.flows),
        feedback=body.feedback,
        handoff_id=body.handoff_id,
        handoff_priority=body.handoff_priority,
        handoff_outcome=body.handoff_outcome,
        signals=tuple(body.signals),
    )
    try:
        contact = await services.records.record_contact(data)
    except RecordError as error:
        raise _refused(error) from error
    log.info("customers.contact_loaded", customer=customer_id, contact=contact.id, by=operator.id)
    return ContactOut.of(contact)
