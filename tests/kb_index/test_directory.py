from __future__ import annotations

import pytest

from kb_index.directory import (
    ARTICLE_URL,
    Article,
    TopicDirectory,
    feature_topic,
    load_directory,
    topic_for_intent,
)
from zabota.catalog import load_catalog
from zabota.language import detect_language


def test_every_catalog_topic_has_russian_and_english_titles() -> None:
    directory = load_directory()
    catalog = load_catalog()
    assert sorted(directory.ids()) == sorted(catalog.kb_topics)
    for topic_id in catalog.kb_topics:
        ru = directory.article(topic_id, "ru")
        en = directory.article(topic_id, "en")
        assert ru.title and en.title, topic_id
        assert detect_language(ru.title) == "ru", topic_id
        assert detect_language(en.title) == "en", topic_id
        assert not any("\u0400" <= ch <= "\u04ff" for ch in en.title), topic_id


def test_article_has_the_url_of_its_language() -> None:
    article = load_directory().article("roaming", "en")
    assert article == Article(
        id="roaming", lang="en", title=article.title, url="https://zabota.example/help/en/roaming"
    )
    assert load_directory().article("roaming", "ru").url == ARTICLE_URL.format(lang="ru", id="roaming")


def test_unknown_topic_and_language() -> None:
    directory = load_directory()
    assert "roaming" in directory
    assert "no-such-topic" not in directory
    with pytest.raises(KeyError):
        directory.article("no-such-topic", "ru")
    with pytest.raises(ValueError, match="unsupported language"):
        directory.article("roaming", "de")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("topics:\n  roaming: {ru: Роуминг}\n", "no en title"),
        ("topics:\n  roaming: {ru: Роуминг, en: '  '}\n", "no en title"),
        ("topics:\n  roaming: Роуминг\n", "no titles"),
        ("[]\n", "no 'topics' mapping"),
    ],
)
def test_topics_without_both_titles_are_rejected(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TopicDirectory.parse(text)


@pytest.mark.parametrize(
    ("intent", "topic"),
    [
        ("roaming", "roaming"),
        ("internet_down", "router-reboot"),
        ("payment_missing", "payment-not-credited"),
        ("cancel_contract", "contract-termination"),
        ("greet", None),
        ("complaint", None),
        ("no_such_intent", None),
    ],
)
def test_topic_for_intent_comes_from_the_catalog(intent: str, topic: str | None) -> None:
    assert topic_for_intent(load_catalog(), intent, "как настроить переадресацию") == topic


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("как настроить переадресацию на другой номер", "call-forwarding"),
        ("how do I set up call forwarding", "call-forwarding"),
        ("как поставить родительский контроль на тв", "parental-control"),
        ("how to block adult sites for my kids", "parental-control"),
        ("как сделать чтобы ребёнок не сидел в инете ночью", "parental-control"),
        ("как включить двухфакторную аутентификацию", "two-factor"),
        ("enable 2FA on my account", "two-factor"),
        ("как скачать приложение Мой Забота", "app-install"),
        ("how to install the app on android", "app-install"),
        ("где в настройках телефона APN", "apn-settings"),
        ("mobile data settings for iphone", "apn-settings"),
        ("в приложении включить переадресацию", "call-forwarding"),  # the app is named, the feature wins
    ],
)
def test_feature_howto_topic_from_keywords(text: str, topic: str) -> None:
    assert feature_topic(text) == topic
    assert topic_for_intent(load_catalog(), "feature_howto", text) == topic


@pytest.mark.parametrize("text", ["как пользоваться функцией", "how does this feature work", ""])
def test_feature_howto_without_a_known_feature(text: str) -> None:
    assert topic_for_intent(load_catalog(), "feature_howto", text) is None


def test_a_title_names_its_topic_in_either_language_whatever_the_case() -> None:
    directory = load_directory()
    for topic in directory.ids():
        for lang in ("ru", "en"):
            title = directory.article(topic, lang).title
            assert directory.topic_of_title(title) == topic
            assert directory.topic_of_title(f"  {title.upper()}. ") == topic
    assert directory.topic_of_title("как сменить тариф на дешевле") is None
