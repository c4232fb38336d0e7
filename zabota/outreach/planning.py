"""Planning one outreach message from a trigger event (plain): which text, in which channel, when, or why not.

The rules are zabota/outreach/rules.yml. The channel is the customer's preferred one when it is reachable and
not opted out, else the next reachable one (zabota/channels/policy.py's order); quiet hours in the customer's
time zone defer a message to the morning (never drop it) unless the trigger is a security check. The text is the
trigger's variant for the tone zabota/tone/rules.yml chooses for the customer in that channel (a security check
counts as sensitive: formal). Sending,
deduplication and the per-customer cap are the scheduler's (it stores what is planned here).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from zabota.channels.policy import (
    PROACTIVE_CHANNELS,
    ChannelPolicyConfig,
    ContactProfile,
    in_quiet_hours,
    proactive_channel,
)
from zabota.language import SUPPORTED, Language
from zabota.tone.rules import Tone, ToneFacts, ToneRules, load_tone_rules
from zabota.tone_style import style_problems

DEFAULT_RULES = Path(__file__).with_name("rules.yml")
Send = Literal["now", "day_before"]
QuietHours = Literal["defer", "ignore"]
FollowUp = Literal["none", "confirm"]
Refusal = Literal["opted_out", "unreachable"]
MAX_FIELD_CHARS = 200
# the tones a trigger's message may have a variant in besides its neutral text
VARIANT_TONES: tuple[Tone, ...] = ("formal", "friendly")


class OutreachError(ValueError):
    """An event the rules cannot plan (unknown trigger, missing or bad data): the caller's mistake, a 4xx."""


@dataclass(frozen=True)
class TriggerRule:
    fields: tuple[str, ...]
    message: Mapping[Language, str]
    send: Send
    quiet_hours: QuietHours
    follow_up: FollowUp
    # with confirm: the intent a "no" opens its p1 handoff for
    on_no: str | None = None
    # the intents that mean the customer wrote in about the same thing (contacts prevented)
    about: frozenset[str] = frozenset()
    # the formal and friendly texts, per language, where they differ from the neutral ``message``
    variants: Mapping[Tone, Mapping[Language, str]] = field(default_factory=dict)
    # a sensitive matter (a security check): the tone rules' ``sensitive`` condition holds for it
    sensitive: bool = False

    def text(self, lang: Language, tone: Tone) -> str:
        return self.variants.get(tone, self.message).get(lang, self.message[lang])


@dataclass(frozen=True)
class OutreachRules:
    triggers: Mapping[str, TriggerRule]
    dedupe_hours: int
    max_per_customer_per_day: int

    @classmethod
    def parse(cls, text: str) -> OutreachRules:
        raw = yaml.safe_load(text)
        if not isinstance(raw, Mapping) or not isinstance(raw.get("triggers"), Mapping) or not raw["triggers"]:
            raise ValueError("outreach rules: a non-empty 'triggers' mapping is required")
        triggers = {}
        for name, entry in raw["triggers"].items():
            where = f"outreach trigger {name!r}"
            if not isinstance(entry, Mapping):
                raise ValueError(f"{where}: not a mapping")
            fields = tuple(str(f) for f in entry.get("fields") or ())
            message = entry.get("message")
            if not isinstance(message, Mapping) or not set(SUPPORTED) <= set(message):
                raise ValueError(f"{where}: a message in each of {', '.join(SUPPORTED)}")
            neutral: dict[Language, str] = {lang: str(message[lang]) for lang in SUPPORTED}
            variants: dict[Tone, dict[Language, str]] = {}
            for key, texts in message.items():
                if key in SUPPORTED:
                    continue
                if key not in VARIANT_TONES or not isinstance(texts, Mapping) or not set(texts) <= set(SUPPORTED):
                    raise ValueError(
                        f"{where}: message keys are the languages ({', '.join(SUPPORTED)}) and the tones "
                        f"{', '.join(VARIANT_TONES)} (each a text per language), not {key!r}"
                    )
                variants[cast(Tone, key)] = {cast(Language, lang): str(text) for lang, text in texts.items()}
            sensitive = entry.get("sensitive", False)
            if not isinstance(sensitive, bool):
                raise ValueError(f"{where}: sensitive is true or false")
            for tone, texts in [("neutral", neutral), *variants.items()]:
                for lang, template in texts.items():
                    used = {part[1] for part in string.Formatter().parse(template) if part[1]}
                    if used - set(fields):
                        raise ValueError(
                            f"{where}: the {tone} {lang} message uses {sorted(used - set(fields))}, not in fields"
                        )
                    problems = style_problems(template, tone=tone, lang=lang, sensitive=sensitive)
                    if problems:
                        raise ValueError(f"{where}: the {tone} {lang} message: {'; '.join(problems)}")
            send, quiet, follow = (
                entry.get("send", "now"),
                entry.get("quiet_hours", "defer"),
                entry.get("follow_up", "none"),
            )
            if (
                send not in ("now", "day_before")
                or quiet not in ("defer", "ignore")
                or follow not in ("none", "confirm")
            ):
                raise ValueError(f"{where}: send now|day_before, quiet_hours defer|ignore, follow_up none|confirm")
            if send == "day_before" and "starts_at" not in fields:
                raise ValueError(f"{where}: send day_before needs a starts_at field")
            on_no = entry.get("on_no")
            if (follow == "confirm") != bool(on_no):
                raise ValueError(f"{where}: on_no (an intent) is given with follow_up confirm, and only then")
            about = entry.get("about") or []
            if not isinstance(about, list) or not all(isinstance(a, str) and a for a in about):
                raise ValueError(f"{where}: about is a list of intents")
            triggers[str(name)] = TriggerRule(
                fields,
                neutral,
                cast(Send, send),
                cast(QuietHours, quiet),
                cast(FollowUp, follow),
                str(on_no) if on_no else None,
                frozenset(about),
                variants,
                sensitive,
            )
        dedupe, cap = int(raw.get("dedupe_hours", 24)), int(raw.get("max_per_customer_per_day", 3))
        if dedupe < 1 or cap < 1:
            raise ValueError("outreach rules: dedupe_hours and max_per_customer_per_day must be at least 1")
        return cls(triggers, dedupe, cap)


@lru_cache(maxsize=4)
def load_outreach_rules(path: Path = DEFAULT_RULES) -> OutreachRules:
    return OutreachRules.parse(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class OutreachEvent:
    trigger: str
    customer_id: str
    # what the event is about, for deduplication: an order id, an area, a payment id
    ref: str
    data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipient:
    """What planning needs of the customer (from the system of record and the identity directory)."""

    contact: ContactProfile
    language: Language = "ru"
    timezone: str = "Europe/Moscow"
    opted_out: frozenset[str] = frozenset()
    # what the tone rules read (zabota/tone); None where the record does not say
    segment: str | None = None
    age_band: str | None = None
    known: bool = False


@dataclass(frozen=True)
class OutreachPlan:
    trigger: str
    customer_id: str
    channel: str
    text: str
    send_at: datetime
    deferred: bool  # moved out of the customer's quiet hours
    follow_up: FollowUp
    dedupe_key: str
    why: str
    tone: Tone = "neutral"


@dataclass(frozen=True)
class NotSent:
    reason: Refusal
    detail: str


def plan(
    event: OutreachEvent,
    recipient: Recipient,
    now: datetime,
    rules: OutreachRules | None = None,
    channels: ChannelPolicyConfig | None = None,
    tone_rules: ToneRules | None = None,
    project: str | None = None,
) -> OutreachPlan | NotSent:
    """The message for ``event``, or why it is not sent; ``OutreachError`` for an event the rules cannot plan."""
    rules = rules or load_outreach_rules()
    tone_rules = tone_rules or load_tone_rules()
    rule = rules.triggers.get(event.trigger)
    if rule is None:
        raise OutreachError(f"unknown trigger {event.trigger!r} (known: {', '.join(sorted(rules.triggers))})")
    data = _checked_data(rule, event.data)
    try:
        zone = ZoneInfo(recipient.timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise OutreachError(f"timezone {recipient.timezone!r} is not an IANA time zone") from error

    choice = _channel(recipient)
    if isinstance(choice, NotSent):
        return choice
    channel, why = choice

    send_at = now
    if rule.send == "day_before":
        starts = _parse_time(data["starts_at"], zone)
        send_at = max(now, starts - timedelta(days=1))
    deferred = False
    if rule.quiet_hours == "defer" and in_quiet_hours(send_at, zone, channels):
        # deferred even when the morning is after the work begins (an event told late in the night): the quiet
        # hours are a promise to the customer, and the notice still explains the interruption then
        send_at = _after_quiet_hours(send_at, zone, channels or ChannelPolicyConfig())
        deferred = True
        why += f"; deferred out of the quiet hours to {send_at.astimezone(zone):%H:%M} local"
    tone = tone_rules.choose(
        ToneFacts(
            channel=channel,
            sensitive=rule.sensitive,
            segment=recipient.segment,
            age_band=recipient.age_band,
            project=project,
            known=recipient.known,
        )
    )
    why += f"; tone {tone.tone} ({tone.why})"
    text = rule.text(recipient.language, tone.tone).format(**_for_reading(data, zone, recipient.language))
    return OutreachPlan(
        trigger=event.trigger,
        customer_id=event.customer_id,
        channel=channel,
        text=text,
        send_at=send_at,
        deferred=deferred,
        follow_up=rule.follow_up,
        dedupe_key=f"{event.customer_id}|{event.trigger}|{event.ref}",
        why=why,
        tone=tone.tone,
    )


def _checked_data(rule: TriggerRule, data: Mapping[str, Any]) -> dict[str, str]:
    missing = [name for name in rule.fields if not str(data.get(name) or "").strip()]
    if missing:
        raise OutreachError(f"missing data: {', '.join(missing)}")
    checked = {}
    for name in rule.fields:
        value = str(data[name]).strip()
        if len(value) > MAX_FIELD_CHARS:
            raise OutreachError(f"{name}: longer than {MAX_FIELD_CHARS} characters")
        checked[name] = value
    return checked


def _channel(recipient: Recipient) -> tuple[str, str] | NotSent:
    """The preferred reachable channel not opted out, else the next one in the proactive order."""
    contact = recipient.contact
    first = proactive_channel(contact)
    if first is None:
        return NotSent("unreachable", "no channel to reach the customer in (no phone, Telegram or email)")
    if first.channel not in recipient.opted_out:
        return first.channel, first.reason
    for channel in PROACTIVE_CHANNELS:
        if channel in recipient.opted_out:
            continue
        reachable = proactive_channel(replace(contact, preferred=channel))
        if reachable is not None and reachable.channel == channel:
            return channel, f"proactive message: {first.channel} is opted out, {channel} is not"
    return NotSent("opted_out", f"the customer opted out of {', '.join(sorted(recipient.opted_out))}")


_MONTHS_RU = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)
_MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _for_reading(data: Mapping[str, str], zone: ZoneInfo, lang: Language) -> dict[str, str]:
    """The event's data as the customer reads it: a time field (``*_at``) given as an ISO date and time, as the
    company's systems send it, in the customer's time zone and words («8 декабря в 23:00», "8 December at
    23:00"); a second time on the same day as the first is its hour alone (``до 04:00``). Anything else, and a
    time the systems already wrote for reading (``04:00``), as given."""
    shown = dict(data)
    first_day = None
    for name, value in data.items():
        if not name.endswith("_at"):
            continue
        try:
            moment = _parse_time(value, zone).astimezone(zone)
        except OutreachError:
            continue
        hour = f"{moment:%H:%M}"
        if first_day == moment.date():
            shown[name] = hour
        elif lang == "ru":
            shown[name] = f"{moment.day} {_MONTHS_RU[moment.month - 1]} в {hour}"
        else:
            shown[name] = f"{moment.day} {_MONTHS_EN[moment.month - 1]} at {hour}"
        first_day = first_day or moment.date()
    return shown


def _parse_time(value: str, zone: ZoneInfo) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise OutreachError(f"starts_at {value!r} is not an ISO date and time") from error
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def _after_quiet_hours(moment: datetime, zone: ZoneInfo, config: ChannelPolicyConfig) -> datetime:
    """The first moment after the quiet hours that contain ``moment``, in the customer's zone."""
    local = moment.astimezone(zone)
    end = local.replace(hour=config.quiet_hours_end.hour, minute=config.quiet_hours_end.minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end
