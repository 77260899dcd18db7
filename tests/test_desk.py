"""The ribbon's side of a send (excel/desk.py) called directly on the fake Excel: the questions
and the summing-up in their words, where the next write goes, and a sheet changed during a send.
The buttons end to end are in test_excel.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpxl.core import profiles
from bpxl.core.connection import Connection
from bpxl.core.results import Operation, Outcome, RowResult
from bpxl.excel import desk

from .fake_xlwings import App, book_from_rows

ACME = profiles.Profile("acme", "https://acme.billingplatform.com/acme_prod", "jo")


def _desk() -> desk._Desk:
    book = book_from_rows(["Id", "BillingProfileId"], [[None, "101"], [None, "102"]])
    return desk._Desk(book, lambda block: None)


def failed(row: int, outcome: Outcome = Outcome.FAILED) -> RowResult:
    return RowResult(row, outcome, None, [f"Status: refused {row}"])


def test_the_summing_up_lists_the_first_ten_problems() -> None:
    app = App()
    results = [RowResult(2, Outcome.CREATED, "7"), RowResult(3, None)]
    results += [failed(r) for r in range(4, 16)] + [failed(16, Outcome.INVALID)]
    desk.show(app, "15 rows: 1 created", results)
    [(text, buttons)] = app.alerts
    assert buttons == "ok"
    assert text.split("\n") == [
        "15 rows: 1 created",
        "",
        *(f"Row {r}: Failed: Status: refused {r}" for r in range(4, 14)),
        "... and 3 more: see the Message column",
    ]
    desk.show(app, "1 row", [failed(2)])
    assert app.alerts[-1][0] == "1 row\n\nRow 2: Failed: Status: refused 2"
    desk.show(app, "fine", [RowResult(2, Outcome.UPDATED)] * 12)
    assert app.alerts[-1][0] == "fine\n"
    assert set(app.alert_titles) == {"BillingPlatform"}  # every message box's caption


def test_creating_rows_again_is_asked_with_the_first_ten() -> None:
    work = _desk()
    app = work.book.app
    app.alert_answers = ["no", "yes"]
    found = [RowResult(r, Outcome.EXISTS, str(r), [f"Id {r} exists"]) for r in range(2, 14)]
    assert work.create_again(found) is False
    text, buttons = app.alerts[-1]
    assert buttons == "yes_no"
    assert text == "\n".join(
        [
            "12 rows of this sheet were created before (from this workbook or a copy of it):",
            "",
            *(f"Row {r}: Id {r} exists" for r in range(2, 12)),
            "... and 2 more rows",
            "",
            "Create them again all the same (a second invoice each)? No leaves them marked "
            "Exists, with the Id of the invoice there is.",
        ]
    )
    assert work.create_again(found[:1]) is True
    assert app.alerts[-1][0].startswith(
        "1 row of this sheet was created before (from this workbook or a copy of it):\n\n"
        "Row 2: Id 2 exists\n\nCreate them again"
    )
    app.alert_answers = ["yes"]
    work.create_again(found[:11])
    assert "\n... and 1 more row\n" in app.alerts[-1][0]
    assert set(app.alert_titles) == {"BillingPlatform"}


def test_production_is_asked_about_and_a_sandbox_not() -> None:
    work = _desk()
    app = work.book.app
    link = Connection(None, None, ACME)  # type: ignore[arg-type]
    app.alert_answers = ["yes", "no"]
    assert work.confirm(link, Operation.UPSERT, lambda: 1) is True
    assert app.alerts[-1] == (
        "Upsert 1 invoice row in the PRODUCTION tenant acme_prod "
        "(https://acme.billingplatform.com/acme_prod)?",
        "yes_no",
    )
    assert work.confirm(link, Operation.CREATE, lambda: 3) is False
    assert app.alerts[-1][0].startswith("Create 3 invoice rows in the PRODUCTION tenant")
    counted: list[int] = []
    sandbox = Connection(None, None, None)  # type: ignore[arg-type]
    test = Connection(None, None, ACME.__class__("t", ACME.url, production=False))  # type: ignore[arg-type]
    assert work.confirm(sandbox, Operation.CREATE, lambda: counted.append(1) or 1) is True
    assert work.confirm(test, Operation.CREATE, lambda: counted.append(1) or 1) is True
    assert counted == [] and len(app.alerts) == 2  # nothing asked, the rows not even counted
    assert app.alert_titles == ["BillingPlatform"] * 2


def test_the_next_write_is_named_and_written_for_the_ribbon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, memory_keyring
) -> None:  # type: ignore[no-untyped-def]
    assert desk.label("x", {}) == "SANDBOX (on this computer)"
    assert desk.label("acme", {"acme": ACME}) == ACME.label
    monkeypatch.setenv("HOME", str(tmp_path))
    assert desk.label_file() == tmp_path / ".bpxl" / "target.txt"
    assert desk.target_label() == "SANDBOX (on this computer)"
    desk.write_label("acme: PRODUCTION")
    assert desk.label_file().read_bytes() == b"acme: PRODUCTION\r\n"


def test_a_sheet_changed_during_a_send_is_told() -> None:
    work = _desk()
    assert work.read() is None and work.block is not None
    assert work.changed() is False
    sheet = work.book.sheets[0]
    sheet.cells[(3, 2)] = "103"
    assert work.changed() is True
    sheet.cells[(3, 2)] = "102"
    assert work.changed() is False
    sheet.cells[(1, 3)] = "Notes"  # a column added: the used range grows
    assert work.changed() is True
    work.warn("The sheet changed while bpxl was sending.")
    assert work.book.app.alerts == [("The sheet changed while bpxl was sending.", "ok")]
    assert work.book.app.alert_titles == ["BillingPlatform"]
    grid = work.reread("Invoices")
    assert list(grid.header) == ["Id", "BillingProfileId", "Notes"] and len(grid.rows) == 2
