"""core.folder_lock on its own: the lock file beside a workbook, its holder named in words, a gone
holder taken over and said so, the heartbeat (two people pushing at once, in processes, are in
test_two_people.py)."""

from __future__ import annotations

import datetime as dt
import getpass
import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
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


def body(**changed: object) -> bytes:
    """A lock file's text: ben's pull on another computer, alive now, but for what is changed."""
    now = dt.datetime.now(dt.UTC).isoformat()
    held = {"user": "ben", "host": "LAPTOP-BEN", "pid": 1, "command": "pull", "since": now}
    return json.dumps({**held, "alive": now, "token": "t0", **changed}).encode()


ENDED = {"host": socket.gethostname(), "pid": 2**22 + 12345}  # a holder here whose process ended


class Racing:
    """A lock file each reading of which the test answers in turn: a FIFO, so that every read by
    bpxl waits for the next answer. What another bpxl does between two of bpxl's steps (finish
    writing its file, remove it, put a file of its own in place) is done just before the answer
    to bpxl's next read, at that moment and no other: the races of two computers, made certain.
    Each answer is the text read and what to do before it is read (``then``, given the path);
    a read after the last answer finds the file empty (rather than waiting for ever)."""

    def __init__(self, path: Path, *answers: tuple[bytes, Callable[[Path], object] | None]):
        os.mkfifo(path)
        self.path = path
        self.inode = os.open(path, os.O_PATH)  # the FIFO under any name it is moved to
        self.closing = False
        self.thread = threading.Thread(target=self._answer, args=(answers,), daemon=True)
        self.thread.start()

    def _reopen(self, flags: int) -> int:
        return os.open(f"/proc/self/fd/{self.inode}", flags)

    def _answer(self, answers: tuple[tuple[bytes, Callable[[Path], object] | None], ...]) -> None:
        for text, then in itertools.chain(answers, itertools.repeat((b"", None))):
            writer = self._reopen(os.O_WRONLY)  # waits for bpxl to open it to read
            # The reader's file is in this process's table before the answer ends (it reads up
            # to the end): seen there, then gone, it has read this answer and no other.
            self._until_read(writer, begun=True)
            if self.closing:
                os.close(writer)
                return
            if then is not None:
                with suppress(OSError):  # bpxl is not where the race expects it (a test fails)
                    then(self.path)
            os.write(writer, text)
            os.close(writer)  # the end of the text for this read
            self._until_read(writer, begun=False)

    def _until_read(self, writer: int, begun: bool) -> None:
        """Until bpxl has the file open to read (``begun``), or no longer has it."""
        fifo = os.fstat(self.inode)
        while not self.closing and begun != any(
            (found.st_dev, found.st_ino) == (fifo.st_dev, fifo.st_ino)
            for fd in os.listdir("/proc/self/fd")
            if int(fd) not in (self.inode, writer)
            for found in _stat_fd(fd)
        ):
            time.sleep(0.001)

    def close(self) -> None:
        """The test is over: an answer still waiting for a read that never came is dropped."""
        self.closing = True
        deadline = time.monotonic() + 30
        while self.thread.is_alive() and time.monotonic() < deadline:
            with suppress(OSError):
                os.close(self._reopen(os.O_RDONLY | os.O_NONBLOCK))
            self.thread.join(timeout=0.05)
        os.close(self.inode)


def _stat_fd(fd: str) -> list[os.stat_result]:
    with suppress(OSError):  # closed since it was listed
        return [os.stat(f"/proc/self/fd/{fd}")]
    return []


@pytest.fixture
def racing(book: Path) -> Iterator[Callable[..., Racing]]:
    if not hasattr(os, "mkfifo") or not Path("/proc/self/fd").is_dir():
        pytest.skip("the races are staged with a FIFO reopened through /proc (Linux)")
    made: list[Racing] = []

    def make(*answers: tuple[bytes, Callable[[Path], object] | None]) -> Racing:
        made.append(Racing(folder_lock.lock_path(book), *answers))
        return made[-1]

    yield make
    for race in made:
        race.close()


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
    too, in UTC, at its own offset from UTC, or (an older bpxl) without a zone."""
    now = dt.datetime.now(dt.UTC)
    for alive in (
        now,
        now.astimezone(dt.timezone(dt.timedelta(hours=-5))),
        now.replace(tzinfo=None),
    ):
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


def next_beat(path: Path, first: dict[str, Any]) -> dict[str, Any]:
    """The lock file once its holder has given a sign of life since ``first``."""
    deadline = time.monotonic() + 30
    while (beat := json.loads(path.read_text(encoding="utf-8")))["alive"] == first["alive"]:
        assert time.monotonic() < deadline, "no heartbeat in 30 s"
        time.sleep(0.01)
    return beat


def test_a_live_holder_writes_its_sign_of_life_again_and_again(book: Path, monkeypatch) -> None:
    monkeypatch.setattr(folder_lock, "HEARTBEAT_S", 0.02)
    path = folder_lock.lock_path(book)
    with folder_lock.hold(book, "push", STARTED):
        first = json.loads(path.read_text(encoding="utf-8"))
        beat = next_beat(path, first)
        assert {k: v for k, v in beat.items() if k != "alive"} == {
            k: v for k, v in first.items() if k != "alive"
        }
        alive = dt.datetime.fromisoformat(beat["alive"])
        assert alive.tzinfo is not None and alive > dt.datetime.fromisoformat(first["alive"])
        assert sorted(p.name for p in book.parent.iterdir()) == [book.name, path.name]
    assert not path.exists()


def test_a_lock_file_still_being_written_is_read_again_a_moment_later(book: Path, racing) -> None:
    racing((b'{"user": "ben", "host": "LAPT', None), (body(), None))
    with pytest.raises(WorkbookBusyError) as refused, folder_lock.hold(book, "push", STARTED):
        pass
    assert refused.value.message.startswith("Q4 book.xlsx is in use by bpxl pull of ben on ")


def test_a_holder_that_finishes_while_it_is_looked_at_leaves_the_workbook_free(
    book: Path, racing
) -> None:
    """Its file is read, then gone before its time is: bpxl simply makes its own."""
    path = folder_lock.lock_path(book)
    racing((body(), lambda path: path.unlink()))
    with folder_lock.hold(book, "push", STARTED) as notes:
        assert notes == []
        assert json.loads(path.read_text(encoding="utf-8"))["pid"] == os.getpid()
    assert sorted(p.name for p in book.parent.iterdir()) == [book.name]


def test_a_fresh_holders_file_written_since_the_look_is_put_back_not_removed(
    book: Path, racing
) -> None:
    """bpxl judged ben's file gone, but before it moved it away cara's bpxl took over and wrote
    its own: bpxl puts cara's file back where it was and says she holds the workbook."""
    path = folder_lock.lock_path(book)
    cara = body(user="cara", host="LAPTOP-CARA", token="t1")
    race = racing((body(**ENDED), None), (cara, None), (cara, None))
    with pytest.raises(WorkbookBusyError) as refused, folder_lock.hold(book, "push", STARTED):
        pass
    assert refused.value.message.startswith("Q4 book.xlsx is in use by bpxl pull of cara on ")
    assert os.stat(path).st_ino == os.fstat(race.inode).st_ino  # cara's very file, in place
    assert sorted(p.name for p in book.parent.iterdir()) == [book.name, path.name]


def test_a_fresh_holders_file_is_never_put_back_over_a_third_one(book: Path, racing) -> None:
    """... and when, meanwhile, dan's bpxl took the empty place, dan's file stays as he wrote
    it (and cara's, which no longer holds anything, goes)."""
    path = folder_lock.lock_path(book)
    dan = body(user="dan", host="LAPTOP-DAN", token="t2")
    racing(
        (body(**ENDED), None),
        (body(user="cara", host="LAPTOP-CARA", token="t1"), lambda path: path.write_bytes(dan)),
    )
    with pytest.raises(WorkbookBusyError) as refused, folder_lock.hold(book, "push", STARTED):
        pass
    assert refused.value.message.startswith("Q4 book.xlsx is in use by bpxl pull of dan on ")
    assert path.read_bytes() == dan
    assert sorted(p.name for p in book.parent.iterdir()) == [book.name, path.name]


def test_a_gone_holders_file_that_keeps_coming_back_is_given_up_after_three_tries(
    book: Path, racing
) -> None:
    """A sync that puts the file back as soon as it is removed: bpxl takes over three times at
    most, then says who the file names."""
    gone = body(**ENDED)

    def twice(then: Callable[[Path], object]) -> tuple[tuple[bytes, Any], ...]:
        return (gone, None), (gone, then)  # read to judge it, then moved aside and read again

    erin = body(user="erin", token="t3", **ENDED)
    last = twice(lambda path: path.write_bytes(erin))  # the third time, a regular file
    racing(*twice(lambda _: racing(*twice(lambda _: racing(*last)))))
    with pytest.raises(WorkbookBusyError) as refused, folder_lock.hold(book, "push", STARTED):
        pass
    assert refused.value.message.startswith("Q4 book.xlsx is in use by bpxl pull of erin on ")


def test_looking_whether_a_holder_runs_leaves_it_running(book: Path) -> None:
    """A holder on this computer is asked whether it runs, not disturbed (no signal it would
    act on)."""
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        holder(book, host=socket.gethostname(), pid=alive.pid)
        with pytest.raises(WorkbookBusyError), folder_lock.hold(book, "push", STARTED):
            pass
        with pytest.raises(subprocess.TimeoutExpired):
            alive.wait(timeout=1)
    finally:
        alive.kill()
        alive.wait()


def test_a_computer_that_knows_no_login_name_names_its_holder_someone(
    book: Path, monkeypatch
) -> None:
    def unknown() -> str:
        raise OSError("No username set in the environment")

    monkeypatch.setattr(getpass, "getuser", unknown)
    with folder_lock.hold(book, "push", STARTED):
        held = json.loads(folder_lock.lock_path(book).read_text(encoding="utf-8"))
    assert held["user"] == "someone"


def test_a_workbook_with_a_long_name_is_held_and_taken_over_like_any_other(
    tmp_path: Path, monkeypatch
) -> None:
    """Its lock file's name is near the 255 characters a folder allows a name: the files bpxl
    writes on the way (a sign of life, a gone holder's file moved aside) must fit too."""
    book = tmp_path / f"{'Q4 invoices ' * 19}.xlsx"  # 233 characters; its lock file's, 248
    book.write_bytes(b"a workbook")
    path = holder(book, **ENDED)
    with folder_lock.hold(book, "push", STARTED) as notes:
        assert "but its process has ended, so bpxl took over" in notes[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [book.name]
    monkeypatch.setattr(folder_lock, "HEARTBEAT_S", 0.02)
    with folder_lock.hold(book, "push", STARTED):
        next_beat(path, json.loads(path.read_text(encoding="utf-8")))
        assert sorted(p.name for p in tmp_path.iterdir()) == [book.name, path.name]
