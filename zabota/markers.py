"""The custom payloads (Rasa ``json_message``) that the actions send the gateway alongside their replies.

They are instructions to the gateway, never shown to a customer: the gateway takes them out of the replies
(gateway/dispatch.py) before anything is stored or sent.
"""

from __future__ import annotations

# "The bot hands this conversation to a person": {"intent", "confidence", "priority", "reason", "sensitive",
# "language", "entities"}. The gateway opens the handoff (it alone knows the customer across channels).
HANDOFF = "zabota_handoff"

# "The bot answered with this article": {"article", "title", "url", "lang"}. The channel policy sends steps and
# links by SMS during a call; the summary lists what the bot tried.
KB_ARTICLE = "zabota_kb"

# The metadata key under which the gateway passes its triage to Rasa (bot/components/triage_override.py).
TRIAGE_METADATA = "zabota_triage"

# The metadata key under which the gateway passes the tone to speak in (zabota/tone): {"tone", "why", "name"}.
TONE_METADATA = "zabota_tone"

# The metadata key under which the gateway passes what it knows of the customer from verified sources
# (zabota/records/known_data.py): {"phone", "email", "account_number"}, each only when known. The bot's forms
# confirm these instead of asking (actions/language.py).
PROFILE_METADATA = "zabota_profile"

# Client-supplied metadata keys with this prefix are dropped: only the gateway speaks for zabota.
RESERVED_PREFIX = "zabota_"
