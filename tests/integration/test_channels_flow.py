"""Telegram, voice and SMS end to end: real HTTP into the gateway, the real bot, and the local fakes of the
Bot API and Twilio receiving what the gateway sends out."""

from __future__ import annotations

import random
import uuid

import httpx
import pytest
import redis

from tests.conftest import TELEGRAM_SECRET, Fakes, Tokens
from tests.fakes.telegram_api import callback_update, contact_update, text_update, tg_user
from tests.fakes.twilio_api import inbound_sms_form, signed_inbound
from tests.integration.stack_kit import auth, customer_of, reply_text, say
from zabota import redis_keys
from zabota.stack import Stack

pytestmark = pytest.mark.integration

SECRET_HEADER = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}


def new_user() -> dict:  # type: ignore[type-arg]
    return tg_user(user_id=random.randint(10**8, 10**9))


def sent_to(fakes: Fakes, chat_id: int) -> list[dict]:  # type: ignore[type-arg]
    return [m for m in fakes.telegram.sent_messages() if m.get("chat_id") == chat_id]


def new_caller() -> str:
    return "+7916" + "".join(random.choices("0123456789", k=7))


# ---------------------------------------------------------------------------------------------- Telegram
def test_telegram_webhook_refuses_without_the_secret(gateway: httpx.Client) -> None:
    update = text_update("привет", new_user())
    assert gateway.post("/webhooks/telegram", json=update).status_code == 401
    wrong = {"X-Telegram-Bot-Api-Secret-Token": "guess"}
    assert gateway.post("/webhooks/telegram", json=update, headers=wrong).status_code == 401


def test_telegram_message_is_answered_through_the_bot_api(gateway: httpx.Client, fakes: Fakes) -> None:
    user = new_user()
    response = gateway.post(
        "/webhooks/telegram", json=text_update("как оплатить интернет?", user), headers=SECRET_HEADER
    )
    assert response.status_code == 200, response.text
    messages = sent_to(fakes, user["id"])
    assert messages, "no sendMessage reached the Bot API"
    assert any("zabota.example/help/ru/" in m["text"] for m in messages)
    keyboards = [m["reply_markup"]["inline_keyboard"] for m in messages if "reply_markup" in m]
    assert keyboards and keyboards[-1][0][0]["callback_data"] == "/affirm"


def test_telegram_button_press_is_the_next_message(gateway: httpx.Client, fakes: Fakes) -> None:
    user = new_user()
    gateway.post("/webhooks/telegram", json=text_update("как подключить роуминг", user), headers=SECRET_HEADER)
    before = len(sent_to(fakes, user["id"]))
    press = callback_update("/affirm", user)
    assert gateway.post("/webhooks/telegram", json=press, headers=SECRET_HEADER).status_code == 200
    assert press["callback_query"]["id"] in fakes.telegram.answered_callbacks()
    assert len(sent_to(fakes, user["id"])) > before


def test_a_repeated_update_reaches_the_bot_once(gateway: httpx.Client, fakes: Fakes) -> None:
    user = new_user()
    update = text_update("привет", user)
    gateway.post("/webhooks/telegram", json=update, headers=SECRET_HEADER)
    count = len(sent_to(fakes, user["id"]))
    again = gateway.post("/webhooks/telegram", json=update, headers=SECRET_HEADER)
    assert again.status_code == 200 and again.json()["handled"] is False
    assert len(sent_to(fakes, user["id"])) == count


def test_shared_contact_links_telegram_and_the_phone_line(
    gateway: httpx.Client, fakes: Fakes, tokens: Tokens, app_redis: redis.Redis
) -> None:
    user = new_user()
    caller = new_caller()
    # The customer called first, then shares the same number in Telegram: one customer, one context.
    voice = gateway.post(
        "/api/v1/voice/events",
        json={"call_id": f"call-{uuid.uuid4().hex[:6]}", "caller": caller, "text": "здравствуйте"},
        headers=auth(tokens.voice),
    )
    assert voice.status_code == 200, voice.text
    phone_customer = customer_of(app_redis, f"tel:{caller}")
    update = contact_update(caller.lstrip("+"), user)
    assert gateway.post("/webhooks/telegram", json=update, headers=SECRET_HEADER).status_code == 200
    assert customer_of(app_redis, f"tg:{user['id']}") == phone_customer
    assert "привязан" in sent_to(fakes, user["id"])[-1]["text"]
    # Next call: the instructions go to the linked (and so preferred) Telegram instead of an SMS.
    before = len(sent_to(fakes, user["id"]))
    call = gateway.post(
        "/api/v1/voice/events",
        json={"call_id": f"call-{uuid.uuid4().hex[:6]}", "caller": caller, "text": "у меня не работает интернет"},
        headers=auth(tokens.voice),
    ).json()
    assert [item["channel"] for item in call["sent"]] == ["telegram"]
    assert "Telegram" in call["speak"]
    assert "zabota.example/help/ru/" in sent_to(fakes, user["id"])[before]["text"]


def test_a_contact_of_somebody_else_links_nothing(gateway: httpx.Client, app_redis: redis.Redis) -> None:
    user = new_user()
    caller = new_caller()
    update = contact_update(caller.lstrip("+"), user, contact_user_id=user["id"] + 1)
    gateway.post("/webhooks/telegram", json=update, headers=SECRET_HEADER)
    assert app_redis.get(redis_keys.identity(f"tel:{caller}")) is None


# ---------------------------------------------------------------------------------------------- voice
def test_voice_dead_internet_gets_short_speech_and_the_steps_by_sms(
    gateway: httpx.Client, fakes: Fakes, tokens: Tokens
) -> None:
    caller = new_caller()
    response = gateway.post(
        "/api/v1/voice/events",
        json={"call_id": "call-1", "caller": caller, "text": "у меня совсем не работает интернет дома"},
        headers=auth(tokens.voice),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["delivered"] is True and body["transfer_to_operator"] is False
    assert len(body["speak"]) <= 260
    assert "SMS" in body["speak"]
    assert "http" not in body["speak"]
    assert [item["channel"] for item in body["sent"]] == ["sms"]
    assert caller not in body["sent"][0]["to"]  # masked
    sms = [m for m in fakes.twilio.messages if m["to"] == caller]
    assert len(sms) == 1
    text = sms[0]["body"]
    assert "zabota.example/help/ru/" in text
    assert "1." in text or "1)" in text  # the numbered steps


def test_voice_needs_the_platform_token(gateway: httpx.Client) -> None:
    event = {"call_id": "c", "caller": new_caller(), "text": "алло"}
    assert gateway.post("/api/v1/voice/events", json=event).status_code == 401
    assert gateway.post("/api/v1/voice/events", json=event, headers=auth("nope")).status_code == 401


def test_voice_rejects_a_bad_event_with_reasons(gateway: httpx.Client, tokens: Tokens) -> None:
    bad_caller = gateway.post(
        "/api/v1/voice/events",
        json={"call_id": "c", "caller": "not-a-number", "text": "алло"},
        headers=auth(tokens.voice),
    )
    assert bad_caller.status_code == 422 and bad_caller.json()["error"] == "bad_caller"
    missing = gateway.post("/api/v1/voice/events", json={"call_id": "c"}, headers=auth(tokens.voice))
    assert missing.status_code == 422


def test_a_crisis_on_the_phone_is_transferred_to_a_person(gateway: httpx.Client, tokens: Tokens) -> None:
    response = gateway.post(
        "/api/v1/voice/events",
        json={"call_id": "call-2", "caller": new_caller(), "text": "я больше не хочу жить, всё бессмысленно"},
        headers=auth(tokens.voice),
    )
    body = response.json()
    assert body["transfer_to_operator"] is True
    assert body["priority"] == "p1"
    assert body["handoff_id"]


# ---------------------------------------------------------------------------------------------- SMS
def test_an_sms_reply_is_answered_by_sms(gateway: httpx.Client, stack: Stack, fakes: Fakes) -> None:
    caller = new_caller()
    url = f"http://127.0.0.1:{stack.settings.gateway_port}/webhooks/sms"
    headers, form = signed_inbound(url, inbound_sms_form(caller, "как оплатить интернет картой?"))
    response = gateway.post("/webhooks/sms", data=form, headers=headers)
    assert response.status_code == 200, response.text
    assert "<Response>" in response.text
    replies = [m for m in fakes.twilio.messages if m["to"] == caller]
    assert replies and "zabota.example/help/ru/" in replies[-1]["body"]


def test_an_sms_with_a_wrong_signature_is_refused(gateway: httpx.Client, fakes: Fakes) -> None:
    caller = new_caller()
    form = inbound_sms_form(caller, "привет")
    response = gateway.post("/webhooks/sms", data=form, headers={"X-Twilio-Signature": "AAAA"})
    assert response.status_code == 401
    assert not [m for m in fakes.twilio.messages if m["to"] == caller]


# ---------------------------------------------------------------------------------------------- email
def test_documents_go_by_email_when_the_customer_has_an_address(
    gateway: httpx.Client, fakes: Fakes, app_redis: redis.Redis
) -> None:
    sender = f"it-doc-{uuid.uuid4().hex[:8]}"
    say(gateway, sender, "здравствуйте")
    customer = customer_of(app_redis, f"web:{sender}")
    address = f"{sender}@example.org"
    # The address on file (as a CRM would set it): typed addresses are not trusted with documents.
    app_redis.hset(redis_keys.customer_profile(customer), "email", address)
    body = say(gateway, sender, "пришлите, пожалуйста, счёт на оплату и закрывающие документы за прошлый месяц")
    mails = [m for m in fakes.smtp.received if address in m.rcpt_tos]
    assert mails, f"no email sent; the bot said: {reply_text(body)}"
    assert "почт" in reply_text(body)  # the chat says where the copy went
