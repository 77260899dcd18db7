"""A pull into a workbook that was pulled before, without loading the workbook into memory.

Loading a workbook of 100,000 pulled invoices into openpyxl to refresh it took two minutes and
2.6 GB (the invoice sheet and the memory sheet, 7 million cells as objects). Here the sheet is read
once as values, the pulled invoices go into it as a streamed edit of its XML (``sheet_xml``: only
the cells of the pulled rows that differ change, new rows below, statuses cleared; a sheet with
nothing to change is copied as it is), and the memory sheet, which is bpxl's own, is written anew
while the package is copied, in pieces, in the same pass. What a send of changed rows or a revert
writes back (``after_push``) goes the same way, so nothing openpyxl cannot read is lost by a round
trip. A workbook never pulled into has no memory sheet or amber marks yet: ``pulling`` makes them
with openpyxl, which is quick at that size."""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import template
from ..core import fields
from ..core.fields import Catalogue
from ..core.records import Layout, clear_of, column_letter, own_columns, read_layout
from ..core.results import Outcome, RowResult
from ..core.roundtrip import edits, pull_memory
from ..core.roundtrip.pull_memory import STAMP_HEADER, Pulled
from ..core.roundtrip.pulls import Places
from . import saving, sheet_io, sheet_xml
from .pulling import PULLED, PullReport, read_pulled
from .sheet_xml import Book, Edit, Style
from .streamed_pull import DATETIME_FORMAT, CellXml

DATE = Style(number_format=template.DATE_FORMAT)
DATETIME = Style(number_format=DATETIME_FORMAT)
PLAIN = Style()  # a cleared status loses its colour too
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_PIECE_ROWS = 2000  # memory rows written to the package at a time


def refresh(
    path: Path,
    sheet_name: str | None,
    records: Iterable[Mapping[str, object]],
    names: Sequence[str],
    catalogue: Catalogue = fields.BUILT_IN,
    found: sheet_io.SheetGrid | None = None,
    replace_edits: bool = False,
) -> PullReport | None:
    """Pull ``records`` into the invoice sheet of a workbook that has a memory sheet; None (and
    nothing read from ``records``) when it has none, or has no such sheet yet. ``found`` is the
    sheet if the caller read it already. A cell the user edited since the pull and did not send
    keeps the user's value (``edits.kept_edit``) unless ``replace_edits``."""
    remembered = read_pulled(path)
    with zipfile.ZipFile(path) as package:
        sheets = [name for name, _ in Book(package).sheets()] if remembered else []
    if not remembered or (sheet_name is not None and sheet_name not in sheets):
        return None
    found = found or sheet_io.read_grid(path, sheet_name, None, catalogue)
    layout = read_layout(found.grid.header, catalogue)
    by_field = {c.field.name: c.index + 1 for c in layout.columns}
    if fields.ID not in by_field:
        return None  # pulling says what is missing
    headers = {str(h).strip(): i for i, h in enumerate(found.grid.header, 1) if h not in (None, "")}
    # A cell holding "" is used too: it is how a formula that shows nothing reads.
    used = [r for r, values in found.grid.rows if any(v is not None for v in values)]
    places = Places(
        ((r, edits.row_id(layout, v)) for r, v in found.grid.rows),
        max([found.header_row, *used]),
    )
    current = dict(found.grid.rows)
    edit = Edit(header_row=found.header_row, grow_rows=True)
    wanted = [n for n in names if n in by_field]
    numbers = pull_memory.number_columns(
        {n: c - 1 for n, c in by_field.items()}, current.values(), catalogue
    )
    extra: list[str] = []
    pulled_now: set[str] = set()
    unknown_in = pull_memory.Unknown(catalogue)
    free = found.width
    statuses = Statuses()
    date1904 = found.grid.date1904
    # Per column, what the loop below needs, looked up once (it runs for 3.5 million cells).
    columns = [(c.index, c.index + 1, c.field.name, c) for c in layout.columns]
    for record in records:
        invoice, pulled = pull_memory.pulled(record, wanted, catalogue, numbers)
        before = None if replace_edits else remembered.get(invoice)
        then = before.values if before is not None else None
        server = pulled.values
        pulled_now.add(invoice)
        unknown, notes = pull_memory.extra_cells(unknown_in(record))
        for key in unknown:
            if key not in headers:  # kept, not dropped, and written over nothing of the user's
                index = clear_of(found.merged, free)
                free = headers[key] = index + 1  # the next free column; the edit counts from 1
                edit.set(found.header_row, headers[key], key)
                edit.added.append((headers[key], key, 14))
                extra.append(key)
        cells = [(headers[key], value) for key, value in unknown.items()]
        for row in places.of(invoice):
            now = current.get(row, ())
            width = len(now)
            said = statuses.row(row, [*pulled.notes, *notes])
            for index, number, name, column in columns:
                if name not in server:
                    continue
                value, cell = server[name], now[index] if index < width else None
                if then is not None:
                    kept = edits.kept_edit(column, cell, then.get(name), value, date1904)
                    if kept is not None:
                        said.keep(kept)
                        continue
                if not _shows(cell, value):  # only what differs: most of a refresh is unchanged
                    edit.set(row, number, value, _style(cell, value))  # type: ignore[arg-type]
            for number, value in cells:  # text: no number format to give
                if not _shows(_cell(now, number), value):
                    edit.set(row, number, value)  # type: ignore[arg-type]
        remembered[invoice] = pulled
    statuses.write(edit, layout, found, free, current)
    memory = _memory(by_field, remembered, found.grid.date1904)
    saving.backup(path)
    saving.save(path, lambda temporary: _write(path, found.sheet, edit, temporary, memory))
    return PullReport(
        found.sheet,
        places.added,
        places.refreshed,
        extra,
        pulled_now,
        statuses.noted,
        statuses.kept,
        statuses.conflicts,
    )


def _cell(values: Sequence[object], column: int) -> object:
    return values[column - 1] if column <= len(values) else None


@dataclass
class _RowSays:
    """What a refresh says of one row: notes for Message, and whether an edit was kept."""

    notes: list[str]
    noted: bool  # text a cell could not hold as the server has it
    kept: bool = False
    conflict: bool = False

    def keep(self, kept: edits.Kept) -> None:
        self.kept = True
        if kept.conflict:
            self.conflict = True
            self.notes.append(kept.note)


class Statuses:
    """The Result and Message cells of refreshed rows: cleared (a stale Conflict or Failed no
    longer applies), or saying what the refresh could not write as the server holds it."""

    def __init__(self) -> None:
        self.rows: dict[int, _RowSays] = {}

    def row(self, row: int, notes: list[str]) -> _RowSays:
        said = self.rows[row] = _RowSays(notes, bool(notes))
        return said

    @property
    def noted(self) -> int:
        return sum(1 for s in self.rows.values() if s.noted)

    @property
    def kept(self) -> int:
        return sum(1 for s in self.rows.values() if s.kept)

    @property
    def conflicts(self) -> int:
        return sum(1 for s in self.rows.values() if s.conflict)

    def write(
        self,
        edit: Edit,
        layout: Layout,
        found: sheet_io.SheetGrid,
        width: int,
        current: Mapping[int, Sequence[object]],
    ) -> None:
        """Into ``edit``: each row's statuses; the Result and Message columns are added (after
        ``width`` columns) only when a row has something to say and the sheet lacks them."""
        if any(s.notes for s in self.rows.values()):
            columns = own_columns(layout, width, False, found.merged)
            sheet_io.add_headers(edit, found.header_row, columns)
            result, message = columns.result + 1, columns.message + 1
        else:
            result, message = (
                0 if i is None else i + 1 for i in (layout.result_index, layout.message_index)
            )
        for row, said in self.rows.items():
            now = current.get(row, [])
            if said.notes:
                outcome = Outcome.CONFLICT if said.conflict else None
                style = sheet_io.RESULT_STYLES[outcome] if outcome else PLAIN
                edit.set(row, result, outcome.value if outcome else None, style)
                edit.set(row, message, RowResult(row, outcome, None, said.notes).message)
                continue
            for column in (result, message):  # a stale Conflict or Failed no longer applies
                if column > 0 and _cell(now, column) not in (None, ""):
                    edit.set(row, column, None, PLAIN)


def after_push(
    path: Path,
    sheet_name: str,
    now_pulled: Mapping[str, Pulled],
    cells: Mapping[tuple[int, str], object] | None = None,
    catalogue: Catalogue = fields.BUILT_IN,
) -> None:
    """After a send of pulled rows: their remembered values and stamps, and (after a revert) the
    sheet cells put back. Written like a refresh, as a streamed edit: saving through openpyxl
    dropped what it cannot read, such as a dropdown whose list is on another sheet."""
    if not now_pulled and not cells:
        return
    found = sheet_io.read_grid(path, sheet_name, None, catalogue)
    layout = read_layout(found.grid.header, catalogue)
    by_field = {c.field.name: c.index + 1 for c in layout.columns}
    edit = Edit()  # no column added, no table grown: where the header is does not matter
    for (row, name), value in (cells or {}).items():  # an empty value too: it was empty before
        edit.set(row, by_field[name], value, _style(None, value))  # type: ignore[arg-type]
    remembered = read_pulled(path)
    memory = None
    if remembered:
        remembered.update(now_pulled)
        memory = _memory(by_field, remembered, found.grid.date1904)
    saving.save(path, lambda temporary: _write(path, found.sheet, edit, temporary, memory))


def _shows(cell: object, value: object) -> bool:
    """Whether a cell, as read (dates as datetimes), already shows ``value``."""
    if value is None:
        return cell in (None, "")
    if type(value) is dt.date:
        value = dt.datetime.combine(value, dt.time())
    return type(cell) is type(value) and cell == value


def _style(cell: object, value: object) -> Style | None:
    """A date's number format, unless the cell shows a date already: then it keeps its own (the
    column's format, as the user chose it)."""
    if isinstance(cell, dt.date):
        return None
    if isinstance(value, dt.datetime):
        return DATETIME
    return DATE if isinstance(value, dt.date) else None


def _memory(
    by_field: Mapping[str, int], remembered: Mapping[str, Pulled], date1904: bool
) -> Iterator[bytes]:
    """The memory sheet's XML, whole, in pieces: a header, then each invoice's values in the
    invoice sheet's column positions and its stamp. Dates are plain serial numbers in the
    workbook's date system: they compare with the sheet's dates as numbers, in the amber marks
    and when read back."""
    cells = CellXml(None, None, date1904)
    stamp = column_letter(max(by_field.values()) + 1)
    letters = {name: column_letter(column) for name, column in by_field.items()}
    order = sorted(by_field, key=by_field.__getitem__)
    header = "".join(cells.cell(f"{letters[name]}1", name) for name in order)
    yield (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<worksheet xmlns="{MAIN}"><dimension ref="A1:{stamp}{len(remembered) + 1}"/>'
        f'<sheetData><row r="1">{header}{cells.cell(stamp + "1", STAMP_HEADER)}</row>'
    ).encode()
    columns = [(letters[name], name == fields.ID, name) for name in order]
    rows: list[str] = []
    for number, (invoice, pulled) in enumerate(remembered.items(), start=2):
        row, values = str(number), pulled.values
        body = "".join(
            cells.cell(letter + row, value)
            for letter, is_id, name in columns
            if (value := invoice if is_id else values.get(name)) is not None and value != ""
        )
        updated = cells.cell(stamp + row, pulled.updated) if pulled.updated else ""
        rows.append(f'<row r="{row}">{body}{updated}</row>')
        if len(rows) == _PIECE_ROWS:
            yield "".join(rows).encode("utf-8")
            rows.clear()
    yield "".join(rows).encode("utf-8")
    yield b'</sheetData><sheetProtection sheet="1" objects="1" scenarios="1"/></worksheet>'


def _write(
    path: Path, sheet: str, edit: Edit, temporary: Path, memory: Iterable[bytes] | None
) -> None:
    """The edited invoice sheet (streamed by ``sheet_xml``) and the new memory sheet if any, in
    one pass over the package."""
    anew = {PULLED: memory} if memory is not None else None
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(temporary, "w") as target:
        sheet_xml.apply(source, sheet, edit, target, anew)
