"""End to end: `bpxl push` on real .xlsx files against the sandbox over loopback HTTP."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.chart import BarChart, Reference
from openpyxl.comments import Comment
from openpyxl.styles import Font
from openpyxl.worksheet.datavalidation import DataValidation

from bpxl.sandbox import Sandbox, SandboxConfig
from bpxl.workbook import saving

from .conftest import read_sheet, write_invoices

GOOD = {"BillingProfileId": "101", "DueDate": dt.date(2024, 7, 31), "Status": "pending"}


def connect(sandbox) -> list[str]:
    return ["--url", sandbox.url, "--username", "demo"]


def server_record(sandbox, record_id: str) -> dict[str, str]:
    record = sandbox.sandbox.store.get(int(record_id))
    assert record is not None
    return record


def test_create_then_update_then_upsert_on_one_workbook(tmp_path: Path, sandbox, run) -> None:
    book = write_invoices(tmp_path / "inv.xlsx", [GOOD, {**GOOD, "BillingProfileId": "102"}])

    code, out, _ = run("push", book, "--op", "create", *connect(sandbox))
    assert code == 0, out
    assert "2 rows: 2 created, 0 invalid, 0 failed" in out
    rows = read_sheet(book)
    assert [r["Result"] for r in rows] == ["Created", "Created"]
    ids = [r["Id"] for r in rows]
    assert all(i and i.isdigit() for i in ids)
    assert server_record(sandbox, ids[1])["BillingProfileId"] == "102"
    assert server_record(sandbox, ids[0])["Status"] == "Pending"  # canonical picklist case

    book_obj = openpyxl.load_workbook(book)
    sheet = book_obj.active
    headers = [c.value for c in sheet[1]]
    sheet.cell(2, headers.index("DueDate") + 1, "2025-01-15")
    sheet.cell(3, headers.index("Status") + 1, "#null")
    book_obj.save(book)
    code, out, _ = run("push", book, "--op", "update", *connect(sandbox))
    assert code == 0, out
    assert [r["Result"] for r in read_sheet(book)] == ["Updated", "Updated"]
    assert server_record(sandbox, ids[0])["DueDate"] == "2025-01-15"
    assert server_record(sandbox, ids[1])["Status"] == ""  # #NULL cleared it

    code, out, _ = run("push", book, "--op", "upsert", *connect(sandbox))
    assert code == 0, out
    assert "2 rows: 2 upserted" in out
    assert [r["Result"] for r in read_sheet(book)] == ["Upserted", "Upserted"]
    assert sandbox.sandbox.store.count() == 2
    assert [w["method"] for w in sandbox.writes()] == ["POST", "PUT", "PATCH"]


def test_rerun_of_create_sends_nothing_twice(tmp_path: Path, sandbox, run) -> None:
    book = write_invoices(tmp_path / "inv.xlsx", [GOOD, {"BillingProfileId": "999"}])
    run("push", book, "--op", "create", *connect(sandbox))
    code, out, _ = run("push", book, "--op", "create", *connect(sandbox))
    assert sandbox.sandbox.store.count() == 1
    assert "1 skipped" in out
    assert code == 1  # the refused row is still refused
    assert len(sandbox.writes()) == 2  # second run sent only the failed row
    assert sandbox.writes()[1]["records"] == 1


BAD_ROWS = {
    3: ({"BillingProfileId": "101", "DueDate": "31/31/2024"}, "DueDate", "is not a date"),
    4: (
        {"BillingProfileId": "101", "DueDate": dt.datetime(2024, 1, 5, 13, 30)},
        "DueDate",
        "has a time of day",
    ),
    5: (
        {"BillingProfileId": 1.2345678901234567e16, "DueDate": "2024-01-01"},
        "BillingProfileId",
        "was rounded by Excel; format the column as Text",
    ),
    6: ({"BillingProfileId": "101", "BillableFlag": "maybe"}, "BillableFlag", "TRUE/FALSE"),
    7: (
        {"BillingProfileId": "101", "AgingInterval": "12abc"},
        "AgingInterval",
        "not a whole number",
    ),
    8: ({"BillingProfileId": "101", "AgingInterval": 2.5}, "AgingInterval", "not a whole number"),
    9: ({"Id": "555", "BillingProfileId": "101"}, "Id", "leave Id blank to create"),
    10: ({"BillingProfileId": "101", "DueDate": 2_958_466}, "DueDate", "is not a date"),
    11: ({"BillingProfileId": "ABC"}, "BillingProfileId", "digits only"),
    12: ({"BillingProfileId": "101", "ClosedDate": "#N/A"}, "ClosedDate", "Excel error #N/A"),
}


def test_mixed_good_and_bad_rows(tmp_path: Path, sandbox, run) -> None:
    rows = (
        [GOOD]
        + [spec for spec, _, _ in BAD_ROWS.values()]
        + [
            {
                "BillingProfileId": "103",
                "DueDate": 45_500,
                "EstimatedStatus": "Tenant Special",  # a list bpxl does not know
                "Disputed": "no",
                "AgingInterval": "30",
            },
        ]
    )
    book = write_invoices(tmp_path / "mixed.xlsx", rows)

    code, out, _ = run("push", book, "--op", "create", *connect(sandbox))
    assert code == 1
    assert "12 rows: 2 created, 10 invalid, 0 failed" in out
    by_row = {r["_row"]: r for r in read_sheet(book)}
    for row, (_, column, text) in BAD_ROWS.items():
        assert by_row[row]["Result"] == "Invalid", row
        assert by_row[row]["Message"].startswith(f"{column}:"), by_row[row]["Message"]
        assert text in by_row[row]["Message"], by_row[row]["Message"]
    assert by_row[2]["Result"] == by_row[13]["Result"] == "Created"
    message = by_row[13]["Message"]
    assert message.startswith("EstimatedStatus:") and "BillingPlatform checks it" in message
    stored = server_record(sandbox, by_row[13]["Id"])
    assert stored["DueDate"] == "2024-07-27"  # Excel serial 45500 (45292 is 2024-01-01)
    assert (stored["EstimatedStatus"], stored["Disputed"], stored["AgingInterval"]) == (
        "Tenant Special",
        "0",
        "30",
    )
    assert sandbox.writes()[0]["records"] == 2  # invalid rows were never sent


def test_server_side_errors_land_on_their_rows(tmp_path: Path, sandbox, run) -> None:
    rows = [GOOD, {"BillingProfileId": "999"}, GOOD, {"DueDate": "2024-01-01"}, GOOD]
    book = write_invoices(tmp_path / "srv.xlsx", rows)
    code, _, _ = run("push", book, "--op", "create", *connect(sandbox), "--batch-size", "2")
    assert code == 1
    results = read_sheet(book)
    # the sandbox (its ENTITY_FIELD) marks BillingProfileId required: checked before sending
    assert [r["Result"] for r in results] == ["Created", "Failed", "Created", "Invalid", "Created"]
    assert results[1]["Message"].startswith("BillingProfileId:") and "999" in results[1]["Message"]
    assert (
        results[3]["Message"].startswith("BillingProfileId:")
        and "requires" in results[3]["Message"]
    )
    assert results[1].get("Id") is None

    book_obj = openpyxl.load_workbook(book)
    sheet = book_obj.active
    sheet.cell(3, 1, "987654")  # an update of an invoice that does not exist
    book_obj.save(book)
    code, _, _ = run("push", book, "--op", "update", "--rows", "2-3", *connect(sandbox))
    results = read_sheet(book)
    assert [r["Result"] for r in results[:2]] == ["Updated", "Failed"]
    assert results[1]["Message"].startswith("Id:") and "987654" in results[1]["Message"]


def test_1001_rows_make_six_write_requests(tmp_path: Path, sandbox, run) -> None:
    book = write_invoices(
        tmp_path / "big.xlsx", [{"BillingProfileId": str(101 + i % 5)} for i in range(1001)]
    )
    code, out, _ = run("push", book, "--op", "create", *connect(sandbox), "--batch-size", "200")
    assert code == 0, out
    assert "1,001 rows: 1,001 created, 0 invalid, 0 failed" in out
    writes = sandbox.writes()
    assert len(writes) == 6
    assert sorted(w["records"] for w in writes) == [1, 200, 200, 200, 200, 200]
    ids = [r["Id"] for r in read_sheet(book)]
    assert len(set(ids)) == 1001 and sandbox.sandbox.store.count() == 1001


def test_workbook_keeps_everything_the_user_had(tmp_path: Path, sandbox, run) -> None:
    path = tmp_path / "rich.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "My invoices"
    sheet.append(["Notes", "BillingProfileId", "DueDate", "Amount", "Double"])
    sheet.append(["first", "101", dt.date(2024, 3, 1), 10.5, "=D2*2"])
    sheet.append(["second", "102", dt.date(2024, 3, 2), 20.25, "=D3*2"])
    sheet["Id1"] = None
    sheet.insert_cols(1)
    sheet["A1"] = "Id"
    sheet["D2"].number_format = "dd mmm yyyy"
    sheet["B1"].font = Font(bold=True, italic=True)
    sheet["B1"].comment = Comment("my note", "me")
    sheet.column_dimensions["B"].width = 33
    validation = DataValidation(type="list", formula1='"101,102,103"')
    validation.add("C2:C100")
    sheet.add_data_validation(validation)
    other = book.create_sheet("Lookup")
    other["A1"] = "keep me"
    other["B1"] = "=SUM(1,2)"
    book.defined_names["Rate"] = openpyxl.workbook.defined_name.DefinedName(
        "Rate", attr_text="Lookup!$A$1"
    )
    chart = BarChart()
    chart.add_data(Reference(sheet, min_col=5, min_row=1, max_row=3), titles_from_data=True)
    sheet.add_chart(chart, "J2")
    book.save(path)

    code, out, _ = run("push", path, "--op", "create", *connect(sandbox))
    assert code == 0, out
    assert "Not sent (not Invoice fields): Notes, Amount, Double" in out
    after = openpyxl.load_workbook(path)
    sheet = after["My invoices"]
    assert [c.value for c in sheet[1]] == [
        "Id",
        "Notes",
        "BillingProfileId",
        "DueDate",
        "Amount",
        "Double",
        "Result",
        "Message",
    ]
    assert sheet["F2"].value == "=D2*2" and sheet["F3"].value == "=D3*2"
    assert sheet["D2"].number_format == "dd mmm yyyy"
    assert sheet["B1"].font.italic and sheet["B1"].comment.text == "my note"
    assert sheet.column_dimensions["B"].width == 33
    assert [str(v.sqref) for v in sheet.data_validations.dataValidation] == ["C2:C100"]
    assert after["Lookup"]["A1"].value == "keep me" and after["Lookup"]["B1"].value == "=SUM(1,2)"
    assert "Rate" in after.defined_names
    assert sheet["G2"].value == "Created" and sheet["A2"].value.isdigit()
    assert sheet["G2"].fill.fgColor.rgb == "FFC6EFCE"  # green: done
    assert sheet["G1"].font.bold and sheet.column_dimensions["H"].width == 70
    with zipfile.ZipFile(path) as saved:  # openpyxl would have dropped the chart
        assert any(name.startswith("xl/charts/chart") for name in saved.namelist())
    (copy,) = saving.backups(path)
    backup = openpyxl.load_workbook(copy)["My invoices"]
    assert backup["A2"].value is None  # the backup is the workbook as it was before the write


def test_xlsm_keeps_its_macros(tmp_path: Path, sandbox, run) -> None:
    import zipfile

    plain = write_invoices(tmp_path / "plain.xlsx", [GOOD])
    macro = tmp_path / "macro.xlsm"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(macro, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "[Content_Types].xml":
                data = data.replace(
                    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
                ).replace(
                    b"</Types>",
                    b'<Default Extension="bin" ContentType='
                    b'"application/vnd.ms-office.vbaProject"/></Types>',
                )
            target.writestr(item, data)
        target.writestr("xl/vbaProject.bin", b"fake-vba-project-bytes")
    code, out, _ = run("push", macro, "--op", "create", *connect(sandbox))
    assert code == 0, out
    with zipfile.ZipFile(macro) as saved:
        assert saved.read("xl/vbaProject.bin") == b"fake-vba-project-bytes"


def test_whole_request_failure_gives_every_row_an_honest_status(
    tmp_path: Path, make_sandbox, run
) -> None:
    failing = make_sandbox(faults=["503:1.0"])
    book = write_invoices(tmp_path / "down.xlsx", [GOOD] * 5)
    # The duplicate check cannot get through either: nothing is sent, and the rows say so.
    code, out, _ = run("push", book, "--op", "create", *connect(failing), "--batch-size", "2")
    assert code == 1 and failing.writes() == []
    assert [r["Result"] for r in read_sheet(book)] == ["Failed"] * 5
    assert all("Not sent: bpxl could not check" in r["Message"] for r in read_sheet(book))
    # Sent all the same (--create-anyway), the creates get no answer.
    anyway = ["--create-anyway", *connect(failing)]
    code, out, _ = run("push", book, "--op", "create", *anyway, "--batch-size", "2")
    assert code == 1
    results = read_sheet(book)
    assert [r["Result"] for r in results] == ["Unknown"] * 5
    # The server is down for lookups too, so bpxl cannot tell whether the creates happened.
    assert all(
        "no answer came" in r["Message"]
        and "looking it up in BillingPlatform failed (" in r["Message"]
        and "HTTP 503" in r["Message"]
        and "clear Result to send" in r["Message"]
        for r in results
    )
    assert failing.sandbox.store.count() == 0
    assert "5 rows: 0 created, 0 invalid, 0 failed, 5 unknown" in out
    # A rerun looks again before sending an Unknown row; while it cannot look, it sends nothing.
    run("push", book, "--op", "create", *connect(failing))
    assert len(failing.writes()) == 3


def test_update_after_whole_request_failure_says_resend_is_safe(
    tmp_path: Path, make_sandbox, run
) -> None:
    failing = make_sandbox(faults=["503:1.0"])
    book = write_invoices(tmp_path / "down.xlsx", [{"Id": "1", "Status": "Closed"}])
    code, _, _ = run("push", book, "--op", "update", *connect(failing))
    assert code == 1
    [row] = read_sheet(book)
    assert row["Result"] == "Unknown" and "again is safe" in row["Message"]


def test_dry_run_sends_nothing_and_marks_invalid_rows(tmp_path: Path, sandbox, run) -> None:
    book = write_invoices(tmp_path / "dry.xlsx", [GOOD, {"BillingProfileId": "x"}])
    code, out, _ = run("push", book, "--op", "create", "--dry-run", *connect(sandbox))
    assert code == 1
    assert "1 ready to create, 1 invalid (dry run: nothing was sent)" in out
    results = read_sheet(book)
    assert results[0].get("Result") is None and results[1]["Result"] == "Invalid"
    assert sandbox.writes() == [] and sandbox.sandbox.store.count() == 0


def test_rows_option_sends_only_those_rows(tmp_path: Path, sandbox, run) -> None:
    book = write_invoices(tmp_path / "some.xlsx", [GOOD] * 6)
    code, out, _ = run("push", book, "--op", "create", "--rows", "3-4,7", *connect(sandbox))
    assert code == 0, out
    results = {r["_row"]: r.get("Result") for r in read_sheet(book)}
    assert results == {2: None, 3: "Created", 4: "Created", 5: None, 6: None, 7: "Created"}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--op", "update", "--rows", "1-3"], "not below the header"),
        (["--op", "create", "--sheet", "Nope"], "no sheet named 'Nope'"),
        (["--op", "upsert", "--external-id", "Bogus"], "not an Invoice field"),
        (["--op", "create", "--concurrency", "50"], "--concurrency must be"),
        (
            ["--op", "create", "--url", "http://127.0.0.1:9/x", "--username", "demo"],
            "Could not connect",
        ),
    ],
)
def test_usage_errors_exit_2_with_a_message(
    tmp_path: Path, run, args: list[str], expected: str
) -> None:
    book = write_invoices(tmp_path / "u.xlsx", [GOOD])
    code, out, err = run("push", book, *args)
    assert code == 2
    assert expected in err and "Traceback" not in err + out
    assert read_sheet(book)[0].get("Result") is None  # nothing written


def test_a_missing_option_is_named_in_one_line_with_its_choices(
    tmp_path: Path, run, capsys
) -> None:
    book = write_invoices(tmp_path / "op.xlsx", [GOOD])
    with pytest.raises(SystemExit) as stopped:
        run("push", book)
    err = capsys.readouterr().err
    assert stopped.value.code == 2
    assert err == "bpxl push: --op (create, update or upsert) is missing; see `bpxl push --help`.\n"


def test_wrong_password_exits_2_before_sending(tmp_path: Path, sandbox, run) -> None:
    book = write_invoices(tmp_path / "pw.xlsx", [GOOD])
    code, out, err = run(
        "push", book, "--op", "create", *connect(sandbox), password="wrong-secret-123"
    )
    assert code == 2 and "refused the login" in err
    assert "wrong-secret-123" not in out + err
    assert sandbox.writes() == [] and read_sheet(book)[0].get("Result") is None


def test_bearer_token_from_environment(tmp_path: Path, sandbox, run, monkeypatch) -> None:
    token, _ = sandbox.sandbox.login("demo", "demo") or ("", 0)
    monkeypatch.setenv("MY_TOKEN", token)
    book = write_invoices(tmp_path / "tok.xlsx", [GOOD])
    code, out, err = run(
        "push", book, "--op", "create", "--url", sandbox.url, "--token-env", "MY_TOKEN"
    )
    assert code == 0, err
    assert token not in out + err


def test_locked_workbook_is_refused_and_nothing_sent(tmp_path: Path, sandbox, run) -> None:
    book = write_invoices(tmp_path / "open.xlsx", [GOOD])
    (tmp_path / "~$open.xlsx").write_bytes(b"owner")
    code, _, err = run("push", book, "--op", "create", *connect(sandbox))
    assert code == 2 and "open in Excel" in err
    assert sandbox.requests() == []


def test_duplicate_field_header_is_a_sheet_error(tmp_path: Path, sandbox, run) -> None:
    path = tmp_path / "dup.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["Id", "DueDate", "due date"])
    book.active.append([None, "2024-01-01", "2024-01-02"])
    book.save(path)
    code, _, err = run("push", path, "--op", "create", *connect(sandbox))
    assert code == 2 and "Columns B and C both hold DueDate" in err


def test_update_refuses_the_same_invoice_twice(tmp_path: Path, sandbox, run) -> None:
    book = write_invoices(tmp_path / "twice.xlsx", [GOOD])
    run("push", book, "--op", "create", *connect(sandbox))
    invoice = read_sheet(book)[0]["Id"]
    book = write_invoices(
        tmp_path / "twice2.xlsx",
        [{"Id": invoice, "Status": "Closed"}, {"Id": invoice, "Status": "Void"}],
    )
    code, _, _ = run("push", book, "--op", "update", *connect(sandbox))
    assert code == 1
    results = read_sheet(book)
    assert [r["Result"] for r in results] == ["Updated", "Invalid"]
    assert results[1]["Message"] == f"Id: {invoice} is also on row 2; send one row per invoice"


def test_embedded_sandbox_keeps_records_between_runs(tmp_path: Path, run) -> None:
    book = write_invoices(tmp_path / "emb.xlsx", [GOOD])
    code, out, _ = run("push", book, "--op", "create")
    assert code == 0 and out.splitlines()[0].startswith(
        "No --url given: using the embedded sandbox"
    )
    book_obj = openpyxl.load_workbook(book)
    book_obj.active["C2"] = "Closed"
    book_obj.save(book)
    code, out, _ = run("push", book, "--op", "update")
    assert code == 0 and "1 updated" in out


def test_sandbox_command_prints_its_url_first(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bpxl.cli", "sandbox", "--port", "0", "--fault", "latency:1ms"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().strip()
        assert first.startswith("http://127.0.0.1:") and first.endswith("/sandbox")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_sandbox_refuses_remote_hosts() -> None:
    with pytest.raises(ValueError, match="--allow-remote"):
        Sandbox(SandboxConfig(host="0.0.0.0", port=0))


def test_hand_made_sheet_without_id_column_gets_one_for_new_ids(
    tmp_path: Path, sandbox, run
) -> None:
    path = tmp_path / "hand.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["March corrections"])
    sheet.append([])
    sheet.append(["Customer", "Billing profile id", "Due date"])
    sheet.append(["Acme", 101, dt.date(2026, 3, 31)])
    sheet.append(["Beta", 102, "2026-13-01"])
    book.save(path)
    code, out, _ = run("push", path, "--op", "create", *connect(sandbox))
    assert code == 1 and "2 rows: 1 created, 1 invalid, 0 failed" in out
    sheet = openpyxl.load_workbook(path).active
    assert [c.value for c in sheet[3]] == [
        "Customer",
        "Billing profile id",
        "Due date",
        "Id",
        "Result",
        "Message",
    ]
    assert sheet["D4"].value.isdigit() and sheet["E4"].value == "Created"
    assert sheet["D5"].value is None and sheet["E5"].value == "Invalid"
    assert sheet["F5"].value.startswith('Due date: "2026-13-01" is not a date')
    assert sheet["A1"].value == "March corrections"


def test_new_status_columns_go_after_merged_header_cells(tmp_path: Path, sandbox, run) -> None:
    """A header cell merged over three columns hides whatever is written under it: the columns
    bpxl adds go after the merged range (a merged title above the header does not matter)."""
    path = tmp_path / "merged.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["March corrections"])
    sheet.append(["Billing profile id", "Due date", "Notes"])
    sheet.append([101, dt.date(2026, 3, 31), "first"])
    sheet.merge_cells("A1:K1")
    sheet.merge_cells("C2:E2")
    book.save(path)
    code, out, _ = run("push", path, "--op", "create", *connect(sandbox))
    assert code == 0, out
    sheet = openpyxl.load_workbook(path).active
    assert [c.value for c in sheet[2]] == [
        "Billing profile id",
        "Due date",
        "Notes",
        None,
        None,
        "Id",
        "Result",
        "Message",
        *[None] * 3,  # under the title's merged range
    ]
    assert sheet["F3"].value.isdigit() and sheet["G3"].value == "Created"
    assert {str(r) for r in sheet.merged_cells.ranges} == {"A1:K1", "C2:E2"}


def test_new_status_columns_go_after_values_in_rows_not_sent(tmp_path: Path, sandbox, run) -> None:
    """A note without a header in a row that is not sent (--rows, or hidden) still uses its
    column: the Id column bpxl adds must not take it as its own."""
    path = tmp_path / "notes.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Billing profile id", "Due date"])
    sheet.append([101, dt.date(2026, 3, 31)])
    sheet.append([102, dt.date(2026, 4, 30), "call first"])
    book.save(path)
    code, out, _ = run("push", path, "--op", "create", "--rows", "2", *connect(sandbox))
    assert code == 0, out
    sheet = openpyxl.load_workbook(path).active
    assert [c.value for c in sheet[1]] == [
        "Billing profile id", "Due date", None, "Id", "Result", "Message"
    ]  # fmt: skip
    assert sheet["C3"].value == "call first" and sheet["E2"].value == "Created"


def test_several_notes_are_kept_apart(tmp_path: Path, sandbox, run) -> None:
    book = write_invoices(tmp_path / "notes.xlsx", [{"BillingProfileId": "x", "Disputed": "maybe"}])
    run("push", book, "--op", "create", *connect(sandbox))
    message = read_sheet(book)[0]["Message"]
    assert message.split(" | ")[0].startswith("BillingProfileId:")
    assert message.split(" | ")[1].startswith("Disputed:")


def test_a_file_that_is_not_a_workbook_is_a_clear_error(tmp_path: Path, run) -> None:
    fake = tmp_path / "fake.xlsx"
    fake.write_text("a,b\n1,2\n")
    code, out, err = run("push", fake, "--op", "create")
    assert code == 2 and "is not an Excel workbook bpxl can read" in err
    assert "zip" not in err.lower() and "openpyxl" not in err
    assert "Traceback" not in out + err
