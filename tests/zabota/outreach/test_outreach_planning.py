from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from zabota.channels.policy import ContactProfile
from zabota.outreach.planning import (
    NotSent,
    OutreachError,
    OutreachEvent,
    OutreachPlan,
    OutreachRules,
    Recipient,
    load_outreach_rules,
    plan,
)

YEKATERINBURG = ZoneInfo("Asia/Yekaterinburg")  # UTC+5
ANNA = Recipient(
    ContactProfile(phone="+79161234567", email="anna@example.ru", telegram_chat_id=42, preferred="telegram"),
    language="ru",
    timezone="Asia/Yekaterinburg",
)
DELAY = OutreachEvent(
    "delivery_delayed", "c-00000000000000c1", "ZB-4829173", {"order_id": "ZB-4829173", "new_date": "12 декабря"}
)


def at(hour: int, minute: int = 0, day: int = 7) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=YEKATERINBURG)


def test_a_delay_goes_now_to_the_preferred_channel_in_the_customers_language() -> None:
    planned = plan(DELAY, ANNA, at(14))
    assert isinstance(planned, OutreachPlan)
    assert (planned.channel, planned.send_at, planned.deferred) == ("telegram", at(14), False)
    assert planned.text.startswith("Заказ ZB-4829173 задерживается: привезём 12 декабря.")
    assert planned.dedupe_key == "c-00000000000000c1|delivery_delayed|ZB-4829173"
    english = plan(DELAY, Recipient(ANNA.contact, language="en", timezone=ANNA.timezone), at(14))
    assert isinstance(english, OutreachPlan) and english.text.startswith("Order ZB-4829173 is delayed")


def test_a_maintenance_notice_goes_a_day_ahead_and_waits_out_the_night() -> None:
    event = OutreachEvent(
        "maintenance_planned",
        "c-00000000000000c1",
        "area-17",
        {"area": "Академический", "starts_at": "2026-12-08T23:00:00+05:00", "ends_at": "04:00"},
    )
    planned = plan(event, ANNA, at(10))
    # a day before 23:00 is 23:00 today: quiet hours, so 09:00 tomorrow local, before the work starts
    assert isinstance(planned, OutreachPlan)
    assert planned.send_at == at(9, day=8) and planned.deferred
    assert "09:00 local" in planned.why


def test_the_notice_reads_the_times_in_the_customers_zone_and_words() -> None:
    """The company's systems send ISO times; the customer reads «8 декабря в 23:00» in their own time zone, and an
    end on the same day as its hour."""
    event = OutreachEvent(
        "maintenance_planned",
        "c-00000000000000c1",
        "area-18",
        {"area": "Академический", "starts_at": "2026-12-08T18:00:00+00:00", "ends_at": "2026-12-09T01:00"},
    )
    planned = plan(event, ANNA, at(10))
    assert isinstance(planned, OutreachPlan)
    assert "8 декабря в 23:00, до 9 декабря в 01:00" in planned.text  # 18:00 UTC is 23:00 in Yekaterinburg
    english = plan(event, Recipient(ANNA.contact, language="en", timezone=ANNA.timezone), at(10))
    assert isinstance(english, OutreachPlan) and "on 8 December at 23:00, until 9 December at 01:00" in english.text
    same_day = OutreachEvent("maintenance_planned", DELAY.customer_id, "area-19", {**event.data, "ends_at": "23:30"})
    assert "в 23:00, до 23:30" in getattr(plan(same_day, ANNA, at(10)), "text", "")


def test_a_notice_told_late_in_the_night_still_waits_for_the_morning() -> None:
    """Works at 02:00, the event comes at 23:30: the quiet hours hold (the issue's rule), the notice goes at
    09:00 and still explains the interruption."""
    data = {"area": "Уралмаш", "starts_at": "2026-12-08T02:00", "ends_at": "06:00"}
    planned = plan(OutreachEvent("maintenance_planned", "c-00000000000000c1", "area-20", data), ANNA, at(23, 30))
    assert isinstance(planned, OutreachPlan)
    assert planned.send_at == at(9, day=8) and planned.deferred
    assert "8 декабря в 02:00, до 06:00" in planned.text


def test_quiet_hours_defer_in_the_customers_own_time_zone() -> None:
    late_there = datetime(2026, 12, 7, 18, 30, tzinfo=UTC)  # 23:30 in Yekaterinburg, 21:30 in Moscow
    planned = plan(DELAY, ANNA, late_there)
    assert isinstance(planned, OutreachPlan) and planned.send_at == at(9, day=8)
    moscow = Recipient(ANNA.contact, timezone="Europe/Moscow")
    planned = plan(DELAY, moscow, datetime(2026, 12, 7, 15, 0, tzinfo=UTC))  # 18:00 in Moscow
    assert isinstance(planned, OutreachPlan) and not planned.deferred


def test_a_fraud_check_is_not_kept_waiting_by_the_night() -> None:
    event = OutreachEvent(
        "suspicious_payment", "c-00000000000000c1", "pay-9", {"amount": "4 990 ₽", "merchant": "ЭлектроМир"}
    )
    planned = plan(event, ANNA, at(23, 30))
    assert isinstance(planned, OutreachPlan)
    assert (planned.send_at, planned.deferred, planned.follow_up) == (at(23, 30), False, "confirm")


def test_an_opted_out_channel_is_skipped_and_all_opted_out_is_not_sent() -> None:
    planned = plan(DELAY, Recipient(ANNA.contact, opted_out=frozenset({"telegram"})), at(14))
    assert isinstance(planned, OutreachPlan) and planned.channel == "sms"
    everything = frozenset({"telegram", "sms", "email"})
    refused = plan(DELAY, Recipient(ANNA.contact, opted_out=everything), at(14))
    assert isinstance(refused, NotSent) and refused.reason == "opted_out"
    nowhere = plan(DELAY, Recipient(ContactProfile()), at(14))
    assert isinstance(nowhere, NotSent) and nowhere.reason == "unreachable"


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (OutreachEvent("birthday", "c-00000000000000c1", "x"), "unknown trigger 'birthday'"),
        (OutreachEvent("delivery_delayed", "c-00000000000000c1", "x", {"order_id": "1"}), "missing data: new_date"),
        (OutreachEvent("payment_abandoned", "c-00000000000000c1", "x", {"amount": "x" * 201}), "longer than 200"),
    ],
)
def test_an_event_the_rules_cannot_plan_is_an_error(event: OutreachEvent, error: str) -> None:
    with pytest.raises(OutreachError, match=error):
        plan(event, ANNA, at(14))


def test_the_bundled_rules_parse_and_a_broken_file_is_refused() -> None:
    assert "suspicious_payment" in load_outreach_rules().triggers
    with pytest.raises(ValueError, match="uses \\['order'\\]"):
        OutreachRules.parse(
            "triggers:\n  t:\n    fields: []\n    message: {ru: 'заказ {order}', en: 'order {order}'}\n"
        )
    with pytest.raises(ValueError, match="needs a starts_at"):
        OutreachRules.parse("triggers:\n  t:\n    message: {ru: 'а', en: 'b'}\n    send: day_before\n")


def test_the_message_is_in_the_tone_the_rules_choose_for_the_customer_and_channel() -> None:
    """zabota/tone/rules.yml: a business customer reads formal, a young one in Telegram friendly, and a security
    check is formal for everyone (sensitive)."""
    neutral = plan(DELAY, ANNA, at(14))
    assert isinstance(neutral, OutreachPlan) and neutral.tone == "neutral"
    assert neutral.text == load_outreach_rules().triggers["delivery_delayed"].message["ru"].format(**DELAY.data)
    business = plan(DELAY, replace(ANNA, segment="b2b"), at(14))
    assert isinstance(business, OutreachPlan) and business.tone == "formal" and "Ваш заказ" in business.text
    young = replace(ANNA, age_band="18-24")
    friendly = plan(DELAY, young, at(14))
    assert isinstance(friendly, OutreachPlan) and friendly.tone == "friendly" and "😔" in friendly.text
    assert "tone friendly" in friendly.why
    by_sms = plan(DELAY, replace(young, opted_out=frozenset({"telegram"})), at(14))
    assert isinstance(by_sms, OutreachPlan) and by_sms.channel == "sms" and by_sms.tone == "neutral"
    check = OutreachEvent("suspicious_payment", DELAY.customer_id, "pay-1", {"amount": "4 990 ₽", "merchant": "Ozon"})
    security = plan(check, young, at(14))
    assert isinstance(security, OutreachPlan) and security.tone == "formal" and "Вы оплатили" in security.text


def test_a_variant_that_breaks_its_tone_or_names_an_unknown_tone_is_refused() -> None:
    base = "triggers:\n  t:\n    fields: []\n    message:\n      ru: 'Заказ задерживается'\n      en: 'Delayed'\n"
    assert OutreachRules.parse(base + "      friendly: {ru: 'Заказ задерживается 😔'}\n").triggers["t"].variants
    with pytest.raises(ValueError, match="emoji in a formal"):
        OutreachRules.parse(base + "      formal: {ru: 'Ваш заказ задерживается 😔'}\n")
    with pytest.raises(ValueError, match="«вас» in a formal"):
        OutreachRules.parse(base + "      formal: {ru: 'Извините, у вас задержка'}\n")
    with pytest.raises(ValueError, match="contraction"):
        OutreachRules.parse(base + "      formal: {en: \"Your order's delayed, we're sorry\"}\n")
    with pytest.raises(ValueError, match="not 'jokey'"):
        OutreachRules.parse(base + "      jokey: {ru: 'Ой'}\n")
    with pytest.raises(ValueError, match="emoji in a sensitive"):
        OutreachRules.parse(base + "      friendly: {ru: 'Это вы? 🙂'}\n    sensitive: true\n")
