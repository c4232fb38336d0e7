from __future__ import annotations

import pytest

from zabota.language import DEFAULT_LANGUAGE, detect_language


@pytest.mark.parametrize(
    "text",
    [
        "ну алло короче интернет не работает третий день",
        "Добрый день! Подскажите, пожалуйста, как сменить тариф",
        "wifi роутер tp-link не работает",
        "инет",
        "интернт не работает нифига 😡",
    ],
)
def test_russian(text: str) -> None:
    assert detect_language(text) == "ru"
    assert detect_language(text, previous="en") == "ru"


@pytest.mark.parametrize(
    "text",
    [
        "my internet is down since yesterday",
        "pls check my acct balance",
        "Hello! How do I change my tariff?",
        "I live at ул. Ленина 5, the internet is not working",
    ],
)
def test_english(text: str) -> None:
    assert detect_language(text) == "en"
    assert detect_language(text, previous="ru") == "en"


@pytest.mark.parametrize("text", ["89161234567", "ZB-4829173 ?", "👍", "", "   ", "12.11"])
def test_text_without_words_keeps_the_previous_language(text: str) -> None:
    assert detect_language(text, previous="en") == "en"
    assert detect_language(text, previous="ru") == "ru"
    assert detect_language(text) == DEFAULT_LANGUAGE


@pytest.mark.parametrize("text", ["ok", "OK!", "wifi", "sms", "Wi-Fi?", "esim"])
def test_words_both_languages_use_keep_the_previous_language(text: str) -> None:
    assert detect_language(text, previous="ru") == "ru"
    assert detect_language(text, previous="en") == "en"


def test_unsupported_previous_language_falls_back_to_default() -> None:
    assert detect_language("123", previous="de") == DEFAULT_LANGUAGE
    assert detect_language("123", previous=None) == DEFAULT_LANGUAGE


def test_tie_with_a_cyrillic_word_is_russian() -> None:
    assert detect_language("router сломался") == "ru"
