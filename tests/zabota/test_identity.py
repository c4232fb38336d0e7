"""CustomerDirectory on the real Redis (database 15, this test's keys under their own prefix): channel keys, one
customer id per channel identity (also under concurrency), verified links, the profile, and the episodes of
recent problem intents behind the recurring-problem rule."""

from __future__ import annotations

import asyncio
import re

import pytest
from redis.asyncio import Redis

from zabota import redis_keys
from zabota.identity import (
    EPISODE_GAP_SECONDS,
    PROFILE_FIELDS,
    CustomerDirectory,
    CustomerProfile,
    channel_key,
)

CUSTOMER_ID = re.compile(r"^c-[0-9a-f]{16}$")
NOW = 1_700_000_000.0
MINUTE = 60.0
HOUR = 3600.0
DAY = 24 * HOUR


@pytest.fixture
def directory(redis: Redis) -> CustomerDirectory:
    return CustomerDirectory(redis)


# --- channel keys --------------------------------------------------------------------------------------------


def test_channel_keys_are_namespaced_by_channel() -> None:
    assert channel_key("web", "1") == "web:1"
    assert channel_key("tg", "1") == "tg:1"
    assert channel_key("web", "1") != channel_key("tg", "1")
    assert channel_key("tel", "+79161234567") == "tel:+79161234567"


def test_only_email_is_lower_cased() -> None:
    assert channel_key("email", "Ivan.Petrov@Mail.RU") == "email:ivan.petrov@mail.ru"
    # A webchat visitor id is the widget's own token: its case is part of it.
    assert channel_key("web", "W-AbC") == "web:W-AbC"


def test_a_channel_key_needs_a_value() -> None:
    with pytest.raises(ValueError):
        channel_key("tg", "")


# --- resolve, lookup, link, point ------------------------------------------------------------------------------


async def test_resolve_creates_a_customer_once_and_then_returns_it(directory: CustomerDirectory, redis: Redis) -> None:
    key = channel_key("web", "w-3f2b")
    assert await directory.lookup(key) is None

    first = await directory.resolve(key)
    again = await directory.resolve(key)

    assert CUSTOMER_ID.match(first)
    assert again == first
    assert await directory.lookup(key) == first
    ttl = await redis.ttl(redis_keys.identity(key))
    assert 0 < ttl <= redis_keys.IDENTITY_TTL_SECONDS


async def test_concurrent_first_messages_get_one_customer(directory: CustomerDirectory) -> None:
    key = channel_key("tg", "123456789")
    ids = await asyncio.gather(*(directory.resolve(key) for _ in range(20)))
    assert len(set(ids)) == 1
    assert await directory.lookup(key) == ids[0]


async def test_the_same_id_in_two_channels_is_two_customers(directory: CustomerDirectory) -> None:
    web = await directory.resolve(channel_key("web", "1"))
    tg = await directory.resolve(channel_key("tg", "1"))
    assert web != tg


async def test_an_email_in_any_case_is_one_customer(directory: CustomerDirectory) -> None:
    lower = await directory.resolve(channel_key("email", "anna@example.ru"))
    mixed = await directory.resolve(channel_key("email", "Anna@Example.RU"))
    assert mixed == lower


async def test_link_verified_links_a_new_phone_to_the_sender(directory: CustomerDirectory) -> None:
    tg_key = channel_key("tg", "42")
    phone_key = channel_key("tel", "+79161234567")
    customer = await directory.resolve(tg_key)

    linked = await directory.link_verified(customer, phone_key)

    assert linked == customer
    assert await directory.lookup(phone_key) == customer
    assert await directory.lookup(tg_key) == customer


async def test_link_verified_returns_the_customer_who_already_has_the_phone(directory: CustomerDirectory) -> None:
    phone_key = channel_key("tel", "+79161234567")
    tg_key = channel_key("tg", "43")
    caller = await directory.resolve(phone_key)  # called in earlier
    newcomer = await directory.resolve(tg_key)  # now writes in Telegram and shares the number
    assert newcomer != caller

    linked = await directory.link_verified(newcomer, phone_key)

    assert linked == caller
    # The phone stays with the customer who had it; the caller re-points its own key (below).
    assert await directory.lookup(phone_key) == caller
    assert await directory.lookup(tg_key) == newcomer
    await directory.point(tg_key, linked)
    assert await directory.lookup(tg_key) == caller
    assert await directory.resolve(tg_key) == caller


async def test_point_re_points_a_key_and_sets_its_expiry(directory: CustomerDirectory, redis: Redis) -> None:
    key = channel_key("web", "w-1")
    first = await directory.resolve(key)
    await directory.point(key, "c-00000000000000aa")
    assert await directory.lookup(key) == "c-00000000000000aa"
    assert await directory.resolve(key) == "c-00000000000000aa"
    assert first != "c-00000000000000aa"
    assert 0 < await redis.ttl(redis_keys.identity(key)) <= redis_keys.IDENTITY_TTL_SECONDS


async def test_point_creates_a_key_that_did_not_exist(directory: CustomerDirectory) -> None:
    key = channel_key("tel", "+79990001122")
    await directory.point(key, "c-00000000000000bb")
    assert await directory.lookup(key) == "c-00000000000000bb"


# --- the profile ------------------------------------------------------------------------------------------------


async def test_an_unknown_customer_has_an_empty_profile(directory: CustomerDirectory) -> None:
    profile = await directory.profile("c-0000000000000000")
    assert profile == CustomerProfile(customer_id="c-0000000000000000")
    assert profile.channels() == []


async def test_profile_round_trip(directory: CustomerDirectory, redis: Redis) -> None:
    customer = "c-0000000000000001"
    await directory.update_profile(
        customer,
        name="Анна",
        segment="vip",
        language="ru",
        phone="+79161234567",
        email="anna@example.ru",
        telegram_chat_id=123456789,
        preferred_channel="telegram",
        last_channel="telegram",
        webchat_id="w-3f2b",
    )

    profile = await directory.profile(customer)

    assert profile == CustomerProfile(
        customer_id=customer,
        name="Анна",
        segment="vip",
        language="ru",
        phone="+79161234567",
        email="anna@example.ru",
        telegram_chat_id=123456789,
        preferred_channel="telegram",
        last_channel="telegram",
        webchat_id="w-3f2b",
    )
    assert isinstance(profile.telegram_chat_id, int)
    assert profile.channels() == ["telegram", "sms", "email"]
    key = redis_keys.customer_profile(customer)
    assert set(await redis.hkeys(key)) == set(PROFILE_FIELDS)
    assert 0 < await redis.ttl(key) <= redis_keys.IDENTITY_TTL_SECONDS


async def test_a_later_update_changes_only_the_fields_given(directory: CustomerDirectory) -> None:
    customer = "c-0000000000000002"
    await directory.update_profile(customer, phone="+79161234567", last_channel="voice")
    await directory.update_profile(customer, last_channel="sms")
    profile = await directory.profile(customer)
    assert (profile.phone, profile.last_channel) == ("+79161234567", "sms")
    assert profile.channels() == ["sms"]


async def test_a_negative_chat_id_reads_back_as_an_int(directory: CustomerDirectory) -> None:
    customer = "c-0000000000000003"
    await directory.update_profile(customer, telegram_chat_id=-1001987654321)
    assert (await directory.profile(customer)).telegram_chat_id == -1001987654321


async def test_a_chat_id_that_is_not_a_number_reads_as_none(directory: CustomerDirectory, redis: Redis) -> None:
    customer = "c-0000000000000004"
    await redis.hset(redis_keys.customer_profile(customer), mapping={"telegram_chat_id": "abc", "name": "Олег"})
    profile = await directory.profile(customer)
    assert profile.telegram_chat_id is None
    assert profile.name == "Олег"
    assert profile.channels() == []


async def test_unknown_profile_fields_are_refused_and_nothing_is_written(
    directory: CustomerDirectory, redis: Redis
) -> None:
    customer = "c-0000000000000005"
    with pytest.raises(ValueError, match="address"):
        await directory.update_profile(customer, name="Анна", address="Москва")
    assert await redis.exists(redis_keys.customer_profile(customer)) == 0


async def test_empty_values_are_ignored(directory: CustomerDirectory, redis: Redis) -> None:
    customer = "c-0000000000000006"
    await directory.update_profile(customer, name="", email=None)
    assert await redis.exists(redis_keys.customer_profile(customer)) == 0

    await directory.update_profile(customer, name="Анна", email="anna@example.ru")
    # An adapter that knows nothing of a field must not wipe what another channel stored.
    await directory.update_profile(customer, name="", email=None, last_channel="webchat")
    profile = await directory.profile(customer)
    assert (profile.name, profile.email, profile.last_channel) == ("Анна", "anna@example.ru", "webchat")


# --- recent intents: occasions, not messages ------------------------------------------------------------------


async def test_messages_a_minute_apart_are_one_occasion(directory: CustomerDirectory) -> None:
    customer = "c-0000000000000010"
    for i in range(3):
        await directory.record_intent(customer, "internet_down", f"m{i}", NOW + i * MINUTE)
    assert await directory.recent_intents(customer, NOW + 3 * MINUTE) == {"internet_down": 1}


async def test_messages_two_hours_apart_are_separate_occasions(directory: CustomerDirectory) -> None:
    customer = "c-0000000000000011"
    for i in range(3):
        await directory.record_intent(customer, "internet_down", f"m{i}", NOW + i * 2 * HOUR)
    assert await directory.recent_intents(customer, NOW + 5 * HOUR) == {"internet_down": 3}


async def test_the_gap_is_measured_from_the_previous_message(directory: CustomerDirectory) -> None:
    customer = "c-0000000000000012"
    # 50 minutes apart each: the conversation goes on, although the last is 100 minutes after the first.
    for i in range(3):
        await directory.record_intent(customer, "internet_down", f"m{i}", NOW + i * 50 * MINUTE)
    # Exactly the gap apart: a new occasion.
    await directory.record_intent(customer, "internet_down", "m3", NOW + 100 * MINUTE + EPISODE_GAP_SECONDS)
    assert await directory.recent_intents(customer, NOW + 4 * HOUR) == {"internet_down": 2}


async def test_intents_are_counted_apart(directory: CustomerDirectory) -> None:
    customer = "c-0000000000000013"
    await directory.record_intent(customer, "internet_down", "m1", NOW)
    await directory.record_intent(customer, "roaming", "m2", NOW + MINUTE)
    await directory.record_intent(customer, "internet_down", "m3", NOW + 2 * MINUTE)
    await directory.record_intent(customer, "internet_down", "m4", NOW + 3 * HOUR)
    assert await directory.recent_intents(customer, NOW + 4 * HOUR) == {"internet_down": 2, "roaming": 1}


async def test_intents_that_are_one_problem_are_one_occasion_together(directory: CustomerDirectory) -> None:
    customer = "c-0000000000000026"
    problem_of = {"internet_down": "problem:connection", "internet_slow": "problem:connection"}
    await directory.record_intent(customer, "internet_down", "m1", NOW)
    await directory.record_intent(customer, "internet_slow", "m2", NOW + MINUTE)  # the same occasion
    await directory.record_intent(customer, "internet_slow", "m3", NOW + 3 * HOUR)
    assert await directory.recent_intents(customer, NOW + 4 * HOUR, problem_of) == {
        "internet_down": 1,
        "internet_slow": 2,
        "problem:connection": 2,
    }


async def test_occasions_older_than_seven_days_are_not_counted(directory: CustomerDirectory) -> None:
    customer = "c-0000000000000014"
    await directory.record_intent(customer, "internet_down", "old", NOW - 8 * DAY)
    # Read a week and a day later, with no write in between to trim it: the read itself leaves it out.
    assert await directory.recent_intents(customer, NOW) == {}

    await directory.record_intent(customer, "internet_down", "new", NOW)
    assert await directory.recent_intents(customer, NOW + MINUTE) == {"internet_down": 1}


async def test_each_write_trims_the_window_and_sets_the_expiry(directory: CustomerDirectory, redis: Redis) -> None:
    customer = "c-0000000000000015"
    key = redis_keys.customer_intents(customer)
    await directory.record_intent(customer, "internet_down", "old", NOW - 8 * DAY)
    await directory.record_intent(customer, "internet_down", "recent", NOW - 6 * DAY)
    await directory.record_intent(customer, "roaming", "now", NOW)
    assert await redis.zrange(key, 0, -1) == ["internet_down|recent", "roaming|now"]
    assert 0 < await redis.ttl(key) <= redis_keys.CUSTOMER_INTENTS_WINDOW_SECONDS
    assert await directory.recent_intents(customer, NOW) == {"internet_down": 1, "roaming": 1}


async def test_a_customer_without_intents_has_none(directory: CustomerDirectory) -> None:
    assert await directory.recent_intents("c-0000000000000016", NOW) == {}
