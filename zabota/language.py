"""Per-message language detection for Russian and English customers.

Script-based: Cyrillic letters mean Russian. A message without letters (a phone number, an order id, an
emoji) keeps the conversation's previous language, because it says nothing about the language.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["ru", "en"]
SUPPORTED: tuple[Language, ...] = ("ru", "en")
DEFAULT_LANGUAGE: Language = "ru"


# Latin words that Russian customers write as often as English ones ("ok", "wifi не работает", "sms не приходит"):
# they say nothing about the language, so they do not vote. Compared lower case, without edge punctuation.
NEUTRAL_WORDS = frozenset(
    {
        "ok", "okay", "wifi", "wi-fi", "sms", "mms", "sim", "esim", "e-sim", "apn", "tv", "iptv", "id",
        "pin", "puk", "ip", "vpn", "lte", "3g", "4g", "5g", "usb", "qr", "2fa", "gpon", "adsl", "nfc", "pdf",
        "tp-link", "keenetic", "zyxel", "asus", "xiaomi", "huawei", "samsung", "iphone", "android", "ios",
        "telegram", "whatsapp", "zabota", "zabota.example",
    }
)  # fmt: skip


def _is_cyrillic(ch: str) -> bool:
    return "\u0400" <= ch <= "\u04ff"


def detect_language(text: str, previous: str | None = None) -> Language:
    """Return the language of ``text``; fall back to ``previous`` (or Russian) when the text has no letters.

    Votes by word, not by letter: Russian customers mix in Latin brand names ("wifi роутер tp-link не
    работает"), English ones sometimes paste a Cyrillic address. A tie with any Cyrillic word is Russian.
    Words of ``NEUTRAL_WORDS`` and identifiers (more digits than letters: ``ZB-4829173``) do not vote, so "ok",
    "wifi" or an order id alone keep the conversation's language.
    """
    cyrillic_words = latin_words = 0
    for word in text.split():
        if word.strip(".,!?:;()\"'«»").lower() in NEUTRAL_WORDS:
            continue
        cyrillic = sum(1 for ch in word if _is_cyrillic(ch))
        latin = sum(1 for ch in word if ch.isascii() and ch.isalpha())
        if sum(1 for ch in word if ch.isdigit()) > cyrillic + latin:
            continue  # an identifier (ZB-4829173, a model code like AX3000), not a word of either language
        if cyrillic > latin:
            cyrillic_words += 1
        elif latin > cyrillic:
            latin_words += 1
    if cyrillic_words == 0 and latin_words == 0:
        return previous if previous in SUPPORTED else DEFAULT_LANGUAGE
    return "ru" if cyrillic_words >= latin_words else "en"
