"""Issue 24's property: for any values of every field type, push, pull, refresh and push again
sends nothing and changes nothing on the server, and each pulled cell is what the server holds.

Values are drawn per field type, odd ones on purpose: Unicode in both normal forms, text that
starts like a formula, control characters, lone surrogates, text longer than a cell, whole numbers
at the 32-bit edges, decimals, dates from 1900 to 9999, flags; in a workbook on the 1900 date
system (a new workbook, then its refresh) or the 1904 one (the user's own, then its refresh), so
every pull writer is crossed. What a cell cannot hold as the server has it (a control character,
a lone surrogate, 32,768 characters) is put on the server by a colleague, through the API, and
the cell then holds ``inert``'s text of it.

Bounded in time: ``BPXL_PROPERTY_EXAMPLES`` examples (5 by default, as in CI; raise it for a
long run), each one a sandbox round trip of about a second.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpxl.core.cells import convert
from bpxl.core.client import Client
from bpxl.core.fields import FieldType
from bpxl.core.inert import MAX_CELL_TEXT, inert
from bpxl.sandbox import schema
from bpxl.sandbox.faults import FaultPlan
from bpxl.sandbox.schema import parse_custom_field
from bpxl.sandbox.server import Sandbox, SandboxConfig
from bpxl.workbook.pulling import read_pulled

from .conftest import RunningSandbox, read_sheet

EXAMPLES = int(os.environ.get("BPXL_PROPERTY_EXAMPLES", "5"))
AMOUNT = parse_custom_field("Amount:decimal")
KNOWN = schema.catalogue((AMOUNT,))
FIELDS = ["BillingProfileId", "Status", "EstimatedStatus", "DueDate", "BillableFlag",
          "AgingInterval", "FileName", "MoveInvoiceDescription", "Amount"]  # fmt: skip
ODD_TEXT = [
    '=HYPERLINK("http://evil.example/pay","x.pdf")', "+1", "-2", "@SUM(A1)", "'quoted",
    "00123", "1/2", "TRUE", "a\r\nb", "tab\there", " lead", "trail ",
    unicodedata.normalize("NFD", "Renée"), unicodedata.normalize("NFC", "Renée"), "日本語", "🧾",
]  # fmt: skip
# What only a server holds (a cell can hold "#N/A", but bpxl refuses to send an Excel error).
HOSTILE_TEXT = ["bell\x07", "nul\x00", "lone\ud800", "\udfffback", "\uffff", "#N/A"]


def _cell_text() -> st.SearchStrategy[str]:
    """Text a workbook cell can hold (what a user can type and push)."""
    typed = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=40)
    return st.one_of(st.sampled_from(ODD_TEXT), typed).filter(lambda t: bool(t.strip()))


def _server_text() -> st.SearchStrategy[str]:
    """Text only a server holds: what a cell cannot, put there by a colleague through the API."""
    long = st.builds(lambda n, c: c * n, st.integers(MAX_CELL_TEXT - 2, MAX_CELL_TEXT + 2),
                     st.sampled_from("x=é"))  # fmt: skip
    mixed = st.builds("".join, st.lists(st.sampled_from([*HOSTILE_TEXT, "a", "="]), max_size=6))
    return st.one_of(st.sampled_from(HOSTILE_TEXT), long, mixed)


def _invoice() -> st.SearchStrategy[dict[str, object]]:
    """A row as the user types it: cell values by header."""
    return st.fixed_dictionaries(
        {
            "BillingProfileId": st.sampled_from([101, 102, 105, "103"]),
            "Status": st.sampled_from(["Pending", "approved", "VOID", "Closed"]),
            "EstimatedStatus": _cell_text(),
            "DueDate": st.dates(dt.date(1904, 1, 1), dt.date(9999, 12, 31)),
            "BillableFlag": st.sampled_from([True, False, "yes", "no", 1, 0]),
            "AgingInterval": st.sampled_from([-(2**31), 2**31 - 1, 0, -1, 1, 30]),
            "FileName": _cell_text(),
            "MoveInvoiceDescription": _cell_text(),
            "Amount": st.one_of(
                st.integers(-(10**12), 10**12),
                st.decimals(-(10**9), 10**9, places=2).map(float),
            ),
        }
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    log = tmp_path_factory.mktemp("property") / "requests.jsonl"
    faults = FaultPlan.parse([], seed=1)
    config = SandboxConfig(port=0, request_log=log, faults=faults, custom_fields=(AMOUNT,))
    sandbox = Sandbox(config).start()
    yield RunningSandbox(sandbox, log)
    sandbox.stop()


_names = itertools.count()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    typed=_invoice(),
    colleague=st.dictionaries(
        st.sampled_from(["FileName", "MoveInvoiceDescription"]), _server_text(), max_size=2
    ),
    date1904=st.booleans(),
)
def test_a_round_trip_of_any_values_sends_nothing_and_shows_what_the_server_holds(
    server: RunningSandbox,
    tmp_path: Path,
    run: Callable[..., tuple[int, str, str]],
    typed: dict[str, object],
    colleague: dict[str, str],
    date1904: bool,
) -> None:
    folder = tmp_path / f"example-{next(_names)}"
    folder.mkdir()
    connection = ["--url", server.url, "--username", "demo"]
    # 1. push: the user's row, created from a workbook.
    pushed = folder / "push.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["Id", *FIELDS])
    for column, name in enumerate(FIELDS, start=2):
        cell = book.active.cell(2, column, typed[name])
        if isinstance(typed[name], str):
            cell.data_type = "s"  # typed as text ('=... in Excel), not a formula
    book.save(pushed)
    # Examples share one ledger and may repeat a row: each is a new invoice all the same.
    code, out, err = run("push", pushed, "--op", "create", "--create-anyway", *connection)
    assert code == 0, out + err
    [invoice] = [str(r["Id"]) for r in read_sheet(pushed)]
    # ... and a colleague's change, of what no cell can hold.
    with Client(server.url, username="demo", password="demo") as client:
        if colleague:
            [answer] = client.update([{"Id": invoice, **colleague}])
            assert answer.outcome is not None and answer.outcome.ok, answer
        [held] = client.query(f"SELECT Id, {', '.join(FIELDS)} FROM INVOICE WHERE Id = {invoice}")

    # 2. pull into a workbook (a new one on the 1900 date system, or the user's own on 1904),
    # 3. then refresh it: the first pull and the refresh write through different writers.
    pulled = folder / "pulled.xlsx"
    if date1904:
        own = openpyxl.Workbook()
        own.active.title = "Mine"
        own.active.append(["Id", *FIELDS])
        own.active.append([int(invoice)])
        own.epoch = openpyxl.utils.datetime.CALENDAR_MAC_1904
        own.save(pulled)
        first = ["--ids-from-sheet"]
    else:
        first = ["--ids", invoice]
    for which in (first, ["--ids-from-sheet"]):
        code, out, err = run("pull", pulled, *which, *connection)
        assert code == 0, out + err
        [row] = read_sheet(pulled, "Mine" if date1904 else None)
        for name in FIELDS:
            _assert_shows(row.get(name), held[name], KNOWN.by_name[name].type, name)
        remembered = read_pulled(pulled)[invoice].values
        for name in FIELDS:
            now, then = row.get(name), remembered.get(name)
            if KNOWN.by_name[name].type is FieldType.DATE and then is not None:
                # the memory holds a date, or its serial in the workbook's date system
                then = dt.date.fromisoformat(
                    str(convert(KNOWN.by_name[name], then, date1904).value)
                )
                now = now.date() if now is not None else None
            assert now == then or (now in (None, "") and then in (None, "")), (name, now, then)

    # 4. push again: nothing to send, and the server unchanged.
    writes = len(server.writes())
    code, out, err = run("push", pulled, "--op", "update", "--changed", *connection)
    assert "nothing to send" in out, out + err
    assert len(server.writes()) == writes
    with Client(server.url, username="demo", password="demo") as client:
        [after] = client.query(f"SELECT Id, {', '.join(FIELDS)} FROM INVOICE WHERE Id = {invoice}")
    assert after == held


def _assert_shows(cell: object, held: object, kind: FieldType, name: str) -> None:
    """The pulled cell is the server's value, in its type (text as ``inert`` writes it)."""
    text = "" if held is None else str(held)
    if text == "":
        assert cell in (None, ""), (name, cell)
    elif kind is FieldType.TEXT or kind is FieldType.PICKLIST:
        assert cell == inert(text).value, (name, cell, text[:50])
    elif kind is FieldType.DATE:
        assert isinstance(cell, dt.datetime) and cell.date().isoformat() == text, (name, cell)
    elif kind is FieldType.FLAG:
        assert cell is (text == "1"), (name, cell, text)
    elif kind is FieldType.INTEGER:
        assert type(cell) is int and cell == int(text), (name, cell, text)
    elif kind is FieldType.DECIMAL:
        assert isinstance(cell, int | float) and float(cell) == float(text), (name, cell, text)
    else:  # an Id
        assert str(cell) == text, (name, cell, text)
