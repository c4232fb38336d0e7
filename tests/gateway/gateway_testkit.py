"""Helpers shared by the gateway tests (a uniquely named module: several test folders have a conftest)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import redis as redis_sync
from fastapi import FastAPI
from redis.asyncio import Redis

from gateway.operator_auth import token_digest
from gateway.services import Services
from gateway.settings import GatewaySettings
from tests.redis_isolation import TEST_REDIS_URL
from zabota import redis_keys

# Tests use database 15 and nothing else, each test under its own key prefix (conftest.key_prefix).
RASA_TOKEN = "test-token"


def closed_port() -> int:
    """A local port nobody listens on (bound, then released), for "connection refused"."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def closed_url(scheme: str = "http", suffix: str = "") -> str:
    return f"{scheme}://127.0.0.1:{closed_port()}{suffix}"


@dataclass
class FakeRasa:
    """A tiny server speaking Rasa's REST channel webhook and /status, in a thread, on a loopback port.

    ``mode``: "echo" answers "echo: <message>" with a button; "error" answers 500; "slow" sleeps first;
    "garbage" answers a body that is not Rasa's format. ``fail_on`` makes any message containing it fail.
    """

    mode: str = "echo"
    fail_on: str | None = None
    slow_seconds: float = 1.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    # Length of the inbound stream seen at each webhook call: proves the message was stored first.
    inbound_seen: list[int] = field(default_factory=list)
    url: str = ""
    # /model/parse: the first substring found in the message decides the intent (confidence 0.95); otherwise
    # ``default_intent`` with ``default_confidence``.
    intents: dict[str, str] = field(default_factory=dict)
    default_intent: str = "internet_down"
    default_confidence: float = 0.9
    parsed: list[str] = field(default_factory=list)
    # Extra replies (e.g. a handoff marker) appended to the echo for messages containing the key.
    extra_replies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def parse_for(self, message: str) -> dict[str, Any]:
        name, confidence = self.default_intent, self.default_confidence
        for needle, intent in self.intents.items():
            if needle in message:
                name, confidence = intent, 0.95
                break
        return {
            "text": message,
            "intent": {"name": name, "confidence": confidence},
            "entities": [],
            "intent_ranking": [{"name": name, "confidence": confidence}],
        }

    def reply_for(self, message: str) -> list[dict[str, Any]]:
        extra = next((replies for needle, replies in self.extra_replies.items() if needle in message), [])
        return [
            {
                "recipient_id": "x",
                "text": f"echo: {message}",
                "buttons": [{"title": "Да", "payload": "/affirm"}],
            },
            *extra,
        ]


def _handler(fake: FakeRasa) -> type[BaseHTTPRequestHandler]:
    store = redis_sync.Redis.from_url(TEST_REDIS_URL, decode_responses=True)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            return

        def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/status":
                self._send(404, b"{}")
            elif parse_qs(parts.query).get("token") != [RASA_TOKEN]:
                self._send(401, b'{"message": "unauthorized"}')
            elif fake.mode == "error":
                self._send(500, b"{}")
            else:
                self._send(200, json.dumps({"model_file": "models/test.tar.gz"}).encode())

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            parts = urlsplit(self.path)
            if parts.path == "/model/parse":
                if parse_qs(parts.query).get("token") != [RASA_TOKEN]:
                    self._send(401, b'{"message": "unauthorized"}')
                elif fake.mode == "error" or (fake.fail_on and fake.fail_on in str(body.get("text", ""))):
                    self._send(500, b'{"error": "boom"}')
                else:
                    fake.parsed.append(str(body.get("text", "")))
                    self._send(200, json.dumps(fake.parse_for(str(body.get("text", ""))), ensure_ascii=False).encode())
                return
            if self.path != "/webhooks/rest/webhook":
                self._send(404, b"{}")
                return
            fake.inbound_seen.append(int(store.xlen(redis_keys.INBOUND_STREAM)))
            message = str(body.get("message", ""))
            if fake.mode == "error" or (fake.fail_on and fake.fail_on in message):
                self._send(500, b'{"error": "boom"}')
                return
            if fake.mode == "slow":
                time.sleep(fake.slow_seconds)
            if fake.mode == "garbage":
                self._send(200, b'{"not": "a list"}')
                return
            fake.requests.append(body)
            self._send(200, json.dumps(fake.reply_for(message), ensure_ascii=False).encode())

    return Handler


@contextmanager
def serve_fake_rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


# Operators of the tests: their tokens, and the configuration the gateway gets (SHA-256 only).
OPERATOR_TOKEN = "anna-operator-token"
LEAD_TOKEN = "lena-lead-token"
OTHER_OPERATOR_TOKEN = "boris-operator-token"
OPERATORS_JSON = json.dumps(
    [
        {"id": "anna", "name": "Анна", "role": "operator", "token_sha256": token_digest(OPERATOR_TOKEN)},
        {"id": "boris", "name": "Борис", "role": "operator", "token_sha256": token_digest(OTHER_OPERATOR_TOKEN)},
        {"id": "lena", "name": "Елена", "role": "lead", "token_sha256": token_digest(LEAD_TOKEN)},
    ]
)


# the tests' migrated system-of-record database, set by tests/gateway/conftest.py before any test runs
TEST_DATABASE_URL = ""


def make_settings(**overrides: Any) -> GatewaySettings:
    """Every field explicit, so a REDIS_URL in the developer's environment can never reach another database."""
    values: dict[str, Any] = {
        "redis_url": TEST_REDIS_URL,
        "rasa_url": closed_url(),
        "rasa_token": RASA_TOKEN,
        "rasa_timeout_seconds": 2.0,
        "max_message_chars": 4000,
        # Long: the background loop runs once at start-up; tests drive redelivery themselves.
        "redelivery_interval_seconds": 3600.0,
        "log_level": "INFO",
        "zabota_operators": OPERATORS_JSON,
        "rate_limit_per_minute": 1000,
        "database_url": TEST_DATABASE_URL,
    }
    values.update(overrides)
    return GatewaySettings(**values)


@dataclass
class AppContext:
    app: FastAPI
    client: httpx.AsyncClient

    @property
    def services(self) -> Services:
        services = self.app.state.services
        assert isinstance(services, Services)
        return services


StartApp = Callable[..., AbstractAsyncContextManager[AppContext]]


async def stream_fields(redis: Redis, key: str) -> list[dict[str, str]]:
    """The field maps of a stream's entries, oldest first (redis-py's stub allows None everywhere)."""
    rows = await redis.xrange(key) or []
    return [{str(k): str(v) for k, v in (fields or {}).items()} for _, fields in rows]


# --- Helpers of the operator, channel and WebSocket tests ----------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def wait_until_routed(redis: Redis, handoff_id: str, timeout: float = 5.0) -> None:
    """Until the app's handoff router (a background task of the lifespan) has queued ``handoff_id``."""
    import asyncio

    deadline = time.monotonic() + timeout
    while await redis.zscore(redis_keys.HANDOFF_QUEUE, handoff_id) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"handoff {handoff_id} was not routed within {timeout} s")
        await asyncio.sleep(0.02)


def wait_until(check: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Poll a synchronous ``check`` (the TestClient's app runs in its own thread meanwhile)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(0.02)


def ws_receive(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    """The next JSON frame of a TestClient WebSocket (``starlette.testclient.WebSocketTestSession``); fails after
    ``timeout`` instead of hanging the run. A close from the server raises ``WebSocketDisconnect`` with its code,
    as ``receive_json`` does."""
    import anyio

    async def receive() -> Any:
        with anyio.fail_after(timeout):
            return await ws._send_rx.receive()

    message = ws.portal.call(receive)
    ws._raise_on_close(message)
    frame = json.loads(message["text"])
    assert isinstance(frame, dict)
    return frame


@contextmanager
def sync_redis(key_prefix: str) -> Iterator[redis_sync.Redis]:
    """Database 15 for the synchronous (TestClient) tests; this test's keys are deleted before and after."""
    client = redis_sync.Redis.from_url(TEST_REDIS_URL, decode_responses=True)

    def clean() -> None:
        keys = list(client.scan_iter(match=key_prefix + "*"))
        if keys:
            client.delete(*keys)

    clean()
    try:
        yield client
    finally:
        clean()
        client.close()


def sms_settings(twilio_url: str) -> dict[str, Any]:
    """Gateway settings that send SMS through the local Twilio (tests/fakes/twilio_api.py)."""
    from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER

    return {
        "sms_api_base_url": twilio_url,
        "sms_account_sid": ACCOUNT_SID,
        "sms_auth_token": AUTH_TOKEN,
        "sms_from_number": FROM_NUMBER,
    }
