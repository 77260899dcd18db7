"""Benchmark 2, against the naive way: N rows with simulated network latency, sent one request
per row, serially (what a hand-written macro does: ``--batch-size 1 --concurrency 1``), versus
bpxl's defaults held to BillingPlatform's published limits (15 requests/s, 4 at once).

    .venv/bin/python benchmarks/naive_vs_bpxl.py              # 10,000 rows, 20 ms latency
    .venv/bin/python benchmarks/naive_vs_bpxl.py --rows 1000 --smoke  # what CI runs

Each way runs against a fresh sandbox process with ``--fault latency:20ms``; the request log
gives the number of write requests each made.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from common import HEADER, excel_values, record, sandbox

from bpxl.core import push
from bpxl.core.client import MAX_REQUESTS_PER_S, Client
from bpxl.core.results import Operation


def send(rows: int, latency: str, batch_size: int, concurrency: int) -> tuple[float, int, str]:
    """Seconds, write requests and the summary of one push of ``rows`` rows."""
    grid = push.Grid(HEADER, list(enumerate(excel_values(rows), start=2)))
    options = push.PushOptions(Operation.CREATE, batch_size=batch_size, concurrency=concurrency)
    with sandbox(f"latency:{latency}") as (url, _, log):
        limit = MAX_REQUESTS_PER_S if concurrency > 1 else None  # the naive way knows no limit
        with Client(url, username="demo", password="demo", max_requests_per_s=limit) as client:
            began = time.perf_counter()
            report = push.push(grid, client, options)
            seconds = time.perf_counter() - began
        writes = _writes(log)
    return seconds, writes, report.summary()


def _writes(log: Path) -> int:
    lines = log.read_text(encoding="utf-8").splitlines()
    return sum(json.loads(line)["path"].endswith("/INVOICE") for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--latency", default="20ms")
    parser.add_argument(
        "--smoke", action="store_true", help="check the request counts only; keep no results"
    )
    args = parser.parse_args()
    naive = send(args.rows, args.latency, batch_size=1, concurrency=1)
    bpxl = send(args.rows, args.latency, push.DEFAULT_BATCH_SIZE, push.DEFAULT_CONCURRENCY)
    assert naive[1] == args.rows, f"the naive way made {naive[1]} write requests"
    expected = -(-args.rows // push.DEFAULT_BATCH_SIZE)
    assert bpxl[1] == expected, f"bpxl made {bpxl[1]} write requests, not {expected}"
    record(
        f"Against the naive way (benchmark 2), {args.latency} latency",
        ["way", "rows", "write requests", "wall time", "rows/s", "summary"],
        [
            [
                "one request per row, serial",
                f"{args.rows:,}",
                naive[1],
                f"{naive[0]:.1f} s",
                f"{args.rows / naive[0]:,.0f}",
                naive[2],
            ],
            [
                "bpxl defaults (200 per batch, 4 at once, <= 15 req/s)",
                f"{args.rows:,}",
                bpxl[1],
                f"{bpxl[0]:.1f} s",
                f"{args.rows / bpxl[0]:,.0f}",
                bpxl[2],
            ],
            ["ratio", "", "", f"{naive[0] / bpxl[0]:.0f}x faster", "", ""],
        ],
        keep=not args.smoke,
    )


if __name__ == "__main__":
    main()
