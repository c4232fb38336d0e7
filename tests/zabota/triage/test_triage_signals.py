"""The signal detector: lemma patterns over Russian inflections and English, negation, harmless senses of
scary words, and the pattern language itself.

(Named test_triage_signals.py, not test_signals.py: test directories have no __init__.py, so two test files
with one name anywhere under tests/ would collide.)"""

from __future__ import annotations

import threading

import pytest

from zabota.triage.model import Signal
from zabota.triage.signals import (
    DEFAULT_SIGNALS,
    KINDS,
    PatternError,
    SignalDetector,
    compile_pattern,
    is_sensitive,
    load_signal_config,
    parse_signal_config,
)


def kinds(detector: SignalDetector, text: str, lang: str) -> set[str]:
    return {s.kind for s in detector.detect(text, lang)}


# -- self-harm: inflections, indirect phrasings -------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "я покончу с собой",
        "хочу покончить с собой",
        "он сказал что покончил с собой бы если бы не дети",
        "покончила бы с собой",
        "думаю о самоубийстве",
        "мысли о суициде не отпускают",
        "не хочу жить",
        "жить не хочется совсем",
        "не хочется больше жить",
        "не вижу смысла больше ни в чём",
        "хочу чтобы всё закончилось",
        "передайте моим родным что я их люблю",
        "всем будет лучше без меня",
        "опять режу руки",
        "наглоталась таблеток",
        "хочу уйти из жизни",
    ],
)
def test_russian_self_harm(detector: SignalDetector, text: str) -> None:
    signals = detector.detect(text, "ru")
    assert signals and signals[0].kind == "self_harm", signals
    assert signals[0].priority == "p1"
    assert signals[0].intent == "crisis"


@pytest.mark.parametrize(
    "text",
    [
        "I want to kill myself",
        "been thinking about killing myself",
        "I won't be around much longer",
        "i don't want to live anymore",
        "everyone is better off without me",
        "i've been cutting myself",
        "thinking about ending it all",
        "i want to end my life",
    ],
)
def test_english_self_harm(detector: SignalDetector, text: str) -> None:
    signals = detector.detect(text, "en")
    assert signals and signals[0].kind == "self_harm", signals
    assert signals[0].priority == "p1"


def test_evidence_is_lemmas_not_the_raw_text(detector: SignalDetector) -> None:
    [signal] = [s for s in detector.detect("Я покончу с собой", "ru") if s.kind == "self_harm"]
    assert signal.evidence == "покончить с себя"
    [signal] = [s for s in detector.detect("не хочу жить", "ru") if s.kind == "self_harm"]
    assert signal.evidence == "не хотеть жить"
    assert signal.lang == "ru"


def test_evidence_leaves_out_numbers(detector: SignalDetector) -> None:
    [signal] = [s for s in detector.detect("позвоню на 112 не проходит", "ru") if s.kind == "danger_to_life"]
    assert "112" not in signal.evidence


# -- the other kinds ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang", "kind"),
    [
        ("в подъезде пахнет газом", "ru", "danger_to_life"),
        ("папа не дышит, скорая не едет", "ru", "danger_to_life"),
        ("my neighbour's flat is on fire", "en", "danger_to_life"),
        ("мне угрожают расправой", "ru", "threat"),
        ("он написал что убьет меня", "ru", "threat"),
        ("a man said he would kill me", "en", "threat"),
        ("муж избил меня", "ru", "violence"),
        ("my husband hit me", "en", "violence"),
        ("сын переписывается с каким-то взрослым, тот просит фото", "ru", "child_at_risk"),
        ("незнакомый мужчина пишет дочке и зовёт встретиться", "ru", "child_at_risk"),
        ("a stranger keeps messaging my daughter", "en", "child_at_risk"),
        ("бывший муж отслеживает мой телефон", "ru", "abuse"),
        ("меня шантажируют фотографиями", "ru", "abuse"),
        ("my ex is stalking me", "en", "abuse"),
        ("мои паспортные данные оказались в открытом доступе", "ru", "data_leak"),
        ("слили базу абонентов", "ru", "data_leak"),
        ("my personal data was leaked", "en", "data_leak"),
        ("напишу в Роскомнадзор", "ru", "legal"),
        ("подам в суд", "ru", "legal"),
        ("подам на вас в суд", "ru", "legal"),
        ("i will sue you", "en", "legal"),
        ("see you in court", "en", "legal"),
    ],
)
def test_sensitive_kinds(detector: SignalDetector, text: str, lang: str, kind: str) -> None:
    assert kind in kinds(detector, text, lang)


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("это издевательство а не интернет", "ru"),
        ("вы меня достали", "ru"),
        ("в последний раз пишу вам", "ru"),
        ("какого черта списали деньги", "ru"),
        ("вы идиоты?", "ru"),
        ("ОПЯТЬ НЕТ ИНТЕРНЕТА ВЕСЬ ДЕНЬ", "ru"),
        ("где интернет!!!", "ru"),
        ("this is ridiculous", "en"),
        ("worst service ever", "en"),
        ("WHY IS MY INTERNET DOWN AGAIN", "en"),
    ],
)
def test_anger(detector: SignalDetector, text: str, lang: str) -> None:
    signals = [s for s in detector.detect(text, lang) if s.kind == "anger"]
    assert signals
    assert signals[0].priority == "p3" and signals[0].intent == "complaint"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("позовите оператора", "ru"),
        ("хочу поговорить с человеком", "ru"),
        ("дайте живого человека", "ru"),
        ("оператор!", "ru"),
        ("оператора пожалуйста", "ru"),
        ("talk to a real person", "en"),
        ("agent please", "en"),
        ("can I speak to a human", "en"),
    ],
)
def test_human_request(detector: SignalDetector, text: str, lang: str) -> None:
    assert "human_request" in kinds(detector, text, lang)


# -- what must not fire -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("как убить время в дороге, какой тариф с видео", "ru"),
        ("роутер умер, не включается", "ru"),
        ("смотрю сериал про суд, картинка зависает", "ru"),
        ("дети смотрят мультики, как настроить родительский контроль", "ru"),
        ("лампочки на роутере горят, а интернета нет", "ru"),
        ("мне грозит отключение за долг?", "ru"),
        ("в последний раз платил картой, теперь хочу через сбп", "ru"),
        ("какой оператор связи лучше в деревне", "ru"),
        ("сколько можно подключить устройств к роутеру", "ru"),
        ("как оплатить газ через приложение", "ru"),
        ("спасибо!!! всё заработало", "ru"),
        ("killing time on the train, which plan has video", "en"),
        ("this price is killing me", "en"),
        ("the router is dead", "en"),
        ("the router died last night", "en"),
        ("how do I set up my fire tv stick", "en"),
        ("is there a plan for 2 people", "en"),
        ("THANK YOU SO MUCH GUYS", "en"),
    ],
)
def test_harmless_senses_do_not_fire(detector: SignalDetector, text: str, lang: str) -> None:
    assert detector.detect(text, lang) == []


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("мне не нужен оператор, сам разберусь", "ru"),
        ("ты бот или живой человек?", "ru"),
        ("I don't need an agent, just tell me my balance", "en"),
        ("no need for a human, I figured it out", "en"),
        ("are you a real person or a bot?", "en"),
    ],
)
def test_negated_or_questioned_human_request_does_not_fire(detector: SignalDetector, text: str, lang: str) -> None:
    assert "human_request" not in kinds(detector, text, lang)


def test_negation_does_not_cancel_self_harm_or_legal(detector: SignalDetector) -> None:
    # «не» is part of the self-harm pattern, and a court mentioned is a court mentioned
    assert "self_harm" in kinds(detector, "я не хочу больше жить", "ru")
    assert "legal" in kinds(detector, "я не собираюсь подавать в суд, но верните деньги", "ru")


def test_negation_stops_at_punctuation(detector: SignalDetector) -> None:
    assert "human_request" in kinds(detector, "мне это не нравится, дайте человека", "ru")


# -- the detector's behaviour -------------------------------------------------------------------------------


def test_one_signal_per_kind_most_urgent_first(detector: SignalDetector) -> None:
    signals = detector.detect("вы меня достали!!! подам в суд, а ещё не хочу жить, позовите оператора", "ru")
    found = [s.kind for s in signals]
    assert len(found) == len(set(found))
    assert found[0] == "self_harm"
    assert {"legal", "anger", "human_request"} <= set(found)
    assert [s.priority for s in signals] == sorted(s.priority for s in signals)


def test_empty_text_and_unknown_language(detector: SignalDetector) -> None:
    assert detector.detect("", "ru") == []
    assert detector.detect("   ", "en") == []
    # an unsupported language code falls back to detecting the script
    assert "self_harm" in kinds(detector, "хочу покончить с собой", "xx")
    assert "self_harm" in kinds(detector, "i want to kill myself", "de")


def test_sensitivity_of_kinds() -> None:
    def signal(kind: str) -> Signal:
        return Signal(kind, "p3", "x", "e", "ru")  # type: ignore[arg-type]

    assert not is_sensitive(signal("anger"))
    assert not is_sensitive(signal("human_request"))
    assert not is_sensitive(signal("leaving"))
    assert all(is_sensitive(signal(k)) for k in KINDS if k not in ("anger", "human_request", "leaving"))


def test_pipelines_can_be_injected_and_load_once(detector: SignalDetector) -> None:
    detector.warm_up()
    calls: list[str] = []

    def loader(lang: str):  # type: ignore[no-untyped-def]
        def load():  # type: ignore[no-untyped-def]
            calls.append(lang)
            return detector._lang(lang).nlp

        return load

    fresh = SignalDetector(loaders={"ru": loader("ru"), "en": loader("en")})
    assert calls == []  # nothing loads before the first message
    results: list[list[Signal]] = []
    threads = [
        threading.Thread(target=lambda: results.append(fresh.detect("хочу поговорить с человеком", "ru")))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["ru"]
    assert all(r and r[0].kind == "human_request" for r in results)

    injected = SignalDetector(pipelines={"en": detector._lang("en").nlp})
    assert [s.kind for s in injected.detect("agent please", "en")] == ["human_request"]


# -- intent cues --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang", "intent"),
    [
        ("у меня украли телефон в метро", "ru", "lost_device"),
        ("посеял где-то мобильник", "ru", "lost_device"),
        ("my phone was stolen", "en", "lost_device"),
        ("отец умер, как переоформить номер", "ru", "bereavement"),
        ("my mother passed away", "en", "bereavement"),
        ("с карты списали деньги, я ничего не подключал", "ru", "fraud_report"),
        ("unauthorised charges on my bill", "en", "fraud_report"),
        ("удалите мои персональные данные", "ru", "privacy_request"),
        ("хочу расторгнуть договор", "ru", "cancel_contract"),
        ("I want to terminate my contract", "en", "cancel_contract"),
    ],
)
def test_intent_cues(detector: SignalDetector, text: str, lang: str, intent: str) -> None:
    assert intent in detector.intent_cues(text, lang)


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("батарейка в пульте умерла", "ru"),
        ("the modem died after the storm", "en"),
        ("сын разбил экран телефона", "ru"),
        ("данные по тарифу не совпадают с сайтом", "ru"),
        ("уйду из дома на неделю, можно приостановить услуги", "ru"),
    ],
)
def test_no_intent_cues_in_harmless_messages(detector: SignalDetector, text: str, lang: str) -> None:
    assert detector.intent_cues(text, lang) == frozenset()


def test_analyse_is_reused_for_the_same_message(detector: SignalDetector) -> None:
    first = detector.analyse("у меня украли телефон, хочу поговорить с человеком", "ru")
    assert detector.analyse("у меня украли телефон, хочу поговорить с человеком", "ru") is first
    assert [s.kind for s in first.signals] == ["lost_device", "human_request"]
    assert first.intent_cues == {"lost_device"}


# -- the configuration and the pattern language -------------------------------------------------------------


def test_signals_yml_covers_every_kind_in_both_languages() -> None:
    config = load_signal_config(DEFAULT_SIGNALS)
    assert set(config.kinds) == set(KINDS)
    for lang in ("ru", "en"):
        assert set(config.rules[lang]) == set(KINDS), lang
    assert config.kinds["self_harm"].priority == "p1" and config.kinds["self_harm"].intent == "crisis"
    assert config.kinds["danger_to_life"].intent == "crisis"
    assert {config.kinds[k].intent for k in ("threat", "violence", "abuse", "child_at_risk")} == {"harassment_report"}
    assert config.kinds["data_leak"].intent == "privacy_request"
    assert config.kinds["legal"].intent == "legal_threat"
    assert config.kinds["anger"].intent == "complaint"
    assert config.kinds["human_request"].intent == "request_human"
    assert "no" in config.negators["en"]  # a bare `no` in YAML is the boolean false


# words whose reading alone differs from their reading in a sentence ("a stranger", "he is missing")
CONTEXT_READINGS = {"stranger", "missing", "being"}


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_pattern_words_are_written_as_the_detector_reads_them(detector: SignalDetector, lang: str) -> None:
    """A pattern word is matched against one reading of each token: "stolen" in a pattern never matches, since
    the token reads "steal". Every alternative must be one token, read as itself or as another alternative."""
    config = detector.config
    state = detector._lang(lang)
    patterns = [p for rules in config.rules[lang].values() for p in (*rules.patterns, *rules.exceptions)]
    patterns += [p for rules in config.rules[lang].values() for rule in rules.all_of for g in rule for p in g]
    patterns += [p for by_lang in config.intent_cues.values() for p in by_lang.get(lang, ())]
    patterns += [p for by_lang in config.intent_vetoes.values() for p in by_lang.get(lang, ())]
    problems = []
    for pattern in patterns:
        for spec in pattern.tokens:
            alternatives = spec.get("LEMMA", {}).get("IN", [])
            for word in alternatives:
                doc = state.nlp(word)
                if len(doc) != 1:
                    problems.append(f"{word!r} is {len(doc)} tokens in {pattern.source!r}")
                    continue
                detector._annotate(doc, state)
                if doc[0].lemma_ not in alternatives and word not in CONTEXT_READINGS:
                    problems.append(f"{word!r} reads {doc[0].lemma_!r} in {pattern.source!r}")
    assert problems == []


def test_compile_pattern() -> None:
    pattern = compile_pattern("не хотеть|хотеться *2 жить")
    assert pattern.tokens[0] == {"LEMMA": {"IN": ["не"]}}
    assert pattern.tokens[1] == {"LEMMA": {"IN": ["хотеть", "хотеться"]}}
    assert pattern.tokens[2]["OP"] == "{0,2}" and "," in pattern.tokens[2]["NORM"]["NOT_IN"]
    exact_then_optional = compile_pattern("=меня не? =станет").tokens[:2]
    assert exact_then_optional == ({"NORM": {"IN": ["меня"]}}, {"LEMMA": {"IN": ["не"]}, "OP": "?"})
    assert compile_pattern("=горим|=горю").tokens[0] == {"NORM": {"IN": ["горим", "горю"]}}
    assert compile_pattern("=горим|горю").tokens[0] == {"NORM": {"IN": ["горим", "горю"]}}
    assert compile_pattern("самоуби~|суицид~").tokens[0] == {"NORM": {"REGEX": "^(?:самоуби|суицид)"}}
    assert compile_pattern("Всё").tokens[0] == {"LEMMA": {"IN": ["все"]}}  # lower case, ё as е
    assert compile_pattern("сколько можно $").at_end


@pytest.mark.parametrize("bad", ["", "*2 жить", "жить *2", "жить *9 умереть", "a||b", "x? *1", "a|=b"])
def test_bad_patterns_are_refused(bad: str) -> None:
    with pytest.raises(PatternError):
        compile_pattern(bad)


def test_unknown_kind_in_config_is_refused() -> None:
    text = DEFAULT_SIGNALS.read_text(encoding="utf-8").replace("  human_request: {", "  human_requests: {", 1)
    with pytest.raises(ValueError, match="human_requests"):
        parse_signal_config(text)


# -- Russian in Latin letters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang", "kind"),
    [
        ("ne hochu bolshe zhit", "en", "self_harm"),
        ("ya hochu pokonchit s soboj", "ru", "self_harm"),
        ("byvshij muzh ugrozhaet mne", "en", "threat"),
    ],
)
def test_translit_russian_is_matched_as_russian(detector: SignalDetector, text: str, lang: str, kind: str) -> None:
    assert kind in {s.kind for s in detector.detect(text, lang)}


def test_english_is_not_read_as_translit(detector: SignalDetector) -> None:
    assert detector.detect("my router is not working since monday", "en") == []


# -- told by the facts, asked in advance, explained away --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang", "kind"),
    [
        # fraud without the word: a charge, a password change, a code given away
        ("в выписке списание 2300 за подписку, я её не оформлял", "ru", "fraud"),
        ("пришло письмо что пароль сменили, а я его не менял", "ru", "fraud"),
        ("звонили из службы безопасности, я продиктовала им код", "ru", "fraud"),
        ("there's a charge for a premium sms service that I never ordered", "en", "fraud"),
        ("a friend says someone messaged him from my whatsapp asking for money", "en", "fraud"),
        ("у меня в метро вытащили телефон", "ru", "lost_device"),
        ("my phone got nicked at the station", "en", "lost_device"),
        ("у отца был договор, его не стало в прошлом месяце", "ru", "bereavement"),
        ("after my late husband's funeral I need to move his number", "en", "bereavement"),
        ("всё, перехожу к другому оператору, надоели", "ru", "leaving"),
        ("I'm switching to another provider next month", "en", "leaving"),
        # crisis without the words
        ("хочу настроить отправку письма родным, когда меня уже не будет", "ru", "self_harm"),
        ("I've been saving up my pills, anyway how do I close my account", "en", "self_harm"),
        ("my dad collapsed and the ambulance number won't connect", "en", "danger_to_life"),
        ("сосед ломится в дверь с топором", "ru", "danger_to_life"),
    ],
)
def test_told_by_the_facts(detector: SignalDetector, text: str, lang: str, kind: str) -> None:
    assert kind in {s.kind for s in detector.detect(text, lang)}


@pytest.mark.parametrize(
    ("text", "lang", "intent"),
    [
        ("если в поездке украдут телефон, как быстро заблокировать номер?", "ru", "lost_device"),
        ("what should I do if my phone ever gets stolen abroad", "en", "lost_device"),
        ("I lost the charger for my phone, can I buy one in your shop", "en", "lost_device"),
        ("как не попасться на мошенников, которые звонят от имени банка", "ru", "fraud_report"),
        ("is there a scam call blocker I can turn on", "en", "fraud_report"),
        ("мама ушла на пенсию, есть тариф для пенсионеров?", "ru", "bereavement"),
        ("my wife passed the phone to me to sort out the bill", "en", "bereavement"),
        ("хочу поблагодарить вашего мастера Олега, всё сделал быстро", "ru", "request_human"),
    ],
)
def test_asked_in_advance_or_explained_away(detector: SignalDetector, text: str, lang: str, intent: str) -> None:
    analysis = detector.analyse(text, lang)
    assert intent in analysis.intent_vetoes
    kind_for = {spec.intent: kind for kind, spec in detector.config.kinds.items() if spec.vetoable}
    assert kind_for[intent] not in {s.kind for s in analysis.signals}


def test_english_words_are_not_read_as_translit(detector: SignalDetector) -> None:
    # "travel" read as Russian is «травля» (bullying): an English message is not translit
    assert detector.detect("can I hold my account while I travel", "en") == []


def test_a_vetoable_kind_with_a_p1_priority_is_refused() -> None:
    text = DEFAULT_SIGNALS.read_text(encoding="utf-8").replace(
        "self_harm: {priority: p1, intent: crisis, negatable: false}",
        "self_harm: {priority: p1, intent: crisis, negatable: false, vetoable: true}",
    )
    with pytest.raises(ValueError, match="cannot be vetoable"):
        parse_signal_config(text)
