"""Which knowledge-base article answers an intent, and its title and address in the customer's language."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from zabota.catalog import Catalog
from zabota.language import SUPPORTED, Language

DEFAULT_TOPICS = Path(__file__).with_name("topics.yml")
ARTICLE_URL = "https://zabota.example/help/{lang}/{id}"

# The intent whose article depends on the feature asked about: the catalog gives it no topic of its own.
FEATURE_HOWTO = "feature_howto"
# Word stems per feature topic, Russian and English, matched at a word start in lower-case text with ё as е.
# On a tie the earlier topic wins: the app is named in questions about the other features too ("в приложении
# включить переадресацию"), so it comes last.
FEATURE_TOPICS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "two-factor",
        re.compile(
            r"\b(?:двухфактор|двухэтап|2fa|mfa|two[\s-]?factor|two[\s-]?step|2[\s-]?step|код\w* входа"
            r"|login codes?|verification codes?)"
        ),
    ),
    ("apn-settings", re.compile(r"\b(?:apn|точк\w* доступа|access points?\b|мобильн\w* интернет|mobile data)")),
    ("call-forwarding", re.compile(r"\b(?:переадрес|переадр|forward|divert|redirect\w* (?:my )?calls?)")),
    ("parental-control", re.compile(r"\b(?:родительск|детск|ребен|дет(?:ей|ям|и)\b|parental|child|kids?\b)")),
    ("app-install", re.compile(r"\b(?:приложени|прилож|мой забота|my zabota|apps?\b|applicat)")),
)


@dataclass(frozen=True)
class Article:
    id: str
    lang: Language
    title: str
    url: str


class TopicDirectory:
    """Titles of every knowledge-base topic in Russian and English (``topics.yml``)."""

    def __init__(self, titles: dict[str, dict[Language, str]]) -> None:
        self._titles = titles

    @classmethod
    def parse(cls, text: str) -> TopicDirectory:
        raw: Any = yaml.safe_load(text)
        topics = raw.get("topics") if isinstance(raw, dict) else None
        if not isinstance(topics, dict):
            raise ValueError("topics file has no 'topics' mapping")
        titles: dict[str, dict[Language, str]] = {}
        for topic_id, entry in topics.items():
            if not isinstance(entry, dict):
                raise ValueError(f"topic {topic_id} has no titles")
            by_lang: dict[Language, str] = {}
            for lang in SUPPORTED:
                title = entry.get(lang)
                if not isinstance(title, str) or not title.strip():
                    raise ValueError(f"topic {topic_id} has no {lang} title")
                by_lang[lang] = title.strip()
            titles[str(topic_id)] = by_lang
        return cls(titles)

    @classmethod
    def load(cls, path: Path = DEFAULT_TOPICS) -> TopicDirectory:
        return cls.parse(path.read_text(encoding="utf-8"))

    def ids(self) -> list[str]:
        return list(self._titles)

    def __contains__(self, topic_id: object) -> bool:
        return topic_id in self._titles

    def topic_of_title(self, text: str) -> str | None:
        """The topic whose title (in any language) ``text`` is, ignoring case, spaces and end punctuation: the
        "did you mean" buttons send a title as the customer's next message, and it must open that article."""
        wanted = _title_key(text)
        for topic_id, by_lang in self._titles.items():
            if any(_title_key(title) == wanted for title in by_lang.values()):
                return topic_id
        return None

    def article(self, topic_id: str, lang: Language) -> Article:
        """The article of ``topic_id`` in ``lang``; ``KeyError`` for a topic the directory does not know."""
        if lang not in SUPPORTED:
            raise ValueError(f"unsupported language {lang!r}")
        title = self._titles[topic_id][lang]
        return Article(id=topic_id, lang=lang, title=title, url=ARTICLE_URL.format(lang=lang, id=topic_id))


def _title_key(text: str) -> str:
    return " ".join(text.casefold().replace("ё", "е").split()).strip(" .!?")


@lru_cache(maxsize=4)
def load_directory(path: Path = DEFAULT_TOPICS) -> TopicDirectory:
    return TopicDirectory.load(path)


def feature_topic(text: str) -> str | None:
    """The feature article that ``text`` asks about: the topic with the most stem hits, or None."""
    normalized = text.lower().replace("ё", "е")
    best: str | None = None
    best_hits = 0
    for topic_id, pattern in FEATURE_TOPICS:
        hits = len(pattern.findall(normalized))
        if hits > best_hits:
            best, best_hits = topic_id, hits
    return best


def topic_for_intent(catalog: Catalog, intent: str, text: str) -> str | None:
    """The knowledge-base topic that answers ``intent``: the catalog's, or for feature_howto the feature asked."""
    entry = catalog.intent(intent)
    if entry is not None and entry.kb is not None:
        return entry.kb
    if intent == FEATURE_HOWTO:
        return feature_topic(text)
    return None
