"""The handoff summary: content, selection, masking and its JSON round trip."""

from __future__ import annotations

import json
from typing import Any

import pytest
from handoffs_testkit import CARD, T0, decision, entry

from zabota.handoffs.sla import SlaPolicy
from zabota.handoffs.summary import (
    TRANSCRIPT_LINES,
    BotAttempt,
    CustomerInfo,
    HandoffSummary,
    IntentSeen,
    build_summary,
    mask_entity,
)
from zabota.redaction import CARD_MASK, CVV_MASK, PASSPORT_MASK, luhn_valid
from zabota.triage.model import Signal

FRAUD_TEXT = (
    f"С моей карты {CARD} списали 5000 руб, паспорт 4510 123456, договор 123456789012, пишите на ivan.petrov@mail.ru"
)


def _history() -> list[dict[str, Any]]:
    return [
        entry("customer", "Здравствуйте", T0),
        entry("bot", "Здравствуйте! Чем помочь?", T0 + 1),
        entry("customer", FRAUD_TEXT, T0 + 10),
        entry(
            "bot",
            "Вот что делать при мошенничестве: ...",
            T0 + 11,
            custom={"zabota_kb": {"article": "fraud-protection", "title": "Мошенничество", "url": "https://k/f"}},
        ),
        entry("bot", None, T0 + 12, buttons=[{"title": "Да", "payload": "/affirm"}]),  # buttons only: not a line
        entry("customer", "нет", T0 + 20),
        entry("customer", "Позовите оператора, cvv 321", T0 + 30),
    ]


def _intents() -> list[IntentSeen]:
    return [
        IntentSeen("greet", 0.99, T0 + 0.2),
        IntentSeen("fraud_report", 0.91, T0 + 10.3),
        IntentSeen("deny", 0.97, T0 + 20.3),
        IntentSeen("request_human", 0.95, T0 + 30.3),
    ]


def _customer() -> CustomerInfo:
    return CustomerInfo(
        customer_id="cust-42",
        name="Иван Петров",
        segment="b2c",
        language="ru",
        channel="webchat",
        contacts={"phone": "+7 916 123-45-67", "email": "ivan.petrov@mail.ru", "telegram": "123456789"},
    )


def _summary(**overrides: Any) -> HandoffSummary:
    args: dict[str, Any] = {
        "handoff_id": "h-1",
        "customer": _customer(),
        "decision": decision("request_human", priority="p2", handoff_intent="fraud_report"),
        "history": _history(),
        "intents_seen": _intents(),
        "entities": {
            "phone": "89161234567",
            "email": "ivan.petrov@mail.ru",
            "account_number": "123456789012",
            "order_number": "A-1234",
            "card_number": CARD,
            "passport": "4510 123456",
            "note": f"карта {CARD}, звонить +7 916 123-45-67",
        },
        "kb_events": [
            {"event": "answer", "article": "fraud-protection", "timestamp": T0 + 11},
            {"event": "feedback", "article": "fraud-protection", "helpful": False, "timestamp": T0 + 20},
        ],
        "sla": SlaPolicy(),
        "now": T0 + 31,
    }
    args.update(overrides)
    return build_summary(**args)


def test_the_test_card_is_luhn_valid() -> None:
    assert luhn_valid(CARD.replace(" ", ""))


def test_card_passport_and_cvv_appear_nowhere_in_the_stored_json() -> None:
    raw = json.dumps(_summary().to_dict(), ensure_ascii=False)
    digits_only = "".join(ch for ch in raw if ch.isdigit())
    assert CARD not in raw
    assert CARD.replace(" ", "") not in digits_only
    assert "4510 123456" not in raw and "4510123456" not in digits_only
    assert "321" not in raw
    assert CARD_MASK in raw and PASSPORT_MASK in raw and CVV_MASK in raw


def test_contacts_are_masked() -> None:
    summary = _summary()
    assert summary.customer.contacts == {
        "phone": "+7 *** ***-45-67",
        "email": "i***@mail.ru",
        "telegram": "linked",
    }
    assert summary.customer.name == "Иван Петров"


def test_entities_masked_where_sensitive_and_identifiers_kept() -> None:
    entities = _summary().entities
    assert entities["phone"] == "+7 *** ***-45-67"
    assert entities["email"] == "i***@mail.ru"
    assert entities["account_number"] == "123456789012"
    assert entities["order_number"] == "A-1234"
    assert entities["card_number"] == CARD_MASK
    assert entities["passport"] == PASSPORT_MASK
    assert entities["note"] == f"карта {CARD_MASK}, звонить +7 *** ***-45-67"


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("msisdn", "+7 (495) 123-45-67", "+7 *** ***-45-67"),
        ("contact_email", "a@b.ru", "a***@b.ru"),
        ("bank_card", "anything", CARD_MASK),
        ("passport_number", "4510 123456", PASSPORT_MASK),
        ("contract", "77-001", "77-001"),
        ("city", "Казань", "Казань"),
    ],
)
def test_mask_entity(name: str, value: str, shown: str) -> None:
    assert mask_entity(name, value) == shown


def test_problem_is_first_trigger_and_problem_intent_messages() -> None:
    problem = _summary().problem
    assert [line.timestamp for line in problem] == [T0, T0 + 10, T0 + 30]
    assert problem[0].text == "Здравствуйте"
    assert problem[1].text.startswith("С моей карты [карта скрыта]")
    assert problem[2].text == f"Позовите оператора, {CVV_MASK}"
    assert all(line.role == "customer" for line in problem)


def test_problem_keeps_at_most_three_and_prefers_the_latest_problem_messages() -> None:
    history = [entry("customer", f"сообщение {i}", T0 + 10 * i) for i in range(6)]
    intents = [IntentSeen("internet_down", 0.9, T0 + 10 * i + 0.3) for i in range(6)]
    summary = _summary(history=history, intents_seen=intents, kb_events=[])
    assert [line.text for line in summary.problem] == ["сообщение 0", "сообщение 4", "сообщение 5"]


def test_what_the_bot_tried_in_order() -> None:
    intents = [IntentSeen("internet_down", 0.9, T0 + 5), IntentSeen("nlu_fallback", 0.3, T0 + 25), *_intents()]
    tried = _summary(intents_seen=intents).bot_tried
    assert tried == (
        BotAttempt("flow", "internet_down"),
        BotAttempt("kb_article", "Мошенничество (fraud-protection)"),  # history and kb_events: shown once
        BotAttempt("kb_feedback", "fraud-protection: не помогла"),
        BotAttempt("fallback", "не понятых ботом сообщений: 1"),
    )


def test_bot_tried_in_english_for_an_english_conversation() -> None:
    customer = CustomerInfo(customer_id="c-en", language="en", channel="telegram")
    summary = _summary(customer=customer, decision=decision("request_human", priority="p3", lang="en"))
    assert summary.language == "en"
    assert BotAttempt("kb_feedback", "fraud-protection: not helpful") in summary.bot_tried
    assert summary.channel == "telegram"


def test_priority_due_reasons_and_next_step() -> None:
    summary = _summary()
    assert summary.priority == "p2"
    assert summary.created_at == T0 + 31
    assert summary.due_at == T0 + 31 + 900
    assert summary.intent == "fraud_report"
    assert summary.sensitive is True
    assert summary.sentiment == "negative"
    assert [r.code for r in summary.reasons] == ["sensitive_intent"]
    assert summary.next_step == "Заблокируйте SIM-карту и платежи с карты, проверьте последние списания"


def test_a_crisis_signal_wins_the_next_step() -> None:
    signal = Signal(kind="self_harm", priority="p1", intent="crisis", evidence="жить не хочу", lang="en")
    crisis = decision(
        "complaint", priority="p1", signals=(signal,), reasons=(("sensitive_signal", "self_harm"),), lang="en"
    )
    summary = _summary(decision=crisis, customer=CustomerInfo(customer_id="c", language="en"))
    assert summary.next_step == "Call the customer now; give 112 and the helpline 8-800-2000-122"
    assert summary.due_at == T0 + 31 + 300


def test_kb_unhelpful_next_step() -> None:
    unhelpful = decision(
        "internet_down", priority="p3", sensitive=False, reasons=(("kb_unhelpful", "2 unhelpful answers"),)
    )
    summary = _summary(decision=unhelpful)
    assert summary.next_step.startswith("Статья бота не помогла")


def test_no_priority_in_the_decision_means_p3() -> None:
    summary = _summary(decision=decision("complaint", priority=None, reasons=(), sensitive=False))
    assert summary.priority == "p3"
    assert summary.due_at == T0 + 31 + 7200
    assert summary.next_step == "Прочитайте проблему и переписку, затем ответьте клиенту"


def test_intents_include_the_triaged_message() -> None:
    summary = _summary(intents_seen=_intents()[:2])
    assert [i.name for i in summary.intents] == ["greet", "fraud_report", "request_human"]
    assert summary.intents[-1].timestamp == T0 + 31


def test_transcript_keeps_the_last_lines_with_text() -> None:
    history = [entry("customer" if i % 2 else "bot", f"строка {i}", T0 + i) for i in range(80)]
    history.append(entry("operator", "Здравствуйте, я Анна", T0 + 100))
    history.append(entry("system", None, T0 + 101))
    history.append(entry("robot", "unknown role", T0 + 102))
    transcript = _summary(history=history).transcript
    assert len(transcript) == TRANSCRIPT_LINES
    assert transcript[-1].role == "operator"
    assert transcript[-1].text == "Здравствуйте, я Анна"
    assert transcript[0].text == "строка 31"
    assert transcript[0].channel == "webchat"


def test_json_round_trip() -> None:
    summary = _summary()
    data = json.loads(json.dumps(summary.to_dict(), ensure_ascii=False))
    assert HandoffSummary.from_dict(data) == summary


@pytest.mark.parametrize(
    "broken",
    [{}, {"handoff_id": "x"}, {**_summary().to_dict(), "priority": "p9"}, {**_summary().to_dict(), "intents": 5}],
)
def test_from_dict_rejects_what_is_not_a_summary(broken: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        HandoffSummary.from_dict(broken)


def test_a_customer_at_risk_of_leaving_is_one_step_more_urgent_and_the_operator_sees_why() -> None:
    from zabota.records.churn import ChurnRisk

    risk = ChurnRisk(("repeated_problem",), ("internet_down in 3 contacts within 30 days",))
    summary = _summary(decision=decision("internet_down", priority="p3", handoff_intent="request_human"), churn=risk)
    assert summary.priority == "p2"
    assert summary.due_at == T0 + 31 + 900
    assert summary.churn_risk == ("internet_down in 3 contacts within 30 days",)
    data = json.loads(json.dumps(summary.to_dict(), ensure_ascii=False))
    assert HandoffSummary.from_dict(data) == summary
    older = {k: v for k, v in data.items() if k != "churn_risk"}  # stored before churn risk existed
    assert HandoffSummary.from_dict(older).churn_risk == ()
