"""Reading a survey answer (zabota/surveys/questions.py) and the questions' tones."""

from __future__ import annotations

import pytest

from zabota.surveys.questions import Answer, all_questions, button_payload, read_answer
from zabota.tone_style import style_problems


@pytest.mark.parametrize(
    ("text", "metric", "expected"),
    [
        ("5", "csat", Answer(5)),
        ("пять", "csat", Answer(5)),
        ("на четвёрку", "csat", Answer(4)),
        ("3, долго ждала ответа", "csat", Answer(3, "долго ждала ответа")),
        ("2 - долго", "csat", Answer(2, "долго")),
        ("4/5", "csat", Answer(4)),
        ("3 из 5", "csat", Answer(3)),
        ("5 звёзд", "csat", Answer(5)),
        ("⭐⭐⭐⭐ всё ок", "csat", Answer(4, "всё ок")),
        ("a five", "csat", Answer(5)),
        (button_payload(4), "csat", Answer(4)),
        ("7", "ces", Answer(7)),
        ("I give 8 out of 10", "nps", Answer(8)),
        ("8 баллов, норм", "nps", Answer(8, "норм")),
        ("ноль", "nps", Answer(0)),
        ("десять", "nps", Answer(10)),
    ],
)
def test_a_score_written_or_said_with_its_comment(text: str, metric: str, expected: Answer) -> None:
    assert read_answer(text, metric) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "metric"),
    [
        ("6", "csat"),  # off the scale
        ("0", "csat"),
        ("8", "ces"),
        ("11", "nps"),
        (button_payload(9), "csat"),
        ("спасибо", "csat"),
        ("а когда приедет мастер?", "csat"),
        ("десять", "csat"),
        ("⭐⭐⭐", "nps"),  # stars are the CSAT's
    ],
)
def test_anything_else_is_not_an_answer(text: str, metric: str) -> None:
    assert read_answer(text, metric) is None  # type: ignore[arg-type]


def test_every_question_reads_in_its_tone() -> None:
    for metric, tone, lang, text in all_questions():
        assert not style_problems(text, tone=tone, lang=lang), (metric, tone, lang, text)
