"""The push engine against a sandbox process held to BillingPlatform's 15 requests a second
(``--fault rate:15``), paced as bpxl paces a real tenant (``Client(max_requests_per_s=15)``): does
the pacing, with its 4 threads, reach 15 a second, and does the engine's own work (validation,
create keys, the ledger, the duplicate check, the journal) hide under the requests' time?

    .venv/bin/python benchmarks/paced_push.py 10000 100000 [--keep]

No workbook is read or written (``push_pairs.py --sandbox-process`` times the whole command). The
floor is the requests the push made, at 15 a second (the issue's 33.3 s: 500 creates of 200 rows).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from common import HEADER, excel_values, record, sandbox

from bpxl.core import journal, push
from bpxl.core.client import MAX_REQUESTS_PER_S, Client
from bpxl.core.ledger import Ledger
from bpxl.core.results import Operation


def paced(rows: int, folder: Path) -> list[object]:
    grid = push.Grid(HEADER, list(enumerate(excel_values(rows), start=2)))
    options = push.PushOptions(Operation.CREATE)
    with sandbox("rate:15") as (url, _, log):
        with (
            Client(url, username="demo", password="demo", max_requests_per_s=15) as client,
            Ledger(folder / "ledger", "bench") as ledger,
        ):
            (folder / "journals").mkdir()
            log_book = journal.Journal(
                folder / "journals",
                workbook=folder / "push.xlsx",
                sheet="Invoices",
                op=Operation.CREATE,
                external_id=options.external_id,
                target=journal.Target(url),
            )
            began, cpu = time.perf_counter(), time.process_time()
            report = push.push(
                grid, client, options, journal=log_book, ledger=ledger.book(folder, "Invoices")
            )
            seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
            log_book.finish()
        statuses = [json.loads(line)["status"] for line in log.open(encoding="utf-8")]
    answered = len(statuses) - statuses.count(429)
    floor = answered / MAX_REQUESTS_PER_S
    return [
        f"{rows:,}",
        f"{seconds:.2f} s",
        f"{floor:.2f} s",
        f"{seconds / floor:.2f}",
        f"{answered / seconds:.1f}",
        answered,
        statuses.count(429),
        f"{cpu:.2f} s",
        f"{os.getloadavg()[0]:.1f}",
        report.summary(),
    ]


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:] if a.isdigit()] or [10_000, 100_000]
    rows = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as folder:
            rows.append(paced(size, Path(folder)))
    record(
        "The push engine paced at 15 requests a second against a sandbox held to 15 (issue 28)",
        [
            "rows",
            "push",
            "floor (requests at 15/s)",
            "push / floor",
            "requests a second",
            "requests answered",
            "429s",
            "client CPU",
            "load after",
            "summary",
        ],
        rows,
        keep="--keep" in sys.argv,
    )


if __name__ == "__main__":
    main()
