"""``bpxl addin smoke FILE``: the prepared workbook of docs/excel-smoke-test.md.

The smoke test checks on a real Excel what the tests' fake of Excel can only model (issue 26):
marks on the right cells in a German Excel, a send that outlasts Excel's OLE time-out, a
workbook on OneDrive, a filter leaving dozens of scattered rows. Typing 2,000 rows or a filter of
fifty areas by hand would take the tester longer than the test itself, so this writes them:

- ``Read me``: what each sheet is for, in the order of the smoke test;
- ``Invoices``: the invoice template with ``LONG_SEND`` new invoices, for the long send;
- ``Filtered``: ``FILTER_ROWS`` new invoices under a filter that leaves every third row visible
  (more than 255 characters of address), for Validate with one cell selected;
- ``Pull here``: an empty invoice sheet for the pull whose edits must turn amber.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from .. import template

LONG_SEND = 2_000
FILTER_ROWS = 150
TEXT = "MoveInvoiceDescription"  # a text field: says which rows the filter shows
READ_ME = (
    "bpxl smoke test workbook: follow docs/excel-smoke-test.md; each sheet is one of its steps.",
    f"Invoices: {LONG_SEND:,} new invoices. Against a slow sandbox (bpxl sandbox --fault "
    "latency:40s) Create takes several minutes: Excel must stay usable, the status bar count, "
    "Stop sending stop it.",
    f"Filtered: {FILTER_ROWS} new invoices, a filter showing every third ({FILTER_ROWS // 3}). "
    "Select one cell, Validate: exactly the visible rows get a Result.",
    "Pull here: Pull invoices... with the cursor anywhere (and on a German Excel), edit a cell: "
    "that cell, and only it, turns amber.",
    "Save this workbook to OneDrive or SharePoint and open it from there for the OneDrive step.",
)


def _row(index: int) -> dict[str, object]:
    return {
        "BillingProfileId": str(101 + index % 3),
        "Status": "Pending",
        "DueDate": dt.date(2026, 1, 1) + dt.timedelta(days=index % 28),
        TEXT: "show" if index % 3 == 0 else "hide",
    }


def write(path: Path) -> Path:
    """Write the smoke test's workbook to ``path`` (an .xlsx); return it."""
    book = template.fill(template.build(), [_row(i) for i in range(LONG_SEND)])
    invoices = book.active
    assert invoices is not None
    header = [cell.value for cell in invoices[1]]
    filtered = book.create_sheet("Filtered")
    filtered.append(header)
    for index in range(FILTER_ROWS):
        values = _row(index)
        filtered.append([values.get(str(name)) for name in header])
        if values[TEXT] == "hide":
            filtered.row_dimensions[index + 2].hidden = True
    column = header.index(TEXT)
    filtered.auto_filter.ref = f"A1:{filtered.cell(1, len(header)).column_letter}{FILTER_ROWS + 1}"
    filtered.auto_filter.add_filter_column(column, ["show"])
    book.create_sheet("Pull here").append(header)
    readme = book.create_sheet("Read me", 0)
    for line in READ_ME:
        readme.append([line])
    readme.column_dimensions["A"].width = 120
    book.active = 0
    book.save(path)
    return path
