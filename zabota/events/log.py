"""Writing events: to the Redis stream ``redis_keys.EVENTS_STREAM``, in the same pipeline (transaction) as the
change they tell of where there is one, so an event is written exactly when its change is."""

from __future__ import annotations

from collections.abc import Iterable

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from zabota import redis_keys
from zabota.events.model import Event


def queue_event(pipe: Pipeline, event: Event) -> None:
    """Adds ``event`` to the stream within ``pipe`` (the caller executes it)."""
    pipe.xadd(
        redis_keys.EVENTS_STREAM,
        event.to_fields(),  # type: ignore[arg-type]  # redis-py's stub wants a broader mapping type
        maxlen=redis_keys.EVENTS_STREAM_MAXLEN,
        approximate=True,
    )


class EventLog:
    """Emits events that go with no other Redis write of their own. Raises ``RedisError`` like any write."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def emit(self, *events: Event) -> None:
        await self.emit_all(events)

    async def emit_all(self, events: Iterable[Event]) -> None:
        batch = list(events)
        if not batch:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for event in batch:
                queue_event(pipe, event)
            await pipe.execute()
