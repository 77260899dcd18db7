"""Benchmark 3, Excel I/O: the calls the add-in makes into Excel for a send of 100 and of
100,000 rows (they must be equal), and the time to turn the values xlwings delivers into records
and the results back into status columns.

    .venv/bin/python benchmarks/excel_io.py

Excel does not run here, so the add-in works on the fake xlwings book of the tests
(``tests/fake_xlwings.py``); the send goes to the embedded sandbox. What is counted: every
property read or set and every method call on an Excel object (ranges, their values, addresses,
``.api``, visible cells, format conditions with their count, interior and colour, the sheet and its
name, the workbook's path, selection, screen updating, calculation) and the two message boxes
(the question and the summary). Status bar updates are counted apart: they go by time (at most 4 a
second, plus the first, the last and handing the bar back), not by rows or batches.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from common import HEADER, excel_values, record

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.fake_xlwings import book_from_rows

from bpxl.core import push
from bpxl.core.results import Operation, Outcome, RowResult
from bpxl.excel import ribbon as excel
from bpxl.excel.range_io import StatusBar, chosen_rows, read_block, write_results

COLUMNS = ["Id", *HEADER, "Result", "Message"]


def book_of(n: int):  # type: ignore[no-untyped-def]
    return book_from_rows(COLUMNS, [[None, *values, None, None] for values in excel_values(n)])


def run(n: int) -> list[object]:
    book = book_of(n)
    book.app.alert_answers = ["ok"]  # "Create all N visible rows in SANDBOX?"
    began = time.perf_counter()
    excel.action("bpxlCreate", book)
    seconds = time.perf_counter() - began
    summary = book.app.alerts[-1][0].splitlines()[0]
    assert summary.startswith(f"{n:,} rows: {n:,} created"), summary
    calls = dict(book.app.calls)
    bar = calls.pop("status_bar")
    assert bar <= 3 + seconds / StatusBar.EVERY_S, f"{bar} status bar updates in {seconds:.1f} s"

    # The conversions alone, on a fresh book: values -> records, results -> status columns.
    book = book_of(n)
    block = read_block(book.sheets[0])  # the fake's own work: in Excel, a COM transfer
    started = time.perf_counter()
    rows = chosen_rows(book.app, block).rows
    push.plan(block.grid(rows), push.PushOptions(Operation.CREATE))
    to_records = time.perf_counter() - started
    results = [RowResult(r, Outcome.CREATED, str(r)) for r in rows]
    started = time.perf_counter()
    write_results(block, results)
    to_statuses = time.perf_counter() - started
    return [
        f"{n:,}",
        sum(calls.values()),
        ", ".join(f"{k} {v}" for k, v in sorted(calls.items())),
        bar,
        f"{to_records:.2f} s",
        f"{to_statuses:.2f} s",
        f"{(to_records + to_statuses) / (n * len(HEADER)) * 1e6:.2f} µs",
        f"{seconds:.1f} s",
    ]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        os.environ["BPXL_DATA_DIR"] = folder  # a fresh embedded sandbox
        table = [run(n) for n in (100, 100_000)]
    assert table[0][1] == table[1][1], "Excel calls grew with the number of rows"
    record(
        "Excel I/O (benchmark 3)",
        [
            "rows",
            "Excel calls per send (all but the status bar)",
            "which",
            "status bar updates",
            "values -> records",
            "results -> status columns",
            "per cell",
            "whole send (fake Excel, embedded sandbox)",
        ],
        table,
    )


if __name__ == "__main__":
    main()
