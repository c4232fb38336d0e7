from __future__ import annotations

from gateway_testkit import RASA_TOKEN, FakeRasa, closed_url
from redis.asyncio import Redis

from gateway.dispatch import Dispatcher
from gateway.inbox import Inbox
from gateway.rasa_client import RasaClient


async def test_delivered_message_gets_replies_and_history(redis: Redis, fake_rasa: FakeRasa) -> None:
    inbox = Inbox(redis)
    rasa = RasaClient(fake_rasa.url, RASA_TOKEN, 2.0)
    try:
        outcome = await Dispatcher(inbox, rasa).handle(
            channel="webchat", sender_id="abc", text="hello", metadata={"page": "/help", "channel": "spoofed"}
        )
    finally:
        await rasa.aclose()
    assert outcome.delivered
    assert [r.text for r in outcome.replies] == ["echo: hello"]
    # The gateway's channel wins over the client's, the client's other keys pass through.
    assert fake_rasa.requests[0]["metadata"] == {
        "page": "/help",
        "channel": "webchat",
        "lang": "en",
        "message_id": outcome.message.message_id,
    }
    assert [e.role for e in await inbox.history("abc")] == ["customer", "bot"]


async def test_unavailable_rasa_parks_the_stored_message(redis: Redis) -> None:
    inbox = Inbox(redis)
    rasa = RasaClient(closed_url(), RASA_TOKEN, 2.0)
    try:
        outcome = await Dispatcher(inbox, rasa).handle(channel="webchat", sender_id="abc", text="hello", metadata={})
    finally:
        await rasa.aclose()
    assert not outcome.delivered
    assert [e.message for e in await inbox.pending()] == [outcome.message]


async def test_a_conversation_with_parked_messages_queues_behind_them(redis: Redis, fake_rasa: FakeRasa) -> None:
    inbox = Inbox(redis)
    down = RasaClient(closed_url(), RASA_TOKEN, 2.0)
    up = RasaClient(fake_rasa.url, RASA_TOKEN, 2.0)
    try:
        first = await Dispatcher(inbox, down).handle(channel="webchat", sender_id="abc", text="first", metadata={})
        # Rasa is back, but "first" has not been replayed yet: "second" must not overtake it.
        second = await Dispatcher(inbox, up).handle(channel="webchat", sender_id="abc", text="second", metadata={})
        other = await Dispatcher(inbox, up).handle(channel="webchat", sender_id="xyz", text="other", metadata={})
    finally:
        await down.aclose()
        await up.aclose()
    assert (first.delivered, second.delivered, other.delivered) == (False, False, True)
    assert [e.message.text for e in await inbox.pending() if e.message] == ["first", "second"]
    assert [r["message"] for r in fake_rasa.requests] == ["other"]
