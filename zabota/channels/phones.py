"""Phone numbers to E.164, the one form stored, compared and sent to the SMS provider.

Russian numbers arrive in every local form (``8 (999) 123-45-67``, ``+7 999 1234567``, ``79991234567``,
``9991234567``); other countries only in international form (``+44 20 7946 0958``, ``0044...``). Anything else
(letters, too few or too many digits, a ``+7`` number without ten digits) is not a number we can text.
"""

from __future__ import annotations

import re

# Separators people and systems put into numbers; anything else (letters, "#", "*") rejects the input.
_SEPARATORS = re.compile(r"[\s\-().\u00a0\u2010-\u2015]")
_E164_MAX_DIGITS = 15
# The shortest real international number (country code + subscriber number), e.g. some Pacific islands.
_INTERNATIONAL_MIN_DIGITS = 8


def normalize_phone(raw: str) -> str | None:
    """``+<digits>`` (E.164) for a Russian or an international number, or None when ``raw`` is not one.

    Russian forms: ``8XXXXXXXXXX`` (trunk prefix), ``7XXXXXXXXXX``, ``+7XXXXXXXXXX``, and the ten national
    digits alone when they start with a geographic (3xx, 4xx) or mobile (9xx) code, as
    ``zabota.entity_values.normalize_phone`` reads them; ten digits starting with 8 are refused here (more
    likely ``8 9xx ...`` with a digit missing than an 8xx number, and a wrong SMS recipient is worse than
    none). International: ``+`` or ``00`` followed by 8-15 digits.
    """
    compact = _SEPARATORS.sub("", raw.strip())
    if not compact:
        return None
    plus = compact.startswith("+")
    digits = compact[1:] if plus else compact
    if not digits.isascii() or not digits.isdigit():
        return None
    if not plus and digits.startswith("00"):
        plus, digits = True, digits[2:]
    if plus:
        if digits.startswith("7"):
            return "+" + digits if len(digits) == 11 else None
        if digits.startswith("0") or not _INTERNATIONAL_MIN_DIGITS <= len(digits) <= _E164_MAX_DIGITS:
            return None
        return "+" + digits
    if len(digits) == 11 and digits[0] in "78":
        return "+7" + digits[1:]
    if len(digits) == 10 and digits[0] in "349":
        return "+7" + digits
    return None


def phone_for_log(phone: str | None) -> str:
    """The last two digits only (``+7*******67``): enough to tell two numbers apart in a log, no more."""
    if not phone:
        return ""
    digits = [ch for ch in phone if ch.isdigit()]
    if len(digits) < 4:
        return "*" * len(digits)
    return "+" + digits[0] + "*" * (len(digits) - 3) + "".join(digits[-2:])
