"""Benchmark: `bpxl push --op create` of an N-row .xlsx to the embedded sandbox, end to end.

    .venv/bin/python benchmarks/push_workbook.py 10000

Generates a workbook of N invoices with 12 filled fields, runs `bpxl push` on it in a fresh data
folder (so the embedded sandbox starts empty), and prints wall time, rows per second and peak
memory; the line is appended to benchmarks/results.md with the date, machine and git commit.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bpxl import template

HERE = Path(__file__).resolve().parent


def make_workbook(path: Path, rows: int) -> None:
    template.fill(template.build(), map(_invoice, range(2, rows + 2))).save(path)


def _invoice(r: int) -> dict[str, object]:
    """Sheet row ``r`` of the benchmark: 12 filled fields with realistic values."""
    start = dt.date(2026, 1, 1)
    return {
        "BillingProfileId": str(101 + r % 5),
        "Status": "Pending",
        "DueDate": start + dt.timedelta(days=r % 300),
        "ActivityStartDate": dt.date(2025, 12, 1),
        "ActivityEndDate": dt.date(2025, 12, 31),
        "BillableFlag": True,
        "AgingInterval": 30,
        "FileName": f"INV-{r:06d}.pdf",
        "PaymentStatus": "Unpaid",
        "AccountingPeriodId": "2025",
        "SendInvoiceEmail": "yes",
        "MoveInvoiceDescription": "Bulk load",
    }


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as folder:
        book = Path(folder) / "bench.xlsx"
        make_workbook(book, rows)
        env = {**os.environ, "BPXL_DATA_DIR": str(Path(folder) / "data")}
        began = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "bpxl.cli", "push", str(book), "--op", "create"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        cwd=HERE,
        check=False,
    ).stdout.strip()
    line = (
        f"| {dt.date.today()} | {platform.node()} ({os.cpu_count()} cores) | {commit} | "
        f"push create | {rows:,} | {seconds:.2f} s | {rows / seconds:,.0f} rows/s | "
        f"{peak_mb:,.0f} MB | {summary} |"
    )
    print(line)
    with open(HERE / "results.md", "a", encoding="utf-8") as results:
        results.write(line + "\n")


if __name__ == "__main__":
    main()
