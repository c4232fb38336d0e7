"""The tone rules (rules.yml): parsed and validated once, then a pure choice per conversation turn."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, cast, get_args

import yaml

from zabota.records.store import AGE_BANDS, CONTACT_CHANNELS, SEGMENTS

Tone = Literal["formal", "friendly", "neutral"]
DEFAULT_RULES = Path(__file__).with_name("rules.yml")
CONDITIONS = ("sensitive", "segment", "age_band", "channel", "project", "known")
_ALLOWED: dict[str, tuple[Any, ...]] = {
    "sensitive": (True, False),
    "known": (True, False),
    "segment": SEGMENTS,
    "age_band": AGE_BANDS,
    "channel": CONTACT_CHANNELS,
}


@dataclass(frozen=True)
class ToneFacts:
    """What the choice may depend on; None where it is not known."""

    channel: str
    sensitive: bool = False
    segment: str | None = None
    age_band: str | None = None
    project: str | None = None
    known: bool = False


@dataclass(frozen=True)
class ToneChoice:
    tone: Tone
    why: str
    # the name to address the customer by, when the tone allows it and the profile has one
    name: str | None = None


@dataclass(frozen=True)
class _Rule:
    when: dict[str, tuple[Any, ...]]
    tone: Tone
    why: str

    def holds(self, facts: ToneFacts) -> bool:
        return all(getattr(facts, key) in values for key, values in self.when.items())


@dataclass(frozen=True)
class ToneRules:
    rules: tuple[_Rule, ...]
    name_in: frozenset[Tone]

    @classmethod
    def parse(cls, text: str) -> ToneRules:
        """Raises ``ValueError`` naming the rule and the problem: a lead's typo must not reach customers."""
        raw = yaml.safe_load(text)
        if not isinstance(raw, Mapping) or not isinstance(raw.get("rules"), list) or not raw["rules"]:
            raise ValueError("tone rules: a non-empty 'rules' list is required")
        rules = []
        for number, entry in enumerate(raw["rules"], start=1):
            if not isinstance(entry, Mapping):
                raise ValueError(f"tone rule {number}: not a mapping")
            tone = entry.get("tone")
            if tone not in get_args(Tone):
                raise ValueError(f"tone rule {number}: tone {tone!r} is not one of {', '.join(get_args(Tone))}")
            when = entry.get("when") or {}
            if not isinstance(when, Mapping):
                raise ValueError(f"tone rule {number}: 'when' must be a mapping")
            conditions: dict[str, tuple[Any, ...]] = {}
            for key, value in when.items():
                if key not in CONDITIONS:
                    raise ValueError(f"tone rule {number}: unknown condition {key!r} (known: {', '.join(CONDITIONS)})")
                values = tuple(value) if isinstance(value, list) else (value,)
                allowed = _ALLOWED.get(key)
                bad = [v for v in values if allowed is not None and v not in allowed]
                if bad:
                    raise ValueError(f"tone rule {number}: {key} {bad[0]!r} is not one of {allowed}")
                conditions[key] = values
            rules.append(_Rule(conditions, cast(Tone, tone), str(entry.get("why") or f"rule {number}")))
        if rules[-1].when:
            raise ValueError("tone rules: the last rule must have no conditions (the default tone)")
        name_in = raw.get("name_in") or []
        if any(t not in get_args(Tone) for t in name_in):
            raise ValueError(f"tone rules: name_in {name_in!r} names an unknown tone")
        return cls(tuple(rules), frozenset(name_in))

    def choose(self, facts: ToneFacts, name: str | None = None) -> ToneChoice:
        rule = next(r for r in self.rules if r.holds(facts))  # the last rule always holds
        shown = name.strip() if name and rule.tone in self.name_in else None
        if shown and rule.tone == "friendly":
            shown = shown.split()[0]  # the first name only
        return ToneChoice(rule.tone, rule.why, shown or None)


@lru_cache(maxsize=4)
def load_tone_rules(path: Path = DEFAULT_RULES) -> ToneRules:
    return ToneRules.parse(path.read_text(encoding="utf-8"))
