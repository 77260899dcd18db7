"""core.roundtrip.edits on its own: which cells the user changed since the pull, the rows a send of
changed rows sends, the formula that marks an edited cell, and the cells a refresh leaves alone
(the round trips through the command line and the ribbon are in test_roundtrip.py and
test_excel.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from bpxl.core import fields
from bpxl.core.push import Grid
from bpxl.core.records import Column, read_layout
from bpxl.core.roundtrip.edits import (
    REPLACE_EDITS,
    Kept,
    changed_formula,
    changed_formula_r1c1,
    changes,
    kept_edit,
    row_id,
    same,
)
from bpxl.core.roundtrip.pull_memory import Pulled

F = fields.BUILT_IN.by_name
HEADER = ["Id", "Status", "DueDate", "Created", "Note", "AgingInterval"]
LAYOUT = read_layout(HEADER)
MERGED = (9, 1, 9, 2)  # a merged area of the sheet


@pytest.mark.parametrize(
    ("name", "a", "b", "equal"),
    [
        ("Status", "pending", "Pending", True),
        ("Status", "Pending", "Void", False),
        ("DueDate", dt.date(2026, 3, 4), dt.datetime(2026, 3, 4), True),
        ("DueDate", 46085, dt.date(2026, 3, 4), True),  # a serial number as the date it is
        ("AgingInterval", 30, "30", True),
        ("AgingInterval", 30, 31, False),
        ("Status", None, "", True),
        ("Status", "  ", None, True),
        ("Status", None, "Void", False),
        ("Status", "Void", None, False),
        ("AgingInterval", "thirty", "thirty", True),  # neither converts: compared as they are
        ("AgingInterval", "thirty", "forty", False),
        ("FileName", True, 1, False),  # equal in Python, not as sent: TRUE and 1
        ("FileName", "", "#NULL", False),  # left alone is not cleared
    ],
)
def test_two_cells_are_the_same_when_they_would_send_the_same(
    name: str, a: object, b: object, equal: bool
) -> None:
    assert same(F[name], a, b) is equal and same(F[name], b, a) is equal


def test_a_number_is_a_date_of_the_workbooks_own_date_system() -> None:
    assert same(F["DueDate"], 44623, dt.date(2026, 3, 4), date1904=True)
    assert same(F["DueDate"], dt.date(2026, 3, 4), 44623, date1904=True)
    assert not same(F["DueDate"], 44623, dt.date(2026, 3, 4))
    assert not same(F["DueDate"], dt.date(2026, 3, 4), 44623)


def test_a_rows_id_is_its_id_cell_as_text() -> None:
    assert row_id(LAYOUT, [1042.0, "x"]) == "1042"
    assert row_id(LAYOUT, [" 7 "]) == "7"
    assert row_id(LAYOUT, [None, "x"]) is None
    assert row_id(LAYOUT, ["  "]) is None
    assert row_id(LAYOUT, []) is None
    assert row_id(read_layout(["Status"]), ["1"]) is None
    assert row_id(read_layout(["Status", "Id"]), ["Void", 5]) == "5"


def pulled(**values: object) -> Pulled:
    return Pulled("2026-12-07T10:00:00Z", values)


def test_only_the_rows_with_edits_are_sent_reduced_to_id_and_changed_cells() -> None:
    memory = {
        "1": pulled(Id="1", Status="Pending", DueDate=dt.date(2026, 3, 4), Created="x"),
        "2": pulled(Id="2", Status="Pending", DueDate=dt.date(2026, 3, 4), Note="n"),
        "3": pulled(Id="3", Status="Pending", AgingInterval=30),
    }
    grid = Grid(
        HEADER,
        [
            (2, [1, "Approved", dt.date(2026, 3, 4), "changed by hand", "mine", None]),
            (3, [2, "pending", dt.date(2026, 3, 5), None, "also mine", None]),
            (4, [3, "Pending", None, None, None, None]),  # AgingInterval emptied: a clear
            (5, [None, "Void", None, None, None, None]),  # a draft: not a pulled row
            (6, [9, "Void", None, None, None, None]),  # an Id never pulled
            (7, [3]),  # a short row: the missing cells are not edits
            (8, [2, "Void"]),  # after rows that are not pulled ones
        ],
        date1904=True,
        merged=(MERGED,),
    )
    made = changes(grid, LAYOUT, memory)
    assert made.grid.header == HEADER and made.grid.date1904
    assert made.grid.rows == [
        (2, [1, "Approved", None, None, None, None]),  # Created is read-only: never an edit
        (3, [2, None, dt.date(2026, 3, 5), None, None, None]),
        (4, [3, None, None, None, None, "#NULL"]),
        (8, [2, "Void"]),
    ]
    assert made.grid.merged == (MERGED,)
    assert made.fields == {2: ["Status"], 3: ["DueDate"], 4: ["AgingInterval"], 8: ["Status"]}
    assert made.ids == {2: "1", 3: "2", 4: "3", 8: "2"}


def test_a_sheet_without_an_id_column_has_no_edits() -> None:
    memory = {"1": pulled(Id="1", Status="Pending")}
    made = changes(Grid(["Status"], [(2, ["Void"])]), read_layout(["Status"]), memory)
    assert made.grid.rows == [] and made.fields == {} and made.ids == {}


def test_the_formula_that_marks_an_edited_cell() -> None:
    assert changed_formula("A", "C", 2, "_bpxl_pulled") == (
        'AND($A2<>"",IFERROR(C2&""<>INDEX(\'_bpxl_pulled\'!C:C,'
        'MATCH($A2&"",\'_bpxl_pulled\'!$A:$A,0))&"",FALSE))'
    )
    assert changed_formula_r1c1(4, "_bpxl_pulled") == (
        'AND(RC4<>"",IFERROR(RC&""<>INDEX(\'_bpxl_pulled\'!C,'
        'MATCH(RC4&"",\'_bpxl_pulled\'!C4,0))&"",FALSE))'
    )


def column(name: str) -> Column:
    found = LAYOUT.column(name)
    assert found is not None
    return found


def test_a_refresh_writes_the_servers_value_unless_the_user_changed_the_cell() -> None:
    status = column("Status")
    assert kept_edit(status, "Pending", "Pending", "Void") is None  # not changed: refreshed
    assert kept_edit(status, "Void", "Pending", "void") is None  # changed to the server's value
    assert kept_edit(column("Created"), "mine", "x", "y") is None  # read-only: always refreshed
    assert kept_edit(status, "Approved", "Pending", "Pending") == Kept(False, "")


def test_a_refresh_compares_serial_numbers_in_the_workbooks_date_system() -> None:
    due, day, other = column("DueDate"), dt.date(2026, 3, 4), dt.date(2020, 1, 1)
    assert kept_edit(due, 44623, day, other, date1904=True) is None  # not changed since the pull
    assert kept_edit(due, 44623, other, day, date1904=True) is None  # changed to the server's
    assert kept_edit(due, other, 44623, day, date1904=True) == Kept(False, "")  # server unchanged
    assert kept_edit(due, 46085, day, day) is None  # the 1900 system unless told


def test_an_edit_meeting_a_change_on_the_server_is_kept_and_called_a_conflict() -> None:
    kept = kept_edit(column("Status"), "Approved", "Pending", "Void")
    assert kept == Kept(
        True,
        'Status: you changed it to "Approved" and did not send it; BillingPlatform now holds '
        '"Void" (changed since your pull). Your value is kept: send it with a send of changed '
        f"rows; to take BillingPlatform's instead, type it in, or pull with {REPLACE_EDITS}",
    )
    assert REPLACE_EDITS == "--replace-edits"
    emptied = kept_edit(column("Status"), "Approved", "Pending", None)
    assert emptied is not None and "BillingPlatform now holds empty (changed" in emptied.note
