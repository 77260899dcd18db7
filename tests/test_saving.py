"""Whole backups with history, atomic saves that keep permissions, leftovers tidied up."""

from __future__ import annotations

import datetime as dt
import os
import stat
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

from bpxl.workbook import saving

from .conftest import read_sheet, write_invoices

GOOD = {"BillingProfileId": "101", "DueDate": dt.date(2024, 7, 31)}


def push(run, sandbox, path: Path, *more: object) -> tuple[int, str, str]:
    return run("push", path, *more, "--url", sandbox.url, "--username", "demo")


def test_every_write_keeps_its_own_whole_backup(tmp_path: Path, sandbox, run) -> None:
    book = write_invoices(tmp_path / "inv.xlsx", [GOOD, {"BillingProfileId": "x"}])
    original = book.read_bytes()
    push(run, sandbox, book, "--op", "create")
    push(run, sandbox, book, "--op", "create", "--dry-run")
    push(run, sandbox, book, "--op", "update", "--dry-run")
    copies = saving.backups(book)
    assert len(copies) == 3 and all(c.name.startswith("inv 2") for c in copies)
    assert original in [c.read_bytes() for c in copies]  # the copy from before the first push
    for copy in copies:
        with zipfile.ZipFile(copy) as whole:
            assert whole.testzip() is None
    assert [r["Result"] for r in read_sheet(copies[-1])] == ["Created", "Invalid"]


def test_only_the_last_few_backups_are_kept(tmp_path: Path) -> None:
    book = write_invoices(tmp_path / "inv.xlsx", [GOOD])
    other = write_invoices(tmp_path / "inv 2024.xlsx", [GOOD])
    saving.backup(other)
    made = []
    for number in range(saving.BACKUPS_KEPT + 2):
        write_invoices(
            book, [{**GOOD, "BillingProfileId": str(200 + number)}]
        )  # each save a new version
        made.append(saving.backup(book))
    assert len({p.name for p in made}) == len(made)  # none overwrote another
    assert saving.backups(book) == made[-saving.BACKUPS_KEPT :]
    assert len(saving.backups(other)) == 1  # another workbook's copy stays


def test_leftovers_of_an_interrupted_save_are_removed(tmp_path: Path, sandbox, run) -> None:
    book = write_invoices(tmp_path / "inv.xlsx", [GOOD])
    torn = tmp_path / ".inv_save.k1ll3d.xlsx"
    torn.write_bytes(b"PK\x03\x04 half a zip")
    saving.backup_folder(book).mkdir()
    torn_copy = saving.backup_folder(book) / ".inv_backup.k1ll3d.xlsx"
    torn_copy.write_bytes(b"PK\x03\x04 half a copy")
    unrelated = tmp_path / ".other_save.abc.xlsx"
    unrelated.write_bytes(b"not ours")
    code, out, _ = push(run, sandbox, book, "--op", "create")
    assert code == 0, out
    assert not torn.exists() and not torn_copy.exists() and unrelated.exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_saved_workbook_keeps_its_permissions(tmp_path: Path, sandbox, run) -> None:
    book = write_invoices(tmp_path / "shared.xlsx", [GOOD])
    os.chmod(book, 0o664)
    code, out, _ = push(run, sandbox, book, "--op", "create")
    assert code == 0, out
    assert stat.S_IMODE(book.stat().st_mode) == 0o664
    assert openpyxl.load_workbook(book).active["A2"].value  # the Id is in


def test_a_backup_cut_short_is_never_taken_for_a_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = write_invoices(tmp_path / "inv.xlsx", [GOOD])
    earlier = saving.backup(book)
    write_invoices(book, [{**GOOD, "BillingProfileId": "999"}])

    def killed(source: str, target: str) -> None:
        Path(target).write_bytes(Path(source).read_bytes()[:100])  # half a copy, then the end
        raise KeyboardInterrupt

    monkeypatch.setattr(saving.shutil, "copy2", killed)
    with pytest.raises(KeyboardInterrupt):
        saving.backup(book)
    assert saving.backups(book) == [earlier]  # only the whole copy counts as a backup
    assert [p.name for p in saving.backup_folder(book).iterdir()] == [earlier.name]


def test_a_workbook_unchanged_since_its_last_backup_is_not_copied_again(tmp_path: Path) -> None:
    """A push whose write-back found the disk full left a backup; its recovery needs no more room
    than the push did: the same file is not copied a second time."""
    book = write_invoices(tmp_path / "inv.xlsx", [GOOD])
    first = saving.backup(book)
    assert saving.backup(book) == first and saving.backups(book) == [first]
    assert saving.room_needed(book, 0) == book.stat().st_size + saving.SLACK_BYTES
    write_invoices(book, [{**GOOD, "BillingProfileId": "999"}])
    assert saving.backup(book) != first and len(saving.backups(book)) == 2
