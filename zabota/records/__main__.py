"""The system of record on ``DATABASE_URL``:

    python -m zabota.records upgrade           # migrations to the newest schema (make db-upgrade)
    python -m zabota.records current           # the database's revision and the code's
    python -m zabota.records import-csv FILE   # customer profiles from a CSV (make customers-import CSV=FILE)
    python -m zabota.records sync-bitrix24     # every Bitrix24 contact (BITRIX24_WEBHOOK_URL; make customers-sync)

Each prints what it did; the last line is one JSON object. import-csv exits 1 when a row was skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from zabota.records.bitrix24 import Bitrix24Crm, Bitrix24Settings, CrmError, SyncReport, sync_contacts
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


async def _sync(settings: RecordsSettings, crm_settings: Bitrix24Settings) -> SyncReport:
    engine = create_engine(settings)
    crm = Bitrix24Crm(crm_settings)
    try:
        return await sync_contacts(crm, CustomerRecords(engine))
    finally:
        await crm.aclose()
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("upgrade")
    commands.add_parser("current")
    importing = commands.add_parser("import-csv")
    importing.add_argument("file", type=Path)
    commands.add_parser("sync-bitrix24")
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
    if args.command == "sync-bitrix24":
        crm_settings = Bitrix24Settings.from_env()
        if crm_settings is None:
            out(json.dumps({"error": "BITRIX24_WEBHOOK_URL is not set"}) + "\n")
            return 2
        upgrade(settings)
        try:
            synced = asyncio.run(_sync(settings, crm_settings))
        except CrmError as error:
            out(json.dumps({"error": str(error)}, ensure_ascii=False) + "\n")
            return 2
        out(json.dumps(synced.as_dict()) + "\n")
        return 1 if synced.skipped else 0
    if args.command == "upgrade":
        upgrade(settings)
    current = current_revision(settings)
    out(json.dumps({"database": settings.redacted(), "revision": current, "head": head_revision()}) + "\n")
    return 0 if current == head_revision() or args.command == "current" else 1


if __name__ == "__main__":
    sys.exit(main())
