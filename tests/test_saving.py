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

from .conftest import read_sheet, short_of_room, write_invoices

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


def test_room_is_proved_to_the_byte_and_refused_in_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bpxl.core.errors import StorageError

    book = write_invoices(tmp_path / "book.xlsx", [GOOD])
    bigger = tmp_path / "source.csv"
    bigger.write_bytes(b"x" * 3_000_000)
    need = saving.room_needed(book, 1000, like=bigger)
    assert need == book.stat().st_size + 3_000_000 + 1000 * saving.ROW_BYTES + saving.SLACK_BYTES
    short_of_room(monkeypatch, tmp_path.resolve(), need)
    saving.prove_room(book, 1000, like=bigger)  # exactly enough
    short_of_room(monkeypatch, tmp_path.resolve(), need - 1)
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


class _Frozen(dt.datetime):
    """A clock stopped at 2026-11-28 09:30:12, for backups taken within one second."""

    @classmethod
    def now(cls, tz: dt.tzinfo | None = None) -> _Frozen:
        return cls(2026, 11, 28, 9, 30, 12)


def _versions(book: Path, count: int) -> list[Path]:
    """``count`` backups of ``book``, each of a different version of it."""
    made = []
    for number in range(count):
        book.write_bytes(b"version %d" % number)
        made.append(saving.backup(book))
    return made


def test_backups_taken_within_one_second_are_numbered_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(saving.dt, "datetime", _Frozen)
    book = tmp_path / "inv.xlsx"
    made = _versions(book, 3)
    assert [p.name for p in made] == [
        "inv 2026-11-28 093012.xlsx",
        "inv 2026-11-28 093012 (2).xlsx",
        "inv 2026-11-28 093012 (3).xlsx",
    ]
    assert [p.read_bytes() for p in saving.backups(book)] == [
        b"version 0",
        b"version 1",
        b"version 2",
    ]
    assert {saving.taken_at(p) for p in made} == {dt.datetime(2026, 11, 28, 9, 30, 12)}
    made += _versions(book, 9)  # (10) comes after (9), not after (1)
    assert saving.backups(book) == made[-saving.BACKUPS_KEPT :]
    assert made[-1].name == "inv 2026-11-28 093012 (12).xlsx"
    assert made[-1].read_bytes() == b"version 8"


def test_a_workbook_changed_within_its_size_and_time_is_backed_up_again(tmp_path: Path) -> None:
    """Whether the workbook changed since its last backup is judged on its bytes: a save of the
    same size within the clock's resolution (or a restored time stamp) is a new version too."""
    book = tmp_path / "inv.xlsx"
    book.write_bytes(b"amount 100")
    first = saving.backup(book)
    size = book.stat().st_size
    assert saving.room_needed(book, 0) == saving.SLACK_BYTES + size  # the new file only
    book.write_bytes(b"amount 900")
    os.utime(book, ns=(first.stat().st_atime_ns, first.stat().st_mtime_ns))
    assert saving.room_needed(book, 0) == saving.SLACK_BYTES + 2 * size  # a copy and the file
    second = saving.backup(book)
    assert second != first and second.read_bytes() == b"amount 900"
    assert [p.read_bytes() for p in saving.backups(book)] == [b"amount 100", b"amount 900"]


def test_room_needed_counts_the_backup_the_new_file_and_each_rows_results(tmp_path: Path) -> None:
    rows, slack = 10 * saving.ROW_BYTES, saving.SLACK_BYTES
    book = tmp_path / "inv.xlsx"
    assert saving.room_needed(book, 10) == rows + slack  # nothing there yet: only the results
    missing = tmp_path / "gone.csv"
    assert saving.room_needed(book, 10, like=missing) == rows + slack
    book.write_bytes(b"x" * 1000)
    assert saving.room_needed(book, 10) == 2000 + rows + slack  # a backup and the new file
    source = tmp_path / "source.csv"
    source.write_bytes(b"y" * 300)
    assert saving.room_needed(book, 10, like=source) == 1300 + rows + slack
    saving.backup(book)
    assert saving.room_needed(book, 10) == 1000 + rows + slack  # backed up as it is already
    assert saving.room_needed(book, 0, like=source) == 300 + slack


def _without_tidying(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run killed outright: its ``finally`` never removes its temporary file."""
    monkeypatch.setattr(saving.os, "remove", lambda path: None)


def test_the_leftovers_of_a_killed_backup_and_save_go_with_the_next_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = tmp_path / "inv.xlsx"
    book.write_bytes(b"version 0")
    other = tmp_path / "inv 2024.xlsx"  # another workbook's leftovers stay
    other.write_bytes(b"other")
    folder = saving.backup_folder(book)
    folder.mkdir()
    theirs = [folder / ".inv 2024_backup.a1.xlsx", tmp_path / ".inv 2024_save.a1.xlsx"]
    for leftover in theirs:
        leftover.write_bytes(b"theirs")

    def killed(*_: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        _without_tidying(patched)
        patched.setattr(saving.shutil, "copy2", killed)
        with pytest.raises(KeyboardInterrupt):
            saving.backup(book)
        with pytest.raises(KeyboardInterrupt):
            saving.save(book, killed)
    [left_copy] = [p for p in folder.iterdir() if p not in theirs]
    [left_save] = [p for p in tmp_path.iterdir() if p.name.startswith(".inv_")]
    assert left_copy.name.startswith(".inv_backup.") and left_copy.suffix == ".xlsx"
    assert left_save.name.startswith(".inv_save.") and left_save.suffix == ".xlsx"
    assert saving.backups(book) == []  # a copy cut short is no backup
    copy = saving.backup(book)
    assert sorted(folder.iterdir()) == sorted([copy, theirs[0]])
    saving.save(book, lambda temporary: temporary.write_bytes(b"version 1"))
    assert not left_save.exists() and theirs[1].exists() and book.read_bytes() == b"version 1"


def _replace_refused(
    monkeypatch: pytest.MonkeyPatch, target: Path, error: OSError, also: Path | None = None
) -> None:
    """``os.replace`` onto ``target`` (and ``also``) fails with ``error``, as a rename onto a
    workbook open in Excel does on Windows."""
    real = os.replace

    def replace(source: object, destination: object) -> None:
        if Path(str(destination)) in (target, also):
            raise error
        real(source, destination)  # type: ignore[arg-type]

    monkeypatch.setattr(saving.os, "replace", replace)


@pytest.mark.parametrize("named", ["workbook", "temporary", "nothing"])
def test_a_workbook_locked_while_saved_keeps_the_results_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, named: str
) -> None:
    from bpxl.core.errors import WorkbookLockedError

    book = tmp_path / "Q4 book.xlsx"
    book.write_bytes(b"before")
    written: list[Path] = []

    def write(temporary: Path) -> None:
        written.append(temporary)
        temporary.write_bytes(b"results")

    def refused(temporary: Path) -> None:
        write(temporary)
        filename = {"workbook": str(book), "temporary": str(temporary), "nothing": None}[named]
        raise PermissionError(13, "Permission denied", filename)

    if named == "workbook":
        _replace_refused(monkeypatch, book, PermissionError(13, "Permission denied", str(book)))
        to_write = write
    else:
        to_write = refused
    with pytest.raises(WorkbookLockedError) as locked:
        saving.save(book, to_write)
    assert locked.value.message == "Q4 book.xlsx was locked when bpxl tried to save the results."
    assert locked.value.hint == (
        "The results were saved in Q4 book.results.xlsx; close Q4 book.xlsx and copy them over."
    )
    assert book.read_bytes() == b"before"
    assert (tmp_path / "Q4 book.results.xlsx").read_bytes() == b"results"
    assert not written[0].exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Q4 book.results.xlsx", "Q4 book.xlsx"]


def _refused_in_words(error: pytest.ExceptionInfo[Exception], what: str, folder: Path) -> None:
    from bpxl.core.errors import StorageError

    assert isinstance(error.value, StorageError)
    assert error.value.message == what
    assert error.value.hint == (
        f"Free some space, or make {folder} writable, then run again. After a push that sent "
        "rows, run `bpxl recover book.xlsx`: it writes what happened to each row."
    )


def test_a_save_that_fails_leaves_the_old_file_whole_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    book = tmp_path / "book.xlsx"
    book.write_bytes(b"before")

    def full(temporary: Path) -> None:
        temporary.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device", str(temporary))

    with pytest.raises(Exception) as refused:
        saving.save(book, full)
    _refused_in_words(refused, "bpxl could not save book.xlsx: the disk is full.", tmp_path)
    assert book.read_bytes() == b"before" and [p.name for p in tmp_path.iterdir()] == ["book.xlsx"]

    def other(temporary: Path) -> None:  # a file the write reads, not the workbook, refused
        raise PermissionError(13, "Permission denied", str(tmp_path / "template.xlsx"))

    with pytest.raises(Exception) as refused:
        saving.save(book, other)
    what = (
        "bpxl could not save book.xlsx: you may not write there (or the file is open in another "
        "program)."
    )
    _refused_in_words(refused, what, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["book.xlsx"]

    side = book.with_name("book.results.xlsx")
    locked = PermissionError(13, "Permission denied", str(book))
    _replace_refused(monkeypatch, book, locked, also=side)  # nor beside it
    with pytest.raises(Exception) as refused:
        saving.save(book, lambda temporary: temporary.write_bytes(b"results"))
    _refused_in_words(refused, what, tmp_path)
    assert book.read_bytes() == b"before" and [p.name for p in tmp_path.iterdir()] == ["book.xlsx"]


def test_a_folder_that_is_gone_or_takes_no_backup_is_said_in_words(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    with pytest.raises(Exception) as refused:
        saving.save(gone / "book.xlsx", lambda temporary: temporary.write_bytes(b"x"))
    _refused_in_words(refused, "bpxl could not save book.xlsx: no such file or directory.", gone)
    book = tmp_path / "book.xlsx"
    book.write_bytes(b"before")
    saving.backup_folder(book).write_text("a file where the backups go")
    with pytest.raises(Exception) as refused:
        saving.backup(book)
    _refused_in_words(refused, "bpxl could not back up book.xlsx: file exists.", tmp_path)
    with pytest.raises(Exception) as refused:
        saving.prove_room(book, 10)  # the workbook's folder takes files; its backup folder not
    assert refused.value.args[0].startswith(f"bpxl could not write into {tmp_path}: ")


@pytest.mark.skipif(not hasattr(os, "chown") or os.geteuid() != 0, reason="needs root's chown")
def test_a_saved_workbook_keeps_its_mode_and_owner(tmp_path: Path) -> None:
    """A temporary file is its maker's and private; a shared workbook must stay its owner's and
    readable by colleagues after another user saved it."""
    book = tmp_path / "shared.xlsx"
    book.write_bytes(b"before")
    os.chmod(book, 0o664)
    os.chown(book, 1234, 2345)
    saving.save(book, lambda temporary: temporary.write_bytes(b"after"))
    info = book.stat()
    assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o664, 1234, 2345)
    assert book.read_bytes() == b"after"
    new = tmp_path / "new.xlsx"
    saving.save(new, lambda temporary: temporary.write_bytes(b"new"))
    assert new.read_bytes() == b"new" and stat.S_IMODE(new.stat().st_mode) == 0o600


def test_a_restore_puts_back_even_the_oldest_backup_which_it_pushes_out(tmp_path: Path) -> None:
    book = tmp_path / "book.xlsx"
    made = _versions(book, saving.BACKUPS_KEPT)
    book.write_bytes(b"now")
    kept = saving.restore(book, made[0])
    assert book.read_bytes() == b"version 0"
    assert kept is not None and kept.read_bytes() == b"now"
    assert saving.backups(book) == [*made[1:], kept] and not made[0].exists()


def test_a_workbook_changed_back_to_an_older_version_is_backed_up_again(tmp_path: Path) -> None:
    """Only the last backup counts as "unchanged since": a workbook whose bytes went back to an
    earlier backup's is a new version after the last one, and gets its own copy."""
    book = tmp_path / "inv.xlsx"
    first, second = _versions(book, 2)
    book.write_bytes(b"version 0")
    third = saving.backup(book)
    assert third not in (first, second) and third.read_bytes() == b"version 0"


def test_what_cannot_be_tidied_or_given_back_does_not_stop_a_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder named like a leftover, an old backup that will not go, an owner that may not be
    given back (a colleague's workbook): the save and the backup still happen."""
    book = tmp_path / "inv.xlsx"
    (tmp_path / ".inv_save.stuck.xlsx").mkdir()
    made = _versions(book, saving.BACKUPS_KEPT)
    made[0].unlink()
    made[0].mkdir()  # the oldest backup, kept open elsewhere: it cannot be removed
    (saving.backup_folder(book) / ".inv_backup.stuck.xlsx").mkdir()

    def refused(*_: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(saving.os, "chown", refused)
    book.write_bytes(b"new")
    copy = saving.backup(book)
    saving.save(book, lambda temporary: temporary.write_bytes(b"saved"))
    assert book.read_bytes() == b"saved" and copy.read_bytes() == b"new"
    assert made[0].is_dir() and (tmp_path / ".inv_save.stuck.xlsx").is_dir()


def test_the_room_refused_is_said_in_megabytes_rounded_as_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bpxl.core.errors import StorageError

    book = tmp_path / "new.xlsx"  # none yet: the new file only
    source = tmp_path / "source.csv"
    source.write_bytes(b"x" * (1_050_001 - saving.SLACK_BYTES))  # 1.050001 MB needed
    short_of_room(monkeypatch, tmp_path.resolve(), 1_050_000)  # a byte short
    with pytest.raises(StorageError) as refused:
        saving.prove_room(book, 0, like=source)
    assert refused.value.message.startswith(
        "The disk holding new.xlsx has 1.1 MB free; writing the results back needs about 1.1 MB"
    )
