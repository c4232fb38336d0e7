"""The customer's survey in Redis: the one in progress, the last one (throttling) and the NPS marker."""

from __future__ import annotations

from redis.asyncio import Redis

from zabota import redis_keys
from zabota.events import Event, queue_event
from zabota.surveys.policy import Survey, SurveyConfig

_DAY = 24 * 3600


class SurveyStore:
    def __init__(self, redis: Redis, config: SurveyConfig | None = None) -> None:
        self._redis = redis
        self.config = config or SurveyConfig()

    async def in_progress(self, customer_id: str) -> Survey | None:
        raw = await self._redis.get(redis_keys.survey(customer_id))
        if raw is None:
            return None
        try:
            return Survey.from_json(raw)
        except (ValueError, TypeError):
            return None  # written by another version: the survey is not worth a failed message

    async def last_ref(self, customer_id: str) -> str | None:
        """The contact or handoff the customer was last surveyed about, within the throttle's days."""
        raw = await self._redis.get(redis_keys.survey_last(customer_id))
        return raw.decode() if isinstance(raw, bytes) else raw

    async def nps_due(self, customer_id: str) -> bool:
        return not await self._redis.exists(redis_keys.survey_nps(customer_id))

    async def start(self, customer_id: str, survey: Survey, event: Event) -> None:
        """The survey begins (its first question is being sent): kept for the answer window, the throttle set,
        and the ``survey_sent`` event, in one transaction."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(redis_keys.survey(customer_id), survey.to_json(), ex=self._answer_ttl())
            pipe.set(
                redis_keys.survey_last(customer_id),
                survey.ref,
                ex=max(1, int(self.config.min_days_between * _DAY)),
            )
            queue_event(pipe, event)
            await pipe.execute()

    async def advance(self, customer_id: str, survey: Survey | None, events: list[Event]) -> None:
        """After an answer: the survey with its next question asked, or gone when it is over; the answer's
        events; the NPS marker once NPS was asked."""
        async with self._redis.pipeline(transaction=True) as pipe:
            if survey is None:
                pipe.delete(redis_keys.survey(customer_id))
            else:
                pipe.set(redis_keys.survey(customer_id), survey.to_json(), ex=self._answer_ttl())
                if survey.asked == "nps":
                    pipe.set(redis_keys.survey_nps(customer_id), "1", ex=max(1, int(self.config.nps_every_days * _DAY)))
            for event in events:
                queue_event(pipe, event)
            await pipe.execute()

    def _answer_ttl(self) -> int:
        return max(1, int(self.config.answer_window_hours * 3600))
