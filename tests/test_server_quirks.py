"""What a real server may do that our sandbox does not: answer in another order, spell values
its own way, run its clocks apart. Each test puts a small misbehaving server
(``fake_billingplatform``) in front of the sandbox's store and pushes as a user does."""

from __future__ import annotations

import json
import time
import unicodedata
from collections import Counter

import pytest

from bpxl.core import duplicates
from bpxl.core.client import Client
from bpxl.core.push import Grid, PushOptions, push
from bpxl.core.results import Operation, Outcome

from .fake_billingplatform import FakeBillingPlatform, Plan

HEADER = ["Id", "BillingProfileId", "FileName", "AgingInterval", "Result", "Message"]


def _client(url: str) -> Client:
    return Client(url, username="demo", password="demo")


def test_upsert_answers_in_another_order_put_each_status_on_its_own_row() -> None:
    """Three invoices upserted on Id; the first row is refused (profile 106 does not exist), and
    the server answers with its items rotated: the refusal second, the saved rows first and
    last. Each row must get its own fate: no row says Upserted for a refusal, none Failed for
    a save."""

    def rotated(items: list[dict[str, str]], _: dict[str, str]) -> str:
        items = [*items]
        if len(items) == 3:
            items = items[1:2] + items[0:1] + items[2:]
        return json.dumps({"upsertResponse": items})

    fake = FakeBillingPlatform(lambda n, _: Plan(body=rotated) if n > 1 else Plan())
    with fake.running():
        made = [(i + 2, [None, "101", f"r{i}.pdf", i, None, None]) for i in range(3)]
        with _client(fake.url) as client:
            created = push(Grid(HEADER, made), client, PushOptions(Operation.CREATE))
        ids = [r.id for r in created.results]
        rows = [
            (2, [ids[0], "106", "r0.pdf", 10, None, None]),  # refused: no profile 106
            (3, [ids[1], "102", "r1.pdf", 11, None, None]),
            (4, [ids[2], "103", "r2.pdf", 12, None, None]),
        ]
        with _client(fake.url) as client:
            report = push(Grid(HEADER, rows), client, PushOptions(Operation.UPSERT))
        stored = {r["Id"]: r for r in fake.store.query("SELECT Id, BillingProfileId FROM INVOICE")}
    by_row = {r.row: r for r in report.results}
    assert [stored[i]["BillingProfileId"] for i in ids] == ["101", "102", "103"]
    assert by_row[3].outcome is Outcome.UPSERTED and by_row[3].id == ids[1]
    assert by_row[4].outcome is Outcome.UPSERTED and by_row[4].id == ids[2]
    # The refused row's answer named nothing: Unknown, so sent again (an upsert may be), alone,
    # and then refused in its own right.
    refused = by_row[2]
    assert refused.outcome is Outcome.FAILED and refused.id is None
    assert "106 does not exist" in refused.messages[0]
    assert [len(w) for w in fake.writes] == [3, 3, 1] and fake.writes[2][0]["Id"] == ids[0]
    assert Counter(r.outcome for r in report.results)[Outcome.UPSERTED] == 2


QUIRKY = ["Id", "BillingProfileId", "FileName", "MoveInvoiceDescription", "Disputed", "DueDate"]
QUIRKY += ["AgingInterval", "Result", "Message"]


def _respelled(record: dict[str, str]) -> dict[str, str]:
    """Text in NFD with Windows line ends and a trailing space, flags as Yes/No, dates as
    date-times, numbers with a decimal point: the same values, spelled as another server may."""
    out = dict(record)
    for name, value in record.items():
        if name in ("FileName", "MoveInvoiceDescription") and value:
            out[name] = unicodedata.normalize("NFD", value).replace("\n", "\r\n") + " "
        elif name == "Disputed" and value not in (None, ""):
            out[name] = "Yes" if str(value) == "1" else "No"
        elif name == "DueDate" and value:
            out[name] = f"{value}T00:00:00.000Z"
        elif name == "AgingInterval" and value not in (None, ""):
            out[name] = f"{value}.0"
    return out


def test_a_lost_create_is_found_though_the_server_spells_its_values_otherwise(
    monkeypatch,
) -> None:
    """The create is stored but its answer lost; the server's query answers spell the row's
    text, flag, date and number otherwise than they were sent. The lookup must still find it:
    one row, one invoice."""
    monkeypatch.setenv("BPXL_LOOKUP_WAIT", "0.3")
    fake = FakeBillingPlatform(lambda n, _: Plan(status=0) if n == 1 else Plan())
    fake.respell = _respelled
    text = unicodedata.normalize("NFC", "Café Zoë\nsecond line")
    rows = [(2, [None, "101", "Crème brûlée.pdf", text, "1", "2026-03-04", 7, None, None])]
    with fake.running():
        with _client(fake.url) as client:
            report = push(Grid(QUIRKY, rows), client, PushOptions(Operation.CREATE))
        ids = fake.ids()
    [result] = report.results
    assert len(ids) == 1 and len(fake.writes) == 1
    assert result.outcome is Outcome.CREATED and result.id == ids[0]
    assert "answer was lost" in result.messages[0]


@pytest.mark.parametrize("minutes", [-10, -5, -1, 0, 1, 5, 10])
def test_lost_creates_are_found_whatever_the_skew_between_date_and_created(
    monkeypatch, minutes: int
) -> None:
    """The server's Date header runs ``minutes`` ahead of its Created stamps (behind when
    negative); the one batch's answer is lost but its two rows stored. Nothing learnt yet (no
    create answered): the rows the duplicate check found free allow minutes of skew."""
    monkeypatch.setenv("BPXL_LOOKUP_WAIT", "0.3")
    fake = FakeBillingPlatform(lambda n, _: Plan(status=0) if n == 1 else Plan())
    fake.clock = lambda: time.time() + 60 * minutes
    rows = [(n, [None, "101", f"skew-{n}.pdf", n, None, None]) for n in (2, 3)]
    with fake.running():
        with _client(fake.url) as client:
            report = push(Grid(HEADER, rows), client, PushOptions(Operation.CREATE))
        ids = fake.ids()
    assert len(ids) == 2 and len(fake.writes) == 1
    assert [r.outcome for r in report.results] == [Outcome.CREATED] * 2
    assert sorted(str(r.id) for r in report.results) == sorted(ids)


def test_the_skew_is_learnt_from_the_runs_own_answered_creates(monkeypatch) -> None:
    """Date 10 minutes ahead of Created, and --create-anyway (no duplicate check, so nothing
    allows minutes): the first row's create is answered, the second's lost. The first tells
    how far Created runs behind Date, and the lookup finds the second."""
    monkeypatch.setenv("BPXL_LOOKUP_WAIT", "0.3")
    fake = FakeBillingPlatform(lambda n, _: Plan(status=0) if n == 2 else Plan())
    fake.clock = lambda: time.time() + 600
    rows = [(n, [None, "101", f"learn-{n}.pdf", n, None, None]) for n in (2, 3)]
    options = PushOptions(Operation.CREATE, batch_size=1, concurrency=1, create_anyway=True)
    with fake.running():
        with _client(fake.url) as client:
            report = push(Grid(HEADER, rows), client, options)
        ids = fake.ids()
    assert len(ids) == 2 and len(fake.writes) == 2
    assert [r.outcome for r in report.results] == [Outcome.CREATED] * 2
    assert "answer was lost" in report.results[1].messages[0]
    assert any("WHERE Id IN (" in q for q in fake.queries)  # the skew, learnt in one query


def test_a_skewed_clock_never_claims_another_users_invoice(monkeypatch) -> None:
    """Minutes of allowance, but the CreatedUserId rule stays: a colleague (user 2) makes an
    invoice with the row's values while our create's answer is lost (and ours never stored).
    It is not taken for the row's (no Id); before sending the row again, the duplicate check
    finds it: Exists, naming it. One invoice."""
    monkeypatch.setenv("BPXL_LOOKUP_WAIT", "0.3")
    record = {"BillingProfileId": "101", "FileName": "theirs.pdf", "AgingInterval": 4}

    def colleague(n: int, _: list[dict[str, object]]) -> Plan:
        if n > 1:
            return Plan()
        fake.store.write(Operation.CREATE, [record], 2)
        return Plan(store=False, status=0)

    fake = FakeBillingPlatform(colleague)
    fake.clock = lambda: time.time() + 600
    with fake.running():
        rows = [(2, [None, "101", "theirs.pdf", 4, None, None])]
        with _client(fake.url) as client:
            report = push(Grid(HEADER, rows), client, PushOptions(Operation.CREATE))
        ids = fake.ids()
    [result] = report.results
    assert len(ids) == 1 and len(fake.writes) == 1
    assert result.outcome is Outcome.EXISTS and result.id is None
    assert f"Id {ids[0]}, created by user 2 on " in result.messages[0]


def test_the_duplicate_check_asks_one_narrow_query_per_batch_and_sees_through_spelling(
    monkeypatch,
) -> None:
    """Invoices a copy of the sheet made (by user 2) are found though the server respells them;
    on a tenant with more invoices in the window than one query reads (here 2), one query per
    batch, narrowed to the batch's profiles and its most distinct field."""
    monkeypatch.setattr(duplicates, "ALL_AT_ONCE", 2)
    fake = FakeBillingPlatform(lambda n, _: Plan())
    made = [
        {"BillingProfileId": "101", "FileName": f"Café-{i}.pdf", "MoveInvoiceDescription": "a\nb"}
        for i in range(4)
    ]
    header = ["Id", "BillingProfileId", "FileName", "MoveInvoiceDescription", "Result", "Message"]
    rows = [(i + 2, [None, "101", f"Café-{i}.pdf", "a\nb", None, None]) for i in range(5)]
    with fake.running():
        fake.store.write(Operation.CREATE, made, 2)
        fake.respell = _respelled
        with _client(fake.url) as client:
            options = PushOptions(Operation.CREATE, batch_size=3)
            report = push(Grid(header, rows), client, options)
        checks = [q for q in fake.queries if "CreatedUserId, " in q and "Created >= '" in q]
    assert [r.outcome for r in report.results] == [Outcome.EXISTS] * 4 + [Outcome.CREATED]
    assert "FileName IN" not in checks[0] and "FETCH NEXT 3 ROWS" in checks[0]  # more than 2
    checks = checks[1:]  # read no further
    assert len(checks) == 2  # 5 rows in batches of 3
    assert all("BillingProfileId IN ('101')" in q for q in checks)  # (in either order)
    assert any("FileName IN ('Café-0.pdf', 'Café-1.pdf', 'Café-2.pdf')" in q for q in checks)
    assert any("FileName IN ('Café-3.pdf', 'Café-4.pdf')" in q for q in checks)
    assert "created by user 2 on " in report.results[0].messages[0]


def test_the_duplicate_check_of_a_quiet_tenant_is_one_query_for_the_whole_push() -> None:
    """With at most ``ALL_AT_ONCE`` invoices made in the window, one query reads them all for
    every batch of the push (BillingPlatform allows 15 requests a second: a query per batch
    doubled a push's requests), and finds the same invoices, respelled or not."""
    fake = FakeBillingPlatform(lambda n, _: Plan())
    made = [
        {"BillingProfileId": "101", "FileName": f"Café-{i}.pdf", "MoveInvoiceDescription": "a\nb"}
        for i in range(4)
    ]
    header = ["Id", "BillingProfileId", "FileName", "MoveInvoiceDescription", "Result", "Message"]
    rows = [(i + 2, [None, "101", f"Café-{i}.pdf", "a\nb", None, None]) for i in range(9)]
    with fake.running():
        fake.store.write(Operation.CREATE, made, 2)
        fake.respell = _respelled
        with _client(fake.url) as client:
            report = push(Grid(header, rows), client, PushOptions(Operation.CREATE, batch_size=2))
        checks = [q for q in fake.queries if "CreatedUserId, " in q and "Created >= '" in q]
    assert [r.outcome for r in report.results] == [Outcome.EXISTS] * 4 + [Outcome.CREATED] * 5
    assert len(checks) == 1 and "FileName IN" not in checks[0]
    assert "BillingProfileId IN ('101')" in checks[0]
    assert f"FETCH NEXT {duplicates.ALL_AT_ONCE + 1} ROWS" in checks[0]
