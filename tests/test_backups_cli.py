"""`bpxl backups`: list a file's backups, restore one (the current file kept as a backup first),
refused for a backup that lacks the Ids of invoices a push created."""

from __future__ import annotations

import datetime as dt
import shlex
from pathlib import Path

import openpyxl

from bpxl.workbook import saving

from .conftest import read_sheet, write_invoices

GOOD = {"BillingProfileId": "101", "DueDate": dt.date(2024, 7, 31)}


def connect(sandbox) -> list[str]:
    return ["--url", sandbox.url, "--username", "demo"]


def _note(path: Path, text: str) -> None:
    book = openpyxl.load_workbook(path)
    book.worksheets[0]["Z1"] = text
    book.save(path)


def test_list_and_restore_a_backup_keeping_the_current_file(
    tmp_path: Path, run, monkeypatch
) -> None:
    book = write_invoices(tmp_path / "Q4 ventes été.xlsx", [GOOD])
    code, out, _ = run("backups", book)
    assert code == 0 and out.startswith("Q4 ventes été.xlsx has no backups (bpxl keeps one")
    versions = []
    for n in range(3):  # three backups, a second apart in their names
        _note(book, f"version {n}")
        versions.append(book.read_bytes())
        copy = saving.backup(book)
        stamp = dt.datetime(2026, 11, 28, 9, 30, n)
        named = copy.with_name(f"Q4 ventes été {stamp:%Y-%m-%d %H%M%S}.xlsx")
        copy.rename(named)
    _note(book, "current")
    current = book.read_bytes()

    code, out, _ = run("backups", book)
    lines = out.splitlines()
    assert (
        lines[0] == f"Backups of Q4 ventes été.xlsx, newest first (in {tmp_path / 'bpxl backups'}):"
    )
    assert lines[1].startswith("  1  2026-11-28 09:30:02 ") and lines[1].endswith(
        "Q4 ventes été 2026-11-28 093002.xlsx"
    )
    assert lines[3].startswith("  3  2026-11-28 09:30:00 ")
    assert lines[4] == f"Restore one: bpxl backups restore {shlex.quote(str(book))} NUMBER"

    code, out, _ = run("backups", "restore", book, "3")
    assert code == 0, out
    assert out.splitlines()[0] == (
        "Restored Q4 ventes été.xlsx from its backup of 2026-11-28 09:30:00 "
        "(Q4 ventes été 2026-11-28 093000.xlsx)."
    )
    assert book.read_bytes() == versions[0]
    kept = out.splitlines()[1].removeprefix("The file it replaced is kept as a backup: ")
    assert (tmp_path / "bpxl backups" / kept).read_bytes() == current
    assert len(saving.backups(book)) == 4

    code, _, err = run("backups", "restore", book, "9")
    assert code == 2 and "has no backup 9 (its backups are numbered 1 to 4)" in err
    code, out, _ = run("backups", "restore", book)  # the newest: the file just replaced
    assert code == 0 and book.read_bytes() == current

    monkeypatch.chdir(tmp_path)
    code, out, _ = run("backups")
    assert out.splitlines()[0] == f"Backups in {tmp_path / 'bpxl backups'}:"
    assert sum(line.startswith("  Q4 ventes été ") for line in out.splitlines()) == 5


def test_restore_refuses_a_backup_without_the_ids_a_push_created(
    tmp_path: Path, sandbox, run
) -> None:
    book = write_invoices(tmp_path / "inv.xlsx", [GOOD, GOOD | {"BillingProfileId": "102"}])
    assert run("push", book, "--op", "create", *connect(sandbox))[0] == 0
    ids = [r["Id"] for r in read_sheet(book)]
    pushed = book.read_bytes()
    code, _, err = run("backups", "restore", book, "1")
    assert code == 2
    assert "The backup inv " in err and f"(Ids {ids[0]}, {ids[1]}). Pushed again" in err
    assert "Nothing was restored." in err and "add --force" in err
    assert book.read_bytes() == pushed
    code, _, _ = run("backups", "restore", book, "1", "--force")
    assert code == 0 and all(r["Id"] is None for r in read_sheet(book))
