"""The system of record on ``DATABASE_URL``:

    python -m zabota.records upgrade           # migrations to the newest schema (make db-upgrade)
    python -m zabota.records current           # the database's revision and the code's
    python -m zabota.records import-csv FILE   # customer profiles from a CSV (make customers-import CSV=FILE)

Each prints what it did; the last line is one JSON object. import-csv exits 1 when a row was skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from zabota.records.csv_import import ImportReport, import_csv
from zabota.records.migrate import current_revision, head_revision, upgrade
from zabota.records.settings import RecordsSettings
from zabota.records.store import CustomerRecords, RecordError, create_engine


async def _import(settings: RecordsSettings, path: Path) -> ImportReport:
    engine = create_engine(settings)
    try:
        return await import_csv(CustomerRecords(engine), path)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("upgrade")
    commands.add_parser("current")
    importing = commands.add_parser("import-csv")
    importing.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    settings = RecordsSettings.from_env()
    out = sys.stdout.write
    if args.command == "import-csv":
        upgrade(settings)
        try:
            report = asyncio.run(_import(settings, args.file))
        except (RecordError, OSError) as error:
            out(json.dumps({"file": str(args.file), "error": str(error)}, ensure_ascii=False) + "\n")
            return 2
        for row_error in report.errors:
            out(f"{args.file}:{row_error.line}: {row_error.field}: {row_error.reason} (row skipped)\n")
        out(f"{report.rows} rows: {report.created} created, {report.updated} updated, {report.skipped} skipped\n")
        out(json.dumps({"file": str(args.file), **report.as_dict()}, ensure_ascii=False) + "\n")
        return 1 if report.skipped else 0
    if args.command == "upgrade":
        upgrade(settings)
    current = current_revision(settings)
    out(json.dumps({"database": settings.redacted(), "revision": current, "head": head_revision()}) + "\n")
    return 0 if current == head_revision() or args.command == "current" else 1


if __name__ == "__main__":
    sys.exit(main())
