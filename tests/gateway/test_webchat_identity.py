"""A logged-in customer of the company's website is recognised in the website chat: the site signs their
external_id (zabota/site_identity.py), the widget passes the token, and the visitor id is linked to the customer
the records hold. Over real HTTP and the WebSocket, the real Redis and the real records database."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import redis as redis_sync
from gateway_testkit import LEAD_TOKEN, FakeRasa, StartApp, bearer, make_settings, ws_receive
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy.exc import OperationalError
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from structlog.testing import capture_logs

from gateway import webchat
from gateway.app import create_app
from gateway.errors import ApiError
from gateway.logs import QueryTokenFilter
from gateway.recognition import customer_for_site_identity
from zabota import redis_keys
from zabota.identity import channel_key
from zabota.records import CustomerData
from zabota.site_identity import sign

pytestmark = pytest.mark.usefixtures("empty_records")

URL = "/api/v1/webchat/messages"
WS = "/api/v1/webchat/ws"
SECRET = "site-identity-secret-for-the-tests-0123456789"
ANNA = {"external_id": "crm-1001", "name": "Анна Петрова", "phones": ["8 916 123 45 67"]}
BORIS = {"external_id": "crm-2002", "name": "Борис"}


def token(external_id: str = "crm-1001", **kwargs: Any) -> str:
    return sign(external_id, SECRET, **kwargs)


async def load(ctx: Any, profile: dict[str, Any]) -> str:
    """A customer loaded the way the company loads them: the customers API, a lead's token."""
    response = await ctx.client.post("/api/v1/customers", json=profile, headers=bearer(LEAD_TOKEN))
    assert response.status_code == 201, response.text
    customer_id: str = response.json()["customer_id"]
    return customer_id


async def test_a_signed_customer_writes_as_their_record(start_app: StartApp, fake_rasa: FakeRasa, redis: Redis) -> None:
    async with start_app(rasa_url=fake_rasa.url, webchat_identity_secret=SECRET) as ctx:
        customer_id = await load(ctx, ANNA)
        with capture_logs() as logs:
            response = await ctx.client.post(
                URL, json={"sender_id": "w-anna", "text": "не работает интернет", "identity": token()}
            )
        history = await ctx.client.get("/api/v1/webchat/w-anna/history")
        contacts = await ctx.services.records.recent_contacts(customer_id)
    assert response.status_code == 200, response.text
    assert await redis.get(redis_keys.identity("web:w-anna")) == customer_id
    # Rasa's sender, the history's key and the contact history are the record's customer
    assert fake_rasa.requests[0]["sender"] == customer_id
    assert [m["text"] for m in history.json()["messages"]][:1] == ["не работает интернет"]
    assert [c.channel for c in contacts] == ["webchat"]
    [recognised] = [e for e in logs if e["event"] == "identity.webchat_recognised"]
    assert recognised["replaced"] is False
    assert SECRET not in repr(logs)


async def test_an_anonymous_visitor_who_logs_in_and_a_second_login_are_repointed(
    start_app: StartApp, fake_rasa: FakeRasa, redis: Redis
) -> None:
    async with start_app(rasa_url=fake_rasa.url, webchat_identity_secret=SECRET) as ctx:
        anna = await load(ctx, ANNA)
        boris = await load(ctx, BORIS)
        anonymous = await ctx.client.post(URL, json={"sender_id": "w-shared", "text": "привет"})
        before = await redis.get(redis_keys.identity("web:w-shared"))
        as_anna = await ctx.client.post(URL, json={"sender_id": "w-shared", "text": "я Анна", "identity": token()})
        after_anna = await redis.get(redis_keys.identity("web:w-shared"))
        # the same browser, someone else logged in: the site knows who it is now
        as_boris = await ctx.client.post(
            URL, json={"sender_id": "w-shared", "text": "я Борис", "identity": token("crm-2002")}
        )
        after_boris = await redis.get(redis_keys.identity("web:w-shared"))
        history = (await ctx.client.get("/api/v1/webchat/w-shared/history")).json()["messages"]
    assert [r.status_code for r in (anonymous, as_anna, as_boris)] == [200, 200, 200]
    assert before not in (None, anna, boris)
    assert (after_anna, after_boris) == (anna, boris)
    # Boris sees his conversation only, not Anna's nor the anonymous one
    assert [m["text"] for m in history if m["role"] == "customer"] == ["я Борис"]


@pytest.mark.parametrize(
    ("identity", "status", "error"),
    [
        (sign("crm-1001", "another-secret-of-another-site-0123456789"), 401, "identity_invalid"),
        (token()[:-1] + ("0" if token()[-1] != "0" else "1"), 401, "identity_invalid"),
        ("v1.crm-1001.soon", 401, "identity_invalid"),
        (token(ttl_seconds=60, now=1_000_000_000), 401, "identity_expired"),
        (token("crm-9999"), 404, "unknown_customer"),
    ],
)
async def test_a_token_that_cannot_be_used_is_refused_and_nothing_is_written(
    start_app: StartApp, fake_rasa: FakeRasa, redis: Redis, identity: str, status: int, error: str
) -> None:
    async with start_app(rasa_url=fake_rasa.url, webchat_identity_secret=SECRET) as ctx:
        await load(ctx, ANNA)
        response = await ctx.client.post(URL, json={"sender_id": "w-1", "text": "привет", "identity": identity})
    assert (response.status_code, response.json()["error"]) == (status, error)
    assert await redis.get(redis_keys.identity("web:w-1")) is None
    assert await redis.xlen(redis_keys.INBOUND_STREAM) == 0
    assert fake_rasa.requests == []


async def test_a_refused_token_leaves_an_earlier_link_as_it_was(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    async with start_app(rasa_url=fake_rasa.url, webchat_identity_secret=SECRET) as ctx:
        anna = await load(ctx, ANNA)
        await ctx.client.post(URL, json={"sender_id": "w-1", "text": "привет", "identity": token()})
        forged = await ctx.client.post(
            URL, json={"sender_id": "w-1", "text": "привет", "identity": f"v1.crm-2002.{2**31}.{'a' * 64}"}
        )
        linked = await ctx.services.customers.lookup(channel_key("web", "w-1"))
    assert forged.status_code == 401
    assert linked == anna


async def test_without_a_secret_a_token_is_refused_not_ignored(start_app: StartApp, redis: Redis) -> None:
    async with start_app() as ctx:
        response = await ctx.client.post(URL, json={"sender_id": "w-1", "text": "привет", "identity": token()})
    assert (response.status_code, response.json()["error"]) == (400, "identity_not_configured")
    assert "WEBCHAT_IDENTITY_SECRET" in response.json()["detail"]
    assert await redis.get(redis_keys.identity("web:w-1")) is None


async def test_an_empty_identity_is_an_anonymous_visitor(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        response = await ctx.client.post(URL, json={"sender_id": "w-1", "text": "привет", "identity": ""})
    assert response.status_code == 200


async def test_the_records_unavailable_is_a_503_and_the_message_is_not_taken(
    start_app: StartApp, fake_rasa: FakeRasa, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(external_id: str) -> None:
        raise OperationalError("SELECT", {}, ConnectionRefusedError())

    async with start_app(rasa_url=fake_rasa.url, webchat_identity_secret=SECRET) as ctx:
        anna = await load(ctx, ANNA)
        await ctx.services.customers.point(channel_key("web", "w-1"), "c-00000000000000bb")  # someone else before
        monkeypatch.setattr(ctx.services.records, "by_external_id", down)
        response = await ctx.client.post(URL, json={"sender_id": "w-1", "text": "привет", "identity": token()})
    assert (response.status_code, response.json()["error"]) == (503, "records_unavailable")
    assert response.headers["Retry-After"]
    # not delivered into the conversation the visitor id pointed at: it may be another person's
    assert await redis.get(redis_keys.identity("web:w-1")) == "c-00000000000000bb" != anna
    assert await redis.xlen(redis_keys.INBOUND_STREAM) == 0


async def test_the_recognition_function_on_its_own(start_app: StartApp) -> None:
    async with start_app() as ctx:
        s = ctx.services
        record, _ = await s.records.upsert_customer(CustomerData(external_id="crm-5"))
        found = await customer_for_site_identity(s.customers, s.records, "w-5", token("crm-5"), SecretStr(SECRET))
        with pytest.raises(ApiError) as not_configured:
            await customer_for_site_identity(s.customers, s.records, "w-6", token("crm-5"), None)
        assert await s.customers.lookup(channel_key("web", "w-5")) == record.customer_id
        assert await s.customers.lookup(channel_key("web", "w-6")) is None
    assert found == record.customer_id
    assert not_configured.value.status_code == 400


def test_the_openapi_document_describes_the_token() -> None:
    schema = create_app(make_settings()).openapi()
    field = schema["components"]["schemas"]["WebchatMessageIn"]["properties"]["identity"]
    assert "HMAC-SHA256" in field["description"] and "external_id" in field["description"]
    assert {"400", "401", "404"} <= set(schema["paths"][URL]["post"]["responses"])


def test_a_token_in_a_logged_url_is_masked() -> None:
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s" [accepted]', None, None)
    record.args = ("127.0.0.1:5", f"/api/v1/webchat/ws?sender_id=w-1&identity={token()}")
    QueryTokenFilter().filter(record)
    assert record.getMessage().endswith('ws?sender_id=w-1&identity=***" [accepted]')


# ---------------------------------------------------------------------------------------------- WebSocket


@pytest.fixture
def client(fake_rasa: FakeRasa, store: redis_sync.Redis) -> Iterator[TestClient]:
    app = create_app(make_settings(rasa_url=fake_rasa.url, webchat_identity_secret=SECRET))
    with TestClient(app) as test_client:
        yield test_client


def test_the_socket_takes_the_token_on_connect(
    client: TestClient, store: redis_sync.Redis, fake_rasa: FakeRasa
) -> None:
    created = client.post("/api/v1/customers", json=ANNA, headers=bearer(LEAD_TOKEN))
    customer_id = created.json()["customer_id"]
    with client.websocket_connect(f"{WS}?sender_id=w-ws&identity={token()}") as ws:
        assert ws_receive(ws) == {"type": "history", "messages": []}
        ws.send_json({"type": "message", "text": "не работает интернет"})
        echo = ws_receive(ws)
        while echo["type"] != "message":
            echo = ws_receive(ws)
    assert store.get(redis_keys.identity("web:w-ws")) == customer_id
    assert fake_rasa.requests[0]["sender"] == customer_id


@pytest.mark.parametrize(
    ("identity", "error"),
    [(f"v1.crm-1001.{2**31}.{'a' * 64}", "identity_invalid"), (token("crm-9999"), "unknown_customer")],
)
def test_the_socket_refuses_a_bad_token_with_its_reason(
    client: TestClient, store: redis_sync.Redis, identity: str, error: str
) -> None:
    with client.websocket_connect(f"{WS}?sender_id=w-ws&identity={identity}") as ws:
        frame = ws_receive(ws)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws_receive(ws)
    assert (frame["type"], frame["code"]) == ("error", error)
    assert (closed.value.code, closed.value.reason) == (webchat.WS_POLICY_VIOLATION, error)
    assert store.get(redis_keys.identity("web:w-ws")) is None
