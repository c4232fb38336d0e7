"""The per-sender rate limiter on the real Redis, with an injected clock: a fixed one-minute window."""

from __future__ import annotations

from redis.asyncio import Redis

from gateway.rate_limit import WINDOW_SECONDS, RateDecision, RateLimiter
from zabota import redis_keys

# The start of a window, far from any real one's keys (every test has its own key prefix anyway).
WINDOW_START = 60.0 * 29_000_000


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_allowed_up_to_the_limit_then_refused(redis: Redis) -> None:
    clock = Clock(WINDOW_START + 10.0)
    limiter = RateLimiter(redis, 3, clock=clock)
    decisions = [await limiter.hit("webchat:w-1") for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.count for d in decisions] == [1, 2, 3, 4, 5]
    assert decisions[3] == RateDecision(allowed=False, count=4, retry_after_seconds=50)


async def test_a_new_window_starts_afresh(redis: Redis) -> None:
    clock = Clock(WINDOW_START + 59.0)
    limiter = RateLimiter(redis, 1, clock=clock)
    assert (await limiter.hit("sms:+79161234567")).allowed
    assert not (await limiter.hit("sms:+79161234567")).allowed
    clock.now = WINDOW_START + WINDOW_SECONDS  # the next minute
    fresh = await limiter.hit("sms:+79161234567")
    assert (fresh.allowed, fresh.count) == (True, 1)
    assert not (await limiter.hit("sms:+79161234567")).allowed


async def test_senders_are_counted_apart(redis: Redis) -> None:
    limiter = RateLimiter(redis, 1, clock=Clock(WINDOW_START))
    assert (await limiter.hit("telegram:1")).allowed
    assert (await limiter.hit("telegram:2")).allowed
    assert (await limiter.hit("webchat:1")).allowed  # the same id in another channel is another sender
    assert not (await limiter.hit("telegram:1")).allowed


async def test_retry_after_counts_down_to_the_next_window_and_is_at_least_one_second(redis: Redis) -> None:
    clock = Clock(WINDOW_START)
    limiter = RateLimiter(redis, 100, clock=clock)
    assert (await limiter.hit("w")).retry_after_seconds == 60
    clock.now = WINDOW_START + 0.4
    assert (await limiter.hit("w")).retry_after_seconds == 59  # whole seconds, rounded down
    clock.now = WINDOW_START + 59.7
    assert (await limiter.hit("w")).retry_after_seconds == 1


async def test_the_counter_expires_with_its_window(redis: Redis) -> None:
    limiter = RateLimiter(redis, 5, clock=Clock(WINDOW_START + 1.0))
    await limiter.hit("webchat:w-9")
    key = redis_keys.rate_limit("webchat:w-9", int(WINDOW_START // WINDOW_SECONDS))
    assert await redis.get(key) == "1"
    assert 0 < await redis.ttl(key) <= WINDOW_SECONDS + 5
