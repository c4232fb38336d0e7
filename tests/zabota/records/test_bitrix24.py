"""The Bitrix24 adapter against a local portal speaking its REST format (tests/fakes/bitrix24_api.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.fakes.bitrix24_api import FakeBitrix24, serve_fake_bitrix24
from zabota.records import CustomerRecords
from zabota.records import bitrix24 as b24
from zabota.records.bitrix24 import Bitrix24Crm, Bitrix24Settings, CrmError, contact_data, sync_contacts

PHONE = [{"ID": "11", "VALUE_TYPE": "WORK", "VALUE": "8 (916) 123-45-67", "TYPE_ID": "PHONE"}]
EMAIL = [{"ID": "12", "VALUE_TYPE": "WORK", "VALUE": "anna@example.ru", "TYPE_ID": "EMAIL"}]


@pytest.fixture
def portal() -> Iterator[FakeBitrix24]:
    with serve_fake_bitrix24() as fake:
        fake.add_contact("42", NAME="Анна", LAST_NAME="Петрова", COMPANY_ID="0", PHONE=PHONE, EMAIL=EMAIL)
        fake.add_contact("43", NAME="Борис", LAST_NAME="", COMPANY_ID="7", PHONE=[{"VALUE": "+1 555 0100"}])
        yield fake


@pytest.fixture
async def crm(portal: FakeBitrix24) -> AsyncIterator[Bitrix24Crm]:
    client = Bitrix24Crm(Bitrix24Settings(portal.webhook_url, timeout_seconds=2))
    yield client
    await client.aclose()


async def test_a_contact_becomes_a_profile(crm: Bitrix24Crm) -> None:
    data = await crm.contact("42")
    assert (data.external_id, data.name, data.segment) == ("b24-42", "Анна Петрова", "b2c")
    assert (data.phones, data.emails) == (("+79161234567",), ("anna@example.ru",))


def test_a_company_contact_is_b2b_and_a_foreign_number_is_left_out() -> None:
    data = contact_data({"ID": "43", "NAME": "Борис", "COMPANY_ID": "7", "PHONE": [{"VALUE": "+1 555 0100"}]})
    assert (data.segment, data.phones) == ("b2b", ())


async def test_the_list_pages_through_every_contact_with_phones_and_emails(
    crm: Bitrix24Crm, portal: FakeBitrix24
) -> None:
    for n in range(100, 160):
        portal.add_contact(str(n), NAME=f"Клиент {n}", PHONE=[{"VALUE": f"+7 916 000 {n:04d}"}])
    found = [c async for c in crm.contacts()]
    assert len(found) == 62
    assert portal.calls.count("crm.contact.list") == 2  # 50 + 12
    assert found[0].phones == ("+79161234567",)  # PHONE was selected by name, so the list has it


async def test_deals_of_a_contact(crm: Bitrix24Crm, portal: FakeBitrix24) -> None:
    portal.deals.append(
        {"ID": "9", "CONTACT_ID": "42", "TITLE": "Роутер", "STAGE_ID": "WON", "OPPORTUNITY": "4990.00", "CLOSED": "Y"}
    )
    [deal] = await crm.deals("42")
    assert (deal.title, deal.stage, deal.amount, deal.closed) == ("Роутер", "WON", "4990.00", True)
    assert await crm.deals("43") == []


async def test_errors_come_back_as_crm_errors(portal: FakeBitrix24, crm: Bitrix24Crm) -> None:
    with pytest.raises(CrmError) as missing:
        await crm.contact("999")
    assert (missing.value.status, str(missing.value)) == (400, "crm.contact.get: : Not found")
    wrong = Bitrix24Crm(Bitrix24Settings(portal.url + "/rest/1/wrong-code/"))
    with pytest.raises(CrmError, match="INVALID_CREDENTIALS"):
        await wrong.contact("42")
    await wrong.aclose()
    dead = Bitrix24Crm(Bitrix24Settings("http://127.0.0.1:9/rest/1/x/", timeout_seconds=1))
    with pytest.raises(CrmError, match="UNREACHABLE"):
        await dead.contact("42")
    await dead.aclose()


async def test_the_rate_limit_is_waited_out(
    crm: Bitrix24Crm, portal: FakeBitrix24, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(b24, "RATE_LIMIT_PAUSE_SECONDS", 0.01)
    portal.limit_next(2)
    assert (await crm.contact("42")).external_id == "b24-42"
    portal.limit_next(b24.RATE_LIMIT_RETRIES + 1)
    with pytest.raises(CrmError, match="QUERY_LIMIT_EXCEEDED"):
        await crm.contact("42")


async def test_a_sync_loads_every_contact_idempotently(crm: Bitrix24Crm, records: CustomerRecords) -> None:
    first = await sync_contacts(crm, records)
    assert first.as_dict() == {"contacts": 2, "created": 2, "updated": 0, "skipped": 0}
    again = await sync_contacts(crm, records)
    assert (again.created, again.updated) == (0, 2)
    anna = await records.by_external_id("b24-42")
    assert anna is not None and anna.phones == ("+79161234567",)


def test_settings_come_from_the_environment() -> None:
    assert Bitrix24Settings.from_env({}) is None
    settings = Bitrix24Settings.from_env({"BITRIX24_WEBHOOK_URL": "https://zabota.bitrix24.ru/rest/1/abc"})
    assert settings is not None and settings.webhook_url == "https://zabota.bitrix24.ru/rest/1/abc/"
    with pytest.raises(ValueError):
        Bitrix24Settings.from_env({"BITRIX24_WEBHOOK_URL": "zabota.bitrix24.ru"})


def test_the_sync_command(
    portal: FakeBitrix24, tmp_path: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from zabota.records.__main__ import main

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/sync.sqlite3")
    monkeypatch.delenv("BITRIX24_WEBHOOK_URL", raising=False)
    assert main(["sync-bitrix24"]) == 2
    monkeypatch.setenv("BITRIX24_WEBHOOK_URL", portal.webhook_url)
    assert main(["sync-bitrix24"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == {"contacts": 2, "created": 2, "updated": 0, "skipped": 0}
