"""core.folder_lock on its own: the lock file beside a workbook, its holder named in words, a gone
holder taken over and said so, the heartbeat (two people pushing at once, in processes, are in
test_two_people.py)."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from bpxl.core import folder_lock
from bpxl.core.errors import WorkbookBusyError

STARTED = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def book(tmp_path: Path) -> Path:
    path = tmp_path / "Q4 book.xlsx"
    path.write_bytes(b"a workbook")
    return path


def holder(book: Path, **changed: object) -> Path:
    path = folder_lock.lock_path(book)
    now = dt.datetime.now(dt.UTC).isoformat()
    body: dict[str, Any] = {"user": "ben", "host": "LAPTOP-BEN", "pid": 1, "command": "pull"}
    body.update({"since": now, "alive": now, "token": "t0", **changed})
    path.write_text(json.dumps({k: v for k, v in body.items() if v is not None}), "utf-8")
    return path


def quiet_for(path: Path, minutes: float) -> None:
    then = time.time() - minutes * 60
    os.utime(path, (then, then))


def test_the_lock_file_is_beside_the_workbook_and_names_its_holder(book: Path) -> None:
    path = folder_lock.lock_path(book)
    assert path == book.with_name("Q4 book.xlsx.bpxl-lock.json")
    before = dt.datetime.now(dt.UTC)
    with folder_lock.hold(book, "push create", STARTED) as notes:
        held = json.loads(path.read_text(encoding="utf-8"))
        assert notes == []
        assert {k: held[k] for k in ("host", "pid", "process_started", "command")} == {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "process_started": STARTED.isoformat(),
            "command": "push create",
        }
        since = dt.datetime.fromisoformat(held["since"])
        assert before <= since <= dt.datetime.now(dt.UTC) and held["alive"] == held["since"]
        assert held["user"] and len(held["token"]) == 32
    assert not path.exists()


def test_a_workbook_not_saved_yet_has_no_lock(tmp_path: Path) -> None:
    with folder_lock.hold(tmp_path / "new.xlsx", "pull", STARTED) as notes:
        assert notes == [] and list(tmp_path.iterdir()) == []


def test_a_holder_still_there_is_named_and_its_file_left(book: Path) -> None:
    path = holder(book, since="2026-12-07T08:30:00+00:00")
    with pytest.raises(WorkbookBusyError) as refused, folder_lock.hold(book, "push", STARTED):
        pass
    local = dt.datetime(2026, 12, 7, 8, 30, tzinfo=dt.UTC).astimezone().strftime("%Y-%m-%d %H:%M")
    assert refused.value.message == (
        f"Q4 book.xlsx is in use by bpxl pull of ben on computer LAPTOP-BEN (since {local}). "
        "Nothing was read or sent."
    )
    assert refused.value.hint == (
        "Wait until it finishes, then run again: a row it sends then shows its result, and is "
        "not sent twice. If it no longer runs, bpxl takes over once Q4 book.xlsx.bpxl-lock.json "
        "beside the workbook has shown no sign of life for 5 minutes (at once on the computer "
        "it ran on); or delete that file if you are sure."
    )
    assert json.loads(path.read_text(encoding="utf-8"))["token"] == "t0"


@pytest.mark.parametrize(
    ("changed", "named"),
    [
        ({"since": "soon"}, "bpxl pull of ben on computer LAPTOP-BEN (since a moment ago)"),
        ({"since": None}, "bpxl pull of ben on computer LAPTOP-BEN (since a moment ago)"),
        (
            {"command": None, "user": None, "host": None, "since": "2026-12-07T08:30:00Z"},
            "bpxl push of someone on computer ? (since ",
        ),
    ],
)
def test_a_holder_is_named_with_what_its_file_says(book: Path, changed, named: str) -> None:
    holder(book, **changed)
    with pytest.raises(WorkbookBusyError) as refused, folder_lock.hold(book, "push", STARTED):
        pass
    assert f"Q4 book.xlsx is in use by {named}" in refused.value.message


def test_a_file_that_names_no_holder_is_another_bpxl_until_it_falls_silent(book: Path) -> None:
    path = folder_lock.lock_path(book)
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(WorkbookBusyError) as refused, folder_lock.hold(book, "push", STARTED):
        pass
    assert refused.value.message.startswith("Q4 book.xlsx is in use by another bpxl command.")
    quiet_for(path, 7)
    with folder_lock.hold(book, "push", STARTED) as notes:
        assert notes == [
            "Q4 book.xlsx was held by another bpxl command, but it has given no sign of life for "
            "7 minutes, so bpxl took over. If that command stopped mid-way, rows it sent "
            "without a result are looked up before anything is sent again."
        ]


def test_another_computers_holder_is_gone_after_five_quiet_minutes(book: Path) -> None:
    path = holder(book)
    quiet_for(path, 4.9)
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=4.9)).isoformat()
    holder(book, alive=old)
    quiet_for(path, 4.9)
    with pytest.raises(WorkbookBusyError), folder_lock.hold(book, "push", STARTED):
        pass
    holder(book, alive=(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5, seconds=1)).isoformat())
    quiet_for(path, 5.02)
    with folder_lock.hold(book, "push", STARTED) as notes:
        assert "but it has given no sign of life for 5 minutes, so bpxl took over" in notes[0]


def test_a_heartbeat_newer_than_the_files_time_keeps_a_holder(book: Path) -> None:
    """A synced folder may carry the file with an old time: the holder's own sign of life counts
    too, in UTC or (an older bpxl) without a zone."""
    for alive in (dt.datetime.now(dt.UTC), dt.datetime.now(dt.UTC).replace(tzinfo=None)):
        path = holder(book, alive=alive.isoformat())
        quiet_for(path, 30)
        with pytest.raises(WorkbookBusyError), folder_lock.hold(book, "push", STARTED):
            pass
    path = holder(book, alive="not a time")
    quiet_for(path, 30)
    with folder_lock.hold(book, "push", STARTED) as notes:
        assert "no sign of life for 30 minutes" in notes[0]


def test_on_this_computer_a_holder_whose_process_ended_is_gone_at_once(book: Path) -> None:
    holder(book, host=socket.gethostname(), pid=2**22 + 12345)
    with folder_lock.hold(book, "push", STARTED) as notes:
        assert notes[0].startswith("Q4 book.xlsx was held by bpxl pull of ben on computer ")
        assert "but its process has ended, so bpxl took over" in notes[0]
    for pid in (os.getpid(), 1, "12"):  # running (init: another user's), or no process number
        holder(book, host=socket.gethostname(), pid=pid)
        with pytest.raises(WorkbookBusyError), folder_lock.hold(book, "push", STARTED):
            pass


def test_a_holder_taken_over_writes_its_heartbeat_no_more(book: Path, monkeypatch) -> None:
    monkeypatch.setattr(folder_lock, "HEARTBEAT_S", 0.02)
    path = folder_lock.lock_path(book)
    with folder_lock.hold(book, "push", STARTED):
        holder(book, token="someone else")
        time.sleep(0.2)
        assert json.loads(path.read_text(encoding="utf-8"))["token"] == "someone else"
    assert path.exists()  # not ours to remove
    assert sorted(p.name for p in book.parent.iterdir()) == [book.name, path.name]


def test_a_lock_file_the_holder_leaves_unreadable_while_writing_is_read_again(
    book: Path,
) -> None:
    path = folder_lock.lock_path(book)
    path.write_text('{"user": "ben", "host": "LAPTOP-B', encoding="utf-8")  # half written
    with pytest.raises(WorkbookBusyError) as refused, folder_lock.hold(book, "push", STARTED):
        pass
    assert "in use by another bpxl command" in refused.value.message


def test_a_live_holder_writes_its_sign_of_life_again_and_again(book: Path, monkeypatch) -> None:
    monkeypatch.setattr(folder_lock, "HEARTBEAT_S", 0.02)
    path = folder_lock.lock_path(book)
    with folder_lock.hold(book, "push", STARTED):
        first = json.loads(path.read_text(encoding="utf-8"))
        deadline = time.monotonic() + 30
        while json.loads(path.read_text(encoding="utf-8"))["alive"] == first["alive"]:
            assert time.monotonic() < deadline, "no heartbeat in 30 s"
            time.sleep(0.01)
        beat = json.loads(path.read_text(encoding="utf-8"))
        assert {k: v for k, v in beat.items() if k != "alive"} == {
            k: v for k, v in first.items() if k != "alive"
        }
        alive = dt.datetime.fromisoformat(beat["alive"])
        assert alive.tzinfo is not None and alive > dt.datetime.fromisoformat(first["alive"])
        assert sorted(p.name for p in book.parent.iterdir()) == [book.name, path.name]
    assert not path.exists()
