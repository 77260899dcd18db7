"""Statuses that prevent duplicates are sticky: an Unknown row keeps its mark and what its create
sent through dry runs, other operations and edits, until a create's lookup settles it."""

from __future__ import annotations

from pathlib import Path

import openpyxl

from bpxl.core import unsettled

from .conftest import read_sheet, write_invoices
from .processes import assert_one_invoice_per_row
from .test_safety import connect, rows_of

ROWS = 40


def test_unknown_survives_dry_run_update_and_edits_then_one_invoice_per_row(
    tmp_path: Path, make_sandbox, run
) -> None:
    down = make_sandbox(faults=["reset-after:1.0"])  # saved, but no answer and no lookup
    book = write_invoices(tmp_path / "sticky.xlsx", rows_of(ROWS))
    # --create-anyway: without it the duplicate check, which cannot get through, sends nothing
    code, _, _ = run("push", book, "--op", "create", "--create-anyway", *connect(down))
    first = read_sheet(book)
    assert code == 1 and {r["Result"] for r in first} == {"Unknown"}
    assert down.sandbox.store.count() == ROWS
    refs = {r["_row"]: unsettled.ref_in(r["Message"]) for r in first}
    assert all(refs.values()) and all(unsettled.find(ref) for ref in refs.values())

    code, out, _ = run("push", book, "--op", "create", "--dry-run")
    assert "40 unknown (looked up before sending)" in out
    code, out, _ = run("push", book, "--op", "update", *connect(down))
    assert "40 left as they were" in out
    assert [(r["Result"], r["Message"]) for r in read_sheet(book)] == [
        (r["Result"], r["Message"]) for r in first
    ]
    assert len(down.writes()) == ROWS // 200 + 1  # the one create request; nothing since

    edited = _edit(book, row=2, header="AgingInterval", value=77)  # not a new create
    _edit(book, row=3, header="DueDate", value="31/02/2024")  # invalid now, Unknown still
    down.sandbox.config.faults.rates.clear()  # the network heals
    code, out, err = run("push", book, "--op", "create", *connect(down))
    assert code == 0, out + err
    final = {r["_row"]: r for r in read_sheet(book)}
    assert "Edited since that send" in final[edited]["Message"]
    assert_one_invoice_per_row(book, down.url, ROWS)
    assert not any(unsettled.find(ref) for ref in refs.values() if ref)  # settled: forgotten


def _edit(path: Path, row: int, header: str, value: object) -> int:
    book = openpyxl.load_workbook(path)
    sheet = book.worksheets[0]
    column = [c.value for c in sheet[1]].index(header) + 1
    sheet.cell(row=row, column=column, value=value)
    book.save(path)
    return row
