"""The round trip on the ribbon: Pull invoices..., Send changed and Revert last push.

The same core as ``bpxl pull``, ``bpxl push --changed`` and ``bpxl revert``, on the open workbook:
pulled values are written one column at a time (a fixed number of Excel calls whatever the number
of rows), and what was pulled is remembered in the same very hidden sheet, laid out the same way,
so a workbook can go back and forth between the ribbon and the command line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..core import fields, profiles, push, run_log, sending, writer_lock
from ..core.connection import open_profile, profile_catalogue, undo_dir
from ..core.errors import ApiError, UsageError
from ..core.results import Operation, Outcome, RowResult, plural
from ..core.roundtrip import edits, pull_memory, pulls, queries, revert_memory, sends
from ..core.roundtrip.pull_memory import Pulled
from . import memory_sheet
from .book_file import workbook_file
from .desk import TITLE, send
from .range_io import Block, chosen_rows, quiet, read_block, write_results

_ASK = (
    "Which invoices?\n\n"
    "- a condition, e.g.  BillingProfileId = 101 AND Status = 'Pending'\n"
    "- IDS for the Ids in the selected rows\n"
    "- nothing, to refresh the rows already in the sheet"
)


def pull(book: Any) -> None:
    with writer_lock.hold(workbook_file(book), command="pull"):
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
    started = run_log.now()
    with open_profile(profiles.active()) as link:
        target = link.label
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
        places, said = _fill(book, block, records)
    summary = (
        f"Pulled {plural(len(records), 'invoice')}: "
        f"{plural(places.added, 'new row')}, {places.refreshed:,} refreshed."
    )
    pulled = [pull_memory.id_text(r.get(fields.ID)) for r in records]
    run_log.save_pull(workbook_file(book), block.sheet.name, target, summary, started,
                      [i for i in pulled if i], missing)  # fmt: skip
    app.alert(
        f"{summary}{lost}{_kept(said)} Edited cells turn amber; Send changed sends only them.",
        title=TITLE,
    )


def _kept(said: Sequence[RowResult]) -> str:
    """What the alert says of the rows whose Message a pull wrote (edits kept, odd text)."""
    conflicts = sum(r.outcome is Outcome.CONFLICT for r in said)
    noted = sum(bool(r.messages) and r.outcome is None for r in said)
    text = ""
    if conflicts:
        text += (
            f" {plural(conflicts, 'row')} changed in BillingPlatform where you edited and did "
            "not send: your values were kept and the row says Conflict (see Message)."
        )
    if noted:
        text += f" {plural(noted, 'row')}: see Message for text a cell cannot show as it is."
    return text


def _fill(
    book: Any, block: Block, records: Sequence[Mapping[str, object]]
) -> tuple[pulls.Places, list[RowResult]]:
    """Write the records into the field columns (one write per column) and remember them: each
    into the rows holding its Id (their statuses cleared) or below the used range, every pulled
    field, empty ones too; but a cell edited since the pull and not sent keeps the user's value
    (the row says Conflict when the server's value changed too)."""
    layout = block.layout
    places = pulls.Places(
        ((r, edits.row_id(layout, v)) for r, v in block.data.items()),
        block.top + len(block.values) - 1,
    )
    names = [c.field.name for c in layout.columns]
    columns: dict[str, dict[int, object]] = {name: {} for name in names}
    before = memory_sheet.pulled(book)
    pulled: dict[str, Pulled] = {}
    in_sheet = set(places.rows)
    said: list[RowResult] = []
    for record in records:
        invoice, pulled[invoice] = pull_memory.pulled(record, names, layout.catalogue)
        rows = places.of(invoice)
        then = before.get(invoice)
        for row in rows:
            now = block.data.get(row, [])
            result = RowResult(row, None, None, list(pulled[invoice].notes))
            for column in layout.columns:
                value = pulled[invoice].values.get(column.field.name)
                cell = now[column.index] if column.index < len(now) else None
                kept = then and edits.kept_edit(
                    column, cell, then.values.get(column.field.name), value, block.date1904
                )
                if kept:
                    if kept.conflict:
                        result.outcome = Outcome.CONFLICT
                        result.messages.append(kept.note)
                    continue
                columns[column.field.name][row] = value
            if invoice in in_sheet or result.messages:  # stale statuses go
                said.append(result)
    memory_sheet.write_columns(block, columns, places.last)
    write_results(block, said)
    memory_sheet.remember_pulled(book, block, pulled)
    memory_sheet.mark_changes(block)
    return places, said


def send_changed(book: Any) -> None:
    def read(block: Block) -> sending.Outgoing | None:
        pulled = memory_sheet.pulled(book)
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
        pulled = memory_sheet.pulled(book)
        workbook = str(workbook_file(book))
        replaced = revert_memory.load(undo_dir(), workbook)
        choice = chosen_rows(book.app, block)
        only = None if choice.whole_sheet else set(choice.rows)
        known = block.catalogue
        done = revert_memory.reverted(undo_dir(), workbook)
        grid = block.grid(sorted(block.data))
        trip = sends.Revert(grid, pulled, replaced, False, only, known, done)
        options = push.PushOptions(Operation.UPDATE, catalogue=known, check_headers=False)
        return sending.Outgoing(block.sheet.name, block.grid([]), options, trip)

    send(book, read)
