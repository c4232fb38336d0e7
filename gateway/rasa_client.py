"""The one client for the Rasa server: the REST channel webhook for messages, the HTTP API for status.

Every failure (connection refused, timeout, non-2xx, a body that is not Rasa's format) becomes
``RasaUnavailable``, because callers react to all of them the same way: park the message and retry later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from gateway.settings import GatewaySettings
from zabota.triage.model import NluResult


class RasaUnavailable(Exception):
    """Rasa could not answer; the reason is safe to log (no message text, no token)."""


class Button(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    title: str
    payload: str = ""


class BotReply(BaseModel):
    """One bot message from the REST channel (``recipient_id`` is dropped: the caller knows the sender)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    text: str | None = None
    buttons: list[Button] = Field(default_factory=list)
    image: str | None = None
    # Rasa's ``json_message`` / custom payload: any JSON the domain's responses define.
    custom: Any = None


_REPLIES = TypeAdapter(list[BotReply])


def nlu_from_parse(data: Any) -> NluResult:
    """Rasa's parse result as the triage's ``NluResult``; ``RasaUnavailable`` for anything else."""
    if not isinstance(data, dict) or not isinstance(data.get("intent"), dict):
        raise RasaUnavailable("parse answered no intent")
    intent = data["intent"]
    name = intent.get("name")
    if not isinstance(name, str) or not name:
        raise RasaUnavailable("parse answered an intent without a name")
    ranking = tuple(
        (str(item["name"]), float(item.get("confidence") or 0.0))
        for item in data.get("intent_ranking") or []
        if isinstance(item, dict) and isinstance(item.get("name"), str)
    )
    entities = tuple(item for item in data.get("entities") or [] if isinstance(item, dict))
    return NluResult(intent=name, confidence=float(intent.get("confidence") or 0.0), ranking=ranking, entities=entities)


class RasaClient:
    def __init__(self, base_url: str, token: str, timeout_seconds: float) -> None:
        self._token = token
        # Creating the client does no I/O; connections open on the first request.
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_seconds)

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> RasaClient:
        return cls(settings.rasa_url, settings.rasa_token.get_secret_value(), settings.rasa_timeout_seconds)

    async def send(self, sender_id: str, text: str, metadata: Mapping[str, Any]) -> list[BotReply]:
        body = {"sender": sender_id, "message": text, "metadata": dict(metadata)}
        response = await self._request("POST", "/webhooks/rest/webhook", json=body)
        try:
            return _REPLIES.validate_json(response.content)
        except ValidationError as exc:
            raise RasaUnavailable(f"webhook answered {exc.error_count()} invalid item(s)") from exc

    async def parse(self, text: str) -> NluResult:
        """Rasa's NLU on one message, without touching any conversation (``POST /model/parse``)."""
        response = await self._request("POST", "/model/parse", params={"token": self._token}, json={"text": text})
        try:
            data = response.json()
        except ValueError as exc:
            raise RasaUnavailable("parse answered non-JSON") from exc
        return nlu_from_parse(data)

    async def append_events(self, sender_id: str, events: list[dict[str, Any]]) -> None:
        """Add events to a conversation's tracker (``POST /conversations/<id>/tracker/events``), e.g. what an
        operator said while the bot was silent, so the dialogue resumes knowing it."""
        await self._request(
            "POST", f"/conversations/{sender_id}/tracker/events", params={"token": self._token}, json=events
        )

    async def status(self, timeout_seconds: float | None = None) -> dict[str, Any]:
        """Rasa's /status (loaded model, fingerprint). A shorter timeout suits health checks."""
        timeout = timeout_seconds if timeout_seconds is not None else self._http.timeout
        response = await self._request("GET", "/status", params={"token": self._token}, timeout=timeout)
        try:
            data = response.json()
        except ValueError as exc:
            raise RasaUnavailable("status answered non-JSON") from exc
        if not isinstance(data, dict):
            raise RasaUnavailable("status answered non-object")
        return data

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise RasaUnavailable(f"{method} {path}: timeout") from exc
        except httpx.HTTPError as exc:
            # The exception text would not carry the token (it is a query parameter only on /status, and
            # httpx errors name no URL), but the class name is all a log needs.
            raise RasaUnavailable(f"{method} {path}: {type(exc).__name__}") from exc
        if not response.is_success:
            raise RasaUnavailable(f"{method} {path}: HTTP {response.status_code}")
        return response
