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


def _free(monkeypatch: pytest.MonkeyPatch, folder: Path, free: int) -> None:
    """``folder``'s disk reported with ``free`` bytes free (the others as they are)."""
    import shutil

    real = shutil.disk_usage

    def usage(path: object) -> object:
        found = real(path)  # type: ignore[arg-type]
        return found._replace(free=free) if Path(str(path)).resolve() == folder else found

    monkeypatch.setattr(shutil, "disk_usage", usage)


def test_room_is_proved_to_the_byte_and_refused_in_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bpxl.core.errors import StorageError

    book = write_invoices(tmp_path / "book.xlsx", [GOOD])
    bigger = tmp_path / "source.csv"
    bigger.write_bytes(b"x" * 3_000_000)
    need = saving.room_needed(book, 1000, like=bigger)
    assert need == book.stat().st_size + 3_000_000 + 1000 * saving.ROW_BYTES + saving.SLACK_BYTES
    _free(monkeypatch, tmp_path.resolve(), need)
    saving.prove_room(book, 1000, like=bigger)  # exactly enough
    _free(monkeypatch, tmp_path.resolve(), need - 1)
    with pytest.raises(StorageError) as refused:
        saving.prove_room(book, 1000, like=bigger)
    assert refused.value.message == (
        f"The disk holding book.xlsx has {(need - 1) / 1e6:,.1f} MB free; writing the results "
        f"back needs about {need / 1e6:,.1f} MB (a backup copy and the new file). Nothing was "
        "sent."
    )
    assert refused.value.hint == (
        "Free some space on that disk (or move the file to one with room) and run again."
    )
    saving.prove_room(book, 1000)  # as large as itself: less room


def test_a_folder_that_takes_no_file_is_said_in_words(tmp_path: Path) -> None:
    from bpxl.core.errors import StorageError

    blocker = tmp_path / "not a folder"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(StorageError) as refused:
        saving.prove_room(blocker / "book.xlsx", 10)
    assert refused.value.message.startswith(f"bpxl could not write into {blocker}: ")
    assert refused.value.hint == (
        f"Free some space, or make {blocker} writable, then run again. After a push that sent "
        "rows, run `bpxl recover book.xlsx`: it writes what happened to each row."
    )


def test_a_backup_is_restored_where_the_workbook_is_gone(tmp_path: Path) -> None:
    book = write_invoices(tmp_path / "book.xlsx", [GOOD])
    copy = saving.backup(book)
    data = book.read_bytes()
    book.unlink()
    assert saving.restore(book, copy) is None  # nothing to back up first
    assert book.read_bytes() == data and saving.backups(book) == [copy]
