"""The outreach load benchmark, small: the real gateway (its own process), the tests' Redis under this test's key
prefix and the tests' system-of-record database, the fake providers; every scheduled message received once."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bench import outreach_load
from tests import redis_isolation
from tests.redis_isolation import TEST_REDIS_URL
from zabota.records import RecordsSettings

# autouse: every Redis key of the run (the bench's own prefix is under it) under this test's prefix
key_prefix = redis_isolation.key_prefix


def test_a_small_run_delivers_every_scheduled_message_once(
    make_database: Callable[[], RecordsSettings], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = make_database()
    # seed 10: no burst of copies meets the daily cap (where copies race: see docs/benchmarks.md, issue 10)
    size = ["--seed", "10", "--events", "50", "--customers", "20"]
    where = ["--use-database", database.url, "--redis-url", TEST_REDIS_URL, "--log-dir", str(tmp_path)]
    # in a thread of its own: its asyncio.run must not replace this thread's event loop (the async tests' one)
    with ThreadPoolExecutor(1) as pool:
        code = pool.submit(outreach_load.main, [*size, *where]).result()
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert code == 0, "\n".join(lines[:-1])
    assert result["events"] == 50 and result["database"] == database.dialect
    assert result["delivered_twice"] == 0
    assert result["sent"] == result["scheduled"] == result["received"] > 0
    # fixed by the seed (which customers are in their quiet hours, and so deferred, depends on the hour)
    assert result["duplicates_refused"] > 0 and result["capped"] > 0
    assert result["missing"] == result["unexpected"] == result["failed"] == 0
    assert result["checks_failed"] == []
    assert sum(result["received_by_channel"].values()) == result["received"]


def test_the_mix_is_fixed_by_the_seed_and_exercises_every_rule() -> None:
    import random

    from zabota.outreach.planning import load_outreach_rules

    rules = load_outreach_rules()
    triggers = {name: rule.fields for name, rule in rules.triggers.items()}
    customers = outreach_load.make_customers(500, random.Random(1))
    events = outreach_load.make_events(customers, 3000, triggers, random.Random(2))
    assert sum(e.copies for e in events) == 3000
    assert {e.trigger for e in events} == set(rules.triggers)
    assert any(e.copies > 1 for e in events)  # bursts
    assert len({e.triple for e in events}) < len(events)  # repeats
    assert {c.expected_channel() for c in customers} == {"sms", "telegram", "email", None}
    assert all(len(outreach_load.REF.findall(" ".join(e.data.values()))) == 1 for e in events)
    again = outreach_load.make_events(customers, 3000, triggers, random.Random(2))
    assert [(e.triple, e.copies) for e in again] == [(e.triple, e.copies) for e in events]
