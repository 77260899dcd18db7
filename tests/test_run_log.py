"""The run log: every push, pull, revert and recover leaves one, `bpxl log` prints it, `--results`
writes it as CSV, and the ribbon's Show log reads the same file. And the server's strain (429s,
requests sent again, the time it cost) in the summary."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import openpyxl

from bpxl.core import run_log, shell
from bpxl.core.connection import data_dir

from .conftest import read_sheet, write_invoices
from .fake_xlwings import Book, press

GOOD = {"BillingProfileId": "101", "DueDate": dt.date(2024, 7, 31), "Status": "pending"}
BAD = {"BillingProfileId": "102", "DueDate": "31/02/2026"}


def connect(sandbox) -> list[str]:
    return ["--url", sandbox.url, "--username", "demo"]


def test_push_leaves_a_run_log_with_each_row_its_id_result_message_and_values(
    tmp_path: Path, sandbox, run
) -> None:
    book = write_invoices(
        tmp_path / "Q4 été.xlsx", [GOOD, BAD, {**GOOD, "BillingProfileId": "103"}]
    )
    code, _out, _ = run("push", book, "--op", "create", *connect(sandbox))
    assert code == 1
    ids = [r["Id"] for r in read_sheet(book)]

    log = run_log.last(book)
    assert log is not None
    assert (log.command, log.sheet, log.target) == ("push create", "Invoices", sandbox.url)
    assert log.workbook == str(book.resolve())
    assert log.summary == "3 rows: 2 created, 1 invalid, 0 failed"
    rows = {r.row: r for r in log.rows}
    assert sorted(rows) == [2, 3, 4]
    assert (rows[2].id, rows[2].result, rows[2].message) == (ids[0], "Created", "")
    assert rows[2].values == {
        "BillingProfileId": "101",
        "Status": "Pending",  # as sent, not as typed
        "DueDate": "2024-07-31",
    }
    assert rows[3].result == "Invalid" and rows[3].id is None
    assert rows[3].message.startswith('DueDate: "31/02/2026" is not a date')
    assert rows[4].values["BillingProfileId"] == "103" and rows[4].id == ids[2]

    code, shown, _ = run("log", book)
    assert code == 0
    lines = shown.splitlines()
    assert lines[0].startswith("push create of Q4 été.xlsx, sheet 'Invoices', ")
    assert lines[0].endswith(sandbox.url)
    assert "3 rows: 2 created, 1 invalid, 0 failed" in lines
    assert f"Row 2: Created {ids[0]}" in lines
    assert "    sent: BillingProfileId=101, Status=Pending, DueDate=2024-07-31" in lines
    assert (
        'Row 3: Invalid: DueDate: "31/02/2026" is not a date (use YYYY-MM-DD or an Excel date)'
        in lines
    )
    assert "    values: BillingProfileId=102, DueDate=31/02/2026" in lines  # not sent
    assert run("log")[1] == shown  # the last run of any workbook: this one


def test_results_option_writes_the_run_log_as_csv_and_log_without_a_run_says_so(
    tmp_path: Path, sandbox, run
) -> None:
    assert run("log")[1] == "No run is logged yet (bpxl keeps the last 50 runs).\n"
    book = write_invoices(tmp_path / "inv.xlsx", [GOOD, {**BAD, "Status": "+cmd|calc"}])
    out_csv = tmp_path / "out" / "results.csv"
    code, out, _ = run("push", book, "--op", "create", *connect(sandbox), "--results", out_csv)
    assert f"Run log written to {out_csv}" in out
    raw = out_csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with its BOM
    table = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert table[0] == ["Row", "Id", "Result", "Message", "BillingProfileId", "Status", "DueDate"]
    assert table[1][:3] == ["2", read_sheet(book)[0]["Id"], "Created"]
    assert table[2][2] == "Invalid" and table[2][5] == "'+cmd|calc"  # a formula stays text in Excel

    other = tmp_path / "again.csv"
    assert run("log", book, "--results", other)[0] == 0
    assert other.read_bytes() == raw
    code, _, err = run("log", book, "--results", tmp_path / "log.xlsx")
    assert code == 2 and "the run log is written as CSV, so name a .csv file" in err
    assert run("log", tmp_path / "never.xlsx")[1] == (
        "No run of never.xlsx is logged yet (bpxl keeps the last 50 runs).\n"
    )


def test_pull_revert_and_recover_are_logged_too(tmp_path: Path, sandbox, run) -> None:
    book = write_invoices(tmp_path / "inv.xlsx", [GOOD])
    run("push", book, "--op", "create", *connect(sandbox))
    new_id = read_sheet(book)[0]["Id"]
    pulled = tmp_path / "pulled.xlsx"
    assert run("pull", pulled, "--ids", f"{new_id},999999", *connect(sandbox))[0] == 0
    log = run_log.last()
    assert log is not None and log.command == "pull"
    assert [(r.id, r.result) for r in log.rows] == [(new_id, "Pulled"), ("999999", "Not found")]

    workbook = openpyxl.load_workbook(pulled)
    sheet = workbook.worksheets[0]
    headers = [c.value for c in sheet[1]]
    sheet.cell(2, headers.index("Status") + 1, "Approved")
    workbook.save(pulled)
    assert run("push", pulled, "--op", "update", "--changed", *connect(sandbox))[0] == 0
    assert run("revert", pulled, *connect(sandbox))[0] == 0
    log = run_log.last(pulled)
    assert log is not None and log.command == "revert"
    assert [(r.row, r.id, r.result) for r in log.rows] == [(2, new_id, "Updated")]


def test_show_log_reads_the_run_log_of_the_command_line(tmp_path: Path, sandbox, run) -> None:
    book = write_invoices(tmp_path / "inv.xlsx", [GOOD, BAD])
    fake = Book(fullname=str(tmp_path / "other.xlsx"))
    press(fake, "bpxlLog")
    assert fake.app.alerts[-1][0] == "No run yet: nothing was sent or checked."
    run("push", book, "--op", "create", *connect(sandbox))
    press(fake, "bpxlLog")
    text = fake.app.alerts[-1][0]
    assert text == run("log")[1]
    assert "Row 3: Invalid: DueDate" in text

    many = write_invoices(tmp_path / "many.xlsx", [BAD] * 60)
    run("push", many, "--op", "create", *connect(sandbox))
    press(fake, "bpxlLog")
    text = fake.app.alerts[-1][0]
    assert len(text) < 1700 and "Row 2: Invalid" in text
    assert text.endswith(
        f"The whole run: type in a command prompt: bpxl log {shell.quoted(many.resolve(), True)}"
    )


def test_a_corrupt_log_is_passed_over(tmp_path: Path, sandbox, run) -> None:
    book = write_invoices(tmp_path / "inv.xlsx", [GOOD])
    run("push", book, "--op", "create", *connect(sandbox))
    (data_dir() / "runs" / "99999999-999999-999999-1.json").write_text("{not json", "utf-8")
    log = run_log.last()
    assert log is not None and log.summary == "1 row: 1 created, 0 invalid, 0 failed"


def test_logged_values_are_the_records_as_sent_a_cleared_field_said_so() -> None:
    from bpxl.core.results import Outcome, RowResult

    results = [RowResult(n, Outcome.CREATED, str(n), []) for n in (2, 3)]
    records = {
        2: {"FileName": "a.pdf", "DueDate": "2026-01-31"},
        3: {"FileName": "", "AgingInterval": 30, "VoidFlag": True},
    }
    plain, cleared = run_log.logged_rows(results, records=records)
    assert plain.values == {"FileName": "a.pdf", "DueDate": "2026-01-31"}
    assert cleared.values == {"FileName": "(cleared)", "AgingInterval": "30", "VoidFlag": "TRUE"}


def test_a_log_saved_in_pieces_reads_back_whole(monkeypatch) -> None:
    """A long log is written some rows at a time (here 2): every row, in order, and the notes,
    read back as saved, whatever the count against the pieces."""
    monkeypatch.setattr(run_log, "_ROWS_AT_ONCE", 2)
    for count in (0, 1, 2, 5):
        rows = tuple(
            run_log.LoggedRow(n, str(n), "Created", 'a "quote", é', {"FileName": f"r{n}.pdf"})
            for n in range(count)
        )
        log = run_log.RunLog("push create", "/x/a.xlsx", "S", "t", "s", run_log.now(), rows, ("n",))
        saved = json.loads(run_log.save(log).read_text("utf-8"))
        assert run_log.last() == log and len(saved["rows"]) == count


def test_only_the_newest_logs_are_kept(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(run_log, "LOGS_KEPT", 3)
    for n in range(5):
        run_log.save(
            run_log.RunLog("push create", f"/x/{n}.xlsx", "S", "t", f"run {n}", run_log.now())
        )
    assert len(list((data_dir() / "runs").glob("*.json"))) == 3
    last = run_log.last()
    assert last is not None and last.summary == "run 4"
    assert run_log.last(Path("/x/1.xlsx")) is None
    kept = json.loads(sorted((data_dir() / "runs").glob("*.json"))[0].read_text("utf-8"))
    assert kept["summary"] == "run 2"


def test_summary_says_how_often_the_server_asked_to_slow_down(
    tmp_path: Path, make_sandbox, run
) -> None:
    sandbox = make_sandbox(["429:0.4"], seed=3)
    book = write_invoices(
        tmp_path / "inv.xlsx", [{**GOOD, "BillingProfileId": str(101 + i % 5)} for i in range(40)]
    )
    code, out, _ = run("push", book, "--op", "create", "--batch-size", "5", *connect(sandbox))
    assert code == 0, out
    requests = sandbox.requests()
    on_writes = sum(r["status"] == 429 and r["method"] == "POST" for r in sandbox.writes())
    in_all = sum(r["status"] == 429 for r in requests)  # the field list is read on its own too
    assert on_writes > 0
    line = next(x for x in out.splitlines() if x.startswith("Server strain:"))
    told = int(line.split("slow down ")[1].split(" time")[0])
    assert on_writes <= told <= in_all
    assert f" time{'' if told == 1 else 's'} (429); {told:,} request" in line
    waited = float(line.split("after waits of ")[1].split(" s")[0].replace(",", ""))
    assert waited >= told * 0.9  # Retry-After or the 1 s first backoff, each time
    assert line.endswith("Nothing was sent twice.")
    assert sandbox.sandbox.store.count() == 40
    log = run_log.last(book)
    assert log is not None and line in log.notes

    calm = write_invoices(tmp_path / "calm.xlsx", [GOOD])
    code, out, _ = run("push", calm, "--op", "create", *connect(make_sandbox()))
    assert "Server strain" not in out
