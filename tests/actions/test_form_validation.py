from __future__ import annotations

from typing import Any

import pytest
from actions_testkit import make_domain, make_tracker, response_names, slot_event, user_event
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from structlog.testing import capture_logs

from actions.forms import (
    ActionAccountNumberAnswer,
    ActionPaymentMissingResult,
    ValidateAccountNumberForm,
    ValidateOrderStatusForm,
    ValidateOutageCheckForm,
    ValidatePaymentMissingForm,
)

FORMS = {
    "account_number_form": ["phone"],
    "outage_check_form": ["address"],
    "order_status_form": ["order_id"],
    "payment_missing_form": ["date", "amount"],
}
DOMAIN = make_domain("utter_invalid_phone", "utter_invalid_order_id", "utter_invalid_amount", forms=FORMS)


async def validate(action: Any, form: str, candidates: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """Run a form's validation action as Rasa does: the slot candidates are the tracker's last events."""
    text = str(next(iter(candidates.values())))
    events = [
        {"event": "action", "timestamp": 0.5, "name": "action_listen"},
        user_event(text, "inform", 0.9),
        *(slot_event(name, value) for name, value in candidates.items()),
    ]
    tracker = make_tracker(text, "inform", 0.9, slots=dict(candidates), events=events, active_loop=form)
    dispatcher = CollectingDispatcher()
    result = await action.run(dispatcher, tracker, DOMAIN)
    return result, response_names(dispatcher.messages)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("8 (916) 123-45-67", "+79161234567"),
        ("+79035551234", "+79035551234"),
        ("2300 4567 8912", "230045678912"),  # the account number after all
        (["89161234567"], "+79161234567"),
    ],
)
async def test_account_number_form_accepts_a_phone_or_an_account_number(value: Any, expected: str) -> None:
    events, responses = await validate(ValidateAccountNumberForm(), "account_number_form", {"phone": value})
    assert events == [SlotSet("phone", expected)]
    assert responses == []


@pytest.mark.parametrize("value", ["не помню", "12345", "+1 212 555 1234", ""])
async def test_account_number_form_rejects_other_values(value: str) -> None:
    with capture_logs() as logs:
        events, responses = await validate(ValidateAccountNumberForm(), "account_number_form", {"phone": value})
    assert events == [SlotSet("phone", None)]
    assert responses == ["utter_invalid_phone"]
    assert logs == [{"event": "form.slot_invalid", "form": "account_number_form", "slot": "phone", "log_level": "info"}]


async def test_outage_check_form_trims_the_address() -> None:
    events, responses = await validate(ValidateOutageCheckForm(), "outage_check_form", {"address": "  ул. Ленина 5 "})
    assert events == [SlotSet("address", "ул. Ленина 5")]
    assert responses == []


@pytest.mark.parametrize("value", ["дом", "12345", "   "])
async def test_outage_check_form_rejects_short_or_letterless_addresses(value: str) -> None:
    events, responses = await validate(ValidateOutageCheckForm(), "outage_check_form", {"address": value})
    assert events == [SlotSet("address", None)]
    assert responses == []


@pytest.mark.parametrize("value", ["zb4829173", "ZB 4829173", "4829173"])
async def test_order_status_form_normalises_the_order_id(value: str) -> None:
    events, responses = await validate(ValidateOrderStatusForm(), "order_status_form", {"order_id": value})
    assert events == [SlotSet("order_id", "ZB-4829173")]
    assert responses == []


async def test_order_status_form_rejects_other_values() -> None:
    events, responses = await validate(ValidateOrderStatusForm(), "order_status_form", {"order_id": "где мой заказ"})
    assert events == [SlotSet("order_id", None)]
    assert responses == ["utter_invalid_order_id"]


async def test_payment_missing_form_keeps_the_date_and_parses_the_amount() -> None:
    events, responses = await validate(
        ValidatePaymentMissingForm(), "payment_missing_form", {"date": " позавчера ", "amount": "1 200 р"}
    )
    assert events == [SlotSet("date", "позавчера"), SlotSet("amount", "1200 RUB")]
    assert responses == []


async def test_payment_missing_form_rejects_a_bad_amount_and_an_empty_date() -> None:
    events, responses = await validate(
        ValidatePaymentMissingForm(), "payment_missing_form", {"amount": "сто долларов", "date": "  "}
    )
    assert sorted(events, key=lambda event: str(event["name"])) == [SlotSet("amount", None), SlotSet("date", None)]
    assert responses == ["utter_invalid_amount"]


async def test_slots_of_other_forms_are_left_alone() -> None:
    events, responses = await validate(ValidateOrderStatusForm(), "order_status_form", {"lang": "ru"})
    assert events == []
    assert responses == []


def test_names() -> None:
    assert ValidateAccountNumberForm().name() == "validate_account_number_form"
    assert ValidateOutageCheckForm().name() == "validate_outage_check_form"
    assert ValidateOrderStatusForm().name() == "validate_order_status_form"
    assert ValidatePaymentMissingForm().name() == "validate_payment_missing_form"


@pytest.mark.parametrize(
    ("slots", "response"),
    [
        (
            {"phone": "+79161234567", "account_number": "100200300903", "account_known": True},
            "utter_account_number_known",
        ),
        ({"phone": "+79161234567", "account_number": "100200300903"}, "utter_account_number_where"),  # typed in
        ({"phone": "+79161234567"}, "utter_account_number_where"),
    ],
)
async def test_the_account_number_answer_gives_the_number_when_it_is_known(
    slots: dict[str, Any], response: str
) -> None:
    tracker = make_tracker("мой лицевой счёт?", "account_number", 0.95, slots=slots)
    dispatcher = CollectingDispatcher()
    domain = make_domain("utter_account_number_known", "utter_account_number_where")
    assert await ActionAccountNumberAnswer().run(dispatcher, tracker, domain) == []
    assert response_names(dispatcher.messages) == [response]


@pytest.mark.parametrize(
    ("slots", "responses"),
    [
        (
            {"account_number": "230045670101", "account_known": True},
            ["utter_payment_missing_result", "utter_payment_account_confirm"],
        ),
        ({"account_number": "230045670101"}, ["utter_payment_missing_result"]),  # typed in, not the records'
        ({}, ["utter_payment_missing_result"]),
    ],
)
async def test_the_payment_check_confirms_the_account_the_records_hold(
    slots: dict[str, Any], responses: list[str]
) -> None:
    """«…0101, если платили на другой счёт, напишите его номер»: confirmed, not asked; the last digits only."""
    tracker = make_tracker(
        "1200 рублей", "payment_missing", 0.95, slots={"date": "вчера", "amount": "1200 RUB", **slots}
    )
    dispatcher = CollectingDispatcher()
    domain = make_domain("utter_payment_missing_result", "utter_payment_account_confirm")
    assert await ActionPaymentMissingResult().run(dispatcher, tracker, domain) == []
    assert response_names(dispatcher.messages) == responses
    if len(responses) == 2:
        assert dispatcher.messages[1]["account_tail"] == "…0101"
