"""Russian typed in Latin letters is read back in Cyrillic; English stays English."""

from __future__ import annotations

import pymorphy3
import pytest

from zabota.transliteration import RussianTransliteration, readings


@pytest.fixture(scope="module")
def translit() -> RussianTransliteration:
    return RussianTransliteration(pymorphy3.MorphAnalyzer().word_is_known)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kak uznat balans", "как узнать баланс"),
        ("ne hochu zhit", "не хочу жить"),
        ("Zdravstvujte, hochu pokonchit s soboj", "здравствуйте, хочу покончить с собой"),
        ("ya bolshe ne mogu, peredajte mame chto ya ee lyublyu", "я больше не могу, передайте маме что я ее люблю"),
        ("u menya spisali dengi za podpisku", "у меня списали деньги за подписку"),
        ("pomenyali parol v lichnom kabinete ne ja", "поменяли пароль в личном кабинете не я"),
        ("vchera zvonili iz banka i ya skazala kod iz sms", "вчера звонили из банка и я сказала код из смс"),
    ],
)
def test_translit_russian_is_read_in_cyrillic(translit: RussianTransliteration, text: str, expected: str) -> None:
    reading = translit.read(text)
    assert reading is not None
    # «skazala» is one of the words whose likeliest known reading may differ: compare the rest word by word
    got, want = reading.text.split(), expected.split()
    assert len(got) == len(want)
    assert sum(g == w for g, w in zip(got, want, strict=False)) >= len(want) - 1


@pytest.mark.parametrize(
    "text",
    [
        "my router is not working",
        "my internet is down",
        "hi, where is my order",
        "I need help with my phone please",
        "ok thanks",
        "lost my phone",
        "интернет не работает",
        "",
    ],
)
def test_english_and_cyrillic_are_left_alone(translit: RussianTransliteration, text: str) -> None:
    assert translit.read(text) is None


def test_mixed_scripts_keep_the_cyrillic_words(translit: RussianTransliteration) -> None:
    reading = translit.read("мой internet ne rabotaet")
    assert reading is not None and reading.text.startswith("мой ") and "не работает" in reading.text


def test_readings_spell_out_the_schemes() -> None:
    assert "жить" in readings("zhit") or "жит" in readings("zhit")
    assert readings("shchi")[0] == "щи"
    assert "ч" in readings("4")[0]
    assert readings("") == [] and readings("привет") == []
