"""The evaluation dialogues played through the real running service: ``make eval-dialogues``.

    python -m bench.eval_dialogues [--dir bench/data/dialogues] [--only ID-SUBSTRING] [--verbose]

Starts the whole stack on free ports (a private Redis, the trained model, the action server with the KB index,
the gateway on a fresh SQLite system of record) with local fakes of the paid outside services only (Telegram's
Bot API, Twilio, an SMTP server, tests/fakes), then plays each dialogue of bench/data/dialogues (bench/dialogue_set.py)
through the public APIs alone:

- its profile and history through ``POST /api/v1/customers`` and ``/customers/{id}/contacts`` (lead token);
- its turns through the channel's own entry: ``POST /api/v1/webchat/messages`` (a customer logged in on the
  company's site, ``logged_in: true``, sends each message with ``identity``: a token signed for the profile's
  external id with the gateway's ``WEBCHAT_IDENTITY_SECRET``, zabota/site_identity.py; a refused token is a
  problem of the dialogue, and the message goes again without it, as the widget does), Telegram's webhook (a linked
  customer shares the profile's phone first), ``POST /api/v1/voice/events`` (the caller is the profile's phone),
  Twilio's signed SMS webhook (the sender is the profile's phone);
- its outreach through ``POST /api/v1/outreach/events`` (the profile's time zone chosen so that it is night or
  day where the customer is, now), waiting for the sender to deliver it;
- what happened through the operator API (``GET /api/v1/operator/queue``: the handoffs this dialogue opened).

What the customer received is what the fakes received (Telegram, SMS) or the API answered (webchat, voice).

Scores (each over the dialogues it applies to):

- ``containment``: routine dialogues resolved by the bot: no handoff, no "please rephrase" or out-of-scope answer,
  and nothing asked again;
- ``asked_again``: bot questions for a datum the service already knew (the linked profile's phone, email or
  account; a datum an earlier turn gave; the outreach's order number) - the bot's ask responses in every tone;
- ``sensitive_to_human``: dialogues that must reach a person (sensitive ones, a "no" to a fraud check) whose
  handoff was opened at the expected priority or a more urgent one; ``exact_priority`` the share at exactly it;
- ``tone_as_rules``: of the bot's replies whose wording identifies a tone (bot/domain.yml's variants), the
  share in the tone the dialogue expects; voice is matched on the spoken first sentence;
- ``deferred_ok``: outreach expected deferred (quiet hours) or not, as the outreach API answered;
- ``opt_out_ok``: opted-out channels never written to: the outreach not sent, or sent in the expected other
  channel, and nothing delivered to the opted-out one.

Prints one line per dialogue that missed anything, a table, and as the last line one JSON object with
``containment``, ``asked_again``, ``sensitive_to_human``, ``n`` and the rest.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import yaml

from bench.dialogue_set import DEFAULT_DIR, Dialogue, load_dialogues, local_now, zone_for

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = ROOT / "bot" / "domain.yml"
PRIORITY_RANK = {"p1": 1, "p2": 2, "p3": 3, "p4": 4}
# the bot's questions for each datum (bot/domain.yml): a reply holding one asks for it
ASK_RESPONSES = {
    "phone": "utter_ask_phone",
    "address": "utter_ask_address",
    "order_id": "utter_ask_order_id",
    "date": "utter_ask_date",
    "amount": "utter_ask_amount",
}
# the bot did not understand or cannot help: not a contained dialogue
MISS_RESPONSES = ("utter_please_rephrase", "utter_out_of_scope")


# --- what the bot's wording tells ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    response: str
    lang: str | None
    tone: str | None
    pattern: re.Pattern[str]
    first_sentence: re.Pattern[str]


def _template_pattern(text: str) -> re.Pattern[str]:
    parts = re.split(r"\{[a-z_]+\}", " ".join(text.split()))
    return re.compile(r".+?".join(re.escape(part) for part in parts), re.DOTALL)


def _first_sentence(text: str) -> str:
    match = re.match(r"(.+?[.!?])(?:\s|$)", " ".join(text.split()))
    return match.group(1) if match else text


def load_variants(path: Path = DOMAIN) -> list[Variant]:
    domain = yaml.safe_load(path.read_text(encoding="utf-8"))
    variants: list[Variant] = []
    for name, entries in (domain.get("responses") or {}).items():
        for entry in entries or []:
            text = entry.get("text")
            if not isinstance(text, str):
                continue
            conditions = {c.get("name"): c.get("value") for c in entry.get("condition") or []}
            lang = conditions.get("lang")
            variants.append(
                Variant(
                    response=str(name),
                    lang=str(lang) if lang else None,
                    tone=str(conditions["tone"]) if conditions.get("tone") else None,
                    pattern=_template_pattern(text),
                    first_sentence=_template_pattern(_first_sentence(text)),
                )
            )
    return variants


class Wording:
    """Which of the bot's responses (and in which tone) a text the customer received is."""

    def __init__(self, variants: Sequence[Variant]) -> None:
        self._variants = variants

    def matches(self, text: str, *, spoken: bool = False) -> list[Variant]:
        flat = " ".join(text.split())
        found = []
        for variant in self._variants:
            if spoken:
                if variant.first_sentence.match(flat):
                    found.append(variant)
            elif variant.pattern.search(flat):
                found.append(variant)
        return found

    def asks_for(self, text: str, *, spoken: bool = False) -> set[str]:
        names = {v.response for v in self.matches(text, spoken=spoken)}
        return {datum for datum, response in ASK_RESPONSES.items() if response in names}

    def is_miss(self, text: str, *, spoken: bool = False) -> bool:
        return any(v.response in MISS_RESPONSES for v in self.matches(text, spoken=spoken))

    def tones(self, text: str, *, spoken: bool = False) -> set[str]:
        """The tones whose wording this text is (empty: it tells no tone, e.g. an article or a gateway text)."""
        matched = [v for v in self.matches(text, spoken=spoken) if v.tone is not None]
        tones = {v.tone for v in matched if v.tone}
        # a response whose variants all read the same in every tone tells nothing
        return set() if len(tones) == 3 else tones


# --- the running service -------------------------------------------------------------------------------------
@dataclass
class Service:
    gateway: httpx.Client
    public_url: str
    lead: str
    operator: str
    voice: str
    outreach: str
    telegram_secret: str
    telegram: Any  # tests.fakes.telegram_api.FakeTelegram
    twilio: Any  # tests.fakes.twilio_api.FakeTwilio
    smtp: Any  # tests.fakes.smtp_server.FakeSmtp
    identity_secret: str  # WEBCHAT_IDENTITY_SECRET: what the company's site signs its logged-in customer with


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@contextmanager
def running_service() -> Iterator[Service]:
    from tests.fakes.smtp_server import serve_smtp
    from tests.fakes.telegram_api import DEFAULT_TOKEN, serve_fake_telegram
    from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, serve_fake_twilio
    from zabota.stack import Stack, StackSettings, free_port

    lead, operator, voice, outreach, secret = (uuid.uuid4().hex for _ in range(5))
    identity_secret = secrets.token_hex(32)  # the gateway takes at least 32 characters
    operators = [
        {"id": "lena", "name": "Елена", "role": "lead", "token_sha256": _digest(lead)},
        {"id": "anna", "name": "Анна", "role": "operator", "token_sha256": _digest(operator)},
    ]
    with (
        serve_fake_telegram() as telegram,
        serve_fake_twilio() as twilio,
        serve_smtp() as smtp,
        tempfile.TemporaryDirectory(prefix="zabota-eval-") as tmp,
    ):
        port = free_port()
        public = f"http://127.0.0.1:{port}"
        settings = StackSettings(
            # a Redis URL nothing answers: the stack starts a private Redis rather than touching a running one
            redis_url=f"redis://127.0.0.1:{free_port()}/0",
            rasa_port=free_port(),
            action_port=free_port(),
            gateway_port=port,
            voice_token=voice,
            log_dir=ROOT / ".run" / "logs" / "eval_dialogues",
            extra_env={
                "ZABOTA_OPERATORS": json.dumps(operators),
                "DATABASE_URL": f"sqlite:///{tmp}/records.sqlite3",
                "OUTREACH_API_TOKEN": outreach,
                "OUTREACH_INTERVAL_SECONDS": "0.5",
                "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
                "TELEGRAM_API_BASE_URL": telegram.api_base_url,
                "TELEGRAM_WEBHOOK_SECRET": secret,
                "SMS_API_BASE_URL": twilio.url,
                "SMS_ACCOUNT_SID": ACCOUNT_SID,
                "SMS_AUTH_TOKEN": AUTH_TOKEN,
                "SMS_FROM_NUMBER": FROM_NUMBER,
                "SMTP_HOST": smtp.host,
                "SMTP_PORT": str(smtp.port),
                "SMTP_STARTTLS": "false",
                "PUBLIC_BASE_URL": public,
                "RATE_LIMIT_PER_MINUTE": "100000",
                "WEBCHAT_IDENTITY_SECRET": identity_secret,
            },
        )
        stack = Stack(settings)
        try:
            stack.start()
            with httpx.Client(base_url=stack.gateway_url, timeout=120) as client:
                yield Service(
                    client, public, lead, operator, voice, outreach, secret, telegram, twilio, smtp, identity_secret
                )
        finally:
            stack.stop()


# --- one dialogue ----------------------------------------------------------------------------------------------
@dataclass
class Played:
    dialogue: Dialogue
    # what the customer received after each turn: (text, spoken)
    replies: list[list[tuple[str, bool]]] = field(default_factory=list)
    handoffs: list[dict[str, Any]] = field(default_factory=list)
    outreach_answer: dict[str, Any] | None = None
    outreach_delivered: list[str] = field(default_factory=list)  # channels it reached
    problems: list[str] = field(default_factory=list)
    # the gateway refused the logged-in customer's site identity at least once (the dialogue is not contained)
    identity_refused: bool = False


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _fresh_phone(rng: random.Random) -> str:
    return "+7999" + "".join(rng.choices("0123456789", k=7))


def _ok(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code >= 300:
        raise RuntimeError(f"{what}: {response.status_code} {response.text[:300]}")
    is_json = response.headers.get("content-type", "").startswith("application/json")
    body: dict[str, Any] = response.json() if response.content and is_json else {}
    return body


class Player:
    def __init__(self, service: Service, rng: random.Random) -> None:
        self.s = service
        self.rng = rng

    def play(self, dialogue: Dialogue) -> Played:
        from tests.fakes.telegram_api import contact_update, text_update, tg_user

        s, played = self.s, Played(dialogue)
        now = datetime.now(UTC)
        before = {item["handoff_id"] for item in self._queue()}
        zone = zone_for(dialogue.outreach.local_time, now) if dialogue.outreach is not None else None
        customer_id = None
        if dialogue.profile is not None:
            body = dialogue.profile.to_api(dialogue.external_id, timezone_override=zone)
            customer_id = _ok(s.gateway.post("/api/v1/customers", json=body, headers=_bearer(s.lead)), "profile")[
                "customer_id"
            ]
            for number, item in enumerate(dialogue.history):
                contact = item.to_api(f"eval-{dialogue.id}-{number}", now)
                _ok(
                    s.gateway.post(f"/api/v1/customers/{customer_id}/contacts", json=contact, headers=_bearer(s.lead)),
                    "history",
                )
        linked = dialogue.linked_profile
        phone = linked.phone if linked is not None and linked.phone else _fresh_phone(self.rng)
        user = tg_user(user_id=self.rng.randint(10**8, 10**9), language_code=dialogue.lang)
        chat_id = int(user["id"])
        web_sender = "eval-" + uuid.uuid4().hex[:12]
        call_id = "call-" + uuid.uuid4().hex[:10]

        def telegram_messages() -> list[str]:
            return [str(m.get("text") or "") for m in s.telegram.sent_messages() if m.get("chat_id") == chat_id]

        def sms_messages() -> list[str]:
            return [str(m.get("body") or "") for m in s.twilio.messages if m.get("to") == phone]

        if dialogue.channel == "telegram" and linked is not None:
            update = contact_update(phone.lstrip("+"), user, contact_user_id=user["id"])
            _ok(s.gateway.post("/webhooks/telegram", json=update, headers=self._tg_headers()), "contact")

        def send_outreach() -> None:
            assert dialogue.outreach is not None and customer_id is not None
            step = dialogue.outreach
            data = step.resolved_data(local_now(zone or "Europe/Moscow", datetime.now(UTC)))
            tg_before, sms_before, mail_before = len(telegram_messages()), len(sms_messages()), len(s.smtp.messages)
            answer = s.gateway.post(
                "/api/v1/outreach/events",
                json={"trigger": step.trigger, "customer_id": customer_id, "ref": f"eval-{dialogue.id}", "data": data},
                headers=_bearer(s.outreach),
            )
            played.outreach_answer = _ok(answer, "outreach")
            if played.outreach_answer.get("status") == "scheduled" and not played.outreach_answer.get("deferred"):
                outreach_id = played.outreach_answer["outreach_id"]
                self._wait(
                    lambda: (
                        _ok(
                            s.gateway.get(f"/api/v1/outreach/{outreach_id}", headers=_bearer(s.outreach)), "status"
                        ).get("status")
                        in ("sent", "failed")
                    ),
                    "the outreach to be sent",
                )
            if len(telegram_messages()) > tg_before:
                played.outreach_delivered.append("telegram")
            if len(sms_messages()) > sms_before:
                played.outreach_delivered.append("sms")
            if len(s.smtp.messages) > mail_before:
                played.outreach_delivered.append("email")

        if dialogue.outreach is not None and dialogue.kind == "outreach":
            send_outreach()

        for number, turn in enumerate(dialogue.turns, start=1):
            if dialogue.channel == "webchat":
                message: dict[str, Any] = {"sender_id": web_sender, "text": turn.say}
                if dialogue.logged_in:
                    message["identity"] = self._site_identity(dialogue)
                answer = s.gateway.post("/api/v1/webchat/messages", json=message)
                if "identity" in message and answer.status_code in (400, 401, 404):
                    played.identity_refused = True
                    code = answer.json().get("error") if answer.content else None
                    played.problems.append(f"turn {number}: site identity refused ({answer.status_code} {code})")
                    # the widget goes on without the token: the customer is never left unable to write
                    del message["identity"]
                    answer = s.gateway.post("/api/v1/webchat/messages", json=message)
                body = _ok(answer, "webchat")
                played.replies.append([(str(r.get("text") or ""), False) for r in body.get("replies", [])])
            elif dialogue.channel == "telegram":
                seen = len(telegram_messages())
                update = text_update(turn.say, user)
                _ok(s.gateway.post("/webhooks/telegram", json=update, headers=self._tg_headers()), "telegram")
                played.replies.append([(text, False) for text in telegram_messages()[seen:]])
            elif dialogue.channel == "voice":
                seen = len(sms_messages())
                event = {"call_id": call_id, "caller": phone, "text": turn.say}
                body = _ok(s.gateway.post("/api/v1/voice/events", json=event, headers=_bearer(s.voice)), "voice")
                got = [(str(body.get("speak") or ""), True)]
                played.replies.append(got + [(text, False) for text in sms_messages()[seen:]])
            else:
                from tests.fakes.twilio_api import inbound_sms_form, signed_inbound

                seen = len(sms_messages())
                headers, form = signed_inbound(s.public_url + "/webhooks/sms", inbound_sms_form(phone, turn.say))
                _ok(s.gateway.post("/webhooks/sms", content=urlencode(form), headers=headers), "sms")
                played.replies.append([(text, False) for text in sms_messages()[seen:]])

        if dialogue.outreach is not None and dialogue.kind == "consent":
            send_outreach()
        played.handoffs = [item for item in self._queue() if item["handoff_id"] not in before]
        return played

    def _queue(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = _ok(
            self.s.gateway.get("/api/v1/operator/queue?limit=500", headers=_bearer(self.s.operator)), "queue"
        )["items"]
        return items

    def _site_identity(self, dialogue: Dialogue) -> str:
        """What the company's site gives the widget of a logged-in customer: a fresh token per page view."""
        from zabota.site_identity import sign

        return sign(dialogue.external_id, self.s.identity_secret, ttl_seconds=600)

    def _tg_headers(self) -> dict[str, str]:
        return {"X-Telegram-Bot-Api-Secret-Token": self.s.telegram_secret}

    @staticmethod
    def _wait(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.2)
        raise RuntimeError(f"timed out waiting for {what}")


# --- scoring -------------------------------------------------------------------------------------------------
@dataclass
class Score:
    routine: int = 0
    contained: int = 0
    asked_again: int = 0
    to_human_expected: int = 0
    to_human: int = 0
    exact_priority: int = 0
    tone_checked: int = 0
    tone_ok: int = 0
    deferred_checked: int = 0
    deferred_ok: int = 0
    opt_out_checked: int = 0
    opt_out_ok: int = 0
    unwanted_handoffs: int = 0


def known_data(dialogue: Dialogue) -> list[set[str]]:
    """Per turn, the data the service knows when it answers it: the profile's, the outreach's, what earlier turns
    gave and what this turn gives (asking at once for a datum the customer has just written is asking again)."""
    known: set[str] = set()
    profile = dialogue.linked_profile
    if profile is not None:
        known |= {"phone"} if profile.phones else set()
        known |= {"email"} if profile.emails else set()
        known |= {"account_number"} if profile.accounts else set()
    if dialogue.outreach is not None and "order_id" in dialogue.outreach.data and dialogue.kind == "outreach":
        known.add("order_id")
    per_turn = []
    for turn in dialogue.turns:
        known |= set(turn.gives)
        per_turn.append(set(known))
    return per_turn


def score(played: Played, wording: Wording, total: Score) -> None:
    d, expect = played.dialogue, played.dialogue.expect
    problems = played.problems
    asked = 0
    missed = False
    last = len(played.replies) - 1
    for turn_number, (replies, known) in enumerate(zip(played.replies, known_data(d), strict=True)):
        # a sensitive dialogue may start as a routine one: its tone is the expected one from where it turns
        # sensitive, which the files do not mark, so only its last turn's replies are held to it
        tone_counts = d.kind != "sensitive" or turn_number == last
        for text, spoken in replies:
            again = wording.asks_for(text, spoken=spoken) & known
            if again:
                asked += len(again)
                problems.append(f"turn {turn_number + 1}: asked again for {', '.join(sorted(again))}")
            if wording.is_miss(text, spoken=spoken):
                missed = True
                problems.append(f"turn {turn_number + 1}: not understood / out of scope")
            tones = wording.tones(text, spoken=spoken) if tone_counts else set()
            if tones:
                total.tone_checked += 1
                if expect.tone in tones:
                    total.tone_ok += 1
                else:
                    problems.append(f"turn {turn_number + 1}: tone {'/'.join(sorted(tones))}, not {expect.tone}")
    total.asked_again += asked
    priorities = sorted((str(h.get("priority")) for h in played.handoffs), key=lambda p: PRIORITY_RANK.get(p, 9))
    best = priorities[0] if priorities else None
    if expect.handoff == "none":
        if best is not None:
            total.unwanted_handoffs += 1
            reasons = sorted({str(r.get("code")) for h in played.handoffs for r in h.get("reasons") or []})
            problems.append(f"handed to a person ({best}: {', '.join(reasons)}) though the bot should have solved it")
    else:
        total.to_human_expected += 1
        if best is not None and PRIORITY_RANK.get(best, 9) <= PRIORITY_RANK[expect.handoff]:
            total.to_human += 1
            total.exact_priority += best == expect.handoff
            if best != expect.handoff:
                problems.append(f"handoff {best}, expected {expect.handoff} (more urgent: counted)")
        else:
            problems.append(f"handoff {best or 'none'}, expected {expect.handoff}")
    if d.kind == "routine":
        total.routine += 1
        if best is None and not missed and asked == 0 and not played.identity_refused:
            total.contained += 1
    answer = played.outreach_answer
    if d.outreach is not None and answer is not None:
        if d.kind == "outreach" and not expect.not_sent:
            total.deferred_checked += 1
            if bool(answer.get("deferred")) == expect.deferred:
                total.deferred_ok += 1
            else:
                problems.append(f"outreach deferred={answer.get('deferred')}, expected {expect.deferred}")
        # a consent dialogue's own channel is opted out when the expectation says the outreach avoids it (one
        # only asks about a subscription, which is no opt-out)
        avoided = expect.not_sent or (expect.sent_channel is not None and expect.sent_channel != d.channel)
        opted = set(d.profile.opted_out if d.profile else ())
        if d.kind == "consent" and avoided:
            opted.add(d.channel)
        if expect.not_sent or expect.sent_channel is not None or d.kind == "consent":
            total.opt_out_checked += 1
            channel = answer.get("channel")
            wrote_to_opted = bool(opted & set(played.outreach_delivered))
            right = (
                answer.get("status") == "not_sent"
                if expect.not_sent
                else channel == (expect.sent_channel or d.channel) and not wrote_to_opted
            )
            if right and not wrote_to_opted:
                total.opt_out_ok += 1
            else:
                problems.append(
                    f"outreach {answer.get('status')} via {channel}, delivered to {played.outreach_delivered}; "
                    f"expected {'not sent' if expect.not_sent else expect.sent_channel or d.channel}"
                )


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def report(total: Score, n: int, seconds: float) -> dict[str, Any]:
    return {
        "containment": _share(total.contained, total.routine),
        "asked_again": total.asked_again,
        "sensitive_to_human": _share(total.to_human, total.to_human_expected),
        "n": n,
        "routine": total.routine,
        "to_human_expected": total.to_human_expected,
        "exact_priority": _share(total.exact_priority, total.to_human_expected),
        "unwanted_handoffs": total.unwanted_handoffs,
        "tone_as_rules": _share(total.tone_ok, total.tone_checked),
        "tone_replies_checked": total.tone_checked,
        "deferred_ok": _share(total.deferred_ok, total.deferred_checked),
        "opt_out_ok": _share(total.opt_out_ok, total.opt_out_checked),
        "seconds": round(seconds, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--only", default=None, help="play only the dialogues whose id contains this")
    parser.add_argument("--verbose", action="store_true", help="print what the customer received")
    args = parser.parse_args(argv)
    dialogues = [d for d in load_dialogues(args.dir) if args.only is None or args.only in d.id]
    wording = Wording(load_variants())
    total = Score()
    started = time.perf_counter()
    with running_service() as service:
        player = Player(service, random.Random(11))
        for dialogue in dialogues:
            played = player.play(dialogue)
            score(played, wording, total)
            if played.problems or args.verbose:
                print(f"{dialogue.id} [{dialogue.kind}/{dialogue.channel}]: {'; '.join(played.problems) or 'ok'}")
            if args.verbose:
                for number, replies in enumerate(played.replies):
                    print(f"  > {dialogue.turns[number].say}")
                    for text, _ in replies:
                        print("    < " + " ".join(text.split())[:300])
    result = report(total, len(dialogues), time.perf_counter() - started)
    print()
    for key, value in result.items():
        print(f"{key:>22}  {value}")
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
