"""core.run_log on its own: a run log's text and CSV in their exact words, cells as the log keeps
them, the rows of a push and of a pull, and the files kept (the commands that leave logs are in
test_run_log.py)."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from bpxl.core import run_log
from bpxl.core.cells import Unreadable
from bpxl.core.connection import data_dir
from bpxl.core.records import read_layout
from bpxl.core.results import Outcome, RowResult
from bpxl.core.run_log import LoggedRow, RunLog, cell_text, logged_rows

STARTED = "2026-12-07T16:40:02+01:00"


def a_log(**changed: object) -> RunLog:
    rows = (
        LoggedRow(2, "1042", "Created", "", {"BillingProfileId": "101", "Status": "Pending"}),
        LoggedRow(3, None, "Invalid", 'DueDate: "31/02" is not a date', {"DueDate": "31/02"}),
        LoggedRow(4, None, "", "", {"Note": "=1+1"}),
        LoggedRow(None, "77", "Not found", "Not found in BillingPlatform"),
    )
    fields: dict[str, object] = {
        "command": "push create",
        "workbook": "/books/Q4 été.xlsx",
        "sheet": "Invoices",
        "target": "http://sandbox",
        "summary": "3 rows: 1 created, 1 invalid, 0 failed",
        "started": STARTED,
        "rows": rows,
        "notes": ("Column 'Due' read as DueDate (--map).",),
    }
    return RunLog(**{**fields, **changed})


def test_a_log_reads_as_one_block_per_row() -> None:
    assert a_log().text() == (
        "push create of Q4 été.xlsx, sheet 'Invoices', 2026-12-07 16:40:02, http://sandbox\n"
        "  /books/Q4 été.xlsx\n"
        "3 rows: 1 created, 1 invalid, 0 failed\n"
        "Column 'Due' read as DueDate (--map).\n"
        "Row 2: Created 1042\n"
        "    sent: BillingProfileId=101, Status=Pending\n"
        'Row 3: Invalid: DueDate: "31/02" is not a date\n'
        "    values: DueDate=31/02\n"
        "Row 4: Ready\n"
        "    values: Note==1+1\n"
        "Invoice: Not found 77: Not found in BillingPlatform\n"
    )
    assert a_log(sheet="", rows=(), notes=()).text() == (
        "push create of Q4 été.xlsx, 2026-12-07 16:40:02, http://sandbox\n"
        "  /books/Q4 été.xlsx\n"
        "3 rows: 1 created, 1 invalid, 0 failed\n"
    )


def test_every_row_whose_values_went_out_says_sent() -> None:
    rows = tuple(
        LoggedRow(n, None, word, "", {"FileName": "a.pdf"})
        for n, word in enumerate(["Updated", "Upserted", "Unknown", "Failed", "Exists"], 2)
    )
    labels = [
        line.split(":")[0] for line in a_log(rows=rows).text().splitlines() if "a.pdf" in line
    ]
    assert labels == ["    sent", "    sent", "    sent", "    values", "    values"]


def test_a_log_as_csv_for_excel(tmp_path: Path) -> None:
    path = a_log().write_csv(tmp_path / "new" / "folder" / "log.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with its BOM
    assert raw.decode("utf-8-sig") == (
        "Row,Id,Result,Message,BillingProfileId,Status,DueDate,Note\r\n"
        "2,1042,Created,,101,Pending,,\r\n"
        '3,,Invalid,"DueDate: ""31/02"" is not a date",,,31/02,\r\n'
        "4,,,,,,,'=1+1\r\n"  # a formula stays text in Excel
        ",77,Not found,Not found in BillingPlatform,,,,\r\n"
    )
    multiline = a_log(rows=(LoggedRow(2, "1", "Failed", "one\ntwo", {"Note": "a\nb"}),))
    text = multiline.write_csv(tmp_path / "lines.csv").read_bytes().decode("utf-8-sig")
    assert text == 'Row,Id,Result,Message,Note\r\n2,1,Failed,"one\ntwo","a\nb"\r\n'


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (dt.datetime(2026, 3, 4), "2026-03-04"),
        (dt.datetime(2026, 3, 4, 10, 20, 30), "2026-03-04 10:20:30"),
        (dt.date(2026, 3, 4), "2026-03-04"),
        (True, "TRUE"),
        (False, "FALSE"),
        (0.1 + 0.2, "0.3"),
        (1e20, "1e+20"),
        (12, "12"),
        ("Pending", "Pending"),
        (None, "None"),
    ],
)
def test_a_cell_as_the_log_keeps_it(value: object, text: str) -> None:
    assert cell_text(value) == text


def test_a_rows_log_holds_what_it_sent_or_else_its_cells() -> None:
    layout = read_layout(["BillingProfileId", "Mine", "Status", "DueDate", "FileName"])
    results = [
        RowResult(2, Outcome.CREATED, "1042"),
        RowResult(3, Outcome.INVALID, messages=["Status: not a status"]),
        RowResult(4, None),
        RowResult(5, Outcome.FAILED),
    ]
    records = {2: {"BillingProfileId": "101", "Status": "Pending", "FileName": ""}}
    sent = {
        2: ["101", "x", "pending", None, ""],
        3: [102, "mine", "Nope", Unreadable("#REF!"), "  "],
        4: [103.0, None, None, dt.datetime(2026, 3, 4)],  # a short row: no FileName cell
    }
    assert logged_rows(results, layout, sent, records) == (
        LoggedRow(2, "1042", "Created", "", {
            "BillingProfileId": "101", "Status": "Pending", "FileName": "(cleared)"}),
        LoggedRow(3, None, "Invalid", "Status: not a status",
                  {"BillingProfileId": "102", "Status": "Nope"}),
        LoggedRow(4, None, "", "", {"BillingProfileId": "103", "DueDate": "2026-03-04"}),
        LoggedRow(5, None, "Failed", "", {}),
    )  # fmt: skip
    assert logged_rows(results[:1]) == (LoggedRow(2, "1042", "Created", "", {}),)
    assert logged_rows(results[1:2], None, sent) == (
        LoggedRow(3, None, "Invalid", "Status: not a status", {}),
    )


def test_a_pull_is_logged_by_id_in_number_order(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    log = run_log.save_pull(
        Path("pulled.xlsx"), "Invoices", "sandbox", "3 pulled", STARTED, ["10", "9", "100"],
        ["12", "2"],
    )  # fmt: skip
    assert log == RunLog(
        "pull",
        str(tmp_path.resolve() / "pulled.xlsx"),
        "Invoices",
        "sandbox",
        "3 pulled",
        STARTED,
        (
            LoggedRow(None, "9", "Pulled", ""),
            LoggedRow(None, "10", "Pulled", ""),
            LoggedRow(None, "100", "Pulled", ""),
            LoggedRow(None, "2", "Not found", run_log.NOT_FOUND),
            LoggedRow(None, "12", "Not found", run_log.NOT_FOUND),
        ),
    )
    assert run_log.last(tmp_path / "pulled.xlsx") == log


def test_a_log_is_kept_whole_a_thousand_rows_at_a_time(monkeypatch) -> None:
    monkeypatch.setattr(run_log, "_ROWS_AT_ONCE", 2)
    for count in (0, 1, 2, 5):
        rows = tuple(LoggedRow(n, str(n), "Created", "é", {"FileName": f"{n}.pdf"})
                     for n in range(count))  # fmt: skip
        log = a_log(rows=rows)
        path = run_log.save(log)
        assert path.parent == data_dir() / "runs" and path.name.endswith(f"-{os.getpid()}.json")
        assert json.loads(path.read_text(encoding="utf-8"))["rows"] == [vars(r) for r in rows]
        assert run_log.last() == log
    assert not list((data_dir() / "runs").glob("*.tmp"))


def test_the_last_log_of_a_workbook_passes_over_others_and_damaged_ones(tmp_path: Path) -> None:
    assert run_log.last() is None and run_log.last(tmp_path / "a.xlsx") is None
    first = a_log(workbook=str(tmp_path / "a.xlsx"), summary="first")
    run_log.save(first)
    run_log.save(a_log(workbook=str(tmp_path / "b.xlsx"), summary="second"))
    runs = data_dir() / "runs"
    for name, text in [("99999999-1", "{not json"), ("99999999-2", "[1]"),
                       ("99999999-3", json.dumps({"rows": [], "command": "x"}))]:  # fmt: skip
        (runs / f"{name}.json").write_text(text, encoding="utf-8")
    assert run_log.last(tmp_path / "a.xlsx") == first
    found = run_log.last()
    assert found is not None and found.summary == "second"
    old = {k: v for k, v in json.loads(runs.joinpath(sorted(os.listdir(runs))[0]).read_text(
        encoding="utf-8")).items() if k != "notes"}  # fmt: skip
    (runs / "99999999-4.json").write_text(json.dumps(old), encoding="utf-8")
    found = run_log.last()
    assert found is not None and found.summary == "first" and found.notes == ()  # older version


def test_a_log_in_utf_8_whatever_the_machines_encoding(ascii_locale: None) -> None:
    log = a_log()
    run_log.save(log)
    assert run_log.last() == log
