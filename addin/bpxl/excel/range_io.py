"""Excel range I/O for the add-in: one read of the sheet, whole-column writes of the results.

Every function here makes the same number of Excel calls whatever the number of rows: the used
range is read in one call, the chosen rows come from the areas of the selection and of the visible
cells (a few calls per area, never an address string: Excel cuts ``Address`` at 255 characters,
so the rows after the cut would silently drop out), and results go back as one block per column
group. Calls into Excel are slow
(each is a round trip to another process), so a loop of single-cell calls is never an option.

It touches only these xlwings objects: ``Sheet.used_range``, ``Sheet.range``, ``Sheet.name``,
``Sheet.book.api.Date1904``, ``Range.options(ndim=2).value``, ``Range.value``, ``Range.row``,
``Range.column``, ``Range.api.SpecialCells(12).Areas``, ``Range.api.FormatConditions`` and
``Book.api.Names``, and ``App.selection.api.Areas``, ``App.screen_updating``,
``App.calculation``, ``App.status_bar``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..core import fields, inert
from ..core.errors import UsageError
from ..core.fields import Catalogue
from ..core.push import Grid
from ..core.records import (
    HEADER_SEARCH_ROWS,
    Layout,
    find_header,
    is_blank_row,
    own_columns,
    read_layout,
)
from ..core.results import Outcome, RowResult

VISIBLE_CELLS = 12  # Excel's xlCellTypeVisible: rows a filter leaves in view
LAST_ROW = 1_048_576
COLOURS = {  # Excel's own "good", "bad" and "neutral" cell colours (BGR as Excel numbers them)
    Outcome.CREATED: 0xCEEFC6,
    Outcome.UPDATED: 0xCEEFC6,
    Outcome.UPSERTED: 0xCEEFC6,
    Outcome.INVALID: 0xCEC7FF,
    Outcome.FAILED: 0xCEC7FF,
    Outcome.UNKNOWN: 0x9CEBFF,
    Outcome.CONFLICT: 0x9CEBFF,
    Outcome.CHANGED: 0x9CEBFF,
    Outcome.EXISTS: 0x9CEBFF,
}


@dataclass
class Block:
    """The sheet's used range as read in one call, with the header row found in it."""

    sheet: Any
    top: int  # the sheet row of values[0]
    left: int  # the sheet column of values[i][0]
    values: list[list[object]]
    header_index: int  # index into values of the header row
    catalogue: Catalogue = fields.BUILT_IN  # the fields the headers are matched against
    date1904: bool = False  # the book counts dates from 1904 (Excel's Mac option)

    @property
    def header(self) -> list[object]:
        return self.values[self.header_index]

    @property
    def header_row(self) -> int:
        return self.top + self.header_index

    @cached_property
    def layout(self) -> Layout:
        return read_layout(self.header, self.catalogue)

    @cached_property
    def data(self) -> dict[int, list[object]]:
        """Sheet row -> values, for the rows below the header that hold an Invoice value."""
        layout = self.layout
        first = self.header_index + 1
        return {
            self.top + i: values
            for i, values in enumerate(self.values[first:], start=first)
            if not is_blank_row(layout, values)
        }

    def grid(self, rows: Sequence[int]) -> Grid:
        """Some rows of the block, knowing every row (create keys count them all)."""
        chosen = [(r, self.data[r]) for r in rows if r in self.data]
        return Grid(self.header, chosen, self.date1904, sheet_rows=list(self.data.items()))


def read_block(sheet: Any, catalogue: Catalogue = fields.BUILT_IN) -> Block:
    """Read the sheet once; refuse a sheet without a header row naming Invoice fields."""
    used = sheet.used_range
    values = used.options(ndim=2).value or [[]]
    header = find_header(values, catalogue)
    if header is None:
        raise UsageError(
            f"Sheet {sheet.name!r} has no header row naming Invoice fields in its first "
            f"{HEADER_SEARCH_ROWS} rows.",
            "Click BillingPlatform > New invoice sheet for a ready sheet, or put the field names "
            "(Id, BillingProfileId, DueDate, ...) in the header row.",
        )
    rows = [list(v) for v in values]
    # A plain number in a date column is a serial in the book's own date system; Excel hands
    # date cells over as dates, so only those numbers need it.
    date1904 = bool(sheet.book.api.Date1904)
    return Block(sheet, used.row, used.column, rows, header - 1, catalogue, date1904)


def row_spans(areas: Any) -> list[tuple[int, int]]:
    """The rows each area of a range covers (Excel's ``Areas`` of a COM range), first to last:
    two or three calls per area, whatever its size (a whole column too)."""
    spans = []
    for index in range(1, areas.Count + 1):
        area = areas.Item(index)
        first = area.Row
        spans.append((first, first + area.Rows.Count - 1))
    return spans


def _within(rows: Iterable[int], spans: Sequence[tuple[int, int]]) -> list[int]:
    """The rows (in ascending order) that one of the spans covers, in one walk of both."""
    ordered = sorted(spans)
    kept, at = [], 0
    for row in rows:
        while at < len(ordered) and ordered[at][1] < row:
            at += 1  # this span ends above the row, and above every row after it
        if at < len(ordered) and ordered[at][0] <= row:
            kept.append(row)
    return kept


@dataclass(frozen=True)
class Choice:
    """The rows an action works on; ``whole_sheet`` when one cell was selected (so ask first)."""

    rows: list[int]
    whole_sheet: bool


def chosen_rows(app: Any, block: Block) -> Choice:
    """The selected data rows (any cell of them, several areas allowed), or with a single cell
    selected every data row; in both cases only rows a filter leaves visible."""
    data = block.data
    if not data:
        return Choice([], False)
    visible = _visible_spans(block, min(data), max(data))
    areas = app.selection.api.Areas
    selected = row_spans(areas)
    (first, last), *more = selected
    single = not more and first == last and areas.Item(1).Columns.Count == 1
    rows = list(data) if single else _within(data, selected)  # data rows come in sheet order
    return Choice(_within(rows, visible), single)


def _visible_spans(block: Block, first: int, last: int) -> list[tuple[int, int]]:
    column = block.left
    cells = block.sheet.range((first, column), (last, column))
    try:
        visible = cells.api.SpecialCells(VISIBLE_CELLS)
    except Exception:  # Excel raises "No cells were found." when a filter hides every row
        return []
    return row_spans(visible.Areas)


def write_results(block: Block, results: Sequence[RowResult]) -> None:
    """Result and Message (and new Ids) of ``results`` into the sheet, one block per column;
    other rows keep what they had. Missing columns get a header after the last used column
    (Excel's used range covers merged cells, so never inside a merged header)."""
    if not results:
        return
    sheet = block.sheet
    width = len(block.header)
    need_id = any(r.id for r in results)
    columns = own_columns(block.layout, width, need_id=need_id)
    for index, header in columns.added:
        sheet.range((block.header_row, block.left + index)).value = as_text(header)
    first = block.header_row + 1
    last = max(r.row for r in results)  # the rows below keep what they hold: not written
    current = [_row(block, row) for row in range(first, last + 1)]
    by_row = {r.row: r for r in results if r.row >= first}

    def column(index: int, new: Callable[[RowResult, object], object]) -> list[object]:
        """The column's cells from the first data row to the last result: what they hold, and
        the results' rows changed by ``new`` (the result and what the cell held)."""
        cells: list[object] = [_at(v, index) for v in current]
        for row, result in by_row.items():
            cells[row - first] = new(result, cells[row - first])
        return cells

    marked = _Marked()
    outcome = column(columns.result, lambda r, _: r.outcome.value if r.outcome else None)
    message = column(columns.message, lambda r, _: r.message or None)
    if columns.message == columns.result + 1:
        both = [[marked(a), marked(b)] for a, b in zip(outcome, message, strict=True)]
        sheet.range((first, block.left + columns.result)).value = both
    else:
        sheet.range((first, block.left + columns.result)).value = marked.column(outcome)
        sheet.range((first, block.left + columns.message)).value = marked.column(message)
    if need_id:
        assert columns.id is not None  # own_columns adds one when there are Ids to write
        ids = column(
            columns.id, lambda r, old: r.id if old in (None, "") or r.names_invoice else old
        )
        sheet.range((first, block.left + columns.id)).value = marked.column(ids)
    _colour_results(sheet, first, block.left + columns.result)


def as_text(text: str) -> str:
    """Text for a live range, with Excel's text mark (``core/inert``), so that Excel keeps it as
    written (a string written to ``Range.value`` is read as if typed: ``=...`` would become a
    formula, ``00123`` a number, ``1-2`` a date)."""
    return inert.for_excel(inert.clean(text))


def as_cells(rows: Sequence[Sequence[object]]) -> list[list[object]]:
    """``as_text`` for every text of a block of rows; other values as they are."""
    marked = _Marked()
    return [[marked(value) for value in row] for row in rows]


class _Marked:
    """``as_text`` of a block's texts, each distinct text marked once (a status column holds
    a few words over and over)."""

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}

    def __call__(self, value: object) -> object:
        if not isinstance(value, str):
            return value
        if value not in self._texts:
            self._texts[value] = as_text(value)
        return self._texts[value]

    def column(self, values: Sequence[object]) -> list[list[object]]:
        return [[self(value)] for value in values]


def _at(values: Sequence[object], index: int) -> object:
    return values[index] if index < len(values) else None


def _row(block: Block, row: int) -> list[object]:
    """A data row's values as read (none for a row below the block: a result written there)."""
    index = row - block.top  # past the header: never negative
    return block.values[index] if index < len(block.values) else []


def _colour_results(sheet: Any, first: int, column: int) -> None:
    """Colour the Result column by value with conditional formats (set once per sheet), so the
    colours follow the words even when the user sorts or edits, and the cells' own fills stay."""
    cells = sheet.range((first, column), (LAST_ROW, column))
    conditions = cells.api.FormatConditions
    if conditions.Count:
        return
    for outcome, colour in COLOURS.items():
        rule = conditions.Add(1, 3, f'="{outcome.value}"')  # xlCellValue, xlEqual
        rule.Interior.Color = colour


@contextmanager
def quiet(app: Any) -> Iterator[None]:
    """No screen redraws or recalculation while writing; both restored even on error."""
    updating, calculation = app.screen_updating, app.calculation
    app.screen_updating = False
    app.calculation = "manual"
    try:
        yield
    finally:
        app.calculation = calculation
        app.screen_updating = updating


class StatusBar:
    """``BillingPlatform: sending 1,200 of 10,000 rows`` in Excel's status bar, a few times a
    second at most (each update is a call into Excel)."""

    EVERY_S = 0.25

    def __init__(self, app: Any, verb: str = "sending") -> None:
        self.app = app
        self.verb = verb
        self.done = 0
        self._shown = float("-inf")  # the first count is shown at once

    def __call__(self, finished: int, total: int) -> None:
        self.done += finished
        now = time.monotonic()
        if now - self._shown >= self.EVERY_S or self.done >= total:
            self._shown = now
            self.app.status_bar = f"BillingPlatform: {self.verb} {self.done:,} of {total:,} rows"

    def close(self) -> None:
        self.app.status_bar = False  # Excel takes its status bar back
