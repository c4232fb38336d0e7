"""TriageEngine with the fake Rasa over HTTP, the real SignalDetector and TriagePolicy, and no knowledge base:
classification, the decision a text signal overrides, the dry run's reply channels; and ``triage_metadata``,
what the bot is told about the decision."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from gateway_testkit import RASA_TOKEN, FakeRasa, closed_url

from gateway.app import shared_signal_detector
from gateway.dispatch import triage_metadata
from gateway.rasa_client import RasaClient, RasaUnavailable
from gateway.triage import CALLER_PLACEHOLDER, TriageEngine, contact_profile
from zabota.catalog import load_catalog
from zabota.channels.policy import ChannelPolicyConfig, ContactProfile
from zabota.identity import CustomerProfile
from zabota.triage import TriagePolicy
from zabota.triage.model import NluResult, Reason, TriageContext, TriageDecision

SELF_HARM = "интернет не работает, я больше не хочу жить"


@pytest.fixture
async def engine(fake_rasa: FakeRasa) -> AsyncIterator[TriageEngine]:
    rasa = RasaClient(fake_rasa.url, RASA_TOKEN, 2.0)
    catalog = load_catalog()
    # The app's detector: one per process, its spaCy pipelines shared with every other gateway test.
    detector = shared_signal_detector()
    try:
        yield TriageEngine(rasa, detector, TriagePolicy(catalog), catalog, None, ChannelPolicyConfig())
    finally:
        await rasa.aclose()


# --- classify ---------------------------------------------------------------------------------------------------


async def test_classify_returns_rasas_intent_and_a_routine_decision(engine: TriageEngine, fake_rasa: FakeRasa) -> None:
    fake_rasa.intents = {"баланс": "check_balance"}
    nlu, decision = await engine.classify("какой у меня баланс", "ru", TriageContext(channel="webchat"))
    assert (nlu.intent, nlu.confidence) == ("check_balance", 0.95)
    assert fake_rasa.parsed == ["какой у меня баланс"]
    assert decision.intent == "check_balance"
    assert decision.escalate is False and decision.priority is None
    assert [reason.code for reason in decision.reasons] == ["routine"]


async def test_each_clause_of_a_longer_message_is_classified_too(engine: TriageEngine, fake_rasa: FakeRasa) -> None:
    # the first substring found decides: the whole message is a balance question, its second half a crisis
    fake_rasa.intents = {"баланс": "check_balance", "я всё решила": "crisis"}
    text = "какой у меня баланс? мне это уже не понадобится, я всё решила"
    nlu, decision = await engine.classify(text, "ru", TriageContext(channel="webchat"))
    # the clauses are sent together, so they may arrive in either order; the result keeps the message's order
    assert fake_rasa.parsed[0] == text
    assert sorted(fake_rasa.parsed[1:]) == sorted(["какой у меня баланс?", "мне это уже не понадобится, я всё решила"])
    assert nlu.intent == "check_balance"
    assert nlu.clauses == (("check_balance", 0.95), ("crisis", 0.95))
    assert (decision.escalate, decision.priority, decision.handoff_intent) == (True, "p1", "crisis")


async def test_a_self_harm_text_escalates_p1_whatever_the_intent(engine: TriageEngine, fake_rasa: FakeRasa) -> None:
    assert fake_rasa.default_intent == "internet_down"
    nlu, decision = await engine.classify(SELF_HARM, "ru", TriageContext(channel="webchat"))
    assert nlu.intent == "internet_down"
    assert decision.escalate is True
    assert decision.priority == "p1"
    assert decision.sensitive is True
    assert decision.handoff_intent == "crisis"
    assert "sensitive_signal" in [reason.code for reason in decision.reasons]
    assert "self_harm" in [signal.kind for signal in decision.signals]


async def test_classify_without_rasa_raises_for_the_caller_to_park() -> None:
    rasa = RasaClient(closed_url(), RASA_TOKEN, 1.0)
    catalog = load_catalog()
    engine = TriageEngine(rasa, shared_signal_detector(), TriagePolicy(catalog), catalog, None, ChannelPolicyConfig())
    try:
        with pytest.raises(RasaUnavailable):
            await engine.classify("привет", "ru", TriageContext())
    finally:
        await rasa.aclose()


# --- dry_run and the knowledge base ----------------------------------------------------------------------------------


async def test_a_voice_dry_run_sends_instructions_by_sms_to_the_caller(
    engine: TriageEngine, fake_rasa: FakeRasa
) -> None:
    fake_rasa.intents = {"wi-fi": "wifi_setup"}
    result = await engine.dry_run("как поменять пароль на wi-fi", "ru", TriageContext(channel="voice"), None)
    assert result.nlu.intent == "wifi_setup"
    assert result.decision.escalate is False
    assert result.kb == []
    channels = [(choice.channel, choice.purpose) for choice in result.reply_channels]
    assert channels == [("voice", "reply"), ("sms", "instructions")]


async def test_a_webchat_dry_run_answers_in_the_webchat_only(engine: TriageEngine, fake_rasa: FakeRasa) -> None:
    fake_rasa.intents = {"wi-fi": "wifi_setup"}
    result = await engine.dry_run("как поменять пароль на wi-fi", "ru", TriageContext(channel="webchat"), None)
    assert [(choice.channel, choice.purpose) for choice in result.reply_channels] == [("webchat", "reply")]


async def test_a_voice_dry_run_uses_a_linked_telegram_the_customer_prefers(
    engine: TriageEngine, fake_rasa: FakeRasa
) -> None:
    fake_rasa.intents = {"wi-fi": "wifi_setup"}
    profile = CustomerProfile(
        customer_id="c-1", phone="+79161234567", telegram_chat_id=42, preferred_channel="telegram"
    )
    result = await engine.dry_run("как поменять пароль на wi-fi", "ru", TriageContext(channel="voice"), profile)
    assert [choice.channel for choice in result.reply_channels] == ["voice", "telegram"]


async def test_an_urgent_sensitive_chat_dry_run_offers_a_callback(engine: TriageEngine) -> None:
    result = await engine.dry_run(SELF_HARM, "ru", TriageContext(channel="telegram"), None)
    assert result.decision.priority == "p1"
    assert [(choice.channel, choice.purpose) for choice in result.reply_channels] == [
        ("telegram", "reply"),
        ("voice", "callback_offer"),
    ]


async def test_without_a_knowledge_base_there_are_no_articles(engine: TriageEngine, fake_rasa: FakeRasa) -> None:
    assert await engine.suggest_articles("как подключить роуминг", "ru") == []
    assert fake_rasa.parsed == []  # suggesting articles is no classification


def test_contact_profile_for_the_dry_run() -> None:
    assert contact_profile(None, CALLER_PLACEHOLDER) == ContactProfile(phone=CALLER_PLACEHOLDER)
    assert contact_profile(None) == ContactProfile()
    profile = CustomerProfile(
        customer_id="c-1", phone="+79161234567", email="a@b.ru", telegram_chat_id=7, preferred_channel="vk"
    )
    assert contact_profile(profile) == ContactProfile(
        phone="+79161234567", email="a@b.ru", telegram_chat_id=7, preferred=None
    )
    assert contact_profile(profile, "+79990001122").phone == "+79990001122"
    preferring_sms = CustomerProfile(customer_id="c-1", preferred_channel="sms")
    assert contact_profile(preferring_sms).preferred == "sms"


# --- triage_metadata: what the bot is told ---------------------------------------------------------------------------


async def test_a_sensitive_signal_tells_the_bot_the_intent_to_act_on(engine: TriageEngine) -> None:
    nlu, decision = await engine.classify(SELF_HARM, "ru", TriageContext())
    metadata = triage_metadata(nlu, decision)
    assert metadata["override_intent"] == "crisis"
    assert metadata["escalate"] is True and metadata["priority"] == "p1" and metadata["sensitive"] is True
    assert "sensitive_signal" in metadata["reasons"]


async def test_a_routine_decision_overrides_nothing(engine: TriageEngine) -> None:
    nlu, decision = await engine.classify("интернет не работает", "ru", TriageContext())
    metadata = triage_metadata(nlu, decision)
    assert metadata == {"escalate": False, "priority": None, "sensitive": False, "reasons": ["routine"]}


async def test_the_bots_own_reasons_override_nothing(engine: TriageEngine) -> None:
    # The second "no, it did not help": the bot counts unhelpful articles itself and hands over its problem intent.
    deny = NluResult("deny", 0.97)
    context = TriageContext(awaiting_kb_feedback=True, kb_unhelpful=1)
    decision = await engine.decide("нет", "ru", deny, context)
    assert decision.escalate and decision.handoff_intent == "request_human"
    assert [reason.code for reason in decision.reasons] == ["kb_unhelpful"]
    assert "override_intent" not in triage_metadata(deny, decision)

    # The second message in a row the bot did not understand.
    fallback = NluResult("nlu_fallback", 0.3)
    decision = await engine.decide("абырвалг", "ru", fallback, TriageContext(low_confidence_streak=1))
    assert decision.escalate and [reason.code for reason in decision.reasons] == ["low_confidence"]
    assert "override_intent" not in triage_metadata(fallback, decision)


async def test_a_reason_the_bot_cannot_see_still_overrides(engine: TriageEngine) -> None:
    # "No, it did not help" a second time, and a request for a person in the text, which the bot cannot see.
    deny = NluResult("deny", 0.97)
    context = TriageContext(awaiting_kb_feedback=True, kb_unhelpful=1)
    decision = await engine.decide("нет, не помогло, соедините с оператором", "ru", deny, context)
    assert {reason.code for reason in decision.reasons} == {"kb_unhelpful", "human_request"}
    assert triage_metadata(deny, decision)["override_intent"] == "request_human"


def test_an_escalated_intent_the_bot_already_has_is_not_overridden() -> None:
    nlu = NluResult("fraud_report", 0.95)
    decision = TriageDecision(
        intent="fraud_report",
        confidence=0.95,
        sensitive=True,
        escalate=True,
        priority="p2",
        reasons=(Reason("sensitive_intent", "intent fraud_report (0.95) is sensitive, p2"),),
        handoff_intent="fraud_report",
    )
    assert "override_intent" not in triage_metadata(nlu, decision)
