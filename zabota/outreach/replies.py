"""A customer's reply to an outreach message (plain): what was sent is remembered for the reply window, so the
reply continues that conversation; a security check (``follow_up: confirm``) reads a yes or a no.

The first message after a confirm question answers it or not: a yes settles it, a no opens a p1 handoff (the
dispatcher's), anything else goes to the bot as usual and the question is not asked again - a "да" an hour
later is an answer to something else.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

from zabota.outreach.planning import FollowUp

Answer = Literal["yes", "no"]

# The buttons under a confirm question in Telegram: Rasa's own intents, so a press after the reply window
# closed is still a harmless yes/no to the bot.
YES_PAYLOAD = "/affirm"
NO_PAYLOAD = "/deny"

# Whole short replies, after lower-casing and dropping punctuation and emoji. A "no" wins over a "yes" in the
# same reply ("да нет, не я"): a missed fraud report costs more than a needless call from the security team.
_NO = re.compile(
    r"^(?:нет|неа|не-а|no|nope|nah|not me|it was not me|it wasn t me|i did not|i didn t|не я|это не я|"
    r"это был не я|это была не я|я не (?:оплачивал|оплачивала|платил|платила|покупал|покупала)|"
    r"не (?:оплачивал|оплачивала|платил|платила|покупал|покупала)|мошенники|это мошенники|fraud)\b"
)
_NO_ANYWHERE = re.compile(
    r"\b(?:ничего не (?:покупал|оплачивал|платил)\w*|не я|не мой|не моя|не оплачивал\w*|не платил\w*|"
    r"not me|not mine|fraud|мошенн\w*)\b"
)
_YES_EXACT = frozenset(
    {
        "это я",
        "да это я",
        "я оплачивал",
        "я оплачивала",
        "я платил",
        "я платила",
        "мой платеж",
        "it was me",
        "that was me",
        "i did",
        "i paid",
        "всё верно",
        "все верно",
        "так точно",
        "confirm",
        "confirmed",
    }
)
_YES_FIRST = frozenset({"да", "ага", "угу", "верно", "подтверждаю", "yes", "yep", "yeah", "yup", "correct"})
# a "да" followed by a doubt is not a confirmation ("да вроде нет", "yes but I don't know them")
_DOUBT = re.compile(r"\b(?:не|нет|вроде|наверное|не знаю|not|no|don t|dont|maybe|but|но)\b")
_CLEAN = re.compile(r"[^\w\s-]+")
# a reply longer than this is a message of its own, not a yes or a no
MAX_ANSWER_WORDS = 8


def confirm_answer(text: str) -> Answer | None:
    """ "yes", "no", or None when the reply is neither (it goes to the bot)."""
    stripped = text.strip()
    if stripped == YES_PAYLOAD:
        return "yes"
    if stripped == NO_PAYLOAD:
        return "no"
    words = " ".join(_CLEAN.sub(" ", stripped.lower().replace("ё", "е")).split())
    if not words or len(words.split()) > MAX_ANSWER_WORDS:
        return None
    if _NO.match(words) or _NO_ANYWHERE.search(words):
        return "no"
    if words in _YES_EXACT or (words.split()[0] in _YES_FIRST and not _DOUBT.search(words)):
        return "yes"
    return None


@dataclass(frozen=True)
class OutreachContext:
    """What the customer was last sent, kept for the reply window."""

    outreach_id: str
    trigger: str
    channel: str
    text: str
    sent_at: float
    follow_up: FollowUp
    # a confirm question not yet answered (the first reply answers it or lets it go)
    awaiting_answer: bool
    # with confirm: the intent a "no" opens its p1 handoff for (the trigger's on_no)
    on_no: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> OutreachContext | None:
        try:
            data: dict[str, Any] = json.loads(raw)
            follow_up: FollowUp = "confirm" if data.get("follow_up") == "confirm" else "none"
            return cls(
                outreach_id=str(data["outreach_id"]),
                trigger=str(data["trigger"]),
                channel=str(data["channel"]),
                text=str(data["text"]),
                sent_at=float(data["sent_at"]),
                follow_up=follow_up,
                awaiting_answer=bool(data.get("awaiting_answer")),
                on_no=str(data["on_no"]) if data.get("on_no") else None,
            )
        except (ValueError, KeyError, TypeError):
            return None

    def reply_flow(self) -> str:
        """The flow a reply adds to its contact in the system of record (the contacts-prevented count reads it)."""
        return f"outreach_reply:{self.trigger}"
