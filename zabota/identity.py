"""One customer identity across channels.

Every channel names its sender in its own id space: the webchat widget's visitor id, a Telegram user id, the
caller's phone number, an email address. ``CustomerDirectory`` maps each such *channel key* to one customer id
(``c-`` + 16 hex), which is also Rasa's sender id and the key of the conversation history, so the context
follows the customer between channels.

Linking two channel keys to one customer merges what the service knows about them, so it is done only on
identities a channel has verified: the number a call comes from (the telephone network), the number a Telegram
user shares with the "share my contact" button (Telegram checks it is theirs), an SMS sender, the customer the
company's website signs a token for in its chat (zabota/site_identity.py: the site knows who is logged in). A
phone number or email *typed* in a chat is only stored as a contact of that customer (where to send instructions
or documents): anyone can type anyone's number, and linking on it would show a stranger that person's history.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from redis.asyncio import Redis

from zabota import redis_keys

ChannelKind = Literal["web", "tg", "tel", "email"]
PreferredChannel = Literal["sms", "telegram", "email"]

# Profile fields a channel adapter may set (the hash holds nothing else).
PROFILE_FIELDS = (
    "name",
    "segment",
    "language",
    "phone",
    "email",
    "telegram_chat_id",
    "preferred_channel",
    "last_channel",
    "webchat_id",
)


# Messages of one intent closer together than this are one occasion of the problem (see recent_intents).
EPISODE_GAP_SECONDS = 3600.0


def channel_key(kind: ChannelKind, value: str) -> str:
    """``web:w-3f2b``, ``tg:123456``, ``tel:+79161234567``, ``email:a@b.ru`` (lower-cased)."""
    if not value:
        raise ValueError("a channel identity needs a value")
    return f"{kind}:{value.lower() if kind == 'email' else value}"


def new_customer_id() -> str:
    return "c-" + secrets.token_hex(8)


@dataclass(frozen=True)
class CustomerProfile:
    customer_id: str
    name: str | None = None
    segment: str | None = None
    language: str | None = None
    phone: str | None = None
    email: str | None = None
    telegram_chat_id: int | None = None
    preferred_channel: str | None = None
    last_channel: str | None = None
    webchat_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_hash(cls, customer_id: str, raw: dict[str, str]) -> CustomerProfile:
        chat = raw.get("telegram_chat_id")
        return cls(
            customer_id=customer_id,
            name=raw.get("name") or None,
            segment=raw.get("segment") or None,
            language=raw.get("language") or None,
            phone=raw.get("phone") or None,
            email=raw.get("email") or None,
            telegram_chat_id=int(chat) if chat and chat.lstrip("-").isdigit() else None,
            preferred_channel=raw.get("preferred_channel") or None,
            last_channel=raw.get("last_channel") or None,
            webchat_id=raw.get("webchat_id") or None,
        )

    def channels(self) -> list[str]:
        """The channels the service can reach this customer in, besides an open webchat."""
        reachable = []
        if self.telegram_chat_id is not None:
            reachable.append("telegram")
        if self.phone:
            reachable.append("sms")
        if self.email:
            reachable.append("email")
        return reachable


class CustomerDirectory:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def resolve(self, key: str) -> str:
        """The customer id of a channel key, created on first sight (atomically: two first messages at once
        from one sender get the same id)."""
        redis_key = redis_keys.identity(key)
        candidate = new_customer_id()
        created = await self._redis.set(redis_key, candidate, nx=True, ex=redis_keys.IDENTITY_TTL_SECONDS)
        if created:
            return candidate
        existing = await self._redis.get(redis_key)
        if existing is None:  # expired between the two calls: try once more
            await self._redis.set(redis_key, candidate, ex=redis_keys.IDENTITY_TTL_SECONDS)
            return candidate
        await self._redis.expire(redis_key, redis_keys.IDENTITY_TTL_SECONDS)
        return existing.decode() if isinstance(existing, bytes) else str(existing)

    async def lookup(self, key: str) -> str | None:
        value = await self._redis.get(redis_keys.identity(key))
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def link_verified(self, current_customer: str, key: str) -> str:
        """A channel verified that ``key`` (a phone number) belongs to the sender known as ``current_customer``.

        If ``key`` already belongs to a customer, that customer is who this is: the id to use from now on is
        returned and the caller re-points its own channel key to it (``point``). Otherwise ``key`` is linked to
        ``current_customer``.
        """
        redis_key = redis_keys.identity(key)
        linked = await self._redis.set(redis_key, current_customer, nx=True, ex=redis_keys.IDENTITY_TTL_SECONDS)
        if linked:
            return current_customer
        return await self.resolve(key)

    async def point(self, key: str, customer_id: str) -> None:
        await self._redis.set(redis_keys.identity(key), customer_id, ex=redis_keys.IDENTITY_TTL_SECONDS)

    async def profile(self, customer_id: str) -> CustomerProfile:
        raw = await self._redis.hgetall(redis_keys.customer_profile(customer_id))
        decoded = {
            (k.decode() if isinstance(k, bytes) else str(k)): (v.decode() if isinstance(v, bytes) else str(v))
            for k, v in raw.items()
        }
        return CustomerProfile.from_hash(customer_id, decoded)

    async def update_profile(self, customer_id: str, **fields: str | int | None) -> None:
        unknown = set(fields) - set(PROFILE_FIELDS)
        if unknown:
            raise ValueError(f"unknown profile fields: {sorted(unknown)}")
        values = {name: str(value) for name, value in fields.items() if value is not None and value != ""}
        if not values:
            return
        key = redis_keys.customer_profile(customer_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=values)  # type: ignore[arg-type]  # redis-py's stub wants a broader mapping
            pipe.expire(key, redis_keys.IDENTITY_TTL_SECONDS)
            await pipe.execute()

    async def record_intent(self, customer_id: str, intent: str, message_id: str, now: float) -> None:
        """Remember a problem intent for the recurring-problem rule (the window is trimmed on each write)."""
        key = redis_keys.customer_intents(customer_id)
        window = redis_keys.CUSTOMER_INTENTS_WINDOW_SECONDS
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {f"{intent}|{message_id}": now})
            pipe.zremrangebyscore(key, "-inf", now - window)
            pipe.expire(key, window)
            await pipe.execute()

    async def recent_intents(
        self, customer_id: str, now: float, problem_of: Mapping[str, str] | None = None
    ) -> dict[str, int]:
        """intent -> on how many separate occasions in the last seven days the customer raised it; with
        ``problem_of`` (intent -> its problem's key), each problem's key too, its intents' messages together.

        Messages of one intent less than ``EPISODE_GAP_SECONDS`` apart are one occasion: a customer who repeats
        «интернет не работает» three times in a minute has one problem once, not a recurring one."""
        problem_of = problem_of or {}
        key = redis_keys.customer_intents(customer_id)
        rows = await self._redis.zrangebyscore(
            key, now - redis_keys.CUSTOMER_INTENTS_WINDOW_SECONDS, "+inf", withscores=True
        )
        last_seen: dict[str, float] = {}
        counts: dict[str, int] = {}
        for row in rows:  # oldest first; (member, score) pairs with withscores
            member, score = row[0], float(row[1])
            text = member.decode() if isinstance(member, bytes) else str(member)
            intent = text.split("|", 1)[0]
            for key in (intent, problem_of[intent]) if intent in problem_of else (intent,):
                previous = last_seen.get(key)
                if previous is None or score - previous >= EPISODE_GAP_SECONDS:
                    counts[key] = counts.get(key, 0) + 1
                last_seen[key] = score
        return counts
