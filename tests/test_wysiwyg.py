"""Issue 24: what the user sees is what is sent, and what comes back into the workbook stays inert.

One test (or a few) per row of the issue's table, each over the sandbox and the real command line:
headers that resemble a field, values from a list, merged cells, a refresh over unsent edits,
pulled text that would act (formulas, control characters, lone surrogates, text too long for a
cell), typed pulls (numbers, both date systems), and ``--rows`` over hidden rows.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
import pytest

from bpxl.core import profiles
from bpxl.core.cells import convert
from bpxl.core.client import Client
from bpxl.core.describe import catalogue_from
from bpxl.core.fields import BUILT_IN, BY_NAME
from bpxl.core.inert import MAX_CELL_TEXT, REPLACEMENT
from bpxl.core.records import read_layout
from bpxl.workbook.pulling import read_pulled

from .conftest import read_sheet, write_invoices
from .fake_xlwings import book_from_rows, press
from .test_roundtrip import connect, seed_invoices

EVIL = '=HYPERLINK("http://evil.example/pay","x.pdf")'


def _server(sandbox, names: str = "Id, Status, DueDate, FileName") -> dict[str, dict]:
    with Client(sandbox.url, username="demo", password="demo") as client:
        return {r["Id"]: r for r in client.query(f"SELECT {names} FROM INVOICE")}


def _update(sandbox, record: dict[str, object]) -> None:
    with Client(sandbox.url, username="demo", password="demo") as client:
        [answer] = client.update([record])
        assert answer.outcome is not None and answer.outcome.ok, answer


def _own_book(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    """A workbook of the user's own (not the template): a plain sheet with ``header``."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Mine"
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


# -- headers that resemble a field ------------------------------------------------------------


def test_a_header_that_resembles_a_field_stops_the_push_before_anything_is_sent(
    tmp_path: Path, sandbox, run
) -> None:
    book = _own_book(
        tmp_path / "typos.xlsx",
        ["BillingProfileId", "Due Dte", "Billable", "Disputed Flag", "Billing Profile", "Notes"],
        [[101, dt.date(2030, 1, 31), "yes", "no", 101, "mine"]],
    )
    code, out, err = run("push", book, "--op", "create", *connect(sandbox))
    assert code == 2, out + err
    assert sandbox.writes() == []
    said = out + err
    for header, field in [
        ("Due Dte", "DueDate"),
        ("Billable", "BillableFlag"),
        ("Disputed Flag", "Disputed"),
        ("Billing Profile", "BillingProfileId"),
    ]:
        assert f'"{header}"' in said and field in said, said
    assert "Notes" not in said  # a column that resembles no field stays the user's own
    assert "--ignore-columns" in said and "Nothing was sent" in said
    assert '"My Due Dte"' in said  # what to do in Excel, where there are no options

    # Sent anyway, the named columns ignored: the user said they are theirs.
    code, out, _ = run(
        "push", book, "--op", "create", "--ignore-columns", "Due Dte, Billable,Disputed Flag",
        "--ignore-columns", "Billing Profile", *connect(sandbox),
    )  # fmt: skip
    assert code == 0 and "1 created" in out, out
    [created] = _server(sandbox, "Id, DueDate, BillableFlag").values()
    assert created["DueDate"] == "" and created["BillableFlag"] in ("", "0")

    # A name that is no header of the sheet is a typo of its own: refused, nothing sent.
    before = len(sandbox.writes())
    code, out, err = run(
        "push", book, "--op", "create", "--ignore-columns", "Due Date", *connect(sandbox)
    )
    assert code == 2 and '"Due Date"' in out + err and len(sandbox.writes()) == before


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Due Dte", "DueDate"),
        ("Due_Date", "DueDate"),
        ("FileNmae", "FileName"),
        ("Aging Intervall", "AgingInterval"),
        ("Billing Profil Id", "BillingProfileId"),
        ("Billable", "BillableFlag"),
        ("Void", "VoidFlag"),
        ("Disputed Flag", "Disputed"),
        ("Billing Profile", "BillingProfileId"),
        # the user's own columns: no field is meant
        ("Notes", None),
        ("Amount", None),
        ("Customer", None),
        ("Created By", None),
        ("Qty", None),
        ("My Due Dte", None),
        ("My Billing Profile", None),
        ("My Disputed Flag", None),
    ],
)
def test_which_headers_look_like_a_field(header: str, field: str | None) -> None:
    found = BUILT_IN.resembles(header)
    assert (found.name if found else None) == field


def test_the_tenant_s_labels_are_headers() -> None:
    tenant = catalogue_from(
        [
            {"FieldName": "Id", "DataType": "LOOKUP"},
            {"FieldName": "DueDate", "FieldLabel": "Payment Due", "DataType": "DATE"},
            {"FieldName": "Status", "FieldLabel": "Invoice Status", "DataType": "PICKLIST"},
        ]
    )
    layout = read_layout(["Id", "payment due", "Invoice Status", "Paymnt Due", "Mine"], tenant)
    assert [(c.header, c.field.name) for c in layout.columns] == [
        ("Id", "Id"),
        ("payment due", "DueDate"),
        ("Invoice Status", "Status"),
    ]
    assert [(r.header, r.field.name) for r in layout.resembling] == [("Paymnt Due", "DueDate")]
    assert layout.user_headers == ("Paymnt Due", "Mine")


# -- values from a list -----------------------------------------------------------------------


def test_a_value_outside_a_known_list_is_invalid_with_the_nearest_value(
    tmp_path: Path, sandbox, run
) -> None:
    book = write_invoices(
        tmp_path / "status.xlsx",
        [
            {"BillingProfileId": "101", "Status": "Pendng"},
            {"BillingProfileId": "101", "Status": "approved"},
            {"BillingProfileId": "101", "EstimatedStatus": "Whatever"},
        ],
    )
    code, out, _ = run("push", book, "--op", "create", *connect(sandbox))
    assert code == 1, out
    rows = read_sheet(book)
    assert rows[0]["Result"] == "Invalid" and 'did you mean "Pending"' in rows[0]["Message"]
    assert rows[1]["Result"] == "Created"
    assert rows[2]["Result"] == "Created"
    assert sorted(r["Status"] for r in _server(sandbox).values()) == ["", "Approved"]
    # The value no list could check is counted in the summary line, not only in Message.
    assert "1 row with a value bpxl cannot check (EstimatedStatus)" in out, out


# -- merged cells -----------------------------------------------------------------------------


def test_a_date_merged_over_data_rows_makes_those_rows_invalid(
    tmp_path: Path, sandbox, run
) -> None:
    rows = [{"BillingProfileId": "101", "FileName": f"m{i}.pdf"} for i in range(5)]
    rows[0]["DueDate"] = dt.date(2030, 1, 31)
    book = write_invoices(tmp_path / "merged.xlsx", rows)
    workbook = openpyxl.load_workbook(book)
    sheet = workbook.active
    column = [c.value for c in sheet[1]].index("DueDate") + 1
    letter = openpyxl.utils.get_column_letter(column)
    sheet.merge_cells(f"{letter}2:{letter}5")
    workbook.save(book)
    code, out, _ = run("push", book, "--op", "create", *connect(sandbox))
    assert code == 1, out
    result = {r["_row"]: r for r in read_sheet(book)}
    for row in (2, 3, 4, 5):
        assert result[row]["Result"] == "Invalid", result[row]
        assert f"{letter}2:{letter}5" in result[row]["Message"]
        assert "unmerge" in result[row]["Message"]
    assert result[6]["Result"] == "Created"
    assert [r["FileName"] for r in _server(sandbox).values()] == ["m4.pdf"]


# -- a refresh never overwrites an edit that was not sent -------------------------------------


def test_a_refresh_keeps_an_unsent_edit_and_says_it_is_a_conflict(
    tmp_path: Path, sandbox, run
) -> None:
    ids = seed_invoices(sandbox, 2)
    book = tmp_path / "edits.xlsx"
    run("pull", book, "--ids", ",".join(ids), *connect(sandbox))
    workbook = openpyxl.load_workbook(book)
    sheet = workbook["Invoices"]
    header = [c.value for c in sheet[1]]
    sheet.cell(2, header.index("FileName") + 1, "mine.pdf")  # edited, not sent
    workbook.save(book)
    _update(sandbox, {"Id": ids[0], "FileName": "theirs.pdf"})  # a colleague, meanwhile
    code, out, _ = run("push", book, "--op", "update", "--changed", *connect(sandbox))
    assert code == 1 and "1 conflict" in out, out
    workbook = openpyxl.load_workbook(book)
    workbook["Invoices"].cell(3, header.index("FileName") + 1, "also mine.pdf")  # not sent
    workbook.save(book)

    code, out, _ = run("pull", book, "--ids-from-sheet", *connect(sandbox))
    assert code == 0, out
    rows = {r["Id"]: r for r in read_sheet(book)}
    assert rows[ids[0]]["FileName"] == "mine.pdf"  # the user's value, kept
    assert rows[ids[0]]["Result"] == "Conflict"
    message = rows[ids[0]]["Message"]
    assert '"theirs.pdf"' in message and "--replace-edits" in message, message
    assert rows[ids[1]]["FileName"] == "also mine.pdf"  # unchanged on the server: kept, silently
    assert rows[ids[1]]["Result"] is None and rows[ids[1]]["Message"] is None
    assert "2 rows have edits you did not send" in out and "1 row changed" in out, out
    # The edits are still edits: a send of changed rows sends them (over the server's new value).
    code, out, _ = run("push", book, "--op", "update", "--changed", "--dry-run", *connect(sandbox))
    assert "2 ready to update" in out, out

    code, out, _ = run("pull", book, "--ids-from-sheet", "--replace-edits", *connect(sandbox))
    assert code == 0, out
    rows = {r["Id"]: r for r in read_sheet(book)}
    assert rows[ids[0]]["FileName"] == "theirs.pdf" and rows[ids[0]]["Result"] is None
    assert rows[ids[1]]["FileName"] == "inv-00001.pdf"
    code, out, _ = run("push", book, "--op", "update", "--changed", "--dry-run", *connect(sandbox))
    assert code == 0 and "nothing to send" in out, out


def test_the_ribbon_s_refresh_keeps_an_unsent_edit_too(make_sandbox, run, memory_keyring) -> None:
    sandbox = make_sandbox()
    run("connect", "live", "--url", sandbox.url, "--username", "demo", "--sandbox")
    profiles.set_active("live")
    ids = seed_invoices(sandbox, 2)
    book = book_from_rows(["Id", "Status", "FileName", "Result", "Message"], [])
    book.app.input_answers = [f"Id IN ({ids[0]}, {ids[1]})"]
    press(book, "bpxlPull")
    sheet = book.sheets[0]
    rows = {sheet.cells[(r, 1)]: r for r in (2, 3)}
    sheet.cells[(rows[ids[0]], 3)] = "mine.pdf"  # edited, not sent
    sheet.cells[(rows[ids[1]], 2)] = "Approved"  # edited, not sent
    _update(sandbox, {"Id": ids[0], "FileName": "theirs.pdf"})
    book.app.input_answers = [""]  # refresh the rows in the sheet
    press(book, "bpxlPull")
    assert sheet.cells[(rows[ids[0]], 3)] == "mine.pdf"
    assert sheet.cells[(rows[ids[0]], 4)] == "Conflict"
    assert '"theirs.pdf"' in sheet.cells[(rows[ids[0]], 5)]
    assert sheet.cells[(rows[ids[1]], 2)] == "Approved"  # the server did not change it: no word
    assert sheet.cells.get((rows[ids[1]], 4)) is None
    assert "1 row changed in BillingPlatform where you edited" in book.app.alerts[-1][0]
    sheet.cells[(rows[ids[0]], 3)] = "theirs.pdf"  # taking BillingPlatform's: typed in
    book.app.input_answers = [""]
    press(book, "bpxlPull")
    assert sheet.cells.get((rows[ids[0]], 4)) is None and "Conflict" not in book.app.alerts[-1][0]


# -- pulled text stays inert, on every writer -------------------------------------------------


def _cells(path: Path, sheet: str, column: str) -> list[tuple[object, str]]:
    """(value, openpyxl data type) of a column's data cells."""
    book = openpyxl.load_workbook(path)
    found = book[sheet]
    index = [c.value for c in found[1]].index(column) + 1
    return [(c.value, c.data_type) for (c,) in found.iter_rows(min_row=2, min_col=index,
                                                                 max_col=index)]  # fmt: skip


def _before_pull(book: Path, writer: str, ids: list[str], sandbox, run) -> Path:
    """The workbook a pull writes into with ``writer``: none yet (a new book), one of the user's
    own, or one pulled before (whose plain values a refresh then replaces)."""
    if writer == "own workbook":
        _own_book(book, ["Id", "FileName"], [[int(i), None] for i in ids])
    elif writer == "refresh":
        code, out, _ = run(
            "pull", book, "--ids", ",".join(ids), "--fields", "FileName", *connect(sandbox)
        )
        assert code == 0, out
    return book


def _pull_texts(book: Path, writer: str, texts: list[str], sandbox, run) -> tuple[Path, str, str]:
    """Invoices whose FileName BillingPlatform holds as ``texts``, pulled with ``writer``: the
    workbook, its invoice sheet and what the pull printed."""
    ids = seed_invoices(sandbox, len(texts))
    _before_pull(book, writer, ids, sandbox, run)
    for invoice, text in zip(ids, texts, strict=True):
        _update(sandbox, {"Id": invoice, "FileName": text})
    arguments = ["--ids", ",".join(ids)] if writer == "new book" else ["--ids-from-sheet"]
    code, out, err = run("pull", book, *arguments, "--fields", "FileName", *connect(sandbox))
    assert code == 0, out + err
    return book, "Mine" if writer == "own workbook" else "Invoices", out


ODD = [EVIL, "+1", "-2", "@SUM(A1)", "a\r\nb\tc"]


@pytest.mark.parametrize("writer", ["new book", "own workbook", "refresh"])
def test_pulled_text_that_would_act_is_written_as_text(
    tmp_path: Path, sandbox, run, writer: str
) -> None:
    book, sheet, _ = _pull_texts(tmp_path / "inert.xlsx", writer, ODD, sandbox, run)
    assert _cells(book, sheet, "FileName") == [(t, "s") for t in ODD]
    with zipfile.ZipFile(book) as package:
        assert b"<f>" not in package.read("xl/worksheets/sheet1.xml")
    assert {p.values["FileName"] for p in read_pulled(book).values()} == set(ODD)
    # Nothing looks edited: a send of changed rows has nothing to send.
    code, out, _ = run("push", book, "--op", "update", "--changed", "--dry-run", *connect(sandbox))
    assert code == 0 and "nothing to send" in out, out


@pytest.mark.parametrize("writer", ["new book", "own workbook", "refresh"])
def test_control_characters_lone_surrogates_and_long_text_are_told_not_a_traceback(
    tmp_path: Path, sandbox, run, writer: str
) -> None:
    texts = ["bell\x07here", "lone\ud800half", "x" * (MAX_CELL_TEXT + 1)]
    book, sheet, out = _pull_texts(tmp_path / "odd.xlsx", writer, texts, sandbox, run)
    rows = read_sheet(book, sheet)
    assert [r["FileName"] for r in rows] == [
        f"bell{REPLACEMENT}here",
        f"lone{REPLACEMENT}half",
        None,
    ]
    assert "control character" in rows[0]["Message"] and "FileName" in rows[0]["Message"]
    assert "control character" in rows[1]["Message"]
    assert "32,768 characters" in rows[2]["Message"] and "left empty" in rows[2]["Message"]
    assert "3 rows" in out and "Message" in out, out  # the summary points at the notes
    # The next send of changed rows sends nothing: not the replaced text, not an empty cell.
    code, out, _ = run("push", book, "--op", "update", "--changed", "--dry-run", *connect(sandbox))
    assert code == 0 and "nothing to send" in out, out


# -- typed pulls ------------------------------------------------------------------------------


def test_a_refresh_writes_numbers_as_numbers_beside_numbers(tmp_path: Path, sandbox, run) -> None:
    ids = seed_invoices(sandbox, 3)
    book = _own_book(
        tmp_path / "numbers.xlsx",
        ["Id", "BillingProfileId", "AgingInterval"],
        [[int(i), 999, 7] for i in ids],
    )
    for expected in ([101, 102, 103], [104, 102, 103]):  # the user's own book, then a refresh
        code, out, _ = run("pull", book, "--ids-from-sheet", *connect(sandbox))
        assert code == 0, out
        rows = read_sheet(book, "Mine")
        assert [type(r["Id"]) for r in rows] == [int] * 3
        assert [r["BillingProfileId"] for r in rows] == expected
        assert [r["AgingInterval"] for r in rows] == [0, 1, 2]
        _update(sandbox, {"Id": ids[0], "BillingProfileId": "104"})
    # and a template workbook keeps its Ids as the text its Id columns are formatted for
    fresh = tmp_path / "template.xlsx"
    run("pull", fresh, "--ids", ids[1], *connect(sandbox))
    assert read_sheet(fresh)[0]["BillingProfileId"] == "102"


def _as_1904(path: Path) -> None:
    """Switch a workbook to the 1904 date system the way Excel's option does: the serials stay,
    so the dates the cells show move; the test writes its dates after."""
    with zipfile.ZipFile(path) as source:
        parts = {item.filename: source.read(item.filename) for item in source.infolist()}
    workbook = parts["xl/workbook.xml"].decode()
    if "<workbookPr" in workbook:
        workbook = workbook.replace("<workbookPr", '<workbookPr date1904="1"', 1)
    else:
        workbook = workbook.replace("<sheets>", '<workbookPr date1904="1"/><sheets>', 1)
    parts["xl/workbook.xml"] = workbook.encode()
    with zipfile.ZipFile(path, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)


def test_a_refresh_in_a_1904_workbook_remembers_the_dates_it_wrote(
    tmp_path: Path, sandbox, run
) -> None:
    ids = seed_invoices(sandbox, 2)
    book = _own_book(tmp_path / "mac.xlsx", ["Id", "DueDate", "FileName"], [[int(i)] for i in ids])
    _as_1904(book)
    for _ in range(2):  # the first pull (openpyxl), then a refresh (streamed)
        code, out, _ = run("pull", book, "--ids-from-sheet", *connect(sandbox))
        assert code == 0, out
        server = _server(sandbox)
        with zipfile.ZipFile(book) as package:
            assert b'date1904="1"' in package.read("xl/workbook.xml")
        rows = {str(r["Id"]): r for r in read_sheet(book, "Mine")}
        for invoice in ids:
            assert rows[invoice]["DueDate"].date().isoformat() == server[invoice]["DueDate"]
            remembered = read_pulled(book)[invoice].values["DueDate"]  # a date, or its serial
            as_sent = convert(BY_NAME["DueDate"], remembered, date1904=True).value
            assert as_sent == server[invoice]["DueDate"], (remembered, rows[invoice])
        code, out, _ = run(
            "push", book, "--op", "update", "--changed", "--dry-run", *connect(sandbox)
        )
        assert "nothing to send" in out, out
        _update(sandbox, {"Id": ids[0], "DueDate": "2031-12-31"})


# -- --rows over hidden rows ------------------------------------------------------------------


def test_rows_named_by_rows_that_are_hidden_get_one_message(tmp_path: Path, sandbox, run) -> None:
    book = write_invoices(
        tmp_path / "hidden.xlsx",
        [{"BillingProfileId": "101", "FileName": f"h{i}.pdf"} for i in range(6)],
    )
    workbook = openpyxl.load_workbook(book)
    for row in (5, 6):
        workbook.active.row_dimensions[row].hidden = True
    workbook.save(book)
    code, out, _ = run("push", book, "--op", "create", "--rows", "5-6", *connect(sandbox))
    assert sandbox.writes() == []
    assert "nothing to send" not in out.lower() or "hidden" in out.lower()
    lines = [line for line in out.splitlines() if "5" in line and "6" in line]
    assert len(lines) == 1, out
    assert "hidden" in lines[0] and "--include-hidden" in lines[0], out
    assert "hold nothing" not in out, out
    assert code == 0, out
