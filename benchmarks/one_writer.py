"""Issue 11's cases at full size: where two things meet, still one invoice per row.

Each case runs real `bpxl` processes against a sandbox process over loopback, then counts the
invoices on the server against the rows (duplicates = invoices beyond one per row) and checks
that every row holds its own invoice's Id. The SIGINT case also times the seconds from the signal
to the exit.

    .venv/bin/python benchmarks/one_writer.py [--rows 3000] [--stop-rows 20000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import openpyxl
from common import HERE, record

from bpxl import template
from bpxl.core import journal
from bpxl.core.client import Client

sys.path.insert(0, str(HERE.parent))  # the tests' helpers: a sandbox process, a sort by openpyxl
from tests.processes import sandbox_process
from tests.test_safety import _reverse_rows

PASSWORD_ENV = {"BPXL_PASSWORD": "demo"}


def rows_of(n: int) -> list[dict[str, object]]:
    return [
        {"BillingProfileId": str(101 + i % 5), "Status": "Pending", "FileName": f"inv-{i:06d}.pdf"}
        for i in range(n)
    ]


def bpxl(*args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bpxl.cli", *(str(a) for a in args)],
        env={**os.environ, **PASSWORD_ENV},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_sent(rows: int, process: subprocess.Popen[str]) -> None:
    """Until the running push's journal says ``rows`` went out (or the push ended)."""
    folder = Path(os.environ["BPXL_DATA_DIR"]) / "journal"
    while process.poll() is None:
        if any(len(r.sent) >= rows for r in journal.unfinished(folder)):
            return
        time.sleep(0.02)
    raise SystemExit(f"the push ended before {rows} rows went out: use more rows")


def tally(book: Path, url: str) -> tuple[int, int, int, int]:
    """(rows, invoices on the server, duplicates, rows holding their own invoice's Id)."""
    with Client(url, username="demo", password="demo") as client:
        stored = list(client.query("SELECT Id, FileName FROM INVOICE"))
    ids: dict[str, list[str]] = {}
    for invoice in stored:
        ids.setdefault(str(invoice["FileName"]), []).append(str(invoice["Id"]))
    sheet = openpyxl.load_workbook(book, read_only=True).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    header = list(values[0])
    name, id_ = header.index("FileName"), header.index("Id")
    rows = [v for v in values[1:] if v[name]]
    own = sum(1 for v in rows if ids.get(str(v[name])) == [str(v[id_])])
    return len(rows), len(stored), len(stored) - len(ids), own


def case(title: str, n: int, work: Callable[[Path, Path], tuple[Path, str, str]]) -> list[object]:
    with tempfile.TemporaryDirectory() as folder:
        here = Path(folder)
        os.environ["BPXL_DATA_DIR"] = str(here / "data")
        book = here / "book.xlsx"
        template.fill(template.build(), rows_of(n)).save(book)
        started = time.monotonic()
        final, note = work(here, book)
        with sandbox_process(here) as url:
            rows, invoices, duplicates, own = tally(final, url)
        took = time.monotonic() - started
        print(f"{title}: {rows} rows, {invoices} invoices, {duplicates} duplicates", flush=True)
        return [title, f"{rows:,}", f"{invoices:,}", duplicates, f"{own:,}", note, f"{took:.0f} s"]


def two_pushes(here: Path, book: Path) -> tuple[Path, str]:
    with sandbox_process(here, "latency:200ms") as url:
        login = ["--url", url, "--username", "demo", "--batch-size", "50"]
        first = bpxl("push", book, "--op", "create", *login)
        wait_sent(100, first)
        second = bpxl("push", book, "--op", "create", *login)
        second.communicate()
        first.communicate()
        note = f"second push exit {second.returncode}, first {first.returncode}"
        return book, note


def recover_during_push(here: Path, book: Path) -> tuple[Path, str]:
    with sandbox_process(here, "latency:200ms") as url:
        login = ["--url", url, "--username", "demo"]
        pusher = bpxl("push", book, "--op", "create", *login, "--batch-size", "50")
        wait_sent(100, pusher)
        recovering = bpxl("recover", book, *login)
        recovering.communicate()
        pusher.communicate()
        return book, f"recover exit {recovering.returncode}, push {pusher.returncode}"


def copy_after_kill(here: Path, book: Path) -> tuple[Path, str]:
    copy = here / "copy.xlsx"
    with sandbox_process(here, "latency:200ms") as url:
        login = ["--url", url, "--username", "demo"]
        pusher = bpxl("push", book, "--op", "create", *login, "--batch-size", "50")
        wait_sent(400, pusher)
        pusher.send_signal(signal.SIGKILL)
        pusher.wait()
        shutil.copy(book, copy)
        refused = bpxl("push", copy, "--op", "create", *login)
        refused.communicate()
        recovering = bpxl("recover", copy, *login)
        recovering.communicate()
        again = bpxl("push", copy, "--op", "create", *login)
        again.communicate()
        codes = f"copy pushed: exit {refused.returncode}; recover {recovering.returncode}"
        return copy, f"{codes}; push again {again.returncode}"


def sorted_mid_push(here: Path, book: Path) -> tuple[Path, str]:
    with sandbox_process(here, "latency:200ms") as url:
        login = ["--url", url, "--username", "demo", "--batch-size", "50"]
        pusher = bpxl("push", book, "--op", "create", *login)
        wait_sent(100, pusher)
        _reverse_rows(book)
        _, err = pusher.communicate()
        said = "said so" if "was changed while bpxl was sending" in err else "SAID NOTHING"
        return book, f"push exit {pusher.returncode}, {said}"


def unknown_then_dry_run_and_update(here: Path, book: Path) -> tuple[Path, str]:
    with sandbox_process(here, "reset-after:1.0") as url:
        login = ["--url", url, "--username", "demo"]
        bpxl("push", book, "--op", "create", *login).communicate()
        bpxl("push", book, "--op", "create", "--dry-run").communicate()
        bpxl("push", book, "--op", "update", *login).communicate()
    with sandbox_process(here) as url:  # the network heals; the same records
        again = bpxl("push", book, "--op", "create", "--url", url, "--username", "demo")
        again.communicate()
        return book, f"create after healing: exit {again.returncode}"


def sigint_mid_push(here: Path, book: Path) -> tuple[Path, str]:
    with sandbox_process(here, "latency:200ms") as url:
        login = ["--url", url, "--username", "demo"]
        pusher = bpxl("push", book, "--op", "create", *login)
        wait_sent(2000, pusher)
        signalled = time.monotonic()
        pusher.send_signal(signal.SIGINT)
        pusher.communicate()
        took = time.monotonic() - signalled
        again = bpxl("push", book, "--op", "create", *login)
        again.communicate()
        return (
            book,
            f"exit {pusher.returncode} {took:.1f} s after SIGINT; again {again.returncode}",
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--stop-rows", type=int, default=20000)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    n = args.rows
    table = [
        case("two pushes of one workbook", n, two_pushes),
        case("recover during a push", n, recover_during_push),
        case("copy after SIGKILL", n, copy_after_kill),
        case("file sorted mid-push", n, sorted_mid_push),
        case("dry run and update after Unknown", n, unknown_then_dry_run_and_update),
        case("SIGINT mid-push, latency 200 ms", args.stop_rows, sigint_mid_push),
    ]
    header = ["case", "rows", "invoices", "duplicates", "rows with own Id", "what happened", "time"]
    record("One writer per workbook (issue 11)", header, table, keep=not args.no_record)


if __name__ == "__main__":
    main()
