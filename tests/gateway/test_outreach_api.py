"""Outreach through the gateway: an event in, planned for the recorded customer, scheduled, and sent by SMS to
a local Twilio when its time comes."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from gateway_testkit import AppContext, StartApp, sms_settings

from gateway.outreach import OutreachSender
from tests.fakes.twilio_api import FakeTwilio, serve_fake_twilio
from zabota.records import CustomerData

pytestmark = pytest.mark.usefixtures("empty_records")

TOKEN = "outreach-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
URL = "/api/v1/outreach/events"
DELAY = {"trigger": "delivery_delayed", "ref": "ZB-4829173", "data": {"order_id": "ZB-4829173", "new_date": "12.12"}}


def zone_at(local_hour: int) -> str:
    """An IANA zone where it is now about ``local_hour`` o'clock (Etc/GMT signs are inverted)."""
    offset = (local_hour - datetime.now(UTC).hour + 12) % 24 - 12
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with serve_fake_twilio() as fake:
        yield fake


@pytest.fixture
def start(start_app: StartApp, twilio: FakeTwilio) -> Any:
    @asynccontextmanager
    async def _start(**overrides: Any) -> AsyncIterator[AppContext]:
        settings = {
            "outreach_api_token": TOKEN,
            "outreach_interval_seconds": 3600.0,  # the tests send themselves
            **sms_settings(twilio.url),
            **overrides,
        }
        async with start_app(**settings) as ctx:
            yield ctx

    return _start


async def customer(ctx: AppContext, hour: int, **fields: Any) -> str:
    data = CustomerData(
        external_id="crm-1", phones=("+79161234567",), preferred_channel="sms", timezone=zone_at(hour), **fields
    )
    record, _ = await ctx.services.records.upsert_customer(data)
    return record.customer_id


async def test_an_event_is_scheduled_sent_by_sms_and_recorded(start: Any, twilio: FakeTwilio) -> None:
    async with start() as ctx:
        cid = await customer(ctx, 12)
        response = await ctx.client.post(URL, json={**DELAY, "external_id": "crm-1"}, headers=AUTH)
        again = await ctx.client.post(URL, json={**DELAY, "customer_id": cid}, headers=AUTH)
        body = response.json()
        sent = await OutreachSender(ctx.services, 1.0).send_due(time.time() + 1)
        status = await ctx.client.get(f"/api/v1/outreach/{body['outreach_id']}", headers=AUTH)
        contacts = await ctx.services.records.recent_contacts(cid)
    assert response.status_code == 202
    assert (body["status"], body["channel"], body["deferred"]) == ("scheduled", "sms", False)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert sent == 1
    [message] = twilio.messages
    assert message["to"] == "+79161234567" and message["body"].startswith("Заказ ZB-4829173 задерживается")
    assert (status.json()["status"], status.json()["attempts"]) == ("sent", 1)
    assert [(c.channel, c.flows) for c in contacts] == [("outreach", ("outreach:delivery_delayed",))]


async def test_at_night_in_the_customers_zone_it_waits_for_the_morning(start: Any, twilio: FakeTwilio) -> None:
    async with start() as ctx:
        await customer(ctx, 23)
        response = await ctx.client.post(URL, json={**DELAY, "external_id": "crm-1"}, headers=AUTH)
        sent_now = await OutreachSender(ctx.services, 1.0).send_due(time.time() + 1)
    body = response.json()
    assert body["deferred"] is True and sent_now == 0 and twilio.messages == []
    assert datetime.fromisoformat(body["send_at"]).timestamp() > time.time() + 3600


async def test_an_opted_out_customer_is_not_written_to(start: Any) -> None:
    async with start() as ctx:
        await customer(ctx, 12, opted_out=("sms", "email", "telegram"))
        response = await ctx.client.post(URL, json={**DELAY, "external_id": "crm-1"}, headers=AUTH)
    assert response.status_code == 200
    assert response.json()["status"] == "not_sent"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({**DELAY, "external_id": "crm-unknown"}, 404),
        ({**DELAY, "external_id": "crm-1", "trigger": "birthday"}, 422),
        ({**DELAY, "external_id": "crm-1", "data": {"order_id": "1"}}, 422),
        ({**DELAY}, 422),  # neither customer_id nor external_id
        ({**DELAY, "external_id": "crm-1", "surprise": True}, 422),
    ],
)
async def test_bad_events_are_refused(start: Any, body: dict[str, Any], status: int) -> None:
    async with start() as ctx:
        await customer(ctx, 12)
        response = await ctx.client.post(URL, json=body, headers=AUTH)
    assert response.status_code == status


async def test_the_token_is_required_and_outreach_is_off_without_one(start: Any, start_app: StartApp) -> None:
    async with start() as ctx:
        wrong = await ctx.client.post(
            URL, json={**DELAY, "external_id": "crm-1"}, headers={"Authorization": "Bearer x"}
        )
    async with start_app() as ctx:
        off = await ctx.client.post(URL, json={**DELAY, "external_id": "crm-1"}, headers=AUTH)
    assert wrong.status_code == 401 and off.status_code == 503
