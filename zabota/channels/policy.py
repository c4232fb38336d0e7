"""Which channels a reply goes to, and why: PRODUCT.md "Channel choice", as data plus one function.

Plain core: no gateway imports, no I/O. The gateway (or the triage) builds a ``ReplyContent`` from the bot's
reply texts (``content_from_replies``), a ``ContactProfile`` from the customer's identity, and gets back a list
of ``ChannelChoice``: the reply in the inbound channel first, then anything that goes elsewhere, each with a
reason an operator or a lead can read.

Defaults (all configurable through ``ChannelPolicyConfig.from_env``):

- On a voice call, content with steps, links or codes goes by Telegram when the customer has it linked and
  prefers it, otherwise by SMS to the caller's number; the spoken reply stays short (``zabota.channels.voice``).
- Documents and texts longer than ``long_text_chars`` go by email when the customer has one.
- An urgent sensitive case in a chat (webchat, Telegram) also offers a call-back (or the hotline number).
- Proactive messages use the preferred channel and wait out quiet hours (``in_quiet_hours``).

Environment variables read by ``ChannelPolicyConfig.from_env``:

- ``CHANNEL_VOICE_INSTRUCTIONS_VIA``: comma-separated routes tried in order for instructions during a voice
  call; routes: ``telegram_if_preferred``, ``telegram``, ``sms``, ``email_if_preferred``, ``email``
  (default ``telegram_if_preferred,sms``).
- ``CHANNEL_LONG_TEXT_CHARS``: a reply longer than this also goes by email (default 700).
- ``CHANNEL_EMAIL_DOCUMENTS``: documents go by email (default true).
- ``CHANNEL_CALLBACK_FOR_URGENT_CHAT``: offer a call-back for urgent sensitive chats (default true).
- ``CHANNEL_QUIET_HOURS_START`` / ``CHANNEL_QUIET_HOURS_END``: ``HH:MM`` in the customer's local time, no
  proactive messages in between (default 21:00-09:00; equal values mean no quiet hours).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo

from zabota.entity_values import ACCOUNT_NUMBER_IN_TEXT

Purpose = Literal["reply", "instructions", "document", "callback_offer"]

# The channels this project speaks. "voice" is the call itself (and the channel of a call-back offer).
CHANNELS = ("webchat", "telegram", "voice", "sms", "email")
CHAT_CHANNELS = frozenset({"webchat", "telegram"})
# Channels that can carry a proactive (bot-initiated) message, in the order tried without a preference.
PROACTIVE_CHANNELS = ("telegram", "sms", "email")
VOICE_ROUTES = ("telegram_if_preferred", "telegram", "sms", "email_if_preferred", "email")

_URGENT_PRIORITIES = frozenset({"p1", "p2"})


@dataclass(frozen=True)
class ReplyContent:
    """What a reply holds, as far as the channel choice cares."""

    has_steps: bool = False
    has_link: bool = False
    has_code: bool = False
    is_document: bool = False
    length: int = 0
    urgent_sensitive: bool = False

    @property
    def is_instructions(self) -> bool:
        """Something the customer must read or keep to act on: it cannot only be spoken."""
        return self.has_steps or self.has_link or self.has_code


@dataclass(frozen=True)
class ContactProfile:
    """Where the customer can be reached. ``phone`` is E.164 (on a voice call: the caller's number)."""

    phone: str | None = None
    email: str | None = None
    telegram_chat_id: int | None = None
    preferred: str | None = None  # "sms" | "telegram" | "email" | None


@dataclass(frozen=True)
class ChannelChoice:
    channel: str
    purpose: Purpose
    reason: str


def _parse_hhmm(value: str, name: str) -> time:
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", value)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"{name} must be HH:MM, got {value!r}")
    return time(int(match.group(1)), int(match.group(2)))


def _parse_bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be true or false, got {value!r}")


@dataclass(frozen=True)
class ChannelPolicyConfig:
    voice_instructions_via: tuple[str, ...] = ("telegram_if_preferred", "sms")
    long_text_chars: int = 700
    email_documents: bool = True
    callback_for_urgent_chat: bool = True
    quiet_hours_start: time = time(21, 0)
    quiet_hours_end: time = time(9, 0)

    def __post_init__(self) -> None:
        unknown = [route for route in self.voice_instructions_via if route not in VOICE_ROUTES]
        if unknown:
            raise ValueError(f"unknown voice instruction route(s) {unknown}; known: {list(VOICE_ROUTES)}")
        if self.long_text_chars < 1:
            raise ValueError("long_text_chars must be positive")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ChannelPolicyConfig:
        """The defaults, overridden by the CHANNEL_* variables that are set (see the module docstring)."""
        env = os.environ if environ is None else environ
        default = cls()
        via = env.get("CHANNEL_VOICE_INSTRUCTIONS_VIA")
        long_text = env.get("CHANNEL_LONG_TEXT_CHARS")
        documents = env.get("CHANNEL_EMAIL_DOCUMENTS")
        callback = env.get("CHANNEL_CALLBACK_FOR_URGENT_CHAT")
        start = env.get("CHANNEL_QUIET_HOURS_START")
        end = env.get("CHANNEL_QUIET_HOURS_END")
        if long_text is not None and not long_text.strip().isdigit():
            raise ValueError(f"CHANNEL_LONG_TEXT_CHARS must be a positive integer, got {long_text!r}")
        return cls(
            voice_instructions_via=(
                tuple(part.strip() for part in via.split(",") if part.strip())
                if via is not None
                else default.voice_instructions_via
            ),
            long_text_chars=int(long_text) if long_text is not None else default.long_text_chars,
            email_documents=(
                _parse_bool(documents, "CHANNEL_EMAIL_DOCUMENTS") if documents is not None else default.email_documents
            ),
            callback_for_urgent_chat=(
                _parse_bool(callback, "CHANNEL_CALLBACK_FOR_URGENT_CHAT")
                if callback is not None
                else default.callback_for_urgent_chat
            ),
            quiet_hours_start=(
                _parse_hhmm(start, "CHANNEL_QUIET_HOURS_START") if start is not None else default.quiet_hours_start
            ),
            quiet_hours_end=_parse_hhmm(end, "CHANNEL_QUIET_HOURS_END") if end is not None else default.quiet_hours_end,
        )


def _what(content: ReplyContent) -> str:
    parts = []
    if content.has_steps:
        parts.append("steps")
    if content.has_link:
        parts.append("a link")
    if content.has_code:
        parts.append("a code")
    if len(parts) > 1:
        return ", ".join(parts[:-1]) + " and " + parts[-1]
    return parts[0] if parts else "a long text"


def _voice_route(route: str, profile: ContactProfile, content: ReplyContent) -> ChannelChoice | None:
    what = _what(content)
    if route == "telegram_if_preferred":
        if profile.telegram_chat_id is not None and profile.preferred == "telegram":
            return ChannelChoice(
                "telegram",
                "instructions",
                f"voice call: instructions with {what} go by Telegram, the customer's preferred channel",
            )
    elif route == "telegram":
        if profile.telegram_chat_id is not None:
            return ChannelChoice(
                "telegram",
                "instructions",
                f"voice call: instructions with {what} go by Telegram, linked to the customer",
            )
    elif route == "sms":
        if profile.phone:
            return ChannelChoice(
                "sms", "instructions", f"voice call: instructions with {what} go by SMS to the caller's number"
            )
    elif route == "email_if_preferred":
        if profile.email and profile.preferred == "email":
            return ChannelChoice(
                "email",
                "instructions",
                f"voice call: instructions with {what} go by email, the customer's preferred channel",
            )
    elif route == "email" and profile.email:
        return ChannelChoice("email", "instructions", f"voice call: instructions with {what} go by email")
    return None


def choose_channels(
    inbound_channel: str,
    content: ReplyContent,
    profile: ContactProfile,
    config: ChannelPolicyConfig | None = None,
) -> list[ChannelChoice]:
    """The channels for one reply, the inbound channel's reply first; never the same channel twice."""
    config = config or ChannelPolicyConfig()
    inbound = inbound_channel.strip().lower()
    choices: list[ChannelChoice] = []
    if inbound == "voice":
        choices.append(ChannelChoice("voice", "reply", "voice call: a short spoken answer"))
    else:
        choices.append(
            ChannelChoice(inbound, "reply", f"the reply goes to the channel the customer wrote in ({inbound})")
        )

    def taken(channel: str) -> bool:
        return any(choice.channel == channel for choice in choices)

    long_text = content.length > config.long_text_chars
    if inbound == "voice" and (content.is_instructions or long_text):
        for route in config.voice_instructions_via:
            choice = _voice_route(route, profile, content)
            if choice is not None:
                choices.append(choice)
                break

    wants_email = (content.is_document and config.email_documents) or long_text
    if wants_email and profile.email and not taken("email"):
        if content.is_document and config.email_documents:
            reason = "a document goes by email to the customer's address"
        else:
            reason = f"a long text ({content.length} characters, over {config.long_text_chars}) also goes by email"
        choices.append(ChannelChoice("email", "document", reason))

    if content.urgent_sensitive and inbound in CHAT_CHANNELS and config.callback_for_urgent_chat:
        if profile.phone:
            reason = "urgent sensitive case in chat: offer a call-back to the customer's number besides the handoff"
        else:
            reason = "urgent sensitive case in chat: offer the hotline number besides the handoff (no phone on file)"
        choices.append(ChannelChoice("voice", "callback_offer", reason))
    return choices


def proactive_channel(profile: ContactProfile) -> ChannelChoice | None:
    """The channel for a bot-initiated message: the preferred one when reachable, else the first reachable."""

    def reachable(channel: str) -> bool:
        if channel == "telegram":
            return profile.telegram_chat_id is not None
        if channel == "sms":
            return bool(profile.phone)
        if channel == "email":
            return bool(profile.email)
        return False

    if profile.preferred in PROACTIVE_CHANNELS and reachable(profile.preferred):
        return ChannelChoice(profile.preferred, "reply", f"proactive message: the customer prefers {profile.preferred}")
    for channel in PROACTIVE_CHANNELS:
        if reachable(channel):
            if profile.preferred:
                reason = f"proactive message: the preferred {profile.preferred} is not linked, {channel} is"
            else:
                reason = f"proactive message: no preferred channel, {channel} is linked"
            return ChannelChoice(channel, "reply", reason)
    return None


def in_quiet_hours(now: datetime, tz: str | tzinfo, config: ChannelPolicyConfig | None = None) -> bool:
    """Whether ``now`` (timezone-aware) falls in the quiet hours of the customer's time zone ``tz``.

    The window may cross midnight (21:00-09:00); a start equal to the end means no quiet hours.
    """
    config = config or ChannelPolicyConfig()
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    local = now.astimezone(zone).time().replace(tzinfo=None)
    start, end = config.quiet_hours_start, config.quiet_hours_end
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


# --- what a reply holds -------------------------------------------------------------------------------------

# "1. Откройте", "2) Нажмите", "Шаг 3:", "Step 1 -" at the start of a line.
_STEP_LINE = re.compile(r"(?im)^\s*(?:\d{1,2}\s*[.)](?!\d)|(?:шаг|step)\s*\d{1,2}\b\s*[:.)-]?)\s*\S")
# "1) откройте настройки; 2) нажмите ..." within one line: two consecutive markers.
_INLINE_STEPS = re.compile(r"(?<![\w.])1\s*[.)]\s+\S.*?(?<![\w.])2\s*[.)]\s+\S", re.DOTALL)
_URL = re.compile(
    r"(?i)\bhttps?://\S+|\bwww\.[\w-]+(?:\.[\w-]+)+\S*|\b[\w-]+(?:\.[\w-]+)*\.(?:ru|рф|su|com|net|org|example)\b(?:/\S*)?"
)
# USSD and service codes: *100#, *102*1#, #31#, *#06#.
_CODE = re.compile(r"(?<![\w*#])[*#][*#]?\d{1,4}(?:\*\d{1,12})*#")
_DOCUMENT_WORDS = re.compile(
    r"(?iu)\b(?:договор\w*|квитанци\w*|счёт[- ]фактур\w*|счет[- ]фактур\w*|сч[её]т\w* на оплату|акт\w{0,2} "
    r"(?:сверки|выполненных|оказанных)|закрывающи\w* документ\w*|выписк\w*|детализаци\w*|справк\w*|"
    r"копи\w* договора|pdf|contract|invoice\w*|receipt\w*|statement\w*|closing documents?|itemi[sz]ed bill\w*)"
)


def has_steps(text: str) -> bool:
    return len(_STEP_LINE.findall(text)) >= 2 or bool(_INLINE_STEPS.search(text))


def has_link(text: str) -> bool:
    return bool(_URL.search(text))


def has_code(text: str) -> bool:
    return bool(_CODE.search(text) or ACCOUNT_NUMBER_IN_TEXT.search(text))


def is_document(text: str) -> bool:
    return bool(_DOCUMENT_WORDS.search(text))


def content_from_replies(
    texts: Sequence[str],
    has_kb_article: bool = False,
    intent_handling: str | None = None,
    *,
    sensitive: bool = False,
    priority: str | None = None,
) -> ReplyContent:
    """Describe the bot's reply texts for ``choose_channels``.

    Steps are two or more numbered lines ("1." / "1)" / "Шаг 1") or "1) ... 2) ..." in one line; links are URLs
    and site addresses; codes are USSD/service codes (*100#) and 12-digit account numbers; documents are named
    by words (договор, счёт на оплату, детализация, invoice...). An answer from a knowledge-base article
    (``has_kb_article``, or the catalog handling ``kb``) counts as having a link: it cites the article, which
    the customer should be able to open after the call. The case is urgent and sensitive when the triage says
    ``sensitive`` with priority p1 or p2; an ``escalate`` handling alone (a request for a person, a churn risk)
    is not urgent.
    """
    joined = "\n\n".join(text for text in texts if text)
    return ReplyContent(
        has_steps=has_steps(joined),
        has_link=has_link(joined) or has_kb_article or intent_handling == "kb",
        has_code=has_code(joined),
        is_document=is_document(joined),
        length=len(joined),
        urgent_sensitive=sensitive and priority in _URGENT_PRIORITIES,
    )
