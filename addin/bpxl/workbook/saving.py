"""Saving a workbook file safely: whole backups with history, atomic saves that keep permissions.

Why: a workbook is the user's record of what was sent. A save that dies half-way must leave the
old file whole; a backup must be a whole copy too, and one bad write followed by another run must
still leave an undamaged copy. So:

- ``backup`` copies the workbook into the ``bpxl backups`` folder next to it, under a timestamped
  name (``NAME 2026-11-28 093012.xlsx``), first to a temporary name and then renamed, so a copy
  cut short is never mistaken for a backup. The last ``BACKUPS_KEPT`` copies of each workbook are
  kept; a later run never overwrites an earlier copy.
- ``save`` writes next to the workbook (``.NAME_save.*.xlsx``), gives the new file the old one's
  permissions (and, on Windows, its attributes), then renames it over the old one.
- ``restore`` puts a backup back, after a backup of the file it replaces (``bpxl backups``).
- Temporary files that an interrupted run left behind are removed the next time the same
  workbook is saved or backed up.
- A workbook unchanged since its last backup is not copied again: a push whose write-back found
  the disk full left one, and its recovery needs no more room than the push did.
- Before a push sends anything, ``prove_room`` shows that the folder takes files and has room for
  the backup and the new file (``room_needed``); a disk that fills up meanwhile, or a drive that
  turns read-only, ends in a ``StorageError`` in plain words, the old file whole.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import filecmp
import glob
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..core import room
from ..core.errors import StorageError, WorkbookLockedError, storage_error

BACKUPS_KEPT = 5
BACKUP_FOLDER = "bpxl backups"


def backup_folder(path: Path) -> Path:
    return path.parent / BACKUP_FOLDER


def backups(path: Path) -> list[Path]:
    """The backups of ``path``, oldest first."""
    return [copy for _, copy in _stamped(path)]


def taken_at(copy: Path) -> dt.datetime:
    """When a backup was taken, from its name (local time), e.g. ``2026-11-28 09:30:12``."""
    match = _STAMP.search(copy.stem)
    assert match is not None, copy
    return dt.datetime.strptime(match.group(1), "%Y-%m-%d %H%M%S")


_STAMP = re.compile(r"(\d{4}-\d\d-\d\d \d{6})(?: \((\d+)\))?$")


def _stamped(path: Path) -> list[tuple[tuple[str, int], Path]]:
    pattern = re.compile(f"{re.escape(path.stem)} {_STAMP.pattern[:-1]}{re.escape(path.suffix)}")
    folder = backup_folder(path)
    found = []
    if folder.is_dir():
        for item in folder.iterdir():
            match = pattern.fullmatch(item.name)
            if match:
                found.append(((match.group(1), int(match.group(2) or 1)), item))
    return sorted(found)


def backup(path: Path) -> Path:
    """A whole, timestamped copy of ``path`` in its backup folder (or the last one, when
    ``path`` has not changed since); older ones beyond the last ``BACKUPS_KEPT`` are removed.
    Returns the copy's path."""
    try:
        return _backup(path)
    except OSError as error:
        raise _not_written(error, path, f"bpxl could not back up {path.name}") from None


def _backup(path: Path) -> Path:
    latest = _latest_if_unchanged(path)
    if latest is not None:
        return latest
    folder = backup_folder(path)
    folder.mkdir(exist_ok=True)
    _remove_leftovers(folder, f".{path.stem}_backup.", path.suffix)
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H%M%S")
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.stem}_backup.", suffix=path.suffix, dir=folder
    )
    os.close(handle)
    try:
        shutil.copy2(path, temporary)
        number = max((n for (when, n), _ in _stamped(path) if when == stamp), default=0) + 1
        counter = f" ({number})" if number > 1 else ""  # later than any copy of the same second
        copy = folder / f"{path.stem} {stamp}{counter}{path.suffix}"
        os.replace(temporary, copy)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
    for old in backups(path)[:-BACKUPS_KEPT]:
        with contextlib.suppress(OSError):
            old.unlink()
    return copy


def _latest_if_unchanged(path: Path) -> Path | None:
    """The last backup of ``path`` when it holds the same bytes as ``path`` now. filecmp keeps
    the answers it gave by size and modification time, which a changed workbook may share with
    its backup (a save within the clock's resolution, two seconds on a FAT drive): its cache is
    cleared first, so that the bytes are what is compared."""
    latest = backups(path)[-1:]
    filecmp.clear_cache()
    return latest[0] if latest and filecmp.cmp(path, latest[0], shallow=False) else None


def restore(path: Path, copy: Path) -> Path | None:
    """Put ``copy``, one of ``path``'s backups, in ``path``'s place, after a backup of ``path``
    as it is now (returned; None when there was no file). Read first: that backup may remove
    the oldest copy, which may be ``copy``."""
    data = copy.read_bytes()
    kept = backup(path) if path.exists() else None

    def write(temporary: Path) -> None:
        temporary.write_bytes(data)

    save(path, write)
    return kept


def save(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write`` with a temporary file next to ``path``, then put it in ``path``'s place."""
    _remove_leftovers(path.parent, f".{path.stem}_save.", path.suffix)
    try:
        handle, name = tempfile.mkstemp(
            prefix=f".{path.stem}_save.", suffix=path.suffix, dir=path.parent
        )
    except OSError as error:
        raise _not_written(error, path, f"bpxl could not save {path.name}") from None
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
        keep_permissions(path, temporary)
        os.replace(temporary, path)
    except PermissionError as error:
        if error.filename not in (str(path), str(temporary), None):
            raise _not_written(error, path, f"bpxl could not save {path.name}") from None
        kept = path.with_name(f"{path.stem}.results{path.suffix}")
        try:
            os.replace(temporary, kept)
        except OSError:
            raise _not_written(error, path, f"bpxl could not save {path.name}") from None
        raise WorkbookLockedError(
            f"{path.name} was locked when bpxl tried to save the results.",
            f"The results were saved in {kept.name}; close {path.name} and copy them over.",
        ) from None
    except OSError as error:
        raise _not_written(error, path, f"bpxl could not save {path.name}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)


# What the results of one row add to a workbook at most (measured: 9 to 10 bytes a row, packed,
# for 2,000 rows Created or Failed with a server message; test_hostile_files), and slack.
ROW_BYTES, SLACK_BYTES = 256, 1 << 20


def room_needed(path: Path, rows: int, like: Path | None = None) -> int:
    """Bytes the write-back of ``rows`` results into ``path`` needs in its folder: a backup of
    it (unless there is none to make, or the last one is this file as it is) and the new file,
    as large as ``like`` (default ``path``) and its results."""
    exists = path.exists()
    copy = path.stat().st_size if exists and _latest_if_unchanged(path) is None else 0
    source = like or path
    new = source.stat().st_size if source.exists() else 0
    return copy + new + rows * ROW_BYTES + SLACK_BYTES


def prove_room(path: Path, rows: int, like: Path | None = None) -> None:
    """Before anything is sent: ``path``'s folder and its backup folder take new files and have
    room for writing ``rows`` results back (``room_needed``); else ``StorageError``."""
    try:
        free = room.free_after_probe(path.parent)
        room.free_after_probe(backup_folder(path))
        need = room_needed(path, rows, like)
    except OSError as error:
        raise _not_written(error, path, f"bpxl could not write into {path.parent}") from None
    if free < need:
        raise StorageError(
            f"The disk holding {path.name} has {free / 1e6:,.1f} MB free; writing the results "
            f"back needs about {need / 1e6:,.1f} MB (a backup copy and the new file). Nothing was "
            "sent.",
            "Free some space on that disk (or move the file to one with room) and run again.",
        )


def _not_written(error: OSError, path: Path, what: str) -> StorageError:
    return storage_error(
        error,
        what,
        f"Free some space, or make {path.parent} writable, then run again. After a push that "
        f"sent rows, run `bpxl recover {path.name}`: it writes what happened to each row.",
    )


def keep_permissions(original: Path, new: Path) -> None:
    """Give ``new`` the permissions (and owner, where allowed) of ``original``: a temporary file
    is private to its maker, and a shared workbook must stay readable by colleagues."""
    if not original.exists():
        return
    info = original.stat()
    os.chmod(new, stat.S_IMODE(info.st_mode))
    if hasattr(os, "chown"):
        with contextlib.suppress(OSError):
            os.chown(new, info.st_uid, info.st_gid)
    if sys.platform == "win32":
        import ctypes

        attributes = getattr(info, "st_file_attributes", 0) & ~stat.FILE_ATTRIBUTE_READONLY
        if attributes:
            ctypes.windll.kernel32.SetFileAttributesW(str(new), attributes)


def _remove_leftovers(folder: Path, prefix: str, suffix: str) -> None:
    """Temporary files of a run that was killed before it could tidy up."""
    for item in folder.glob(f"{glob.escape(prefix)}*{glob.escape(suffix)}"):
        with contextlib.suppress(OSError):
            item.unlink()
