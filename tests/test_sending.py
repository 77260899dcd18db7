"""One send (``core.sending``) called directly, with a front end that keeps its sheet in memory
(``MemoryDesk``) and the sandbox over loopback: what a send asks, writes, keeps and refuses.

The front ends' own tests (test_push_cli.py, test_excel.py, test_workbook_identity.py) send
through it end to end, from .xlsx files, Excel and killed processes; these are the same rules,
quickly, one at a time."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bpxl.core import fields, journal, run_log, sending, writer_lock
from bpxl.core import push as engine
from bpxl.core.client import Client
from bpxl.core.connection import Connection, journal_dir, undo_dir
from bpxl.core.errors import BpxlError, StorageError, UsageError, WorkbookBusyError
from bpxl.core.fields import Catalogue
from bpxl.core.journal import Target
from bpxl.core.profiles import Profile
from bpxl.core.push import Grid, PushOptions
from bpxl.core.records import Layout
from bpxl.core.results import Operation, Outcome, RowResult
from bpxl.core.roundtrip import queries, revert_memory, sends
from bpxl.core.roundtrip.pull_memory import Pulled
from bpxl.sandbox import Sandbox, SandboxConfig
from bpxl.sandbox.schema import parse_custom_field

from .conftest import RunningSandbox

HEADER = ["Id", "BillingProfileId", "FileName", "AgingInterval", "DueDate", "Result", "Message"]
ID, FILE, RESULT, MESSAGE = 0, 2, 5, 6
DUE = 46000  # 2025-12-09, as Excel counts days
CREATE, UPDATE, UPSERT = Operation.CREATE, Operation.UPDATE, Operation.UPSERT


Rows = dict[int, list[object]]  # a sheet's rows by number: its cells


def new_rows(n: int, name: str = "e") -> Rows:
    return {2 + i: [None, "101", f"{name}-{i}.pdf", i, DUE, None, None] for i in range(n)}


class MemoryDesk:
    """A front end whose sheet is in memory: it writes each result into its row (Id, Result,
    Message) as a workbook would, and keeps what it was asked and told."""

    def __init__(
        self, workbook: Path, url: str, rows: dict[int, list[object]], op: Operation = CREATE
    ) -> None:
        self.workbook = workbook
        self.url = url
        self.rows = rows
        self.options = PushOptions(op, concurrency=1)
        self.trip: sends.Trip | None = None
        self.notes: tuple[str, ...] = ()
        self.unsaved = False
        self.recover_hint = f"Run `bpxl recover {workbook.name}`"
        self.answer = True  # to the confirmation
        self.asked: list[tuple[Operation, int]] = []
        self.written: list[list[RowResult]] = []
        self.warnings: list[str] = []
        self.proved: list[tuple[str, int]] = []
        self.stored: list[sends.Remember] = []
        self.done = self.total = 0
        self.connected = 0
        self.saved_meanwhile: dict[int, list[object]] | None = None  # the sheet, changed
        self.refuse_write: BpxlError | None = None
        self.profile: Profile | None = None  # None: a bare URL
        self.date1904 = False
        self.header = HEADER
        self.found_created: list[list[int]] = []  # rows the desk was asked to create again
        self.held_by = ""  # what another command was told while the send read the sheet

    def grid(self) -> Grid:
        rows = [(r, list(v)) for r, v in sorted(self.rows.items())]
        return Grid(self.header, rows, date1904=self.date1904)

    def read(self) -> sending.Outgoing | None:
        with (
            pytest.raises(WorkbookBusyError) as busy,
            writer_lock.hold(self.workbook, command="pull"),
        ):
            pass  # the send holds the workbook: another command is refused, and told by whom
        self.held_by = busy.value.message
        return sending.Outgoing("Invoices", self.grid(), self.options, self.trip, self.notes)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        self.connected += 1
        with Client(self.url, username="demo", password="demo") as client:
            name = self.profile.name if self.profile else None
            yield Connection(client, Target(self.url, name), self.profile)

    def confirm(self, link: Connection, op: Operation, rows: Any) -> bool:
        assert link.label == self.url  # the question names where the rows go
        self.asked.append((op, rows()))
        return self.answer

    def create_again(self, found: list[RowResult]) -> bool:
        self.found_created.append([r.row for r in found])
        return False  # the ribbon's No; the command line's answer is --create-anyway

    def progress(self, done: int, total: int) -> None:
        self.done, self.total = self.done + done, total

    def write(self, sheet: str, layout: Layout, results: list[RowResult]) -> None:
        if self.refuse_write is not None:
            raise self.refuse_write
        assert sheet == "Invoices"
        self.written.append(results)
        id_column = layout.column(fields.ID)
        assert id_column is not None and layout.result_index and layout.message_index
        for result in results:
            values = self.rows[result.row]
            values[id_column.index] = result.id or values[id_column.index]
            values[layout.result_index] = result.outcome.value if result.outcome else None
            values[layout.message_index] = "; ".join(result.messages)

    def prove_writable(self, sheet: str, rows: int) -> None:
        self.proved.append((sheet, rows))

    def store(self, sheet: str, remember: sends.Remember) -> None:
        assert sheet == "Invoices"
        self.stored.append(remember)

    def changed(self) -> bool:
        return self.saved_meanwhile is not None

    def reread(self, sheet: str) -> Grid:
        assert self.saved_meanwhile is not None and sheet == "Invoices"
        self.rows = self.saved_meanwhile
        return self.grid()

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    def cleared(self) -> None:
        """The sheet as it was before the send wrote into it (a copy, Excel closed unsaved)."""
        for values in self.rows.values():
            values[ID] = values[RESULT] = values[MESSAGE] = None


@pytest.fixture
def desk(tmp_path: Path, sandbox: RunningSandbox) -> MemoryDesk:
    return MemoryDesk(tmp_path / "book.xlsx", sandbox.url, new_rows(3))


def started(run: journal.Run) -> str:
    return run.started.astimezone().strftime("%Y-%m-%d %H:%M")


def one_run() -> journal.Run:
    [run] = journal.runs(journal_dir())
    return run


def stopped_mid_way(desk: MemoryDesk) -> journal.Run:
    """A send whose rows went out but whose results could not be written: its journal is left
    unfinished, for a recovery."""
    desk.refuse_write = StorageError("The disk is full.")
    with pytest.raises(StorageError):
        sending.send(desk)
    desk.refuse_write = None
    [run] = journal.unfinished(journal_dir(), desk.workbook)
    assert len(run.sent) == len(desk.rows)
    return run


# -- a send ------------------------------------------------------------------------------------


def test_a_send_asks_once_writes_each_row_and_keeps_a_finished_journal_and_the_ledger(
    desk: MemoryDesk, sandbox: RunningSandbox
) -> None:
    desk.notes = ("read with ; as separator",)
    report = sending.send(desk)
    assert report is not None and desk.asked == [(CREATE, 3)] and desk.proved == [("Invoices", 3)]
    assert [r.outcome for r in report.results] == [Outcome.CREATED] * 3
    assert desk.written == [report.results] and desk.done == 3
    ids = [r.id for r in report.results]
    assert [v[ID] for v in desk.rows.values()] == ids
    run = one_run()
    assert run.finished and run.applied == {str(desk.workbook)} and not run.unsaved
    assert run.sheet == "Invoices" and run.external_id == "Id"
    assert desk.held_by.startswith("book.xlsx is in use by bpxl push (process ")
    log = run_log.last(desk.workbook)
    assert log is not None
    assert (log.command, log.sheet, log.target) == ("push create", "Invoices", sandbox.url)
    assert log.workbook == str(desk.workbook) and log.notes[0] == "read with ; as separator"
    assert [(r.row, r.id, r.result) for r in log.rows] == [
        (2, ids[0], "Created"),
        (3, ids[1], "Created"),
        (4, ids[2], "Created"),
    ]
    assert log.rows[0].values["FileName"] == "e-0.pdf"
    assert log.rows[0].values["DueDate"] == "2025-12-09"  # as sent, not the cell's 46000
    assert dt.datetime.fromisoformat(log.started) > dt.datetime.now().astimezone() - dt.timedelta(
        minutes=5
    )
    assert log.summary == report.summary()


def test_a_copy_of_a_sent_workbook_finds_its_rows_created_in_the_ledger(
    tmp_path: Path, desk: MemoryDesk, sandbox: RunningSandbox
) -> None:
    sending.send(desk)
    writes = len(sandbox.writes())
    copy = MemoryDesk(tmp_path / "copy.xlsx", sandbox.url, new_rows(3))
    copy.rows[5] = [None, "101", "added.pdf", 5, DUE, None, None]
    report = sending.send(copy)
    assert report is not None and len(sandbox.writes()) == writes + 1  # the added row only
    assert [r.outcome for r in report.results] == [Outcome.EXISTS] * 3 + [Outcome.CREATED]
    assert [r.id for r in report.results[:3]] == [v[ID] for v in desk.rows.values()]
    assert "book.xlsx (sheet Invoices, row 2)" in report.results[0].messages[0]
    assert copy.found_created == [[2, 3, 4]]  # asked whether to create them all the same
    assert copy.asked == [(CREATE, 1)]  # the question counts the rows really sent


def test_a_send_declined_sends_nothing(desk: MemoryDesk, sandbox: RunningSandbox) -> None:
    desk.answer = False
    with pytest.raises(UsageError, match="not confirmed"):
        sending.send(desk)
    assert desk.asked == [(CREATE, 3)] and sandbox.writes() == [] and desk.written == []
    assert journal.runs(journal_dir()) == []  # nothing went out: nothing to recover


def test_an_upsert_on_id_is_asked_once_for_the_rows_of_both_its_parts(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    first = MemoryDesk(tmp_path / "book.xlsx", sandbox.url, new_rows(2))
    sending.send(first)
    rows = {**first.rows, 4: [None, "101", "new.pdf", 9, DUE, None, None]}
    upsert = MemoryDesk(tmp_path / "book.xlsx", sandbox.url, rows, UPSERT)
    report = sending.send(upsert)
    assert report is not None and upsert.asked == [(UPSERT, 3)]
    assert [r.outcome for r in report.results] == [Outcome.UPSERTED] * 2 + [Outcome.CREATED]
    assert [r.row for r in report.results] == [2, 3, 4]
    runs = journal.runs(journal_dir())  # the create, then the upsert's two parts
    assert len(runs) == 3 and {(r.external_id, r.sheet) for r in runs} == {("Id", "Invoices")}


def test_a_dry_run_marks_each_row_ready_and_sends_nothing(
    desk: MemoryDesk, sandbox: RunningSandbox
) -> None:
    desk.options = PushOptions(CREATE, dry_run=True)
    desk.rows[3][3] = "soon"  # AgingInterval is a number
    report = sending.send(desk)
    assert report is not None and sandbox.requests() == [] and desk.asked == []
    assert journal.runs(journal_dir()) == [] and desk.proved == []
    ready = "Ready to create (dry run: nothing was sent)"
    assert report.results[0].messages == [ready] and report.results[2].messages == [ready]
    assert report.results[1].outcome is Outcome.INVALID
    assert desk.written == [report.results] and desk.total == 3  # its progress shown
    log = run_log.last(desk.workbook)
    assert log is not None and log.target == "dry run: nothing was sent"
    assert log.rows[1].values["AgingInterval"] == "soon"  # a row not sent: its cells
    assert dt.datetime.fromisoformat(log.started).date() >= dt.date(2026, 1, 1)
    assert log.command == "push create"


def test_a_command_other_than_push_is_logged_by_its_name_and_the_workbook_by_its_path(
    tmp_path: Path, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    desk = MemoryDesk(Path("book.xlsx"), sandbox.url, new_rows(1))
    sending.send(desk, "revert")
    log = run_log.last()
    assert log is not None and log.command == "revert"
    assert log.workbook == str(tmp_path / "book.xlsx")
    assert desk.held_by.startswith("book.xlsx is in use by bpxl revert (process ")


def test_nothing_to_send_is_no_send(desk: MemoryDesk) -> None:
    desk.read = lambda: None  # type: ignore[method-assign]
    assert sending.send(desk) is None and desk.written == []
    assert run_log.last() is None


@pytest.mark.parametrize("setting", ["BPXL_JOURNAL_DAYS", "BPXL_DUPLICATE_DAYS"])
def test_a_wrong_setting_stops_the_send_before_anything_goes_out(
    desk: MemoryDesk, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    monkeypatch.setenv(setting, "soon")
    with pytest.raises(UsageError) as refused:
        sending.send(desk)
    assert setting in str(refused.value) and sandbox.requests() == []


def test_a_key_field_the_tenant_cannot_use_stops_the_send(
    desk: MemoryDesk, sandbox: RunningSandbox
) -> None:
    desk.options = PushOptions(CREATE, concurrency=1, key_field="BillingProfileId")
    with pytest.raises(UsageError) as refused:
        sending.send(desk)
    assert refused.value.message == (
        f"{sandbox.url} keeps create keys in the Invoice field BillingProfileId, but "
        "BillingProfileId is one of BillingPlatform's own Invoice fields, not one for bpxl. "
        "Nothing was sent."
    )
    assert refused.value.hint is not None and refused.value.hint.startswith(
        "Ask the tenant's administrator for a custom Invoice field of type Text"
    )
    assert refused.value.hint == (
        "Ask the tenant's administrator for a custom Invoice field of type Text, at least 40 "
        "characters long, that nothing else writes, or name another one with `bpxl connect NAME "
        "--key-field FIELD` (`bpxl fields` says what is set up)."
    )
    desk.options = PushOptions(CREATE, concurrency=1)
    desk.profile = Profile("acme", sandbox.url, "demo", production=False, key_field="FileName")
    with pytest.raises(UsageError) as refused:
        sending.send(desk)  # the profile's key field
    assert refused.value.message.startswith(
        f"acme: sandbox tenant sandbox ({sandbox.url}) keeps create keys in the Invoice field "
        "FileName, but FileName is one of BillingPlatform's own Invoice fields"
    )
    assert sandbox.writes() == []


# -- a push that stopped, and copies ------------------------------------------------------------


def refusal(desk: MemoryDesk) -> UsageError:
    """Why a send of ``desk`` was refused before it connected to send anything."""
    connected = desk.connected
    with pytest.raises(UsageError) as refused:
        sending.send(desk)
    assert desk.connected == connected
    return refused.value


def test_a_workbook_whose_push_stopped_is_refused_and_so_is_its_copy(
    tmp_path: Path, desk: MemoryDesk, sandbox: RunningSandbox
) -> None:
    run = stopped_mid_way(desk)
    refused = refusal(desk)
    assert refused.message == (
        f"The push of book.xlsx started {started(run)} stopped before it finished. "
        "Nothing was sent."
    )
    assert refused.hint == (
        "Run `bpxl recover book.xlsx` first: it writes what happened to each row into the "
        "workbook, so that no invoice is sent twice."
    )
    copy = MemoryDesk(tmp_path / "copy.xlsx", sandbox.url, new_rows(3))
    refused = refusal(copy)
    assert refused.message == (
        f"copy.xlsx holds rows of book.xlsx (a copy, or moved), whose push started "
        f"{started(run)}, and that push stopped before it finished. Nothing was sent."
    )
    assert refused.hint is not None
    assert refused.hint.startswith("Run `bpxl recover copy.xlsx` first")
    other = MemoryDesk(tmp_path / "other.xlsx", sandbox.url, new_rows(3, "other"))
    report = sending.send(other)  # shares no row with it: its own
    assert report is not None and [r.outcome for r in report.results] == [Outcome.CREATED] * 3
    assert sending.to_recover(
        run, journal.runs(journal_dir()), copy.workbook, copy.grid(), fields.BUILT_IN
    )
    assert not sending.to_recover(
        run, journal.runs(journal_dir()), other.workbook, other.grid(), fields.BUILT_IN
    )


def test_a_push_that_sent_nothing_belongs_only_to_its_own_file(
    tmp_path: Path, desk: MemoryDesk
) -> None:
    log = journal.Journal(journal_dir(), workbook=desk.workbook, sheet="Invoices", op=CREATE,
                          external_id=fields.ID, target=Target(None))  # fmt: skip
    log.planned({2: "0" * 20})
    log.close()
    run = one_run()
    assert sending.belongs(run, desk.workbook, desk.grid(), fields.BUILT_IN)
    assert not sending.belongs(run, tmp_path / "copy.xlsx", desk.grid(), fields.BUILT_IN)
    assert not sending.to_recover(run, [run], tmp_path / "copy.xlsx", desk.grid(), fields.BUILT_IN)


def test_a_sheet_whose_header_is_no_invoice_sheet_holds_no_rows_of_a_push(
    tmp_path: Path, desk: MemoryDesk
) -> None:
    run = stopped_mid_way(desk)
    grid = Grid(["Name", "Amount"], [(2, ["x", 1])])
    assert not sending.belongs(run, tmp_path / "copy.xlsx", grid, fields.BUILT_IN)


def outcomes_went_into(run: journal.Run, *into: Path, unsaved: bool = False) -> journal.Run:
    for copy in into:
        journal.mark_recovered(run, copy, unsaved)
    loaded = journal.load(run.path)
    assert loaded is not None
    return loaded


def test_the_original_of_a_recovered_copy_is_refused_until_recovered(
    tmp_path: Path, desk: MemoryDesk, sandbox: RunningSandbox
) -> None:
    run = stopped_mid_way(desk)
    copy = MemoryDesk(tmp_path / "copy.xlsx", sandbox.url, new_rows(3))
    outcomes_went_into(run, copy.workbook)
    refused = refusal(desk)
    assert refused.message == (
        f"3 rows of book.xlsx (rows 2, 3, 4) were already sent by the push started "
        f"{started(run)}, whose results went into copy.xlsx, not into this file. Nothing was sent."
    )
    assert refused.hint == (
        "Run `bpxl recover book.xlsx` first: it writes those results into this workbook, so "
        "that no invoice is created twice."
    )
    runs = journal.runs(journal_dir())
    assert sending.missing_outcomes(runs[0], runs, desk.workbook, desk.grid(), fields.BUILT_IN) == [
        2,
        3,
        4,
    ]
    assert sending.to_recover(runs[0], runs, desk.workbook, desk.grid(), fields.BUILT_IN)
    desk.rows[3][ID], desk.rows[3][RESULT] = "77", "Created"  # one row recovered by hand
    refused = refusal(desk)
    assert refused.message.startswith("2 rows of book.xlsx (rows 2, 4) were already sent")
    desk.rows[2][RESULT] = desk.rows[4][RESULT] = "Unknown"
    assert (
        sending.missing_outcomes(runs[0], runs, desk.workbook, desk.grid(), fields.BUILT_IN) == []
    )


def test_one_row_or_many_are_named_so_and_a_later_send_elsewhere_changes_nothing(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    said = {
        1: "1 row of b1.xlsx (row 2) was already sent",
        10: "10 rows of b10.xlsx (rows 2, 3, 4, 5, 6, 7, 8, 9, 10, 11) were already sent",
        11: "11 rows of b11.xlsx (rows 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 1 more) were already",
    }
    for rows, words in said.items():
        desk = MemoryDesk(tmp_path / f"b{rows}.xlsx", sandbox.url, new_rows(rows, f"b{rows}"))
        outcomes_went_into(stopped_mid_way(desk), tmp_path / "one.xlsx", tmp_path / "two.xlsx")
        sending.send(MemoryDesk(tmp_path / "other.xlsx", sandbox.url, new_rows(1, f"o{rows}")))
        refused = refusal(desk)  # the newest push, of another file, changes nothing
        assert refused.message.startswith(words), refused.message
        assert "whose results went into one.xlsx, two.xlsx, not into this file" in refused.message


def test_a_copy_made_after_the_push_finished_is_its_own(
    tmp_path: Path, desk: MemoryDesk, sandbox: RunningSandbox
) -> None:
    """A file holding the same values as a push that finished is not a copy that lacks its
    results: the ledger tells it apart (Exists), the send is not refused."""
    sending.send(desk)
    copy = MemoryDesk(tmp_path / "copy.xlsx", sandbox.url, new_rows(3))
    runs = journal.runs(journal_dir())
    assert (
        sending.missing_outcomes(runs[0], runs, copy.workbook, copy.grid(), fields.BUILT_IN) == []
    )
    assert not sending.to_recover(runs[0], runs, copy.workbook, copy.grid(), fields.BUILT_IN)
    desk.cleared()  # cleared on purpose in the file that holds them: a deliberate resend
    assert (
        sending.missing_outcomes(runs[0], runs, desk.workbook, desk.grid(), fields.BUILT_IN) == []
    )


def test_an_upsert_on_a_key_field_is_never_refused_for_the_results_of_another_file(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """Sending it again upserts the same invoices by their key: nothing can be made twice, even
    of rows whose answer was lost and whose results went into a copy."""
    desk = MemoryDesk(tmp_path / "book.xlsx", sandbox.url, new_rows(2), UPSERT)
    desk.options = PushOptions(UPSERT, concurrency=1, external_id="FileName")
    _, plans, _ = engine.plan(desk.grid(), desk.options)
    log = journal.Journal(journal_dir(), workbook=desk.workbook, sheet="Invoices", op=UPSERT,
                          external_id="FileName", target=Target(sandbox.url))  # fmt: skip
    log.planned({p.row: journal.record_hash(p.record) for p in plans})
    log.sending([2, 3], dt.datetime.now(dt.UTC))  # and no answer came
    log.close()
    [run] = journal.runs(journal_dir())
    outcomes_went_into(run, tmp_path / "copy.xlsx")
    report = sending.send(desk)
    assert report is not None
    assert [r.outcome for r in report.results] == [Outcome.UPSERTED] * 2


# -- Excel closed without saving ----------------------------------------------------------------


def sent_open_in_excel(desk: MemoryDesk, saved_before: float = 0) -> None:
    """A send into a workbook open in Excel (its results on disk once it is saved), last saved
    ``saved_before`` seconds ago."""
    desk.workbook.write_bytes(b"a workbook")
    if saved_before:
        os.utime(desk.workbook, (time.time() - saved_before, time.time() - saved_before))
    desk.unsaved = True
    sending.send(desk)


def test_results_lost_when_excel_closed_unsaved_are_recovered_before_a_new_send(
    desk: MemoryDesk, sandbox: RunningSandbox
) -> None:
    sent_open_in_excel(desk, saved_before=60)
    run = one_run()
    assert set(run.unsaved) == {str(desk.workbook)}
    assert sending.lost_unsaved(run) == [str(desk.workbook)]
    desk.cleared()
    refused = refusal(desk)
    assert refused.message == (
        f"3 rows of book.xlsx (rows 2, 3, 4) were already sent by the push started "
        f"{started(run)}, whose results went into book.xlsx open in Excel, which was closed "
        "without saving them. Nothing was sent."
    )
    # Saved later, after Excel reopened it without them: a later save is no proof.
    desk.workbook.write_bytes(b"saved again")
    assert sending.lost_unsaved(run) == []
    refused = refusal(desk)
    assert "which was closed without saving them" in refused.message


def test_results_saved_with_the_workbook_are_not_lost(
    desk: MemoryDesk, sandbox: RunningSandbox
) -> None:
    sent_open_in_excel(desk)
    desk.workbook.write_bytes(b"saved with the Ids")
    run = one_run()
    assert sending.lost_unsaved(run) == []
    desk.rows[5] = [None, "101", "later.pdf", 1, DUE, None, None]
    report = sending.send(desk)  # the sheet shows the Ids: only the new row is created
    assert report is not None
    assert [r.outcome for r in report.results if r.row == 5] == [Outcome.CREATED]


def test_a_workbook_moved_or_deleted_since_may_lack_the_results(desk: MemoryDesk) -> None:
    sent_open_in_excel(desk)
    desk.workbook.unlink()
    assert sending.lost_unsaved(one_run()) == [str(desk.workbook)]


# -- a workbook saved or sorted during the send ------------------------------------------------


def test_a_workbook_sorted_during_the_send_gets_each_result_in_the_row_holding_it(
    desk: MemoryDesk,
) -> None:
    before = {row: list(values) for row, values in desk.rows.items()}
    desk.saved_meanwhile = {2: before[4], 3: before[3], 4: before[2]}
    report = sending.send(desk)
    assert report is not None and [r.row for r in report.results] == [2, 3, 4]
    assert [desk.rows[r][FILE] for r in (2, 3, 4)] == ["e-2.pdf", "e-1.pdf", "e-0.pdf"]
    assert all(values[RESULT] == "Created" and values[ID] for values in desk.rows.values())
    assert desk.warnings == [
        "book.xlsx was changed while bpxl was sending (saved or sorted), so each result went "
        "into the row that holds what was sent."
    ]
    log = run_log.last(desk.workbook)  # what each row sent, by its row number now
    assert log is not None and log.rows[0].values["FileName"] == "e-2.pdf"
    assert log.rows[0].values["DueDate"] == "2025-12-09"  # the record sent, not the cell
    assert one_run().finished


def test_rows_edited_during_the_send_are_named(desk: MemoryDesk) -> None:
    before = {row: list(values) for row, values in desk.rows.items()}
    desk.saved_meanwhile = {2: before[2], 3: [None, "101", "edited.pdf", 1, DUE, None, None]}
    report = sending.send(desk)
    assert report is not None and report.moved == [3, 4]
    made = {r.row: r.id for r in one_run().results.values()}
    [warning] = desk.warnings
    assert warning.startswith(
        "book.xlsx was changed while bpxl was sending (saved or sorted), so each result went "
        "into the row that holds what was sent. 2 sent rows are no longer in the sheet as sent "
        f"(edited or deleted): row 3 (Id {made[3]}), row 4 (Id {made[4]})"
    )


def upsert_of_two_parts(tmp_path: Path, sandbox: RunningSandbox) -> tuple[MemoryDesk, Rows]:
    """An upsert on Id of rows 2 and 3 (created before) and the new rows 4 and 5."""
    first = MemoryDesk(tmp_path / "book.xlsx", sandbox.url, new_rows(2))
    sending.send(first)
    new = {4: [None, "101", "new.pdf", 9, DUE, None, None], 5: [None, "101", "x.pdf", 8, DUE]}
    rows = {**first.rows, **new}
    rows[5] += [None, None]
    return MemoryDesk(first.workbook, sandbox.url, rows, UPSERT), rows


def test_rows_of_both_parts_of_an_upsert_go_where_they_are_and_one_edited_is_named(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    desk, rows = upsert_of_two_parts(tmp_path, sandbox)
    renamed = [None, "101", "renamed.pdf", 8, DUE, None, None]  # row 5, edited
    desk.saved_meanwhile = {2: renamed, 3: list(rows[4]), 4: list(rows[2]), 5: list(rows[3])}
    report = sending.send(desk)
    assert report is not None and report.moved == [5]
    assert [(r.row, r.outcome) for r in report.results] == [
        (3, Outcome.CREATED),
        (4, Outcome.UPSERTED),
        (5, Outcome.UPSERTED),
    ]
    runs = journal.runs(journal_dir())
    made = next(
        r.id for run in runs if run.op is CREATE for r in run.results.values() if r.row == 5
    )
    [warning] = desk.warnings
    assert warning == (
        "book.xlsx was changed while bpxl was sending (saved or sorted), so each result went "
        "into the row that holds what was sent. 1 sent row is no longer in the sheet as sent "
        f"(edited or deleted): row 5 (Id {made}) (row numbers as sent); put each Id into the Id "
        "column of the row it belongs to, with Created in Result, so that it is not created "
        "again; check them in BillingPlatform."
    )  # the other part lost no row, and says nothing


def test_rows_lost_by_both_parts_of_an_upsert_are_named_together(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    desk, rows = upsert_of_two_parts(tmp_path, sandbox)
    renamed = [None, "101", "renamed.pdf", 8, DUE, None, None]  # row 5, edited
    desk.saved_meanwhile = {2: renamed, 3: list(rows[4]), 4: list(rows[2])}  # row 3 deleted
    report = sending.send(desk)
    assert report is not None and report.moved == [5, 3]  # one row lost by each part
    assert [(r.row, r.outcome) for r in report.results] == [
        (3, Outcome.CREATED),
        (4, Outcome.UPSERTED),
    ]
    runs = journal.runs(journal_dir())
    made = next(
        r.id for run in runs if run.op is CREATE for r in run.results.values() if r.row == 5
    )
    advice = (
        " (row numbers as sent); put each Id into the Id column of the row it belongs to, with "
        "Created in Result, so that it is not created again; check them in BillingPlatform"
    )
    assert desk.warnings == [
        "book.xlsx was changed while bpxl was sending (saved or sorted), so each result went "
        "into the row that holds what was sent. 2 sent rows are no longer in the sheet as sent "
        f"(edited or deleted): row 5 (Id {made}){advice}; row 3 (Id {rows[3][ID]}){advice}."
    ]


# -- a round trip: rows changed since the pull ------------------------------------------------


def pulled(desk: MemoryDesk) -> dict[str, Pulled]:
    """What a pull of the desk's invoices would remember, with the server's stamps."""
    with desk.connect() as link:
        now = queries.stamps(link.client, [str(v[ID]) for v in desk.rows.values()])
    return {
        str(v[ID]): Pulled(
            now[str(v[ID])],
            {
                "BillingProfileId": "101",
                "FileName": v[FILE],
                "AgingInterval": v[3],
                "DueDate": "2025-12-09",
            },
        )
        for v in desk.rows.values()
    }


def edited_after_a_pull(desk: MemoryDesk, dry_run: bool = False, overwrite: bool = False) -> str:
    sending.send(desk)
    memory = pulled(desk)
    desk.rows[3][FILE] = "edited.pdf"
    desk.options = PushOptions(UPDATE, concurrency=1, dry_run=dry_run)
    desk.trip = sends.ChangedRows(desk.grid(), memory, overwrite)
    return str(desk.rows[3][ID])


def test_rows_changed_since_the_pull_are_sent_and_remembered_for_a_revert(
    desk: MemoryDesk, sandbox: RunningSandbox
) -> None:
    invoice = edited_after_a_pull(desk)
    report = sending.send(desk)
    assert report is not None
    assert [(r.row, r.outcome) for r in report.results] == [(3, Outcome.UPDATED)]
    [remember] = desk.stored
    assert remember.pulled[invoice].values["FileName"] == "edited.pdf"
    [replaced] = revert_memory.load(undo_dir(), str(desk.workbook))
    assert (replaced.invoice, replaced.field, replaced.before) == (invoice, "FileName", "e-1.pdf")


def test_a_revert_forgets_what_it_put_back(desk: MemoryDesk) -> None:
    invoice = edited_after_a_pull(desk)
    sending.send(desk)
    desk.trip = PutBack(desk.grid(), invoice)
    sending.send(desk, "revert")
    assert revert_memory.load(undo_dir(), str(desk.workbook)) == []
    assert revert_memory.reverted(undo_dir(), str(desk.workbook))


class PutBack:
    """A round trip that sends the sheet as it is and says it put ``invoice`` back."""

    def __init__(self, grid: Grid, invoice: str) -> None:
        self.grid, self.invoice = grid, invoice

    def grid_to_send(self, client: Client | None) -> tuple[Grid, list[RowResult]]:
        return self.grid, []

    def settle(self, client: Client, results: list[RowResult]) -> sends.Remember:
        return sends.Remember({}, [], {}, {self.invoice})


def test_a_round_trip_into_a_sheet_sorted_meanwhile_keeps_the_revert_but_not_the_cells(
    desk: MemoryDesk,
) -> None:
    invoice = edited_after_a_pull(desk)
    desk.saved_meanwhile = {2: desk.rows[4], 3: desk.rows[3], 4: desk.rows[2]}
    sending.send(desk)
    assert desk.stored == []  # the cells by row number would go into the wrong rows
    assert [r.invoice for r in revert_memory.load(undo_dir(), str(desk.workbook))] == [invoice]


def test_a_dry_run_of_changed_rows_names_the_changes_and_looks_for_conflicts(
    desk: MemoryDesk, sandbox: RunningSandbox
) -> None:
    edited_after_a_pull(desk, dry_run=True)
    before = len(sandbox.requests())
    report = sending.send(desk)
    assert report is not None
    assert [(r.row, r.outcome, r.messages) for r in report.results] == [
        (3, Outcome.CHANGED, ["Changed since the pull: FileName; not sent yet (a check only)"])
    ]
    asked = [r["path"].rsplit("/", 1)[-1] for r in sandbox.requests()[before:]]
    assert asked == ["login", "query", "logout"]  # the stamps, and no write


def test_a_dry_run_that_overwrites_asks_nothing(desk: MemoryDesk, sandbox: RunningSandbox) -> None:
    edited_after_a_pull(desk, dry_run=True, overwrite=True)
    before = len(sandbox.requests())
    report = sending.send(desk)
    assert report is not None and [r.outcome for r in report.results] == [Outcome.CHANGED]
    assert len(sandbox.requests()) == before


def test_a_send_stopped_before_it_began_marks_every_row_and_finishes(
    desk: MemoryDesk, sandbox: RunningSandbox
) -> None:
    stop = threading.Event()
    stop.set()
    report = sending.send(desk, stop=stop)
    assert report is not None and report.stopped and sandbox.writes() == []
    assert {r.outcome for r in report.results} == {Outcome.FAILED}
    assert [v[RESULT] for v in desk.rows.values()] == ["Failed"] * 3
    assert journal.unfinished(journal_dir()) == []


def test_copies_of_stopped_pushes_are_known_by_their_rows_wherever_they_stand(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """Below a blank row, with dates counted from 1904, or rows of an update that show their
    Ids: a copy holding the rows a stopped push sent is refused all the same."""
    mac = MemoryDesk(tmp_path / "mac.xlsx", sandbox.url, new_rows(2, "mac"))
    mac.date1904 = True
    stopped_mid_way(mac)
    copy = MemoryDesk(tmp_path / "copy of mac.xlsx", sandbox.url, {2: [None] * 7})
    copy.rows |= {row + 1: values for row, values in new_rows(2, "mac").items()}
    copy.date1904 = True
    assert "holds rows of mac.xlsx" in refusal(copy).message
    first = MemoryDesk(tmp_path / "book.xlsx", sandbox.url, new_rows(2))
    sending.send(first)
    update = MemoryDesk(first.workbook, sandbox.url, first.rows, UPDATE)
    update.rows[3][FILE] = "renamed.pdf"
    stopped_mid_way(update)
    rows = {row: list(values) for row, values in update.rows.items()}
    copy = MemoryDesk(tmp_path / "copy.xlsx", sandbox.url, rows, UPDATE)
    assert "holds rows of book.xlsx" in refusal(copy).message


def test_a_recovered_copy_cleared_on_purpose_sends_its_rows_again(
    tmp_path: Path, desk: MemoryDesk, sandbox: RunningSandbox
) -> None:
    run = stopped_mid_way(desk)
    copy = MemoryDesk(tmp_path / "copy.xlsx", sandbox.url, new_rows(3))
    outcomes_went_into(run, copy.workbook)  # then the user cleared its rows to send them again
    runs = journal.runs(journal_dir())
    assert (
        sending.missing_outcomes(runs[0], runs, copy.workbook, copy.grid(), fields.BUILT_IN) == []
    )
    copy.options = PushOptions(CREATE, concurrency=1, create_anyway=True)
    report = sending.send(copy)
    assert report is not None and [r.outcome for r in report.results] == [Outcome.CREATED] * 3


def test_a_row_cleared_on_purpose_in_a_saved_workbook_is_sent_again(
    desk: MemoryDesk, sandbox: RunningSandbox
) -> None:
    sent_open_in_excel(desk)
    desk.workbook.write_bytes(b"saved with the Ids")
    desk.rows[3][ID] = desk.rows[3][RESULT] = desk.rows[3][MESSAGE] = None
    desk.options = PushOptions(CREATE, concurrency=1, create_anyway=True)
    report = sending.send(desk)
    assert report is not None
    assert [(r.row, r.outcome) for r in report.results] == [(3, Outcome.CREATED)]


def test_files_lost_unsaved_are_those_not_saved_since_or_gone(tmp_path: Path) -> None:
    at = dt.datetime(2026, 12, 7, 20, 0, tzinfo=dt.UTC)
    files = {name: tmp_path / name for name in ("gone", "older", "same", "newer")}
    for name, path in files.items():
        if name != "gone":
            path.write_bytes(b"x")
            moment = at.timestamp() + {"older": -1, "same": 0, "newer": 1}[name]
            os.utime(path, (moment, moment))
    run = journal.Run(tmp_path / "j.jsonl", str(files["older"]), "Invoices", CREATE, fields.ID,
                      Target(None), at, unsaved={str(p): at for p in files.values()})  # fmt: skip
    assert sending.lost_unsaved(run) == [str(files["gone"]), str(files["older"])]


def test_a_row_changed_on_the_server_since_the_pull_is_a_conflict_and_not_sent(
    desk: MemoryDesk, sandbox: RunningSandbox
) -> None:
    invoice = edited_after_a_pull(desk)
    with desk.connect() as link:  # a colleague changes the invoice meanwhile
        [theirs] = link.client.write(UPDATE, [{"Id": invoice, "AgingInterval": 30}])
    assert theirs.outcome is Outcome.UPDATED
    writes = len(sandbox.writes())
    report = sending.send(desk)
    assert report is not None and [(r.row, r.outcome) for r in report.results] == [
        (3, Outcome.CONFLICT)
    ]
    assert len(sandbox.writes()) == writes and desk.stored == [sends.Remember({}, [], {})]


def test_the_original_lacks_what_its_recovered_copy_sent_later(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """A push of book.xlsx stopped after 2 of its 4 rows, and was recovered into its copy, which
    then sent the other 2: book.xlsx lacks their Ids too, and is told so."""
    original = MemoryDesk(tmp_path / "book.xlsx", sandbox.url, new_rows(4))
    _, plans, _ = engine.plan(original.grid(), original.options)
    log = journal.Journal(journal_dir(), workbook=original.workbook, sheet="Invoices", op=CREATE,
                          external_id=fields.ID, target=Target(sandbox.url))  # fmt: skip
    log.planned({p.row: journal.record_hash(p.record) for p in plans})
    log.sending([2, 3], dt.datetime.now(dt.UTC))
    log.answered([RowResult(2, Outcome.CREATED, "901"), RowResult(3, Outcome.CREATED, "902")])
    log.close()  # stopped there
    [run] = journal.runs(journal_dir())
    copy = MemoryDesk(tmp_path / "copy.xlsx", sandbox.url, new_rows(4))
    outcomes_went_into(run, copy.workbook)
    copy.rows[2][ID], copy.rows[3][ID] = "901", "902"  # as the recovery wrote them
    copy.rows[2][RESULT] = copy.rows[3][RESULT] = "Created"
    report = sending.send(copy)
    assert report is not None and [(r.row, r.outcome) for r in report.results] == [
        (4, Outcome.CREATED),
        (5, Outcome.CREATED),
    ]
    runs = journal.runs(journal_dir())
    [later] = [r for r in runs if r.workbook == str(copy.workbook)]
    grid = original.grid()
    assert sending.missing_outcomes(later, runs, original.workbook, grid, fields.BUILT_IN) == [4, 5]
    # Refused by the newest push whose results it lacks (of two started within one second,
    # either may be taken for the newest: the journals' names order them to the second).
    assert "were already sent by the push started" in refusal(original).message


# -- a tenant's own fields ---------------------------------------------------------------------


@pytest.fixture
def tenant(tmp_path: Path) -> Iterator[tuple[str, Catalogue]]:
    """A sandbox with fields of its own: a key field for create keys and a purchase order."""
    own = (parse_custom_field("BpxlKey:text:40"), parse_custom_field("PoNumber:text:20"))
    with Sandbox(SandboxConfig(port=0, custom_fields=own)) as running:
        yield running.url, Catalogue([*fields.BUILT_IN.fields, *own])


def tenant_desk(path: Path, url: str, catalogue: Catalogue, rows: int = 2) -> MemoryDesk:
    desk = MemoryDesk(path, url, {r: [*v, f"PO-{r}"] for r, v in new_rows(rows).items()})
    desk.header = [*HEADER, "PoNumber"]
    desk.options = PushOptions(CREATE, concurrency=1, catalogue=catalogue)
    return desk


def test_a_key_field_named_in_any_case_holds_each_creates_key(
    tmp_path: Path, tenant: tuple[str, Catalogue]
) -> None:
    url, catalogue = tenant
    desk = tenant_desk(tmp_path / "book.xlsx", url, catalogue)
    desk.options = PushOptions(CREATE, concurrency=1, catalogue=catalogue, key_field="bpxlkey")
    report = sending.send(desk)
    assert report is not None and [r.outcome for r in report.results] == [Outcome.CREATED] * 2
    with desk.connect() as link:
        found = list(
            queries.query(link.client, ["BpxlKey"], ids=[str(r.id) for r in report.results])
        )
    keys = [str(invoice.get("BpxlKey") or "") for invoice in found]
    assert len(keys) == 2 and all(keys) and keys[0] != keys[1]  # under the tenant's spelling


def test_copies_with_the_tenants_own_fields_are_known_by_them(
    tmp_path: Path, tenant: tuple[str, Catalogue]
) -> None:
    """A row's record holds the tenant's fields (PoNumber): a copy is found by it, and a sheet
    sorted during the send gets each result in its row."""
    url, catalogue = tenant
    desk = tenant_desk(tmp_path / "book.xlsx", url, catalogue)
    stopped_mid_way(desk)
    copy = tenant_desk(tmp_path / "copy.xlsx", url, catalogue)
    assert "holds rows of book.xlsx" in refusal(copy).message
    other = tenant_desk(tmp_path / "sorted.xlsx", url, catalogue, rows=3)
    for values in other.rows.values():
        values[FILE] = f"sorted-{values[FILE]}"
    other.saved_meanwhile = {2: other.rows[4], 3: other.rows[3], 4: other.rows[2]}
    report = sending.send(other)
    assert report is not None and report.moved == [] and other.warnings[0].endswith("was sent.")
    assert [other.rows[r][FILE] for r in (2, 3, 4)] == [
        "sorted-e-2.pdf",
        "sorted-e-1.pdf",
        "sorted-e-0.pdf",
    ]
    assert all(values[RESULT] == "Created" for values in other.rows.values())
