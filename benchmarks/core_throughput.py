"""Benchmark 1, core throughput: N rows x 12 fields through validation, serialisation, batched
sending to the sandbox over loopback, and result mapping.

    .venv/bin/python benchmarks/core_throughput.py 10000 100000

The sandbox runs in its own process, so the client's own cost is its CPU time and the server's
is the sandbox process's CPU time. Reported: cells to records alone (``push.plan``), the whole push
(validation, JSON, batched parallel HTTP, answers mapped to rows; wall time), results to the
status values a front end writes, and the client's CPU microseconds per cell (validation counted
once).
"""

from __future__ import annotations

import sys
import time

from common import HEADER, cpu_seconds, excel_values, record, sandbox

from bpxl.core import push
from bpxl.core.client import Client
from bpxl.core.results import Operation


def run(n: int) -> list[object]:
    grid = push.Grid(HEADER, list(enumerate(excel_values(n), start=2)))
    options = push.PushOptions(Operation.CREATE)
    with sandbox() as (url, pid, _), Client(url, username="demo", password="demo") as client:
        client.login()
        began = time.perf_counter()
        push.plan(grid, options)
        planned = time.perf_counter()
        # push.push validates again: the CPU clocks start after the first validation, so the
        # client's CPU time counts it once (CPU time, not wall time: the machine may be busy).
        server_before, client_before = cpu_seconds(pid), time.process_time()
        report = push.push(grid, client, options)
        pushed = time.perf_counter()
        statuses = [
            [r.outcome.value if r.outcome else None, r.message or None, r.id]
            for r in report.results
        ]
        mapped = time.perf_counter()
        client_cpu = time.process_time() - client_before
        server_cpu = cpu_seconds(pid) - server_before
    assert len(statuses) == n and all(s[0] == "Created" for s in statuses), report.summary()
    cells = n * len(HEADER)
    return [
        f"{n:,}",
        f"{planned - began:.2f} s",
        f"{pushed - planned:.2f} s",
        f"{mapped - pushed:.3f} s",
        f"{client_cpu:.2f} s",
        f"{server_cpu:.2f} s",
        f"{client_cpu / cells * 1e6:.2f} µs",
    ]


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 100_000]
    record(
        "Core throughput (benchmark 1)",
        [
            "rows",
            "cells -> records (validation)",
            "push end to end (validation, JSON, HTTP, answers)",
            "results -> status values",
            "client CPU",
            "server CPU",
            "client CPU per cell",
        ],
        [run(n) for n in sizes],
    )


if __name__ == "__main__":
    main()
