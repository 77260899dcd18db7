"""Benchmark: `bpxl pull` of N invoices (default 100,000) from a sandbox process into a new
workbook, with the pull process's wall time and peak memory.

    .venv/bin/python benchmarks/pull.py 100000
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import invoice, record, sandbox

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
        started = time.perf_counter()
        with tempfile.TemporaryFile("w+") as out:
            child = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = 0
            seconds = time.perf_counter() - started
            out.seek(0)
            said = out.read().strip().splitlines()[0]
    assert status == 0, said
    record(
        "`bpxl pull` into a new workbook",
        ["invoices", "wall time", "peak memory of the pull process", "said"],
        [[f"{n:,}", f"{seconds:.1f} s", f"{usage.ru_maxrss / 1024:,.0f} MB", said]],
    )


if __name__ == "__main__":
    main()
