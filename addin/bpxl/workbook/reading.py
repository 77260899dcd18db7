"""Reading an .xlsx file as Excel shows it: the workbook, the invoice sheet, its values.

openpyxl reads the values Excel saved (read-only, values only). Where what it returns differs
from what the user sees, its sheet parser is extended rather than trusted blindly (below). Its
parser is slow (100,000 rows: about 10 s), so a whole sheet is read by python-calamine and made
openpyxl's values exactly (``calamine_cells``); a sheet calamine would read otherwise, and the
first rows read to find the header, by a strict scanner of the rows' XML (``cell_scan``); only
XML neither reads (prefixes, comments, other encodings...) by openpyxl's parser. All three give
the same values, with the same marks:

- a formula with no saved value (a file written by a program that does not calculate) reads as
  blank, so the field would be left out and the row would succeed without it: it becomes
  ``cells.NO_SAVED_VALUE``, which the row refuses;
- a date cell holding serial 60, Excel's 29 February 1900 that never was, reads as 28 February:
  it becomes ``cells.PHANTOM_DATE``;
- a saved ``NaN`` or ``inf`` stopped the whole run with a traceback: it becomes a refusal of its
  row;
- hidden rows are noted, so that the command line, like the ribbon, does not send them unless
  asked.

It also says, in the user's words, why a file is not a workbook bpxl can read (a password, a CSV,
an old .xls, a damaged file), and which sheet holds the invoices.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from openpyxl import load_workbook
from openpyxl.utils.cell import coordinate_to_tuple, range_boundaries
from openpyxl.utils.datetime import CALENDAR_MAC_1904
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet._reader import FORMULA_TAG, VALUE_TAG, WorkSheetParser
from openpyxl.worksheet.worksheet import Worksheet

from ..core import fields, redact
from ..core.cells import NO_SAVED_VALUE, PHANTOM_DATE, Unreadable
from ..core.errors import UsageError
from ..core.fields import Catalogue
from ..core.records import HEADER_SEARCH_ROWS, find_header
from . import calamine_cells, cell_scan, package

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # a Compound File: an old .xls, or an encrypted book
_ENCRYPTED = "EncryptionInfo".encode("utf-16-le")
_TRUE = ("1", "true")


@dataclass(frozen=True)
class SheetValues:
    """A sheet's values by row (row 1 first, all rows as wide as the widest), and what else the
    values do not say."""

    title: str
    rows: list[list[object]]
    hidden: frozenset[int]
    date1904: bool
    merged: tuple[tuple[int, int, int, int], ...] = ()  # min_col, min_row, max_col, max_row


@contextmanager
def open_book(path: Path) -> Iterator[Workbook]:
    """The workbook at ``path``, read-only; a file bpxl cannot read is refused in plain words.

    openpyxl warns, in its own words on the terminal, about parts it does not read (no
    stylesheet, extensions such as a dropdown listing another sheet). Nothing read here is saved,
    so those parts stay in the file untouched: the warnings are not the user's concern."""
    package.check_file(path)  # no DTD, no zip bomb: before any parser sees a part
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except (*DAMAGED, TypeError, AttributeError, InvalidFileException):
            raise _unreadable(path) from None
        try:
            yield book
        except DAMAGED as damage:  # a part read later, as the sheet is: broken XML, a lost part
            raise damaged(path.name, damage) from None
        finally:
            book.close()


# What reading a damaged package raises: broken XML (lxml's and the standard library's parse
# errors are SyntaxErrors), a part missing or cut short, values no cell can hold.
DAMAGED = (SyntaxError, ValueError, KeyError, IndexError, EOFError, OSError, zipfile.BadZipFile,
           zlib.error)  # fmt: skip


def damaged(name: str, damage: BaseException, writing: bool = False) -> UsageError:
    """The refusal of a workbook a part of which could not be read, with the parser's reason;
    ``writing``: found while writing results back, after rows may have been sent."""
    reason = redact.printable(str(damage))[:160] or type(damage).__name__
    if writing:
        return UsageError(
            f"The results could not be written into {name}: a part of it is damaged ({reason}).",
            f"Open it in Excel and save it again (Excel repairs what it can), then run `bpxl "
            f"recover {name}`: it writes what happened to each row, so nothing is sent twice.",
        )
    return UsageError(
        f"{name} could not be read: a part of it is damaged ({reason}). Nothing was sent.",
        "Open it in Excel and save it again (Excel repairs what it can), then run again.",
    )


def _unreadable(path: Path) -> UsageError:
    try:
        with open(path, "rb") as file:
            start = file.read(8)
            encrypted = start == _OLE and _ENCRYPTED in file.read()
    except OSError:
        return UsageError(f"{path.name} could not be opened.", "Check that you may read it.")
    suffix = path.suffix.lower()
    if encrypted:
        return UsageError(
            f"{path.name} is protected with a password, so bpxl cannot read it.",
            "Open it in Excel, remove the password (File > Info > Protect Workbook > Encrypt "
            "with Password: empty it), save, and run again.",
        )
    if start == _OLE or suffix == ".xls":
        return UsageError(
            f"{path.name} is in the old Excel 97-2003 format (.xls).",
            "Open it in Excel and save it as an Excel Workbook (.xlsx), then run again.",
        )
    if suffix in (".csv", ".txt", ".tsv"):
        return UsageError(
            f"{path.name} is a text file ({suffix}), not an Excel workbook.",
            f"If it is a CSV export, name it {path.stem}.csv: bpxl pushes CSV files (commas, "
            "semicolons or tabs). Or open it in Excel and save it as an Excel Workbook (.xlsx).",
        )
    return UsageError(
        f"{path.name} is not an Excel workbook bpxl can read (it may be damaged, or another kind "
        "of file with an Excel name).",
        "Open it in Excel and save it as an Excel Workbook (.xlsx or .xlsm), then run again.",
    )


def choose_sheet(
    book: Workbook, name: str | None, path: Path, catalogue: Catalogue = fields.BUILT_IN
) -> Worksheet:
    """The sheet named ``name``, or else the visible sheet whose header names the most Invoice
    fields; when two tie, the user is asked to name it (statuses must go nowhere else)."""
    titles = ", ".join(repr(t) for t in book.sheetnames)
    if name is not None:
        if name not in book.sheetnames:
            raise UsageError(f"{path.name} has no sheet named {name!r}.", f"Its sheets: {titles}.")
        sheet: Worksheet = book[name]
        return sheet
    scores: list[tuple[int, Worksheet]] = []
    for sheet in book.worksheets:
        if sheet.sheet_state == "visible":
            scores.append((len(header_fields(book, sheet, catalogue)), sheet))
    best = max((score for score, _ in scores), default=0)
    if best == 0:
        raise UsageError(
            f"No sheet of {path.name} has a header naming Invoice fields (Id, DueDate, ...).",
            "Name the sheet with --sheet, or start from `bpxl template`.",
        )
    top = [sheet for score, sheet in scores if score == best]
    if len(top) > 1:
        names = ", ".join(repr(s.title) for s in top)
        field_word = "field" if best == 1 else "fields"
        raise UsageError(
            f"Sheets {names} of {path.name} each name {best} Invoice {field_word} in their "
            "headers, so bpxl cannot tell which one holds the invoices. Nothing was sent.",
            f'Name the sheet with --sheet, e.g. --sheet "{top[0].title}". Its sheets: {titles}.',
        )
    return top[0]


def header_fields(
    book: Workbook, sheet: Worksheet, catalogue: Catalogue = fields.BUILT_IN
) -> set[str]:
    """The Invoice fields that the sheet's header row names."""
    rows = read_values(book, sheet, HEADER_SEARCH_ROWS).rows
    header = find_header(rows, catalogue)
    if header is None:
        return set()
    return {f.name for v in rows[header - 1] if (f := catalogue.lookup(v)) is not None}


# calamine holds a whole sheet twice over while it reads (its cells, then Python's): 100,000
# rows of the template (60 MB of XML) peaked at 486 MB, against 166 MB for cell_scan, which
# reads a megabyte at a time (CPU 6.4 s against 10.1 s, openpyxl 19-20 s, on a loaded machine).
# Past this size (about 40,000 template rows) the memory matters more than the seconds.
CALAMINE_MAX_MB = 24


def read_values(book: Workbook, sheet: Worksheet, last_row: int | None = None) -> SheetValues:
    """The rows of ``sheet`` (up to ``last_row``) as Excel shows them (see the module's notes):
    a whole sheet of at most ``CALAMINE_MAX_MB`` by python-calamine (``calamine_cells``), else
    by ``cell_scan`` when the sheet is in the shape it reads, else by openpyxl's parser; the
    same values every way."""
    size = book._archive.getinfo(sheet._worksheet_path).file_size
    if last_row is None and size <= CALAMINE_MAX_MB * 1024 * 1024:
        try:
            return _calamine(book, sheet)
        except (cell_scan.Unsure, *DAMAGED):
            pass
    try:
        return _scanned(book, sheet, last_row)
    except (cell_scan.Unsure, *DAMAGED):  # openpyxl reads it, and names any damage its way
        return _parsed(book, sheet, last_row)


def _calamine(book: Workbook, sheet: Worksheet) -> SheetValues:
    rows, hidden, skeleton = calamine_cells.read(
        book._archive, sheet._worksheet_path, sheet.title, _book(book, sheet), book
    )
    merged = _skeleton_merged(book, sheet, skeleton)
    date1904 = book.epoch == CALENDAR_MAC_1904
    return SheetValues(sheet.title, rows, frozenset(hidden), date1904, merged)


def _book(book: Workbook, sheet: Worksheet) -> cell_scan.Book:
    # openpyxl's read-only sheet keeps its source, shared strings and the book's date formats
    # in attributes it does not publish; its own row reader uses them the same way.
    return cell_scan.Book(
        sheet._shared_strings, book._date_formats, book._timedelta_formats, book.epoch
    )


def _skeleton_merged(
    book: Workbook, sheet: Worksheet, skeleton: bytes
) -> tuple[tuple[int, int, int, int], ...]:
    """The merged ranges in the sheet's XML without its rows, read by openpyxl's parser."""
    parser = _parser(book, sheet, io.BytesIO(skeleton))
    if any(True for _ in parser.parse()):
        raise cell_scan.Unsure("rows outside the sheet's data")
    return _merged(parser)


def _scanned(book: Workbook, sheet: Worksheet, last_row: int | None) -> SheetValues:
    scan = cell_scan.Scan()
    with sheet._get_source() as source:
        rows, stop = _rows(cell_scan.rows(source, _book(book, sheet), scan), last_row)
    hidden = frozenset(row for row in scan.hidden if row <= stop)  # as far as openpyxl's goes
    merged: tuple[tuple[int, int, int, int], ...] = ()
    if scan.skeleton:  # all rows read: the rest of the sheet's XML, by openpyxl's parser
        merged = _skeleton_merged(book, sheet, scan.skeleton)
    date1904 = book.epoch == CALENDAR_MAC_1904
    return SheetValues(sheet.title, rows, hidden, date1904, merged)


def _parsed(book: Workbook, sheet: Worksheet, last_row: int | None) -> SheetValues:
    with sheet._get_source() as source:
        parser = _parser(book, sheet, source)
        numbered = (
            (number, [(cell["column"], cell["value"]) for cell in cells])
            for number, cells in parser.parse()
        )
        rows, _ = _rows(numbered, last_row)
    # The merged ranges follow the rows in the sheet's XML: known only when all rows were read.
    date1904 = book.epoch == CALENDAR_MAC_1904
    return SheetValues(sheet.title, rows, frozenset(parser.hidden), date1904, _merged(parser))


def _parser(book: Workbook, sheet: Worksheet, source: IO[bytes]) -> _Parser:
    return _Parser(
        source,
        sheet._shared_strings,
        data_only=True,
        epoch=book.epoch,
        date_formats=book._date_formats,
        timedelta_formats=book._timedelta_formats,
    )


def _rows(
    numbered: Iterable[cell_scan.Row], last_row: int | None
) -> tuple[list[list[object]], float]:
    """Rows by number (row 1 first), all as wide as the widest, and the number of the last row
    read (the one past ``last_row``: openpyxl's reader has noted whether it is hidden); a row
    read twice keeps its last reading, as openpyxl's own reader does."""
    rows: list[list[object]] = []
    stop = math.inf
    for number, cells in numbered:
        if last_row is not None and number > last_row:
            stop = number
            break
        width = max((column for column, _ in cells), default=0)
        values: list[object] = [None] * width
        for column, value in cells:
            values[column - 1] = value
        if number > len(rows):
            rows.extend([] for _ in range(number - 1 - len(rows)))
            rows.append(values)
        else:
            rows[number - 1] = values
    width = max(map(len, rows), default=0)
    for values in rows:
        values.extend([None] * (width - len(values)))
    return rows, stop


def _merged(parser: _Parser) -> tuple[tuple[int, int, int, int], ...]:
    merges = parser.merged_cells.mergeCell if parser.merged_cells else []
    return tuple(range_boundaries(merge.ref) for merge in merges)


class _Parser(WorkSheetParser):  # type: ignore[misc]
    """openpyxl's sheet parser, telling apart what its values alone cannot (module notes)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hidden: set[int] = set()

    def parse_row(self, row: Any) -> tuple[int, list[dict[str, Any]]]:
        try:
            number, cells = super().parse_row(row)
        except ValueError:  # a saved NaN or inf, which Excel itself never writes
            number, cells = self.row_counter, self._cell_by_cell(row)
        if str(row.get("hidden")).lower() in _TRUE:  # None: "none", not hidden
            self.hidden.add(number)
        # Cells are checked here, in one loop, rather than in an override of parse_cell: a
        # method call per cell would cost a second on 100,000 rows. Each child of the row is
        # one cell (parse_row parses each as a cell).
        for index, element in enumerate(row):
            cell = cells[index]
            value = cell["value"]
            if value is None:
                if element.find(FORMULA_TAG) is not None and (
                    element.get("t") != "str" or element.find(VALUE_TAG) is None
                ):  # Excel saves an empty text result as t="str" with an empty value
                    cell["value"] = NO_SAVED_VALUE
            elif (
                value.__class__ is dt.datetime
                and (value.year, value.month, value.day) == (1900, 2, 28)
                and cell_scan.phantom(element.findtext(VALUE_TAG), self.epoch)
            ):
                cell["value"] = PHANTOM_DATE
        return number, cells

    def _cell_by_cell(self, row: Any) -> list[dict[str, Any]]:
        self.col_counter = 0
        cells = []
        for element in row:
            try:
                cells.append(self.parse_cell(element))
            except ValueError:  # a value no number holds; a place no cell has is damage
                reference = element.get("r")
                column = coordinate_to_tuple(reference)[1] if reference else self.col_counter
                raw = element.findtext(VALUE_TAG)
                reason = f"the cell holds {raw}, which is not a number Excel can show; type it"
                cells.append({"column": column, "value": Unreadable(reason)})
        return cells
