"""``make report FROM= TO=``: the leads' figures for a window of UTC days, as the dashboard shows them, printed
for a terminal, and the whole ``Figures`` as one JSON object on the last line.

``python -m zabota.analytics.report --from 2026-12-01 --to 2026-12-07 [--channel sms] [--lang ru] [--segment b2b]``;
the system of record is ``DATABASE_URL`` (the SQLite file of ``make run`` by default). Exit status 2 for a bad
argument, 1 when the database cannot be read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TextIO

from sqlalchemy.exc import SQLAlchemyError

from zabota.analytics.figures import day_window, figures
from zabota.analytics.model import Figures, Percentiles
from zabota.records import RecordsSettings, create_engine
from zabota.records.store import CONTACT_CHANNELS, SEGMENTS


def _share(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _seconds(spread: Percentiles) -> str:
    if not spread.n or spread.p50 is None or spread.p90 is None:
        return "—"
    return f"p50 {spread.p50:.1f} s, p90 {spread.p90:.1f} s (n {spread.n})"


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def report_lines(found: Figures) -> list[str]:
    """The figures a lead reads first, then the tables, in the dashboard's order."""
    conv, sla, surveys, kb, prevented = (
        found.conversations,
        found.sla,
        found.surveys,
        found.knowledge_base,
        found.prevented,
    )
    chosen = (("channel", found.window.channel), ("lang", found.window.lang), ("segment", found.window.segment))
    filters = ", ".join(f"{name} {value}" for name, value in chosen if value) or "all"
    last = (found.window.until - timedelta(days=1)).date()
    reasons = ", ".join(f"{r.reason} {r.count}" for r in found.escalation.reasons) or "—"
    lines = [
        f"zabota figures {found.window.since.date()} .. {last} (UTC), {filters}",
        f"  conversations {conv.total}: contained {conv.contained}, repeated {conv.repeated}, escalated "
        f"{conv.escalated}, pending {conv.pending}; containment {_share(conv.containment_rate)}, escalation "
        f"{_share(conv.escalation_rate)}",
        f"  handoffs {found.escalation.handoffs}; reasons: {reasons}",
        f"  first response, bot: {_seconds(found.response.bot_first_response)}; "
        f"unanswered {found.response.bot_unanswered}",
        f"  first response, people: {_seconds(found.response.human_first_response)}",
        f"  time to resolution: {_seconds(found.response.resolution)}",
        f"  SLA: {sla.opened} opened, {sla.first_replies_within} answered in time, {sla.first_replies_late} late, "
        f"{sla.missed} missed; breach rate {_share(sla.breach_rate)}",
        f"  CSAT {_share(surveys.csat.rate)} satisfied (mean {_number(surveys.csat.mean)}, n {surveys.csat.n}); "
        f"CES mean {_number(surveys.ces.mean)} (n {surveys.ces.n}); NPS {_number(surveys.nps.score)} "
        f"(n {surveys.nps.n})",
        "  top intents: " + (", ".join(f"{i.intent} {i.count}" for i in found.top_intents) or "—"),
        f"  knowledge base: {kb.misses} questions without an article",
    ]
    lines += [f"    {gap.count:>5}  {gap.text}  ({gap.customers} customers)" for gap in kb.gaps[:10]]
    lines += [f"    unhelpful: {a.article} {a.unhelpful}/{a.feedback} ({_share(a.share)})" for a in kb.unhelpful[:10]]
    lines += [f"  recurring: {p.intent} {p.count} times, {p.customers} customers" for p in found.recurring[:10]]
    lines += [
        f"  customers at churn risk: {found.churn_risk.customers}",
        f"  outreach: {prevented.reached} reached, {prevented.prevented} contacts prevented "
        f"({_share(prevented.share)}), {prevented.pending} pending",
    ]
    lines += [
        f"  {day.date}  conversations {day.conversations:>6}  containment {_share(day.containment_rate):>8}  "
        f"escalation {_share(day.escalation_rate):>8}  CSAT {_share(day.csat):>8}"
        for day in found.days
    ]
    return lines


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from error


async def _figures(url: str, since: datetime, until: datetime, args: argparse.Namespace) -> Figures:
    engine = create_engine(RecordsSettings(url=url))
    try:
        return await figures(engine, since, until, channel=args.channel, lang=args.lang, segment=args.segment)
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    today = datetime.now(UTC).date()
    parser = argparse.ArgumentParser(prog="make report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="first", type=_date, default=today, help="first UTC day (default today)")
    parser.add_argument("--to", dest="last", type=_date, default=None, help="last UTC day, included (default --from)")
    parser.add_argument("--channel", choices=[c for c in CONTACT_CHANNELS if c != "outreach"])
    parser.add_argument("--lang", choices=["ru", "en"])
    parser.add_argument("--segment", choices=list(SEGMENTS))
    parser.add_argument("--database-url", default=None, help="default: DATABASE_URL, else the embedded SQLite file")
    args = parser.parse_args(argv)
    try:
        since, until = day_window(args.first, args.last or args.first)
    except ValueError as error:
        parser.error(str(error))
    url = args.database_url or RecordsSettings.from_env().url
    try:
        found = asyncio.run(_figures(url, since, until, args))
    except (SQLAlchemyError, OSError) as error:
        sys.stderr.write(f"the system of record cannot be read: {type(error).__name__}\n")
        return 1
    out.write("\n".join([*report_lines(found), json.dumps(found.to_dict(), ensure_ascii=False, default=str)]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
