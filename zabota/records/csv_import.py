"""Customer profiles from a CSV file (``make customers-import CSV=path``): one customer per row, validated row by
row; a bad row is reported with its line number, field and reason and skipped, the good ones are saved (each
row in its own transaction, so nothing is half-written), and the same file imported twice changes nothing.

Columns (a header row is required; ``external_id`` is; the rest are optional and may be left out):
``external_id, name, segment, age_band, region, timezone, language, preferred_channel, tags, phones, emails,
accounts, opted_out``. List columns separate their items with ``;``; an account may carry its contract number
after a colon (``230045678903:Д-2019/77``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from zabota.records.store import Account, CustomerData, CustomerRecords, RecordError

COLUMNS = (
    "external_id",
    "name",
    "segment",
    "age_band",
    "region",
    "timezone",
    "language",
    "preferred_channel",
    "tags",
    "phones",
    "emails",
    "accounts",
    "opted_out",
)
LIST_COLUMNS = ("tags", "phones", "emails", "accounts", "opted_out")
MAX_ROWS = 1_000_000
# where csv.DictReader puts the cells a row has beyond the header's columns
EXTRA_CELLS = "__extra__"


@dataclass(frozen=True)
class RowError:
    line: int  # the file's line number of the row (the header is line 1)
    field: str
    reason: str


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len(self.errors)

    def as_dict(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "skipped": self.skipped,
            "errors": [{"line": e.line, "field": e.field, "reason": e.reason} for e in self.errors],
        }


def _items(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(";") if item.strip())


def row_data(row: dict[str, str | None]) -> CustomerData:
    """One CSV row as validated ``CustomerData``; ``RecordError`` names the field that is wrong."""
    if EXTRA_CELLS in row:
        raise RecordError("row", "more cells than the header has columns")
    if None in row.values():
        raise RecordError("row", "fewer cells than the header has columns")
    values = {name: (value or "").strip() for name, value in row.items()}
    if not values.get("external_id"):
        raise RecordError("external_id", "required")
    accounts = []
    for item in _items(values.get("accounts", "")):
        number, _, contract = item.partition(":")
        accounts.append(Account(number.strip(), contract.strip() or None))
    data = CustomerData(
        external_id=values["external_id"],
        name=values.get("name") or None,
        segment=values.get("segment") or None,
        age_band=values.get("age_band") or None,
        region=values.get("region") or None,
        timezone=values.get("timezone") or None,
        language=values.get("language") or None,
        preferred_channel=values.get("preferred_channel") or None,
        tags=_items(values["tags"]) if values.get("tags") else None,
        phones=_items(values.get("phones", "")),
        emails=_items(values.get("emails", "")),
        accounts=tuple(accounts),
        opted_out=_items(values.get("opted_out", "")),
    )
    return data.validated()


def read_rows(text: str) -> Iterator[tuple[int, dict[str, str | None]]]:
    """(line number, row) for every row with any content; ``RecordError`` when the header is not usable."""
    reader = csv.DictReader(io.StringIO(text), restkey=EXTRA_CELLS)
    header = reader.fieldnames or []
    if "external_id" not in header:
        raise RecordError("header", f"needs an external_id column (has {', '.join(header) or 'nothing'})")
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise RecordError("header", f"unknown columns: {', '.join(unknown)} (known: {', '.join(COLUMNS)})")
    for count, row in enumerate(reader, start=1):
        if count > MAX_ROWS:
            raise RecordError("rows", f"more than {MAX_ROWS} rows: split the file")
        if any(value for value in row.values()):
            yield reader.line_num, row


async def import_csv(records: CustomerRecords, path: Path) -> ImportReport:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise RecordError("file", f"not UTF-8 text ({error.reason} at byte {error.start})") from error
    report = ImportReport()
    for line, row in read_rows(text):
        report.rows += 1
        try:
            _, created = await records.upsert_customer(row_data(row))
        except RecordError as error:
            report.errors.append(RowError(line, error.field, error.reason))
            continue
        if created:
            report.created += 1
        else:
            report.updated += 1
    return report
