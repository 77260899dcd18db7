"""One writer per workbook: push, pull, revert and recover hold the workbook for their whole run.

Two pushes of one workbook at once (two terminals, a double click on the ribbon while a script
runs) would send every row twice, and a recovery running beside a live push would mark its rows in
flight as "not sent". So each command takes an exclusive lock on the workbook before it reads
anything, and a second command is refused with a message saying what holds it and since when.

The lock is the operating system's (``filelock``: ``fcntl`` or ``msvcrt``), which ends with the
process that holds it: a push that was killed or whose laptop died holds nothing, and the next
command simply takes the workbook. Beside the lock, a small note says who holds it (process id,
when that process started, computer, command, since when), only for the refusal message. Locks live
in bpxl's data folder, keyed on the workbook's full path.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from . import folder_lock
from .connection import data_dir
from .errors import WorkbookBusyError

_PROCESS_STARTED = dt.datetime.now(dt.UTC)  # bpxl's modules load as the process starts


def lock_dir() -> Path:
    return data_dir() / "locks"


def _key(workbook: Path) -> str:
    return hashlib.sha256(str(Path(workbook).resolve()).encode()).hexdigest()[:20]


@contextmanager
def hold(*workbooks: Path | str, command: str) -> Iterator[list[str]]:
    """Hold every one of ``workbooks`` for the run of ``command`` (e.g. ``push``), or refuse;
    yields notes for the user (a lock file of a holder that is gone, taken over).

    Raises ``WorkbookBusyError`` naming the holder when another process holds one of them, on
    this computer or, by the lock file beside the workbook (``folder_lock``), on any other.
    """
    folder = lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    with ExitStack() as stack:
        for workbook in dict.fromkeys(Path(w).resolve() for w in workbooks):
            stack.enter_context(_hold_one(folder, workbook, command))
            notes += stack.enter_context(folder_lock.hold(workbook, command, _PROCESS_STARTED))
        yield notes


@contextmanager
def _hold_one(folder: Path, workbook: Path, command: str) -> Iterator[None]:
    key = _key(workbook)
    lock = FileLock(folder / f"{key}.lock", blocking=False)
    note = folder / f"{key}.json"
    try:
        lock.acquire()
    except Timeout:
        raise _busy(workbook, note) from None
    try:
        note.write_text(
            json.dumps(
                {
                    "workbook": str(workbook),
                    "command": command,
                    "pid": os.getpid(),
                    "process_started": _PROCESS_STARTED.isoformat(),
                    "host": socket.gethostname(),
                    "since": dt.datetime.now(dt.UTC).isoformat(),
                }
            ),
            encoding="utf-8",
        )
        yield
    finally:
        note.unlink(missing_ok=True)  # before the release: the next holder writes its own
        lock.release()


def _busy(workbook: Path, note: Path) -> WorkbookBusyError:
    what = "another bpxl command"
    try:
        holder = json.loads(note.read_text(encoding="utf-8"))
        since = dt.datetime.fromisoformat(holder["since"]).astimezone().strftime("%Y-%m-%d %H:%M")
        what = (
            f"bpxl {holder['command']} (process {holder['pid']} on {holder['host']}, since {since})"
        )
    except (OSError, ValueError, KeyError, TypeError):
        pass  # the holder is writing its note right now: the refusal stands without it
    return WorkbookBusyError(
        f"{workbook.name} is in use by {what}. Nothing was read or sent.",
        "Wait until it finishes (or stop it), then run again. If that process no longer runs, "
        "just run again: its hold ended with it.",
    )
