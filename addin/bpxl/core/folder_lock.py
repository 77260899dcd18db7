"""A lock every bpxl can see: a small file beside the workbook while a command works on it.

The lock in ``writer_lock`` lives in this computer's bpxl data folder, so it keeps out a second
command of the same user on the same computer only. Two people (two Windows accounts, two laptops
on a shared or synced folder) each have their own data folder, and both would push one workbook
at once: every row twice. So, as Excel keeps its ``~$`` owner file, bpxl keeps
``<workbook>.bpxl-lock.json`` beside the workbook for the whole run, naming the user, the
computer, the command and since when, and every bpxl that sees the folder honours it. (Not a
``~$`` name, nor one ending in ``.lock`` or ``.tmp``: OneDrive and SharePoint do not sync those.)

A holder that is gone must not hold the workbook for ever, and one that still runs must never
be taken for gone:

- while it runs, the holder writes the file again every ``HEARTBEAT_S`` seconds (its sign of
  life, which a synced folder carries to the other computers);
- on the same computer, a holder whose process has ended is gone at once;
- on another computer, where the process cannot be seen, a holder is gone once its file shows no
  sign of life for ``STALE_MINUTES`` (5: far more than a heartbeat or a sync takes).

A gone holder's file is taken over, and the command says so in plain words. A folder where no
file can be written (read-only) gets no lock file: nothing can be written into that workbook
either.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from .errors import WorkbookBusyError

SUFFIX = ".bpxl-lock.json"
HEARTBEAT_S = 30.0
STALE_MINUTES = 5
SETTLE_S = 0.2  # a lock file found unreadable (being written right now) is read again after this


def lock_path(workbook: Path) -> Path:
    return workbook.with_name(workbook.name + SUFFIX)


@contextmanager
def hold(workbook: Path, command: str, started: dt.datetime) -> Iterator[list[str]]:
    """Hold ``workbook``'s lock file for the run of ``command``; yields notes for the user (a
    gone holder's lock taken over). Raises ``WorkbookBusyError`` naming a holder still there."""
    path = lock_path(workbook)
    if not workbook.exists():  # a workbook not saved yet: no folder to share
        yield []
        return
    me = _holder(command, started)
    notes = _take(path, me, workbook)
    if notes is None:  # the folder cannot be written to
        yield []
        return
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(path, me, stop), daemon=True)
    beat.start()
    try:
        yield notes
    finally:
        stop.set()
        beat.join()
        if (_read(path) or {}).get("token") == me["token"]:
            path.unlink(missing_ok=True)


def _holder(command: str, started: dt.datetime) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC).isoformat()
    return {
        "user": _user(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "process_started": started.isoformat(),
        "command": command,
        "since": now,
        "alive": now,
        "token": uuid.uuid4().hex,
    }


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no login name known (a service account)
        return "someone"


def _take(path: Path, me: dict[str, Any], workbook: Path) -> list[str] | None:
    """Create the lock file, taking over a gone holder's; None when the folder is read-only."""
    notes: list[str] = []
    for _ in range(3):
        try:
            with open(path, "xb") as handle:
                handle.write(json.dumps(me).encode())
            return notes
        except FileExistsError:
            pass
        except OSError:
            return None
        holder = _read(path)
        if holder is None:  # being written right now: look once more, a moment later
            time.sleep(SETTLE_S)
            holder = _read(path)
        try:
            changed = path.stat().st_mtime
        except OSError:  # removed since we looked (its holder finished): try again
            continue
        gone = _gone(holder, changed)
        if not gone:
            raise _busy(workbook, holder)
        _remove(path, holder)
        notes.append(_taken_over(workbook, holder, gone))
    raise _busy(workbook, _read(path))


def _read(path: Path) -> dict[str, Any] | None:
    try:
        found = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _gone(holder: dict[str, Any] | None, changed: float) -> str:
    """Why the holder is gone (empty: it may still be there), its file last changed at
    ``changed`` (a POSIX time)."""
    alive = dt.datetime.fromtimestamp(changed, dt.UTC)
    if holder is not None:
        with suppress(ValueError):
            beat = dt.datetime.fromisoformat(str(holder.get("alive")))
            alive = max(alive, beat if beat.tzinfo else beat.replace(tzinfo=dt.UTC))
        if holder.get("host") == socket.gethostname():
            pid = holder.get("pid")
            if isinstance(pid, int) and not _running(pid):
                return "its process has ended"
    silent = (dt.datetime.now(dt.UTC) - alive) // dt.timedelta(minutes=1)
    if silent >= STALE_MINUTES:
        return f"it has given no sign of life for {silent} minutes"
    return ""


def _running(pid: int) -> bool:
    """Whether a process with this id runs on this computer."""
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # pragma: no mutate block (Windows only: no test can run it here)
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return bool(kernel32.GetLastError() == 5)  # access denied: it runs, as another user
        code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _remove(path: Path, holder: dict[str, Any] | None) -> None:
    """Remove a gone holder's file, unless another bpxl took it over first (the next try to
    create the lock file then meets that one)."""
    grabbed = path.with_name(f"bpxl-lock.{uuid.uuid4().hex[:8]}.old")  # short: see _heartbeat
    try:
        os.rename(path, grabbed)
    except OSError:
        return  # another bpxl moved it first
    if holder is not None and (_read(grabbed) or {}).get("token") != holder.get("token"):
        with suppress(OSError):  # a fresh holder's file, written since we looked: put it back
            os.link(grabbed, path)  # (never over a file: a third bpxl may hold it by now)
    grabbed.unlink()


def _heartbeat(path: Path, me: dict[str, Any], stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_S):
        if (_read(path) or {}).get("token") != me["token"]:
            return  # taken over (we were thought gone): nothing of ours to keep alive
        me["alive"] = dt.datetime.now(dt.UTC).isoformat()
        # Not named after the workbook: a workbook's name may leave its lock file's only a few
        # of the 255 characters a name may have.
        fresh = path.with_name(f"bpxl-lock.{me['token'][:8]}.new")
        try:
            fresh.write_bytes(json.dumps(me).encode())
            os.replace(fresh, path)
        except OSError:
            fresh.unlink(missing_ok=True)


def _described(holder: dict[str, Any] | None) -> str:
    if holder is None:
        return "another bpxl command"
    try:
        since = dt.datetime.fromisoformat(str(holder["since"])).astimezone()
        when = since.strftime("%Y-%m-%d %H:%M")
    except (KeyError, ValueError):
        when = "a moment ago"
    return (
        f"bpxl {holder.get('command', 'push')} of {holder.get('user', 'someone')} on computer "
        f"{holder.get('host', '?')} (since {when})"
    )


def _busy(workbook: Path, holder: dict[str, Any] | None) -> WorkbookBusyError:
    return WorkbookBusyError(
        f"{workbook.name} is in use by {_described(holder)}. Nothing was read or sent.",
        "Wait until it finishes, then run again: a row it sends then shows its result, and "
        f"is not sent twice. If it no longer runs, bpxl takes over once "
        f"{lock_path(workbook).name} beside the workbook has shown no sign of life for "
        f"{STALE_MINUTES} minutes (at once on the computer it ran on); "
        "or delete that file if you are sure.",
    )


def _taken_over(workbook: Path, holder: dict[str, Any] | None, why: str) -> str:
    return (
        f"{workbook.name} was held by {_described(holder)}, but {why}, so bpxl took over. If "
        "that command stopped mid-way, rows it sent without a result are looked up before "
        "anything is sent again."
    )
