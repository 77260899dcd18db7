"""The add-in on a fake Excel that surprises where the real one does (issue 26): a German Excel,
the cursor anywhere, addresses cut at 255 characters, a workbook opened from SharePoint,
macros looked for in the active workbook. Each test fails on an add-in that only works on an
English Excel with the cursor in A1 and a workbook on the local disk."""

from __future__ import annotations

import datetime as dt

import pytest

from bpxl.core import journal, profiles
from bpxl.core.client import Client
from bpxl.core.connection import data_dir, journal_dir
from bpxl.excel import ribbon
from bpxl.excel.range_io import chosen_rows, read_block

from .fake_xlwings import ADDRESS_LIMIT, App, Book, Formula, book_from_rows, press

TEXT = "MoveInvoiceDescription"  # a text field of the Invoice
HEADER = ["Id", "BillingProfileId", "Status", "DueDate", TEXT, "Result", "Message"]
SHAREPOINT = "https://contoso.sharepoint.com/sites/Finance/Shared%20Documents/Invoices%20Q3.xlsx"


def _rows(n: int) -> list[list[object]]:
    return [
        [None, str(101 + i % 3), "Pending", dt.datetime(2026, 1, 1 + i % 28), f"note {i}"]
        for i in range(n)
    ]


def _connected(sandbox, run) -> None:  # type: ignore[no-untyped-def]
    run("connect", "live", "--url", sandbox.url, "--username", "demo", "--sandbox")
    profiles.set_active("live")


def _seed(sandbox, count: int, notes: str = "seeded") -> list[str]:  # type: ignore[no-untyped-def]
    with Client(sandbox.url, username="demo", password="demo") as client:
        made = client.create(
            [
                {"BillingProfileId": "101", "Status": "Pending", "DueDate": "2026-01-31",
                 TEXT: notes}
                for _ in range(count)
            ]
        )  # fmt: skip
    return [str(r.id) for r in made]


@pytest.mark.parametrize("language", ["en-US", "de-DE"])
@pytest.mark.parametrize("cursor", [(1, 1), (40, 9)])
def test_amber_marks_are_on_the_edited_cells_in_any_language_wherever_the_cursor_is(
    sandbox, run, memory_keyring, language: str, cursor: tuple[int, int]
) -> None:
    """FormatConditions.Add reads its formula in the user's language and its relative
    references from the active cell: the rule that marks C7 must compare C7, by the Id in A7,
    with the pulled value, on a German Excel with the cursor in I40 as on an English one in A1."""
    _connected(sandbox, run)
    _seed(sandbox, 8)
    book = Book(App(language=language))
    book.add_sheet("Invoices").fill(HEADER, [])
    book.app.active_cell = cursor
    book.app.input_answers = ["BillingProfileId = 101"]
    press(book, "bpxlPull")
    assert "Pulled 8 invoices" in book.app.alerts[-1][0], book.app.alerts
    sheet = book.sheets[0]
    marked = sorted({rule[0] for rule in sheet.format_rules if rule[2] != '="Created"'})
    assert len(marked) == 4  # BillingProfileId, Status, DueDate, the text: not the Id
    for row, column, letter in [(7, 3, "C"), (2, 2, "B"), (9, 5, "E"), (1_048_576, 4, "D")]:
        assert sheet.rule_formula_at(row, column) == [
            f'=(AND($A{row}<>"",IFERROR({letter}{row}&""<>INDEX(\'_bpxl_pulled\'!{letter}:'
            f'{letter},MATCH($A{row}&"",\'_bpxl_pulled\'!$A:$A,0))&"",FALSE)))'
        ]
    assert sheet.rule_formula_at(1, 3) == [] and sheet.rule_formula_at(5, 1) == []  # header, Id
    assert {rule[3] for rule in sheet.format_rules if rule[0] in marked} == {0x9CEBFF}  # amber


def test_amber_marks_follow_an_id_column_that_is_not_the_first(
    sandbox, run, memory_keyring
) -> None:  # type: ignore[no-untyped-def]
    """The rule compares each cell by the Id in its own row, wherever the Id column stands; a
    field column added after the first pull gets its marks at the next."""
    _connected(sandbox, run)
    _seed(sandbox, 3)
    book = Book()
    sheet = book.add_sheet("Invoices")
    sheet.fill(["Checked", "Status", "Id", "BillingProfileId"], [])
    book.app.input_answers = ["BillingProfileId = 101"]
    press(book, "bpxlPull")
    assert "Pulled 3 invoices" in book.app.alerts[-1][0], book.app.alerts
    assert sheet.rule_formula_at(3, 2) == [
        '=(AND($C3<>"",IFERROR(B3&""<>INDEX(\'_bpxl_pulled\'!B:B,MATCH($C3&"",'
        "'_bpxl_pulled'!$C:$C,0))&\"\",FALSE)))"
    ]
    assert sheet.rule_formula_at(3, 1) == [] and sheet.rule_formula_at(3, 3) == []
    assert [visible for _, visible in book.names.values()] == [False]  # a name nobody sees
    sheet.cells[(1, 5)] = "DueDate"  # a field column added since
    book.app.input_answers = [""]
    press(book, "bpxlPull")
    assert len(sheet.rule_formula_at(3, 2)) == 1  # set once
    assert sheet.rule_formula_at(4, 5) == [
        '=(AND($C4<>"",IFERROR(E4&""<>INDEX(\'_bpxl_pulled\'!E:E,MATCH($C4&"",'
        "'_bpxl_pulled'!$C:$C,0))&\"\",FALSE)))"
    ]


def test_rows_a_filter_leaves_scattered_are_all_found_past_255_characters_of_address() -> None:
    """Excel cuts Range.Address at 255 characters: a filter leaving 66 scattered rows (or a
    selection of 40 areas) must still give every one of them."""
    book = book_from_rows(HEADER, _rows(200))  # data rows 2..201
    sheet = book.sheets[0]
    sheet.hidden_rows = {r for r in range(2, 202) if r % 3}
    visible = list(range(3, 202, 3))
    areas = sheet.range((2, 1), (201, 1)).api.SpecialCells(12)
    assert len(areas.Address) == ADDRESS_LIMIT  # the address alone would lose rows
    book.app.selected = "$B$5"
    choice = chosen_rows(book.app, read_block(sheet))
    assert choice.whole_sheet and choice.rows == visible
    book.app.selected = ",".join(f"$C${r}:$D${r}" for r in range(3, 121, 3))  # 40 areas
    assert len(book.app.selection.address) == ADDRESS_LIMIT
    choice = chosen_rows(book.app, read_block(sheet))
    assert not choice.whole_sheet and choice.rows == list(range(3, 121, 3))


def test_text_from_the_server_never_becomes_a_formula(sandbox, run, memory_keyring) -> None:
    """Excel enters a string written to Range.value as if typed: '=HYPERLINK(...)' from a pulled
    text field would become a live formula in the user's workbook and in the hidden memory
    sheet."""
    _connected(sandbox, run)
    hostile = '=HYPERLINK("http://evil.example/pay","invoice.pdf")'
    invoices = _seed(sandbox, 1, notes=hostile) + _seed(sandbox, 1, notes="-1+cmd|' /C calc'!A0")
    book = book_from_rows(HEADER, [])
    book.app.input_answers = [f"Id IN ({', '.join(invoices)})"]
    press(book, "bpxlPull")
    sheet, memory = book.sheets[0], book.sheets["_bpxl_pulled"]
    texts = sorted(str(v) for v in sheet.column(TEXT).values() if v is not None)
    assert texts == ["-1+cmd|' /C calc'!A0", hostile], book.app.alerts
    cells = [*sheet.cells.values(), *memory.cells.values()]
    assert not any(isinstance(value, Formula) for value in cells)
    assert hostile in memory.cells.values()


def test_the_ribbon_label_refresh_is_found_from_any_workbook(
    sandbox, run, memory_keyring, tmp_path, monkeypatch
) -> None:
    """Application.Run looks for an unqualified macro in the active workbook only; the add-in's
    BpxlRefreshRibbon must be named with the add-in's file."""
    monkeypatch.setenv("HOME", str(tmp_path))
    run("connect", "acme", "--url", sandbox.url, "--username", "demo", "--sandbox")
    book = book_from_rows(HEADER, _rows(1))
    book.app.input_answers = ["2"]
    press(book, "bpxlConnect")
    assert book.app.macros_run == ["BpxlRefreshRibbon"], book.app.alerts
    assert not any("unexpected" in text for text, _ in book.app.alerts)
    assert len(book.app.alerts) == 1  # the question; the label says the rest


def test_connect_after_a_vba_reset_says_where_the_next_write_goes(
    sandbox, run, memory_keyring, tmp_path, monkeypatch
) -> None:
    """A VBA reset clears the add-in's hold on the ribbon, whose label then cannot change until
    Excel restarts: Connect... says the new target itself."""
    monkeypatch.setenv("HOME", str(tmp_path))
    run("connect", "acme", "--url", sandbox.url, "--username", "demo", "--sandbox")
    book = book_from_rows(HEADER, _rows(1))
    book.app.ribbon_held = False
    book.app.input_answers = ["2"]
    press(book, "bpxlConnect")
    said = book.app.alerts[-1][0]
    assert said.startswith("Next write: acme") and "once Excel restarts" in said, book.app.alerts


def test_a_sharepoint_workbook_works_for_every_button_and_keeps_one_identity(
    sandbox, run, memory_keyring
) -> None:
    """Excel's FullName of a workbook opened from SharePoint or Teams is an https URL, which
    xlwings' Book.fullname cannot map without settings: every button must work anyway, and the
    journal must know the workbook by the same name in every session (Recover finds its runs)."""
    _connected(sandbox, run)
    book = book_from_rows(HEADER, _rows(3))
    book.path = SHAREPOINT
    book.app.alert_answers = ["ok"]
    press(book, "bpxlCreate")
    assert "3 rows: 3 created" in book.app.alerts[-1][0], book.app.alerts
    [run_] = journal.runs(journal_dir())
    stand_in = data_dir() / "online/contoso.sharepoint.com/sites/Finance/Shared Documents"
    assert run_.workbook == str((stand_in / "Invoices Q3.xlsx").resolve())
    sheet = book.sheets[0]
    ids = sheet.column("Id")
    book.app.input_answers = [""]  # refresh the sheet's invoices
    press(book, "bpxlPull")
    assert "0 new rows, 3 refreshed" in book.app.alerts[-1][0], book.app.alerts
    sheet.cells[(3, 3)] = "Approved"
    press(book, "bpxlSendChanged")
    assert "1 row: 1 updated" in book.app.alerts[-1][0], book.app.alerts
    book.app.selected = "$A$3"
    press(book, "bpxlRevert")
    assert "1 row: 1 updated" in book.app.alerts[-1][0], book.app.alerts
    press(book, "bpxlValidate")
    assert "nothing was sent" in book.app.alerts[-1][0], book.app.alerts
    press(book, "bpxlRecover")
    assert "Nothing to recover" in book.app.alerts[-1][0], book.app.alerts
    assert not any("unexpected" in text for text, _ in book.app.alerts)
    assert ids == sheet.column("Id")


def _slow_send(make_sandbox, run, rows: int) -> Book:  # type: ignore[no-untyped-def]
    """A sheet of ``rows`` new invoices, connected to a sandbox that answers each request
    after 1.5 s (a busy real tenant): the send lasts several seconds."""
    sandbox = make_sandbox(faults=["latency:1.5s"])
    _connected(sandbox, run)
    book = book_from_rows(HEADER, _rows(rows))
    book.app.ole_limit_s = 4.0  # Excel's limit, scaled down with the sandbox's slowness
    book.sandbox = sandbox  # type: ignore[attr-defined]
    return book


def _create_running(make_sandbox, run, rows: int) -> Book:  # type: ignore[no-untyped-def]
    """``_slow_send``'s sheet after a click on Create: the button's call has returned, the send
    runs on (its polls scheduled, not yet run)."""
    book = _slow_send(make_sandbox, run, rows)
    app = book.app
    app.alert_answers = ["ok"]
    app.vba["BpxlPoll"] = ribbon.poll
    app.run_python(lambda: ribbon.action("bpxlCreate", book))
    assert app.scheduled, "the send should still be running"
    return book


def test_a_send_longer_than_excels_ole_limit_keeps_every_call_short_and_shows_progress(
    make_sandbox, run, memory_keyring
) -> None:
    """Excel fails a call into Python that outlasts its OLE limit (dialogs on a real Excel): a
    long send runs in the background, each call from VBA returns within a few seconds, the
    status bar shows how far it got, and every row gets its result."""
    book = _slow_send(make_sandbox, run, 2_400)
    book.app.alert_answers = ["ok"]
    press(book, "bpxlCreate")
    assert "2,400 rows: 2,400 created" in book.app.alerts[-1][0], book.app.alerts
    assert len(book.app.call_seconds) >= 2  # the button, then polls
    assert max(book.app.call_seconds) < book.app.ole_limit_s
    shown = [s for s in book.app.status_history if isinstance(s, str)]
    assert any(" of 2,400 rows" in s and "2,400 of" not in s for s in shown), shown
    results = book.sheets[0].column("Result")
    assert all(results[r] == "Created" for r in range(2, 2_402))
    assert book.sandbox.sandbox.store.count() == 2_400  # type: ignore[attr-defined]


def test_stop_sending_ends_a_long_send_with_every_row_marked_and_other_buttons_wait(
    make_sandbox, run, memory_keyring
) -> None:
    book = _create_running(make_sandbox, run, 6_000)
    app = book.app
    app.run_python(lambda: ribbon.action("bpxlValidate", book))
    assert "still busy with Create" in app.alerts[-1][0]
    app.run_python(lambda: ribbon.action("bpxlStop", book))
    app.idle()
    said = app.alerts[-1][0]
    assert said.startswith("Stopped, as you asked"), app.alerts
    results, messages = book.sheets[0].column("Result"), book.sheets[0].column("Message")
    created = [r for r in range(2, 6_002) if results[r] == "Created"]
    stopped = [r for r in range(2, 6_002) if results[r] == "Failed"]
    assert len(created) + len(stopped) == 6_000 and stopped, said
    assert all(messages[r].startswith("Not sent: stopped") for r in stopped)
    assert book.sandbox.sandbox.store.count() == len(created)  # type: ignore[attr-defined]
    assert journal.unfinished(journal_dir()) == []
    assert max(app.call_seconds) < app.ole_limit_s
    press(book, "bpxlStop")
    assert app.alerts[-1][0] == "Nothing is running."


def test_rows_sorted_while_a_long_send_runs_get_their_own_results(
    make_sandbox, run, memory_keyring
) -> None:
    """Excel stays usable during a long send, so the user may sort the sheet meanwhile: each
    result goes into the row holding what was sent, never by the old row number."""
    book = _create_running(make_sandbox, run, 1_000)
    app = book.app
    sheet = book.sheets[0]
    rows = [[sheet.cells.get((r, c)) for c in range(1, 8)] for r in range(2, 1_002)]
    sheet.fill(HEADER, list(reversed(rows)))  # the user sorts Z to A
    app.idle()
    assert any("changed while bpxl was sending" in text for text, _ in app.alerts), app.alerts
    store = book.sandbox.sandbox.store  # type: ignore[attr-defined]
    assert store.count() == 1_000
    for row in (2, 500, 1_001):
        invoice = store.get(int(sheet.cells[(row, 1)]))
        assert invoice is not None and sheet.cells[(row, 6)] == "Created"
        assert invoice[TEXT] == sheet.cells[(row, 5)]  # this row's own invoice
