"""The Twilio SMS adapter against a local Messages API over real HTTP; inbound webhook signatures."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from structlog.testing import capture_logs

from gateway.channels.sms import (
    MAX_BODY_CHARS,
    InboundSms,
    InvalidInboundSms,
    SmsError,
    TwilioSms,
    parse_inbound_sms,
    signature_ok,
    truncate_body,
    twilio_signature,
)
from tests.fakes.http_server import closed_url
from tests.fakes.twilio_api import AUTH_TOKEN, FakeTwilio, inbound_sms_form, sign, signed_inbound


@pytest.fixture
async def sms(fake_twilio: FakeTwilio) -> AsyncIterator[TwilioSms]:
    client = TwilioSms(fake_twilio.url, fake_twilio.account_sid, fake_twilio.auth_token, fake_twilio.from_number, 2.0)
    try:
        yield client
    finally:
        await client.aclose()


async def test_send_normalises_the_number(sms: TwilioSms, fake_twilio: FakeTwilio) -> None:
    sid = await sms.send("8 (916) 123-45-67", "Инструкция: 1. Перезагрузите роутер. 2. Проверьте кабель.")
    assert sid.startswith("SM") and len(sid) == 34
    (message,) = fake_twilio.messages
    assert message["sid"] == sid
    assert message["to"] == "+79161234567"
    assert message["from"] == fake_twilio.from_number
    assert message["body"] == "Инструкция: 1. Перезагрузите роутер. 2. Проверьте кабель."
    assert message["status"] == "queued"


async def test_long_body_is_truncated_with_an_ellipsis(sms: TwilioSms, fake_twilio: FakeTwilio) -> None:
    await sms.send("+79161234567", "б" * 2500)
    (message,) = fake_twilio.messages
    assert len(message["body"]) == MAX_BODY_CHARS
    assert message["body"].endswith("…")
    assert truncate_body("short") == "short"
    assert truncate_body("x" * 1600) == "x" * 1600
    assert truncate_body("слово " * 400) == ("слово " * 400)[:1599].rstrip() + "…"


async def test_invalid_destination_is_refused_without_a_request(sms: TwilioSms, fake_twilio: FakeTwilio) -> None:
    for bad in ("12345", "позвоните мне", "+7 916 123"):
        with pytest.raises(SmsError, match="invalid destination number"):
            await sms.send(bad, "текст")
    with pytest.raises(SmsError, match="empty message body"):
        await sms.send("+79161234567", "  ")
    assert fake_twilio.request_count == 0


async def test_wrong_credentials(fake_twilio: FakeTwilio) -> None:
    client = TwilioSms(fake_twilio.url, fake_twilio.account_sid, "0" * 32, fake_twilio.from_number, 2.0)
    try:
        with pytest.raises(SmsError) as caught:
            await client.send("+79161234567", "текст")
    finally:
        await client.aclose()
    assert (caught.value.status, caught.value.code) == (401, 20003)
    assert "0" * 32 not in caught.value.reason
    assert not caught.value.retryable


async def test_twilio_refusal_is_logged_without_numbers(fake_twilio: FakeTwilio) -> None:
    client = TwilioSms(fake_twilio.url, fake_twilio.account_sid, fake_twilio.auth_token, "+79990001122", 2.0)
    try:
        with capture_logs() as logs, pytest.raises(SmsError) as caught:
            await client.send("+79161234567", "Ваш код *100#")
    finally:
        await client.aclose()
    assert (caught.value.status, caught.value.code) == (400, 21606)
    dumped = json.dumps(logs, default=str) + caught.value.reason
    assert "9990001122" not in dumped and "9161234567" not in dumped and "*100#" not in dumped
    assert [entry["event"] for entry in logs] == ["sms.send_failed"]


async def test_server_error_is_retryable(sms: TwilioSms, fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail_next(503, 20503, "Service Unavailable")
    with pytest.raises(SmsError) as caught:
        await sms.send("+79161234567", "текст")
    assert caught.value.status == 503 and caught.value.retryable
    assert await sms.send("+79161234567", "текст")


async def test_rate_limit_is_retryable(sms: TwilioSms, fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail_next(429, 20429, "Too Many Requests")
    with pytest.raises(SmsError) as caught:
        await sms.send("+79161234567", "текст")
    assert caught.value.code == 20429 and caught.value.retryable


async def test_timeout(fake_twilio: FakeTwilio) -> None:
    fake_twilio.delay_seconds = 1.0
    client = TwilioSms(fake_twilio.url, fake_twilio.account_sid, fake_twilio.auth_token, fake_twilio.from_number, 0.2)
    try:
        with pytest.raises(SmsError) as caught:
            await client.send("+79161234567", "текст")
    finally:
        await client.aclose()
    assert caught.value.reason == "timeout" and caught.value.retryable


async def test_connection_refused() -> None:
    client = TwilioSms(closed_url(), "AC" + "1" * 32, "secret-token", "+15005550006", 2.0)
    try:
        with pytest.raises(SmsError) as caught:
            await client.send("+79161234567", "текст")
    finally:
        await client.aclose()
    assert caught.value.reason == "ConnectError" and caught.value.status is None
    assert "secret-token" not in str(caught.value)


async def test_logs_on_success_hide_the_number(sms: TwilioSms) -> None:
    with capture_logs() as logs:
        await sms.send("+79161234567", "Ваш пароль от Wi-Fi: qwerty123")
    (entry,) = logs
    assert entry["event"] == "sms.sent" and entry["to"] == "+7********67"
    dumped = json.dumps(logs, default=str)
    assert "9161234567" not in dumped and "qwerty" not in dumped


def test_constructor_needs_credentials() -> None:
    with pytest.raises(ValueError):
        TwilioSms("https://api.twilio.com", "", "token", "+15005550006", 1.0)


# --- inbound ---------------------------------------------------------------------------------------------------


def test_signature_matches_twilios_published_examples() -> None:
    # The examples of Twilio's security documentation and of twilio-python's tests (auth token "12345").
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature(url, params, "12345") == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    params_2 = dict(params, Caller="+14158675309", From="+14158675309")
    assert twilio_signature(url, params_2, "12345") == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_signature_ok_on_a_signed_inbound_request() -> None:
    url = "https://care.example.com/webhooks/sms?tenant=1"
    headers, form = signed_inbound(url, inbound_sms_form("+79161234567", "Спасибо, помогло"))
    signature = headers["X-Twilio-Signature"]
    assert signature_ok(url, form, AUTH_TOKEN, signature)
    assert twilio_signature(url, form, AUTH_TOKEN) == sign(url, form)


def test_signature_mismatch() -> None:
    url = "https://care.example.com/webhooks/sms"
    form = inbound_sms_form("+79161234567", "Спасибо")
    signature = sign(url, form)
    assert not signature_ok(url, dict(form, Body="Спасибо!"), AUTH_TOKEN, signature)  # tampered body
    assert not signature_ok(url, dict(form, Extra="1"), AUTH_TOKEN, signature)  # an added field
    assert not signature_ok(url + "/other", form, AUTH_TOKEN, signature)  # another URL
    assert not signature_ok(url, form, "wrong-token", signature)
    assert not signature_ok(url, form, AUTH_TOKEN, None)
    assert not signature_ok(url, form, AUTH_TOKEN, "")
    assert not signature_ok(url, form, "", signature)


def test_signature_with_and_without_the_default_port() -> None:
    form = inbound_sms_form()
    assert signature_ok(
        "https://care.example.com/sms", form, AUTH_TOKEN, sign("https://care.example.com:443/sms", form)
    )
    assert signature_ok(
        "https://care.example.com:443/sms", form, AUTH_TOKEN, sign("https://care.example.com/sms", form)
    )
    assert not signature_ok(
        "https://care.example.com/sms", form, AUTH_TOKEN, sign("https://care.example.com:8443/sms", form)
    )


def test_parse_inbound_sms() -> None:
    form = inbound_sms_form("+79161234567", "Не работает интернет", to_number="+15005550006")
    inbound = parse_inbound_sms(form)
    assert inbound == InboundSms(
        from_number="+79161234567",
        to_number="+15005550006",
        body="Не работает интернет",
        message_sid=form["MessageSid"],
    )
    assert parse_inbound_sms(dict(form, From="89161234567")).from_number == "+79161234567"
    assert parse_inbound_sms(dict(form, Body="")).body == ""


def test_parse_inbound_sms_needs_from_and_sid() -> None:
    form = inbound_sms_form()
    without_from = {k: v for k, v in form.items() if k != "From"}
    with pytest.raises(InvalidInboundSms):
        parse_inbound_sms(without_from)
    without_sid = {k: v for k, v in form.items() if k not in {"MessageSid", "SmsSid"}}
    with pytest.raises(InvalidInboundSms):
        parse_inbound_sms(without_sid)
