"""The .xlsx front end (workbook/sheet_io.py), called directly: --rows, the checks before a push
sends anything, the grid read from a sheet (rows chosen, hidden rows, merged cells, the columns
used, room for bpxl's own) and the results written back. The pushes end to end are in
test_push_cli.py and test_xlsx_read.py; the file a push sends from, in test_files.py.
"""

from __future__ import annotations

import zipfile
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from bpxl.core import fields
from bpxl.core.errors import UsageError, WorkbookLockedError
from bpxl.core.records import read_layout
from bpxl.core.results import Outcome, RowResult
from bpxl.workbook import sheet_io, sheet_xml

from .conftest import write_invoices

MAX = sheet_xml.MAX_COLUMN


@pytest.mark.parametrize(
    ("spec", "rows"),
    [
        ("2-5,60", {2, 3, 4, 5, 60}),
        (" 7 - 8 , 9 ", {7, 8, 9}),
        ("3-3", {3}),
        ("1", {1}),
        ("1048576", {1048576}),
        ("1048575-1048576", {1048575, 1048576}),
    ],
)
def test_rows_name_single_rows_and_ranges(spec: str, rows: set[int]) -> None:
    assert sheet_io.parse_rows(spec) == rows


@pytest.mark.parametrize(
    ("spec", "part"),
    [("2,x", "x"), ("2-", "2-"), ("-3", "-3"), ("²", "²"), ("12345678", "12345678"), ("", "")],
)
def test_rows_that_are_no_row_are_refused(spec: str, part: str) -> None:
    with pytest.raises(UsageError) as refused:
        sheet_io.parse_rows(spec)
    assert str(refused.value) == f"--rows {spec}: {part!r} is not a row or a range like 2-50."


@pytest.mark.parametrize(("spec", "part"), [("0", "0"), ("5-3", "5-3"), ("1048577", "1048577")])
def test_ranges_beyond_the_sheet_or_backwards_are_refused(spec: str, part: str) -> None:
    with pytest.raises(UsageError) as refused:
        sheet_io.parse_rows(spec)
    assert str(refused.value) == (
        f"--rows {spec}: {part!r} is not a valid range of row numbers.\n  What to do: Write the "
        "smaller row number first, from row 2 on, e.g. --rows 2-50,60."
    )


def test_a_folder_or_a_missing_file_is_not_a_workbook_to_write(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as refused:
        sheet_io.check_writable(tmp_path)
    assert str(refused.value) == (
        f"{tmp_path} is a folder, not a workbook.\n  What to do: Name the workbook file, e.g. "
        "invoices.xlsx."
    )
    with pytest.raises(UsageError) as refused:
        sheet_io.check_writable(tmp_path / "gone.xlsx")
    assert str(refused.value) == (
        f"There is no workbook at {tmp_path / 'gone.xlsx'}.\n  What to do: Check the file name "
        "and folder."
    )


@pytest.mark.parametrize(
    ("name", "lock"),
    [
        ("book.xlsx", "~$book.xlsx"),
        ("quarterly.xlsx", "~$arterly.xlsx"),  # Excel drops two letters of longer names
        ("book.xlsx", ".~lock.book.xlsx#"),  # LibreOffice's
    ],
)
def test_a_workbook_with_a_lock_file_beside_it_is_not_written(
    tmp_path: Path, name: str, lock: str
) -> None:
    book = write_invoices(tmp_path / name, [])
    sheet_io.check_writable(book)
    (tmp_path / lock).write_text("owner", encoding="utf-8")
    with pytest.raises(WorkbookLockedError) as refused:
        sheet_io.check_writable(book)
    assert str(refused.value) == (
        f"{name} looks open in Excel (or LibreOffice): its lock file {lock} is next to it, so bpxl "
        "cannot write the results. Nothing was sent.\n  What to do: Save and close the workbook, "
        "then run again. If it is not open anywhere, that lock file was left behind by a crash: "
        f"delete {lock} and run again."
    )


def test_a_workbook_that_cannot_be_opened_for_writing_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = write_invoices(tmp_path / "book.xlsx", [])
    real = open

    def refusing(path: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        if Path(str(path)) == book and mode == "r+b":
            raise PermissionError(13, "Permission denied")
        return real(path, mode, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", refusing)
    with pytest.raises(WorkbookLockedError) as refused:
        sheet_io.check_writable(book)
    assert str(refused.value) == (
        "book.xlsx is open in another program, or you may not change it, so bpxl cannot write "
        "the results. Nothing was sent.\n  What to do: Close it where it is open (or ask for write "
        "access), then run again."
    )


def test_a_workbook_whose_parts_are_damaged_is_refused_before_sending(tmp_path: Path) -> None:
    book = write_invoices(tmp_path / "book.xlsx", [])
    with zipfile.ZipFile(book) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    parts["xl/styles.xml"] = b"<styleSheet"  # cut short
    with zipfile.ZipFile(book, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    with pytest.raises(UsageError) as refused:
        sheet_io.prove_writable(book, "Invoices", 3)
    assert refused.value.message == (
        "book.xlsx could not be read: a part of it is damaged (Couldn't find end of Start Tag "
        "styleSheet line 1, line 1, column 12 (<string>, line 1)). Nothing was sent."
    )  # the parser's own words


def test_the_invoice_sheet_is_the_one_a_push_reads(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active.append(["Remark"])
    book.create_sheet("Data").append(["BillingProfileId", "DueDate"])
    book.save(tmp_path / "b.xlsx")
    assert sheet_io.invoice_sheet(tmp_path / "b.xlsx") == "Data"
    region = fields.Field("Region__c", fields.FieldType.TEXT, "", label="Sales region")
    tenant = fields.Catalogue([*fields.BUILT_IN.fields, region], "tenant")
    book["Notes"].delete_rows(1)
    book["Notes"].append(["Sales region", "BillingProfileId", "DueDate"])
    book.save(tmp_path / "b.xlsx")
    assert sheet_io.invoice_sheet(tmp_path / "b.xlsx", tenant) == "Notes"
    with pytest.raises(UsageError, match="each name 2 Invoice fields"):
        sheet_io.invoice_sheet(tmp_path / "b.xlsx")  # the built-in fields alone: a tie


def _book(path: Path, rows: list[list[object]], hidden: tuple[int, ...] = ()) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Invoices"
    for row in rows:
        sheet.append(row)
    for number in hidden:
        sheet.row_dimensions[number].hidden = True
    book.save(path)
    return path


def test_the_grid_starts_below_the_header_and_leaves_hidden_rows_out(tmp_path: Path) -> None:
    path = _book(
        tmp_path / "b.xlsx",
        [
            ["Invoices of July"],
            ["BillingProfileId", "DueDate", None, "Note"],
            ["101", None],
            ["102", None],
            [None, None],
            ["104", None],
        ],
        hidden=(4, 5),
    )
    found = sheet_io.read_grid(path)
    assert (found.sheet, found.header_row) == ("Invoices", 2)
    assert list(found.grid.header) == ["BillingProfileId", "DueDate", None, "Note"]
    assert [(n, list(v)) for n, v in found.grid.rows] == [
        (3, ["101", None, None, None]),
        (6, ["104", None, None, None]),
    ]
    assert found.hidden_skipped == [4]  # row 5 is hidden too, but holds nothing
    assert [n for n, _ in found.grid.every_row] == [3, 4, 5, 6]  # every row counts for keys
    assert found.width == 4 and found.merged == () and not found.grid.date1904
    everything = sheet_io.read_grid(path, include_hidden=True)
    assert [n for n, _ in everything.grid.rows] == [3, 4, 5, 6]
    assert everything.hidden_skipped == [] and everything.grid.sheet_rows is None


def test_rows_chosen_are_read_alone_and_must_be_below_the_header(tmp_path: Path) -> None:
    path = _book(tmp_path / "b.xlsx", [["BillingProfileId"], ["101"], ["102"], ["103"]])
    found = sheet_io.read_grid(path, "Invoices", {2, 4, 9})
    assert [(n, list(v)) for n, v in found.grid.rows] == [(2, ["101"]), (4, ["103"])]
    assert [n for n, _ in found.grid.every_row] == [2, 3, 4]
    whole = sheet_io.read_grid(path, rows={2, 3, 4})
    assert whole.grid.sheet_rows is None  # no row left out
    with pytest.raises(UsageError) as refused:
        sheet_io.read_grid(path, rows={1, 3})
    assert str(refused.value) == (
        "--rows names row 1, which is not below the header (row 1).\n  What to do: Name data "
        "rows only, from row 2."
    )
    assert [n for n, _ in sheet_io.read_grid(path, rows={2}).grid.rows] == [2]


def test_a_sheet_without_a_header_is_refused(tmp_path: Path) -> None:
    path = _book(tmp_path / "b.xlsx", [["Remark"], ["101"]])
    with pytest.raises(UsageError) as refused:
        sheet_io.read_grid(path, "Invoices")
    assert str(refused.value) == (
        "Sheet 'Invoices' has no header row naming Invoice fields in its first 20 rows.\n  What to "
        "do: Put the field names (Id, BillingProfileId, DueDate, ...) in the header row."
    )


def test_merged_cells_from_the_header_down_are_kept_clear(tmp_path: Path) -> None:
    path = _book(tmp_path / "b.xlsx", [["Title"], ["BillingProfileId", "DueDate"], ["101"]])
    book = openpyxl.load_workbook(path)
    sheet = book.active
    sheet.merge_cells("A1:F1")  # above the header: no column of it is kept clear
    sheet.merge_cells("D2:E3")
    sheet.merge_cells("G3:H3")
    sheet.merge_cells("J2:K2")  # in the header row itself
    book.save(path)
    found = sheet_io.read_grid(path)
    assert sorted(found.merged) == [(3, 4), (6, 7), (9, 10)]
    assert sorted(found.grid.merged) == [(0, 1, 5, 1), (3, 2, 4, 3), (6, 3, 7, 3), (9, 2, 10, 2)]
    assert found.width == 2


def test_the_columns_used_count_every_row_from_the_header_on(tmp_path: Path) -> None:
    rows: list[list[object]] = [
        ["a", None, None, None, None, "far above"],
        ["BillingProfileId"],
        ["101", None, "x"],
        [None, None, None, "y"],
    ]
    path = _book(tmp_path / "b.xlsx", rows, hidden=(4,))
    assert sheet_io.read_grid(path).width == 4  # the hidden row's cell counts too
    assert sheet_io.used_width([[None, None], [1, None, 3, None], [None, 2]]) == 3
    assert sheet_io.used_width([[None], []]) == 0
    assert sheet_io.used_width([["a"], [None, "b"], ["c"]]) == 2


def _no_room(book: openpyxl.Workbook, path: Path) -> str:
    book.save(path)
    with pytest.raises(sheet_xml.SheetFullError) as refused:
        sheet_io.read_grid(path)
    return str(refused.value)


def test_a_sheet_without_room_for_the_columns_bpxl_adds_is_refused(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Id", "BillingProfileId", "Result"])
    sheet.cell(1, sheet_xml.MAX_COLUMN, "last")
    assert _no_room(book, tmp_path / "full.xlsx") == (
        "Sheet 'Sheet' has no room for the Message column bpxl adds: Excel's last column, XFD, "
        "is already in use. Nothing was sent.\n  What to do: Delete empty columns at the right of "
        "the sheet, or add the Message header yourself."
    )
    sheet.cell(1, 3, "DueDate")
    assert _no_room(book, tmp_path / "full.xlsx") == (
        "Sheet 'Sheet' has no room for the Result and Message columns bpxl adds: Excel's last "
        "column, XFD, is already in use. Nothing was sent.\n  What to do: Delete empty columns at "
        "the right of the sheet, or add the Result, Message headers yourself."
    )
    sheet.cell(1, 1, "Invoice number")  # the tenant's label of the Id: no Id to add
    numbered = fields.Catalogue(
        [
            replace(f, label="Invoice number") if f.name == "Id" else f
            for f in fields.BUILT_IN.fields
        ]
    )
    sheet.cell(1, 3, "Result")
    sheet.cell(1, 4, "Message")
    book.save(tmp_path / "full.xlsx")
    assert sheet_io.read_grid(tmp_path / "full.xlsx", catalogue=numbered).width == MAX
    assert "no room for the Id column" in _no_room(book, tmp_path / "full.xlsx")
    sheet.cell(1, sheet_xml.MAX_COLUMN).value = None
    sheet.cell(1, 1, "Id")
    sheet.cell(1, 4).value = None
    sheet.merge_cells(start_row=2, start_column=4, end_row=2, end_column=MAX)
    assert "no room for the Message column" in _no_room(book, tmp_path / "full.xlsx")  # merged
    sheet.unmerge_cells(start_row=2, start_column=4, end_row=2, end_column=MAX)
    sheet.cell(1, sheet_xml.MAX_COLUMN - 2, "third last")  # the last two are free
    book.save(tmp_path / "full.xlsx")
    assert sheet_io.read_grid(tmp_path / "full.xlsx").width == sheet_xml.MAX_COLUMN - 2


def _written(path: Path) -> openpyxl.worksheet.worksheet.Worksheet:
    return openpyxl.load_workbook(path).active


def test_results_are_written_with_their_colours_and_new_ids(tmp_path: Path) -> None:
    rows = [["BillingProfileId", "FileName"], *([str(100 + n), f"f{n}"] for n in range(10))]
    path = _book(tmp_path / "b.xlsx", rows)
    found = sheet_io.read_grid(path)
    results = [
        RowResult(2, Outcome.CREATED, "501"),
        RowResult(3, Outcome.UPDATED),
        RowResult(4, Outcome.UPSERTED, "503"),
        RowResult(5, Outcome.INVALID, None, ["DueDate: not a date"]),
        RowResult(6, Outcome.FAILED, None, ["the server refused it"]),
        RowResult(7, Outcome.UNKNOWN),
        RowResult(8, Outcome.CONFLICT),
        RowResult(9, Outcome.CHANGED),
        RowResult(10, Outcome.EXISTS, "510"),
        RowResult(11, None),  # a dry run's valid row
    ]
    backup = sheet_io.write_results(path, found, read_layout(found.grid.header), results)
    assert backup.exists() and backup != path
    sheet = _written(path)
    assert [c.value for c in sheet[1]] == ["BillingProfileId", "FileName", "Id", "Result",
                                          "Message"]  # fmt: skip
    got = [
        (sheet.cell(r, 3).value, sheet.cell(r, 4).value, sheet.cell(r, 5).value)
        for r in range(2, 12)
    ]
    assert got == [
        ("501", "Created", None),
        (None, "Updated", None),
        ("503", "Upserted", None),
        (None, "Invalid", "DueDate: not a date"),
        (None, "Failed", "the server refused it"),
        (None, "Unknown", None),
        (None, "Conflict", None),
        (None, "Changed", None),
        ("510", "Exists", None),
        (None, None, None),
    ]
    fills = [sheet.cell(r, 4).fill.fgColor.rgb for r in range(2, 12)]
    green, red, amber = "FFC6EFCE", "FFFFC7CE", "FFFFEB9C"
    assert fills[:9] == [green, green, green, red, red, amber, amber, amber, amber]
    assert sheet.cell(11, 4).fill.fill_type is None
    assert sheet.cell(2, 5).fill.fill_type is None  # the Message keeps no colour
    header = [sheet.cell(1, c) for c in (3, 4, 5)]
    assert [h.font.b for h in header] == [True, True, True]
    assert [h.fill.fgColor.rgb for h in header] == ["FFD9D9D9", "FF1F3864", "FF1F3864"]
    assert [h.font.color.rgb if h.font.color else None for h in header][1:] == [
        "FFFFFFFF", "FFFFFFFF"
    ]  # fmt: skip
    widths = [sheet.column_dimensions[letter].width for letter in "CDE"]
    assert widths == [14, 12, 70]


def test_an_id_there_is_replaced_only_by_the_invoice_the_row_names(tmp_path: Path) -> None:
    rows = [["Id", "BillingProfileId"], ["9", "101"], ["8", "102"], [None, "103"]]
    path = _book(tmp_path / "b.xlsx", rows)
    found = sheet_io.read_grid(path)
    results = [
        RowResult(2, Outcome.UPDATED, "77"),  # an update's answer: the Id stays as typed
        RowResult(3, Outcome.EXISTS, "78"),  # found to exist: the Id it names
        RowResult(4, Outcome.UPSERTED, "79"),  # an empty Id takes the new one
    ]
    sheet_io.write_results(path, found, read_layout(found.grid.header), results)
    sheet = _written(path)
    assert [c.value for c in sheet[1]] == ["Id", "BillingProfileId", "Result", "Message"]
    assert [sheet.cell(r, 1).value for r in (2, 3, 4)] == ["9", "78", "79"]


def test_no_id_column_is_added_when_no_row_has_a_new_id(tmp_path: Path) -> None:
    path = _book(tmp_path / "b.xlsx", [["BillingProfileId"], ["101"]])
    found = sheet_io.read_grid(path)
    sheet_io.write_results(path, found, read_layout(found.grid.header), [RowResult(2, None)])
    assert [c.value for c in _written(path)[1]] == ["BillingProfileId", "Result", "Message"]


def test_a_row_shorter_than_the_id_column_takes_its_new_id(tmp_path: Path) -> None:
    path = _book(tmp_path / "b.xlsx", [["BillingProfileId", "Id"], ["101"]])
    found = sheet_io.read_grid(path)
    found = sheet_io.SheetGrid(
        found.sheet,
        found.header_row,
        type(found.grid)(found.grid.header, [(2, ["101"])]),  # as a CSV row may be: short
    )
    results = [RowResult(2, Outcome.CREATED, "5")]
    sheet_io.write_results(path, found, read_layout(found.grid.header), results)
    assert _written(path).cell(2, 2).value == "5"


def test_a_part_damaged_after_the_push_checked_it_is_named_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _book(tmp_path / "b.xlsx", [["BillingProfileId"], ["101"]])
    found = sheet_io.read_grid(path)

    def damaged(*args: object) -> None:
        raise KeyError("There is no item named 'xl/worksheets/sheet1.xml' in the archive")

    monkeypatch.setattr(sheet_xml, "apply", damaged)
    with pytest.raises(UsageError) as refused:
        sheet_io.write_results(path, found, read_layout(found.grid.header), [RowResult(2, None)])
    assert refused.value.message == (
        'The results could not be written into b.xlsx: a part of it is damaged ("There is no '
        "item named 'xl/worksheets/sheet1.xml' in the archive\")."
    )


def test_results_go_clear_of_merges_and_join_a_table_under_a_title(tmp_path: Path) -> None:
    path = _book(tmp_path / "b.xlsx", [["Invoices of July"], ["BillingProfileId", "FileName"]])
    book = openpyxl.load_workbook(path)
    sheet = book.active
    sheet.append(["101", "a.pdf"])
    sheet.add_table(openpyxl.worksheet.table.Table(displayName="July", ref="A2:B3"))
    sheet.merge_cells("C3:D3")  # right of the table, below the header: not to be written over
    book.save(path)
    found = sheet_io.read_grid(path)
    sheet_io.write_results(path, found, read_layout(found.grid.header), [RowResult(3, None)])
    sheet = _written(path)
    assert [c.value for c in sheet[2]] == ["BillingProfileId", "FileName", None, None, "Result",
                                          "Message"]  # fmt: skip
    assert sheet.tables["July"].ref == "A2:B3"  # columns after a merge do not join it
    path = _book(tmp_path / "t.xlsx", [["Invoices of July"], ["BillingProfileId", "FileName"]])
    book = openpyxl.load_workbook(path)
    book.active.append(["101", "a.pdf"])
    book.active.add_table(openpyxl.worksheet.table.Table(displayName="July", ref="A2:B3"))
    book.save(path)
    found = sheet_io.read_grid(path)
    sheet_io.write_results(path, found, read_layout(found.grid.header), [RowResult(3, None)])
    table = _written(path).tables["July"]
    assert table.ref == "A2:D3"  # the table under the title takes Result and Message in
    assert [c.name for c in table.tableColumns] == ["BillingProfileId", "FileName", "Result",
                                                    "Message"]  # fmt: skip


def test_a_sheet_named_or_a_header_is_found_in_the_tenants_words(tmp_path: Path) -> None:
    path = _book(tmp_path / "b.xlsx", [["Sales region", "Remark"], ["North", "x"]])
    with pytest.raises(UsageError) as refused:
        sheet_io.read_grid(path, "Nope")
    assert refused.value.message == "b.xlsx has no sheet named 'Nope'."
    with pytest.raises(UsageError, match=r"^No sheet of b\.xlsx has a header"):
        sheet_io.read_grid(path)  # the built-in fields: no header
    region = fields.Field("Region__c", fields.FieldType.TEXT, "", label="Sales region")
    tenant = fields.Catalogue([*fields.BUILT_IN.fields, region], "tenant")
    found = sheet_io.read_grid(path, catalogue=tenant)
    assert (found.sheet, found.header_row) == ("Invoices", 1)
    assert [(n, list(v)) for n, v in found.grid.rows] == [(2, ["North", "x"])]
    assert sheet_io.read_grid(path, "Invoices", catalogue=tenant).header_row == 1


def test_a_1904_workbook_gives_a_grid_in_its_own_date_system(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.epoch = CALENDAR_MAC_1904
    book.active.append(["BillingProfileId"])
    book.save(tmp_path / "mac.xlsx")
    assert sheet_io.read_grid(tmp_path / "mac.xlsx").grid.date1904
    assert not sheet_io.read_grid(_book(tmp_path / "pc.xlsx", [["BillingProfileId"]])).grid.date1904
