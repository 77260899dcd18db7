"""The round trip's two sends over a workbook: the rows changed since the pull, and a revert.

Both work like a push of a smaller sheet: each row reduced to its Id and the fields to change, with
the conflict check first (one query per 500 rows) and the workbook's memory of what was pulled
brought up to date after. ``cli`` runs them with the same connection, journal and statuses as any
push.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Protocol

from .. import fields
from ..cells import NULL_SENTINEL, CellError, convert, is_blank
from ..client import Client
from ..errors import BpxlError, UsageError
from ..fields import Catalogue, Field
from ..push import Grid
from ..records import Column, read_layout
from ..results import Outcome, RowResult
from . import edits, pull_memory, queries
from .pull_memory import Pulled
from .revert_memory import Replaced


@dataclass
class Remember:
    """What to store after a round-trip send: the new "as pulled" values and stamps, what the send
    replaced (for a revert), and (after a revert) cells to put back into the sheet and the
    invoices whose change is undone."""

    pulled: dict[str, Pulled]
    replaced: list[Replaced]
    cells: dict[tuple[int, str], object]
    reverted: set[str] = field(default_factory=set)


class Trip(Protocol):
    """What a front end needs from a round-trip send."""

    def grid_to_send(self, client: Client | None) -> tuple[Grid, list[RowResult]]: ...

    def settle(self, client: Client, results: list[RowResult]) -> Remember: ...


def _conflicts(
    client: Client | None, rows: dict[int, str], expected: dict[str, str], overwrite: bool
) -> tuple[set[str], list[RowResult]]:
    if client is None or overwrite:
        return set(), []
    clashes = queries.conflicts(client, expected)
    results = [
        RowResult(row, Outcome.CONFLICT, None, [clashes[invoice]])
        for row, invoice in rows.items()
        if invoice in clashes
    ]
    return set(clashes), results


class ChangedRows:
    """``bpxl push --op update --changed``: only the rows edited since the pull, minimally."""

    def __init__(
        self,
        grid: Grid,
        pulled: dict[str, Pulled],
        overwrite: bool,
        catalogue: Catalogue = fields.BUILT_IN,
    ) -> None:
        if not pulled:
            raise UsageError(
                "Nothing in this workbook was pulled, so there is nothing to compare with.",
                "Pull the invoices first (bpxl pull FILE --where ..., or Pull invoices...).",
            )
        self.pulled, self.overwrite = pulled, overwrite
        self.layout = read_layout(grid.header, catalogue)
        self.changes = edits.changes(grid, self.layout, pulled)
        self.values = dict(grid.rows)

    @property
    def empty(self) -> bool:
        return not self.changes.grid.rows

    def grid_to_send(self, client: Client | None) -> tuple[Grid, list[RowResult]]:
        ids = self.changes.ids
        expected = {invoice: self.pulled[invoice].updated for invoice in ids.values()}
        clashes, results = _conflicts(client, ids, expected, self.overwrite)
        rows = [(r, v) for r, v in self.changes.grid.rows if ids[r] not in clashes]
        return dataclasses.replace(self.changes.grid, rows=rows), results

    def describe(self, row: int) -> str:
        """What a dry run says of a changed row, naming the user's own headers."""
        headers = [c.header for n in self.changes.fields[row] if (c := self.layout.column(n))]
        return f"Changed since the pull: {', '.join(headers)}; not sent yet (a check only)"

    def settle(self, client: Client, results: list[RowResult]) -> Remember:
        """What was pulled becomes what was sent, for the rows the server took."""
        done = {r.row: self.changes.ids[r.row] for r in results if r.outcome is Outcome.UPDATED}
        now = queries.stamps(client, done.values())
        remember = Remember({}, [], {})
        for row, invoice in done.items():
            old = self.pulled[invoice]
            values = dict(old.values)
            for name in self.changes.fields[row]:
                column = self.layout.column(name)
                assert column is not None
                values[name] = self.values[row][column.index]
                before = sent_value(column.field, old.values.get(name), self.changes.grid.date1904)
                remember.replaced.append(Replaced(invoice, name, before, now.get(invoice, "")))
            remember.pulled[invoice] = Pulled(now.get(invoice, ""), values)
        return remember


def sent_value(field: Field, cell: object, date1904: bool = False) -> object:
    """A cell as it is sent (text or a number), None for a blank: how replaced values are kept
    (a plain number in a date column counted in the workbook's date system)."""
    if is_blank(cell):
        return None
    try:
        return convert(field, cell, date1904).value
    except CellError:
        return str(cell)


class Recorded:
    """A plain update or upsert: records what it replaces, so that ``bpxl revert`` can put it
    back (the remembered values of pulled rows; the others fetched just before sending)."""

    def __init__(
        self, grid: Grid, pulled: dict[str, Pulled], catalogue: Catalogue = fields.BUILT_IN
    ) -> None:
        self.grid, self.pulled = grid, pulled
        self.layout = read_layout(grid.header, catalogue)
        self.values = dict(grid.rows)
        self.before: dict[str, dict[str, object]] = {}

    def _sent(self, row: int) -> list[Column]:
        """The field columns a row sends: writable, not Id, not blank."""
        values = self.values[row]
        return [
            c
            for c in self.layout.columns
            if c.field.writable
            and c.field.name != fields.ID
            and c.index < len(values)
            and not is_blank(values[c.index])
        ]

    def grid_to_send(self, client: Client | None) -> tuple[Grid, list[RowResult]]:
        ids = [i for _, v in self.grid.rows if (i := edits.row_id(self.layout, v))]
        for invoice in ids:
            if invoice in self.pulled:
                known = self.layout.catalogue.by_name
                self.before[invoice] = {
                    name: sent_value(known[name], value, self.grid.date1904)
                    for name, value in self.pulled[invoice].values.items()
                    if name in known
                }
        missing = [i for i in ids if i not in self.before]
        if client is not None and missing:
            names = [c.field.name for c in self.layout.columns if c.field.writable]
            try:
                for record in queries.query(client, names, ids=missing):
                    self.before[pull_memory.id_text(record.get(fields.ID))] = dict(record)
            except BpxlError:
                pass  # the push still goes; only its revert will lack the rows not read
        return self.grid, []

    def settle(self, client: Client, results: list[RowResult]) -> Remember:
        done = {
            r.row: invoice
            for r in results
            if r.outcome in (Outcome.UPDATED, Outcome.UPSERTED)
            and (invoice := r.id or edits.row_id(self.layout, self.values[r.row]))
            and invoice in self.before  # an upsert that created an invoice has nothing to undo
        }
        now = queries.stamps(client, done.values())
        remember = Remember({}, [], {})
        for row, invoice in done.items():
            stamp = now.get(invoice, "")
            sent = self._sent(row)
            for column in sent:
                name = column.field.name
                before = self.before[invoice].get(name)
                remember.replaced.append(Replaced(invoice, name, before, stamp))
            if invoice in self.pulled:
                values = dict(self.pulled[invoice].values)
                values.update({c.field.name: self.values[row][c.index] for c in sent})
                remember.pulled[invoice] = Pulled(stamp, values)
        return remember


class Revert:
    """``bpxl revert``: put back what the last push replaced, as a minimal update."""

    def __init__(
        self,
        grid: Grid,
        pulled: dict[str, Pulled],
        replaced: list[Replaced],
        overwrite: bool,
        only: set[int] | None = None,
        catalogue: Catalogue = fields.BUILT_IN,
        reverted: bool = False,
    ) -> None:
        if not replaced and reverted:
            raise UsageError(
                "Nothing left to revert: the last update of this workbook was already reverted.",
                "Revert puts back what the last update, upsert or send of changed rows "
                "replaced, once; to change the invoices again, edit the cells and send them.",
            )
        if not replaced:
            raise UsageError(
                "No update or upsert of this workbook has anything to revert.",
                "Revert puts back what the last update, upsert or send of changed rows of this "
                "workbook replaced; run one first.",
            )
        self.grid, self.pulled, self.overwrite = grid, pulled, overwrite
        self.layout = read_layout(grid.header, catalogue)
        where = {
            invoice: row
            for row, values in grid.rows
            if (invoice := edits.row_id(self.layout, values)) is not None
        }
        self.before: dict[str, dict[str, object]] = {}
        self.stamp: dict[str, str] = {}
        for entry in replaced:
            self.before.setdefault(entry.invoice, {})[entry.field] = entry.before
            self.stamp[entry.invoice] = entry.stamp_after
        self.rows = {
            where[i]: i for i in self.before if i in where and (only is None or where[i] in only)
        }
        self.missing = sorted(set(self.before) - set(where))

    def grid_to_send(self, client: Client | None) -> tuple[Grid, list[RowResult]]:
        expected = {invoice: self.stamp[invoice] for invoice in self.rows.values()}
        clashes, results = _conflicts(client, self.rows, expected, self.overwrite)
        width = len(self.grid.header)
        id_column = self.layout.column(fields.ID)
        assert id_column is not None
        rows = []
        for row, invoice in sorted(self.rows.items()):
            if invoice in clashes:
                continue
            values: list[object] = [None] * width
            values[id_column.index] = invoice
            for name, before in self.before[invoice].items():
                column = self.layout.column(name)
                if column is not None:
                    values[column.index] = NULL_SENTINEL if is_blank(before) else before
            rows.append((row, values))
        return dataclasses.replace(self.grid, rows=rows), results

    def settle(self, client: Client, results: list[RowResult]) -> Remember:
        """The old values go back into the sheet and become what was pulled; the invoices put
        back are done, so that a second revert does not send the change again."""
        done = {r.row: self.rows[r.row] for r in results if r.outcome is Outcome.UPDATED}
        now = queries.stamps(client, done.values())
        remember = Remember({}, [], {}, set(done.values()))
        for row, invoice in done.items():
            values = dict(self.pulled.get(invoice, Pulled("", {})).values)
            for name, before in self.before[invoice].items():
                column = self.layout.column(name)
                if column is None:
                    continue
                remember.cells[(row, name)] = values[name] = pull_memory.to_cell(
                    column.field, before
                )
            remember.pulled[invoice] = Pulled(now.get(invoice, ""), values)
        return remember
