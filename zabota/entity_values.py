"""Normalisation and validation of the values customers give for slots (docs/nlu-data-conventions.md).

Pure functions: each takes the text the customer wrote (an entity value or a whole message) and returns the
canonical value, or ``None`` when the text is not a valid value of that kind. Nothing here knows about Rasa.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Currency = Literal["RUB"]

# Spaces that people and keyboards put between digit groups: plain, no-break, narrow no-break, thin.
_SPACES = " \u00a0\u202f\u2009"
_SPACE_CLASS = "[" + _SPACES + "]"


def _squash(text: str) -> str:
    """Trim and collapse every run of whitespace (including no-break spaces) to one plain space."""
    return re.sub(r"[\s\u00a0\u202f\u2009]+", " ", text).strip()


# --- phone -------------------------------------------------------------------------------------------------

# Only what a phone number is written with: digits, a leading plus, brackets, dashes, dots and spaces.
_PHONE_CHARS = re.compile(r"^\+?[\d\s().\-\u00a0\u202f\u2009]+$")
# Russian numbers without the country code start with a geographic (3xx, 4xx, 8xx) or mobile (9xx) code.
_RU_NATIONAL_FIRST_DIGITS = frozenset("3489")


def normalize_phone(value: str) -> str | None:
    """A Russian phone number as ``+7XXXXXXXXXX``.

    Accepts ``+7 916 123-45-67``, ``89161234567``, ``8 (903) 555 12 34``, ``+79035551234``, ``7 916 1234567``
    and the ten national digits alone (``916 123 45 67``).
    """
    text = value.strip()
    if not text or not _PHONE_CHARS.match(text):
        return None
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        # An explicit country code must be Russia's.
        if len(digits) == 11 and digits[0] == "7":
            return "+" + digits
        return None
    if len(digits) == 11 and digits[0] in "78":
        national = digits[1:]
    elif len(digits) == 10:
        national = digits
    else:
        return None
    if national[0] not in _RU_NATIONAL_FIRST_DIGITS:
        return None
    return "+7" + national


# --- personal account / contract number ----------------------------------------------------------------------

_ACCOUNT = re.compile(r"^\d(?:" + _SPACE_CLASS + r"?\d){11}$")
# A 12-digit account number inside a text (spaced in fours or not): a number to keep, not only to hear
# (zabota/channels: it goes by SMS on a call and is not read aloud).
ACCOUNT_NUMBER_IN_TEXT = re.compile(r"(?<!\d)\d{4}[ \-\u00a0]?\d{4}[ \-\u00a0]?\d{4}(?!\d)")


def normalize_account_number(value: str) -> str | None:
    """The 12-digit personal account (лицевой счёт) or contract number, digits only (``2300 4567 8912``)."""
    text = value.strip()
    if not _ACCOUNT.match(text):
        return None
    return re.sub(r"\D", "", text)


def normalize_phone_or_account(value: str) -> str | None:
    """What identifies a customer who does not know the account number: a 12-digit account or a phone."""
    return normalize_account_number(value) or normalize_phone(value)


# --- shop order id -----------------------------------------------------------------------------------------

_ORDER_ID = re.compile(r"^(?:[№#]\s*)?(?:zb[\s\-_]*)?(\d{7})$", re.IGNORECASE)


def normalize_order_id(value: str) -> str | None:
    """A shop order id as ``ZB-1234567`` (from ``ZB-1234567``, ``zb1234567``, ``ZB 1234567``, ``1234567``)."""
    match = _ORDER_ID.match(_squash(value))
    return f"ZB-{match.group(1)}" if match else None


# --- money ---------------------------------------------------------------------------------------------------

# The assistant serves a Russian operator: every amount is in roubles. Other currencies are not accepted.
_RUB = r"(?:₽|руб(?:\.|л(?:ь|я|ей))?|р\.?|rub(?:\.|les?)?|roubles?|rur)"
# A number: the whole part grouped by spaces (1 200) or by commas (1,200), or plain; then 1-2 decimals after
# a point or a comma (1200,50 and 1,200.50).
_WHOLE = r"(?:\d{1,3}(?:" + _SPACE_CLASS + r"\d{3})+|\d{1,3}(?:,\d{3})+|\d+)"
_THOUSANDS = r"(?:тыс(?:\.|яч[аи]?)?|к|k)"
_AMOUNT = re.compile(
    rf"^(?:(?P<pre>{_RUB})\s*)?(?P<whole>{_WHOLE})(?:[.,](?P<fraction>\d{{1,2}}))?"
    rf"\s*(?P<thousands>{_THOUSANDS})?\s*(?P<post>{_RUB})?$",
    re.IGNORECASE,
)
# Nobody reports a missing payment of more than this; longer digit strings are card or account numbers.
MAX_AMOUNT = Decimal("100000000")


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: Currency = "RUB"

    def __str__(self) -> str:
        """``1200 RUB``; kopecks only when there are any (``1200.50 RUB``)."""
        if self.amount == self.amount.to_integral_value():
            return f"{self.amount.quantize(Decimal(1))} {self.currency}"
        return f"{self.amount.quantize(Decimal('0.01'))} {self.currency}"


# Amounts said in words (a call's recognised speech: «тысячу двести рублей», "two hundred rubles").
_NUMBER_WORDS: dict[str, int] = {
    **dict.fromkeys(("один", "одна", "одну"), 1),
    **dict.fromkeys(("два", "две"), 2),
    "три": 3, "четыре": 4, "пять": 5, "шесть": 6, "семь": 7, "восемь": 8, "девять": 9, "десять": 10,
    "одиннадцать": 11, "двенадцать": 12, "тринадцать": 13, "четырнадцать": 14, "пятнадцать": 15,
    "шестнадцать": 16, "семнадцать": 17, "восемнадцать": 18, "девятнадцать": 19, "двадцать": 20,
    "тридцать": 30, "сорок": 40, "пятьдесят": 50, "шестьдесят": 60, "семьдесят": 70, "восемьдесят": 80,
    "девяносто": 90, "сто": 100, "двести": 200, "триста": 300, "четыреста": 400, "пятьсот": 500,
    "шестьсот": 600, "семьсот": 700, "восемьсот": 800, "девятьсот": 900,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_THOUSAND_WORDS = frozenset({"тысяча", "тысячу", "тысячи", "тысяч", "thousand"})
_HUNDRED_WORDS = frozenset({"hundred"})
_HALF_THOUSAND = frozenset({"полторы", "полтора"})


def _digits_for_words(text: str) -> str:
    """``text`` with a leading number in words written in digits («тысячу двести рублей» -> «1200 рублей»);
    unchanged when it does not start with one."""
    words = text.lower().replace("ё", "е").replace("-", " ").split()
    total = current = 0
    used = 0
    for word in words:
        if word in _NUMBER_WORDS:
            current += _NUMBER_WORDS[word]
        elif word in _HUNDRED_WORDS:
            current = (current or 1) * 100
        elif word in _HALF_THOUSAND:
            current += 1500
            total += current
            current = 0
        elif word in _THOUSAND_WORDS:
            if words[used - 1 : used] and words[used - 1] in _HALF_THOUSAND:
                used += 1
                continue
            total += (current or 1) * 1000
            current = 0
        elif word == "and" and used:
            pass
        else:
            break
        used += 1
    if not used:
        return text
    return " ".join([str(total + current), *words[used:]])


def parse_amount(value: str) -> Money | None:
    """A positive amount of roubles: ``1 200 р``, ``350₽``, ``1500 рублей``, ``700 rubles``, ``RUB 450``, ``2 тыс``.

    A bare number counts as roubles too (the answer to "what amount?"), and a number said in words
    («тысячу двести рублей», "two hundred rubles") as its digits.
    """
    text = _squash(value)
    match = _AMOUNT.match(text) or _AMOUNT.match(_digits_for_words(text))
    if match is None or (match.group("pre") and match.group("post")):
        return None
    whole = re.sub(r"\D", "", match.group("whole"))
    amount = Decimal(f"{whole}.{match.group('fraction') or '0'}")
    if match.group("thousands"):
        amount *= 1000
    if amount <= 0 or amount > MAX_AMOUNT:
        return None
    return Money(amount=amount)


def normalize_amount(value: str) -> str | None:
    """``parse_amount`` as the slot stores it: ``"1200 RUB"``."""
    money = parse_amount(value)
    return str(money) if money is not None else None


# --- free-text values ----------------------------------------------------------------------------------------

_HAS_ALNUM = re.compile(r"[^\W_]")
_HAS_LETTER = re.compile(r"[^\W\d_]")
_HAS_DIGIT = re.compile(r"\d")
MIN_ADDRESS_LENGTH = 5


def normalize_date(value: str) -> str | None:
    """The customer's own words for a date (``вчера``, ``3 ноября``, ``last friday``), trimmed.

    Dates are kept as written: the operator reads them, and resolving "позавчера" needs the conversation's
    time zone, which the bot does not know. Empty text and text without a letter or digit are rejected.
    """
    text = _squash(value)
    return text if _HAS_ALNUM.search(text) else None


def normalize_address(value: str) -> str | None:
    """An address as written, trimmed: at least 5 characters, a letter and a house number (``ул. Ленина 5``).

    The number matters: without it the outage check cannot be run, and a question typed where the address was
    asked («а когда починят?») is not taken for one."""
    text = _squash(value)
    if len(text) < MIN_ADDRESS_LENGTH or not _HAS_LETTER.search(text) or not _HAS_DIGIT.search(text):
        return None
    return text


# An address inside a longer message: a street (with or without its kind) and a house number, the flat after
# it; or the English order, the number first. For the message that starts the outage check, so the customer who
# wrote the address with the question is not asked for it (the NLU's entity extractor misses some).
_STREET_KIND = (
    r"(?:ул\.?|улиц[аеуы]|пр-т[аеу]?|пр\.|просп\.?|проспект[аеу]?|пер\.?|переул\w*|б-р|бульвар[аеу]?|ш\.|шоссе|"
    r"наб\.?|набережн\w*|пл\.?|площад\w*|мкр\.?)"
)
_RU_ADDRESS = re.compile(
    r"(?:" + _STREET_KIND + r"\s*)?(?-i:[А-ЯЁ])[а-яё\-]+(?:\s+(?-i:[А-ЯЁ])[а-яё\-]+)?,?\s+(?:д\.?\s*|дом\s+)?"
    r"\d{1,4}[а-яё]?\b"
    # a number of days, hours or megabits is not a house
    r"(?!\s*(?:дн|день|час|мин|сек|раз|недел|месяц|год|лет|мбит|мб|гб|руб|р\b|₽|утра|вечера|ночи|числа|%))"
    r"(?:/\d{1,3})?(?:,?\s*(?:корп\.?|к\.?)\s*\d{1,2})?(?:,?\s*(?:кв\.?|квартира)\s*\d{1,4})?",
    re.IGNORECASE,
)
_EN_ADDRESS = re.compile(
    r"\b\d{1,4}[a-z]?\s+[a-z][a-z\-]+(?:\s+[a-z][a-z\-]+)?\s+(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|way|square|"
    r"sq|boulevard|blvd|place|pl)\b(?:,?\s*(?:flat|apt|apartment)\.?\s*\d{1,4})?",
    re.IGNORECASE,
)


def find_address(text: str) -> str | None:
    """The first address written in ``text`` (``на Гагарина 15`` -> ``Гагарина 15``), or None."""
    squashed = _squash(text)
    for pattern in (_RU_ADDRESS, _EN_ADDRESS):
        match = pattern.search(squashed)
        if match is not None:
            return normalize_address(match.group(0).strip(" ,"))
    return None


# --- values inside a longer message ----------------------------------------------------------------------------
# For the message that starts a form («оплатила 12 марта 2300 рублей, не зачислено»): what the customer already
# wrote is not asked (the NLU's entity extractor misses some). Only forms that say what they mean: an amount with
# its currency, a date with its month or a day word.
_AMOUNT_IN_TEXT = re.compile(
    r"(?<![\d.,])\d{1,3}(?:" + _SPACE_CLASS + r"\d{3})+(?:[.,]\d{1,2})?\s*" + _RUB + r"(?!\w)"
    r"|(?<![\d.,])\d+(?:[.,]\d{1,2})?\s*(?:" + _THOUSANDS + r"\s*)?" + _RUB + r"(?!\w)",
    re.IGNORECASE,
)
_MONTHS_RU = r"(?:января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря)"
_MONTHS_EN = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_WEEKDAYS_RU = r"(?:понедельник|вторник|среду|четверг|пятницу|субботу|воскресенье)"
_WEEKDAYS_EN = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_DATE_IN_TEXT = re.compile(
    r"(?<!\d)\d{1,2}\s+" + _MONTHS_RU + r"|(?<![\d.])\d{1,2}\.\d{1,2}(?:\.\d{2,4})?(?![\d.])"
    r"|\b(?:позавчера|вчера|сегодня|утром|the day before yesterday|yesterday|today)\b"
    r"|\bв\s+(?:прошл\w+\s+)?" + _WEEKDAYS_RU + r"\b|\b(?:last|on)\s+" + _WEEKDAYS_EN + r"\b"
    r"|\b" + _MONTHS_EN + r"\s+\d{1,2}(?:st|nd|rd|th)?\b|(?<!\d)\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTHS_EN,
    re.IGNORECASE,
)


def find_amount(text: str) -> str | None:
    """The first amount with its currency in ``text`` as the slot stores it (``2300 RUB``), or None."""
    match = _AMOUNT_IN_TEXT.search(_squash(text))
    return normalize_amount(match.group(0)) if match is not None else None


def find_date(text: str) -> str | None:
    """The first date in ``text`` as written (``12 марта``, ``вчера``, ``last friday``), or None."""
    match = _DATE_IN_TEXT.search(_squash(text))
    return normalize_date(match.group(0)) if match is not None else None
