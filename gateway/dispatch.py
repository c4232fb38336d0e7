"""What happens to one inbound message, whatever channel brought it: store, then Rasa, else park.

Channel adapters (webchat now; Telegram and voice later) call ``Dispatcher.handle`` and only translate its
``Outcome`` into their own format. Routing to an operator who holds the conversation belongs here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from redis.exceptions import RedisError

from gateway.inbox import InboundMessage, Inbox
from gateway.rasa_client import BotReply, RasaClient, RasaUnavailable
from zabota.redaction import mask_for_log

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Outcome:
    message: InboundMessage
    replies: list[BotReply]
    # False: the message is parked; its replies will reach the history after redelivery.
    delivered: bool


class Dispatcher:
    def __init__(self, inbox: Inbox, rasa: RasaClient) -> None:
        self._inbox = inbox
        self._rasa = rasa

    async def handle(self, *, channel: str, sender_id: str, text: str, metadata: Mapping[str, Any]) -> Outcome:
        """Raises ``RedisError`` when the message could not be stored (the caller must not drop it)."""
        message = await self._inbox.accept(channel=channel, sender_id=sender_id, text=text, metadata=metadata)
        if await self._inbox.has_pending(message.conversation_id):
            # Earlier messages of this conversation are still waiting: queue behind them, keep the order.
            await self._park(message, reason="conversation has parked messages")
            return Outcome(message, [], delivered=False)
        try:
            replies = await self._rasa.send(message.conversation_id, message.text, message.rasa_metadata())
        except RasaUnavailable as exc:
            log.warning("rasa.unavailable", reason=str(exc), message_id=message.message_id)
            await self._park(message, reason="rasa unavailable")
            return Outcome(message, [], delivered=False)
        try:
            await self._inbox.record_replies(message, replies, delayed=False)
        except RedisError as exc:
            # The customer still gets the replies in this response; only the stored history misses them.
            log.error("inbox.history_failed", message_id=message.message_id, error=type(exc).__name__)
        return Outcome(message, replies, delivered=True)

    async def _park(self, message: InboundMessage, *, reason: str) -> None:
        entry_id = await self._inbox.park(message)
        log.info(
            "inbox.parked",
            message_id=message.message_id,
            conversation=mask_for_log(message.conversation_id),
            entry_id=entry_id,
            reason=reason,
        )
