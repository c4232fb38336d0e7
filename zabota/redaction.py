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

# 13-19 digits, optionally grouped by spaces or dashes (4-4-4-4 and the like).
_CARD_CANDIDATE = re.compile(r"(?<![\d])(?:\d[ -]?){12,18}\d(?![\d])")
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


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if 13 <= len(digits) <= 19 and luhn_valid(digits):
        return CARD_MASK
    return match.group(0)


def redact(text: str) -> str:
    """Remove data the service must never keep: card numbers, CVV codes, passport numbers."""
    text = _CVV.sub(CVV_MASK, text)
    text = _CARD_CANDIDATE.sub(_mask_card, text)
    return _PASSPORT.sub(PASSPORT_MASK, text)


def mask_for_log(text: str) -> str:
    """``redact`` plus emails, phones and any long number: log lines need none of them."""
    text = redact(text)
    text = _EMAIL.sub(EMAIL_MASK, text)
    text = _PHONE.sub(PHONE_MASK, text)
    return _LONG_NUMBER.sub(LONG_NUMBER_MASK, text)
