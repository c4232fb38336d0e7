"""A customer the company's records know is recognised by a verified number: the caller's, the SMS sender's,
a contact shared in Telegram."""

from __future__ import annotations

import pytest
from gateway_testkit import FakeRasa, StartApp

from gateway.recognition import customer_for_verified_phone, recorded_customer
from zabota.identity import channel_key
from zabota.records import CustomerData

pytestmark = pytest.mark.usefixtures("empty_records")

PHONE = "+79161234567"


async def test_a_number_on_one_record_is_that_customer_from_now_on(start_app: StartApp) -> None:
    async with start_app() as ctx:
        s = ctx.services
        record, _ = await s.records.upsert_customer(CustomerData(external_id="crm-5", phones=(PHONE,)))
        first = await customer_for_verified_phone(s.customers, s.records, PHONE)
        again = await customer_for_verified_phone(s.customers, s.records, PHONE)
        pointed = await s.customers.lookup(channel_key("tel", PHONE))
    assert first == again == pointed == record.customer_id


async def test_an_unknown_number_or_one_on_several_records_is_not_guessed(start_app: StartApp) -> None:
    async with start_app() as ctx:
        s = ctx.services
        a, _ = await s.records.upsert_customer(CustomerData(external_id="crm-6", phones=("+79035551234",)))
        b, _ = await s.records.upsert_customer(CustomerData(external_id="crm-7", phones=("+79035551234",)))
        shared = await customer_for_verified_phone(s.customers, s.records, "+79035551234")
        unknown = await customer_for_verified_phone(s.customers, s.records, "+79990001122")
        assert await recorded_customer(s.customers, s.records, "+79990001122") is None  # now in the directory
    assert shared not in (a.customer_id, b.customer_id)
    assert unknown.startswith("c-")


async def test_a_directory_number_wins_over_the_records(start_app: StartApp) -> None:
    async with start_app() as ctx:
        s = ctx.services
        earlier = await s.customers.resolve(channel_key("tel", PHONE))
        await s.records.upsert_customer(CustomerData(external_id="crm-8", phones=(PHONE,)))
        assert await customer_for_verified_phone(s.customers, s.records, PHONE) == earlier


async def test_a_call_from_a_recorded_number_is_recorded_for_that_customer(
    start_app: StartApp, fake_rasa: FakeRasa
) -> None:
    async with start_app(rasa_url=fake_rasa.url, voice_api_token="voice-token") as ctx:
        record, _ = await ctx.services.records.upsert_customer(CustomerData(external_id="crm-9", phones=(PHONE,)))
        response = await ctx.client.post(
            "/api/v1/voice/events",
            json={"call_id": "call-7", "caller": PHONE, "text": "не работает интернет"},
            headers={"Authorization": "Bearer voice-token"},
        )
        contacts = await ctx.services.records.recent_contacts(record.customer_id)
    assert response.status_code == 200
    assert [(c.channel, c.intents) for c in contacts] == [("voice", ("internet_down",))]
