"""The tables of the system of record (SQLAlchemy 2 typed ORM). The migrations in zabota/records/migrations
create exactly these (tests/zabota/records/test_migrations.py compares the two)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# constraint names spelled out, so that the migrations and every database name them alike
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Customer(Base):
    __tablename__ = "customers"

    # the same id as the gateway's identity directory (c- + 16 hex) and Rasa's sender id
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # the company's own id of this customer (CRM contact id), unique when given: the key of an idempotent upsert
    external_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    segment: Mapped[str | None] = mapped_column(String(8))  # b2c | b2b
    age_band: Mapped[str | None] = mapped_column(String(16))  # e.g. 18-24, 65+
    region: Mapped[str | None] = mapped_column(String(100))
    timezone: Mapped[str | None] = mapped_column(String(64))  # IANA name, e.g. Europe/Moscow
    language: Mapped[str | None] = mapped_column(String(8))
    preferred_channel: Mapped[str | None] = mapped_column(String(16))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    phones: Mapped[list[CustomerPhone]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    emails: Mapped[list[CustomerEmail]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    accounts: Mapped[list[CustomerAccount]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    consents: Mapped[list[ChannelConsent]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class CustomerPhone(Base):
    __tablename__ = "customer_phones"
    __table_args__ = (UniqueConstraint("customer_id", "phone"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    phone: Mapped[str] = mapped_column(String(20), index=True)  # E.164, +79161234567
    # confirmed by a channel (the caller's number, Telegram's shared contact) or by the company's records;
    # a number typed in a chat is never verified (zabota/identity.py)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)


class CustomerEmail(Base):
    __tablename__ = "customer_emails"
    __table_args__ = (UniqueConstraint("customer_id", "email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254), index=True)  # lower case
    verified: Mapped[bool] = mapped_column(Boolean, default=False)


class CustomerAccount(Base):
    __tablename__ = "customer_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    # a personal account (лицевой счёт, 12 digits) belongs to one customer
    account_number: Mapped[str] = mapped_column(String(32), unique=True)
    contract_number: Mapped[str | None] = mapped_column(String(64))


class ChannelConsent(Base):
    """Consent per channel: a row exists once the customer (or the company's records) said something about it;
    no row means the channel's default (transactional messages yes, marketing no)."""

    __tablename__ = "channel_consents"
    __table_args__ = (UniqueConstraint("customer_id", "channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # sms | telegram | email | voice | webchat
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # who said so: "customer" (STOP, «отписаться»), "crm", "operator"
    source: Mapped[str] = mapped_column(String(16))


class Contact(Base):
    """One contact with a customer: a conversation in one channel, from its first message to its end."""

    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_customer_started", "customer_id", "started_at"),
        # the leads' figures read a window of conversations of every customer (zabota/analytics)
        Index("ix_contacts_started_at", "started_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # the intents of the contact's messages, in order, each once
    intents: Mapped[list[str]] = mapped_column(JSON, default=list)
    # what the bot gave: the knowledge-base articles shown and the flows run
    articles: Mapped[list[str]] = mapped_column(JSON, default=list)
    flows: Mapped[list[str]] = mapped_column(JSON, default=list)
    # the kinds of triage signal the customer's messages raised (anger, leaving, fraud, ...), each once
    signals: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # the customer's answer to «помогло?»: helpful | unhelpful, the last one given
    feedback: Mapped[str | None] = mapped_column(String(16))
    handoff_id: Mapped[str | None] = mapped_column(String(64))
    handoff_priority: Mapped[str | None] = mapped_column(String(4))
    # resolved | unresolved | abandoned, as the operator closed it
    handoff_outcome: Mapped[str | None] = mapped_column(String(16))


class StoredEvent(Base):
    """One event of the service (zabota/events), as the ingester moved it from the Redis stream: append-only,
    the source of the leads' analytics. Personal data is redacted before the event is emitted."""

    __tablename__ = "events"
    __table_args__ = (
        # the analytics' shapes: one kind over a period (per day), one customer's timeline (72-hour repeats,
        # churn), one handoff, article or outreach message; the leading column of each serves queries on it alone
        Index("ix_events_kind_at", "kind", "at"),
        Index("ix_events_customer_at", "customer_id", "at"),
    )

    # given when the event happens (e- + 16 hex): a replayed stream entry finds its row and is ignored
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    # no foreign key: an event may come before the customer's row is written, or outlive it
    customer_id: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(32))
    lang: Mapped[str | None] = mapped_column(String(16))
    ref: Mapped[str | None] = mapped_column(String(128), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
