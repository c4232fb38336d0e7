"""Slot validation of the forms: each validator normalises the customer's value or rejects it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.tracker_data import as_text, slot_text
from zabota.entity_values import (
    normalize_address,
    normalize_amount,
    normalize_date,
    normalize_order_id,
    normalize_phone_or_account,
)

log = structlog.stdlib.get_logger(__name__)


def validated(
    form: str,
    slot: str,
    value: Any,
    normalize: Callable[[str], str | None],
    dispatcher: CollectingDispatcher,
    invalid_response: str | None = None,
) -> dict[str, str | None]:
    """``{slot: normalised value}``, or ``{slot: None}`` (the form asks again) and the invalid-value response."""
    text = as_text(value)
    normalized = normalize(text) if text is not None else None
    if normalized is None:
        log.info("form.slot_invalid", form=form, slot=slot)  # never the value: it is personal data
        if invalid_response is not None:
            dispatcher.utter_message(response=invalid_response)
    return {slot: normalized}


class ValidateAccountNumberForm(FormValidationAction):  # type: ignore[misc]  # rasa_sdk ships no type information
    def name(self) -> str:
        return "validate_account_number_form"

    async def validate_phone(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, str | None]:
        """A phone number or, from a customer who has it after all, the 12-digit account or contract number."""
        return validated(
            self.form_name(), "phone", slot_value, normalize_phone_or_account, dispatcher, "utter_invalid_phone"
        )


class ValidateOutageCheckForm(FormValidationAction):  # type: ignore[misc]  # rasa_sdk ships no type information
    def name(self) -> str:
        return "validate_outage_check_form"

    async def validate_address(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, str | None]:
        return validated(self.form_name(), "address", slot_value, normalize_address, dispatcher)


class ValidateOrderStatusForm(FormValidationAction):  # type: ignore[misc]  # rasa_sdk ships no type information
    def name(self) -> str:
        return "validate_order_status_form"

    async def validate_order_id(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, str | None]:
        return validated(
            self.form_name(), "order_id", slot_value, normalize_order_id, dispatcher, "utter_invalid_order_id"
        )


class ValidatePaymentMissingForm(FormValidationAction):  # type: ignore[misc]  # rasa_sdk ships no type information
    def name(self) -> str:
        return "validate_payment_missing_form"

    async def validate_date(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, str | None]:
        return validated(self.form_name(), "date", slot_value, normalize_date, dispatcher)

    async def validate_amount(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, str | None]:
        return validated(self.form_name(), "amount", slot_value, normalize_amount, dispatcher, "utter_invalid_amount")


class ActionPaymentMissingResult(Action):  # type: ignore[misc]  # rasa_sdk ships no type information
    """The payment check's answer and, for a customer whose account the records hold, the account it is checked
    on, confirmed and not asked («…0101, если платили на другой счёт, напишите его номер»). Its last digits
    only: enough to recognise, and nothing to steal when read out on a call."""

    def name(self) -> str:
        return "action_payment_missing_result"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[Any]:
        dispatcher.utter_message(response="utter_payment_missing_result")
        account = slot_text(tracker, "account_number")
        if tracker.get_slot("account_known") is True and account is not None:
            dispatcher.utter_message(response="utter_payment_account_confirm", account_tail=account_tail(account))
        log.info("form.payment_missing_answered", account_confirmed=tracker.get_slot("account_known") is True)
        return []


def account_tail(account: str) -> str:
    """«…0101»: the last four digits of an account number."""
    digits = "".join(ch for ch in account if ch.isdigit())
    return "…" + (digits or account)[-4:]


class ActionAccountNumberAnswer(Action):  # type: ignore[misc]  # rasa_sdk ships no type information
    """The account_number form's answer: the number itself when the service knows it (the company's records,
    passed by the gateway for a verified customer), else where to find it. Never asked: the phone the form
    needs is the verified one when there is one (actions/language.py)."""

    def name(self) -> str:
        return "action_account_number_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[Any]:
        # the number from the company's records (account_known), not one the customer typed in
        known = tracker.get_slot("account_known") is True and slot_text(tracker, "account_number") is not None
        log.info("form.account_number_answered", known=known)
        dispatcher.utter_message(response="utter_account_number_known" if known else "utter_account_number_where")
        return []
