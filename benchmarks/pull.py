"""Benchmark: `bpxl pull` of N invoices (default 100,000) from a sandbox process, with the pull
process's wall time and peak memory, three ways:

1. into a new workbook (`--where`, every template field);
2. refreshing that workbook when nothing changed on the server (`--ids-from-sheet`);
3. refreshing it again after every invoice changed on the server (Status and FileName).

The machine's load (1-minute average) is noted before each run: other work on a 2-core machine
slows the figures down.

    .venv/bin/python benchmarks/pull.py 100000
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import change_invoices, create_invoices, record, sandbox

from bpxl.core.client import Client


def _pull(book: Path, url: str, folder: str, *which: str) -> tuple[float, float, str]:
    """One `bpxl pull` in its own process: (seconds, peak MB, the first line it printed)."""
    env = {**os.environ, "BPXL_PASSWORD": "demo", "BPXL_DATA_DIR": folder}
    command = [sys.executable, "-m", "bpxl.cli", "pull", str(book), *which, "--url", url,
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
    return seconds, usage.ru_maxrss / 1024, said


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rows = []
    with sandbox() as (url, _, _), tempfile.TemporaryDirectory() as folder:
        with Client(url, username="demo", password="demo") as client:
            ids = create_invoices(client, n)
        book = Path(folder) / "pulled.xlsx"
        runs = [
            ("into a new workbook", ["--where", "BillingProfileId IN (101, 102, 103, 104, 105)"]),
            ("refresh, nothing changed on the server", ["--ids-from-sheet"]),
            ("refresh, every invoice changed on the server", ["--ids-from-sheet"]),
        ]
        for what, which in runs:
            if what.startswith("refresh, every"):
                with Client(url, username="demo", password="demo") as client:
                    change_invoices(client, ids)
            load = os.getloadavg()[0]
            seconds, peak, said = _pull(book, url, folder, *which)
            rows.append([what, f"{n:,}", f"{seconds:.1f} s", f"{peak:,.0f} MB", f"{load:.1f}",
                         said])  # fmt: skip
    record(
        "`bpxl pull`",
        ["pull", "invoices", "wall time", "peak memory of the pull process", "load before",
         "said"],
        rows,
    )  # fmt: skip


if __name__ == "__main__":
    main()
