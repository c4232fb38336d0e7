from __future__ import annotations

import pytest

from zabota.channels.phones import normalize_phone, phone_for_log


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("89161234567", "+79161234567"),
        ("8 (916) 123-45-67", "+79161234567"),
        ("+7 916 123 45 67", "+79161234567"),
        ("+7(916)123-45-67", "+79161234567"),
        ("79161234567", "+79161234567"),
        ("7 916 123-45-67", "+79161234567"),
        ("9161234567", "+79161234567"),
        ("495 123-45-67", "+74951234567"),
        ("3812 12-34-56", "+73812123456"),
        ("8 (495) 123-45-67", "+74951234567"),
        ("  +79161234567\n", "+79161234567"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+1 (415) 555-2671", "+14155552671"),
        ("0044 20 7946 0958", "+442079460958"),
        ("+49.30.1234567", "+49301234567"),
        ("+7\u00a0916\u00a0123\u201145\u201167", "+79161234567"),
    ],
)
def test_normalises(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "123",
        "+7 916 123 45",  # too short for +7
        "+7 916 123 45 678",  # too long for +7
        "8916123456",  # ten digits starting with 8: a digit missing, most likely
        "1234567890",  # ten digits that are no Russian national number
        "+0123456789",
        "+1234567",  # too short for an international number
        "+1234567890123456",  # longer than E.164 allows
        "позвоните мне",
        "8-916-ABC-45-67",
        "*100#",
        "+79161234567 доб. 12",
        "++79161234567",
        "８９１６１２３４５６７",  # full-width digits are not ASCII
    ],
)
def test_rejects(raw: str) -> None:
    assert normalize_phone(raw) is None


def test_phone_for_log() -> None:
    assert phone_for_log("+79161234567") == "+7********67"
    assert phone_for_log(None) == ""
    assert phone_for_log("12") == "**"
