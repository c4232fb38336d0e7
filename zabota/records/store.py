"""Reading and writing the system of record: customers and their contacts (``CustomerRecords``).

Input is validated here, in plain dataclasses, before anything is written: a bad phone, an unknown segment or an
account number another customer holds raises ``RecordError`` with the field and the reason, and nothing of the
request is written (one transaction per call). The ORM rows never leave this module.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from zabota.entity_values import normalize_account_number, normalize_phone
from zabota.identity import PreferredChannel, new_customer_id
from zabota.language import SUPPORTED
from zabota.records.schema import (
    ChannelConsent,
    Contact,
    Customer,
    CustomerAccount,
    CustomerEmail,
    CustomerPhone,
)
from zabota.records.settings import RecordsSettings

log = structlog.stdlib.get_logger(__name__)

SEGMENTS = ("b2c", "b2b")
AGE_BANDS = ("under-18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+")
CONSENT_CHANNELS = ("sms", "telegram", "email", "voice", "webchat")
CONTACT_CHANNELS = ("webchat", "telegram", "voice", "sms", "email", "outreach")
FEEDBACK = ("helpful", "unhelpful")
# resolved: an operator closed it; handed_back: the operator gave the conversation back to the bot;
# unresolved / abandoned: as a team's own tools report them
HANDOFF_OUTCOMES = ("resolved", "handed_back", "unresolved", "abandoned")
PRIORITIES = ("p1", "p2", "p3", "p4")
CONSENT_SOURCES = ("customer", "crm", "operator")
MAX_TAGS = 20
MAX_TAG_CHARS = 40
MAX_LIST = 10  # phones, emails or accounts per customer in one request
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s.]{2,}$")
_EXTERNAL_ID = re.compile(r"^[\w.:\-]{1,128}$")
_CUSTOMER_ID = re.compile(r"^c-[0-9a-f]{16}$")
_CONTACT_ID = re.compile(r"^[\w.:\-]{1,64}$")


class RecordError(ValueError):
    """Input the system of record refuses: ``field`` names what is wrong; ``conflict`` when it clashes with
    another customer's data (an HTTP 409 rather than a 422)."""

    def __init__(self, field_name: str, reason: str, conflict: bool = False) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason
        self.conflict = conflict


def _one_of(name: str, value: str | None, allowed: Iterable[str]) -> str | None:
    if value is None:
        return None
    allowed = tuple(allowed)
    if value not in allowed:
        raise RecordError(name, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def _text(name: str, value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > limit:
        raise RecordError(name, f"longer than {limit} characters")
    return value


@dataclass(frozen=True)
class Account:
    account_number: str
    contract_number: str | None = None


@dataclass(frozen=True)
class CustomerData:
    """A profile as a source gives it (the customers API, a CSV import, a CRM). ``None`` leaves a field as it
    is; the phones, emails and accounts given are added to those the customer has."""

    external_id: str | None = None
    name: str | None = None
    segment: str | None = None
    age_band: str | None = None
    region: str | None = None
    timezone: str | None = None
    language: str | None = None
    preferred_channel: str | None = None
    tags: tuple[str, ...] | None = None
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    accounts: tuple[Account, ...] = ()
    # channels the customer opted out of, as the source knows it
    opted_out: tuple[str, ...] = ()

    def validated(self) -> CustomerData:
        """The same data normalised (phones in E.164, emails in lower case, accounts as digits), or
        ``RecordError`` for the first field that is wrong."""
        if self.external_id is not None and not _EXTERNAL_ID.match(self.external_id):
            raise RecordError("external_id", "1-128 letters, digits or . : - _")
        if self.timezone is not None:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError) as error:
                raise RecordError("timezone", f"{self.timezone!r} is not an IANA time zone") from error
        for name, values in (("phones", self.phones), ("emails", self.emails), ("accounts", self.accounts)):
            if len(values) > MAX_LIST:
                raise RecordError(name, f"at most {MAX_LIST}")
        phones = []
        for raw in self.phones:
            phone = normalize_phone(raw)
            if phone is None:
                raise RecordError("phones", f"{raw!r} is not a Russian phone number")
            phones.append(phone)
        emails = []
        for raw in self.emails:
            email = raw.strip().lower()
            if not _EMAIL.match(email):
                raise RecordError("emails", f"{raw!r} is not an email address")
            emails.append(email)
        accounts = []
        for account in self.accounts:
            number = normalize_account_number(account.account_number)
            if number is None:
                raise RecordError("accounts", f"{account.account_number!r} is not a 12-digit account number")
            accounts.append(Account(number, _text("accounts.contract_number", account.contract_number, 64)))
        tags = None
        if self.tags is not None:
            if len(self.tags) > MAX_TAGS:
                raise RecordError("tags", f"at most {MAX_TAGS}")
            tags = tuple(dict.fromkeys(t for t in (_text("tags", tag, MAX_TAG_CHARS) for tag in self.tags) if t))
        for channel in self.opted_out:
            _one_of("opted_out", channel, CONSENT_CHANNELS)
        return CustomerData(
            external_id=self.external_id,
            name=_text("name", self.name, 200),
            segment=_one_of("segment", self.segment, SEGMENTS),
            age_band=_one_of("age_band", self.age_band, AGE_BANDS),
            region=_text("region", self.region, 100),
            timezone=self.timezone,
            language=_one_of("language", self.language, SUPPORTED),
            preferred_channel=_one_of("preferred_channel", self.preferred_channel, get_args(PreferredChannel)),
            tags=tags,
            phones=tuple(dict.fromkeys(phones)),
            emails=tuple(dict.fromkeys(emails)),
            accounts=tuple({a.account_number: a for a in accounts}.values()),
            opted_out=tuple(dict.fromkeys(self.opted_out)),
        )


@dataclass(frozen=True)
class CustomerRecord:
    customer_id: str
    external_id: str | None
    name: str | None
    segment: str | None
    age_band: str | None
    region: str | None
    timezone: str | None
    language: str | None
    preferred_channel: str | None
    tags: tuple[str, ...]
    phones: tuple[str, ...]
    emails: tuple[str, ...]
    accounts: tuple[Account, ...]
    opted_out: frozenset[str]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ContactData:
    """What one contact adds to the record: it is written again as the conversation goes on (same ``id``); the
    lists grow (each intent, article or flow once), the other fields are set when given."""

    id: str
    customer_id: str
    channel: str
    started_at: datetime
    ended_at: datetime | None = None
    intents: tuple[str, ...] = ()
    articles: tuple[str, ...] = ()
    flows: tuple[str, ...] = ()
    feedback: str | None = None
    handoff_id: str | None = None
    handoff_priority: str | None = None
    handoff_outcome: str | None = None
    signals: tuple[str, ...] = ()

    def validated(self) -> ContactData:
        if not _CONTACT_ID.match(self.id):
            raise RecordError("id", "1-64 letters, digits or . : - _")
        if not _CUSTOMER_ID.match(self.customer_id):
            raise RecordError("customer_id", "not a customer id (c- and 16 hex digits)")
        _one_of("channel", self.channel, CONTACT_CHANNELS)
        _one_of("feedback", self.feedback, FEEDBACK)
        _one_of("handoff_priority", self.handoff_priority, PRIORITIES)
        _one_of("handoff_outcome", self.handoff_outcome, HANDOFF_OUTCOMES)
        lists = (
            ("intents", self.intents),
            ("articles", self.articles),
            ("flows", self.flows),
            ("signals", self.signals),
        )
        for name, values in lists:
            for value in values:
                _text(name, value, 64)
        if self.started_at.tzinfo is None or (self.ended_at is not None and self.ended_at.tzinfo is None):
            raise RecordError("started_at", "times must carry their time zone")
        # stored and given back in UTC, whatever zone the source wrote
        return replace(
            self,
            started_at=self.started_at.astimezone(UTC),
            ended_at=self.ended_at.astimezone(UTC) if self.ended_at is not None else None,
        )


@dataclass(frozen=True)
class ContactRecord:
    id: str
    customer_id: str
    channel: str
    started_at: datetime
    ended_at: datetime | None
    intents: tuple[str, ...]
    articles: tuple[str, ...]
    flows: tuple[str, ...]
    feedback: str | None
    handoff_id: str | None
    handoff_priority: str | None
    handoff_outcome: str | None
    signals: tuple[str, ...] = ()


def new_contact_id() -> str:
    return "k-" + secrets.token_hex(8)


def create_engine(settings: RecordsSettings) -> AsyncEngine:
    """The application's engine. SQLite: foreign keys on (SQLite leaves them off per connection)."""
    engine = create_async_engine(settings.async_url, pool_pre_ping=settings.dialect == "postgresql")
    if settings.dialect == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _foreign_keys(dbapi_connection: object, _record: object) -> None:
            cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    return engine


def _aware(value: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back; everything here is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _record(row: Customer) -> CustomerRecord:
    return CustomerRecord(
        customer_id=row.id,
        external_id=row.external_id,
        name=row.name,
        segment=row.segment,
        age_band=row.age_band,
        region=row.region,
        timezone=row.timezone,
        language=row.language,
        preferred_channel=row.preferred_channel,
        tags=tuple(row.tags or ()),
        phones=tuple(p.phone for p in sorted(row.phones, key=lambda p: p.id)),
        emails=tuple(e.email for e in sorted(row.emails, key=lambda e: e.id)),
        accounts=tuple(Account(a.account_number, a.contract_number) for a in sorted(row.accounts, key=lambda a: a.id)),
        opted_out=frozenset(c.channel for c in row.consents if c.opted_out),
        created_at=_aware(row.created_at) or row.created_at,
        updated_at=_aware(row.updated_at) or row.updated_at,
    )


def _contact_record(row: Contact) -> ContactRecord:
    return ContactRecord(
        id=row.id,
        customer_id=row.customer_id,
        channel=row.channel,
        started_at=_aware(row.started_at) or row.started_at,
        ended_at=_aware(row.ended_at),
        intents=tuple(row.intents or ()),
        articles=tuple(row.articles or ()),
        flows=tuple(row.flows or ()),
        feedback=row.feedback,
        handoff_id=row.handoff_id,
        handoff_priority=row.handoff_priority,
        handoff_outcome=row.handoff_outcome,
        signals=tuple(row.signals or ()),
    )


def _grown(existing: Sequence[str] | None, added: Sequence[str]) -> list[str]:
    return list(dict.fromkeys([*(existing or ()), *added]))


@dataclass
class CustomerRecords:
    """The customers and contacts of one database. Build it from ``create_engine(RecordsSettings.from_env())``;
    no I/O until the first call."""

    engine: AsyncEngine
    _sessions: async_sessionmaker[AsyncSession] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def upsert_customer(
        self, data: CustomerData, customer_id: str | None = None, now: datetime | None = None
    ) -> tuple[CustomerRecord, bool]:
        """Creates or updates a customer: by ``external_id`` when given, else by ``customer_id`` (the identity
        directory's id); a new one gets ``customer_id`` or a new id. Returns the record and whether it was
        created. The same data twice gives the same record (idempotent)."""
        clean = data.validated()
        if customer_id is not None and not _CUSTOMER_ID.match(customer_id):
            raise RecordError("customer_id", "not a customer id (c- and 16 hex digits)")
        now = now or datetime.now(UTC)
        async with self._sessions.begin() as session:
            row: Customer | None = None
            if clean.external_id is not None:
                row = await session.scalar(select(Customer).where(Customer.external_id == clean.external_id))
            if row is None and customer_id is not None:
                row = await session.get(Customer, customer_id)
                if row is not None and row.external_id not in (None, clean.external_id) and clean.external_id:
                    raise RecordError("external_id", f"customer {customer_id} has another external id", conflict=True)
            created = row is None
            before = _record(row) if row is not None else None
            if row is None:
                row = Customer(
                    id=customer_id or new_customer_id(),
                    tags=[],
                    created_at=now,
                    updated_at=now,
                    phones=[],
                    emails=[],
                    accounts=[],
                    consents=[],
                )
                session.add(row)
            for name in ("external_id", "name", "segment", "age_band", "region", "timezone", "language"):
                value = getattr(clean, name)
                if value is not None:
                    setattr(row, name, value)
            if clean.preferred_channel is not None:
                row.preferred_channel = clean.preferred_channel
            if clean.tags is not None:
                row.tags = list(clean.tags)
            known_phones = {p.phone for p in row.phones}
            row.phones.extend(CustomerPhone(phone=p, verified=True) for p in clean.phones if p not in known_phones)
            known_emails = {e.email for e in row.emails}
            row.emails.extend(CustomerEmail(email=e, verified=True) for e in clean.emails if e not in known_emails)
            await self._add_accounts(session, row, clean.accounts)
            for channel in clean.opted_out:
                self._set_consent(row, channel, True, "crm", now)
            await session.flush()
            record = _record(row)
            if before is not None and record != before:
                # the same data again changes nothing, its time included: an idempotent upsert
                row.updated_at = now
                await session.flush()
                record = _record(row)
        log.info("records.customer_saved", customer=record.customer_id, created=created)
        return record, created

    @staticmethod
    async def _add_accounts(session: AsyncSession, row: Customer, accounts: Sequence[Account]) -> None:
        known = {a.account_number: a for a in row.accounts}
        for account in accounts:
            if account.account_number in known:
                if account.contract_number is not None:
                    known[account.account_number].contract_number = account.contract_number
                continue
            owner = await session.scalar(
                select(CustomerAccount.customer_id).where(CustomerAccount.account_number == account.account_number)
            )
            if owner is not None and owner != row.id:
                raise RecordError(
                    "accounts", f"account …{account.account_number[-3:]} belongs to another customer", True
                )
            row.accounts.append(
                CustomerAccount(account_number=account.account_number, contract_number=account.contract_number)
            )

    @staticmethod
    def _set_consent(row: Customer, channel: str, opted_out: bool, source: str, now: datetime) -> None:
        for consent in row.consents:
            if consent.channel == channel:
                consent.opted_out, consent.source, consent.changed_at = opted_out, source, now
                return
        row.consents.append(ChannelConsent(channel=channel, opted_out=opted_out, source=source, changed_at=now))

    async def get(self, customer_id: str) -> CustomerRecord | None:
        async with self._sessions() as session:
            row = await session.get(Customer, customer_id)
            return _record(row) if row is not None else None

    async def by_external_id(self, external_id: str) -> CustomerRecord | None:
        async with self._sessions() as session:
            row = await session.scalar(select(Customer).where(Customer.external_id == external_id))
            return _record(row) if row is not None else None

    async def by_verified_phone(self, phone: str) -> list[CustomerRecord]:
        """The customers a verified number belongs to (a number typed in a chat is never verified)."""
        number = normalize_phone(phone)
        if number is None:
            return []
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Customer)
                .join(CustomerPhone)
                .where(CustomerPhone.phone == number, CustomerPhone.verified.is_(True))
                .order_by(Customer.created_at)
            )
            return [_record(row) for row in rows.unique()]

    async def set_opt_out(
        self, customer_id: str, channel: str, opted_out: bool, source: str = "customer", now: datetime | None = None
    ) -> CustomerRecord:
        _one_of("channel", channel, CONSENT_CHANNELS)
        _one_of("source", source, CONSENT_SOURCES)
        async with self._sessions.begin() as session:
            row = await session.get(Customer, customer_id)
            if row is None:
                raise RecordError("customer_id", f"no customer {customer_id}")
            moment = now or datetime.now(UTC)
            self._set_consent(row, channel, opted_out, source, moment)
            row.updated_at = moment
            await session.flush()
            record = _record(row)
        log.info("records.consent_changed", customer=customer_id, channel=channel, opted_out=opted_out, source=source)
        return record

    async def record_contact(self, data: ContactData) -> ContactRecord:
        """Writes a contact, or adds to it (same id): intents, articles and flows grow, each once; the other
        fields are set where given. The customer must exist."""
        clean = data.validated()
        async with self._sessions.begin() as session:
            if await session.get(Customer, clean.customer_id) is None:
                raise RecordError("customer_id", f"no customer {clean.customer_id}")
            row = await session.get(Contact, clean.id)
            if row is None:
                row = Contact(
                    id=clean.id,
                    customer_id=clean.customer_id,
                    channel=clean.channel,
                    started_at=clean.started_at,
                    intents=[],
                    articles=[],
                    flows=[],
                    signals=[],
                )
                session.add(row)
            elif row.customer_id != clean.customer_id:
                raise RecordError("id", f"contact {clean.id} belongs to another customer", conflict=True)
            row.intents = _grown(row.intents, clean.intents)
            row.articles = _grown(row.articles, clean.articles)
            row.flows = _grown(row.flows, clean.flows)
            row.signals = _grown(row.signals, clean.signals)
            for name in ("ended_at", "feedback", "handoff_id", "handoff_priority", "handoff_outcome"):
                value = getattr(clean, name)
                if value is not None:
                    setattr(row, name, value)
            await session.flush()
            record = _contact_record(row)
        return record

    async def set_handoff_outcome(self, handoff_id: str, outcome: str, at: datetime | None = None) -> int:
        """The outcome of a handoff on the contact it was opened in; how many contacts it was (0 when the
        handoff is not in the record, e.g. opened before the system of record existed)."""
        _one_of("outcome", outcome, HANDOFF_OUTCOMES)
        async with self._sessions.begin() as session:
            rows = list(await session.scalars(select(Contact).where(Contact.handoff_id == handoff_id)))
            for row in rows:
                row.handoff_outcome = outcome
                row.ended_at = row.ended_at or at or datetime.now(UTC)
        log.info("records.handoff_outcome", handoff_id=handoff_id, outcome=outcome, contacts=len(rows))
        return len(rows)

    async def intent_occasions(
        self,
        customer_id: str,
        since: datetime,
        exclude_contact: str | None = None,
        problem_of: Mapping[str, str] | None = None,
    ) -> dict[str, int]:
        """intent -> in how many of the customer's contacts since ``since`` it came up (every channel; one
        contact is one occasion however often it was said there), leaving out ``exclude_contact``; with
        ``problem_of`` (intent -> its problem's key), each problem's key too, once per contact however many of
        its intents came up there."""
        problem_of = problem_of or {}
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Contact.intents).where(Contact.customer_id == customer_id, Contact.started_at >= since)
                if exclude_contact is None
                else select(Contact.intents).where(
                    Contact.customer_id == customer_id, Contact.started_at >= since, Contact.id != exclude_contact
                )
            )
            counts: dict[str, int] = {}
            for intents in rows:
                seen = set(intents or ())
                for key in seen | {problem_of[intent] for intent in seen if intent in problem_of}:
                    counts[key] = counts.get(key, 0) + 1
        return counts

    async def outreach_with_replies(
        self, since: datetime, until: datetime, reply_window: timedelta, limit: int = 100_000
    ) -> list[ContactRecord]:
        """The outreach contacts started in [since, until) and the same customers' other contacts from ``since``
        to ``until`` + ``reply_window`` (zabota/outreach/prevented.py reads them); at most ``limit`` outreach
        contacts, oldest first."""
        async with self._sessions() as session:
            sent = list(
                await session.scalars(
                    select(Contact)
                    .where(Contact.channel == "outreach", Contact.started_at >= since, Contact.started_at < until)
                    .order_by(Contact.started_at, Contact.id)
                    .limit(limit)
                )
            )
            customers = sorted({row.customer_id for row in sent})
            others: list[Contact] = []
            for start in range(0, len(customers), 500):  # bound the IN list
                others.extend(
                    await session.scalars(
                        select(Contact).where(
                            Contact.customer_id.in_(customers[start : start + 500]),
                            Contact.channel != "outreach",
                            Contact.started_at >= since,
                            Contact.started_at <= until + reply_window,
                        )
                    )
                )
            return [_contact_record(row) for row in (*sent, *others)]

    async def recent_contacts(self, customer_id: str, limit: int = 10) -> list[ContactRecord]:
        """The customer's last ``limit`` contacts, newest first, every channel."""
        if not 1 <= limit <= 100:
            raise RecordError("limit", "between 1 and 100")
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Contact)
                .where(Contact.customer_id == customer_id)
                .order_by(Contact.started_at.desc(), Contact.id.desc())
                .limit(limit)
            )
            return [_contact_record(row) for row in rows]
