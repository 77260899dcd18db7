"""The round trip on the ribbon: Pull invoices..., Send changed and Revert last push.

The same core as ``bpxl pull``, ``bpxl push --changed`` and ``bpxl revert``, on the open workbook:
pulled values are written one column at a time (a fixed number of Excel calls whatever the number
of rows), and what was pulled is remembered in the same very hidden sheet, laid out the same way,
so a workbook can go back and forth between the ribbon and the command line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..core import fields, profiles, push, sending, writer_lock
from ..core.connection import open_profile, profile_catalogue, undo_dir
from ..core.errors import ApiError, UsageError
from ..core.records import Layout, column_letter
from ..core.results import Operation, RowResult, plural
from ..core.roundtrip import edits, pull_memory, pulls, queries, revert_memory, sends
from ..core.roundtrip.pull_memory import STAMP_HEADER, Pulled
from .range_io import LAST_ROW, Block, chosen_rows, quiet, read_block, write_results
from .ribbon import TITLE, send

VERY_HIDDEN = 2  # Excel's xlSheetVeryHidden: not even listed under Unhide
AMBER = 0x9CEBFF  # Excel's "neutral" fill (BGR)
_ASK = (
    "Which invoices?\n\n"
    "- a condition, e.g.  BillingProfileId = 101 AND Status = 'Pending'\n"
    "- IDS for the Ids in the selected rows\n"
    "- nothing, to refresh the rows already in the sheet"
)


def pull(book: Any) -> None:
    with writer_lock.hold(Path(book.fullname), command="pull"):
        _pull(book)


def _pull(book: Any) -> None:
    app = book.app
    block = read_block(book.sheets.active, profile_catalogue(profiles.active()))
    layout = block.layout
    if layout.column(fields.ID) is None:
        raise UsageError("This sheet has no Id column to match invoices on.", "Add an Id column.")
    answer = app.api.InputBox(_ASK, f"{TITLE}: Pull invoices", "")
    if answer is False or answer is None:
        return  # Cancel
    text = str(answer).strip()
    where, ids = None, None
    id_column = layout.column(fields.ID)
    assert id_column is not None
    if text.upper() == "IDS" or not text:
        rows = chosen_rows(app, block).rows if text else sorted(block.data)
        ids = pulls.sheet_ids(
            ((r, edits.row_id(layout, block.data[r])) for r in rows), id_column.header
        )
        if not ids:
            raise UsageError(
                "There are no Ids to pull.", "Type a condition, or select rows with Ids."
            )
    else:
        where = pulls.check_condition(text)
    names = [c.field.name for c in layout.columns]
    with open_profile(profiles.active()) as link:
        try:
            records = list(queries.query(link.client, names, where=where, ids=ids))
        except ApiError as refused:
            if where is None:
                raise
            raise pulls.condition_refused(where, refused) from None
    missing = pulls.not_found(ids, (pull_memory.id_text(r.get(fields.ID)) for r in records))
    lost = f" Not found in BillingPlatform: {', '.join(missing)}." if missing else ""
    if not records:
        app.alert(
            f"No invoices match {where or 'those Ids'}; the sheet was not changed.{lost}",
            title=TITLE,
        )
        return
    with quiet(app):
        places = _fill(book, block, records)
    app.alert(
        f"Pulled {plural(len(records), 'invoice')}: "
        f"{plural(places.added, 'new row')}, {places.refreshed:,} refreshed.{lost} Edited "
        "cells turn amber; Send changed sends only them.",
        title=TITLE,
    )


def _fill(book: Any, block: Block, records: Sequence[Mapping[str, object]]) -> pulls.Places:
    """Write the records into the field columns (one write per column) and remember them: each
    into the rows holding its Id (their statuses cleared) or below the used range, every pulled
    field, empty ones too."""
    layout = block.layout
    places = pulls.Places(
        ((r, edits.row_id(layout, v)) for r, v in block.data.items()),
        block.top + len(block.values) - 1,
    )
    names = [c.field.name for c in layout.columns]
    columns: dict[str, dict[int, object]] = {name: {} for name in names}
    pulled: dict[str, Pulled] = {}
    in_sheet = set(places.rows)
    refreshed: list[int] = []
    for record in records:
        invoice, pulled[invoice] = pull_memory.pulled(record, names, layout.catalogue)
        rows = places.of(invoice)
        if invoice in in_sheet:
            refreshed += rows
        for row in rows:
            for name, value in pulled[invoice].values.items():
                columns[name][row] = value
    _write_columns(block, columns, places.last)
    write_results(block, [RowResult(row, None) for row in refreshed])  # stale statuses go
    _remember(book, block, pulled)
    _mark_changes(block)
    return places


def _write_columns(block: Block, columns: Mapping[str, Mapping[int, object]], last: int) -> None:
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
        block.sheet.range((first, block.left + column.index)).value = values


def _hidden(book: Any, title: str) -> Any:
    if title in [sheet.name for sheet in book.sheets]:
        return book.sheets[title]
    sheet = book.sheets.add(title, after=book.sheets[len(book.sheets) - 1])
    sheet.api.Visible = VERY_HIDDEN
    return sheet


def _rows(book: Any, title: str) -> list[list[object]]:
    if title not in [sheet.name for sheet in book.sheets]:
        return []
    values = book.sheets[title].used_range.options(ndim=2).value or []
    return [list(v) for v in values]


def _remember(book: Any, block: Block, pulled: Mapping[str, Pulled]) -> None:
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
    memory.range((1, 1)).value = table


def _mark_changes(block: Block) -> None:
    """Amber for cells edited since the pull (a conditional format per field column, set once)."""
    first = block.header_row + 1
    id_column = block.layout.column(fields.ID)
    assert id_column is not None
    id_letter = column_letter(block.left + id_column.index)
    for column in block.layout.columns:
        if column.field.name == fields.ID:
            continue
        letter = column_letter(block.left + column.index)
        cells = block.sheet.range(
            (first, block.left + column.index), (LAST_ROW, block.left + column.index)
        )
        conditions = cells.api.FormatConditions
        if conditions.Count:
            continue
        formula = edits.changed_formula(id_letter, letter, first, pull_memory.MEMORY_SHEET)
        rule = conditions.Add(2, 3, f"={formula}")  # xlExpression
        rule.Interior.Color = AMBER


def send_changed(book: Any) -> None:
    def read(block: Block) -> sending.Outgoing | None:
        pulled = pull_memory.pulled_from(_rows(book, pull_memory.MEMORY_SHEET))
        known = block.catalogue
        trip = sends.ChangedRows(block.grid(sorted(block.data)), pulled, False, known)
        if trip.empty:
            book.app.alert("No row has changed since the pull: nothing to send.", title=TITLE)
            return None
        options = push.PushOptions(Operation.UPDATE, catalogue=known)
        return sending.Outgoing(block.sheet.name, block.grid([]), options, trip)

    send(book, read)


def revert_last(book: Any) -> None:
    def read(block: Block) -> sending.Outgoing:
        pulled = pull_memory.pulled_from(_rows(book, pull_memory.MEMORY_SHEET))
        replaced = revert_memory.load(undo_dir(), book.fullname)
        choice = chosen_rows(book.app, block)
        only = None if choice.whole_sheet else set(choice.rows)
        known = block.catalogue
        done = revert_memory.reverted(undo_dir(), book.fullname)
        grid = block.grid(sorted(block.data))
        trip = sends.Revert(grid, pulled, replaced, False, only, known, done)
        options = push.PushOptions(Operation.UPDATE, catalogue=known)
        return sending.Outgoing(block.sheet.name, block.grid([]), options, trip)

    send(book, read)


def recorded(book: Any, block: Block, grid: push.Grid) -> sends.Recorded:
    """A plain update or upsert that keeps what it replaces, for Revert last push."""
    pulled = pull_memory.pulled_from(_rows(book, pull_memory.MEMORY_SHEET))
    return sends.Recorded(grid, pulled, block.catalogue)


def store(book: Any, block: Block, remember: sends.Remember) -> None:
    """After a send: values put back (revert) and what was pulled brought up to date."""
    if remember.cells:
        by_field: dict[str, dict[int, object]] = {}
        for (row, name), value in remember.cells.items():
            by_field.setdefault(name, {})[row] = value
        _write_columns(block, by_field, block.top + len(block.values) - 1)
    if remember.pulled:
        _remember(book, block, remember.pulled)
