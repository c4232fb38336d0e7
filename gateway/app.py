"""The gateway application: ``uvicorn gateway.app:create_app --factory``."""

from __future__ import annotations

import asyncio
import functools
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway import (
    analytics_api,
    customers_api,
    health,
    operators,
    outreach,
    pages,
    sms_webhook,
    telegram_webhook,
    triage_api,
    voice,
    webchat,
)
from gateway.channels.email import SmtpEmail
from gateway.channels.sms import TwilioSms
from gateway.channels.telegram import TelegramBotApi
from gateway.conversation_state import ConversationStateStore
from gateway.dispatch import Dispatcher
from gateway.errors import install_error_handlers
from gateway.handoff_desk import HandoffDesk
from gateway.inbox import Inbox, Redeliverer
from gateway.logs import configure_logging
from gateway.operator_auth import OperatorDirectory
from gateway.operator_hub import OperatorHub
from gateway.outbound import CustomerChannels, deliver_late_replies
from gateway.outreach import OutreachSender
from gateway.rasa_client import RasaClient
from gateway.rate_limit import RateLimiter
from gateway.reply_routing import ReplyRouter
from gateway.services import Services
from gateway.settings import GatewaySettings
from gateway.surveys import SurveyDesk
from gateway.triage import TriageEngine
from kb_index.embedders import create_embedder
from kb_index.live import LiveRetriever
from kb_index.settings import KbSettings
from zabota.catalog import load_catalog
from zabota.channels.policy import ChannelPolicyConfig
from zabota.events import EventLog
from zabota.events.ingest import EventIngester
from zabota.events.store import EventStore
from zabota.handoffs.sla import SlaPolicy
from zabota.handoffs.store import HandoffRouter, HandoffStore
from zabota.identity import CustomerDirectory
from zabota.outreach.planning import load_outreach_rules
from zabota.outreach.queue import OutreachQueue
from zabota.records import CustomerRecords, RecordsSettings
from zabota.records import create_engine as create_records_engine
from zabota.records.migrate import ensure_migrated
from zabota.surveys.store import SurveyStore
from zabota.tone import load_tone_rules
from zabota.triage import SignalDetector, TriageConfig, TriagePolicy

log = structlog.get_logger(__name__)


def make_redis(url: str, *, socket_timeout: float | None = 5.0) -> Redis:
    # Fail within about a second when Redis is down: the customer gets a 503 and retries, instead of a
    # request hanging through redis-py's default ten retries.
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=1.0,
        socket_timeout=socket_timeout,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), retries=1),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        health_check_interval=30,
    )


@functools.lru_cache(maxsize=1)
def shared_signal_detector() -> SignalDetector:
    """One per process: its spaCy pipelines take seconds to load, and every app instance (tests make many) can
    share them (the detector is thread-safe)."""
    return SignalDetector()


def build_services(settings: GatewaySettings, redis: Redis) -> Services:
    """Every long-lived object of the process, from settings; nothing here does I/O."""
    catalog = load_catalog()
    rasa = RasaClient.from_settings(settings)
    inbox = Inbox(redis)
    customers = CustomerDirectory(redis)
    operators = OperatorDirectory.from_json(settings.zabota_operators)
    channel_policy = ChannelPolicyConfig.from_env()
    sla = SlaPolicy.from_env()
    kb_settings = KbSettings.from_env()
    kb = LiveRetriever(kb_settings.index_dir, create_embedder(kb_settings.embedder), kb_settings.search)
    detector = shared_signal_detector()
    # The cues let TRIAGE_SENSITIVE_MIN_CONFIDENCE (off by default) confirm doubtful sensitive intents.
    policy = TriagePolicy(catalog, TriageConfig.from_env(), cues=detector.intent_cues, vetoes=detector.intent_vetoes)
    engine = TriageEngine(rasa, detector, policy, catalog, kb, channel_policy)
    channels = CustomerChannels(
        redis,
        inbox,
        customers,
        telegram=TelegramBotApi.from_settings(settings) if settings.telegram_bot_token else None,
        sms=TwilioSms.from_settings(settings) if settings.sms_account_sid and settings.sms_auth_token else None,
        email=SmtpEmail.from_settings(settings) if settings.smtp_host else None,
    )
    records_settings = RecordsSettings.from_env({"DATABASE_URL": settings.database_url})
    records = CustomerRecords(create_records_engine(records_settings))
    surveys = SurveyDesk(SurveyStore(redis))
    desk = HandoffDesk(
        redis,
        rasa,
        HandoffStore(redis, sla),
        inbox,
        customers,
        channels,
        sla,
        catalog,
        channel_policy,
        timezone=settings.timezone,
        care_phone=settings.care_phone,
        records=records,
        surveys=surveys,
    )
    outreach = OutreachQueue(redis, load_outreach_rules())
    dispatcher = Dispatcher(
        inbox,
        rasa,
        engine,
        ConversationStateStore(redis),
        customers,
        desk,
        catalog,
        records,
        tone_rules=load_tone_rules(),
        project=settings.zabota_project or None,
        outreach=outreach,
        events=EventLog(redis),
        surveys=surveys,
    )
    return Services(
        settings=settings,
        redis=redis,
        rasa=rasa,
        inbox=inbox,
        dispatcher=dispatcher,
        customers=customers,
        limiter=RateLimiter(redis, settings.rate_limit_per_minute),
        engine=engine,
        desk=desk,
        channels=channels,
        operators=operators,
        replies=ReplyRouter(channels, customers, inbox, catalog, channel_policy, records),
        records=records,
        records_settings=records_settings,
        outreach=outreach,
    )


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()  # type: ignore[call-arg]  # fields come from the environment
    configure_logging(settings.log_level)
    # Refuse to start with a broken operator list or tone rules, before anything listens.
    OperatorDirectory.from_json(settings.zabota_operators)
    load_tone_rules()
    load_outreach_rules()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # refuse to start on a database without the newest schema (make db-upgrade), not fail mid-request
        await asyncio.to_thread(ensure_migrated, RecordsSettings.from_env({"DATABASE_URL": settings.database_url}))
        redis = make_redis(settings.redis_url)
        # Blocking stream reads wait longer than the request client's socket timeout allows.
        router_redis = make_redis(settings.redis_url, socket_timeout=None)
        services = build_services(settings, redis)
        app.state.services = services
        redeliverer = Redeliverer(
            services.inbox,
            services.rasa,
            interval_seconds=settings.redelivery_interval_seconds,
            # Outlives the longest single Rasa call, so the lock never lapses mid-delivery.
            lock_timeout_seconds=max(30.0, 3 * settings.rasa_timeout_seconds),
            process=services.dispatcher.redeliver,
            on_delivered=lambda message, replies: deliver_late_replies(services, message, replies),
        )
        router = HandoffRouter(HandoffStore(router_redis, services.desk.store.sla), f"gateway-{socket.gethostname()}")
        hub = OperatorHub(services)
        stop = asyncio.Event()
        await services.engine.warm_up()
        tasks = [
            asyncio.create_task(redeliverer.run(stop), name="zabota-redelivery"),
            asyncio.create_task(router.run(stop), name="zabota-handoff-router"),
            asyncio.create_task(hub.run(stop), name="zabota-operator-hub"),
            asyncio.create_task(
                OutreachSender(services, settings.outreach_interval_seconds).run(stop), name="zabota-outreach"
            ),
        ]
        if settings.events_ingest:
            ingester = EventIngester(
                redis,
                EventStore(services.records.engine),
                # unique per process; a restarted one's unacknowledged entries are taken over after the idle time
                consumer=f"gateway-{socket.gethostname()}-{os.getpid()}",
                batch_size=settings.events_ingest_batch_size,
                # short: the gateway's shutdown waits for the read in progress (and an idle stream costs four
                # cheap reads a second); well under the client's 5 s socket timeout
                block_ms=250,
            )
            tasks.append(asyncio.create_task(ingester.run(stop), name="zabota-events-ingest"))
        app.state.operator_hub = hub
        log.info("gateway.started", rasa_url=settings.rasa_url, operators=len(services.operators))
        try:
            yield
        finally:
            stop.set()
            try:
                # A delivery cut short here is not acknowledged, so it is simply replayed after restart.
                await asyncio.wait_for(asyncio.gather(*tasks), timeout=settings.rasa_timeout_seconds + 5)
            except TimeoutError:
                log.warning("gateway.background_tasks_cancelled")
            await services.rasa.aclose()
            await services.channels.aclose()
            await redis.aclose()
            await router_redis.aclose()
            await services.records.engine.dispose()
            del app.state.services
            log.info("gateway.stopped")

    app = FastAPI(
        title="zabota gateway",
        version="0.2.0",
        description="Channel entry points, triage and operator API of the zabota intent-triage assistant.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(webchat.router)
    app.include_router(webchat.ws_router)
    app.include_router(triage_api.router)
    app.include_router(telegram_webhook.router)
    app.include_router(voice.router)
    app.include_router(sms_webhook.router)
    app.include_router(operators.router)
    app.include_router(customers_api.router)
    app.include_router(outreach.router)
    app.include_router(analytics_api.router)
    app.include_router(pages.router)
    # The console's script and styles (the pages themselves come from gateway/pages.py, with their headers).
    app.mount("/static", StaticFiles(directory=pages.STATIC), name="static")
    return app
