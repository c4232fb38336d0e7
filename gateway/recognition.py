"""Recognising a known customer by a verified identity.

A verified phone number (the caller's, a Telegram shared contact, an SMS sender): when the identity directory
has never seen the number but the system of record holds it as a verified phone of a customer (the company's
records, a CRM), that customer is who this is. Only verified numbers: a number typed in a chat never merges
anyone (zabota/identity.py).

A signed site identity in the website chat (zabota/site_identity.py): the company's website, where the customer
is logged in, vouches for their ``external_id``; the widget's visitor id is pointed at that customer's record.
"""

from __future__ import annotations

import structlog
from pydantic import SecretStr
from sqlalchemy.exc import SQLAlchemyError

from gateway.errors import RETRY_AFTER_SECONDS, ApiError
from zabota import site_identity
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


async def customer_for_site_identity(
    customers: CustomerDirectory,
    records: CustomerRecords,
    sender_id: str,
    token: str,
    secret: SecretStr | None,
    *,
    now: float | None = None,
) -> str:
    """The customer a website's signed token vouches for, with the widget's visitor id ``web:<sender_id>`` pointed
    at them from now on; raises ``ApiError`` (nothing written) when the token cannot be used.

    The token wins over whatever the visitor id pointed at before (an anonymous conversation, or another customer
    who used this browser: a shared computer, another login), because the website knows who is logged in now.
    A token for an external id the records do not hold is refused rather than a record made up for it: the
    customers are loaded by the company (customers API, CSV, CRM sync), and a site signing the wrong id (its
    own user id instead of the CRM's, say) must show up at once, not fill the records with empty customers.
    """
    if secret is None:
        raise ApiError(
            400,
            "identity_not_configured",
            "site identity is not configured on this gateway (WEBCHAT_IDENTITY_SECRET): send the message without "
            "identity, or configure the secret the website signs with",
        )
    try:
        identity = site_identity.verify(token, secret.get_secret_value(), now=now)
    except site_identity.TokenExpired as exc:
        log.info("identity.webchat_refused", reason=exc.code, sender=mask_for_log(sender_id))
        raise ApiError(401, "identity_expired", str(exc)) from exc
    except site_identity.SiteIdentityError as exc:
        # a forged or broken token: worth a warning (an attack, or a website signing with another secret)
        log.warning("identity.webchat_refused", reason=exc.code, sender=mask_for_log(sender_id))
        raise ApiError(401, "identity_invalid", f"the identity token is not valid: {exc}") from exc
    try:
        record = await records.by_external_id(identity.external_id)
    except (SQLAlchemyError, OSError) as exc:
        # Not guessed from the directory: the visitor id may point at someone else (a shared computer), and
        # this customer's message must not land in that conversation. The widget keeps it and sends it again.
        log.error("records.recognition_unavailable", error=type(exc).__name__, channel="webchat")
        raise ApiError(
            503,
            "records_unavailable",
            "the customer records cannot be read now: the message was not accepted, send it again shortly",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from exc
    if record is None:
        log.warning("identity.webchat_unknown_customer", external_id=mask_for_log(identity.external_id))
        raise ApiError(
            404,
            "unknown_customer",
            "the signed external_id is not a customer in the records: load it through POST /api/v1/customers",
        )
    key = channel_key("web", sender_id)
    previous = await customers.lookup(key)
    await customers.point(key, record.customer_id)  # also when unchanged: it renews the link's lifetime
    if previous != record.customer_id:
        log.info(
            "identity.webchat_recognised",
            sender=mask_for_log(sender_id),
            customer=mask_for_log(record.customer_id),
            external_id=mask_for_log(identity.external_id),
            replaced=previous is not None,
        )
    return record.customer_id
