from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

import pytest

from zabota.channels.policy import (
    ChannelChoice,
    ChannelPolicyConfig,
    ContactProfile,
    ReplyContent,
    choose_channels,
    content_from_replies,
    in_quiet_hours,
    proactive_channel,
)

PHONE = "+79161234567"
STEPS = ReplyContent(has_steps=True, length=300)
FULL = ContactProfile(phone=PHONE, email="anna@example.com", telegram_chat_id=287_456_113)


def channels(choices: list[ChannelChoice]) -> list[tuple[str, str]]:
    return [(choice.channel, choice.purpose) for choice in choices]


# --- choose_channels ---------------------------------------------------------------------------------------------


def test_chat_reply_stays_in_the_chat() -> None:
    for inbound in ("webchat", "telegram", "sms", "email"):
        choices = choose_channels(inbound, STEPS, FULL)
        assert channels(choices) == [(inbound, "reply")]
        assert inbound in choices[0].reason


def test_voice_instructions_go_by_sms_to_the_caller() -> None:
    choices = choose_channels("voice", STEPS, ContactProfile(phone=PHONE, telegram_chat_id=1))
    assert channels(choices) == [("voice", "reply"), ("sms", "instructions")]
    assert choices[1].reason == "voice call: instructions with steps go by SMS to the caller's number"


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (ReplyContent(has_link=True, length=80), "a link"),
        (ReplyContent(has_code=True, length=40), "a code"),
        (ReplyContent(has_steps=True, has_code=True, has_link=True, length=300), "steps, a link and a code"),
    ],
)
def test_voice_links_and_codes_too(content: ReplyContent, what: str) -> None:
    choices = choose_channels("voice", content, ContactProfile(phone=PHONE))
    assert channels(choices) == [("voice", "reply"), ("sms", "instructions")]
    assert f"with {what} go by SMS" in choices[1].reason


def test_voice_instructions_go_by_telegram_when_preferred() -> None:
    profile = ContactProfile(phone=PHONE, telegram_chat_id=42, preferred="telegram")
    choices = choose_channels("voice", STEPS, profile)
    assert channels(choices) == [("voice", "reply"), ("telegram", "instructions")]
    assert "preferred" in choices[1].reason


def test_voice_telegram_preferred_but_not_linked_falls_back_to_sms() -> None:
    choices = choose_channels("voice", STEPS, ContactProfile(phone=PHONE, preferred="telegram"))
    assert channels(choices) == [("voice", "reply"), ("sms", "instructions")]


def test_voice_plain_short_answer_goes_nowhere_else() -> None:
    assert channels(choose_channels("voice", ReplyContent(length=120), FULL)) == [("voice", "reply")]


def test_voice_without_any_number_sends_nothing() -> None:
    assert channels(choose_channels("voice", STEPS, ContactProfile())) == [("voice", "reply")]


def test_voice_route_order_is_configurable() -> None:
    config = ChannelPolicyConfig(voice_instructions_via=("telegram", "email", "sms"))
    assert channels(choose_channels("voice", STEPS, FULL, config))[1] == ("telegram", "instructions")
    no_telegram = ContactProfile(phone=PHONE, email="anna@example.com")
    assert channels(choose_channels("voice", STEPS, no_telegram, config)) == [
        ("voice", "reply"),
        ("email", "instructions"),
    ]
    email_first = ChannelPolicyConfig(voice_instructions_via=("email_if_preferred", "sms"))
    prefers_email = ContactProfile(phone=PHONE, email="anna@example.com", preferred="email")
    assert channels(choose_channels("voice", STEPS, prefers_email, email_first))[1] == ("email", "instructions")
    assert channels(choose_channels("voice", STEPS, no_telegram, email_first))[1] == ("sms", "instructions")


def test_documents_go_by_email() -> None:
    document = ReplyContent(is_document=True, length=200)
    choices = choose_channels("webchat", document, FULL)
    assert channels(choices) == [("webchat", "reply"), ("email", "document")]
    assert "document" in choices[1].reason
    assert channels(choose_channels("webchat", document, ContactProfile(phone=PHONE))) == [("webchat", "reply")]
    off = ChannelPolicyConfig(email_documents=False)
    assert channels(choose_channels("webchat", document, FULL, off)) == [("webchat", "reply")]


def test_long_texts_go_by_email() -> None:
    long_text = ReplyContent(length=701)
    choices = choose_channels("telegram", long_text, FULL)
    assert channels(choices) == [("telegram", "reply"), ("email", "document")]
    assert choices[1].reason == "a long text (701 characters, over 700) also goes by email"
    assert channels(choose_channels("telegram", ReplyContent(length=700), FULL)) == [("telegram", "reply")]
    assert channels(choose_channels("email", long_text, FULL)) == [("email", "reply")]


def test_voice_long_instructions_by_sms_and_the_document_by_email() -> None:
    content = ReplyContent(has_steps=True, is_document=True, length=1500)
    assert channels(choose_channels("voice", content, FULL)) == [
        ("voice", "reply"),
        ("sms", "instructions"),
        ("email", "document"),
    ]


def test_voice_long_text_without_email_goes_by_sms() -> None:
    choices = choose_channels("voice", ReplyContent(length=1500), ContactProfile(phone=PHONE))
    assert channels(choices) == [("voice", "reply"), ("sms", "instructions")]
    assert "a long text" in choices[1].reason


def test_urgent_sensitive_chat_offers_a_call_back() -> None:
    urgent = ReplyContent(urgent_sensitive=True, length=100)
    choices = choose_channels("webchat", urgent, ContactProfile(phone=PHONE))
    assert channels(choices) == [("webchat", "reply"), ("voice", "callback_offer")]
    assert "call-back" in choices[1].reason
    no_phone = choose_channels("telegram", urgent, ContactProfile())
    assert channels(no_phone) == [("telegram", "reply"), ("voice", "callback_offer")]
    assert "hotline" in no_phone[1].reason
    # Not in a call (the customer is already talking to us), not when switched off.
    assert channels(choose_channels("voice", urgent, FULL)) == [("voice", "reply")]
    off = ChannelPolicyConfig(callback_for_urgent_chat=False)
    assert channels(choose_channels("webchat", urgent, FULL, off)) == [("webchat", "reply")]


def test_every_choice_has_a_reason() -> None:
    content = ReplyContent(has_steps=True, is_document=True, urgent_sensitive=True, length=2000)
    for inbound in ("webchat", "telegram", "voice", "sms", "email"):
        for choice in choose_channels(inbound, content, FULL):
            assert choice.reason


# --- config --------------------------------------------------------------------------------------------------------


def test_config_from_env() -> None:
    assert ChannelPolicyConfig.from_env({}) == ChannelPolicyConfig()
    config = ChannelPolicyConfig.from_env(
        {
            "CHANNEL_VOICE_INSTRUCTIONS_VIA": "telegram, sms ,email",
            "CHANNEL_LONG_TEXT_CHARS": "500",
            "CHANNEL_EMAIL_DOCUMENTS": "false",
            "CHANNEL_CALLBACK_FOR_URGENT_CHAT": "0",
            "CHANNEL_QUIET_HOURS_START": "22:30",
            "CHANNEL_QUIET_HOURS_END": "8:00",
        }
    )
    assert config == ChannelPolicyConfig(
        voice_instructions_via=("telegram", "sms", "email"),
        long_text_chars=500,
        email_documents=False,
        callback_for_urgent_chat=False,
        quiet_hours_start=time(22, 30),
        quiet_hours_end=time(8, 0),
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CHANNEL_VOICE_INSTRUCTIONS_VIA", "pigeon,sms"),
        ("CHANNEL_LONG_TEXT_CHARS", "many"),
        ("CHANNEL_LONG_TEXT_CHARS", "0"),
        ("CHANNEL_EMAIL_DOCUMENTS", "maybe"),
        ("CHANNEL_QUIET_HOURS_START", "25:00"),
        ("CHANNEL_QUIET_HOURS_END", "9"),
    ],
)
def test_config_rejects_bad_values(name: str, value: str) -> None:
    with pytest.raises(ValueError):
        ChannelPolicyConfig.from_env({name: value})


# --- quiet hours and proactive messages ----------------------------------------------------------------------------


def test_quiet_hours_cross_midnight_in_the_customers_zone() -> None:
    config = ChannelPolicyConfig()  # 21:00-09:00
    # 18:30 UTC is 21:30 in Moscow (quiet) and 18:30 in London (not).
    evening = datetime(2025, 3, 3, 18, 30, tzinfo=UTC)
    assert in_quiet_hours(evening, "Europe/Moscow", config)
    assert not in_quiet_hours(evening, "Europe/London", config)  # 18:30
    assert not in_quiet_hours(datetime(2025, 3, 3, 6, 0, tzinfo=UTC), "Europe/Moscow", config)  # 09:00 sharp
    assert in_quiet_hours(datetime(2025, 3, 3, 5, 59, tzinfo=UTC), "Europe/Moscow", config)  # 08:59
    assert in_quiet_hours(datetime(2025, 3, 3, 18, 0, tzinfo=UTC), "Europe/Moscow", config)  # 21:00 sharp
    assert in_quiet_hours(datetime(2025, 3, 3, 12, 0, tzinfo=UTC), timezone(timedelta(hours=10)), config)  # 22:00


def test_quiet_hours_same_day_window_and_none() -> None:
    lunch = ChannelPolicyConfig(quiet_hours_start=time(13, 0), quiet_hours_end=time(14, 0))
    moscow = timezone(timedelta(hours=3))
    assert in_quiet_hours(datetime(2025, 3, 3, 13, 30, tzinfo=moscow), moscow, lunch)
    assert not in_quiet_hours(datetime(2025, 3, 3, 23, 0, tzinfo=moscow), moscow, lunch)
    never = ChannelPolicyConfig(quiet_hours_start=time(0, 0), quiet_hours_end=time(0, 0))
    assert not in_quiet_hours(datetime(2025, 3, 3, 3, 0, tzinfo=moscow), moscow, never)


def test_quiet_hours_need_an_aware_time() -> None:
    with pytest.raises(ValueError):
        in_quiet_hours(datetime(2025, 3, 3, 12, 0), "Europe/Moscow")


def test_proactive_channel_prefers_the_customers_choice() -> None:
    assert proactive_channel(ContactProfile(phone=PHONE, email="a@example.com", preferred="email")) == ChannelChoice(
        "email", "reply", "proactive message: the customer prefers email"
    )
    fallback = proactive_channel(ContactProfile(phone=PHONE, preferred="telegram"))
    assert fallback is not None and fallback.channel == "sms" and "not linked" in fallback.reason
    first = proactive_channel(ContactProfile(phone=PHONE, telegram_chat_id=5))
    assert first is not None and first.channel == "telegram"
    assert proactive_channel(ContactProfile()) is None


# --- content_from_replies ----------------------------------------------------------------------------------------


def test_numbered_steps() -> None:
    text = "Попробуйте так:\n1. Выключите роутер из розетки.\n2. Подождите 30 секунд.\n3. Включите снова."
    content = content_from_replies([text])
    assert content.has_steps and not content.has_link and not content.has_code
    assert content.length == len(text)
    assert content_from_replies(["Шаги:\n1) Откройте настройки\n2) Выберите Wi-Fi"]).has_steps
    assert content_from_replies(["Step 1: open the app\nStep 2: tap Settings"]).has_steps
    assert content_from_replies(["Сделайте так: 1) откройте приложение; 2) нажмите «Оплата»."]).has_steps


def test_not_steps() -> None:
    assert not content_from_replies(["Платёж поступит 10.05 до 18:00."]).has_steps
    assert not content_from_replies(["1. Спасибо за обращение!"]).has_steps
    assert not content_from_replies(["Тариф стоит 650 руб. в месяц, 2 месяца бесплатно."]).has_steps


def test_links_and_codes() -> None:
    assert content_from_replies(["Оплатить можно на https://zabota.example/pay"]).has_link
    assert content_from_replies(["Зайдите на lk.zabota.ru в раздел «Тарифы»"]).has_link
    assert content_from_replies(["Подробнее: www.zabota.ru/help"]).has_link
    assert not content_from_replies(["Т.е. завтра, и т.д."]).has_link
    for code in ("*100#", "*102*1#", "#31#", "*#06#"):
        assert content_from_replies([f"Наберите {code} и нажмите вызов"]).has_code, code
    assert not content_from_replies(["Звёздочка * и решётка # отдельно"]).has_code


def test_documents() -> None:
    for text in (
        "Копию договора пришлём на почту",
        "Детализация звонков за месяц",
        "Счёт на оплату сформирован",
        "Акт сверки будет готов завтра",
        "Here is your invoice for March",
        "Закрывающие документы для юрлиц",
    ):
        assert content_from_replies([text]).is_document, text
    assert not content_from_replies(["Баланс лицевого счёта: 120 ₽"]).is_document
    assert not content_from_replies(["Актуальные тарифы на сайте, проверьте контакты"]).is_document


def test_kb_answers_count_as_something_to_keep() -> None:
    assert content_from_replies(["Коротко: перезагрузите роутер."], has_kb_article=True).has_link
    assert content_from_replies(["Коротко: перезагрузите роутер."], intent_handling="kb").has_link
    assert not content_from_replies(["Здравствуйте!"], intent_handling="smalltalk").has_link


def test_urgency_needs_sensitive_and_a_high_priority() -> None:
    assert content_from_replies(
        ["Соединяю"], intent_handling="escalate", sensitive=True, priority="p1"
    ).urgent_sensitive
    assert content_from_replies(
        ["Соединяю"], intent_handling="escalate", sensitive=True, priority="p2"
    ).urgent_sensitive
    assert not content_from_replies(
        ["Соединяю"], intent_handling="escalate", sensitive=True, priority="p3"
    ).urgent_sensitive
    assert not content_from_replies(["Соединяю"], intent_handling="escalate", priority="p1").urgent_sensitive


def test_content_joins_several_replies() -> None:
    content = content_from_replies(["Вот инструкция:", "1. Наберите *100#\n2. Дождитесь SMS", ""])
    assert content.has_steps and content.has_code
    assert content.length == len("Вот инструкция:\n\n1. Наберите *100#\n2. Дождитесь SMS")
