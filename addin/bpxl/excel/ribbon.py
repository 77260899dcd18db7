"""The Excel add-in's actions: what each ribbon button does, over the same core as the CLI.

Every button of the BillingPlatform tab calls the VBA sub ``BpxlAction``, which runs
``bpxl.excel.ribbon.action('<button id>')`` through xlwings' RunPython. ``ACTIONS`` maps the ids
(the ribbon XML's button ids) to plain functions of an xlwings ``Book``; tests run them on a fake
book. Errors end as a message box that says what went wrong and what to do, never a traceback.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import template
from ..core import (
    fields,
    journal,
    profiles,
    push,
    recover,
    run_log,
    sending,
    shell,
    writer_lock,
)
from ..core.connection import (
    catalogue_for,
    catalogue_key,
    data_dir,
    journal_dir,
    open_profile,
    profile_catalogue,
)
from ..core.errors import BpxlError, UsageError
from ..core.records import earlier_outcome
from ..core.results import Operation, Outcome, RowResult, plural
from . import background, install, memory_sheet, roundtrip, xlam
from .book_file import workbook_file
from .desk import TITLE, all_rows, label, send, show, target_label, write_label
from .range_io import Block, chosen_rows, quiet, read_block, write_results


@dataclass(frozen=True)
class Action:
    label: str
    run: Callable[[Any], None]


_job: background.Job | None = None  # the button's work still running, if any


def action(control_id: str, book: Any | None = None) -> None:
    """The one entry point of the ribbon (``book`` is the calling workbook; tests pass a fake).

    The button's work runs in the background (``background``): this call returns within a few
    seconds, and ``poll`` carries on with it. One button's work at a time: while it runs, Stop
    sending asks a send to stop, and any other button says what is running; either also carries
    the work on, should Excel have dropped a poll."""
    global _job
    if book is None:
        book = _caller()
    if _job is not None:
        if control_id == STOP:
            _job.stop.set()
            book.app.status_bar = "BillingPlatform: stopping after the rows on their way..."
        else:
            book.app.alert(
                f"BillingPlatform is still busy with {ACTIONS[_job.name].label} (progress in the "
                "status bar). Wait for it to finish, or click Stop sending; then click again.",
                title=TITLE,
            )
        _serve(background.CALL_BUDGET_S)
        return
    _job = background.Job(control_id, lambda marshalled: _run(control_id, marshalled), book)
    _serve(background.CALL_BUDGET_S)


def poll() -> None:
    """The add-in's BpxlPoll, which the running work asks Excel to call (Application.OnTime)."""
    if _job is not None:
        _serve(background.POLL_BUDGET_S)


def _serve(budget_s: float) -> None:
    global _job
    if _job is not None and _job.serve(budget_s):
        _job = None


def _caller() -> Any:
    import xlwings

    return xlwings.Book.caller()


def _run(control_id: str, book: Any) -> None:
    """A button's work; every problem ends as a message box, never a traceback."""
    try:
        ACTIONS[control_id].run(book)
    except BpxlError as error:
        book.app.alert(str(error), title=TITLE)
    except Exception:
        details = data_dir() / "excel-error.txt"
        details.write_text(traceback.format_exc(), encoding="utf-8")
        book.app.alert(
            f"bpxl stopped on an unexpected problem. Nothing more was sent.\n"
            f"What to do: send {details} to your bpxl support contact.",
            title=TITLE,
        )


# -- connection -----------------------------------------------------------------------------------


def connect(book: Any) -> None:
    """Choose where writes go: the sandbox or a profile saved with `bpxl connect`."""
    saved = profiles.load_all()
    choices = [profiles.SANDBOX, *saved]
    lines = [f"{i}. {label(name, saved)}" for i, name in enumerate(choices, start=1)]
    current = profiles.active()
    default = choices.index(current) + 1 if current in choices else 1
    answer = book.app.api.InputBox(
        "Send invoices to:\n\n"
        + "\n".join(lines)
        + "\n\nType the number. To add a tenant, run in a command prompt:\n"
        "bpxl connect NAME --url https://... --username YOU",
        f"{TITLE}: Connect",
        str(default),
    )
    if answer in (False, None, ""):
        return  # Cancel
    number = str(answer).strip()
    if not (number.isdecimal() and 1 <= int(number) <= len(choices)):  # 0 is no choice either
        raise UsageError(f"{answer!r} is not one of the numbers shown.", "Click Connect... again.")
    name = choices[int(number) - 1]
    profiles.set_active(name)
    write_label(label(name, saved))
    if not book.app.macro(xlam.macro("BpxlRefreshRibbon"))():
        book.app.alert(
            f"Next write: {label(name, saved)}.\nThe ribbon's label shows it again once Excel "
            "restarts (its link to the ribbon was reset).",
            title=TITLE,
        )


# -- sheet ----------------------------------------------------------------------------------------


def new_sheet(book: Any) -> None:
    """Insert the invoice template's sheet into the workbook (after the last sheet), with the
    connected tenant's own fields when it describes them."""
    catalogue = profile_catalogue(profiles.active())
    if catalogue.source == fields.TENANT_SOURCE:
        path = template.write(data_dir() / "tenant-template.xlsx", catalogue=catalogue)
    else:
        path = install.Places.for_user().template
        if not path.exists():
            template.write(path)
    source = book.app.books.open(str(path))
    try:
        source.sheets[0].copy(after=book.sheets[-1])
    finally:
        source.close()
    if catalogue.notes:
        book.app.alert("\n".join(catalogue.notes), title=TITLE)


def validate(book: Any) -> None:
    """Check the chosen rows without sending: rows with an Id as updates, the others as creates."""
    app = book.app
    catalogue = profile_catalogue(profiles.active(), connect=False)  # a check sends nothing
    block = read_block(book.sheets.active, catalogue)
    choice = chosen_rows(app, block)
    if not choice.rows:
        raise UsageError(_NO_ROWS, _CHOOSE_ROWS)
    column = block.layout.column(fields.ID)
    data = block.data

    def has_id(row: int) -> bool:
        values = data[row]
        return (
            column is not None
            and column.index < len(values)
            and values[column.index]
            not in (
                None,
                "",
            )
        )

    results: list[RowResult] = []
    for op, rows in (
        (Operation.UPDATE, [r for r in choice.rows if has_id(r)]),
        (Operation.CREATE, [r for r in choice.rows if not has_id(r)]),
    ):
        if rows:
            options = push.PushOptions(op, dry_run=True, catalogue=catalogue)
            report = push.push(block.grid(rows), None, options)
            results += report.results
    with quiet(app):
        write_results(block, results)
    bad = sum(r.outcome is Outcome.INVALID for r in results)
    unknown = sum(r.outcome is Outcome.UNKNOWN for r in results)  # kept: looked up before sending
    ready = len(results) - bad - unknown
    summary = f"{plural(len(results), 'row')} checked: {ready:,} ready, {bad:,} invalid"
    if unknown:
        summary += f", {unknown:,} unknown (looked up before sending)"
    summary = "\n".join([summary + " (nothing was sent)", *catalogue.notes])
    run_log.save(
        run_log.RunLog(
            command="validate",
            workbook=str(workbook_file(book).resolve()),
            sheet=block.sheet.name,
            target="a check: nothing was sent",
            summary=summary.splitlines()[0],
            started=run_log.now(),
            rows=run_log.logged_rows(results, block.layout, block.data),
        )
    )
    show(app, summary, results)


# -- send -----------------------------------------------------------------------------------------


_NO_ROWS = "No data rows are chosen."
_CHOOSE_ROWS = (
    "Select cells in the rows to work on (or one cell for all visible rows), then click again."
)


def _push(book: Any, op: Operation) -> None:
    def read(block: Block) -> sending.Outgoing | None:
        app = book.app
        choice = chosen_rows(app, block)
        if not choice.rows:
            raise UsageError(_NO_ROWS, _CHOOSE_ROWS)
        if choice.whole_sheet and not _production():  # production asks anyway, once
            where = target_label()
            rows = plural(len(choice.rows), "visible row")
            every = "all " if len(choice.rows) > 1 else ""
            question = f"{op.value.capitalize()} {every}{rows} in {where}?"
            if app.alert(question, title=TITLE, buttons="ok_cancel") != "ok":
                return None
        grid = block.grid(choice.rows)
        trip = None if op is Operation.CREATE else memory_sheet.recorded(book, block, grid)
        options = push.PushOptions(op, catalogue=block.catalogue)
        return sending.Outgoing(block.sheet.name, grid, options, trip)

    send(book, read)


def _production() -> bool:
    name = profiles.active()
    return name != profiles.SANDBOX and profiles.get(name).production


# -- results --------------------------------------------------------------------------------------


def clear_status(book: Any) -> None:
    """Empty Result and Message of the chosen rows, after a warning for rows that say Unknown:
    their invoice may exist, and a cleared row is created again without looking first."""
    block = read_block(book.sheets.active, profile_catalogue(profiles.active(), connect=False))
    choice = chosen_rows(book.app, block)
    unknown = [
        r for r in choice.rows if earlier_outcome(block.layout, block.data[r]) is Outcome.UNKNOWN
    ]
    if unknown:
        which = (
            f"Row {unknown[0]} says"
            if len(unknown) == 1
            else f"{len(unknown):,} rows (the first is row {unknown[0]}) say"
        )
        question = (
            f"{which} Unknown: the invoice may already exist in BillingPlatform. Cleared, the "
            "next Create sends it again without looking, which can make a second invoice. "
            "Check in BillingPlatform first.\n\nClear anyway?"
        )
        if book.app.alert(question, title=TITLE, buttons="ok_cancel") != "ok":
            return
    with quiet(book.app):
        write_results(block, [RowResult(row, None) for row in choice.rows])


SHOW_LOG_CHARACTERS = 1500  # a message box shows about this much; the rest is named


def show_log(book: Any) -> None:
    """The last run (push, pull, revert, recover, check; from the ribbon or the command line),
    as ``bpxl log`` prints it, cut to what a message box holds."""
    log = run_log.last()
    if log is None:
        book.app.alert("No run yet: nothing was sent or checked.", title=f"{TITLE}: last run")
        return
    text = log.text()
    if len(text) > SHOW_LOG_CHARACTERS:
        text = (
            text[:SHOW_LOG_CHARACTERS].rsplit("\n", 1)[0]
            + "\n...\nThe whole run: type in a command prompt: "
            + shell.command("log", log.workbook, windows=True)
        )
    book.app.alert(text, title=f"{TITLE}: last run")


def recover_last(book: Any) -> None:
    """Write the outcomes of this workbook's unfinished sends (or, for a copy, those of the
    workbook it was copied from, and those recovered into another copy) into its sheets."""
    workbook = workbook_file(book)
    with writer_lock.hold(workbook, command="recover"):
        pending = []
        runs = journal.runs(journal_dir())
        for run in runs:
            if run.sheet not in [sheet.name for sheet in book.sheets]:
                continue
            known = catalogue_for(catalogue_key(run.target), None)
            block = read_block(book.sheets[run.sheet], known)
            if sending.to_recover(run, runs, workbook, all_rows(block), known):
                pending.append((run, block, known))
        if not pending:
            book.app.alert(
                "Nothing to recover: every send from this workbook finished.", title=TITLE
            )
            return
        for run, block, known in pending:
            others = {Path(run.workbook).resolve()} - {workbook.resolve()}
            # The send's own workbook too: a recovery never runs beside the send it recovers.
            with writer_lock.hold(*others, command="recover"):
                if recover.needs_client(run):
                    with open_profile(run.target.profile) as link:
                        recovery = recover.recover(run, all_rows(block), link.client, known)
                else:
                    recovery = recover.recover(run, all_rows(block), None, known)
                recover.remember_created(run, workbook, recovery, all_rows(block))
                with quiet(book.app):
                    write_results(block, recovery.results)
                journal.mark_recovered(run, workbook, unsaved=True)
            recover.save_log(run, workbook, recovery, all_rows(block))
            book.app.alert(recovery.summary(run.op), title=f"{TITLE}: recovered")


STOP = "bpxlStop"  # handled by ``action`` itself: it acts on the work running

ACTIONS: dict[str, Action] = {
    "bpxlConnect": Action("Connect...", connect),
    "bpxlNewSheet": Action("New invoice sheet", new_sheet),
    "bpxlValidate": Action("Validate", validate),
    "bpxlCreate": Action("Create", lambda book: _push(book, Operation.CREATE)),
    "bpxlUpdate": Action("Update", lambda book: _push(book, Operation.UPDATE)),
    "bpxlUpsert": Action("Upsert", lambda book: _push(book, Operation.UPSERT)),
    "bpxlClear": Action("Clear status", clear_status),
    "bpxlLog": Action("Show log", show_log),
    "bpxlRecover": Action("Recover last run", recover_last),
    "bpxlPull": Action("Pull invoices...", roundtrip.pull),
    "bpxlSendChanged": Action("Send changed", roundtrip.send_changed),
    "bpxlRevert": Action("Revert last push", roundtrip.revert_last),
    STOP: Action("Stop sending", lambda book: book.app.alert("Nothing is running.", title=TITLE)),
}
