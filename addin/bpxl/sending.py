"""One send of a workbook, the same for the command line and the Excel ribbon.

A send is more than a push: the workbook must have no unfinished push, a journal must record every
step, a round trip turns the sheet into the rows to send and settles what was pulled afterwards,
what an update replaced is kept for a revert, and a send that stops on an error leaves its journal
for a recovery. Every safety rule lives here once; a front end only says how it reads its sheet,
writes results, shows progress and asks for confirmation (``Desk``).
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from . import journal, push, trips, undo, unsettled, writer_lock
from .connection import Connection, journal_dir, undo_dir
from .errors import UsageError
from .records import Layout
from .results import Operation, Outcome, RowResult


@dataclass(frozen=True)
class Outgoing:
    """What a front end read: the sheet's rows, how to send them, and the round trip if any."""

    sheet: str
    grid: push.Grid
    options: push.PushOptions
    trip: trips.Trip | None = None


class Desk(Protocol):
    """A front end, as a send sees it."""

    @property
    def workbook(self) -> Path:
        """The workbook's file: the journal and the memory of replaced values are keyed on it."""

    @property
    def recover_hint(self) -> str:
        """How this front end tells the user to recover an unfinished push."""

    def read(self) -> Outgoing | None:
        """Read the sheet; None when there is nothing to send (the desk has said why)."""

    def connect(self) -> AbstractContextManager[Connection]:
        """Where the rows go (only opened when something is really sent)."""

    def confirm(self, link: Connection, op: Operation, rows: int) -> bool:
        """Asked with the number of rows about to be sent; False sends nothing."""

    def progress(self, done: int, total: int) -> None:
        """Rows just finished, of the total to process."""

    def write(self, sheet: str, layout: Layout, results: list[RowResult]) -> None:
        """Each result into its row of the sheet."""

    def store(self, sheet: str, remember: trips.Remember) -> None:
        """After a round-trip send: cells put back and what was pulled brought up to date."""


def refuse_unfinished(workbook: Path, hint: str) -> None:
    """A workbook whose last push stopped mid-way is recovered before anything else is sent."""
    pending = journal.unfinished(journal_dir(), workbook)
    if pending:
        started = pending[-1].started.astimezone().strftime("%Y-%m-%d %H:%M")
        raise UsageError(
            f"The push of {workbook.name} started {started} stopped before it finished.",
            f"{hint} first: it writes what happened to each row into the workbook, so that no "
            "invoice is sent twice.",
        )


def send(
    desk: Desk, command: str = "push", stop: threading.Event | None = None
) -> push.PushReport | None:
    """Read, send with a journal, write each row's result and keep what a revert needs, holding
    the workbook throughout (no other bpxl command may read or write it meanwhile).

    Returns the report (None when the desk found nothing to send). Raises ``BpxlError`` when the
    send cannot start or stops; its journal is then left for a recovery if anything went out.
    Setting ``stop`` (a signal) ends the send early but in order: no new batch, every known
    outcome written, ``report.stopped`` set.
    """
    with writer_lock.hold(desk.workbook, command=command):
        return _send(desk, stop)


def _send(desk: Desk, stop: threading.Event | None) -> push.PushReport | None:
    outgoing = desk.read()
    if outgoing is None:
        return None
    options, trip = outgoing.options, outgoing.trip
    if options.dry_run:
        report = _dry_run(outgoing, desk)
        desk.write(outgoing.sheet, report.layout, report.results)
        return report
    refuse_unfinished(desk.workbook, desk.recover_hint)
    logs: list[journal.Journal] = []
    with desk.connect() as link:
        remember = None
        try:
            grid, extra = trip.grid_to_send(link.client) if trip else (outgoing.grid, [])
            reports = []
            for part, part_options in push.parts(grid, options):  # each part has its journal
                log = journal.Journal(
                    journal_dir(),
                    workbook=desk.workbook,
                    sheet=outgoing.sheet,
                    op=part_options.op,
                    external_id=part_options.external_id,
                    target=link.target,
                )
                logs.append(log)

                def confirm(rows: int, op: Operation = part_options.op) -> bool:
                    return desk.confirm(link, op, rows)

                reports.append(
                    push.push(part, link.client, part_options, desk.progress, log, confirm, stop)
                )
            report = push.merged(reports, options)
            report.results = sorted(report.results + extra, key=lambda r: r.row)
            if trip is not None:
                remember = trip.settle(link.client, report.results)
        except BaseException:
            for log in logs:
                log.abandon()  # left unfinished for a recovery if anything went out
            raise
    desk.write(outgoing.sheet, report.layout, report.results)
    unsettled.forget(report.settled)  # only now: the rows' outcomes are in the workbook
    if remember is not None:
        undo.save(undo_dir(), str(desk.workbook), outgoing.sheet, remember.replaced)
        undo.forget(undo_dir(), str(desk.workbook), outgoing.sheet, remember.reverted)
        desk.store(outgoing.sheet, remember)
    for log in logs:
        log.finish()
    journal.prune(journal_dir())
    return report


def _dry_run(outgoing: Outgoing, desk: Desk) -> push.PushReport:
    """Check and mark the rows, send nothing; ``--changed`` marks the rows it would send, after
    the same conflict check as the real send, so that it predicts it."""
    trip = outgoing.trip
    if isinstance(trip, trips.ChangedRows) and not trip.overwrite:
        with desk.connect() as link:
            grid, extra = trip.grid_to_send(link.client)
    else:
        grid, extra = trip.grid_to_send(None) if trip else (outgoing.grid, [])
    reports = [push.push(g, None, o, desk.progress) for g, o in push.parts(grid, outgoing.options)]
    report = push.merged(reports, outgoing.options)
    report.results = sorted(report.results + extra, key=lambda r: r.row)
    if isinstance(trip, trips.ChangedRows):
        for result in report.results:
            if result.outcome is None:
                result.outcome, result.messages = Outcome.CHANGED, [trip.describe(result.row)]
    return report
