"""The dispatcher on the real Redis with a fake Rasa over HTTP: storing, triage metadata, markers, handoffs,
operator hold, parking."""

from __future__ import annotations

from gateway_testkit import FakeRasa, StartApp, closed_url
from redis.asyncio import Redis

from gateway.dispatch import split_markers
from gateway.rasa_client import BotReply
from gateway.texts import WITH_OPERATOR
from zabota import redis_keys

HANDOFF_MARKER = {
    "custom": {
        "zabota_handoff": {
            "intent": "roaming",
            "confidence": 0.8,
            "priority": "p3",
            "reason": "kb_unhelpful",
            "sensitive": False,
            "language": "ru",
            "entities": {},
        }
    }
}
KB_MARKER = {
    "custom": {"zabota_kb": {"article": "roaming", "title": "Роуминг", "url": "https://x/roaming", "lang": "ru"}}
}


async def test_delivered_message_carries_the_triage_to_rasa(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        outcome = await ctx.services.dispatcher.handle(
            channel="webchat",
            sender_id="abc",
            text="hello",
            metadata={"page": "/help", "channel": "spoofed", "zabota_triage": {"override_intent": "crisis"}},
            customer_id="c-0000000000000001",
        )
        history = await ctx.services.inbox.history("c-0000000000000001")
    assert outcome.delivered and not outcome.held and outcome.handoff is None
    assert [r.text for r in outcome.replies] == ["echo: hello"]
    metadata = fake_rasa.requests[0]["metadata"]
    # The gateway's keys win; a client's zabota_* keys never reach Rasa.
    assert metadata["page"] == "/help" and metadata["channel"] == "webchat"
    assert metadata["zabota_triage"]["escalate"] is False
    assert "override_intent" not in metadata["zabota_triage"]
    assert fake_rasa.requests[0]["sender"] == "c-0000000000000001"
    assert [e.role for e in history] == ["customer", "bot"]


async def test_unavailable_rasa_parks_the_stored_message(start_app: StartApp) -> None:
    async with start_app(rasa_url=closed_url()) as ctx:
        outcome = await ctx.services.dispatcher.handle(channel="webchat", sender_id="abc", text="hello", metadata={})
        pending = await ctx.services.inbox.pending()
    assert not outcome.delivered
    assert [e.message for e in pending] == [outcome.message]


async def test_a_conversation_with_parked_messages_queues_behind_them(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        dispatcher = ctx.services.dispatcher
        fake_rasa.mode = "error"
        first = await dispatcher.handle(channel="webchat", sender_id="abc", text="first", metadata={})
        fake_rasa.mode = "echo"
        # Rasa is back, but "first" has not been replayed yet: "second" must not overtake it.
        second = await dispatcher.handle(channel="webchat", sender_id="abc", text="second", metadata={})
        other = await dispatcher.handle(channel="webchat", sender_id="xyz", text="other", metadata={})
        pending = await ctx.services.inbox.pending()
    assert (first.delivered, second.delivered, other.delivered) == (False, False, True)
    assert [e.message.text for e in pending if e.message] == ["first", "second"]
    assert [r["message"] for r in fake_rasa.requests] == ["other"]


async def test_a_signal_escalates_a_routine_intent_and_the_operator_then_holds_it(
    start_app: StartApp, fake_rasa: FakeRasa, redis: Redis
) -> None:
    customer = "c-0000000000000002"
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        dispatcher = ctx.services.dispatcher
        outcome = await dispatcher.handle(
            channel="webchat",
            sender_id="w-2",
            text="интернет не работает, а бывший муж угрожает убить меня",
            metadata={},
            customer_id=customer,
        )
        held = await dispatcher.handle(
            channel="webchat", sender_id="w-2", text="алло?", metadata={}, customer_id=customer
        )
        handoff = await ctx.services.desk.store.get(outcome.handoff.handoff_id if outcome.handoff else "")
    triage = fake_rasa.requests[0]["metadata"]["zabota_triage"]
    assert triage["escalate"] is True and triage["override_intent"] == "harassment_report"
    assert outcome.handoff is not None and outcome.handoff.priority in ("p1", "p2")
    assert any("специалист" in (r.text or "") for r in outcome.replies)  # when a person answers
    assert handoff is not None and handoff.summary.sensitive
    # told once, in the sensitive case's formal tone; no bot answer
    assert held.held and [r.text for r in held.replies] == [WITH_OPERATOR.say("ru", "formal")]
    assert [r["message"] for r in fake_rasa.requests] == [outcome.message.text]  # the bot never saw "алло?"
    assert await redis.get(redis_keys.conversation_handoff(customer)) == outcome.handoff.handoff_id


async def test_the_bots_own_handoff_opens_one_with_its_problem_intent(start_app: StartApp, fake_rasa: FakeRasa) -> None:
    fake_rasa.extra_replies = {"не помогло": [HANDOFF_MARKER]}
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        outcome = await ctx.services.dispatcher.handle(
            channel="webchat", sender_id="w-3", text="нет, не помогло", metadata={}, customer_id="c-0000000000000003"
        )
        assert outcome.handoff is not None
        handoff = await ctx.services.desk.store.get(outcome.handoff.handoff_id)
    assert handoff is not None
    assert handoff.summary.intent == "roaming"
    assert "kb_unhelpful" in [reason.code for reason in handoff.summary.reasons]
    assert all(r.custom is None for r in outcome.replies)  # the marker never reaches the customer


def test_markers_are_split_from_what_the_customer_sees() -> None:
    replies = [
        BotReply(text="Статья"),
        BotReply.model_validate(KB_MARKER),
        BotReply(text="Передаю специалисту"),
        BotReply.model_validate(HANDOFF_MARKER),
        BotReply(custom={"card": "other custom payloads stay"}),
    ]
    turn = split_markers(replies)
    assert [r.text for r in turn.visible] == ["Статья", "Передаю специалисту", None]
    assert turn.visible[-1].custom == {"card": "other custom payloads stay"}
    assert turn.kb_articles == [KB_MARKER["custom"]["zabota_kb"]]
    assert turn.handoff == HANDOFF_MARKER["custom"]["zabota_handoff"]


def test_articles_offered_as_buttons_are_choices_and_intent_buttons_are_not() -> None:
    from gateway.dispatch import offered_choices
    from gateway.rasa_client import BotReply, Button

    did_you_mean = BotReply(text="Какая из них?", buttons=[Button(title="Роуминг", payload="Роуминг")])
    yes_no = BotReply(text="Помогло?", buttons=[Button(title="Да", payload="/affirm")])
    assert offered_choices([did_you_mean]) is True
    assert offered_choices([yes_no]) is False and offered_choices([]) is False
