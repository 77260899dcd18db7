"""Ctrl+C, a kill request or a closed window stops a push in order: no new batch, answers in flight
awaited a few seconds, every outcome in the workbook, exit code 130; a push again sends the rest
and nothing twice (real processes and signals, sandbox over loopback)."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest

from bpxl.cli import EXIT_STOPPED
from bpxl.core import push
from bpxl.sandbox.faults import FaultPlan

from .conftest import read_sheet, write_invoices
from .processes import (
    assert_one_invoice_per_row,
    bpxl,
    invoices,
    sandbox_process,
    sent_rows,
    wait_for,
)
from .processes import push as push_process
from .test_safety import rows_of

NOT_SENT = "Not sent: stopped before sending; send again"


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_mid_push_stops_within_seconds_and_loses_nothing(
    tmp_path: Path, run, stop: signal.Signals
) -> None:
    rows = 300
    book = write_invoices(tmp_path / "stop.xlsx", rows_of(rows))
    with sandbox_process(tmp_path, "latency:1s") as url:
        pusher = push_process(book, url, "--batch-size", "10")
        wait_for(sent_rows(40))
        signalled = time.monotonic()
        pusher.send_signal(stop)
        _, err = pusher.communicate(timeout=30)
        took = time.monotonic() - signalled
        assert pusher.returncode == EXIT_STOPPED, err
        assert took < push.STOP_GRACE_S + 3, f"{took:.1f} s from the signal to the exit"
        assert "bpxl: stopped." in err and "Push again to send the rest" in err
        sheet = read_sheet(book)
        assert len(sheet) == rows
        created = [r for r in sheet if r["Result"] == "Created"]
        unsent = [r for r in sheet if r["Result"] == "Failed"]
        assert created and unsent and len(created) + len(unsent) == rows
        assert {r["Message"] for r in unsent} == {NOT_SENT}
        assert len(invoices(url)) == len(created)  # the answers in flight were waited for

        code, out, err = run("push", book, "--op", "create", "--url", url, "--username", "demo")
        assert code == 0, out + err
        assert_one_invoice_per_row(book, url, rows)


def test_creates_with_no_answer_in_the_grace_are_looked_up_by_the_next_push(
    tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answers slower than the grace: those rows are Unknown, with what was sent kept; the next
    push finds their invoices instead of creating them again."""
    monkeypatch.setattr(push, "STOP_GRACE_S", 0.3)
    rows = 60
    book = write_invoices(tmp_path / "slow.xlsx", rows_of(rows))
    with sandbox_process(tmp_path, "latency:1500ms") as url:
        threading.Thread(target=_interrupt_when_sent, args=(10,), daemon=True).start()
        code, out, err = run(
            "push", book, "--op", "create", "--url", url, "--username", "demo",
            "--batch-size", "10",
        )  # fmt: skip
        assert code == EXIT_STOPPED, out + err
        sheet = read_sheet(book)
        unknown = [r for r in sheet if r["Result"] == "Unknown"]
        assert unknown and all("(bpxl ref " in r["Message"] for r in unknown)
        assert "Unknown: sent, but no answer came. The next push (or `bpxl recover`) looks" in out
        assert {r["Result"] for r in sheet} <= {"Created", "Unknown", "Failed"}
        wait_for(lambda: len(invoices(url)) >= len(unknown), 30)  # the slow creates land
        code, out, err = run("push", book, "--op", "create", "--url", url, "--username", "demo")
        assert code == 0, out + err
        assert_one_invoice_per_row(book, url, rows)


def test_a_stop_ends_the_retries_of_a_failing_server_at_once(tmp_path: Path, make_sandbox, run):
    """Chaos seed 1066: an update answered 503 is retried after a pause (an update is safe to
    send again); a Ctrl+C during that pause used to let the retries go on, and the process
    lived on until they ended. A stop now ends the pause: no request after it, an exit at once."""
    box = make_sandbox()
    book = write_invoices(tmp_path / "retried.xlsx", rows_of(3))
    login = ["--url", box.url, "--username", "demo"]
    assert run("push", book, "--op", "create", *login)[0] == 0
    box.sandbox.config.faults = FaultPlan.parse(["503:1"], seed=1)  # every write answered 503
    before = len(box.writes())
    pusher = bpxl("push", book, "--op", "update", *login)
    # urllib3 retries at once after the first 503, then waits 1 s, 2 s, 4 s between tries.
    wait_for(lambda: len(box.writes()) == before + 2)
    signalled = time.monotonic()
    pusher.send_signal(signal.SIGINT)
    _, err = pusher.communicate(timeout=60)
    took = time.monotonic() - signalled
    assert pusher.returncode == EXIT_STOPPED, err
    assert len(box.writes()) == before + 2, "a request went out after the stop"
    # Unstopped, the pauses left (1 s, 2 s, 4 s) would keep it 7 s; 5 s leaves room for a loaded
    # machine's process exit.
    assert took < 5, f"{took:.1f} s from the signal to the exit"
    assert {r["Result"] for r in read_sheet(book)} <= {"Failed", "Unknown"}


def _interrupt_when_sent(rows: int) -> None:
    """Ctrl+C to this process once a batch is out (the handler runs in the main thread)."""
    wait_for(sent_rows(rows))
    signal.raise_signal(signal.SIGINT)
