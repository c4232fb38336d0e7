"""Surveys in the customer's channel (gateway/surveys.py, zabota/surveys) through the app's services on the real
Redis: asked after a conversation the bot resolved and after a closed handoff, answered with buttons, digits or
words (late too), never during a sensitive case, throttled, and a low score followed up by a person."""

from __future__ import annotations

from gateway_testkit import OPERATOR_TOKEN, AppContext, FakeRasa, StartApp
from redis.asyncio import Redis

from gateway.dispatch import Outcome
from zabota import redis_keys
from zabota.events import Event
from zabota.surveys.questions import button_payload

INTENTS = {"роуминг": "roaming", "спасибо": "thank", "угрожает": "harassment_report", "оператор": "request_human"}


async def say(ctx: AppContext, customer: str, text: str, channel: str = "webchat") -> Outcome:
    return await ctx.services.dispatcher.handle(
        channel=channel, sender_id="s-" + customer, text=text, metadata={}, customer_id=customer
    )


async def closed_handoff(ctx: AppContext, customer: str, text: str) -> str:
    """The customer's message goes to a person, who claims it and closes it; returns the handoff id."""
    opened = await say(ctx, customer, text)
    assert opened.handoff is not None
    anna = ctx.services.operators.authenticate(OPERATOR_TOKEN)
    assert anna is not None
    await ctx.services.desk.claim(opened.handoff.handoff_id, anna)
    await ctx.services.desk.close(opened.handoff.handoff_id, anna, "помогли")
    return opened.handoff.handoff_id


async def survey_events(redis: Redis) -> list[Event]:
    rows = await redis.xrange(redis_keys.EVENTS_STREAM)
    found = [Event.from_fields({str(k): str(v) for k, v in fields.items()}) for _, fields in rows]
    return [event for event in found if event.kind.startswith("survey")]


async def test_a_resolved_conversation_is_asked_csat_ces_and_nps_with_buttons(
    start_app: StartApp, fake_rasa: FakeRasa, redis: Redis
) -> None:
    fake_rasa.intents = INTENTS
    customer = "c-00000000000005a1"
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        await say(ctx, customer, "как подключить роуминг?")
        thanks = await say(ctx, customer, "спасибо, всё понятно")
        ces = await say(ctx, customer, button_payload(5))
        nps = await say(ctx, customer, "6")
        done = await say(ctx, customer, "9, всё отлично")
        events = await survey_events(redis)
    question = thanks.replies[-1]
    assert "от 1 (плохо) до 5 (отлично)" in (question.text or "")
    assert [button.title for button in question.buttons] == ["1", "2", "3", "4", "5"]
    assert [button.title for button in ces.replies[0].buttons] == [str(n) for n in range(1, 8)]
    assert [button.title for button in nps.replies[0].buttons] == [str(n) for n in range(11)]
    assert [reply.text for reply in done.replies] == ["Спасибо за оценку!"]
    # the scores never reached the bot
    assert [request["message"] for request in fake_rasa.requests] == ["как подключить роуминг?", "спасибо, всё понятно"]
    sent = [event for event in events if event.kind == "survey_sent"]
    answers = [(event.data["metric"], event.data["score"], event.data["comment"]) for event in events[1:]]
    assert len(sent) == 1 and sent[0].data["trigger"] == "resolved"
    assert answers == [("csat", 5, None), ("ces", 6, None), ("nps", 9, "всё отлично")]
    assert {event.ref for event in events} == {sent[0].ref}


async def test_a_low_score_opens_a_service_recovery_handoff_with_the_comment(
    start_app: StartApp, fake_rasa: FakeRasa
) -> None:
    fake_rasa.intents = INTENTS
    customer = "c-00000000000005a2"
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        await say(ctx, customer, "роуминг в турции как включить")
        await say(ctx, customer, "спасибо")
        low = await say(ctx, customer, "2, долго разбиралась сама")
        handoff = await ctx.services.desk.store.get(low.handoff.handoff_id if low.handoff else "")
        after = await ctx.services.redis.get(redis_keys.survey(customer))
    assert low.handoff is not None and low.handoff.priority == "p3"
    assert "Специалист свяжется с вами" in (low.replies[0].text or "")
    assert handoff is not None
    [reason] = handoff.summary.reasons
    assert reason.code == "service_recovery" and reason.detail == "CSAT 2: «долго разбиралась сама»"
    assert after is None  # no more questions for an unhappy customer


async def test_an_answer_is_accepted_after_another_question_and_the_next_conversation_is_not_asked(
    start_app: StartApp, fake_rasa: FakeRasa
) -> None:
    fake_rasa.intents = INTENTS
    customer = "c-00000000000005a3"
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        await say(ctx, customer, "роуминг", channel="sms")
        asked = await say(ctx, customer, "спасибо", channel="sms")
        other = await say(ctx, customer, "а роуминг в Турции сколько стоит?", channel="sms")
        late = await say(ctx, customer, "четыре", channel="sms")
        await say(ctx, customer, "роуминг", channel="sms")
        again = await say(ctx, customer, "спасибо", channel="sms")
    assert asked.replies[-1].buttons == [] and "от 1 (плохо) до 5 (отлично)" in (asked.replies[-1].text or "")
    assert "Насколько легко" not in " ".join(reply.text or "" for reply in other.replies)  # the bot answered it
    assert "Насколько легко" in (late.replies[0].text or "")  # «четыре» was the CSAT, late
    assert all("оцените" not in (reply.text or "").lower() for reply in again.replies)  # once a week


async def test_never_during_a_sensitive_case_and_after_a_closed_one_not_either(
    start_app: StartApp, fake_rasa: FakeRasa
) -> None:
    fake_rasa.intents = INTENTS
    customer = "c-00000000000005a4"
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        await closed_handoff(ctx, customer, "сосед угрожает мне")
        history = await ctx.services.inbox.history(customer)
    assert not [button for line in history for button in line.buttons if button.payload.startswith("/score")]
    assert all("оцените" not in (line.text or "").lower() for line in history)


async def test_a_closed_handoff_is_asked_how_it_went_in_the_customer_s_channel(
    start_app: StartApp, fake_rasa: FakeRasa, redis: Redis
) -> None:
    fake_rasa.intents = INTENTS
    customer = "c-00000000000005a5"
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        handoff_id = await closed_handoff(ctx, customer, "соедините с оператором")
        history = await ctx.services.inbox.history(customer)
        answered = await say(ctx, customer, "5")
        events = await survey_events(redis)
    question = history[-1]
    assert question.role == "bot" and [button.title for button in question.buttons] == ["1", "2", "3", "4", "5"]
    assert "Насколько легко" in (answered.replies[0].text or "")
    assert events[0].data["trigger"] == "handoff_closed" and events[0].data["about"] == handoff_id
