"""The multi-turn evaluation dialogues (bench/data/dialogues) load, have the mix the evaluation needs, hold
expectations that agree with the service's own rules (tone, outreach planning), stay held out from the training
data, and the loader refuses a bad file naming the file, the dialogue and the field."""

from __future__ import annotations

import copy
import csv
import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bench.dialogue_set import (
    DEFAULT_DIR,
    RECURRING_COUNT,
    RECURRING_DAYS,
    Dialogue,
    DialogueError,
    LocalTime,
    composition,
    load_dialogues,
    local_now,
    resolve_value,
    zone_for,
)
from bench.eval_dialogues import Player, Service, Wording, load_variants, score
from bench.eval_dialogues import Score as EvalScore
from bench.heldout import ROOT, normalise, training_texts
from zabota.catalog import load_catalog
from zabota.channels.policy import ContactProfile
from zabota.outreach.planning import NotSent, OutreachEvent, Recipient, load_outreach_rules, plan
from zabota.records.opt_out import consent_request
from zabota.site_identity import verify
from zabota.tone.rules import ToneFacts, load_tone_rules


@pytest.fixture(scope="module")
def dialogues() -> list[Dialogue]:
    return load_dialogues()


# --- the set -----------------------------------------------------------------------------------------------


def test_the_set_has_the_composition_the_evaluation_needs(dialogues: list[Dialogue]) -> None:
    counts = composition(dialogues)
    assert counts["total"] >= 64
    assert counts["kind.routine"] >= 36
    assert counts["kind.sensitive"] >= 14
    assert counts["kind.outreach"] >= 6
    assert counts["kind.consent"] >= 4
    for channel, minimum in (("webchat", 10), ("telegram", 8), ("voice", 6), ("sms", 4)):
        assert counts[f"routine.channel.{channel}"] >= minimum, channel
    assert counts["lang.en"] >= 16
    assert counts["profile"] >= 20
    assert counts["history"] >= 8
    assert counts["never_asked"] >= 10
    assert counts["total"] == sum(counts[f"kind.{k}"] for k in ("routine", "sensitive", "outreach", "consent"))


def test_never_ask_twice_covers_the_known_caller_and_the_earlier_turn(dialogues: list[Dialogue]) -> None:
    known_account = {
        d.channel
        for d in dialogues
        if d.profile is not None
        and "phone" in d.expect.never_asked
        and any(t.expect_intent == "account_number" for t in d.turns)
    }
    assert known_account >= {"voice", "telegram", "sms"}
    earlier = Counter(
        datum for d in dialogues for datum in d.expect.never_asked if any(datum in t.gives for t in d.turns[:-1])
    )
    assert earlier["order_id"] >= 2
    assert earlier["address"] >= 2


def test_every_sensitive_kind_of_case_is_there(dialogues: list[Dialogue]) -> None:
    intents = Counter(t.expect_intent for d in dialogues if d.kind == "sensitive" for t in d.turns)
    for intent in (
        "fraud_report",
        "lost_device",
        "legal_threat",
        "privacy_request",
        "harassment_report",
        "crisis",
        "bereavement",
        "cancel_contract",
        "request_human",
    ):
        assert intents[intent] >= 1, intent
    priorities = Counter(d.expect.handoff for d in dialogues if d.kind == "sensitive")
    assert priorities["p1"] >= 2 and priorities["p2"] >= 4 and priorities["p3"] >= 4


def _recurring(d: Dialogue) -> bool:
    problems = {t.expect_intent for t in d.turns}
    earlier = Counter(i for h in d.history if h.days_ago <= RECURRING_DAYS for i in h.intents if i in problems)
    return any(n >= RECURRING_COUNT - 1 for n in earlier.values())


def test_a_recurring_problem_has_the_same_problem_in_its_recent_history(dialogues: list[Dialogue]) -> None:
    recurring = [d for d in dialogues if _recurring(d)]
    assert len(recurring) >= 2
    assert all(d.kind == "sensitive" and d.expect.handoff == "p3" for d in recurring)


def test_sensitive_cases_keep_the_catalog_priority_or_a_more_urgent_one(dialogues: list[Dialogue]) -> None:
    catalog = load_catalog()
    for d in dialogues:
        for turn in d.turns:
            intent = catalog.intent(turn.expect_intent) if turn.expect_intent else None
            if intent is not None and intent.handling == "escalate" and d.kind == "sensitive":
                assert intent.priority is not None
                assert d.expect.handoff <= intent.priority, d.id


def _sensitive(d: Dialogue) -> bool:
    """What the triage will find sensitive: a sensitive intent, or a security check answered "no"."""
    catalog = load_catalog()
    if any(t.expect_intent and catalog.intents[t.expect_intent].sensitive for t in d.turns):
        return True
    rules = load_outreach_rules()
    return (
        d.outreach is not None
        and rules.triggers[d.outreach.trigger].follow_up == "confirm"
        and d.expect.handoff == "p1"
    )


def test_the_expected_tone_is_the_one_the_tone_rules_choose(dialogues: list[Dialogue]) -> None:
    rules = load_tone_rules()
    for d in dialogues:
        profile = d.linked_profile
        facts = ToneFacts(
            channel=d.channel,
            sensitive=_sensitive(d),
            segment=profile.segment if profile else None,
            age_band=profile.age_band if profile else None,
            known=profile is not None,
        )
        assert rules.choose(facts).tone == d.expect.tone, d.id


@pytest.mark.parametrize("now", [datetime(2026, 3, 10, 0, 30, tzinfo=UTC), datetime(2026, 7, 1, 15, 45, tzinfo=UTC)])
def test_outreach_expectations_are_what_the_planning_rules_give(dialogues: list[Dialogue], now: datetime) -> None:
    """Whatever the hour the set runs at: the player's time zone for ``local_time`` makes a deferrable message
    wait in the night and go by day; an opted-out channel is skipped or nothing is sent."""
    checked = 0
    for d in dialogues:
        if d.outreach is None:
            continue
        assert d.profile is not None
        zone = zone_for(d.outreach.local_time, now)
        opted_out = set(d.profile.opted_out)
        if d.kind == "consent":
            for turn in d.turns:
                if consent_request(turn.say) == "opt_out":
                    opted_out.add(d.channel)
        contact = ContactProfile(
            phone=d.profile.phone,
            email=d.profile.emails[0] if d.profile.emails else None,
            # the Telegram chat is linked when the customer writes there (or the player shares the contact first)
            telegram_chat_id=1 if d.channel == "telegram" else None,
            preferred=d.profile.preferred_channel,
        )
        recipient = Recipient(contact, language=d.lang, timezone=zone, opted_out=frozenset(opted_out))
        data = d.outreach.resolved_data(local_now(zone, now))
        planned = plan(OutreachEvent(d.outreach.trigger, "c-0000000000000000", d.id, data), recipient, now)
        if d.expect.not_sent:
            assert isinstance(planned, NotSent), d.id
        else:
            assert not isinstance(planned, NotSent), d.id
            assert planned.channel == d.outreach_channel, d.id
            assert planned.deferred == d.expect.deferred, d.id
        checked += 1
    assert checked >= 10


def test_consent_dialogues_opt_out_in_their_own_channel(dialogues: list[Dialogue]) -> None:
    consent = [d for d in dialogues if d.kind == "consent"]
    opting_out = [d for d in consent if any(consent_request(t.say) == "opt_out" for t in d.turns)]
    assert {d.channel for d in opting_out} >= {"sms", "telegram"}
    assert len(opting_out) >= 4
    assert all(d.outreach_channel != d.channel for d in opting_out)


def test_security_check_answers_read_as_the_expected_yes_or_no(dialogues: list[Dialogue]) -> None:
    replies = pytest.importorskip("zabota.outreach.replies")
    checks = [d for d in dialogues if d.outreach is not None and d.outreach.trigger == "suspicious_payment"]
    assert {d.expect.handoff for d in checks} == {"p1", "none"}
    for d in checks:
        expected = "no" if d.expect.handoff == "p1" else "yes"
        assert replies.confirm_answer(d.turns[0].say) == expected, d.id


def _bench_texts() -> set[str]:
    texts: set[str] = set()
    for path in (ROOT / "bench" / "data").rglob("*.csv"):
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                texts.add(normalise(row.get("text") or row.get("query") or ""))
    for path in (ROOT / "bench" / "data").rglob("*.txt"):
        texts.update(normalise(line) for line in path.read_text(encoding="utf-8").splitlines())
    for path in (ROOT / "kb" / "questions").rglob("*.txt"):
        texts.update(normalise(line) for line in path.read_text(encoding="utf-8").splitlines())
    return texts


def test_the_dialogues_share_no_message_with_the_training_or_bench_data(dialogues: list[Dialogue]) -> None:
    """Held out: no turn of more than three words is a training example, a KB way of asking or another set's
    message (short ones - «да», "STOP", «спасибо» - are everyone's)."""
    seen = set(training_texts()) | _bench_texts()
    shared = [(d.id, t.say) for d in dialogues for t in d.turns if len(t.say.split()) > 3 and normalise(t.say) in seen]
    assert shared == []
    says = Counter(normalise(t.say) for d in dialogues for t in d.turns if len(t.say.split()) > 3)
    assert [s for s, n in says.items() if n > 1] == []


# --- helpers the player uses --------------------------------------------------------------------------------


def test_relative_times_resolve_in_the_customer_zone() -> None:
    now = datetime(2026, 3, 10, 23, 5, tzinfo=timezone(timedelta(hours=3)))
    assert resolve_value("+1d 08:00", now) == "2026-03-11T08:00:00+03:00"
    assert resolve_value("Марьино", now) == "Марьино"


@pytest.mark.parametrize(("local_time", "hour"), [("night", 23), ("day", 13)])
def test_zone_for_makes_it_night_or_day_where_the_customer_is(local_time: LocalTime, hour: int) -> None:
    for now in (datetime(2026, 3, 10, h, 20, tzinfo=UTC) for h in range(24)):
        assert local_now(zone_for(local_time, now), now).hour == hour


def test_profile_to_api_is_the_customers_api_body(dialogues: list[Dialogue]) -> None:
    d = next(d for d in dialogues if d.id == "ru-voice-balance-b2b-01")
    assert d.profile is not None
    body = d.profile.to_api("eval-ru-voice-balance-b2b-01", timezone_override="Etc/GMT-3")
    assert body["external_id"] == "eval-ru-voice-balance-b2b-01"
    assert body["timezone"] == "Etc/GMT-3"
    assert body["segment"] == "b2b"
    assert body["accounts"] == [{"account_number": "230045670107", "contract_number": "Б-2024-0771"}]
    assert d.profile.phone == "+79992010107"


# --- validation ---------------------------------------------------------------------------------------------

GOOD: dict[str, Any] = {
    "id": "ru-tg-test-01",
    "lang": "ru",
    "channel": "telegram",
    "kind": "routine",
    "note": "a test dialogue",
    "profile": {
        "name": "Тест Тестов",
        "segment": "b2c",
        "age_band": "35-44",
        "phones": ["+79990000001"],
        "accounts": [{"account_number": "100200300903"}],
    },
    "turns": [
        {"say": "где мой заказ 1234567", "gives": ["order_id"], "expect_intent": "order_status"},
        {"say": "а отменить его можно", "expect_intent": "cancel_order"},
    ],
    "expect": {"handoff": "none", "resolved": True, "tone": "neutral", "never_asked": ["phone", "order_id"]},
}


def _write(directory: Path, name: str, dialogues: list[dict[str, Any]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(yaml.safe_dump(dialogues, allow_unicode=True), encoding="utf-8")


def _with(path: str, value: Any) -> dict[str, Any]:
    """GOOD with the value at a dotted path (list items by number) replaced; ``...`` deletes it."""
    dialogue = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    node: Any = dialogue
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return dialogue


def test_a_good_dialogue_loads(tmp_path: Path) -> None:
    _write(tmp_path, "one.yml", [GOOD])
    (dialogue,) = load_dialogues(tmp_path)
    assert dialogue.id == "ru-tg-test-01"
    assert dialogue.turns[0].gives == ("order_id",)
    assert dialogue.expect.never_asked == ("phone", "order_id")
    assert dialogue.source == "one.yml"
    assert composition([dialogue])["routine.channel.telegram"] == 1


SENSITIVE = {
    **GOOD,
    "kind": "sensitive",
    "turns": [{"say": "у меня украли телефон", "expect_intent": "lost_device"}],
    "expect": {"handoff": "p2", "resolved": False, "tone": "formal"},
}
OUTREACH = {
    **GOOD,
    "channel": "sms",
    "kind": "outreach",
    "outreach": {"trigger": "suspicious_payment", "data": {"amount": "100 ₽", "merchant": "X"}, "local_time": "day"},
    "turns": [{"say": "да"}],
    "expect": {"handoff": "none", "resolved": True, "tone": "neutral", "deferred": False},
}


@pytest.mark.parametrize(
    ("dialogue", "field"),
    [
        (_with("colour", "red"), "colour"),
        (_with("id", "RU_Test"), "id"),
        (_with("lang", "de"), "lang"),
        (_with("channel", "email"), "channel"),
        (_with("kind", "smalltalk"), "kind"),
        (_with("note", ...), "note"),
        (_with("profile.nickname", "x"), "profile.nickname"),
        (_with("profile.segment", "b2g"), "profile.segment"),
        (_with("profile.age_band", "30-40"), "profile.age_band"),
        (_with("profile.timezone", "Moscow"), "profile.timezone"),
        (_with("profile.phones", ["8 800 CALL ME"]), "profile.phones"),
        (_with("profile.phones", ["+44 20 7946 0958"]), "profile.phones"),
        (_with("profile.phones", []), "profile.phones"),
        (_with("profile.accounts", [{"account_number": "10020030090"}]), "profile.accounts.account_number"),
        (_with("profile.accounts", [{"account_number": 100200300903}]), "profile.accounts.account_number"),
        (_with("profile.emails", ["not-an-email"]), "profile.emails"),
        (_with("turns.0.expect_intent", "where_is_my_stuff"), "turns[1].expect_intent"),
        (_with("turns.0.gives", ["passport"]), "turns[1].gives"),
        (_with("turns.0.say", "где мой заказ"), "turns[1].gives"),
        (_with("turns.1.say", False), "turns[2].say"),  # an unquoted `no` in YAML
        (_with("turns.0.mood", "sad"), "turns[1].mood"),
        (_with("expect.tone", "jokey"), "expect.tone"),
        (_with("expect.handoff", "p5"), "expect.handoff"),
        (_with("expect.resolved", "yes"), "expect.resolved"),
        (_with("expect.handoff", "p3"), "expect"),
        (_with("expect.deferred", False), "expect.deferred"),
        (_with("expect.never_asked", ["address"]), "expect.never_asked"),
        (_with("expect.never_asked", ["email"]), "expect.never_asked"),
        ({**_with("channel", "webchat"), "profile": None, "history": []}, "expect.never_asked"),
        (_with("channel", "webchat"), "profile"),
        (_with("logged_in", True), "logged_in"),  # a telegram dialogue: linked by the phone, no site login
        ({**_with("channel", "webchat"), "logged_in": "yes"}, "logged_in"),
        ({**_with("channel", "webchat"), "logged_in": True, "profile": None}, "logged_in"),
        ({**GOOD, "profile": None, "history": [{"channel": "sms", "days_ago": 1}]}, "history"),
        ({**GOOD, "history": [{"channel": "fax", "days_ago": 1}]}, "history[1].channel"),
        ({**GOOD, "history": [{"channel": "sms", "days_ago": -2}]}, "history[1].days_ago"),
        ({**GOOD, "history": [{"channel": "sms", "days_ago": 1, "intents": ["nope"]}]}, "history[1].intents"),
        (
            {**GOOD, "history": [{"channel": "sms", "days_ago": d, "intents": ["order_status"]} for d in (1, 2)]},
            "history",
        ),
        ({**GOOD, "outreach": OUTREACH["outreach"]}, "outreach"),
        ({**SENSITIVE, "expect": {**SENSITIVE["expect"], "tone": "friendly"}}, "expect.tone"),
        ({**SENSITIVE, "expect": {**SENSITIVE["expect"], "handoff": "p3"}}, "expect.handoff"),
        ({**SENSITIVE, "expect": {**SENSITIVE["expect"], "handoff": "none", "resolved": True}}, "expect"),
        ({**OUTREACH, "outreach": {**OUTREACH["outreach"], "trigger": "birthday"}}, "outreach.trigger"),
        ({**OUTREACH, "outreach": {**OUTREACH["outreach"], "data": {"amount": "1 ₽"}}}, "outreach.data.merchant"),
        ({**OUTREACH, "outreach": {**OUTREACH["outreach"], "local_time": "dusk"}}, "outreach.local_time"),
        ({**OUTREACH, "channel": "voice"}, "channel"),
        ({**OUTREACH, "outreach": None}, "outreach"),
        ({**OUTREACH, "expect": {**OUTREACH["expect"], "deferred": True}}, "turns"),
        ({**OUTREACH, "expect": {**OUTREACH["expect"], "sent_channel": "sms"}}, "expect.sent_channel"),
        (
            {
                **OUTREACH,
                "outreach": {
                    "trigger": "maintenance_planned",
                    "data": {"area": "A", "starts_at": "tomorrow", "ends_at": "later"},
                    "local_time": "night",
                },
            },
            "outreach.data.starts_at",
        ),
        ({**OUTREACH, "kind": "consent", "turns": [], "expect": {**GOOD["expect"], "never_asked": []}}, "turns"),
    ],
)
def test_the_loader_refuses_a_bad_dialogue_naming_file_dialogue_and_field(
    tmp_path: Path, dialogue: dict[str, Any], field: str
) -> None:
    _write(tmp_path, "bad.yml", [dialogue])
    with pytest.raises(DialogueError) as caught:
        load_dialogues(tmp_path)
    assert caught.value.path.name == "bad.yml"
    assert caught.value.dialogue == dialogue["id"]
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)
    assert "bad.yml" in str(caught.value) and dialogue["id"] in str(caught.value)


def test_ids_are_unique_across_files(tmp_path: Path) -> None:
    _write(tmp_path, "a.yml", [GOOD])
    _write(tmp_path, "b.yml", [{**GOOD, "profile": {"phones": ["+79990000002"]}}])
    with pytest.raises(DialogueError, match=r"b\.yml: dialogue ru-tg-test-01: id: already used in a\.yml"):
        load_dialogues(tmp_path)


def test_a_phone_or_account_belongs_to_one_profile(tmp_path: Path) -> None:
    other = {**GOOD, "id": "ru-tg-test-02", "profile": {"phones": ["8 (999) 000-00-01"]}}
    _write(tmp_path, "a.yml", [GOOD, other])
    with pytest.raises(DialogueError, match=r"profile\.phones: \+79990000001 is already ru-tg-test-01's"):
        load_dialogues(tmp_path)
    other = {**GOOD, "id": "ru-tg-test-02", "profile": {**GOOD["profile"], "phones": ["+79990000002"]}}
    _write(tmp_path, "a.yml", [GOOD, other])
    with pytest.raises(DialogueError, match=r"profile\.accounts"):
        load_dialogues(tmp_path)


def test_a_file_must_be_a_list_of_dialogues(tmp_path: Path) -> None:
    (tmp_path / "x.yml").write_text("id: lonely\n", encoding="utf-8")
    with pytest.raises(DialogueError, match=r"x\.yml"):
        load_dialogues(tmp_path)
    (tmp_path / "x.yml").write_text("- [unclosed\n", encoding="utf-8")
    with pytest.raises(DialogueError, match="not YAML"):
        load_dialogues(tmp_path)


def test_an_empty_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no dialogue files"):
        load_dialogues(tmp_path)


def test_the_default_directory_is_the_repository_set() -> None:
    assert DEFAULT_DIR == ROOT / "bench" / "data" / "dialogues"
    assert {p.name for p in DEFAULT_DIR.glob("*.yml")} >= {"routine_ru.yml", "routine_en.yml", "sensitive.yml"}


# --- a customer logged in on the company's site (webchat, logged_in) ----------------------------------------

LOGGED_IN: dict[str, Any] = {
    **GOOD,
    "id": "ru-web-test-logged-01",
    "channel": "webchat",
    "logged_in": True,
    "profile": {**GOOD["profile"], "age_band": "18-24"},
    "turns": [{"say": "какой у меня номер лицевого счёта", "expect_intent": "account_number"}],
    "expect": {"handoff": "none", "resolved": True, "tone": "friendly", "never_asked": ["phone", "account_number"]},
}


def test_a_logged_in_webchat_customer_is_linked_to_the_profile(tmp_path: Path) -> None:
    _write(tmp_path, "one.yml", [LOGGED_IN])
    (dialogue,) = load_dialogues(tmp_path)
    assert dialogue.logged_in is True
    assert dialogue.linked_profile is dialogue.profile is not None
    assert dialogue.external_id == "eval-ru-web-test-logged-01"
    assert composition([dialogue])["logged_in"] == 1


def test_an_anonymous_webchat_visitor_is_linked_to_nobody(tmp_path: Path) -> None:
    anonymous = {**LOGGED_IN, "profile": None, "expect": {**LOGGED_IN["expect"], "never_asked": [], "tone": "neutral"}}
    del anonymous["logged_in"]
    _write(tmp_path, "one.yml", [anonymous])
    (dialogue,) = load_dialogues(tmp_path)
    assert dialogue.logged_in is False and dialogue.linked_profile is None


def test_the_logged_in_webchat_set_loads_with_its_mix(dialogues: list[Dialogue]) -> None:
    logged = [d for d in dialogues if d.source == "webchat_logged_in.yml"]
    assert len(logged) == 8
    assert all(d.logged_in and d.channel == "webchat" and d.profile is not None for d in logged)
    assert [d for d in dialogues if d.logged_in] == logged
    assert {d.lang for d in logged} == {"ru", "en"}
    intents = {(t.expect_intent, datum) for d in logged for t in d.turns for datum in d.expect.never_asked}
    # the phone the account number form would ask of an anonymous visitor; the email a document goes to
    assert ("account_number", "phone") in intents
    assert ("documents_request", "email") in intents
    assert ("check_balance", "account_number") in intents
    recurring = [d for d in logged if _recurring(d)]
    assert len(recurring) >= 2
    assert all({h.channel for h in d.history} - {"webchat"} for d in recurring)  # earlier contacts elsewhere
    tones = {(d.profile.segment, d.profile.age_band, d.expect.tone) for d in logged if d.profile is not None}
    assert {tone for segment, _, tone in tones if segment == "b2b"} == {"formal"}
    assert {tone for _, band, tone in tones if band in ("55-64", "65+")} == {"formal"}
    assert any(band in ("18-24", "25-34") and tone == "friendly" for _, band, tone in tones)


# --- the player sends the logged-in customer's signed identity ----------------------------------------------


def _fake_gateway(refuse: int = 0) -> tuple[httpx.Client, list[dict[str, Any]]]:
    """A gateway that takes the customer, answers each webchat message and refuses the first ``refuse``
    identities (401 identity_invalid)."""
    sent: list[dict[str, Any]] = []
    refusals = [refuse]

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/v1/customers":
            return httpx.Response(200, json={"customer_id": "c-1"})
        if path == "/api/v1/operator/queue":
            return httpx.Response(200, json={"items": []})
        if path == "/api/v1/webchat/messages":
            body = json.loads(request.content)
            sent.append(body)
            if body.get("identity") and refusals[0] > 0:
                refusals[0] -= 1
                return httpx.Response(401, json={"error": "identity_invalid", "detail": "no"})
            return httpx.Response(200, json={"replies": [{"text": "ok"}]})
        return httpx.Response(404, json={"error": "not_found", "detail": path})

    return httpx.Client(base_url="http://gateway", transport=httpx.MockTransport(handle)), sent


def _service(client: httpx.Client, secret: str) -> Service:
    return Service(client, "http://gateway", "lead", "op", "voice", "out", "tg", None, None, None, secret)


def test_the_player_signs_every_webchat_message_of_a_logged_in_customer(tmp_path: Path) -> None:
    secret = "s" * 64
    _write(tmp_path, "one.yml", [{**LOGGED_IN, "turns": LOGGED_IN["turns"] + [{"say": "спасибо"}]}])
    (dialogue,) = load_dialogues(tmp_path)
    client, sent = _fake_gateway()
    played = Player(_service(client, secret), random.Random(1)).play(dialogue)
    assert len(sent) == 2 and len({m["sender_id"] for m in sent}) == 1
    assert all(verify(m["identity"], secret).external_id == dialogue.external_id for m in sent)
    assert played.problems == [] and not played.identity_refused


def test_an_anonymous_visitor_sends_no_identity(tmp_path: Path) -> None:
    anonymous = {**LOGGED_IN, "profile": None, "expect": {**LOGGED_IN["expect"], "never_asked": [], "tone": "neutral"}}
    del anonymous["logged_in"]
    _write(tmp_path, "one.yml", [anonymous])
    (dialogue,) = load_dialogues(tmp_path)
    client, sent = _fake_gateway()
    Player(_service(client, "s" * 64), random.Random(1)).play(dialogue)
    assert [m.get("identity") for m in sent] == [None]


def test_a_refused_identity_is_a_problem_and_the_message_goes_again_without_it(tmp_path: Path) -> None:
    _write(tmp_path, "one.yml", [LOGGED_IN])
    (dialogue,) = load_dialogues(tmp_path)
    client, sent = _fake_gateway(refuse=1)
    played = Player(_service(client, "s" * 64), random.Random(1)).play(dialogue)
    assert [bool(m.get("identity")) for m in sent] == [True, False]
    assert played.identity_refused
    assert played.problems == ["turn 1: site identity refused (401 identity_invalid)"]
    total = EvalScore()
    score(played, Wording(load_variants()), total)
    assert total.routine == 1 and total.contained == 0


def test_the_player_gives_the_gateway_the_secret_it_signs_with(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stack the player starts has WEBCHAT_IDENTITY_SECRET, long enough for the gateway, and the player signs
    with that same secret (the stack itself is not started here)."""
    import zabota.stack
    from bench.eval_dialogues import running_service
    from gateway.settings import MIN_IDENTITY_SECRET_CHARS

    started: list[Any] = []

    class NoStack:
        def __init__(self, settings: Any) -> None:
            self.settings = settings
            self.gateway_url = "http://127.0.0.1:9"

        def start(self) -> None:
            started.append(self.settings)

        def stop(self) -> None:
            pass

    monkeypatch.setattr(zabota.stack, "Stack", NoStack)
    with running_service() as service:
        (settings,) = started
        secret = settings.extra_env["WEBCHAT_IDENTITY_SECRET"]
        assert secret == service.identity_secret
        assert len(secret) >= MIN_IDENTITY_SECRET_CHARS
