"""bpxl pull without surprises: drafts kept, empties written, only the fields asked for, Ids not
found told, conditions checked, stale statuses cleared; and the streamed new workbook (sandbox)."""

from __future__ import annotations

import datetime as dt
import tempfile
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.chart import BarChart, Reference

from bpxl.core.client import Client
from bpxl.core.errors import UsageError
from bpxl.core.roundtrip import pulls
from bpxl.workbook import streamed_pull as xlsx_stream
from bpxl.workbook.pulling import PULLED, read_pulled

from .conftest import read_sheet, write_invoices
from .test_roundtrip import add_cross_sheet_dropdown, connect, seed_invoices


def _server(sandbox, names: str = "Id, Status, DueDate, FileName") -> dict[str, dict]:
    with Client(sandbox.url, username="demo", password="demo") as client:
        return {r["Id"]: r for r in client.query(f"SELECT {names} FROM INVOICE")}


def _update(sandbox, record: dict[str, object]) -> None:
    with Client(sandbox.url, username="demo", password="demo") as client:
        client.update([record])


def test_a_pull_never_writes_into_a_draft_row(tmp_path: Path, sandbox, run) -> None:
    ids = seed_invoices(sandbox, 2)
    draft = {"BillingProfileId": "555", "DueDate": dt.date(2030, 1, 31), "FileName": "draft.pdf"}
    book = write_invoices(tmp_path / "drafts.xlsx", [draft, {}, {"Id": ids[1], "Status": "Old"}])
    code, out, _ = run("pull", book, "--ids", ids[0], *connect(sandbox))
    assert code == 0 and "Pulled 1 invoice into" in out and "1 new row, 0 refreshed" in out, out
    rows = {r["_row"]: r for r in read_sheet(book)}
    assert rows[2]["Id"] is None and rows[2]["FileName"] == "draft.pdf"  # the draft, untouched
    assert rows[2]["DueDate"] == dt.datetime(2030, 1, 31)
    assert rows[4]["Id"] == ids[1] and rows[4]["Status"] == "Old"  # another invoice's row
    assert rows[5]["Id"] == ids[0] and rows[5]["DueDate"] is not None  # below the last used row
    assert rows[5]["FileName"] == _server(sandbox)[ids[0]]["FileName"]
    # Nothing to send: the pulled invoice carries no leftover from the draft.
    code, out, _ = run("push", book, "--op", "update", "--changed", "--dry-run", *connect(sandbox))
    assert code == 0 and "nothing to send" in out, out


def test_a_refresh_and_a_revert_write_empty_values_too(tmp_path: Path, sandbox, run) -> None:
    ids = seed_invoices(sandbox, 2)
    book = tmp_path / "empty.xlsx"
    run("pull", book, "--ids", ",".join(ids), *connect(sandbox))
    _update(sandbox, {"Id": ids[0], "FileName": ""})  # emptied in BillingPlatform
    code, out, _ = run("pull", book, "--ids-from-sheet", *connect(sandbox))
    assert code == 0 and "0 new rows, 2 refreshed" in out, out
    rows = {r["Id"]: r for r in read_sheet(book)}
    assert rows[ids[0]]["FileName"] is None and rows[ids[1]]["FileName"] == "inv-00001.pdf"
    assert read_pulled(book)[ids[0]].values["FileName"] is None

    # Fill the empty cell, send it, revert: the server and the sheet are empty again.
    workbook = openpyxl.load_workbook(book)
    sheet = workbook["Invoices"]
    header = [c.value for c in sheet[1]]
    sheet.cell(2, header.index("FileName") + 1, "typed.pdf")
    workbook.save(book)
    code, out, _ = run("push", book, "--op", "update", "--changed", *connect(sandbox))
    assert code == 0 and _server(sandbox)[ids[0]]["FileName"] == "typed.pdf", out
    code, out, _ = run("revert", book, *connect(sandbox))
    assert code == 0 and "1 row: 1 updated" in out, out
    assert _server(sandbox)[ids[0]]["FileName"] == ""
    assert {r["Id"]: r for r in read_sheet(book)}[ids[0]]["FileName"] is None
    assert read_pulled(book)[ids[0]].values["FileName"] is None
    # and a later plain update does not send the old value back
    code, out, _ = run("push", book, "--op", "update", "--changed", "--dry-run", *connect(sandbox))
    assert "nothing to send" in out, out


def test_fields_limit_the_columns_of_a_new_sheet(tmp_path: Path, sandbox, run) -> None:
    ids = seed_invoices(sandbox, 3)
    book = tmp_path / "some.xlsx"
    code, out, _ = run("pull", book, "--ids", ",".join(ids), "--fields",
                       "Status,DueDate,FileName", *connect(sandbox))  # fmt: skip
    assert code == 0, out
    sheet = openpyxl.load_workbook(book)["Invoices"]
    assert [c.value for c in sheet[1]] == ["Id", "Status", "DueDate", "FileName", "Result",
                                           "Message"]  # fmt: skip
    server = _server(sandbox)
    for row in read_sheet(book):
        assert row["Status"] == "Pending" and row["FileName"] == server[row["Id"]]["FileName"]
        assert row["DueDate"].date().isoformat() == server[row["Id"]]["DueDate"]


def test_ids_not_found_are_listed_and_bad_ids_are_named(tmp_path: Path, sandbox, run) -> None:
    ids = seed_invoices(sandbox, 3)
    book = tmp_path / "ids.xlsx"
    code, out, _ = run("pull", book, "--ids", ",".join([*ids, "99998"]), *connect(sandbox))
    assert code == 0 and "Pulled 3 invoices" in out and "; 1 Id not found." in out, out
    assert "Not found in BillingPlatform (deleted, or not visible to you): 99998" in out
    code, out, err = run("pull", book, "--ids", f"{ids[0]},12a,{ids[1]}", *connect(sandbox))
    assert code == 2 and "--ids: '12a' is not an invoice Id" in err, err
    code, out, _ = run("pull", tmp_path / "none.xlsx", "--ids", "99997,99998", *connect(sandbox))
    assert code == 0 and "No invoices match Ids 99997, 99998" in out, out
    assert not (tmp_path / "none.xlsx").exists()


@pytest.mark.parametrize(
    ("condition", "said"),
    [
        ("BillingProfileId = 101 AND", "ends with AND"),
        ("Status = 'Pending", "has no closing quote"),
        ("(BillingProfileId = 101", "opens a bracket it never closes"),
        ("BillingProfileId = 101 OFFSET 5 ROWS", "has its own OFFSET"),
        ("BillingProfileId = 101 ORDER BY DueDate", "has its own ORDER"),
        ("Status = 'Pending' FETCH NEXT 5 ROWS ONLY", "has its own FETCH"),
        ("SELECT Id FROM INVOICE", "give only the condition"),
        ("  ", "The condition is empty"),
    ],
)
def test_a_condition_is_checked_before_it_is_sent(condition: str, said: str) -> None:
    with pytest.raises(UsageError, match=said):
        pulls.check_condition(condition)


def test_conditions_the_user_may_write(tmp_path: Path, sandbox, run) -> None:
    seed_invoices(sandbox, 10)
    assert pulls.check_condition("FileName = 'order by offset.pdf' ;") == (
        "FileName = 'order by offset.pdf'"
    )
    book = tmp_path / "or.xlsx"
    code, out, _ = run("pull", book, "--where", "BillingProfileId = 101 OR BillingProfileId = 102",
                       *connect(sandbox))  # fmt: skip
    assert code == 0 and "Pulled 4 invoices" in out, out
    code, _, err = run("pull", book, "--where", "BillingProfileId = 101 AND", *connect(sandbox))
    assert code == 2 and "ends with AND" in err and "OFFSET" not in err, err
    code, _, err = run("pull", book, "--where", "Colour = 'red'", *connect(sandbox))
    assert code == 2 and "BillingPlatform refused the condition \"Colour = 'red'\"" in err, err
    assert "refused the query" not in err and "(HTTP 400: " in err, err
    assert "OFFSET" not in err
    code, out, _ = run("pull", tmp_path / "none.xlsx", "--ids", "99999", *connect(sandbox))
    assert code == 0 and "none.xlsx was not created" in out, out


def test_a_refresh_clears_the_statuses_of_its_rows(tmp_path: Path, sandbox, run) -> None:
    ids = seed_invoices(sandbox, 2)
    book = tmp_path / "stale.xlsx"
    run("pull", book, "--ids", ",".join(ids), *connect(sandbox))
    workbook = openpyxl.load_workbook(book)
    sheet = workbook["Invoices"]
    header = [c.value for c in sheet[1]]
    sheet.cell(2, header.index("Status") + 1, "Approved")
    workbook.save(book)
    _update(sandbox, {"Id": ids[0], "FileName": "theirs.pdf"})
    code, out, _ = run("push", book, "--op", "update", "--changed", *connect(sandbox))
    assert code == 1 and read_sheet(book)[0]["Result"] == "Conflict", out
    code, out, _ = run("pull", book, "--ids", ids[0], *connect(sandbox))
    assert code == 0 and "1 refreshed" in out, out
    row = read_sheet(book)[0]
    assert row["Result"] is None and row["Message"] is None and row["FileName"] == "theirs.pdf"
    assert row["Status"] == "Approved"  # an edit not sent is kept (issue 24) ...
    code, out, _ = run("pull", book, "--ids", ids[0], "--replace-edits", *connect(sandbox))
    assert code == 0 and read_sheet(book)[0]["Status"] == "Pending", out  # ... unless told


def test_a_new_workbook_is_streamed_with_typed_cells(tmp_path: Path, time_zone: str) -> None:
    """Dates are written as Excel serials: the same day in Tokyo and in Los Angeles."""
    book = tmp_path / "new.xlsx"
    names = ["Id", "Status", "DueDate", "BillableFlag", "AgingInterval", "FileName"]
    records = [
        {"Id": "7", "Updated": "2026-01-01T10:00:00Z", "Status": "Pending",
         "DueDate": "2026-03-01", "BillableFlag": "1", "AgingInterval": "30",
         "FileName": " a<b> & c\x01 ", "Region__c": "EU"},  # \x01: no cell holds it
        {"Id": "8", "Updated": "2026-01-02T10:00:00Z", "Status": "", "DueDate": "",
         "BillableFlag": "0", "AgingInterval": "2.5", "FileName": ""},
    ]  # fmt: skip
    with (
        tempfile.TemporaryFile("w+", encoding="utf-8") as rows,
        tempfile.TemporaryFile("w+", encoding="utf-8") as memory,
    ):
        new = xlsx_stream.NewBook(book, "Pulled", names, rows, memory)
        assert [new.add(r) for r in records] == ["7", "8"]
        assert new.save() == ["Region__c"]
    workbook = openpyxl.load_workbook(book)
    sheet = workbook["Pulled"]
    assert [c.value for c in sheet[1]] == [*names, "Result", "Message", "Region__c"]
    assert [c.value for c in sheet[2]][:7] == [
        "7", "Pending", dt.datetime(2026, 3, 1), True, 30, " a<b> & c\ufffd ", None,
    ]  # fmt: skip
    assert sheet["H2"].value.startswith("FileName: 1 control character")  # Message says so
    assert sheet["I2"].value == "EU"
    assert sheet["C2"].number_format == "yyyy-mm-dd"
    assert sheet["A2"].number_format == "General"  # the scratch cells left no trace
    assert [c.value for c in sheet[3]][:6] == ["8", None, None, False, "2.5", None]  # as sent
    assert sheet.tables["Invoices"].ref == "A1:H3"
    assert len(sheet.conditional_formatting) == len(names) - 1  # amber marks, Id excepted
    assert workbook[PULLED].sheet_state == "veryHidden"
    remembered = read_pulled(book)
    assert remembered["7"].updated == "2026-01-01T10:00:00Z"
    assert remembered["7"].values["DueDate"] == dt.datetime(2026, 3, 1)
    assert remembered["8"].values["Status"] is None
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_a_new_sheet_in_an_existing_workbook_gets_the_pulled_fields(
    tmp_path: Path, sandbox, run
) -> None:
    ids = seed_invoices(sandbox, 2)
    book = write_invoices(tmp_path / "other.xlsx", [{"BillingProfileId": "1"}])
    code, out, _ = run("pull", book, "--ids", ",".join(ids), "--sheet", "Review", "--fields",
                       "Status,FileName", *connect(sandbox))  # fmt: skip
    assert code == 0 and "into sheet 'Review'" in out, out
    rows = read_sheet(book, "Review")
    assert [(r["Id"], r["Status"]) for r in rows] == [(ids[0], "Pending"), (ids[1], "Pending")]
    assert rows[0]["FileName"] == "inv-00000.pdf"


def test_a_pulled_workbook_is_refreshed_in_place(tmp_path: Path, sandbox, run) -> None:
    """The second pull goes through the streamed edit: drafts kept, new rows below them inside the
    table, dates as dates, what was pulled remembered, the user's other sheets untouched."""
    ids = seed_invoices(sandbox, 3)
    book = tmp_path / "again.xlsx"
    run("pull", book, "--ids", ids[0], *connect(sandbox))
    workbook = openpyxl.load_workbook(book)
    workbook["Invoices"].cell(3, 2, "555")  # a draft below the pulled row (BillingProfileId)
    workbook.create_sheet("Notes")["A1"] = "mine"
    workbook.save(book)
    code, out, _ = run("pull", book, "--ids", ",".join(ids), *connect(sandbox))
    assert code == 0 and "2 new rows, 1 refreshed" in out, out
    workbook = openpyxl.load_workbook(book)
    sheet = workbook["Invoices"]
    rows = {r["_row"]: r for r in read_sheet(book)}
    assert rows[3]["Id"] is None and rows[3]["BillingProfileId"] == "555"
    assert [rows[r]["Id"] for r in (2, 4, 5)] == ids
    assert isinstance(rows[5]["DueDate"], dt.datetime) and sheet["D5"].number_format == "yyyy-mm-dd"
    assert sheet.tables["Invoices"].ref.endswith("5")
    assert workbook["Notes"]["A1"].value == "mine"
    assert workbook[PULLED].sheet_state == "veryHidden" and workbook[PULLED].protection.sheet
    remembered = read_pulled(book)
    assert sorted(remembered) == sorted(ids)
    assert remembered[ids[2]].updated == _server(sandbox, "Id, Updated")[ids[2]]["Updated"]
    code, out, _ = run("push", book, "--op", "update", "--changed", "--dry-run", *connect(sandbox))
    assert "nothing to send" in out, out  # the memory matches the sheet, dates included


@pytest.mark.parametrize("how", ["--ids", "--ids-from-sheet", "--where"])
def test_a_pull_writes_into_the_sheet_a_push_reads(tmp_path: Path, sandbox, run, how) -> None:
    """A summary sheet before the invoice sheet, with an Id column of its own, is not the invoice
    sheet: the pull writes where a push reads, and the summary keeps every cell."""
    ids = seed_invoices(sandbox, 2)
    book = write_invoices(tmp_path / "two.xlsx", [{"Id": ids[0]}])
    workbook = openpyxl.load_workbook(book)
    summary = workbook.create_sheet("Summary", 0)
    summary.append(["Id", "Total"])
    summary.append(["x", "=SUM(Invoices!W2:W9)"])
    workbook.save(book)
    chosen = {
        "--ids": ["--ids", ",".join(ids)],
        "--ids-from-sheet": ["--ids-from-sheet"],
        "--where": ["--where", f"Id = {ids[0]} OR Id = {ids[1]}"],
    }[how]
    code, out, _ = run("pull", book, *chosen, *connect(sandbox))
    assert code == 0 and "into sheet 'Invoices'" in out, out
    assert [[c.value for c in row] for row in openpyxl.load_workbook(book)["Summary"]] == [
        ["Id", "Total"],
        ["x", "=SUM(Invoices!W2:W9)"],
    ]
    assert ids[0] in {r["Id"] for r in read_sheet(book, "Invoices")}


def test_a_first_pull_refuses_to_drop_what_it_cannot_keep(tmp_path: Path, sandbox, run) -> None:
    """The first pull into a workbook edits it with openpyxl, which would drop a dropdown whose
    list is on another sheet: it refuses, in plain words, and leaves the file as it was."""
    ids = seed_invoices(sandbox, 1)
    book = write_invoices(tmp_path / "dropdown.xlsx", [{"BillingProfileId": "101"}])
    add_cross_sheet_dropdown(book)
    before = book.read_bytes()
    code, out, err = run("pull", book, "--ids", ids[0], *connect(sandbox))
    assert code == 2 and "a dropdown or check whose list is on another sheet" in err, out + err
    assert "Nothing was written" in err and "Warning" not in err and "openpyxl" not in err
    assert book.read_bytes() == before


TEXT_BOX = (  # as Excel writes a text box, inside the sheet's drawing
    '<xdr:twoCellAnchor xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/'
    'spreadsheetDrawing" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main">'
    "<xdr:from><xdr:col>1</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>5</xdr:row>"
    "<xdr:rowOff>0</xdr:rowOff></xdr:from><xdr:to><xdr:col>4</xdr:col><xdr:colOff>0</xdr:colOff>"
    "<xdr:row>8</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:to>"
    '<xdr:sp macro="" textlink=""><xdr:nvSpPr><xdr:cNvPr id="2" name="TextBox 1"/>'
    '<xdr:cNvSpPr txBox="1"/></xdr:nvSpPr><xdr:spPr><a:prstGeom prst="rect"><a:avLst/>'
    "</a:prstGeom></xdr:spPr><xdr:txBody><a:bodyPr/><a:p><a:r><a:t>Approved by J. Smith</a:t>"
    "</a:r></a:p></xdr:txBody></xdr:sp><xdr:clientData/></xdr:twoCellAnchor>"
)


def _with_chart(book: Path) -> None:
    workbook = openpyxl.load_workbook(book)
    sheet = workbook.worksheets[0]
    chart = BarChart()
    chart.add_data(Reference(sheet, min_col=2, min_row=1, max_row=2))
    sheet.add_chart(chart, "K2")
    workbook.save(book)


def _add_text_box(book: Path, on_chart: bool = False) -> None:
    """A text box on the sheet, or (``on_chart``) on its chart, as Excel keeps it there: a
    drawing of the chart's own."""
    with zipfile.ZipFile(book) as source:
        parts = {item.filename: source.read(item.filename) for item in source.infolist()}
    if on_chart:
        shape = TEXT_BOX.replace("twoCellAnchor", "relSizeAnchor").replace("xdr:", "cdr:")
        shape = shape.replace("spreadsheetDrawing", "chartDrawing").replace(":xdr=", ":cdr=")
        parts["xl/drawings/drawing9.xml"] = (
            '<c:userShapes xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart">'
            f"{shape}</c:userShapes>"
        ).encode()
        parts["xl/charts/_rels/chart1.xml.rels"] = (
            b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            b'<Relationship Id="rId1" Target="../drawings/drawing9.xml" Type="http://schemas.'
            b'openxmlformats.org/officeDocument/2006/relationships/chartUserShapes"/>'
            b"</Relationships>"
        )
    else:
        drawing = "xl/drawings/drawing1.xml"
        parts[drawing] = parts[drawing].replace(b"</wsDr>", TEXT_BOX.encode() + b"</wsDr>")
    with zipfile.ZipFile(book, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)


def test_a_first_pull_refuses_to_drop_a_text_box(tmp_path: Path, sandbox, run) -> None:
    """openpyxl keeps a sheet's charts but silently drops its text boxes and shapes: the first
    pull, which saves through it, refuses and says how to go on; a chart alone is kept."""
    ids = seed_invoices(sandbox, 1)
    book = write_invoices(tmp_path / "noted.xlsx", [{"BillingProfileId": "101"}])
    _with_chart(book)
    _add_text_box(book)
    before = book.read_bytes()
    code, out, err = run("pull", book, "--ids", ids[0], *connect(sandbox))
    assert code == 2, out + err
    assert err.startswith(
        "bpxl: noted.xlsx has text boxes or shapes (sheet 'Invoices'), which bpxl cannot keep "
        "when it pulls into this workbook for the first time. Nothing was written."
    ), err
    assert "Pull into a new workbook (bpxl pull new.xlsx ...)" in err
    assert book.read_bytes() == before
    _with_chart(on_chart := write_invoices(tmp_path / "on_chart.xlsx", [{"Status": "Pending"}]))
    _add_text_box(on_chart, on_chart=True)
    code, out, err = run("pull", on_chart, "--ids", ids[0], *connect(sandbox))
    assert code == 2 and "has text boxes or shapes on a chart (sheet 'Invoices')" in err, out
    charted = write_invoices(tmp_path / "charted.xlsx", [{"BillingProfileId": "101"}])
    _with_chart(charted)
    code, out, err = run("pull", charted, "--ids", ids[0], *connect(sandbox))
    assert code == 0, out + err
    with zipfile.ZipFile(charted) as package:
        assert "xl/charts/chart1.xml" in package.namelist()


def test_the_memory_holds_ids_as_text_when_the_sheet_holds_them_as_numbers(
    tmp_path: Path, sandbox, run
) -> None:
    """The amber mark finds a row's invoice in the memory with MATCH(Id&"", ...), a text: a first
    pull into a sheet whose Ids are numbers writes the sheet's Ids as numbers, the memory's as
    text, or no edited cell would ever turn amber until a refresh rewrote the memory."""
    ids = seed_invoices(sandbox, 2)
    book = write_invoices(tmp_path / "numbers.xlsx", [{"Id": int(i)} for i in ids])
    code, out, _ = run("pull", book, "--ids-from-sheet", *connect(sandbox))
    assert code == 0, out
    workbook = openpyxl.load_workbook(book)
    invoices = workbook["Invoices"]
    sheet_ids = [r[0] for r in invoices.iter_rows(min_row=2, max_col=1, values_only=True)]
    assert sheet_ids == [int(i) for i in ids]  # the user's numbers kept as numbers
    memory = workbook[PULLED]
    column = [c.value for c in memory[1]].index("Id") + 1
    held = [memory.cell(r, column).value for r in range(2, memory.max_row + 1)]
    assert sorted(held) == sorted(ids) and all(isinstance(v, str) for v in held), held
