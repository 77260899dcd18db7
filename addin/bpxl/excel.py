"""The Excel add-in's actions: what each ribbon button does, over the same core as the CLI.

Every button of the BillingPlatform tab calls the VBA sub ``BpxlAction``, which runs
``bpxl.excel.action('<button id>')`` through xlwings' RunPython. ``ACTIONS`` maps the ids (the
ribbon XML's button ids) to plain functions of an xlwings ``Book``; tests run them on a fake book.
Errors end as a message box that says what went wrong and what to do, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import fields, install, journal, profiles, push, recover, template, trips
from .connection import data_dir, journal_dir, open_profile
from .errors import BpxlError, UsageError
from .excel_sheet import Block, StatusBar, chosen_rows, quiet, read_block, write_results
from .results import Operation, RowResult

TITLE = "BillingPlatform"
PROBLEMS_SHOWN = 10


def label_file() -> Path:
    """The ribbon's "Next write:" label, read by the VBA (no secrets: a name and a URL)."""
    return Path.home() / ".bpxl" / "target.txt"


def last_run_file() -> Path:
    return data_dir() / "excel-last-run.txt"


@dataclass(frozen=True)
class Action:
    label: str
    run: Callable[[Any], None]


def action(control_id: str, book: Any | None = None) -> None:
    """The one entry point of the ribbon (``book`` is the calling workbook; tests pass a fake)."""
    if book is None:
        import xlwings

        book = xlwings.Book.caller()
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
    lines = [f"{i}. {_label(name, saved)}" for i, name in enumerate(choices, start=1)]
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
    try:
        name = choices[int(str(answer).strip()) - 1]
    except (ValueError, IndexError):
        raise UsageError(
            f"{answer!r} is not one of the numbers shown.", "Click Connect... again."
        ) from None
    profiles.set_active(name)
    write_label(_label(name, saved))
    book.app.macro("BpxlRefreshRibbon")()


def _label(name: str, saved: dict[str, profiles.Profile]) -> str:
    return saved[name].label if name in saved else "SANDBOX (on this computer)"


def target_label() -> str:
    """Where the next write goes, as the ribbon and the messages name it."""
    return _label(profiles.active(), profiles.load_all())


def write_label(text: str) -> None:
    label_file().parent.mkdir(parents=True, exist_ok=True)
    label_file().write_text(text + "\n", encoding="utf-8")


# -- sheet ----------------------------------------------------------------------------------------


def new_sheet(book: Any) -> None:
    """Insert the invoice template's sheet into the workbook (after the last sheet)."""
    path = install.Places.for_user().template
    if not path.exists():
        template.write(path)
    source = book.app.books.open(str(path))
    try:
        source.sheets[0].copy(after=book.sheets[-1])
    finally:
        source.close()


def validate(book: Any) -> None:
    """Check the chosen rows without sending: rows with an Id as updates, the others as creates."""
    app = book.app
    block = read_block(book.sheets.active)
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
            report = push.push(block.grid(rows), None, push.PushOptions(op, dry_run=True))
            results += report.results
    with quiet(app):
        write_results(block, results)
    bad = sum(r.outcome is not None for r in results)
    summary = f"{len(results):,} rows checked: {len(results) - bad:,} ready, {bad:,} invalid"
    show(app, summary + " (nothing was sent)", results, "a check")


# -- send -----------------------------------------------------------------------------------------


_NO_ROWS = "No data rows are chosen."
_CHOOSE_ROWS = (
    "Select cells in the rows to work on (or one cell for all visible rows), then click again."
)


def _push(book: Any, op: Operation) -> None:
    app = book.app
    sheet = book.sheets.active
    block = read_block(sheet)
    choice = chosen_rows(app, block)
    if not choice.rows:
        raise UsageError(_NO_ROWS, _CHOOSE_ROWS)
    options = push.PushOptions(op)
    where = target_label()
    if choice.whole_sheet:
        question = f"{op.value.capitalize()} all {len(choice.rows):,} visible rows in {where}?"
        if app.alert(question, title=TITLE, buttons="ok_cancel") != "ok":
            return
    from . import excel_roundtrip  # it builds on this module's send()

    grid = block.grid(choice.rows)
    trip = None if op is Operation.CREATE else excel_roundtrip.recorded(book, grid)
    excel_roundtrip.send_and_store(book, block, grid, options, trip)


@dataclass
class Sent:
    report: push.PushReport
    log: journal.Journal
    remember: trips.Remember | None


def send(
    book: Any,
    block: Block,
    grid: push.Grid,
    options: push.PushOptions,
    trip: trips.Trip | None = None,
) -> Sent:
    """Send ``grid`` (or what ``trip`` makes of it) with a journal, progress in the status bar
    and, for production, a confirmation; the caller writes the results."""
    workbook = Path(book.fullname)
    pending = journal.unfinished(journal_dir(), workbook)
    if pending:
        raise UsageError(
            f"The last send from {workbook.name} stopped before it finished.",
            "Click Recover last run first, so that no invoice is sent twice.",
        )
    with open_profile(profiles.active()) as link:
        log = journal.Journal(
            journal_dir(),
            workbook=workbook,
            sheet=block.sheet.name,
            op=options.op,
            external_id=options.external_id,
            target=link.target,
        )

        def confirm(rows: int) -> bool:
            if link.profile is None or not link.profile.production:
                return True
            question = (
                f"{options.op.value.capitalize()} {rows:,} invoice rows in the PRODUCTION tenant "
                f"{link.profile.tenant} ({link.profile.url})?"
            )
            return bool(book.app.alert(question, title=TITLE, buttons="yes_no") == "yes")

        bar = StatusBar(book.app)
        remember = None
        try:
            grid, extra = trip.grid_to_send(link.client) if trip else (grid, [])
            report = push.push(grid, link.client, options, bar, log, confirm)
            report.results = sorted(report.results + extra, key=lambda r: r.row)
            if trip is not None:
                remember = trip.settle(link.client, report.results)
        except BaseException:
            log.abandon()  # left unfinished for Recover last run if anything went out
            raise
        finally:
            bar.close()
    return Sent(report, log, remember)


def show(app: Any, summary: str, results: list[RowResult], where: str) -> None:
    problems = [r for r in results if r.outcome is not None and not r.outcome.ok]
    lines = [summary, ""]
    for result in problems[:PROBLEMS_SHOWN]:
        assert result.outcome is not None
        lines.append(f"Row {result.row}: {result.outcome.value}: {result.message}")
    if len(problems) > PROBLEMS_SHOWN:
        lines.append(f"... and {len(problems) - PROBLEMS_SHOWN:,} more: see the Message column")
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    detail = [f"{stamp}, {where}", summary, ""] + [
        f"Row {r.row}: {r.outcome.value}: {r.message}" for r in problems if r.outcome is not None
    ]
    last_run_file().write_text("\n".join(detail) + "\n", encoding="utf-8")
    app.alert("\n".join(lines), title=TITLE)


# -- results --------------------------------------------------------------------------------------


def clear_status(book: Any) -> None:
    block = read_block(book.sheets.active)
    choice = chosen_rows(book.app, block)
    with quiet(book.app):
        write_results(block, [RowResult(row, None) for row in choice.rows])


def show_log(book: Any) -> None:
    path = last_run_file()
    text = path.read_text(encoding="utf-8") if path.exists() else "No send has run yet."
    book.app.alert(text[:1500], title=f"{TITLE}: last run")


def recover_last(book: Any) -> None:
    """Write the outcomes of this workbook's unfinished sends into the sheet."""
    pending = journal.unfinished(journal_dir(), Path(book.fullname))
    if not pending:
        book.app.alert("Nothing to recover: every send from this workbook finished.", title=TITLE)
        return
    for run in pending:
        block = read_block(book.sheets[run.sheet])
        grid = push.Grid(block.header, list(block.data.items()))
        if recover.needs_client(run):
            with open_profile(run.target.profile) as link:
                recovery = recover.recover(run, grid, link.client)
        else:
            recovery = recover.recover(run, grid, None)
        with quiet(book.app):
            write_results(block, recovery.results)
        journal.mark_recovered(run)
        book.app.alert(recovery.summary(run.op), title=f"{TITLE}: recovered")


def _roundtrip(name: str) -> Callable[[Any], None]:
    def run(book: Any) -> None:
        from . import excel_roundtrip  # it builds on this module's send()

        getattr(excel_roundtrip, name)(book)

    return run


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
    "bpxlPull": Action("Pull invoices...", _roundtrip("pull")),
    "bpxlSendChanged": Action("Send changed", _roundtrip("send_changed")),
    "bpxlRevert": Action("Revert last push", _roundtrip("revert_last")),
}
