"""The Excel add-in's glue on a fake xlwings book, against the sandbox over loopback."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections import Counter
from pathlib import Path

import openpyxl

from bpxl.core import journal, profiles, run_log
from bpxl.core.client import Client
from bpxl.core.connection import journal_dir
from bpxl.core.push import PushOptions, plan
from bpxl.core.results import Operation
from bpxl.excel import background, desk, install, udfs
from bpxl.excel.range_io import StatusBar, chosen_rows, read_block, row_spans

from .conftest import read_sheet, write_invoices
from .fake_xlwings import App, Book, book_from_rows, press

HEADER = ["Id", "BillingProfileId", "Status", "DueDate", "Notes", "Result", "Message"]


def rows_for(n: int, bad_every: int = 0) -> list[list[object]]:
    rows = []
    for i in range(n):
        due: object = dt.datetime(2026, 1, 1) + dt.timedelta(days=i % 200)
        if bad_every and i % bad_every == bad_every - 1:
            due = "31/02/2026"  # refused: not a date
        rows.append([None, str(101 + i % 5), "Pending", due, f"note {i}", None, None])
    return rows


def test_row_spans_reads_the_areas_of_a_range() -> None:
    app = App()
    app.selected = "$A$2:$C$5,$A$8,$D$10:$D$12,$B$1:$B$1048576"
    assert row_spans(app.selection.api.Areas) == [(2, 5), (8, 8), (10, 12), (1, 1_048_576)]


def test_selection_with_several_areas_and_filtered_rows_picks_exactly_those() -> None:
    book = book_from_rows(HEADER, rows_for(19))  # data rows 2..20
    sheet = book.sheets[0]
    sheet.hidden_rows = {5, 9, 11}  # filtered out
    book.app.selected = "$B$3:$C$6,$E$9:$E$12,$A$20"
    choice = chosen_rows(book.app, read_block(sheet))
    assert choice.rows == [3, 4, 6, 10, 12, 20] and not choice.whole_sheet
    book.app.selected = "$C$7"  # one cell: every visible data row
    choice = chosen_rows(book.app, read_block(sheet))
    assert choice.whole_sheet and choice.rows == [r for r in range(2, 21) if r not in {5, 9, 11}]


def test_validate_marks_only_the_chosen_rows_and_sends_nothing(
    sandbox, run, memory_keyring
) -> None:
    run("connect", "live", "--url", sandbox.url, "--username", "demo", "--sandbox")
    profiles.set_active("live")  # where a send would go
    book = book_from_rows(HEADER, rows_for(10, bad_every=3))
    sheet = book.sheets[0]
    book.app.selected = "$A$2:$A$5"
    press(book, "bpxlValidate")
    results = sheet.column("Result")
    assert [results[r] for r in range(2, 12)] == [None, None, "Invalid"] + [None] * 7
    assert "DueDate: " in sheet.column("Message")[4]
    assert "nothing was sent" in book.app.alerts[-1][0]
    assert sandbox.writes() == [] and sandbox.sandbox.store.count() == 0


def test_send_writes_the_same_statuses_as_the_cli(tmp_path: Path, run, monkeypatch) -> None:
    """One sheet, once through the CLI and once through the ribbon: the same Result and Message
    in every row (only the new Ids differ)."""
    data = [dict(zip(HEADER[1:4], r[1:4], strict=True)) for r in rows_for(30, bad_every=7)]
    path = write_invoices(tmp_path / "same.xlsx", data)
    # The ribbon creates the same rows again, on purpose: no duplicate check.
    monkeypatch.setenv("BPXL_DUPLICATE_DAYS", "0")
    book = excel_book_like(path)
    code, _, _ = run("push", path, "--op", "create")
    cli_rows = read_sheet(path)
    # The ribbon's send is on another computer (its own sandbox and ledger): on this one, the
    # ledger would rightly find every row created already.
    monkeypatch.setenv("BPXL_DATA_DIR", str(tmp_path / "other computer"))
    book.app.alert_answers = ["ok"]  # "Create all 30 visible rows in SANDBOX?"
    press(book, "bpxlCreate")
    assert "Create all 30 visible rows in SANDBOX" in book.app.alerts[0][0]
    ribbon = book.sheets[0]
    results, messages, ids = ribbon.column("Result"), ribbon.column("Message"), ribbon.column("Id")
    assert code == 1 and len(cli_rows) == 30
    for row in cli_rows:
        assert results[row["_row"]] == row["Result"]
        assert messages[row["_row"]] == row["Message"]
        assert bool(ids[row["_row"]]) == bool(row["Id"])
    assert "26 created, 4 invalid, 0 failed" in book.app.alerts[-1][0]
    assert book.app.status_history[-1] is False and "of 30 rows" in str(book.app.status_history[-2])
    log = run_log.last(Path(book.fullname))
    assert log is not None and [r.result for r in log.rows].count("Invalid") == 4


def excel_book_like(path: Path) -> Book:
    """The fake book holding what Excel shows for the workbook at ``path``."""
    book = Book(fullname=str(path.with_name("in-excel.xlsx")))
    sheet = book.add_sheet("Invoices")
    for row in openpyxl.load_workbook(path).worksheets[0].iter_rows():
        for cell in row:
            if cell.value is not None:
                sheet.cells[(cell.row, cell.column)] = cell.value
    return book


def test_excel_calls_per_send_do_not_grow_with_rows(tmp_path: Path, monkeypatch) -> None:
    """Every call into Excel is counted (fake_xlwings); but for the status bar, whose updates go
    by time, a send of 100 rows and one of 10,000 make exactly the same calls."""
    monkeypatch.setenv("BPXL_DUPLICATE_DAYS", "0")  # the 10,000 repeat the 100's values
    counts = {}
    for n in (100, 10_000):
        # A sandbox and a ledger each: the 10,000 rows begin with the 100 sent before.
        monkeypatch.setenv("BPXL_DATA_DIR", str(tmp_path / f"data-{n}"))
        book = book_from_rows(HEADER, rows_for(n, bad_every=50))
        book.app.alert_answers = ["ok"]
        began = time.monotonic()
        press(book, "bpxlCreate")
        seconds = time.monotonic() - began
        assert f"{n:,} rows: {n - n // 50:,} created" in book.app.alerts[-1][0]
        calls = Counter(book.app.calls)
        bar = calls.pop("status_bar")
        assert bar <= 3 + seconds / StatusBar.EVERY_S  # the first, the last, its end, 4 a second
        polls = calls.pop("OnTime", 0)  # a longer send is carried on by polls, 2 a second
        assert polls <= 1 + seconds / background.POLL_EVERY_S
        counts[n] = calls
    assert counts[100] == counts[10_000], counts
    # ~75: the chosen rows come from the selection's and the filter's areas (a few calls each),
    # and the sheet is read again before the results go in (the user may edit during a send)
    assert counts[100]["alert"] == 2 and sum(counts[100].values()) <= 80


def test_the_status_bar_goes_by_time_not_by_batch() -> None:
    app = App()
    bar = StatusBar(app)
    began = time.monotonic()
    for _ in range(1000):  # a thousand answers in a blink: the first and the last are shown
        bar(1, 1000)
    seconds = time.monotonic() - began
    assert 2 <= app.calls["status_bar"] <= 2 + seconds / bar.EVERY_S
    assert app.status_history[0] == "BillingPlatform: sending 1 of 1,000 rows"
    assert app.status_history[-1] == "BillingPlatform: sending 1,000 of 1,000 rows"
    slow = App()
    bar = StatusBar(slow, "pulling")
    for _ in range(3):  # slow answers: each one shown
        bar(10, 100)
        time.sleep(bar.EVERY_S)
    bar.close()
    assert slow.status_history == [
        "BillingPlatform: pulling 10 of 100 rows",
        "BillingPlatform: pulling 20 of 100 rows",
        "BillingPlatform: pulling 30 of 100 rows",
        False,
    ]


def test_screen_updating_and_calculation_come_back_after_an_error() -> None:
    book = book_from_rows(HEADER, rows_for(5))
    book.sheets[0].protected = True
    book.app.alert_answers = ["ok"]
    press(book, "bpxlCreate")
    assert book.app.screen_updating_value is True
    assert book.app.calculation_value == "automatic"
    assert "unexpected problem" in book.app.alerts[-1][0]


def test_a_sheet_without_fields_gets_a_message_saying_what_to_do() -> None:
    book = book_from_rows(["Name", "Amount"], [["x", 1]])
    press(book, "bpxlCreate")
    text = book.app.alerts[-1][0]
    assert "no header row naming Invoice fields" in text and "New invoice sheet" in text


def test_cancel_on_the_whole_sheet_question_sends_nothing(sandbox, run, memory_keyring) -> None:
    run("connect", "live", "--url", sandbox.url, "--username", "demo", "--sandbox")
    profiles.set_active("live")
    book = book_from_rows(HEADER, rows_for(3))
    book.app.alert_answers = ["cancel"]
    press(book, "bpxlCreate")
    assert "Create all 3 visible rows" in book.app.alerts[0][0]
    assert set(book.sheets[0].column("Result").values()) == {None}
    assert sandbox.writes() == [] and sandbox.sandbox.store.count() == 0


def test_clear_status_empties_only_the_chosen_rows() -> None:
    book = book_from_rows(HEADER, rows_for(4))
    book.app.alert_answers = ["ok"]
    press(book, "bpxlCreate")
    book.app.selected = "$C$3:$C$4"
    press(book, "bpxlClear")
    results = book.sheets[0].column("Result")
    assert [results[r] for r in (2, 3, 4, 5)] == ["Created", None, None, "Created"]


def test_clear_status_on_an_unknown_row_warns_first() -> None:
    rows = rows_for(3)
    rows[1][5:7] = ["Unknown", "Sent, but no answer came (bpxl ref 0123456789ab)"]
    book = book_from_rows(HEADER, rows)
    book.app.selected = "$C$2:$C$4"
    book.app.alert_answers = ["cancel"]
    press(book, "bpxlClear")
    assert book.app.alerts[-1][0].startswith("Row 3 says Unknown: the invoice may already exist")
    assert book.sheets[0].column("Result")[3] == "Unknown"  # cancelled: nothing cleared
    book.app.alert_answers = ["ok"]
    press(book, "bpxlClear")
    assert book.sheets[0].column("Result")[3] is None


def test_connect_chooses_a_profile_and_updates_the_ribbon_label(
    sandbox, run, memory_keyring, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    run("connect", "acme", "--url", sandbox.url, "--username", "demo", "--sandbox")
    book = book_from_rows(HEADER, rows_for(2))
    book.app.input_answers = ["2"]
    press(book, "bpxlConnect")
    assert profiles.active() == "acme" and book.app.macros_run == ["BpxlRefreshRibbon"]
    assert "acme: sandbox tenant sandbox" in desk.label_file().read_text()
    assert "1. SANDBOX" in book.app.alerts[0][0] and "2. acme" in book.app.alerts[0][0]
    book.app.alert_answers = ["ok"]
    press(book, "bpxlCreate")
    assert len(sandbox.writes()) == 1  # the send went to the chosen tenant
    book.app.input_answers = ["7"]
    press(book, "bpxlConnect")
    assert "'7' is not one of the numbers shown" in book.app.alerts[-1][0]


def test_a_1904_workbook_sends_plain_numbers_in_its_own_date_system(
    sandbox, run, memory_keyring
) -> None:
    """A workbook on Excel's 1904 date system: a plain number in a date column counts from
    1904, as the command line reads it; a date cell is a date in either system."""
    run("connect", "live", "--url", sandbox.url, "--username", "demo", "--sandbox")
    profiles.set_active("live")
    header = ["Id", "BillingProfileId", "DueDate", "ActivityStartDate", "Result", "Message"]
    book = book_from_rows(header, [[None, "101", 43830, dt.datetime(2024, 7, 31)]])
    book.date1904 = True
    assert desk.all_rows(read_block(book.sheets[0])).date1904
    book.app.alert_answers = ["ok"]
    press(book, "bpxlCreate")
    assert book.sheets[0].column("Result")[2] == "Created", book.app.alerts
    record = sandbox.sandbox.store.get(int(book.sheets[0].column("Id")[2]))
    assert record is not None
    assert record["DueDate"] == "2024-01-01" and record["ActivityStartDate"] == "2024-07-31"


def test_a_ribbon_upsert_into_production_asks_once_for_all_its_rows(
    sandbox, run, memory_keyring, monkeypatch
) -> None:
    monkeypatch.setenv("BPXL_DUPLICATE_DAYS", "0")  # the new row repeats another's values
    run("connect", "live", "--url", sandbox.url, "--username", "demo", "--production")
    profiles.set_active("live")
    book = book_from_rows(HEADER, rows_for(3))
    book.app.alert_answers = ["yes"]  # all visible rows, into production: asked once
    press(book, "bpxlCreate")
    assert [t for t, _ in book.app.alerts[:1]] == [
        "Create 3 invoice rows in the PRODUCTION tenant sandbox (" + sandbox.url + ")?"
    ]
    book.sheets[0].cells.update({(5, 2): "101", (5, 3): "Pending"})  # a new row: no Id
    book.app.selected = "$B$2:$B$5"
    book.app.alert_answers = ["yes"]
    press(book, "bpxlUpsert")
    questions = [text for text, buttons in book.app.alerts if buttons == "yes_no"]
    assert len(questions) == 2, book.app.alerts  # one for the Create, one for the Upsert
    assert questions[1].startswith("Upsert 4 invoice rows in the PRODUCTION tenant sandbox")
    assert "1 created" in book.app.alerts[-1][0] and sandbox.sandbox.store.count() == 4


def test_new_status_columns_go_after_merged_header_cells() -> None:
    """Excel's used range covers merged cells, so the columns a send adds never land inside a
    merged header (which would hide them)."""
    book = book_from_rows(["BillingProfileId", "DueDate", "Notes"], [["101", 45000, "x"]])
    book.sheets[0].merged = [(1, 3, 1, 5)]  # Notes over C1:E1
    book.app.alert_answers = ["ok"]
    press(book, "bpxlCreate")
    header = [book.sheets[0].cells.get((1, c)) for c in range(1, 9)]
    assert header == ["BillingProfileId", "DueDate", "Notes", None, None, "Id", "Result", "Message"]
    assert book.sheets[0].cells[(2, 7)] == "Created"


def test_new_invoice_sheet_copies_the_template_in(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    book = book_from_rows(HEADER, rows_for(1))
    press(book, "bpxlNewSheet")
    assert [s.name for s in book.sheets.items] == ["Invoices", "Invoices (2)"]
    assert book.sheets[1].cells[(1, 1)] == "Id"


def test_recover_last_run_marks_rows_the_crash_left_unsent() -> None:
    book = book_from_rows(HEADER, rows_for(3))
    block = read_block(book.sheets[0])
    log = journal.Journal(
        journal_dir(),
        workbook=Path(book.fullname),
        sheet="Invoices",
        op=Operation.CREATE,
        external_id="Id",
        target=journal.Target(None, "sandbox"),
    )
    _, plans, _ = plan(block.grid([2, 3, 4]), PushOptions(Operation.CREATE))
    log.planned({p.row: journal.record_hash(p.record) for p in plans})
    log.close()  # the process died here
    book.app.alert_answers = ["ok"]
    press(book, "bpxlCreate")
    assert "Recover last run" in book.app.alerts[-1][0]
    press(book, "bpxlRecover")
    results = book.sheets[0].column("Result")
    assert [results[r] for r in (2, 3, 4)] == ["Failed"] * 3
    assert "send it again" in book.sheets[0].column("Message")[2]
    assert journal.unfinished(journal_dir()) == []


def test_udfs_read_live_and_answer_errors_as_text(sandbox, run, memory_keyring) -> None:
    run("connect", "live", "--url", sandbox.url, "--username", "demo", "--sandbox")
    profiles.set_active("live")
    book = book_from_rows(HEADER, rows_for(2))
    book.app.alert_answers = ["ok"]
    press(book, "bpxlCreate")
    new_id = book.sheets[0].column("Id")[2]
    before = len(sandbox.requests())
    assert udfs.BP_INVOICE(float(new_id), "status") == "Pending"
    assert udfs.BP_INVOICE(new_id, "DueDate") == "2026-01-01"
    gets = [r for r in sandbox.requests()[before:] if r["path"].endswith(f"/INVOICE/{new_id}")]
    assert len(gets) == 1  # both cells from one request
    assert udfs.BP_INVOICE("999999", "Status") == "#BPXL: there is no invoice 999999."
    assert "not an Invoice field" in udfs.BP_INVOICE(new_id, "Colour")
    table = udfs.BP_QUERY("SELECT Id, Status FROM INVOICE WHERE BillingProfileId = 101")
    assert table[0] == ["Id", "Status"] and [new_id, "Pending"] in table[1:]
    assert udfs.BP_QUERY("SELECT * FROM INVOICE").startswith("#BPXL: BillingPlatform refused")
    fields_table = udfs.BP_FIELDS()
    assert fields_table[0] == ["Field", "Label", "Type", "Length", "Required", "Writable", "Origin"]
    assert len(fields_table) == 49  # the embedded sandbox's fields, read from its ENTITY_FIELD
    assert fields_table[2] == ["BillingProfileId", "Billing Profile Id", "id", "", "yes", "yes",
                               "built-in"]  # fmt: skip
    udfs.READER.close()


def test_addin_install_puts_files_where_excel_and_xlwings_look_and_uninstall_removes_them(
    tmp_path, monkeypatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("APPDATA", str(home / "AppData" / "Roaming"))
    places = install.Places.for_user(home)
    written = install.install(places)
    assert places.addin == home / "AppData/Roaming/Microsoft/Excel/XLSTART/bpxl.xlam"
    assert places.addin.read_bytes() == install.built_addin().read_bytes()
    config = places.config.read_bytes().decode()
    assert places.config == home / ".bpxl" / "bpxl.conf"
    assert '"INTERPRETER_WIN","' in config and '"UDF MODULES","bpxl.excel.udfs"\r\n' in config
    assert places.label.read_text().startswith("SANDBOX")
    assert openpyxl.load_workbook(places.template).worksheets[0]["A1"].value == "Id"
    assert all(p.exists() for p in written)
    install.install(places)  # again: an update, not an error
    install.uninstall(places)
    assert [p for p in home.rglob("*")] == [] and not places.template.exists()


def test_ribbon_round_trip_pull_edit_sort_send_changed_and_revert(
    make_sandbox, run, memory_keyring, time_zone: str
) -> None:
    """In Tokyo and in Los Angeles: pulled dates are the server's dates, a changed date is sent
    as typed, and the revert puts back exactly what was there."""
    sandbox = make_sandbox(log_fields=True)
    run("connect", "live", "--url", sandbox.url, "--username", "demo", "--sandbox")
    profiles.set_active("live")
    seed = book_from_rows(HEADER, rows_for(30))
    seed.app.alert_answers = ["ok"]
    press(seed, "bpxlCreate")
    header = ["Id", "BillingProfileId", "Status", "DueDate", "Result", "Message"]
    book = book_from_rows(header, [])
    book.app.input_answers = ["BillingProfileId IN (101, 102)"]
    press(book, "bpxlPull")
    assert "Pulled 12 invoices: 12 new rows" in book.app.alerts[-1][0]
    sheet = book.sheets[0]
    pulled_log = run_log.last(Path(book.fullname))  # the ribbon's pull is logged too
    assert pulled_log is not None and pulled_log.command == "pull"
    assert sorted(r.id for r in pulled_log.rows if r.result == "Pulled") == sorted(
        sheet.cells[(row, 1)] for row in range(2, 14)
    )
    memory = book.sheets["_bpxl_pulled"]
    assert memory.api.Visible == 2 and len(sheet.format_rules) == 3  # amber marks on 3 columns
    assert isinstance(sheet.cells[(2, 4)], dt.date) and isinstance(sheet.cells[(2, 1)], str)
    edited = {
        sheet.cells[(3, 1)]: ("Status", 3, "Approved"),
        sheet.cells[(5, 1)]: ("DueDate", 4, dt.date(2027, 1, 1)),
    }
    with Client(sandbox.url, username="demo", password="demo") as client:
        original = {r["Id"]: r for r in client.query("SELECT Id, Status, DueDate FROM INVOICE")}
    for row in range(2, 14):  # the day the server holds, in any time zone
        invoice = original[sheet.cells[(row, 1)]]
        assert sheet.cells[(row, 4)] == dt.date.fromisoformat(invoice["DueDate"])
    sheet.cells[(3, 3)] = "Approved"
    sheet.cells[(5, 4)] = dt.date(2027, 1, 1)
    rows = [[sheet.cells.get((r, c)) for c in range(1, 7)] for r in range(2, 14)]
    sheet.fill(header, list(reversed(rows)))  # the user sorts the sheet
    before = len(sandbox.writes())
    press(book, "bpxlSendChanged")
    sent = sandbox.writes()[before:]
    assert sorted(sorted(f) for w in sent for f in w["fields"]) == [
        ["DueDate", "Id"],
        ["Id", "Status"],
    ]
    assert "2 rows: 2 updated" in book.app.alerts[-1][0]
    with Client(sandbox.url, username="demo", password="demo") as client:
        changed = {r["Id"]: r for r in client.query("SELECT Id, Status, DueDate FROM INVOICE")}
    assert [changed[i][name] for i, (name, _, _) in edited.items()] == ["Approved", "2027-01-01"]
    book.app.alerts.clear()
    press(book, "bpxlSendChanged")
    assert book.app.alerts[-1] == ("No row has changed since the pull: nothing to send.", "ok")
    press(book, "bpxlRevert")
    assert "2 rows: 2 updated" in book.app.alerts[-1][0]
    with Client(sandbox.url, username="demo", password="demo") as client:
        server = {r["Id"]: r for r in client.query("SELECT Id, Status, DueDate FROM INVOICE")}
    for invoice in edited:
        assert server[invoice] == original[invoice]  # exactly the values from before
    ids = sheet.column("Id")
    statuses = sheet.column("Status")
    assert all(statuses[r] == "Pending" for r in ids if ids[r])  # the sheet shows them again


def test_ribbon_pull_keeps_drafts_clears_stale_statuses_and_names_what_is_wrong(
    make_sandbox, memory_keyring, run, tmp_path: Path
) -> None:
    sandbox = make_sandbox()
    run("connect", "live", "--url", sandbox.url, "--username", "demo", "--sandbox")
    profiles.set_active("live")
    with Client(sandbox.url, username="demo", password="demo") as client:
        ids = [r.id for r in client.create([{"BillingProfileId": "101", "Status": "Pending",
                                             "DueDate": "2026-01-31"}] * 2)]  # fmt: skip
    header = ["Id", "BillingProfileId", "Status", "DueDate", "Result", "Message"]
    draft = [None, "555", "Pending", dt.date(2030, 1, 1), None, None]
    stale = [ids[1], "101", "Old", None, "Conflict", "Changed in BillingPlatform"]
    book = book_from_rows(header, [draft, stale], tmp_path / "ribbon.xlsx")
    sheet = book.sheets[0]
    book.app.input_answers = [f"Id IN ({ids[0]}, {ids[1]}, 99998)"]
    press(book, "bpxlPull")
    said = book.app.alerts[-1][0]
    assert "Pulled 2 invoices: 1 new row, 1 refreshed." in said, said
    assert [sheet.cells.get((2, c)) for c in range(1, 5)] == draft[:4]  # the draft, untouched
    assert [sheet.cells.get((3, c)) for c in (1, 3, 5, 6)] == [ids[1], "Pending", None, None]
    assert sheet.cells[(4, 1)] == ids[0]  # below the used range
    book.app.input_answers = [""]  # refresh the Ids in the sheet: 99998 is not among them
    press(book, "bpxlPull")
    assert "0 new rows, 2 refreshed" in book.app.alerts[-1][0]
    book.app.input_answers = [f"Id = {ids[0]} OR"]
    press(book, "bpxlPull")
    assert "ends with OR" in book.app.alerts[-1][0]
    sheet.cells[(3, 1)] = "12x"
    book.app.input_answers = [""]
    press(book, "bpxlPull")
    assert "Row 3, column Id: '12x' is not an invoice Id" in book.app.alerts[-1][0]


def _ribbon_create(tmp_path: Path, sandbox, run) -> tuple[Path, dict[int, str]]:
    """Three rows created from the ribbon into book.xlsx, open in Excel (the fake book), whose
    file on disk does not hold the new Ids; returns the file and the Ids by row."""
    run("connect", "live", "--url", sandbox.url, "--username", "demo", "--sandbox")
    profiles.set_active("live")
    data = [dict(zip(HEADER[1:4], r[1:4], strict=True)) for r in rows_for(3)]
    path = write_invoices(tmp_path / "book.xlsx", data)
    book = excel_book_like(path)
    book.path = str(path)  # Excel has this very file open
    book.app.alert_answers = ["ok"]
    press(book, "bpxlCreate")
    made = {r: i for r, i in book.sheets[0].column("Id").items() if r > 1}
    assert sandbox.sandbox.store.count() == 3 and all(made.values())
    return path, made


def test_a_ribbon_create_closed_without_saving_is_not_created_again(
    tmp_path: Path, sandbox, run, memory_keyring
) -> None:
    """Excel closed without saving after a ribbon Create: the file on disk lacks the new Ids. A
    push of that file, or of a copy of it, is refused before sending; `bpxl recover` writes the
    Ids in; nothing is created twice. A save after the send makes the file trusted again."""
    path, made = _ribbon_create(tmp_path, sandbox, run)
    copy = tmp_path / "copy.xlsx"
    shutil.copy(path, copy)  # the user closed Excel without saving, then copied the file
    connect = ["--url", sandbox.url, "--username", "demo"]
    for file in (path, copy):
        code, out, err = run("push", file, "--op", "create", *connect)
        assert code == 2, out
        assert f"3 rows of {file.name} (rows 2, 3, 4) were already sent by the push started" in err
        assert "whose results went into book.xlsx open in Excel, which was closed without" in err
    assert sandbox.sandbox.store.count() == 3
    code, out, _ = run("recover", path)
    assert code == 0, out
    assert {r["_row"]: r["Id"] for r in read_sheet(path)} == made
    code, out, _ = run("push", path, "--op", "create", *connect)
    assert code == 0 and "3 skipped: already Created" in out
    code, _, err = run("push", copy, "--op", "create", *connect)  # still lacks them: refused
    assert code == 2 and "whose results went into book.xlsx, not into this file" in err
    assert sandbox.sandbox.store.count() == 3


def test_a_ribbon_create_closed_without_saving_then_renamed_is_not_created_again(
    tmp_path: Path, sandbox, run, memory_keyring
) -> None:
    """Chaos seed 2025: Excel closed without saving after a ribbon Create, then the file was
    renamed: the file under its new name lacks the Ids as much as the old name did."""
    path, made = _ribbon_create(tmp_path, sandbox, run)
    renamed = path.rename(tmp_path / "renamed.xlsx")  # closed without saving, then renamed
    connect = ["--url", sandbox.url, "--username", "demo"]
    code, out, err = run("push", renamed, "--op", "create", *connect)
    assert code == 2 and "3 rows of renamed.xlsx (rows 2, 3, 4) were already sent" in err, out
    code, out, _ = run("recover", renamed)
    assert code == 0, out
    assert {r["_row"]: r["Id"] for r in read_sheet(renamed)} == made
    code, out, err = run("push", renamed, "--op", "create", *connect)
    assert code == 0 and "3 skipped: already Created" in out, out + err
    assert sandbox.sandbox.store.count() == 3


def test_a_ribbon_create_closed_without_saving_then_edited_finds_the_edited_row(
    tmp_path: Path, sandbox, run, memory_keyring
) -> None:
    """Chaos seed 6163: Excel closed without saving after a ribbon Create, then a row of the
    file edited and saved: recover finds that row by the values sent (kept beside the journal
    of a ribbon send, whose outcomes may never reach the disk), so it is not created again."""
    path, made = _ribbon_create(tmp_path, sandbox, run)
    on_disk = openpyxl.load_workbook(path)  # closed without saving; then row 2 is edited
    header = [c.value for c in on_disk.worksheets[0][1]]
    on_disk.worksheets[0].cell(2, header.index("Status") + 1).value = "Approved"
    on_disk.save(path)
    connect = ["--url", sandbox.url, "--username", "demo"]
    code, out, err = run("push", path, "--op", "create", *connect)
    assert code == 2 and "already sent by the push started" in err, out + err
    code, out, err = run("recover", path)
    assert code == 0 and "edited or deleted" not in out, out + err
    rows = {r["_row"]: r for r in read_sheet(path)}
    assert {n: r["Id"] for n, r in rows.items()} == made
    assert "Edited since it was sent" in rows[2]["Message"]
    code, out, err = run("push", path, "--op", "create", *connect)
    assert code == 0 and "3 skipped: already Created" in out, out + err
    assert sandbox.sandbox.store.count() == 3


def test_the_ribbon_asks_before_creating_rows_created_before(tmp_path: Path) -> None:
    """A copy of a sheet sent from the ribbon: bpxl names the rows created before and asks; No
    marks them Exists with the invoice's Id, Yes creates them a second time."""
    rows = rows_for(3)
    first = book_from_rows(HEADER, [list(r) for r in rows], tmp_path / "March.xlsx")
    first.app.alert_answers = ["ok"]
    press(first, "bpxlCreate")
    made = first.sheets[0].column("Id")
    assert all(made[r] for r in (2, 3, 4))

    copy = book_from_rows(HEADER, [list(r) for r in rows], tmp_path / "copy of March.xlsx")
    copy.app.alert_answers = ["ok", "no"]
    press(copy, "bpxlCreate")
    question = next(p for p, buttons in copy.app.alerts if buttons == "yes_no")
    assert "3 rows of this sheet were created before" in question and "March.xlsx" in question
    sheet = copy.sheets[0]
    assert [sheet.column("Result")[r] for r in (2, 3, 4)] == ["Exists"] * 3
    assert [sheet.column("Id")[r] for r in (2, 3, 4)] == [made[r] for r in (2, 3, 4)]
    assert "--create-anyway" in sheet.column("Message")[2]

    copy.app.alert_answers = ["ok", "yes"]
    press(copy, "bpxlCreate")
    assert [sheet.column("Result")[r] for r in (2, 3, 4)] == ["Created"] * 3
    again = [sheet.column("Id")[r] for r in (2, 3, 4)]
    assert not set(again) & {made[r] for r in (2, 3, 4)}


def test_a_ribbon_update_under_a_title_is_reverted_to_the_last_row(
    sandbox, run, memory_keyring
) -> None:
    """A plain Update keeps what it replaces (Revert last push); the sheet's title above the
    header stays, and the last row is put back like the others."""
    run("connect", "live", "--url", sandbox.url, "--username", "demo", "--sandbox")
    profiles.set_active("live")
    book = Book(fullname="Titled.xlsx")
    sheet = book.add_sheet("Invoices")
    sheet.cells[(1, 2)] = "Q3 invoices, checked by J."
    sheet.fill(HEADER, rows_for(4), top=3)
    book.app.alert_answers = ["ok"]
    press(book, "bpxlCreate")
    assert "4 rows: 4 created" in book.app.alerts[-1][0], book.app.alerts
    for row in (4, 7):
        sheet.cells[(row, 3)] = "Approved"
    book.app.alert_answers = ["ok"]  # every visible row
    press(book, "bpxlUpdate")
    assert "4 rows: 4 updated" in book.app.alerts[-1][0], book.app.alerts
    ids = sheet.column("Id", top=3)
    with Client(sandbox.url, username="demo", password="demo") as client:
        server = {r["Id"]: r["Status"] for r in client.query("SELECT Id, Status FROM INVOICE")}
    assert [server[ids[r]] for r in range(4, 8)] == ["Approved", "Pending", "Pending", "Approved"]
    book.app.selected = "$A$4:$A$5"  # the first rows alone (one cell would mean all)
    press(book, "bpxlRevert")
    assert book.app.alerts[-1][0].startswith("2 rows: 2 updated, 0 invalid, 0 failed")
    with Client(sandbox.url, username="demo", password="demo") as client:
        server = {r["Id"]: r["Status"] for r in client.query("SELECT Id, Status FROM INVOICE")}
    assert [server[ids[r]] for r in range(4, 8)] == ["Pending", "Pending", "Pending", "Approved"]
    assert sheet.column("Status", top=3)[7] == "Approved"
    book.app.selected = "$A$4:$A$7"  # then all: the first is not sent again
    press(book, "bpxlRevert")
    assert book.app.alerts[-1][0].startswith("2 rows: 2 updated, 0 invalid, 0 failed")
    with Client(sandbox.url, username="demo", password="demo") as client:
        server = {r["Id"]: r["Status"] for r in client.query("SELECT Id, Status FROM INVOICE")}
    assert [server[ids[r]] for r in range(4, 8)] == ["Pending"] * 4
    assert [sheet.column("Status", top=3)[r] for r in range(4, 8)] == ["Pending"] * 4
    assert sheet.cells[(1, 2)] == "Q3 invoices, checked by J." and (2, 2) not in sheet.cells
    assert sheet.cells[(3, 3)] == "Status"


def test_a_second_pull_keeps_what_the_first_remembered(make_sandbox, run, memory_keyring) -> None:
    """Invoices pulled earlier stay in the workbook's memory when others are pulled: an edit of
    an earlier one is still sent alone, as a change."""
    sandbox = make_sandbox(log_fields=True)
    run("connect", "live", "--url", sandbox.url, "--username", "demo", "--sandbox")
    profiles.set_active("live")
    seed = book_from_rows(HEADER, rows_for(4))
    seed.app.alert_answers = ["ok"]
    press(seed, "bpxlCreate")
    header = ["Id", "BillingProfileId", "Status", "DueDate", "Result", "Message"]
    book = book_from_rows(header, [])
    book.app.input_answers = ["BillingProfileId = 101"]
    press(book, "bpxlPull")
    book.app.input_answers = ["BillingProfileId = 102"]
    press(book, "bpxlPull")
    assert "Pulled 1 invoice: 1 new row" in book.app.alerts[-1][0], book.app.alerts
    sheet = book.sheets[0]
    profile_ids = sheet.column("BillingProfileId")
    first = next(r for r, v in profile_ids.items() if v == "101")
    sheet.cells[(first, 3)] = "Approved"
    before = len(sandbox.writes())
    press(book, "bpxlSendChanged")
    assert "1 row: 1 updated" in book.app.alerts[-1][0], book.app.alerts
    assert [sorted(f) for w in sandbox.writes()[before:] for f in w["fields"]] == [["Id", "Status"]]
