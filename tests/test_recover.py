"""Recovery's placement: each journal row finds its sheet row again after sorts, inserts and edits.

Most run ``core.recover`` on a journal and a grid directly (no server: every create there was
answered), so each rule of the placement is held by a fast test; the last goes through
``bpxl recover`` and the sandbox for creates whose answer was lost.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl

from bpxl.core import journal, recover
from bpxl.core.client import Client
from bpxl.core.connection import journal_dir
from bpxl.core.journal import Journal, Target, record_hash
from bpxl.core.push import Grid
from bpxl.core.records import plan_row, read_layout
from bpxl.core.results import Operation, Outcome, RowResult

from .conftest import read_sheet, write_invoices
from .processes import assert_one_invoice_per_row, invoices

AT = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
HEADER = ["Id", "BillingProfileId", "Status", "DueDate", "AgingInterval", "FileName", "Result"]
ROWS = [
    ["", "101", "Pending", "2026-04-01", 30, "a.pdf", ""],
    ["", "102", "Approved", "2026-05-02", 45, "b.pdf", ""],
    ["", "103", "Pending", "2026-06-03", 60, "c.pdf", ""],
    ["", "104", "Closed", "2026-07-04", 15, "d.pdf", ""],
]


def grid(rows: list[list[object]]) -> Grid:
    return Grid(HEADER, [(number, values) for number, values in enumerate(rows, 2)])


def killed_create(folder: Path, rows: list[list[object]], answered: int) -> journal.Run:
    """A create journal as a killed push leaves it: every row sent, the first ``answered``
    rows answered with Ids 1, 2, ..., the rest in flight."""
    log = Journal(
        folder,
        workbook=folder / "book.xlsx",
        sheet="Invoices",
        op=Operation.CREATE,
        external_id="Id",
        target=Target(None),
    )
    layout = read_layout(HEADER)
    plans = [
        plan_row(layout, row, values, Operation.CREATE, "Id") for row, values in grid(rows).rows
    ]
    log.planned({p.row: record_hash(p.record) for p in plans})
    log.sending([p.row for p in plans], AT, {p.row: p.record for p in plans})
    log.answered(
        RowResult(p.row, Outcome.CREATED, str(n), []) for n, p in enumerate(plans[:answered], 1)
    )
    log.close()
    run = journal.load(log.path)
    assert run is not None
    return run


def test_a_row_edited_and_moved_after_its_create_is_found_by_what_was_sent(tmp_path: Path) -> None:
    run = killed_create(tmp_path, ROWS, answered=4)
    now = [list(r) for r in ROWS]
    now[2][4] = 61  # c.pdf edited...
    # ...and moved down by a row above (with an Id: no candidate; the edited row is the only one)
    now = [["99", "105", "Pending", "2026-08-05", 10, "new.pdf", "Created"], *now]
    recovery = recover.recover(run, grid(now), None)
    assert not recovery.unplaced
    placed = {now[r.row - 2][5]: (r.outcome, r.id) for r in recovery.results}
    assert placed == {
        "a.pdf": (Outcome.CREATED, "1"),
        "b.pdf": (Outcome.CREATED, "2"),
        "c.pdf": (Outcome.CREATED, "3"),
        "d.pdf": (Outcome.CREATED, "4"),
    }
    assert "new.pdf" not in placed
    [c] = [r for r in recovery.results if now[r.row - 2][5] == "c.pdf"]
    assert c.row == 5 and recover.EDITED in c.messages


def test_a_new_row_unlike_any_sent_one_is_not_taken_for_a_deleted_one(tmp_path: Path) -> None:
    run = killed_create(tmp_path, ROWS, answered=4)
    now = [list(r) for r in ROWS]
    now[1] = ["", "109", "Closed", "2026-12-24", 99, "other.pdf", ""]  # b.pdf replaced
    recovery = recover.recover(run, grid(now), None)
    assert recovery.unplaced == [3] and recovery.made == {3: "2"}
    assert 3 not in {r.row for r in recovery.results}  # the new row is left as the user made it


def test_a_row_is_never_placed_by_its_number_alone(tmp_path: Path) -> None:
    """Chaos seed 2025: a sent row deleted, a new row inserted where it was, and the push's
    values no longer kept (recovered once already, into a file since moved): the new row must
    not take the deleted row's Id. The edited row cannot be found either: it is named."""
    run = killed_create(tmp_path, ROWS, answered=4)
    run.sent_records = {}
    now = [list(r) for r in ROWS]
    now[1] = ["", "109", "Closed", "2026-12-24", 99, "other.pdf", ""]  # b.pdf replaced
    now[2][4] = 61  # c.pdf edited where it stood
    recovery = recover.recover(run, grid(now), None)
    assert recovery.unplaced == [3, 4] and recovery.made == {3: "2", 4: "3"}
    assert {r.row for r in recovery.results} == {2, 5}


def test_fields_alike_in_every_row_do_not_make_rows_alike(tmp_path: Path) -> None:
    rows = [["", "101", "Pending", "2026-04-01", 30, f"{n}.pdf", ""] for n in range(3)]
    run = killed_create(tmp_path, rows, answered=3)
    now = [list(r) for r in rows]
    now[1] = ["", "101", "Pending", "2026-04-01", 30, "x.pdf", ""]  # 1.pdf: its name changed
    recovery = recover.recover(run, grid(now), None)
    # Only FileName tells these rows apart, and it differs: the row is a stranger.
    assert recovery.unplaced == [3]


def test_an_edited_row_is_taken_for_its_record_from_three_fifths_alike_not_from_half(
    tmp_path: Path,
) -> None:
    """The resemblance needed is 0.6 of the fields that tell rows apart: a row that kept 3 of
    its 5 is the record, edited; one that kept 2 of 4 (Status the same in every row, so it does
    not count) is as likely another invoice to the same customer, and is left to the user."""
    (tmp_path / "five").mkdir()
    run = killed_create(tmp_path / "five", ROWS, answered=4)
    now = [list(r) for r in ROWS]
    now[1][4:6] = [46, "b2.pdf"]  # b.pdf: 102, Approved and its due date kept
    recovery = recover.recover(run, grid(now), None)
    assert recovery.unplaced == [] and {r.row: r.id for r in recovery.results}[3] == "2"

    (tmp_path / "four").mkdir()
    pending = [[*r[:2], "Pending", *r[3:]] for r in ROWS]
    run = killed_create(tmp_path / "four", pending, answered=4)
    now = [list(r) for r in pending]
    now[1][4:6] = [46, "b2.pdf"]  # 102 and its due date kept: half
    recovery = recover.recover(run, grid(now), None)
    assert recovery.unplaced == [3] and 3 not in {r.row for r in recovery.results}


def test_the_values_sent_are_kept_only_while_the_push_is_unfinished(tmp_path: Path) -> None:
    run = killed_create(tmp_path, ROWS, answered=2)
    kept = journal.sent_path(run.path)
    assert kept.exists() and run.sent_records[4]["FileName"] == "c.pdf"
    journal.mark_recovered(run, tmp_path / "book.xlsx")
    assert not kept.exists()
    again = journal.load(run.path)
    assert again is not None and again.finished and again.sent_records == {}


def lost_creates(book: Path, url: str) -> str:
    """A push of ``book``'s two rows as a kill leaves it: both sent, the first stored with an
    Unknown answer (a 504), the second never stored and unanswered. Returns the stored Id."""
    header, *values = openpyxl.load_workbook(book).worksheets[0].iter_rows(values_only=True)
    layout = read_layout(header)
    with Client(url, username="demo", password="demo") as client:
        at = client.server_now()
        log = Journal(
            journal_dir(),
            workbook=book,
            sheet="Invoices",
            op=Operation.CREATE,
            external_id="Id",
            target=Target(url),
        )
        plans = [plan_row(layout, n, v, Operation.CREATE, "Id") for n, v in enumerate(values, 2)]
        log.planned({p.row: record_hash(p.record) for p in plans})
        log.sending([p.row for p in plans], at, {p.row: p.record for p in plans})
        [stored] = client.write(Operation.CREATE, [plans[0].record])  # the 504 came after this
        assert stored.outcome is Outcome.CREATED and stored.id, stored
        unknown = "BillingPlatform failed while handling the batch (HTTP 504: Gateway Time-out)"
        log.answered([RowResult(plans[0].row, Outcome.UNKNOWN, None, [unknown])])
        log.close()  # then the process was killed
    return stored.id


TWO_ROWS = [
    {"BillingProfileId": "101", "DueDate": "2026-04-01", "AgingInterval": 30, "FileName": "a"},
    {"BillingProfileId": "102", "DueDate": "2026-05-02", "AgingInterval": 45, "FileName": "b"},
]


def test_creates_left_unknown_or_in_flight_are_looked_up_as_sent_after_edits(
    tmp_path: Path, sandbox, run
) -> None:
    """Chaos seeds 1028, 1094, 1157: a push got Unknown for one create (a 504) and no answer for
    another, then was killed before it could look them up; the user sorted the sheet and edited
    the first row. Recovery looks both up by the values sent: the first exists (Created, its Id
    in the edited row), the second does not (Failed, safe to send), and the next create sends
    only the second."""
    book = write_invoices(tmp_path / "book.xlsx", TWO_ROWS)
    stored = lost_creates(book, sandbox.url)
    workbook = openpyxl.load_workbook(book)
    table = workbook.worksheets[0]
    aging = [c.value for c in table[1]].index("AgingInterval") + 1
    for column in range(1, table.max_column + 1):  # the user swaps the two rows...
        top, bottom = table.cell(2, column), table.cell(3, column)
        top.value, bottom.value = bottom.value, top.value
    table.cell(3, aging).value = 31  # ...and edits the first one
    workbook.save(book)
    login = ["--url", sandbox.url, "--username", "demo"]
    code, out, err = run("recover", book, *login)
    assert code == 1, out + err
    after = {r["FileName"]: r for r in read_sheet(book)}
    assert (after["a"]["_row"], after["a"]["Result"], after["a"]["Id"]) == (3, "Created", stored)
    assert recover.EDITED in after["a"]["Message"]
    assert after["b"]["Result"] == "Failed" and recover.NOT_SAVED in after["b"]["Message"]
    code, out, err = run("push", book, "--op", "create", *login)
    assert code == 0 and "1 created" in out, out + err
    assert_one_invoice_per_row(book, sandbox.url, 2)
    assert invoices(sandbox.url)["a"] == stored


def test_a_deleted_row_whose_create_was_in_flight_is_named_with_its_id(
    tmp_path: Path, sandbox, run
) -> None:
    """The user deleted a row whose create got no answer: recovery looks it up as it was sent
    and names the invoice it made, so that the user can put the Id back or delete the invoice."""
    book = write_invoices(tmp_path / "book.xlsx", TWO_ROWS)
    stored = lost_creates(book, sandbox.url)
    workbook = openpyxl.load_workbook(book)
    workbook.worksheets[0].delete_rows(2)  # row a
    workbook.save(book)
    code, out, err = run("recover", book, "--url", sandbox.url, "--username", "demo")
    assert code == 1, out + err
    assert f"1 row was edited or deleted since sent: row 2 (Id {stored})" in out, out
    [b] = read_sheet(book)
    assert b["Result"] == "Failed" and recover.NOT_SAVED in b["Message"]


def test_thousands_of_rows_edited_and_sorted_are_each_found_again(tmp_path: Path) -> None:
    """Every third row edited, then the sheet sorted backwards: each sent row is found by what
    it still holds, and none is given another row's Id (many rows share a status and a
    customer; only rarer values single a row out)."""

    def row(n: int) -> list[object]:
        due = f"2026-{1 + n % 12:02}-{1 + n % 28:02}"
        return ["", str(101 + n % 4), ("Pending", "Approved")[n % 2], due, n % 90, f"{n}.pdf", ""]

    rows = [row(n) for n in range(3000)]
    run = killed_create(tmp_path, rows, answered=3000)
    now = [list(r) for r in rows]
    for values in now[::3]:
        values[4] = 99  # AgingInterval edited
    now.reverse()
    recovery = recover.recover(run, grid(now), None)
    assert recovery.unplaced == []
    ids = {str(now[r.row - 2][5]): r.id for r in recovery.results}
    assert ids == {f"{n}.pdf": str(n + 1) for n in range(3000)}
