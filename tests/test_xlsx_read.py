"""Reading an .xlsx as the user sees it: exact values or a refusal, hidden rows, the invoice
sheet, and files bpxl cannot read, named in plain words."""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import warnings
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from bpxl import cli
from bpxl.core import fields
from bpxl.core.cells import NO_SAVED_VALUE, PHANTOM_DATE, TRIMMED, CellError, convert
from bpxl.core.cells import excel_number_text as shown
from bpxl.workbook import reading as xlsx_read
from bpxl.workbook import sheet_io as xlsx

from .conftest import read_sheet, write_invoices
from .test_producers import FIXTURES, MAIN, package

F = fields.BY_NAME
GOOD = {"BillingProfileId": "101", "DueDate": dt.date(2024, 7, 31)}


def push(run, sandbox, path: Path, *more: object) -> tuple[int, str, str]:
    return run("push", path, "--op", "create", *more, "--url", sandbox.url, "--username", "demo")


def plain_book(path: Path, rows: list[list[object]], title: str = "Invoices") -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


# -- exact values or a refusal -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (0.1 + 0.2, "0.3"),
        (100.0, "100"),
        (1.5, "1.5"),
        (123456789012345, "123456789012345"),
        (0.00001, "0.00001"),
        (-2.50, "-2.5"),
        (1 / 3, "0.333333333333333"),
    ],
)
def test_numbers_in_text_fields_are_sent_as_excel_shows_them(number: float, text: str) -> None:
    assert shown(number) == text
    assert convert(F["FileName"], number).value == text


@pytest.mark.parametrize("number", [1e308, 1234567890123456, 1e-12, float("nan"), float("inf")])
def test_numbers_excel_shows_with_an_exponent_are_refused(number: float) -> None:
    with pytest.raises(CellError):
        convert(F["FileName"], number)


def test_text_is_trimmed_with_a_note() -> None:
    converted = convert(F["FileName"], "  INV-1.pdf ")
    assert converted.value == "INV-1.pdf" and converted.warning == TRIMMED
    assert convert(F["FileName"], "INV-1.pdf").warning is None
    assert convert(F["BillingProfileId"], " 101 ").warning is None  # an Id: nothing to note


def test_1904_workbooks_read_plain_numbers_as_1904_dates() -> None:
    assert convert(F["DueDate"], 0, date1904=True).value == "1904-01-01"
    assert convert(F["DueDate"], 43830, date1904=True).value == "2024-01-01"
    assert convert(F["DueDate"], 45292).value == "2024-01-01"


def test_values_the_user_cannot_see_are_refused_on_their_row(tmp_path: Path, sandbox, run) -> None:
    """A formula without a saved value, Excel's 29 Feb 1900, a saved NaN: Invalid, not guessed."""
    path = tmp_path / "made by a script.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Invoices"
    sheet.append(["BillingProfileId", "DueDate", "FileName"])
    sheet.append(["101", dt.date(2024, 7, 31), '=CONCAT("INV-", A2)'])  # openpyxl saves no value
    sheet.append(["101", 60, "phantom"])
    sheet["B3"].number_format = "yyyy-mm-dd"
    sheet.append(["101", dt.date(2024, 7, 31), "fine"])
    book.save(path)
    code, _, err = push(run, sandbox, path)
    assert code == 1 and "Traceback" not in err
    rows = read_sheet(path)
    assert [r["Result"] for r in rows] == ["Invalid", "Invalid", "Created"]
    assert rows[0]["Message"] == f"FileName: {NO_SAVED_VALUE.reason}"
    assert rows[1]["Message"] == f"DueDate: {PHANTOM_DATE.reason}"
    assert "open and save the workbook in Excel, or type the value" in rows[0]["Message"]


def test_a_saved_nan_is_invalid_not_a_traceback(tmp_path: Path, sandbox, run) -> None:
    path = tmp_path / "nan.xlsx"
    cells = [
        "<x:row r='1'><x:c r='A1' t='s'><x:v>0</x:v></x:c><x:c r='B1' t='s'><x:v>1</x:v></x:c>"
        "</x:row>",
        "<x:row r='2'><x:c r='A2' t='s'><x:v>2</x:v></x:c><x:c r='B2'><x:v>NaN</x:v></x:c></x:row>",
        "<x:row r='3'><x:c r='A3' t='s'><x:v>2</x:v></x:c><x:c r='B3'><x:v>1E+400</x:v></x:c>"
        "</x:row>",
    ]
    sheet = (
        f"<x:worksheet xmlns:x='{MAIN}'><x:sheetData>{''.join(cells)}</x:sheetData></x:worksheet>"
    )
    package(path, sheet, ["BillingProfileId", "FileName", "101"])
    code, _, err = push(run, sandbox, path)
    assert code == 1 and "Traceback" not in err
    found = xlsx.read_grid(path)  # openpyxl itself cannot load this file
    message = found.grid.header.index("Message")
    messages = [values[message] for _, values in found.grid.rows]
    assert messages[0].startswith("FileName: the cell holds NaN")
    assert messages[1].startswith("FileName: inf is not a number")
    assert sandbox.writes() == []


def test_a_1904_workbook_is_read_in_its_own_date_system(tmp_path: Path, sandbox, run) -> None:
    path = tmp_path / "mac.xlsx"
    book = openpyxl.Workbook()
    book.epoch = CALENDAR_MAC_1904
    sheet = book.active
    sheet.append(["BillingProfileId", "DueDate", "ActivityStartDate"])
    sheet.append(["101", 43830, dt.date(2024, 7, 31)])  # a plain number, and a date cell
    book.save(path)
    code, out, _ = push(run, sandbox, path)
    assert code == 0, out
    record = sandbox.sandbox.store.get(int(read_sheet(path)[0]["Id"]))
    assert record is not None
    assert record["DueDate"] == "2024-01-01" and record["ActivityStartDate"] == "2024-07-31"


def test_excel_made_1904_file_reads_its_dates(tmp_path: Path) -> None:
    path = shutil.copy(FIXTURES / "calamine-date_1904.xlsx", tmp_path / "d.xlsx")
    book = openpyxl.load_workbook(path)
    sheet = book.worksheets[0]
    expected = [c.value for c in sheet["A"]]
    sheet.insert_rows(1)
    sheet["A1"] = "DueDate"
    book.save(path)
    found = xlsx.read_grid(Path(path))
    assert found.grid.date1904
    assert [values[0] for _, values in found.grid.rows] == expected


# -- hidden rows -----------------------------------------------------------------------------------


def test_hidden_rows_are_not_sent_unless_asked(tmp_path: Path, sandbox, run) -> None:
    book = write_invoices(tmp_path / "inv.xlsx", [GOOD, GOOD, GOOD])
    loaded = openpyxl.load_workbook(book)
    loaded.active.row_dimensions[3].hidden = True
    loaded.save(book)
    code, out, _ = push(run, sandbox, book)
    assert code == 0, out
    assert "2 rows: 2 created" in out
    assert "Row 3 was hidden and not sent (add --include-hidden to send hidden rows)." in out
    assert [r.get("Result") for r in read_sheet(book)] == ["Created", None, "Created"]
    code, out, _ = push(run, sandbox, book, "--include-hidden")
    assert "1 row: 1 created" in out and "hidden" not in out
    assert sandbox.sandbox.store.count() == 3


def test_libreoffice_hidden_false_is_not_hidden(tmp_path: Path) -> None:
    path = shutil.copy(FIXTURES / "libreoffice-invoices.xlsx", tmp_path / "lo.xlsx")
    found = xlsx.read_grid(Path(path))
    assert found.hidden_skipped == [] and len(found.grid.rows) == 4


def test_libreoffice_hidden_true_is_hidden(tmp_path: Path) -> None:
    """LibreOffice spells a hidden row hidden="true" (Excel: "1"): a row filtered out in
    LibreOffice Calc is not sent either."""
    path = tmp_path / "lo-hidden.xlsx"
    with (
        zipfile.ZipFile(FIXTURES / "libreoffice-invoices.xlsx") as source,
        zipfile.ZipFile(path, "w") as target,
    ):
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                row = data.index(b'<row r="3" ')
                hidden = data.index(b'hidden="false"', row)
                data = data[:hidden] + b'hidden="true"' + data[hidden + len(b'hidden="false"') :]
            target.writestr(item, data)
    found = xlsx.read_grid(path)
    assert found.hidden_skipped == [3] and [row for row, _ in found.grid.rows] == [2, 4, 5]


# -- the invoice sheet -----------------------------------------------------------------------------


def test_the_sheet_naming_most_fields_is_the_invoice_sheet(tmp_path: Path, sandbox, run) -> None:
    path = tmp_path / "two.xlsx"
    book = openpyxl.Workbook()
    summary = book.active
    summary.title = "Summary"
    summary.append(["Id", "Total"])
    summary.append(["", 3])
    invoices = book.create_sheet("Invoices")
    invoices.append(["Id", "BillingProfileId", "DueDate"])
    invoices.append([None, "101", dt.date(2024, 7, 31)])
    book.save(path)
    code, out, _ = push(run, sandbox, path)
    assert code == 0, out
    after = openpyxl.load_workbook(path)
    assert after["Invoices"]["D2"].value == "Created"
    assert [c.value for c in after["Summary"][1]] == ["Id", "Total"]  # statuses nowhere else


def test_a_tie_stops_and_asks_for_the_sheet(tmp_path: Path, sandbox, run) -> None:
    path = tmp_path / "tie.xlsx"
    book = openpyxl.Workbook()
    book.active.title = "March"
    book.active.append(["BillingProfileId", "DueDate"])
    book.active.append(["101", dt.date(2024, 3, 31)])
    april = book.create_sheet("April")
    april.append(["BillingProfileId", "DueDate"])
    april.append(["101", dt.date(2024, 4, 30)])
    book.save(path)
    code, _, err = push(run, sandbox, path)
    assert code == 2 and "'March', 'April'" in err and "--sheet" in err
    assert sandbox.writes() == []
    code, out, _ = push(run, sandbox, path, "--sheet", "April")
    assert code == 0, out


# -- files bpxl cannot read, and workbooks in use ----------------------------------------------


def test_a_password_protected_workbook_is_named_as_such(tmp_path: Path, run) -> None:
    path = shutil.copy(FIXTURES / "calamine-pass_protected.xlsx", tmp_path / "secret.xlsx")
    code, _, err = run("push", path, "--op", "create")
    assert code == 2 and "secret.xlsx is protected with a password" in err


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("list.txt", "is a text file (.txt)"),
        ("list.tsv", "name it list.csv"),
        ("old.xls", "97-2003"),
    ],
)
def test_other_files_are_named_in_plain_words(tmp_path: Path, run, name: str, says: str) -> None:
    path = tmp_path / name
    path.write_text("BillingProfileId\n101\n")
    code, _, err = run("push", path, "--op", "create")
    assert code == 2 and says in err
    assert "openpyxl" not in err and "zip" not in err.lower()


def test_a_stale_excel_lock_file_is_named(tmp_path: Path, run) -> None:
    book = write_invoices(tmp_path / "inv.xlsx", [GOOD])
    (tmp_path / "~$inv.xlsx").write_bytes(b"owner")
    code, _, err = run("push", book, "--op", "create")
    assert code == 2 and "~$inv.xlsx" in err and "delete ~$inv.xlsx" in err


# -- template and help ---------------------------------------------------------------------------


def test_template_never_overwrites_without_force(tmp_path: Path, run) -> None:
    path = plain_book(tmp_path / "mine.xlsx", [["my", "data"]])
    code, _, err = run("template", path)
    assert code == 2 and "already exists" in err and "--force" in err
    assert openpyxl.load_workbook(path).active["A1"].value == "my"
    code, _, _ = run("template", path, "--force")
    assert code == 0 and openpyxl.load_workbook(path).active["A1"].value != "my"
    (copy,) = (tmp_path / "bpxl backups").iterdir()
    assert openpyxl.load_workbook(copy).active["A1"].value == "my"


def test_every_option_has_help_text() -> None:
    parser = cli._parser()
    missing = []
    for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
        assert isinstance(action, argparse._SubParsersAction)
        for name, sub in action.choices.items():
            for option in sub._actions:
                if not option.help and not isinstance(option, argparse._HelpAction):
                    missing.append(f"{name} {'/'.join(option.option_strings) or option.dest}")
    assert missing == []


def test_reading_shows_none_of_openpyxls_own_warnings() -> None:
    """A file with no stylesheet (an outside producer's) is read without openpyxl talking to the
    user in its words; the filter ends with the read."""
    path = FIXTURES / "calamine-nonstandard-xml-ns-prefix.xlsx"
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with xlsx_read.open_book(path) as book:
            for sheet in book.worksheets:
                xlsx_read.read_values(book, sheet)
        assert [str(w.message) for w in seen] == []
        warnings.warn("still heard after the read", UserWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["still heard after the read"]
