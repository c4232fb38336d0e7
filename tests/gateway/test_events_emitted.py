"""The leads' events (zabota/events) as the gateway writes them, in the same transactions as what they tell of:
a customer's message, its triage, the replies, and the handoff's life from opening to closing."""

from __future__ import annotations

from typing import Any

from gateway_testkit import OPERATOR_TOKEN, FakeRasa, StartApp
from redis.asyncio import Redis

from zabota import redis_keys
from zabota.events import Event

CUSTOMER = "c-00000000000000f1"
CARD = "4111 1111 1111 1111"


async def events(redis: Redis) -> list[Event]:
    rows = await redis.xrange(redis_keys.EVENTS_STREAM)
    return [Event.from_fields({str(k): str(v) for k, v in fields.items()}) for _, fields in rows]


def of(kind: str, found: list[Event]) -> list[Event]:
    return [event for event in found if event.kind == kind]


async def test_a_handed_over_conversation_leaves_its_events_in_order(
    start_app: StartApp, fake_rasa: FakeRasa, redis: Redis
) -> None:
    async with start_app(rasa_url=fake_rasa.url) as ctx:
        services = ctx.services
        outcome = await services.dispatcher.handle(
            channel="webchat",
            sender_id="w-f1",
            text=f"бывший муж угрожает убить меня, и карта {CARD} у него",
            metadata={},
            customer_id=CUSTOMER,
        )
        assert outcome.handoff is not None
        handoff_id = outcome.handoff.handoff_id
        anna = services.operators.authenticate(OPERATOR_TOKEN)
        assert anna is not None
        await services.desk.claim(handoff_id, anna)
        await services.desk.reply(handoff_id, anna, "Здравствуйте, я с вами")
        await services.desk.reply(handoff_id, anna, "Блокирую карту")
        await services.desk.close(handoff_id, anna, "карта заблокирована")
        found = await events(redis)

    kinds = [event.kind for event in found]
    assert kinds.index("message_in") < kinds.index("handoff_opened")
    assert kinds.index("handoff_opened") < kinds.index("handoff_claimed") < kinds.index("handoff_first_reply")
    assert kinds.index("handoff_first_reply") < kinds.index("handoff_closed")
    assert all(event.customer_id == CUSTOMER for event in found)

    [message] = of("message_in", found)
    assert message.channel == "webchat" and message.lang == "ru" and message.ref == outcome.message.message_id
    assert CARD not in str(message.data["text"])  # redacted, as the history is
    [triage] = of("triage", found)
    data: dict[str, Any] = dict(triage.data)
    assert data["escalate"] is True and data["sensitive"] is True and data["handoff_id"] == handoff_id
    assert data["priority"] in ("p1", "p2") and data["reasons"]
    [opened] = of("handoff_opened", found)
    assert opened.ref == handoff_id and opened.data["priority"] == data["priority"] and opened.data["sensitive"]
    assert len(of("handoff_first_reply", found)) == 1  # the second reply is not a first one
    [first] = of("handoff_first_reply", found)
    assert first.data["operator"] == anna.id and float(first.data["response_s"]) >= 0
    [closed] = of("handoff_closed", found)
    assert closed.data["answered"] is True
    outgoing = of("message_out", found)
    assert {event.data["role"] for event in outgoing} >= {"bot", "operator", "system"}
    assert all("text" not in event.data for event in outgoing)  # counted, not copied
    assert len({event.id for event in found}) == len(found)
