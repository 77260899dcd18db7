"""One send of a workbook, the same for the command line and the Excel ribbon.

A send is more than a push: the workbook must have no unfinished push, a journal must record every
step, a round trip turns the sheet into the rows to send and settles what was pulled afterwards,
what an update replaced is kept for a revert, and a send that stops on an error leaves its journal
for a recovery. Every safety rule lives here once; a front end only says how it reads its sheet,
writes results, shows progress and asks for confirmation (``Desk``).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from . import duplicates, journal, key_field, push, recover, run_log, unsettled, writer_lock
from .connection import Connection, journal_dir, ledger_for, undo_dir
from .errors import BpxlError, UsageError
from .fields import Catalogue
from .journal import record_hash
from .records import Layout, earlier_outcome, is_blank_row, plan_row, read_layout
from .results import Operation, Outcome, RowResult, plural
from .roundtrip import edits, revert_memory, sends

STICKY = (Outcome.CREATED, Outcome.UNKNOWN)  # marks that keep a create from being sent again


@dataclass(frozen=True)
class Outgoing:
    """What a front end read: the sheet's rows, how to send them, and the round trip if any."""

    sheet: str
    grid: push.Grid
    options: push.PushOptions
    trip: sends.Trip | None = None
    notes: tuple[str, ...] = ()  # what the front end did to read it (a CSV's separator, ...)


class Desk(Protocol):
    """A front end, as a send sees it."""

    @property
    def workbook(self) -> Path:
        """The workbook's file: the journal and the memory of replaced values are keyed on it."""

    @property
    def recover_hint(self) -> str:
        """How this front end tells the user to recover an unfinished push."""

    @property
    def unsaved(self) -> bool:
        """Whether ``write`` puts outcomes into a book open in Excel (on disk only once saved)."""

    def read(self) -> Outgoing | None:
        """Read the sheet; None when there is nothing to send (the desk has said why)."""

    def connect(self) -> AbstractContextManager[Connection]:
        """Where the rows go (only opened when something is really sent)."""

    def confirm(self, link: Connection, op: Operation, rows: Callable[[], int]) -> bool:
        """Asked once per send, with its operation; ``rows()`` counts the rows it sends (called
        only by a desk that asks: the count may plan every row again). False sends nothing."""

    def create_again(self, found: list[RowResult]) -> bool:
        """Rows about to be created whose invoice exists already (``Exists``, with the reason):
        whether to create them all the same (the command line's answer is --create-anyway,
        already in the push's options; the ribbon asks)."""

    def progress(self, done: int, total: int) -> None:
        """Rows just finished, of the total to process."""

    def write(self, sheet: str, layout: Layout, results: list[RowResult]) -> None:
        """Each result into its row of the sheet."""

    def prove_writable(self, sheet: str, rows: int) -> None:
        """Before anything is sent: ``write`` will be able to write ``rows`` results into the
        sheet (a file: its parts parse, its folder has room); else a ``BpxlError``."""

    def store(self, sheet: str, remember: sends.Remember) -> None:
        """After a round-trip send: cells put back and what was pulled brought up to date."""

    def changed(self) -> bool:
        """Whether the workbook changed on disk since it was read (saved, sorted elsewhere)."""

    def reread(self, sheet: str) -> push.Grid:
        """The sheet as it is now (after ``changed``): the next ``write`` goes into it."""

    def warn(self, text: str) -> None:
        """Tell the user something they should know about this send."""


def belongs(run: journal.Run, workbook: Path, grid: push.Grid, catalogue: Catalogue) -> bool:
    """Whether an unfinished push ``run`` is this workbook's: pushed from this file, or from a
    file this one is a copy of (or was moved from), known by the rows it shares with what the push
    sent. Rows are compared by their record's hash, as the journal keeps them."""
    if run.workbook == str(Path(workbook).resolve()):
        return True
    sent = {digest for row in run.sent if (digest := run.planned.get(row))}
    return bool(sent) and next(_rows_holding(run, grid, catalogue, sent), None) is not None


def _rows_holding(
    run: journal.Run,
    grid: push.Grid,
    catalogue: Catalogue,
    digests: set[str],
    unsettled_only: bool = False,
) -> Iterator[int]:
    """Rows of ``grid`` whose record, planned as ``run`` planned it, has one of ``digests``; with
    ``unsettled_only``, only rows showing no Id and no Created or Unknown."""
    try:
        layout = read_layout(grid.header, catalogue)
    except BpxlError:
        return
    for row, values in grid.rows:
        if is_blank_row(layout, values):
            continue
        if unsettled_only and (
            earlier_outcome(layout, values) in STICKY or edits.row_id(layout, values) is not None
        ):
            continue
        plan = plan_row(layout, row, values, run.op, run.external_id, grid.date1904)
        if plan.valid and record_hash(plan.record) in digests:
            yield row


def missing_outcomes(
    run: journal.Run,
    runs: list[journal.Run],
    workbook: Path,
    grid: push.Grid,
    catalogue: Catalogue,
) -> list[int]:
    """Rows of ``grid`` that a finished create ``run`` created (or may have) while this file shows
    no Id and no Created or Unknown for them, because the push's outcomes went into another copy.
    Sending them would create them again.

    Which files are such copies: any file holding the rows of a push that stopped mid-way and was
    recovered into another file (copied before anything was written back), and then, for later
    pushes of one of those files, the others (``runs`` says which files were recovered together).
    A file that holds the run's outcomes is never bothered: its cleared rows are a deliberate
    resend; nor is a file that only happens to hold the same values as a push that finished (a file
    holding those of a recovered push cannot be told from its copy, and is treated as one)."""
    here = str(Path(workbook).resolve())
    if run.op is not Operation.CREATE:
        return []
    lost = _lacking(run, workbook, grid, catalogue)  # if any, files showing no Ids lack them
    if here in run.applied and here not in lost:
        return []
    if not lost and (
        not run.recovered
        and not any({here, run.workbook} <= {r.workbook} | r.applied for r in runs if r.recovered)
    ):
        return []
    made = run.created_or_unsure
    return list(_rows_holding(run, grid, catalogue, made, unsettled_only=True)) if made else []


def lost_unsaved(run: journal.Run) -> list[str]:
    """The files into which ``run`` put its outcomes while they were open in Excel, and which
    were not saved since: Excel was closed without saving, so they (and any copy made of them
    since) lack the new Ids. A file no longer there was moved or deleted since: its new name,
    or a copy, may lack them, and shows whether it does (rows without Ids)."""
    lost = []
    for file, at in run.unsaved.items():
        try:
            saved = Path(file).stat().st_mtime
        except OSError:
            lost.append(file)
            continue
        if saved < at.timestamp():
            lost.append(file)
    return lost


def _lacking(run: journal.Run, workbook: Path, grid: push.Grid, catalogue: Catalogue) -> list[str]:
    """``lost_unsaved``, and ``workbook`` too if ``run`` put its outcomes into it open in Excel
    and it shows none of the Ids the push gave, though saved since: Excel was closed without
    saving, then the file was opened again, edited and saved (a later save is no proof)."""
    lost = lost_unsaved(run)
    here = str(Path(workbook).resolve())
    given = {r.id for r in run.results.values() if r.id}
    if here not in run.unsaved or here in lost or not given:
        return lost
    try:
        layout = read_layout(grid.header, catalogue)
    except BpxlError:
        return lost
    return lost if given & push.sheet_ids(grid, layout) else [*lost, here]


def to_recover(
    run: journal.Run,
    runs: list[journal.Run],
    workbook: Path,
    grid: push.Grid,
    catalogue: Catalogue,
) -> bool:
    """Whether ``bpxl recover`` of this workbook has ``run``'s outcomes to write into it: an
    unfinished push of it (or of the file it copies), or a finished one whose outcomes went into
    another copy (``missing_outcomes``)."""
    if not run.finished:
        return belongs(run, workbook, grid, catalogue)
    return bool(missing_outcomes(run, runs, workbook, grid, catalogue))


def refuse_unfinished(workbook: Path, grid: push.Grid, catalogue: Catalogue, hint: str) -> None:
    """A workbook whose push stopped mid-way (or a copy of it), or a copy that lacks what a push
    created, is recovered before anything else is sent, so that no invoice is sent twice."""
    runs = journal.runs(journal_dir())
    pending = [r for r in runs if not r.finished and belongs(r, workbook, grid, catalogue)]
    if not pending:
        _refuse_missing(workbook, grid, catalogue, hint, runs)
        return
    run = pending[-1]
    started = run.started.astimezone().strftime("%Y-%m-%d %H:%M")
    origin = Path(run.workbook)
    where = (
        f"The push of {workbook.name} started {started}"
        if origin == Path(workbook).resolve()
        else f"{workbook.name} holds rows of {origin.name} (a copy, or moved), whose push started "
        f"{started}, and that push"
    )
    raise UsageError(
        f"{where} stopped before it finished. Nothing was sent.",
        f"{hint} first: it writes what happened to each row into the workbook, so that no "
        "invoice is sent twice.",
    )


def _refuse_missing(
    workbook: Path, grid: push.Grid, catalogue: Catalogue, hint: str, runs: list[journal.Run]
) -> None:
    for run in reversed([r for r in runs if r.finished]):  # an unfinished one is not this file's
        rows = missing_outcomes(run, runs, workbook, grid, catalogue)
        if not rows:
            continue
        started = run.started.astimezone().strftime("%Y-%m-%d %H:%M")
        others = sorted(Path(p).name for p in run.applied)  # a finished run was applied somewhere
        lost = sorted(Path(p).name for p in _lacking(run, workbook, grid, catalogue))
        where = (
            f"whose results went into {', '.join(lost)} open in Excel, which was closed without "
            "saving them"
            if lost
            else f"whose results went into {', '.join(others)}, not into this file"
        )
        one = len(rows) == 1
        shown = ", ".join(str(r) for r in rows[:10])
        more = f" and {len(rows) - 10:,} more" if len(rows) > 10 else ""
        raise UsageError(
            f"{plural(len(rows), 'row')} of {workbook.name} ({'row' if one else 'rows'} "
            f"{shown}{more}) {'was' if one else 'were'} already sent by the push "
            f"started {started}, {where}. Nothing was sent.",
            f"{hint} first: it writes those results into this workbook, so that no invoice is "
            "created twice.",
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
    with writer_lock.hold(desk.workbook, command=command) as notes:
        for note in notes:
            desk.warn(note)
        return _send(desk, command, stop)


def _send(desk: Desk, command: str, stop: threading.Event | None) -> push.PushReport | None:
    started = run_log.now()
    outgoing = desk.read()
    if outgoing is None:
        return None
    options, trip = outgoing.options, outgoing.trip
    if options.dry_run:
        report, grid = _dry_run(outgoing, desk)
        desk.write(outgoing.sheet, report.layout, report.results)
        _log(desk, command, outgoing, report, grid, started, "dry run: nothing was sent")
        return report
    refuse_unfinished(desk.workbook, outgoing.grid, options.catalogue, desk.recover_hint)
    prove_recordable(desk, outgoing)
    _read_settings()
    logs: list[journal.Journal] = []
    with desk.connect() as link, ledger_for(link.target) as ledger:
        options = _keyed(options, link)
        remember = None
        book = ledger.book(desk.workbook, outgoing.sheet)
        try:
            grid, extra = trip.grid_to_send(link.client) if trip else (outgoing.grid, [])
            reports = []
            parts = push.parts(grid, options)
            confirm = _confirm_once(desk, link, options.op, parts)
            for part, part_options in parts:  # each part has its journal
                log = journal.Journal(
                    journal_dir(),
                    workbook=desk.workbook,
                    sheet=outgoing.sheet,
                    op=part_options.op,
                    external_id=part_options.external_id,
                    target=link.target,
                )
                logs.append(log)
                reports.append(
                    push.push(
                        part,
                        link.client,
                        part_options,
                        desk.progress,
                        log,
                        confirm,
                        stop,
                        book,
                        desk.create_again,
                    )
                )
            report = push.merged(reports, options)
            report.results = sorted(report.results + extra, key=lambda r: r.row)
            if trip is not None:
                remember = trip.settle(link.client, report.results)
            if strain := link.client.strain.note():
                report.notes.append(strain)
        except BaseException:
            for log in logs:
                log.abandon()  # left unfinished for a recovery if anything went out
            raise
    moved = desk.changed()  # saved or sorted meanwhile: rows are found by what was sent
    if moved:
        grid = _write_where_rows_are(desk, outgoing, logs, report)
    else:
        desk.write(outgoing.sheet, report.layout, report.results)
    unsettled.forget(report.settled)  # only now: the rows' outcomes are in the workbook
    if remember is not None:  # kept by invoice: right wherever the rows went
        revert_memory.save(undo_dir(), str(desk.workbook), outgoing.sheet, remember.replaced)
        revert_memory.forget(undo_dir(), str(desk.workbook), outgoing.sheet, remember.reverted)
        if not moved:  # cells by row number: the next pull brings the memory up to date
            desk.store(outgoing.sheet, remember)
    for log in logs:
        log.finish(unsaved=desk.unsaved)
    journal.prune(journal_dir())
    unsettled.prune(journal.kept_days())
    _log(desk, command, outgoing, report, grid, started, link.label)
    return report


def _read_settings() -> None:
    """The settings a send reads late (how far back the duplicate check looks, how long journals
    are kept), read now: a wrong value (``settings``) stops the send before anything goes out."""
    duplicates.days()
    journal.kept_days()


def _log(
    desk: Desk,
    command: str,
    outgoing: Outgoing,
    report: push.PushReport,
    grid: push.Grid,
    started: str,
    target: str,
) -> None:
    """Keep the send's run log (see ``run_log``): each row's outcome and the cells it sent."""
    what = f"{command} {outgoing.options.op.value}" if command == "push" else command
    run_log.save(
        run_log.RunLog(
            command=what,
            workbook=str(Path(desk.workbook).resolve()),
            sheet=outgoing.sheet,
            target=target,
            summary=report.summary(),
            started=started,
            rows=run_log.logged_rows(
                report.results, report.layout, dict(grid.rows), report.records
            ),
            notes=(*outgoing.notes, *report.notes),
        )
    )


def _records(grid: push.Grid, options: push.PushOptions) -> dict[int, dict[str, object]]:
    """Each valid row's record as it is sent, planned again for the rows of a sheet that changed
    during the send (values canonical, ``Pending`` for ``pending``), part by part as an upsert
    on Id sends them."""
    records: dict[int, dict[str, object]] = {}
    try:
        for part, part_options in push.parts(grid, options):
            _, plans, _ = push.plan(part, part_options)
            records.update({p.row: p.record for p in plans if p.valid})
    except BpxlError:
        return {}  # the sheet could not be planned (then nothing was sent): the cells say it
    return records


def prove_recordable(desk: Desk, outgoing: Outgoing) -> None:
    """Nothing is sent that cannot be recorded: before the first batch, the journal can be
    written (with room for this push) and the front end can write every row's outcome."""
    journal.prove_room(journal_dir(), outgoing.grid.rows)
    desk.prove_writable(outgoing.sheet, len(outgoing.grid.rows))


def _keyed(options: push.PushOptions, link: Connection) -> push.PushOptions:
    """The push's options with the connection's key field (key-field mode), checked against the
    tenant's fields: a key field the tenant no longer has stops the push before anything is
    sent, since its creates could no longer be recognised."""
    name = options.key_field or link.key_field
    if name is None:
        return options
    wrong = key_field.problem(options.catalogue, name)
    if wrong is not None:
        raise UsageError(
            f"{link.label} keeps create keys in the Invoice field {name}, but {wrong}. "
            "Nothing was sent.",
            f"Ask the tenant's administrator for {key_field.setup_text()}, or name another "
            "one with `bpxl connect NAME --key-field FIELD` (`bpxl fields` says what is set up).",
        )
    field = options.catalogue.lookup(name)
    assert field is not None  # problem() found it
    return dataclasses.replace(options, key_field=field.name)  # the tenant's spelling


def _confirm_once(
    desk: Desk, link: Connection, op: Operation, parts: list[tuple[push.Grid, push.PushOptions]]
) -> Callable[[int], bool]:
    """One question for the whole send, with its own operation and every row it sends: an upsert
    on Id goes in two parts (the new rows created, then the others upserted), but it is one
    upsert to the user, who is asked once."""
    answers: list[bool] = []  # the one answer, once given (a part declined sends nothing more)

    def confirm(rows: int) -> bool:
        if not answers:
            count = (
                (lambda: rows) if len(parts) == 1 else lambda: sum(push.going(*p) for p in parts)
            )
            answers.append(desk.confirm(link, op, count))
        return answers[0]

    return confirm


def _write_where_rows_are(
    desk: Desk, outgoing: Outgoing, logs: list[journal.Journal], report: push.PushReport
) -> push.Grid:
    """The workbook changed on disk during the send: write each outcome into the row that now
    holds what was sent (as ``recover`` does, from the journals), never by row number. Returns
    the sheet as it is now."""
    grid = desk.reread(outgoing.sheet)
    catalogue = outgoing.options.catalogue
    recoveries = [recover.recover(_written(log), grid, None, catalogue) for log in logs]
    results = [result for recovery in recoveries for result in recovery.results]
    moved = [row for recovery in recoveries for row in recovery.unplaced]
    lost = [recovery.unplaced_text() for recovery in recoveries if recovery.unplaced]
    report.results, report.moved = sorted(results, key=lambda r: r.row), moved
    report.records = _records(grid, outgoing.options)  # by the rows' numbers now
    desk.write(outgoing.sheet, recoveries[-1].layout, report.results)  # one sheet, one layout
    desk.warn(
        f"{desk.workbook.name} was changed while bpxl was sending (saved or sorted), so each "
        "result went into the row that holds what was sent."
        + (
            f" {plural(len(moved), 'sent row')} {'is' if len(moved) == 1 else 'are'} no longer "
            f"in the sheet as sent (edited or deleted): {'; '.join(lost)}."
            if moved
            else ""
        )
    )
    return grid


def _written(log: journal.Journal) -> journal.Run:
    """The journal this send just wrote, read back."""
    run = journal.load(log.path)
    assert run is not None  # it begins with its run line, written when it was opened
    return run


def _dry_run(outgoing: Outgoing, desk: Desk) -> tuple[push.PushReport, push.Grid]:
    """Check and mark the rows, send nothing; ``--changed`` marks the rows it would send, after
    the same conflict check as the real send, so that it predicts it."""
    trip = outgoing.trip
    if isinstance(trip, sends.ChangedRows) and not trip.overwrite:
        with desk.connect() as link:
            grid, extra = trip.grid_to_send(link.client)
    else:
        grid, extra = trip.grid_to_send(None) if trip else (outgoing.grid, [])
    reports = [push.push(g, None, o, desk.progress) for g, o in push.parts(grid, outgoing.options)]
    report = push.merged(reports, outgoing.options)
    report.results = sorted(report.results + extra, key=lambda r: r.row)
    changed = isinstance(trip, sends.ChangedRows)
    for result in report.results:
        if result.outcome is None and changed:
            assert isinstance(trip, sends.ChangedRows)
            result.outcome, result.messages = Outcome.CHANGED, [trip.describe(result.row)]
        elif result.outcome is None:  # marked too, so that the user sees it was checked
            ready = f"Ready to {outgoing.options.op.value} (dry run: nothing was sent)"
            result.messages = [ready, *result.messages]
    return report, grid
