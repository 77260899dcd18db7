"""The streamed refresh (workbook/refresh.py) called directly on small workbooks: when it declines,
what it writes and leaves, the columns it adds, the cells it says something about, the memory it
writes anew, and what a send of pulled rows writes back (``after_push``). Its comparison with the
openpyxl pull on odd workbooks, and LibreOffice's reading, are in test_refresh_streamed.py."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
import pytest
from lxml import etree
from openpyxl.utils.datetime import CALENDAR_MAC_1904
from openpyxl.worksheet.table import Table

from bpxl import template
from bpxl.core import fields
from bpxl.core.fields import Catalogue, Field, FieldType
from bpxl.core.roundtrip.pull_memory import STAMP_HEADER, Pulled
from bpxl.workbook import refresh as streamed
from bpxl.workbook import saving
from bpxl.workbook.pulling import PULLED, pull_into, read_pulled
from bpxl.workbook.refresh import after_push, refresh
from bpxl.workbook.sheet_xml import Book, excel_serial

from .conftest import write_invoices

NAMES = ["Id", "Status", "DueDate", "FileName"]
STAMP = "2026-12-01T10:00:00.000Z"


def _record(invoice: int, **changed: object) -> dict[str, object]:
    record: dict[str, object] = {
        "Id": str(invoice),
        "Updated": STAMP,
        "Status": "Pending",
        "DueDate": (dt.date(2026, 1, 1) + dt.timedelta(days=invoice)).isoformat(),
        "FileName": f"inv-{invoice}.pdf",
    }
    record.update(changed)
    return record


def _book(path: Path, rows: list[list[object]], header: list[object] | None = None) -> Path:
    workbook = openpyxl.Workbook()
    workbook.active.title = "Invoices"
    workbook.active.append(header or NAMES)
    for row in rows:
        workbook.active.append(row)
    workbook.save(path)
    return path


def _pulled(path: Path, invoices: list[int], header: list[object] | None = None) -> Path:
    """A small workbook pulled into once (so it has a memory sheet)."""
    _book(path, [], header)
    pull_into(path, None, [_record(i) for i in invoices], NAMES)
    return path


def _cells(path: Path, sheet: str = "Invoices") -> list[list[object]]:
    return [list(r) for r in openpyxl.load_workbook(path)[sheet].iter_rows(values_only=True)]


def test_a_workbook_never_pulled_into_or_without_the_sheet_or_its_ids_is_left_to_pulling(
    tmp_path: Path,
) -> None:
    never = _book(tmp_path / "never.xlsx", [["1", "Old"]])
    records = iter([_record(1)])
    assert refresh(never, None, records, NAMES) is None
    assert next(records)["Id"] == "1"  # nothing read from the records
    pulled = _pulled(tmp_path / "pulled.xlsx", [1])
    before = pulled.read_bytes()
    assert refresh(pulled, "Other", [_record(1)], NAMES) is None
    workbook = openpyxl.load_workbook(pulled)
    workbook.create_sheet("NoIds").append(["Status", "FileName"])
    workbook.save(pulled)
    before = pulled.read_bytes()
    assert refresh(pulled, "NoIds", [_record(1)], NAMES) is None
    assert pulled.read_bytes() == before and not saving.backups(pulled)[1:]


def test_a_refresh_writes_the_rows_of_its_invoices_and_new_ones_below(tmp_path: Path) -> None:
    book = _pulled(tmp_path / "book.xlsx", [1, 2])
    workbook = openpyxl.load_workbook(book)
    sheet = workbook["Invoices"]
    sheet.append([None, "Draft", None, "draft.pdf"])  # row 4: a draft, not touched
    sheet["E1"], sheet["E2"] = "Result", "Failed"  # a stale status on row 2
    sheet["E2"].fill = openpyxl.styles.PatternFill("solid", fgColor="FFFFC7CE")
    sheet["F1"], sheet["F2"], sheet["F3"] = "Message", "Server down", ""
    workbook.save(book)
    report = refresh(book, None, [_record(1, Status="Approved", FileName=""), _record(5)], NAMES)
    assert report is not None
    assert (report.sheet, report.added, report.refreshed) == ("Invoices", 1, 1)
    assert report.ids == {"1", "5"} and report.extra == []
    assert (report.noted, report.kept, report.conflicts) == (0, 0, 0)
    assert _cells(book) == [
        [*NAMES, "Result", "Message"],
        ["1", "Approved", dt.datetime(2026, 1, 2), None, None, None],
        ["2", "Pending", dt.datetime(2026, 1, 3), "inv-2.pdf", None, None],
        [None, "Draft", None, "draft.pdf", None, None],
        ["5", "Pending", dt.datetime(2026, 1, 6), "inv-5.pdf", None, None],
    ]
    sheet = openpyxl.load_workbook(book)["Invoices"]
    assert sheet["C5"].number_format == "yyyy-mm-dd"  # a new date cell gets the date format
    assert sheet["E2"].fill.fill_type is None  # the stale status's colour goes with it
    remembered = read_pulled(book)
    assert sorted(remembered) == ["1", "2", "5"]
    assert remembered["1"].values["Status"] == "Approved"
    assert remembered["1"].values["FileName"] is None
    assert len(saving.backups(book)) == 2  # the pull's and the refresh's


def test_a_cell_showing_the_servers_value_already_is_not_written(tmp_path: Path) -> None:
    """A date cell keeps its own format, and a cell the server agrees with keeps its style."""
    book = _pulled(tmp_path / "book.xlsx", [1])
    workbook = openpyxl.load_workbook(book)
    sheet = workbook["Invoices"]
    sheet["C2"].number_format = "d mmm yy"
    sheet["B2"].font = openpyxl.styles.Font(bold=True)
    workbook.save(book)
    refresh(book, None, [_record(1, DueDate="2026-05-01")], NAMES)
    sheet = openpyxl.load_workbook(book)["Invoices"]
    assert sheet["C2"].value == dt.datetime(2026, 5, 1)
    assert sheet["C2"].number_format == "d mmm yy" and sheet["B2"].font.bold


def test_unknown_fields_go_into_new_columns_and_notes_into_new_status_columns(
    tmp_path: Path,
) -> None:
    book = _pulled(tmp_path / "book.xlsx", [1, 2])
    workbook = openpyxl.load_workbook(book)
    workbook["Invoices"]["G3"] = "mine"  # the user's cell, past the fields
    workbook.save(book)
    records = [
        _record(1, Region__c="EU", FileName="a\x01b"),
        _record(2, Region__c="=1+1"),
    ]
    report = refresh(book, None, records, NAMES)
    assert report is not None and report.extra == ["Region__c"] and report.noted == 1
    rows = _cells(book)
    header = rows[0]
    assert header[:7] == [*NAMES, None, None, None]
    region, result, message = (header.index(h) for h in ("Region__c", "Result", "Message"))
    assert region == 7 and (result, message) == (8, 9)  # after the user's column G
    assert rows[1][region] == "EU" and rows[2][region] == "=1+1"
    assert rows[1][3] == "a\ufffdb" and rows[1][result] is None
    assert rows[1][message].startswith("FileName: 1 control character")
    assert rows[2][message] is None and rows[2][6] == "mine"


def test_a_refresh_that_keeps_an_edit_says_so_in_the_rows_statuses(tmp_path: Path) -> None:
    book = _pulled(tmp_path / "book.xlsx", [1, 2], [*NAMES, "Result", "Message"])
    workbook = openpyxl.load_workbook(book)
    sheet = workbook["Invoices"]
    sheet["B2"], sheet["B3"] = "Mine", "Also mine"
    sheet["E3"], sheet["F3"] = "Failed", "Server down"
    workbook.save(book)
    report = refresh(book, None, [_record(1, Status="Approved"), _record(2)], NAMES)
    assert report is not None and (report.kept, report.conflicts, report.noted) == (2, 1, 0)
    rows = _cells(book)
    assert rows[1][1] == "Mine" and rows[1][4] == "Conflict" and '"Approved"' in rows[1][5]
    assert rows[2][1:] == ["Also mine", dt.datetime(2026, 1, 3), "inv-2.pdf", None, None]
    fill = openpyxl.load_workbook(book)["Invoices"]["E2"].fill
    assert fill.fgColor.rgb == "FFFFEB9C"  # Conflict's colour
    replaced = refresh(book, None, [_record(1, Status="Approved")], NAMES, replace_edits=True)
    assert replaced is not None and (replaced.kept, replaced.conflicts) == (0, 0)
    assert _cells(book)[1][1] == "Approved"


def test_the_memory_is_written_anew_in_pieces(tmp_path: Path) -> None:
    """More invoices than one piece of the memory's XML holds: every one remembered once."""
    count = streamed._PIECE_ROWS + 3
    book = _book(tmp_path / "big.xlsx", [[str(i)] for i in range(1, count + 1)])
    pull_into(book, None, [_record(1)], NAMES)
    report = refresh(book, None, (_record(i) for i in range(1, count + 1)), NAMES)
    assert report is not None and report.refreshed == count
    remembered = read_pulled(book)
    assert len(remembered) == count and remembered[str(count)].updated == STAMP
    memory = openpyxl.load_workbook(book, read_only=True)[PULLED]
    assert memory.max_row == count + 1


def test_after_a_send_the_memory_and_the_reverted_cells_are_written(tmp_path: Path) -> None:
    book = _pulled(tmp_path / "book.xlsx", [1, 2])
    values = {"Id": "2", "Status": "Approved", "DueDate": None, "FileName": None}
    now = {"2": Pulled("2026-12-09T10:00:00.000Z", values)}
    cells = {(2, "Status"): "Pending", (2, "FileName"): None, (3, "DueDate"): dt.date(2027, 1, 1)}
    after_push(book, "Invoices", now, cells)
    rows = _cells(book)
    assert rows[1][:4] == ["1", "Pending", dt.datetime(2026, 1, 2), None]
    assert rows[2][2] == dt.datetime(2027, 1, 1)
    sheet = openpyxl.load_workbook(book)["Invoices"]
    assert sheet["C3"].number_format == "yyyy-mm-dd"
    remembered = read_pulled(book)
    assert remembered["2"].values["Status"] == "Approved"
    assert remembered["2"].updated == "2026-12-09T10:00:00.000Z"
    assert remembered["1"].values["Status"] == "Pending"
    before = book.read_bytes()
    after_push(book, "Invoices", {}, {})  # nothing to write
    after_push(book, "Invoices", {})
    assert book.read_bytes() == before


def test_after_a_send_from_a_workbook_never_pulled_only_the_cells_are_written(
    tmp_path: Path,
) -> None:
    book = _book(tmp_path / "book.xlsx", [["1", "Approved"]])
    after_push(book, "Invoices", {"1": Pulled(STAMP, {"Id": "1"})}, {(2, "Status"): "Pending"})
    assert _cells(book) == [NAMES, ["1", "Pending", None, None]]
    assert PULLED not in openpyxl.load_workbook(book).sheetnames
    after_push(book, "Invoices", {}, {(2, "Status"): "Done"})  # cells alone (a revert)
    assert _cells(book)[1][1] == "Done"


def test_after_a_send_the_memory_alone_is_brought_up_to_date(tmp_path: Path) -> None:
    book = _pulled(tmp_path / "book.xlsx", [1])
    after_push(book, "Invoices", {"1": Pulled("2026-12-09T10:00:00.000Z", {"Id": "1"})})
    assert read_pulled(book)["1"].updated == "2026-12-09T10:00:00.000Z"


def test_after_a_send_the_sheet_sent_is_written_not_the_first(tmp_path: Path) -> None:
    book = _pulled(tmp_path / "book.xlsx", [1])
    workbook = openpyxl.load_workbook(book)
    second = workbook.create_sheet("Second")
    second.append(NAMES)
    second.append(["1", "Approved"])
    workbook.save(book)
    after_push(book, "Second", {}, {(2, "Status"): "Pending"})
    assert _cells(book, "Second")[1][:2] == ["1", "Pending"]
    assert _cells(book)[1][:2] == ["1", "Pending"]


def test_after_a_send_the_tenants_own_fields_are_put_back_under_its_labels(
    tmp_path: Path,
) -> None:
    invoice = dataclasses.replace(fields.BUILT_IN.by_name["Id"], label="Invoice No")
    region = Field("Region__c", FieldType.TEXT, "the tenant's own", label="Region", custom=True)
    others = [f for f in fields.BUILT_IN.fields if f.name != "Id"]
    tenant = Catalogue([invoice, *others, region], fields.TENANT_SOURCE)
    book = _book(tmp_path / "book.xlsx", [["1", "US"]], ["Invoice No", "Region"])
    after_push(book, "Invoices", {}, {(2, "Region__c"): "EU"}, tenant)
    assert _cells(book) == [["Invoice No", "Region"], ["1", "EU"]]


def _pulled_1904(tmp_path: Path) -> Path:
    """A workbook of the 1904 date system with one invoice pulled into it."""
    book = tmp_path / "1904.xlsx"
    workbook = openpyxl.Workbook()
    workbook.epoch = CALENDAR_MAC_1904
    workbook.active.title = "Invoices"
    workbook.active.append(NAMES)
    workbook.save(book)
    pull_into(book, None, [_record(1)], NAMES)
    return book


def test_a_date_put_back_shows_as_a_date_and_the_memory_counts_in_the_books_system(
    tmp_path: Path,
) -> None:
    book = _pulled_1904(tmp_path)
    workbook = openpyxl.load_workbook(book)
    workbook["Invoices"]["C2"] = None  # the user cleared the date and its format
    workbook["Invoices"]["C2"].number_format = "General"
    workbook.save(book)
    due = dt.date(2027, 1, 1)
    after_push(book, "Invoices", {"1": Pulled(STAMP, {"Id": "1", "DueDate": due})},
               {(2, "DueDate"): due})  # fmt: skip
    cell = openpyxl.load_workbook(book)["Invoices"]["C2"]
    assert cell.value == dt.datetime(2027, 1, 1) and cell.number_format == "yyyy-mm-dd"
    memory = openpyxl.load_workbook(book)[PULLED]
    column = [c.value for c in memory[1]].index("DueDate") + 1
    assert memory.cell(2, column).value == excel_serial(due, True)


def test_a_stale_status_beside_an_empty_cell_is_cleared_too(tmp_path: Path) -> None:
    book = _book(tmp_path / "book.xlsx", [], [*NAMES, "Result", "Message"])
    pull_into(book, None, [_record(1, FileName="")], NAMES)
    workbook = openpyxl.load_workbook(book)
    workbook["Invoices"]["E2"] = "Failed"  # FileName beside it is empty
    workbook.save(book)
    refresh(book, None, [_record(1, FileName="")], NAMES)
    assert _cells(book)[1] == ["1", "Pending", dt.datetime(2026, 1, 2), None, None, None]


def test_an_extra_column_is_refreshed_whatever_the_column_beside_it_shows(
    tmp_path: Path,
) -> None:
    book = _pulled(tmp_path / "book.xlsx", [1])
    refresh(book, None, [_record(1, Region__c="US", Colour__c="EU")], NAMES)
    refresh(book, None, [_record(1, Region__c="EU", Colour__c="EU")], NAMES)
    header, row = _cells(book)[:2]
    assert row[header.index("Region__c")] == "EU" and row[header.index("Colour__c")] == "EU"
    refresh(book, None, [_record(1, Region__c="FR", Colour__c="red")], NAMES)
    assert _cells(book)[1] == ["1", "Pending", dt.datetime(2026, 1, 2), "inv-1.pdf", "FR", "red"]


def test_status_columns_added_by_a_refresh_keep_clear_of_merged_cells(tmp_path: Path) -> None:
    book = _pulled(tmp_path / "book.xlsx", [1])
    workbook = openpyxl.load_workbook(book)
    sheet = workbook["Invoices"]
    sheet["E3"] = "a note of mine"
    sheet.merge_cells("E3:F3")
    workbook.save(book)
    refresh(book, None, [_record(1, FileName="a\x01b")], NAMES)
    header = _cells(book)[0]
    assert header[6:8] == ["Result", "Message"] and header[4:6] == [None, None]


@pytest.mark.parametrize(
    ("cell", "value", "shows"),
    [
        (None, None, True),
        ("", None, True),
        (None, "", False),
        ("", "x", False),
        ("x", None, False),
        (None, "x", False),
        ("x", "x", True),
        (dt.datetime(2026, 1, 2), dt.date(2026, 1, 2), True),
        (dt.datetime(2026, 1, 2), dt.datetime(2026, 1, 2), True),
        (dt.datetime(2026, 1, 2, 5), dt.date(2026, 1, 2), False),
        (1, True, False),
        (True, True, True),
        (1, 1.0, False),
        ("1", 1, False),
        (2, 2, True),
    ],
)
def test_shows_tells_a_cell_already_showing_a_value(cell: object, value: object, shows: bool):
    assert streamed._shows(cell, value) is shows


def test_a_new_date_gets_a_date_format_and_a_date_cell_keeps_its_own() -> None:
    assert streamed._style(None, dt.date(2026, 1, 2)) is streamed.DATE
    assert streamed._style(None, dt.datetime(2026, 1, 2, 5)) is streamed.DATETIME
    assert streamed._style("text", dt.date(2026, 1, 2)) is streamed.DATE
    assert streamed._style(dt.datetime(2025, 1, 1), dt.date(2026, 1, 2)) is None
    assert streamed._style(dt.date(2025, 1, 1), dt.datetime(2026, 1, 2)) is None
    assert streamed._style(None, "2026-01-02") is None and streamed._style(None, 5) is None


def test_a_stale_status_in_the_first_column_is_cleared_too(tmp_path: Path) -> None:
    book = _book(tmp_path / "book.xlsx", [], ["Result", *NAMES])
    pull_into(book, None, [_record(1)], NAMES)
    workbook = openpyxl.load_workbook(book)
    workbook["Invoices"]["A2"] = "Failed"
    workbook.save(book)
    refresh(book, None, [_record(1)], NAMES)
    assert _cells(book)[1][:2] == [None, "1"]


def test_a_refresh_grows_the_table_and_keeps_the_memory_hidden_and_protected(
    tmp_path: Path,
) -> None:
    book = write_invoices(tmp_path / "table.xlsx", [])
    pull_into(book, None, [_record(1)], NAMES)
    refresh(book, None, [_record(1), _record(2), _record(3)], NAMES)
    workbook = openpyxl.load_workbook(book)
    table = workbook[template.SHEET_TITLE].tables[template.TABLE_NAME]
    assert table.ref.startswith("A1:") and table.ref.endswith("4")
    memory = workbook[PULLED]
    assert memory.sheet_state == "veryHidden" and memory.protection.sheet


def test_a_field_column_not_pulled_is_left_as_it_is(tmp_path: Path) -> None:
    header = ["Id", "Status", "BillableFlag", "DueDate", "FileName"]
    book = _book(tmp_path / "book.xlsx", [], header)
    pull_into(book, None, [_record(1)], NAMES)
    workbook = openpyxl.load_workbook(book)
    workbook["Invoices"]["C2"] = True  # not asked for: the refresh does not touch it
    workbook.save(book)
    refresh(book, None, [_record(1, Status="Done", DueDate="2026-06-01", FileName="")], NAMES)
    assert _cells(book)[1] == ["1", "Done", True, dt.datetime(2026, 6, 1), None]


def test_an_extra_column_added_by_a_refresh_is_as_wide_as_the_templates(tmp_path: Path) -> None:
    book = _pulled(tmp_path / "book.xlsx", [1])
    refresh(book, None, [_record(1, Region__c="EU")], NAMES)
    sheet = openpyxl.load_workbook(book)["Invoices"]
    assert sheet["E1"].value == "Region__c" and sheet.column_dimensions["E"].width == 14


def test_a_refresh_under_a_tenants_labels(tmp_path: Path) -> None:
    invoice = dataclasses.replace(fields.BUILT_IN.by_name["Id"], label="Invoice No")
    region = Field("Region__c", FieldType.TEXT, "the tenant's own", label="Region", custom=True)
    others = [f for f in fields.BUILT_IN.fields if f.name != "Id"]
    tenant = Catalogue([invoice, *others, region], fields.TENANT_SOURCE)
    book = _book(tmp_path / "book.xlsx", [], ["Invoice No", "Region"])
    names = ["Id", "Region__c"]
    pull_into(book, None, [{"Id": "1", "Updated": STAMP, "Region__c": "US"}], names, tenant)
    record = {"Id": "1", "Updated": STAMP, "Region__c": "EU"}
    report = refresh(book, None, [record], names, tenant)
    assert report is not None and report.refreshed == 1
    assert _cells(book) == [["Invoice No", "Region"], ["1", "EU"]]


def test_a_table_under_a_header_below_a_title_grows_with_the_new_rows(tmp_path: Path) -> None:
    book = _book(tmp_path / "titled.xlsx", [NAMES], ["Invoices of December"])
    workbook = openpyxl.load_workbook(book)
    workbook["Invoices"].add_table(Table(displayName="Pulled", ref="A2:D3"))
    workbook.save(book)
    pull_into(book, "Invoices", [_record(1)], NAMES)
    report = refresh(book, "Invoices", [_record(1), _record(2)], NAMES)
    assert report is not None and (report.added, report.refreshed) == (1, 1)
    table = openpyxl.load_workbook(book)["Invoices"].tables["Pulled"]
    assert table.ref == "A2:D4"


def test_a_1904_books_remembered_dates_are_not_taken_for_edits(tmp_path: Path) -> None:
    """The memory a refresh writes holds dates as serials of the book's own date system: read in
    the other system they would look edited, and a date changed on the server would be kept out
    as a conflict."""
    book = _pulled_1904(tmp_path)
    refresh(book, None, [_record(1)], NAMES)  # the memory's dates now serials
    report = refresh(book, None, [_record(1, DueDate="2026-09-30")], NAMES)
    assert report is not None and (report.kept, report.conflicts) == (0, 0)
    assert _cells(book)[1][:3] == ["1", "Pending", dt.datetime(2026, 9, 30)]


def test_the_memory_a_refresh_writes_is_laid_out_as_the_pull_lays_it_out(tmp_path: Path) -> None:
    """Its cells in column order, nothing between them, the stamp right after the last field:
    what Excel reads without repairing, where the amber marks look."""
    book = _pulled(tmp_path / "book.xlsx", [1, 2], ["Notes", *reversed(NAMES)])
    pulled = [list(r) for r in openpyxl.load_workbook(book)[PULLED].iter_rows(values_only=True)]
    refresh(book, None, [_record(1), _record(2)], NAMES)
    with zipfile.ZipFile(book) as package:
        xml = etree.fromstring(package.read(Book(package).sheet_part(PULLED)))
    for row in xml.iter(f"{{{streamed.MAIN}}}row"):
        refs = [c.get("r") for c in row]
        assert refs == sorted(refs, key=lambda r: (len(r), r)) and not (row.text or "").strip()
        assert all(not (c.tail or "").strip() for c in row)
        assert not (row.tail or "").strip()  # nothing between the rows either
    header = list(next(openpyxl.load_workbook(book)[PULLED].iter_rows(values_only=True)))
    assert header == pulled[0] == [None, "FileName", "DueDate", "Status", "Id", STAMP_HEADER]


def test_a_kept_edit_leaves_the_rest_of_its_row_refreshed(tmp_path: Path) -> None:
    book = _pulled(tmp_path / "book.xlsx", [1])
    workbook = openpyxl.load_workbook(book)
    workbook["Invoices"]["B2"] = "Mine"
    workbook.save(book)
    refresh(book, None, [_record(1, FileName="theirs.pdf")], NAMES)
    assert _cells(book)[1] == ["1", "Mine", dt.datetime(2026, 1, 2), "theirs.pdf"]


def test_an_extra_field_emptied_on_the_server_empties_its_cell(tmp_path: Path) -> None:
    book = _pulled(tmp_path / "book.xlsx", [1])
    refresh(book, None, [_record(1, Region__c="US")], NAMES)
    refresh(book, None, [_record(1, Region__c="")], NAMES)
    assert _cells(book)[1][4] is None
