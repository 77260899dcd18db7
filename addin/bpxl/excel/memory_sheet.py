"""What a pull remembers, kept in the open workbook: the very hidden sheet and the amber marks.

The ribbon keeps the memory the way the command line does (``bpxl.core.roundtrip.pull_memory``
says what its rows mean; ``bpxl.workbook.pulling`` is the .xlsx side), so a workbook can go back
and forth between the two. Values go in one column at a time: a fixed number of Excel calls
whatever the number of rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core import fields, push
from ..core.records import Layout
from ..core.roundtrip import edits, pull_memory, sends
from ..core.roundtrip.pull_memory import STAMP_HEADER, Pulled
from .range_io import LAST_ROW, Block, as_cells

VERY_HIDDEN = 2  # Excel's xlSheetVeryHidden: not even listed under Unhide
AMBER = 0x9CEBFF  # Excel's "neutral" fill (BGR)


def write_columns(block: Block, columns: Mapping[str, Mapping[int, object]], last: int) -> None:
    """New values into whole field columns: one write each; other rows keep what they had."""
    first = block.header_row + 1
    for column in block.layout.columns:
        new = columns.get(column.field.name)
        if not new:
            continue
        values = []
        for row in range(first, last + 1):
            index = row - block.top
            old = block.values[index] if 0 <= index < len(block.values) else []
            kept = old[column.index] if column.index < len(old) else None
            values.append([new.get(row, kept)])
        block.sheet.range((first, block.left + column.index)).value = as_cells(values)


def _hidden(book: Any, title: str) -> Any:
    if title in [sheet.name for sheet in book.sheets]:
        return book.sheets[title]
    sheet = book.sheets.add(title, after=book.sheets[len(book.sheets) - 1])
    sheet.api.Visible = VERY_HIDDEN
    return sheet


def pulled(book: Any) -> dict[str, Pulled]:
    """What was pulled into the workbook, per Id, as its memory sheet holds it."""
    return pull_memory.pulled_from(_rows(book, pull_memory.MEMORY_SHEET))


def _rows(book: Any, title: str) -> list[list[object]]:
    if title not in [sheet.name for sheet in book.sheets]:
        return []
    values = book.sheets[title].used_range.options(ndim=2).value or []
    return [list(v) for v in values]


def remember_pulled(book: Any, block: Block, pulled: Mapping[str, Pulled]) -> None:
    """Store what was pulled in the memory sheet, its columns where the invoice sheet has them."""
    layout: Layout = block.layout
    memory = _hidden(book, pull_memory.MEMORY_SHEET)
    rows = _rows(book, pull_memory.MEMORY_SHEET)
    absolute = {c.field.name: block.left + c.index for c in layout.columns}
    width = max(absolute.values()) + 1
    header: list[object] = [None] * width
    for name, column in absolute.items():
        header[column - 1] = name
    header[width - 1] = STAMP_HEADER
    known = pull_memory.pulled_from(rows)
    known.update(pulled)
    table = [header]
    for invoice, remembered in known.items():
        line: list[object] = [None] * width
        for name, column in absolute.items():
            line[column - 1] = remembered.values.get(name)
        line[absolute[fields.ID] - 1] = invoice
        line[width - 1] = remembered.updated
        table.append(line)
    memory.used_range.clear_contents()
    memory.range((1, 1)).value = as_cells(table)


def mark_changes(block: Block) -> None:
    """Amber for cells edited since the pull (a conditional format per field column, set once).

    The rule's formula is a defined name and nothing else, so that it reads the same in every
    Excel: ``FormatConditions.Add`` reads a formula as typed by the user, in the user's language
    (``;`` between arguments and ``UND``, ``WENNFEHLER`` on a German Excel) and with its relative
    references taken from the active cell, wherever the cursor happens to be. A name's
    ``RefersToR1C1`` is in the macro language (English) and its relative references are taken
    from the cell that uses it: the one cell being marked."""
    first = block.header_row + 1
    id_column = block.layout.column(fields.ID)
    assert id_column is not None
    name = _define_changed(block.sheet.book, block.left + id_column.index)
    for column in block.layout.columns:
        if column.field.name == fields.ID:
            continue
        cells = block.sheet.range(
            (first, block.left + column.index), (LAST_ROW, block.left + column.index)
        )
        conditions = cells.api.FormatConditions
        if conditions.Count:
            continue
        rule = conditions.Add(2, 3, f"={name}")  # xlExpression
        rule.Interior.Color = AMBER


def _define_changed(book: Any, id_column: int) -> str:
    """The hidden name whose formula is true for a cell edited since the pull (Ids in sheet
    column ``id_column``); defined again on each pull, so an older definition is replaced."""
    name = f"_bpxl_edited_id{id_column}"
    formula = edits.changed_formula_r1c1(id_column, pull_memory.MEMORY_SHEET)
    book.api.Names.Add(Name=name, RefersToR1C1=f"={formula}", Visible=False)
    return name


def recorded(book: Any, block: Block, grid: push.Grid) -> sends.Recorded:
    """A plain update or upsert that keeps what it replaces, for Revert last push."""
    return sends.Recorded(grid, pulled(book), block.catalogue)


def store(book: Any, block: Block, remember: sends.Remember) -> None:
    """After a send: values put back (revert) and what was pulled brought up to date."""
    if remember.cells:
        by_field: dict[str, dict[int, object]] = {}
        for (row, name), value in remember.cells.items():
            by_field.setdefault(name, {})[row] = value
        write_columns(block, by_field, block.top + len(block.values) - 1)
    if remember.pulled:
        remember_pulled(book, block, remember.pulled)
