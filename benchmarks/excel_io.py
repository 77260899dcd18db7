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
second, plus the first, the last and handing the bar back), not by rows or batches; so are the
polls a long send asks Excel for (``Application.OnTime``, 2 a second).

What a button press costs Excel since sends run in the background (``bpxl.excel.background``):
the calls from VBA into Python (the button's, then one per poll) and the longest of them, which
Excel's OLE limit bounds; and the cost of handing one call into Excel from the worker thread to
Excel's thread (``Marshalled``), measured on a property read of the fake, against the same read
made directly.

The whole send, from the button's press to the summary, is split in two: the time spent waiting on
the API, when at least one request of the send is on its way or being answered (``Client._send``:
login, the duplicate check's queries, the batches; the embedded sandbox answers in threads of
this process, so its work is in that time), and the rest, the send "without the network", which
is ours: reading the sheet, validation, create keys, the ledger, the journal, writing the results,
the run log, and the waits for Excel's polls. The process's CPU time (user + system, every
thread, the sandbox's too) is given beside them.

    .venv/bin/python benchmarks/excel_io.py --send 100000

makes one send of 100,000 rows and prints its figures on one line, for paired runs against
another tree of bpxl: ``PYTHONPATH=OTHER/addin .venv/bin/python benchmarks/excel_io.py --send
100000`` runs the same benchmark and the same fake Excel over that tree's add-in.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common import HEADER, excel_values, record

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.fake_xlwings import book_from_rows, press

from bpxl.core import client, push
from bpxl.core.results import Operation, Outcome, RowResult
from bpxl.excel import background
from bpxl.excel.range_io import StatusBar, chosen_rows, read_block, write_results

COLUMNS = ["Id", *HEADER, "Result", "Message"]


def book_of(n: int):  # type: ignore[no-untyped-def]
    return book_from_rows(COLUMNS, [[None, *values, None, None] for values in excel_values(n)])


@contextmanager
def api_waits() -> Iterator[list[float]]:
    """The seconds during which at least one request is on its way or being answered (one
    number in the list yielded, final on exit)."""
    lock, waiting, since, total = threading.Lock(), [0], [0.0], [0.0]
    send = client.Client._send

    def timed(self: client.Client, *args: Any, **kwargs: Any) -> Any:
        with lock:
            if not waiting[0]:
                since[0] = time.perf_counter()
            waiting[0] += 1
        try:
            return send(self, *args, **kwargs)
        finally:
            with lock:
                waiting[0] -= 1
                if not waiting[0]:
                    total[0] += time.perf_counter() - since[0]

    client.Client._send = timed  # type: ignore[method-assign]
    try:
        yield total
    finally:
        client.Client._send = send  # type: ignore[method-assign]


def send(n: int) -> tuple[Any, float, float, float]:
    """A Create of n rows pressed on the fake book, with a fresh embedded sandbox and ledger
    (the rows of an earlier send would be found created, and asked about): the book, the whole
    send's seconds, those spent waiting on the API, and the process's CPU seconds."""
    book = book_of(n)
    book.app.alert_answers = ["ok"]  # "Create all N visible rows in SANDBOX?"
    with tempfile.TemporaryDirectory() as folder, api_waits() as waited:
        os.environ["BPXL_DATA_DIR"] = folder
        cpu, began = time.process_time(), time.perf_counter()
        press(book, "bpxlCreate")
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    summary = book.app.alerts[-1][0].splitlines()[0]
    assert summary.startswith(f"{n:,} rows: {n:,} created"), summary
    return book, seconds, waited[0], cpu


def run(n: int) -> list[object]:
    book, seconds, waited, cpu = send(n)
    calls = dict(book.app.calls)
    bar = calls.pop("status_bar")
    assert bar <= 3 + seconds / StatusBar.EVERY_S, f"{bar} status bar updates in {seconds:.1f} s"
    calls.pop("OnTime", None)
    into_python = book.app.call_seconds

    # The conversions alone, on a fresh book: values -> records, results -> status columns.
    book = book_of(n)
    block = read_block(book.sheets[0])  # the fake's own work: in Excel, a COM transfer
    started, cpu_at = time.perf_counter(), time.process_time()
    rows = chosen_rows(book.app, block).rows
    push.plan(block.grid(rows), push.PushOptions(Operation.CREATE))
    to_records, records_cpu = time.perf_counter() - started, time.process_time() - cpu_at
    results = [RowResult(r, Outcome.CREATED, str(r)) for r in rows]
    started, cpu_at = time.perf_counter(), time.process_time()
    write_results(block, results)
    to_statuses, statuses_cpu = time.perf_counter() - started, time.process_time() - cpu_at
    return [
        f"{n:,}",
        sum(calls.values()),
        ", ".join(f"{k} {v}" for k, v in sorted(calls.items())),
        bar,
        f"{to_records:.2f} s (CPU {records_cpu:.2f} s)",
        f"{to_statuses:.2f} s (CPU {statuses_cpu:.2f} s)",
        f"{(to_records + to_statuses) / (n * len(HEADER)) * 1e6:.2f} µs",
        f"{seconds:.1f} s",
        f"{waited:.1f} s",
        f"{seconds - waited:.1f} s",
        f"{cpu:.1f} s",
        len(into_python),
        f"{max(into_python):.2f} s",
    ]


def handoff(reads: int = 20_000) -> list[object]:
    """Microseconds per Excel call handed from the worker to Excel's thread, against direct."""
    book = book_of(1)
    began = time.perf_counter()
    for _ in range(reads):
        book.app.screen_updating  # noqa: B018  (a property read: one call into Excel)
    direct = (time.perf_counter() - began) / reads

    def work(marshalled: object) -> None:
        for _ in range(reads):
            marshalled.app.screen_updating  # type: ignore[attr-defined]  # noqa: B018

    job = background.Job("bench", work, book)
    began = time.perf_counter()
    while not job.serve(60.0):
        pass
    handed = (time.perf_counter() - began) / reads
    return [f"{reads:,}", f"{direct * 1e6:.1f} µs", f"{handed * 1e6:.1f} µs"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--send", type=int, help="one send of this many rows, on one line")
    parser.add_argument("--no-record", action="store_true", help="print, do not add to results.md")
    args = parser.parse_args()
    if args.send:
        _, seconds, waited, cpu = send(args.send)
        print(
            f"{args.send} rows: whole {seconds:.2f} s, waiting on the API {waited:.2f} s, "
            f"without the network {seconds - waited:.2f} s, CPU {cpu:.2f} s, "
            f"load {os.getloadavg()[0]:.1f}, {Path(push.__file__).parents[2]}"
        )
        return
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
            "of which waiting on the API",
            "without the network (whole - waiting)",
            "CPU (process)",
            "calls from VBA into Python",
            "longest call",
        ],
        table,
        keep=not args.no_record,
    )
    record(
        "Excel I/O: a call into Excel handed to Excel's thread (benchmark 3)",
        ["property reads", "direct", "from the worker thread (2 hand-offs: app, then the read)"],
        [handoff()],
        keep=not args.no_record,
    )


if __name__ == "__main__":
    main()
