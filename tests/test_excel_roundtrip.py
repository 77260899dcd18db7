"""The ribbon's round trip (excel/roundtrip.py) called directly on the fake Excel, against the
sandbox: what Pull invoices... asks and writes, what it says in every case, the edits it keeps,
and Send changed and Revert last push on a few rows. The buttons end to end (through the ribbon's
background work) are in test_excel.py and test_excel_like_excel.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bpxl.core import profiles, run_log
from bpxl.core.client import Client
from bpxl.core.errors import UsageError
from bpxl.core.results import Outcome, RowResult
from bpxl.core.roundtrip.pull_memory import MEMORY_SHEET
from bpxl.excel import memory_sheet, roundtrip
from bpxl.sandbox import Sandbox, SandboxConfig
from bpxl.sandbox.schema import parse_custom_field

from .fake_xlwings import Book, book_from_rows

HEADER = ["Id", "BillingProfileId", "Status", "DueDate", "Result", "Message"]


@pytest.fixture
def live(sandbox, run, memory_keyring):
    """The sandbox as the ribbon's active profile."""
    run("connect", "live", "--url", sandbox.url, "--username", "demo", "--sandbox")
    profiles.set_active("live")
    return sandbox


def _seed(sandbox, *profiles_of: str) -> list[str]:
    """One invoice per billing profile given, due 2026-01-01, 02, ..."""
    records = [
        {"BillingProfileId": p, "Status": "Pending", "DueDate": f"2026-01-{i + 1:02d}"}
        for i, p in enumerate(profiles_of)
    ]
    with Client(sandbox.url, username="demo", password="demo") as client:
        return [r.id for r in client.create(records)]


def _update(sandbox, **values: object) -> None:
    with Client(sandbox.url, username="demo", password="demo") as client:
        client.update([values])


def _server(sandbox) -> dict[str, dict[str, object]]:
    with Client(sandbox.url, username="demo", password="demo") as client:
        return {r["Id"]: r for r in client.query("SELECT Id, Status, DueDate FROM INVOICE")}


def _pull(book: Book, answer: object) -> str:
    book.app.input_answers = [answer]
    roundtrip.pull(book)
    return book.app.alerts[-1][0]


def test_a_pull_by_condition_fills_new_rows_remembers_them_and_logs_the_pull(
    live, tmp_path: Path
) -> None:
    ids = _seed(live, "101", "102", "101")
    book = book_from_rows(HEADER, [], tmp_path / "pulled.xlsx")
    said = _pull(book, "  BillingProfileId = 101  ")
    prompt, kind = book.app.alerts[0]
    assert kind == "input" and prompt == (
        "Which invoices?\n\n"
        "- a condition, e.g.  BillingProfileId = 101 AND Status = 'Pending'\n"
        "- IDS for the Ids in the selected rows\n"
        "- nothing, to refresh the rows already in the sheet"
    )
    assert book.app.input_titles == ["BillingPlatform: Pull invoices"]
    assert book.app.alert_titles == ["BillingPlatform"]
    assert said == (
        "Pulled 2 invoices: 2 new rows, 0 refreshed. Edited cells turn amber; Send changed "
        "sends only them."
    )
    sheet = book.sheets["Invoices"]
    assert [[sheet.cells.get((r, c)) for c in range(1, 5)] for r in (2, 3)] == [
        [ids[0], "101", "Pending", dt.date(2026, 1, 1)],
        [ids[2], "101", "Pending", dt.date(2026, 1, 3)],
    ]
    assert sorted(memory_sheet.pulled(book)) == sorted([ids[0], ids[2]])
    assert len(sheet.format_rules) == 3  # amber marks on the fields but Id
    log = run_log.last(Path(book.fullname))
    assert log is not None and log.command == "pull"
    assert sorted(r.id for r in log.rows if r.result == "Pulled") == sorted([ids[0], ids[2]])
    assert "Pulled 2 invoices: 2 new rows, 0 refreshed." in log.summary


def test_cancel_pulls_nothing(live) -> None:
    book = book_from_rows(HEADER, [["1", "101", "Old", None, None, None]])
    for cancel in (False, None):
        book.app.input_answers = [cancel]
        roundtrip.pull(book)
    assert [kind for _, kind in book.app.alerts] == ["input", "input"]
    assert book.sheets["Invoices"].cells[(2, 3)] == "Old"
    assert MEMORY_SHEET not in [s.title for s in book.sheets.items]
    assert not [r for r in live.requests() if "/query" in r["path"]]


def test_nothing_typed_refreshes_the_rows_in_the_sheet_and_ids_the_selected_ones(live) -> None:
    ids = _seed(live, "101", "102", "103")
    rows = [
        [ids[0], None, "Old", None, "Failed", "Server down"],
        [ids[1], None, "Old"] + [None] * 3,
    ]
    rows.append([None, "555", "Draft", None, None, None])
    book = book_from_rows(HEADER, rows)
    sheet = book.sheets["Invoices"]
    book.app.selected = "$B$3:$C$3"  # IDS: the selected row's Id only (one cell: every row)
    said = _pull(book, "ids")
    assert said.startswith("Pulled 1 invoice: 0 new rows, 1 refreshed.")
    assert [sheet.cells.get((r, 3)) for r in (2, 3, 4)] == ["Old", "Pending", "Draft"]
    said = _pull(book, "")  # every Id of the sheet
    assert said.startswith("Pulled 2 invoices: 0 new rows, 2 refreshed.")
    assert [sheet.cells.get((r, 2)) for r in (2, 3, 4)] == ["101", "102", "555"]
    assert (2, 5) not in sheet.cells and (2, 6) not in sheet.cells  # its stale status cleared


def test_a_sheet_without_ids_or_an_id_column_says_what_to_do(live) -> None:
    book = book_from_rows(HEADER, [[None, "555", "Draft", None, None, None]])
    with pytest.raises(UsageError) as raised:
        _pull(book, "")
    assert str(raised.value) == (
        "There are no Ids to pull.\n  What to do: Type a condition, or select rows with Ids."
    )
    with pytest.raises(UsageError) as raised:
        _pull(book, "IDS")
    assert str(raised.value).startswith("There are no Ids to pull.")
    no_id = book_from_rows(["BillingProfileId", "Status"], [["101", "Draft"]])
    with pytest.raises(UsageError) as raised:
        roundtrip.pull(no_id)
    assert str(raised.value) == (
        "This sheet has no Id column to match invoices on.\n  What to do: Add an Id column."
    )
    assert no_id.app.alerts == []  # refused before asking


def test_ids_not_found_are_named_and_nothing_found_changes_nothing(live) -> None:
    (invoice,) = _seed(live, "101")
    book = book_from_rows(HEADER, [[invoice, None, None, None, None, None], ["99998"] + [None] * 5])
    said = _pull(book, "")
    assert said.startswith("Pulled 1 invoice: 0 new rows, 1 refreshed. Not found in ")
    assert "Not found in BillingPlatform: 99998. Edited cells" in said
    empty = book_from_rows(HEADER, [["99997"] + [None] * 5, ["99998"] + [None] * 5])
    assert _pull(empty, "") == (
        "No invoices match those Ids; the sheet was not changed. Not found in BillingPlatform: "
        "99997, 99998."
    )
    assert _pull(empty, "Status = 'Nowhere'") == (
        "No invoices match Status = 'Nowhere'; the sheet was not changed."
    )
    assert set(empty.app.alert_titles) == {"BillingPlatform"}  # each answer's message box
    assert MEMORY_SHEET not in [s.title for s in empty.sheets.items]


def test_a_condition_is_checked_and_one_the_server_refuses_is_named(live) -> None:
    book = book_from_rows(HEADER, [])
    with pytest.raises(UsageError, match="ends with AND"):
        _pull(book, "Status = 'Pending' AND")
    with pytest.raises(UsageError) as raised:
        _pull(book, "Colour = 'red'")
    assert "BillingPlatform refused the condition \"Colour = 'red'\"" in str(raised.value)


def test_an_edit_not_sent_is_kept_and_a_change_on_both_sides_is_a_conflict(live) -> None:
    ids = _seed(live, "101", "102")
    book = book_from_rows(HEADER, [])
    _pull(book, "BillingProfileId IN (101, 102)")
    sheet = book.sheets["Invoices"]
    rows = {sheet.cells[(r, 1)]: r for r in (2, 3)}
    sheet.cells[(rows[ids[0]], 3)] = "Mine"  # the server changes Status too: a conflict
    sheet.cells[(rows[ids[1]], 3)] = "Also mine"  # the server changes nothing
    _update(live, Id=ids[0], Status="Approved")
    said = _pull(book, "")
    assert said == (
        "Pulled 2 invoices: 0 new rows, 2 refreshed. 1 row changed in BillingPlatform where you "
        "edited and did not send: your values were kept and the row says Conflict (see "
        "Message). Edited cells turn amber; Send changed sends only them."
    )
    assert sheet.cells[(rows[ids[0]], 3)] == "Mine"
    assert sheet.cells[(rows[ids[0]], 5)] == "Conflict"
    assert '"Approved"' in sheet.cells[(rows[ids[0]], 6)]
    assert sheet.cells[(rows[ids[1]], 3)] == "Also mine"
    assert (rows[ids[1]], 5) not in sheet.cells and (rows[ids[1]], 6) not in sheet.cells
    assert memory_sheet.pulled(book)[ids[0]].values["Status"] == "Approved"


def test_the_alert_counts_conflicts_and_rows_with_notes() -> None:
    conflict = RowResult(2, Outcome.CONFLICT, None, ["Status: changed"])
    noted = RowResult(3, None, None, ["Notes: 1 control character"])
    assert roundtrip._kept([]) == ""
    assert roundtrip._kept([RowResult(4, None), conflict, conflict]) == (
        " 2 rows changed in BillingPlatform where you edited and did not send: your values "
        "were kept and the row says Conflict (see Message)."
    )
    assert roundtrip._kept([noted, RowResult(5, Outcome.CONFLICT)]) == (
        " 1 row changed in BillingPlatform where you edited and did not send: your values "
        "were kept and the row says Conflict (see Message). 1 row: see Message for text a "
        "cell cannot show as it is."
    )
    assert roundtrip._kept([noted, noted]) == (
        " 2 rows: see Message for text a cell cannot show as it is."
    )


def test_send_changed_sends_the_edited_cells_alone_and_says_when_there_are_none(live) -> None:
    ids = _seed(live, "101", "101")
    book = book_from_rows(HEADER, [])
    _pull(book, "BillingProfileId = 101")
    roundtrip.send_changed(book)
    assert book.app.alerts[-1] == ("No row has changed since the pull: nothing to send.", "ok")
    assert book.app.alert_titles[-1] == "BillingPlatform"
    sheet = book.sheets["Invoices"]
    row = next(r for r in (2, 3) if sheet.cells[(r, 1)] == ids[1])
    sheet.cells[(row, 4)] = dt.date(2027, 1, 1)
    before = len(live.writes())
    roundtrip.send_changed(book)
    assert book.app.alerts[-1][0].startswith("1 row: 1 updated")
    [write] = live.writes()[before:]
    assert _server(live)[ids[1]]["DueDate"] == "2027-01-01"
    assert _server(live)[ids[0]]["DueDate"] == "2026-01-01"
    assert write["method"] in ("PUT", "PATCH")


def _both_approved(live) -> tuple[list[str], Book]:
    """Two invoices pulled, both rows' Status edited to Approved and sent."""
    ids = _seed(live, "101", "101")
    book = book_from_rows(HEADER, [])
    _pull(book, "BillingProfileId = 101")
    sheet = book.sheets["Invoices"]
    for row in (2, 3):
        sheet.cells[(row, 3)] = "Approved"
    roundtrip.send_changed(book)
    return ids, book


def test_revert_puts_back_the_chosen_rows_only(live) -> None:
    ids, book = _both_approved(live)
    sheet = book.sheets["Invoices"]
    assert {i: r["Status"] for i, r in _server(live).items()} == dict.fromkeys(ids, "Approved")
    first = sheet.cells[(2, 1)]
    book.app.selected = "$A$2:$B$2"  # one row, chosen (one cell alone would mean all)
    roundtrip.revert_last(book)
    assert book.app.alerts[-1][0].startswith("1 row: 1 updated")
    server = _server(live)
    assert server[first]["Status"] == "Pending"
    assert [server[i]["Status"] for i in ids if i != first] == ["Approved"]
    assert sheet.cells[(2, 3)] == "Pending" and sheet.cells[(3, 3)] == "Approved"


def test_a_bad_id_in_the_sheet_is_named_by_row_and_column(live) -> None:
    book = book_from_rows(["ID", "Status"], [["12x", "Old"]])
    with pytest.raises(UsageError) as raised:
        _pull(book, "")
    assert "Row 2, column ID: '12x' is not an invoice Id" in str(raised.value)


def test_the_pulls_log_names_the_tenant_and_the_ids_not_found(live, tmp_path: Path) -> None:
    (invoice,) = _seed(live, "101")
    book = book_from_rows(HEADER, [["99998"] + [None] * 5], tmp_path / "logged.xlsx")
    book.sheets["Invoices"].cells[(3, 1)] = invoice
    _pull(book, "")
    log = run_log.last(Path(book.fullname))
    assert log is not None and log.sheet == "Invoices"
    assert log.target.startswith("live: sandbox") and live.url in log.target
    assert [(r.id, r.result) for r in log.rows] == [(invoice, "Pulled"), ("99998", "Not found")]
    assert log.started <= run_log.now()


def test_text_a_cell_cannot_show_is_said_in_the_rows_message(live) -> None:
    with Client(live.url, username="demo", password="demo") as client:
        [made] = client.create([{"BillingProfileId": "101", "FileName": "a\x01b.pdf"}])
    book = book_from_rows(["Id", "FileName", "Result", "Message"], [])
    said = _pull(book, f"Id = {made.id}")
    assert said == (
        "Pulled 1 invoice: 1 new row, 0 refreshed. 1 row: see Message for text a cell cannot "
        "show as it is. Edited cells turn amber; Send changed sends only them."
    )
    sheet = book.sheets["Invoices"]
    assert sheet.cells[(2, 2)] == "a\ufffdb.pdf"
    assert sheet.cells[(2, 4)].startswith("FileName: 1 control character")


def test_an_edit_the_server_changed_meanwhile_is_not_sent_over_it(live) -> None:
    (invoice,) = _seed(live, "101")
    book = book_from_rows(HEADER, [])
    _pull(book, f"Id = {invoice}")
    sheet = book.sheets["Invoices"]
    sheet.cells[(2, 3)] = "Mine"
    _update(live, Id=invoice, Status="Theirs")
    roundtrip.send_changed(book)
    assert _server(live)[invoice]["Status"] == "Theirs"
    assert sheet.cells[(2, 5)] == "Conflict"


def test_a_revert_puts_back_each_row_once_and_then_says_there_is_nothing_left(live) -> None:
    ids, book = _both_approved(live)
    book.app.selected = "$A$2:$B$2"
    roundtrip.revert_last(book)
    before = len(live.writes())
    book.app.selected = "$C$5"  # one cell: the whole sheet
    roundtrip.revert_last(book)
    assert book.app.alerts[-1][0].startswith("1 row: 1 updated")  # the first not sent again
    assert len(live.writes()) == before + 1
    assert {i: r["Status"] for i, r in _server(live).items()} == dict.fromkeys(ids, "Pending")
    with pytest.raises(UsageError, match="Nothing left to revert"):
        roundtrip.revert_last(book)


@pytest.fixture
def tenant(tmp_path: Path, run, memory_keyring):
    """A tenant with fields of its own (PoNumber, CostCentre) as the ribbon's active profile."""
    sandbox = Sandbox(
        SandboxConfig(
            port=0,
            custom_fields=tuple(
                parse_custom_field(c) for c in ("PoNumber:text:40", "CostCentre:integer")
            ),
        )
    ).start()
    run("connect", "live", "--url", sandbox.url, "--username", "demo", "--sandbox")
    profiles.set_active("live")
    yield sandbox
    sandbox.stop()


def test_the_tenants_own_field_is_pulled_sent_and_reverted(tenant) -> None:
    with Client(tenant.url, username="demo", password="demo") as client:
        [made] = client.create(
            [{"BillingProfileId": "101", "PoNumber": "PO-1", "CostCentre": "12"}]
        )
    book = book_from_rows(["Id", "PoNumber", "CostCentre", "Result", "Message"], [])
    _pull(book, f"Id = {made.id}")
    sheet = book.sheets["Invoices"]
    assert sheet.cells[(2, 2)] == "PO-1" and sheet.cells[(2, 3)] == 12  # a number, as typed
    sheet.cells[(2, 2)] = "PO-2"
    roundtrip.send_changed(book)
    assert book.app.alerts[-1][0].startswith("1 row: 1 updated")
    with Client(tenant.url, username="demo", password="demo") as client:
        [server] = client.query(f"SELECT Id, PoNumber FROM INVOICE WHERE Id = {made.id}")
    assert server["PoNumber"] == "PO-2"
    roundtrip.revert_last(book)
    with Client(tenant.url, username="demo", password="demo") as client:
        [server] = client.query(f"SELECT Id, PoNumber FROM INVOICE WHERE Id = {made.id}")
    assert server["PoNumber"] == "PO-1" and sheet.cells[(2, 2)] == "PO-1"
