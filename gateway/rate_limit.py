"""Per-sender rate limiting: a fixed one-minute window counted in Redis (so every gateway worker shares it).

Checked before a message is stored: a refused message was not accepted, the client is told so (429 with
Retry-After) and keeps it; Telegram, for one, retries a webhook that did not answer 2xx.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from zabota import redis_keys

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
