from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from actions_testkit import make_domain, make_tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from structlog.testing import capture_logs

from actions.language import ActionDetectLanguage
from zabota.markers import TONE_METADATA

PROFILE = {"phone": "+79161234567", "account_number": "123456789903", "email": "a@b.ru"}


async def run(
    text: str | None = "здравствуйте",
    slots: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    active_loop: str | None = None,
    entities: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(text, "greet", slots=slots, metadata=metadata, active_loop=active_loop)
    if entities is not None:
        tracker.latest_message["entities"] = entities
    events = await ActionDetectLanguage().run(dispatcher, tracker, make_domain())
    assert dispatcher.messages == []
    return events


def slots_set(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {event["name"]: event["value"] for event in events if event["event"] == "slot"}


@pytest.mark.parametrize(
    ("text", "previous", "expected"),
    [
        ("интернет не работает", None, "ru"),
        ("интернет не работает", "en", "ru"),
        ("my internet is down", "ru", "en"),
        ("89161234567", "en", "en"),  # no words: the conversation's language stays
        ("ZB-4829173", "ru", "ru"),
        ("ok", "ru", "ru"),
        ("/affirm", "en", "en"),  # a button payload, not the customer's words
        ("/affirm", None, "ru"),
        (None, "en", "en"),
        ("hello", "de", "en"),
    ],
)
async def test_sets_the_lang_slot(text: str | None, previous: str | None, expected: str) -> None:
    events = await run(text, slots={"lang": previous})
    # without the gateway's metadata: the language, and no profile of the customer this turn
    assert events == [SlotSet("lang", expected), SlotSet("account_known", False)]


@pytest.mark.parametrize(
    ("tone", "expected"),
    [
        ({"tone": "formal", "why": "older customer", "name": "Анна Петровна"}, ("formal", "Анна Петровна", True)),
        ({"tone": "friendly", "why": "younger customer in a messenger", "name": "Анна"}, ("friendly", "Анна", True)),
        ({"tone": "neutral", "why": "default", "name": None}, ("neutral", None, False)),
        ({"tone": "friendly", "why": "w", "name": "   "}, ("friendly", None, False)),  # a blank name is none
        ({"tone": "formal", "why": "w"}, ("formal", None, False)),
    ],
)
async def test_sets_the_tone_and_the_name_from_the_gateway(tone: dict[str, Any], expected: tuple[Any, ...]) -> None:
    slots = slots_set(
        await run(slots={"tone": "neutral", "customer_name": "Старое Имя"}, metadata={TONE_METADATA: tone})
    )
    assert (slots["tone"], slots["customer_name"], slots["named"]) == expected


@pytest.mark.parametrize(
    "metadata",
    [
        {},
        {TONE_METADATA: "formal"},  # not the gateway's shape
        {TONE_METADATA: {"tone": "shouty", "why": "typo", "name": "Анна"}},
        {TONE_METADATA: {"tone": None, "name": "Анна"}},
    ],
)
async def test_keeps_the_tone_without_a_valid_one(metadata: dict[str, Any]) -> None:
    slots = slots_set(await run(slots={"tone": "formal", "customer_name": "Анна", "named": True}, metadata=metadata))
    assert not {"tone", "customer_name", "named"} & slots.keys()


async def test_an_invalid_tone_is_logged_without_the_name() -> None:
    with capture_logs() as logs:
        await run(metadata={TONE_METADATA: {"tone": "shouty", "why": "typo", "name": "Анна"}})
    assert [entry["event"] for entry in logs] == ["tone.metadata_invalid"]
    assert "Анна" not in repr(logs)


async def test_fills_empty_phone_and_account_number_from_the_profile() -> None:
    with capture_logs() as logs:
        slots = slots_set(await run(metadata={"zabota_profile": PROFILE}))
    assert slots["account_known"] is True
    assert slots["phone"] == "+79161234567"
    assert slots["account_number"] == "123456789903"
    assert "email" not in slots  # no slot of that name: the profile fills only the two
    assert [entry["event"] for entry in logs] == ["profile.slots_filled"]
    assert "+79161234567" not in repr(logs) and "123456789903" not in repr(logs)  # personal data is never logged


async def test_never_overwrites_what_the_customer_gave() -> None:
    slots = slots_set(
        await run(
            slots={"phone": "+79035550011", "account_number": "111122223333"}, metadata={"zabota_profile": PROFILE}
        )
    )
    assert slots == {"lang": "ru", "account_known": True}


async def test_the_customer_s_words_this_turn_win_over_the_profile() -> None:
    # an entity of this very message: action_extract_slots fills the slot from it
    entity = [{"entity": "phone", "value": "+7 903 555-00-11", "start": 0, "end": 16}]
    slots = slots_set(await run("+7 903 555-00-11", metadata={"zabota_profile": PROFILE}, entities=entity))
    assert "phone" not in slots and slots["account_number"] == "123456789903"
    # the slot a form asked for: this message is the customer's answer to it (from_text)
    slots = slots_set(
        await run(
            "89035550011",
            slots={"requested_slot": "phone"},
            metadata={"zabota_profile": PROFILE},
            active_loop="account_number_form",
        )
    )
    assert "phone" not in slots and slots["account_number"] == "123456789903"


@pytest.mark.parametrize(
    ("profile", "known"),
    [
        ({"phone": "+79161234567"}, False),
        ({"phone": "+79161234567", "account_number": "  "}, False),
        ({"account_number": "123456789903"}, True),
        ("not a mapping", False),
    ],
)
async def test_account_known_says_whether_the_records_have_the_account(profile: Any, known: bool) -> None:
    slots = slots_set(await run(metadata={"zabota_profile": profile}))
    assert slots["account_known"] is known


async def test_tone_and_profile_together() -> None:
    tone = {"tone": "friendly", "why": "younger customer in a messenger", "name": "Анна"}
    events = await run("my internet is down", metadata={TONE_METADATA: tone, "zabota_profile": PROFILE})
    assert events == [
        SlotSet("lang", "en"),
        SlotSet("tone", "friendly"),
        SlotSet("customer_name", "Анна"),
        SlotSet("named", True),
        SlotSet("account_known", True),
        SlotSet("phone", "+79161234567"),
        SlotSet("account_number", "123456789903"),
    ]


def test_name() -> None:
    assert ActionDetectLanguage().name() == "action_detect_language"


async def test_an_address_in_the_question_fills_the_empty_address_slot() -> None:
    with capture_logs() as logs:
        slots = slots_set(await run("у нас на Гагарина 15 с ночи нет интернета, это авария?"))
    assert slots["address"] == "Гагарина 15"
    assert "Гагарина" not in repr(logs)  # personal data is never logged
    assert "date" not in slots  # «с ночи» is not a payment's date: only a missing payment reads dates


async def test_a_missing_payment_s_date_and_amount_are_read_from_the_question() -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("оплатила 12 марта 2300 рублей через терминал, не зачислено", "payment_missing")
    slots = slots_set(await ActionDetectLanguage().run(dispatcher, tracker, make_domain()))
    assert (slots["date"], slots["amount"]) == ("12 марта", "2300 RUB")


@pytest.mark.parametrize(
    ("slots", "active_loop", "entities"),
    [
        ({"address": "ул. Ленина 5"}, None, None),  # known already
        ({"requested_slot": "address"}, "outage_check_form", None),  # the form's own question takes the text
        (None, None, [{"entity": "address", "value": "Гагарина 15", "start": 9, "end": 20}]),  # the NLU found it
    ],
)
async def test_the_address_is_left_alone_when_it_is_known_or_said_otherwise(
    slots: dict[str, Any] | None, active_loop: str | None, entities: list[dict[str, Any]] | None
) -> None:
    events = await run("у нас на Гагарина 15 нет интернета", slots=slots, active_loop=active_loop, entities=entities)
    assert "address" not in slots_set(events)


BOT_SLOTS = yaml.safe_load((Path(__file__).resolve().parents[2] / "bot" / "domain.yml").read_text(encoding="utf-8"))[
    "slots"
]


@pytest.mark.parametrize(
    ("intent", "expected"),
    [
        ("out_of_scope", "1200 RUB"),  # the form's from_text leaves it alone: the amount is read from the words
        ("payment_missing", None),  # from_text takes the answer itself (and the form validates it)
    ],
)
async def test_an_answer_the_form_s_mapping_refuses_is_read_for_its_value(intent: str, expected: str | None) -> None:
    """«тысячу двести рублей» said on a call is out of scope to the NLU, so the payment form's from_text mapping
    (bot/domain.yml, not_intent) would not take it and the form would ask again."""
    tracker = make_tracker(
        "тысячу двести рублей",
        intent,
        slots={"requested_slot": "amount", "date": "вчера"},
        active_loop="payment_missing_form",
    )
    events = await ActionDetectLanguage().run(CollectingDispatcher(), tracker, {**make_domain(), "slots": BOT_SLOTS})
    assert slots_set(events).get("amount") == expected
