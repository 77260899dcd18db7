"""Real processes for the tests where two of them meet: a sandbox server with faults, pushes that
run beside each other, signals. Everything on loopback, in the test's private data folder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from bpxl.core import journal
from bpxl.core.client import Client
from bpxl.core.connection import journal_dir

from .conftest import read_sheet


@contextmanager
def sandbox_process(tmp_path: Path, *faults: str) -> Iterator[str]:
    """``bpxl sandbox`` in its own process (so a push can be killed beside it); yields its URL."""
    args = [sys.executable, "-m", "bpxl.cli", "sandbox", "--port", "0"]
    args += ["--db", str(tmp_path / "server.sqlite3")]
    for fault in faults:
        args += ["--fault", fault]
    server = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        yield server.stdout.readline().strip()
    finally:
        server.terminate()
        server.wait()


def bpxl(*args: object, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """``bpxl ARGS`` in a process of its own, output captured; ``env``: variables to change
    (another user's data folder, say)."""
    return subprocess.Popen(
        [sys.executable, "-m", "bpxl.cli", *(str(a) for a in args)],
        env={**os.environ, "BPXL_PASSWORD": "demo", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def push(
    book: Path, url: str, *more: object, env: Mapping[str, str] | None = None
) -> subprocess.Popen[str]:
    return bpxl("push", book, "--op", "create", "--url", url, "--username", "demo", *more, env=env)


def wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def sent_rows(at_least: int) -> Callable[[], bool]:
    """True once an unfinished push's journal says ``at_least`` rows went out."""

    def check() -> bool:
        runs = journal.unfinished(journal_dir())
        return bool(runs) and len(runs[0].sent) >= at_least

    return check


def invoices(url: str) -> dict[str, str]:
    """Every invoice on the server: FileName -> Id (each test row has its own FileName)."""
    with Client(url, username="demo", password="demo") as client:
        stored = list(client.query("SELECT Id, FileName FROM INVOICE"))
    by_file = {str(r["FileName"]): str(r["Id"]) for r in stored}
    assert len(by_file) == len(stored), "two invoices for one row"
    return by_file


def assert_one_invoice_per_row(book: Path, url: str, rows: int) -> None:
    """Exactly one invoice per row on the server, and each row holds its own invoice's Id."""
    sheet = read_sheet(book)
    stored = invoices(url)
    assert len(sheet) == rows == len(stored)
    assert {r["Result"] for r in sheet} == {"Created"}
    assert all(stored[r["FileName"]] == r["Id"] for r in sheet)
