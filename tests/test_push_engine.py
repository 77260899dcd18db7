"""The push engine (``core.push``) called directly, one row of rules at a time: batches within
their size, what is sent again and what never is, a stop, and a definite result on every row.

Each case is a grid in and a report out, against the sandbox or, for misbehaviour the sandbox
does not script, the small fake BillingPlatform, both over loopback. One batch at a time
(``concurrency=1``) keeps them quick and their order fixed; the command line's tests
(``test_push_cli.py``) cover the same engine end to end.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bpxl.core import fields, unsettled
from bpxl.core import push as engine
from bpxl.core.client import MAX_CONCURRENCY, Client
from bpxl.core.errors import AuthenticationError, UsageError
from bpxl.core.journal import Journal, Target, record_hash, sent_path
from bpxl.core.push import Grid, PushOptions, PushReport, push
from bpxl.core.results import Operation, Outcome, RowResult
from bpxl.sandbox import schema

from .fake_billingplatform import FakeBillingPlatform, Plan

HEADER = ["Id", "BillingProfileId", "FileName", "AgingInterval", "Result", "Message"]
CREATE, UPDATE, UPSERT = Operation.CREATE, Operation.UPDATE, Operation.UPSERT


@pytest.fixture(autouse=True)
def _short_lookup_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lookups' wait (the server's clock still makes a lost create wait a second)."""
    monkeypatch.setenv("BPXL_LOOKUP_WAIT", "0.05")


def new_rows(n: int, name: str = "e", first: int = 2) -> list[tuple[int, list[object]]]:
    return [(first + i, [None, "101", f"{name}-{i}.pdf", i, None, None]) for i in range(n)]


def send(
    url: str,
    grid: Grid,
    op: Operation = CREATE,
    stop: threading.Event | None = None,
    journal: Journal | None = None,
    progress: Callable[[int, int], None] | None = None,
    confirm: Callable[[int], bool] | None = None,
    **options: Any,
) -> PushReport:
    with Client(url, username="demo", password="demo") as client:
        chosen = PushOptions(op, **{"concurrency": 1, **options})
        return push(grid, client, chosen, progress, journal, confirm, stop)


@contextmanager
def fake(script: Callable[[int, list[dict[str, Any]]], Plan]) -> Iterator[FakeBillingPlatform]:
    with FakeBillingPlatform(script).running() as server:
        yield server


def by_row(report: PushReport) -> dict[int, RowResult]:
    return {r.row: r for r in report.results}


def outcomes(report: PushReport) -> Counter[str]:
    return Counter(r.outcome.value if r.outcome else "-" for r in report.results)


def batch_sizes(server: FakeBillingPlatform) -> list[int]:
    return [len(w) for w in server.writes]


# -- options and planning ---------------------------------------------------------------------


def test_planning_reads_the_sheet_as_the_push_will_send_it() -> None:
    header = ["Id", "BillingProfileId", "FileName", "DueDate"]
    mac = Grid(header, [(2, [None, "101", "x.pdf", 45000])], date1904=True)
    [row] = engine.plan(mac, PushOptions(CREATE))[1]
    assert row.record["DueDate"] == "2027-03-16"  # serial 45000 counted from 1904, not 1900
    with pytest.raises(UsageError) as no_id:
        engine.plan(Grid(header[1:], [(2, ["101", "x.pdf", None])]), PushOptions(UPDATE))
    assert no_id.value.message == "The sheet has no Id column, which update needs on every row."
    twice = Grid(header, [(2, ["5", "101", "a.pdf", None]), (3, ["5", "101", "b.pdf", None])])
    plans = engine.plan(twice, PushOptions(UPDATE, external_id="FileName"))[1]
    assert plans[1].errors == ["Id: 5 is also on row 2; send one row per invoice"]


def test_options_refuse_sizes_out_of_range_and_name_the_key_as_the_catalogue_does() -> None:
    with pytest.raises(UsageError) as small:
        PushOptions(CREATE, batch_size=0)
    assert small.value.message == "--batch-size must be at least 1."
    assert PushOptions(CREATE, batch_size=1).batch_size == 1
    for bad in (0, MAX_CONCURRENCY + 1):
        with pytest.raises(UsageError) as many:
            PushOptions(CREATE, concurrency=bad)
        assert many.value.message == f"--concurrency must be from 1 to {MAX_CONCURRENCY}."
        assert many.value.hint == (
            "BillingPlatform allows 4 to 8 requests at once; 1 sends one batch at a time."
        )
    assert PushOptions(CREATE, concurrency=1).concurrency == 1
    assert PushOptions(CREATE, concurrency=MAX_CONCURRENCY).concurrency == MAX_CONCURRENCY
    assert PushOptions(UPSERT, external_id="filename").external_id == "FileName"
    assert PushOptions(UPSERT, external_id="NotAField").external_id == "NotAField"
    assert PushOptions(UPSERT).external_id == fields.ID


def test_a_key_is_repeated_only_by_a_valid_row_after_a_valid_row(sandbox) -> None:
    [(_, [a, *_]), (_, [b, *_])] = existing(sandbox.url, 2)
    rows = [
        (2, [a, "101", "x.pdf", "soon", None, None]),  # invalid: it sends nothing, holds nothing
        (3, [a, "101", "y.pdf", 1, None, None]),
        (4, [b, "101", "z.pdf", 1, None, None]),
        (5, [b, "101", "w.pdf", 1, None, None]),
    ]
    got = by_row(send(sandbox.url, Grid(HEADER, rows), UPDATE))
    assert [got[n].outcome for n in (2, 3, 4, 5)] == [
        Outcome.INVALID,
        Outcome.UPDATED,
        Outcome.UPDATED,
        Outcome.INVALID,
    ]
    assert got[5].messages == [f"Id: {b} is also on row 4; send one row per invoice"]


def test_two_rows_for_one_invoice_send_only_the_first(sandbox) -> None:
    made = send(sandbox.url, Grid(HEADER, new_rows(2)))
    [a, b] = [r.id for r in made.results]
    rows = [
        (2, [a, "101", "x.pdf", 1, None, None]),
        (3, [b, "101", "y.pdf", 1, None, None]),
        (4, [a, "101", "z.pdf", 1, None, None]),
        (5, [a, "101", "w.pdf", 1, None, None]),
        (6, [None, "101", "v.pdf", 1, None, None]),  # no Id: invalid for an update, not a repeat
    ]
    report = send(sandbox.url, Grid(HEADER, rows), UPDATE)
    got = by_row(report)
    assert [got[n].outcome for n in (2, 3, 4, 5)] == [Outcome.UPDATED] * 2 + [Outcome.INVALID] * 2
    assert got[4].messages == [f"Id: {a} is also on row 2; send one row per invoice"]
    assert got[5].messages == [f"Id: {a} is also on row 2; send one row per invoice"]
    assert got[6].outcome is Outcome.INVALID and "also on row" not in got[6].message
    assert len(sandbox.writes()) == 2  # the create, then one update batch of two


def test_an_upsert_refuses_a_repeated_external_key(sandbox) -> None:
    rows = [
        (2, [None, "101", "same.pdf", 1, None, None]),
        (3, [None, "101", "same.pdf", 2, None, None]),
    ]
    report = send(sandbox.url, Grid(HEADER, rows), UPSERT, external_id="FileName")
    got = by_row(report)
    assert got[2].outcome is Outcome.UPSERTED
    assert got[3].outcome is Outcome.INVALID
    assert got[3].messages == ["FileName: same.pdf is also on row 2; send one row per invoice"]


# -- batches --------------------------------------------------------------------------------


def test_valid_rows_go_in_batches_of_the_size_asked_and_invalid_ones_never(sandbox) -> None:
    rows = new_rows(7)
    rows.insert(3, (20, [None, "101", "bad.pdf", "soon", None, None]))
    seen: list[tuple[int, int]] = []
    report = send(
        sandbox.url, Grid(HEADER, rows), batch_size=3, progress=lambda n, t: seen.append((n, t))
    )
    assert [w["records"] for w in sandbox.writes()] == [3, 3, 1]
    assert outcomes(report) == {"Created": 7, "Invalid": 1}
    assert [r.row for r in report.results] == [2, 3, 4, 20, 5, 6, 7, 8]
    # The invalid row first; then a batch each, in the order they are seen done: batches that end
    # between two looks of the engine come together, in no order.
    assert seen[0] == (1, 8) and sorted(seen[1:]) == [(1, 8), (3, 8), (3, 8)]
    assert sum(n for n, _ in seen) == 8
    assert report.all_ok is False and report.stopped is False
    assert report.summary() == "8 rows: 7 created, 1 invalid, 0 failed"
    assert report.layout == engine.read_layout(HEADER, fields.BUILT_IN)
    ids = [r.id for r in report.results if r.outcome is Outcome.CREATED]
    assert len(set(ids)) == 7 and sandbox.sandbox.store.count() == 7


def test_a_dry_run_sends_nothing_and_says_what_would_go(sandbox) -> None:
    ref = unsettled.mention(unsettled.keep({"FileName": "u.pdf"}, dt.datetime.now(dt.UTC)))
    rows = [
        *new_rows(2),
        (4, [None, "101", "bad.pdf", "soon", None, None]),
        (5, [None, "101", "u.pdf", 1, "Unknown", f"Sent, but no answer came {ref}"]),
        (6, ["77", "101", "done.pdf", 1, "Created", None]),
    ]
    options = PushOptions(CREATE, dry_run=True)
    report = push(Grid(HEADER, rows), None, options)
    got = by_row(report)
    assert [got[n].outcome for n in (2, 3, 4, 5)] == [None, None, Outcome.INVALID, Outcome.UNKNOWN]
    assert got[5].messages == [f"Sent, but no answer came {ref}"]
    stamped = Grid([*HEADER, "Created"], [(2, [*new_rows(1)[0][1], "2026-01-01"])])
    [checked] = push(stamped, None, options).results
    assert checked == RowResult(
        2, None, None, ["Created: is set by BillingPlatform and was not sent"]
    )
    assert report.skipped == [6] and report.settled == [] and report.doubled == []
    assert report.summary() == (
        "4 rows: 2 ready to create, 1 invalid, 1 unknown (looked up before sending) "
        "(dry run: nothing was sent)"
    )
    assert report.all_ok is False  # the invalid row
    assert sandbox.requests() == []
    good = push(Grid(HEADER, rows[:2] + rows[3:]), None, options)
    assert good.all_ok is True
    assert good.summary() == (
        "3 rows: 2 ready to create, 0 invalid, 1 unknown (looked up before sending) "
        "(dry run: nothing was sent)"
    )
    clean = push(Grid(HEADER, rows[:2]), None, options)
    assert clean.summary() == "2 rows: 2 ready to create, 0 invalid (dry run: nothing was sent)"


def test_a_dry_run_counts_conflicts_and_an_unsent_conflict_is_not_ok() -> None:
    layout = engine.read_layout(HEADER, fields.BUILT_IN)
    results = [
        RowResult(2, None),
        RowResult(3, Outcome.CONFLICT, None, ["changed on the server"]),
        RowResult(4, Outcome.CONFLICT, None, ["changed on the server"]),
    ]
    report = PushReport(PushOptions(UPDATE, dry_run=True), layout, results)
    assert report.summary() == (
        "3 rows: 1 ready to update, 0 invalid, 2 conflict (dry run: nothing was sent)"
    )
    assert report.all_ok is False
    assert PushReport(PushOptions(UPDATE, dry_run=True), layout, results[:1]).all_ok is True


def test_a_report_is_ok_only_when_every_row_succeeded_and_none_moved() -> None:
    layout = engine.read_layout(HEADER, fields.BUILT_IN)
    done = [RowResult(2, Outcome.CREATED, "1"), RowResult(3, Outcome.CREATED, "2")]
    options = PushOptions(CREATE)
    assert PushReport(options, layout, done).all_ok is True
    assert PushReport(options, layout, done, moved=[9]).all_ok is False
    assert PushReport(options, layout, [*done, RowResult(4, None)]).all_ok is False
    assert PushReport(options, layout, [*done, RowResult(4, Outcome.UNKNOWN)]).all_ok is False
    assert PushReport(options, layout, []).all_ok is True


def test_the_summary_names_skipped_rows_and_rows_created_twice() -> None:
    layout = engine.read_layout(HEADER, fields.BUILT_IN)
    results = [RowResult(2, Outcome.CREATED, "1"), RowResult(3, Outcome.CREATED, "2")]
    created = PushReport(PushOptions(CREATE), layout, results, skipped=[5], doubled=[3])
    assert created.summary() == (
        "2 rows: 2 created, 0 invalid, 0 failed (1 skipped: already Created; to create one "
        "again, clear its Id and Result and push with --create-anyway) (1 row with a second "
        "invoice in BillingPlatform: see Message)"
    )
    twice = PushReport(PushOptions(CREATE), layout, results, doubled=[2, 3])
    assert twice.summary() == (
        "2 rows: 2 created, 0 invalid, 0 failed (2 rows with a second invoice in BillingPlatform: "
        "see Message)"
    )
    updated = [RowResult(2, Outcome.UPDATED, "1")]
    left = PushReport(PushOptions(UPDATE), layout, updated, skipped=[4, 6])
    assert left.summary() == (
        "1 row: 1 updated, 0 invalid, 0 failed (2 left as they were: marked Created or Unknown "
        "by a create and with no Id; a create looks them up)"
    )
    assert PushReport(PushOptions(UPDATE), layout, updated).summary() == (
        "1 row: 1 updated, 0 invalid, 0 failed"
    )


def test_nothing_goes_without_a_connection_or_a_yes(sandbox) -> None:
    grid = Grid(HEADER, new_rows(3))
    with pytest.raises(UsageError) as none:
        push(grid, None, PushOptions(CREATE))
    assert none.value.message == "Nothing to send to: no connection was given."
    asked: list[int] = []

    def no(count: int) -> bool:
        asked.append(count)
        return False

    with pytest.raises(UsageError) as refused:
        send(sandbox.url, grid, confirm=no)
    assert refused.value.message == "Nothing was sent: the push was not confirmed."
    assert asked == [3] and sandbox.requests() == []
    bad = Grid(HEADER, [(2, [None, "101", "bad.pdf", "soon", None, None])])
    report = send(sandbox.url, bad, confirm=no)  # nothing to send: not asked, no login
    assert asked == [3] and sandbox.requests() == [] and outcomes(report) == {"Invalid": 1}
    old_mark = (9, [None, "101", "u.pdf", 1, "Unknown", "Sent, but no answer came"])
    with pytest.raises(UsageError):  # rows looked up first may be sent too: they count
        send(sandbox.url, Grid(HEADER, [new_rows(1)[0], old_mark]), confirm=no)
    yes = send(sandbox.url, grid, confirm=lambda n: asked.append(n) or True)
    assert asked == [3, 2, 3] and outcomes(yes) == {"Created": 3}


def test_a_refused_login_stops_before_anything_is_sent(sandbox) -> None:
    with (
        Client(sandbox.url, username="demo", password="wrong") as client,
        pytest.raises(AuthenticationError),
    ):
        push(Grid(HEADER, new_rows(2)), client, PushOptions(CREATE))
    assert sandbox.writes() == []


def test_the_journal_holds_the_plan_the_sends_and_every_answer(sandbox, tmp_path: Path) -> None:
    rows = [*new_rows(3), (9, [None, "101", "bad.pdf", "soon", None, None])]
    log = Journal(
        tmp_path / "journals",
        workbook=tmp_path / "book.xlsx",
        sheet="Invoices",
        op=CREATE,
        external_id=fields.ID,
        target=Target(sandbox.url),
    )
    report = send(sandbox.url, Grid(HEADER, rows), journal=log, batch_size=2)
    kept = [json.loads(line) for line in sent_path(log.path).read_text("utf-8").splitlines()]
    log.finish()
    records = {
        str(p.row): p.record for p in engine.plan(Grid(HEADER, rows), PushOptions(CREATE))[1]
    }
    # what is sent is kept beside the journal while the push runs, for `bpxl recover`
    assert kept == [{"rows": {"2": records["2"], "3": records["3"]}}, {"rows": {"4": records["4"]}}]
    assert not sent_path(log.path).exists()
    entries = [json.loads(line) for line in log.path.read_text(encoding="utf-8").splitlines()]
    assert [e["type"] for e in entries[:3]] == ["run", "plan", "result"]
    assert entries[-1]["type"] == "done"
    plans = engine.plan(Grid(HEADER, rows), PushOptions(CREATE))[1]
    assert entries[1]["rows"] == {
        str(p.row): (record_hash(p.record) if p.valid else None) for p in plans
    }
    assert [r[0] for r in entries[2]["rows"]] == [9]
    assert [e["rows"] for e in entries if e["type"] == "send"] == [[2, 3], [4]]
    sent_at = {row: i for i, e in enumerate(entries) if e["type"] == "send" for row in e["rows"]}
    answered = {
        r[0]: i for i, e in enumerate(entries[3:], 3) if e["type"] == "result" for r in e["rows"]
    }
    assert sorted(answered) == [2, 3, 4] and all(sent_at[r] < answered[r] for r in answered)
    assert outcomes(report) == {"Created": 3, "Invalid": 1}
    ids = {r[0]: r[2] for e in entries[3:] if e["type"] == "result" for r in e["rows"]}
    assert ids == {r.row: r.id for r in report.results if r.id}  # a recovery needs the Ids


# -- what is sent again, and what never is -----------------------------------------------------


# The server's words hold "; " too: only bpxl's own advice, after the last one, is dropped.
_ERROR = json.dumps({"errors": [{"error_text": "NumberFormatException; for input 9e99"}]})


def _refuse(name: str, status: int = 400) -> Callable[[int, list[dict[str, Any]]], Plan]:
    """A whole-batch refusal for any batch holding the record named ``name``; the rest store."""

    def script(_: int, records: list[dict[str, Any]]) -> Plan:
        if any(r.get("FileName") == name for r in records):
            return Plan(store=False, status=status, body=lambda *_: _ERROR)
        return Plan()

    return script


def existing(server_url: str, n: int) -> list[tuple[int, list[object]]]:
    """``n`` rows of invoices made on the server, with their Ids: rows to update."""
    made = send(server_url, Grid(HEADER, new_rows(n)))
    return [(n, [r.id, *v[1:]]) for (n, v), r in zip(new_rows(n), made.results, strict=True)]


def test_a_refused_batch_is_halved_until_the_bad_record_is_alone() -> None:
    with fake(_refuse("poison.pdf")) as server:
        rows = existing(server.url, 7)
        rows[2][1][2] = "poison.pdf"
        server.writes.clear()
        report = send(server.url, Grid(HEADER, rows[:5]), UPDATE, batch_size=5)
        # 5 -> 3 (with the bad one, third) + 2 -> 2 + 1 (the bad one alone: it fails).
        assert batch_sizes(server) == [5, 3, 2, 2, 1]
        server.writes.clear()
        send(server.url, Grid(HEADER, rows), UPDATE, batch_size=7)
        assert batch_sizes(server) == [7, 4, 3, 2, 2, 1, 1]  # the bigger half first
    got = by_row(report)
    bad = got.pop(4)
    assert bad.outcome is Outcome.FAILED and bad.id is None
    assert bad.messages == [
        "Sent on its own: BillingPlatform refused the batch as a whole (HTTP 400: "
        "NumberFormatException; for input 9e99), perhaps after saving some; the rest of its "
        "batch was sent without it; check this row's values (e.g. a number far too large) and "
        "send again"
    ]
    assert {r.outcome for r in got.values()} == {Outcome.UPDATED}


def test_a_refused_create_alone_is_looked_up_then_fails_and_the_rest_go() -> None:
    with fake(_refuse("e-1.pdf", 500)) as server:
        report = send(server.url, Grid(HEADER, new_rows(2)))
    assert batch_sizes(server) == [2, 1, 1] and len(server.ids()) == 1
    got = by_row(report)
    assert got[2].outcome is Outcome.CREATED and got[2].messages == []
    assert got[3].outcome is Outcome.FAILED
    assert got[3].messages == [
        "Sent on its own: BillingPlatform failed while handling the batch (HTTP 500: "
        "NumberFormatException; for input 9e99); BillingPlatform does not have it; the rest of "
        "its batch was sent without it; check this row's values (e.g. a number far too large) "
        "and send again"
    ]


def test_a_server_failing_every_batch_of_a_round_is_an_outage_not_a_bad_record(sandbox) -> None:
    """Four batches or more, all refused: no halving, the same batches again; three are not."""
    rows = existing(sandbox.url, 8)
    with fake(lambda n, _: Plan(store=False, status=500)) as server:
        report = send(server.url, Grid(HEADER, rows), UPDATE, batch_size=2)
        assert batch_sizes(server) == [2] * 4 * (engine.RESEND_ROUNDS + 1)
        server.writes.clear()
        send(server.url, Grid(HEADER, rows[:3]), UPDATE, batch_size=1)
        assert batch_sizes(server) == [1, 1, 1]  # each fails on its own at once
    assert outcomes(report) == {"Unknown": 8}
    assert report.results[0].messages == [
        'BillingPlatform failed while handling the batch (HTTP 500: {"updateResponse": []}); '
        "sending the update again is safe"
    ]


def test_a_create_with_no_answer_again_and_again_is_failed_not_saved(monkeypatch) -> None:
    monkeypatch.setattr(engine, "RESEND_ROUNDS", 1)
    with fake(lambda n, _: Plan(store=False, status=503)) as server:
        report = send(server.url, Grid(HEADER, new_rows(2)))
    assert batch_sizes(server) == [2, 2] and server.ids() == []
    assert outcomes(report) == {"Failed": 2}
    assert {r.message for r in report.results} == {
        "Not saved: no answer came 4 times and BillingPlatform does not have it; sending again "
        "is safe"
    }


def test_an_update_without_answers_is_sent_again_three_times_then_left_unknown() -> None:
    """An update is never looked up (its invoice exists anyway): it is simply sent again."""
    with fake(lambda n, _: Plan() if n == 1 else Plan(store=False, status=409)) as server:
        rows = existing(server.url, 2)
        asked = len(server.queries)
        report = send(server.url, Grid(HEADER, rows), UPDATE)
        assert len(server.queries) == asked
    assert batch_sizes(server) == [2] + [2] * (engine.RESEND_ROUNDS + 1)
    assert outcomes(report) == {"Unknown": 2}

    assert (
        report.results[0]
        .messages[0]
        .startswith("BillingPlatform refused the batch as a whole (HTTP 409")
    )


def test_refused_batches_are_each_halved_and_lost_ones_sent_again_whole() -> None:
    """Three batches of an update: two refused for a bad record each, one with its answer lost
    once. The refused ones are sent in halves, the lost one whole."""

    def script(n: int, records: list[dict[str, Any]]) -> Plan:
        if any(r.get("FileName") == "poison.pdf" for r in records):
            return Plan(store=False, status=400, body=lambda *_: _ERROR)
        if n == 4:  # the third batch of the update, the first time
            return Plan(store=False, status=409)
        return Plan()

    with fake(script) as server:
        rows = existing(server.url, 6)
        rows[0][1][2] = rows[3][1][2] = "poison.pdf"
        report = send(server.url, Grid(HEADER, rows), UPDATE, batch_size=2)
    # the create, then 2 + 2 + 2, then 1 + 1 (first), 1 + 1 (second), 2 (lost, whole)
    assert batch_sizes(server) == [6, 2, 2, 2, 1, 1, 1, 1, 2]
    got = by_row(report)
    assert [got[n].outcome for n in range(2, 8)] == [
        Outcome.FAILED,
        Outcome.UPDATED,
        Outcome.UPDATED,
        Outcome.FAILED,
        Outcome.UPDATED,
        Outcome.UPDATED,
    ]


def test_a_lost_create_that_was_stored_is_found_and_never_sent_again() -> None:
    with fake(lambda n, _: Plan(status=504 if n == 1 else 200)) as server:
        report = send(server.url, Grid(HEADER, new_rows(3)))
    assert len(server.writes) == 1 and len(server.ids()) == 3
    assert outcomes(report) == {"Created": 3}
    assert sorted(r.id for r in report.results) == sorted(server.ids())
    assert {r.message for r in report.results} == {
        "Created; its answer was lost, so bpxl found it in BillingPlatform"
    }


def test_a_lost_create_is_matched_on_a_tenants_own_fields_by_their_type() -> None:
    """The server spells a custom decimal its own way (12.50 for the 12.5 sent): the lookup
    compares it as a number, as the tenant's catalogue types it, and finds the invoice."""
    tenant = schema.catalogue([schema.parse_custom_field("Cost:decimal")])

    def script(n: int, records: list[dict[str, Any]]) -> Plan:
        server.store.write(CREATE, [{**r, "Cost": "12.50"} for r in records], 1)
        return Plan(store=False, status=0)

    server = FakeBillingPlatform(script, tenant)
    grid = Grid([*HEADER, "Cost"], [(2, [*new_rows(1)[0][1], 12.5])])
    with server.running():
        report = send(server.url, grid, catalogue=tenant)
    [row] = report.results
    assert row.outcome is Outcome.CREATED and [row.id] == server.ids()
    assert len(server.writes) == 1 and server.writes[0][0]["Cost"] == 12.5


def test_a_lost_create_proven_absent_is_sent_once_more_and_only_once(tmp_path: Path) -> None:
    with fake(lambda n, _: Plan(store=n > 1, status=504 if n == 1 else 200)) as server:
        seen: list[tuple[int, int]] = []
        log = journal_of(tmp_path, "fake")
        report = send(
            server.url, Grid(HEADER, new_rows(2)), progress=lambda *p: seen.append(p), journal=log
        )
        log.finish()
    assert batch_sizes(server) == [2, 2] and len(server.ids()) == 2
    assert outcomes(report) == {"Created": 2} and report.doubled == []
    assert all(r.messages == [] for r in report.results)
    assert seen == [(0, 2), (2, 2)]  # each row counted once, when its first send came back
    entries = [json.loads(line) for line in log.path.read_text(encoding="utf-8").splitlines()]
    kinds = ["run", "plan", "result", "send", "result", "send", "result", "done"]
    assert [e["type"] for e in entries] == kinds  # nothing more to say after the last lookup


def test_an_id_found_by_a_lookup_and_answered_again_later_is_looked_up_again(
    tmp_path: Path,
) -> None:
    """Both creates lose their answer: row 2's was stored (the lookup finds it), row 3's was not
    (it is sent again). The answer to that resend names row 2's Id: neither row is believed,
    and the lookup gives each row its own."""

    def answer(items: list[dict[str, str]], _: dict[str, str]) -> str:
        return json.dumps({"createResponse": [{**i, "Id": server.ids()[0]} for i in items]})

    def script(n: int, _: list[Any]) -> Plan:
        return (
            [Plan(status=504), Plan(store=False, status=0)][n - 1] if n < 3 else Plan(body=answer)
        )

    server = FakeBillingPlatform(script)
    log = journal_of(tmp_path, "fake")
    with server.running():
        report = send(server.url, Grid(HEADER, new_rows(2)), journal=log, batch_size=1)
        ids = server.ids()
    log.finish()
    assert batch_sizes(server) == [1, 1, 1] and len(ids) == 2
    assert [r.outcome for r in report.results] == [Outcome.CREATED] * 2
    assert [r.id for r in report.results] == ids
    found = ["Created; its answer was lost, so bpxl found it in BillingPlatform"]
    assert [r.messages for r in report.results] == [found, found]
    also = (
        f"BillingPlatform answered with Id {ids[0]}, which another row also got; check in "
        "BillingPlatform whether the invoice exists before sending again (a second create would "
        "duplicate it)"
    )
    doubts = [
        (row, message) for row, result, message in journalled(tmp_path) if result == "Unknown"
    ]
    assert (2, [also]) in doubts and (3, [also]) in doubts


# -- a stop -----------------------------------------------------------------------------------


def stop_at(
    write: int, plan: Callable[[int], Plan]
) -> tuple[Callable[[int, list[Any]], Plan], threading.Event, threading.Event]:
    """A fake server's script that stops the push when write number ``write`` arrives and holds
    that write's answer until the second event is set (at most 30 s); ``plan(n)`` says what the
    server does with each write. Returns the script, the push's stop and the release."""
    stop, answer = threading.Event(), threading.Event()

    def script(n: int, _: list[Any]) -> Plan:
        if n == write:
            stop.set()
            answer.wait(30)
        return plan(n)

    return script, stop, answer


def test_a_stop_mid_push_settles_every_row_and_the_next_push_sends_nothing_twice(
    monkeypatch,
) -> None:
    """The second of three batches is out when the stop comes and answers after the grace: its
    rows are Unknown with what was sent kept; the third never goes; the first is Created."""
    monkeypatch.setattr(engine, "STOP_GRACE_S", 0.1)
    script, stop, answer = stop_at(2, lambda n: Plan())
    rows = new_rows(6)
    with fake(script) as server:
        try:
            report = send(server.url, Grid(HEADER, rows), stop=stop, batch_size=2)
            answered = answer.is_set()
        finally:
            answer.set()
        assert not answered  # the push ended after the grace, not once the batch answered
        assert report.stopped is True
        got = by_row(report)
        assert [got[n].outcome for n in range(2, 8)] == [Outcome.CREATED] * 2 + [
            Outcome.UNKNOWN
        ] * 2 + [Outcome.FAILED] * 2
        assert (
            got[6].messages == got[7].messages == ["Not sent: stopped before sending; send again"]
        )
        refs = [unsettled.ref_in(got[n].message) for n in (4, 5)]
        for n, ref in zip((4, 5), refs, strict=True):
            assert ref is not None and got[n].messages == [
                "Sent, but bpxl was stopped before the answer came; the next push looks it up in "
                f"BillingPlatform before sending it again (bpxl ref {ref})"
            ]
            kept = unsettled.find(ref)
            assert (
                kept is not None
                and kept.record
                == engine.plan(Grid(HEADER, rows), PushOptions(CREATE))[1][n - 2].record
            )
        assert report.settled == [] and batch_sizes(server) == [2, 2]
        again = [
            (n, [r.id, *v[1:4], r.outcome.value if r.outcome else None, r.message])
            for (n, v), r in zip(rows, report.results, strict=True)
        ]
        while len(server.ids()) < 4:  # the second batch is stored once it answers
            threading.Event().wait(0.02)
        rerun = send(server.url, Grid(HEADER, again))
    assert rerun.skipped == [2, 3] and sorted(rerun.settled) == sorted(refs)
    assert [r.outcome for r in rerun.results] == [Outcome.CREATED] * 4
    assert {r.row: r.messages for r in rerun.results if r.row in (4, 5)} == {
        4: ["An earlier send created this invoice (found in BillingPlatform); not sent again"],
        5: ["An earlier send created this invoice (found in BillingPlatform); not sent again"],
    }
    assert batch_sizes(server) == [2, 2, 2] and len(server.ids()) == 6  # nothing twice


def test_a_stop_keeps_each_unanswered_create_once_with_its_send_time(
    monkeypatch, tmp_path: Path
) -> None:
    """Two identical rows whose lost batch was stored are left Unsure by the lookup (which row
    got which invoice cannot be told), with what was sent kept; a third, proven absent, is sent
    again and its answer is held past the stop: it is kept with the time of that resend, and the
    first two keep the words and ref their lookup gave them."""
    monkeypatch.setattr(engine, "STOP_GRACE_S", 0.1)
    script, stop, answer = stop_at(3, lambda n: Plan(store=n == 1, status=0))
    twin = [None, "101", "twin.pdf", 1, None, None]
    rows = [(2, twin), (3, list(twin)), (4, [None, "102", "other.pdf", 1, None, None])]
    log = journal_of(tmp_path, "fake")
    with fake(script) as server:
        try:
            report = send(server.url, Grid(HEADER, rows), stop=stop, journal=log, batch_size=2)
        finally:
            answer.set()
    log.finish()
    assert batch_sizes(server) == [2, 1, 1] and report.stopped is True
    assert outcomes(report) == {"Unknown": 3}
    got = by_row(report)
    for n in (2, 3):
        assert got[n].message.startswith("Sent, but no answer came, and rows 2, 3 hold the same")
    refs = [unsettled.ref_in(got[n].message) for n in (2, 3, 4)]
    assert None not in refs and len(set(refs)) == 3
    assert got[4].messages == [
        "Sent, but bpxl was stopped before the answer came; the next push looks it up in "
        f"BillingPlatform before sending it again (bpxl ref {refs[2]})"
    ]
    entries = [json.loads(line) for line in log.path.read_text(encoding="utf-8").splitlines()]
    resent = [e["at"] for e in entries if e["type"] == "send" and e["rows"] == [4]]
    kept = unsettled.find(str(refs[2]))
    assert kept is not None and kept.sent_at.isoformat() == resent[-1]


def test_a_stop_before_anything_went_sends_nothing(sandbox) -> None:
    stop = threading.Event()
    stop.set()
    report = send(sandbox.url, Grid(HEADER, new_rows(3)), stop=stop)
    assert report.stopped is True and sandbox.writes() == []
    assert {r.message for r in report.results} == {"Not sent: stopped before sending; send again"}
    assert outcomes(report) == {"Failed": 3}
    update = send(sandbox.url, Grid(HEADER, existing(sandbox.url, 1)), UPDATE, stop=stop)
    assert outcomes(update) == {"Failed": 1} and len(sandbox.writes()) == 1  # the create only


# -- rows an earlier create left Unknown --------------------------------------------------------


def unknown_row(row: int, values: list[object], message: str) -> tuple[int, list[object]]:
    return (row, [None, *values[1:4], "Unknown", message])


def test_an_unknown_row_is_looked_up_as_it_was_sent(sandbox) -> None:
    """Three rows marked Unknown with what was sent kept: one was created (and edited since),
    one was not (sent now), one was not and is invalid now (not sent)."""
    made = send(sandbox.url, Grid(HEADER, new_rows(1, "made")))
    sent_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)
    plans = engine.plan(Grid(HEADER, new_rows(3, "u")), PushOptions(CREATE))[1]
    records = [p.record for p in plans]
    records[0] = engine.plan(Grid(HEADER, new_rows(1, "made")), PushOptions(CREATE))[1][0].record
    refs = [unsettled.mention(unsettled.keep(r, sent_at)) for r in records]
    rows = [
        unknown_row(2, [None, "101", "edited.pdf", 0], f"Sent, but no answer came {refs[0]}"),
        unknown_row(3, new_rows(3, "u")[1][1], f"Sent, but no answer came {refs[1]}"),
        unknown_row(4, [None, "101", "u-2.pdf", "soon"], f"Sent, but no answer came {refs[2]}"),
    ]
    report = send(sandbox.url, Grid(HEADER, rows))
    got = by_row(report)
    assert got[2].outcome is Outcome.CREATED and got[2].id == made.results[0].id
    assert got[2].messages == [
        "An earlier send created this invoice (found in BillingPlatform); not sent again",
        "Edited since that send: the invoice has the values sent then; send your edits as an "
        "update",
    ]
    assert got[3].outcome is Outcome.CREATED and got[3].messages == []
    assert got[4].outcome is Outcome.INVALID
    assert got[4].messages == ['AgingInterval: "soon" is not a whole number']
    assert sorted(report.settled) == sorted(unsettled.ref_in(r) for r in refs)
    assert sandbox.sandbox.store.count() == 2 and [w["records"] for w in sandbox.writes()] == [1, 1]


def journal_of(folder: Path, url: str) -> Journal:
    return Journal(
        folder,
        workbook=folder / "book.xlsx",
        sheet="Invoices",
        op=CREATE,
        external_id=fields.ID,
        target=Target(url),
    )


def test_an_older_unknown_mark_is_looked_up_by_the_journals_send_time(
    sandbox, tmp_path: Path
) -> None:
    """A mark with no ref (written before refs existed): the journals say when the row went out;
    without them, finding its invoice proves nothing and finding none proves nothing either."""
    first = journal_of(tmp_path, sandbox.url)
    made = send(sandbox.url, Grid(HEADER, new_rows(1)), journal=first)
    first.finish()
    old = "Sent, but no answer came"
    rows = [unknown_row(2, new_rows(1)[0][1], old), unknown_row(3, new_rows(2)[1][1], old)]
    unsure = send(sandbox.url, Grid(HEADER, rows))  # no journal: no send time
    got = by_row(unsure)
    assert got[2].outcome is Outcome.UNKNOWN
    ref = unsettled.ref_in(got[2].message)
    assert ref is not None and got[2].message == (
        f"Sent, but no answer came, and invoice Id {made.results[0].id} has this row's values, "
        "but it may be older than this send (when the row was sent is not known); push again "
        "later to look again, or check in BillingPlatform, then put the invoice's Id in the Id "
        "column and Created in Result, or clear Result to send the row again (bpxl ref "
        f"{ref})"
    )
    assert got[3].outcome is Outcome.UNKNOWN and got[3].messages == [engine._NOT_PROVEN.messages[0]]
    assert unsure.settled == []
    second = journal_of(tmp_path, sandbox.url)
    found = send(sandbox.url, Grid(HEADER, rows), journal=second)
    second.finish()
    got = by_row(found)
    assert got[2].outcome is Outcome.CREATED and got[2].id == made.results[0].id
    assert got[2].messages == [
        "An earlier send created this invoice (found in BillingPlatform); not sent again"
    ]
    assert got[3].outcome is Outcome.UNKNOWN  # never sent by a journalled push: still no proof
    assert sandbox.sandbox.store.count() == 1


def test_an_unsure_lookup_keeps_the_ref_the_row_already_has(sandbox) -> None:
    send(sandbox.url, Grid(HEADER, new_rows(1)))
    # two identical invoices, both ours (the second made on purpose: --create-anyway)
    send(sandbox.url, Grid(HEADER, new_rows(1)), create_anyway=True)
    kept = unsettled.keep(
        engine.plan(Grid(HEADER, new_rows(1)), PushOptions(CREATE))[1][0].record,
        dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30),
    )
    message = f"Sent, but no answer came {unsettled.mention(kept)}"
    report = send(sandbox.url, Grid(HEADER, [unknown_row(2, new_rows(1)[0][1], message)]))
    [row] = report.results
    assert row.outcome is Outcome.UNKNOWN and row.message.endswith(f"(bpxl ref {kept.ref})")
    assert row.message.startswith("Sent, but no answer came, and 2 invoices have this row's values")
    assert report.settled == [] and sandbox.sandbox.store.count() == 2


# -- answers mapped to rows -------------------------------------------------------------------


def test_server_messages_name_the_users_own_columns() -> None:
    words = engine._in_user_words
    headers = {"BillingProfileId": "Billing profile", "DueDate": "Due date", "Id": "Id"}
    assert words("BillingProfileId: BillingProfileId 999 does not exist", headers) == (
        "Billing profile: 999 does not exist"
    )
    assert words("BillingProfileId 999 does not exist", headers) == (
        "Billing profile 999 does not exist"
    )
    assert words("Note: DueDate and BillingProfileIdX", headers) == (
        "Note: Due date and BillingProfileIdX"
    )
    assert words("duedate: must be a date", headers) == "Due date: must be a date"
    assert words("Id: Id 5 not found", headers) == "Id: 5 not found"  # said once
    assert words("DueDate: Due date Due date", headers) == "Due date: Due date"
    assert words("DueDate:Due date 5", headers) == "Due date:Due date 5"
    assert words("DueDate is wrong", {"DueDate": r"Due \1 date"}) == r"Due \1 date is wrong"
    assert words("no colon at all", headers) == "no colon at all"
    assert words("due date", headers) == "due date"  # not a field's name: the server's words
    assert words("Id: Id 5 is due at 10:00", headers) == "Id: 5 is due at 10:00"
    assert words("duedate: due at 10:00", headers) == "Due date: due at 10:00"


def test_a_record_refused_by_the_server_says_so_in_the_users_words(sandbox) -> None:
    header = ["Id", "Billing profile id", "File name", "Created", "Result", "Message"]
    rows = [
        (2, [None, "101", "a.pdf", "2026-01-01", None, None]),
        (3, [None, "999", "b.pdf", None, None, None]),
    ]
    report = send(sandbox.url, Grid(header, rows))
    got = by_row(report)
    assert got[2].outcome is Outcome.CREATED
    assert got[2].messages == ["Created: is set by BillingPlatform and was not sent"]
    assert got[3].outcome is Outcome.FAILED
    assert got[3].messages == [
        "Billing profile id: 999 does not exist (BillingPlatform error INVALID_REFERENCE); fix it "
        "and send again"
    ]


def test_the_ids_a_sheet_holds_are_its_own() -> None:
    layout = engine.read_layout(HEADER, fields.BUILT_IN)
    rows = [
        (2, [" 12 ", "101"]),
        (3, [None, "101"]),
        (4, ["", "101"]),
        (5, []),
        (6, [13]),
        (7, [0]),
    ]
    assert engine.sheet_ids(Grid(HEADER, rows), layout) == {"12", "13", "0"}
    no_id = engine.read_layout(HEADER[1:], fields.BUILT_IN)
    assert engine.sheet_ids(Grid(HEADER[1:], [(2, ["101"])]), no_id) == set()


def test_an_upsert_on_id_creates_the_rows_without_one_and_upserts_the_others(sandbox) -> None:
    made = existing(sandbox.url, 2)
    grid = Grid(HEADER, [made[0], *new_rows(2, "new", first=5), made[1]], True)
    parts = engine.parts(grid, PushOptions(UPSERT))
    assert [(p.op, [r for r, _ in g.rows]) for g, p in parts] == [
        (CREATE, [5, 6]),
        (UPSERT, [2, 3]),
    ]
    assert all(g.date1904 and g.header == HEADER for g, _ in parts)
    short = Grid(HEADER, [(2, ["7"]), (3, [])])
    assert [[r for r, _ in g.rows] for g, _ in engine.parts(short, PushOptions(UPSERT))] == [
        [3],
        [2],
    ]
    alone = Grid(HEADER, new_rows(2))
    [(created, how)] = engine.parts(alone, PushOptions(UPSERT))
    assert created.rows == alone.rows and created.every_row == alone.rows
    assert how == PushOptions(CREATE)
    for one in (PushOptions(CREATE), PushOptions(UPDATE), PushOptions(UPSERT, "FileName")):
        assert engine.parts(grid, one) == [(grid, one)]
    no_id = Grid(HEADER[1:], [(2, ["101", "x.pdf"])])
    assert engine.parts(no_id, PushOptions(UPSERT)) == [(no_id, PushOptions(UPSERT))]
    assert engine.parts(Grid(HEADER, []), PushOptions(UPSERT)) == [
        (Grid(HEADER, []), PushOptions(UPSERT))
    ]
    reports = [send(sandbox.url, g, p.op, **{"external_id": p.external_id}) for g, p in parts]
    whole = engine.merged(reports, PushOptions(UPSERT))
    assert [(r.row, r.outcome) for r in whole.results] == [
        (2, Outcome.UPSERTED),
        (3, Outcome.UPSERTED),
        (5, Outcome.CREATED),
        (6, Outcome.CREATED),
    ]
    assert whole.options == PushOptions(UPSERT) and whole.layout == reports[0].layout
    assert whole.summary() == "4 rows: 2 created, 2 upserted, 0 invalid, 0 failed"


def test_merged_reports_keep_sheet_order_and_everything_each_part_said() -> None:
    layout = engine.read_layout(HEADER, fields.BUILT_IN)
    options = PushOptions(UPSERT)
    one = PushReport(
        PushOptions(CREATE), layout, [RowResult(5, Outcome.CREATED, "9")], [9, 4], False,
        ["aaa"], doubled=[5],
    )  # fmt: skip
    two = PushReport(
        options, layout, [RowResult(2, Outcome.UPSERTED, "1")], [3], True, ["bbb"], doubled=[2]
    )
    whole = engine.merged([one, two], options)
    assert [r.row for r in whole.results] == [2, 5] and whole.skipped == [3, 4, 9]
    assert whole.stopped is True and whole.settled == ["aaa", "bbb"] and whole.doubled == [2, 5]
    assert engine.merged([one], options).stopped is False
    assert whole.moved == []


def test_going_counts_the_rows_a_push_sends() -> None:
    ref = "Sent, but no answer came (bpxl ref 0123456789ab)"
    rows = [
        *new_rows(2),
        (4, [None, "101", "bad.pdf", "soon", None, None]),
        (5, [None, "101", "bad.pdf", "soon", "Unknown", ref]),
        (6, ["7", "101", "done.pdf", 1, "Created", None]),
    ]
    assert engine.going(Grid(HEADER, rows), PushOptions(CREATE)) == 3
    assert engine.going(Grid(HEADER, []), PushOptions(CREATE)) == 0


# -- whose Id is it ---------------------------------------------------------------------------


def _answering(server_ids: Callable[[int], str | None]) -> Callable[[int, list[Any]], Plan]:
    """Stores every write, but answers with the Id ``server_ids(write number)`` when not None."""

    def script(n: int, _: list[Any]) -> Plan:
        wrong = server_ids(n)
        if wrong is None:
            return Plan()

        def body(items: list[dict[str, str]], _: dict[str, str]) -> str:
            return json.dumps({"createResponse": [{**i, "Id": wrong} for i in items]})

        return Plan(body=body)

    return script


def journalled(folder: Path) -> list[tuple[int, str, list[str]]]:
    """(row, Result, Message) of every answer a journal in ``folder`` holds, in order."""
    [path] = folder.glob("*.jsonl")
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [(r[0], r[1], r[3]) for e in entries if e["type"] == "result" for r in e["rows"]]


def test_an_id_answered_for_two_rows_is_believed_for_neither(tmp_path: Path) -> None:
    log = journal_of(tmp_path, "fake")
    with fake(_answering(lambda n: "1")) as server:
        report = send(server.url, Grid(HEADER, new_rows(3)), journal=log, batch_size=1)
        ids = sorted(server.ids())
    log.finish()
    assert sorted(r.id for r in report.results) == ids and len(set(ids)) == 3
    assert batch_sizes(server) == [1, 1, 1]
    also = [
        "BillingPlatform answered with Id 1, which another row also got; check in BillingPlatform "
        "whether the invoice exists before sending again (a second create would duplicate it)"
    ]
    doubts = [
        (row, message) for row, result, message in journalled(tmp_path) if result == "Unknown"
    ]
    assert sorted(doubts) == [(2, also), (3, also), (4, also)]
    found = "Created; its answer was lost, so bpxl found it in BillingPlatform"
    assert {r.row: r.messages for r in report.results} == {2: [found], 3: [found], 4: [found]}


def test_an_id_a_row_of_the_sheet_holds_is_not_claimed_again(tmp_path: Path) -> None:
    log = journal_of(tmp_path, "fake")
    rows = [(2, ["999", "101", "old.pdf", 1, "Created", None]), *new_rows(2, first=3)]
    with fake(_answering(lambda n: "999" if n == 1 else None)) as server:
        report = send(server.url, Grid(HEADER, rows), journal=log, batch_size=1)
        ids = sorted(server.ids())
    log.finish()
    assert report.skipped == [2] and sorted(r.id for r in report.results) == ids
    assert batch_sizes(server) == [1, 1]
    doubts = [
        (row, message) for row, result, message in journalled(tmp_path) if result == "Unknown"
    ]
    assert doubts == [
        (
            3,
            [
                "BillingPlatform answered with Id 999, which a row of the sheet has; check in "
                "BillingPlatform whether the invoice exists before sending again (a second create "
                "would duplicate it)"
            ],
        )
    ]
    assert by_row(report)[4].messages == []


# -- a first send stored late -----------------------------------------------------------------


def test_a_first_send_stored_after_the_lookups_is_named_on_its_row(
    monkeypatch, tmp_path: Path
) -> None:
    """The first create's answer is lost and it is stored only a moment after the row was sent
    again (after two lookups found nothing): the last lookup, twice the lookup wait after that
    send, finds both invoices and the row names them."""
    monkeypatch.setenv("BPXL_LOOKUP_WAIT", "0.3")
    held: list[list[Any]] = []
    tenant = schema.catalogue([schema.parse_custom_field("Cost:decimal")])
    server = FakeBillingPlatform(lambda n, records: Plan(), tenant)
    # stored with the custom decimal in the server's spelling: still the row's values
    late = threading.Timer(
        0.15, lambda: server.store.write(CREATE, [{**r, "Cost": "12.50"} for r in held[0]], 1)
    )

    def script(n: int, records: list[Any]) -> Plan:
        if n == 1:
            held.append(records)
            return Plan(store=False, status=0)
        if n == 2:
            late.start()  # the first send, stored late
        return Plan()

    server.script = script
    log = journal_of(tmp_path, "fake")
    with server.running():
        grid = Grid([*HEADER, "Cost"], [(2, [*new_rows(1)[0][1], 12.5])])
        report = send(server.url, grid, journal=log, catalogue=tenant)
        late.join()
        invoices = {
            str(i["Id"]): i["FileName"]
            for i in server.store.query("SELECT Id, FileName FROM INVOICE")
        }
    log.finish()
    [row] = report.results
    [other] = [i for i, name in invoices.items() if name == "e-0.pdf" and i != row.id]
    assert row.outcome is Outcome.CREATED and report.doubled == [2]
    note = (
        f"BillingPlatform holds 2 invoices for this row: Id {row.id} (kept in the Id column) and "
        f"Id {other}. The first send was stored late, after bpxl had looked for it and sent the "
        f"row again; delete that invoice ({other}) in BillingPlatform"
    )
    assert row.messages == [note]
    assert journalled(tmp_path)[-1] == (2, "Created", [note])  # a recovery writes it too
    assert report.summary() == (
        "1 row: 1 created, 0 invalid, 0 failed (1 row with a second invoice in BillingPlatform: "
        "see Message)"
    )


def test_an_invoice_the_sheet_holds_is_never_taken_for_a_lost_create() -> None:
    """A row of the sheet holds an invoice made a moment ago with the same values as a new row
    whose create was lost (and not stored): the lookup leaves the sheet's invoice alone."""
    with fake(lambda n, _: Plan(store=n > 1, status=0 if n == 1 else 200)) as server:
        [mine] = stored_in(server, new_rows(1)[0][1])
        rows = [(2, [mine, *new_rows(1)[0][1][1:4], "Created", None]), *new_rows(1, first=3)]
        report = send(server.url, Grid(HEADER, rows))
        ids = server.ids()
    [row] = report.results
    assert row.outcome is Outcome.CREATED and row.id != mine and len(ids) == 2
    assert batch_sizes(server) == [1, 1]


def stored_in(server: FakeBillingPlatform, values: list[object]) -> list[str]:
    record = engine.plan(Grid(HEADER, [(2, values)]), PushOptions(CREATE))[1][0].record
    return [str(item["Id"]) for item in server.store.write(CREATE, [record], 1)]


def test_a_row_stored_three_times_names_all_three() -> None:
    assert engine._twin_note("5", ["6", "7"]) == (
        "BillingPlatform holds 3 invoices for this row: Id 5 (kept in the Id column) and Id 6, 7. "
        "The first send was stored late, after bpxl had looked for it and sent the row again; "
        "delete those invoices (6, 7) in BillingPlatform"
    )
