from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from zabota.records import ContactData, CustomerData, CustomerRecords, RecordError
from zabota.records.store import Account

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ANNA = CustomerData(
    external_id="crm-42",
    name="Анна Петрова",
    segment="b2c",
    age_band="65+",
    region="Тверская область",
    timezone="Europe/Moscow",
    language="ru",
    preferred_channel="sms",
    tags=("vip", "пенсионер"),
    phones=("8 (916) 123-45-67",),
    emails=("Anna.Petrova@Example.RU",),
    accounts=(Account("2300 4567 8903", "Д-2019/77"),),
)


async def test_a_new_customer_is_created_with_everything_normalised(records: CustomerRecords) -> None:
    record, created = await records.upsert_customer(ANNA, now=T0)
    assert created is True
    assert record.customer_id.startswith("c-") and len(record.customer_id) == 18
    assert record.phones == ("+79161234567",)
    assert record.emails == ("anna.petrova@example.ru",)
    assert record.accounts == (Account("230045678903", "Д-2019/77"),)
    assert (record.segment, record.age_band, record.timezone, record.tags) == (
        "b2c",
        "65+",
        "Europe/Moscow",
        ("vip", "пенсионер"),
    )
    assert record.created_at == T0
    assert await records.get(record.customer_id) == record
    assert await records.by_external_id("crm-42") == record


async def test_the_same_upsert_twice_is_one_customer_unchanged(records: CustomerRecords) -> None:
    first, _ = await records.upsert_customer(ANNA, now=T0)
    second, created = await records.upsert_customer(ANNA, now=T0)
    assert created is False
    assert second == first


async def test_an_update_changes_what_it_gives_and_keeps_the_rest(records: CustomerRecords) -> None:
    first, _ = await records.upsert_customer(ANNA, now=T0)
    later = T0 + timedelta(days=1)
    update = CustomerData(external_id="crm-42", preferred_channel="email", phones=("+7 903 555 12 34",))
    second, created = await records.upsert_customer(update, now=later)
    assert created is False
    assert second.customer_id == first.customer_id
    assert second.preferred_channel == "email"
    assert second.name == "Анна Петрова"
    assert second.phones == ("+79161234567", "+79035551234")
    assert (second.created_at, second.updated_at) == (T0, later)


async def test_the_identity_directory_id_is_kept_for_a_new_customer(records: CustomerRecords) -> None:
    record, created = await records.upsert_customer(CustomerData(name="Гость"), customer_id="c-0123456789abcdef")
    assert created and record.customer_id == "c-0123456789abcdef"
    again, created = await records.upsert_customer(CustomerData(language="en"), customer_id="c-0123456789abcdef")
    assert not created and (again.name, again.language) == ("Гость", "en")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (CustomerData(segment="vip"), "segment"),
        (CustomerData(phones=("12345",)), "phones"),
        (CustomerData(emails=("not-an-email",)), "emails"),
        (CustomerData(accounts=(Account("123"),)), "accounts"),
        (CustomerData(timezone="Mars/Olympus"), "timezone"),
        (CustomerData(language="de"), "language"),
        (CustomerData(preferred_channel="pigeon"), "preferred_channel"),
        (CustomerData(external_id="has spaces"), "external_id"),
        (CustomerData(tags=tuple(f"t{i}" for i in range(21))), "tags"),
        (CustomerData(name="x" * 201), "name"),
        (CustomerData(opted_out=("fax",)), "opted_out"),
    ],
)
async def test_bad_input_is_refused_with_its_field_and_nothing_is_written(
    records: CustomerRecords, data: CustomerData, field: str
) -> None:
    with pytest.raises(RecordError) as refused:
        await records.upsert_customer(data, customer_id="c-00000000000000aa")
    assert refused.value.field == field
    assert await records.get("c-00000000000000aa") is None


async def test_an_account_of_another_customer_is_a_conflict_and_nothing_is_half_written(
    records: CustomerRecords,
) -> None:
    await records.upsert_customer(ANNA)
    other = CustomerData(external_id="crm-43", name="Пётр", accounts=(Account("230045678903"),))
    with pytest.raises(RecordError) as refused:
        await records.upsert_customer(other)
    assert refused.value.conflict is True
    assert "…903" in str(refused.value)
    assert await records.by_external_id("crm-43") is None


async def test_opt_outs_per_channel(records: CustomerRecords) -> None:
    record, _ = await records.upsert_customer(CustomerData(external_id="crm-7", opted_out=("email",)))
    assert record.opted_out == {"email"}
    record = await records.set_opt_out(record.customer_id, "sms", True)
    assert record.opted_out == {"email", "sms"}
    record = await records.set_opt_out(record.customer_id, "email", False, source="operator")
    assert record.opted_out == {"sms"}
    with pytest.raises(RecordError):
        await records.set_opt_out("c-ffffffffffffffff", "sms", True)


async def test_only_a_verified_number_finds_a_customer(records: CustomerRecords) -> None:
    record, _ = await records.upsert_customer(ANNA)
    assert [r.customer_id for r in await records.by_verified_phone("+79161234567")] == [record.customer_id]
    assert await records.by_verified_phone("+79990000000") == []
    assert await records.by_verified_phone("not a phone") == []


async def test_a_contact_grows_as_the_conversation_goes_on(records: CustomerRecords) -> None:
    customer, _ = await records.upsert_customer(ANNA)
    cid = customer.customer_id
    await records.record_contact(
        ContactData("k-1", cid, "voice", T0, intents=("account_number",), flows=("account_number_form",))
    )
    contact = await records.record_contact(
        ContactData(
            "k-1",
            cid,
            "voice",
            T0,
            intents=("account_number", "internet_down"),
            articles=("router-reboot",),
            feedback="unhelpful",
            handoff_id="h-9",
            handoff_priority="p3",
        )
    )
    assert contact.intents == ("account_number", "internet_down")
    assert (contact.articles, contact.flows) == (("router-reboot",), ("account_number_form",))
    assert (contact.feedback, contact.handoff_id, contact.handoff_priority) == ("unhelpful", "h-9", "p3")
    closed = await records.record_contact(
        ContactData("k-1", cid, "voice", T0, ended_at=T0 + timedelta(minutes=7), handoff_outcome="resolved")
    )
    assert closed.handoff_outcome == "resolved" and closed.ended_at == T0 + timedelta(minutes=7)
    assert closed.intents == ("account_number", "internet_down")


async def test_the_last_contacts_come_newest_first_from_every_channel(records: CustomerRecords) -> None:
    customer, _ = await records.upsert_customer(ANNA)
    cid = customer.customer_id
    for n, channel in enumerate(("webchat", "telegram", "voice")):
        await records.record_contact(ContactData(f"k-{n}", cid, channel, T0 + timedelta(days=n)))
    recent = await records.recent_contacts(cid, limit=2)
    assert [(c.id, c.channel) for c in recent] == [("k-2", "voice"), ("k-1", "telegram")]


@pytest.mark.parametrize(
    ("contact", "field"),
    [
        (ContactData("k-1", "c-0123456789abcdef", "fax", T0), "channel"),
        (ContactData("k 1", "c-0123456789abcdef", "sms", T0), "id"),
        (ContactData("k-1", "anna", "sms", T0), "customer_id"),
        (ContactData("k-1", "c-0123456789abcdef", "sms", T0, feedback="meh"), "feedback"),
        (ContactData("k-1", "c-0123456789abcdef", "sms", datetime(2026, 1, 1)), "started_at"),
        (ContactData("k-1", "c-0123456789abcdef", "sms", T0), "customer_id"),  # no such customer
    ],
)
async def test_a_bad_contact_is_refused(records: CustomerRecords, contact: ContactData, field: str) -> None:
    with pytest.raises(RecordError) as refused:
        await records.record_contact(contact)
    assert refused.value.field == field


async def test_deleting_a_customer_takes_their_contacts_with_it(records: CustomerRecords) -> None:
    from sqlalchemy import delete, func, select

    from zabota.records.schema import Contact, Customer

    customer, _ = await records.upsert_customer(ANNA)
    await records.record_contact(ContactData("k-1", customer.customer_id, "sms", T0))
    async with records.engine.begin() as connection:
        await connection.execute(delete(Customer).where(Customer.id == customer.customer_id))
        left = await connection.scalar(select(func.count()).select_from(Contact))
    assert left == 0


async def test_intent_occasions_count_contacts_not_messages(records: CustomerRecords) -> None:
    customer, _ = await records.upsert_customer(ANNA)
    cid = customer.customer_id
    await records.record_contact(ContactData("k-1", cid, "voice", T0, intents=("internet_down", "internet_down")))
    await records.record_contact(ContactData("k-2", cid, "sms", T0 + timedelta(days=1), intents=("internet_down",)))
    await records.record_contact(
        ContactData("k-3", cid, "webchat", T0 - timedelta(days=10), intents=("internet_down",))
    )
    await records.record_contact(ContactData("k-4", cid, "webchat", T0 + timedelta(days=2), intents=("roaming",)))
    since = T0 - timedelta(days=7)
    assert await records.intent_occasions(cid, since) == {"internet_down": 2, "roaming": 1}
    assert await records.intent_occasions(cid, since, exclude_contact="k-4") == {"internet_down": 2}


async def test_intents_that_are_one_problem_count_once_per_contact(records: CustomerRecords) -> None:
    customer, _ = await records.upsert_customer(ANNA)
    cid = customer.customer_id
    await records.record_contact(ContactData("k-1", cid, "voice", T0, intents=("internet_down", "internet_slow")))
    await records.record_contact(ContactData("k-2", cid, "sms", T0 + timedelta(days=1), intents=("internet_slow",)))
    problem_of = {"internet_down": "problem:connection", "internet_slow": "problem:connection"}
    assert await records.intent_occasions(cid, T0 - timedelta(days=1), problem_of=problem_of) == {
        "internet_down": 1,
        "internet_slow": 2,
        "problem:connection": 2,
    }
