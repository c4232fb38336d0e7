"""The survey's questions and how an answer is read (plain: no I/O).

CSAT (1-5, "how satisfied"), CES (1-7, "how easy was it") and NPS (0-10, "would you recommend"), each asked in
the customer's language and tone, with buttons where the channel has them (webchat, Telegram), digits by SMS,
and a short spoken question at the end of a call. An answer is a number on the scale, written or said («5»,
«пять», "five", «на четвёрку»), optionally followed by a comment («3, долго ждала»); anything else is not an
answer, and goes to the bot as any other message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from zabota.language import Language
from zabota.tone import Tone

Metric = Literal["csat", "ces", "nps"]
SCALES: dict[Metric, tuple[int, int]] = {"csat": (1, 5), "ces": (1, 7), "nps": (0, 10)}

# A low score opens a p3 follow-up handoff ("service recovery"): CSAT 1-2, CES 1-2 (very hard), an NPS
# detractor (0-6).
RECOVERY_AT_OR_BELOW: dict[Metric, int] = {"csat": 2, "ces": 2, "nps": 6}

_QUESTIONS: dict[Metric, dict[Tone, dict[Language, str]]] = {
    "csat": {
        "neutral": {
            "ru": "Оцените, пожалуйста, как мы помогли: от 1 (плохо) до 5 (отлично).",
            "en": "Please rate how we helped: from 1 (poor) to 5 (excellent).",
        },
        "formal": {
            "ru": "Пожалуйста, оцените нашу помощь: от 1 (плохо) до 5 (отлично). Нам важно Ваше мнение.",
            "en": "Please rate our assistance from 1 (poor) to 5 (excellent). Your opinion matters to us.",
        },
        "friendly": {
            "ru": "Как мы справились? Поставьте оценку от 1 до 5 ⭐",
            "en": "How did we do? Rate us from 1 to 5 ⭐",
        },
    },
    "ces": {
        "neutral": {
            "ru": "Насколько легко было решить вопрос: от 1 (очень сложно) до 7 (очень легко)?",
            "en": "How easy was it to sort this out: from 1 (very hard) to 7 (very easy)?",
        },
        "formal": {
            "ru": "Насколько легко Вам было решить вопрос: от 1 (очень сложно) до 7 (очень легко)?",
            "en": "How easy was it for you to resolve the matter, from 1 (very hard) to 7 (very easy)?",
        },
        "friendly": {
            "ru": "А насколько легко всё прошло? От 1 (очень сложно) до 7 (очень легко).",
            "en": "And how easy was it? From 1 (very hard) to 7 (very easy).",
        },
    },
    "nps": {
        "neutral": {
            "ru": "Насколько вероятно, что вы порекомендуете нас друзьям: от 0 до 10?",
            "en": "How likely are you to recommend us to a friend, from 0 to 10?",
        },
        "formal": {
            "ru": "Насколько вероятно, что Вы порекомендуете нас знакомым: от 0 до 10?",
            "en": "How likely are you to recommend us to a friend or colleague, from 0 to 10?",
        },
        "friendly": {
            "ru": "Посоветуете нас друзьям? Оцените от 0 до 10 🙂",
            "en": "Would you recommend us to a friend? From 0 to 10 🙂",
        },
    },
}

# Said after the last answer (a low one also hears that a person will get in touch).
THANKS: dict[Tone, dict[Language, str]] = {
    "neutral": {"ru": "Спасибо за оценку!", "en": "Thank you for your feedback!"},
    "formal": {"ru": "Благодарим Вас за оценку.", "en": "Thank you for your feedback."},
    "friendly": {"ru": "Спасибо за оценку! 🙌", "en": "Thanks for the feedback! 🙌"},
}
RECOVERY: dict[Tone, dict[Language, str]] = {
    "neutral": {
        "ru": "Жаль, что не всё прошло хорошо. Специалист свяжется с вами, чтобы разобраться.",
        "en": "We're sorry it did not go well. A specialist will get in touch to put it right.",
    },
    "formal": {
        "ru": "Нам жаль, что не всё прошло хорошо. Специалист свяжется с Вами, чтобы во всём разобраться.",
        "en": "We are sorry it did not go well. A specialist will contact you to put it right.",
    },
    "friendly": {
        "ru": "Жаль, что так вышло. Специалист свяжется с вами и во всём разберётся.",
        "en": "Sorry it didn't go well. A specialist will get in touch and sort it out.",
    },
}


def question(metric: Metric, lang: Language, tone: Tone) -> str:
    return _QUESTIONS[metric].get(tone, _QUESTIONS[metric]["neutral"])[lang]


def all_questions() -> list[tuple[Metric, Tone, Language, str]]:
    """Every variant, for the tone checks."""
    return [
        (metric, tone, lang, text)
        for metric, tones in _QUESTIONS.items()
        for tone, texts in tones.items()
        for lang, text in texts.items()
    ]


_WORDS: dict[str, int] = {
    "ноль": 0,
    "один": 1,
    "одна": 1,
    "единица": 1,
    "единицу": 1,
    "кол": 1,
    "два": 2,
    "две": 2,
    "двойка": 2,
    "двойку": 2,
    "три": 3,
    "тройка": 3,
    "тройку": 3,
    "четыре": 4,
    "четверка": 4,
    "четвёрка": 4,
    "четверку": 4,
    "четвёрку": 4,
    "пять": 5,
    "пятерка": 5,
    "пятёрка": 5,
    "пятерку": 5,
    "пятёрку": 5,
    "шесть": 6,
    "семь": 7,
    "восемь": 8,
    "девять": 9,
    "десять": 10,
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
# the score first (optionally «на», "a", "оценка", a star), then what the customer adds; a button's payload is
# "/score{...}", written by the gateway
_LEAD = r"(?:(?:на|оценка|оценку|ставлю|ставим|i\s+give|i'?d\s+say|a|an|score|rating)\s+)?"
_OUT_OF = r"(?:\s*(?:/|из|out\s+of)\s*\d{1,2})?"
# «5 звёзд», "8 points": the unit is part of the score, not the comment
_UNIT = r"(?:\s*(?:звезд\w*|звёзд\w*|балл\w*|stars?|points?))?"
_NUMBER = re.compile(rf"^\s*{_LEAD}(?P<n>\d{{1,2}}){_OUT_OF}{_UNIT}(?P<rest>(?:[\s,.!:;—-].*)?)$", re.I | re.S)
_WORD = re.compile(rf"^\s*{_LEAD}(?P<w>[a-zа-яё]+)(?P<rest>(?:[\s,.!:;—-].*)?)$", re.I | re.S)
_BUTTON = re.compile(r"^/score\{\"value\":\s*(?P<n>\d{1,2})\}$")
_STARS = re.compile(r"^\s*(?P<stars>(?:⭐|★){1,5})\s*(?P<rest>.*)$", re.S)


@dataclass(frozen=True)
class Answer:
    score: int
    comment: str | None = None


def read_answer(text: str, metric: Metric) -> Answer | None:
    """The score on ``metric``'s scale and the comment after it, or None when the text is not an answer."""
    low, high = SCALES[metric]
    button = _BUTTON.match(text.strip())
    if button is not None:
        pressed = int(button.group("n"))
        return Answer(pressed) if low <= pressed <= high else None
    stars = _STARS.match(text)
    if stars is not None and metric == "csat":
        return Answer(len(stars.group("stars")), _comment(stars.group("rest")))
    match = _NUMBER.match(text)
    score: int | None = int(match.group("n")) if match is not None else None
    rest = match.group("rest") if match is not None else ""
    if score is None:
        word = _WORD.match(text)
        if word is not None and word.group("w").lower() in _WORDS:
            score, rest = _WORDS[word.group("w").lower()], word.group("rest")
    if score is None or not low <= score <= high:
        return None
    return Answer(score, _comment(rest))


def _comment(rest: str) -> str | None:
    text = rest.strip(" \t\n,.!:;—-")
    return text or None


def is_score_button(text: str) -> bool:
    return _BUTTON.match(text.strip()) is not None


def button_payload(score: int) -> str:
    return f'/score{{"value": {score}}}'
