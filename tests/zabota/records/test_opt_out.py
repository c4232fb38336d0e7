from __future__ import annotations

import pytest

from zabota.records.opt_out import consent_channel, consent_request


@pytest.mark.parametrize("text", ["STOP", "стоп", "Отписаться!", "  unsubscribe ", "отпишите меня", "Стоп всё"])
def test_a_whole_message_stop_is_an_opt_out(text: str) -> None:
    assert consent_request(text) == "opt_out"


@pytest.mark.parametrize("text", ["START", "подписаться"])
def test_start_opts_back_in(text: str) -> None:
    assert consent_request(text) == "opt_in"


@pytest.mark.parametrize(
    "text", ["не могу отписаться от платной подписки", "stop charging me", "стоп-кран", "как подписаться на тариф"]
)
def test_a_question_about_it_is_not_a_request(text: str) -> None:
    assert consent_request(text) is None


def test_channels() -> None:
    assert [consent_channel(c) for c in ("sms", "telegram", "voice", "kiosk")] == [
        "sms",
        "telegram",
        "voice",
        "webchat",
    ]
