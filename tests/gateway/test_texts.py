"""The gateway's own texts (gateway/texts.py): every one has its tones, each variant reads in its tone
(zabota/tone_style.py) and keeps the neutral text's placeholders."""

from __future__ import annotations

import re

import pytest

from gateway import texts
from zabota.tone_style import style_problems

PHRASES = {name: value for name, value in vars(texts).items() if isinstance(value, texts.Phrase)}
# read out on a call: no emoji in any tone
SPOKEN = {"VOICE_TRANSFER", "VOICE_DELAYED_ANSWER"}
# said only in a sensitive case: no emoji in any tone
SENSITIVE = {"CALLBACK_OFFER"}
PLACEHOLDER = re.compile(r"\{\w+\}")


def test_every_customer_facing_text_is_a_phrase_with_a_formal_variant() -> None:
    plain = [name for name, value in vars(texts).items() if name.isupper() and isinstance(value, dict)]
    assert plain == ["COPY_PLACES"]  # the channel names that go into COPY_SENT, not a sentence of their own
    for name, phrase in PHRASES.items():
        assert "formal" in phrase.variants, name
        for lang in ("ru", "en"):
            assert phrase.say(lang, "formal") != phrase[lang], (name, lang)


@pytest.mark.parametrize("name", sorted(PHRASES))
def test_each_variant_reads_in_its_tone_and_keeps_the_placeholders(name: str) -> None:
    phrase = PHRASES[name]
    for lang in ("ru", "en"):
        placeholders = set(PLACEHOLDER.findall(phrase[lang]))
        for tone in ("neutral", "formal", "friendly"):
            text = phrase.say(lang, tone)
            assert set(PLACEHOLDER.findall(text)) == placeholders, (name, tone, text)
            problems = style_problems(text, tone=tone, lang=lang, sensitive=name in SENSITIVE, spoken=name in SPOKEN)
            assert not problems, (name, tone, lang, text, problems)


def test_a_tone_without_a_variant_says_the_neutral_text() -> None:
    assert texts.CALLBACK_OFFER.say("ru", "friendly") == texts.CALLBACK_OFFER["ru"]
    assert texts.HANDOFF_ETA.say("en", "neutral") == texts.HANDOFF_ETA["en"]
    assert "Вам" in texts.HANDOFF_ETA.say("ru", "formal")
