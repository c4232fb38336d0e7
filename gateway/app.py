"""The gateway application: ``uvicorn gateway.app:create_app --factory``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway import health, webchat
from gateway.dispatch import Dispatcher
from gateway.errors import install_error_handlers
from gateway.inbox import Inbox, Redeliverer
from gateway.logs import configure_logging
from gateway.rasa_client import RasaClient
from gateway.services import Services
from gateway.settings import GatewaySettings

log = structlog.get_logger(__name__)


def make_redis(url: str) -> Redis:
    # Fail within about a second when Redis is down: the customer gets a 503 and retries, instead of a
    # request hanging through redis-py's default ten retries.
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=1.0,
        socket_timeout=5.0,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), retries=1),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        health_check_interval=30,
    )


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()  # type: ignore[call-arg]  # fields come from the environment
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = make_redis(settings.redis_url)
        rasa = RasaClient.from_settings(settings)
        inbox = Inbox(redis)
        app.state.services = Services(settings, redis, rasa, inbox, Dispatcher(inbox, rasa))
        redeliverer = Redeliverer(
            inbox,
            rasa,
            interval_seconds=settings.redelivery_interval_seconds,
            # Outlives the longest single Rasa call, so the lock never lapses mid-delivery.
            lock_timeout_seconds=max(30.0, 3 * settings.rasa_timeout_seconds),
        )
        stop = asyncio.Event()
        task = asyncio.create_task(redeliverer.run(stop), name="zabota-redelivery")
        log.info("gateway.started", rasa_url=settings.rasa_url)
        try:
            yield
        finally:
            stop.set()
            try:
                # A delivery cut short here is not acknowledged, so it is simply replayed after restart.
                await asyncio.wait_for(task, timeout=settings.rasa_timeout_seconds + 5)
            except TimeoutError:
                log.warning("inbox.redelivery_cancelled")
            await rasa.aclose()
            await redis.aclose()
            del app.state.services
            log.info("gateway.stopped")

    app = FastAPI(
        title="zabota gateway",
        version="0.1.0",
        description="Channel entry points of the zabota intent-triage assistant.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(webchat.router)
    return app
