"""core.room on its own: a folder proved writable by a probe file that is synced and removed,
and the room its disk has (the pushes refused for want of room are in test_hostile_files.py)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from bpxl.core import room


def test_the_probe_is_written_synced_and_removed_and_the_free_room_told(
    tmp_path: Path, monkeypatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        synced.append(os.fstat(descriptor).st_size)  # its 4 bytes, flushed before the sync
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    (tmp_path / "kept.txt").write_text("the user's", encoding="utf-8")
    free = room.free_after_probe(tmp_path)
    assert synced == [4]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.txt"]  # the probe is gone
    assert abs(free - shutil.disk_usage(tmp_path).free) < 64 * 1024 * 1024


def test_a_missing_folder_is_made_with_its_parents(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "journal"
    assert room.free_after_probe(folder) > 0
    assert folder.is_dir() and list(folder.iterdir()) == []
    assert room.free_after_probe(folder) > 0  # and one already there is used as it is


def test_a_folder_that_cannot_be_made_raises_oserror(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")
    with pytest.raises(OSError):
        room.free_after_probe(tmp_path / "file" / "folder")


def test_probes_at_once_do_not_meet(tmp_path: Path, monkeypatch) -> None:
    """Two bpxl pushing into one folder at once each write their own probe ("x": never one
    another's)."""
    names: list[str] = []
    real_open = Path.open

    def open_(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        names.append(self.name)
        return real_open(self, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_)
    room.free_after_probe(tmp_path)
    room.free_after_probe(tmp_path)
    assert len(set(names)) == 2
    assert all(n.startswith(".bpxl-probe-") and len(n) == len(".bpxl-probe-") + 8 for n in names)
