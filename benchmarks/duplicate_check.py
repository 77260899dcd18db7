"""The per-batch duplicate check's cost: creates of N rows with the check (one query per batch
for invoices made in the last days holding a row's values) against the same creates without it
(``BPXL_DUPLICATE_DAYS=0``), paired run by run on fresh sandboxes.

    .venv/bin/python benchmarks/duplicate_check.py [ROWS] [--pairs 2]

Two tenants: an empty one (the queries find nothing), and a busy one that already holds ROWS
other invoices made this week for the same billing profiles (every query reads its batch's share
of them back). Reported per mode: wall time of the push, the client's CPU time, the server's
CPU time and the queries sent; then the check's extra cost per 10,000 rows.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from common import HEADER, cpu_seconds, excel_values, record, sandbox

from bpxl.core import duplicates, push
from bpxl.core.client import Client
from bpxl.core.results import Operation


def one_push(n: int, checked: bool, busy: bool) -> tuple[float, float, float, int]:
    """(wall s, client CPU s, server CPU s, queries) of one create of ``n`` rows."""
    values = excel_values(2 * n if busy else n)
    grid = push.Grid(HEADER, list(enumerate(values[-n:], start=2)))
    options = push.PushOptions(Operation.CREATE)
    with sandbox() as (url, pid, log), Client(url, username="demo", password="demo") as client:
        client.login()
        if busy:  # last week's invoices of the same profiles (other rows: other values)
            os.environ[duplicates.DAYS_ENV] = "0"
            first = push.Grid(HEADER, list(enumerate(values[:n], start=2)))
            push.push(first, client, options)
        os.environ[duplicates.DAYS_ENV] = "7" if checked else "0"
        before = log.read_text(encoding="utf-8").count('"path": "/sandbox/rest/2.0/query"')
        server_before, client_before = cpu_seconds(pid), time.process_time()
        began = time.perf_counter()
        report = push.push(grid, client, options)
        wall = time.perf_counter() - began
        client_cpu = time.process_time() - client_before
        server_cpu = cpu_seconds(pid) - server_before
        queries = log.read_text(encoding="utf-8").count('"path": "/sandbox/rest/2.0/query"')
    assert all(r.outcome and r.outcome.value == "Created" for r in report.results), report.summary()
    return wall, client_cpu, server_cpu, queries - before


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rows", type=int, nargs="?", default=10_000)
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    n, table = args.rows, []
    for busy in (False, True):
        runs: dict[bool, list[tuple[float, float, float, int]]] = {False: [], True: []}
        for _ in range(args.pairs):  # paired: plain then checked, each on a fresh sandbox
            for checked in (False, True):
                runs[checked].append(one_push(n, checked, busy))
        tenant = f"busy ({n:,} invoices this week)" if busy else "empty"
        medians = {}
        for checked in (False, True):
            wall, client, server = (
                statistics.median(r[i] for r in runs[checked]) for i in range(3)
            )
            medians[checked] = (wall, client, server)
            table.append(
                [
                    f"{n:,}",
                    tenant,
                    "with the check" if checked else "plain creates (`BPXL_DUPLICATE_DAYS=0`)",
                    f"{wall:.2f} s",
                    f"{client:.2f} s",
                    f"{server:.2f} s",
                    str(runs[checked][0][3]),
                    "",
                ]
            )
        extra = [(medians[True][i] - medians[False][i]) * 10_000 / n for i in range(3)]
        share = extra[0] / medians[False][0] * 100 if medians[False][0] else 0.0
        table[-1][-1] = (
            f"+{extra[0]:.2f} s wall ({share:+.0f}%), +{extra[1]:.2f} s client CPU, "
            f"+{extra[2]:.2f} s server CPU per 10,000 rows"
        )
    record(
        "Per-batch duplicate check (issue 23): paired against plain creates, batch 200, "
        f"median of {args.pairs}",
        [
            "rows",
            "tenant",
            "mode",
            "push wall",
            "client CPU",
            "server CPU",
            "queries",
            "check's cost",
        ],
        table,
    )


if __name__ == "__main__":
    main()
