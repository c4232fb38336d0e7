"""Reading a reply to an outreach security check, and the context kept for the reply."""

from __future__ import annotations

import pytest

from zabota.outreach.replies import NO_PAYLOAD, YES_PAYLOAD, OutreachContext, confirm_answer


@pytest.mark.parametrize(
    "text",
    ["да", "Да, это я!", "ага", "yes", "Yep", "это я", "я оплачивала", "всё верно", "да, спасибо", YES_PAYLOAD],
)
def test_yes(text: str) -> None:
    assert confirm_answer(text) == "yes"


@pytest.mark.parametrize(
    "text",
    [
        "нет",
        "Нет!!",
        "нет, не я",
        "это не я",
        "да нет, не я",
        "я ничего не покупала",
        "No",
        "not me",
        "it wasn't me",
        "мошенники",
        NO_PAYLOAD,
    ],
)
def test_no(text: str) -> None:
    assert confirm_answer(text) == "no"


@pytest.mark.parametrize(
    "text",
    [
        "я не понимаю, что это",
        "да вроде нет",
        "а сколько стоит тариф",
        "",
        "да да да да да да да да да да",  # a message of its own, not an answer
    ],
)
def test_neither_goes_to_the_bot(text: str) -> None:
    assert confirm_answer(text) is None


def test_the_context_round_trips_and_a_broken_one_is_none() -> None:
    context = OutreachContext("o-1", "suspicious_payment", "sms", "Это вы?", 1.5, "confirm", True, "fraud_report")
    assert OutreachContext.from_json(context.to_json()) == context
    assert OutreachContext.from_json("{") is None
    assert OutreachContext.from_json('{"trigger": "x"}') is None
    assert context.reply_flow() == "outreach_reply:suspicious_payment"
