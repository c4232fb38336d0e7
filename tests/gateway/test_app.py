from __future__ import annotations

import asyncio

import gateway_testkit
import httpx
import pytest
from gateway_testkit import RASA_TOKEN, TEST_REDIS_URL, FakeRasa, StartApp, make_settings
from redis.asyncio import Redis

from gateway.app import create_app


async def test_openapi_documents_the_endpoints(start_app: StartApp) -> None:
    async with start_app() as ctx:
        docs = await ctx.client.get("/docs")
        schema = (await ctx.client.get("/openapi.json")).json()
    assert docs.status_code == 200
    assert {"/health", "/api/v1/webchat/messages", "/api/v1/webchat/{sender_id}/history"} <= set(schema["paths"])
    post = schema["paths"]["/api/v1/webchat/messages"]["post"]
    assert {"200", "202", "413", "422", "503"} <= set(post["responses"])


async def test_unknown_paths_and_methods_answer_json(start_app: StartApp) -> None:
    async with start_app() as ctx:
        missing = await ctx.client.get("/nope")
        wrong_method = await ctx.client.get("/api/v1/webchat/messages")
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    assert (wrong_method.status_code, wrong_method.json()["error"]) == (405, "method_not_allowed")


async def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", TEST_REDIS_URL)
    monkeypatch.setenv("RASA_TOKEN", RASA_TOKEN)
    monkeypatch.setenv("MAX_MESSAGE_CHARS", "3")
    monkeypatch.setenv("DATABASE_URL", gateway_testkit.TEST_DATABASE_URL)
    app = create_app()
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test") as client,
    ):
        response = await client.post("/api/v1/webchat/messages", json={"sender_id": "w-1", "text": "four"})
    assert response.status_code == 413


async def test_the_background_loop_redelivers_when_rasa_is_back(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    fake_rasa.mode = "error"
    async with start_app(rasa_url=fake_rasa.url, redelivery_interval_seconds=0.05) as ctx:
        sent = await ctx.client.post("/api/v1/webchat/messages", json={"sender_id": "w-1", "text": "hello"})
        assert sent.status_code == 202
        fake_rasa.mode = "echo"
        for _ in range(100):
            messages = (await ctx.client.get("/api/v1/webchat/w-1/history")).json()["messages"]
            if len(messages) == 2:
                break
            await asyncio.sleep(0.05)
    assert messages[1]["text"] == "echo: hello"
    assert messages[1]["delayed"] is True


async def test_lifespan_stops_the_loop_and_closes_clients(redis: Redis) -> None:
    app = create_app(make_settings())
    async with app.router.lifespan_context(app):
        assert any(t.get_name() == "zabota-redelivery" for t in asyncio.all_tasks())
    assert not any(t.get_name() == "zabota-redelivery" and not t.done() for t in asyncio.all_tasks())
    assert not hasattr(app.state, "services")
