"""Messages in an accountant's words: counts that read right, the user's own headers (server
errors too), a refused token treated like a refused password."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest

from bpxl import cli
from bpxl.core.results import Outcome, RowResult, plural

from .conftest import read_sheet, write_invoices


def book(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    workbook = openpyxl.Workbook()
    for row in [header, *rows]:
        workbook.active.append(row)
    workbook.save(path)
    return path


def test_counts_read_right() -> None:
    assert plural(1, "row") == "1 row" and plural(2, "row") == "2 rows"
    assert plural(1_200, "invoice") == "1,200 invoices" and plural(0, "invoice") == "0 invoices"


def test_one_row_is_one_row(tmp_path: Path, sandbox, run) -> None:
    path = book(tmp_path / "one.xlsx", ["BillingProfileId"], [["101"]])
    _, out, _ = run("push", path, "--op", "create", "--dry-run")
    assert "1 row: 1 ready to create" in out and "1 rows" not in out


def test_server_errors_name_the_users_own_header(tmp_path: Path, sandbox, run) -> None:
    path = book(
        tmp_path / "mine.xlsx",
        ["Billing profile id", "Due date"],
        [["999", dt.date(2024, 7, 31)], ["101", dt.date(2024, 7, 31)]],
    )
    code, _, _ = run("push", path, "--op", "create", "--url", sandbox.url, "--username", "demo")
    assert code == 1
    failed = read_sheet(path)[0]
    assert failed["Result"] == "Failed"
    assert failed["Message"] == (
        "Billing profile id: 999 does not exist (BillingPlatform error INVALID_REFERENCE); fix "
        "it and send again"
    )


def test_a_refused_token_stops_before_sending_like_a_refused_password(
    tmp_path: Path, sandbox, run, monkeypatch
) -> None:
    path = book(tmp_path / "t.xlsx", ["BillingProfileId"], [["101"], ["102"]])
    monkeypatch.setenv("MY_TOKEN", "not-a-token")
    code, out, err = run(
        "push", path, "--op", "create", "--url", sandbox.url, "--token-env", "MY_TOKEN"
    )
    assert code == 2 and "refused the bearer token" in err, out + err
    assert sandbox.writes() == [] and "not-a-token" not in out + err
    assert all(r.get("Result") is None for r in read_sheet(path))  # no row marked Failed
    code, _, err = run("push", path, "--op", "create", "--url", sandbox.url, "--username", "demo",
                       password="wrong")  # fmt: skip
    assert code == 2 and "refused the login" in err


def test_upsert_on_id_creates_rows_without_an_id_once(tmp_path: Path, sandbox, run) -> None:
    connect = ["--url", sandbox.url, "--username", "demo"]
    first = book(tmp_path / "first.xlsx", ["Id", "BillingProfileId"], [[None, "101"]])
    run("push", first, "--op", "create", *connect)
    existing = read_sheet(first)[0]["Id"]
    path = book(
        tmp_path / "up.xlsx",
        ["Id", "BillingProfileId", "Status"],
        [[existing, "101", "Pending"], [None, "102", None], [None, "103", None]],
    )
    code, out, _ = run("push", path, "--op", "upsert", *connect)
    assert code == 0, out
    assert "3 rows: 2 created, 1 upserted, 0 invalid, 0 failed" in out
    rows = read_sheet(path)
    assert [r["Result"] for r in rows] == ["Upserted", "Created", "Created"]
    assert rows[0]["Id"] == existing and all(r["Id"] for r in rows)
    assert not any("required to upsert" in (r.get("Message") or "") for r in rows)
    assert sandbox.sandbox.store.count() == 3
    code, out, _ = run("push", path, "--op", "upsert", *connect)  # a rerun updates, never creates
    assert code == 0, out
    assert sandbox.sandbox.store.count() == 3
    assert [w["method"] for w in sandbox.writes()] == ["POST", "POST", "PATCH", "PATCH"]


def test_upsert_on_another_key_says_nothing_about_the_id(tmp_path: Path, sandbox, run) -> None:
    path = book(
        tmp_path / "fn.xlsx", ["Id", "FileName", "BillingProfileId"], [["", "inv-1.pdf", "101"]]
    )
    connect = ["--url", sandbox.url, "--username", "demo"]
    _, out, _ = run("push", path, "--op", "upsert", "--external-id", "FileName", *connect)
    assert "set by BillingPlatform" not in out
    assert "set by BillingPlatform" not in (read_sheet(path)[0].get("Message") or "")


@pytest.mark.parametrize("command", ["push", "pull"])
def test_ctrl_c_names_the_workbook_to_recover_only_when_rows_went_out(
    tmp_path: Path, run, monkeypatch, command: str
) -> None:
    def interrupted(_: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, f"_{command}", interrupted)
    book = tmp_path / "stopped.xlsx"
    more = ["--op", "create"] if command == "push" else ["--ids", "1"]
    code, _, err = run(command, book, *more)
    assert code == 130 and err.startswith("bpxl: stopped at once."), err
    if command == "push":
        assert f"run `bpxl recover {book}` before anything else" in err and "FILE" not in err
    else:
        assert "recover" not in err and "Nothing was sent" in err


def test_a_folder_or_a_backward_range_is_named_with_what_to_type(tmp_path: Path, run) -> None:
    code, _, err = run("push", tmp_path, "--op", "create")
    assert code == 2 and f"{tmp_path} is a folder, not a workbook" in err, err
    book = tmp_path / "rows.xlsx"
    book.write_bytes(b"")
    code, _, err = run("push", book, "--op", "create", "--rows", "50-40")
    assert code == 2 and "'50-40' is not a valid range" in err and "smaller row number" in err


def test_rows_named_but_blank_are_told_apart_from_an_empty_sheet(tmp_path: Path, run) -> None:
    book = write_invoices(tmp_path / "blank.xlsx", [{"BillingProfileId": "101"}, {}])
    code, out, _ = run("push", book, "--op", "create", "--rows", "3", "--dry-run")
    assert code == 0 and "The rows named by --rows 3 hold nothing in the Invoice columns" in out
    empty = write_invoices(tmp_path / "empty.xlsx", [])
    code, out, _ = run("push", empty, "--op", "create", "--dry-run")
    assert code == 0 and "has no rows with Invoice values: nothing to send" in out, out


def test_a_pasted_page_in_a_cell_gives_a_short_message_excel_can_hold(tmp_path: Path, run) -> None:
    page = "x" * 32_000
    book = write_invoices(
        tmp_path / "long.xlsx",
        [{"BillingProfileId": "101", "DueDate": page, "Status": page, "Disputed": page}],
    )
    code, out, _ = run("push", book, "--op", "create", "--dry-run")
    assert code == 1 and max(map(len, out.splitlines())) < 300, out[:500]
    message = read_sheet(book)[0]["Message"]
    assert len(message) < 1000 and message.count("(32,000 characters)") == 3, message


def test_a_message_is_never_longer_than_an_excel_cell_and_keeps_its_ref() -> None:
    notes = [f"Row: {'server words ' * 5000} (bpxl ref 0123456789ab)"] + ["y" * 2000] * 40
    message = RowResult(2, Outcome.UNKNOWN, None, notes).message
    assert len(message) <= 32_767 and "(bpxl ref 0123456789ab)" in message


def test_rows_that_went_wrong_the_same_way_are_told_once(tmp_path: Path, run) -> None:
    rows = [{"BillingProfileId": "101", "Disputed": "maybe"}] * 30 + [{"DueDate": "31/12/2026"}]
    book = write_invoices(tmp_path / "alike.xlsx", [*rows[:10], {}, *rows[10:]])
    code, out, _ = run("push", book, "--op", "create", "--dry-run")
    assert code == 1, out
    assert "  Rows 2-11, 13-32 (30 rows): Invalid\n" in out, out
    assert out.count('Disputed: "maybe" is not a flag') == 1
    assert '  Row 33: Invalid\n    DueDate: "31/12/2026" is not a date' in out, out
    assert "more row" not in out
    distinct = [{"DueDate": f"{day}/12/2026"} for day in range(1, 26)]
    code, out, _ = run("push", write_invoices(tmp_path / "many.xlsx", distinct), "--op", "create",
                       "--dry-run")  # fmt: skip
    assert out.count(": Invalid\n") == 20 and "... and 5 more rows with problems" in out, out
