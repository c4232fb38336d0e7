"""Copies of an answer in other channels (gateway/reply_routing.py): documents by email from a chat, nothing
when the policy wants none, nothing for held or escalated turns."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gateway_testkit import FakeRasa, StartApp

from tests.fakes.smtp_server import FakeSmtp, serve_smtp
from zabota.records import CustomerData

CUSTOMER = "c-00000000000000e1"
DOCUMENT_REPLY = [{"recipient_id": "x", "text": "Счёт на оплату и акт сверки отправлю вам, вот ссылка: https://x/doc"}]


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    with serve_smtp() as fake:
        yield fake


async def test_a_document_answer_goes_by_email_with_a_note(
    start_app: StartApp, fake_rasa: FakeRasa, smtp: FakeSmtp
) -> None:
    fake_rasa.reply_for = lambda message: DOCUMENT_REPLY  # type: ignore[method-assign]
    async with start_app(rasa_url=fake_rasa.url, smtp_host=smtp.host, smtp_port=smtp.port, smtp_starttls=False) as ctx:
        services = ctx.services
        await services.customers.update_profile(CUSTOMER, email="ivan@example.org")
        outcome = await services.dispatcher.handle(
            channel="webchat", sender_id="w-e1", text="пришлите счёт", metadata={}, customer_id=CUSTOMER
        )
        notes = await services.replies.copies_for_chat(outcome)
        history = await services.inbox.history(CUSTOMER)
    [mail] = smtp.received
    assert list(mail.rcpt_tos) == ["ivan@example.org"]
    assert "https://x/doc" in mail.message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert [note.text for note in notes] == ["Копию ответа отправил вам на электронную почту."]
    assert history[-1].text == notes[0].text  # the note is in the conversation too


async def test_no_copy_without_an_address_or_a_reason(start_app: StartApp, fake_rasa: FakeRasa, smtp: FakeSmtp) -> None:
    async with start_app(rasa_url=fake_rasa.url, smtp_host=smtp.host, smtp_port=smtp.port, smtp_starttls=False) as ctx:
        services = ctx.services
        plain = await services.dispatcher.handle(
            channel="webchat", sender_id="w-e2", text="привет", metadata={}, customer_id="c-00000000000000e2"
        )
        fake_rasa.reply_for = lambda message: DOCUMENT_REPLY  # type: ignore[method-assign]
        no_address = await services.dispatcher.handle(
            channel="webchat", sender_id="w-e3", text="счёт", metadata={}, customer_id="c-00000000000000e3"
        )
        assert await services.replies.copies_for_chat(plain) == []
        assert await services.replies.copies_for_chat(no_address) == []
    assert smtp.received == []


async def test_escalated_or_parked_turns_are_not_copied(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    fake_rasa.intents = {"угрожает": "harassment_report"}
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        services = ctx.services
        escalated = await services.dispatcher.handle(
            channel="voice",
            sender_id="+79160000001",
            text="мне угрожает сосед",
            metadata={},
            customer_id="c-00000000000000e4",
        )
        routed = await services.replies.route(escalated, caller="+79160000001")
    assert escalated.handoff is not None
    assert routed.choices == [] and routed.sent == []


async def test_the_email_the_records_hold_gets_the_document(
    start_app: StartApp, fake_rasa: FakeRasa, smtp: FakeSmtp
) -> None:
    """A customer the company loaded (customers API, CRM) with an email: the document goes there, though no
    channel ever told the address; the customer is not asked for it."""
    fake_rasa.reply_for = lambda message: DOCUMENT_REPLY  # type: ignore[method-assign]
    async with start_app(rasa_url=fake_rasa.url, smtp_host=smtp.host, smtp_port=smtp.port, smtp_starttls=False) as ctx:
        services = ctx.services
        record, _ = await services.records.upsert_customer(
            CustomerData(external_id="crm-e5", name="Ольга", emails=("olga@example.org",))
        )
        outcome = await services.dispatcher.handle(
            channel="webchat", sender_id="w-e5", text="пришлите акт сверки", metadata={}, customer_id=record.customer_id
        )
        notes = await services.replies.copies_for_chat(outcome)
    [mail] = smtp.received
    assert list(mail.rcpt_tos) == ["olga@example.org"]
    assert [note.text for note in notes] == ["Копию ответа отправил вам на электронную почту."]
