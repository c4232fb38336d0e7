"""The operators' console WebSocket (/api/v1/operator/ws) through Starlette's TestClient, with the app's lifespan
running (its handoff router and operator hub are what feed the socket), the real Redis and a fake Rasa."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis as redis_sync
from gateway_testkit import (
    LEAD_TOKEN,
    OPERATOR_TOKEN,
    FakeRasa,
    bearer,
    make_settings,
    wait_until,
    ws_receive,
)
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from gateway import operator_hub
from gateway.app import create_app
from gateway.texts import WITH_OPERATOR
from zabota import redis_keys

WS = "/api/v1/operator/ws"
WEBCHAT = "/api/v1/webchat/messages"
API = "/api/v1/operator"

CRISIS_TEXT = "мне очень плохо, не знаю что делать"
FRAUD_TEXT = "с моей карты списали деньги"
HUMAN_TEXT = "позовите живого человека"


@pytest.fixture
def client(fake_rasa: FakeRasa, store: redis_sync.Redis) -> Iterator[TestClient]:
    fake_rasa.intents = {"очень плохо": "crisis", "списали": "fraud_report", "живого человека": "request_human"}
    app = create_app(make_settings(rasa_url=fake_rasa.url))
    with TestClient(app) as test_client:
        yield test_client


def hub_listening(store: redis_sync.Redis) -> None:
    """Until the hub (a lifespan task) is subscribed to the operators' events: nothing published before is seen."""

    def subscribed() -> bool:
        [(_, count)] = store.pubsub_numsub(redis_keys.OPERATOR_EVENTS)
        return int(count) >= 1

    wait_until(subscribed, what="operator hub subscribed")


def authed(ws: Any, token: str = OPERATOR_TOKEN) -> list[dict[str, Any]]:
    """Send the auth frame; return the ready and queue frames."""
    ws.send_json({"type": "auth", "token": token})
    return [ws_receive(ws), ws_receive(ws)]


def customer_writes(client: TestClient, sender: str, text: str) -> dict[str, Any]:
    response = client.post(WEBCHAT, json={"sender_id": sender, "text": text})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def queue_ids(client: TestClient) -> list[str]:
    return [item["handoff_id"] for item in client.get(f"{API}/queue", headers=bearer(OPERATOR_TOKEN)).json()["items"]]


@pytest.mark.parametrize(
    "first_frame",
    [
        '{"type": "auth", "token": "not-a-token"}',
        '{"type": "auth"}',
        f'{{"type": "ping", "token": "{OPERATOR_TOKEN}"}}',  # a valid token, but not in an auth frame
        "not json at all",
        '{"token": "x"}',
        '["auth", "x"]',
    ],
)
def test_the_first_frame_must_authenticate(client: TestClient, first_frame: str) -> None:
    with client.websocket_connect(WS) as ws:
        ws.send_text(first_frame)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws_receive(ws)
    assert closed.value.code == operator_hub.WS_POLICY_VIOLATION == 1008


def test_a_token_in_the_url_is_not_enough(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # The token never goes in the URL (access logs keep URLs): a console that sends no auth frame is closed.
    monkeypatch.setattr(operator_hub, "AUTH_TIMEOUT_SECONDS", 0.2)
    with (
        client.websocket_connect(f"{WS}?token={OPERATOR_TOKEN}") as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws_receive(ws, timeout=5.0)
    assert closed.value.code == 1008


def test_ready_and_a_snapshot_of_the_queue(client: TestClient, store: redis_sync.Redis) -> None:
    customer_writes(client, "w-s1", HUMAN_TEXT)
    customer_writes(client, "w-s2", CRISIS_TEXT)
    wait_until(lambda: len(queue_ids(client)) == 2, what="both handoffs queued")
    with client.websocket_connect(WS) as ws:
        ready, queue = authed(ws, LEAD_TOKEN)
        ws.send_json({"type": "ping"})
        pong = ws_receive(ws)
    assert ready == {"type": "ready", "operator": {"id": "lena", "name": "Елена", "role": "lead"}}
    assert queue["type"] == "queue"
    assert [item["priority"] for item in queue["items"]] == ["p1", "p3"]  # the queue's order, most urgent first
    assert [item["handoff_id"] for item in queue["items"]] == queue_ids(client)
    assert queue["items"][0]["preview"] == CRISIS_TEXT
    assert pong == {"type": "pong"}


def test_new_handoffs_arrive_live_and_urgent_ones_say_so(client: TestClient, store: redis_sync.Redis) -> None:
    with client.websocket_connect(WS) as ws:
        ready, queue = authed(ws)
        assert (ready["type"], queue) == ("ready", {"type": "queue", "items": []})
        hub_listening(store)
        frames = []
        for sender, text in (("w-n1", HUMAN_TEXT), ("w-n2", FRAUD_TEXT), ("w-n3", CRISIS_TEXT)):
            customer_writes(client, sender, text)
            frames.append(ws_receive(ws))
    assert [frame["type"] for frame in frames] == ["handoff_new"] * 3
    assert [(frame["item"]["priority"], frame["urgent"]) for frame in frames] == [
        ("p3", False),
        ("p2", True),
        ("p1", True),
    ]
    crisis = frames[-1]["item"]
    assert (crisis["state"], crisis["intent"], crisis["sensitive"], crisis["preview"]) == (
        "queued",
        "crisis",
        True,
        CRISIS_TEXT,
    )
    assert crisis["handoff_id"] == queue_ids(client)[0]


def test_customer_messages_while_held_and_updates_after_a_claim(client: TestClient, store: redis_sync.Redis) -> None:
    with client.websocket_connect(WS) as anna, client.websocket_connect(WS) as lena:
        authed(anna)
        authed(lena, LEAD_TOKEN)
        hub_listening(store)
        customer_writes(client, "w-h", FRAUD_TEXT)
        new = ws_receive(anna)
        assert ws_receive(lena) == new  # every console gets every event
        handoff_id = new["item"]["handoff_id"]

        held = customer_writes(client, "w-h", "алло, есть кто-нибудь?")
        # the bot says nothing while a person holds the conversation; the customer hears once that it got there
        assert [reply["text"] for reply in held["replies"]] == [WITH_OPERATOR.say("ru", "formal")]  # sensitive
        message = ws_receive(anna)
        assert ws_receive(lena) == message

        claimed = client.post(f"{API}/handoffs/{handoff_id}/claim", headers=bearer(OPERATOR_TOKEN))
        assert claimed.status_code == 200
        updated = ws_receive(anna)
        assert ws_receive(lena) == updated

        client.post(
            f"{API}/handoffs/{handoff_id}/reply", json={"text": "Здравствуйте!"}, headers=bearer(OPERATOR_TOKEN)
        )
        replied = ws_receive(lena)
        client.post(f"{API}/handoffs/{handoff_id}/close", headers=bearer(LEAD_TOKEN))
        closed = ws_receive(lena)
    assert message["type"] == "customer_message" and message["handoff_id"] == handoff_id
    entry = message["entry"]
    assert (entry["role"], entry["text"], entry["channel"], entry["lang"]) == (
        "customer",
        "алло, есть кто-нибудь?",
        "webchat",
        "ru",
    )
    assert updated["type"] == "handoff_updated"
    assert updated["item"]["handoff_id"] == handoff_id
    assert (updated["item"]["state"], updated["item"]["assignee"], updated["item"]["assignee_name"]) == (
        "claimed",
        "anna",
        "Анна",
    )
    assert "urgent" not in updated  # only a new handoff interrupts
    assert (replied["type"], replied["item"]["state"]) == ("handoff_updated", "claimed")
    assert (closed["type"], closed["item"]["state"]) == ("handoff_updated", "closed")


def test_a_closed_console_stops_receiving_and_others_go_on(client: TestClient, store: redis_sync.Redis) -> None:
    with client.websocket_connect(WS) as lena:
        authed(lena, LEAD_TOKEN)
        with client.websocket_connect(WS) as anna:
            authed(anna)
        hub_listening(store)
        customer_writes(client, "w-g", CRISIS_TEXT)
        frame = ws_receive(lena)
    assert (frame["type"], frame["urgent"]) == ("handoff_new", True)


def test_a_binary_frame_does_not_break_the_console(client: TestClient) -> None:
    """A console that sends a binary frame after auth is not served a crash (an unhandled KeyError: close 1011 and a
    traceback in the logs); the socket stays usable."""
    with client.websocket_connect(WS) as ws:
        authed(ws)
        ws.send_bytes(b'{"type": "ping"}')
        ws.send_json({"type": "ping"})
        answer = ws_receive(ws)  # a pong: to the binary ping if the hub reads it, else to the text one
    assert answer == {"type": "pong"}
