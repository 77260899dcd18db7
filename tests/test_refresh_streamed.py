"""The streamed refresh (workbook/refresh.py) against the XML it writes and against the openpyxl
pull (``pulling.pull_into``, which loads the whole workbook): the same cells on odd workbooks,
parts it has nothing to change left byte for byte, the memory in the book's own date system, and
LibreOffice reading what it wrote."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
import pytest
from lxml import etree
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from bpxl import template
from bpxl.core import fields
from bpxl.core.records import read_layout
from bpxl.core.roundtrip import edits
from bpxl.core.roundtrip.pull_memory import Pulled, id_text
from bpxl.workbook import sheet_io
from bpxl.workbook.pulling import PULLED, pull_into, read_pulled
from bpxl.workbook.refresh import refresh
from bpxl.workbook.sheet_xml import Book, excel_serial

from .test_sheet_xml_cells import libreoffice_csv, needs_libreoffice

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
NAMES = ["Id", "BillingProfileId", "Status", "DueDate", "AgingInterval", "BillableFlag",
         "FileName"]  # fmt: skip


def _record(invoice: int, **changed: str) -> dict[str, object]:
    """An invoice as the server answers a query: every value as text, empties as ""."""
    record: dict[str, object] = {
        "Id": str(invoice),
        "Updated": f"2026-12-0{1 + invoice % 5}T10:00:00.000Z",
        "BillingProfileId": str(101 + invoice % 3),
        "Status": "Pending",
        "DueDate": (dt.date(2026, 1, 1) + dt.timedelta(days=invoice)).isoformat(),
        "AgingInterval": str(invoice % 60),
        "BillableFlag": "1" if invoice % 2 else "0",
        "FileName": f"inv-{invoice}.pdf" if invoice % 4 else "",
    }
    record.update(changed)
    return record


def _parts(book: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(book) as package:
        return {name: package.read(name) for name in package.namelist()}


def _part_of(book: Path, sheet: str) -> str:
    with zipfile.ZipFile(book) as package:
        return Book(package).sheet_part(sheet)


def _odd_workbook(path: Path, date1904: bool) -> Path:
    """A user's workbook: Ids as numbers and as text, a draft row, an Id twice, a formula and a
    note of the user's beside the fields, formats, a merged range below, another sheet."""
    book = template.build()
    if date1904:
        book.epoch = CALENDAR_MAC_1904
    sheet = book[template.SHEET_TITLE]
    header = [c.value for c in sheet[1]]
    column = {name: header.index(name) + 1 for name in NAMES}
    mine = len(header) + 3  # a column of the user's, past the statuses
    sheet.cell(1, mine, "My note")
    rows = [1, "2", None, 3, 1, 4]  # row 4 is a draft; invoice 1 twice
    for number, invoice in enumerate(rows, start=2):
        if invoice is None:
            sheet.cell(number, column["FileName"], "draft.pdf")
            continue
        sheet.cell(number, column["Id"], invoice)
        sheet.cell(number, column["Status"], "Old status")
        sheet.cell(number, column["DueDate"], dt.date(2025, 1, number)).number_format = "d mmm yy"
        sheet.cell(number, column["AgingInterval"], number).number_format = "0.00"
        sheet.cell(number, mine, f"=ROW()*{number}")
    sheet.cell(12, mine, "kept")
    sheet.merge_cells(start_row=12, start_column=mine, end_row=13, end_column=mine + 1)
    book.create_sheet("Other")["B2"] = "=Invoices!A2"
    book.save(path)
    return path


def _memory(book: Path, date1904: bool) -> dict[str, Pulled]:
    """The memory with Ids as text and dates as serials (a refresh writes dates as plain numbers
    in the book's date system, the openpyxl pull as dates)."""

    def plain(value: object) -> object:
        return int(excel_serial(value, date1904)) if isinstance(value, dt.date) else value

    return {
        invoice: Pulled(
            then.updated,
            {**{k: plain(v) for k, v in then.values.items()}, "Id": id_text(then.values["Id"])},
        )
        for invoice, then in read_pulled(book).items()
    }


def _cells(book: Path, sheet: str) -> dict[str, tuple[object, str]]:
    """Each non-empty cell's value and number format, as openpyxl reads them."""
    found = {}
    for row in openpyxl.load_workbook(book)[sheet].iter_rows():
        for cell in row:
            if cell.value is not None:
                found[cell.coordinate] = (cell.value, cell.number_format)
    return found


@pytest.mark.parametrize("date1904", [False, True])
def test_the_streamed_refresh_writes_what_the_openpyxl_pull_writes(
    tmp_path: Path, date1904: bool
) -> None:
    """Pulled once, then the server changed: the streamed refresh (edits taken over, as the
    openpyxl pull has no notion of them) leaves the same values, formats and memory as loading
    the workbook into openpyxl and writing every pulled cell."""
    first = [_record(i) for i in (1, 2, 3, 4)]
    later = [
        _record(1, Status="Approved", FileName='=HYPERLINK("x")'),
        _record(2, DueDate="", AgingInterval="7"),
        _record(3),
        _record(4, BillableFlag="1", Updated="2026-12-09T10:00:00.000Z"),
        _record(9),  # new: below the last used row
    ]
    book = _odd_workbook(tmp_path / "odd.xlsx", date1904)
    pull_into(book, None, first, NAMES)
    # The user edits a cell since the pull (a refresh with --replace-edits takes the server's).
    edited = openpyxl.load_workbook(book)
    edited[template.SHEET_TITLE]["C3"] = "Typed by me"
    edited.save(book)
    streamed, loaded = tmp_path / "streamed.xlsx", tmp_path / "loaded.xlsx"
    streamed.write_bytes(book.read_bytes())
    loaded.write_bytes(book.read_bytes())

    report = refresh(streamed, None, later, NAMES, replace_edits=True)
    pull_into(loaded, None, later, NAMES)

    assert report is not None and (report.added, report.refreshed) == (1, 4)
    for sheet in (template.SHEET_TITLE, "Other"):
        assert _cells(streamed, sheet) == _cells(loaded, sheet)
    # The memory alike, but for its Ids (a refresh writes them as text, which the amber marks'
    # MATCH(Id&"") finds; the openpyxl pull as the sheet's numbers) and its dates (see _memory).
    assert _memory(streamed, date1904) == _memory(loaded, date1904)
    merged = openpyxl.load_workbook(streamed)[template.SHEET_TITLE].merged_cells.ranges
    assert [str(m) for m in merged] == [str(m) for m in openpyxl.load_workbook(loaded)[
        template.SHEET_TITLE].merged_cells.ranges]  # fmt: skip
    # The text that looks like a formula is a string cell, in the XML itself.
    sheet = etree.fromstring(_parts(streamed)[_part_of(streamed, template.SHEET_TITLE)])
    hyperlink = sheet.xpath("//m:c[m:is/m:t='=HYPERLINK(\"x\")']", namespaces=NS)
    assert len(hyperlink) == 2 and all(c.get("t") == "inlineStr" for c in hyperlink)
    assert not sheet.xpath("//m:c[m:is/m:t='=HYPERLINK(\"x\")']/m:f", namespaces=NS)


def test_a_refresh_that_changes_nothing_leaves_the_sheet_and_the_other_parts_as_they_were(
    tmp_path: Path,
) -> None:
    """When the server holds what the sheet shows, only the memory sheet is written (its stamps
    are the server's): the invoice sheet, its styles and tables, the other parts are copied byte
    for byte, not parsed and written again."""
    book = _odd_workbook(tmp_path / "same.xlsx", False)
    records = [_record(i) for i in (1, 2, 3, 4)]
    pull_into(book, None, records, NAMES)
    before = _parts(book)
    report = refresh(book, None, records, NAMES)
    after = _parts(book)
    assert report is not None and report.refreshed == 4
    memory = _part_of(book, PULLED)
    assert sorted(after) == sorted(before)
    assert {n for n in after if after[n] != before[n]} <= {memory}


@pytest.mark.parametrize("date1904", [False, True])
def test_the_memory_holds_dates_as_serials_of_the_books_date_system(
    tmp_path: Path, date1904: bool
) -> None:
    """The memory sheet's XML: a date is a plain number in the workbook's own date system (what
    the amber marks compare with), text is an inline string that is never a formula, and a push
    of changed rows finds nothing changed after the refresh."""
    book = _odd_workbook(tmp_path / "memory.xlsx", date1904)
    pull_into(book, None, [_record(i) for i in (1, 2, 3, 4)], NAMES)
    refresh(book, None, [_record(3, FileName="@SUM(1)", DueDate="2024-01-01")], NAMES)
    memory = etree.fromstring(_parts(book)[_part_of(book, PULLED)])
    header = {c.get("r").rstrip("1"): c.xpath("string(m:is/m:t)", namespaces=NS)
              for c in memory.xpath("//m:row[@r='1']/m:c", namespaces=NS)}  # fmt: skip
    letter = {name: ref for ref, name in header.items()}
    ids = {r.get("r"): r.xpath(f"string(m:c[@r='{letter['Id']}{r.get('r')}'])", namespaces=NS)
           for r in memory.xpath("//m:row", namespaces=NS)}  # fmt: skip
    number = next(n for n, invoice in ids.items() if invoice == "3")
    row = memory.xpath(f"//m:row[@r='{number}']", namespaces=NS)[0]
    due = row.xpath(f"m:c[@r='{letter['DueDate']}{number}']", namespaces=NS)[0]
    assert due.get("t") in (None, "n") and due.findtext("m:v", namespaces=NS) == (
        "43830" if date1904 else "45292"
    )
    name = row.xpath(f"m:c[@r='{letter['FileName']}{number}']", namespaces=NS)[0]
    assert name.get("t") == "inlineStr" and name.find("m:f", NS) is None
    assert name.xpath("string(m:is/m:t)", namespaces=NS) == "@SUM(1)"
    found = sheet_io.read_grid(book)
    layout = read_layout(found.grid.header, fields.BUILT_IN)
    assert edits.changes(found.grid, layout, read_pulled(book)).ids == {}


def test_an_unsent_edit_is_kept_and_a_change_on_both_sides_is_a_conflict(tmp_path: Path) -> None:
    """The refresh rules through the streamed path: an edit the server did not change is kept
    silently, one the server changed too says Conflict with the server's value; the memory then
    holds the server's values (so the edit still shows amber and goes with a send)."""
    book = _odd_workbook(tmp_path / "edits.xlsx", False)
    pull_into(book, None, [_record(i) for i in (1, 2, 3, 4)], NAMES)
    edited = openpyxl.load_workbook(book)
    sheet = edited[template.SHEET_TITLE]
    header = [c.value for c in sheet[1]]
    status, name = header.index("Status") + 1, header.index("FileName") + 1
    sheet.cell(3, status, "Mine")  # invoice 2: the server changes Status too
    sheet.cell(5, name, "mine.pdf")  # invoice 3: the server changes nothing
    edited.save(book)
    later = [_record(1), _record(2, Status="Approved"), _record(3), _record(4)]
    report = refresh(book, None, later, NAMES)
    assert report is not None and (report.kept, report.conflicts) == (2, 1)
    rows = {r["_row"]: r for r in _rows(book)}
    assert rows[3]["Status"] == "Mine" and rows[3]["Result"] == "Conflict"
    assert '"Approved"' in rows[3]["Message"]
    assert rows[5]["FileName"] == "mine.pdf" and rows[5]["Result"] is None
    remembered = read_pulled(book)
    assert remembered["2"].values["Status"] == "Approved"
    assert remembered["3"].values["FileName"] == "inv-3.pdf"


def _rows(book: Path) -> list[dict[str, object]]:
    sheet = openpyxl.load_workbook(book)[template.SHEET_TITLE]
    header = [c.value for c in sheet[1]]
    return [
        {"_row": n, **{h: v for h, v in zip(header, values, strict=False) if h}}
        for n, values in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2)
    ]


def test_same_tells_true_from_one_in_a_text_column() -> None:
    """TRUE sends "TRUE" as text and 1 sends "1": what ``same`` remembers of one is not taken
    for the other (they are equal, and hash alike, in Python)."""
    text = fields.BUILT_IN.by_name["FileName"]
    assert edits.same(text, 1, "1")
    assert not edits.same(text, True, "1")
    assert edits.same(text, True, "TRUE")
    assert not edits.same(text, 1.0, "1.0") and edits.same(text, 1.0, "1")


@needs_libreoffice
def test_libreoffice_reads_the_refreshed_sheet_as_openpyxl_does(tmp_path: Path) -> None:
    """LibreOffice is the judge of what another program reads in the streamed XML: the refreshed
    and added rows, dates in their format, text that looks like a formula shown as text."""
    book = _odd_workbook(tmp_path / "judged.xlsx", False)
    pull_into(book, None, [_record(i) for i in (1, 2, 3, 4)], NAMES)
    refresh(book, None, [_record(2, Status="=1+1", DueDate="2026-03-04"), _record(7)], NAMES)
    shown = libreoffice_csv(book)
    header = shown[0]
    by_id = {r[header.index("Id")]: r for r in shown[1:] if r[header.index("Id")]}
    assert by_id["2"][header.index("Status")] == "=1+1"
    assert by_id["2"][header.index("DueDate")] == "03/04/2026"  # the cell's format, kept
    assert by_id["3"][header.index("DueDate")] == "01/04/2026"  # as the pull left it
    assert by_id["7"][header.index("DueDate")] == "2026-01-08"
    assert by_id["7"][header.index("FileName")] == "inv-7.pdf"
