"""How the lookup of a lost create judges what it finds, piece by piece and without a server.

The end-to-end cases (a server that stores late, other users' twins, a token login) are in
``test_lookup.py``; these pin each rule exactly, fast enough for mutation testing.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bpxl.core import fields
from bpxl.core import reconcile as lookup
from bpxl.core.client import Client
from bpxl.core.reconcile import Finding, Lost, Verdict
from bpxl.core.results import Operation
from bpxl.core.spelling import comparable, values_key

from .fake_billingplatform import FakeBillingPlatform, Plan

SENT = dt.datetime(2026, 3, 1, 10, 0, 0, tzinfo=dt.UTC)
CHECK = (
    "; push again later to look again, or check in BillingPlatform, then put the invoice's Id in "
    "the Id column and Created in Result, or clear Result to send the row again"
)


def unsure(reason: str) -> Finding:
    return Finding(Verdict.UNSURE, None, f"Sent, but no answer came, and {reason}{CHECK}")


def test_the_wait_between_lookups_comes_from_the_environment(monkeypatch) -> None:
    for given, wait in [
        (None, 5.0),
        ("", 5.0),
        ("0.5", 0.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("soon", 5.0),
    ]:
        if given is None:
            monkeypatch.delenv(lookup.LOOKUP_WAIT_ENV, raising=False)
        else:
            monkeypatch.setenv(lookup.LOOKUP_WAIT_ENV, given)
        assert lookup.lookup_wait() == wait, given


def test_the_window_starts_two_seconds_before_the_send_in_utc(time_zone: str) -> None:
    """Whatever the computer's own time zone (the fixture sets it east, then west, of UTC)."""
    tokyo = dt.timezone(dt.timedelta(hours=9))
    assert lookup.created_since(SENT) == "2026-03-01T09:59:58"
    assert lookup.created_since(SENT.astimezone(tokyo)) == "2026-03-01T09:59:58"
    assert lookup._clock_passed(None, SENT) and lookup._clock_passed(SENT, None)
    assert lookup._clock_passed(SENT, SENT)
    assert not lookup._clock_passed(SENT - dt.timedelta(seconds=1), SENT)


def test_an_invoice_is_in_the_window_from_two_seconds_before_the_send() -> None:
    def made(created: object) -> bool:
        return lookup._created_after({"Created": created}, SENT)

    assert made("2026-03-01T09:59:58") and made("2026-03-01T09:59:58Z")
    assert not made("2026-03-01T09:59:57.999")
    assert made("2026-03-01T18:59:58+09:00") and not made("2026-03-01T18:59:57+09:00")
    assert made(" 2026-03-01T10:00:00 ")
    assert made("not a time") and made(None)  # unreadable: counts as in, it blocks "absent"
    assert lookup._created_after({}, None) and lookup._created_after({"Created": "x"}, None)
    assert not lookup._created_after(
        {"created": "2026-03-01T10:00:00", "Created": "2020-01-01T00:00:00"}, SENT
    )


def test_why_a_single_match_cannot_be_taken() -> None:
    assert lookup._doubt(True, SENT, "5") == "it may be another row's"
    assert lookup._doubt(False, None, "5") == (
        "it may be older than this send (when the row was sent is not known)"
    )
    assert lookup._doubt(False, SENT, None) == (
        "bpxl does not know which user it is logged in as (a token login), so it may be "
        "someone else's"
    )
    assert lookup._doubt(False, SENT, "5") == ""


def test_the_verdict_from_the_ids_found() -> None:
    assert lookup._judge([], [2], "") == Finding(Verdict.ABSENT)
    assert lookup._judge([], [2, 3], "it may be another row's") == Finding(Verdict.ABSENT)
    assert lookup._judge(["7"], [2], "") == Finding(Verdict.FOUND, "7")
    assert lookup._judge(["7"], [2], "it may be another row's") == unsure(
        "invoice Id 7 has this row's values, but it may be another row's"
    )
    assert lookup._judge(["7", "8"], [2], "") == unsure(
        "2 invoices have this row's values (Id 7, 8)"
    )
    six = [str(i) for i in range(1, 7)]
    assert lookup._judge(six, [2], "") == unsure(
        "6 invoices have this row's values (Id 1, 2, 3, 4, 5 ...)"
    )
    assert lookup._judge(six[:5], [2], "") == unsure(
        "5 invoices have this row's values (Id 1, 2, 3, 4, 5)"
    )
    assert lookup._judge(["7"], [4, 9], "") == unsure(
        "rows 4, 9 hold the same values and BillingPlatform has 1 such invoice(s) (Id 7), so "
        "which row was created cannot be told"
    )


def test_values_are_compared_in_one_spelling() -> None:
    by = fields.BY_NAME
    assert comparable(by["DueDate"], "2026-03-01T00:00:00Z") == "2026-03-01"
    assert comparable(by["Created"], " 2026-03-01T10:11:12.000Z ") == "2026-03-01T10:11:12"
    assert comparable(by["BillableFlag"], "TRUE") == "1"
    assert comparable(by["BillableFlag"], "false") == "0"
    assert comparable(by["BillableFlag"], "1") == "1"
    assert comparable(by["AgingInterval"], "30.0") == "30"
    assert comparable(by["AgingInterval"], 30) == "30"
    assert comparable(by["BillingProfileId"], "0101") == "101"
    assert comparable(by["AgingInterval"], "n/a") == "n/a"
    assert comparable(by["AgingInterval"], "") == ""
    assert comparable(by["FileName"], " a.pdf ") == "a.pdf"
    assert comparable(by["FileName"], "0101") == "0101"  # text is not a number
    assert comparable(None, 12.50) == "12.5"
    assert comparable(by["FileName"], None) == ""
    record = {"Id": "9", "FileName": "a.pdf", "AgingInterval": "30.0"}
    assert values_key(record, fields.BUILT_IN) == (("AgingInterval", "30"), ("FileName", "a.pdf"))
    assert values_key(record, fields.BUILT_IN, ["FileName", "Status"]) == (
        ("FileName", "a.pdf"),
        ("Status", ""),
    )
    assert lookup.quote("O'Brien") == "'O''Brien'"


def invoice(number: int, user: str = "5", created: str = "2026-03-01T10:00:01", **values: object):
    return {"Id": str(number), "CreatedUserId": user, "Created": created, **values}


def test_judging_all_rows_against_the_invoices_found() -> None:
    rows = {
        2: Lost({"BillingProfileId": "101", "FileName": "a.pdf"}, SENT),
        3: Lost({"BillingProfileId": "101", "FileName": "b.pdf"}, SENT),
        4: Lost({"BillingProfileId": "101", "FileName": "c.pdf"}, SENT),
        5: Lost({"BillingProfileId": "101", "FileName": "d.pdf"}, SENT),
        6: Lost({"BillingProfileId": "101", "FileName": "e.pdf"}, None),
    }
    found = [
        invoice(11, BillingProfileId="101", FileName="a.pdf"),
        invoice(12, user="6", BillingProfileId="101", FileName="b.pdf"),  # another user's
        invoice(13, BillingProfileId="101", FileName="c.pdf"),  # claimed by another row
        invoice(14, created="2026-03-01T09:00:00", BillingProfileId="101", FileName="d.pdf"),
        invoice(15, BillingProfileId="101", FileName="e.pdf"),
        invoice(0, BillingProfileId="101", FileName="b.pdf"),  # not an invoice Id
    ]
    got = lookup._judge_all(rows, found, {"13"}, "5", fields.BUILT_IN)
    assert got == {
        2: Finding(Verdict.FOUND, "11"),
        3: Finding(Verdict.ABSENT),
        4: Finding(Verdict.ABSENT),
        5: Finding(Verdict.ABSENT),  # made before the send: an older invoice
        6: unsure(
            "invoice Id 15 has this row's values, but it may be older than this send (when the "
            "row was sent is not known)"
        ),
    }
    token = lookup._judge_all({2: rows[2], 3: rows[3]}, found, set(), None, fields.BUILT_IN)
    assert token[3] == unsure(
        "invoice Id 12 has this row's values, but bpxl does not know which user it is logged in "
        "as (a token login), so it may be someone else's"
    )


def test_an_invoice_matching_rows_of_two_groups_is_nobodys() -> None:
    rows = {
        2: Lost({"BillingProfileId": "101", "FileName": "a.pdf"}, SENT),
        3: Lost({"BillingProfileId": "101"}, SENT),  # fewer fields: matches the same invoice
    }
    found = [invoice(11, BillingProfileId="101", FileName="a.pdf")]
    got = lookup._judge_all(rows, found, set(), "5", fields.BUILT_IN)
    shared = "invoice Id 11 has this row's values, but it may be another row's"
    assert got == {2: unsure(shared), 3: unsure(shared)}


# -- against a server: the two looks, the server's clock, the queries ---------------------------

RECORD = {"BillingProfileId": "101", "FileName": "a.pdf", "AgingInterval": 30}
PAGE = " OFFSET 0 ROWS FETCH NEXT 10000 ROWS ONLY"


@contextmanager
def server() -> Iterator[tuple[FakeBillingPlatform, Client]]:
    fake = FakeBillingPlatform(lambda n, _: Plan())
    with fake.running(), Client(fake.url, username="demo", password="demo") as client:
        client.login()
        yield fake, client


def stored(fake: FakeBillingPlatform, *records: dict[str, object], user: int = 1) -> list[str]:
    return [str(item["Id"]) for item in fake.store.write(Operation.CREATE, list(records), user)]


def a_while_ago() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)


def test_a_create_found_at_the_first_look_is_not_looked_for_again(monkeypatch) -> None:
    monkeypatch.setenv(lookup.LOOKUP_WAIT_ENV, "5")
    with server() as (fake, client):
        other = {**RECORD, "FileName": "b.pdf"}
        made = stored(fake, RECORD, other)
        rows = {2: Lost(RECORD, a_while_ago()), 3: Lost(other, a_while_ago())}
        found = lookup.reconcile(client, rows)
    assert found == {2: Finding(Verdict.FOUND, made[0]), 3: Finding(Verdict.FOUND, made[1])}
    assert len(fake.queries) == 1


def test_nothing_found_twice_a_wait_apart_is_absent(monkeypatch) -> None:
    monkeypatch.setenv(lookup.LOOKUP_WAIT_ENV, "0.3")
    with server() as (fake, client):
        started = time.monotonic()
        found = lookup.reconcile(client, {2: Lost(RECORD, a_while_ago())})
        waited = time.monotonic() - started
    assert found == {2: Finding(Verdict.ABSENT)}
    assert len(fake.queries) == 2 and waited >= 0.3


def test_a_create_stored_between_the_two_looks_is_found_by_the_second(monkeypatch) -> None:
    monkeypatch.setenv(lookup.LOOKUP_WAIT_ENV, "0")
    made: list[str] = []
    with server() as (fake, client):
        other = {**RECORD, "FileName": "b.pdf"}
        [first] = stored(fake, other)
        fake.on_query = lambda n, _: made.extend(stored(fake, RECORD)) if n == 2 else None
        rows = {2: Lost(RECORD, a_while_ago()), 3: Lost(other, a_while_ago())}
        found = lookup.reconcile(client, rows)
    assert found == {2: Finding(Verdict.FOUND, made[0]), 3: Finding(Verdict.FOUND, first)}
    assert len(fake.queries) == 2  # only the absent row is looked for again


def test_nothing_found_while_the_servers_clock_is_behind_the_send_proves_nothing(
    monkeypatch,
) -> None:
    """The second look must see the server's clock past the send: a Date behind it (a server
    whose clock lags, or a send stamped by a clock ahead) leaves the row Unknown."""
    monkeypatch.setenv(lookup.LOOKUP_WAIT_ENV, "0")
    now = time.time()
    with server() as (fake, client):  # the login's Date set the clock: now
        fake.clock = lambda: now - 60
        sent = dt.datetime.fromtimestamp(now - 30, dt.UTC)
        found = lookup.reconcile(client, {2: Lost(RECORD, sent)})
        passed = lookup.reconcile(client, {2: Lost(RECORD, sent - dt.timedelta(seconds=31))})
    assert found == {2: unsure("BillingPlatform's clock had not yet passed the time it was sent")}
    assert passed == {2: Finding(Verdict.ABSENT)}


def test_the_second_look_waits_for_the_servers_clock_to_pass_the_send(monkeypatch) -> None:
    monkeypatch.setenv(lookup.LOOKUP_WAIT_ENV, "0")
    with server() as (_, client):
        sent = client.server_now() + dt.timedelta(seconds=0.2)
        started = time.monotonic()
        other = {**RECORD, "FileName": "b.pdf"}
        found = lookup.reconcile(client, {2: Lost(RECORD, sent), 3: Lost(other, a_while_ago())})
        waited = time.monotonic() - started
        monkeypatch.setattr(lookup, "_LONGEST_CLOCK_WAIT_S", 0.3)
        later = client.server_now() + dt.timedelta(hours=1)
        started = time.monotonic()
        gave_up = lookup.reconcile(client, {2: Lost(RECORD, later)})
        capped = time.monotonic() - started
    # a whole second more than the send: a Date header counts whole seconds
    assert found == {2: Finding(Verdict.ABSENT), 3: Finding(Verdict.ABSENT)}  # the latest send
    assert waited >= 1.1
    assert gave_up == {2: unsure("BillingPlatform's clock had not yet passed the time it was sent")}
    assert 0.3 <= capped < 30  # not the hour to that send time: the cap


def test_a_failed_lookup_leaves_every_row_unsure(monkeypatch) -> None:
    monkeypatch.setenv(lookup.LOOKUP_WAIT_ENV, "0")
    with server() as (fake, client):
        fake.on_query = lambda n, _: 400
        rows = {2: Lost(RECORD, a_while_ago()), 3: Lost({"FileName": "x"}, None)}
        found = lookup.reconcile(client, rows)
        fake.on_query = lambda n, _: 400 if n > 2 else None
        second = lookup.reconcile(client, {2: Lost(RECORD, a_while_ago())})
    failed = unsure(
        "looking it up in BillingPlatform failed (BillingPlatform refused the query (HTTP 400: "
        "Query refused).)"
    )
    assert found == {2: failed, 3: failed} and second == {2: failed}


def test_a_row_with_neither_send_time_nor_profile_cannot_be_looked_up(monkeypatch) -> None:
    monkeypatch.setenv(lookup.LOOKUP_WAIT_ENV, "0")
    with server() as (fake, client):
        [made] = stored(fake, RECORD)
        rows = {
            2: Lost({"FileName": "a.pdf"}, None),
            3: Lost(RECORD, None),
            4: Lost({**RECORD, "FileName": "b.pdf"}, None),
        }
        found = lookup.reconcile(client, rows)
    assert found == {
        2: unsure(
            "the time it was sent is not known and the row has no BillingProfileId to look it up by"
        ),
        3: unsure(
            f"invoice Id {made} has this row's values, but it may be older than this send (when "
            "the row was sent is not known)"
        ),
        4: Finding(Verdict.ABSENT),
    }
    assert fake.queries[0] == (
        "SELECT Id, Created, CreatedUserId, AgingInterval, BillingProfileId, FileName FROM "
        "INVOICE WHERE CreatedUserId = 1 AND BillingProfileId IN ('101')" + PAGE
    )


def test_the_lookup_asks_for_our_invoices_in_the_window_by_profile() -> None:
    sent = a_while_ago()
    with server() as (fake, client):
        later = sent + dt.timedelta(seconds=5)
        lost = [
            Lost({"BillingProfileId": "102", "FileName": "b"}, later),
            Lost({"BillingProfileId": "O'Neil", "Status": "x"}, sent),
        ]
        lookup._candidates(client, lost, "7")
        lookup._candidates(client, [Lost({"FileName": "b"}, sent)], None)
        many = [Lost({"BillingProfileId": str(1000 + i)}, sent) for i in range(201)]
        lookup._candidates(client, many, "7")
        some = [Lost({"BillingProfileId": "5", "Id": "3"}, None), Lost({"FileName": "z"}, sent)]
        lookup._candidates(client, some, "7")
        lookup._candidates(client, [Lost({"FileName": "z"}, None)], None)
    since = lookup.created_since(sent)
    assert fake.queries[0] == (
        "SELECT Id, Created, CreatedUserId, BillingProfileId, FileName, Status FROM INVOICE "
        f"WHERE CreatedUserId = 7 AND Created >= '{since}' AND BillingProfileId IN ('102', "
        "'O''Neil')" + PAGE
    )
    assert fake.queries[1] == (
        f"SELECT Id, Created, CreatedUserId, FileName FROM INVOICE WHERE Created >= '{since}'"
        + PAGE
    )
    assert [q.count("', '") + 1 for q in fake.queries[2:4]] == [200, 1]
    assert "IN ('1000', " in fake.queries[2] and "IN ('1200')" in fake.queries[3]
    assert fake.queries[4] == (
        "SELECT Id, Created, CreatedUserId, BillingProfileId, FileName FROM INVOICE WHERE "
        "CreatedUserId = 7" + PAGE
    )
    assert fake.queries[5] == "SELECT Id, Created, CreatedUserId, FileName FROM INVOICE" + PAGE
    assert len(fake.queries) == 6


def test_twins_are_our_later_invoices_with_the_rows_values_shared_out_in_turn() -> None:
    sent = a_while_ago()
    with server() as (fake, client):
        twin = {"BillingProfileId": "101", "FileName": "t.pdf"}
        kept = stored(fake, twin, twin)  # the rows' own, owned
        extra = stored(fake, twin, twin, twin)
        stored(fake, twin, user=2)  # another user's: never called a duplicate
        alone = {"BillingProfileId": "101", "FileName": "alone.pdf", "AgingInterval": 4}
        stored(fake, {**alone, "AgingInterval": 5})  # another value
        sent_after = {"BillingProfileId": "101", "FileName": "after.pdf"}
        stored(fake, sent_after)  # made before that row's first send: not its twin
        later = sent + dt.timedelta(hours=1)  # the twins count from the group's first send
        rows = {
            2: Lost(twin, sent),
            3: Lost(twin, later),
            4: Lost(alone, sent),
            5: Lost(sent_after, later),
        }
        found = lookup.twins(client, rows, kept)
        none = lookup.twins(client, rows, [*kept, *extra])
        future = {2: Lost(twin, sent + dt.timedelta(hours=1))}
        after = lookup.twins(client, future, kept)
        undated = lookup.twins(client, {2: Lost(twin, None)}, kept)
        fake.on_query = lambda n, _: 400
        failed = lookup.twins(client, rows, kept)
    assert found == {2: [extra[0], extra[2]], 3: [extra[1]]}
    assert none == {} and after == {} and undated == {} and failed == {}
    assert len(fake.queries) == 4  # the undated row is not looked up
    assert all("WHERE CreatedUserId = 1 AND Created >= " in q for q in fake.queries)


def test_twins_are_not_looked_for_without_knowing_the_user() -> None:
    fake = FakeBillingPlatform(lambda n, _: Plan())
    with fake.running(), Client(fake.url, token="t0ken") as client:
        twin = {"BillingProfileId": "101", "FileName": "t.pdf"}
        stored(fake, twin, twin)
        assert client.user_id is None
        assert lookup.twins(client, {2: Lost(twin, a_while_ago())}, []) == {}
    assert fake.queries == []


def test_the_slack_before_a_send_is_the_skew_learnt_or_else_a_guess() -> None:
    second = dt.timedelta(seconds=1)
    assert lookup.allowed_slack(None, checked=True) == dt.timedelta(minutes=15)
    assert lookup.allowed_slack(None, checked=False) == 2 * second
    # Created stamped 40 s before the Date headers said: that much earlier, and the margin.
    assert lookup.allowed_slack(-40 * second, checked=False) == 42 * second
    assert lookup.allowed_slack(-40 * second, checked=True) == 42 * second
    assert lookup.allowed_slack(25 * second, checked=True) == 2 * second  # never narrowed
    assert lookup.allowed_slack(dt.timedelta(), checked=True) == 2 * second


def test_the_skew_is_learnt_from_the_latest_answered_creates_in_one_query() -> None:
    with server() as (fake, client):
        early, late = stored(fake, RECORD, {**RECORD, "FileName": "b.pdf"})
        created = {
            str(r["Id"]): dt.datetime.fromisoformat(str(r["Created"])).replace(tzinfo=dt.UTC)
            for r in client.query(f"SELECT Id, Created FROM INVOICE WHERE Id IN ({early}, {late})")
        }
        asked = len(fake.queries)
        sent = {early: created[early] - dt.timedelta(seconds=9)}  # stamped 9 s after its send
        sent[late] = created[late] + dt.timedelta(seconds=4)  # stamped 4 s before its send
        assert lookup.learn_skew(client, sent) == dt.timedelta(seconds=-4)
        assert fake.queries[asked:] == [  # in the order they were sent
            f"SELECT Id, Created FROM INVOICE WHERE Id IN ({early}, {late}){PAGE}"
        ]
        # Only the 50 sent last are asked about.
        after = {str(900_000 + n): sent[late] + dt.timedelta(seconds=n) for n in range(1, 51)}
        assert lookup.learn_skew(client, {**sent, **after}) is None  # none of those is there
        assert fake.queries[-1] == (
            f"SELECT Id, Created FROM INVOICE WHERE Id IN ({', '.join(after)}){PAGE}"
        )
        assert lookup.learn_skew(client, {}) is None
