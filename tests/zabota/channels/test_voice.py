from __future__ import annotations

from zabota.channels.voice import MAX_SPOKEN_CHARS, first_sentence, sent_note, spoken_text

ROUTER = (
    "Понимаю, интернет не работает, давайте разберёмся. Вот что можно сделать:\n"
    "1. Выключите роутер из розетки на 30 секунд.\n"
    "2. Проверьте, что кабель плотно вставлен.\n"
    "Подробнее: https://zabota.example/help/router"
)


def test_first_sentence_and_where_the_instructions_went() -> None:
    assert spoken_text([ROUTER], ["sms"], "ru") == (
        "Понимаю, интернет не работает, давайте разберёмся. Инструкцию отправил вам в SMS."
    )
    assert spoken_text([ROUTER], ["telegram"], "ru").endswith("Инструкцию отправил вам в Telegram.")
    assert spoken_text([ROUTER], ["email"], "ru").endswith("Инструкцию отправил вам на электронную почту.")


def test_english() -> None:
    text = "Let's fix it. Here is what to do:\n1. Unplug the router.\n2. Wait 30 seconds."
    assert spoken_text([text], ["sms"], "en") == "Let's fix it. I've sent the instructions to you by SMS."
    assert spoken_text([text], ["telegram", "email"], "en") == (
        "Let's fix it. I've sent the instructions to you in Telegram and by email."
    )


def test_sentences_with_links_or_codes_are_not_spoken() -> None:
    text = "Баланс можно узнать командой *100#. Также он виден в приложении."
    assert spoken_text([text], ["sms"], "ru") == "Также он виден в приложении. Инструкцию отправил вам в SMS."
    assert spoken_text(["Откройте https://zabota.example/pay"], ["sms"], "ru") == "Инструкцию отправил вам в SMS."


def test_list_intro_becomes_a_statement() -> None:
    assert first_sentence(["Чтобы перезагрузить роутер, сделайте так:\n1. Выключите его."]) == (
        "Чтобы перезагрузить роутер, сделайте так."
    )


def test_long_sentence_is_cut() -> None:
    long_sentence = "Мы проверили вашу линию, " + "и всё выглядит нормально, " * 20 + "но скорость ниже."
    spoken = spoken_text([long_sentence], ["sms"], "ru")
    first, note = spoken.rsplit(" Инструкцию", 1)
    assert len(first) <= MAX_SPOKEN_CHARS
    assert first.endswith("…")
    assert note == " отправил вам в SMS."


def test_nothing_sent_speaks_what_fits() -> None:
    assert spoken_text(["Здравствуйте!", "Чем могу помочь?"], [], "ru") == "Здравствуйте! Чем могу помочь?"
    many = ["Первое предложение довольно длинное и подробное, оно занимает место." for _ in range(5)]
    spoken = spoken_text(many, [], "ru")
    assert len(spoken) <= MAX_SPOKEN_CHARS
    assert spoken.count("Первое") == 2


def test_nothing_plain_and_nothing_sent() -> None:
    assert spoken_text(["*100#"], [], "ru") == ""
    assert spoken_text(["**Важно**: перезагрузите роутер"], [], "ru") == "Важно: перезагрузите роутер."


def test_sent_note_ignores_channels_that_carry_no_text() -> None:
    assert sent_note(["voice", "webchat"], "ru") == ""
    assert sent_note(["sms", "SMS"], "ru") == "Инструкцию отправил вам в SMS."
    assert sent_note(["sms", "telegram", "email"], "ru") == (
        "Инструкцию отправил вам в SMS, в Telegram и на электронную почту."
    )
    assert sent_note(["sms"], "de") == "Инструкцию отправил вам в SMS."  # unsupported language: Russian
