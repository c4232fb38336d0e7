from __future__ import annotations

import pytest

from zabota.redaction import (
    CARD_MASK,
    CVV_MASK,
    EMAIL_MASK,
    LONG_NUMBER_MASK,
    PASSPORT_MASK,
    PHONE_MASK,
    luhn_valid,
    mask_email,
    mask_for_log,
    mask_phone,
    redact,
    redact_for_summary,
)

VISA = "4111111111111111"  # Luhn-valid test numbers
MASTERCARD = "5500000000000004"
NOT_LUHN = "4111111111111112"


def test_luhn() -> None:
    assert luhn_valid(VISA)
    assert luhn_valid(MASTERCARD)
    assert luhn_valid("79927398713")
    assert not luhn_valid(NOT_LUHN)


@pytest.mark.parametrize(
    "card",
    [
        VISA,
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5500 0000 0000 0004",
        "4222222222222",  # 13 digits
        "2200 0000 0000 0000 004",  # 19 digits (Mir)
    ],
)
def test_luhn_valid_card_numbers_are_masked(card: str) -> None:
    text = f"списали деньги с карты {card} вчера"
    assert redact(text) == f"списали деньги с карты {CARD_MASK} вчера"


def test_card_followed_by_expiry_or_code_is_still_masked() -> None:
    assert redact("карта 4111 1111 1111 1111 12/25") == f"карта {CARD_MASK} 12/25"
    assert redact("4111 1111 1111 1111 123") == f"{CARD_MASK} 123"
    assert redact("заказ 5 4111 1111 1111 1111") == f"заказ 5 {CARD_MASK}"


def test_two_cards_in_a_row_are_both_masked() -> None:
    assert redact(f"{VISA} {MASTERCARD}") == f"{CARD_MASK} {CARD_MASK}"
    assert redact("карты 4111 1111 1111 1111 и 5500 0000 0000 0004") == f"карты {CARD_MASK} и {CARD_MASK}"


@pytest.mark.parametrize(
    "text",
    [
        f"номер {NOT_LUHN}",  # 16 digits failing Luhn: not a card
        "лицевой счёт 230045678912",
        "лицевой 2300 4567 8912",
        "заказ ZB-4829173",
        "звоню с +7 916 123-45-67",
        "расчётный счёт 40817810099910004312",  # 20 digits: a bank account, not a card
        "оплатил 1 200 р 12.11",
    ],
)
def test_other_digits_are_kept(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "паспорт 45 06 123456",
        "Паспорт: 4506 123456",
        "паспортные данные 4506 № 123456",
        "passport 4506123456",
        "45 06 123456",
    ],
)
def test_passports_are_masked(text: str) -> None:
    redacted = redact(text)
    assert PASSPORT_MASK in redacted
    assert "123456" not in redacted


@pytest.mark.parametrize("text", ["cvv 123", "CVV: 123", "cvc2 1234", "CVV2 123", "код с обратной стороны 321"])
def test_cvv_codes_are_masked(text: str) -> None:
    redacted = redact(text)
    assert redacted == CVV_MASK


def test_full_card_details_leave_no_digits_of_card_or_code() -> None:
    redacted = redact("карта 4111 1111 1111 1111 12/25 cvv 123")
    assert redacted == f"карта {CARD_MASK} 12/25 {CVV_MASK}"


def test_redact_keeps_what_the_dialogue_needs() -> None:
    text = "тел +79161234567, почта a.b@mail.ru, счёт 230045678912"
    assert redact(text) == text


def test_mask_for_log_hides_phones_emails_and_long_numbers() -> None:
    masked = mask_for_log(f"тел +7 916 123-45-67, 89035551234, почта a.b@mail.ru, счёт 230045678912, карта {VISA}")
    assert masked == (f"тел {PHONE_MASK}, {PHONE_MASK}, почта {EMAIL_MASK}, счёт {LONG_NUMBER_MASK}, карта {CARD_MASK}")


def test_mask_for_log_keeps_short_numbers() -> None:
    assert mask_for_log("заказ на 350 руб, 3 ноября") == "заказ на 350 руб, 3 ноября"


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("+7 916 123-45-67", "+7 *** ***-45-67"),
        ("89161234567", "+7 *** ***-45-67"),
        ("+7 (495) 765-43-21", "+7 *** ***-43-21"),
        ("9161234567", "+7 *** ***-45-67"),
        ("+44 20 7946 0958", "+*** 0958"),
        ("12-34", "***"),
    ],
)
def test_mask_phone_shows_only_the_last_four_digits(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("email", "masked"),
    [("ivan@mail.ru", "i***@mail.ru"), ("a.b+tag@corp.example.com", "a***@corp.example.com"), ("no-at", "***")],
)
def test_mask_email_shows_the_first_letter_and_the_domain(email: str, masked: str) -> None:
    assert mask_email(email) == masked


def test_redact_for_summary_masks_contacts_and_keeps_identifiers() -> None:
    text = f"тел +7 916 123-45-67, почта ivan@mail.ru, счёт 230045678912, заказ A-1234, карта {VISA}"
    assert redact_for_summary(text) == (
        f"тел +7 *** ***-45-67, почта i***@mail.ru, счёт 230045678912, заказ A-1234, карта {CARD_MASK}"
    )


def test_redact_for_summary_also_hides_passports_and_codes() -> None:
    assert redact_for_summary("паспорт 4510 123456, cvv 123") == f"{PASSPORT_MASK}, {CVV_MASK}"
