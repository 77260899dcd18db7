"""The .xlsx front end: read a sheet into a grid, write per-row results back into the file.

Reading (``reading``) uses openpyxl's read-only, values-only mode (what Excel last showed,
formulas' cached values included). Writing edits the worksheet XML in place (``sheet_xml``): only
the ``Result``, ``Message`` and new ``Id`` cells change, everything else in the file (other sheets,
formulas, formats, validation, comments, tables, images, charts, the macros of an .xlsm) is copied
as it is; the file is saved through a temporary file and an atomic rename, after a backup.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..core import fields
from ..core.cells import is_blank
from ..core.errors import UsageError, WorkbookLockedError
from ..core.fields import Catalogue
from ..core.push import Grid
from ..core.records import (
    HEADER_SEARCH_ROWS,
    Layout,
    OwnColumns,
    find_header,
    own_columns,
    read_layout,
)
from ..core.results import Outcome, RowResult
from ..template import STATUS_WIDTHS
from . import reading, saving, sheet_xml


@dataclass(frozen=True)
class SheetGrid:
    """A sheet's grid and where it came from."""

    sheet: str
    header_row: int
    grid: Grid
    hidden_skipped: list[int] = field(default_factory=list)  # hidden rows with values, not sent
    merged: tuple[tuple[int, int], ...] = ()  # 0-based columns of merges in the header or below
    width: int = 0  # columns up to the last one holding a value, in the header row or below


def parse_rows(spec: str) -> set[int]:
    """``"2-50,60"`` -> the sheet row numbers it names."""
    rows: set[int] = set()
    for part in spec.replace(" ", "").split(","):
        start, dash, end = part.partition("-")
        numbers = (start, end if dash else start)
        if not all(n.isascii() and n.isdigit() and len(n) <= 7 for n in numbers):
            raise UsageError(f"--rows {spec}: {part!r} is not a row or a range like 2-50.")
        first, last = int(numbers[0]), int(numbers[1])
        if first < 1 or last < first or last > sheet_xml.MAX_ROW:
            raise UsageError(
                f"--rows {spec}: {part!r} is not a valid range of row numbers.",
                "Write the smaller row number first, from row 2 on, e.g. --rows 2-50,60.",
            )
        rows.update(range(first, last + 1))
    return rows


def check_writable(path: Path) -> None:
    """Refuse, before anything is sent, a workbook that is open in Excel or cannot be written."""
    if path.is_dir():
        raise UsageError(
            f"{path} is a folder, not a workbook.", "Name the workbook file, e.g. invoices.xlsx."
        )
    if not path.is_file():
        raise UsageError(f"There is no workbook at {path}.", "Check the file name and folder.")
    owner_files = [
        path.with_name("~$" + path.name),  # Excel's owner file while the book is open
        path.with_name("~$" + path.name[2:]),  # ... for longer names Excel drops two letters
        path.with_name(f".~lock.{path.name}#"),  # LibreOffice's lock
    ]
    lock = next((p for p in owner_files if p.exists()), None)
    if lock is not None:
        raise WorkbookLockedError(
            f"{path.name} looks open in Excel (or LibreOffice): its lock file {lock.name} is "
            "next to it, so bpxl cannot write the results. Nothing was sent.",
            f"Save and close the workbook, then run again. If it is not open anywhere, that lock "
            f"file was left behind by a crash: delete {lock.name} and run again.",
        )
    try:
        with open(path, "r+b"):
            pass
    except PermissionError:
        raise WorkbookLockedError(
            f"{path.name} is open in another program, or you may not change it, so bpxl cannot "
            "write the results. Nothing was sent.",
            "Close it where it is open (or ask for write access), then run again.",
        ) from None


def prove_writable(path: Path, sheet: str, rows: int) -> None:
    """Before anything is sent: the results of ``rows`` rows can be written into ``sheet`` of
    ``path``: every part the writer rewrites parses, and the folder takes the backup and the new
    file, with room for them. Else a ``BpxlError`` saying why; nothing was sent."""
    try:
        with zipfile.ZipFile(path) as source:
            sheet_xml.check_parts(source, sheet)
    except reading.DAMAGED as damage:
        raise reading.damaged(path.name, damage) from None
    saving.prove_room(path, rows)


def invoice_sheet(path: Path, catalogue: Catalogue = fields.BUILT_IN) -> str:
    """The title of an existing workbook's invoice sheet, chosen as a push chooses it (see
    ``reading.choose_sheet``), so a pull writes where a push reads and nowhere else."""
    with reading.open_book(path) as book:
        title: str = reading.choose_sheet(book, None, path, catalogue).title
        return title


def read_grid(
    path: Path,
    sheet: str | None = None,
    rows: set[int] | None = None,
    catalogue: Catalogue = fields.BUILT_IN,
    include_hidden: bool = False,
) -> SheetGrid:
    """The grid of ``sheet`` (default: the invoice sheet, see ``reading.choose_sheet``),
    optionally only some rows; headers are matched against ``catalogue``; hidden rows are left
    out unless ``include_hidden``."""
    with reading.open_book(path) as book:
        worksheet = reading.choose_sheet(book, sheet, path, catalogue)
        read = reading.read_values(book, worksheet)
    values = read.rows
    header_row = find_header(values, catalogue)
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
    data = []
    hidden: list[int] = []
    every = list(enumerate(values[header_row:], start=header_row + 1))
    for number, row in every:
        if rows is not None and number not in rows:
            continue
        if number in read.hidden and not include_hidden:
            if any(not is_blank(v) for v in row):
                hidden.append(number)
            continue
        data.append((number, row))
    some = len(data) < len(every)  # rows left out: create keys count every row of the sheet
    merged = tuple(
        (left - 1, right - 1) for left, _, right, last in read.merged if last >= header_row
    )
    areas = tuple((left - 1, top, right - 1, bottom) for left, top, right, bottom in read.merged)
    grid = Grid(
        values[header_row - 1], data, read.date1904, areas, sheet_rows=every if some else None
    )
    width = used_width(values[header_row - 1 :])  # rows not read, or hidden, count too
    found = SheetGrid(worksheet.title, header_row, grid, hidden, merged, width)
    _check_room(found, catalogue)
    return found


def _check_room(found: SheetGrid, catalogue: Catalogue) -> None:
    """Refuse, before anything is sent, a sheet with no room for the columns bpxl would add."""
    layout = read_layout(found.grid.header, catalogue)
    columns = own_columns(layout, found.width, True, found.merged)
    beyond = [header for index, header in columns.added if index >= sheet_xml.MAX_COLUMN]
    if beyond:
        raise sheet_xml.SheetFullError(
            f"Sheet {found.sheet!r} has no room for the {' and '.join(beyond)} "
            f"column{'s' if len(beyond) > 1 else ''} bpxl adds: Excel's last column, XFD, is "
            "already in use. Nothing was sent.",
            "Delete empty columns at the right of the sheet, or add the "
            f"{', '.join(beyond)} header{'s' if len(beyond) > 1 else ''} yourself.",
        )


RESULT_STYLES = {  # Excel's own "good", "bad" and "neutral" colours
    Outcome.CREATED: sheet_xml.Style("FFC6EFCE"),
    Outcome.UPDATED: sheet_xml.Style("FFC6EFCE"),
    Outcome.UPSERTED: sheet_xml.Style("FFC6EFCE"),
    Outcome.INVALID: sheet_xml.Style("FFFFC7CE"),
    Outcome.FAILED: sheet_xml.Style("FFFFC7CE"),
    Outcome.UNKNOWN: sheet_xml.Style("FFFFEB9C"),
    Outcome.CONFLICT: sheet_xml.Style("FFFFEB9C"),
    Outcome.CHANGED: sheet_xml.Style("FFFFEB9C"),
    Outcome.EXISTS: sheet_xml.Style("FFFFEB9C"),
}
PLAIN = sheet_xml.Style()
ID_HEADER = sheet_xml.Style("FFD9D9D9", bold=True)  # the template's read-only header
STATUS_HEADER = sheet_xml.Style("FF1F3864", bold=True, white=True)  # the template's status header


def write_results(
    path: Path, found: SheetGrid, layout: Layout, results: Sequence[RowResult]
) -> Path:
    """Write each result into its row; back up the original first. Returns the backup's path.

    Only the Result, Message and new Id cells change (see ``sheet_xml``); missing columns are
    added after the last used column and any merged range, with the template's header look.
    """
    columns = own_columns(layout, found.width, any(r.id for r in results), found.merged)
    edit = sheet_xml.Edit(header_row=found.header_row)
    add_headers(edit, found.header_row, columns)
    ids = {}
    if columns.id is not None:
        ids = {
            row: values[columns.id] if columns.id < len(values) else None
            for row, values in found.grid.rows
        }
    for result in results:
        outcome = result.outcome.value if result.outcome else None
        style = RESULT_STYLES[result.outcome] if result.outcome else PLAIN
        edit.set(result.row, columns.result + 1, outcome, style)
        edit.set(result.row, columns.message + 1, result.message or None)
        blank = is_blank(ids.get(result.row))
        if result.id and columns.id is not None and (blank or result.names_invoice):
            edit.set(result.row, columns.id + 1, result.id)
    return save_edit(path, found.sheet, edit)


def add_headers(edit: sheet_xml.Edit, header_row: int, columns: OwnColumns) -> None:
    """The Id, Result and Message headers bpxl adds, with the template's look and widths."""
    for index, header in columns.added:
        look = ID_HEADER if header == fields.ID else STATUS_HEADER
        edit.set(header_row, index + 1, header, look)
        edit.added.append((index + 1, header, STATUS_WIDTHS.get(header, 14)))


def save_edit(path: Path, sheet: str, edit: sheet_xml.Edit) -> Path:
    """Apply ``edit`` to ``sheet`` of the workbook at ``path``, after a whole backup; returns the
    backup's path. The workbook is replaced atomically and keeps its permissions."""
    copy = saving.backup(path)

    def write(temporary: Path) -> None:
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(temporary, "w") as target:
            sheet_xml.apply(source, sheet, edit, target)

    try:
        saving.save(path, write)
    except reading.DAMAGED as damage:  # a part changed since the push checked it
        raise reading.damaged(path.name, damage, writing=True) from None
    return copy


def used_width(rows: Iterable[Sequence[object]]) -> int:
    """Columns up to the last one holding a value (read-only rows are padded to the sheet's
    recorded dimension, which may reach far past the data)."""
    width = 0
    for values in rows:
        for index in range(len(values) - 1, width - 1, -1):
            if values[index] is not None:
                width = index + 1
                break
    return width
