"""A customer's "stop writing to me": STOP, «стоп», «отписаться», "unsubscribe" as the whole message, in any
channel. It opts that channel out of messages the service starts itself (outreach); the customer's own
conversations go on. START / «подписаться» opts back in.

Only the whole message counts: «не могу отписаться от платной подписки» is a question, not a request.
"""

from __future__ import annotations

import re
from typing import Literal

from zabota.records.store import CONSENT_CHANNELS

_STOP = {"stop", "стоп", "unsubscribe", "отписаться", "отписка", "отпишите", "отпишите меня", "stop all", "стоп всё"}
_START = {"start", "старт", "subscribe", "подписаться", "unstop"}
_NOISE = re.compile(r"[^\w\s]+")

Consent = Literal["opt_out", "opt_in"]


def consent_request(text: str) -> Consent | None:
    """``opt_out`` / ``opt_in`` when the whole message is such a request, else None."""
    words = " ".join(_NOISE.sub(" ", text.casefold().replace("ё", "е")).split())
    if words in {w.replace("ё", "е") for w in _STOP}:
        return "opt_out"
    if words in _START:
        return "opt_in"
    return None


def consent_channel(channel: str) -> str:
    """The consent a message's channel stands for (the gateway's channel names are the same)."""
    return channel if channel in CONSENT_CHANNELS else "webchat"
