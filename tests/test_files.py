"""The file a push sends from (workbook/files.py), called directly: a workbook and a CSV file read,
checked and written the way the command line asks, and the names template and pull refuse.

The commands end to end are in test_csv_and_translate.py and test_push_cli.py.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from bpxl.core import fields
from bpxl.core.errors import StorageError, UsageError, WorkbookLockedError
from bpxl.core.records import read_layout
from bpxl.core.results import Outcome, RowResult
from bpxl.workbook import files, saving

from .conftest import short_of_room, write_invoices

ROWS = [
    {"BillingProfileId": "101", "DueDate": "2024-07-31"},
    {"BillingProfileId": "102", "DueDate": "2024-08-31"},
    {"BillingProfileId": "103", "DueDate": "2024-09-30"},
]


def csv_file(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- which file, and where its results go -----------------------------------------------------


def test_a_workbook_takes_its_own_results_and_a_csv_a_results_file(tmp_path: Path) -> None:
    book = files.SendFile(tmp_path / "book.xlsx")
    assert not book.is_csv and book.results == tmp_path / "book.xlsx" and book.csv is None
    data = files.SendFile(tmp_path / "Invoices.CSV")
    assert data.is_csv and data.results == tmp_path / "Invoices.results.csv"
    again = files.SendFile(tmp_path / "invoices.results.csv")
    assert again.results == tmp_path / "invoices.results.csv"


# -- checks before sending ---------------------------------------------------------------------


def test_a_missing_csv_or_a_folder_is_refused_in_words(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^There is no workbook at .*missing\.csv\.\n"):
        files.SendFile(tmp_path / "missing.csv").check_writable()
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(UsageError, match=r"folder\.csv is a folder, not a workbook\.\n"):
        files.SendFile(tmp_path / "folder.csv").check_writable()
    with pytest.raises(UsageError, match=r"^There is no workbook at .*missing\.xlsx\.\n"):
        files.SendFile(tmp_path / "missing.xlsx").check_writable()


def test_a_csv_whose_results_file_is_open_is_refused(tmp_path: Path) -> None:
    data = files.SendFile(csv_file(tmp_path / "in.csv", "BillingProfileId\n101\n"))
    data.check_writable()  # no results file yet
    (tmp_path / "in.results.csv").write_text("BillingProfileId,Id\n101,5\n", encoding="utf-8")
    data.check_writable()
    (tmp_path / "~$in.results.csv").write_text("owner", encoding="utf-8")
    with pytest.raises(WorkbookLockedError, match=r"^in\.results\.csv looks open"):
        data.check_writable()
    (tmp_path / "~$in.csv").write_text("owner", encoding="utf-8")  # the CSV itself only read
    (tmp_path / "~$in.results.csv").unlink()
    data.check_writable()


def test_a_workbook_open_in_excel_is_refused(tmp_path: Path) -> None:
    book = write_invoices(tmp_path / "book.xlsx", ROWS)
    files.SendFile(book).check_writable()
    (tmp_path / "~$book.xlsx").write_text("owner", encoding="utf-8")
    with pytest.raises(WorkbookLockedError, match=r"^book\.xlsx looks open"):
        files.SendFile(book).check_writable()


def test_a_csv_needs_room_for_its_results_file_as_large_as_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = csv_file(tmp_path / "in.csv", "BillingProfileId,Notes\n" + "101,x\n" * 5000)
    need = saving.room_needed(tmp_path / "in.results.csv", 10, like=data)
    assert need > data.stat().st_size  # the new file is as large as the CSV, plus the results
    short_of_room(monkeypatch, tmp_path.resolve(), need)
    files.SendFile(data).prove_writable("", 10)
    short_of_room(monkeypatch, tmp_path.resolve(), need - 1)
    with pytest.raises(StorageError, match=r"^The disk holding in\.results\.csv has "):
        files.SendFile(data).prove_writable("", 10)


def test_a_workbook_is_proved_writable_in_the_sheet_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = write_invoices(tmp_path / "book.xlsx", ROWS)
    sheet = openpyxl.load_workbook(book).sheetnames[0]
    files.SendFile(book).prove_writable(sheet, 3)
    with pytest.raises(UsageError):
        files.SendFile(book).prove_writable("No such sheet", 3)
    need = saving.room_needed(book, 3)
    short_of_room(monkeypatch, tmp_path.resolve(), need - 1)
    with pytest.raises(StorageError, match=r"^The disk holding book\.xlsx has "):
        files.SendFile(book).prove_writable(sheet, 3)


# -- reading ---------------------------------------------------------------------------------


def test_a_workbooks_grid_is_read_with_every_choice_passed_on(tmp_path: Path) -> None:
    book = write_invoices(tmp_path / "book.xlsx", ROWS)
    loaded = openpyxl.load_workbook(book)
    first = loaded.worksheets[0]
    first.row_dimensions[3].hidden = True
    other = loaded.create_sheet("Other")
    for row in (["BillingProfileId"], ["201"], ["202"], ["203"]):
        other.append(row)
    other.row_dimensions[3].hidden = True
    loaded.save(book)
    file = files.SendFile(book)
    found = file.read_grid("Other", {2, 3}, fields.BUILT_IN, include_hidden=True)
    assert found.sheet == "Other" and [n for n, _ in found.grid.rows] == [2, 3]
    assert [values[0] for _, values in found.grid.rows] == ["201", "202"]
    plain = file.read_grid()
    assert plain.sheet == first.title and [n for n, _ in plain.grid.rows] == [2, 4]
    assert plain.hidden_skipped == [3]
    assert file.csv is None and file.notes() == () and not file.decimal_comma


def test_a_tenant_field_is_read_through_the_catalogue_given(tmp_path: Path) -> None:
    region = fields.Field("Region__c", fields.FieldType.TEXT, "", label="Sales region")
    catalogue = fields.Catalogue([*fields.BUILT_IN.fields, region], "tenant")
    data = csv_file(tmp_path / "in.csv", "Sales region;Remark,a,b\nNorth;x,1,2\n")
    file = files.SendFile(data)
    found = file.read_grid(None, None, catalogue)
    assert file.csv is not None and file.csv.separator == ";"  # the label counted as a field
    assert list(found.grid.header) == ["Sales region", "Remark,a,b"]
    plain = files.SendFile(data)
    plain.read_grid()
    assert plain.csv is not None and plain.csv.separator == ","  # no field: the most used


def test_a_csv_is_read_with_its_rows_and_its_notes(tmp_path: Path) -> None:
    data = csv_file(tmp_path / "in.csv", "BillingProfileId;Amount\n101;1,5\n102;2\n103;3\n")
    file = files.SendFile(data)
    found = file.read_grid(None, {2, 4})
    assert [n for n, _ in found.grid.rows] == [2, 4] and found.width == 2
    assert file.decimal_comma
    assert file.notes() == (
        "Read in.csv as CSV: UTF-8, columns separated by ';' (Excel's regional CSV), 3 data rows.",
        "Results go into in.results.csv.",
    )
    comma = files.SendFile(csv_file(tmp_path / "comma.csv", "BillingProfileId,Amount\n101,2\n"))
    comma.read_grid()
    assert not comma.decimal_comma


def test_a_csv_has_no_sheet_to_name(tmp_path: Path) -> None:
    file = files.SendFile(csv_file(tmp_path / "in.csv", "BillingProfileId\n101\n"))
    with pytest.raises(UsageError) as refused:
        file.read_grid("Invoices")
    assert refused.value.message == "--sheet Invoices: in.csv is a CSV file, which has no sheets."
    assert refused.value.hint == "Leave --sheet out."
    assert file.read_grid("").grid.header  # an empty name is no name


def test_only_a_csvs_header_must_name_a_field(tmp_path: Path) -> None:
    file = files.SendFile(csv_file(tmp_path / "in.csv", "Customer,Total\nAcme,5\n"))
    found = file.read_grid()
    with pytest.raises(UsageError, match=r"^The first line of in\.csv names no Invoice field"):
        file.check_header(found.grid.header, fields.BUILT_IN)
    file.check_header(["BillingProfileId"], fields.BUILT_IN)  # as translated by --map
    book = files.SendFile(write_invoices(tmp_path / "book.xlsx", ROWS))
    book.read_grid()
    book.check_header(["Customer"], fields.BUILT_IN)  # a workbook's header is read elsewhere


# -- writing results ---------------------------------------------------------------------------


def test_results_go_into_the_workbook_or_beside_the_csv(tmp_path: Path) -> None:
    book = write_invoices(tmp_path / "book.xlsx", ROWS[:1])
    file = files.SendFile(book)
    found = file.read_grid()
    layout = read_layout(found.grid.header)
    file.write_results(found, layout, [RowResult(2, Outcome.CREATED, "77")])
    sheet = openpyxl.load_workbook(book).worksheets[0]
    header = [c.value for c in sheet[1]]
    assert sheet.cell(2, header.index("Id") + 1).value in ("77", 77)
    assert sheet.cell(2, header.index("Result") + 1).value == "Created"

    data = csv_file(tmp_path / "in.csv", "BillingProfileId\n101\n")
    file = files.SendFile(data)
    found = file.read_grid()
    file.write_results(found, read_layout(found.grid.header), [RowResult(2, Outcome.CREATED, "78")])
    assert data.read_text(encoding="utf-8") == "BillingProfileId\n101\n"  # left as it was
    written = (tmp_path / "in.results.csv").read_text(encoding="utf-8-sig").splitlines()
    assert written[0].split(",")[:3] == ["BillingProfileId", "Id", "Result"]
    assert written[1].split(",")[:3] == ["101", "78", "Created"]


# -- names template and pull refuse -------------------------------------------------------------


def test_template_writes_only_xlsx(tmp_path: Path) -> None:
    files.refuse_format(tmp_path / "out.xlsx", "template")
    files.refuse_format(tmp_path / "OUT.XLSX", "template")
    existing = tmp_path / "macros.xlsm"
    existing.write_bytes(b"")
    with pytest.raises(UsageError) as refused:
        files.refuse_format(existing, "template")
    assert refused.value.message == (
        "bpxl template writes an Excel workbook (.xlsx), so it cannot write macros.xlsm. "
        "Nothing was written."
    )
    assert refused.value.hint == "Use macros.xlsx."


def test_pull_fills_an_existing_xlsm_but_makes_only_xlsx(tmp_path: Path) -> None:
    existing = tmp_path / "macros.xlsm"
    existing.write_bytes(b"")
    files.refuse_format(existing, "pull")
    files.refuse_format(tmp_path / "NEW.XLSX", "pull")
    with pytest.raises(UsageError, match=r"^bpxl pull writes .* cannot write new\.xlsm\."):
        files.refuse_format(tmp_path / "new.xlsm", "pull")
    (tmp_path / "old.xls").write_bytes(b"")
    with pytest.raises(UsageError, match=r"cannot write old\.xls\."):
        files.refuse_format(tmp_path / "old.xls", "pull")


def test_a_csv_name_is_told_how_to_push_or_keep_csv(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as refused:
        files.refuse_format(tmp_path / "out.csv", "pull")
    assert refused.value.message == (
        "bpxl pull writes an Excel workbook (.xlsx), so it cannot write out.csv. "
        "Nothing was written."
    )
    assert refused.value.hint == (
        "Use out.xlsx. To push invoices from a CSV file, push the CSV itself (bpxl push "
        "FILE.csv); to keep a pull's rows as CSV, save the workbook as CSV from Excel."
    )
