"""Per-sender rate limiting: a fixed one-minute window counted in Redis (so every gateway worker shares it).

Checked before a message is stored: a refused message was not accepted, the client is told so (429 with
Retry-After) and keeps it; Telegram, for one, retries a webhook that did not answer 2xx.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from redis.asyncio import Redis

from gateway.errors import ApiError
from zabota import redis_keys

log = structlog.get_logger(__name__)

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    count: int
    retry_after_seconds: int


class RateLimiter:
    def __init__(self, redis: Redis, per_minute: int, *, clock: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self._limit = per_minute
        self._clock = clock

    async def hit(self, sender: str) -> RateDecision:
        """Count one message of ``sender`` ("<channel>:<id>"); refused once over the limit in this window."""
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        key = redis_keys.rate_limit(sender, window)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, WINDOW_SECONDS + 5)
            count, _ = await pipe.execute()
        retry_after = max(1, int((window + 1) * WINDOW_SECONDS - now))
        return RateDecision(int(count) <= self._limit, int(count), retry_after)

    async def enforce(self, sender: str) -> None:
        """``hit``, and a 429 ``ApiError`` (with Retry-After) when the sender is over the limit."""
        decision = await self.hit(sender)
        if not decision.allowed:
            log.warning("ratelimit.refused", channel=sender.split(":", 1)[0], count=decision.count)
            raise ApiError(
                429,
                "rate_limited",
                f"too many messages: at most {self._limit} a minute; retry in {decision.retry_after_seconds} s",
                headers={"Retry-After": str(decision.retry_after_seconds)},
            )
