from __future__ import annotations

import pytest

from zabota.tone import ToneFacts, ToneRules, load_tone_rules

RULES = load_tone_rules()


@pytest.mark.parametrize(
    ("facts", "tone", "why"),
    [
        (ToneFacts("telegram", sensitive=True, age_band="18-24"), "formal", "sensitive case"),
        (ToneFacts("webchat", segment="b2b", age_band="18-24"), "formal", "business customer"),
        (ToneFacts("telegram", age_band="65+"), "formal", "older customer"),
        (ToneFacts("voice", age_band="18-24"), "neutral", "voice call"),
        (ToneFacts("telegram", age_band="25-34"), "friendly", "younger customer in a messenger"),
        (ToneFacts("sms", age_band="25-34"), "neutral", "default"),
        (ToneFacts("webchat"), "neutral", "default"),
    ],
)
def test_the_bundled_rules(facts: ToneFacts, tone: str, why: str) -> None:
    choice = RULES.choose(facts)
    assert (choice.tone, choice.why) == (tone, why)


def test_the_name_is_used_where_the_tone_allows_it() -> None:
    assert RULES.choose(ToneFacts("telegram", age_band="18-24"), name="Анна Петрова").name == "Анна"
    assert RULES.choose(ToneFacts("webchat", segment="b2b"), name="Анна Петрова").name == "Анна Петрова"
    assert RULES.choose(ToneFacts("sms"), name="Анна Петрова").name is None
    assert RULES.choose(ToneFacts("telegram", age_band="18-24")).name is None


def test_a_project_can_have_its_own_voice() -> None:
    rules = ToneRules.parse(
        "rules:\n  - when: {project: kids-shop}\n    tone: friendly\n"
        "  - when: {}\n    tone: neutral\nname_in: [friendly]\n"
    )
    assert rules.choose(ToneFacts("webchat", project="kids-shop")).tone == "friendly"
    assert rules.choose(ToneFacts("webchat", project="bank")).tone == "neutral"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("rules: []", "non-empty 'rules'"),
        ("rules:\n  - when: {}\n    tone: jokey\n", "tone 'jokey'"),
        ("rules:\n  - when: {colour: red}\n    tone: formal\n  - tone: neutral\n", "unknown condition 'colour'"),
        ("rules:\n  - when: {segment: vip}\n    tone: formal\n  - tone: neutral\n", "segment 'vip'"),
        ("rules:\n  - when: {channel: voice}\n    tone: formal\n", "last rule must have no conditions"),
        ("rules:\n  - tone: neutral\nname_in: [cheerful]\n", "name_in"),
    ],
)
def test_a_broken_file_is_refused_with_the_reason(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        ToneRules.parse(text)
