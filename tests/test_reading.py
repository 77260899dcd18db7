"""Reading a workbook (workbook/reading.py), called directly: the words for files bpxl cannot read
and for damaged parts, the choice of the invoice sheet, and the cells openpyxl's parser refuses.
The readers' values, cell by cell against openpyxl's, are in test_fast_reading.py; the pushes
that read workbooks are in test_xlsx_read.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest
from openpyxl.chart import BarChart

from bpxl.core import fields
from bpxl.core.cells import Unreadable
from bpxl.core.errors import UsageError
from bpxl.workbook import reading

from .test_fast_reading import HEADER, STRINGS, _sheet
from .test_producers import FIXTURES, package


def _refusal(path: Path) -> str:
    with pytest.raises(UsageError) as refused, reading.open_book(path):
        pass
    return str(refused.value)


OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ENCRYPTED = "EncryptionInfo".encode("utf-16-le")
OLD = (
    "{name} is in the old Excel 97-2003 format (.xls).\n  What to do: Open it in Excel and save "
    "it as an Excel Workbook (.xlsx), then run again."
)
OTHER = (
    "{name} is not an Excel workbook bpxl can read (it may be damaged, or another kind of file "
    "with an Excel name).\n  What to do: Open it in Excel and save it as an Excel Workbook (.xlsx "
    "or .xlsm), then run again."
)
TEXT = (
    "{name} is a text file ({suffix}), not an Excel workbook.\n  What to do: If it is a CSV "
    "export, name it {stem}.csv: bpxl pushes CSV files (commas, semicolons or tabs). Or open it in "
    "Excel and save it as an Excel Workbook (.xlsx)."
)


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("old.xls", b"BillingProfileId\n101\n", OLD),  # named .xls, whatever it holds
        ("OLD.XLS", b"", OLD),
        ("renamed.xlsx", OLE + b"\0" * 600, OLD),  # a Compound File: an old .xls renamed
        ("renamed.xlsx", b"PK not a zip " + ENCRYPTED, OTHER),  # the words, but no Compound File
        ("list.txt", b"BillingProfileId\n101\n", TEXT),
        ("list.tsv", b"BillingProfileId\t101\n", TEXT),
        ("LIST.CSV", b"BillingProfileId;101\n", TEXT),
        ("book.xlsx", b"BillingProfileId,101\n", OTHER),
        ("book.xlsm", b"", OTHER),
    ],
)
def test_files_that_are_no_workbook_are_named_in_plain_words(
    tmp_path: Path, name: str, content: bytes, said: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    suffix = path.suffix.lower()
    assert _refusal(path) == said.format(name=name, suffix=suffix, stem=path.stem)


def test_a_password_protected_workbook_is_named_as_such(tmp_path: Path) -> None:
    for name in ("secret.xlsx", "secret.xls"):  # its name does not matter: its content does
        path = shutil.copy(FIXTURES / "calamine-pass_protected.xlsx", tmp_path / name)
        assert _refusal(Path(path)) == (
            f"{name} is protected with a password, so bpxl cannot read it.\n  What to do: Open "
            "it in Excel, remove the password (File > Info > Protect Workbook > Encrypt with "
            "Password: empty it), save, and run again."
        )


def test_a_file_that_cannot_be_opened_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "book.xlsx"
    folder.mkdir()
    assert _refusal(folder) == (
        "book.xlsx could not be opened.\n  What to do: Check that you may read it."
    )


def test_a_damaged_part_is_named_with_the_parsers_reason() -> None:
    error = reading.damaged("book.xlsx", KeyError("There is no item named 'xl/styles.xml'"))
    assert str(error) == (
        'book.xlsx could not be read: a part of it is damaged ("There is no item named '
        "'xl/styles.xml'\"). Nothing was sent.\n  What to do: Open it in Excel and save it again "
        "(Excel repairs what it can), then run again."
    )
    long = reading.damaged("b.xlsx", ValueError("line 1\n" + "x" * 300))
    assert long.message == (
        f"b.xlsx could not be read: a part of it is damaged (line 1 {'x' * 153}). Nothing was sent."
    )  # the reason on one line, cut at 160 characters
    assert reading.damaged("b.xlsx", EOFError()).message.startswith(
        "b.xlsx could not be read: a part of it is damaged (EOFError)."
    )


def test_damage_found_while_writing_says_to_recover() -> None:
    error = reading.damaged("book.xlsx", ValueError("bad"), writing=True)
    assert str(error) == (
        "The results could not be written into book.xlsx: a part of it is damaged (bad).\n  What "
        "to do: Open it in Excel and save it again (Excel repairs what it can), then run `bpxl "
        "recover book.xlsx`: it writes what happened to each row, so nothing is sent twice."
    )


def _two_sheets(path: Path, first: list[str], second: list[str]) -> Path:
    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active.append(first)
    book.create_sheet("Data").append(second)
    book.save(path)
    return path


def test_a_sheet_named_that_is_not_there_is_refused_with_the_sheets_there(tmp_path: Path) -> None:
    path = _two_sheets(tmp_path / "b.xlsx", ["x"], ["BillingProfileId"])
    with reading.open_book(path) as book, pytest.raises(UsageError) as refused:
        reading.choose_sheet(book, "Invoices", path)
    assert str(refused.value) == (
        "b.xlsx has no sheet named 'Invoices'.\n  What to do: Its sheets: 'Notes', 'Data'."
    )
    with reading.open_book(path) as book:
        assert reading.choose_sheet(book, "Notes", path).title == "Notes"


def _no_choice(path: Path) -> str:
    with reading.open_book(path) as book, pytest.raises(UsageError) as refused:
        reading.choose_sheet(book, None, path)
    return str(refused.value)


def test_the_sheet_naming_most_fields_is_chosen_and_a_tie_asks(tmp_path: Path) -> None:
    path = _two_sheets(tmp_path / "b.xlsx", ["DueDate"], ["BillingProfileId", "DueDate"])
    with reading.open_book(path) as book:
        assert reading.choose_sheet(book, None, path).title == "Data"
        assert reading.header_fields(book, book["Data"]) == {"BillingProfileId", "DueDate"}
        assert reading.header_fields(book, book["Notes"]) == {"DueDate"}
    tie = _two_sheets(tmp_path / "tie.xlsx", ["DueDate"], ["FileName"])
    assert _no_choice(tie) == (
        "Sheets 'Notes', 'Data' of tie.xlsx each name 1 Invoice field in their headers, so bpxl "
        "cannot tell which one holds the invoices. Nothing was sent.\n  What to do: Name the "
        "sheet with --sheet, e.g. --sheet \"Notes\". Its sheets: 'Notes', 'Data'."
    )
    two = _two_sheets(tmp_path / "two.xlsx", ["DueDate", "Id"], ["FileName", "Id"])
    assert _no_choice(two).startswith(
        "Sheets 'Notes', 'Data' of two.xlsx each name 2 Invoice fields in their headers, "
    )
    assert _no_choice(_two_sheets(tmp_path / "none.xlsx", ["x"], ["y"])) == (
        "No sheet of none.xlsx has a header naming Invoice fields (Id, DueDate, ...).\n  What to "
        "do: Name the sheet with --sheet, or start from `bpxl template`."
    )


def test_a_hidden_sheet_is_never_chosen(tmp_path: Path) -> None:
    path = _two_sheets(tmp_path / "b.xlsx", ["DueDate"], ["BillingProfileId", "DueDate"])
    book = openpyxl.load_workbook(path)
    book["Data"].sheet_state = "hidden"
    book.save(path)
    with reading.open_book(path) as read:
        assert reading.choose_sheet(read, None, path).title == "Notes"


def test_a_saved_nan_or_inf_is_refused_in_its_cell_only(tmp_path: Path) -> None:
    """openpyxl's parser stops on the row; its cells are read one by one, each where it is."""
    path = tmp_path / "nan.xlsx"
    rows = (
        '<row r="2"><c><v>1</v></c><c><v>NaN</v></c><c r="D2"><v>inf</v></c><c><v>7</v></c>'
        '</row><row r="3"><c r="B3"><v>2</v></c><c r="E3"><v>-inf</v></c></row>'
    )
    package(path, _sheet(HEADER + rows), STRINGS)
    said = "the cell holds {}, which is not a number Excel can show; type it"
    with reading.open_book(path) as book:
        values = reading.read_values(book, book.worksheets[0])
    assert values.rows[1:] == [
        [1, Unreadable(said.format("NaN")), None, Unreadable(said.format("inf")), 7],
        [None, 2, None, None, Unreadable(said.format("-inf"))],
    ]


def test_a_cell_whose_place_no_cell_has_is_damage(tmp_path: Path) -> None:
    path = tmp_path / "place.xlsx"
    rows = '<row r="2"><c r="A2"><v>NaN</v></c><c r="ZZZZ2"><v>1</v></c></row>'
    package(path, _sheet(HEADER + rows), STRINGS)
    with pytest.raises(UsageError) as refused, reading.open_book(path) as book:
        reading.read_values(book, book.worksheets[0])
    assert refused.value.message == (
        "place.xlsx could not be read: a part of it is damaged ('ZZZZ' is not a valid column "
        "name. Column names are from A to ZZZ). Nothing was sent."
    )


def test_the_invoice_sheet_is_chosen_by_the_tenants_fields(tmp_path: Path) -> None:
    region = fields.Field("Region__c", fields.FieldType.TEXT, "", label="Sales region")
    tenant = fields.Catalogue([*fields.BUILT_IN.fields, region], "tenant")
    path = _two_sheets(tmp_path / "b.xlsx", ["Notes"], ["Sales region", "Remark"])
    with reading.open_book(path) as book:
        assert reading.header_fields(book, book["Data"], tenant) == {"Region__c"}
        assert reading.header_fields(book, book["Data"]) == set()
        assert reading.choose_sheet(book, None, path, tenant).title == "Data"
        with pytest.raises(UsageError, match=r"No sheet of b\.xlsx has a header"):
            reading.choose_sheet(book, None, path)  # the built-in fields alone


def test_a_header_is_named_from_the_first_rows_without_reading_the_rest(tmp_path: Path) -> None:
    """Choosing among sheets of 100,000 rows reads their first rows only: here the rest of the
    sheet is damaged, and the header is still named (the push's own read names the damage)."""
    path = tmp_path / "long.xlsx"
    rows = "".join(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c></row>' for r in range(2, 9000))
    damaged = '<row r="9000"><c r="A9000"><v>1</v></row>'  # a cell never closed
    package(path, _sheet(HEADER + rows + damaged, head='<dimension ref="A1:B9000"/>'), STRINGS)
    with reading.open_book(path) as book:
        sheet = book.worksheets[0]
        assert reading.header_fields(book, sheet) == {"BillingProfileId", "FileName"}
        with pytest.raises(reading.DAMAGED):
            reading.read_values(book, sheet)


def test_a_book_whose_worksheets_are_all_hidden_has_no_invoice_sheet(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["BillingProfileId", "DueDate"])
    book.active.sheet_state = "hidden"
    book.create_chartsheet("Chart").add_chart(BarChart())  # the one sheet shown
    book.save(tmp_path / "b.xlsx")
    assert _no_choice(tmp_path / "b.xlsx").startswith(
        "No sheet of b.xlsx has a header naming Invoice fields"
    )


def test_rows_after_the_sheets_data_are_read_too(tmp_path: Path) -> None:
    """A second sheetData (no producer writes one): the fast readers leave it to openpyxl's
    parser, which reads the rows of both."""
    path = tmp_path / "twice.xlsx"
    second = '<sheetData><row r="3"><c r="A3"><v>3</v></c></row></sheetData>'
    package(path, _sheet(HEADER, second), STRINGS)
    with reading.open_book(path) as book:
        values = reading.read_values(book, book.worksheets[0])
    assert values.rows == [["BillingProfileId", "FileName"], [None, None], [3, None]]


def test_rows_are_placed_by_their_number_and_made_as_wide_as_the_widest() -> None:
    numbered = [(2, [(3, "c")]), (2, [(1, "a")]), (5, [(2, "b")]), (7, [])]
    rows, stop = reading._rows(iter(numbered), None)
    assert rows == [
        [None, None],
        ["a", None],  # read twice: the last reading, as openpyxl's own reader keeps
        [None, None],
        [None, None],
        [None, "b"],
        [None, None],
        [None, None],
    ]
    assert stop == float("inf")
    rows, stop = reading._rows(iter(numbered), 4)
    assert (rows, stop) == ([[None], ["a"]], 5)  # stopped at the first row past the last
    assert reading._rows(iter([]), 3) == ([], float("inf"))


def test_the_first_rows_read_note_the_hidden_ones_openpyxl_would(tmp_path: Path) -> None:
    path = tmp_path / "hidden.xlsx"
    rows = "".join(f'<row r="{r}" hidden="1"><c r="A{r}"><v>{r}</v></c></row>' for r in (2, 4, 6))
    package(path, _sheet(HEADER + rows), STRINGS)
    with reading.open_book(path) as book:
        sheet = book.worksheets[0]
        first = reading.read_values(book, sheet, 3)
        assert first.rows == [["BillingProfileId", "FileName"], [2, None]]
        assert first.hidden == {2, 4}  # the row past the last one read (openpyxl's reader too)
        assert reading.read_values(book, sheet).hidden == {2, 4, 6}
        assert reading._scanned(book, sheet, 1).hidden == {2}
