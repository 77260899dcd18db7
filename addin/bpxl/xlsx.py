"""The .xlsx front end: read a sheet into a grid, write per-row results back into the file.

Reading uses openpyxl's read-only, values-only mode (what Excel last showed, formulas' cached
values included). Writing loads the full workbook, sets only the ``Result``, ``Message`` and new
``Id`` cells, and saves through a temporary file and an atomic rename, after a backup of the
original. Everything openpyxl keeps (other sheets, formulas, formats, widths, validation, comments,
tables, the macros of an .xlsm) is kept.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.styles import PatternFill
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.table import TableColumn
from openpyxl.worksheet.worksheet import Worksheet

from . import fields
from .cells import is_blank
from .errors import UsageError, WorkbookLockedError
from .push import Grid
from .records import HEADER_SEARCH_ROWS, Layout, find_header, own_columns
from .results import Outcome, RowResult
from .template import HEADER_FONT, READ_ONLY_FILL, style_status_header

FILLS = {
    Outcome.CREATED: PatternFill("solid", fgColor="C6EFCE"),
    Outcome.UPDATED: PatternFill("solid", fgColor="C6EFCE"),
    Outcome.UPSERTED: PatternFill("solid", fgColor="C6EFCE"),
    Outcome.INVALID: PatternFill("solid", fgColor="FFC7CE"),
    Outcome.FAILED: PatternFill("solid", fgColor="FFC7CE"),
    Outcome.UNKNOWN: PatternFill("solid", fgColor="FFEB9C"),
}
NO_FILL = PatternFill(fill_type=None)


@dataclass(frozen=True)
class SheetGrid:
    """A sheet's grid and where it came from."""

    sheet: str
    header_row: int
    grid: Grid


def parse_rows(spec: str) -> set[int]:
    """``"2-50,60"`` -> the sheet row numbers it names."""
    rows: set[int] = set()
    for part in spec.replace(" ", "").split(","):
        start, dash, end = part.partition("-")
        try:
            first, last = int(start), int(end if dash else start)
        except ValueError:
            raise UsageError(
                f"--rows {spec}: {part!r} is not a row or a range like 2-50."
            ) from None
        if first < 1 or last < first:
            raise UsageError(f"--rows {spec}: {part!r} is not a valid range of row numbers.")
        rows.update(range(first, last + 1))
    return rows


def check_writable(path: Path) -> None:
    """Refuse, before anything is sent, a workbook that is open in Excel or cannot be written."""
    if not path.is_file():
        raise UsageError(f"There is no workbook at {path}.", "Check the file name and folder.")
    owner_files = [
        path.with_name("~$" + path.name),  # Excel's owner file while the book is open
        path.with_name("~$" + path.name[2:]),  # ... for longer names Excel drops two letters
        path.with_name(f".~lock.{path.name}#"),  # LibreOffice's lock
    ]
    locked = any(p.exists() for p in owner_files)
    try:
        with open(path, "r+b"):
            pass
    except PermissionError:
        locked = True
    if locked:
        raise WorkbookLockedError(
            f"{path.name} is open in Excel (or another program), so bpxl cannot write the results.",
            "Save and close it, then run again. Nothing was sent.",
        )


def _header_fields(sheet: Worksheet) -> set[str]:
    """Names of the Invoice fields that the sheet's first rows mention."""
    rows = sheet.iter_rows(max_row=HEADER_SEARCH_ROWS, values_only=True)
    return {f.name for values in rows for v in values if (f := fields.lookup(v)) is not None}


def read_grid(path: Path, sheet: str | None = None, rows: set[int] | None = None) -> SheetGrid:
    """The grid of ``sheet`` (default: the first sheet with an Id header), optionally some rows."""
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, InvalidFileException) as bad:
        raise UsageError(
            f"{path.name} could not be read as an Excel workbook ({bad}).",
            "Save it from Excel as .xlsx or .xlsm and try again.",
        ) from None
    try:
        worksheet = _choose_sheet(book, sheet, path)
        values = [list(r) for r in worksheet.iter_rows(values_only=True)]
    finally:
        book.close()
    header_row = find_header(values)
    if header_row is None:
        raise UsageError(
            f"Sheet {worksheet.title!r} has no header row naming Invoice fields in its first "
            f"{HEADER_SEARCH_ROWS} rows.",
            "Put the field names (Id, BillingProfileId, DueDate, ...) in the header row.",
        )
    if rows is not None and min(rows) <= header_row:
        raise UsageError(
            f"--rows names row {min(rows)}, which is not below the header (row {header_row}).",
            f"Name data rows only, from row {header_row + 1}.",
        )
    data = [
        (number, row)
        for number, row in enumerate(values[header_row:], start=header_row + 1)
        if rows is None or number in rows
    ]
    return SheetGrid(worksheet.title, header_row, Grid(values[header_row - 1], data))


def _choose_sheet(book: Workbook, name: str | None, path: Path) -> Worksheet:
    if name is not None:
        if name not in book.sheetnames:
            raise UsageError(
                f"{path.name} has no sheet named {name!r}.",
                f"Its sheets are: {', '.join(book.sheetnames)}.",
            )
        return book[name]
    named = [(sheet, _header_fields(sheet)) for sheet in book.worksheets]
    for worksheet, found in named:
        if fields.ID in found:
            return worksheet
    for worksheet, found in named:  # a sheet made for creating may have no Id column yet
        if found:
            return worksheet
    raise UsageError(
        f"No sheet of {path.name} has a header naming Invoice fields (Id, DueDate, ...).",
        "Name the sheet with --sheet, or start from `bpxl template`.",
    )


def _own_columns(
    sheet: Worksheet, header_row: int, layout: Layout, need_id: bool
) -> tuple[int | None, int, int]:
    """1-based Id, Result and Message columns; missing ones are added (see ``own_columns``)."""
    columns = own_columns(layout, sheet.max_column, need_id)
    added = [(index + 1, header) for index, header in columns.added]
    for column, header in added:
        if header == fields.ID:
            cell = sheet.cell(row=header_row, column=column, value=header)
            cell.font, cell.fill = HEADER_FONT, READ_ONLY_FILL
        else:
            style_status_header(sheet, header_row, column, header)
    _extend_tables(sheet, header_row, added)
    id_col = None if columns.id is None else columns.id + 1
    return id_col, columns.result + 1, columns.message + 1


def _extend_tables(sheet: Worksheet, header_row: int, added: list[tuple[int, str]]) -> None:
    """Grow an Excel table that ends just left of columns bpxl added, so they join it."""
    for column, header in sorted(added):
        for table in sheet.tables.values():
            min_col, min_row, max_col, max_row = range_boundaries(table.ref)
            if min_row == header_row and max_col + 1 == column:
                table.ref = (
                    f"{get_column_letter(min_col)}{min_row}:{get_column_letter(column)}{max_row}"
                )
                table.tableColumns.append(TableColumn(id=len(table.tableColumns) + 1, name=header))
                if table.autoFilter is not None:
                    table.autoFilter.ref = table.ref


def write_results(
    path: Path, found: SheetGrid, layout: Layout, results: Sequence[RowResult]
) -> Path:
    """Write each result into its row; back up the original first. Returns the backup's path."""
    keep_vba = path.suffix.lower() == ".xlsm"
    book = load_workbook(path, keep_vba=keep_vba)
    sheet = book[found.sheet]
    need_id = any(r.id for r in results)
    id_col, result_col, message_col = _own_columns(sheet, found.header_row, layout, need_id)
    for result in results:
        cell = sheet.cell(row=result.row, column=result_col)
        cell.value = result.outcome.value if result.outcome else None
        cell.fill = FILLS[result.outcome] if result.outcome else NO_FILL
        sheet.cell(row=result.row, column=message_col).value = result.message or None
        if result.id and id_col is not None:
            id_cell = sheet.cell(row=result.row, column=id_col)
            if is_blank(id_cell.value):
                id_cell.value = result.id
    backup = path.with_name(f"{path.stem}.backup{path.suffix}")
    shutil.copy2(path, backup)
    _save_atomically(book, path)
    return backup


def _save_atomically(book: Workbook, path: Path) -> None:
    """Save next to the target and rename over it, so a crash never leaves half a workbook."""
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent
    )
    os.close(handle)
    try:
        book.save(temporary)
        os.replace(temporary, path)
    except PermissionError:
        kept = path.with_name(f"{path.stem}.results{path.suffix}")
        os.replace(temporary, kept)
        raise WorkbookLockedError(
            f"{path.name} was locked when bpxl tried to save the results.",
            f"The results were saved in {kept.name}; close {path.name} and copy them over.",
        ) from None
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
