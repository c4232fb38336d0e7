"""Personal-data redaction applied before text is logged or stored.

Card numbers (13-19 digits passing the Luhn check) and Russian passport series+number are never needed by
the bot, so they are replaced. Phones, account and order numbers are needed by the dialogue and are kept in
stored text; ``mask_for_log`` additionally hides them for log lines.
"""

from __future__ import annotations

import re

CARD_MASK = "[карта скрыта]"
PASSPORT_MASK = "[паспорт скрыт]"
CVV_MASK = "[код скрыт]"
EMAIL_MASK = "[email]"
PHONE_MASK = "[телефон]"
LONG_NUMBER_MASK = "[номер]"

# A run of digits, optionally grouped by single spaces or dashes (4-4-4-4 and the like). A card number is a
# Luhn-valid stretch of 13-19 digits of such a run that starts and ends at a group boundary: customers paste the
# card together with what follows it ("4276 3800 1234 5679 12/25", "... 5679 123"), and a run of two cards
# holds both.
_DIGIT_RUN = re.compile(r"(?<![\d])\d(?:[ -]?\d)*(?![\d])")
_DIGIT_GROUP = re.compile(r"\d+")
# Passport: series (2+2 digits, maybe spaced) and 6-digit number, after a passport keyword or as "dd dd dddddd".
_PASSPORT = re.compile(
    r"(?i)(?:паспорт\w*|passport)\D{0,20}\d{2}\s?\d{2}\s?(?:№\s?)?\d{6}|(?<!\d)\d{2}\s\d{2}\s\d{6}(?!\d)"
)
_CVV = re.compile(r"(?i)\b(?:cvv|cvc|cvv2|cvc2|код с обратной стороны)\W{0,3}\d{3,4}\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\d])(?:\+7|8)[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}(?![\d])")
_LONG_NUMBER = re.compile(r"(?<![\d])\d{6,}(?![\d])")


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, ch in enumerate(reversed(digits)):
        d = int(ch)
        if index % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _mask_cards(match: re.Match[str]) -> str:
    run = match.group(0)
    groups = [(m.start(), m.end(), m.group(0)) for m in _DIGIT_GROUP.finditer(run)]
    out: list[str] = []
    position = 0  # index in ``run`` up to which ``out`` holds the text
    first = 0  # first group not yet decided
    while first < len(groups):
        card_end = _card_ending_at(groups, first)
        if card_end is None:
            first += 1
            continue
        out.append(run[position : groups[first][0]])
        out.append(CARD_MASK)
        position = groups[card_end][1]
        first = card_end + 1
    out.append(run[position:])
    return "".join(out)


def _card_ending_at(groups: list[tuple[int, int, str]], first: int) -> int | None:
    """Index of the last group of the longest card number that starts with group ``first``, if any."""
    digits = ""
    found: int | None = None
    for index in range(first, len(groups)):
        digits += groups[index][2]
        if len(digits) > 19:
            break
        if len(digits) >= 13 and luhn_valid(digits):
            found = index
    return found


def redact(text: str) -> str:
    """Remove data the service must never keep: card numbers, CVV codes, passport numbers."""
    text = _CVV.sub(CVV_MASK, text)
    text = _DIGIT_RUN.sub(_mask_cards, text)
    return _PASSPORT.sub(PASSPORT_MASK, text)


def mask_for_log(text: str) -> str:
    """``redact`` plus emails, phones and any long number: log lines need none of them."""
    text = redact(text)
    text = _EMAIL.sub(EMAIL_MASK, text)
    text = _PHONE.sub(PHONE_MASK, text)
    return _LONG_NUMBER.sub(LONG_NUMBER_MASK, text)


# --- Masking for the operator's handoff summary ------------------------------------------------------------------
# The summary is shown to operators and kept with the handoff. Its contacts and entities identify the customer
# without needing the full phone or email (the operator writes back through the conversation, and the CRM has
# the full contact), so they show just enough to confirm it with the customer.

_NON_DIGIT = re.compile(r"\D")


def mask_phone(value: str) -> str:
    """``+7 916 123-45-67`` -> ``+7 *** ***-45-67``: the last four digits, enough to confirm the number."""
    digits = _NON_DIGIT.sub("", value)
    if len(digits) < 7:
        return "***"  # too short to be a phone number; showing part of it would show most of it
    if (len(digits) == 11 and digits[0] in "78") or (len(digits) == 10 and digits[0] == "9"):
        return f"+7 *** ***-{digits[-4:-2]}-{digits[-2:]}"
    return ("+" if value.lstrip().startswith("+") else "") + f"*** {digits[-4:]}"


def mask_email(value: str) -> str:
    """``ivan.petrov@mail.ru`` -> ``i***@mail.ru``: the first letter and the domain."""
    local, at, domain = value.strip().rpartition("@")
    if not at or not local or not domain:
        return "***"
    return f"{local[0]}***@{domain}"


def redact_for_summary(text: str) -> str:
    """``redact`` plus emails and phones masked (``mask_email``, ``mask_phone``), for the summary's fields where
    the full contact is not needed. Account and order numbers are kept: the operator works with them."""
    text = redact(text)
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)
