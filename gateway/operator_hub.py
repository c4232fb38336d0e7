"""The operators' live channel: every console's WebSocket, fed from the Redis pub/sub channel
``OPERATOR_EVENTS`` (so an event raised by any gateway worker reaches every console).

Frames to the console: ``ready`` (after auth), ``queue`` (the full queue, on connect), ``handoff_new`` (with
``urgent`` for p1/p2: the console alerts at once), ``handoff_updated``, ``reminder`` (overdue), and
``customer_message`` (the customer wrote while an operator holds the conversation).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import TYPE_CHECKING, Any

import structlog
from pydantic import BaseModel, ConfigDict, ValidationError
from redis.exceptions import RedisError
from starlette.websockets import WebSocket, WebSocketDisconnect

from gateway.operator_auth import Operator
from gateway.ws_frames import receive_text_frame
from zabota import redis_keys
from zabota.handoffs.store import Handoff

if TYPE_CHECKING:
    from gateway.services import Services

log = structlog.get_logger(__name__)

# Close codes: 1008 policy violation (no or a bad token).
WS_POLICY_VIOLATION = 1008
AUTH_TIMEOUT_SECONDS = 10.0
MAX_FRAME_CHARS = 4096
PREVIEW_CHARS = 160


def handoff_item(handoff: Handoff, assignee_name: str | None) -> dict[str, Any]:
    """A queue line as the console shows it."""
    summary = handoff.summary
    # The latest key message (the one that brought the handoff), not the greeting that opened the chat.
    preview = summary.problem[-1].text if summary.problem else ""
    return {
        "handoff_id": handoff.handoff_id,
        "customer_id": handoff.customer_id,
        "state": handoff.state,
        "priority": handoff.priority,
        "due_at": handoff.due_at,
        "created_at": handoff.created_at,
        "intent": summary.intent,
        "channel": summary.channel,
        "language": summary.language,
        "reasons": [{"code": r.code, "detail": r.detail} for r in summary.reasons],
        "assignee": handoff.assignee,
        "assignee_name": assignee_name or handoff.assignee_name,
        "preview": preview[:PREVIEW_CHARS],
        "overdue": handoff.active and time.time() > handoff.due_at and handoff.first_reply_at is None,
        "sensitive": summary.sensitive,
    }


class AuthFrame(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    token: str = ""


class OperatorHub:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._sockets: dict[WebSocket, Operator] = {}
        self._locks: dict[WebSocket, asyncio.Lock] = {}

    async def serve(self, websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            raw = await asyncio.wait_for(receive_text_frame(websocket), timeout=AUTH_TIMEOUT_SECONDS)
            frame = AuthFrame.model_validate_json((raw or "")[:MAX_FRAME_CHARS])
        except (TimeoutError, ValidationError, WebSocketDisconnect):
            await self._close(websocket, 'send {"type": "auth", "token": ...} first')
            return
        operator = self._services.operators.authenticate(frame.token) if frame.type == "auth" else None
        if operator is None:
            log.warning("operator.ws_refused")
            await self._close(websocket, "invalid operator token")
            return
        self._sockets[websocket] = operator
        self._locks[websocket] = asyncio.Lock()
        log.info("operator.connected", operator_id=operator.id, consoles=len(self._sockets))
        try:
            await self._send(
                websocket,
                {"type": "ready", "operator": {"id": operator.id, "name": operator.name, "role": operator.role}},
            )
            await self._send(websocket, {"type": "queue", "items": await self._queue_items()})
            while True:
                raw = await receive_text_frame(websocket)
                # The console only pings; anything else (binary included) is ignored.
                if raw is not None and '"ping"' in raw[:100]:
                    await self._send(websocket, {"type": "pong"})
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self._sockets.pop(websocket, None)
            self._locks.pop(websocket, None)
            log.info("operator.disconnected", operator_id=operator.id)

    async def run(self, stop: asyncio.Event) -> None:
        """Forward OPERATOR_EVENTS to the consoles until ``stop``; never raises (Redis may come and go)."""
        while not stop.is_set():
            pubsub = self._services.redis.pubsub()
            try:
                await pubsub.subscribe(redis_keys.OPERATOR_EVENTS)
                while not stop.is_set():
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        await self._on_event(message.get("data"))
            except RedisError as exc:
                log.warning("operator.hub_redis_error", error=type(exc).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=2.0)
            except Exception:
                log.exception("operator.hub_failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=2.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped

    async def _on_event(self, data: Any) -> None:
        if not self._sockets:
            return
        try:
            event = json.loads(data)
        except (TypeError, ValueError):
            return
        if not isinstance(event, dict):
            return
        kind = event.get("type")
        if kind == "customer_message":
            await self._broadcast(event)
            return
        if kind not in ("handoff_new", "handoff_updated", "reminder"):
            return
        handoff = await self._services.desk.store.get(str(event.get("handoff_id")))
        if handoff is None:
            return
        item = handoff_item(handoff, self._services.operators.name_of(handoff.assignee) if handoff.assignee else None)
        frame: dict[str, Any] = {"type": kind, "item": item}
        if kind == "handoff_new":
            frame["urgent"] = handoff.urgent
            if handoff.urgent:
                log.info(
                    "operator.urgent_notified",
                    handoff_id=handoff.handoff_id,
                    priority=handoff.priority,
                    consoles=len(self._sockets),
                )
        await self._broadcast(frame)

    async def _queue_items(self) -> list[dict[str, Any]]:
        handoffs = await self._services.desk.store.queue(200)
        return [handoff_item(h, self._services.operators.name_of(h.assignee) if h.assignee else None) for h in handoffs]

    async def _broadcast(self, frame: dict[str, Any]) -> None:
        for websocket in list(self._sockets):
            try:
                await self._send(websocket, frame)
            except Exception:
                # A console that went away between the event and the send; its own loop cleans up.
                self._sockets.pop(websocket, None)

    async def _send(self, websocket: WebSocket, frame: dict[str, Any]) -> None:
        lock = self._locks.get(websocket)
        if lock is None:
            return
        async with lock:
            await websocket.send_text(json.dumps(frame, ensure_ascii=False))

    @staticmethod
    async def _close(websocket: WebSocket, reason: str) -> None:
        with contextlib.suppress(Exception):
            await websocket.close(WS_POLICY_VIOLATION, reason)
