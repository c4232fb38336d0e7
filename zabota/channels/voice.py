"""The short text a voice call speaks when the full reply went to another channel.

A spoken answer cannot carry a list of steps, a link or a USSD code: the caller cannot click or copy them, and
a long answer is forgotten before it ends. So the call speaks the first plain sentence of the reply and says
where the instructions went ("Инструкцию отправил вам в SMS."), in the conversation's language.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from zabota.entity_values import ACCOUNT_NUMBER_IN_TEXT

MAX_SPOKEN_CHARS = 200

# Where the instructions went, as it is said in each language.
_SENT_PLACE = {
    "ru": {"sms": "в SMS", "telegram": "в Telegram", "email": "на электронную почту"},
    "en": {"sms": "by SMS", "telegram": "in Telegram", "email": "by email"},
}
_SENT_SENTENCE = {"ru": "Инструкцию отправил вам {places}.", "en": "I've sent the instructions to you {places}."}
_AND = {"ru": " и ", "en": " and "}

_URL = re.compile(r"(?i)\bhttps?://\S+|\bwww\.\S+|\b[\w-]+(?:\.[\w-]+)*\.(?:ru|рф|su|com|net|org|example)\b(?:/\S*)?")
_CODE = re.compile(r"(?<![\w*#])[*#][*#]?\d{1,4}(?:\*\d{1,12})*#")
# A list item: "1. ...", "2) ...", "- ...", "• ...", "Шаг 1: ...".
_LIST_LINE = re.compile(r"(?i)^\s*(?:\d{1,2}\s*[.)](?!\d)|[-•*–—]\s|(?:шаг|step)\s*\d)")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_MARKUP = re.compile(r"\*\*|__|`")


def _sentences(text: str) -> list[str]:
    """The sentences of ``text`` before its first list item (the list is what went elsewhere)."""
    prose: list[str] = []
    for line in text.splitlines():
        if _LIST_LINE.match(line):
            break
        prose.append(line.strip())
    flat = " ".join(part for part in prose if part)
    return [sentence.strip() for sentence in _SENTENCE_END.split(flat) if sentence.strip()]


def _shorten(sentence: str, limit: int) -> str:
    if len(sentence) <= limit:
        return sentence
    cut = sentence[: limit - 1]
    for mark in (", ", "; ", " - ", " — ", " "):
        position = cut.rfind(mark)
        if position > limit // 2:
            return cut[:position].rstrip(" ,;-—") + "…"
    return cut.rstrip() + "…"


def _as_statement(sentence: str) -> str:
    # "Чтобы перезагрузить роутер, сделайте так:" introduces the list that went elsewhere: end it plainly.
    sentence = sentence.rstrip()
    if sentence.endswith(":"):
        sentence = sentence[:-1].rstrip() + "."
    elif sentence[-1:] not in {".", "!", "?", "…"}:
        sentence += "."
    return sentence


def plain_sentences(texts: Sequence[str]) -> list[str]:
    """The sentences of the replies that can be spoken: no URL, no code, no account number, not in a list,
    with some words."""
    found: list[str] = []
    for text in texts:
        for sentence in _sentences(_MARKUP.sub("", text or "")):
            if (
                _URL.search(sentence)
                or _CODE.search(sentence)
                or ACCOUNT_NUMBER_IN_TEXT.search(sentence)
                or not any(ch.isalpha() for ch in sentence)
            ):
                continue
            found.append(_as_statement(sentence))
    return found


def first_sentence(texts: Sequence[str], limit: int = MAX_SPOKEN_CHARS) -> str:
    """The first plain sentence of the replies (see ``plain_sentences``), cut to ``limit`` characters."""
    sentences = plain_sentences(texts)
    return _shorten(sentences[0], limit) if sentences else ""


def sent_note(sent_to: Sequence[str], lang: str) -> str:
    """ "Инструкцию отправил вам в SMS." for the channels in ``sent_to`` that carry text; "" for none."""
    language = "en" if lang == "en" else "ru"
    places: list[str] = []
    for channel in sent_to:
        place = _SENT_PLACE[language].get(channel.lower())
        if place and place not in places:
            places.append(place)
    if not places:
        return ""
    joined = places[0] if len(places) == 1 else ", ".join(places[:-1]) + _AND[language] + places[-1]
    return _SENT_SENTENCE[language].format(places=joined)


def spoken_text(replies_texts: Sequence[str], sent_to: Sequence[str], lang: str) -> str:
    """What the call says: the reply's first plain sentence, plus where the instructions went.

    ``sent_to`` names the channels the full reply was sent to ("sms", "telegram", "email"; others are
    ignored); ``lang`` is the conversation's language ("en" for English, Russian otherwise). When nothing was
    sent elsewhere, the plain sentences are spoken as far as they fit in ``MAX_SPOKEN_CHARS`` (a greeting
    and its question both); a reply with no plain sentence at all is spoken without its URLs and codes.
    """
    note = sent_note(sent_to, lang)
    sentences = plain_sentences(replies_texts)
    if note:
        return " ".join([_shorten(sentences[0], MAX_SPOKEN_CHARS), note] if sentences else [note])
    if not sentences:
        stripped = " ".join(_CODE.sub("", _URL.sub("", _MARKUP.sub("", text or ""))) for text in replies_texts)
        return _shorten(" ".join(stripped.split()), MAX_SPOKEN_CHARS)
    spoken = _shorten(sentences[0], MAX_SPOKEN_CHARS)
    for sentence in sentences[1:]:
        if len(spoken) + 1 + len(sentence) > MAX_SPOKEN_CHARS:
            break
        spoken += " " + sentence
    return spoken
