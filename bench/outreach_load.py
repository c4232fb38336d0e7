"""Outreach at load: trigger events through the real gateway, planned, scheduled, sent, and never delivered twice.

    python -m bench.outreach_load [--events 10000] [--customers 2000] [--concurrency 4] [--senders 2]
                                  [--database-url postgresql://postgres@127.0.0.1:5432/test]

What runs, all on this machine:

- the gateway as in production: ``uvicorn gateway.app:create_app --factory`` in a process of its own on a free
  port, so every event crosses a real socket, uvicorn, the app and its services; on Redis (``--redis-url``,
  database 12 by default) under a key prefix of this run's own, and on a system of record of its own: a fresh
  SQLite file in a temp dir, or, when ``--database-url`` (or ``DATABASE_URL``) names a PostgreSQL server, a
  database this run creates there and drops at the end; migrated with zabota.records.migrate;
- the paid outside services as the tests' local fakes over real sockets (tests/fakes): Twilio's Messages API,
  Telegram's Bot API and an SMTP server, which record what they receive;
- customers through ``POST /api/v1/customers`` (a lead's token): preferred SMS, Telegram or email, Russian and
  English, time zones from Kaliningrad to Kamchatka plus London and the Americas (so that, whatever the hour,
  some are in their quiet hours and get deferred), some opted out of a channel or of all, a few unreachable.
  A Telegram chat is linked in the customer's profile in Redis, where the Telegram webhook would put it;
- events through ``POST /api/v1/outreach/events`` (the outreach token) by ``--concurrency`` clients at once, one
  customer's events always in order by one client: every trigger of zabota/outreach/rules.yml, repeats of the
  same (customer, trigger, ref) later (dedupe) and at once (three copies in flight together: an upstream
  system retrying), and more than the daily cap for the busiest customers;
- sending: ``OutreachSender.send_due`` in this process, ``--senders`` of them at once (as several gateway
  workers would; the services built from the same settings), with ``now`` two days ahead so deferred and
  day-before messages go too, until nothing is due (failed deliveries retried as the queue schedules them).

Checks: every answer against a model of the rules (dedupe, the daily cap, the channel each customer gets, who
cannot be written to); deferred messages out of the customer's quiet hours; every scheduled message received by
a provider exactly once, in its channel, by its customer (each message carries its event's ref: the providers'
records are matched back to the scheduled ids); the queue's status "sent" after one attempt; one outreach
contact per sent message in the system of record. Prints a report and, as the last line, one JSON object; exits
1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import itertools
import json
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parents[1]
EVENTS_PATH = "/api/v1/outreach/events"
CUSTOMERS_PATH = "/api/v1/customers"
# Database 12 is nobody's (0 the app, 1 Rasa, 13-15 the tests); the run's key prefix isolates it further.
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"
PREFIX_ENV = "OUTREACH_BENCH_KEY_PREFIX"
# Every event's ref is ZB- and 7 digits and is written into its message, so a provider's record names its event.
REF = re.compile(r"\bZB-\d{7}\b")
TIME_FIELDS = ("starts_at", "ends_at")
SAMPLE_VALUES = {
    "new_date": "12.12",
    "area": "Лесная улица",
    "amount": "1 490 ₽",
    "merchant": "Ozon",
    "feature": "автоплатёж",
    "form": "Заявка на подключение",
}
# (zone, weight): whatever the UTC hour, some of these are in their quiet hours (21:00-09:00) and some are not.
ZONES = (
    ("Europe/Moscow", 30),
    ("Europe/Kaliningrad", 5),
    ("Europe/Samara", 5),
    ("Asia/Yekaterinburg", 8),
    ("Asia/Omsk", 5),
    ("Asia/Novosibirsk", 8),
    ("Asia/Irkutsk", 5),
    ("Asia/Yakutsk", 4),
    ("Asia/Vladivostok", 6),
    ("Asia/Magadan", 3),
    ("Asia/Kamchatka", 3),
    ("Europe/London", 6),
    ("America/New_York", 6),
    ("America/Los_Angeles", 6),
)
CHANNELS = ("telegram", "sms", "email")  # zabota.channels.policy.PROACTIVE_CHANNELS, the order tried
HEAVY_SHARE, HEAVY_WEIGHT = 0.10, 5  # a tenth of the customers get five times the events: over the daily cap
REPEAT_SHARE = 0.15  # an earlier (customer, trigger, ref) again
BURST_SHARE, BURST_COPIES = 0.05, 3  # a new event posted three times at once
BY_EXTERNAL_ID_SHARE = 0.2  # events naming the customer by the company's id instead of ours


# ------------------------------------------------------------------------------------------- the population


@dataclass
class Customer:
    index: int
    external_id: str
    language: str
    timezone: str
    preferred: str
    phone: str | None
    email: str | None
    chat_id: int | None
    opted_out: tuple[str, ...]
    heavy: bool
    customer_id: str = ""

    def address(self, channel: str) -> str | None:
        if channel == "telegram":
            return str(self.chat_id) if self.chat_id is not None else None
        return self.phone if channel == "sms" else self.email if channel == "email" else None

    def expected_channel(self) -> str | None:
        """The rules' channel: the preferred one when reachable and not opted out, else the first such one."""
        for channel in (self.preferred, *CHANNELS):
            if self.address(channel) is not None and channel not in self.opted_out:
                return channel
        return None

    def body(self) -> dict[str, Any]:
        return {
            "external_id": self.external_id,
            "name": f"Клиент {self.index}" if self.language == "ru" else f"Customer {self.index}",
            "language": self.language,
            "timezone": self.timezone,
            "preferred_channel": self.preferred,
            "phones": [self.phone] if self.phone else [],
            "emails": [self.email] if self.email else [],
            "opted_out": list(self.opted_out),
        }


def make_customers(count: int, rng: random.Random) -> list[Customer]:
    zones, zone_weights = zip(*ZONES, strict=True)
    customers = []
    for i in range(count):
        preferred = rng.choices(CHANNELS, (35, 40, 25))[0]
        phone: str | None = f"+7916{i:07d}"
        email = f"c{i:06d}@bench.zabota.example" if preferred == "email" or rng.random() < 0.6 else None
        chat_id = 700_000_000 + i if preferred == "telegram" or rng.random() < 0.1 else None
        opted_out: tuple[str, ...] = ()
        kind = rng.random()
        if kind < 0.02:  # nothing to reach them by
            phone = email = chat_id = None
        elif kind < 0.05:
            opted_out = CHANNELS
        elif kind < 0.15:  # out of the preferred channel: another one, when they have one
            opted_out = (preferred,)
        customers.append(
            Customer(
                index=i,
                external_id=f"bench-{i:06d}",
                language="en" if rng.random() < 0.2 else "ru",
                timezone=rng.choices(zones, zone_weights)[0],
                preferred=preferred,
                phone=phone,
                email=email,
                chat_id=chat_id,
                opted_out=opted_out,
                heavy=rng.random() < HEAVY_SHARE,
            )
        )
    return customers


@dataclass(frozen=True)
class Event:
    customer: int  # index into the customers
    trigger: str
    ref: str
    data: Mapping[str, str]
    by_external_id: bool
    copies: int = 1  # posted this many times at once

    @property
    def triple(self) -> tuple[int, str, str]:
        return (self.customer, self.trigger, self.ref)

    def body(self, customer: Customer) -> dict[str, Any]:
        who = {"external_id": customer.external_id} if self.by_external_id else {"customer_id": customer.customer_id}
        return {"trigger": self.trigger, "ref": self.ref, "data": dict(self.data), **who}


def event_data(fields: Sequence[str], ref: str, zone: ZoneInfo, now: datetime, rng: random.Random) -> dict[str, str]:
    """The event's data, its ref written into the first field that is not a time (so it is in the message)."""
    tagged = next((name for name in fields if name not in TIME_FIELDS), None)
    if tagged is None:
        raise ValueError(f"a trigger with only time fields ({fields}) cannot carry the bench's ref")
    # the maintenance starts 2-40 hours from now, written in the customer's local time (no offset, as a CRM does)
    starts = (now + timedelta(minutes=rng.randint(120, 40 * 60))).astimezone(zone).replace(tzinfo=None)
    data = {}
    for name in fields:
        if name == "starts_at":
            data[name] = starts.isoformat(timespec="minutes")
        elif name == "ends_at":
            data[name] = (starts + timedelta(hours=4)).isoformat(timespec="minutes")
        elif name == "order_id":
            data[name] = ref
        else:
            value = SAMPLE_VALUES.get(name, name.replace("_", " "))
            data[name] = f"{value} {ref}" if name == tagged else value
    return data


def make_events(
    customers: Sequence[Customer], count: int, triggers: Mapping[str, Sequence[str]], rng: random.Random
) -> list[Event]:
    """``count`` posts in all: new events (every trigger in turn), later repeats, bursts of copies at once."""
    now = datetime.now(UTC)
    cumulative = list(itertools.accumulate(HEAVY_WEIGHT if c.heavy else 1 for c in customers))
    names = sorted(triggers)
    earlier: dict[int, list[Event]] = defaultdict(list)
    events: list[Event] = []
    posts = 0
    for serial in itertools.count(1):
        if posts >= count:
            break
        who = bisect.bisect_right(cumulative, rng.random() * cumulative[-1])
        by_external_id = rng.random() < BY_EXTERNAL_ID_SHARE
        draw = rng.random()
        if earlier[who] and draw < REPEAT_SHARE:
            event = replace(rng.choice(earlier[who]), by_external_id=by_external_id, copies=1)
        else:
            trigger = names[serial % len(names)]
            ref = f"ZB-{serial:07d}"
            data = event_data(triggers[trigger], ref, ZoneInfo(customers[who].timezone), now, rng)
            copies = BURST_COPIES if draw > 1 - BURST_SHARE else 1
            event = Event(who, trigger, ref, data, by_external_id, min(copies, count - posts))
            earlier[who].append(event)
        events.append(event)
        posts += event.copies
    return events


# ----------------------------------------------------------------------------------------- what is measured


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))] if ordered else 0.0


def latency(values: Sequence[float], seconds: float) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 0.50), 2),
        "p95": round(percentile(values, 0.95), 2),
        "p99": round(percentile(values, 0.99), 2),
        "mean": round(statistics.fmean(values), 2) if values else 0.0,
        "per_s": round(len(values) / seconds, 1) if seconds > 0 else 0.0,
    }


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    ms: float


@dataclass
class Outcomes:
    """The events' answers compared with what the rules say they should be."""

    counts: Counter[str] = field(default_factory=Counter)
    mismatches: Counter[str] = field(default_factory=Counter)
    channel_mismatches: int = 0
    duplicate_of_unscheduled: int = 0  # a "duplicate" naming an outreach id that was never scheduled
    unscheduled_ids: set[str] = field(default_factory=set)
    duplicate_of_other: int = 0  # a "duplicate" naming another event's id
    scheduled: dict[str, tuple[Event, dict[str, Any]]] = field(default_factory=dict)  # outreach id -> event, answer
    errors: Counter[str] = field(default_factory=Counter)


def judge(
    events: Sequence[Event], answers: Sequence[list[Answer]], customers: Sequence[Customer], cap: int
) -> Outcomes:
    """Replays each customer's events in the order they were posted against the rules: an unreachable or fully
    opted-out customer is not written to; an event already scheduled is a duplicate; otherwise the first
    ``cap`` a day are scheduled and the rest capped (a capped event may come again: capped again)."""
    out = Outcomes()
    seen: dict[tuple[int, str, str], str] = {}  # triple -> its outreach id
    attempts: Counter[int] = Counter()
    for event, posted in zip(events, answers, strict=True):
        for answer in posted:
            if answer.status not in (200, 202):
                out.errors[f"{answer.status} {str(answer.body.get('error', ''))[:40]}"] += 1
        customer = customers[event.customer]
        if customer.expected_channel() is None:
            first = "not_sent"
        elif event.triple in seen:
            first = "duplicate"
        else:
            attempts[event.customer] += 1
            first = "scheduled" if attempts[event.customer] <= cap else "capped"
        expected = Counter([first] + ["duplicate" if first == "scheduled" else first] * (event.copies - 1))
        observed = Counter(str(answer.body.get("status", "error")) for answer in posted)
        out.counts.update(observed)
        if observed != expected:
            out.mismatches[f"{dict(expected)} -> {dict(observed)}"] += 1
        for answer in posted:
            status, outreach_id = answer.body.get("status"), answer.body.get("outreach_id")
            if status == "scheduled" and isinstance(outreach_id, str):
                seen.setdefault(event.triple, outreach_id)
                out.scheduled[outreach_id] = (event, answer.body)
                if answer.body.get("channel") != customer.expected_channel():
                    out.channel_mismatches += 1
        for answer in posted:
            if answer.body.get("status") != "duplicate":
                continue
            named = answer.body.get("outreach_id")
            if named not in out.scheduled:
                out.duplicate_of_unscheduled += 1
                if isinstance(named, str):  # None when the first copy's key was gone again by then
                    out.unscheduled_ids.add(named)
            elif named != seen.get(event.triple):
                out.duplicate_of_other += 1
    return out


def quiet_hours_violations(outcomes: Outcomes, customers: Sequence[Customer], quiet_triggers: set[str]) -> int:
    """Scheduled messages of a trigger that waits out quiet hours whose send time is inside them, or a deferred
    one not at their end (CHANNEL_QUIET_HOURS_START/END, as zabota.channels.policy reads them)."""
    from zabota.channels.policy import ChannelPolicyConfig

    config = ChannelPolicyConfig.from_env()
    start, end = config.quiet_hours_start, config.quiet_hours_end
    violations = 0
    for event, body in outcomes.scheduled.values():
        local = datetime.fromisoformat(str(body["send_at"])).astimezone(ZoneInfo(customers[event.customer].timezone))
        moment = local.time().replace(tzinfo=None)
        quiet = start != end and ((start <= moment < end) if start < end else (moment >= start or moment < end))
        if event.trigger in quiet_triggers:
            if quiet or (body.get("deferred") and moment.replace(second=0, microsecond=0) != end):
                violations += 1
        elif body.get("deferred"):
            violations += 1
    return violations


def late_day_before(outcomes: Outcomes, customers: Sequence[Customer]) -> tuple[int, int]:
    """(day-before messages sent earlier than a day before the start, ones that go only after it started):
    the second is the quiet hours pushing a warning past a start in the night; reported, not failed."""
    early = late = 0
    for event, body in outcomes.scheduled.values():
        if "starts_at" not in event.data:
            continue
        zone = ZoneInfo(customers[event.customer].timezone)
        starts = datetime.fromisoformat(event.data["starts_at"]).replace(tzinfo=zone)
        send_at = datetime.fromisoformat(str(body["send_at"]))
        early += send_at < starts - timedelta(days=1, seconds=1)
        late += send_at > starts
    return early, late


@dataclass(frozen=True)
class Received:
    channel: str
    address: str
    text: str


def received_messages(telegram: Any, twilio: Any, smtp: Any) -> list[Received]:
    """What the three providers accepted, as (channel, address, text)."""
    found = [Received("telegram", str(p.get("chat_id")), str(p.get("text", ""))) for p in telegram.sent_messages()]
    found += [Received("sms", str(m["to"]), str(m["body"])) for m in twilio.messages]
    for mail in smtp.received:
        texts = []
        for part in mail.message.walk():
            if part.get_content_type() == "text/plain":
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    texts.append(payload.decode(part.get_content_charset() or "utf-8", errors="replace"))
        found.append(Received("email", ",".join(mail.rcpt_tos).lower(), "\n".join(texts)))
    return found


@dataclass
class Deliveries:
    by_channel: Counter[str] = field(default_factory=Counter)
    delivered_twice: int = 0  # copies beyond the first of one event's message (its outreach id, its dedupe key)
    scheduled_twice: int = 0  # outreach ids beyond the first of one (customer, trigger, ref): dedupe failed
    missing: int = 0  # scheduled, never received
    unexpected: int = 0  # received, but not of a scheduled message (a capped or refused one, or no ref)
    wrong_recipient: int = 0
    wrong_channel: int = 0


def match_deliveries(received: Sequence[Received], outcomes: Outcomes, customers: Sequence[Customer]) -> Deliveries:
    # a ref is one (customer, trigger, ref): one scheduled outreach id, unless the dedupe failed
    by_ref = {event.ref: (outreach_id, event, body) for outreach_id, (event, body) in outcomes.scheduled.items()}
    ids_per_ref = Counter(event.ref for event, _ in outcomes.scheduled.values())
    owners = {(ch, c.address(ch)): c.index for c in customers for ch in CHANNELS if c.address(ch) is not None}
    result = Deliveries()
    copies: Counter[str] = Counter()
    for message in received:
        result.by_channel[message.channel] += 1
        refs = set(REF.findall(message.text))
        if len(refs) != 1 or next(iter(refs)) not in by_ref:
            result.unexpected += 1
            continue
        ref = next(iter(refs))
        copies[ref] += 1
        _, event, body = by_ref[ref]
        if owners.get((message.channel, message.address)) != event.customer:
            result.wrong_recipient += 1
        if message.channel != body.get("channel"):
            result.wrong_channel += 1
    result.delivered_twice = sum(max(0, n - 1) for n in copies.values())
    result.scheduled_twice = sum(max(0, n - 1) for n in ids_per_ref.values())
    result.missing = sum(1 for ref in by_ref if copies[ref] == 0)
    return result


# ---------------------------------------------------------------------------------------------- the set-up


def use_key_prefix(prefix: str) -> Callable[[], None]:
    """Every zabota Redis key (and pub/sub channel) under ``prefix``, as tests/redis_isolation.py does it; returns
    the undo. ``prefix`` starts with the current root prefix."""
    from zabota import redis_keys

    root = redis_keys.PREFIX
    if not prefix.startswith(root):
        raise ValueError(f"the key prefix {prefix!r} must start with {root!r}")
    saved = {
        name: value
        for name in dir(redis_keys)
        if name.isupper() and isinstance(value := getattr(redis_keys, name), str) and value.startswith(root)
    }
    for name, value in saved.items():
        setattr(redis_keys, name, prefix + value.removeprefix(root))

    def undo() -> None:
        for name, value in saved.items():
            setattr(redis_keys, name, value)

    return undo


@dataclass(frozen=True)
class Database:
    url: str
    dialect: str
    where: str  # for the report


def _libpq(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"postgresql://{rest}" if scheme.split("+", 1)[0] in ("postgres", "postgresql") else url


@contextlib.contextmanager
def own_database(server_url: str, existing: str | None) -> Iterator[Database]:
    """``existing``: that (empty) database, used as it is and left to its owner. Else on PostgreSQL: a database
    created on the server ``server_url`` names (its database is only connected through), dropped at the end;
    otherwise a fresh SQLite file in a temp dir, removed at the end."""
    from zabota.records import RecordsSettings

    if existing:
        settings = RecordsSettings(existing)
        yield Database(existing, settings.dialect, f"{settings.dialect} (given: {settings.redacted()})")
        return
    if server_url and RecordsSettings(server_url).dialect == "postgresql":
        import psycopg

        name = f"zabota_bench_outreach_{secrets.token_hex(6)}"
        server = _libpq(server_url)
        with psycopg.connect(server, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        url = server_url.rsplit("/", 1)[0] + "/" + name
        try:
            yield Database(url, "postgresql", f"PostgreSQL, database {name} (created, dropped at the end)")
        finally:
            with psycopg.connect(server, autocommit=True, connect_timeout=5) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    folder = Path(tempfile.mkdtemp(prefix="zabota-outreach-bench-"))
    try:
        yield Database(f"sqlite:///{folder / 'records.sqlite3'}", "sqlite", f"SQLite, a fresh file in {folder}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Providers:
    telegram: Any
    twilio: Any
    smtp: Any


@contextlib.contextmanager
def providers() -> Iterator[Providers]:
    """The tests' fakes of Telegram, Twilio and SMTP, real servers on loopback ports, in this process's threads.

    Their HTTP handler writes a response's headers and body in two sends; on a kept-alive connection Nagle's
    algorithm then holds the body until the client's delayed ACK, about 40 ms a request, which would be most of
    what the sending measures. TCP_NODELAY on their sockets (here, in this process only) removes the stall and
    nothing else: the same API, the same checks."""
    import logging

    from tests.fakes import http_server
    from tests.fakes.smtp_server import serve_smtp
    from tests.fakes.telegram_api import serve_fake_telegram
    from tests.fakes.twilio_api import serve_fake_twilio

    nagle = http_server.QuietHandler.disable_nagle_algorithm
    http_server.QuietHandler.disable_nagle_algorithm = True
    # aiosmtpd logs every connection at INFO: the fake's chatter, not the service's
    mail_log = logging.getLogger("mail.log")
    mail_level = mail_log.level
    mail_log.setLevel(logging.WARNING)
    try:
        with serve_fake_telegram() as telegram, serve_fake_twilio() as twilio, serve_smtp() as smtp:
            yield Providers(telegram, twilio, smtp)
    finally:
        http_server.QuietHandler.disable_nagle_algorithm = nagle
        mail_log.setLevel(mail_level)


def settings_values(
    redis_url: str, database_url: str, port: int, fakes: Providers, lead_token: str, outreach_token: str, level: str
) -> dict[str, Any]:
    from gateway.operator_auth import token_digest
    from gateway.settings import GatewaySettings
    from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER

    lead = {"id": "bench-lead", "name": "Bench", "role": "lead", "token_sha256": token_digest(lead_token)}
    values: dict[str, Any] = {
        "gateway_host": "127.0.0.1",
        "gateway_port": port,
        "redis_url": redis_url,
        "database_url": database_url,
        "rasa_url": f"http://127.0.0.1:{_free_port()}",  # nobody: outreach never asks the bot
        "rasa_token": secrets.token_urlsafe(16),
        "log_level": level,
        "zabota_operators": json.dumps([lead]),
        "outreach_api_token": outreach_token,
        # the gateway's own loop sends at start-up (nothing is due) and then not again: this run drives sending
        "outreach_interval_seconds": 3600.0,
        "redelivery_interval_seconds": 3600.0,
        "public_base_url": f"http://127.0.0.1:{port}",
        "telegram_bot_token": fakes.telegram.token,
        "telegram_api_base_url": fakes.telegram.api_base_url,
        "telegram_webhook_secret": secrets.token_urlsafe(16),
        "sms_api_base_url": fakes.twilio.url,
        "sms_account_sid": ACCOUNT_SID,
        "sms_auth_token": AUTH_TOKEN,
        "sms_from_number": FROM_NUMBER,
        "smtp_host": fakes.smtp.host,
        "smtp_port": fakes.smtp.port,
        "smtp_starttls": False,
    }
    # every other field at its default, so nothing in this shell's environment (an SMTP_USERNAME, a REDIS_URL)
    # reaches either process
    for name, info in GatewaySettings.model_fields.items():
        if name not in values and not info.is_required():
            values[name] = info.default
    return values


def _free_port() -> int:
    from zabota.stack import free_port

    return free_port()


def gateway_env(values: Mapping[str, Any], prefix: str) -> dict[str, str]:
    from gateway.settings import GatewaySettings

    fields = {name.upper() for name in GatewaySettings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in fields}
    for name, value in values.items():
        if value is None:
            continue
        env[name.upper()] = str(value).lower() if isinstance(value, bool) else str(value)
    env[PREFIX_ENV] = prefix
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


@contextlib.contextmanager
def gateway_process(env: Mapping[str, str], url: str, log_path: Path) -> Iterator[float]:
    """The gateway in a process of its own; yields the seconds it took to answer /health."""
    argv = [sys.executable, "-m", "bench.outreach_load", "--serve-gateway"]
    start = time.perf_counter()
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(argv, cwd=ROOT, env=dict(env), stdout=log_file, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while True:
                if proc.poll() is not None:
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"the gateway exited with {proc.returncode}:\n{tail}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/health", timeout=5).status_code in (200, 503):
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the gateway did not answer within 120 s (log: {log_path})")
                time.sleep(0.2)
            yield time.perf_counter() - start
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def serve_gateway() -> int:
    """The ``--serve-gateway`` process: the production entry point, its Redis keys under the run's prefix."""
    import uvicorn

    from gateway.settings import GatewaySettings

    use_key_prefix(os.environ[PREFIX_ENV])
    settings = GatewaySettings()  # type: ignore[call-arg]  # from the environment the bench wrote
    uvicorn.run("gateway.app:create_app", factory=True, host=settings.gateway_host, port=settings.gateway_port)
    return 0


@contextlib.contextmanager
def logs_to_file(level: str, path: Path) -> Iterator[None]:
    """This process's structured logs (the sender's) into ``path``, as the gateway writes its own; stderr again
    at the end."""
    import logging

    from gateway.logs import configure_logging

    configure_logging(level)
    handlers = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler) and h.get_name() == "zabota-gateway"
    ]
    with path.open("a", encoding="utf-8") as stream:
        for handler in handlers:
            handler.setStream(stream)
        try:
            yield
        finally:
            for handler in handlers:
                handler.setStream(sys.stderr)


# The sender's steps --breakdown times (those that exist: a method gone is skipped).
STEPS = (
    ("gateway.outreach", "OutreachSender", ("_deliver", "_continue_conversation", "_record")),
    ("gateway.outbound", "CustomerChannels", ("send_sms", "send_telegram", "send_email")),
    ("zabota.outreach.queue", "OutreachQueue", ("claim_due", "mark_sent", "mark_failed")),
    ("zabota.records.store", "CustomerRecords", ("get", "record_contact")),
    ("zabota.identity", "CustomerDirectory", ("profile",)),
)


@contextlib.contextmanager
def timed_steps(enabled: bool) -> Iterator[dict[str, list[float]]]:
    """With ``enabled``, the wall time of every call of the sender's steps in this process (nested: a delivery
    includes its provider call and its record read), by "Class.method"; the methods restored at the end."""
    import importlib
    import inspect

    times: dict[str, list[float]] = defaultdict(list)
    originals: list[tuple[Any, str, Any]] = []

    def timed(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await method(*args, **kwargs)
            finally:
                times[name].append((time.perf_counter() - start) * 1000)

        return wrapper

    if enabled:
        for module, class_name, methods in STEPS:
            cls = getattr(importlib.import_module(module), class_name)
            for method in methods:
                if inspect.iscoroutinefunction(original := getattr(cls, method, None)):
                    originals.append((cls, method, original))
                    setattr(cls, method, timed(f"{class_name}.{method}", original))
    try:
        yield times
    finally:
        for cls, method, original in originals:
            setattr(cls, method, original)


def breakdown(times: Mapping[str, Sequence[float]], sent: int) -> dict[str, dict[str, float]]:
    return {
        name: {
            "calls": len(values),
            "ms_each": round(statistics.fmean(values), 2),
            "ms_per_sent_message": round(sum(values) / sent, 2) if sent else 0.0,
        }
        for name, values in sorted(times.items(), key=lambda kv: -sum(kv[1]))
        if values
    }


# -------------------------------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class Options:
    events: int = 10_000
    customers: int = 2_000
    concurrency: int = 4
    senders: int = 2
    seed: int = 10
    database_url: str = ""
    use_database: str | None = None
    redis_url: str = DEFAULT_REDIS_URL
    log_dir: Path = ROOT / ".run" / "logs" / "outreach_load"
    log_level: str = "INFO"
    breakdown: bool = False


async def post_in_lanes(
    client: httpx.AsyncClient,
    lanes: int,
    items: Sequence[tuple[int, int]],  # (lane, copies)
    request: Callable[[int], tuple[str, dict[str, Any], dict[str, str]]],
) -> tuple[list[list[Answer]], float]:
    """Posts item i ``copies`` times at once; each lane's items in order, the lanes concurrently."""
    answers: list[list[Answer]] = [[] for _ in items]

    async def one(i: int) -> Answer:
        path, body, headers = request(i)
        start = time.perf_counter()
        response = await client.post(path, json=body, headers=headers)
        ms = (time.perf_counter() - start) * 1000
        try:
            data = response.json()
        except ValueError:
            data = {"error": response.text[:80]}
        return Answer(response.status_code, data if isinstance(data, dict) else {"error": str(data)[:80]}, ms)

    async def lane(number: int) -> None:
        for i, (owner, copies) in enumerate(items):
            if owner == number:
                answers[i] = list(await asyncio.gather(*(one(i) for _ in range(copies))))

    start = time.perf_counter()
    await asyncio.gather(*(lane(n) for n in range(lanes)))
    return answers, time.perf_counter() - start


async def run(options: Options) -> dict[str, Any]:
    from redis.exceptions import RedisError
    from sqlalchemy import func, select

    from gateway.app import build_services, make_redis
    from gateway.settings import GatewaySettings
    from zabota import redis_keys
    from zabota.outreach.planning import load_outreach_rules
    from zabota.records import RecordsSettings
    from zabota.records.migrate import upgrade
    from zabota.records.schema import Contact

    rng = random.Random(options.seed)
    rules = load_outreach_rules()
    customers = make_customers(options.customers, rng)
    events = make_events(customers, options.events, {n: r.fields for n, r in rules.triggers.items()}, rng)
    options.log_dir.mkdir(parents=True, exist_ok=True)
    prefix = f"{redis_keys.PREFIX}bench-outreach-{secrets.token_hex(6)}:"
    lead_token, outreach_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    result: dict[str, Any] = {}

    with (
        providers() as fakes,
        own_database(options.database_url, options.use_database) as database,
        logs_to_file(options.log_level, options.log_dir / "sender.log"),
    ):
        upgrade(RecordsSettings(database.url))
        values = settings_values(
            options.redis_url, database.url, port, fakes, lead_token, outreach_token, options.log_level
        )
        redis = make_redis(options.redis_url)
        try:
            await redis.ping()
        except (OSError, RedisError) as error:
            await redis.aclose()
            raise SystemExit(
                f"Redis at {options.redis_url} does not answer ({error}): start it or --redis-url"
            ) from None
        undo_prefix = use_key_prefix(prefix)
        try:
            with gateway_process(gateway_env(values, prefix), url, options.log_dir / "gateway.log") as started_s:
                services = build_services(GatewaySettings(**values), redis)
                try:
                    result = await _measure(
                        options, url, customers, events, rules, services, lead_token, outreach_token, fakes
                    )
                    result["gateway_start_s"] = round(started_s, 1)
                    result.update(await _send_everything(options, services, redis))
                    await _check_after_sending(result, services, fakes, customers, url, outreach_token)
                    async with services.records.engine.connect() as connection:
                        contacts = await connection.scalar(
                            select(func.count()).select_from(Contact).where(Contact.channel == "outreach")
                        )
                    result["outreach_contacts_recorded"] = int(contacts or 0)
                finally:
                    await services.channels.aclose()
                    await services.records.engine.dispose()
        finally:
            keys = [key async for key in redis.scan_iter(match=prefix + "*", count=1000)]
            for chunk in range(0, len(keys), 1000):
                await redis.delete(*keys[chunk : chunk + 1000])
            await redis.aclose()
            undo_prefix()
        result["database"] = database.dialect
        result["database_where"] = database.where
    result["redis"] = f"{options.redis_url} under {prefix}* ({len(keys)} keys, deleted)"
    return result


async def _send_everything(options: Options, services: Any, redis: Any) -> dict[str, Any]:
    """``--senders`` OutreachSenders at once, with their clock two days ahead, until nothing is due; again past
    each retry's wait while anything is left (a failed delivery), as often as the queue retries."""
    from gateway.outreach import OutreachSender
    from zabota import redis_keys
    from zabota.outreach.queue import MAX_ATTEMPTS, RETRY_SECONDS

    now = time.time() + 2 * 24 * 3600
    sent = rounds = 0
    with timed_steps(options.breakdown) as steps:
        start = time.perf_counter()
        for _ in range(MAX_ATTEMPTS):
            workers = [OutreachSender(services, 3600.0) for _ in range(options.senders)]
            sent += sum(await asyncio.gather(*(_send_all(worker, redis, now) for worker in workers)))
            rounds += 1
            if not await redis.zcard(redis_keys.OUTREACH_SCHEDULE):
                break
            now += RETRY_SECONDS + 1
        seconds = time.perf_counter() - start
    result: dict[str, Any] = {
        "sent": sent,
        "left_in_schedule": int(await redis.zcard(redis_keys.OUTREACH_SCHEDULE)),
        "send_s": round(seconds, 2),
        "send_ms_per_message": round(seconds * 1000 / sent, 2) if sent else 0.0,
        "messages_per_s": round(sent / seconds, 1) if seconds > 0 else 0.0,
        "send_rounds": rounds,
        "senders": options.senders,
    }
    if options.breakdown:
        result["send_breakdown"] = breakdown(steps, sent)
    return result


async def _send_all(sender: Any, redis: Any, now: float) -> int:
    """One worker: ``send_due`` until nothing is due at ``now``."""
    from zabota import redis_keys

    sent = 0
    while await redis.zcount(redis_keys.OUTREACH_SCHEDULE, "-inf", now):
        sent += int(await sender.send_due(now))
    return sent


async def _measure(
    options: Options,
    url: str,
    customers: list[Customer],
    events: list[Event],
    rules: Any,
    services: Any,
    lead_token: str,
    outreach_token: str,
    fakes: Providers,
) -> dict[str, Any]:
    lanes = max(1, options.concurrency)
    limits = httpx.Limits(max_connections=lanes * BURST_COPIES, max_keepalive_connections=lanes * BURST_COPIES)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        lead = {"Authorization": f"Bearer {lead_token}"}
        made, customers_s = await post_in_lanes(
            client,
            lanes,
            [(c.index % lanes, 1) for c in customers],
            lambda i: (CUSTOMERS_PATH, customers[i].body(), lead),
        )
        for customer, [answer] in zip(customers, made, strict=True):
            if answer.status != 201:
                raise RuntimeError(f"POST {CUSTOMERS_PATH} answered {answer.status}: {answer.body}")
            customer.customer_id = str(answer.body["customer_id"])
            if customer.chat_id is not None:  # where the Telegram webhook links a chat
                await services.customers.update_profile(customer.customer_id, telegram_chat_id=customer.chat_id)
        auth = {"Authorization": f"Bearer {outreach_token}"}
        day = datetime.now(UTC).date()
        answers, events_s = await post_in_lanes(
            client,
            lanes,
            [(e.customer % lanes, e.copies) for e in events],
            lambda i: (EVENTS_PATH, events[i].body(customers[events[i].customer]), auth),
        )
        crossed_midnight = datetime.now(UTC).date() != day
    outcomes = judge(events, answers, customers, rules.max_per_customer_per_day)
    quiet = {name for name, rule in rules.triggers.items() if rule.quiet_hours == "defer"}
    early, late = late_day_before(outcomes, customers)
    event_ms = [a.ms for posted in answers for a in posted]
    customer_ms = [a.ms for [a] in made]
    return {
        "events": len(event_ms),
        "distinct_events": len({e.triple for e in events}),
        "customers": len(customers),
        "concurrency": lanes,
        "triggers": sorted(Counter(e.trigger for e in events for _ in range(e.copies)).items()),
        "scheduled": outcomes.counts["scheduled"],
        "duplicates_refused": outcomes.counts["duplicate"],
        "capped": outcomes.counts["capped"],
        "not_sent": outcomes.counts["not_sent"],
        "deferred": sum(1 for _, body in outcomes.scheduled.values() if body.get("deferred")),
        "scheduled_by_channel": dict(Counter(str(b.get("channel")) for _, b in outcomes.scheduled.values())),
        "errors": dict(outcomes.errors),
        "model_mismatches": sum(outcomes.mismatches.values()),
        "model_mismatch_kinds": dict(outcomes.mismatches.most_common(5)),
        "crossed_utc_midnight": crossed_midnight,
        "channel_mismatches": outcomes.channel_mismatches,
        "duplicate_of_unscheduled": outcomes.duplicate_of_unscheduled,
        "duplicate_of_other": outcomes.duplicate_of_other,
        "quiet_hours_violations": quiet_hours_violations(outcomes, customers, quiet),
        "day_before_too_early": early,
        "day_before_after_start": late,
        "event_ms": latency(event_ms, events_s),
        "events_s": round(events_s, 2),
        "customer_ms": latency(customer_ms, customers_s),
        "customers_s": round(customers_s, 2),
        "_outcomes": outcomes,
    }


async def _check_after_sending(
    result: dict[str, Any], services: Any, fakes: Providers, customers: list[Customer], url: str, token: str
) -> None:
    outcomes: Outcomes = result.pop("_outcomes")
    deliveries = match_deliveries(received_messages(fakes.telegram, fakes.twilio, fakes.smtp), outcomes, customers)
    statuses: Counter[str] = Counter()
    retried = 0
    for outreach_id in outcomes.scheduled:
        status = await services.outreach.status(outreach_id) or {}
        statuses[status.get("status", "lost")] += 1
        retried += int(status.get("attempts", "0")) > 1
    # the status API itself, for a sample
    sample = list(outcomes.scheduled)[:200]
    unknown = sorted(outcomes.unscheduled_ids)[:50]
    api_sent = api_unknown = 0
    async with httpx.AsyncClient(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
        for outreach_id in sample:
            response = await client.get(f"/api/v1/outreach/{outreach_id}")
            api_sent += response.status_code == 200 and response.json().get("status") == "sent"
        # the ids some "duplicate" answers named without any message of that id scheduled
        for outreach_id in unknown:
            api_unknown += (await client.get(f"/api/v1/outreach/{outreach_id}")).status_code == 404
    result.update(
        received=sum(deliveries.by_channel.values()),
        received_by_channel=dict(deliveries.by_channel),
        delivered_twice=deliveries.delivered_twice,
        scheduled_twice=deliveries.scheduled_twice,
        missing=deliveries.missing,
        unexpected=deliveries.unexpected,
        wrong_recipient=deliveries.wrong_recipient,
        wrong_channel=deliveries.wrong_channel,
        statuses=dict(statuses),
        failed=statuses["failed"],
        retried=retried,
        status_api_sample=f"{api_sent}/{len(sample)} sent",
        status_api_unknown_duplicates=f"{api_unknown}/{len(unknown)} answered 404",
    )


def failed_checks(result: Mapping[str, Any]) -> list[str]:
    checks = {
        "delivered_twice == 0": result["delivered_twice"] == 0,
        "scheduled_twice == 0": result["scheduled_twice"] == 0,
        "received == scheduled": result["received"] == result["scheduled"],
        "sent == scheduled": result["sent"] == result["scheduled"],
        "missing == 0": result["missing"] == 0,
        "unexpected == 0": result["unexpected"] == 0,
        "wrong_recipient == 0": result["wrong_recipient"] == 0,
        "wrong_channel == 0": result["wrong_channel"] == 0,
        "failed == 0": result["failed"] == 0,
        "nothing left in the schedule": result["left_in_schedule"] == 0,
        "one outreach contact per sent message": result["outreach_contacts_recorded"] == result["sent"],
        "no HTTP errors": not result["errors"],
        "answers as the rules say": result["model_mismatches"] == 0 or result["crossed_utc_midnight"],
        "channels as the rules say": result["channel_mismatches"] == 0,
        "duplicates name the first message": result["duplicate_of_unscheduled"] + result["duplicate_of_other"] == 0,
        "quiet hours kept": result["quiet_hours_violations"] == 0,
        "day-before never earlier": result["day_before_too_early"] == 0,
    }
    return [name for name, ok in checks.items() if not ok]


def report(result: Mapping[str, Any]) -> list[str]:
    ev, cu = result["event_ms"], result["customer_ms"]
    lines = [
        f"Outreach at load: {result['events']} events ({result['distinct_events']} distinct) for "
        f"{result['customers']} customers, {result['concurrency']} clients at once; {os.cpu_count()} CPUs",
        f"  database: {result['database_where']}",
        f"  redis:    {result['redis']}",
        f"  gateway:  uvicorn in its own process, up in {result['gateway_start_s']} s",
        f"customers created  {result['customers_s']:>7} s   p50 {cu['p50']} ms  p95 {cu['p95']} ms  ({cu['per_s']}/s)",
        f"events posted      {result['events_s']:>7} s   p50 {ev['p50']} ms  p95 {ev['p95']} ms  p99 {ev['p99']} ms  "
        f"mean {ev['mean']} ms  ({ev['per_s']} events/s)",
        f"  scheduled {result['scheduled']} (deferred {result['deferred']}; by channel "
        f"{result['scheduled_by_channel']}), duplicates refused {result['duplicates_refused']}, "
        f"capped {result['capped']}, not sent {result['not_sent']}",
        f"  against the rules: {result['model_mismatches']} answers differ, {result['channel_mismatches']} channels; "
        f"duplicates naming no scheduled message {result['duplicate_of_unscheduled']}, another "
        f"{result['duplicate_of_other']} (GET of those: {result['status_api_unknown_duplicates']}); quiet-hours "
        f"violations {result['quiet_hours_violations']}",
        f"  day-before warnings that go after the start (quiet hours): {result['day_before_after_start']}",
        f"sending            {result['send_s']:>7} s   {result['send_ms_per_message']} ms a message "
        f"({result['messages_per_s']}/s, {result['senders']} senders at once, {result['send_rounds']} round(s))",
        f"  sent {result['sent']}, failed {result['failed']}, retried {result['retried']}, left "
        f"{result['left_in_schedule']}; statuses {result['statuses']}; status API {result['status_api_sample']}",
        f"  providers received {result['received']} {result['received_by_channel']}; delivered twice "
        f"{result['delivered_twice']} (scheduled twice {result['scheduled_twice']}), missing {result['missing']}, "
        f"unexpected {result['unexpected']}, "
        f"wrong recipient {result['wrong_recipient']}, wrong channel {result['wrong_channel']}",
        f"  outreach contacts recorded: {result['outreach_contacts_recorded']}",
    ]
    for name, step in result.get("send_breakdown", {}).items():
        lines.append(
            f"  step {name:38} {step['calls']:>6} calls  {step['ms_each']:>7} ms each  "
            f"{step['ms_per_sent_message']:>7} ms a sent message"
        )
    for kind, count in result["model_mismatch_kinds"].items():
        lines.append(f"  answers differ: {count} x {kind}")
    if result["errors"]:
        lines.append(f"  HTTP errors: {result['errors']}")
    if result["crossed_utc_midnight"]:
        lines.append("  the run crossed UTC midnight: the daily cap restarted, answers may differ from the model")
    failed = result["checks_failed"]
    lines.append("all checks passed" if not failed else f"CHECKS FAILED: {', '.join(failed)}")
    return lines


def summary_json(result: Mapping[str, Any]) -> dict[str, Any]:
    ev = result["event_ms"]
    head = {
        "events": result["events"],
        "scheduled": result["scheduled"],
        "duplicates_refused": result["duplicates_refused"],
        "capped": result["capped"],
        "not_sent": result["not_sent"],
        "deferred": result["deferred"],
        "sent": result["sent"],
        "received": result["received"],
        "delivered_twice": result["delivered_twice"],
        "failed": result["failed"],
        "event_ms_p50": ev["p50"],
        "event_ms_p95": ev["p95"],
        "event_ms_p99": ev["p99"],
        "event_ms_mean": ev["mean"],
        "events_per_s": ev["per_s"],
        "send_ms_per_message": result["send_ms_per_message"],
        "messages_per_s": result["messages_per_s"],
        "database": result["database"],
    }
    rest = {
        k: v
        for k, v in result.items()
        if k not in head and k not in ("event_ms", "database_where", "redis", "triggers") and not k.startswith("_")
    }
    return {**head, **rest, "cpus": os.cpu_count()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000, help="trigger events to post (default 10000)")
    parser.add_argument("--customers", type=int, default=2_000, help="customers to create first (default 2000)")
    parser.add_argument("--concurrency", type=int, default=4, help="clients posting at once (default 4)")
    parser.add_argument("--senders", type=int, default=2, help="OutreachSenders sending at once (default 2)")
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", ""),
        help="a PostgreSQL server to create (and drop) the run's own database on; default $DATABASE_URL; "
        "SQLite or empty: a fresh SQLite file in a temp dir",
    )
    parser.add_argument("--use-database", help="an existing empty database to migrate and use as it is (tests)")
    parser.add_argument("--redis-url", default=os.environ.get("OUTREACH_BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument("--log-dir", type=Path, default=Options.log_dir, help="gateway.log and sender.log")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--breakdown", action="store_true", help="time the sender's steps (wrapped, this process)")
    parser.add_argument("--serve-gateway", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_gateway:
        return serve_gateway()
    if args.events < 1 or args.customers < 1:
        parser.error("--events and --customers must be positive")
    options = Options(
        events=args.events,
        customers=args.customers,
        concurrency=args.concurrency,
        senders=max(1, args.senders),
        seed=args.seed,
        database_url=args.database_url,
        use_database=args.use_database,
        redis_url=args.redis_url,
        log_dir=args.log_dir,
        log_level=args.log_level.upper(),
        breakdown=args.breakdown,
    )
    result = asyncio.run(run(options))
    result["checks_failed"] = failed_checks(result)
    print("\n".join(report(result)))
    print(json.dumps(summary_json(result), ensure_ascii=False))
    return 1 if result["checks_failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
