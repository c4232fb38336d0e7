from __future__ import annotations

import httpx
from gateway_testkit import FakeRasa, StartApp, closed_url, make_settings

from gateway.app import create_app


async def test_healthy_when_redis_and_rasa_answer(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        response = await ctx.client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "redis": "ok", "rasa": "ok", "pending": 0}


async def test_rasa_down_is_503(start_app: StartApp) -> None:
    async with start_app(rasa_url=closed_url()) as ctx:
        response = await ctx.client.get("/health")
    assert response.status_code == 503
    assert response.json() == {"status": "degraded", "redis": "ok", "rasa": "down", "pending": 0}


async def test_rasa_with_a_wrong_token_is_down(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    async with start_app(rasa_url=fake_rasa.url, rasa_token="wrong") as ctx:
        response = await ctx.client.get("/health")
    assert (response.status_code, response.json()["rasa"]) == (503, "down")


async def test_redis_down_is_503(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    async with start_app(rasa_url=fake_rasa.url, redis_url=closed_url("redis", "/15")) as ctx:
        response = await ctx.client.get("/health")
    assert response.status_code == 503
    assert response.json() == {"status": "degraded", "redis": "down", "rasa": "ok", "pending": None}


async def test_health_answers_even_before_start_up() -> None:
    app = create_app(make_settings())  # no lifespan: nothing is connected
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test") as client:
        response = await client.get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
