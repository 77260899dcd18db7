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
from bpxl.core.journal import Journal, Target, record_hash
from bpxl.core.push import Grid, PushOptions, PushReport, push
from bpxl.core.results import Operation, Outcome, RowResult

from .fake_billingplatform import FakeBillingPlatform, Plan

HEADER = ["Id", "BillingProfileId", "FileName", "AgingInterval", "Result", "Message"]
CREATE, UPDATE, UPSERT = Operation.CREATE, Operation.UPDATE, Operation.UPSERT


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
    assert seen == [(1, 8), (3, 8), (3, 8), (1, 8)]
    assert sum(n for n, _ in seen) == 8
    assert report.all_ok is False and report.stopped is False
    assert report.summary() == "8 rows: 7 created, 1 invalid, 0 failed"
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
        "2 rows: 2 created, 0 invalid, 0 failed (1 skipped: already Created; clear Result to "
        "send again) (1 row with a second invoice in BillingPlatform: see Message)"
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
    yes = send(sandbox.url, grid, confirm=lambda n: asked.append(n) or True)
    assert asked == [3, 3] and outcomes(yes) == {"Created": 3}


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
    log.finish()
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


# -- what is sent again, and what never is -----------------------------------------------------


_ERROR = json.dumps({"errors": [{"error_code": "400", "error_text": "NumberFormatException"}]})


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
        "NumberFormatException), perhaps after saving some; the rest of its batch was sent "
        "without it; check this row's values (e.g. a number far too large) and send again"
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
        "NumberFormatException); BillingPlatform does not have it; the rest of its batch was "
        "sent without it; check this row's values (e.g. a number far too large) and send again"
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
    with fake(lambda n, _: Plan()) as server:
        made = send(server.url, Grid(HEADER, new_rows(2)))
    rows = [(n, [r.id, *v[1:]]) for (n, v), r in zip(new_rows(2), made.results, strict=True)]
    with fake(lambda n, _: Plan(store=False, status=409)) as server:
        report = send(server.url, Grid(HEADER, rows), UPDATE)
    assert batch_sizes(server) == [2] * (engine.RESEND_ROUNDS + 1)
    assert outcomes(report) == {"Unknown": 2}
    assert (
        report.results[0]
        .messages[0]
        .startswith("BillingPlatform refused the batch as a whole (HTTP 409")
    )


def test_a_lost_create_that_was_stored_is_found_and_never_sent_again() -> None:
    with fake(lambda n, _: Plan(status=504 if n == 1 else 200)) as server:
        report = send(server.url, Grid(HEADER, new_rows(3)))
    assert len(server.writes) == 1 and len(server.ids()) == 3
    assert outcomes(report) == {"Created": 3}
    assert sorted(r.id for r in report.results) == sorted(server.ids())
    assert {r.message for r in report.results} == {
        "Created; its answer was lost, so bpxl found it in BillingPlatform"
    }


def test_a_lost_create_proven_absent_is_sent_once_more_and_only_once() -> None:
    with fake(lambda n, _: Plan(store=n > 1, status=504 if n == 1 else 200)) as server:
        report = send(server.url, Grid(HEADER, new_rows(2)))
    assert batch_sizes(server) == [2, 2] and len(server.ids()) == 2
    assert outcomes(report) == {"Created": 2} and report.doubled == []
    assert all(r.messages == [] for r in report.results)
