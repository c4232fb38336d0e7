"""The domain pack: intents (with handling and priority) and knowledge-base topics, read from catalog.yml."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml

Handling = Literal["smalltalk", "flow", "kb", "escalate"]
Priority = Literal["p1", "p2", "p3", "p4"]

DEFAULT_CATALOG = Path(__file__).with_name("catalog.yml")


@dataclass(frozen=True)
class Intent:
    name: str
    handling: Handling
    priority: Priority | None = None
    kb: str | None = None
    sensitive: bool = False
    note: str = ""


@dataclass(frozen=True)
class KbTopic:
    id: str
    about: str


@dataclass(frozen=True)
class Catalog:
    intents: dict[str, Intent]
    kb_topics: dict[str, KbTopic]

    def intent(self, name: str) -> Intent | None:
        return self.intents.get(name)

    def names(self, handling: Handling) -> list[str]:
        return [i.name for i in self.intents.values() if i.handling == handling]


def parse_catalog(text: str) -> Catalog:
    raw = yaml.safe_load(text)
    intents = {
        i["name"]: Intent(
            name=i["name"],
            handling=i["handling"],
            priority=i.get("priority"),
            kb=i.get("kb"),
            sensitive=bool(i.get("sensitive", False)),
            note=i.get("note", ""),
        )
        for i in raw["intents"]
    }
    topics = {t["id"]: KbTopic(id=t["id"], about=t["about"]) for t in raw["kb_topics"]}
    for intent in intents.values():
        if intent.kb is not None and intent.kb not in topics:
            raise ValueError(f"intent {intent.name} refers to unknown kb topic {intent.kb}")
        if intent.handling == "escalate" and intent.priority is None:
            raise ValueError(f"escalate intent {intent.name} has no priority")
    return Catalog(intents=intents, kb_topics=topics)


@lru_cache(maxsize=4)
def load_catalog(path: Path = DEFAULT_CATALOG) -> Catalog:
    return parse_catalog(path.read_text(encoding="utf-8"))
