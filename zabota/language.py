"""Per-message language detection for Russian and English customers.

Script-based: Cyrillic letters mean Russian. A message without letters (a phone number, an order id, an
emoji) keeps the conversation's previous language, because it says nothing about the language.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["ru", "en"]
SUPPORTED: tuple[Language, ...] = ("ru", "en")
DEFAULT_LANGUAGE: Language = "ru"


def _is_cyrillic(ch: str) -> bool:
    return "\u0400" <= ch <= "\u04ff"


def detect_language(text: str, previous: str | None = None) -> Language:
    """Return the language of ``text``; fall back to ``previous`` (or Russian) when the text has no letters.

    Votes by word, not by letter: Russian customers mix in Latin brand names ("wifi роутер tp-link не
    работает"), English ones sometimes paste a Cyrillic address. A tie with any Cyrillic word is Russian.
    """
    cyrillic_words = latin_words = 0
    for word in text.split():
        cyrillic = sum(1 for ch in word if _is_cyrillic(ch))
        latin = sum(1 for ch in word if ch.isascii() and ch.isalpha())
        if cyrillic > latin:
            cyrillic_words += 1
        elif latin > cyrillic:
            latin_words += 1
    if cyrillic_words == 0 and latin_words == 0:
        return previous if previous in SUPPORTED else DEFAULT_LANGUAGE  # type: ignore[return-value]
    return "ru" if cyrillic_words >= latin_words else "en"
