"""Action-server settings from the environment, and the process-wide Redis client.

Nothing here does I/O at import: the client is created on first use, and connects on its first command.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from redis.asyncio import Redis

from kb_index.embedders import create_embedder
from kb_index.live import LiveRetriever
from kb_index.settings import KbSettings

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# An escalation must not hang until Rasa's action timeout when Redis is unreachable.
REDIS_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class ActionSettings:
    redis_url: str = DEFAULT_REDIS_URL

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ActionSettings:
        env = os.environ if environ is None else environ
        return cls(redis_url=env.get("REDIS_URL") or DEFAULT_REDIS_URL)


_redis: Redis | None = None


def get_redis() -> Redis:
    """The action server's Redis client, created from ``ActionSettings.from_env()`` on first use."""
    global _redis
    if _redis is None:
        _redis = Redis.from_url(
            ActionSettings.from_env().redis_url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
    return _redis


async def close_redis() -> None:
    """Close the client; the next ``get_redis()`` creates a new one from the environment of that moment."""
    global _redis
    client, _redis = _redis, None
    if client is not None:
        await client.aclose()


_kb: LiveRetriever | None = None


def get_kb() -> LiveRetriever:
    """The action server's knowledge base, from ``KbSettings.from_env()`` on first use. The index is loaded by
    the first search and swapped in place when a new build is activated (``make kb-build``)."""
    global _kb
    if _kb is None:
        settings = KbSettings.from_env()
        _kb = LiveRetriever(settings.index_dir, create_embedder(settings.embedder), settings.search)
    return _kb
