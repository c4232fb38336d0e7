from __future__ import annotations

from decimal import Decimal

import pytest

from zabota.entity_values import (
    Money,
    find_address,
    find_amount,
    find_date,
    normalize_account_number,
    normalize_address,
    normalize_amount,
    normalize_date,
    normalize_order_id,
    normalize_phone,
    normalize_phone_or_account,
    parse_amount,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+7 916 123-45-67", "+79161234567"),
        ("89161234567", "+79161234567"),
        ("8 (903) 555 12 34", "+79035551234"),
        ("+79035551234", "+79035551234"),
        ("7 916 123 45 67", "+79161234567"),
        ("916 123 45 67", "+79161234567"),
        ("8-800-100-20-30", "+78001002030"),
        ("  +7(495)123-45-67 ", "+74951234567"),
    ],
)
def test_phone(text: str, expected: str) -> None:
    assert normalize_phone(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "123", "+1 212 555 12 34", "+8 916 123 45 67", "9161234567890", "позвоните 89161234567", "230045678912"],
)
def test_invalid_phone(text: str) -> None:
    assert normalize_phone(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("230045678912", "230045678912"), ("2300 4567 8912", "230045678912"), (" 2300 4567 8912 ", "230045678912")],
)
def test_account_number(text: str, expected: str) -> None:
    assert normalize_account_number(text) == expected


@pytest.mark.parametrize("text", ["", "23004567891", "2300456789123", "2300-4567-8912", "счёт 230045678912", "ab"])
def test_invalid_account_number(text: str) -> None:
    assert normalize_account_number(text) is None


def test_phone_or_account() -> None:
    assert normalize_phone_or_account("2300 4567 8912") == "230045678912"
    assert normalize_phone_or_account("8 916 123 45 67") == "+79161234567"
    assert normalize_phone_or_account("не помню") is None


@pytest.mark.parametrize(
    "text", ["ZB-4829173", "zb4829173", "ZB 4829173", "4829173", "zb-4829173", "№ 4829173", " ZB-4829173 "]
)
def test_order_id(text: str) -> None:
    assert normalize_order_id(text) == "ZB-4829173"


@pytest.mark.parametrize("text", ["", "ZB-482917", "ZB-48291734", "AB-4829173", "заказ", "ZB-48291a3"])
def test_invalid_order_id(text: str) -> None:
    assert normalize_order_id(text) is None


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("1 200 р", "1200"),
        ("350₽", "350"),
        ("350 ₽", "350"),
        ("1500 рублей", "1500"),
        ("2 рубля", "2"),
        ("500 руб", "500"),
        ("500 руб.", "500"),
        ("500р.", "500"),
        ("700 rubles", "700"),
        ("RUB 450", "450"),
        ("450 RUB", "450"),
        ("1200", "1200"),
        ("1200,50 руб", "1200.50"),
        ("1 200.5", "1200.5"),
        ("1,200.50 rub", "1200.50"),
        ("12\u00a0000 ₽", "12000"),
        ("2 тыс", "2000"),
        ("1.5к руб", "1500"),
    ],
)
def test_amount(text: str, amount: str) -> None:
    assert parse_amount(text) == Money(amount=Decimal(amount), currency="RUB")


@pytest.mark.parametrize(
    "text", ["", "руб", "0 руб", "100 $", "100 USD", "€100", "4111111111111111", "1 20 руб", "-5 р"]
)
def test_invalid_amount(text: str) -> None:
    assert parse_amount(text) is None


def test_amount_as_the_slot_stores_it() -> None:
    assert normalize_amount("1 200 р") == "1200 RUB"
    assert normalize_amount("1200,5 руб") == "1200.50 RUB"
    assert normalize_amount("нисколько") is None


@pytest.mark.parametrize(("text", "expected"), [("вчера", "вчера"), ("  3  ноября ", "3 ноября"), ("12.11", "12.11")])
def test_date_keeps_the_customer_words(text: str, expected: str) -> None:
    assert normalize_date(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "?", "..."])
def test_empty_date_is_rejected(text: str) -> None:
    assert normalize_date(text) is None


def test_address() -> None:
    assert normalize_address("  ул. Ленина 5 кв 12 ") == "ул. Ленина 5 кв 12"
    assert normalize_address("12 Baker street apt 4") == "12 Baker street apt 4"
    assert normalize_address("Мира") is None  # shorter than 5 characters
    assert normalize_address("12345 6") is None  # no letter
    assert normalize_address("") is None


def test_an_address_needs_a_house_number() -> None:
    assert normalize_address("а когда примерно починят?") is None
    assert normalize_address("45 Park Lane") == "45 Park Lane"


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("добрый вечер. у нас на Гагарина 15 с ночи нет ни интернета", "Гагарина 15"),
        ("есть работы на ул. Профсоюзная 93? инет отвалился", "ул. Профсоюзная 93"),
        ("На пр-те Мира 44 что-то чинить собираетесь?", "пр-те Мира 44"),
        ("проверьте Ленина 5, кв 3", "Ленина 5, кв 3"),
        ("any planned works at 12 baker street flat 4 this week?", "12 baker street flat 4"),
        ("У нас в Химках 3 дня нет интернета", None),  # three days, not a house
        ("С 9 утра нет интернета", None),
        ("у меня 2 роутера", None),
    ],
)
def test_an_address_is_found_inside_a_message(text: str, address: str | None) -> None:
    assert find_address(text) == address


@pytest.mark.parametrize(
    ("said", "amount"),
    [
        ("тысячу двести рублей", "1200 RUB"),
        ("полторы тысячи", "1500 RUB"),
        ("две тысячи триста", "2300 RUB"),
        ("two hundred rubles", "200 RUB"),
        ("ну тысячу", None),  # not a number first
    ],
)
def test_an_amount_said_in_words(said: str, amount: str | None) -> None:
    assert normalize_amount(said) == amount


@pytest.mark.parametrize(
    ("text", "amount", "date"),
    [
        ("оплатила 12 марта 2300 рублей через терминал", "2300 RUB", "12 марта"),
        ("закинула 1 350 р позавчера", "1350 RUB", "позавчера"),
        ("paid 500 rubles last friday", "500 RUB", "last friday"),
        ("перевела 2 тыс руб 03.12", "2000 RUB", "03.12"),
        ("у меня 2 роутера", None, None),
    ],
)
def test_an_amount_and_a_date_are_found_inside_a_message(text: str, amount: str | None, date: str | None) -> None:
    assert (find_amount(text), find_date(text)) == (amount, date)
