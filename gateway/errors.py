"""One JSON error shape for every failure, ``{"error": <code>, "detail": <reason>}``; never a bare 500.

Validation errors drop pydantic's ``input`` (it would echo customer text back and into logs), and unexpected
exceptions are logged with a traceback but answered without their message (it may hold personal data).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zabota.redaction import mask_for_log

log = structlog.get_logger(__name__)

# Seconds a client should wait before retrying after a 503 (Redis usually comes back within seconds).
RETRY_AFTER_SECONDS = 5


class FieldError(BaseModel):
    field: str
    message: str
    type: str


class ErrorBody(BaseModel):
    error: str
    detail: str
    fields: list[FieldError] | None = None


class ApiError(Exception):
    """Raised by routes for a refusal they can explain; becomes ``ErrorBody`` with ``status_code``."""

    def __init__(self, status_code: int, error: str, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.error = error
        self.detail = detail
        self.headers = dict(headers or {})


def error_response(status_code: int, body: ErrorBody, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status_code, headers=headers)


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("body", "text") -> "text": every field of this API lives in one place (body, path or query).
    parts = [str(p) for p in loc]
    return ".".join(parts[1:] if len(parts) > 1 else parts)


async def _on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, ErrorBody(error=exc.error, detail=exc.detail), exc.headers)


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    fields: list[FieldError] = []
    for err in exc.errors():
        kind = str(err.get("type", "invalid"))
        message = "request body is not valid JSON" if kind == "json_invalid" else str(err.get("msg", "invalid"))
        fields.append(FieldError(field=_field_name(err.get("loc", ())), message=message, type=kind))
    detail = "; ".join(f"{f.field}: {f.message}" for f in fields) or "invalid request"
    return error_response(422, ErrorBody(error="invalid_request", detail=detail, fields=fields))


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    # 404 for an unknown path, 405 for a wrong method, ... in the same shape as every other error.
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(exc.status_code, ErrorBody(error=code, detail=str(exc.detail)), exc.headers)


async def _on_redis_error(request: Request, exc: Exception) -> Response:
    log.error("gateway.storage_unavailable", path=mask_for_log(request.url.path), error=type(exc).__name__)
    body = ErrorBody(
        error="storage_unavailable",
        detail="Message storage is unavailable: the request was not processed and a message in it was not accepted. "
        "Keep the message and retry later.",
    )
    return error_response(503, body, {"Retry-After": str(RETRY_AFTER_SECONDS)})


class UnhandledErrorMiddleware:
    """Turns any exception no handler took into a logged 500 JSON answer.

    A plain ASGI middleware rather than ``exception_handler(Exception)``: Starlette re-raises after running
    that handler, so the server would log the error a second time as an unstructured traceback.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self._app(scope, receive, tracking_send)
        except Exception as exc:
            error_id = uuid.uuid4().hex
            log.exception(
                "gateway.internal_error",
                error_id=error_id,
                error=type(exc).__name__,
                method=scope.get("method"),
                path=mask_for_log(str(scope.get("path", ""))),
            )
            if started:
                raise  # half a response is out; only the server can close the connection now
            body = ErrorBody(error="internal_error", detail=f"Unexpected gateway error (logged as {error_id}).")
            await error_response(500, body)(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RedisError, _on_redis_error)
    app.add_middleware(UnhandledErrorMiddleware)
