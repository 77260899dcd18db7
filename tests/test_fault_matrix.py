"""The fault matrix: create, update and upsert through each network fault, and all at once.

After every run: each row has a definite, successful Result; the sandbox holds exactly one record
per Created row (no duplicates, none missing); updated values are on the server; the printed
summary matches the workbook. CI runs 200 rows per case; ``BPXL_MATRIX_ROWS=2000`` runs the full
counts, and ``BPXL_MATRIX_REPORT=FILE`` appends a table row per case to FILE.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import openpyxl
import pytest

from .conftest import read_sheet, write_invoices
from .test_safety import rows_of

ROWS = int(os.environ.get("BPXL_MATRIX_ROWS") or 200)
BATCH = max(10, ROWS // 40)
FAULTS = {
    "latency": ["latency:20ms"],
    "429": ["429:0.15"],
    "503": ["503:0.15"],
    "reset-before": ["reset-before:0.15"],
    "reset-after": ["reset-after:0.15"],
    "all at once": [
        "latency:5ms",
        "429:0.05",
        "503:0.05",
        "reset-before:0.05",
        "reset-after:0.05",
    ],
}
SUCCESS = {"create": "Created", "update": "Updated", "upsert": "Upserted"}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_matrix(fault: str, tmp_path: Path, make_sandbox, run) -> None:
    sandbox = make_sandbox(faults=FAULTS[fault], seed=7)
    book = write_invoices(tmp_path / "matrix.xlsx", rows_of(ROWS))
    for op, status in (("create", "Pending"), ("update", "Approved"), ("upsert", "Closed")):
        if op != "create":
            _set_column(book, "Status", status)
        seen = len(sandbox.requests())
        started = time.perf_counter()
        code, out, err = run(
            "push", book, "--op", op, "--url", sandbox.url, "--username", "demo",
            "--batch-size", BATCH, "--external-id", "Id",
        )  # fmt: skip
        seconds = time.perf_counter() - started
        sheet = read_sheet(book)
        results = Counter(r["Result"] for r in sheet)
        assert code == 0 and results == {SUCCESS[op]: ROWS}, (op, results, out, err)
        stored = {r["Id"]: r for r in sandbox.sandbox.store.query("SELECT Id, Status FROM INVOICE")}
        assert len(stored) == ROWS == len({r["Id"] for r in sheet}), "a duplicate or a loss"
        assert all(stored[r["Id"]]["Status"] == status for r in sheet)
        assert f"{ROWS:,} rows: {ROWS:,} {SUCCESS[op].lower()}, 0 invalid, 0 failed" in out
        _report(fault, op, sandbox.requests()[seen:], results, len(stored) - ROWS, seconds)


def _set_column(path: Path, header: str, value: object) -> None:
    book = openpyxl.load_workbook(path)
    sheet = book.worksheets[0]
    column = [c.value for c in sheet[1]].index(header) + 1
    for row in range(2, sheet.max_row + 1):
        sheet.cell(row=row, column=column, value=value)
    book.save(path)


def _report(
    fault: str, op: str, requests: list[dict], results: Counter, extra: int, seconds: float
) -> None:
    target = os.environ.get("BPXL_MATRIX_REPORT")
    if not target:
        return
    statuses = Counter(r["status"] for r in requests)
    writes = sum(r["path"].endswith("/INVOICE") for r in requests)
    lookups = sum(r["path"].endswith("/query") for r in requests)
    line = (
        f"| {fault} | {op} | {ROWS:,} | {writes} | {lookups} | {statuses[429]} | "
        f"{statuses[503]} | {statuses[0]} | {dict(results)} | {extra} | {seconds:.1f} |\n"
    )
    path = Path(target)
    if not path.exists():
        path.write_text(
            "| fault | op | rows | write requests | lookups | 429s | 503s | dropped | results "
            "| duplicates | seconds |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
            encoding="utf-8",
        )
    with path.open("a", encoding="utf-8") as report:
        report.write(line)
