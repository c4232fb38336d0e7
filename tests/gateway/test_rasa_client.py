from __future__ import annotations

import pytest
from gateway_testkit import RASA_TOKEN, FakeRasa, closed_url

from gateway.rasa_client import BotReply, Button, RasaClient, RasaUnavailable


def client_for(url: str, *, token: str = RASA_TOKEN, timeout: float = 2.0) -> RasaClient:
    return RasaClient(url, token, timeout)


async def test_send_posts_the_rest_webhook_body_and_parses_replies(fake_rasa: FakeRasa) -> None:
    rasa = client_for(fake_rasa.url + "/")  # a trailing slash in RASA_URL must not matter
    try:
        replies = await rasa.send("abc", "привет", {"channel": "webchat", "lang": "ru"})
    finally:
        await rasa.aclose()
    assert fake_rasa.requests == [
        {"sender": "abc", "message": "привет", "metadata": {"channel": "webchat", "lang": "ru"}}
    ]
    assert replies == [BotReply(text="echo: привет", buttons=[Button(title="Да", payload="/affirm")])]


async def test_status_sends_the_token(fake_rasa: FakeRasa) -> None:
    rasa = client_for(fake_rasa.url)
    try:
        assert (await rasa.status())["model_file"] == "models/test.tar.gz"
    finally:
        await rasa.aclose()


async def test_wrong_token_is_unavailable(fake_rasa: FakeRasa) -> None:
    rasa = client_for(fake_rasa.url, token="wrong")
    try:
        with pytest.raises(RasaUnavailable, match="HTTP 401"):
            await rasa.status()
    finally:
        await rasa.aclose()


async def test_connection_refused_is_unavailable() -> None:
    rasa = client_for(closed_url())  # building the client does no I/O, so this cannot fail yet
    try:
        with pytest.raises(RasaUnavailable, match="ConnectError"):
            await rasa.send("s", "hi", {})
        with pytest.raises(RasaUnavailable):
            await rasa.status()
    finally:
        await rasa.aclose()


async def test_server_error_is_unavailable(fake_rasa: FakeRasa) -> None:
    fake_rasa.mode = "error"
    rasa = client_for(fake_rasa.url)
    try:
        with pytest.raises(RasaUnavailable, match="HTTP 500"):
            await rasa.send("s", "hi", {})
    finally:
        await rasa.aclose()


async def test_timeout_is_unavailable(fake_rasa: FakeRasa) -> None:
    fake_rasa.mode = "slow"
    fake_rasa.slow_seconds = 1.0
    rasa = client_for(fake_rasa.url, timeout=0.2)
    try:
        with pytest.raises(RasaUnavailable, match="timeout"):
            await rasa.send("s", "hi", {})
    finally:
        await rasa.aclose()


async def test_a_body_not_in_rasa_format_is_unavailable(fake_rasa: FakeRasa) -> None:
    fake_rasa.mode = "garbage"
    rasa = client_for(fake_rasa.url)
    try:
        with pytest.raises(RasaUnavailable, match="invalid"):
            await rasa.send("s", "hi", {})
    finally:
        await rasa.aclose()


def test_reply_fields_default_and_unknown_keys_are_ignored() -> None:
    reply = BotReply.model_validate({"recipient_id": "x", "image": "https://x/y.png", "custom": {"kind": "card"}})
    assert reply.text is None
    assert reply.buttons == []
    assert reply.image == "https://x/y.png"
    assert reply.custom == {"kind": "card"}
