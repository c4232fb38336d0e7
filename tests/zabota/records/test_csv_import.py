from __future__ import annotations

from pathlib import Path

import pytest

from zabota.records import CustomerRecords, RecordError
from zabota.records.csv_import import import_csv

GOOD = (
    "external_id,name,segment,age_band,timezone,language,preferred_channel,tags,phones,emails,accounts,opted_out\n"
    "crm-1,Анна Петрова,b2c,65+,Europe/Moscow,ru,sms,vip;пенсионер,8 916 123 45 67,anna@example.ru,"
    '"2300 4567 8903:Д-2019/77",email\n'
    "crm-2,ООО Ромашка,b2b,,Asia/Novosibirsk,ru,email,,+7 903 555 12 34;+7 903 555 12 35,office@romashka.ru,,\n"
)


def write(tmp_path: Path, text: str, name: str = "customers.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def test_good_rows_are_saved_and_a_second_import_changes_nothing(
    records: CustomerRecords, tmp_path: Path
) -> None:
    path = write(tmp_path, GOOD)
    report = await import_csv(records, path)
    assert (report.rows, report.created, report.updated, report.skipped) == (2, 2, 0, 0)
    anna = await records.by_external_id("crm-1")
    assert anna is not None
    assert anna.accounts[0].contract_number == "Д-2019/77"
    assert (anna.tags, anna.opted_out) == (("vip", "пенсионер"), frozenset({"email"}))
    firm = await records.by_external_id("crm-2")
    assert firm is not None and firm.phones == ("+79035551234", "+79035551235")
    again = await import_csv(records, path)
    assert (again.created, again.updated, again.skipped) == (0, 2, 0)
    assert await records.by_external_id("crm-1") == anna


async def test_bad_rows_are_reported_by_line_and_field_and_the_rest_is_saved(
    records: CustomerRecords, tmp_path: Path
) -> None:
    text = (
        "external_id,name,segment,phones\n"
        "crm-1,Анна,b2c,8 916 123 45 67\n"
        "crm-2,Борис,vip,\n"  # line 3: segment
        ",Без id,b2c,\n"  # line 4: external_id
        "crm-4,Вера,b2c,12345\n"  # line 5: phones
        "crm-5,Гоша,b2c,,лишняя ячейка\n"  # line 6: too many cells
        "\n"
        "crm-6,Даша,b2b,+7 903 555 12 34\n"
    )
    report = await import_csv(records, write(tmp_path, text))
    assert [(e.line, e.field) for e in report.errors] == [(3, "segment"), (4, "external_id"), (5, "phones"), (6, "row")]
    assert (report.rows, report.created, report.skipped) == (6, 2, 4)
    assert await records.by_external_id("crm-2") is None
    assert await records.by_external_id("crm-6") is not None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("name,phones\nАнна,+79161234567\n", "needs an external_id column"),
        ("external_id,colour\ncrm-1,red\n", "unknown columns: colour"),
    ],
)
async def test_an_unusable_header_refuses_the_whole_file(
    records: CustomerRecords, tmp_path: Path, text: str, reason: str
) -> None:
    with pytest.raises(RecordError, match=reason):
        await import_csv(records, write(tmp_path, text))


async def test_a_file_that_is_not_utf8_is_refused(records: CustomerRecords, tmp_path: Path) -> None:
    path = tmp_path / "cp1251.csv"
    path.write_bytes("external_id,name\ncrm-1,Анна\n".encode("cp1251"))
    with pytest.raises(RecordError, match="not UTF-8"):
        await import_csv(records, path)


def test_the_command_prints_each_skipped_line_and_a_json_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from zabota.records.__main__ import main

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    path = write(tmp_path, "external_id,segment\ncrm-1,b2c\ncrm-2,vip\n")
    assert main(["import-csv", str(path)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line for line in lines if line.startswith(str(path))] == [
        f"{path}:3: segment: 'vip' is not one of b2c, b2b (row skipped)"
    ]
    report = json.loads(lines[-1])
    assert (report["rows"], report["created"], report["skipped"]) == (2, 1, 1)
    assert main(["import-csv", str(tmp_path / "missing.csv")]) == 2
