"""``make report`` (zabota/analytics/report.py): the same figures as the dashboard, readable, JSON last."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.records_database import migrated_engine, sqlite_settings
from zabota.analytics.report import main
from zabota.events import Event
from zabota.events.store import EventStore

DAY = datetime(2026, 11, 3, 12, tzinfo=UTC)


def answer(score: int) -> Event:
    return Event(
        "survey_answer",
        DAY.timestamp(),
        customer_id="c-0000000000000e01",
        channel="sms",
        lang="ru",
        data={"metric": "csat", "score": score},
    )


def test_the_report_prints_the_figures_and_a_json_last_line(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)

    async def seed() -> None:
        async with migrated_engine(settings) as engine:
            await EventStore(engine).insert_events([answer(5), answer(4), answer(2)])

    asyncio.run(seed())
    out = io.StringIO()
    assert main(["--from", "2026-11-03", "--database-url", settings.url], out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == "zabota figures 2026-11-03 .. 2026-11-03 (UTC), all"
    assert any(line.startswith("  CSAT 66.7 % satisfied") for line in lines)
    figures = json.loads(lines[-1])
    assert figures["surveys"]["csat"]["n"] == 3 and figures["conversations"]["total"] == 0


@pytest.mark.parametrize(
    "args",
    [["--from", "2026-11-05", "--to", "2026-11-01"], ["--from", "2025-01-01", "--to", "2026-12-01"], ["--from", "x"]],
)
def test_a_bad_window_is_refused_with_exit_status_2(args: list[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(args, io.StringIO())
    assert stopped.value.code == 2


def test_an_unreadable_database_is_exit_status_1() -> None:
    # a PostgreSQL server that is not there (nothing listens on port 9)
    assert main(["--database-url", "postgresql://zabota@127.0.0.1:9/none"], io.StringIO()) == 1
