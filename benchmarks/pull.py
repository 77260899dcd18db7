"""Benchmark: `bpxl pull` of N invoices (default 100,000) from a sandbox process into a new
workbook, with the pull process's wall time and peak memory.

    .venv/bin/python benchmarks/pull.py 100000
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from common import invoice, record, run_child, sandbox

from bpxl.client import Client


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with sandbox() as (url, _, _), tempfile.TemporaryDirectory() as folder:
        with Client(url, username="demo", password="demo") as client:
            for start in range(0, n, 1000):
                batch = [invoice(r) for r in range(start, min(start + 1000, n))]
                for row in batch:
                    for key, value in row.items():
                        row[key] = value.isoformat() if hasattr(value, "isoformat") else value
                    row["BillableFlag"] = "1"
                    row["SendInvoiceEmail"] = "1"
                client.create(batch)
        book = Path(folder) / "pulled.xlsx"
        env = {**os.environ, "BPXL_PASSWORD": "demo", "BPXL_DATA_DIR": folder}
        command = [sys.executable, "-m", "bpxl.cli", "pull", str(book), "--where",
                   "BillingProfileId IN (101, 102, 103, 104, 105)", "--url", url,
                   "--username", "demo"]  # fmt: skip
        seconds, peak_mb, said = run_child(command, env)
    record(
        "`bpxl pull` into a new workbook",
        ["invoices", "wall time", "peak memory of the pull process", "said"],
        [[f"{n:,}", f"{seconds:.1f} s", f"{peak_mb:,.0f} MB", said.splitlines()[0]]],
    )


if __name__ == "__main__":
    main()
