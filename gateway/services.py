"""The long-lived objects one gateway process shares between requests, built in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from redis.asyncio import Redis

from gateway.dispatch import Dispatcher
from gateway.handoff_desk import HandoffDesk
from gateway.inbox import Inbox
from gateway.operator_auth import OperatorDirectory
from gateway.outbound import CustomerChannels
from gateway.rasa_client import RasaClient
from gateway.rate_limit import RateLimiter
from gateway.reply_routing import ReplyRouter
from gateway.settings import GatewaySettings
from gateway.triage import TriageEngine
from zabota.identity import CustomerDirectory
from zabota.outreach.queue import OutreachQueue
from zabota.records import CustomerRecords, RecordsSettings


@dataclass(frozen=True)
class Services:
    settings: GatewaySettings
    redis: Redis
    rasa: RasaClient
    inbox: Inbox
    dispatcher: Dispatcher
    customers: CustomerDirectory
    limiter: RateLimiter
    engine: TriageEngine
    desk: HandoffDesk
    channels: CustomerChannels
    operators: OperatorDirectory
    replies: ReplyRouter
    # the system of record: profiles and contact history (zabota/records)
    records: CustomerRecords
    records_settings: RecordsSettings
    # proactive messages waiting for their time (zabota/outreach)
    outreach: OutreachQueue


def get_services(request: Request) -> Services:
    """FastAPI dependency. Raises (and so answers a logged 500) only if the lifespan never ran."""
    services = getattr(request.app.state, "services", None)
    if not isinstance(services, Services):
        raise RuntimeError("gateway services are not started: the app's lifespan did not run")
    return services
