"""The round trip's sends on grids: what a plain update keeps for a revert, and the revert."""

from __future__ import annotations

import datetime as dt

import pytest

from bpxl.core import fields
from bpxl.core.client import Client
from bpxl.core.errors import UsageError
from bpxl.core.push import Grid
from bpxl.core.results import Outcome, RowResult
from bpxl.core.roundtrip.pull_memory import Pulled
from bpxl.core.roundtrip.revert_memory import Replaced
from bpxl.core.roundtrip.sends import ChangedRows, Recorded, Revert, sent_value

HEADER = ["Id", "Status", "DueDate", "FileName", "Created", "Notes"]


def seed(client: Client, n: int) -> list[str]:
    made = client.create(
        [
            {"BillingProfileId": "101", "Status": "Pending", "DueDate": "2026-01-0" + str(i + 1)}
            for i in range(n)
        ]
    )
    return [str(r.id) for r in made]


def server(client: Client) -> dict[str, dict[str, object]]:
    rows = client.query("SELECT Id, Updated, Status, DueDate, FileName FROM INVOICE")
    return {str(r["Id"]): r for r in rows}


def test_a_plain_update_keeps_what_it_replaces_from_the_pull_or_the_server(sandbox) -> None:
    with Client(sandbox.url, username="demo", password="demo") as client:
        pulled_id, other_id, new_id = seed(client, 3)
        before = server(client)
        pulled = {
            pulled_id: Pulled(
                str(before[pulled_id]["Updated"]),
                {
                    "Id": pulled_id,
                    "Status": "Pending",
                    "DueDate": dt.date(2026, 1, 1),
                    "Region__c": "EU",
                },
            )
        }
        grid = Grid(
            HEADER,
            [
                (2, [pulled_id, "Closed", None, "a.pdf", "2020-01-01 10:00", "note"]),
                (3, [float(other_id), "Approved", dt.datetime(2027, 5, 6)]),  # a short row
                (4, ["999999", "Closed"]),  # no such invoice
            ],
        )
        send = Recorded(grid, pulled)
        queries = len(sandbox.requests())
        assert send.grid_to_send(client) == (grid, [])
        asked = [r for r in sandbox.requests()[queries:] if "query" in r["path"]]
        assert len(asked) == 1  # only the invoices that were not pulled are read
        assert send.before[pulled_id] == {
            "Id": pulled_id,
            "Status": "Pending",
            "DueDate": "2026-01-01",
        }
        assert send.before[other_id]["Status"] == "Pending"
        assert send.before[other_id]["DueDate"] == "2026-01-02"
        assert "999999" not in send.before
        got = client.update(
            [
                {"Id": pulled_id, "Status": "Closed", "FileName": "a.pdf"},
                {"Id": other_id, "Status": "Approved", "DueDate": "2027-05-06"},
            ]
        )
        results = [
            RowResult(2, Outcome.UPDATED, got[0].id, []),
            RowResult(3, Outcome.UPDATED, None, []),  # an update's Id comes from the row
            RowResult(4, Outcome.FAILED, None, ["Id: no such invoice"]),
        ]
        remember = send.settle(client, results)
        after = server(client)
    stamp, other_stamp = str(after[pulled_id]["Updated"]), str(after[other_id]["Updated"])
    assert stamp and other_stamp
    assert remember.replaced == [
        Replaced(pulled_id, "Status", "Pending", stamp),
        Replaced(pulled_id, "FileName", None, stamp),
        Replaced(other_id, "Status", "Pending", other_stamp),
        Replaced(other_id, "DueDate", "2026-01-02", other_stamp),
    ]
    assert remember.pulled == {
        pulled_id: Pulled(
            stamp,
            {
                "Id": pulled_id,
                "Status": "Closed",
                "DueDate": dt.date(2026, 1, 1),
                "Region__c": "EU",
                "FileName": "a.pdf",
            },
        )
    }
    assert remember.cells == {} and new_id not in remember.pulled


def test_without_a_connection_or_when_reading_fails_the_push_still_goes(sandbox) -> None:
    with Client(sandbox.url, username="demo", password="demo") as client:
        [invoice] = seed(client, 1)
    grid = Grid(["Id", "Status"], [(2, [invoice, "Closed"])])
    offline = Recorded(grid, {})
    before = len(sandbox.requests())
    assert offline.grid_to_send(None) == (grid, []) and offline.before == {}
    assert len(sandbox.requests()) == before
    refused = Client(sandbox.url, username="demo", password="wrong")  # reading fails
    failing = Recorded(grid, {})
    assert failing.grid_to_send(refused) == (grid, []) and failing.before == {}


def test_an_upsert_that_created_an_invoice_has_nothing_to_revert(sandbox) -> None:
    with Client(sandbox.url, username="demo", password="demo") as client:
        [invoice] = seed(client, 1)
        grid = Grid(["Id", "Status"], [(2, [invoice, "Closed"]), (3, [None, "Closed"])])
        send = Recorded(grid, {})
        send.grid_to_send(client)
        results = [
            RowResult(2, Outcome.UPSERTED, invoice, []),
            RowResult(3, Outcome.UPSERTED, "424242", ["No invoice matched"]),
        ]
        remember = send.settle(client, results)
    assert [(r.invoice, r.field, r.before) for r in remember.replaced] == [
        (invoice, "Status", "Pending")
    ]


def test_a_revert_needs_something_to_revert() -> None:
    grid = Grid(["Id", "Status"], [(2, ["1", "Closed"])])
    with pytest.raises(UsageError) as never:
        Revert(grid, {}, [], overwrite=False)
    assert never.value.message == "No update or upsert of this workbook has anything to revert."
    assert never.value.hint == (
        "Revert puts back what the last update, upsert or send of changed rows of this "
        "workbook replaced; run one first."
    )
    with pytest.raises(UsageError) as twice:
        Revert(grid, {}, [], overwrite=False, reverted=True)
    assert twice.value.message == (
        "Nothing left to revert: the last update of this workbook was already reverted."
    )
    assert twice.value.hint == (
        "Revert puts back what the last update, upsert or send of changed rows replaced, once; "
        "to change the invoices again, edit the cells and send them."
    )
    Revert(grid, {}, [Replaced("1", "Status", "Pending", "t")], overwrite=False, reverted=True)


def test_a_revert_sends_back_each_old_value_and_clears_what_was_empty() -> None:
    grid = Grid(
        ["Id", "Status", "DueDate", "FileName"],
        [(2, ["7", "Closed", dt.date(2027, 1, 1), "new.pdf"]), (3, ["8", "Void"]), (5, ["9"])],
    )
    replaced = [
        Replaced("7", "Status", "Pending", "s7"),
        Replaced("7", "DueDate", "2026-01-01", "s7"),
        Replaced("7", "FileName", None, "s7"),
        Replaced("8", "Status", "Approved", "s8"),
        Replaced("8", "Region__c", "EU", "s8"),  # not a column of this sheet: left alone
        Replaced("404", "Status", "Pending", "s"),  # no longer in the sheet
    ]
    revert = Revert(grid, {}, replaced, overwrite=True)
    assert revert.rows == {2: "7", 3: "8"} and revert.missing == ["404"]
    sent, conflicts = revert.grid_to_send(None)
    assert conflicts == [] and list(sent.header) == list(grid.header)
    assert sent.rows == [
        (2, ["7", "Pending", "2026-01-01", "#NULL"]),
        (3, ["8", "Approved", None, None]),
    ]
    only = Revert(grid, {}, replaced, overwrite=True, only={3, 5})
    assert only.rows == {3: "8"}


def test_sent_value_is_the_cell_as_it_is_sent() -> None:
    assert sent_value(fields.BY_NAME["DueDate"], dt.datetime(2026, 1, 2)) == "2026-01-02"
    assert sent_value(fields.BY_NAME["BillableFlag"], True) == "1"
    assert sent_value(fields.BY_NAME["Status"], "  ") is None
    assert sent_value(fields.BY_NAME["DueDate"], "31/02/2026") == "31/02/2026"  # as typed
    assert sent_value(fields.BY_NAME["DueDate"], 43830) == "2019-12-31"
    assert sent_value(fields.BY_NAME["DueDate"], 43830, date1904=True) == "2024-01-01"


def test_a_changed_row_is_described_with_the_users_own_headers() -> None:
    pulled = {"7": Pulled("2026-01-01 10:00:00", {"Id": "7", "Status": "Pending", "DueDate": None})}
    row = ["7", "Approved", "2026-02-01", "x"]
    grid = Grid(["Id", "status", "Due date", "My note"], [(2, row)])
    changed = ChangedRows(grid, pulled, overwrite=False)
    assert changed.describe(2) == (
        "Changed since the pull: status, Due date; not sent yet (a check only)"
    )


def test_changed_rows_need_a_pull_and_check_conflicts_unless_overwriting(sandbox) -> None:
    grid = Grid(["Id", "Status"], [(2, ["7", "Closed"])])
    with pytest.raises(UsageError) as unpulled:
        ChangedRows(grid, {}, overwrite=False)
    assert unpulled.value.message == (
        "Nothing in this workbook was pulled, so there is nothing to compare with."
    )
    assert unpulled.value.hint == (
        "Pull the invoices first (bpxl pull FILE --where ..., or Pull invoices...)."
    )
    with Client(sandbox.url, username="demo", password="demo") as client:
        [invoice] = seed(client, 1)
        pulled = {invoice: Pulled("an older stamp", {"Id": invoice, "Status": "Pending"})}
        grid = Grid(["Id", "Status"], [(2, [invoice, "Closed"])], date1904=True)
        sent, clashes = ChangedRows(grid, pulled, overwrite=False).grid_to_send(client)
        assert sent.rows == [] and [(c.row, c.outcome) for c in clashes] == [(2, Outcome.CONFLICT)]
        trip = ChangedRows(grid, pulled, overwrite=True)
        sent, clashes = trip.grid_to_send(client)
        assert sent.rows == [(2, [invoice, "Closed"])] and clashes == [] and sent.date1904
        offline, _ = ChangedRows(grid, pulled, overwrite=False).grid_to_send(None)
        assert offline.rows == sent.rows
        client.update([{"Id": invoice, "Status": "Closed"}])
        remember = trip.settle(client, [RowResult(2, Outcome.UPDATED, invoice, [])])
        stamp = str(server(client)[invoice]["Updated"])
    assert remember.replaced == [Replaced(invoice, "Status", "Pending", stamp)]
    assert remember.pulled == {invoice: Pulled(stamp, {"Id": invoice, "Status": "Closed"})}
    assert remember.cells == {} and remember.reverted == set()


def test_an_invoice_gone_from_billingplatform_is_remembered_without_a_stamp(sandbox) -> None:
    gone = "999999"
    grid = Grid(["Id", "Status"], [(2, [gone, "Closed"])])
    pulled = {gone: Pulled("t", {"Id": gone, "Status": "Pending"})}
    with Client(sandbox.url, username="demo", password="demo") as client:
        changed = ChangedRows(grid, pulled, overwrite=True)
        changed.grid_to_send(client)
        after_change = changed.settle(client, [RowResult(2, Outcome.UPDATED, gone, [])])
        plain = Recorded(grid, pulled)
        plain.grid_to_send(client)
        after_update = plain.settle(client, [RowResult(2, Outcome.UPDATED, gone, [])])
        revert = Revert(grid, pulled, [Replaced(gone, "Status", "Pending", "t")], True)
        after_revert = revert.settle(client, [RowResult(2, Outcome.UPDATED, gone, [])])
    assert after_change.replaced == [Replaced(gone, "Status", "Pending", "")]
    assert after_change.pulled[gone].updated == ""
    assert after_update.replaced == [Replaced(gone, "Status", "Pending", "")]
    assert after_update.pulled[gone] == Pulled("", {"Id": gone, "Status": "Closed"})
    assert after_revert.pulled[gone] == Pulled("", {"Id": gone, "Status": "Pending"})


def test_a_revert_puts_the_old_values_into_the_sheet_and_is_done_with_them(sandbox) -> None:
    with Client(sandbox.url, username="demo", password="demo") as client:
        first, second = seed(client, 2)
        header = ["Notes", "Id", "Status", "DueDate", "BillableFlag"]
        grid = Grid(
            header,
            [(2, ["x", first, "Closed", dt.date(2027, 1, 1), True]), (3, ["y", second, "Void"])],
            date1904=True,
        )
        now = str(server(client)[second]["Updated"])
        replaced = [
            Replaced(first, "Region__c", "EU", "s1"),  # not a column of the sheet
            Replaced(first, "DueDate", "2026-01-01", "s1"),
            Replaced(first, "BillableFlag", None, "s1"),
            Replaced(second, "Status", "Pending", now),
        ]
        pulled = {first: Pulled("p", {"Id": first, "Status": "Closed", "Region__c": "EU"})}
        revert = Revert(grid, pulled, replaced, overwrite=False)
        checked, clashes = revert.grid_to_send(client)  # the first changed since: a conflict
        assert [(c.row, c.outcome) for c in clashes] == [(2, Outcome.CONFLICT)]
        assert checked.rows == [(3, [None, second, "Pending", None, None])]
        sent, clashes = revert.grid_to_send(None)  # no connection: no conflict check
        assert clashes == [] and sent.date1904
        assert sent.rows == [
            (2, [None, first, None, "2026-01-01", "#NULL"]),
            (3, [None, second, "Pending", None, None]),
        ]
        client.update(
            [
                {"Id": first, "DueDate": "2026-01-01", "BillableFlag": ""},
                {"Id": second, "Status": "Pending"},
            ]
        )
        results = [
            RowResult(2, Outcome.UPDATED, first, []),
            RowResult(3, Outcome.FAILED, None, ["Status: refused"]),
        ]
        remember = revert.settle(client, results)
        stamp = str(server(client)[first]["Updated"])
    assert remember.cells == {(2, "DueDate"): dt.date(2026, 1, 1), (2, "BillableFlag"): None}
    assert remember.pulled == {
        first: Pulled(
            stamp,
            {
                "Id": first,
                "Status": "Closed",
                "Region__c": "EU",
                "DueDate": dt.date(2026, 1, 1),
                "BillableFlag": None,
            },
        )
    }
    assert remember.reverted == {first} and remember.replaced == []
