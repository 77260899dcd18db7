"""Round trip: pull, edit, sort, send only what changed, conflicts, revert (sandbox, loopback)."""

from __future__ import annotations

import datetime as dt
import random
import zipfile
from pathlib import Path

import openpyxl
import pytest

from bpxl import template
from bpxl.core import fields
from bpxl.core.client import Client
from bpxl.core.push import Grid
from bpxl.core.records import read_layout
from bpxl.core.roundtrip import queries
from bpxl.core.roundtrip.edits import changes
from bpxl.core.roundtrip.pull_memory import Pulled, to_cell
from bpxl.workbook.pulling import PULLED, pull_into, read_pulled
from bpxl.workbook.refresh import refresh as refresh_pull

from .conftest import read_sheet, write_invoices


def connect(sandbox) -> list[str]:
    return ["--url", sandbox.url, "--username", "demo"]


def seed_invoices(sandbox, n: int) -> list[str]:
    with Client(sandbox.url, username="demo", password="demo") as client:
        ids = []
        for start in range(0, n, 200):
            batch = [
                {
                    "BillingProfileId": str(101 + i % 5),
                    "Status": "Pending",
                    "DueDate": (dt.date(2026, 1, 1) + dt.timedelta(days=i % 90)).isoformat(),
                    "FileName": f"inv-{i:05d}.pdf",
                    "AgingInterval": i % 60,
                }
                for i in range(start, min(start + 200, n))
            ]
            ids += [r.id for r in client.create(batch)]
    return ids


def test_pull_edit_sort_send_changed_conflict_and_revert(tmp_path: Path, make_sandbox, run) -> None:
    sandbox = make_sandbox(log_fields=True)
    seed_invoices(sandbox, 1000)
    book = tmp_path / "round.xlsx"
    code, out, _ = run("pull", book, "--where", "BillingProfileId IN (101, 102, 103, 104, 105)",
                       *connect(sandbox))  # fmt: skip
    assert code == 0 and "Pulled 1,000 invoices" in out and "1,000 new rows" in out
    pulled = read_sheet(book)
    assert len(pulled) == 1000
    first = pulled[0]
    assert isinstance(first["Id"], str) and isinstance(first["DueDate"], dt.datetime)
    assert first["BillableFlag"] is None and isinstance(first["AgingInterval"], int)

    # Edit 37 cells in 20 rows (and one more row that someone changes on the server meanwhile).
    workbook = openpyxl.load_workbook(book)
    sheet = workbook["Invoices"]
    header = [c.value for c in sheet[1]]
    col = {name: header.index(name) + 1 for name in header if name}
    picked = random.Random(5).sample(range(2, 1002), 21)
    edits: dict[str, dict[str, object]] = {}
    plan = ["Status", "DueDate", "FileName"]
    made = 0
    for number, row in enumerate(picked[:20]):
        invoice = str(sheet.cell(row, col["Id"]).value)
        names = plan[: 2 if number < 17 else 1]  # 17 rows x 2 + 3 rows x 1 = 37 cells
        for name in names:
            value: object = {"Status": "Approved", "DueDate": dt.date(2027, 3, 1),
                             "FileName": "changed.pdf"}[name]  # fmt: skip
            sheet.cell(row, col[name], value)
            edits.setdefault(invoice, {})[name] = value
            made += 1
    assert made == 37
    clash_row = picked[20]
    clash = str(sheet.cell(clash_row, col["Id"]).value)
    sheet.cell(clash_row, col["Status"], "Approved")
    # Sort the sheet (reverse the data rows): the link to the pulled values is the Id, not the row.
    values = [[c.value for c in r] for r in sheet.iter_rows(min_row=2, max_row=1001)]
    for offset, row_values in enumerate(reversed(values)):
        for column, value in enumerate(row_values, start=1):
            sheet.cell(offset + 2, column, value)
    workbook.save(book)
    with Client(sandbox.url, username="demo", password="demo") as client:
        client.update([{"Id": clash, "FileName": "someone else.pdf"}])

    writes_before = len(sandbox.writes())
    code, out, _ = run("push", book, "--op", "update", "--changed", *connect(sandbox))
    assert code == 1, out  # the conflict is not a success
    assert "21 rows: 20 updated, 0 invalid, 0 failed, 1 conflict" in out
    sent = sandbox.writes()[writes_before:]
    assert sum(w["records"] for w in sent) == 20
    sent_fields = sorted(sorted(f) for w in sent for f in w["fields"])
    wanted = sorted(sorted(["Id", *names]) for names in edits.values())
    assert sent_fields == wanted  # each record: its Id and only its changed fields
    rows = {r["Id"]: r for r in read_sheet(book)}
    assert rows[clash]["Result"] == "Conflict" and "since it was pulled" in rows[clash]["Message"]
    with Client(sandbox.url, username="demo", password="demo") as client:
        server = {
            r["Id"]: r for r in client.query("SELECT Id, Status, DueDate, FileName FROM INVOICE")
        }
    assert server[clash]["FileName"] == "someone else.pdf"  # not overwritten
    assert server[clash]["Status"] == "Pending"
    for invoice, changed in edits.items():
        assert rows[invoice]["Result"] == "Updated"
        assert server[invoice]["Status"] == ("Approved" if "Status" in changed else "Pending")
        if "DueDate" in changed:
            assert server[invoice]["DueDate"] == "2027-03-01"

    # Nothing left to send but the conflict row: the remembered values are now the sent ones. The
    # dry run checks the server's stamps as the real send does, so it calls it a conflict too.
    code, out, _ = run("push", book, "--op", "update", "--changed", "--dry-run", *connect(sandbox))
    assert code == 1 and "0 ready to update, 0 invalid, 1 conflict (dry run" in out, out
    assert [r["Id"] for r in read_sheet(book) if r["Result"] == "Conflict"] == [clash]

    # Revert the push: the server gets the values from before it, the sheet shows them again.
    code, out, _ = run("revert", book, *connect(sandbox))
    assert code == 0 and "20 rows: 20 updated" in out, out
    with Client(sandbox.url, username="demo", password="demo") as client:
        after = {r["Id"]: r for r in client.query("SELECT Id, Status, DueDate FROM INVOICE")}
    reverted = {r["Id"]: r for r in read_sheet(book)}
    before = {r["Id"]: r for r in pulled}
    for invoice in edits:
        original = before[invoice]
        assert after[invoice]["Status"] == original["Status"] == "Pending"
        assert after[invoice]["DueDate"] == original["DueDate"].date().isoformat()
        assert reverted[invoice]["Status"] == original["Status"]
        assert reverted[invoice]["DueDate"] == original["DueDate"]
        assert reverted[invoice]["FileName"] == original["FileName"]

    # A second revert has nothing left to put back, and sends nothing.
    writes_before = len(sandbox.writes())
    code, _, err = run("revert", book, *connect(sandbox))
    assert code == 2 and "Nothing left to revert" in err, err
    assert len(sandbox.writes()) == writes_before


def test_a_dry_run_of_changed_rows_says_it_only_checks(
    tmp_path: Path, sandbox, run, memory_keyring
) -> None:
    """The dry run of --changed asks the tenant for conflicts, as the send would, but sends
    nothing: it says so, in the words of a plain dry run, and never "Sending to"."""
    run("connect", "live", "--url", sandbox.url, "--username", "demo", "--sandbox")
    [invoice] = seed_invoices(sandbox, 1)
    book = tmp_path / "dry.xlsx"
    assert run("pull", book, "--ids", invoice, "--profile", "live")[0] == 0
    workbook = openpyxl.load_workbook(book)
    sheet = workbook["Invoices"]
    sheet.cell(2, [c.value for c in sheet[1]].index("Status") + 1, "Approved")
    workbook.save(book)
    code, out, _ = run(
        "push", book, "--op", "update", "--changed", "--dry-run", "--profile", "live"
    )
    assert code == 0, out
    assert out.splitlines()[0] == (
        f"Checking for conflicts in live: sandbox tenant sandbox ({sandbox.url}) "
        "(dry run: nothing is sent)"
    )
    assert (
        "Sending" not in out and "1 ready to update, 0 invalid (dry run: nothing was sent)" in out
    )
    assert len(sandbox.writes()) == 1  # the seed's


def test_pull_with_no_match_and_by_ids(tmp_path: Path, sandbox, run) -> None:
    ids = seed_invoices(sandbox, 3)
    book = tmp_path / "none.xlsx"
    code, out, _ = run("pull", book, "--where", "BillingProfileId = 999", *connect(sandbox))
    assert code == 0 and "No invoices match BillingProfileId = 999" in out
    assert not book.exists()
    code, out, _ = run("pull", book, "--ids", ",".join(ids[:2]), "--fields", "Status",
                       *connect(sandbox))  # fmt: skip
    assert code == 0 and "Pulled 2 invoices" in out
    code, out, _ = run("pull", book, "--ids-from-sheet", *connect(sandbox))
    assert "2 refreshed" in out


def test_unknown_server_fields_are_kept_in_extra_columns(tmp_path: Path) -> None:
    book = tmp_path / "extra.xlsx"
    template.build().save(book)
    record = {"Id": "7", "Updated": "2026-01-01T00:00:00Z", "Status": "Pending", "Region__c": "EU"}
    report = pull_into(book, None, [record], ["Id", "Status"])
    assert report.extra == ["Region__c"]
    sheet = openpyxl.load_workbook(book)["Invoices"]
    header = [c.value for c in sheet[1]]
    assert sheet.cell(2, header.index("Region__c") + 1).value == "EU"
    assert openpyxl.load_workbook(book)[PULLED].sheet_state == "veryHidden"
    assert read_pulled(book)["7"].values["Status"] == "Pending"


def test_extra_columns_go_after_every_used_column_and_merged_cell(tmp_path: Path) -> None:
    """A field bpxl does not know gets a new column after the last column holding anything (a
    column without a header too) and clear of merged header cells, in a first pull and in a
    refresh alike: nothing of the user's is written over or hidden."""
    book = tmp_path / "extra.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Invoices"
    sheet.append(["Id", "Status", "Comments"])
    sheet.append(["7", "Pending", "see mail", None, None, "my own note"])
    sheet.merge_cells("C1:E1")
    workbook.save(book)
    record = {"Id": "7", "Updated": "2026-01-01T00:00:00Z", "Status": "Pending", "Region__c": "EU"}
    assert pull_into(book, None, [record], ["Id", "Status"]).extra == ["Region__c"]
    again = {**record, "Zone__c": "North"}
    report = refresh_pull(book, None, [again], ["Id", "Status"])
    assert report is not None and report.extra == ["Zone__c"]
    sheet = openpyxl.load_workbook(book)["Invoices"]
    assert [c.value for c in sheet[1]] == [
        "Id", "Status", "Comments", None, None, None, "Region__c", "Zone__c"
    ]  # fmt: skip
    assert [c.value for c in sheet[2]] == [
        "7", "Pending", "see mail", None, None, "my own note", "EU", "North"
    ]  # fmt: skip


def test_a_cell_emptied_since_the_pull_is_sent_as_a_clear() -> None:
    header = ["Id", "Status", "DueDate"]
    layout = read_layout(header)
    pulled = {"1": Pulled("t", {"Id": "1", "Status": "Pending", "DueDate": dt.date(2026, 1, 1)})}
    grid = Grid(header, [(2, ["1", None, dt.datetime(2026, 1, 1)])])
    found = changes(grid, layout, pulled)
    assert found.fields == {2: ["Status"]} and found.grid.rows[0][1] == ["1", "#NULL", None]
    assert to_cell(fields.BY_NAME["BillableFlag"], "1") is True
    assert to_cell(fields.BY_NAME["DueDate"], "2026-02-03") == dt.date(2026, 2, 3)


def test_a_1904_workbook_compares_plain_numbers_in_its_own_date_system() -> None:
    """45292 is 2024-01-01 counted from 1900 but 2028-01-02 from 1904: in a 1904 workbook it is
    an edit of a pulled 2024-01-01, and 43830 (2024-01-01 from 1904) is none."""
    header = ["Id", "DueDate"]
    pulled = {i: Pulled("t", {"Id": i, "DueDate": dt.date(2024, 1, 1)}) for i in ("1", "2")}
    grid = Grid(header, [(2, ["1", 45292]), (3, ["2", 43830])], date1904=True)
    found = changes(grid, read_layout(header), pulled)
    assert found.fields == {2: ["DueDate"]}


def test_a_plain_update_can_be_reverted_for_chosen_rows(tmp_path: Path, sandbox, run) -> None:
    ids = seed_invoices(sandbox, 3)
    book = write_invoices(tmp_path / "plain.xlsx", [{"Id": i, "Status": "Closed"} for i in ids])
    code, out, _ = run("push", book, "--op", "update", *connect(sandbox))
    assert code == 0, out
    code, out, _ = run("revert", book, "--rows", "2", *connect(sandbox))
    assert code == 0 and "1 row: 1 updated" in out, out
    with Client(sandbox.url, username="demo", password="demo") as client:
        status = {r["Id"]: r["Status"] for r in client.query("SELECT Id, Status FROM INVOICE")}
    assert [status[i] for i in ids] == ["Pending", "Closed", "Closed"]
    assert read_sheet(book)[0]["Status"] == "Pending"  # the sheet shows the value put back


def _server(sandbox, names: str = "Id, Updated, Status, DueDate, FileName") -> dict[str, dict]:
    with Client(sandbox.url, username="demo", password="demo") as client:
        return {r["Id"]: r for r in client.query(f"SELECT {names} FROM INVOICE")}


def _edit(book: Path, changes: dict[str, dict[str, object]]) -> None:
    """Set cells of the invoice sheet by Id and header, as a user would in Excel."""
    workbook = openpyxl.load_workbook(book)
    sheet = workbook["Invoices"]
    header = [c.value for c in sheet[1]]
    for row in range(2, sheet.max_row + 1):
        invoice = str(sheet.cell(row, header.index("Id") + 1).value)
        for name, value in changes.get(invoice, {}).items():
            sheet.cell(row, header.index(name) + 1, value)
    workbook.save(book)


def test_dates_go_round_and_back_exactly_in_any_time_zone(
    tmp_path: Path, sandbox, run, time_zone: str
) -> None:
    """Pull, change dates, send, revert, in Tokyo and in Los Angeles: no day is gained or lost,
    and the revert puts back exactly the values from before (== the old value, not just != new)."""
    ids = seed_invoices(sandbox, 3)
    original = _server(sandbox)
    book = tmp_path / "zone.xlsx"
    code, out, _ = run("pull", book, "--ids", ",".join(ids), *connect(sandbox))
    assert code == 0, out
    pulled = {r["Id"]: r for r in read_sheet(book)}
    for invoice in ids:
        assert pulled[invoice]["DueDate"].date().isoformat() == original[invoice]["DueDate"]
    _edit(book, {ids[0]: {"DueDate": dt.date(2027, 1, 1), "Status": "Approved"},
                 ids[1]: {"DueDate": dt.datetime(2027, 12, 31)}})  # fmt: skip
    code, out, _ = run("push", book, "--op", "update", "--changed", *connect(sandbox))
    assert code == 0 and "2 rows: 2 updated" in out, out
    sent = _server(sandbox)
    assert sent[ids[0]]["DueDate"] == "2027-01-01" and sent[ids[0]]["Status"] == "Approved"
    assert sent[ids[1]]["DueDate"] == "2027-12-31" and sent[ids[1]] != original[ids[1]]
    assert sent[ids[2]] == original[ids[2]]

    code, out, _ = run("revert", book, *connect(sandbox))
    assert code == 0 and "2 rows: 2 updated" in out, out
    back = _server(sandbox)
    for invoice in ids:
        for name in ("Status", "DueDate", "FileName"):
            assert back[invoice][name] == original[invoice][name], (invoice, name)
    sheet = {r["Id"]: r for r in read_sheet(book)}
    for invoice in ids:
        for name in ("Status", "DueDate", "FileName"):
            assert sheet[invoice][name] == pulled[invoice][name], (invoice, name)


def test_a_row_sent_twice_after_one_pull_is_no_conflict(tmp_path: Path, sandbox, run) -> None:
    """After a changed send, the remembered stamp is the server's new one: sending the same row
    again is an update, not a false conflict."""
    ids = seed_invoices(sandbox, 2)
    book = tmp_path / "twice.xlsx"
    run("pull", book, "--ids", ",".join(ids), *connect(sandbox))
    for status in ("Approved", "Closed"):
        _edit(book, {ids[0]: {"Status": status}})
        code, out, _ = run("push", book, "--op", "update", "--changed", *connect(sandbox))
        assert code == 0 and "1 row: 1 updated" in out, out
        server = _server(sandbox)
        assert server[ids[0]]["Status"] == status
        remembered = read_pulled(book)
        assert remembered[ids[0]].updated == server[ids[0]]["Updated"]
        assert remembered[ids[0]].values["Status"] == status
        assert remembered[ids[1]].updated == server[ids[1]]["Updated"]


EXT_LIST = (
    '<extLst><ext uri="{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}" '
    'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
    '<x14:dataValidations count="1" xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main">'
    '<x14:dataValidation type="list" allowBlank="1"><x14:formula1><xm:f>Lists!$A$1:$A$2</xm:f>'
    "</x14:formula1><xm:sqref>AZ2:AZ100</xm:sqref></x14:dataValidation></x14:dataValidations>"
    "</ext></extLst>"
)


def add_cross_sheet_dropdown(book: Path) -> None:
    """What Excel writes for a dropdown whose list is on another sheet, into the first sheet."""
    with zipfile.ZipFile(book) as source:
        parts = {item.filename: source.read(item.filename) for item in source.infolist()}
    sheet_part = "xl/worksheets/sheet1.xml"
    parts[sheet_part] = parts[sheet_part].replace(
        b"</worksheet>", EXT_LIST.encode() + b"</worksheet>"
    )
    with zipfile.ZipFile(book, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)


def _sheet_xml(book: Path) -> str:
    with zipfile.ZipFile(book) as package:
        return package.read("xl/worksheets/sheet1.xml").decode()


@pytest.mark.filterwarnings("ignore:Data Validation extension")  # the test's own read_sheet
def test_send_changed_and_revert_keep_what_openpyxl_cannot_read(
    tmp_path: Path, sandbox, run
) -> None:
    """A dropdown listing another sheet (Excel keeps it in the sheet's extLst, which openpyxl
    drops when it saves) survives the sends of a round trip."""
    ids = seed_invoices(sandbox, 2)
    book = tmp_path / "dropdown.xlsx"
    run("pull", book, "--ids", ",".join(ids), *connect(sandbox))
    workbook = openpyxl.load_workbook(book)
    sheet = workbook["Invoices"]
    header = [c.value for c in sheet[1]]
    sheet.cell(2, header.index("FileName") + 1, "edited.pdf")
    workbook.save(book)
    add_cross_sheet_dropdown(book)
    code, out, _ = run("push", book, "--op", "update", "--changed", *connect(sandbox))
    assert code == 0 and "1 updated" in out, out
    assert "x14:dataValidation " in _sheet_xml(book)
    code, out, _ = run("revert", book, *connect(sandbox))
    assert code == 0 and "1 updated" in out, out
    assert "x14:dataValidation " in _sheet_xml(book)
    assert read_sheet(book)[0]["FileName"] != "edited.pdf"  # put back in the sheet too


def test_stamps_and_conflicts_ask_500_ids_a_query_and_miss_none(make_sandbox) -> None:
    """1,001 pulled invoices are checked in three queries (500, 500, 1): none is left out of
    its query, so none is reported deleted, and none is asked twice."""
    sandbox = make_sandbox()
    ids = seed_invoices(sandbox, 1001)
    with Client(sandbox.url, username="demo", password="demo") as client:
        client.login()
        asked = len(sandbox.requests())
        found = queries.stamps(client, ids)
        assert len(sandbox.requests()) - asked == 3
        assert sorted(found) == sorted(ids) and all(found.values())
        assert queries.conflicts(client, found) == {}
        changed = dict(found, **{ids[499]: "2001-01-01 00:00:00", ids[1000]: "x"})
        assert sorted(queries.conflicts(client, changed)) == sorted([ids[499], ids[1000]])
