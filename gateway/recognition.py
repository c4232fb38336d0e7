"""Recognising a known customer by a verified phone number (the caller's, a Telegram shared contact, an SMS
sender): when the identity directory has never seen the number but the system of record holds it as a
verified phone of a customer (the company's records, a CRM), that customer is who this is. Only verified
numbers: a number typed in a chat never merges anyone (zabota/identity.py)."""

from __future__ import annotations

import structlog
from sqlalchemy.exc import SQLAlchemyError

from zabota.identity import CustomerDirectory, channel_key
from zabota.records import CustomerRecords
from zabota.redaction import mask_for_log

log = structlog.get_logger(__name__)


async def recorded_customer(customers: CustomerDirectory, records: CustomerRecords, phone: str) -> str | None:
    """The customer the system of record holds a verified number for, when the directory does not know the
    number yet (the directory then points the number at that customer); None otherwise."""
    key = channel_key("tel", phone)
    if await customers.lookup(key) is not None:
        return None
    try:
        recorded = await records.by_verified_phone(phone)
    except (SQLAlchemyError, OSError) as exc:
        log.error("records.recognition_unavailable", error=type(exc).__name__)
        return None
    if len(recorded) > 1:
        # one number on several records (a family plan): not guessed, the channel's own id is used
        log.warning("identity.phone_on_several_records", records=len(recorded))
        return None
    if not recorded:
        return None
    customer_id = recorded[0].customer_id
    await customers.point(key, customer_id)
    log.info("identity.recognised_from_records", customer=mask_for_log(customer_id))
    return customer_id


async def customer_for_verified_phone(customers: CustomerDirectory, records: CustomerRecords, phone: str) -> str:
    """The customer id for a verified number: the directory's, else the record's that holds the number, else a
    new one."""
    return await recorded_customer(customers, records, phone) or await customers.resolve(channel_key("tel", phone))
