"""Recovery attacked the way an accountant would by accident: edits, copies, duplicates and
second runs between a killed push and ``bpxl recover``, each checked against the promises (no
invoice twice, every row a definite status, no Id on a row it does not belong to, no user cell
changed, no secret), counting invoices on the sandbox against rows where a server is involved."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from bpxl.cli import EXIT_STOPPED
from bpxl.core import journal, profiles, recover
from bpxl.core.client import Client
from bpxl.core.connection import journal_dir
from bpxl.core.journal import Journal, Target, record_hash
from bpxl.core.push import PushOptions, plan
from bpxl.core.records import RowPlan, plan_row, read_layout
from bpxl.core.results import Operation, Outcome, RowResult
from bpxl.excel.range_io import read_block
from bpxl.sandbox import FaultPlan

from .conftest import read_sheet, write_invoices
from .fake_xlwings import book_from_rows, press
from .processes import assert_one_invoice_per_row, bpxl, invoices, push, sent_rows, wait_for
from .test_excel import excel_book_like
from .test_recover import grid, killed_create
from .test_safety import rows_of


def test_a_file_name_replaced_in_every_row_leaves_each_row_found_by_the_rest(
    tmp_path: Path,
) -> None:
    """A find-and-replace over the only column whose values are rare (every file name), then a
    sort: each row still holds its date and interval together, values each shared by dozens of
    rows. Only rows sharing a rare value used to be scored, so all 3,000 were left unplaced, and
    the next create would have sent every one of them again."""

    def row(n: int) -> list[object]:
        due = f"2026-{1 + n % 12:02}-{1 + n % 28:02}"  # 84 dates, one per 36 rows
        return ["", str(101 + n % 4), ("Pending", "Approved")[n % 2], due, n // 84, f"{n}.pdf", ""]

    rows = [row(n) for n in range(3000)]
    run = killed_create(tmp_path, rows, answered=3000)
    now = [[*r[:5], str(r[5]).upper(), r[6]] for r in reversed(rows)]
    recovery = recover.recover(run, grid(now), None)
    assert recovery.unplaced == []
    ids = {str(now[r.row - 2][5]): r.id for r in recovery.results}
    assert ids == {f"{n}.PDF": str(n + 1) for n in range(3000)}


def test_rows_alike_but_for_an_edited_file_name_are_named_not_given_a_guessed_id(
    tmp_path: Path,
) -> None:
    """Two pairs of invoices alike but for their file names, and one unlike any; every file
    name then replaced and the sheet sorted. Each of a pair resembles both rows of its pair
    equally: the Ids were handed out by nearness (a guess; with 3,000 such rows, 2,220 got
    their twin's). Now the pairs are named to the user; the odd row is still found."""
    rows = [
        ["", "101", "Pending", "2026-04-01", 30, "a.pdf", ""],
        ["", "102", "Approved", "2026-05-02", 45, "b.pdf", ""],
        ["", "101", "Pending", "2026-04-01", 30, "c.pdf", ""],
        ["", "102", "Approved", "2026-05-02", 45, "d.pdf", ""],
        ["", "103", "Closed", "2026-06-03", 60, "e.pdf", ""],
    ]
    run = killed_create(tmp_path, rows, answered=5)
    now = [[*r[:5], str(r[5]).upper(), r[6]] for r in reversed(rows)]
    recovery = recover.recover(run, grid(now), None)
    assert recovery.unplaced == [2, 3, 4, 5]
    assert [(r.row, r.id) for r in recovery.results] == [(2, "5")]


def _rows(count: int) -> list[dict[str, object]]:
    """Rows told apart by every field, each with its own file name (the invoices' key here)."""
    return [
        {
            "BillingProfileId": str(101 + n),
            "DueDate": f"2026-{1 + n % 12:02}-{10 + n:02}",
            "AgingInterval": 30 + n,
            "FileName": f"f{n}.pdf",
        }
        for n in range(count)
    ]


def _journal(book: Path, url: str, op: Operation) -> tuple[Journal, list[RowPlan]]:
    """The journal of a push of ``op`` over every row of ``book``, its rows planned."""
    header, *values = openpyxl.load_workbook(book).worksheets[0].iter_rows(values_only=True)
    layout = read_layout(header)
    plans = [plan_row(layout, n, v, op, "Id") for n, v in enumerate(values, 2)]
    log = Journal(
        journal_dir(), workbook=book, sheet="Invoices", op=op, external_id="Id", target=Target(url)
    )
    log.planned({p.row: record_hash(p.record) for p in plans})
    return log, plans


def _crash_create(book: Path, url: str, answered: int, stored: int) -> dict[int, str]:
    """A create push of every row of ``book`` killed mid-way, as its journal and the server are
    left: all rows sent in one batch; the first ``answered`` answered Created, the next
    ``stored`` saved by the server with their answer lost, the rest lost on the way. Returns the
    Ids the server gave, by sheet row."""
    log, plans = _journal(book, url, Operation.CREATE)
    with Client(url, username="demo", password="demo") as client:
        log.sending([p.row for p in plans], client.server_now(), {p.row: p.record for p in plans})
        saved = client.write(Operation.CREATE, [p.record for p in plans[: answered + stored]])
    ids = {p.row: str(r.id) for p, r in zip(plans, saved, strict=False)}
    assert len(ids) == answered + stored and all(ids.values())
    log.answered(RowResult(p.row, Outcome.CREATED, ids[p.row], []) for p in plans[:answered])
    log.close()  # killed here
    return ids


def _edit(book: Path, change: Callable[[list[list[object]]], list[list[object]]]) -> None:
    """The user's edits in Excel: ``change`` gets the data rows as lists and returns them."""
    workbook = openpyxl.load_workbook(book)
    table = workbook.worksheets[0]
    rows = [list(r) for r in table.iter_rows(min_row=2, values_only=True)]
    rows = change(rows)
    table.delete_rows(2, table.max_row)
    for number, values in enumerate(rows, 2):
        for column, value in enumerate(values, 1):
            table.cell(number, column).value = value
    workbook.save(book)


def _column(book: Path, name: str) -> int:
    header = next(openpyxl.load_workbook(book).worksheets[0].iter_rows(values_only=True))
    return list(header).index(name)


def _stored(url: str) -> Counter[str]:
    """How many invoices the server holds for each file name."""
    with Client(url, username="demo", password="demo") as client:
        return Counter(str(r["FileName"]) for r in client.query("SELECT Id, FileName FROM INVOICE"))


def _login(url: str) -> list[str]:
    return ["--url", url, "--username", "demo"]


def _create(run: Callable[..., tuple[int, str, str]], book: Path, url: str, says: str = "") -> None:
    """``bpxl push BOOK --op create``, which must succeed and say ``says``."""
    code, out, err = run("push", book, "--op", "create", *_login(url))
    assert code == 0 and says in out, out + err


def test_a_row_copied_before_its_original_was_edited_does_not_take_its_id(
    tmp_path: Path, sandbox, run
) -> None:
    """A killed create (all three answered); the accountant copies the first invoice's row to
    the end for another file (only the file name changed), then corrects the original's date
    and interval. The copy holds more of what was sent than the original: it took the Id, recover
    said all was well, and the next create made f0.pdf twice and no f0-copy.pdf. Now the
    original is named with its Id (the copy lacks the file name only it was sent with); put
    in, the next create sends only the copy."""
    book = write_invoices(tmp_path / "book.xlsx", _rows(3))
    ids = _crash_create(book, sandbox.url, answered=3, stored=0)
    due, aging, name = (_column(book, c) for c in ("DueDate", "AgingInterval", "FileName"))

    def copy_then_correct(rows: list[list[object]]) -> list[list[object]]:
        copy = list(rows[0])
        copy[name] = "f0-copy.pdf"
        rows[0][due], rows[0][aging] = "2026-01-31", 99
        return [*rows, copy]

    _edit(book, copy_then_correct)
    code, out, err = run("recover", book, *_login(sandbox.url))
    assert code == 1 and f"row 2 (Id {ids[2]})" in out, out + err
    assert [(r["Id"], r["Result"]) for r in read_sheet(book)] == [
        (None, None),
        (ids[3], "Created"),
        (ids[4], "Created"),
        (None, None),
    ]

    def put_the_id_in(rows: list[list[object]]) -> list[list[object]]:
        rows[0][0], rows[0][-2] = ids[2], "Created"
        return rows

    _edit(book, put_the_id_in)
    _create(run, book, sandbox.url, "1 row: 1 created")
    assert _stored(sandbox.url) == {"f0.pdf": 1, "f0-copy.pdf": 1, "f1.pdf": 1, "f2.pdf": 1}


def test_identical_rows_in_flight_then_sorted_get_one_invoice_each(
    tmp_path: Path, sandbox, run
) -> None:
    """Two identical rows (the same invoice wanted twice) both saved, their answers lost, then
    the sheet sorted backwards: each is found on the server, with its own Id."""
    twin = _rows(1)[0]
    book = write_invoices(tmp_path / "book.xlsx", [twin, *_rows(3)[1:], dict(twin)])
    ids = _crash_create(book, sandbox.url, answered=1, stored=3)
    _edit(book, lambda rows: rows[::-1])
    code, out, err = run("recover", book, *_login(sandbox.url))
    assert code == 0, out + err
    sheet = read_sheet(book)
    assert [r["Result"] for r in sheet] == ["Created"] * 4
    assert sorted(r["Id"] for r in sheet) == sorted(ids.values())
    _create(run, book, sandbox.url, "0 rows: 0 created")
    assert _stored(sandbox.url) == {"f0.pdf": 2, "f1.pdf": 1, "f2.pdf": 1}


def test_a_row_edited_into_a_copy_of_another_sent_row_is_named_not_given_an_id(
    tmp_path: Path, sandbox, run
) -> None:
    """Both rows created; then the second is pasted over with the first's values. It is not the
    first invoice (that row is still there) nor, by its values, the second: recover names the
    second invoice's Id for the user to place and marks nothing on the pasted row."""
    book = write_invoices(tmp_path / "book.xlsx", _rows(2))
    ids = _crash_create(book, sandbox.url, answered=2, stored=0)
    _edit(book, lambda rows: [rows[0], list(rows[0])])
    code, out, err = run("recover", book, *_login(sandbox.url))
    assert code == 1 and f"row 3 (Id {ids[3]})" in out, out + err
    first, pasted = read_sheet(book)
    assert (first["Result"], first["Id"]) == ("Created", ids[2])
    assert pasted["Id"] is None and pasted["Result"] is None


def _user_cells(book: Path) -> list[dict[str, object]]:
    """Every cell the user owns (all but Id, Result and Message), row by row."""
    return [
        {k: v for k, v in row.items() if k not in ("Id", "Result", "Message")}
        for row in read_sheet(book)
    ]


def test_recover_twice_and_of_a_copy_then_the_original_sends_nothing_twice(
    tmp_path: Path, sandbox, run
) -> None:
    """A killed create (one row answered, one saved unanswered, one lost); the book copied
    before anything was recovered. The original is recovered, twice, and its lost row sent
    again; then the copy is pushed (refused), recovered and pushed: one invoice per file name."""
    book = write_invoices(tmp_path / "book.xlsx", _rows(3))
    ids = _crash_create(book, sandbox.url, answered=1, stored=1)
    copy = tmp_path / "copy.xlsx"
    copy.write_bytes(book.read_bytes())
    cells = _user_cells(book)
    code, out, err = run("recover", book, *_login(sandbox.url))
    assert code == 1 and "1 failed" in out, out + err  # the lost row: send it again
    recovered = book.read_bytes()
    code, out, err = run("recover", book, *_login(sandbox.url))
    assert code == 0 and out.startswith("Nothing to recover"), out + err
    assert book.read_bytes() == recovered
    _create(run, book, sandbox.url, "1 row: 1 created")
    assert _user_cells(book) == cells
    code, out, err = run("push", copy, "--op", "create", *_login(sandbox.url))
    assert code == 2 and "Nothing was sent" in err, out + err
    code, out, err = run("recover", copy, *_login(sandbox.url))
    assert code in (0, 1) and "edited or deleted" not in out, out + err
    code, out, err = run("push", copy, "--op", "create", *_login(sandbox.url))
    assert "0 created" in out, out + err
    assert _stored(sandbox.url) == {"f0.pdf": 1, "f1.pdf": 1, "f2.pdf": 1}
    for path in (book, copy):
        sheet = read_sheet(path)
        assert [r["Result"] for r in sheet] == ["Created"] * 3, path
        assert [r["Id"] for r in sheet[:2]] == [ids[2], ids[3]]
        assert _user_cells(path) == cells
    assert sheet[2]["Id"] == read_sheet(book)[2]["Id"]


def test_a_killed_push_then_every_sent_row_edited_and_sorted(
    tmp_path: Path, make_sandbox, run
) -> None:
    """A real push killed mid-way (SIGKILL, batches out, one in flight), then every row it sent
    edited (its interval) and the sheet sorted backwards. The values it kept hold no secret;
    recover gives every row a status and takes the kept values away; the next create sends the
    rest: one invoice per row, each row holding its own."""
    sandbox = make_sandbox(faults=["latency:200ms"])
    book = write_invoices(tmp_path / "book.xlsx", rows_of(60))
    pusher = push(book, sandbox.url, "--batch-size", "10")
    wait_for(sent_rows(30))
    os.kill(pusher.pid, signal.SIGKILL)
    out, err = pusher.communicate()
    [crashed] = journal.unfinished(journal_dir())
    kept = journal.sent_path(crashed.path)
    text = kept.read_text(encoding="utf-8") + crashed.path.read_text(encoding="utf-8")
    assert len(crashed.sent_records) >= 30
    aging = _column(book, "AgingInterval")
    sent = set(crashed.sent)

    def edit_sent_then_sort(rows: list[list[object]]) -> list[list[object]]:
        for number, values in enumerate(rows, 2):
            if number in sent:
                values[aging] = int(str(values[aging])) + 1000
        return rows[::-1]

    _edit(book, edit_sent_then_sort)
    cells = _user_cells(book)
    code, out2, err2 = run("recover", book, *_login(sandbox.url))
    assert code == 1, out2 + err2  # the rows never sent are Failed: "send it again"
    assert "edited or deleted" not in out2, out2
    assert not kept.exists()
    code, out3, err3 = run("push", book, "--op", "create", *_login(sandbox.url))
    assert code == 0, out3 + err3
    assert _user_cells(book) == cells
    assert_one_invoice_per_row(book, sandbox.url, 60)
    for secret in ["demo", *sandbox.sandbox.issued]:
        for shown in (text, out, err, out2, err2, out3, err3):
            assert secret not in shown


def _crash(book: Path, url: str, op: Operation, reached: int) -> None:
    """A push of ``op`` over every row of ``book`` killed with all rows sent and no answer kept;
    the server got the first ``reached`` of them."""
    log, plans = _journal(book, url, op)
    with Client(url, username="demo", password="demo") as client:
        log.sending([p.row for p in plans], client.server_now(), {p.row: p.record for p in plans})
        client.write(op, [p.record for p in plans[:reached]], "Id")
        log.close()


@pytest.mark.parametrize("op", [Operation.UPDATE, Operation.UPSERT])
def test_a_killed_update_then_edits_and_a_sort_keeps_each_id_on_its_row(
    tmp_path: Path, sandbox, run, op: Operation
) -> None:
    """Three invoices created; an update (or upsert) of new intervals killed with one reached;
    then the user edits another row's date and sorts. Every row is Unknown (safe to send again),
    no Id moves, no cell of the user's changes, and the next push makes the server match."""
    book = write_invoices(tmp_path / "book.xlsx", _rows(3))
    _create(run, book, sandbox.url)
    ids = {r["FileName"]: r["Id"] for r in read_sheet(book)}
    aging, due = _column(book, "AgingInterval"), _column(book, "DueDate")

    def new_intervals(rows: list[list[object]]) -> list[list[object]]:
        for values in rows:
            values[aging] = int(str(values[aging])) + 500
        return rows

    _edit(book, new_intervals)
    _crash(book, sandbox.url, op, reached=1)

    def edit_then_sort(rows: list[list[object]]) -> list[list[object]]:
        rows[2][due] = dt.datetime(2027, 1, 5)
        return rows[::-1]

    _edit(book, edit_then_sort)
    cells = _user_cells(book)
    code, out, err = run("recover", book, *_login(sandbox.url))
    assert code == 1 and "edited or deleted" not in out, out + err
    sheet = read_sheet(book)
    assert {r["FileName"]: r["Id"] for r in sheet} == ids
    assert {r["Result"] for r in sheet} == {"Unknown"}
    assert _user_cells(book) == cells
    _edit(book, lambda rows: [[*r[:-2], None, None] for r in rows])  # clears Result, Message
    code, out, err = run("push", book, "--op", op.value, *_login(sandbox.url))
    assert code == 0 and "3 rows" in out, out + err
    with Client(sandbox.url, username="demo", password="demo") as client:
        stored = list(client.query("SELECT Id, FileName, AgingInterval FROM INVOICE"))
    assert {str(r["FileName"]): (str(r["Id"]), int(r["AgingInterval"])) for r in stored} == {
        r["FileName"]: (r["Id"], r["AgingInterval"]) for r in read_sheet(book)
    }


def test_two_rows_swapping_half_their_values_are_named_not_given_each_others_ids(
    tmp_path: Path, sandbox, run
) -> None:
    """A killed create (the first row answered, the next two saved unanswered); the accountant
    swaps the dates and intervals of the first two rows. Each now holds half of its own values
    and half of the other's: neither Id goes on either row; both are named, the first with its
    Id; the third row, untouched, is found on the server."""
    book = write_invoices(tmp_path / "book.xlsx", _rows(3))
    ids = _crash_create(book, sandbox.url, answered=1, stored=2)
    due, aging = _column(book, "DueDate"), _column(book, "AgingInterval")

    def swap(rows: list[list[object]]) -> list[list[object]]:
        first, second = rows[0], rows[1]
        first[due], second[due] = second[due], first[due]
        first[aging], second[aging] = second[aging], first[aging]
        return rows

    _edit(book, swap)
    cells = _user_cells(book)
    code, out, err = run("recover", book, *_login(sandbox.url))
    assert code == 1, out + err
    assert f"2 rows were edited or deleted since sent: row 2 (Id {ids[2]}), row 3" in out
    first, second, third = read_sheet(book)
    assert first["Id"] is None and second["Id"] is None
    assert (third["Result"], third["Id"]) == ("Created", ids[4])
    assert _user_cells(book) == cells
    assert _stored(sandbox.url) == {"f0.pdf": 1, "f1.pdf": 1, "f2.pdf": 1}


@pytest.mark.parametrize("torn", [False, True])
def test_a_push_killed_between_keeping_the_values_and_sending_them(
    tmp_path: Path, sandbox, run, torn: bool
) -> None:
    """The first batch created and answered; the second batch's values kept beside the journal
    (whole, or torn mid-line) when the push was killed, before its send was written down, so
    before it went out. Its unedited row is Failed (send it again), the edited one left as the
    user made it (never sent: a new row to the next push); the next create sends both once."""
    book = write_invoices(tmp_path / "book.xlsx", _rows(4))
    log, plans = _journal(book, sandbox.url, Operation.CREATE)
    with Client(sandbox.url, username="demo", password="demo") as client:
        log.sending([2, 3], client.server_now(), {p.row: p.record for p in plans[:2]})
        saved = client.write(Operation.CREATE, [p.record for p in plans[:2]])
    log.answered(
        RowResult(p.row, Outcome.CREATED, r.id, []) for p, r in zip(plans[:2], saved, strict=True)
    )
    line = json.dumps({"rows": {str(p.row): p.record for p in plans[2:]}}, default=str)
    with journal.sent_path(log.path).open("a", encoding="utf-8") as kept:
        kept.write(line[: len(line) // 2] if torn else line + "\n")
    log.close()  # killed here
    aging = _column(book, "AgingInterval")

    def edit(rows: list[list[object]]) -> list[list[object]]:
        rows[3][aging] = 77
        return rows

    _edit(book, edit)
    code, out, err = run("recover", book, *_login(sandbox.url))
    assert code == 1 and "1 failed" in out and "edited or deleted" not in out, out + err
    assert [r["Result"] for r in read_sheet(book)] == ["Created", "Created", "Failed", None]
    assert recover.NOT_SENT in read_sheet(book)[2]["Message"]
    _create(run, book, sandbox.url, "2 created")
    assert_one_invoice_per_row(book, sandbox.url, 4)


def test_a_killed_push_of_some_rows_then_edits_inside_and_outside_them(
    tmp_path: Path, make_sandbox, run
) -> None:
    """``--rows 12-41`` killed mid-way; the accountant then edits a row it was never asked to
    send (made to resemble a sent one: its neighbour's values but its own file name) and a row
    it sent, and sorts backwards. Only rows of the push get a status; the row outside keeps no
    Id; the next create of the whole sheet makes one invoice per row."""
    sandbox = make_sandbox(faults=["latency:200ms"])
    rows = rows_of(50)
    book = write_invoices(tmp_path / "book.xlsx", rows)
    pusher = push(book, sandbox.url, "--batch-size", "5", "--rows", "12-41")
    wait_for(sent_rows(15))
    os.kill(pusher.pid, signal.SIGKILL)
    pusher.wait()
    [crashed] = journal.unfinished(journal_dir())
    assert set(crashed.planned) == set(range(12, 42))
    aging, name = _column(book, "AgingInterval"), _column(book, "FileName")

    def edit(values: list[list[object]]) -> list[list[object]]:
        outside = list(values[10 - 2])
        outside[aging] = values[12 - 2][aging]  # row 10 now shares row 12's interval
        values[10 - 2] = [*values[12 - 2][:name], outside[name], *values[12 - 2][name + 1 :]]
        values[13 - 2][aging] = 500
        return values[::-1]

    _edit(book, edit)
    cells = _user_cells(book)
    code, out, err = run("recover", book, *_login(sandbox.url))
    assert code == 1 and "edited or deleted" not in out, out + err
    sheet = {r["FileName"]: r for r in read_sheet(book)}
    pushed = {f"invoice-{n - 2:06d}.pdf" for n in range(12, 42)}
    assert {f for f, r in sheet.items() if r["Result"]} == pushed
    assert {f for f, r in sheet.items() if r["Id"]} <= pushed
    assert _user_cells(book) == cells
    _create(run, book, sandbox.url)
    assert_one_invoice_per_row(book, sandbox.url, 50)


def test_the_ribbons_recover_after_a_sort_and_edits_in_excel(
    tmp_path: Path, sandbox, run, memory_keyring
) -> None:
    """A ribbon Create killed with one row answered, two saved unanswered and one lost; in
    Excel the accountant sorts the rows backwards and edits the answered row and an unanswered
    one. Create is refused until Recover last run, which puts each Id on its own row; the next
    Create sends only the lost row."""
    run("connect", "live", "--url", sandbox.url, "--username", "demo", "--sandbox")
    profiles.set_active("live")
    header = ["Id", *_rows(1)[0], "Result", "Message"]
    data = [[None, *r.values(), None, None] for r in _rows(4)]
    book = book_from_rows(header, data, tmp_path / "book.xlsx")
    sheet = book.sheets[0]
    _, plans, _ = plan(read_block(sheet).grid([2, 3, 4, 5]), PushOptions(Operation.CREATE))
    log = Journal(
        journal_dir(),
        workbook=Path(book.fullname),
        sheet="Invoices",
        op=Operation.CREATE,
        external_id="Id",
        target=Target(sandbox.url, "live"),
    )
    log.planned({p.row: record_hash(p.record) for p in plans})
    with Client(sandbox.url, username="demo", password="demo") as client:
        log.sending([2, 3, 4, 5], client.server_now(), {p.row: p.record for p in plans})
        saved = client.write(Operation.CREATE, [p.record for p in plans[:3]])
    log.answered([RowResult(2, Outcome.CREATED, saved[0].id, [])])
    log.close()  # killed here
    aging = header.index("AgingInterval") + 1
    sheet.cells = {(7 - r if r > 1 else r, c): v for (r, c), v in sheet.cells.items()}
    sheet.cells[(5, aging)] = 90  # f0, answered
    sheet.cells[(4, aging)] = 91  # f1, saved unanswered
    before = dict(sheet.cells)
    book.app.selected = "$B$2"  # one cell: every visible row
    book.app.alert_answers = ["ok"]
    press(book, "bpxlCreate")
    assert "Recover last run" in book.app.alerts[-1][0]
    assert sandbox.sandbox.store.count() == 3
    press(book, "bpxlRecover")
    names, ids = sheet.column("FileName"), sheet.column("Id")
    assert {names[r]: ids[r] for r in range(2, 6)} == {
        "f0.pdf": saved[0].id,
        "f1.pdf": saved[1].id,
        "f2.pdf": saved[2].id,
        "f3.pdf": None,
    }
    assert sheet.column("Result")[2] == "Failed"  # f3: lost before the server saved it

    def users(cells: dict[tuple[int, int], object]) -> dict[tuple[int, int], object]:
        return {k: v for k, v in cells.items() if 1 < k[1] < len(header) - 1}

    assert users(sheet.cells) == users(before)
    sheet.cells.pop((2, len(header) - 1))  # clears f3's Result to send it again
    book.app.alert_answers = ["ok"]
    press(book, "bpxlCreate")
    assert _stored(sandbox.url) == {"f0.pdf": 1, "f1.pdf": 1, "f2.pdf": 1, "f3.pdf": 1}


def test_recover_killed_after_writing_the_workbook_runs_again_harmlessly(
    tmp_path: Path, sandbox, run
) -> None:
    """``bpxl recover`` killed after saving the workbook but before closing the journal: the
    next recover finds the rows holding Ids it did not write, changes none of them, and the
    next create sends only the row that was lost."""
    book = write_invoices(tmp_path / "book.xlsx", _rows(4))
    _crash_create(book, sandbox.url, answered=1, stored=2)
    [crashed] = journal.unfinished(journal_dir())
    values = journal.sent_path(crashed.path).read_bytes()
    code, out, err = run("recover", book, *_login(sandbox.url))
    assert code == 1 and "3 created, 0 invalid, 1 failed" in out, out + err
    first = read_sheet(book)
    # The journal as the kill left it: what recover found is in it, its last line is not.
    *lines, done = crashed.path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert '"done"' in done
    crashed.path.write_text("".join(lines), encoding="utf-8")
    journal.sent_path(crashed.path).write_bytes(values)
    code, out, err = run("recover", book, *_login(sandbox.url))
    assert read_sheet(book) == first
    assert "edited or deleted" not in out, out  # each row is found by the Id written into it
    _create(run, book, sandbox.url, "1 row: 1 created")
    assert_one_invoice_per_row(book, sandbox.url, 4)


def test_ctrl_c_during_recovers_lookup_leaves_everything_to_recover_again(
    tmp_path: Path, sandbox, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl+C while ``bpxl recover`` waits between its two lookups of a lost create: it stops
    at once, the workbook untouched and the journal and its kept values still there; the next
    recover and create make one invoice per row."""
    book = write_invoices(tmp_path / "book.xlsx", _rows(4))
    _crash_create(book, sandbox.url, answered=1, stored=2)
    before = book.read_bytes()
    monkeypatch.setenv("BPXL_LOOKUP_WAIT", "30")

    def queries() -> int:
        return sum(r["path"].endswith("/query") for r in sandbox.requests())

    asked = queries()  # the create's own (its duplicate check): the recover's come after
    recovering = bpxl("recover", book, *_login(sandbox.url))
    wait_for(lambda: queries() > asked)
    started = time.monotonic()
    recovering.send_signal(signal.SIGINT)
    out, err = recovering.communicate(timeout=30)
    assert recovering.returncode == EXIT_STOPPED and time.monotonic() - started < 5, out + err
    assert book.read_bytes() == before
    [crashed] = journal.unfinished(journal_dir())
    assert journal.sent_path(crashed.path).exists()
    monkeypatch.setenv("BPXL_LOOKUP_WAIT", "0.2")
    code, out, err = run("recover", book, *_login(sandbox.url))
    assert code == 1 and "3 created, 0 invalid, 1 failed" in out, out + err
    _create(run, book, sandbox.url, "1 row: 1 created")
    assert_one_invoice_per_row(book, sandbox.url, 4)


def test_ctrl_c_during_a_429_wait_of_a_create_sends_nothing_more(
    tmp_path: Path, make_sandbox, run
) -> None:
    """Creates answered 429 mid-push (the server processed nothing, so they wait and go again):
    a Ctrl+C during the wait ends the push at once with nothing more sent; every row is Created
    or Failed (send again), and the next create sends the rest once."""
    box = make_sandbox(faults=["latency:300ms"])
    book = write_invoices(tmp_path / "book.xlsx", rows_of(300))
    # One batch at a time: once a 429 is answered, no other request is in flight.
    pusher = bpxl("push", book, "--op", "create", *_login(box.url), "--batch-size", "10",
                  "--concurrency", "1")  # fmt: skip
    wait_for(lambda: len(box.writes()) >= 1)
    box.sandbox.config.faults = FaultPlan.parse(["429:1"], seed=1)  # and no more latency
    wait_for(lambda: any(r["status"] == 429 for r in box.writes()))
    written = len(box.writes())  # the push now waits the second the 429 asks for
    started = time.monotonic()
    pusher.send_signal(signal.SIGINT)
    out, err = pusher.communicate(timeout=30)
    # At once: the exit writes 300 rows back, which took 5.9 s on a machine loaded 25 deep; a push
    # that went on waiting out 429s would also send again, which the count below catches.
    assert pusher.returncode == EXIT_STOPPED and time.monotonic() - started < 10, out + err
    # Every request the push made was answered (and logged) at once before it could exit.
    assert len(box.writes()) == written, "a request went out after the stop"
    assert {r["Result"] for r in read_sheet(book)} == {"Created", "Failed"}
    box.sandbox.config.faults = FaultPlan.parse([], seed=1)
    _create(run, book, box.url)
    assert_one_invoice_per_row(book, box.url, 300)


def test_a_ribbon_create_closed_unsaved_then_reopened_edited_and_saved_is_refused(
    tmp_path: Path, sandbox, run, memory_keyring
) -> None:
    """A ribbon Create; Excel closed without saving (the file lacks the Ids); the accountant
    reopens it, corrects one cell and saves, then pushes it. Saved after the Create, it was
    taken for a file holding the outcomes, and all three invoices were created again; it shows
    none of the push's Ids, so it is refused, and recover writes them in (the edited row too):
    nothing is created twice."""
    run("connect", "live", "--url", sandbox.url, "--username", "demo", "--sandbox")
    profiles.set_active("live")
    path = write_invoices(tmp_path / "book.xlsx", _rows(3))
    book = excel_book_like(path)
    book.path = str(path)
    book.app.selected = "$B$2"
    book.app.alert_answers = ["ok"]
    press(book, "bpxlCreate")
    assert sandbox.sandbox.store.count() == 3
    aging = _column(path, "AgingInterval")

    def correct(rows: list[list[object]]) -> list[list[object]]:
        rows[0][aging] = 77
        return rows

    _edit(path, correct)  # reopened (no Ids: never saved), one cell corrected, saved
    code, out, err = run("push", path, "--op", "create", *_login(sandbox.url))
    assert code == 2 and "open in Excel, which was closed without saving them" in err, out
    code, out, err = run("recover", path, *_login(sandbox.url))
    # The edited row is found by the values sent, kept beside a ribbon send's journal.
    assert code == 0 and "3 created" in out and "edited or deleted" not in out, out + err
    assert [(r["Id"], r["Result"]) for r in read_sheet(path)] == [
        ("1", "Created"),
        ("2", "Created"),
        ("3", "Created"),
    ]
    _create(run, path, sandbox.url, "0 created")
    assert _stored(sandbox.url) == {"f0.pdf": 1, "f1.pdf": 1, "f2.pdf": 1}


def test_a_killed_upsert_on_id_of_old_and_new_rows_then_edits(
    tmp_path: Path, make_sandbox, run
) -> None:
    """An upsert on Id of 40 rows with Ids and 40 new ones (sent as creates, then upserts)
    killed mid-way; the accountant edits a new row and an old one and sorts backwards. After
    recover and the same upsert again: one invoice per row, each row holding its own."""
    sandbox = make_sandbox(faults=["latency:150ms"])
    book = write_invoices(tmp_path / "book.xlsx", rows_of(40))
    _create(run, book, sandbox.url)
    header = next(openpyxl.load_workbook(book).worksheets[0].iter_rows(values_only=True))
    more = [{**r, "FileName": f"new-{n}.pdf"} for n, r in enumerate(rows_of(40))]
    _edit(book, lambda rows: rows + [[r.get(str(h)) for h in header] for r in more])
    pusher = bpxl("push", book, "--op", "upsert", *_login(sandbox.url), "--batch-size", "5")
    wait_for(sent_rows(15))
    os.kill(pusher.pid, signal.SIGKILL)
    pusher.wait()
    aging = _column(book, "AgingInterval")

    def edit(rows: list[list[object]]) -> list[list[object]]:
        rows[3][aging] = 701  # an old row
        rows[43][aging] = 702  # a new one, among the first sent
        return rows[::-1]

    _edit(book, edit)
    code, out, err = run("recover", book, *_login(sandbox.url))
    assert code in (0, 1) and "edited or deleted" not in out, out + err
    code, out, err = run("push", book, "--op", "upsert", *_login(sandbox.url))
    assert code == 0, out + err
    sheet = read_sheet(book)
    stored = invoices(sandbox.url)
    assert len(sheet) == 80 == len(stored)
    assert all(stored[r["FileName"]] == r["Id"] for r in sheet)


def test_a_copy_edited_then_recovered_after_the_original_names_every_id_found(
    tmp_path: Path, sandbox, run
) -> None:
    """A killed create (two rows answered, the third saved unanswered); the book copied and two
    rows of the copy corrected; the original recovered (it finds the third invoice). The copy's
    push is refused; its recover cannot place the corrected rows (the values sent went with the
    first recovery), so it names them with their Ids, the third's too: the first recovery keeps
    what it found in the journal (it said 'no answer kept'). With the Ids put in, nothing is
    created twice."""
    book = write_invoices(tmp_path / "book.xlsx", _rows(3))
    ids = _crash_create(book, sandbox.url, answered=2, stored=1)
    copy = tmp_path / "copy.xlsx"
    copy.write_bytes(book.read_bytes())
    aging = _column(copy, "AgingInterval")

    def correct(rows: list[list[object]]) -> list[list[object]]:
        rows[1][aging], rows[2][aging] = 99, 98
        return rows

    _edit(copy, correct)
    assert run("recover", book, *_login(sandbox.url))[0] == 0
    code, out, err = run("push", copy, "--op", "create", *_login(sandbox.url))
    assert code == 2, out + err
    code, out, err = run("recover", copy)  # no connection needed: every Id is known
    assert code == 1, out + err
    assert f"row 3 (Id {ids[3]}), row 4 (Id {ids[4]})" in out

    def put_the_ids_in(rows: list[list[object]]) -> list[list[object]]:
        for values, row in zip(rows[1:], (3, 4), strict=True):
            values[0], values[-2] = ids[row], "Created"
        return rows

    _edit(copy, put_the_ids_in)
    _create(run, copy, sandbox.url, "0 created")
    assert _stored(sandbox.url) == {"f0.pdf": 1, "f1.pdf": 1, "f2.pdf": 1}


def test_a_ribbon_recover_closed_without_saving_is_not_created_again(
    tmp_path: Path, sandbox, run, memory_keyring
) -> None:
    """A command-line create killed once the server had saved its batch, unanswered; the
    accountant opens the workbook in Excel and clicks *Recover last run*, which writes the Ids
    into the open book, then closes Excel without saving. The file still lacks the Ids: a create
    of it is refused (recover first), not sent again; `bpxl recover` writes them in."""
    run("connect", "live", "--url", sandbox.url, "--username", "demo", "--sandbox")
    profiles.set_active("live")
    path = write_invoices(tmp_path / "book.xlsx", _rows(3))
    book = excel_book_like(path)
    book.path = str(path)  # Excel has this very file open
    _, plans, _ = plan(read_block(book.sheets[0]).grid([2, 3, 4]), PushOptions(Operation.CREATE))
    log = Journal(journal_dir(), workbook=path, sheet="Invoices", op=Operation.CREATE,
                  external_id="Id", target=Target(sandbox.url, "live"))  # fmt: skip
    log.planned({p.row: record_hash(p.record) for p in plans})
    with Client(sandbox.url, username="demo", password="demo") as client:
        log.sending([2, 3, 4], client.server_now(), {p.row: p.record for p in plans})
        saved = client.write(Operation.CREATE, [p.record for p in plans])
    log.close()  # killed before the answer was written anywhere
    made = {row: result.id for row, result in zip((2, 3, 4), saved, strict=True)}
    book.app.alert_answers = ["ok"]
    press(book, "bpxlRecover")
    assert {r: i for r, i in book.sheets[0].column("Id").items() if r > 1} == made
    # Excel closed without saving: the file on disk holds no Id.
    code, out, err = run("push", path, "--op", "create", *_login(sandbox.url))
    assert code == 2 and "closed without saving" in err, out + err
    assert sandbox.sandbox.store.count() == 3
    code, out, err = run("recover", path, *_login(sandbox.url))
    assert code == 0, out + err
    assert {r["_row"]: r["Id"] for r in read_sheet(path)} == made
    _create(run, path, sandbox.url, "0 created")
    assert _stored(sandbox.url) == {"f0.pdf": 1, "f1.pdf": 1, "f2.pdf": 1}
