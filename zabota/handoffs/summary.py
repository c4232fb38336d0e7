"""The handoff summary: what an operator reads before answering a conversation the bot handed over.

PRODUCT.md, "The handoff summary": the customer, the intents with confidence, the entities, the problem in the
customer's own words, what the bot already tried, sentiment, sensitivity and the escalation reasons, priority and
due time, a suggested next step, and the transcript.

Everything here is built from plain data (the gateway's history entries, the triage decision, knowledge-base
events), so it is testable without Redis or Rasa. Every text passes ``zabota.redaction.redact`` (cards, CVV codes,
passports) before it is stored; contacts and entities are masked further (``redact_for_summary``), since the
operator only needs to recognise them, not to dial or mail them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast, get_args

from zabota.catalog import Catalog, Priority, load_catalog
from zabota.handoffs.sla import SlaPolicy
from zabota.records.churn import ChurnRisk, raised_priority
from zabota.redaction import CARD_MASK, PASSPORT_MASK, mask_email, mask_phone, redact, redact_for_summary
from zabota.tone.rules import Tone
from zabota.triage.model import PRIORITY_ORDER, Reason, ReasonCode, Sentiment, TriageDecision

AttemptKind = Literal["kb_article", "flow", "kb_feedback", "fallback"]
TranscriptRole = Literal["customer", "bot", "operator", "system"]
SummaryLanguage = Literal["ru", "en"]

TRANSCRIPT_LINES = 50  # the newest lines kept; the full history stays in the conversation's own store
PROBLEM_LINES = 3
INTENTS_KEPT = 10
BOT_ATTEMPTS_KEPT = 20
PROBLEM_CHARS = 1000  # one pasted log or letter must not push the rest of the summary off the screen

# Priority of a handoff whose triage decision carries none (opened without an escalating decision, e.g. by a
# flow that gave up): the catalog's default for a person asked for.
DEFAULT_PRIORITY: Priority = "p3"

# Rasa's intent for a message it did not understand.
FALLBACK_INTENT = "nlu_fallback"

# An intent is matched to the latest customer message at or before the moment it was recorded; Rasa stamps its
# events a moment after the gateway stamped the message, on a clock that may run slightly apart.
_INTENT_MATCH_SLACK_SECONDS = 1.0


@dataclass(frozen=True)
class CustomerInfo:
    customer_id: str
    name: str | None = None
    segment: str | None = None  # e.g. "b2c", "vip", "b2b": as the CRM names it
    language: str = "ru"
    channel: str = "webchat"
    # Contact kind -> masked value: phone "+7 *** ***-45-67", email "i***@mail.ru", any other kind "linked".
    contacts: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IntentSeen:
    name: str
    confidence: float
    timestamp: float


@dataclass(frozen=True)
class BotAttempt:
    kind: AttemptKind
    detail: str


@dataclass(frozen=True)
class TranscriptLine:
    role: TranscriptRole
    text: str
    timestamp: float
    channel: str


@dataclass(frozen=True)
class HandoffSummary:
    handoff_id: str
    customer: CustomerInfo
    language: SummaryLanguage
    channel: str
    intent: str  # the intent the handoff is about (the triage's handoff intent, else the NLU intent)
    intents: tuple[IntentSeen, ...]
    entities: dict[str, str]
    problem: tuple[TranscriptLine, ...]
    bot_tried: tuple[BotAttempt, ...]
    sentiment: Sentiment
    sensitive: bool
    reasons: tuple[Reason, ...]
    priority: Priority
    created_at: float
    due_at: float
    next_step: str
    transcript: tuple[TranscriptLine, ...]
    # why the customer's history puts them at risk of leaving (zabota/records/churn.py); empty when it does not
    churn_risk: tuple[str, ...] = ()
    # the tone the conversation was in when it was handed over (zabota/tone): the notices the customer gets
    # while the handoff runs (a specialist joined, closed) are said in it, and the operator sees it
    tone: Tone = "neutral"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: tuples become lists, everything else is already str, float, bool or dict."""
        result: dict[str, Any] = _jsonable(asdict(self))
        return result

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HandoffSummary:
        """The inverse of ``to_dict``; raises ``ValueError`` for data that is not a summary."""
        try:
            customer = data["customer"]
            return cls(
                handoff_id=str(data["handoff_id"]),
                customer=CustomerInfo(
                    customer_id=str(customer["customer_id"]),
                    name=_opt_str(customer.get("name")),
                    segment=_opt_str(customer.get("segment")),
                    language=str(customer["language"]),
                    channel=str(customer["channel"]),
                    contacts={str(k): str(v) for k, v in dict(customer.get("contacts") or {}).items()},
                ),
                language=_literal(data["language"], SummaryLanguage),
                channel=str(data["channel"]),
                intent=str(data["intent"]),
                intents=tuple(
                    IntentSeen(str(i["name"]), float(i["confidence"]), float(i["timestamp"])) for i in data["intents"]
                ),
                entities={str(k): str(v) for k, v in dict(data["entities"]).items()},
                problem=tuple(_line_from_dict(line) for line in data["problem"]),
                bot_tried=tuple(
                    BotAttempt(_literal(a["kind"], AttemptKind), str(a["detail"])) for a in data["bot_tried"]
                ),
                sentiment=_literal(data["sentiment"], Sentiment),
                sensitive=bool(data["sensitive"]),
                reasons=tuple(Reason(_literal(r["code"], ReasonCode), str(r["detail"])) for r in data["reasons"]),
                priority=_literal(data["priority"], Priority),
                created_at=float(data["created_at"]),
                due_at=float(data["due_at"]),
                next_step=str(data["next_step"]),
                transcript=tuple(_line_from_dict(line) for line in data["transcript"]),
                churn_risk=tuple(str(detail) for detail in data.get("churn_risk") or ()),
                tone=_literal(data.get("tone") or "neutral", Tone),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a handoff summary: {exc!r}") from exc


def build_summary(
    *,
    handoff_id: str,
    customer: CustomerInfo,
    decision: TriageDecision,
    history: Sequence[Mapping[str, Any]],
    intents_seen: Sequence[IntentSeen],
    entities: Mapping[str, str],
    kb_events: Sequence[Mapping[str, Any]] = (),
    sla: SlaPolicy,
    now: float,
    catalog: Catalog | None = None,
    churn: ChurnRisk | None = None,
    tone: Tone = "neutral",
) -> HandoffSummary:
    """The summary of one conversation at the moment of its handoff.

    ``history``: the gateway's history entries (gateway.inbox.HistoryEntry as dicts), oldest first; a bot entry's
    ``custom`` may hold ``{"zabota_kb": {"article", "title", "url"}}`` for a knowledge-base answer.
    ``kb_events``: optional knowledge-base events of this conversation, ``{"event": "answer" | "feedback",
    "article", "helpful", "timestamp"?}``. ``catalog`` tells problem intents and flows apart (default: the
    bundled catalog). ``churn``: the customer's churn risk; at risk, the priority is one step more urgent.
    ``tone``: the conversation's tone, kept for what the customer is told while the handoff runs.
    """
    catalog = catalog if catalog is not None else load_catalog()
    language = _summary_language(customer.language, decision.lang)
    priority: Priority = decision.priority or DEFAULT_PRIORITY
    churn = churn or ChurnRisk()
    priority = raised_priority(priority, churn, [reason.code for reason in decision.reasons])
    lines = _transcript_lines(history)
    intent = decision.handoff_intent or decision.intent
    return HandoffSummary(
        handoff_id=handoff_id,
        customer=_masked_customer(customer),
        language=language,
        channel=customer.channel,
        intent=intent,
        intents=_intents(intents_seen, decision, now),
        entities={str(k): mask_entity(str(k), str(v)) for k, v in entities.items()},
        problem=_problem(lines, intents_seen, catalog),
        bot_tried=_bot_tried(history, intents_seen, kb_events, decision, catalog, language),
        sentiment=decision.sentiment,
        sensitive=decision.sensitive,
        reasons=tuple(Reason(r.code, redact(r.detail)) for r in decision.reasons),
        priority=priority,
        created_at=now,
        due_at=sla.due_at(priority, now),
        next_step=suggest_next_step(decision, language),
        transcript=tuple(lines[-TRANSCRIPT_LINES:]),
        churn_risk=churn.details,
        tone=tone,
    )


# --- Masking ----------------------------------------------------------------------------------------------------

_PHONE_KEYS = ("phone", "mobile", "msisdn")
_EMAIL_KEYS = ("email", "e-mail", "mail")
# Identifiers the operator works with: kept (after ``redact``, which never touches them).
_KEPT_KEYS = ("account", "order", "contract", "ticket")


def mask_entity(name: str, value: str) -> str:
    """An entity's value as the summary shows it: phone and email masked, card and passport hidden whole,
    account/order/contract numbers kept, anything else ``redact_for_summary``-ed."""
    key = name.lower()
    if "passport" in key:
        return PASSPORT_MASK
    if "card" in key:
        return CARD_MASK
    if any(k in key for k in _EMAIL_KEYS):
        return mask_email(value)
    if any(k in key for k in _PHONE_KEYS):
        return mask_phone(value)
    if any(k in key for k in _KEPT_KEYS):
        return redact(value)
    return redact_for_summary(value)


def mask_contact(kind: str, value: str) -> str:
    """Phone and email masked; any other contact (Telegram, VK, ...) only "linked": its id helps nobody."""
    key = kind.lower()
    if any(k in key for k in _EMAIL_KEYS):
        return mask_email(value)
    if any(k in key for k in _PHONE_KEYS):
        return mask_phone(value)
    return "linked"


def _masked_customer(customer: CustomerInfo) -> CustomerInfo:
    return CustomerInfo(
        customer_id=customer.customer_id,
        name=redact(customer.name) if customer.name else customer.name,
        segment=customer.segment,
        language=customer.language,
        channel=customer.channel,
        contacts={str(k): mask_contact(str(k), str(v)) for k, v in customer.contacts.items() if v},
    )


# --- Transcript and problem -------------------------------------------------------------------------------------

_ROLES: frozenset[str] = frozenset(get_args(TranscriptRole))


def _transcript_lines(history: Iterable[Mapping[str, Any]]) -> list[TranscriptLine]:
    """Every history entry with text, redacted, oldest first (buttons and images alone say nothing here)."""
    lines: list[TranscriptLine] = []
    for entry in history:
        role = entry.get("role")
        text = entry.get("text")
        if role not in _ROLES or not isinstance(text, str) or not text.strip():
            continue
        lines.append(
            TranscriptLine(
                role=cast(TranscriptRole, role),
                text=redact(text),
                timestamp=_float(entry.get("timestamp")),
                channel=str(entry.get("channel") or ""),
            )
        )
    return lines


def _is_problem_intent(name: str, catalog: Catalog) -> bool:
    """An intent that states a problem: not small talk, and not "give me a person" (which says none)."""
    intent = catalog.intent(name)
    return intent is not None and intent.handling != "smalltalk" and name != "request_human"


def _problem(
    lines: Sequence[TranscriptLine], intents_seen: Sequence[IntentSeen], catalog: Catalog
) -> tuple[TranscriptLine, ...]:
    """The customer's own words: the first message, the one that triggered the handoff (the last), and then the
    latest messages with a problem intent, at most PROBLEM_LINES, in conversation order."""
    customer = [i for i, line in enumerate(lines) if line.role == "customer"]
    if not customer:
        return ()
    chosen: list[int] = []
    for index in (customer[0], customer[-1]):
        if index not in chosen:
            chosen.append(index)
    problem_lines: list[int] = []
    for seen in intents_seen:
        if not _is_problem_intent(seen.name, catalog):
            continue
        matched = _line_for_intent(lines, customer, seen.timestamp)
        if matched is not None and matched not in problem_lines:
            problem_lines.append(matched)
    for index in sorted(problem_lines, reverse=True):
        if len(chosen) >= PROBLEM_LINES:
            break
        if index not in chosen:
            chosen.append(index)
    return tuple(_clip(lines[i]) for i in sorted(chosen[:PROBLEM_LINES]))


def _line_for_intent(lines: Sequence[TranscriptLine], customer: Sequence[int], timestamp: float) -> int | None:
    if timestamp <= 0:
        return None  # no time recorded: matching it to a message would be a guess
    found: int | None = None
    for index in customer:
        if lines[index].timestamp <= timestamp + _INTENT_MATCH_SLACK_SECONDS:
            found = index
        else:
            break
    return found


def _clip(line: TranscriptLine) -> TranscriptLine:
    if len(line.text) <= PROBLEM_CHARS:
        return line
    return TranscriptLine(line.role, line.text[: PROBLEM_CHARS - 1] + "…", line.timestamp, line.channel)


def _intents(intents_seen: Sequence[IntentSeen], decision: TriageDecision, now: float) -> tuple[IntentSeen, ...]:
    seen = [IntentSeen(i.name, round(float(i.confidence), 4), float(i.timestamp)) for i in intents_seen]
    # The message being triaged may not be among the intents recorded so far.
    if not seen or seen[-1].name != decision.intent:
        seen.append(IntentSeen(decision.intent, round(float(decision.confidence), 4), now))
    return tuple(seen[-INTENTS_KEPT:])


# --- What the bot tried -----------------------------------------------------------------------------------------

_WORDS: dict[SummaryLanguage, dict[str, str]] = {
    "ru": {"helpful": "помогла", "unhelpful": "не помогла", "fallback": "не понятых ботом сообщений: {n}"},
    "en": {"helpful": "helpful", "unhelpful": "not helpful", "fallback": "messages the bot did not understand: {n}"},
}


def _bot_tried(
    history: Sequence[Mapping[str, Any]],
    intents_seen: Sequence[IntentSeen],
    kb_events: Sequence[Mapping[str, Any]],
    decision: TriageDecision,
    catalog: Catalog,
    language: SummaryLanguage,
) -> tuple[BotAttempt, ...]:
    """Articles shown, feedback given, flows run and fallbacks, in the order they happened (untimed last)."""
    words = _WORDS[language]
    timed: list[tuple[float, BotAttempt]] = []
    articles_shown: set[str] = set()

    def article_shown(article: str, title: str, timestamp: float) -> None:
        if not article or article in articles_shown:
            return
        articles_shown.add(article)
        detail = f"{title} ({article})" if title and title != article else article
        timed.append((timestamp, BotAttempt("kb_article", redact(detail))))

    for entry in history:
        custom = entry.get("custom")
        kb = custom.get("zabota_kb") if isinstance(custom, Mapping) else None
        if entry.get("role") == "bot" and isinstance(kb, Mapping):
            article_shown(str(kb.get("article") or ""), str(kb.get("title") or ""), _float(entry.get("timestamp")))
    for event in kb_events:
        timestamp = _float(event.get("timestamp"), default=math.inf)
        article = str(event.get("article") or "")
        if event.get("event") == "answer":
            article_shown(article, str(event.get("title") or ""), timestamp)
        elif event.get("event") == "feedback" and article:
            verdict = words["helpful"] if event.get("helpful") else words["unhelpful"]
            timed.append((timestamp, BotAttempt("kb_feedback", redact(f"{article}: {verdict}"))))

    flows: set[str] = set()
    fallbacks = 0
    for seen in intents_seen:
        intent = catalog.intent(seen.name)
        if intent is not None and intent.handling == "flow" and seen.name not in flows:
            flows.add(seen.name)
            timed.append((seen.timestamp, BotAttempt("flow", seen.name)))
        elif seen.name == FALLBACK_INTENT:
            fallbacks += 1
    low_confidence = [r for r in decision.reasons if r.code == "low_confidence"]
    if fallbacks:
        timed.append((math.inf, BotAttempt("fallback", words["fallback"].format(n=fallbacks))))
    elif low_confidence:
        timed.append((math.inf, BotAttempt("fallback", redact(low_confidence[0].detail))))

    timed.sort(key=lambda pair: pair[0])  # stable: events without a time keep their order, after the timed ones
    return tuple(attempt for _, attempt in timed[:BOT_ATTEMPTS_KEPT])


# --- Suggested next step ----------------------------------------------------------------------------------------

# What an operator should do first, per intent (or the intent a sensitive signal stands for), then per reason.
# Short imperatives: the operator reads them at a glance, in the conversation's language.
_NEXT_BY_INTENT: dict[str, dict[SummaryLanguage, str]] = {
    "crisis": {
        "en": "Call the customer now; give 112 and the helpline 8-800-2000-122",
        "ru": "Позвоните клиенту сейчас же; дайте номер 112 и телефон доверия 8-800-2000-122",
    },
    "fraud_report": {
        "en": "Block the SIM and card payments, check recent charges",
        "ru": "Заблокируйте SIM-карту и платежи с карты, проверьте последние списания",
    },
    "lost_device": {
        "en": "Block the SIM now; offer a replacement SIM with the same number",
        "ru": "Заблокируйте SIM-карту сейчас; предложите новую SIM-карту с тем же номером",
    },
    "harassment_report": {
        "en": "Make sure the customer is safe (danger now: 112); record numbers and times, offer to block them",
        "ru": (
            "Убедитесь, что клиент в безопасности (угроза сейчас: 112); запишите номера и время, предложите блокировку"
        ),
    },
    "legal_threat": {
        "en": "Register a formal claim and pass it to the legal team; do not argue the merits",
        "ru": "Зарегистрируйте официальную претензию и передайте юристам; не спорьте по существу",
    },
    "privacy_request": {
        "en": "Verify the customer's identity, then register the personal-data request",
        "ru": "Проверьте личность клиента и зарегистрируйте обращение по персональным данным",
    },
    "bereavement": {
        "en": "Offer condolences; explain how to re-register or close the contract and which documents are needed",
        "ru": "Выразите соболезнования; объясните переоформление или расторжение договора и нужные документы",
    },
    "cancel_contract": {
        "en": "Ask why the customer is leaving; offer a retention option before processing the cancellation",
        "ru": "Узнайте причину ухода; предложите вариант удержания до оформления расторжения",
    },
}

# Signals whose intent the table above does not cover.
_NEXT_BY_SIGNAL: dict[str, dict[SummaryLanguage, str]] = {
    "data_leak": {
        "en": "Secure the account: reset access, end other sessions, check recent changes",
        "ru": "Защитите аккаунт: сбросьте доступ, завершите другие сеансы, проверьте последние изменения",
    },
}

_NEXT_BY_REASON: dict[str, dict[SummaryLanguage, str]] = {
    "kb_unhelpful": {
        "en": "The bot's article did not help: do not repeat it; check the line and equipment remotely",
        "ru": "Статья бота не помогла: не повторяйте её; проверьте линию и оборудование удалённо",
    },
    "recurring": {
        "en": "Third contact about this in 7 days: read the earlier cases and give a concrete fix or a date",
        "ru": "Третье обращение за 7 дней: посмотрите прошлые обращения и дайте конкретное решение или срок",
    },
    "anger": {
        "en": "The customer is angry: apologise, take ownership, give a concrete next step",
        "ru": "Клиент раздражён: извинитесь, возьмите вопрос на себя, назовите конкретный следующий шаг",
    },
    "low_confidence": {
        "en": "The bot did not understand: read the transcript and ask what the customer needs",
        "ru": "Бот не понял клиента: прочитайте переписку и уточните, что нужно",
    },
    "human_request": {
        "en": "The customer asked for a person: introduce yourself and pick up from the problem below",
        "ru": "Клиент попросил оператора: представьтесь и продолжите с описанной проблемы",
    },
}

_NEXT_DEFAULT: dict[SummaryLanguage, str] = {
    "en": "Read the problem and the transcript, then answer the customer",
    "ru": "Прочитайте проблему и переписку, затем ответьте клиенту",
}


def suggest_next_step(decision: TriageDecision, language: SummaryLanguage) -> str:
    """The first step for the operator: the most urgent signal's intent wins, then the handoff intent, the NLU
    intent, and the escalation reasons in their order."""
    signals = sorted(decision.signals, key=lambda s: PRIORITY_ORDER[s.priority])
    candidates: list[dict[SummaryLanguage, str] | None] = []
    for signal in signals:
        candidates.append(_NEXT_BY_INTENT.get(signal.intent) or _NEXT_BY_SIGNAL.get(signal.kind))
    for name in (decision.handoff_intent, decision.intent):
        if name:
            candidates.append(_NEXT_BY_INTENT.get(name))
    for reason in decision.reasons:
        candidates.append(_NEXT_BY_REASON.get(reason.code))
    for texts in candidates:
        if texts is not None:
            return texts[language]
    return _NEXT_DEFAULT[language]


# --- Helpers ----------------------------------------------------------------------------------------------------


def _summary_language(customer_language: str, decision_language: str) -> SummaryLanguage:
    for lang in (customer_language, decision_language):
        if lang in ("ru", "en"):
            return cast(SummaryLanguage, lang)
    return "ru"


def _float(value: Any, default: float = 0.0) -> float:
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _literal(value: Any, kind: Any) -> Any:
    """``value`` if it is one of the Literal ``kind``'s values; the caller's annotation gives the type."""
    allowed = get_args(kind)
    if value not in allowed:
        raise ValueError(f"{value!r} is not one of {allowed}")
    return value


def _line_from_dict(data: Mapping[str, Any]) -> TranscriptLine:
    return TranscriptLine(
        role=_literal(data["role"], TranscriptRole),
        text=str(data["text"]),
        timestamp=float(data["timestamp"]),
        channel=str(data["channel"]),
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
