"""Nothing lost, nothing twice, no secret leaked: reconciliation, recovery, profiles, secrets."""

from __future__ import annotations

import datetime as dt
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import openpyxl

from bpxl.core import journal, recover
from bpxl.core.client import Client
from bpxl.core.connection import journal_dir
from bpxl.core.push import Grid
from bpxl.core.reconcile import Lost, Verdict, reconcile
from bpxl.core.records import read_layout
from bpxl.core.results import Operation, Outcome, RowResult

from .conftest import read_sheet, write_invoices


def rows_of(n: int) -> list[dict[str, object]]:
    """Distinct, realistic rows: every one differs in FileName and most in other fields too."""
    return [
        {
            "BillingProfileId": str(101 + i % 5),
            "DueDate": dt.date(2024, 1, 1) + dt.timedelta(days=i % 300),
            "Status": "Pending",
            "FileName": f"invoice-{i:06d}.pdf",
            "BillableFlag": i % 2 == 0,
            "AgingInterval": i % 90,
        }
        for i in range(n)
    ]


def connect(sandbox) -> list[str]:
    return ["--url", sandbox.url, "--username", "demo"]


def test_reconcile_matches_created_rows_on_every_value_type(sandbox) -> None:
    records = [
        {
            "BillingProfileId": "101",
            "DueDate": "2024-03-31",
            "BillableFlag": "1",
            "AgingInterval": 30,
            "FileName": "Zoë's invoice.pdf",
            "Status": "Pending",
        },
        {"BillingProfileId": "102", "DueDate": "2024-04-30", "BillableFlag": "0"},
        {"BillingProfileId": "103", "FileName": "twin"},
        {"BillingProfileId": "103", "FileName": "twin"},
    ]
    with Client(sandbox.url, username="demo", password="demo") as client:
        client.login()
        since = client.server_now()
        made = client.create(records[:2] + records[2:3])
        ids = [r.id for r in made]
        never_sent = {"BillingProfileId": "104", "FileName": "never sent"}
        lost = [Lost(r, since) for r in [*records, never_sent]]
        found = reconcile(client, {2: lost[0], 3: lost[1], 4: lost[4]})
        assert found[2].verdict is Verdict.FOUND and found[2].id == ids[0]
        assert found[3].verdict is Verdict.FOUND and found[3].id == ids[1]
        assert found[4].verdict is Verdict.ABSENT
        # An Id another row already owns is not taken twice.
        assert reconcile(client, {2: lost[0]}, {ids[0]})[2].verdict is Verdict.ABSENT
        # Two identical rows and one invoice: which row it belongs to cannot be told.
        twins = reconcile(client, {5: lost[2], 6: lost[3]})
        assert {f.verdict for f in twins.values()} == {Verdict.UNSURE}
        assert "rows 5, 6 hold the same values" in twins[5].message and ids[2] in twins[5].message
        # Without a send time a match may be an older invoice: reported, never taken.
        older = reconcile(client, {2: Lost(records[0], None)})[2]
        assert older.verdict is Verdict.UNSURE and ids[0] in older.message
        # Sent after the invoice was made: the invoice is not this row's.
        later = client.server_now() + dt.timedelta(seconds=3)
        assert reconcile(client, {2: Lost(records[1], later)})[2].verdict is not Verdict.FOUND


def test_lost_answers_are_looked_up_and_never_resent_blindly(tmp_path, make_sandbox, run) -> None:
    flaky = make_sandbox(faults=["reset-after:0.5"], seed=11)
    book = write_invoices(tmp_path / "lost.xlsx", rows_of(60))
    # --create-anyway: half the requests drop, the duplicate check's query too (then the rows
    # would be Failed, "could not check"); this test is about the creates' lost answers.
    anyway = ["--create-anyway", *connect(flaky)]
    code, out, _ = run("push", book, "--op", "create", *anyway, "--batch-size", "5")
    assert code == 0, out
    sheet = read_sheet(book)
    assert {r["Result"] for r in sheet} == {"Created"}
    assert flaky.sandbox.store.count() == 60 == len({r["Id"] for r in sheet})
    found = [r for r in sheet if "answer was lost" in (r["Message"] or "")]
    assert found, "the seed makes some answers get lost"
    statuses = [w["status"] for w in flaky.writes()]
    assert statuses.count(0) >= len(found) // 5  # every lost batch was looked up, not resent


def test_a_rerun_looks_up_unknown_rows_before_sending(tmp_path, make_sandbox, run) -> None:
    down = make_sandbox(faults=["reset-after:1.0"])
    book = write_invoices(tmp_path / "rerun.xlsx", rows_of(8))
    # --create-anyway: without it the duplicate check, which cannot get through, sends nothing
    code, _, _ = run("push", book, "--op", "create", "--create-anyway", *connect(down))
    assert code == 1 and {r["Result"] for r in read_sheet(book)} == {"Unknown"}
    assert down.sandbox.store.count() == 8  # saved, but neither answer nor lookup got through
    down.sandbox.config.faults.rates.clear()  # the network heals
    writes_before = len(down.writes())
    code, out, _ = run("push", book, "--op", "create", *connect(down))
    assert code == 0, out
    sheet = read_sheet(book)
    assert {r["Result"] for r in sheet} == {"Created"} and len({r["Id"] for r in sheet}) == 8
    assert all("earlier send created this invoice" in r["Message"] for r in sheet)
    assert len(down.writes()) == writes_before and down.sandbox.store.count() == 8


def test_production_profile_asks_first_and_sandbox_never(
    tmp_path, sandbox, run, memory_keyring
) -> None:
    code, out, _ = run(
        "connect", "live", "--url", sandbox.url, "--username", "demo", "--production"
    )
    assert code == 0 and "PRODUCTION tenant sandbox" in out and "holds no secret" in out
    assert memory_keyring.secrets == {("bpxl", "live"): "demo"}
    book = write_invoices(tmp_path / "prod.xlsx", rows_of(3))
    code, _, err = run("push", book, "--op", "create", "--profile", "live", password=None)
    assert code == 2 and "PRODUCTION tenant sandbox" in err and "--yes" in err
    assert sandbox.writes() == [] and journal.unfinished(journal_dir()) == []
    code, out, _ = run("push", book, "--op", "create", "--profile", "live", "--yes", password=None)
    assert code == 0 and "Sending to live: PRODUCTION tenant sandbox" in out
    run("connect", "test", "--url", sandbox.url, "--username", "demo", "--sandbox")
    more = write_invoices(
        tmp_path / "test.xlsx", [{**r, "FileName": f"test-{r['FileName']}"} for r in rows_of(2)]
    )
    code, out, _ = run("push", more, "--op", "create", "--profile", "test", password=None)
    assert code == 0 and "sandbox tenant" in out
    code, out, _ = run("connect")
    assert "live: PRODUCTION" in out and "test: sandbox" in out
    code, _, err = run("connect", "bad", "--url", sandbox.url, "--username", "demo", password="no")
    assert code == 2 and "refused the login" in err and "bad" not in run("connect")[1]
    assert (
        run("connect", "live", "--remove")[0] == 0
        and ("bpxl", "live") not in memory_keyring.secrets
    )


def _make_big_book(path: Path, n: int) -> Path:
    return write_invoices(path, rows_of(n))


class _Typed(io.StringIO):
    """A terminal where the user types the lines given."""

    def isatty(self) -> bool:
        return True


def test_an_upsert_on_id_into_production_asks_once_for_all_its_rows(
    tmp_path, sandbox, run, memory_keyring, monkeypatch
) -> None:
    """Rows with an Id are upserted and rows without one are created, in two sends; the user
    asked for one upsert and is asked once, for every row it sends."""
    run("connect", "live", "--url", sandbox.url, "--username", "demo", "--production")
    book = write_invoices(tmp_path / "prod.xlsx", rows_of(3))
    assert run("push", book, "--op", "create", "--profile", "live", "--yes")[0] == 0
    sheet = openpyxl.load_workbook(book)
    sheet.worksheets[0].append([None, "101", "Pending"])  # a new row: no Id
    sheet.save(book)
    monkeypatch.setenv("BPXL_DUPLICATE_DAYS", "0")  # the new row repeats another's values
    monkeypatch.setattr(sys, "stdin", _Typed("yes\n"))
    code, out, _ = run("push", book, "--op", "upsert", "--profile", "live", password=None)
    assert code == 0, out
    assert out.count("Type yes:") == 1
    assert "upsert 4 invoice rows in the PRODUCTION tenant sandbox" in out
    assert "1 created" in out and "3 upserted" in out and sandbox.sandbox.store.count() == 4


def test_sigkill_mid_push_then_recover_then_rerun(tmp_path, run) -> None:
    """A push killed mid-run loses nothing and, after recover, a rerun duplicates nothing."""
    n = 5000
    db = tmp_path / "server.sqlite3"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bpxl.cli",
            "sandbox",
            "--port",
            "0",
            "--db",
            str(db),
            "--fault",
            "latency:150ms",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = server.stdout.readline().strip()
        book = _make_big_book(tmp_path / "big.xlsx", n)
        env = {**os.environ, "BPXL_PASSWORD": "demo"}
        pusher = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bpxl.cli",
                "push",
                str(book),
                "--op",
                "create",
                "--url",
                url,
                "--username",
                "demo",
                "--batch-size",
                "100",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        folder = journal_dir()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs = journal.unfinished(folder)
            if runs and len(runs[0].sent) >= 1500 and len(runs[0].results) >= 500:
                break
            time.sleep(0.02)
        pusher.send_signal(signal.SIGKILL)
        pusher.wait()
        [stopped] = journal.unfinished(folder)
        assert stopped.in_flight and stopped.never_sent, "killed mid-run, with batches in flight"

        # Refused until recovered, so that rows in flight are not sent a second time.
        code, _, err = run("push", book, "--op", "create", "--url", url, "--username", "demo")
        assert code == 2 and "bpxl recover" in err
        # The user sorts the sheet before recovering: rows are found by their values.
        _reverse_rows(book)
        code, out, err = run("recover", book, "--url", url, "--username", "demo")
        assert code == 1, out + err  # rows never sent are Failed ("send it again")
        recovered = read_sheet(book)
        assert all(r["Result"] in ("Created", "Failed") for r in recovered)
        assert journal.unfinished(folder) == []

        code, out, err = run("push", book, "--op", "create", "--url", url, "--username", "demo")
        assert code == 0, out + err
        final = read_sheet(book)
        assert len(final) == n and {r["Result"] for r in final} == {"Created"}
        with Client(url, username="demo", password="demo") as client:
            stored = list(client.query("SELECT Id, FileName FROM INVOICE"))
        assert len(stored) == n == len({r["FileName"] for r in stored})
        by_file = {r["FileName"]: r["Id"] for r in stored}
        assert all(by_file[r["FileName"]] == r["Id"] for r in final)
    finally:
        server.terminate()
        server.wait()


def _reverse_rows(path: Path) -> None:
    book = openpyxl.load_workbook(path)
    sheet = book.worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(min_row=2, values_only=True)]
    for offset, values in enumerate(reversed(rows)):
        for column, value in enumerate(values, start=1):
            sheet.cell(row=offset + 2, column=column, value=value)
    book.save(path)


def test_the_recover_summary_says_only_what_it_found() -> None:
    layout = read_layout(["Id", "BillingProfileId"])
    marked = [RowResult(2, Outcome.CREATED, "76"), RowResult(3, Outcome.FAILED, None)]
    gone = (
        "1 row was edited or deleted since sent: row 4 (Id 77) (row numbers as sent); put each "
        "Id into the Id column of the row it belongs to, with Created in Result, so that it is "
        "not created again; check them in BillingPlatform"
    )
    counts = "2 rows: 1 created, 0 invalid, 1 failed"
    cases = [
        (recover.Recovery(layout, marked, []), counts),
        (recover.Recovery(layout, [], [4], {4: "77"}), gone),
        (recover.Recovery(layout, marked, [4], {4: "77"}), f"{counts}; {gone}"),
        (recover.Recovery(layout, [], []), "no row needed a status"),
    ]
    for recovery, said in cases:
        assert recovery.summary(Operation.CREATE) == said


def test_recover_finds_a_sent_row_moved_onto_where_an_invalid_row_was(tmp_path) -> None:
    """Found by the chaos histories (seeds 20 and 205): a push stopped (or its file was sorted
    while it ran), and the row it created now sits where an invalid row was; that invalid row's
    place must not hide it (it lost its Id, and the next push created it again)."""
    header = ["Id", "BillingProfileId", "DueDate", "Result", "Message"]
    made = {"BillingProfileId": "101", "DueDate": "2026-03-31"}
    log = journal.Journal(
        tmp_path / "journal",
        workbook=tmp_path / "book.xlsx",
        sheet="Invoices",
        op=Operation.CREATE,
        external_id="Id",
        target=journal.Target("http://127.0.0.1:1/sandbox"),
    )
    log.planned({2: journal.record_hash(made), 3: None})
    log.sending([2], dt.datetime.now(dt.UTC))
    log.answered([RowResult(2, Outcome.CREATED, "77")])  # then the process was killed
    run = journal.load(log.path)
    assert run is not None
    inserted = [None, "102", "2026-04-30", None, None]
    moved = [None, "101", "2026-03-31", None, None]
    invalid = [None, "103", "31/02/2026", None, None]
    grid = Grid(header, [(2, inserted), (3, moved), (4, invalid)])
    recovery = recover.recover(run, grid, None)
    assert recovery.unplaced == []
    [result] = [r for r in recovery.results if r.row == 3]
    assert (result.outcome, result.id) == (Outcome.CREATED, "77")
