"""core.duplicates on its own, against the fake server over loopback: the invoices a create would
repeat, the queries that find them (one for a quiet tenant's window, else one narrow query per
batch), and how a found invoice is described (the pushes that refuse such rows are end to end in
test_server_quirks.py, test_safety.py and test_fault_matrix.py)."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator

import pytest

from bpxl.core import duplicates
from bpxl.core.client import Client
from bpxl.core.errors import UsageError
from bpxl.core.fields import BUILT_IN, Catalogue, Field, FieldType
from bpxl.core.results import Operation

from .fake_billingplatform import FakeBillingPlatform, Plan, QueriesAtOnce

UTC = dt.UTC
SELECT = "SELECT Id, Created, CreatedUserId"
# The tenant's fields: the built-in ones, a custom text and a custom amount.
TENANT = Catalogue(
    [
        *BUILT_IN.fields,
        Field("Po", FieldType.TEXT, "a purchase order", custom=True),
        Field("Amount", FieldType.DECIMAL, "an amount", custom=True),
    ]
)


@pytest.fixture
def fake() -> Iterator[FakeBillingPlatform]:
    server = FakeBillingPlatform(lambda n, _: Plan(), known=TENANT)
    with server.running():
        yield server


@pytest.fixture
def client(fake: FakeBillingPlatform) -> Iterator[Client]:
    made = Client(fake.url, username="demo", password="demo")
    yield made
    made.close()


def store(fake: FakeBillingPlatform, user: int, *records: dict[str, object]) -> list[str]:
    return [str(i["Id"]) for i in fake.store.write(Operation.CREATE, list(records), user)]


def created(fake: FakeBillingPlatform, record_id: str) -> dt.datetime:
    stored = fake.store.get(int(record_id))
    assert stored is not None
    return dt.datetime.fromisoformat(stored["Created"].replace("Z", "+00:00"))


def checks(fake: FakeBillingPlatform) -> list[str]:
    """The queries asked, the window's start and the paging put aside."""
    return [
        re.sub(r"Created >= '[^']*'", "Created >= ...", q.split(" OFFSET ")[0])
        for q in fake.queries
    ]


def test_a_found_invoice_is_described_with_its_id_maker_and_local_time(time_zone: str) -> None:
    made = dt.datetime(2026, 3, 4, 10, 5, 59, tzinfo=UTC)
    local = {
        "Asia/Tokyo": " on 2026-03-04 at 19:05",
        "America/Los_Angeles": " on 2026-03-04 at 02:05",
    }
    assert duplicates.Same("1042", "7", made).described("8") == (
        f"Id 1042, created by user 7{local[time_zone]}"
    )
    assert duplicates.Same("1042", "7", made).described("7") == (
        f"Id 1042, created by you{local[time_zone]}"
    )
    assert duplicates.Same("9", None, None).described(None) == "Id 9, created by user ?"
    assert duplicates.Same("9", None, None).described("7") == "Id 9, created by user ?"


def test_the_days_looked_back_are_seven_unless_told(monkeypatch) -> None:
    assert duplicates.days() == 7
    monkeypatch.setenv("BPXL_DUPLICATE_DAYS", "0.5")
    assert duplicates.days() == 0.5
    monkeypatch.setenv("BPXL_DUPLICATE_DAYS", "0")
    assert duplicates.days() == 0
    monkeypatch.setenv("BPXL_DUPLICATE_DAYS", "36499.5")
    assert duplicates.days() == 36499.5
    for wrong in ("-1", "36500", "a week"):
        monkeypatch.setenv("BPXL_DUPLICATE_DAYS", wrong)
        with pytest.raises(UsageError) as refused:
            duplicates.days()
        assert refused.value.message == (
            f"The environment variable BPXL_DUPLICATE_DAYS is {wrong!r}, which is not a number "
            "of days bpxl can use."
        )
        assert refused.value.hint == (
            "Set it to a number of days, 0 or more and less than 36,500 (default 7), or remove it."
        )


def test_no_check_asks_nothing(fake, client, monkeypatch) -> None:
    store(fake, 2, {"BillingProfileId": "101", "FileName": "a.pdf"})
    assert duplicates.look(client, {}, BUILT_IN, (), 10, 1) == {}
    monkeypatch.setenv("BPXL_DUPLICATE_DAYS", "0")
    records = {2: {"BillingProfileId": "101", "FileName": "a.pdf"}}
    assert duplicates.look(client, records, BUILT_IN, (), 10, 1) == {}
    assert fake.queries == []


@pytest.mark.parametrize("days", ["7", "0.5"])
def test_a_quiet_tenants_window_is_read_in_one_query_since_the_days_told(
    fake, client, monkeypatch, days: str, time_zone: str
) -> None:
    monkeypatch.setenv("BPXL_DUPLICATE_DAYS", days)
    ids = store(
        fake,
        2,
        {"BillingProfileId": "101", "FileName": "a.pdf", "AgingInterval": 4},
        {"BillingProfileId": "101", "FileName": "b.pdf"},
    )
    records = {
        5: {"BillingProfileId": "101", "FileName": "a.pdf", "AgingInterval": 4},
        6: {"BillingProfileId": "101", "FileName": "c.pdf"},
        7: {"Id": "99", "FileName": "b.pdf", "BillingProfileId": "101"},  # its Id aside
    }
    before = dt.datetime.now(UTC)
    found = duplicates.look(client, records, BUILT_IN, (), 1, 1)
    after = dt.datetime.now(UTC)
    assert found == {
        5: [duplicates.Same(ids[0], "2", created(fake, ids[0]))],
        7: [duplicates.Same(ids[1], "2", created(fake, ids[1]))],
    }
    [asked] = fake.queries
    assert checks(fake) == [
        f"{SELECT}, AgingInterval, BillingProfileId, FileName FROM INVOICE"
        " WHERE Created >= ... AND BillingProfileId IN ('101')"
    ]
    assert asked.endswith(f" OFFSET 0 ROWS FETCH NEXT {duplicates.ALL_AT_ONCE + 1} ROWS ONLY")
    stamp = re.search(r"Created >= '([^']*)'", asked)
    assert stamp is not None  # in UTC, to the second, whatever the computer's time zone
    since = dt.datetime.strptime(stamp.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    span = dt.timedelta(days=float(days))
    assert before - span - dt.timedelta(seconds=1) <= since <= after - span


def test_a_window_holding_as_many_invoices_as_one_query_reads_is_read_in_one(
    fake, client, monkeypatch
) -> None:
    monkeypatch.setattr(duplicates, "ALL_AT_ONCE", 2)
    ids = store(fake, 2, *({"BillingProfileId": "101", "FileName": f"{n}.pdf"} for n in (0, 1)))
    records = {2: {"BillingProfileId": "101", "FileName": "1.pdf"}}
    found = duplicates.look(client, records, BUILT_IN, (), 1, 1)
    assert {row: [s.id for s in same] for row, same in found.items()} == {2: [ids[1]]}
    assert len(fake.queries) == 1


def test_the_sheets_own_invoices_and_others_values_are_no_reason(fake, client) -> None:
    ids = store(
        fake,
        3,
        {"BillingProfileId": "101", "FileName": "a.pdf"},  # the sheet's own (its Id is there)
        {"BillingProfileId": "101", "FileName": "a.pdf"},  # a copy's
        {"BillingProfileId": "102", "FileName": "a.pdf"},
        {"BillingProfileId": "101", "FileName": "a.pdf", "AgingInterval": 4},
        {"BillingProfileId": "101", "FileName": "a.pdf", "DueDate": "2026-01-31"},
        {"BillingProfileId": "101", "FileName": "A.pdf"},
    )
    records = {
        2: {"BillingProfileId": "101", "FileName": "a.pdf"},  # set: these two fields only
        3: {"BillingProfileId": "101", "FileName": "a.pdf", "AgingInterval": 4},
        4: {"BillingProfileId": "101", "FileName": "a.pdf", "AgingInterval": 5},
        5: {"BillingProfileId": "101", "FileName": "a.pdf ", "DueDate": "2026-01-31"},
        6: {"BillingProfileId": "103", "FileName": "a.pdf"},
    }
    found = duplicates.look(client, records, BUILT_IN, {ids[0]}, 10, 1)
    assert {row: [s.id for s in same] for row, same in found.items()} == {
        2: [ids[1], ids[3], ids[4]],  # each invoice with the row's values, whatever else it has
        3: [ids[3]],
        5: [ids[4]],  # spelled as the field holds it
    }
    assert all(s.user == "3" for same in found.values() for s in same)
    assert checks(fake) == [
        f"{SELECT}, AgingInterval, BillingProfileId, DueDate, FileName FROM INVOICE"
        " WHERE Created >= ... AND BillingProfileId IN ('101', '103')"
    ]


def test_an_answer_is_read_as_servers_spell_it(fake, client) -> None:
    ids = store(fake, 2, *({"BillingProfileId": "101", "FileName": "a.pdf"} for _ in range(6)))
    spelled = {
        ids[0]: {"Id": "0"},  # no invoice
        ids[1]: {"Id": ""},
        ids[2]: {"Created": "2026-03-04 10:05:00", "CreatedUserId": "0"},  # no zone: UTC
        ids[3]: {"Created": "2026-03-04T10:05:00+01:00", "CreatedUserId": ""},
        ids[4]: {"Created": " 2026-03-04T10:05:00Z "},
        ids[5]: {"Created": "not a time"},
    }
    fake.respell = lambda row: {**row, **spelled.get(row["Id"], {})}
    records = {2: {"BillingProfileId": "101", "FileName": "a.pdf"}}
    found = duplicates.look(client, records, BUILT_IN, (), 10, 1)
    assert found == {
        2: [
            duplicates.Same(ids[2], None, dt.datetime(2026, 3, 4, 10, 5, tzinfo=UTC)),
            duplicates.Same(ids[3], None, dt.datetime(2026, 3, 4, 9, 5, tzinfo=UTC)),
            duplicates.Same(ids[4], "2", dt.datetime(2026, 3, 4, 10, 5, tzinfo=UTC)),
            duplicates.Same(ids[5], "2", None),
        ]
    }
    assert found[2][1].created is not None
    assert found[2][1].created.utcoffset() == dt.timedelta(hours=1)  # as the server said it


def test_a_busy_tenant_is_asked_one_narrow_query_per_batch(fake, client, monkeypatch) -> None:
    monkeypatch.setattr(duplicates, "ALL_AT_ONCE", 2)
    ids = store(
        fake,
        2,
        *({"BillingProfileId": "101", "FileName": f"{n}.pdf"} for n in range(5)),
        {"BillingProfileId": "102", "FileName": "6.pdf"},
    )
    records = {
        row: {"BillingProfileId": "101" if row < 8 else "102", "FileName": f"{row - 2}.pdf"}
        for row in (6, 2, 4, 3, 8)
    }
    found = duplicates.look(client, records, BUILT_IN, {ids[1]}, 2, concurrency=2)
    assert {row: [s.id for s in same] for row, same in found.items()} == {
        2: [ids[0]],
        4: [ids[2]],
        6: [ids[4]],
        8: [ids[5]],
    }
    window, *narrow = fake.queries
    assert window.endswith(" OFFSET 0 ROWS FETCH NEXT 3 ROWS ONLY")  # more than 2: no further
    assert "FileName IN" not in window
    where = f"{SELECT}, BillingProfileId, FileName FROM INVOICE WHERE Created >= ... AND"
    assert sorted(checks(fake)[1:]) == [  # rows 2-3, 4-6 and 8, as the sheet orders them
        f"{where} BillingProfileId IN ('101') AND FileName IN ('0.pdf', '1.pdf')",
        f"{where} BillingProfileId IN ('101') AND FileName IN ('2.pdf', '4.pdf')",
        f"{where} BillingProfileId IN ('102') AND FileName IN ('6.pdf')",
    ]
    assert len(narrow) == 3


def narrowed(fake: FakeBillingPlatform, client: Client, records, catalogue=BUILT_IN) -> str:
    """The clause after the profiles' of the one narrow query asked for ``records``."""
    fake.queries.clear()
    duplicates.look(client, records, catalogue, (), len(records), 1)
    [query] = checks(fake)[1:]
    return query.split(" WHERE Created >= ...")[1].strip()


def test_the_narrowing_is_the_most_distinct_field_every_row_sets(fake, client, monkeypatch) -> None:
    monkeypatch.setattr(duplicates, "ALL_AT_ONCE", 0)
    store(fake, 2, {"BillingProfileId": "101", "FileName": "x.pdf"})  # the window is full
    profile = {"BillingProfileId": "101"}
    rows = {
        2: {**profile, "FileName": "a.pdf", "DueDate": "2026-01-31", "AgingInterval": 4},
        3: {**profile, "FileName": "b.pdf", "DueDate": "2026-01-31", "AgingInterval": 5},
        4: {**profile, "FileName": "b.pdf", "DueDate": "2026-02-28", "AgingInterval": -6},
    }
    assert (
        narrowed(fake, client, rows)
        == "AND BillingProfileId IN ('101') AND AgingInterval IN (-6, 4, 5)"
    )
    two = {r: v for r, v in rows.items() if r < 4}  # FileName and AgingInterval have 2: text first
    assert (
        narrowed(fake, client, two)
        == "AND BillingProfileId IN ('101') AND FileName IN ('a.pdf', 'b.pdf')"
    )
    dates = {r: {**v, "FileName": "same.pdf", "AgingInterval": 1} for r, v in rows.items()}
    assert narrowed(fake, client, dates) == (
        "AND BillingProfileId IN ('101') AND DueDate IN ('2026-01-31', '2026-02-28')"
    )
    # Of two fields as distinct, of one type, the shorter clause.
    short = {2: {**profile, "FileName": "a", "MoveInvoiceDescription": "long words"}}
    assert narrowed(fake, client, short) == "AND BillingProfileId IN ('101') AND FileName IN ('a')"
    long = {2: {**profile, "FileName": "f" * 16, "MoveInvoiceDescription": "a"}}  # 32 > 31
    assert narrowed(fake, client, long) == (
        "AND BillingProfileId IN ('101') AND MoveInvoiceDescription IN ('a')"
    )
    # Alike in every way, clauses of one length: the first by name.
    tie = {2: {**profile, "FileName": "a", "Po": "abcdefg"}}  # 17 characters each
    assert narrowed(fake, client, tie, TENANT).endswith(" AND FileName IN ('a')")


def test_a_field_that_cannot_narrow_is_passed_over(fake, client, monkeypatch) -> None:
    monkeypatch.setattr(duplicates, "ALL_AT_ONCE", 0)
    store(fake, 2, {"BillingProfileId": "101", "FileName": "x.pdf"})
    profile = {"BillingProfileId": "101"}
    some = {2: {**profile, "FileName": "a.pdf"}, 3: {**profile, "FileName": "b.pdf", "Po": "7"}}
    assert narrowed(fake, client, some).endswith(" AND FileName IN ('a.pdf', 'b.pdf')")
    cleared = {
        2: {**profile, "FileName": "a.pdf", "DueDate": "2026-01-31"},
        3: {**profile, "FileName": "", "DueDate": "2026-01-31"},
    }
    assert narrowed(fake, client, cleared).endswith(" AND DueDate IN ('2026-01-31')")
    cleared = {  # the field passed over comes first: the next is still looked at
        2: {**profile, "FileName": "a.pdf", "DueDate": ""},
        3: {**profile, "FileName": "b.pdf", "DueDate": "2026-01-31"},
    }
    assert narrowed(fake, client, cleared).endswith(" AND FileName IN ('a.pdf', 'b.pdf')")
    flags = {
        2: {**profile, "Disputed": True, "DueDate": "2026-01-31"},
        3: {**profile, "Disputed": False, "DueDate": "2026-01-31"},
    }
    assert narrowed(fake, client, flags).endswith(" AND DueDate IN ('2026-01-31')")
    custom = {2: {**profile, "Po": "1"}, 3: {**profile, "Po": "2"}}
    assert narrowed(fake, client, custom, TENANT).endswith(" AND Po IN ('1', '2')")
    assert narrowed(fake, client, custom) == "AND BillingProfileId IN ('101')"  # not known
    ids = {2: {**profile, "Id": "5", "Created": "x"}, 3: {**profile, "Id": "6", "Created": "y"}}
    assert narrowed(fake, client, ids) == "AND BillingProfileId IN ('101')"
    text_numbers = {2: {**profile, "AgingInterval": "4"}, 3: {**profile, "AgingInterval": "x'"}}
    assert narrowed(fake, client, text_numbers).endswith(" AND AgingInterval IN ('4', 'x''')")
    text_numbers = {2: {**profile, "AgingInterval": "-4"}, 3: {**profile, "AgingInterval": "X5"}}
    assert narrowed(fake, client, text_numbers).endswith(" AND AgingInterval IN ('-4', 'X5')")
    longest = "n" * (4000 - len("FileName IN ('')"))
    fits = {2: {**profile, "FileName": longest}}
    assert narrowed(fake, client, fits).endswith(f" AND FileName IN ('{longest}')")
    too_long = {2: {**profile, "FileName": longest + "n"}}
    assert narrowed(fake, client, too_long) == "AND BillingProfileId IN ('101')"
    too_long[2]["MoveInvoiceDescription"] = "a"  # after the one too long: still looked at
    assert narrowed(fake, client, too_long).endswith(" AND MoveInvoiceDescription IN ('a')")
    amounts = {2: {**profile, "Amount": 1.5}, 3: {**profile, "Amount": 2.5}}
    assert narrowed(fake, client, amounts, TENANT) == "AND BillingProfileId IN ('101')"


def test_profiles_narrow_only_when_every_row_names_one_and_they_fit(
    fake, client, monkeypatch
) -> None:
    monkeypatch.setattr(duplicates, "ALL_AT_ONCE", 0)
    store(fake, 2, {"BillingProfileId": "101", "FileName": "x.pdf"})
    one_without = {2: {"BillingProfileId": "101", "Disputed": True}, 3: {"Disputed": True}}
    assert narrowed(fake, client, one_without) == ""
    many = {n: {"BillingProfileId": str(n), "Disputed": True} for n in range(1, 201)}
    assert narrowed(fake, client, many).startswith("AND BillingProfileId IN ('1', '10', '100', ")
    many[201] = {"BillingProfileId": "201", "Disputed": True}
    assert narrowed(fake, client, many) == ""


def test_the_batches_queries_go_one_at_a_time_unless_told_more(fake, client, monkeypatch) -> None:
    """As many queries at once as the push's concurrency: one by default."""
    monkeypatch.setattr(duplicates, "ALL_AT_ONCE", 0)
    store(fake, 2, {"BillingProfileId": "101", "FileName": "x.pdf"})
    records = {row: {"BillingProfileId": "101", "FileName": f"{row}.pdf"} for row in range(2, 8)}
    fake.on_query = counted = QueriesAtOnce()
    for concurrency in (1, 0):
        assert duplicates.look(client, records, BUILT_IN, (), 2, concurrency) == {}
    assert counted.most == 1 and len(fake.queries) == 8  # the window's, then 3 batches', twice
    together = threading.Barrier(3, timeout=30)  # three queries at once, or this breaks

    def batches_together(number: int, sql: str) -> None:
        if number > 8 + 1:  # the window's query comes first, alone
            together.wait()

    fake.on_query = batches_together
    assert duplicates.look(client, records, BUILT_IN, (), 2, 5) == {}
    assert len(fake.queries) == 12
