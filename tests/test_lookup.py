"""A lost create is looked up until bpxl is sure, and the lookup cannot be fooled: by a server
that stores late, by other users' identical invoices, by junk Ids, by one bad record in a batch.

Each case runs a real push against a small fake BillingPlatform (``fake_billingplatform``) or the
sandbox, then checks the invoices on the server: no duplicate, no foreign invoice claimed, every
row with a definite status.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import openpyxl
import pytest

from bpxl.core.client import Client
from bpxl.core.push import Grid, PushOptions, push
from bpxl.core.results import SUCCESS, Operation, Outcome
from bpxl.sandbox import FaultPlan
from bpxl.sandbox.faults import Fault

from .conftest import read_sheet, write_invoices
from .fake_billingplatform import FakeBillingPlatform, Plan

HEADER = ["Id", "BillingProfileId", "FileName", "AgingInterval", "Result", "Message"]


def grid(n: int, name: str = "inv") -> Grid:
    rows = [(i + 2, [None, str(101 + i % 5), f"{name}-{i}.pdf", i, None, None]) for i in range(n)]
    return Grid(HEADER, rows)


def create(
    url: str,
    rows: Grid,
    batch_size: int = 200,
    user: str = "demo",
    pw: str = "demo",
    anyway: bool = False,
):
    """A create push; ``anyway``: --create-anyway (no duplicate check: the lookup alone)."""
    options = PushOptions(Operation.CREATE, batch_size=batch_size, create_anyway=anyway)
    with Client(url, username=user, password=pw) as client:
        return push(rows, client, options)


def outcomes(report) -> Counter[str]:
    return Counter(r.outcome.value for r in report.results)


def test_a_server_still_storing_when_we_first_look_is_caught_by_the_second_look(
    monkeypatch,
) -> None:
    """The first create is answered by a dropped connection and stored 1.5 s later."""
    monkeypatch.setenv("BPXL_LOOKUP_WAIT", "2.5")
    fake = FakeBillingPlatform(lambda n, _: Plan(delay_s=1.5, status=0) if n == 1 else Plan())
    with fake.running():
        started = time.perf_counter()
        report = create(fake.url, grid(3))
        seconds = time.perf_counter() - started
    assert outcomes(report) == {"Created": 3} and len(fake.writes) == 1
    assert sorted(r.id for r in report.results) == sorted(fake.ids()) and len(fake.ids()) == 3
    assert all("answer was lost" in r.messages[0] for r in report.results)
    assert 2.5 <= seconds < 10


def test_a_504_whose_records_come_a_moment_later_is_found_not_resent(monkeypatch) -> None:
    monkeypatch.setenv("BPXL_LOOKUP_WAIT", "0.5")
    fake = FakeBillingPlatform(lambda n, _: Plan(delay_s=0.2, status=504))
    with fake.running():
        report = create(fake.url, grid(2))
    assert outcomes(report) == {"Created": 2} and len(fake.ids()) == 2
    assert len(fake.writes) == 1


def test_one_edited_unknown_row_leaves_the_others_their_window(tmp_path, make_sandbox, run) -> None:
    """All rows are left Unknown; one is edited; the rerun still finds the other seven."""
    down = make_sandbox(faults=["reset-after:1.0"])
    rows = [{"BillingProfileId": "101", "FileName": f"e-{i}.pdf"} for i in range(8)]
    book = write_invoices(tmp_path / "edited.xlsx", rows)
    connect = ["--url", down.url, "--username", "demo"]
    # --create-anyway: without it the duplicate check, which cannot get through, sends nothing
    assert run("push", book, "--op", "create", "--create-anyway", *connect)[0] == 1
    assert {r["Result"] for r in read_sheet(book)} == {"Unknown"}
    down.sandbox.config.faults.rates.clear()
    workbook = openpyxl.load_workbook(book)
    sheet = workbook.worksheets[0]
    column = [c.value for c in sheet[1]].index("FileName") + 1
    sheet.cell(row=5, column=column, value="edited.pdf")
    workbook.save(book)
    _, out, _ = run("push", book, "--op", "create", *connect)
    after = {r["_row"]: r for r in read_sheet(book)}
    found = [r for n, r in after.items() if n != 5]
    assert all(r["Result"] == "Created" and "earlier send" in r["Message"] for r in found), out
    assert len({r["Id"] for r in found}) == 7 and after[5]["Result"] in ("Created", "Unknown")


def test_other_users_identical_invoices_are_never_claimed(make_sandbox) -> None:
    """Three identical invoices by another user just before the push; the push's connection is
    dropped before anything is stored: its rows must get their own invoices."""
    running = make_sandbox(extra_users={"other": "other-pw"})
    twins = Grid(HEADER, [(i + 2, [None, "101", "same.pdf", 7, None, None]) for i in range(3)])
    foreign = create(running.url, twins, user="other", pw="other-pw")
    foreign_ids = {r.id for r in foreign.results}
    running.sandbox.config.faults = _FirstWriteDropped()
    mine = create(
        running.url, Grid(HEADER, [(2, [None, "101", "same.pdf", 7, None, None])]), anyway=True
    )
    [row] = mine.results
    assert row.outcome is Outcome.CREATED and row.id not in foreign_ids
    owners = {
        r["Id"]: r["CreatedUserId"]
        for r in running.sandbox.store.query("SELECT Id, CreatedUserId FROM INVOICE")
    }
    assert owners[str(row.id)] == "1" and len(owners) == 4


class _FirstWriteDropped(FaultPlan):
    """The first request after it is set drops the connection (before storing, by default);
    then all is well."""

    def __init__(self, fault: Fault = Fault.RESET_BEFORE) -> None:
        super().__init__()
        self.fault = fault
        self.used = False

    def draw(self) -> Fault:
        if self.used:
            return Fault.NONE
        self.used = True
        return self.fault


def test_invoices_made_before_the_push_by_us_are_not_candidates(sandbox) -> None:
    """Our own identical invoice from a moment before: the lost row still gets its own."""
    earlier = create(sandbox.url, grid(1)).results[0].id
    time.sleep(3.5)  # past the 2 s margin and the 1 s a Date header may lag
    sandbox.sandbox.config.faults = _FirstWriteDropped()
    [row] = create(sandbox.url, grid(1), anyway=True).results
    assert row.outcome is Outcome.CREATED and row.id != earlier
    assert sandbox.sandbox.store.count() == 2


JUNK = [" ", "null", 0, False, [], {}, "-1", None]


@pytest.mark.parametrize("junk", JUNK, ids=[json.dumps(j) for j in JUNK])
def test_junk_ids_are_looked_up_not_believed(junk: Any) -> None:
    def junk_ids(items: list[dict[str, str]], _: dict[str, str]) -> str:
        return json.dumps({"createResponse": [{**i, "Id": junk} for i in items]})

    fake = FakeBillingPlatform(lambda n, _: Plan(body=junk_ids))
    with fake.running():
        report = create(fake.url, grid(3))
    assert outcomes(report) == {"Created": 3} and len(fake.writes) == 1
    assert sorted(r.id for r in report.results) == sorted(fake.ids())


def test_one_id_for_three_rows_is_looked_up() -> None:
    def all_one(items: list[dict[str, str]], _: dict[str, str]) -> str:
        return json.dumps({"createResponse": [{**i, "Id": "1"} for i in items]})

    fake = FakeBillingPlatform(lambda n, _: Plan(body=all_one))
    with fake.running():
        report = create(fake.url, grid(3))
    assert outcomes(report) == {"Created": 3} and len({r.id for r in report.results}) == 3
    assert sorted(r.id for r in report.results) == sorted(fake.ids()) and len(fake.writes) == 1


def test_an_id_another_batch_already_got_is_not_believed() -> None:
    """Every answer says Id 1: the first row keeps it, the others are looked up."""

    def first_id(items: list[dict[str, str]], _: dict[str, str]) -> str:
        return json.dumps({"createResponse": [{**i, "Id": "1"} for i in items]})

    fake = FakeBillingPlatform(lambda n, _: Plan(body=first_id))
    with fake.running():
        report = create(fake.url, grid(3), batch_size=1)
    assert outcomes(report) == {"Created": 3} and len({r.id for r in report.results}) == 3
    assert sorted(r.id for r in report.results) == sorted(fake.ids()) and len(fake.writes) == 3


def _poisoned(n: int, records: list[dict[str, Any]]) -> Plan:
    """A 500 (echoing the request's headers) for any batch holding the poison record."""
    if any(r.get("FileName") == "poison.pdf" for r in records):
        return Plan(store=False, status=500, body=_echo_headers)
    return Plan()


def _echo_headers(_: list[dict[str, str]], headers: dict[str, str]) -> str:
    echoed = "; ".join(
        f"{k}: {v}" for k, v in sorted(headers.items(), key=lambda h: h[0] != "sessionid")
    )
    return json.dumps(
        {"errors": [{"error_code": "500", "error_text": f"NumberFormatException; {echoed}"}]}
    )


@pytest.mark.parametrize("op", [Operation.CREATE, Operation.UPDATE])
def test_one_bad_record_fails_only_its_row(op: Operation) -> None:
    fake = FakeBillingPlatform(_poisoned)
    with fake.running():
        rows = list(grid(15).rows)
        if op is Operation.UPDATE:  # the invoices exist; the update gives one a poison value
            made = create(fake.url, Grid(HEADER, rows))
            rows = [(n, [r.id, *v[1:]]) for (n, v), r in zip(rows, made.results, strict=True)]
            fake.writes.clear()
        rows[6] = (8, [rows[6][1][0], "101", "poison.pdf", 1, None, None])
        with Client(fake.url, username="demo", password="demo") as client:
            report = push(Grid(HEADER, rows), client, PushOptions(op, batch_size=15))
        sessions = list(fake.sessions)
    by_row = {r.row: r for r in report.results}
    bad = by_row.pop(8)
    assert bad.outcome is Outcome.FAILED and "Sent on its own" in bad.messages[0]
    assert "NumberFormatException" in bad.messages[0] and "[hidden]" in bad.messages[0]
    assert {r.outcome for r in by_row.values()} == {SUCCESS[op]}
    assert len(fake.ids()) == 14 + (op is Operation.UPDATE)  # nothing twice, the bad one not made
    # Halving: 15 -> 8 + 7 -> 4 + 4 -> 2 + 2 -> 1 + 1: a handful of requests, not one per row.
    assert len(fake.writes) <= 10
    for session in sessions:
        assert all(session not in m for r in report.results for m in r.messages)


@pytest.mark.parametrize("status", [400, 408, 409])
def test_a_refusal_after_which_the_server_stored_is_looked_up(status: int) -> None:
    fake = FakeBillingPlatform(lambda n, _: Plan(status=status) if n == 1 else Plan())
    with fake.running():
        report = create(fake.url, grid(4))
    assert outcomes(report) == {"Created": 4} and len(fake.ids()) == 4 and len(fake.writes) == 1
    assert all("nothing was saved" not in m for r in report.results for m in r.messages)


def test_with_a_token_login_a_found_twin_is_reported_not_claimed(sandbox) -> None:
    """A given bearer token says nothing of the user: the invoice could be anyone's."""
    token, _ = sandbox.sandbox.login("demo", "demo") or ("", 0)
    with Client(sandbox.url, token=token) as client:
        client.login()  # the token is tried first
        sandbox.sandbox.config.faults = _FirstWriteDropped(Fault.RESET_AFTER)
        options = PushOptions(Operation.CREATE, create_anyway=True)
        [row] = push(grid(1), client, options).results
    assert row.outcome is Outcome.UNKNOWN and "token login" in row.messages[0]
    assert sandbox.sandbox.store.count() == 1


def test_sandbox_storing_late_under_load_makes_no_duplicate(
    tmp_path, make_sandbox, run, monkeypatch
) -> None:
    """A share of writes lose their answer (reset or 504) and store 1 s later; lookups meet the
    same faults. Every row ends definite, none twice; a rerun on a healed server settles all."""
    monkeypatch.setenv("BPXL_LOOKUP_WAIT", "1.5")
    busy = make_sandbox(faults=["reset-after:0.15", "504:0.15", "store-late:1s"], seed=5)
    rows = [{"BillingProfileId": str(101 + i % 5), "FileName": f"l-{i}.pdf"} for i in range(40)]
    book = write_invoices(tmp_path / "late.xlsx", rows)
    connect = ["--url", busy.url, "--username", "demo", "--batch-size", "5"]
    run("push", book, "--op", "create", *connect)
    first = read_sheet(book)
    assert {r["Result"] for r in first} <= {"Created", "Unknown"}
    assert any(w["status"] in (0, 504) for w in busy.writes()), "the seed loses some answers"
    busy.sandbox.config.faults.rates.clear()
    time.sleep(1.2)  # the last late stores land
    code, out, _ = run("push", book, "--op", "create", *connect)
    sheet = read_sheet(book)
    assert code == 0, out
    names = Counter(r["FileName"] for r in busy.sandbox.store.query("SELECT FileName FROM INVOICE"))
    assert set(names.values()) == {1} and len(names) == 40
    assert {r["Result"] for r in sheet} == {"Created"} and len({r["Id"] for r in sheet}) == 40


def test_a_server_failing_every_batch_is_not_split_down_to_single_rows() -> None:
    """A 500 for every request is an outage, not 40 bad records: no halving, a few resends."""
    fake = FakeBillingPlatform(lambda n, _: Plan(store=False, status=500))
    with fake.running():
        report = create(fake.url, grid(40), batch_size=5)
    assert outcomes(report) == {"Failed": 40} and fake.ids() == []
    assert "Not saved" in report.results[0].messages[0]
    assert len(fake.writes) == 8 * 4  # the first send and three resends, in the same batches


def test_a_first_send_stored_after_the_lookups_is_named_on_its_row(
    tmp_path, make_sandbox, run, monkeypatch
) -> None:
    """A server that stores later than the lookup wait fools the two lookups, and the row is
    sent again: the last lookup finds the second invoice, the row names both Ids and which one
    to delete, and the summary counts it."""
    monkeypatch.setenv("BPXL_LOOKUP_WAIT", "1.5")  # fooled by a store 2 s late; the last lookup
    late = make_sandbox(faults=["reset-after:0.3", "store-late:2s"], seed=3)  # waits 3 s
    rows = [{"BillingProfileId": str(101 + i % 5), "FileName": f"t-{i}.pdf"} for i in range(40)]
    book = write_invoices(tmp_path / "twins.xlsx", rows)
    connect = ["--url", late.url, "--username", "demo", "--batch-size", "5"]
    _, out, _ = run("push", book, "--op", "create", *connect)
    time.sleep(1)  # a late store after the last lookup would be counted, not flagged
    sheet = read_sheet(book)
    ids: dict[str, list[str]] = {}
    for invoice in late.sandbox.store.query("SELECT Id, FileName FROM INVOICE"):
        ids.setdefault(invoice["FileName"], []).append(str(invoice["Id"]))
    twice = {name: found for name, found in ids.items() if len(found) > 1}
    assert twice, "the seed makes some rows twice"
    flagged = [r for r in sheet if "stored late" in (r["Message"] or "")]
    assert {r["FileName"] for r in flagged} == set(twice)
    for row in flagged:
        [other] = [i for i in twice[row["FileName"]] if i != str(row["Id"])]
        assert row["Message"].endswith(
            f"BillingPlatform holds 2 invoices for this row: Id {row['Id']} (kept in the Id "
            f"column) and Id {other}. The first send was stored late, after bpxl had looked for "
            f"it and sent the row again; delete that invoice ({other}) in BillingPlatform"
        )
    count = len(flagged)
    plural = "rows" if count > 1 else "row"
    assert f"({count} {plural} with a second invoice in BillingPlatform: see Message)" in out
