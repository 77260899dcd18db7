"""One writer per workbook: a second push, a pull or a recover beside a live push is refused before
it reads or sends anything, and a dead push's hold ends with it (real processes, loopback)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
from pathlib import Path

import pytest

from bpxl.core import writer_lock
from bpxl.core.connection import data_dir
from bpxl.core.errors import WorkbookBusyError

from .conftest import write_invoices
from .processes import assert_one_invoice_per_row, push, sandbox_process, sent_rows, wait_for
from .test_safety import rows_of

ROWS = 300


def test_two_pushes_of_one_workbook_make_one_invoice_per_row(tmp_path: Path, run) -> None:
    book = write_invoices(tmp_path / "twice.xlsx", rows_of(ROWS))
    with sandbox_process(tmp_path, "latency:300ms") as url:
        # One batch at a time: the push outlasts the second push's start and the recover below.
        first = push(book, url, "--batch-size", "10", "--concurrency", "1")
        wait_for(sent_rows(20))
        second = push(book, url, "--batch-size", "10")
        _, err = second.communicate(timeout=60)
        assert second.returncode == 2, err
        assert "twice.xlsx is in use by bpxl push (process" in err and "Nothing was read" in err
        assert f"process {first.pid} on " in err and " since " in err
        # recover, as a hurried user might, is refused too: the push is alive.
        code, out, err = run("recover", book, "--url", url, "--username", "demo")
        assert code == 2 and "in use by bpxl push" in err, out + err
        out, err = first.communicate(timeout=120)
        assert first.returncode == 0, out + err
        assert_one_invoice_per_row(book, url, ROWS)


def test_a_killed_push_holds_nothing(tmp_path: Path, run) -> None:
    book = write_invoices(tmp_path / "killed.xlsx", rows_of(ROWS))
    with sandbox_process(tmp_path, "latency:300ms") as url:
        pusher = push(book, url, "--batch-size", "10")
        wait_for(sent_rows(20))
        os.kill(pusher.pid, signal.SIGKILL)
        pusher.wait()
        code, out, err = run("recover", book, "--url", url, "--username", "demo")
        assert code == 1, out + err  # the rows never sent are Failed: "send it again"
        code, out, err = run("push", book, "--op", "create", "--url", url, "--username", "demo")
        assert code == 0, out + err
        assert_one_invoice_per_row(book, url, ROWS)


def test_a_hold_names_its_holder_and_ends_with_the_block(tmp_path: Path) -> None:
    book = tmp_path / "held.xlsx"
    with writer_lock.hold(book, command="pull"):
        with (
            pytest.raises(WorkbookBusyError) as refused,
            writer_lock.hold(tmp_path / "other.xlsx", book, command="push"),
        ):
            pass
        assert f"in use by bpxl pull (process {os.getpid()}" in str(refused.value)
    with writer_lock.hold(book, command="push"):
        pass  # free again


def test_a_workbook_is_held_whatever_path_names_it(tmp_path: Path, monkeypatch) -> None:
    """The hold is keyed on where the file is, not on how its path was typed: a push of
    book.xlsx and a push of its full path (or of ./sub/../book.xlsx) are two pushes of one
    workbook, and the second is refused."""
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    with writer_lock.hold("book.xlsx", command="push"):
        for other in (tmp_path / "book.xlsx", Path("sub/../book.xlsx"), "./book.xlsx"):
            with pytest.raises(WorkbookBusyError), writer_lock.hold(other, command="push"):
                pass
        with writer_lock.hold("sub/book.xlsx", command="push"):
            pass  # another file of the same name is another workbook


def test_a_hold_leaves_a_note_of_its_holder_and_takes_it_away(tmp_path: Path) -> None:
    """Beside the lock, who holds it: the refusal reads it; it goes with the hold."""
    book = tmp_path / "noted.xlsx"
    before = dt.datetime.now(dt.UTC)
    with writer_lock.hold(book, command="recover"):
        [note] = writer_lock.lock_dir().glob("*.json")
        held = json.loads(note.read_text(encoding="utf-8"))
        assert set(held) == {"workbook", "command", "pid", "process_started", "host", "since"}
        assert (held["workbook"], held["command"], held["pid"]) == (
            str(book.resolve()),
            "recover",
            os.getpid(),
        )
        assert held["host"] == socket.gethostname()
        since = dt.datetime.fromisoformat(held["since"])
        started = dt.datetime.fromisoformat(held["process_started"])
        assert before <= since <= dt.datetime.now(dt.UTC) and started <= before
        assert note.parent == data_dir() / "locks"  # in bpxl's data folder, as documented
        with pytest.raises(WorkbookBusyError) as refused, writer_lock.hold(book, command="push"):
            pass
        local = since.astimezone().strftime("%Y-%m-%d %H:%M")
        assert str(refused.value).startswith(
            f"noted.xlsx is in use by bpxl recover (process {os.getpid()} on "
            f"{socket.gethostname()}, since {local}). Nothing was read or sent."
        )
        assert refused.value.hint == (
            "Wait until it finishes (or stop it), then run again. If that process no longer "
            "runs, just run again: its hold ended with it."
        )
    assert not note.exists()


def test_a_workbook_named_twice_in_one_hold_is_held_once(tmp_path: Path, monkeypatch) -> None:
    """recover of a file into itself names it twice: it must not refuse itself."""
    monkeypatch.chdir(tmp_path)
    with (
        writer_lock.hold("book.xlsx", tmp_path / "book.xlsx", command="recover"),
        pytest.raises(WorkbookBusyError),
        writer_lock.hold("book.xlsx", command="push"),
    ):
        pass


def test_a_holder_still_writing_its_note_is_named_in_general_words(tmp_path: Path) -> None:
    book = tmp_path / "busy.xlsx"
    with writer_lock.hold(book, command="push"):
        [note] = writer_lock.lock_dir().glob("*.json")
        for text in ("", '{"command": "push"}', "[1]"):  # half written, or not yet
            note.write_text(text, encoding="utf-8")
            with pytest.raises(WorkbookBusyError) as refused, writer_lock.hold(book, command="x"):
                pass
            assert str(refused.value).startswith(
                "busy.xlsx is in use by another bpxl command. Nothing was read or sent."
            )
            assert "just run again: its hold ended with it" in str(refused.value)


def test_template_force_does_not_replace_a_workbook_in_use(tmp_path: Path, run) -> None:
    book = write_invoices(tmp_path / "busy.xlsx", rows_of(3))
    before = book.read_bytes()
    with writer_lock.hold(book, command="push"):
        code, out, err = run("template", book, "--force")
    assert code == 2 and "busy.xlsx is in use by bpxl push" in err, out + err
    assert book.read_bytes() == before
    (tmp_path / "~$busy.xlsx").write_text("Excel's owner file")  # open in Excel
    code, out, err = run("template", book, "--force")
    assert code == 2 and "open in Excel" in err and book.read_bytes() == before, out + err
