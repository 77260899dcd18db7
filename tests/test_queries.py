"""The round trip's queries, one rule at a time on the fake server: what SQL goes out (the user's
condition kept in brackets, Ids 500 a query and only real Ids), and what the stamps say (a change
since the pull names who made it and when; an invoice no longer there is said so)."""

from __future__ import annotations

import datetime as dt

import pytest

from bpxl.core.client import Client
from bpxl.core.roundtrip import queries

from .fake_billingplatform import FakeBillingPlatform, Plan

FIELDS = "SELECT Id, Updated, Status FROM INVOICE"


@pytest.fixture
def fake() -> FakeBillingPlatform:
    return FakeBillingPlatform(lambda n, _: Plan())


def made(fake: FakeBillingPlatform, count: int) -> tuple[Client, list[str]]:
    client = Client(fake.url, username="u", password="p")
    records = [{"BillingProfileId": "101", "Status": "Pending", "FileName": f"{n}.pdf"}
               for n in range(count)]  # fmt: skip
    return client, [r.id or "" for r in client.create(records)]


def asked(fake: FakeBillingPlatform) -> list[str]:
    """The queries' SQL without the paging clause the client adds."""
    return [sql.split(" OFFSET ")[0] for sql in fake.queries]


def test_a_condition_is_asked_in_brackets_and_no_condition_asks_all(fake) -> None:
    with fake.running():
        client, ids = made(fake, 2)
        found = list(queries.query(client, ["Status", "Id"], f"Id = '{ids[0]}' OR Id = 'x'"))
        assert [r["Id"] for r in found] == [ids[0]] and set(found[0]) == {"Id", "Updated", "Status"}
        assert len(list(queries.query(client, ["Status"]))) == 2
        client.close()
    assert asked(fake) == [f"{FIELDS} WHERE (Id = '{ids[0]}' OR Id = 'x')", FIELDS]


def test_only_real_ids_are_asked(fake) -> None:
    """An Id cell may hold anything: only digits go into the SQL (no quote can break out), and
    a list with no real Id asks nothing."""
    with fake.running():
        client, ids = made(fake, 2)
        wanted = [ids[0], "1' OR '1'='1", "", "DRAFT-1", ids[1]]
        assert sorted(r["Id"] for r in queries.query(client, [], ids=wanted)) == sorted(ids)
        assert asked(fake) == [
            f"SELECT Id, Updated FROM INVOICE WHERE Id IN ('{ids[0]}', '{ids[1]}')"
        ]
        fake.queries.clear()
        assert list(queries.query(client, [], ids=["DRAFT-1", "x"])) == []
        assert list(queries.query(client, [], ids=[])) == []
        client.close()
    assert fake.queries == []


def test_ids_are_chunked_by_500(fake) -> None:
    with fake.running():
        client, ids = made(fake, 1)
        wanted = [*ids, *(str(9000 + n) for n in range(1000))]  # 1,001 Ids
        assert [r["Id"] for r in queries.query(client, [], ids=wanted)] == ids
        client.close()
    chunks = [sql.split(" IN (")[1].rstrip(")").split(", ") for sql in asked(fake)]
    assert [len(c) for c in chunks] == [500, 500, 1]
    assert [i.strip("'") for c in chunks for i in c] == wanted
    assert all(
        sql.startswith("SELECT Id, Updated FROM INVOICE WHERE Id IN (") for sql in asked(fake)
    )


def test_stamps_and_conflicts_say_what_changed_and_who_changed_it(fake) -> None:
    with fake.running():
        client, ids = made(fake, 3)
        stamps = queries.stamps(client, ids)
        assert sorted(stamps) == sorted(ids) and all(stamps.values())
        assert queries.conflicts(client, stamps) == {}
        expected = dict(stamps, **{ids[1]: "2001-01-01 00:00:00", "99999": "2001-01-01"})
        found = queries.conflicts(client, expected)
        client.close()
    assert sorted(found) == sorted([ids[1], "99999"])
    # The server's UTC stamp in the user's local time; the fake server names no users.
    when = dt.datetime.fromisoformat(stamps[ids[1]].replace("Z", "+00:00"))
    local = (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).astimezone()
    local_text = local.strftime("at %H:%M on %Y-%m-%d (your time)")
    assert found[ids[1]] == (
        f"Invoice {ids[1]} was changed in BillingPlatform by user 1 {local_text} since it "
        "was pulled, so it was not sent; pull it again (bpxl pull --ids-from-sheet) or send "
        "with --overwrite"
    )
    assert found["99999"] == (
        "Invoice 99999 is no longer in BillingPlatform (deleted, or not visible to you), so it "
        "was not sent"
    )


def test_a_change_by_no_known_user_names_none(fake) -> None:
    fake.respell = lambda r: {**r, "UpdatedUserId": ""} if "UpdatedUserId" in r else r
    with fake.running():
        client, ids = made(fake, 1)
        found = queries.conflicts(client, {ids[0]: "2001-01-01"})
        client.close()
    assert found[ids[0]].startswith(f"Invoice {ids[0]} was changed in BillingPlatform at ")


def test_only_the_invoices_asked_for_are_checked(fake) -> None:
    """The server holds more invoices than the sheet: only the sheet's are asked for, with
    their stamp and who changed them, and only theirs come back."""
    with fake.running():
        client, ids = made(fake, 3)
        stamps = queries.stamps(client, ids[:1])
        assert list(stamps) == ids[:1]
        fake.queries.clear()
        assert queries.conflicts(client, stamps) == {}
        client.close()
    assert asked(fake) == [
        f"SELECT Id, Updated, UpdatedUserId FROM INVOICE WHERE Id IN ('{ids[0]}')"
    ]


def test_an_invoice_without_a_stamp_is_unchanged_while_it_has_none(fake) -> None:
    fake.respell = lambda r: {**r, "Updated": None}
    with fake.running():
        client, ids = made(fake, 1)
        assert queries.stamps(client, ids) == {ids[0]: ""}
        assert queries.conflicts(client, {ids[0]: ""}) == {}
        client.close()


def test_a_stamp_is_shown_in_the_users_time(time_zone: str) -> None:
    """The server's stamps are UTC, with or without a zone; the user reads their own time."""
    local = dt.datetime(2026, 12, 7, 17, 40, tzinfo=dt.UTC).astimezone()
    said = local.strftime("at %H:%M on %Y-%m-%d (your time)")
    assert local.utcoffset() != dt.timedelta(0)
    assert queries.local_time("2026-12-07 17:40:00") == said
    assert queries.local_time(" 2026-12-07T17:40:00+00:00 ") == said
    assert queries.local_time("yesterday") == "at yesterday"
    assert queries.local_time("") == "recently"
