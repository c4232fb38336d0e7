"""Bitrix24 CRM as a source of customer profiles: its REST API through an inbound webhook
(``https://<portal>.bitrix24.ru/rest/<user id>/<webhook code>/``, ``BITRIX24_WEBHOOK_URL``; the code is a secret,
so the URL comes from the environment and is never logged).

- ``crm.contact.get`` (``ID``) and ``crm.contact.list`` (``filter``, ``select``, ``start``; 50 a page, ``next``
  gives the next page's start): a contact's ``NAME``/``LAST_NAME``, its multi-fields ``PHONE`` and ``EMAIL``
  (``[{"VALUE": ..., "VALUE_TYPE": "WORK"}]``; a list returns them only when selected by name), ``COMPANY_ID``.
- ``crm.deal.list`` filtered by ``CONTACT_ID``: the contact's deals (title, stage, amount), for the operator.

A contact becomes ``CustomerData`` with ``external_id`` ``b24-<ID>``; a contact tied to a company is b2b.
Errors come back as ``{"error": CODE, "error_description": ...}`` (HTTP 400/401/403/404), or as a 503 with
``QUERY_LIMIT_EXCEEDED`` when the portal's rate limit is hit (retried after a pause): ``CrmError``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import structlog

from zabota.entity_values import normalize_phone
from zabota.records.store import CustomerData, CustomerRecords, RecordError

log = structlog.stdlib.get_logger(__name__)

EXTERNAL_PREFIX = "b24-"
CONTACT_FIELDS = ("ID", "NAME", "SECOND_NAME", "LAST_NAME", "COMPANY_ID", "PHONE", "EMAIL", "DATE_MODIFY")
DEAL_FIELDS = ("ID", "TITLE", "STAGE_ID", "OPPORTUNITY", "CURRENCY_ID", "CLOSED", "DATE_MODIFY")
# Bitrix24 allows about 2 requests a second per portal: a 503 QUERY_LIMIT_EXCEEDED is waited out this often
RATE_LIMIT_RETRIES = 3
RATE_LIMIT_PAUSE_SECONDS = 1.0
MAX_PAGES = 10_000  # 500,000 contacts: a runaway "next" is stopped, not followed forever


class CrmError(RuntimeError):
    def __init__(self, method: str, code: str, description: str, status: int | None = None) -> None:
        super().__init__(f"{method}: {code}: {description}")
        self.method = method
        self.code = code
        self.status = status


@dataclass(frozen=True)
class Deal:
    id: str
    title: str
    stage: str
    amount: str
    currency: str
    closed: bool


@dataclass(frozen=True)
class Bitrix24Settings:
    webhook_url: str
    timeout_seconds: float = 10.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Bitrix24Settings | None:
        """None when ``BITRIX24_WEBHOOK_URL`` is not set: the CRM is optional."""
        env = os.environ if environ is None else environ
        url = (env.get("BITRIX24_WEBHOOK_URL") or "").strip()
        if not url:
            return None
        if not url.startswith(("https://", "http://")):
            raise ValueError("BITRIX24_WEBHOOK_URL must be the webhook's http(s) URL")
        return cls(url.rstrip("/") + "/", float(env.get("BITRIX24_TIMEOUT_SECONDS") or 10.0))


def contact_data(contact: Mapping[str, Any]) -> CustomerData:
    """A Bitrix24 contact as profile data (not validated yet: the store does it). Phones that are not Russian
    numbers are left out rather than refusing the whole contact; the CRM holds what people typed."""
    name = " ".join(str(contact.get(k) or "").strip() for k in ("NAME", "SECOND_NAME", "LAST_NAME")).split()
    phones = []
    for entry in contact.get("PHONE") or ():
        phone = normalize_phone(str(entry.get("VALUE") or "")) if isinstance(entry, Mapping) else None
        if phone is not None:
            phones.append(phone)
    emails = [
        str(entry.get("VALUE")).strip()
        for entry in contact.get("EMAIL") or ()
        if isinstance(entry, Mapping) and "@" in str(entry.get("VALUE") or "")
    ]
    company = str(contact.get("COMPANY_ID") or "").strip()
    return CustomerData(
        external_id=f"{EXTERNAL_PREFIX}{contact['ID']}",
        name=" ".join(name) or None,
        segment="b2b" if company not in ("", "0") else "b2c",
        phones=tuple(dict.fromkeys(phones)),
        emails=tuple(dict.fromkeys(emails)),
    )


class Bitrix24Crm:
    """The portal's REST API. No I/O until a method is called; ``aclose`` when done."""

    def __init__(self, settings: Bitrix24Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(
            base_url=settings.webhook_url, timeout=settings.timeout_seconds, transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            try:
                response = await self._http.post(f"{method}.json", json=dict(params))
            except httpx.HTTPError as error:
                raise CrmError(method, "UNREACHABLE", type(error).__name__) from error
            try:
                body = response.json()
            except ValueError as error:
                raise CrmError(
                    method, "BAD_RESPONSE", f"HTTP {response.status_code}, not JSON", response.status_code
                ) from error
            if not isinstance(body, dict):
                raise CrmError(method, "BAD_RESPONSE", "not a JSON object", response.status_code)
            if "error" in body:
                code = str(body.get("error"))
                if code == "QUERY_LIMIT_EXCEEDED" and attempt < RATE_LIMIT_RETRIES:
                    await asyncio.sleep(RATE_LIMIT_PAUSE_SECONDS)
                    continue
                raise CrmError(method, code, str(body.get("error_description") or ""), response.status_code)
            if response.status_code >= 400 or "result" not in body:
                raise CrmError(
                    method, "BAD_RESPONSE", f"HTTP {response.status_code} without a result", response.status_code
                )
            return body
        raise AssertionError("unreachable")  # the loop returns or raises

    async def contact(self, contact_id: str) -> CustomerData:
        body = await self._call("crm.contact.get", {"ID": contact_id})
        result = body["result"]
        if not isinstance(result, Mapping) or "ID" not in result:
            raise CrmError("crm.contact.get", "BAD_RESPONSE", "no contact in the result")
        return contact_data(result)

    async def contacts(self, modified_since: datetime | None = None) -> AsyncIterator[CustomerData]:
        """Every contact (modified since ``modified_since``), page by page."""
        params: dict[str, Any] = {"order": {"ID": "ASC"}, "select": list(CONTACT_FIELDS), "start": 0}
        if modified_since is not None:
            params["filter"] = {">DATE_MODIFY": modified_since.isoformat()}
        for _ in range(MAX_PAGES):
            body = await self._call("crm.contact.list", params)
            for contact in body["result"] or ():
                if isinstance(contact, Mapping) and "ID" in contact:
                    yield contact_data(contact)
            following = body.get("next")
            if not isinstance(following, int):
                return
            params["start"] = following
        raise CrmError("crm.contact.list", "TOO_MANY_PAGES", f"more than {MAX_PAGES} pages")

    async def deals(self, contact_id: str) -> list[Deal]:
        body = await self._call(
            "crm.deal.list",
            {"filter": {"CONTACT_ID": contact_id}, "select": list(DEAL_FIELDS), "order": {"DATE_MODIFY": "DESC"}},
        )
        return [
            Deal(
                id=str(deal.get("ID")),
                title=str(deal.get("TITLE") or ""),
                stage=str(deal.get("STAGE_ID") or ""),
                amount=str(deal.get("OPPORTUNITY") or "0"),
                currency=str(deal.get("CURRENCY_ID") or ""),
                closed=str(deal.get("CLOSED") or "N") == "Y",
            )
            for deal in body["result"] or ()
            if isinstance(deal, Mapping)
        ]


@dataclass
class SyncReport:
    contacts: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"contacts": self.contacts, "created": self.created, "updated": self.updated, "skipped": self.skipped}


async def sync_contacts(
    crm: Bitrix24Crm, records: CustomerRecords, modified_since: datetime | None = None
) -> SyncReport:
    """Every CRM contact into the system of record (idempotent upserts by ``b24-<ID>``); a contact the store
    refuses is logged with its reason and skipped."""
    report = SyncReport()
    async for data in crm.contacts(modified_since):
        report.contacts += 1
        try:
            _, created = await records.upsert_customer(data)
        except RecordError as error:
            report.skipped += 1
            log.warning("crm.contact_skipped", external_id=data.external_id, field=error.field, reason=error.reason)
            continue
        report.created += int(created)
        report.updated += int(not created)
    log.info("crm.synced", **report.as_dict())
    return report
