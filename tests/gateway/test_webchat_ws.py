"""The webchat widget's WebSocket (/api/v1/webchat/ws) through Starlette's TestClient: history on connect, the
message round trip with typing, errors that leave the socket usable, the rate limit, operator lines pushed live,
and the full history after a reconnect."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis as redis_sync
from gateway_testkit import OPERATOR_TOKEN, FakeRasa, bearer, make_settings, ws_receive
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from gateway import texts, webchat
from gateway.app import create_app
from zabota import redis_keys

WS = "/api/v1/webchat/ws"
API = "/api/v1/operator"

StartClient = Callable[..., Any]


@pytest.fixture
def start_client(fake_rasa: FakeRasa, store: redis_sync.Redis) -> StartClient:
    """``with start_client(**settings_overrides) as client``: a TestClient with the app's lifespan running."""

    @contextmanager
    def start(**overrides: Any) -> Iterator[TestClient]:
        app = create_app(make_settings(**{"rasa_url": fake_rasa.url, **overrides}))
        with TestClient(app) as client:
            yield client

    return start


def exchange(ws: Any, text: str, client_id: str | None = None) -> list[dict[str, Any]]:
    """Send one message; return every frame up to and including ``typing`` off."""
    frame: dict[str, Any] = {"type": "message", "text": text}
    if client_id is not None:
        frame["client_id"] = client_id
    ws.send_json(frame)
    frames = [ws_receive(ws)]
    while frames[-1] != {"type": "typing", "on": False}:
        frames.append(ws_receive(ws))
    return frames


@pytest.mark.parametrize("query", ["", "?sender_id=", "?sender_id=a%20b", "?sender_id=" + "x" * 129, "?sender_id=w/1"])
def test_a_bad_sender_id_is_closed_with_1008(start_client: StartClient, query: str) -> None:
    with (
        start_client() as client,
        client.websocket_connect(WS + query) as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws_receive(ws)
    assert closed.value.code == webchat.WS_POLICY_VIOLATION == 1008


def test_history_then_a_message_round_trip(start_client: StartClient, fake_rasa: FakeRasa) -> None:
    with start_client() as client, client.websocket_connect(f"{WS}?sender_id=w-1") as ws:
        history = ws_receive(ws)
        frames = exchange(ws, "  Привет!  ", client_id="c-17")
    assert history == {"type": "history", "messages": []}
    assert [frame["type"] for frame in frames] == ["typing", "message", "message", "typing"]
    assert frames[0] == {"type": "typing", "on": True}
    echo, reply = frames[1], frames[2]
    assert echo["client_id"] == "c-17"
    assert (echo["entry"]["role"], echo["entry"]["text"], echo["entry"]["lang"]) == ("customer", "Привет!", "ru")
    assert "client_id" not in reply
    assert reply["entry"]["role"] == "bot" and reply["entry"]["text"] == "echo: Привет!"
    assert reply["entry"]["buttons"] == [{"title": "Да", "payload": "/affirm"}]
    assert reply["entry"]["message_id"] == echo["entry"]["message_id"]
    [request] = fake_rasa.requests
    assert request["message"] == "Привет!" and request["metadata"]["channel"] == "webchat"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "bad_frame"),
        ('{"type": "shout", "text": "hi"}', "bad_frame"),
        ('{"text": "hi"}', "bad_frame"),
        ('{"type": "message", "text": "hi", "client_id": "' + "x" * 65 + '"}', "bad_frame"),
        ('{"type": "message", "text": "   "}', "empty_text"),
        ('{"type": "message"}', "empty_text"),
        ('{"type": "message", "text": "' + "x" * 21 + '"}', "message_too_long"),
        ('{"type": "message", "text": "' + "x" * 20_001 + '"}', "frame_too_large"),
    ],
)
def test_bad_frames_get_an_error_and_the_socket_stays_usable(
    start_client: StartClient, fake_rasa: FakeRasa, store: redis_sync.Redis, raw: str, code: str
) -> None:
    with start_client(max_message_chars=20) as client, client.websocket_connect(f"{WS}?sender_id=w-2") as ws:
        ws_receive(ws)  # history
        ws.send_text(raw)
        error = ws_receive(ws)
        ws.send_json({"type": "ping"})
        pong = ws_receive(ws)
        frames = exchange(ws, "x" * 20, client_id="after")
    assert error["type"] == "error" and error["code"] == code and error["detail"]
    assert pong == {"type": "pong"}
    assert frames[1]["client_id"] == "after" and frames[2]["entry"]["text"] == "echo: " + "x" * 20
    assert [request["message"] for request in fake_rasa.requests] == ["x" * 20]  # the bad frame never reached Rasa
    assert store.xlen(redis_keys.INBOUND_STREAM) == 1  # nor storage


def test_errors_name_the_client_id_of_the_refused_message(start_client: StartClient) -> None:
    with start_client(max_message_chars=5) as client, client.websocket_connect(f"{WS}?sender_id=w-3") as ws:
        ws_receive(ws)
        ws.send_json({"type": "message", "text": "", "client_id": "m1"})
        empty = ws_receive(ws)
        ws.send_json({"type": "message", "text": "toolong", "client_id": "m2"})
        long = ws_receive(ws)
    assert (empty["code"], empty["client_id"]) == ("empty_text", "m1")
    assert (long["code"], long["client_id"]) == ("message_too_long", "m2")
    assert long["detail"] == "text has 7 characters; the limit is 5"


def test_the_rate_limit_refuses_with_an_error_frame(start_client: StartClient, fake_rasa: FakeRasa) -> None:
    with start_client(rate_limit_per_minute=2) as client:
        # A fixed instant early in a window: the test never straddles two windows.
        client.app.state.services.limiter._clock = lambda: 60.0 * 29_000_000 + 1.0  # type: ignore[attr-defined]
        with client.websocket_connect(f"{WS}?sender_id=w-4") as ws:
            ws_receive(ws)
            exchange(ws, "один")
            exchange(ws, "два")
            ws.send_json({"type": "message", "text": "три", "client_id": "m3"})
            refused = ws_receive(ws)
            ws.send_json({"type": "ping"})
            pong = ws_receive(ws)
    assert refused["type"] == "error" and refused["code"] == "rate_limited" and refused["client_id"] == "m3"
    assert "at most 2 a minute" in refused["detail"] and "retry in 59 s" in refused["detail"]
    assert pong == {"type": "pong"}
    assert [request["message"] for request in fake_rasa.requests] == ["один", "два"]


def test_rasa_down_answers_the_delayed_text(start_client: StartClient, fake_rasa: FakeRasa) -> None:
    fake_rasa.mode = "error"
    with start_client() as client, client.websocket_connect(f"{WS}?sender_id=w-5") as ws:
        ws_receive(ws)
        frames = exchange(ws, "не работает интернет", client_id="m1")
    assert frames[1]["client_id"] == "m1" and frames[1]["entry"]["role"] == "customer"
    assert frames[2]["entry"]["role"] == "bot" and frames[2]["entry"]["text"] == texts.DELAYED_ANSWER["ru"]


def test_operator_lines_are_pushed_and_a_reconnect_gets_the_full_history(
    start_client: StartClient, fake_rasa: FakeRasa, store: redis_sync.Redis
) -> None:
    fake_rasa.intents = {"живого человека": "request_human"}
    anna = bearer(OPERATOR_TOKEN)
    with start_client() as client:
        with client.websocket_connect(f"{WS}?sender_id=w-6") as ws:
            ws_receive(ws)
            exchange(ws, "не работает интернет")
            opened = exchange(ws, "позовите живого человека")
            customer = store.get(redis_keys.identity("web:w-6"))
            handoff_id = store.get(redis_keys.conversation_handoff(customer or ""))
            assert handoff_id is not None
            assert client.post(f"{API}/handoffs/{handoff_id}/claim", headers=anna).status_code == 200
            joined = ws_receive(ws)
            reply = client.post(
                f"{API}/handoffs/{handoff_id}/reply", json={"text": "Здравствуйте, это Анна."}, headers=anna
            )
            pushed = ws_receive(ws)
            held = exchange(ws, "спасибо, жду", client_id="h1")
        with client.websocket_connect(f"{WS}?sender_id=w-6") as again:
            history = ws_receive(again)
        api_history = client.get("/api/v1/webchat/w-6/history").json()["messages"]
    notice = opened[-2]["entry"]["text"]
    # when a person answers, in the conversation's tone
    assert any(notice.startswith(variant.split("{")[0]) for variant in texts.HANDOFF_ETA.all_variants("ru"))
    assert joined == {
        "type": "message",
        "entry": {**joined["entry"], "role": "system", "text": texts.OPERATOR_JOINED["ru"].format(name="Анна")},
    }
    assert reply.status_code == 200
    assert pushed["type"] == "message"
    assert pushed["entry"] == reply.json()["entry"]
    assert (pushed["entry"]["role"], pushed["entry"]["author"]) == ("operator", "Анна")
    # While held: the customer's line comes back, the bot says nothing.
    assert [frame["type"] for frame in held] == ["typing", "message", "typing"]
    assert held[1]["client_id"] == "h1" and held[1]["entry"]["role"] == "customer"
    assert "спасибо, жду" not in [request["message"] for request in fake_rasa.requests]
    messages = history["messages"]
    assert history["type"] == "history" and messages == api_history
    assert [(m["role"], m["text"]) for m in messages if m["role"] != "bot"] == [
        ("customer", "не работает интернет"),
        ("customer", "позовите живого человека"),
        ("system", texts.OPERATOR_JOINED["ru"].format(name="Анна")),
        ("operator", "Здравствуйте, это Анна."),
        ("customer", "спасибо, жду"),
    ]
    assert messages[1] == {**messages[1], "role": "bot", "text": "echo: не работает интернет"}
    assert json.dumps(messages, ensure_ascii=False).count(notice) == 1


def test_a_binary_frame_gets_an_error_and_the_socket_stays_usable(start_client: StartClient) -> None:
    """A widget may send its JSON as a binary frame (a Blob): it must get an error frame like any other bad frame,
    not crash the handler (an unhandled KeyError: close 1011 and a traceback in the logs)."""
    with start_client() as client, client.websocket_connect(f"{WS}?sender_id=w-7") as ws:
        ws_receive(ws)
        ws.send_bytes(b'{"type": "ping"}')
        error = ws_receive(ws)
        ws.send_json({"type": "ping"})
        pong = ws_receive(ws)
    assert error["type"] == "error" and error["code"] == "bad_frame"
    assert pong == {"type": "pong"}
