"""The smoke test's workbook (excel/smoke.py) as the tester gets it: the Read me in front saying
each step, the rows of each sheet, the filter Excel applies. The add-in's own reading of it on
the fake Excel is in test_install.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest

from bpxl.core import fields, push
from bpxl.core.records import read_layout
from bpxl.excel import smoke


@pytest.fixture
def book(tmp_path: Path) -> openpyxl.Workbook:
    """Written for each test (not once per module), so that each test is seen reaching it."""
    path = tmp_path / "smoke.xlsx"
    assert smoke.write(path) == path
    return openpyxl.load_workbook(path)


def test_the_read_me_opens_first_and_says_each_step(book: openpyxl.Workbook) -> None:
    assert book.active.title == "Read me" and book.sheetnames[0] == "Read me"
    readme = book["Read me"]
    assert [row[0] for row in readme.iter_rows(values_only=True)] == [
        "bpxl smoke test workbook: follow docs/excel-smoke-test.md; each sheet is one of its "
        "steps.",
        "Invoices: 2,000 new invoices. Against a slow sandbox (bpxl sandbox --fault latency:40s) "
        "Create takes several minutes: Excel must stay usable, the status bar count, Stop "
        "sending stop it.",
        "Filtered: 150 new invoices, a filter showing every third (50). Select one cell, "
        "Validate: exactly the visible rows get a Result.",
        "Pull here: Pull invoices... with the cursor anywhere (and on a German Excel), edit a "
        "cell: that cell, and only it, turns amber.",
        "Save this workbook to OneDrive or SharePoint and open it from there for the OneDrive "
        "step.",
    ]
    assert readme.column_dimensions["A"].width >= 100  # each step on one line


def _rows(book: openpyxl.Workbook, title: str) -> list[dict[str, object]]:
    sheet = book[title]
    header = [c.value for c in sheet[1]]
    return [
        dict(zip(header, values, strict=False))
        for values in sheet.iter_rows(min_row=2, values_only=True)
    ]


def test_every_invoice_is_new_and_valid_and_every_third_is_shown(book: openpyxl.Workbook) -> None:
    for title, count in (("Invoices", smoke.LONG_SEND), ("Filtered", smoke.FILTER_ROWS)):
        rows = _rows(book, title)
        assert len(rows) == count
        first = {k: v for k, v in rows[0].items() if v is not None}
        assert first == {
            "BillingProfileId": "101",
            "Status": "Pending",
            "DueDate": dt.datetime(2026, 1, 1),
            "MoveInvoiceDescription": "show",
        }
        assert [r["BillingProfileId"] for r in rows[:4]] == ["101", "102", "103", "101"]
        assert [r["MoveInvoiceDescription"] for r in rows[:4]] == ["show", "hide", "hide", "show"]
        assert rows[27]["DueDate"] == dt.datetime(2026, 1, 28)
        assert rows[28]["DueDate"] == dt.datetime(2026, 1, 1)
        assert all(r["Id"] is None for r in rows)  # new: a Create sends them all
        header = [c.value for c in book[title][1]]
        grid = push.Grid(header, [(n + 2, list(r.values())) for n, r in enumerate(rows[:30])])
        assert read_layout(header, fields.BUILT_IN).column("Id") is not None
        _, plans, skipped = push.plan(grid, push.PushOptions(push.Operation.CREATE))
        assert len(plans) == 30 and all(p.valid for p in plans) and skipped == []


def test_the_filter_shows_every_third_row_as_excel_applies_it(book: openpyxl.Workbook) -> None:
    sheet = book["Filtered"]
    header = [c.value for c in sheet[1]]
    hidden = {r for r, d in sheet.row_dimensions.items() if d.hidden}
    shown = [n for n in range(2, smoke.FILTER_ROWS + 2) if n not in hidden]
    assert shown == list(range(2, smoke.FILTER_ROWS + 2, 3))
    last = openpyxl.utils.get_column_letter(len(header))
    assert sheet.auto_filter.ref == f"A1:{last}{smoke.FILTER_ROWS + 1}"
    [column] = sheet.auto_filter.filterColumn
    assert column.colId == header.index("MoveInvoiceDescription")
    assert column.filters.filter == ["show"]
    assert [c.value for c in book["Pull here"][1]] == header
    assert book["Pull here"].max_row == 1
