"""excel/range_io.py on the fake Excel, called directly: the sheet read once (its header found
with the tenant's fields, or refused in words), the rows a selection chooses, the results written
into their rows and columns (added, apart, in either order) with new Ids, the colours that follow
the result words, and the status bar. The buttons that use them are in test_excel.py."""

from __future__ import annotations

import time

import pytest

from bpxl.core import create_key
from bpxl.core.errors import UsageError
from bpxl.core.fields import BUILT_IN, Catalogue, Field, FieldType
from bpxl.core.results import Outcome, RowResult
from bpxl.excel.range_io import (
    COLOURS,
    Choice,
    StatusBar,
    as_cells,
    chosen_rows,
    read_block,
    write_results,
)

from .fake_xlwings import App, Book, book_from_rows

TENANT = Catalogue([*BUILT_IN.fields, Field("Region", FieldType.TEXT, "a region", custom=True)])
GREEN, RED, AMBER = COLOURS[Outcome.CREATED], COLOURS[Outcome.FAILED], COLOURS[Outcome.UNKNOWN]


def sheet_of(header: list[str], rows: list[list[object]]) -> Book:
    return book_from_rows(header, rows)


def test_a_sheet_naming_no_invoice_field_is_refused_with_what_to_do() -> None:
    book = sheet_of(["Name", "Amount"], [["x", 1]])
    with pytest.raises(UsageError) as refused:
        read_block(book.sheets[0])
    assert refused.value.message == (
        "Sheet 'Invoices' has no header row naming Invoice fields in its first 20 rows."
    )
    assert refused.value.hint == (
        "Click BillingPlatform > New invoice sheet for a ready sheet, or put the field names "
        "(Id, BillingProfileId, DueDate, ...) in the header row."
    )


def test_the_header_row_is_found_by_the_tenants_own_fields() -> None:
    book = Book()
    sheet = book.add_sheet("Regions")
    sheet.cells[(1, 1)] = "Invoices by region"  # a title above
    sheet.fill(["Region", "Notes"], [["North", "a"], ["South", "b"]], top=3)
    with pytest.raises(UsageError):
        read_block(sheet)  # the built-in fields know no Region
    block = read_block(sheet, TENANT)
    assert (block.top, block.header_row) == (1, 3)
    assert block.data == {4: ["North", "a"], 5: ["South", "b"]}
    assert block.layout.column("Region") is not None and block.catalogue is TENANT


def test_some_rows_are_sent_knowing_every_row_of_the_sheet() -> None:
    """Two identical invoices on a sheet, the second sent on its own: its create key is the
    second of its kind, not the first (which the first row's invoice has, once created)."""
    book = sheet_of(["BillingProfileId", "Notes"], [["101", "same"], ["101", "same"], ["102", ""]])
    block = read_block(book.sheets[0])
    grid = block.grid([3, 9])  # 9: no such row
    assert [row for row, _ in grid.rows] == [3]
    assert [row for row, _ in grid.every_row] == [2, 3, 4]
    keys = create_key.keys(block.layout, grid.every_row)
    assert keys[3] != keys[2] and keys[3].endswith("-2") and keys[2].endswith("-1")


def test_a_sheet_with_no_data_rows_has_no_rows_to_choose() -> None:
    book = sheet_of(["Id", "BillingProfileId"], [])
    book.app.selected = "$A$1"
    assert chosen_rows(book.app, read_block(book.sheets[0])) == Choice([], False)


@pytest.mark.parametrize(
    ("selected", "rows", "whole"),
    [
        ("$C$4", [2, 3, 4, 5, 6], True),  # one cell: every row, and the question first
        ("$A$3:$C$3", [3], False),  # one row across columns
        ("$C$3:$C$5", [3, 4, 5], False),  # one column down rows
        ("$C$3,$C$5", [3, 5], False),  # two single cells
        ("$C$5,$C$3:$C$4", [3, 4, 5], False),  # areas in any order
        ("$B$1:$B$1048576", [2, 3, 4, 5, 6], False),  # a whole column
    ],
)
def test_the_rows_a_selection_chooses(selected: str, rows: list[int], whole: bool) -> None:
    book = sheet_of(["Id", "BillingProfileId", "Notes"], [[None, "101", str(i)] for i in range(5)])
    book.app.selected = selected
    assert chosen_rows(book.app, read_block(book.sheets[0])) == Choice(rows, whole)


HEADER = ["Id", "BillingProfileId", "Result", "Message"]


def test_results_go_into_their_rows_and_the_other_rows_keep_theirs() -> None:
    rows: list[list[object]] = [
        [None, "101", "Created", "kept"],
        [None, "102", "Failed", "Status: old words"],
        [None, "103", None, None],
        [None, "104", "Invalid", "kept below"],
    ]
    book = sheet_of(HEADER, rows)
    sheet = book.sheets[0]
    block = read_block(sheet)
    before = book.app.calls["value.set"]
    write_results(block, [RowResult(3, Outcome.UPDATED, None), RowResult(4, Outcome.FAILED)])
    assert book.app.calls["value.set"] == before + 1  # Result and Message side by side: one write
    assert sheet.column("Result") == {2: "Created", 3: "Updated", 4: "Failed", 5: "Invalid"}
    assert sheet.column("Message") == {2: "kept", 3: None, 4: None, 5: "kept below"}
    write_results(block, [])  # nothing to write: nothing written
    assert book.app.calls["value.set"] == before + 1


@pytest.mark.parametrize(
    "header",
    [
        ["Id", "BillingProfileId", "Result", "Notes", "Message"],  # apart
        ["Message", "Id", "BillingProfileId", "Result"],  # Message first
        ["Id", "Message", "Result", "BillingProfileId"],  # Message just before Result
    ],
)
def test_result_and_message_go_into_their_own_columns_wherever_they_are(header: list[str]) -> None:
    values = {"Id": None, "BillingProfileId": "101", "Notes": "mine", "Result": None}
    book = sheet_of(header, [[values.get(h) for h in header] for _ in range(3)])
    sheet = book.sheets[0]
    write_results(read_block(sheet), [RowResult(3, Outcome.INVALID, None, ["DueDate: not a date"])])
    assert sheet.column("Result") == {2: None, 3: "Invalid", 4: None}
    assert sheet.column("Message") == {2: None, 3: "DueDate: not a date", 4: None}
    if "Notes" in header:
        assert sheet.column("Notes") == {2: "mine", 3: "mine", 4: "mine"}
    assert sheet.column("BillingProfileId") == {2: "101", 3: "101", 4: "101"}


def test_missing_columns_are_added_after_the_last_used_one_with_their_headers() -> None:
    book = sheet_of(["BillingProfileId", "Notes"], [["101", "=not a formula"], ["102", "x"]])
    sheet = book.sheets[0]
    write_results(read_block(sheet), [RowResult(2, Outcome.CREATED, "501")])
    assert [sheet.cells.get((1, c)) for c in range(1, 6)] == [
        "BillingProfileId", "Notes", "Id", "Result", "Message",
    ]  # fmt: skip
    assert sheet.column("Id") == {2: "501", 3: None}
    assert sheet.column("Result") == {2: "Created", 3: None}
    assert sheet.cells[(2, 2)] == "=not a formula"  # not written: never typed in anew


def test_new_ids_go_into_empty_id_cells_and_replace_one_only_for_a_row_created_or_found() -> None:
    rows: list[list[object]] = [
        [None, "101"],  # created now
        ["55", "102"],  # updated: its Id stays, whatever the answer says
        ["OLD", "103"],  # found existing since: the Id of the invoice there is
        ["", "104"],  # an empty text (a formula's ""): as empty
        ["77", "105"],  # not among the results
        ["", "106"],  # empty text again, the answer's Id going in without replacing one
    ]
    book = sheet_of(["Id", "BillingProfileId"], rows)
    sheet = book.sheets[0]
    results = [
        RowResult(2, Outcome.CREATED, "501"),
        RowResult(3, Outcome.UPDATED, "56"),
        RowResult(4, Outcome.EXISTS, "502"),
        RowResult(5, Outcome.CREATED, "503"),
        RowResult(7, Outcome.UPSERTED, "504"),
    ]
    write_results(read_block(sheet), results)
    assert sheet.column("Id") == {2: "501", 3: "55", 4: "502", 5: "503", 6: "77", 7: "504"}
    assert sheet.column("Result") == {
        2: "Created",
        3: "Updated",
        4: "Exists",
        5: "Created",
        6: None,
        7: "Upserted",
    }


def test_a_result_for_a_row_below_the_sheets_rows_is_written_there() -> None:
    """A recovery writes the outcome of every row its send had, rows emptied since too."""
    book = sheet_of(HEADER, [[None, "101", None, None], [None, "102", None, None]])
    sheet = book.sheets[0]
    write_results(read_block(sheet), [RowResult(6, Outcome.UNKNOWN, None, ["Id: look it up"])])
    assert sheet.column("Result") == {2: None, 3: None, 4: None, 5: None, 6: "Unknown"}
    assert sheet.cells[(6, 4)] == "Id: look it up"


def test_result_words_are_coloured_by_rules_that_follow_them_down_the_whole_column() -> None:
    book = sheet_of(HEADER, [[None, str(100 + i), None, None] for i in range(4)])
    sheet = book.sheets[0]
    block = read_block(sheet)
    results = [
        RowResult(2, Outcome.CREATED, None),
        RowResult(3, Outcome.FAILED),
        RowResult(4, Outcome.UNKNOWN),
    ]
    write_results(block, results)
    assert [sheet.value_colour(r, 3) for r in (2, 3, 4, 5)] == [GREEN, RED, AMBER, None]
    assert sheet.value_colour(1, 3) is None  # not the header
    sheet.cells[(5_000, 3)] = "failed"  # typed much later, far below, in any case
    assert sheet.value_colour(5_000, 3) == RED
    rules = len(sheet.format_rules)
    assert rules == len(COLOURS) and {rule[0] for rule in sheet.format_rules} == {3}
    write_results(block, results)  # the rules are set once per sheet
    assert len(sheet.format_rules) == rules


def test_texts_are_marked_as_text_and_other_values_kept() -> None:
    assert as_cells([["=1+1", 5, None, "00123"], ["=1+1", 2.5, True, ""]]) == [
        ["'=1+1", 5, None, "'00123"],
        ["'=1+1", 2.5, True, "'"],
    ]


def test_the_status_bar_counts_up_and_gives_excel_its_own_back() -> None:
    app = App()
    bar = StatusBar(app, "pulling")
    bar(250, 1_000)  # the first count is shown at once
    bar(250, 1_000)  # a blink later: not shown
    bar(500, 1_000)  # the last is always shown
    assert app.status_history == [
        "BillingPlatform: pulling 250 of 1,000 rows",
        "BillingPlatform: pulling 1,000 of 1,000 rows",
    ]
    time.sleep(bar.EVERY_S)
    bar(0, 2_000)
    assert app.status_history[-1] == "BillingPlatform: pulling 1,000 of 2,000 rows"
    bar.close()
    assert app.status_history[-1] is False
    assert StatusBar(App()).verb == "sending"


def test_a_filter_that_hides_every_row_leaves_none_to_choose() -> None:
    """Excel answers "No cells were found." when asked for the visible cells of hidden rows."""
    book = sheet_of(["Id", "BillingProfileId"], [[None, "101"], [None, "102"]])
    book.sheets[0].hidden_rows = {2, 3}
    book.app.selected = "$B$2"
    assert chosen_rows(book.app, read_block(book.sheets[0])) == Choice([], True)
    book.app.selected = "$B$2:$B$3"
    assert chosen_rows(book.app, read_block(book.sheets[0])) == Choice([], False)
