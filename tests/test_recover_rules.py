"""core.recover's rules besides the placement (test_recover.py): the status each row of an
unfinished push gets from its journal, the words of the summary, the run log and the ledger a
recovery keeps, and the creates in flight it settles on the fake server. Called directly, with
journals written as a push writes them; ``bpxl recover`` end to end is in test_recover.py and
test_attack_recover.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from bpxl.core import create_key, journal, recover, run_log, unsettled
from bpxl.core.client import Client
from bpxl.core.connection import journal_dir, ledger_for
from bpxl.core.errors import UsageError
from bpxl.core.fields import BUILT_IN, Catalogue, Field, FieldType
from bpxl.core.journal import Journal, Target, record_hash
from bpxl.core.push import Grid
from bpxl.core.records import plan_row, read_layout
from bpxl.core.results import Operation, Outcome, RowResult, summary

from .fake_billingplatform import FakeBillingPlatform, Plan

AT = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
SANDBOX = Target(None)
HEADER = ["Id", "BillingProfileId", "DueDate", "AgingInterval", "FileName", "Result"]


def row(profile: str, name: str, aging: int = 30, ident: str = "") -> list[object]:
    return [ident, profile, "2026-04-01", aging, name, ""]


def grid(rows: Sequence[list[object]], first: int = 2) -> Grid:
    return Grid(HEADER, [(number, values) for number, values in enumerate(rows, first)])


def stopped(
    op: Operation,
    rows: Sequence[list[object]],
    sent: Sequence[int],
    answers: Sequence[RowResult] = (),
    target: Target = SANDBOX,
    workbook: Path | None = None,
    date1904: bool = False,
    external_id: str = "Id",
) -> journal.Run:
    """The journal of a push of ``rows`` (rows 2, 3, ...) stopped mid-way: every row planned,
    rows ``sent`` sent with their values kept, ``answers`` answered."""
    log = Journal(
        journal_dir(),
        workbook=workbook or journal_dir() / "book.xlsx",
        sheet="Invoices",
        op=op,
        external_id=external_id,
        target=target,
    )
    layout = read_layout(HEADER)
    plans = [plan_row(layout, n, v, op, external_id, date1904) for n, v in grid(rows).rows]
    log.planned({p.row: record_hash(p.record) if p.valid else None for p in plans})
    by_row = {p.row: p.record for p in plans}
    if sent:
        log.sending(sent, AT, {r: by_row[r] for r in sent})
    log.answered(answers)
    log.close()
    run = journal.load(log.path)
    assert run is not None
    return run


def outcomes(recovery: recover.Recovery) -> dict[int, tuple[Outcome | None, str | None, list[str]]]:
    return {r.row: (r.outcome, r.id, r.messages) for r in recovery.results}


def resend_safe(op: str) -> str:
    return f"Sent, but bpxl stopped before the answer came; sending the {op} again is safe"


def test_an_update_stopped_mid_way_gives_each_row_its_journals_status() -> None:
    rows = [
        row("101", "a.pdf", ident="11"),  # 2: answered
        row("102", "b.pdf", ident="12"),  # 3: sent, no answer
        row("103", "c.pdf", ident="13"),  # 4: never sent
        row("104", "d.pdf", ident="14"),  # 5: answered Failed
        ["", "", "not a date", 1, "e.pdf", ""],  # 6: invalid
        row("106", "f.pdf", ident="16"),  # 7: answered, a blank Id in its answer
    ]
    answers = [
        RowResult(2, Outcome.UPDATED, "11", []),
        RowResult(5, Outcome.FAILED, None, ["Rejected: closed"]),
        RowResult(7, Outcome.UPDATED, None, ["no Id came back"]),
    ]
    run = stopped(Operation.UPDATE, rows, [2, 3, 5, 7], answers)
    assert not recover.needs_client(run)
    recovery = recover.recover(run, grid(rows), None)
    found = outcomes(recovery)
    invalid = found.pop(6)
    assert found == {
        2: (Outcome.UPDATED, "11", []),
        3: (Outcome.UNKNOWN, None, [resend_safe("update")]),
        4: (Outcome.FAILED, None, [recover.NOT_SENT]),
        5: (Outcome.FAILED, None, ["Rejected: closed"]),
        7: (Outcome.UPDATED, None, ["no Id came back"]),
    }
    assert invalid[0] is Outcome.INVALID and invalid[1] is None
    assert any(m.startswith("DueDate: ") for m in invalid[2]) and len(invalid[2]) >= 2
    assert recovery.unplaced == [] and recovery.made == {}
    assert [r.row for r in recovery.results] == [2, 3, 4, 5, 6, 7]  # in the sheet's order


def test_an_invalid_row_still_invalid_is_left_alone_when_valid_now() -> None:
    rows = [row("101", "a.pdf"), ["", "", "not a date", 1, "e.pdf", ""]]
    run = stopped(Operation.CREATE, rows, [2], [RowResult(2, Outcome.CREATED, "1", [])])
    fixed = [rows[0], row("105", "e.pdf")]  # corrected since: the next push sends it
    found = recover.recover(run, grid(fixed), None)
    assert outcomes(found) == {2: (Outcome.CREATED, "1", [])}
    assert found.unplaced == []  # an invalid row is nothing to find again


def test_rows_edited_since_their_send_keep_what_the_send_did_with_a_word() -> None:
    rows = [row("101", "a.pdf", ident=str(n)) for n in range(11, 15)]
    for n, values in enumerate(rows):
        values[4] = f"{n}.pdf"
    answers = [
        RowResult(2, Outcome.UPDATED, "11", ["kept"]),
        RowResult(3, Outcome.FAILED, "12", ["Rejected"]),
        RowResult(5, None, "14", ["no outcome"]),
    ]
    run = stopped(Operation.UPDATE, rows, [2, 3, 4, 5], answers)
    now = [list(r) for r in rows]
    for values in now:
        values[3] = 99  # every row edited (AgingInterval)
    found = outcomes(recover.recover(run, grid(now), None))
    assert found == {
        2: (Outcome.UPDATED, "11", ["kept", recover.EDITED]),
        3: (Outcome.FAILED, "12", ["Rejected", recover.EDITED_UNSENT]),
        4: (Outcome.UNKNOWN, None, [resend_safe("update")]),  # no answer, found by its values
        5: (None, "14", ["no outcome", recover.EDITED_UNSENT]),
    }


def test_a_row_showing_the_id_its_create_got_needs_nothing() -> None:
    """A recovery stopped after writing the workbook: the rows show their Ids already."""
    rows = [row("101", "a.pdf"), row("102", "b.pdf"), row("103", "c.pdf")]
    answers = [RowResult(r, Outcome.CREATED, str(r * 10), []) for r in (2, 3, 4)]
    run = stopped(Operation.CREATE, rows, [2, 3, 4], answers)
    now = [list(r) for r in rows]
    now[0][0], now[0][5] = "20", "Created"
    now[1][0] = "99"  # another Id than the create got: another invoice, the sent row is named
    found = recover.recover(run, grid(now), None)
    assert outcomes(found) == {4: (Outcome.CREATED, "40", [])}
    assert found.unplaced == [3] and found.made == {3: "30"}


def test_rows_after_one_showing_its_id_get_their_status() -> None:
    """A row showing the Id its create got needs nothing; the rows placed after it (edited
    since) still get theirs."""
    rows = [row("101", "a.pdf"), row("102", "b.pdf"), row("103", "c.pdf")]
    answers = [RowResult(r, Outcome.CREATED, str(r * 10), []) for r in (2, 3, 4)]
    run = stopped(Operation.CREATE, rows, [2, 3, 4], answers)
    now = [list(r) for r in rows]
    now[0][0], now[0][3] = "20", 31  # written by a recovery, then edited
    now[2][3] = 33  # edited: placed by its values, after the rows placed by their Ids
    found = outcomes(recover.recover(run, grid(now), None))
    assert found == {
        3: (Outcome.CREATED, "30", []),
        4: (Outcome.CREATED, "40", [recover.EDITED]),
    }


def test_an_upsert_on_a_field_of_its_own_is_placed_by_it() -> None:
    rows = [row("101", "a.pdf"), row("102", "b.pdf")]
    answers = [RowResult(2, Outcome.UPSERTED, "7", [])]
    run = stopped(Operation.UPSERT, rows, [2, 3], answers, external_id="FileName")
    found = outcomes(recover.recover(run, grid(rows[::-1]), None))
    assert found == {
        3: (Outcome.UPSERTED, "7", []),
        2: (Outcome.UNKNOWN, None, [resend_safe("upsert")]),
    }
    cleared = [row("101", "#NULL")]  # the field that finds the invoice cannot be cleared
    run = stopped(Operation.UPSERT, cleared, [], external_id="FileName")
    [(outcome, _, messages)] = outcomes(recover.recover(run, grid(cleared), None)).values()
    assert outcome is Outcome.INVALID
    assert messages == ["FileName: #NULL cannot clear FileName; it identifies the row"]


def test_of_two_identical_rows_one_deleted_the_other_keeps_its_own_id() -> None:
    rows = [row("101", "a.pdf"), row("101", "a.pdf"), row("102", "b.pdf")]
    answers = [RowResult(r, Outcome.CREATED, str(r * 10), []) for r in (2, 3, 4)]
    run = stopped(Operation.CREATE, rows, [2, 3, 4], answers)
    found = recover.recover(run, grid([rows[0], rows[2]]), None)
    assert outcomes(found) == {2: (Outcome.CREATED, "20", []), 3: (Outcome.CREATED, "40", [])}
    assert found.unplaced == [3] and found.made == {3: "30"}


def test_a_row_copied_before_its_original_was_edited_does_not_take_its_id() -> None:
    """The first row copied to the end for another file (only its file name changed), then
    the original's date and interval corrected: the copy holds more of what was sent, but not
    the file name only that row was sent with, which the original still holds. Which one it is
    would be a guess: the row is named with its Id."""
    rows = [
        ["", "101", "2026-04-01", 30, "f0.pdf", ""],
        ["", "102", "2026-05-02", 45, "f1.pdf", ""],
        ["", "103", "2026-06-03", 60, "f2.pdf", ""],
    ]
    answers = [RowResult(r, Outcome.CREATED, str(r - 1), []) for r in (2, 3, 4)]
    run = stopped(Operation.CREATE, rows, [2, 3, 4], answers)
    copy = [*rows[0][:4], "f0-copy.pdf", ""]
    corrected = ["", "101", "2026-01-31", 99, "f0.pdf", ""]
    found = recover.recover(run, grid([corrected, *rows[1:], copy]), None)
    assert outcomes(found) == {3: (Outcome.CREATED, "2", []), 4: (Outcome.CREATED, "3", [])}
    assert found.unplaced == [2] and found.made == {2: "1"}
    edited = [*rows[2][:3], 61, *rows[2][4:]]  # the last row edited too: still found after it
    found = recover.recover(run, grid([corrected, rows[1], edited, copy]), None)
    assert outcomes(found) == {
        3: (Outcome.CREATED, "2", []),
        4: (Outcome.CREATED, "3", [recover.EDITED]),
    }
    assert found.unplaced == [2]


def test_a_row_edited_then_copied_is_found_on_the_nearest_copy() -> None:
    """Two copies of an edited row resemble what it was sent with equally: the nearer takes its
    Id (here the row two below it, not the one three above)."""
    rows = [row("101", "a.pdf"), row("102", "b.pdf"), row("103", "c.pdf"), row("104", "r.pdf")]
    answers = [RowResult(r, Outcome.CREATED, str(r), []) for r in (2, 3, 4, 5)]
    run = stopped(Operation.CREATE, rows, [2, 3, 4, 5], answers)
    edited = row("104", "r.pdf", aging=31)
    now = [edited, rows[1], rows[2], rows[0], row("109", "new.pdf", 1), edited]
    found = recover.recover(run, grid(now), None)
    assert outcomes(found) == {
        3: (Outcome.CREATED, "3", []),
        4: (Outcome.CREATED, "4", []),
        5: (Outcome.CREATED, "2", []),
        7: (Outcome.CREATED, "5", [recover.EDITED]),
    }


def test_fields_holding_two_values_tell_two_rows_apart() -> None:
    """Two rows sent, their profile, date and interval each of two values: they count, and the
    row whose file name was edited is found by them."""
    rows = [row("101", "a.pdf"), ["", "102", "2026-05-02", 45, "b.pdf", ""]]
    answers = [RowResult(r, Outcome.CREATED, str(r), []) for r in (2, 3)]
    run = stopped(Operation.CREATE, rows, [2, 3], answers)
    now = [rows[0], ["", "102", "2026-05-02", 45, "b2.pdf", ""]]
    found = recover.recover(run, grid(now), None)
    assert outcomes(found) == {
        2: (Outcome.CREATED, "2", []),
        3: (Outcome.CREATED, "3", [recover.EDITED]),
    }
    assert found.unplaced == []


def test_one_edited_row_is_found_for_one_sent_row_only() -> None:
    """Two rows alike but for their file names, both sent; one deleted, the other's file name
    edited: it resembles both records as much. The nearer record takes it; the other is named."""
    rows = [row("101", "a.pdf"), row("101", "b.pdf"), ["", "102", "2026-05-02", 45, "z.pdf", ""]]
    answers = [RowResult(r, Outcome.CREATED, str(r), []) for r in (2, 3, 4)]
    run = stopped(Operation.CREATE, rows, [2, 3, 4], answers)
    found = recover.recover(run, grid([row("101", "c.pdf"), rows[2]]), None)
    assert outcomes(found) == {
        2: (Outcome.CREATED, "2", [recover.EDITED]),
        3: (Outcome.CREATED, "4", []),
    }
    assert found.unplaced == [3] and found.made == {3: "3"}


def test_creates_in_flight_need_a_connection() -> None:
    rows = [row("101", "a.pdf"), row("102", "b.pdf")]
    answered = stopped(
        Operation.CREATE, rows, [2, 3], [RowResult(r, Outcome.CREATED, "1", []) for r in (2, 3)]
    )
    assert not recover.needs_client(answered)
    unknown = stopped(Operation.CREATE, rows, [2], [RowResult(2, Outcome.UNKNOWN, None, ["?"])])
    assert recover.needs_client(unknown)
    in_flight = stopped(Operation.CREATE, rows, [3], [])
    assert recover.needs_client(in_flight)
    with pytest.raises(UsageError) as refused:
        recover.recover(in_flight, grid(rows), None)
    assert refused.value.message == "Recovering creates that were in flight needs a connection."
    one = stopped(Operation.CREATE, rows, [2], [RowResult(2, Outcome.CREATED, "1", [])])
    gone = recover.recover(one, grid(rows[:1]), None)
    assert outcomes(gone) == {2: (Outcome.CREATED, "1", [])}
    assert gone.unplaced == []  # row 3, never sent, deleted: nothing to say
    not_sent = stopped(Operation.CREATE, rows, [], [])
    assert not recover.needs_client(not_sent)
    found = outcomes(recover.recover(not_sent, grid(rows), None))
    assert found == {
        2: (Outcome.FAILED, None, [recover.NOT_SENT]),
        3: (Outcome.FAILED, None, [recover.NOT_SENT]),
    }


# -- the words ------------------------------------------------------------------------------------


def recovery(
    results: Sequence[RowResult], unplaced: Sequence[int], made: Mapping[int, str]
) -> recover.Recovery:
    return recover.Recovery(read_layout(HEADER), list(results), list(unplaced), dict(made))


def test_the_summary_says_only_what_there_is_to_say() -> None:
    assert recovery([], [], {}).summary(Operation.CREATE) == "no row needed a status"
    results = [RowResult(2, Outcome.CREATED, "5", []), RowResult(3, Outcome.FAILED, None, [])]
    counts = summary(results, Operation.CREATE)
    assert recovery(results, [], {}).summary(Operation.CREATE) == counts
    put = (
        "put each Id into the Id column of the row it belongs to, with Created in Result, so "
        "that it is not created again; check them in BillingPlatform"
    )
    assert recovery(results, [4], {4: "7"}).summary(Operation.CREATE) == (
        f"{counts}; 1 row was edited or deleted since sent: row 4 (Id 7) (row numbers as sent); "
        + put
    )
    assert recovery([], [4, 9], {}).summary(Operation.UPDATE) == (
        "2 rows were edited or deleted since sent: row 4 (no answer kept), row 9 (no answer "
        "kept) (row numbers as sent); check them in BillingPlatform"
    )


def test_the_rows_not_found_again_are_named_ten_then_counted() -> None:
    unplaced = list(range(2, 1016))
    text = recovery([], unplaced, {3: "30"}).unplaced_text()
    shown = ", ".join(f"row {r} ({'Id 30' if r == 3 else 'no answer kept'})" for r in range(2, 12))
    assert text.startswith(f"{shown} and 1,004 more (row numbers as sent); put each Id ")
    eleven = recovery([], unplaced[:11], {}).unplaced_text()
    assert "row 11 (no answer kept) and 1 more (row numbers as sent)" in eleven
    ten = recovery([], unplaced[:10], {}).unplaced_text()
    assert ten.startswith("row 2 (no answer kept), ") and "more" not in ten
    assert ten.endswith(
        "row 11 (no answer kept) (row numbers as sent); check them in BillingPlatform"
    )


# -- what a recovery keeps ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "named"),
    [
        (Target("https://acme.example/t", "Acme live"), "Acme live"),
        (Target("https://acme.example/t"), "https://acme.example/t"),
        (Target(None), "the embedded SANDBOX"),
    ],
)
def test_the_recovery_is_the_newest_run_log(tmp_path: Path, target: Target, named: str) -> None:
    rows = [row("101", "a.pdf"), row("102", "b.pdf")]
    run = stopped(Operation.CREATE, rows, [2], [RowResult(2, Outcome.CREATED, "1", [])], target)
    found = recover.recover(run, grid(rows), None)
    book = tmp_path / "book.xlsx"
    recover.save_log(run, book, found, grid(rows))
    log = run_log.last()
    assert log is not None
    assert (log.command, log.workbook, log.sheet, log.target) == (
        "recover create",
        str(book.resolve()),
        "Invoices",
        named,
    )
    assert log.summary == found.summary(Operation.CREATE)
    assert [(r.row, r.id, r.result, r.message) for r in log.rows] == [
        (2, "1", "Created", ""),
        (3, None, "Failed", recover.NOT_SENT),
    ]
    assert log.rows[0].values["FileName"] == "a.pdf"
    assert dt.datetime.fromisoformat(log.started).tzinfo is not None


def test_the_creates_a_recovery_settled_are_kept_in_the_ledger_by_their_keys(
    tmp_path: Path,
) -> None:
    book = tmp_path / "book.xlsx"
    target = Target("https://acme.example/t")
    rows = [row("101", "a.pdf"), row("102", "b.pdf"), row("103", "c.pdf"), row("101", "a.pdf")]
    answers = [
        RowResult(2, Outcome.CREATED, "1", []),
        RowResult(3, Outcome.FAILED, None, ["Rejected"]),
        RowResult(5, Outcome.CREATED, "4", []),
    ]
    run = stopped(Operation.CREATE, rows, [2, 3, 5], answers, target, book)
    now = [*rows, ["", "", "", "", "", "a note"]]  # a blank row: no key
    found = recover.recover(run, grid(now), None)
    recover.remember_created(run, book, found, grid(now))
    keys = create_key.keys(found.layout, grid(now).every_row)
    with ledger_for(target) as ledger:
        kept = ledger.find(keys.values())
    assert {k: [(e.id, e.row, e.sheet) for e in v] for k, v in kept.items()} == {
        keys[2]: [("1", 2, "Invoices")],
        keys[5]: [("4", 5, "Invoices")],  # the second of two identical rows: its own key
    }
    assert kept[keys[2]][0].workbook == str(book.resolve())


def test_only_a_create_with_ids_is_kept_in_the_ledger(tmp_path: Path) -> None:
    book = tmp_path / "book.xlsx"
    target = Target("https://acme.example/t")
    rows = [row("101", "a.pdf", ident="11")]
    update = stopped(
        Operation.UPDATE, rows, [2], [RowResult(2, Outcome.UPDATED, "11", [])], target, book
    )
    recover.remember_created(update, book, recover.recover(update, grid(rows), None), grid(rows))
    failed = stopped(
        Operation.CREATE, rows[:1], [2], [RowResult(2, Outcome.FAILED, None, [])], target, book
    )
    recover.remember_created(failed, book, recover.recover(failed, grid(rows), None), grid(rows))
    upserted = [RowResult(2, Outcome.CREATED, "11", [])]  # an upsert that created
    upsert = stopped(Operation.UPSERT, rows, [2], upserted, target, book)
    recovered = recover.recover(upsert, grid(rows), None)
    assert [(r.outcome, r.id) for r in recovered.results] == [(Outcome.CREATED, "11")]
    recover.remember_created(upsert, book, recovered, grid(rows))
    new = grid([row("101", "a.pdf")])  # a row without an Id
    no_id = stopped(
        Operation.CREATE,
        [row("101", "a.pdf")],
        [2],
        [RowResult(2, Outcome.CREATED, None, [])],
        target,
        book,
    )
    recover.remember_created(no_id, book, recover.recover(no_id, new, None), new)
    keys = create_key.keys(read_layout(HEADER), grid(rows).every_row)
    keys |= create_key.keys(read_layout(HEADER), new.every_row)
    with ledger_for(target) as ledger:
        assert ledger.find(keys.values()) == {}


def test_a_1904_workbooks_creates_are_kept_by_the_keys_of_its_own_dates(tmp_path: Path) -> None:
    book = tmp_path / "book.xlsx"
    target = Target("https://acme.example/t")
    rows = [["", "101", 46000, 30, "a.pdf", ""]]  # a date as Excel stores it: a number
    answers = [RowResult(2, Outcome.CREATED, "1", [])]
    run = stopped(Operation.CREATE, rows, [2], answers, target, book, date1904=True)
    in_1904 = Grid(HEADER, [(2, rows[0])], date1904=True)
    found = recover.recover(run, in_1904, None)
    recover.remember_created(run, book, found, in_1904)
    [key] = create_key.keys(found.layout, in_1904.every_row, None, True).values()
    assert key != create_key.keys(found.layout, in_1904.every_row, None, False)[2]
    with ledger_for(target) as ledger:
        assert [e.id for e in ledger.find([key]).get(key, [])] == ["1"]


# -- creates in flight, looked up -----------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeBillingPlatform]:
    server = FakeBillingPlatform(lambda n, _: Plan())
    with server.running():
        yield server


def test_creates_the_server_cannot_be_asked_about_stay_unknown_with_what_was_sent(
    fake, monkeypatch
) -> None:
    """The look-up fails: each create stays Unknown, its Message names what was sent (kept under
    a reference), the reference an earlier answer gave when it is still kept."""
    monkeypatch.setenv("BPXL_LOOKUP_WAIT", "0")
    rows = [row("101", "a.pdf"), row("102", "b.pdf"), row("103", "c.pdf")]
    earlier = unsettled.keep({"FileName": "as first sent"}, AT)
    answers = [
        RowResult(2, Outcome.UNKNOWN, None, [f"No answer {unsettled.mention(earlier)}"]),
        RowResult(3, Outcome.UNKNOWN, None, ["No answer (bpxl ref 0123456789ab)"]),  # gone
    ]
    run = stopped(Operation.CREATE, rows, [2, 3, 4], answers)
    fake.on_query = lambda n, sql: 400
    with Client(fake.url, username="demo", password="demo") as client:
        found = outcomes(recover.recover(run, grid(rows), client))
    assert {r: (o, i) for r, (o, i, _) in found.items()} == {
        2: (Outcome.UNKNOWN, None),
        3: (Outcome.UNKNOWN, None),
        4: (Outcome.UNKNOWN, None),
    }
    said = "looking it up in BillingPlatform failed (BillingPlatform refused the query"
    assert all(said in m[0] for _, _, m in found.values()), found
    assert found[2][2][0].endswith(unsettled.mention(earlier))
    for r in (3, 4):
        ref = unsettled.ref_in(found[r][2][0])
        assert ref is not None and ref != "0123456789ab"
        kept = unsettled.find(ref)
        assert kept is not None and kept.sent_at == AT
        assert kept.record == run.sent_records[r]


def test_creates_in_flight_are_settled_by_what_the_server_holds(fake, monkeypatch) -> None:
    monkeypatch.setenv("BPXL_LOOKUP_WAIT", "0")
    rows = [row("101", "a.pdf"), row("102", "b.pdf"), row("103", "c.pdf"), row("104", "d.pdf")]
    run = stopped(Operation.CREATE, rows, [2, 3, 4, 5], [RowResult(5, Outcome.CREATED, "77", [])])
    made = fake.store.write(Operation.CREATE, [run.sent_records[2], run.sent_records[3]], 1)
    ids = [str(m["Id"]) for m in made]
    now = [list(r) for r in rows]
    now[1][3] = 31  # b.pdf edited since its send
    with Client(fake.url, username="demo", password="demo") as client:
        fake.clock = None
        found = outcomes(recover.recover(run, grid(now), client))
    assert found == {
        2: (Outcome.CREATED, ids[0], [recover.FOUND]),
        3: (Outcome.CREATED, ids[1], [recover.FOUND, recover.EDITED]),
        4: (Outcome.FAILED, None, [recover.NOT_SAVED]),
        5: (Outcome.CREATED, "77", []),
    }
    again = journal.load(run.path)  # kept before any workbook is written
    assert again is not None
    assert {r: (x.outcome, x.id, x.messages) for r, x in again.results.items() if r < 5} == {
        2: (Outcome.CREATED, ids[0], [recover.FOUND]),
        3: (Outcome.CREATED, ids[1], [recover.FOUND]),
    }


def test_a_deleted_row_whose_create_was_in_flight_is_named_with_the_id_it_got(
    fake, monkeypatch
) -> None:
    """The user deleted a row whose create got no answer: it is looked up as it was sent, and
    the invoice it made is named, so that its Id can go back into a row; a deleted row whose
    create was answered is named with its answer's Id, one not found as having no answer."""
    monkeypatch.setenv("BPXL_LOOKUP_WAIT", "0")
    rows = [row("101", "a.pdf"), row("102", "b.pdf"), row("103", "c.pdf"), row("104", "d.pdf")]
    run = stopped(Operation.CREATE, rows, [2, 3, 4], [RowResult(4, Outcome.CREATED, "77", [])])
    [made] = fake.store.write(Operation.CREATE, [run.sent_records[2]], 1)
    now = [rows[3]]  # rows 2, 3 and 4 deleted; 5 (never sent) moved up to row 2
    with Client(fake.url, username="demo", password="demo") as client:
        found = recover.recover(run, grid(now), client)
    assert outcomes(found) == {2: (Outcome.FAILED, None, [recover.NOT_SENT])}
    assert found.unplaced == [2, 3, 4] and found.made == {2: str(made["Id"]), 4: "77"}
    assert found.unplaced_text().startswith(
        f"row 2 (Id {made['Id']}), row 3 (no answer kept), row 4 (Id 77) (row numbers as sent)"
    )


def test_a_create_in_flight_whose_values_are_no_longer_kept_is_looked_up_by_its_row(
    fake, monkeypatch
) -> None:
    """Values sent are kept while a push is unfinished; a journal written before they were kept
    (or whose file is gone) has none: an unchanged row is looked up by what it holds."""
    monkeypatch.setenv("BPXL_LOOKUP_WAIT", "0")
    rows = [row("101", "a.pdf"), row("102", "b.pdf")]
    run = stopped(Operation.CREATE, rows, [2, 3])
    [made] = fake.store.write(Operation.CREATE, [run.sent_records[2]], 1)
    run.sent_records = {}
    with Client(fake.url, username="demo", password="demo") as client:
        found = outcomes(recover.recover(run, grid(rows), client))
    assert found == {
        2: (Outcome.CREATED, str(made["Id"]), [recover.FOUND]),
        3: (Outcome.FAILED, None, [recover.NOT_SAVED]),
    }


def test_an_invoice_another_row_or_answer_holds_is_not_taken_for_a_lost_create(
    fake, monkeypatch
) -> None:
    """Two rows alike were sent; one was answered with its Id, the other is in flight. The
    server holds that one invoice, which the first row shows: it is not the second's."""
    monkeypatch.setenv("BPXL_LOOKUP_WAIT", "0")
    rows = [row("101", "a.pdf"), row("101", "a.pdf"), row("101", "a.pdf")]
    [one, two] = fake.store.write(
        Operation.CREATE,
        [
            {
                "BillingProfileId": "101",
                "DueDate": "2026-04-01",
                "AgingInterval": 30,
                "FileName": "a.pdf",
            }
        ]
        * 2,
        1,
    )
    answers = [
        RowResult(2, Outcome.CREATED, str(one["Id"]), []),
        RowResult(3, Outcome.CREATED, str(two["Id"]), []),
    ]
    run = stopped(Operation.CREATE, rows, [2, 3, 4], answers)
    now = [list(r) for r in rows]
    now[0][0], now[0][5] = str(one["Id"]), "Created"  # written since; row 3's answer is not
    with Client(fake.url, username="demo", password="demo") as client:
        found = outcomes(recover.recover(run, grid(now), client))
    assert found == {
        3: (Outcome.CREATED, str(two["Id"]), []),
        4: (Outcome.FAILED, None, [recover.NOT_SAVED]),
    }


def test_a_tenants_own_fields_are_read_and_compared_as_its_catalogue_says(
    fake, monkeypatch
) -> None:
    """A custom amount column: the rows are planned with it (and placed), and a lost create is
    found though the server spells its amount otherwise (1.50 for 1.5)."""
    monkeypatch.setenv("BPXL_LOOKUP_WAIT", "0")
    tenant = Catalogue(
        [*BUILT_IN.fields, Field("Amount", FieldType.DECIMAL, "an amount", custom=True)]
    )
    header = [*HEADER, "Amount"]
    rows = [[*row("101", "a.pdf"), 1.5], [*row("102", "b.pdf"), 2]]
    layout = read_layout(header, tenant)
    plans = [plan_row(layout, n, v, Operation.CREATE, "Id") for n, v in enumerate(rows, 2)]
    log = Journal(
        journal_dir(),
        workbook=journal_dir() / "book.xlsx",
        sheet="Invoices",
        op=Operation.CREATE,
        external_id="Id",
        target=SANDBOX,
    )
    log.planned({p.row: record_hash(p.record) for p in plans})
    log.sending([2, 3], AT, {p.row: p.record for p in plans})
    log.answered([RowResult(3, Outcome.CREATED, "9", [])])
    log.close()
    run = journal.load(log.path)
    assert run is not None
    server = FakeBillingPlatform(lambda n, _: Plan(), known=tenant)
    with server.running():
        [made] = server.store.write(Operation.CREATE, [plans[0].record], 1)
        server.respell = lambda r: {**r, "Amount": "1.50"} if r.get("Amount") else r
        with Client(server.url, username="demo", password="demo") as client:
            found = outcomes(
                recover.recover(run, Grid(header, list(enumerate(rows, 2))), client, tenant)
            )
    assert found == {
        2: (Outcome.CREATED, str(made["Id"]), [recover.FOUND]),
        3: (Outcome.CREATED, "9", []),
    }
