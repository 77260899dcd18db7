"""What the user changed since the pull: the rows with edits, reduced to Id and changed cells.

"Send changed" compares each row with what was pulled (by Id, so sorting does not matter) and
sends only the rows with edits, each reduced to its Id and the changed fields: a minimal update.
The same comparison marks an edited cell in the sheet (``changed_formula``), so the user sees in
amber what a send of changed rows would send.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .. import fields
from ..cells import NULL_SENTINEL, CellError, convert, is_blank, show
from ..fields import Field
from ..push import Grid
from ..records import Column, Layout
from .pull_memory import Pulled, id_text


def same(field: Field, a: object, b: object, date1904: bool = False) -> bool:
    """Whether two cells hold the same value for ``field`` (as they would be sent from a
    workbook on the 1900 or, with ``date1904``, the 1904 date system)."""
    if a.__class__ is b.__class__ and a == b:  # as converting both would say, without the cost
        return True  # (a refresh of 100,000 rows compares 3.4 million cells, most unchanged)
    if is_blank(a) or is_blank(b):
        return is_blank(a) and is_blank(b)
    try:
        return _sent(field, a, date1904) == _sent(field, b, date1904)
    except CellError:
        return a == b


def _sent(field: Field, value: object, date1904: bool) -> object:
    """What a cell would send for ``field``; a date's or a number's is remembered, since a
    refresh meets the same few hundred dates again on every row (a date in the sheet against its
    serial number in the pull's memory)."""
    if isinstance(value, dt.date | int | float):
        return _sent_remembered(field, value, date1904)
    return convert(field, value, date1904).value


@functools.lru_cache(maxsize=4096, typed=True)  # typed: TRUE and 1 send different things
def _sent_remembered(field: Field, value: dt.date | int | float, date1904: bool) -> object:
    return convert(field, value, date1904).value


def row_id(layout: Layout, values: Sequence[object]) -> str | None:
    column = layout.column(fields.ID)
    if column is None or column.index >= len(values) or is_blank(values[column.index]):
        return None
    return id_text(values[column.index])


@dataclass
class Changes:
    """The rows with edits, reduced to Id and changed cells, and what changed in each."""

    grid: Grid
    fields: dict[int, list[str]]  # sheet row -> changed field names
    ids: dict[int, str]  # sheet row -> invoice Id


def changes(grid: Grid, layout: Layout, pulled: Mapping[str, Pulled]) -> Changes:
    """Compare each pulled row with what was pulled; a cell emptied since is sent as #NULL."""
    id_column = layout.column(fields.ID)
    rows: list[tuple[int, list[object]]] = []
    changed: dict[int, list[str]] = {}
    ids: dict[int, str] = {}
    for row, values in grid.rows:
        invoice = row_id(layout, values)
        if invoice is None or invoice not in pulled or id_column is None:
            continue
        reduced: list[object] = [None] * len(values)
        reduced[id_column.index] = values[id_column.index]
        names = []
        for column in layout.columns:
            if column.field.read_only or column.index >= len(values):
                continue
            now, then = values[column.index], pulled[invoice].values.get(column.field.name)
            if not same(column.field, now, then, grid.date1904):
                reduced[column.index] = NULL_SENTINEL if is_blank(now) else now
                names.append(column.field.name)
        if names:
            rows.append((row, reduced))
            changed[row] = names
            ids[row] = invoice
    return Changes(Grid(grid.header, rows, grid.date1904, grid.merged), changed, ids)


def changed_formula(id_letter: str, letter: str, first_row: int, memory: str) -> str:
    """The conditional format that marks a cell edited since the pull: it differs from the
    remembered value of the same column, found by the row's Id (so sorting changes nothing).
    In A1 for the range's first row, as a file stores a rule."""
    cell, row_id = f"{letter}{first_row}", f"${id_letter}{first_row}"
    return _changed(cell, row_id, f"{letter}:{letter}", f"${id_letter}:${id_letter}", memory)


def changed_formula_r1c1(id_column: int, memory: str) -> str:
    """``changed_formula`` in R1C1 relative to the cell it marks, whatever its column: what the
    Excel add-in defines as a name (R1C1 needs no cursor position to be read right)."""
    return _changed("RC", f"RC{id_column}", "C", f"C{id_column}", memory)


def _changed(cell: str, row_id: str, column: str, ids: str, memory: str) -> str:
    return (
        f'AND({row_id}<>"",IFERROR({cell}&""<>INDEX(\'{memory}\'!{column},'
        f'MATCH({row_id}&"",\'{memory}\'!{ids},0))&"",FALSE))'
    )


@dataclass(frozen=True)
class Kept:
    """A cell a refresh leaves as the user edited it: ``conflict`` when the server's value changed
    since the pull too, and the note for the row's Message."""

    conflict: bool
    note: str


REPLACE_EDITS = "--replace-edits"  # the pull option that takes the server's values over edits


def kept_edit(
    column: Column, now: object, then: object, server: object, date1904: bool = False
) -> Kept | None:
    """Whether a refresh must leave a cell alone: the user changed it since the pull (``then``)
    and did not send it, and it differs from the server's value now. None: the refresh may
    write the server's value."""
    field = column.field
    if field.read_only or same(field, now, then, date1904) or same(field, now, server, date1904):
        return None
    if same(field, then, server, date1904):
        return Kept(False, "")
    shown = "empty" if is_blank(server) else show(server)
    return Kept(
        True,
        f"{column.header}: you changed it to {show(now)} and did not send it; BillingPlatform "
        f"now holds {shown} (changed since your pull). Your value is kept: send it with a send "
        f"of changed rows; to take BillingPlatform's instead, type it in, or pull with "
        f"{REPLACE_EDITS}",
    )
