"""The ribbon's memory of a pull (excel/memory_sheet.py) called directly on the fake Excel: where
the very hidden sheet goes, the memory laid out as the command line lays it out, the columns
written back, and what a send keeps. The ribbon's round trips end to end are in test_excel.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bpxl.core import fields
from bpxl.core.fields import Catalogue, Field, FieldType
from bpxl.core.roundtrip import sends
from bpxl.core.roundtrip.pull_memory import MEMORY_SHEET, STAMP_HEADER, Pulled
from bpxl.excel import memory_sheet
from bpxl.excel.range_io import read_block
from bpxl.workbook import pulling

from .fake_xlwings import book_from_rows

STAMP = "2026-12-01T10:00:00.000Z"


def _pulled(invoice: str, status: str, due: dt.date | None = None) -> Pulled:
    return Pulled(STAMP, {"Id": invoice, "Status": status, "DueDate": due})


def test_the_memory_sheet_goes_after_the_last_sheet_very_hidden() -> None:
    """The user's sheets keep their places (a macro or formula may count on them): the memory
    goes after the last one, not before the active sheet, where Excel puts a new sheet."""
    book = book_from_rows(["Id", "Status", "DueDate"], [["7", "Pending", None]])
    book.add_sheet("Notes")
    book.add_sheet("Totals")
    block = read_block(book.sheets["Invoices"])
    memory_sheet.remember_pulled(book, block, {"7": _pulled("7", "Pending")})
    assert [s.title for s in book.sheets.items] == ["Invoices", "Notes", "Totals", MEMORY_SHEET]
    assert book.sheets[MEMORY_SHEET].visible == memory_sheet.VERY_HIDDEN
    assert book.sheets.active.title == "Invoices"
    memory_sheet.remember_pulled(book, block, {"8": _pulled("8", "Pending")})  # the same sheet
    assert [s.title for s in book.sheets.items].count(MEMORY_SHEET) == 1


def test_the_memory_is_laid_out_as_the_command_line_lays_it_out(tmp_path: Path) -> None:
    """Each remembered value in the invoice sheet's own column (the amber marks look it up there),
    the Id as text, the stamp in the column after the last field, from cell A1: the same cells
    as ``bpxl pull`` writes, so a workbook goes back and forth between the two."""
    header = ["Notes", "Status", "Id", "DueDate", "Mine"]  # Id neither first nor last
    book = book_from_rows(header, [["x", "Old", 7.0, None, "y"]])  # Excel hands 7 over as 7.0
    block = read_block(book.sheets["Invoices"])
    pulled = {"7": _pulled("7", "Pending", dt.date(2026, 3, 1))}
    memory_sheet.remember_pulled(book, block, pulled)
    cells = book.sheets[MEMORY_SHEET].cells
    assert cells == {
        (1, 2): "Status",
        (1, 3): "Id",
        (1, 4): "DueDate",
        (1, 5): STAMP_HEADER,
        (2, 2): "Pending",
        (2, 3): "7",
        (2, 4): dt.date(2026, 3, 1),
        (2, 5): STAMP,
    }
    # The command line's memory of the same pull, in the same cells.
    path = tmp_path / "same.xlsx"
    workbook = pulling.Workbook()
    workbook.active.append(header)
    workbook.active.append(["x", "Old", 7, None, "y"])
    workbook.save(path)
    record = {"Id": "7", "Updated": STAMP, "Status": "Pending", "DueDate": "2026-03-01"}
    pulling.pull_into(path, None, [record], ["Id", "Status", "DueDate"])
    memory = pulling.load_workbook(path)[MEMORY_SHEET]
    written = {(c.row, c.column): c.value for row in memory.iter_rows() for c in row if c.value}
    assert set(written) == set(cells)
    assert memory_sheet.pulled(book) == {"7": pulled["7"]}


def test_a_memory_kept_from_an_older_pull_is_rewritten_with_its_ids_as_text() -> None:
    """An Id the memory held as a number (an older pull's) is written back as text in the Id
    column, where the marks' MATCH(Id&"") finds it; the columns beside it keep their values."""
    book = book_from_rows(["Status", "Id"], [["Pending", "7"]])
    memory = book.add_sheet(MEMORY_SHEET)
    memory.fill(["Status", "Id", STAMP_HEADER], [["Pending", 7.0, STAMP]])
    block = read_block(book.sheets["Invoices"])
    memory_sheet.remember_pulled(book, block, {"8": Pulled(STAMP, {"Id": "8", "Status": "Done"})})
    assert memory.cells == {
        (1, 1): "Status",
        (1, 2): "Id",
        (1, 3): STAMP_HEADER,
        (2, 1): "Pending",
        (2, 2): "7",
        (2, 3): STAMP,
        (3, 1): "Done",
        (3, 2): "8",
        (3, 3): STAMP,
    }


def test_a_memory_sheet_holding_only_its_header_remembers_nothing() -> None:
    book = book_from_rows(["Id", "Status"], [["7", "Pending"]])
    book.add_sheet(MEMORY_SHEET).fill(["Id", "Status", STAMP_HEADER], [])
    assert memory_sheet.pulled(book) == {}
    book.sheets[MEMORY_SHEET].cells.clear()  # empty: its used range is A1, holding nothing
    assert memory_sheet.pulled(book) == {}


def test_each_field_column_gets_one_amber_rule_with_the_defined_name() -> None:
    book = book_from_rows(["Id", "Status", "DueDate", "Mine"], [["7", "Pending", None, None]])
    block = read_block(book.sheets["Invoices"])
    memory_sheet.mark_changes(block)
    memory_sheet.mark_changes(block)  # a second pull adds none
    sheet = book.sheets["Invoices"]
    assert [(column, row, colour) for column, row, _, colour in sheet.format_rules] == [
        (2, 2, memory_sheet.AMBER),
        (3, 2, memory_sheet.AMBER),
    ]
    assert [area[0] for area in sheet.format_areas] == [2, 2]  # xlExpression


def test_columns_are_written_whole_and_rows_not_given_keep_their_values() -> None:
    header = ["Title", None, None]
    book = book_from_rows(header, [])
    sheet = book.sheets["Invoices"]
    sheet.fill(["Id", "Status", "Mine"], [["1", "Old", "a"], [None, "Draft", "b"]], top=3)
    block = read_block(sheet)
    memory_sheet.write_columns(block, {"Status": {4: "New", 7: "Added"}, "Id": {}}, 7)
    assert {r: sheet.cells.get((r, 2)) for r in range(3, 8)} == {
        3: "Status",
        4: "New",
        5: "Draft",
        6: None,
        7: "Added",
    }
    assert sheet.cells[(4, 1)] == "1" and sheet.cells[(4, 3)] == "a"


def test_a_send_puts_reverted_values_back_and_remembers_what_was_sent() -> None:
    book = book_from_rows(["Id", "Status", "Notes"], [["7", "Approved", None], ["8", "Done", "x"]])
    sheet = book.sheets["Invoices"]
    block = read_block(sheet)
    remember = sends.Remember(
        pulled={"7": Pulled(STAMP, {"Id": "7", "Status": "Pending"})},
        replaced=[],
        cells={(2, "Status"): "Pending", (3, "Status"): None},
    )
    memory_sheet.store(book, block, remember)
    assert [sheet.cells.get((r, 2)) for r in (1, 2, 3, 4)] == ["Status", "Pending", None, None]
    assert sheet.cells[(3, 3)] == "x"
    assert memory_sheet.pulled(book) == {"7": Pulled(STAMP, {"Id": "7", "Status": "Pending"})}
    memory_sheet.store(book, block, sends.Remember({}, [], {}))  # nothing to write
    assert sheet.cells[(3, 3)] == "x" and len(book.sheets.items) == 2


def test_a_plain_update_remembers_the_tenants_own_fields_to_revert_them() -> None:
    region = Field("Region__c", FieldType.TEXT, "the tenant's own", custom=True)
    tenant = Catalogue([*fields.BUILT_IN.fields, region], fields.TENANT_SOURCE)
    book = book_from_rows(["Id", "Region__c"], [["7", "US"]])
    book.add_sheet(MEMORY_SHEET).fill(["Id", "Region__c", STAMP_HEADER], [["7", "EU", STAMP]])
    block = read_block(book.sheets["Invoices"], tenant)
    recorded = memory_sheet.recorded(book, block, block.grid(sorted(block.data)))
    recorded.grid_to_send(None)
    assert recorded.before == {"7": {"Id": "7", "Region__c": "EU"}}
