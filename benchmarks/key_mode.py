"""The cost of recognising creates made before (issue 23), per 10,000 rows, paired against plain
creates: the ledger on this computer, and key-field mode (creates sent as upserts on a tenant
field holding each row's create key, after one query per 100 keys for invoices holding them).

    .venv/bin/python benchmarks/key_mode.py [ROWS] [PAIRS]

Each pair runs the three pushes one after the other, in a rotating order, each on a fresh
sandbox process (records in memory) and a fresh data folder, so that load on the machine falls
on all three alike; the table gives the median of each and the median of the paired
differences from the plain push. Wall time (end to end: keys, ledger, lookups, HTTP) and the
client's CPU time; the machine's load average is stated. The duplicate check by values
(``duplicates``, measured on its own) is off for all three (``BPXL_DUPLICATE_DAYS=0``), so
the plain push is the create of before issue 23.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import HEADER, excel_values, record, sandbox

from bpxl.core import create_key, push
from bpxl.core.client import Client
from bpxl.core.ledger import Ledger
from bpxl.core.results import Operation
from bpxl.sandbox.schema import parse_custom_field

os.environ["BPXL_DUPLICATE_DAYS"] = "0"
KEY = "BpxlKey"
MODES = ("plain creates", "with the ledger", "key-field mode (and the ledger)")


def one(mode: str, n: int) -> tuple[float, float]:
    """Wall and client CPU seconds of one push of ``n`` rows in ``mode``."""
    grid = push.Grid(HEADER, list(enumerate(excel_values(n), start=2)))
    keyed = mode == MODES[2]
    custom = [f"{KEY}:text:{create_key.LONGEST}"] if keyed else []
    catalogue = push.fields.Catalogue(
        [*push.fields.BUILT_IN.fields, *(parse_custom_field(c) for c in custom)]
    )
    options = push.PushOptions(
        Operation.CREATE, catalogue=catalogue, key_field=KEY if keyed else None
    )
    with (
        tempfile.TemporaryDirectory() as folder,
        sandbox(custom=custom) as (url, _, _),
        Client(url, username="demo", password="demo") as client,
    ):
        client.login()
        ledger = Ledger(Path(folder), url) if mode != MODES[0] else None
        book = ledger.book(Path(folder) / "bench.xlsx", "Invoices") if ledger else None
        began, cpu = time.perf_counter(), time.process_time()
        report = push.push(grid, client, options, ledger=book)
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu
        if ledger:
            ledger.close()
    assert all(r.outcome and r.outcome.value == "Created" for r in report.results), report.summary()
    return wall, cpu


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    pairs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    walls: dict[str, list[float]] = {m: [] for m in MODES}
    cpus: dict[str, list[float]] = {m: [] for m in MODES}
    loads = []
    for i in range(pairs):
        order = MODES[i % 3 :] + MODES[: i % 3]
        for mode in order:
            wall, cpu = one(mode, n)
            walls[mode].append(wall)
            cpus[mode].append(cpu)
            loads.append(os.getloadavg()[0])
    rows = []
    for mode in MODES:
        extra = [w - p for w, p in zip(walls[mode], walls[MODES[0]], strict=True)]
        extra_cpu = [c - p for c, p in zip(cpus[mode], cpus[MODES[0]], strict=True)]
        rows.append(
            [
                mode,
                f"{n:,}",
                f"{statistics.median(walls[mode]):.2f} s",
                f"{statistics.median(cpus[mode]):.2f} s",
                "-" if mode == MODES[0] else f"{statistics.median(extra):+.2f} s",
                "-" if mode == MODES[0] else f"{statistics.median(extra_cpu):+.2f} s",
                f"{min(loads):.1f}-{max(loads):.1f}",
                str(pairs),
            ]
        )
    record(
        "Recognising earlier creates, paired against plain creates (issue 23)",
        [
            "push",
            "rows",
            "wall (median)",
            "client CPU (median)",
            "extra wall per push (median of pairs)",
            "extra client CPU (median of pairs)",
            "load average",
            "pairs",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
