"""The tone in bot/domain.yml: the responses' variations, chosen the way Rasa chooses them, and the slots that
action_detect_language fills, applied the way action_extract_slots applies them (no model, no server).

Rasa picks at random among the conditional variations whose conditions all hold and falls back to the
unconditioned ones only when none holds (rasa/core/nlg/generator.py, ResponseVariationFilter): so each
(language, tone) must make exactly one variation hold, or customers get a coin toss of tones.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa.core.actions.action import ActionExtractSlots, RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg.generator import ResponseVariationFilter
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered, deserialise_events
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from zabota.catalog import load_catalog
from zabota.markers import TONE_METADATA
from zabota.tone_style import EMOJI, style_problems

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = Domain.load(str(ROOT / "bot" / "domain.yml"))
RESPONSES: dict[str, list[dict[str, Any]]] = DOMAIN.responses
LANGS = ("ru", "en")
TONES = ("formal", "friendly", "neutral")
CHANNEL = "rest"  # no variation names a channel: any channel sees the same ones

# The handoffs of the catalog's sensitive intents: no emoji in any tone.
SENSITIVE = sorted(
    f"utter_handoff_{intent.name}"
    for intent in load_catalog().intents.values()
    if intent.sensitive and f"utter_handoff_{intent.name}" in RESPONSES
)

PLACEHOLDER = re.compile(r"{(\w+)}")


def initial_slots() -> dict[str, Any]:
    """The slot values of a new conversation, as the generator reads them from a tracker."""
    return DialogueStateTracker.from_events("test", [], slots=DOMAIN.slots).current_slot_values()


def conditions(variation: dict[str, Any]) -> dict[str, Any]:
    return {condition["name"]: condition["value"] for condition in variation.get("condition") or []}


def variations_of(lang: str, tone: str) -> list[tuple]:
    """(response, variation) of every response's conditional variation for ``lang`` and ``tone``."""
    return [
        (name, variation)
        for name, variations in RESPONSES.items()
        for variation in variations
        if conditions(variation).get("lang") == lang and conditions(variation).get("tone") == tone
    ]


def chosen(name: str, slots: dict[str, Any]) -> list[dict[str, Any]]:
    return ResponseVariationFilter(RESPONSES).responses_for_utter_action(name, CHANNEL, slots)


def neutral_text(name: str) -> str:
    return next(v["text"] for v in RESPONSES[name] if conditions(v) == {"lang": "ru", "tone": "neutral"})


def placeholders(text: str) -> set:
    return set(PLACEHOLDER.findall(text))


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_each_language_and_tone_picks_exactly_one_variation(name: str) -> None:
    for lang, tone, named, account_known in itertools.product(LANGS, TONES, (True, False), (True, False)):
        slots = {**initial_slots(), "lang": lang, "tone": tone, "named": named}
        slots["account_known"] = account_known
        picked = chosen(name, slots)
        assert len(picked) == 1, (name, lang, tone, named)
        assert {"lang": lang, "tone": tone}.items() <= conditions(picked[0]).items(), (name, lang, tone)


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_the_default_is_the_russian_neutral_text_when_no_condition_holds(name: str) -> None:
    defaults = [v for v in RESPONSES[name] if not v.get("condition")]
    assert len(defaults) == 1 and defaults[0] is RESPONSES[name][-1], "one unconditioned variation, listed last"
    for slots in ({}, {"lang": "ru"}, {"lang": "de", "tone": "neutral"}, {"lang": "en", "tone": None}):
        assert chosen(name, slots) == defaults
    ru_neutral = next(v for v in RESPONSES[name] if conditions(v) == {"lang": "ru", "tone": "neutral"})
    assert defaults[0]["text"] == ru_neutral["text"]
    assert defaults[0].get("buttons") == ru_neutral.get("buttons")


def test_the_initial_slots_speak_russian_neutral() -> None:
    for name in RESPONSES:
        (picked,) = chosen(name, initial_slots())
        assert conditions(picked) == {"lang": "ru", "tone": "neutral"}, name


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_every_variation_keeps_the_placeholders_of_the_neutral_text(name: str) -> None:
    expected = placeholders(neutral_text(name))
    for variation in RESPONSES[name]:
        named = conditions(variation).get("named") is True
        # the customer's name only where the condition says the tone allows it and there is one
        assert placeholders(variation["text"]) == expected | ({"customer_name"} if named else set()), variation
        assert bool(variation.get("buttons")) == bool(RESPONSES[name][-1].get("buttons")), variation


def test_the_greeting_addresses_a_named_customer_in_formal_and_friendly_only() -> None:
    for lang, tone in itertools.product(LANGS, TONES):
        base = {**initial_slots(), "lang": lang, "tone": tone}
        (unnamed,) = chosen("utter_greet", {**base, "named": False})
        (named,) = chosen("utter_greet", {**base, "named": True, "customer_name": "Анна"})
        assert "{customer_name}" not in unnamed["text"]
        assert ("{customer_name}" in named["text"]) == (tone != "neutral"), (lang, tone)


def test_a_bool_slot_set_by_the_action_server_matches_the_named_condition() -> None:
    """End to end through Rasa's generator: the action server's JSON true is a Python bool in the tracker,
    and a condition's YAML ``true`` compares equal to it (``_matches_filled_slots`` compares non-strings by ==)."""
    events = [SlotSet("tone", "formal"), SlotSet("customer_name", "Анна Петровна"), SlotSet("named", True)]
    tracker = DialogueStateTracker.from_events("test", events, slots=DOMAIN.slots)
    nlg = TemplatedNaturalLanguageGenerator(RESPONSES)
    message = asyncio.run(nlg.generate("utter_greet", tracker, CHANNEL))
    assert message is not None and message["text"].startswith("Здравствуйте, Анна Петровна! ")

    tracker.update(SlotSet("lang", "en"))
    tracker.update(SlotSet("tone", "friendly"))
    tracker.update(SlotSet("customer_name", "Anna"))
    message = asyncio.run(nlg.generate("utter_greet", tracker, CHANNEL))
    assert message is not None and message["text"].startswith("Hi, Anna! ")


def test_the_sensitive_handoffs_are_known() -> None:
    expected = {
        "utter_handoff_crisis",
        "utter_handoff_bereavement",
        "utter_handoff_fraud_report",
        "utter_handoff_harassment_report",
        "utter_handoff_legal_threat",
        "utter_handoff_privacy_request",
        "utter_handoff_lost_device",
    }
    assert expected <= set(SENSITIVE)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("tone", TONES)
def test_each_variation_reads_in_its_tone_and_language(lang: str, tone: str) -> None:
    """zabota/tone_style.py: formal «Вы» and no contractions, emoji only in friendly (one at most) and never in a
    sensitive case's handoff, each text in its language."""
    for name, variation in variations_of(lang, tone):
        problems = style_problems(variation["text"], tone=tone, lang=lang, sensitive=name in SENSITIVE)
        assert not problems, (name, variation["text"], problems)
    for name in SENSITIVE:
        for variation in RESPONSES[name]:
            assert not EMOJI.search(variation["text"]), (name, variation["text"])


@pytest.fixture
def action_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """action_detect_language run in process where Rasa would call the action server, on the same tracker state."""
    # actions/__init__.py imports every action, the knowledge-base ones with faiss, which only the application
    # environment has: a bare package object lets actions.language be imported alone, and goes afterwards.
    package = types.ModuleType("actions")
    package.__path__ = [str(ROOT / "actions")]
    monkeypatch.setitem(sys.modules, "actions", package)
    action = importlib.import_module("actions.language").ActionDetectLanguage()

    async def run(self: RemoteAction, output_channel: Any, nlg: Any, tracker: DialogueStateTracker, domain: Domain):
        assert self.name() == action.name()
        state = Tracker.from_dict(tracker.current_state())
        return deserialise_events(await action.run(CollectingDispatcher(), state, domain.as_dict()))

    monkeypatch.setattr(RemoteAction, "run", run)
    yield
    for name in [name for name in sys.modules if name.startswith("actions.")]:
        del sys.modules[name]


def extract_slots(text: str, metadata: dict[str, Any], entities: list[dict[str, Any]] | None = None) -> dict:
    """The slots after action_extract_slots on a first user message with the gateway's ``metadata``."""
    user = UserUttered(text, {"name": "account_number", "confidence": 1.0}, entities or [], metadata=metadata)
    tracker = DialogueStateTracker.from_events("test", [ActionExecuted("action_listen"), user], slots=DOMAIN.slots)
    nlg = TemplatedNaturalLanguageGenerator(RESPONSES)
    events: list[Event] = asyncio.run(ActionExtractSlots(None).run(CollectingOutputChannel(), nlg, tracker, DOMAIN))
    for event in events:
        tracker.update(event)
    return tracker.current_slot_values()


PROFILE = {"phone": "+79161234567", "account_number": "123456789903"}
TONE = {"tone": "friendly", "why": "younger customer in a messenger", "name": "Анна"}


def test_action_extract_slots_applies_every_slot_the_language_action_sets(action_server: None) -> None:
    # phone and account_number have no mapping naming the action: Rasa applies their SlotSets all the same
    slots = extract_slots("где мой лицевой счёт", {TONE_METADATA: TONE, "zabota_profile": PROFILE})
    assert slots["lang"] == "ru" and slots["tone"] == "friendly"
    assert slots["customer_name"] == "Анна" and slots["named"] is True and slots["account_known"] is True
    assert slots["phone"] == "+79161234567" and slots["account_number"] == "123456789903"


def test_the_customer_s_number_this_turn_wins_over_the_profile(action_server: None) -> None:
    said = [{"entity": "phone", "value": "+7 903 555-00-11", "start": 0, "end": 16}]
    slots = extract_slots("+7 903 555-00-11", {"zabota_profile": PROFILE}, said)
    assert slots["phone"] == "+7 903 555-00-11"
    assert slots["account_number"] == "123456789903"
