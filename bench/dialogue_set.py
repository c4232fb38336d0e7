"""The multi-turn evaluation dialogues (bench/data/dialogues/*.yml): a typed loader that refuses a bad set.

The dialogues are a held-out set: written for the evaluation by a different method than the training data
(nlu_data/) and the other bench sets, and never tuned on. ``make eval-dialogues`` (bench/eval_dialogues.py)
plays them through the running service; this module only reads and checks them, so a typo in a file fails
here, with the file, the dialogue and the field, rather than as a strange score.

Each file is a YAML list of dialogues::

    - id: ru-web-balance-01          # unique across all files, [a-z0-9-]
      lang: ru                        # ru | en
      channel: webchat                # webchat | telegram | voice | sms
      kind: routine                   # routine | sensitive | outreach | consent
      note: why this dialogue exists
      profile: {...}                  # optional: POST /api/v1/customers before the dialogue (webchat: logged_in)
      logged_in: true                 # optional, webchat with a profile only: logged in on the company's site
      history: [...]                  # optional: earlier contacts, POST /api/v1/customers/{id}/contacts
      outreach: {...}                 # outreach and consent only: a trigger event
      turns: [{say, gives, expect_intent}, ...]
      expect: {handoff, resolved, tone, never_asked, deferred, not_sent, sent_channel}

What a field means and which values it takes is in the dataclasses below. Rules the loader enforces beyond
the values: a webchat visitor is anonymous (no profile is linked to it, so a webchat dialogue has none) unless
the customer is logged in on the company's site (``logged_in: true``, webchat with a profile only); history
needs a profile; ``never_asked`` names only data the service knows - from the profile where the channel links
it (voice, sms, telegram: the profile's first phone is the caller, the SMS sender, the contact shared; webchat
with ``logged_in``: the site's signed token names the profile's external id), from an
earlier turn's ``gives`` (a turn that is not the last), or from the outreach event's data; a routine dialogue is
resolved with no handoff, a sensitive one is handed to a person; phones, account numbers and emails are each in
one profile only (the service does not guess between two records with the same number); a routine dialogue's
history does not already hold its problem twice within the recurring week (that would escalate it).

How the expectations were set: ``tone`` is what zabota/tone/rules.yml chooses (first matching rule) from the
channel, the linked profile's segment and age band (none for an anonymous webchat visitor) and whether the case is
sensitive (a sensitive catalog intent, or a security check answered "no"); ``deferred`` and the outreach channel are
what zabota/outreach/planning.py gives for the profile, its opt-outs and ``local_time``.
tests/bench/test_dialogue_set.py checks both against those rules, so an edited rule file shows here first.
``resolved: true`` on an outreach with no turns means only that nothing needs a person. ``gives`` is checked against
the text where the datum has a form (an order id's 7 digits, an account's 12, a phone, an email); dates, amounts and
addresses are free text.

Additions to the schema the player relies on (kept minimal):

- ``outreach`` is also allowed on ``kind: consent``: there the event is sent *after* the turns (the opt-out
  comes first); on ``kind: outreach`` it is sent before them.
- ``expect.sent_channel`` (outreach and consent; sms | telegram | email): the channel the outreach must go out
  in when it is not the dialogue's own channel (the customer opted out of that one); by default the dialogue's
  channel. Not with ``not_sent: true``.
- ``profile.opted_out`` and ``profile.region`` as the customers API takes them (``opted_out``: channels the
  company's records already know the customer opted out of).
- ``external_id`` is not written in the files: the player makes one per dialogue (the id), so a rerun updates
  the same customer.
- ``outreach.data`` values of the form ``+<N>d HH:MM`` (e.g. ``+1d 08:00``) are a time N days after the day
  the dialogue runs, in the customer's time zone: ``OutreachStep.resolved_data`` turns them into ISO date-times,
  so that a maintenance notice (``send: day_before``) never ages into the past. ``zone_for`` gives the player a
  time zone in which it is ``night`` (23:00) or ``day`` (13:00) at run time.
- a ``telegram`` outreach dialogue needs the customer's Telegram chat linked (the player shares the contact of
  the profile's first phone first), since the service can write only to a chat it knows.
- ``logged_in: true`` (webchat only, and only with a profile): the customer is logged in on the company's site,
  so the player sends every webchat message with ``identity``, a token signed for the profile's external id
  (zabota/site_identity.py, docs/webchat-identity.md) with the gateway's ``WEBCHAT_IDENTITY_SECRET``; the
  profile is then linked as in voice, sms and telegram (``linked_profile``), and needs no phone to be found.

``python -m bench.dialogue_set`` prints the set's composition.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, Literal, cast, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from zabota.catalog import load_catalog
from zabota.channels.phones import normalize_phone
from zabota.outreach.planning import load_outreach_rules
from zabota.records.csv_import import COLUMNS as CSV_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / "bench" / "data" / "dialogues"

Lang = Literal["ru", "en"]
Channel = Literal["webchat", "telegram", "voice", "sms"]
Kind = Literal["routine", "sensitive", "outreach", "consent"]
Tone = Literal["formal", "friendly", "neutral"]
Handoff = Literal["none", "p1", "p2", "p3"]
Datum = Literal["phone", "account_number", "order_id", "address", "date", "amount", "email"]
LocalTime = Literal["night", "day"]
OutreachChannel = Literal["sms", "telegram", "email"]
Segment = Literal["b2c", "b2b"]
AgeBand = Literal["under-18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"]
ConsentChannel = Literal["sms", "telegram", "email", "voice", "webchat"]
ContactChannel = Literal["webchat", "telegram", "voice", "sms", "email", "outreach"]
HandoffOutcome = Literal["resolved", "handed_back", "unresolved", "abandoned"]

# the channels where the service links a profile to the customer by the profile's first phone
LINKED_CHANNELS: frozenset[str] = frozenset({"voice", "sms", "telegram"})
# where an outreach message goes and the customer can answer it
OUTREACH_REPLY_CHANNELS: frozenset[str] = frozenset({"sms", "telegram"})
# the local hour the player makes it for the customer (quiet hours are 21:00-09:00 by default)
LOCAL_HOURS: dict[str, int] = {"night": 23, "day": 13}
# the recurring rule (zabota/triage/policy.py): the same problem this many times within this many days
RECURRING_COUNT = 3
RECURRING_DAYS = 7

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s.]{2,}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_RELATIVE_TIME = re.compile(r"^\+(\d{1,2})d (\d{2}):(\d{2})$")
# what a turn that gives a datum must hold (the data the service has to read from the text)
_GIVES_PATTERN: dict[str, re.Pattern[str]] = {
    "order_id": re.compile(r"(?<!\d)\d{7}(?!\d)"),
    "account_number": re.compile(r"(?<!\d)(?:\d[ -]?){11}\d(?!\d)"),
    "email": re.compile(r"[^@\s]+@[^@\s]+\.\w{2,}"),
}
_PHONE_CANDIDATE = re.compile(r"\+?\d[\d\s\-()]{8,16}\d")


class DialogueError(ValueError):
    """A dialogue file the loader refuses: the file, the dialogue id (or its position) and the field."""

    def __init__(self, path: Path, dialogue: str, field_name: str, reason: str) -> None:
        super().__init__(f"{path.name}: dialogue {dialogue}: {field_name}: {reason}")
        self.path = path
        self.dialogue = dialogue
        self.field = field_name
        self.reason = reason


@dataclass(frozen=True)
class Account:
    account_number: str  # 12 digits
    contract_number: str | None = None


@dataclass(frozen=True)
class Profile:
    """The customer as the company's records hold it (the customers API body, less ``external_id``)."""

    name: str | None = None
    segment: Segment | None = None
    age_band: AgeBand | None = None
    region: str | None = None
    timezone: str | None = None
    language: Lang | None = None
    preferred_channel: OutreachChannel | None = None
    tags: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()  # as written; ``phone`` is the first in E.164
    emails: tuple[str, ...] = ()
    accounts: tuple[Account, ...] = ()
    opted_out: tuple[ConsentChannel, ...] = ()

    @property
    def phone(self) -> str | None:
        """The first phone in E.164: the caller (voice), the SMS sender (sms), the contact shared (telegram)."""
        return normalize_phone(self.phones[0]) if self.phones else None

    def to_api(self, external_id: str, timezone_override: str | None = None) -> dict[str, Any]:
        """The body of ``POST /api/v1/customers``."""
        body: dict[str, Any] = {"external_id": external_id}
        for name in ("name", "segment", "age_band", "region", "language", "preferred_channel"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        zone = timezone_override or self.timezone
        if zone is not None:
            body["timezone"] = zone
        if self.tags:
            body["tags"] = list(self.tags)
        body["phones"] = list(self.phones)
        body["emails"] = list(self.emails)
        body["accounts"] = [
            {
                "account_number": a.account_number,
                **({"contract_number": a.contract_number} if a.contract_number else {}),
            }
            for a in self.accounts
        ]
        body["opted_out"] = list(self.opted_out)
        return body


@dataclass(frozen=True)
class HistoryItem:
    """An earlier contact of the customer (``POST /api/v1/customers/{id}/contacts``)."""

    channel: ContactChannel
    days_ago: float
    intents: tuple[str, ...] = ()
    handoff_outcome: HandoffOutcome | None = None

    def to_api(self, contact_id: str, now: datetime) -> dict[str, Any]:
        started = now - timedelta(days=self.days_ago)
        body: dict[str, Any] = {
            "id": contact_id,
            "channel": self.channel,
            "started_at": started.isoformat(),
            "intents": list(self.intents),
        }
        if self.handoff_outcome is not None:
            body["handoff_outcome"] = self.handoff_outcome
        return body


@dataclass(frozen=True)
class OutreachStep:
    """A trigger event (``POST /api/v1/outreach/events``): before the turns (outreach), after them (consent)."""

    trigger: str
    data: Mapping[str, str]
    local_time: LocalTime

    def resolved_data(self, now_local: datetime) -> dict[str, str]:
        """The event's data with every ``+<N>d HH:MM`` value as an ISO date-time in ``now_local``'s zone."""
        return {key: resolve_value(value, now_local) for key, value in self.data.items()}


@dataclass(frozen=True)
class Turn:
    say: str
    gives: tuple[Datum, ...] = ()
    expect_intent: str | None = None


@dataclass(frozen=True)
class Expectation:
    handoff: Handoff
    resolved: bool
    tone: Tone
    never_asked: tuple[Datum, ...] = ()
    deferred: bool = False
    not_sent: bool = False
    sent_channel: OutreachChannel | None = None


@dataclass(frozen=True)
class Dialogue:
    id: str
    lang: Lang
    channel: Channel
    kind: Kind
    note: str
    turns: tuple[Turn, ...]
    expect: Expectation
    profile: Profile | None = None
    history: tuple[HistoryItem, ...] = ()
    outreach: OutreachStep | None = None
    # webchat only: the customer is logged in on the company's site, the widget sends its signed identity
    logged_in: bool = False
    source: str = field(default="", compare=False)  # the file it came from

    @property
    def linked_profile(self) -> Profile | None:
        """The profile the service sees in this dialogue's channel: by the first phone (voice, sms, telegram), by
        the site's signed identity (webchat, logged in); none for an anonymous webchat visitor."""
        if self.channel in LINKED_CHANNELS or (self.channel == "webchat" and self.logged_in):
            return self.profile
        return None

    @property
    def external_id(self) -> str:
        """The company's id of this dialogue's customer (the profile's ``external_id``): one per dialogue, so a
        rerun updates the same customer; the site identity token of a logged-in webchat customer names it."""
        return f"eval-{self.id}"

    @property
    def outreach_channel(self) -> str | None:
        """Where the outreach must go out, or None when it must not be sent (or there is none)."""
        if self.outreach is None or self.expect.not_sent:
            return None
        return self.expect.sent_channel or self.channel


# --- relative times and time zones -------------------------------------------------------------------------


def resolve_value(value: str, now_local: datetime) -> str:
    """``+<N>d HH:MM`` as the ISO date-time N days after ``now_local``'s date at HH:MM, in its zone; any other
    value as it is."""
    match = _RELATIVE_TIME.match(value)
    if match is None:
        return value
    if now_local.tzinfo is None:
        raise ValueError("now_local must be timezone-aware")
    day: date = now_local.date() + timedelta(days=int(match.group(1)))
    moment = datetime(day.year, day.month, day.day, int(match.group(2)), int(match.group(3)), tzinfo=now_local.tzinfo)
    return moment.isoformat()


def zone_for(local_time: LocalTime, now: datetime) -> str:
    """An IANA zone (``Etc/GMT±N``) in which ``now`` (timezone-aware) is closest to the ``local_time`` hour."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    target = LOCAL_HOURS[local_time]
    utc = now.astimezone(timezone.utc)
    best: tuple[float, str] | None = None
    for offset in range(-12, 15):  # Etc/GMT-14 is UTC+14; the sign in Etc names is inverted
        name = "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"
        local = utc.astimezone(ZoneInfo(name))
        hours = local.hour + local.minute / 60
        distance = min(abs(hours - target), 24 - abs(hours - target))
        if best is None or distance < best[0]:
            best = (distance, name)
    assert best is not None
    return best[1]


def local_now(zone: str | tzinfo, now: datetime) -> datetime:
    return now.astimezone(ZoneInfo(zone) if isinstance(zone, str) else zone)


# --- parsing -----------------------------------------------------------------------------------------------


class _Where:
    """Where a value is, for error messages."""

    def __init__(self, path: Path, dialogue: str) -> None:
        self.path = path
        self.dialogue = dialogue

    def error(self, field_name: str, reason: str) -> DialogueError:
        return DialogueError(self.path, self.dialogue, field_name, reason)


def _mapping(where: _Where, name: str, raw: object, required: set[str], optional: set[str]) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise where.error(name, f"must be a mapping, got {type(raw).__name__}")
    unknown = sorted(str(k) for k in raw if k not in required | optional)
    if unknown:
        raise where.error(f"{name}.{unknown[0]}" if name else unknown[0], "unknown key")
    missing = sorted(required - set(raw))
    if missing:
        raise where.error(f"{name}.{missing[0]}" if name else missing[0], "missing")
    return cast(Mapping[str, Any], raw)


def _choice(where: _Where, name: str, value: object, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise where.error(name, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def _text(where: _Where, name: str, value: object, limit: int = 2000) -> str:
    if not isinstance(value, str) or not value.strip():
        raise where.error(name, f"must be a non-empty string (quote it), got {value!r}")
    if len(value) > limit:
        raise where.error(name, f"longer than {limit} characters")
    return value


def _bool(where: _Where, name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise where.error(name, f"must be true or false, got {value!r}")
    return value


def _list(where: _Where, name: str, value: object) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise where.error(name, f"must be a list, got {type(value).__name__}")
    return value


def _data_items(where: _Where, name: str, value: object) -> tuple[Datum, ...]:
    items = [_choice(where, name, v, get_args(Datum)) for v in _list(where, name, value)]
    if len(set(items)) != len(items):
        raise where.error(name, "names a datum twice")
    return tuple(cast(Datum, v) for v in items)


def _intent(where: _Where, name: str, value: object, intents: Mapping[str, object]) -> str:
    if not isinstance(value, str) or value not in intents:
        raise where.error(name, f"{value!r} is not a catalog intent")
    return value


# the customers API's profile fields (the CSV import's columns), less the id the player makes per dialogue
_PROFILE_KEYS = set(CSV_COLUMNS) - {"external_id"}


def _profile(where: _Where, raw: object) -> Profile:
    data = _mapping(where, "profile", raw, set(), _PROFILE_KEYS)

    def optional(key: str, allowed: Sequence[str] | None = None, limit: int = 200) -> str | None:
        value = data.get(key)
        if value is None:
            return None
        if allowed is not None:
            return _choice(where, f"profile.{key}", value, allowed)
        return _text(where, f"profile.{key}", value, limit)

    zone = optional("timezone", limit=64)
    if zone is not None:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise where.error("profile.timezone", f"{zone!r} is not an IANA time zone") from error
    tags = tuple(_text(where, "profile.tags", t, 40) for t in _list(where, "profile.tags", data.get("tags")))
    if len(tags) > 20:
        raise where.error("profile.tags", "at most 20")
    phones = tuple(_text(where, "profile.phones", p, 32) for p in _list(where, "profile.phones", data.get("phones")))
    for phone in phones:
        normal = normalize_phone(phone)
        if normal is None:
            raise where.error("profile.phones", f"{phone!r} is not a phone number")
        if not normal.startswith("+7"):
            raise where.error("profile.phones", f"{phone!r}: the system of record takes Russian numbers only")
    emails = tuple(_text(where, "profile.emails", e, 254) for e in _list(where, "profile.emails", data.get("emails")))
    for email in emails:
        if not _EMAIL.match(email.strip().lower()):
            raise where.error("profile.emails", f"{email!r} is not an email address")
    accounts = []
    for number, entry in enumerate(_list(where, "profile.accounts", data.get("accounts")), start=1):
        item = _mapping(where, f"profile.accounts[{number}]", entry, {"account_number"}, {"contract_number"})
        value = item["account_number"]
        if not isinstance(value, str) or not _ACCOUNT.match(re.sub(r"[\s-]", "", value)):
            raise where.error("profile.accounts.account_number", f"{value!r} is not 12 digits (quote it)")
        contract = item.get("contract_number")
        if contract is not None:
            contract = _text(where, "profile.accounts.contract_number", contract, 64)
        accounts.append(Account(value, contract))
    opted_out = tuple(
        cast(ConsentChannel, _choice(where, "profile.opted_out", c, get_args(ConsentChannel)))
        for c in _list(where, "profile.opted_out", data.get("opted_out"))
    )
    for name, values in (("phones", phones), ("emails", emails), ("accounts", accounts)):
        if len(values) > 10:
            raise where.error(f"profile.{name}", "at most 10")
    return Profile(
        name=optional("name"),
        segment=cast(Segment | None, optional("segment", get_args(Segment))),
        age_band=cast(AgeBand | None, optional("age_band", get_args(AgeBand))),
        region=optional("region", limit=100),
        timezone=zone,
        language=cast(Lang | None, optional("language", get_args(Lang))),
        preferred_channel=cast(OutreachChannel | None, optional("preferred_channel", get_args(OutreachChannel))),
        tags=tags,
        phones=phones,
        emails=emails,
        accounts=tuple(accounts),
        opted_out=opted_out,
    )


def _history(where: _Where, raw: object, intents: Mapping[str, object]) -> tuple[HistoryItem, ...]:
    items = []
    for number, entry in enumerate(_list(where, "history", raw), start=1):
        name = f"history[{number}]"
        data = _mapping(where, name, entry, {"channel", "days_ago"}, {"intents", "handoff_outcome"})
        days = data["days_ago"]
        if isinstance(days, bool) or not isinstance(days, int | float) or not 0 < days <= 365:
            raise where.error(f"{name}.days_ago", f"must be a number of days in (0, 365], got {days!r}")
        outcome = data.get("handoff_outcome")
        if outcome is not None:
            outcome = _choice(where, f"{name}.handoff_outcome", outcome, get_args(HandoffOutcome))
        items.append(
            HistoryItem(
                channel=cast(
                    ContactChannel, _choice(where, f"{name}.channel", data["channel"], get_args(ContactChannel))
                ),
                days_ago=float(days),
                intents=tuple(
                    _intent(where, f"{name}.intents", i, intents)
                    for i in _list(where, f"{name}.intents", data.get("intents"))
                ),
                handoff_outcome=cast(HandoffOutcome | None, outcome),
            )
        )
    return tuple(items)


def _outreach(where: _Where, raw: object) -> OutreachStep:
    data = _mapping(where, "outreach", raw, {"trigger", "data", "local_time"}, set())
    rules = load_outreach_rules()
    trigger = _choice(where, "outreach.trigger", data["trigger"], sorted(rules.triggers))
    rule = rules.triggers[trigger]
    values = data["data"]
    if not isinstance(values, Mapping):
        raise where.error("outreach.data", "must be a mapping")
    extra = sorted(str(k) for k in values if k not in rule.fields)
    if extra:
        raise where.error(f"outreach.data.{extra[0]}", f"not a field of {trigger} ({', '.join(rule.fields)})")
    checked: dict[str, str] = {}
    for name in rule.fields:
        if name not in values:
            raise where.error(f"outreach.data.{name}", f"missing: {trigger} needs {', '.join(rule.fields)}")
        checked[name] = _text(where, f"outreach.data.{name}", values[name], 200)
    if rule.send == "day_before":
        starts = checked.get("starts_at", "")
        if not _RELATIVE_TIME.match(starts):
            try:
                datetime.fromisoformat(starts)
            except ValueError as error:
                raise where.error("outreach.data.starts_at", f"{starts!r}: +<N>d HH:MM or an ISO date-time") from error
    return OutreachStep(
        trigger=trigger,
        data=checked,
        local_time=cast(LocalTime, _choice(where, "outreach.local_time", data["local_time"], get_args(LocalTime))),
    )


def _turns(where: _Where, raw: object, intents: Mapping[str, object]) -> tuple[Turn, ...]:
    turns = []
    for number, entry in enumerate(_list(where, "turns", raw), start=1):
        name = f"turns[{number}]"
        data = _mapping(where, name, entry, {"say"}, {"gives", "expect_intent"})
        say = _text(where, f"{name}.say", data["say"])
        gives = _data_items(where, f"{name}.gives", data.get("gives"))
        for datum in gives:
            pattern = _GIVES_PATTERN.get(datum)
            if pattern is not None and not pattern.search(say):
                raise where.error(f"{name}.gives", f"gives {datum} but the text holds none")
            if datum == "phone" and not any(normalize_phone(m) for m in _PHONE_CANDIDATE.findall(say)):
                raise where.error(f"{name}.gives", "gives phone but the text holds no phone number")
        intent = data.get("expect_intent")
        turns.append(
            Turn(
                say=say,
                gives=gives,
                expect_intent=None if intent is None else _intent(where, f"{name}.expect_intent", intent, intents),
            )
        )
    return tuple(turns)


def _expectation(where: _Where, raw: object, kind: str) -> Expectation:
    optional = {"never_asked"}
    if kind == "outreach":
        optional |= {"deferred", "not_sent", "sent_channel"}
    elif kind == "consent":
        optional |= {"not_sent", "sent_channel"}
    data = _mapping(where, "expect", raw, {"handoff", "resolved", "tone"}, optional)
    sent = data.get("sent_channel")
    if sent is not None:
        sent = _choice(where, "expect.sent_channel", sent, get_args(OutreachChannel))
    return Expectation(
        handoff=cast(Handoff, _choice(where, "expect.handoff", data["handoff"], get_args(Handoff))),
        resolved=_bool(where, "expect.resolved", data["resolved"]),
        tone=cast(Tone, _choice(where, "expect.tone", data["tone"], get_args(Tone))),
        never_asked=_data_items(where, "expect.never_asked", data.get("never_asked")),
        deferred=_bool(where, "expect.deferred", data.get("deferred", False)),
        not_sent=_bool(where, "expect.not_sent", data.get("not_sent", False)),
        sent_channel=cast(OutreachChannel | None, sent),
    )


_DIALOGUE_KEYS = {"id", "lang", "channel", "kind", "note", "turns", "expect"}
_DIALOGUE_OPTIONAL = {"profile", "history", "outreach", "logged_in"}


def parse_dialogue(raw: object, path: Path, position: int) -> Dialogue:
    """One dialogue of ``path`` (``position`` from 1, for messages before its id is known), checked on its own."""
    where = _Where(path, f"#{position}")
    if isinstance(raw, Mapping) and isinstance(raw.get("id"), str):
        where = _Where(path, raw["id"])
    data = _mapping(where, "", raw, _DIALOGUE_KEYS, _DIALOGUE_OPTIONAL)
    if not isinstance(data["id"], str) or not _ID.match(data["id"]):
        raise where.error("id", f"{data['id']!r}: lower-case letters, digits and '-', at most 80")
    intents = load_catalog().intents
    kind = _choice(where, "kind", data["kind"], get_args(Kind))
    channel = _choice(where, "channel", data["channel"], get_args(Channel))
    profile = None if data.get("profile") is None else _profile(where, data["profile"])
    history = _history(where, data.get("history"), intents)
    outreach = None if data.get("outreach") is None else _outreach(where, data["outreach"])
    turns = _turns(where, data["turns"], intents)
    expect = _expectation(where, data["expect"], kind)
    logged_in = _bool(where, "logged_in", data.get("logged_in", False))
    dialogue = Dialogue(
        id=data["id"],
        lang=cast(Lang, _choice(where, "lang", data["lang"], get_args(Lang))),
        channel=cast(Channel, channel),
        kind=cast(Kind, kind),
        note=_text(where, "note", data["note"], 300),
        turns=turns,
        expect=expect,
        profile=profile,
        history=history,
        outreach=outreach,
        logged_in=logged_in,
        source=path.name,
    )
    _check_sense(where, dialogue)
    return dialogue


def _known(dialogue: Dialogue) -> set[str]:
    """What the service knows before the last turn: the linked profile, earlier turns, the outreach's data."""
    known: set[str] = set()
    profile = dialogue.linked_profile
    if profile is not None:
        if profile.phones:
            known.add("phone")
        if profile.accounts:
            known.add("account_number")
        if profile.emails:
            known.add("email")
    for turn in dialogue.turns[:-1]:
        known.update(turn.gives)
    if dialogue.outreach is not None and dialogue.kind == "outreach" and "order_id" in dialogue.outreach.data:
        known.add("order_id")
    return known


def _check_sense(where: _Where, d: Dialogue) -> None:
    """The rules that tie the fields together (the module docstring)."""
    intents = load_catalog().intents
    if d.logged_in and d.channel != "webchat":
        raise where.error(
            "logged_in", f"only a webchat customer logs in on the company's site; {d.channel} links by the phone"
        )
    if d.logged_in and d.profile is None:
        raise where.error("logged_in", "a logged-in customer is one the records hold: add their profile")
    if d.channel == "webchat" and d.profile is not None and not d.logged_in:
        raise where.error(
            "profile", "a webchat visitor is anonymous: no profile is linked to it unless logged_in: true"
        )
    if d.history and d.profile is None:
        raise where.error("history", "earlier contacts need a profile")
    if d.channel in LINKED_CHANNELS and d.profile is not None and not d.profile.phones:
        raise where.error("profile.phones", f"a {d.channel} dialogue's profile is linked by its first phone")
    unknown = sorted(set(d.expect.never_asked) - _known(d))
    if unknown:
        raise where.error(
            "expect.never_asked",
            f"{unknown[0]} is not known to the service before a later turn (linked profile, earlier turn, outreach)",
        )
    e = d.expect
    if d.kind in ("outreach", "consent"):
        if d.outreach is None:
            raise where.error("outreach", f"a {d.kind} dialogue needs a trigger event")
        if d.channel not in OUTREACH_REPLY_CHANNELS:
            raise where.error(
                "channel", f"an outreach goes out and is answered in {', '.join(sorted(OUTREACH_REPLY_CHANNELS))}"
            )
        if d.profile is None:
            raise where.error("profile", "an outreach needs a customer in the system of record")
        if e.not_sent and e.sent_channel is not None:
            raise where.error("expect.sent_channel", "not with not_sent: true")
        if e.sent_channel == d.channel:
            raise where.error("expect.sent_channel", "the dialogue's own channel is the default: leave it out")
        if d.kind == "consent" and not d.turns:
            raise where.error("turns", "a consent dialogue starts with what the customer says")
        if d.kind == "outreach" and (e.deferred or e.not_sent or e.sent_channel) and d.turns:
            raise where.error("turns", "a message deferred, not sent or sent elsewhere cannot be answered here")
        if e.deferred and e.not_sent:
            raise where.error("expect.deferred", "a message not sent is not deferred either")
    elif d.outreach is not None:
        raise where.error("outreach", "only outreach and consent dialogues have a trigger event")
    elif not d.turns:
        raise where.error("turns", "at least one turn")
    if d.kind == "routine":
        if e.handoff != "none" or not e.resolved:
            raise where.error("expect", "a routine dialogue is resolved by the bot: handoff none, resolved true")
        _check_not_recurring(where, d)
    if d.kind == "sensitive":
        if e.handoff == "none" or e.resolved:
            raise where.error("expect", "a sensitive dialogue goes to a person: a priority, resolved false")
        # a signal may make it more urgent than the intent's catalog priority, never less
        escalating = sorted(
            priority
            for t in d.turns
            if t.expect_intent is not None
            for priority in [intents[t.expect_intent].priority]
            if intents[t.expect_intent].handling == "escalate" and priority is not None
        )
        if escalating and e.handoff > escalating[0]:
            raise where.error("expect.handoff", f"{e.handoff} is less urgent than the catalog's {escalating[0]}")
    if e.handoff != "none" and e.resolved:
        raise where.error("expect.resolved", "a dialogue handed to a person is not resolved by the bot")
    sensitive_intents = [t.expect_intent for t in d.turns if t.expect_intent and intents[t.expect_intent].sensitive]
    if sensitive_intents and e.tone != "formal":
        raise where.error("expect.tone", f"a sensitive case ({sensitive_intents[0]}) is formal")


def _check_not_recurring(where: _Where, d: Dialogue) -> None:
    problems = {t.expect_intent for t in d.turns if t.expect_intent is not None}
    counts = Counter(
        intent for item in d.history if item.days_ago <= RECURRING_DAYS for intent in item.intents if intent in problems
    )
    for intent, times in counts.items():
        handling = load_catalog().intents[intent].handling
        if handling in ("flow", "kb") and times >= RECURRING_COUNT - 1:
            raise where.error("history", f"{intent} {times} times within {RECURRING_DAYS} days: recurring, not routine")


def load_file(path: Path) -> list[Dialogue]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise DialogueError(path, "-", "-", f"not YAML: {error}") from error
    if not isinstance(raw, list) or not raw:
        raise DialogueError(path, "-", "-", "a file is a non-empty YAML list of dialogues")
    return [parse_dialogue(entry, path, number) for number, entry in enumerate(raw, start=1)]


def load_dialogues(directory: Path = DEFAULT_DIR) -> list[Dialogue]:
    """Every dialogue of ``directory``/*.yml, in file and then written order; ``DialogueError`` (a
    ``ValueError``) for the first problem, naming the file, the dialogue and the field."""
    paths = sorted(directory.glob("*.yml"))
    if not paths:
        raise ValueError(f"{directory}: no dialogue files (*.yml)")
    dialogues: list[Dialogue] = []
    seen: dict[str, str] = {}
    owners: dict[tuple[str, str], str] = {}
    for path in paths:
        for dialogue in load_file(path):
            if dialogue.id in seen:
                raise DialogueError(path, dialogue.id, "id", f"already used in {seen[dialogue.id]}")
            seen[dialogue.id] = path.name
            for key in _identifiers(dialogue):
                if key in owners:
                    raise DialogueError(
                        path, dialogue.id, f"profile.{key[0]}", f"{key[1]} is already {owners[key]}'s (one record each)"
                    )
                owners[key] = dialogue.id
            dialogues.append(dialogue)
    return dialogues


def _identifiers(dialogue: Dialogue) -> list[tuple[str, str]]:
    profile = dialogue.profile
    if profile is None:
        return []
    keys = [("phones", normalize_phone(p) or p) for p in profile.phones]
    keys += [("emails", e.strip().lower()) for e in profile.emails]
    keys += [("accounts", re.sub(r"\D", "", a.account_number)) for a in profile.accounts]
    return keys


def composition(dialogues: Sequence[Dialogue]) -> dict[str, int]:
    """Counts: ``total``; ``kind.<kind>``, ``channel.<channel>``, ``lang.<lang>``; ``routine.channel.<channel>``
    (the routine dialogues per channel); ``profile``, ``history``, ``never_asked`` (dialogues with one);
    ``logged_in`` (webchat dialogues of a customer logged in on the site)."""
    counts: Counter[str] = Counter(
        {"total": len(dialogues), "profile": 0, "history": 0, "never_asked": 0, "logged_in": 0}
    )
    for name, values in (("kind", get_args(Kind)), ("channel", get_args(Channel)), ("lang", get_args(Lang))):
        for value in values:
            counts[f"{name}.{value}"] = 0
    for value in get_args(Channel):
        counts[f"routine.channel.{value}"] = 0
    for d in dialogues:
        counts[f"kind.{d.kind}"] += 1
        counts[f"channel.{d.channel}"] += 1
        counts[f"lang.{d.lang}"] += 1
        if d.kind == "routine":
            counts[f"routine.channel.{d.channel}"] += 1
        counts["profile"] += d.profile is not None
        counts["history"] += bool(d.history)
        counts["never_asked"] += bool(d.expect.never_asked)
        counts["logged_in"] += d.logged_in
    return dict(counts)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    directory = Path(args[0]) if args else DEFAULT_DIR
    try:
        dialogues = load_dialogues(directory)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 1
    for key, value in composition(dialogues).items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
