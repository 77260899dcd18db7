"""Shared pieces of the benchmarks: realistic rows, a sandbox in its own process, the results file.

The sandbox runs as a separate process so that the client's own cost can be read from its CPU
time alone, and the server's from the sandbox process's CPU time (Linux: /proc).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
HEADER = [
    "BillingProfileId",
    "Status",
    "DueDate",
    "ActivityStartDate",
    "ActivityEndDate",
    "BillableFlag",
    "AgingInterval",
    "FileName",
    "PaymentStatus",
    "AccountingPeriodId",
    "SendInvoiceEmail",
    "MoveInvoiceDescription",
]


def invoice(r: int) -> dict[str, object]:
    """Sheet row ``r`` of the benchmarks: 12 filled fields with realistic values."""
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


def create_invoices(client: Any, n: int) -> list[str]:
    """N benchmark invoices (``invoice``) created through ``client`` a thousand at a time, as the
    API takes them (dates as ISO text, flags as "1"); their Ids."""
    made = []
    for start in range(0, n, 1000):
        batch = [invoice(r) for r in range(start, min(start + 1000, n))]
        for row in batch:
            for key, value in row.items():
                row[key] = value.isoformat() if hasattr(value, "isoformat") else value
            row["BillableFlag"] = row["SendInvoiceEmail"] = "1"
        made += [r.id for r in client.create(batch)]
    return [str(i) for i in made if i]


def change_invoices(client: Any, ids: Sequence[object]) -> None:
    """Every invoice of ``ids`` changed on the server (Status and FileName), for a refresh."""
    for start in range(0, len(ids), 1000):
        client.update([{"Id": i, "Status": "Approved", "FileName": f"v2-{i}.pdf"}
                       for i in ids[start : start + 1000]])  # fmt: skip


def excel_values(n: int) -> list[list[object]]:
    """N rows as xlwings hands them over: dates as datetimes, numbers as floats."""
    rows = []
    for r in range(2, n + 2):
        values = []
        for value in invoice(r).values():
            if isinstance(value, dt.date):
                value = dt.datetime(value.year, value.month, value.day)
            elif isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            values.append(value)
        rows.append(values)
    return rows


@contextmanager
def sandbox(*faults: str, custom: Sequence[str] = ()) -> Iterator[tuple[str, int, Path]]:
    """A sandbox process (records in memory; ``custom``: its custom fields, as
    ``--custom-field`` takes them): yields its URL, pid and request log path."""
    log = (
        Path(os.environ.get("TMPDIR", "/tmp")) / f"bpxl-bench-{os.getpid()}-{time.time_ns()}.jsonl"
    )
    command = [
        sys.executable,
        "-m",
        "bpxl.cli",
        "sandbox",
        "--port",
        "0",
        "--request-log",
        str(log),
    ]
    for fault in faults:
        command += ["--fault", fault]
    for field in custom:
        command += ["--custom-field", field]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        yield url, server.pid, log
    finally:
        server.terminate()
        server.wait()
        log.unlink(missing_ok=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def run_child(command: Sequence[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run a command as its own process: its wall seconds, its peak memory in MB (wait4, Linux)
    and its output; a child that fails stops the benchmark with what it said."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        child = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        seconds = time.perf_counter() - started
        out.seek(0)
        said = out.read().strip()
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command[1:4])} exited with {child.returncode}:\n{said}")
    return seconds, usage.ru_maxrss / 1024, said


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports kilobytes)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def record(
    benchmark: str, header: Sequence[str], rows: Sequence[Sequence[object]], keep: bool = True
) -> None:
    """Print a table and (``keep``) append it to results.md with the date, machine and commit."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        cwd=HERE,
        check=False,
    ).stdout.strip()
    machine = f"{platform.node()} ({os.cpu_count()} cores, Python {platform.python_version()})"
    lines = [
        f"### {benchmark}: {dt.date.today()}, {machine}, commit {commit}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(str(v) for v in row) + " |" for row in rows),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not keep:
        return
    with open(HERE / "results.md", "a", encoding="utf-8") as results:
        results.write("\n" + text)
