"""A send from the open workbook: the ribbon's side of the core's send (``sending.Desk``).

Every button that sends (Create, Update, Upsert, Send changed, Revert last push) reads its rows
through ``send``: the active sheet in one read, Excel's status bar for progress, a Yes/No box
before production, results written back column by column, and a message box that sums up. The
ribbon's "Next write:" label and the last run's log live here too, as every send names its target.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from ..core import profiles, push, sending
from ..core.connection import Connection, open_profile, profile_catalogue
from ..core.records import Layout
from ..core.results import Operation, RowResult, plural
from ..core.roundtrip import sends
from . import background, install, memory_sheet
from .book_file import workbook_file
from .range_io import Block, StatusBar, quiet, read_block, write_results

TITLE = "BillingPlatform"
PROBLEMS_SHOWN = 10
STOPPED = (
    "Stopped, as you asked: no more rows went out. Every row says what happened to it; rows not "
    "sent say so: select them and click the button again to send them."
)


def label_file() -> Path:
    """The ribbon's "Next write:" label, read by the VBA (no secrets: a name and a URL)."""
    return Path.home() / ".bpxl" / "target.txt"


def label(name: str, saved: dict[str, profiles.Profile]) -> str:
    return saved[name].label if name in saved else "SANDBOX (on this computer)"


def target_label() -> str:
    """Where the next write goes, as the ribbon and the messages name it."""
    return label(profiles.active(), profiles.load_all())


def write_label(text: str) -> None:
    install.write_ansi(label_file(), text + "\n")  # VBA's Line Input reads the ANSI code page


class _Desk:
    """The ribbon's side of a send (``sending.Desk``): the open workbook's active sheet, Excel's
    status bar, a Yes/No box for production."""

    recover_hint = "Click Recover last run"
    unsaved = True  # results go into the open book: on disk only once the user saves it

    def __init__(self, book: Any, read: Callable[[Block], sending.Outgoing | None]) -> None:
        self.book, self._read = book, read
        self.workbook = workbook_file(book)
        self.block: Block | None = None
        self.bar = StatusBar(book.app)

    def read(self) -> sending.Outgoing | None:
        catalogue = profile_catalogue(profiles.active())
        self.block = read_block(self.book.sheets.active, catalogue)
        return self._read(self.block)

    def connect(self) -> AbstractContextManager[Connection]:
        return open_profile(profiles.active())

    def confirm(self, link: Connection, op: Operation, rows: Callable[[], int]) -> bool:
        if link.profile is None or not link.profile.production:
            return True
        question = (
            f"{op.value.capitalize()} {plural(rows(), 'invoice row')} in the PRODUCTION tenant "
            f"{link.profile.tenant} ({link.profile.url})?"
        )
        return bool(self.book.app.alert(question, title=TITLE, buttons="yes_no") == "yes")

    def create_again(self, found: list[RowResult]) -> bool:
        shown = [f"Row {r.row}: {r.message}" for r in found[:PROBLEMS_SHOWN]]
        if len(found) > PROBLEMS_SHOWN:
            shown.append(f"... and {plural(len(found) - PROBLEMS_SHOWN, 'more row')}")
        question = (
            f"{plural(len(found), 'row')} of this sheet {'was' if len(found) == 1 else 'were'} "
            "created before (from this workbook or a copy of it):\n\n"
            + "\n".join(shown)
            + "\n\nCreate them again all the same (a second invoice each)? No leaves them "
            "marked Exists, with the Id of the invoice there is."
        )
        return bool(self.book.app.alert(question, title=TITLE, buttons="yes_no") == "yes")

    def progress(self, done: int, total: int) -> None:
        self.bar(done, total)

    def write(self, sheet: str, layout: Layout, results: list[RowResult]) -> None:
        assert self.block is not None
        with quiet(self.book.app):
            write_results(self.block, results)

    def prove_writable(self, sheet: str, rows: int) -> None:
        """Nothing to prove: the outcomes go into the book open in Excel, in memory."""

    def changed(self) -> bool:
        """Whether the sheet's cells changed during the send: Excel stays the user's while a
        long send runs in the background (sorted, rows inserted, cells edited)."""
        assert self.block is not None
        used = self.block.sheet.used_range
        now = [list(v) for v in used.options(ndim=2).value or [[]]]
        return (used.row, used.column, now) != (self.block.top, self.block.left, self.block.values)

    def reread(self, sheet: str) -> push.Grid:
        assert self.block is not None
        self.block = read_block(self.book.sheets[sheet], self.block.layout.catalogue)
        return all_rows(self.block)

    def warn(self, text: str) -> None:
        self.book.app.alert(text, title=TITLE)

    def store(self, sheet: str, remember: sends.Remember) -> None:
        assert self.block is not None
        with quiet(self.book.app):
            memory_sheet.store(self.book, self.block, remember)


def send(book: Any, read: Callable[[Block], sending.Outgoing | None]) -> None:
    """A send of rows of the active sheet (``read`` chooses them) through the core's workflow,
    then a message that sums up."""
    desk = _Desk(book, read)
    try:
        report = sending.send(desk, stop=background.stop_signal())
    finally:
        desk.bar.close()
    if report is not None:
        stopped = [STOPPED] if report.stopped else []
        show(book.app, "\n".join([*stopped, report.summary(), *report.notes]), report.results)


def show(app: Any, summary: str, results: list[RowResult]) -> None:
    """The message box that sums a send or a check up, with its first problems (the whole run,
    row by row, is in the run log: *Show log*)."""
    problems = [r for r in results if r.outcome is not None and not r.outcome.ok]
    lines = [summary, ""]
    for result in problems[:PROBLEMS_SHOWN]:
        assert result.outcome is not None
        lines.append(f"Row {result.row}: {result.outcome.value}: {result.message}")
    if len(problems) > PROBLEMS_SHOWN:
        lines.append(f"... and {len(problems) - PROBLEMS_SHOWN:,} more: see the Message column")
    app.alert("\n".join(lines), title=TITLE)


def all_rows(block: Block) -> push.Grid:
    return push.Grid(block.header, list(block.data.items()), block.date1904)
