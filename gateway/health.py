"""``GET /health``: is the gateway able to store messages (Redis) and answer them (Rasa)? Never raises."""

from __future__ import annotations

import asyncio
from typing import Literal

import structlog
from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import JSONResponse

from gateway.rasa_client import RasaUnavailable
from gateway.services import Services

log = structlog.get_logger(__name__)
router = APIRouter(tags=["health"])

# A probe must answer fast even when a dependency hangs; these bound each check.
REDIS_CHECK_SECONDS = 2.0
RASA_CHECK_SECONDS = 3.0

State = Literal["ok", "down"]


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    redis: State
    rasa: State
    pending: int | None = None  # messages waiting for redelivery; None when Redis is down


async def _check_redis(services: Services) -> tuple[State, int | None]:
    try:
        async with asyncio.timeout(REDIS_CHECK_SECONDS):
            await services.redis.ping()
            return "ok", await services.inbox.pending_count()
    except Exception as exc:  # a probe reports, it does not fail
        log.debug("health.redis_down", error=type(exc).__name__)
        return "down", None


async def _check_rasa(services: Services) -> State:
    timeout = min(RASA_CHECK_SECONDS, services.settings.rasa_timeout_seconds)
    try:
        await services.rasa.status(timeout_seconds=timeout)
        return "ok"
    except RasaUnavailable as exc:
        log.debug("health.rasa_down", reason=str(exc))
    except Exception as exc:
        log.debug("health.rasa_down", error=type(exc).__name__)
    return "down"


@router.get(
    "/health",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "Redis or Rasa is down"}},
    summary="Liveness of the gateway and its dependencies",
)
async def health(request: Request) -> JSONResponse:
    services = getattr(request.app.state, "services", None)
    if not isinstance(services, Services):
        body = HealthOut(status="degraded", redis="down", rasa="down")
    else:
        (redis_state, pending), rasa_state = await asyncio.gather(_check_redis(services), _check_rasa(services))
        ok = redis_state == "ok" and rasa_state == "ok"
        body = HealthOut(status="ok" if ok else "degraded", redis=redis_state, rasa=rasa_state, pending=pending)
    return JSONResponse(body.model_dump(), status_code=200 if body.status == "ok" else 503)
