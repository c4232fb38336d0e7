from __future__ import annotations

import json

import pytest
from gateway_testkit import RASA_TOKEN, FakeRasa, closed_url, stream_fields
from redis.asyncio import Redis

from gateway.inbox import InboundMessage, Inbox, PendingEntry, Redeliverer
from gateway.rasa_client import BotReply, RasaClient
from zabota import redis_keys

CARD = "4111 1111 1111 1111"  # a Luhn-valid test card number


def make_redeliverer(inbox: Inbox, url: str, **kwargs: object) -> tuple[Redeliverer, RasaClient]:
    rasa = RasaClient(url, RASA_TOKEN, 2.0)
    return Redeliverer(inbox, rasa, interval_seconds=0.05, lock_timeout_seconds=10, **kwargs), rasa  # type: ignore[arg-type]


async def accept(inbox: Inbox, text: str, sender_id: str = "abc", channel: str = "webchat") -> InboundMessage:
    return await inbox.accept(channel=channel, sender_id=sender_id, text=text, metadata={})


async def test_accept_stores_the_redacted_message_in_the_stream_and_history(redis: Redis) -> None:
    inbox = Inbox(redis, clock=lambda: 1000.0)
    message = await inbox.accept(
        channel="webchat", sender_id="abc", text=f"моя карта {CARD}", metadata={"page": f"card {CARD}"}
    )
    assert CARD not in message.text
    assert message.conversation_id == "abc"  # Rasa's sender, and the handoff's conversation_id
    assert message.lang == "ru"
    assert message.metadata == {"page": "card [карта скрыта]"}

    [fields] = await stream_fields(redis, redis_keys.INBOUND_STREAM)
    assert fields["message_id"] == message.message_id
    assert fields["text"] == "моя карта [карта скрыта]"
    assert (fields["sender_id"], fields["channel"], fields["lang"]) == ("abc", "webchat", "ru")
    assert float(fields["timestamp"]) == 1000.0
    assert CARD not in json.dumps(fields, ensure_ascii=False)

    [entry] = await inbox.history("abc")
    assert (entry.role, entry.text, entry.message_id) == ("customer", message.text, message.message_id)
    ttl = await redis.ttl(redis_keys.conversation_history("abc"))
    assert 0 < ttl <= redis_keys.CONVERSATION_HISTORY_TTL_SECONDS


async def test_language_follows_the_conversation_for_messages_without_letters(redis: Redis) -> None:
    inbox = Inbox(redis)
    assert (await accept(inbox, "my internet is down")).lang == "en"
    assert (await accept(inbox, "230045678912")).lang == "en"
    assert (await accept(inbox, "230045678912", sender_id="other")).lang == "ru"  # a new conversation: default


async def test_history_is_capped_to_the_newest_items(redis: Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redis_keys, "CONVERSATION_HISTORY_MAX_ITEMS", 3)
    inbox = Inbox(redis)
    for n in range(5):
        await accept(inbox, f"message {n}")
    assert [e.text for e in await inbox.history("abc")] == ["message 2", "message 3", "message 4"]
    assert [e.text for e in await inbox.history("abc", limit=1)] == ["message 4"]


async def test_record_replies_appends_bot_lines(redis: Redis) -> None:
    inbox = Inbox(redis)
    message = await accept(inbox, "hello")
    await inbox.record_replies(message, [BotReply(text="hi"), BotReply(image="https://x/y.png")], delayed=True)
    history = await inbox.history(message.conversation_id)
    assert [(e.role, e.text, e.image, e.delayed) for e in history] == [
        ("customer", "hello", None, False),
        ("bot", "hi", None, True),
        ("bot", None, "https://x/y.png", True),
    ]
    assert {e.message_id for e in history} == {message.message_id}


async def test_park_and_ack_track_pending_per_conversation(redis: Redis) -> None:
    inbox = Inbox(redis)
    first, second = await accept(inbox, "one"), await accept(inbox, "two")
    await inbox.park(first)
    await inbox.park(second)
    assert await inbox.has_pending("abc")
    assert not await inbox.has_pending("someone-else")
    entries = await inbox.pending()
    assert [e.message for e in entries] == [first, second]  # the stored message comes back unchanged

    await inbox.ack(entries[0])
    assert await inbox.has_pending("abc")
    await inbox.ack(entries[1])
    assert not await inbox.has_pending("abc")
    assert await inbox.pending_count() == 0
    assert await redis.exists(redis_keys.PENDING_CONVERSATIONS) == 0


async def test_redeliverer_replays_in_order_and_records_delayed_replies(redis: Redis, fake_rasa: FakeRasa) -> None:
    inbox = Inbox(redis)
    messages = [await accept(inbox, f"message {n}", sender_id=f"s{n % 2}") for n in range(4)]
    for message in messages:
        await inbox.park(message)
    delivered: list[str] = []

    async def hook(message: InboundMessage, replies: list[BotReply]) -> None:
        delivered.append(message.message_id)

    redeliverer, rasa = make_redeliverer(inbox, fake_rasa.url, on_delivered=hook)
    try:
        assert await redeliverer.run_once() == 4
    finally:
        await rasa.aclose()

    assert [r["message"] for r in fake_rasa.requests] == [m.text for m in messages]
    assert fake_rasa.requests[0]["sender"] == "s0"
    assert fake_rasa.requests[0]["metadata"] == {
        "channel": "webchat",
        "lang": "en",
        "message_id": messages[0].message_id,
    }
    assert delivered == [m.message_id for m in messages]
    assert await inbox.pending_count() == 0
    assert not await inbox.has_pending("s0")
    history = await inbox.history("s0")
    assert [(e.role, e.text, e.delayed) for e in history] == [
        ("customer", "message 0", False),
        ("customer", "message 2", False),
        ("bot", "echo: message 0", True),
        ("bot", "echo: message 2", True),
    ]


async def test_redeliverer_stops_at_the_first_failure_and_keeps_the_rest(redis: Redis, fake_rasa: FakeRasa) -> None:
    inbox = Inbox(redis)
    for text in ("first", "boom second", "third"):
        await inbox.park(await accept(inbox, text))
    fake_rasa.fail_on = "boom"
    redeliverer, rasa = make_redeliverer(inbox, fake_rasa.url)
    try:
        assert await redeliverer.run_once() == 1
        assert [e.message.text for e in await inbox.pending() if e.message] == ["boom second", "third"]
        assert await inbox.has_pending("abc")

        fake_rasa.fail_on = None  # Rasa is back
        assert await redeliverer.run_once() == 2
    finally:
        await rasa.aclose()
    assert [r["message"] for r in fake_rasa.requests] == ["first", "boom second", "third"]
    assert await inbox.pending_count() == 0


async def test_redeliverer_keeps_everything_while_rasa_is_down(redis: Redis) -> None:
    inbox = Inbox(redis)
    await inbox.park(await accept(inbox, "hello"))
    redeliverer, rasa = make_redeliverer(inbox, closed_url())
    try:
        assert await redeliverer.run_once() == 0
        assert await redeliverer.run_once() == 0
    finally:
        await rasa.aclose()
    assert await inbox.pending_count() == 1


async def test_redeliverer_drops_an_entry_it_cannot_read(redis: Redis, fake_rasa: FakeRasa) -> None:
    inbox = Inbox(redis)
    await redis.xadd(redis_keys.PENDING_STREAM, {"junk": "1"})
    await inbox.park(await accept(inbox, "after the junk"))
    redeliverer, rasa = make_redeliverer(inbox, fake_rasa.url)
    try:
        assert await redeliverer.run_once() == 2
    finally:
        await rasa.aclose()
    assert [r["message"] for r in fake_rasa.requests] == ["after the junk"]
    assert await inbox.pending_count() == 0


async def test_redeliverer_leaves_the_work_to_the_lock_holder(redis: Redis, fake_rasa: FakeRasa) -> None:
    inbox = Inbox(redis)
    await inbox.park(await accept(inbox, "hello"))
    other_worker = inbox.redelivery_lock(10)
    assert await other_worker.acquire()
    redeliverer, rasa = make_redeliverer(inbox, fake_rasa.url)
    try:
        assert await redeliverer.run_once() == 0
        await other_worker.release()
        assert await redeliverer.run_once() == 1
    finally:
        await rasa.aclose()


async def test_a_failing_delivery_hook_does_not_replay_the_message(redis: Redis, fake_rasa: FakeRasa) -> None:
    inbox = Inbox(redis)
    await inbox.park(await accept(inbox, "hello"))

    async def broken_hook(message: InboundMessage, replies: list[BotReply]) -> None:
        raise RuntimeError("telegram is down")

    redeliverer, rasa = make_redeliverer(inbox, fake_rasa.url, on_delivered=broken_hook)
    try:
        assert await redeliverer.run_once() == 1
    finally:
        await rasa.aclose()
    assert await inbox.pending_count() == 0
    assert len(fake_rasa.requests) == 1


def test_pending_entry_round_trips_through_stream_fields() -> None:
    message = InboundMessage("id1", "a", "webchat", "a", "текст", "ru", 12.5, {"k": [1, "v"]})
    assert InboundMessage.from_fields(message.to_fields()) == message
    with pytest.raises(ValueError):
        InboundMessage.from_fields({**message.to_fields(), "lang": "de"})
    assert PendingEntry("1-0", None, "").message is None
