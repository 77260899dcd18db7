"""A workbook is known by what it holds, not by its path: a copy of a workbook whose push stopped is
refused until recovered, and a file saved or sorted during a push gets each result in the row that
holds what was sent (real processes, sandbox over loopback)."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import time
from pathlib import Path

import openpyxl

from bpxl.core import fields, journal, sending
from bpxl.core.client import Client
from bpxl.core.connection import journal_dir
from bpxl.core.journal import Journal, Target
from bpxl.core.push import Grid
from bpxl.core.results import Operation

from .conftest import read_sheet, write_invoices
from .processes import (
    assert_one_invoice_per_row,
    invoices,
    push,
    sandbox_process,
    sent_rows,
    wait_for,
)
from .test_safety import _reverse_rows, rows_of

ROWS = 200


def test_an_unfinished_push_is_the_workbooks_whatever_path_names_it(
    tmp_path: Path, monkeypatch
) -> None:
    """A push stopped before it sent anything shares no row with the file yet: only its path
    tells it is this workbook's. `bpxl push book.xlsx` typed in the workbook's folder, or its
    path through another folder, names the same file as the full path the journal keeps."""
    log = Journal(tmp_path, workbook=tmp_path / "book.xlsx", sheet="Invoices",
                  op=Operation.CREATE, external_id="Id", target=Target(None))  # fmt: skip
    log.planned({2: "0" * 20})
    log.close()
    run = journal.load(log.path)
    assert run is not None and not run.sent
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    grid = Grid(["Id", "BillingProfileId"], [(2, ["", "101"])])
    for typed in ("../book.xlsx", tmp_path / "book.xlsx", "../sub/../book.xlsx"):
        assert sending.belongs(run, Path(typed), grid, fields.BUILT_IN), typed
    assert not sending.belongs(run, Path("book.xlsx"), grid, fields.BUILT_IN)  # sub/book.xlsx


def test_a_copy_made_after_a_kill_is_refused_until_recovered(tmp_path: Path, run) -> None:
    book = write_invoices(tmp_path / "original.xlsx", rows_of(ROWS))
    copy = tmp_path / "copy of original.xlsx"
    with sandbox_process(tmp_path, "latency:300ms") as url:
        pusher = push(book, url, "--batch-size", "10")
        wait_for(sent_rows(40))
        os.kill(pusher.pid, signal.SIGKILL)
        pusher.wait()
        shutil.copy(book, copy)  # "Save As", or cp
        login = ["--url", url, "--username", "demo"]
        code, out, err = run("push", copy, "--op", "create", *login)
        assert code == 2, out + err
        assert "copy of original.xlsx holds rows of original.xlsx" in err
        assert f"bpxl recover {shlex.quote(str(copy))}" in err
        code, out, err = run("recover", copy, *login)
        assert code == 1, out + err  # rows never sent: Failed, send again
        assert journal.unfinished(journal_dir()) == []
        code, out, err = run("push", copy, "--op", "create", *login)
        assert code == 0, out + err
        assert_one_invoice_per_row(copy, url, ROWS)


def test_a_file_sorted_during_the_push_gets_each_id_in_its_own_row(tmp_path: Path) -> None:
    book = write_invoices(tmp_path / "sorted.xlsx", rows_of(ROWS))
    with sandbox_process(tmp_path, "latency:300ms") as url:
        pusher = push(book, url, "--batch-size", "10")
        wait_for(sent_rows(20))
        _reverse_rows(book)  # another program saves the file, rows in another order
        out, err = pusher.communicate(timeout=120)
        assert pusher.returncode == 0, out + err
        assert "was changed while bpxl was sending" in err
        assert_one_invoice_per_row(book, url, ROWS)
        assert read_sheet(book)[0]["FileName"] == f"invoice-{ROWS - 1:06d}.pdf"  # still sorted


def test_rows_edited_during_the_push_keep_the_ids_they_were_given(tmp_path: Path) -> None:
    """Two rows already sent are edited while the push runs: each keeps, in its own row, the Id
    its send got (with a word on the edits), so that it is never created again; a deleted row's
    Id is named in the message, with what to do."""
    book = write_invoices(tmp_path / "edited.xlsx", rows_of(ROWS))
    with sandbox_process(tmp_path, "latency:300ms") as url:
        pusher = push(book, url, "--batch-size", "10")
        wait_for(sent_rows(20))
        workbook = openpyxl.load_workbook(book)
        sheet = workbook.worksheets[0]
        column = [c.value for c in sheet[1]].index("FileName") + 1
        for row in (2, 3):  # the first batch: sent by now
            sheet.cell(row, column, f"edited {row}.pdf")
        sheet.delete_rows(4)  # and one deleted
        workbook.save(book)
        out, err = pusher.communicate(timeout=120)
        assert pusher.returncode == 1, out + err
        ids = invoices(url)
    said = " ".join(err.split())
    assert "1 sent row is no longer in the sheet as sent" in said, err
    assert f"row 4 (Id {ids['invoice-000002.pdf']})" in said, err
    assert "put each Id into the Id column of the row it belongs to" in said
    rows = {r["_row"]: r for r in read_sheet(book)}
    for row, name in ((2, "invoice-000000.pdf"), (3, "invoice-000001.pdf")):
        assert rows[row]["Result"] == "Created" and rows[row]["Id"] == ids[name]
        assert "Edited since it was sent" in rows[row]["Message"]


def test_a_file_moved_during_the_push_is_recovered_where_it_went(tmp_path: Path, run) -> None:
    book = write_invoices(tmp_path / "moving.xlsx", rows_of(ROWS))
    moved = tmp_path / "moved away.xlsx"
    with sandbox_process(tmp_path, "latency:300ms") as url:
        pusher = push(book, url, "--batch-size", "10")
        wait_for(sent_rows(20))
        book.rename(moved)
        out, err = pusher.communicate(timeout=120)
        assert pusher.returncode == 2, out + err
        said = " ".join(err.split())
        assert "moving.xlsx was moved, renamed or deleted while bpxl was sending" in said, err
        assert "could not be opened" not in said and "run `bpxl recover` with its new name" in said
        login = ["--url", url, "--username", "demo"]
        code, out, err = run("recover", moved, *login)
        assert code == 0, out + err
        code, out, err = run("push", moved, "--op", "create", *login)
        assert code == 0 and f"{ROWS:,} skipped: already Created" in out, out + err
        assert_one_invoice_per_row(moved, url, ROWS)


def test_rows_edited_between_a_kill_and_recover_are_never_created_twice(
    tmp_path: Path, run
) -> None:
    book = write_invoices(tmp_path / "edited.xlsx", rows_of(ROWS))
    with sandbox_process(tmp_path, "latency:1s") as url:
        login = ["--url", url, "--username", "demo"]
        pusher = push(book, url, "--batch-size", "10")
        wait_for(lambda: _answered_and_in_flight(20))
        os.kill(pusher.pid, signal.SIGKILL)
        pusher.wait()
        [stopped] = journal.unfinished(journal_dir())
        done = min(r for r, result in stopped.results.items() if result.id)
        flying = min(stopped.in_flight)
        for row in (done, flying):  # the user edits both before recovering
            _set(book, row, "AgingInterval", 77)
        time.sleep(1.5)  # what reached the server before the kill is stored (latency 1 s)
        code, out, err = run("recover", book, *login)
        assert code == 1, out + err
        sheet = {r["_row"]: r for r in read_sheet(book)}
        assert (
            sheet[done]["Result"] == "Created"
            and "Edited since it was sent" in sheet[done]["Message"]
        )
        # The row in flight is looked up as it was sent (its values are kept while the push is
        # unfinished), not as the user edited it: found, or proven absent.
        flown = sheet[flying]
        invoice = invoices(url).get(flown["FileName"])
        if invoice is not None:
            assert (flown["Result"], flown["Id"]) == ("Created", invoice), flown
            assert "Edited since it was sent" in flown["Message"]
        else:
            assert flown["Result"] == "Failed" and "Not saved" in flown["Message"], flown
        assert not list(journal_dir().glob("*.sent")), "the values sent outlive the recovery"
        code, out, err = run("push", book, "--op", "create", *login)
        assert code == 0, out + err
        assert_one_invoice_per_row(book, url, ROWS)


def _answered_and_in_flight(rows: int) -> bool:
    runs = journal.unfinished(journal_dir())
    return bool(runs) and len(runs[0].results) >= rows and bool(runs[0].in_flight)


def _set(path: Path, row: int, header: str, value: object) -> None:
    book = openpyxl.load_workbook(path)
    sheet = book.worksheets[0]
    column = [c.value for c in sheet[1]].index(header) + 1
    sheet.cell(row=row, column=column).value = value  # cell(value=None) would leave it as it was
    book.save(path)


def _kill_mid_push(book: Path, url: str) -> None:
    pusher = push(book, url, "--batch-size", "10")
    wait_for(sent_rows(40))
    os.kill(pusher.pid, signal.SIGKILL)
    pusher.wait()


def test_the_original_of_a_recovered_copy_is_refused_until_recovered(tmp_path: Path, run) -> None:
    """Killed mid-push, copied, the COPY recovered: the ORIGINAL (which holds none of the Ids) is
    refused, not pushed as if nothing had been sent; after `recover` of each file in turn, one
    invoice per row and both files hold every row's own Id."""
    book = write_invoices(tmp_path / "book.xlsx", rows_of(ROWS))
    copy = tmp_path / "copy.xlsx"
    with sandbox_process(tmp_path, "latency:300ms") as url:
        login = ["--url", url, "--username", "demo"]
        _kill_mid_push(book, url)
        shutil.copy(book, copy)
        code, out, err = run("recover", copy, *login)
        assert code == 1, out + err  # rows never sent: Failed, send again
        sent = len(invoices(url))
        code, out, err = run("push", book, "--op", "create", *login)
        said = " ".join(err.split())
        assert code == 2 and "already sent by the push started" in said, out + err
        assert (
            "whose results went into copy.xlsx" in said
            and f"bpxl recover {shlex.quote(str(book))}" in said
        )
        assert "rows 2, 3, 4" in said
        assert len(invoices(url)) == sent  # refused before anything was sent
        code, out, err = run("recover", book, *login)
        assert code == 1, out + err
        code, out, err = run("push", book, "--op", "create", *login)
        assert code == 0, out + err
        assert_one_invoice_per_row(book, url, ROWS)
        # The copy lacks what that push created: refused too, until recovered.
        code, out, err = run("push", copy, "--op", "create", *login)
        assert code == 2 and "whose results went into book.xlsx" in " ".join(err.split())
        code, out, err = run("recover", copy, *login)
        assert code == 0, out + err
        assert_one_invoice_per_row(copy, url, ROWS)
        assert [r["Id"] for r in read_sheet(copy)] == [r["Id"] for r in read_sheet(book)]


def test_a_copy_made_after_the_push_finished_is_pushed_normally(tmp_path: Path, run) -> None:
    book = write_invoices(tmp_path / "done.xlsx", rows_of(20))
    copy = tmp_path / "done copy.xlsx"
    with sandbox_process(tmp_path) as url:
        login = ["--url", url, "--username", "demo"]
        code, out, err = run("push", book, "--op", "create", *login)
        assert code == 0, out + err
        shutil.copy(book, copy)
        code, out, err = run("push", copy, "--op", "create", *login)
        assert code == 0 and "20 skipped: already Created" in out, out + err
        assert_one_invoice_per_row(copy, url, 20)


def test_a_recovered_file_cleared_on_purpose_sends_its_row_again(tmp_path: Path, run) -> None:
    """The file that holds a push's outcomes is never refused for them: a row whose Result and
    Id the user cleared is a deliberate resend, as the README says (bpxl knows the invoice was
    created: the row says Exists until the resend is pushed with --create-anyway)."""
    book = write_invoices(tmp_path / "again.xlsx", rows_of(ROWS))
    copy = tmp_path / "again copy.xlsx"
    with sandbox_process(tmp_path, "latency:300ms") as url:
        login = ["--url", url, "--username", "demo"]
        _kill_mid_push(book, url)
        shutil.copy(book, copy)
        code, out, err = run("recover", copy, *login)
        code, out, err = run("push", copy, "--op", "create", *login)
        assert code == 0, out + err
        _set(copy, 2, "Result", None)
        _set(copy, 2, "Id", None)
        code, out, err = run("push", copy, "--op", "create", *login)
        assert code == 1 and "1 exists" in out, out + err  # the invoice it made is there
        code, out, err = run("push", copy, "--op", "create", "--create-anyway", *login)
        assert code == 0 and "1 created" in out, out + err
        with Client(url, username="demo", password="demo") as client:
            names = [r["FileName"] for r in client.query("SELECT Id, FileName FROM INVOICE")]
    assert len(names) == ROWS + 1 and names.count("invoice-000000.pdf") == 2


def test_recover_of_every_push_names_a_moved_workbook_and_goes_on(tmp_path: Path, run) -> None:
    """Found by the chaos histories (seed 61): after a kill and a move, `bpxl recover` (every
    unfinished push) stopped at the old name with "There is no workbook at ..."."""
    moved = write_invoices(tmp_path / "moved.xlsx", rows_of(2))
    kept = write_invoices(tmp_path / "kept.xlsx", rows_of(2))
    for book in (moved, kept):
        log = journal.Journal(
            journal_dir(),
            workbook=book,
            sheet="Invoices",
            op=Operation.CREATE,
            external_id="Id",
            target=journal.Target("http://127.0.0.1:1/sandbox"),
        )
        log.planned({2: "never-sent", 3: "never-sent-either"})
        log.close()  # killed before anything went out
    moved.rename(tmp_path / "renamed.xlsx")
    code, out, err = run("recover")
    assert code == 1, out + err
    assert f"{tmp_path / 'moved.xlsx'} is no longer there" in " ".join(out.split())
    assert "bpxl recover NEW-NAME.xlsx" in out
    assert "kept.xlsx (push started" in out  # the other push is still recovered
    assert [Path(r.workbook).name for r in journal.unfinished(journal_dir())] == ["moved.xlsx"]
