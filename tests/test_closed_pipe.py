"""A reader that goes away (``bpxl fields | head``, a script that reads one line) ends nothing:
the command finishes its work quietly, with no traceback, and a push still writes its results."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import read_sheet, write_invoices


def _closed_stdout(*args: object) -> subprocess.CompletedProcess[str]:
    """``bpxl ARGS`` whose standard output is a pipe nobody reads: closed before it starts."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "bpxl.cli", *(str(a) for a in args)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)


def test_a_listing_cut_short_ends_quietly() -> None:
    done = _closed_stdout("fields")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    done = _closed_stdout("--help")
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_a_push_nobody_watches_still_writes_its_results(tmp_path: Path) -> None:
    book = write_invoices(
        tmp_path / "unwatched.xlsx",
        [
            {"BillingProfileId": "101", "DueDate": "2026-01-31"},
            {"BillingProfileId": "102", "DueDate": "31/01/2026"},
        ],
    )
    done = _closed_stdout("push", book, "--op", "create")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    rows = read_sheet(book)
    assert [r["Result"] for r in rows] == ["Created", "Invalid"]
    assert rows[0]["Id"] and "DueDate" in rows[1]["Message"]
