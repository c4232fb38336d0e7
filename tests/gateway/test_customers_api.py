"""The customers API over the real system-of-record database (PostgreSQL when it answers) and the real app."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from gateway_testkit import LEAD_TOKEN, OPERATOR_TOKEN, StartApp

from zabota.records import ContactData

pytestmark = pytest.mark.usefixtures("empty_records")

LEAD = {"Authorization": f"Bearer {LEAD_TOKEN}"}
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
ANNA = {
    "external_id": "crm-1001",
    "name": "Анна Петрова",
    "segment": "b2c",
    "age_band": "65+",
    "timezone": "Asia/Yekaterinburg",
    "language": "ru",
    "preferred_channel": "sms",
    "phones": ["8 916 123 45 67"],
    "emails": ["Anna@Example.ru"],
    "accounts": [{"account_number": "2300 4567 8903"}],
}


async def test_a_lead_creates_then_updates_a_customer_idempotently(start_app: StartApp) -> None:
    async with start_app() as ctx:
        created = await ctx.client.post("/api/v1/customers", json=ANNA, headers=LEAD)
        again = await ctx.client.post("/api/v1/customers", json=ANNA, headers=LEAD)
        changed = await ctx.client.post(
            "/api/v1/customers", json={"external_id": "crm-1001", "preferred_channel": "email"}, headers=LEAD
        )
    assert created.status_code == 201
    body = created.json()
    assert body["customer_id"].startswith("c-")
    assert (body["phones"], body["emails"]) == (["+79161234567"], ["anna@example.ru"])
    assert body["accounts"] == [{"account_number": "230045678903", "contract_number": None}]
    assert again.status_code == 200 and again.json() == body
    assert changed.status_code == 200
    assert (changed.json()["preferred_channel"], changed.json()["name"]) == ("email", "Анна Петрова")


async def test_operators_read_profiles_and_contacts_but_only_a_lead_writes(start_app: StartApp) -> None:
    async with start_app() as ctx:
        refused = await ctx.client.post("/api/v1/customers", json=ANNA, headers=OPERATOR)
        anonymous = await ctx.client.post("/api/v1/customers", json=ANNA)
        created = (await ctx.client.post("/api/v1/customers", json=ANNA, headers=LEAD)).json()
        cid = created["customer_id"]
        await ctx.services.records.record_contact(
            ContactData("k-1", cid, "voice", datetime(2026, 12, 7, 9, tzinfo=UTC), intents=("account_number",))
        )
        profile = await ctx.client.get(f"/api/v1/customers/{cid}", headers=OPERATOR)
        found = await ctx.client.get("/api/v1/customers", params={"external_id": "crm-1001"}, headers=OPERATOR)
        contacts = await ctx.client.get(f"/api/v1/customers/{cid}/contacts", headers=OPERATOR)
    assert (refused.status_code, refused.json()["error"]) == (403, "forbidden")
    assert anonymous.status_code == 401
    assert profile.status_code == 200 and profile.json() == created
    assert found.json()["customer_id"] == cid
    assert [(c["id"], c["channel"], c["intents"]) for c in contacts.json()["contacts"]] == [
        ("k-1", "voice", ["account_number"])
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**ANNA, "phones": ["12345"]}, "phones"),
        ({**ANNA, "segment": "vip"}, "segment"),
        ({**ANNA, "timezone": "Mars/Olympus"}, "timezone"),
        ({**ANNA, "surprise": 1}, "surprise"),
        ({"name": "без external_id"}, "external_id"),
        ({**ANNA, "tags": ["t"] * 21}, "tags"),
    ],
)
async def test_bad_profiles_get_a_422_naming_the_field_and_nothing_is_written(
    start_app: StartApp, body: dict[str, object], field: str
) -> None:
    async with start_app() as ctx:
        response = await ctx.client.post("/api/v1/customers", json=body, headers=LEAD)
        missing = await ctx.client.get("/api/v1/customers", params={"external_id": "crm-1001"}, headers=LEAD)
    assert response.status_code == 422
    assert field in response.text
    assert missing.status_code == 404


async def test_an_account_of_another_customer_is_a_409(start_app: StartApp) -> None:
    async with start_app() as ctx:
        await ctx.client.post("/api/v1/customers", json=ANNA, headers=LEAD)
        other = {"external_id": "crm-2002", "accounts": [{"account_number": "230045678903"}]}
        response = await ctx.client.post("/api/v1/customers", json=other, headers=LEAD)
    assert (response.status_code, response.json()["error"]) == (409, "conflict")


async def test_a_huge_body_is_refused_before_it_is_read(start_app: StartApp) -> None:
    async with start_app() as ctx:
        response = await ctx.client.post(
            "/api/v1/customers", content=b'{"external_id": "' + b"x" * 70_000 + b'"}', headers=LEAD
        )
    assert (response.status_code, response.json()["error"]) == (413, "too_large")


async def test_unknown_customers_are_404_and_bad_ids_422(start_app: StartApp) -> None:
    async with start_app() as ctx:
        unknown = await ctx.client.get("/api/v1/customers/c-0000000000000000", headers=OPERATOR)
        contacts = await ctx.client.get("/api/v1/customers/c-0000000000000000/contacts", headers=OPERATOR)
        bad = await ctx.client.get("/api/v1/customers/robert'); DROP TABLE customers;--", headers=OPERATOR)
    assert unknown.status_code == 404 and contacts.status_code == 404
    assert bad.status_code in (404, 422)


async def test_a_lead_loads_past_contacts_into_the_history(start_app: StartApp) -> None:
    contact = {
        "id": "cc-77",
        "channel": "voice",
        "started_at": "2026-12-01T10:00:00+03:00",
        "intents": ["internet_down"],
        "handoff_id": "old-1",
        "handoff_outcome": "unresolved",
        "signals": ["anger"],
    }
    async with start_app() as ctx:
        cid = (await ctx.client.post("/api/v1/customers", json=ANNA, headers=LEAD)).json()["customer_id"]
        loaded = await ctx.client.post(f"/api/v1/customers/{cid}/contacts", json=contact, headers=LEAD)
        again = await ctx.client.post(f"/api/v1/customers/{cid}/contacts", json=contact, headers=LEAD)
        refused = await ctx.client.post(f"/api/v1/customers/{cid}/contacts", json=contact, headers=OPERATOR)
        naive = await ctx.client.post(
            f"/api/v1/customers/{cid}/contacts", json={**contact, "started_at": "2026-12-01T10:00:00"}, headers=LEAD
        )
        unknown = await ctx.client.post("/api/v1/customers/c-0000000000000000/contacts", json=contact, headers=LEAD)
        history = (await ctx.client.get(f"/api/v1/customers/{cid}/contacts", headers=OPERATOR)).json()["contacts"]
    assert loaded.status_code == 200 and again.json() == loaded.json()
    assert loaded.json()["started_at"] == "2026-12-01T07:00:00Z"
    assert refused.status_code == 403 and naive.status_code == 422 and unknown.status_code == 404
    assert [(c["id"], c["handoff_outcome"], c["signals"]) for c in history] == [("cc-77", "unresolved", ["anger"])]
