"""The care layer end to end on the real stack: a customer the company's records know (loaded through the
customers API) is recognised on a call by the verified number and never asked for what the service knows."""

from __future__ import annotations

import random
import uuid

import httpx
import pytest

from tests.conftest import Fakes, Tokens
from tests.integration.stack_kit import auth

pytestmark = pytest.mark.integration

# the bot's question for the phone (bot/domain.yml utter_ask_phone), in any tone: the words every variant has
ASKS_FOR_PHONE = ("номер телефона", "phone number")


def load_customer(gateway: httpx.Client, tokens: Tokens, phone: str, account: str) -> str:
    response = gateway.post(
        "/api/v1/customers",
        json={
            "external_id": f"crm-{uuid.uuid4().hex[:10]}",
            "name": "Ирина Павлова",
            "segment": "b2c",
            "age_band": "35-44",
            "phones": [phone],
            "accounts": [{"account_number": account}],
            "preferred_channel": "sms",
        },
        headers=auth(tokens.lead),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["customer_id"])


def test_a_known_caller_asks_for_the_account_number_and_gets_it_by_sms_unasked(
    gateway: httpx.Client, fakes: Fakes, tokens: Tokens
) -> None:
    caller = "+7903" + "".join(random.choices("0123456789", k=7))
    account = "1002" + "".join(random.choices("0123456789", k=5)) + "903"
    load_customer(gateway, tokens, caller, account)

    response = gateway.post(
        "/api/v1/voice/events",
        json={"call_id": f"call-{uuid.uuid4().hex[:8]}", "caller": caller, "text": "какой у меня номер лицевого счета"},
        headers=auth(tokens.voice),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["transfer_to_operator"] is False
    assert not any(words in body["speak"].lower() for words in ASKS_FOR_PHONE), body["speak"]
    assert [item["channel"] for item in body["sent"]] == ["sms"]
    [sms] = [m for m in fakes.twilio.messages if m["to"] == caller]
    assert account in sms["body"].replace(" ", "")
    assert account not in body["speak"].replace(" ", "")  # the number is read from the SMS, not aloud
