"""Reading WebSocket frames from clients we do not control: the protocols here are JSON text frames; a binary
frame is a bad frame the caller answers, never an exception that kills the connection."""

from __future__ import annotations

from starlette.websockets import WebSocket, WebSocketDisconnect


async def receive_text_frame(websocket: WebSocket) -> str | None:
    """The next frame's text; None for a frame that is not text (binary). Raises ``WebSocketDisconnect`` when
    the client went away."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text = message.get("text")
    if text is not None:
        return str(text)
    return None
