"""Every Redis key, prefix and TTL zabota uses, in one place.

Rasa's own tracker and lock stores live in a separate Redis database (endpoints.yml, ``REDIS_DB_RASA``) so
that nothing here can collide with them.
"""

from __future__ import annotations

# Root prefix of every key written by the gateway and the action server.
PREFIX = "zabota:"

# Stream of opened handoffs, the operator side's intake (zabota/handoffs/store.py: HandoffStore.open appends,
# the router's consumer group reads and acknowledges). Trimmed approximately to this many entries.
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

# Stream of every event of the service (zabota/events: messages, triage decisions, articles and feedback,
# handoff states, outreach, surveys), written as they happen. The ingester (consumer group EVENTS_INGEST_GROUP)
# moves them into the system of record's events table and acknowledges each after its commit; trimmed
# approximately to this many entries, far more than the ingester ever lags behind.
EVENTS_STREAM = PREFIX + "events"
EVENTS_STREAM_MAXLEN = 2_000_000
# Consumer group of the ingester on EVENTS_STREAM. A group name, not a key: it lives inside the stream.
EVENTS_INGEST_GROUP = "records"
# An entry read by an ingester that has not acknowledged it for this long is taken over by another (its
# process stopped between reading and committing): at least once, and the table ignores a replayed id.
EVENTS_CLAIM_IDLE_MS = 60_000
# Stream of entries the ingester could not read as events: kept for a person to look at, never dropped.
EVENTS_DEAD_STREAM = PREFIX + "events:dead"
EVENTS_DEAD_STREAM_MAXLEN = 100_000


# ---------------------------------------------------------------------------------------------- customers
# String: one channel identity -> the customer id it belongs to. Channel identities are namespaced so channels'
# id spaces never collide (a webchat client chooses its own id): "web:<visitor id>", "tg:<telegram user id>",
# "tel:<E.164 phone>", "email:<address>". The customer id ("c-" + hex) is also Rasa's sender id, so the
# dialogue context follows the customer from one channel to another. Kept as long as a conversation history.
IDENTITY = PREFIX + "identity:{channel_key}"
IDENTITY_TTL_SECONDS = 365 * 24 * 3600

# Hash: a customer's profile (name, language, phone, email, telegram_chat_id, preferred channel, last channel,
# segment). Phone and email are personal data the service needs to reach the customer; never logged.
CUSTOMER_PROFILE = PREFIX + "customer:{customer_id}:profile"

# Sorted set: "<intent>|<message id>" scored by time, the customer's problem intents, for the "same problem
# three times in seven days" rule. Trimmed to the window on each write; expires after the window.
CUSTOMER_INTENTS = PREFIX + "customer:{customer_id}:intents"
CUSTOMER_INTENTS_WINDOW_SECONDS = 7 * 24 * 3600

# String (JSON): the triage's memory of a conversation between turns (gateway/conversation_state.py): the
# low-confidence streak, whether the bot's last turn asked "did this help?" after an article, consecutive
# unhelpful answers, the latest intents and what the bot tried. Same lifetime as the history.
CONVERSATION_TRIAGE = PREFIX + "conv:{sender_id}:triage"


def identity(channel_key: str) -> str:
    return IDENTITY.format(channel_key=channel_key)


def customer_profile(customer_id: str) -> str:
    return CUSTOMER_PROFILE.format(customer_id=customer_id)


def customer_intents(customer_id: str) -> str:
    return CUSTOMER_INTENTS.format(customer_id=customer_id)


def conversation_triage(sender_id: str) -> str:
    return CONVERSATION_TRIAGE.format(sender_id=sender_id)


# ---------------------------------------------------------------------------------------------- rate limits
# String counter: messages from one sender ("<channel>:<sender>") in the current fixed window (the window's
# start in the key). Expires with the window.
RATE_LIMIT = PREFIX + "ratelimit:{sender}:{window}"


def rate_limit(sender: str, window: int) -> str:
    return RATE_LIMIT.format(sender=sender, window=window)


# --- Handoffs to operators (zabota/handoffs) -------------------------------------------------------------------
# A handoff is opened by HandoffStore.open: one Lua script writes its record, points the conversation at it and
# appends it to HANDOFF_STREAM (above: the intake). The router (consumer group HANDOFF_CONSUMER_GROUP) then puts
# it in HANDOFF_QUEUE and tells the operators on OPERATOR_EVENTS. ``customer_id`` below is the customer id
# (zabota/identity.py), which is also the conversation's Rasa sender id and history key.

# String (JSON of zabota.handoffs.store.Handoff): the handoff's state, assignee, summary, notes and action log.
# Written whole under WATCH/MULTI, so every operator action is a compare-and-set on this one key. No expiry
# while active; once closed or handed back it expires after HANDOFF_CLOSED_TTL_SECONDS (it holds a transcript,
# which must not outlive its purpose; leads' figures are taken while it is kept).
HANDOFF_RECORD = PREFIX + "handoff:{handoff_id}"
HANDOFF_CLOSED_TTL_SECONDS = 90 * 24 * 3600

# Consumer group of the operator side on HANDOFF_STREAM. A group name, not a key: it lives inside the stream.
HANDOFF_CONSUMER_GROUP = "operators"

# Sorted set of the active (queued or claimed) handoff ids, scored by zabota.handoffs.sla.queue_score: ZRANGE
# gives the most urgent priority first, then the earliest due. Closing or handing back removes the id.
HANDOFF_QUEUE = PREFIX + "handoffs:queue"

# Pub/sub channel of the operators' consoles: JSON events handoff_new, handoff_updated and reminder.
OPERATOR_EVENTS = PREFIX + "operators:events"

# String: the conversation's active handoff id. Set by HandoffStore.open before the router has seen the handoff,
# so the gateway sends the customer's next messages to operators at once; deleted on close or hand-back. No
# expiry: an open handoff may wait a business day (p4), and a lapsed pointer would silently return the customer
# to the bot.
CONVERSATION_HANDOFF = PREFIX + "conv:{customer_id}:handoff"

# Pub/sub channel of one conversation: JSON handoff_status events (the handoff store), and {"type": "message",
# "entry": <history entry>} for lines that answer no request of the customer's - operator replies, status notices,
# late replies (gateway/outbound.py) - which the customer's open webchat WebSockets forward.
CONVERSATION_EVENTS = PREFIX + "conv:{customer_id}:events"


def handoff_record(handoff_id: str) -> str:
    return HANDOFF_RECORD.format(handoff_id=handoff_id)


def conversation_handoff(customer_id: str) -> str:
    return CONVERSATION_HANDOFF.format(customer_id=customer_id)


def conversation_events(customer_id: str) -> str:
    return CONVERSATION_EVENTS.format(customer_id=customer_id)


# ---------------------------------------------------------------------------------------------- telegram
# String: a Telegram update id already handled. Telegram resends an update its webhook call did not confirm in
# time; the second copy must not reach the bot twice. Telegram keeps undelivered updates for 24 hours.
TELEGRAM_UPDATE_SEEN = PREFIX + "telegram:update:{update_id}"
TELEGRAM_UPDATE_SEEN_TTL_SECONDS = 24 * 3600


def telegram_update_seen(update_id: int) -> str:
    return TELEGRAM_UPDATE_SEEN.format(update_id=update_id)


# String (SET NX): the customer was told once that their messages go to the specialist while a handoff waits
# for an operator; later messages are passed on without repeating it. Expires with a p4 handoff's SLA.
HANDOFF_WAIT_NOTICE = PREFIX + "handoff:{handoff_id}:wait_notice"
HANDOFF_WAIT_NOTICE_TTL_SECONDS = 24 * 3600


def handoff_wait_notice(handoff_id: str) -> str:
    return HANDOFF_WAIT_NOTICE.format(handoff_id=handoff_id)


# --- outreach (zabota/outreach/queue.py) ------------------------------------------------------------------------

# Sorted set outreach id -> the time to send it (epoch seconds): the schedule, kept across restarts; the sender
# claims a due entry by removing it (ZREM), so several workers never send one twice.
OUTREACH_SCHEDULE = PREFIX + "outreach:schedule"

# Sorted set outreach id -> when a sender claimed it: messages being sent. mark_sent / mark_failed take them out;
# one still here after OUTREACH_CLAIM_TIMEOUT_SECONDS belonged to a sender that stopped mid-send, and goes back to
# the schedule (a restart loses nothing).
OUTREACH_CLAIMED = PREFIX + "outreach:claimed"
OUTREACH_CLAIM_TIMEOUT_SECONDS = 300

# Hash per planned message: its plan (JSON), status (scheduled, sent, failed), attempts, times, last error.
# Kept this long after it was planned, for the status API and the contacts-prevented count.
OUTREACH_ITEM = PREFIX + "outreach:item:{outreach_id}"
OUTREACH_ITEM_TTL_SECONDS = 30 * 24 * 3600

# SET NX per dedupe key (customer | trigger | reference) holding the first outreach id: the same event again
# within the rules' dedupe_hours is a duplicate, not a second message. Its TTL comes from the rules.
OUTREACH_DEDUPE = PREFIX + "outreach:dedupe:{digest}"

# Counter of outreach messages per customer and UTC day, for the rules' max_per_customer_per_day.
OUTREACH_DAILY = PREFIX + "outreach:daily:{customer_id}:{day}"
OUTREACH_DAILY_TTL_SECONDS = 2 * 24 * 3600

# String per customer: the last outreach message they were sent (zabota/outreach/replies.py OutreachContext,
# JSON), so a reply within the window continues that conversation and answers a confirm question. The window is
# also the contacts-prevented count's: a customer who did not write in about it within 72 h was helped by it.
OUTREACH_REPLY = PREFIX + "outreach:reply:{customer_id}"
OUTREACH_REPLY_TTL_SECONDS = 72 * 3600


def outreach_item(outreach_id: str) -> str:
    return OUTREACH_ITEM.format(outreach_id=outreach_id)


def outreach_dedupe(digest: str) -> str:
    return OUTREACH_DEDUPE.format(digest=digest)


def outreach_daily(customer_id: str, day: str) -> str:
    return OUTREACH_DAILY.format(customer_id=customer_id, day=day)


def outreach_reply(customer_id: str) -> str:
    return OUTREACH_REPLY.format(customer_id=customer_id)


# --- Surveys (zabota/surveys) ------------------------------------------------------------------------------------
# String (JSON, zabota.surveys.policy.Survey): the customer's survey in progress, what was asked last. Answers are
# accepted late, so it lives as long as the answer window (SurveyConfig.answer_window_hours, 72 h by default);
# a new survey replaces it.
SURVEY = PREFIX + "survey:{customer_id}"
# String: the contact or handoff the customer was last surveyed about (throttling: one survey a conversation,
# one a customer in SurveyConfig.min_days_between, 7 days by default, which is its lifetime).
SURVEY_LAST = PREFIX + "survey:{customer_id}:last"
# String: set when the customer was asked the NPS question; while it lives (SurveyConfig.nps_every_days, 90 days
# by default) NPS is not due again.
SURVEY_NPS = PREFIX + "survey:{customer_id}:nps"


def survey(customer_id: str) -> str:
    return SURVEY.format(customer_id=customer_id)


def survey_last(customer_id: str) -> str:
    return SURVEY_LAST.format(customer_id=customer_id)


def survey_nps(customer_id: str) -> str:
    return SURVEY_NPS.format(customer_id=customer_id)
