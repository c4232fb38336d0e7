"""Helpers of the integration tests: talk to the gateway like a channel would, and read what it stored."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import redis

from zabota import redis_keys

T = TypeVar("T")


def say(gateway: httpx.Client, sender: str, text: str) -> dict[str, Any]:
    response = gateway.post("/api/v1/webchat/messages", json={"sender_id": sender, "text": text})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["delivered"] is True
    return body


def reply_text(body: dict[str, Any]) -> str:
    return "\n".join(r.get("text") or "" for r in body["replies"])


def customer_of(app_redis: redis.Redis, key: str) -> str:
    """The customer id behind a channel identity ("web:<visitor>", "tg:<user id>", "tel:+7...")."""
    customer = app_redis.get(redis_keys.identity(key))
    assert customer, f"no customer for {key}"
    return str(customer)


def handoff_of(app_redis: redis.Redis, customer_id: str) -> dict[str, Any]:
    """The customer's active handoff record (zabota/handoffs/store.py), as JSON."""
    handoff_id = app_redis.get(redis_keys.conversation_handoff(customer_id))
    assert handoff_id, f"{customer_id} has no active handoff"
    raw = app_redis.get(redis_keys.handoff_record(str(handoff_id)))
    assert raw, f"handoff {handoff_id} has no record"
    record: dict[str, Any] = json.loads(raw)
    return record


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def eventually(probe: Callable[[], T | None], timeout: float = 10.0, what: str = "condition") -> T:
    """Polls ``probe`` until it returns something truthy (the handoff router works in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.1)
