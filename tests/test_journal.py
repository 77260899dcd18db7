"""The push journal: written line by line, read back after a crash, pruned after 30 days."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

import pytest

from bpxl.core import journal
from bpxl.core.connection import journal_dir
from bpxl.core.errors import StorageError, UsageError
from bpxl.core.journal import Journal, Target, load, prune, record_hash, runs, unfinished
from bpxl.core.results import Operation, Outcome, RowResult

from .conftest import write_invoices

AT = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


def start(folder: Path, workbook: Path, sheet: str = "Invoices") -> Journal:
    return Journal(
        folder,
        workbook=workbook,
        sheet=sheet,
        op=Operation.UPDATE,
        external_id="FileName",
        target=Target("https://tenant.example/acme", "acme"),
    )


def test_record_hash_is_stable_short_and_order_free() -> None:
    one = record_hash({"BillingProfileId": "101", "Status": "Pending"})
    assert one == record_hash({"Status": "Pending", "BillingProfileId": "101"})
    assert re.fullmatch("[0-9a-f]{20}", one), one  # 80 bits of SHA-256, in lowercase hex
    assert one != record_hash({"BillingProfileId": "102", "Status": "Pending"})
    # The same values hash the same on any machine (non-ASCII kept as such, dates as text).
    text = json.dumps({"a": "Zoë", "d": "2024-01-02"}, sort_keys=True, ensure_ascii=False)
    assert (
        record_hash({"d": dt.date(2024, 1, 2), "a": "Zoë"})
        == (hashlib.sha256(text.encode()).hexdigest()[:20])
    )


def test_a_journal_reads_back_what_was_written(tmp_path: Path) -> None:
    book = tmp_path / "book.xlsx"
    log = start(tmp_path / "j", book)
    assert log.path.parent == tmp_path / "j" and log.path.suffix == ".jsonl"
    log.planned({2: "h2", 3: "h3", 4: None, 5: "h5"})
    assert log.sent_any is False
    log.sending([2, 3], AT)
    assert log.sent_any
    log.answered([RowResult(2, Outcome.UPDATED, "7", ["Ok"])])
    log.close()
    log.close()  # closing twice is harmless
    with pytest.raises(ValueError, match=r"^the journal is closed$"):
        log.sending([5], AT)

    run = load(log.path)
    assert run is not None
    assert (run.workbook, run.sheet, run.op, run.external_id) == (
        str(book.resolve()),
        "Invoices",
        Operation.UPDATE,
        "FileName",
    )
    assert run.target == Target("https://tenant.example/acme", "acme")
    assert run.planned == {2: "h2", 3: "h3", 4: None, 5: "h5"}
    assert run.sent == {2: AT, 3: AT}
    assert run.results == {2: RowResult(2, Outcome.UPDATED, "7", ["Ok"])}
    assert run.in_flight == [3] and run.never_sent == [5] and not run.finished
    assert abs(run.started - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    assert [r.path for r in unfinished(tmp_path / "j")] == [log.path]
    assert unfinished(tmp_path / "j", book) == unfinished(tmp_path / "j")
    assert unfinished(tmp_path / "j", tmp_path / "other.xlsx") == []

    journal.mark_recovered(run, Path(run.workbook))
    again = load(log.path)
    assert again is not None and again.finished and unfinished(tmp_path / "j") == []
    last = json.loads(log.path.read_text(encoding="utf-8").splitlines()[-1])
    assert last.keys() == {"type", "at", "recovered", "into"} and last["recovered"] is True
    assert abs(dt.datetime.fromisoformat(last["at"]) - dt.datetime.now(dt.UTC)) < MINUTE


def test_a_journal_is_named_by_its_start_in_utc_and_made_with_its_folders(
    tmp_path: Path, time_zone: str
) -> None:
    log = start(tmp_path / "data" / "journal", tmp_path / "b.xlsx")
    stamp, tail = log.path.stem.split("-")
    began = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
    assert abs(began - dt.datetime.now(dt.UTC)) < MINUTE and re.fullmatch("[0-9a-f]{8}", tail)
    log.answered([RowResult(2, Outcome.FAILED, None, ['FileName: "Zoë.pdf" is refused'])])
    log.finish()
    lines = [json.loads(line) for line in log.path.read_text(encoding="utf-8").splitlines()]
    assert [line["type"] for line in lines] == ["run", "result", "done"]
    assert lines[-1].keys() == {"type", "at"}
    assert "Zoë" in log.path.read_text(encoding="utf-8")  # kept as written, not escaped
    log.discard()
    log.discard()  # already gone: fine


def test_journals_are_read_oldest_first_even_within_one_second(tmp_path: Path) -> None:
    """Two pushes started in one second: their files' names differ only in a random part, yet the
    older is read first (recovery and the refusals name the newest run)."""
    older, newer = start(tmp_path, tmp_path / "a.xlsx"), start(tmp_path, tmp_path / "b.xlsx")
    older.close()
    newer.close()
    stamp = older.path.name.split("-")[0]
    newer.path.rename(tmp_path / f"{stamp}-00000000.jsonl")  # a name that sorts before the older
    older.path.rename(tmp_path / f"{stamp}-ffffffff.jsonl")
    assert [Path(r.workbook).name for r in runs(tmp_path)] == ["a.xlsx", "b.xlsx"]


def test_a_result_without_outcome_and_a_finished_journal(tmp_path: Path) -> None:
    log = start(tmp_path, tmp_path / "b.xlsx")
    log.planned({2: "h"})
    log.sending([2], AT)
    log.answered([RowResult(2, None, None, [])])
    log.finish()
    run = load(log.path)
    assert run is not None and run.finished
    assert run.results[2] == RowResult(2, None, None, []) and run.in_flight == []


def test_a_torn_last_line_is_ignored_and_foreign_files_are_skipped(tmp_path: Path) -> None:
    log = start(tmp_path, tmp_path / "b.xlsx")
    log.planned({2: "h"})
    log.close()
    with log.path.open("a", encoding="utf-8") as file:
        file.write('{"type": "send", "rows": [2], "at": "2026-')  # the process died here
    run = load(log.path)
    assert run is not None and run.sent == {} and run.never_sent == [2]
    with log.path.open("a", encoding="utf-8") as file:  # a later push appended after the tear
        file.write('\n{"type": "result", "rows": [[2, "Created", "9", []]]}\n')
    run = load(log.path)
    assert run is not None and run.results == {2: RowResult(2, Outcome.CREATED, "9", [])}
    (tmp_path / "0-notes.jsonl").write_text('{"type": "plan", "rows": {}}\n')  # no run line
    (tmp_path / "1-broken.jsonl").write_text('{"type": "run"}\n')  # a run line without fields
    (tmp_path / "readme.txt").write_text("not a journal")
    assert load(tmp_path / "0-notes.jsonl") is None
    assert [r.path for r in runs(tmp_path)] == [log.path]
    assert runs(tmp_path / "missing") == []


def test_discard_and_abandon_keep_a_journal_only_if_something_went_out(tmp_path: Path) -> None:
    quiet = start(tmp_path, tmp_path / "b.xlsx")
    quiet.abandon()
    assert not quiet.path.exists()
    sent = start(tmp_path, tmp_path / "b.xlsx")
    sent.planned({2: "h"})
    sent.sending([2], AT)
    sent.abandon()
    assert sent.path.exists() and [r.path for r in unfinished(tmp_path)] == [sent.path]
    dropped = start(tmp_path, tmp_path / "b.xlsx")
    dropped.discard()
    assert not dropped.path.exists()


def test_the_values_sent_are_on_disk_while_the_push_runs_and_go_when_it_ends(
    tmp_path: Path,
) -> None:
    log = start(tmp_path, tmp_path / "b.xlsx")
    log.planned({2: "h2", 3: "h3", 4: "h4", 5: "h5"})
    kept = journal.sent_path(log.path)
    log.sending([2], AT)  # a batch without values keeps none
    assert not kept.exists()
    log.sending([2, 3], AT, {2: {"FileName": "a.pdf"}, 3: {"FileName": "Zoë.pdf"}})
    # Read as a recovery would after a SIGKILL here: the push still has the file open.
    run = load(log.path)
    assert run is not None and run.sent_records == {
        2: {"FileName": "a.pdf"},
        3: {"FileName": "Zoë.pdf"},
    }
    log.sending([4], AT, {4: {"FileName": "c.pdf", "DueDate": dt.date(2026, 3, 31)}})
    run = load(log.path)
    assert run is not None and run.sent_records[4] == {"FileName": "c.pdf", "DueDate": "2026-03-31"}
    assert len(kept.read_text(encoding="utf-8").splitlines()) == 2  # a line a batch
    log.abandon()  # stopped on an error: the values stay for the recovery
    before = kept.read_bytes()
    with pytest.raises(ValueError, match=r"^the journal is closed$"):
        log.sending([5], AT, {5: {"FileName": "d.pdf"}})
    assert kept.read_bytes() == before  # a closed journal keeps nothing more
    run = load(log.path)
    assert run is not None and set(run.sent_records) == {2, 3, 4} and run.in_flight == [2, 3, 4]
    journal.mark_recovered(run, tmp_path / "b.xlsx")
    assert not kept.exists()

    done = start(tmp_path, tmp_path / "b.xlsx")
    done.sending([2], AT, {2: {"FileName": "a.pdf"}})
    done.finish()
    assert not journal.sent_path(done.path).exists()
    gone = start(tmp_path, tmp_path / "b.xlsx")
    gone.sending([2], AT, {2: {"FileName": "a.pdf"}})
    gone.discard()
    assert not gone.path.exists() and not journal.sent_path(gone.path).exists()


def test_earlier_sends_finds_only_the_same_rows_of_the_same_sheet(tmp_path: Path) -> None:
    book = tmp_path / "b.xlsx"
    first = start(tmp_path, book)
    first.planned({2: "a", 3: "b", 4: "c"})
    first.sending([2, 3], AT)
    first.close()
    later = AT + dt.timedelta(hours=1)
    second = start(tmp_path, book)
    second.planned({2: "a"})
    second.sending([2], later)
    second.close()
    elsewhere = start(tmp_path, book, sheet="Other")
    elsewhere.planned({4: "c"})
    elsewhere.sending([4], AT)
    elsewhere.close()
    now = start(tmp_path, book)
    # Row 2 unchanged (earliest send wins), row 3 edited since, row 4 only sent from another sheet.
    assert now.earlier_sends({2: "a", 3: "changed", 4: "c"}) == {2: AT}
    now.sending([2], later)  # its own sends are not "earlier"
    assert now.earlier_sends({2: "a"}) == {2: AT}


def _finished(folder: Path, age_days: float, finish: bool = True) -> Path:
    log = start(folder, folder / "b.xlsx")
    if finish:
        log.finish()
    else:
        log.close()
    lines = log.path.read_text(encoding="utf-8").splitlines()
    head = json.loads(lines[0])
    began = dt.datetime.now(dt.UTC) - dt.timedelta(days=age_days)
    head["started"] = began.isoformat()
    log.path.write_text("\n".join([json.dumps(head), *lines[1:]]) + "\n", encoding="utf-8")
    return log.path


def test_finished_journals_are_pruned_after_30_days(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(journal.KEEP_DAYS_ENV, raising=False)
    young = _finished(tmp_path, 29.9)
    old = _finished(tmp_path, 30.1)
    old_unfinished = _finished(tmp_path, 400, finish=False)
    assert prune(tmp_path) == 1
    assert young.exists() and not old.exists() and old_unfinished.exists()
    monkeypatch.setenv(journal.KEEP_DAYS_ENV, "7")
    week = _finished(tmp_path, 7.1)
    assert prune(tmp_path) == 2 and not week.exists() and not young.exists()
    assert old_unfinished.exists()
    assert prune(tmp_path, keep_days=1000) == 0


def test_a_push_prunes_old_journals(tmp_path: Path, sandbox, run) -> None:
    folder = journal_dir()
    folder.mkdir(parents=True, exist_ok=True)
    old = _finished(folder, 31)
    young = _finished(folder, 1)
    book = write_invoices(tmp_path / "p.xlsx", [{"BillingProfileId": "101"}])
    code, out, _ = run("push", book, "--op", "create", "--url", sandbox.url, "--username", "demo")
    assert code == 0, out
    assert not old.exists() and young.exists()


def test_a_journal_of_another_sheet_read_first_hides_no_earlier_send(tmp_path: Path) -> None:
    """Journals are read oldest first; one of another sheet (or workbook) coming first is
    passed over, not the end of the search."""
    book = tmp_path / "b.xlsx"
    for name, sheet, workbook in (("Other", "Other", book), ("Else", "Invoices", tmp_path / "c")):
        foreign = start(tmp_path, workbook, sheet=sheet)
        foreign.planned({2: "a"})
        foreign.sending([2], AT - MINUTE)
        foreign.close()
        foreign.path.rename(tmp_path / f"00000000T000000-{name}.jsonl")  # the oldest names
    own = start(tmp_path, book)
    own.planned({2: "a"})
    own.sending([2], AT)
    own.close()
    assert start(tmp_path, book).earlier_sends({2: "a"}) == {2: AT}


def test_outcomes_written_into_a_book_open_in_excel_are_known_unsaved(tmp_path: Path) -> None:
    """A send finished into a book open in Excel is on disk only once the book is saved: the
    journal says so (with when), and the values sent stay beside it for a recovery. A new book
    never saved has no file to lack them: nothing is kept for it."""
    book = tmp_path / "open.xlsx"
    book.write_bytes(b"a saved workbook")
    log = start(tmp_path, book)
    log.planned({2: "h"})
    log.sending([2], AT, {2: {"FileName": "a.pdf"}})
    log.answered([RowResult(2, Outcome.UPDATED, "7", [])])
    log.finish(unsaved=True)
    run = load(log.path)
    assert run is not None and run.finished and not run.recovered
    assert run.applied == {str(book.resolve())} and list(run.unsaved) == [str(book.resolve())]
    assert abs(run.unsaved[str(book.resolve())] - dt.datetime.now(dt.UTC)) < MINUTE
    assert run.sent_records == {2: {"FileName": "a.pdf"}}
    assert log.path.with_suffix(".sent").exists()  # NAME.sent, beside the journal

    new = start(tmp_path, tmp_path / "Book1")  # a new book, never saved
    new.sending([2], AT, {2: {"FileName": "a.pdf"}})
    new.finish(unsaved=True)
    run = load(new.path)
    assert run is not None and run.finished and run.unsaved == {}
    assert not journal.sent_path(new.path).exists()

    plain = start(tmp_path, book)
    plain.sending([2], AT, {2: {"FileName": "a.pdf"}})
    plain.finish()  # into the file itself: saved
    run = load(plain.path)
    assert run is not None and run.unsaved == {} and run.applied == {str(book.resolve())}
    assert not journal.sent_path(plain.path).exists()


def test_a_recovery_names_the_file_it_went_into_and_whether_it_is_saved(tmp_path: Path) -> None:
    book, copy = tmp_path / "b.xlsx", tmp_path / "copy.xlsx"
    copy.write_bytes(b"a copy of b.xlsx")
    log = start(tmp_path, book)
    log.planned({2: "h"})
    log.sending([2], AT, {2: {"FileName": "a.pdf"}})
    log.close()  # killed
    run = load(log.path)
    assert run is not None and not run.finished
    journal.mark_recovered(run, copy, unsaved=True)  # the ribbon's, into copy.xlsx open in Excel
    run = load(log.path)
    assert run is not None and run.finished and run.recovered
    assert run.applied == {str(copy.resolve())} and list(run.unsaved) == [str(copy.resolve())]
    assert abs(run.unsaved[str(copy.resolve())] - dt.datetime.now(dt.UTC)) < MINUTE
    assert not journal.sent_path(log.path).exists()
    journal.mark_recovered(run, copy)  # recovered again, by the command line: on disk now
    run = load(log.path)
    assert run is not None and run.recovered and run.unsaved == {}
    assert run.applied == {str(copy.resolve())}

    again = start(tmp_path, book)
    again.close()
    run = load(again.path)
    assert run is not None
    journal.mark_recovered(run, tmp_path / "Book2", unsaved=True)  # never saved: nothing lacks
    journal.mark_recovered(run, book)  # the command line's, into the file: saved
    run = load(again.path)
    assert run is not None and run.unsaved == {}
    assert run.applied == {str(book.resolve()), str((tmp_path / "Book2").resolve())}


def test_creates_found_by_a_recovery_are_kept_in_the_journal(tmp_path: Path) -> None:
    log = start(tmp_path, tmp_path / "b.xlsx")
    log.planned({2: "h2", 3: "h3"})
    log.sending([2, 3], AT)
    log.close()
    run = load(log.path)
    assert run is not None and run.in_flight == [2, 3]
    before = log.path.read_bytes()
    journal.remember_found(run, [])
    assert log.path.read_bytes() == before  # nothing found: nothing written
    found = [RowResult(3, Outcome.CREATED, "77", ["Trouvé après coup"])]
    journal.remember_found(run, found)
    assert run.results == {3: found[0]} and run.in_flight == [2]
    again = load(log.path)
    assert again is not None and again.results == {3: found[0]} and not again.finished


def test_a_damaged_line_among_the_values_sent_hides_none_after_it(tmp_path: Path) -> None:
    log = start(tmp_path, tmp_path / "b.xlsx")
    log.sending([2], AT, {2: {"FileName": "a.pdf"}})
    log.close()
    with journal.sent_path(log.path).open("a", encoding="utf-8") as kept:
        kept.write('{"rows": {"3": {"FileName": "b.p\n')  # torn by a full disk
        kept.write('{"rows": {"4": {"FileName": "c.pdf"}}}\n')  # the next batch
    run = load(log.path)
    assert run is not None and run.sent_records == {
        2: {"FileName": "a.pdf"},
        4: {"FileName": "c.pdf"},
    }


def test_closing_a_journal_twice_is_harmless(tmp_path: Path) -> None:
    log = start(tmp_path, tmp_path / "b.xlsx")
    log.sending([2], AT, {2: {"FileName": "a.pdf"}})
    log.abandon()  # stopped on an error: closed
    log.close()  # and closed again on the way out
    run = load(log.path)
    assert run is not None and run.sent_records == {2: {"FileName": "a.pdf"}}


def test_a_journal_folder_that_cannot_be_written_says_so_and_what_to_do(tmp_path: Path) -> None:
    """Checked before anything is sent, and again as the journal begins."""
    in_the_way = tmp_path / "data"
    in_the_way.write_bytes(b"a file where bpxl's data folder should be")
    folder = in_the_way / "journal"
    hint = (
        "Free some space there, or make the folder writable (or set BPXL_DATA_DIR to another "
        "folder), then run again. If rows were being sent, run `bpxl recover` first: it finds "
        "out what happened to each of them."
    )
    with pytest.raises(StorageError) as refused:
        journal.prove_room(folder, [(2, ["INV-1"])])
    assert (
        refused.value.message == f"bpxl could not write its journal in {folder}: not a directory."
    )
    assert refused.value.hint == hint
    with pytest.raises(StorageError) as refused:
        start(folder, tmp_path / "book.xlsx")
    assert (
        refused.value.message == f"bpxl could not write its journal in {folder}: not a directory."
    )
    assert refused.value.hint == hint


def test_the_room_a_journal_needs_is_measured_on_the_rows_values() -> None:
    """600 bytes a row, and three times its values' characters, measured on the first 1,000
    rows (blanks count nothing, numbers as written), and a megabyte more."""
    assert journal.room_needed([]) == 1 << 20
    rows = [(2, ["abcd", None]), (3, ["ab", 12])]  # 8 characters: 4 a row
    assert journal.room_needed(rows) == 2 * (600 + 3 * 4) + (1 << 20)
    many = [(n, ["a"]) for n in range(2, 1002)] + [(1002, ["b" * 10_000])]  # the last not measured
    assert journal.room_needed(many) == 1001 * 603 + (1 << 20)
    assert journal.room_needed(many[:1000]) == 1000 * 603 + (1 << 20)
    halves = [(2, ["abc"]), (3, ["abcd"])]  # 3.5 characters a row: 610.5 bytes
    assert journal.room_needed(halves) == 1221 + (1 << 20)


class _Rows(Sequence[tuple[int, Sequence[object]]]):
    """The rows of a push far larger than any disk: only its first rows are ever looked at."""

    def __init__(self, count: int) -> None:
        self.size = count

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        if isinstance(index, slice):
            return [(n + 2, ["INV-1"]) for n in range(*index.indices(self.size))]
        return (index + 2, ["INV-1"])


def test_a_push_the_disk_has_no_room_to_journal_is_refused_before_sending(tmp_path: Path) -> None:
    folder = tmp_path / "journal"
    with pytest.raises(StorageError) as refused:
        journal.prove_room(folder, _Rows(10**12))  # 615 TB to journal
    need = 10**12 * (600 + 3 * 5) + (1 << 20)
    assert re.fullmatch(
        rf"The disk holding bpxl's data folder {re.escape(str(folder))} has [0-9,]+\.[0-9] MB "
        rf"free; the journal of this push needs about {need / 1e6:,.1f} MB\. Nothing was sent\.",
        refused.value.message,
    ), refused.value.message
    free = float(re.findall(r"has ([0-9,.]+) MB", refused.value.message)[0].replace(",", ""))
    assert abs(free * 1e6 - shutil.disk_usage(folder).free) < 50e6
    assert refused.value.hint == (
        "Free some space on that disk (or set BPXL_DATA_DIR to a folder on a disk with room) "
        "and run again."
    )
    assert list(folder.iterdir()) == []  # the probe written there to prove it is gone
    journal.prove_room(folder, _Rows(1000))  # room enough: nothing said


def test_how_long_journals_are_kept_is_read_from_bpxl_journal_days(monkeypatch) -> None:
    monkeypatch.delenv("BPXL_JOURNAL_DAYS", raising=False)
    assert journal.kept_days() == 30
    monkeypatch.setenv("BPXL_JOURNAL_DAYS", "0")  # none kept once finished
    assert journal.kept_days() == 0
    monkeypatch.setenv("BPXL_JOURNAL_DAYS", "7.5")
    assert journal.kept_days() == 7.5
    monkeypatch.setenv("BPXL_JOURNAL_DAYS", "36500")
    with pytest.raises(UsageError) as refused:
        journal.kept_days()
    assert refused.value.message == (
        "The environment variable BPXL_JOURNAL_DAYS is '36500', which is not a number of days "
        "bpxl can use."
    )
    assert refused.value.hint == (
        "Set it to a number of days, 0 or more and less than 36,500 (default 30), or remove it."
    )


def test_a_disk_that_fills_up_while_the_journal_is_written_is_said_in_words(
    tmp_path: Path,
) -> None:
    """/dev/full stands for the full disk: every write to it fails as a full disk's does."""
    if not Path("/dev/full").exists() or not Path("/proc/self/fd").is_dir():
        pytest.skip("a full disk is staged with Linux's /dev/full")
    folder = tmp_path / "journal"
    said = f"bpxl could not write its journal in {folder}: the disk is full."
    kept = start(folder, tmp_path / "book.xlsx")
    journal.sent_path(kept.path).symlink_to("/dev/full")  # the values kept beside it
    with pytest.raises(StorageError) as refused:
        kept.sending([2], AT, {2: {"Amount": 10}})
    assert refused.value.message == said
    lines = start(folder, tmp_path / "book.xlsx")
    full = os.open("/dev/full", os.O_WRONLY)
    for fd in os.listdir("/proc/self/fd"):  # the journal's own lines, in the file it holds open
        with suppress(OSError):
            if os.readlink(f"/proc/self/fd/{fd}") == str(lines.path):
                os.dup2(full, int(fd))
    os.close(full)
    with pytest.raises(StorageError) as refused:
        lines.planned({2: "h"})
    assert refused.value.message == said
