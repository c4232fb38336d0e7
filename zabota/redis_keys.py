"""Every Redis key, prefix and TTL zabota uses, in one place.

Rasa's own tracker and lock stores live in a separate Redis database (endpoints.yml, ``REDIS_DB_RASA``) so
that nothing here can collide with them.
"""

from __future__ import annotations

# Root prefix of every key written by the gateway and the action server.
PREFIX = "zabota:"

# Stream of handoff records (one XADD per escalation) that the operator side consumes; fields are strings,
# the record itself is JSON in the ``record`` field. Trimmed approximately to this many entries.
HANDOFF_STREAM = PREFIX + "handoffs"
HANDOFF_STREAM_MAXLEN = 100_000

# Stream of every inbound customer message, written BEFORE it is routed anywhere, so a failing part never
# loses a message. Trimmed approximately to this many entries (an audit trail, not the source of truth for
# history: see CONVERSATION_HISTORY).
INBOUND_STREAM = PREFIX + "inbound"
INBOUND_STREAM_MAXLEN = 1_000_000

# Stream of inbound messages that could not be delivered to Rasa (Rasa down or erroring). The gateway's
# redelivery loop replays them in order and deletes each entry once Rasa has answered it.
PENDING_STREAM = PREFIX + "inbound:pending"
# Never trimmed: trimming would drop messages that were promised an answer.

# Hash conversation id -> number of its entries still in PENDING_STREAM. While a conversation has any, its new
# messages are parked behind them instead of going to Rasa directly, so Rasa sees each conversation in order.
PENDING_CONVERSATIONS = PREFIX + "inbound:pending:conversations"

# Lock (SET NX with expiry) held by the one gateway process that is replaying PENDING_STREAM, so several
# workers never send the same parked message to Rasa twice.
REDELIVERY_LOCK = PREFIX + "inbound:pending:lock"

# List (RPUSH, JSON items) of one conversation's messages, both directions, for the webchat history and for
# the replies to messages that were redelivered later. Expires this long after the last message.
CONVERSATION_HISTORY = PREFIX + "conv:{sender_id}:history"
CONVERSATION_HISTORY_TTL_SECONDS = 30 * 24 * 3600
# Only the newest entries are kept per conversation.
CONVERSATION_HISTORY_MAX_ITEMS = 500

# String: the conversation's last detected language, for messages without letters (an order number, an
# emoji), which say nothing about the language. Same lifetime as the history.
CONVERSATION_LANGUAGE = PREFIX + "conv:{sender_id}:lang"


def conversation_history(sender_id: str) -> str:
    return CONVERSATION_HISTORY.format(sender_id=sender_id)


def conversation_language(sender_id: str) -> str:
    return CONVERSATION_LANGUAGE.format(sender_id=sender_id)


# Stream of knowledge-base events: every answer shown (article, score, language) and every "did it help?"
# reply, for the leads' containment and article-quality figures. Trimmed approximately to this many entries.
KB_EVENTS_STREAM = PREFIX + "kb:events"
KB_EVENTS_STREAM_MAXLEN = 1_000_000
