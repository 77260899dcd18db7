"""One invoice per row, from whichever copy of a workbook and whoever pushes it (issue 23):
the create key, the ledger of creates on this computer, and key-field mode. End to end, against
the sandbox over loopback."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import time
from pathlib import Path

import openpyxl
import pytest

from bpxl.core import create_key
from bpxl.core.client import Client
from bpxl.core.connection import journal_dir
from bpxl.core.fields import BUILT_IN
from bpxl.core.records import read_layout

from .conftest import read_sheet, write_invoices
from .processes import push, sandbox_process, sent_rows, wait_for

ROWS = [
    {"BillingProfileId": "101", "DueDate": dt.date(2026, 1, 31), "FileName": f"inv-{n}.pdf"}
    for n in range(1, 5)
] + [  # two rows holding the same values: two invoices, not one
    {"BillingProfileId": "102", "DueDate": dt.date(2026, 2, 28), "FileName": "same.pdf"},
    {"BillingProfileId": "102", "DueDate": dt.date(2026, 2, 28), "FileName": "same.pdf"},
]


def url_of(sandbox) -> list[str]:
    return ["--url", sandbox.url, "--username", "demo"]


def server_ids(sandbox) -> set[str]:
    return {str(r["Id"]) for r in sandbox.sandbox.store.query("SELECT Id FROM INVOICE")}


def test_a_copy_taken_before_the_push_creates_nothing_and_names_the_invoices(
    tmp_path: Path, sandbox, run
) -> None:
    original = write_invoices(tmp_path / "March invoices.xlsx", ROWS)
    copy = tmp_path / "copy from Ann.xlsx"
    shutil.copy(original, copy)  # a colleague's copy, taken before the push

    code, out, _ = run("push", original, "--op", "create", *url_of(sandbox))
    assert code == 0, out
    made = [r["Id"] for r in read_sheet(original)]
    assert sandbox.sandbox.store.count() == 6

    code, out, _ = run("push", copy, "--op", "create", *url_of(sandbox))
    assert code == 1, out
    assert sandbox.sandbox.store.count() == 6  # not one invoice more
    assert len(sandbox.writes()) == 1  # the copy sent nothing
    rows = read_sheet(copy)
    assert [r["Result"] for r in rows] == ["Exists"] * 6
    assert [r["Id"] for r in rows] == made  # each row names its own invoice, twins included
    assert "6 exists" in out
    message = rows[0]["Message"]
    assert "March invoices.xlsx" in message and "row 2" in message
    assert "--create-anyway" in message
    local = dt.datetime.now().strftime("%Y-%m-%d")
    assert local in message
    assert server_ids(sandbox) == set(made)  # every Id in a row is a real invoice


def test_rerunning_the_copy_still_creates_nothing(tmp_path: Path, sandbox, run) -> None:
    original = write_invoices(tmp_path / "a.xlsx", ROWS[:2])
    copy = tmp_path / "b.xlsx"
    shutil.copy(original, copy)
    run("push", original, "--op", "create", *url_of(sandbox))
    run("push", copy, "--op", "create", *url_of(sandbox))
    code, _, _ = run("push", copy, "--op", "create", *url_of(sandbox))
    assert code == 1
    assert sandbox.sandbox.store.count() == 2
    assert [r["Result"] for r in read_sheet(copy)] == ["Exists", "Exists"]


def test_create_anyway_makes_the_second_set_and_records_it(tmp_path: Path, sandbox, run) -> None:
    original = write_invoices(tmp_path / "a.xlsx", ROWS)
    copy = tmp_path / "b.xlsx"
    shutil.copy(original, copy)
    run("push", original, "--op", "create", *url_of(sandbox))
    first = [r["Id"] for r in read_sheet(original)]
    run("push", copy, "--op", "create", *url_of(sandbox))  # Exists, with the first set's Ids

    code, out, _ = run("push", copy, "--op", "create", "--create-anyway", *url_of(sandbox))
    assert code == 0, out
    rows = read_sheet(copy)
    assert [r["Result"] for r in rows] == ["Created"] * 6
    second = [r["Id"] for r in rows]
    assert not set(first) & set(second)
    assert sandbox.sandbox.store.count() == 12
    assert server_ids(sandbox) == set(first) | set(second)

    third = tmp_path / "c.xlsx"
    write_invoices(third, ROWS)
    run("push", third, "--op", "create", *url_of(sandbox))
    message = read_sheet(third)[0]["Message"]
    assert f"Id {first[0]}" in message and f"Id {second[0]}" in message  # both named


def test_a_backup_pushed_creates_nothing(tmp_path: Path, sandbox, run) -> None:
    book = write_invoices(tmp_path / "inv.xlsx", ROWS)
    run("push", book, "--op", "create", *url_of(sandbox))
    backups = sorted((tmp_path / "bpxl backups").glob("*.xlsx"))
    assert backups, "the push keeps a backup of the workbook as it was"
    code, out, _ = run("push", backups[0], "--op", "create", *url_of(sandbox))
    assert code == 1, out
    assert sandbox.sandbox.store.count() == 6
    assert {r["Result"] for r in read_sheet(backups[0])} == {"Exists"}


def test_a_new_row_repeating_created_ones_is_a_new_invoice(tmp_path: Path, sandbox, run) -> None:
    book = write_invoices(tmp_path / "inv.xlsx", ROWS[4:])  # two identical rows
    run("push", book, "--op", "create", *url_of(sandbox))
    workbook = openpyxl.load_workbook(book)
    sheet = workbook.active
    headers = [c.value for c in sheet[1]]
    sheet.insert_rows(2)  # a third such row, above the two created
    for name, value in ROWS[4].items():
        sheet.cell(2, headers.index(name) + 1, value)
    workbook.save(book)
    code, out, _ = run("push", book, "--op", "create", *url_of(sandbox))
    assert code == 0, out
    assert sandbox.sandbox.store.count() == 3
    assert read_sheet(book)[0]["Result"] == "Created"


def test_the_same_row_has_the_same_key_in_every_copy_and_twins_differ() -> None:
    header = ["Id", "BillingProfileId", "FileName", "DueDate", "Result"]
    layout = read_layout(header, BUILT_IN)
    rows = [
        (2, [None, "101", "a.pdf ", dt.date(2026, 1, 31), None]),
        (3, [None, 101, "a.pdf", "2026-01-31", None]),  # the same invoice, spelled otherwise
        (4, [None, "101", "b.pdf", dt.date(2026, 1, 31), None]),
    ]
    keys = create_key.keys(layout, rows)
    assert keys[2] != keys[3]  # two identical rows in one sheet are two invoices
    assert keys[2].rsplit("-", 1)[0] == keys[3].rsplit("-", 1)[0]
    assert keys[4].rsplit("-", 1)[0] != keys[2].rsplit("-", 1)[0]
    moved = create_key.keys(layout, [(10, rows[2][1]), (20, rows[0][1]), (30, rows[1][1])])
    assert sorted(moved.values()) == sorted(keys.values())  # row numbers do not matter
    assert all(create_key.PATTERN.fullmatch(k) for k in keys.values())
    assert all(len(k) <= create_key.LONGEST for k in keys.values())
    nfd = create_key.keys(layout, [(2, [None, "101", "Cafe\u0301\r\nx", None, None])])
    nfc = create_key.keys(layout, [(2, [None, "101", "Caf\u00e9\nx", None, None])])
    assert nfd == nfc


@pytest.mark.parametrize("rows_option", ["3", "2-3"])
def test_rows_sent_alone_keep_their_number_among_identical_rows(
    tmp_path: Path, sandbox, run, rows_option: str, monkeypatch
) -> None:
    # The ledger alone (the check by values would stop the copy's twin too, without an Id).
    monkeypatch.setenv("BPXL_DUPLICATE_DAYS", "0")
    book = write_invoices(tmp_path / "inv.xlsx", ROWS[4:])
    copy = tmp_path / "copy.xlsx"
    shutil.copy(book, copy)
    run("push", book, "--op", "create", "--rows", rows_option, *url_of(sandbox))
    code, _, _ = run("push", copy, "--op", "create", *url_of(sandbox))
    assert code == 1
    results = [r["Result"] for r in read_sheet(copy)]
    if rows_option == "3":  # row 3 made its invoice; row 2 of the copy is the other twin
        assert results == ["Created", "Exists"]
    else:
        assert results == ["Exists", "Exists"]
    assert sandbox.sandbox.store.count() == 2


def test_creates_a_recovery_finds_are_known_to_the_ledger(tmp_path: Path, run) -> None:
    """A push killed with its creates in flight: `bpxl recover` finds them on the server and
    records them, so the copy taken before the push creates none of them again, even once the
    journals are gone."""
    book = write_invoices(tmp_path / "inv.xlsx", ROWS[:4])  # the lookup tells them apart
    copy = tmp_path / "copy.xlsx"
    shutil.copy(book, copy)
    with sandbox_process(tmp_path, "latency:1500ms") as url:
        pushing = push(book, url, "--batch-size", "4", "--concurrency", "1")
        wait_for(sent_rows(4))
        os.kill(pushing.pid, signal.SIGKILL)
        pushing.wait()
        killed = time.monotonic()
        # The server stores what it got (if the kill came before the batch left, nothing:
        # recover then says so, and the copy creates the rows).
        wait_for(lambda: len(stored_ids(url)) in (0, 4) and time.monotonic() > killed + 3)
        run("recover", book, "--url", url, "--username", "demo")
        created = {r["_row"]: r["Id"] for r in read_sheet(book) if r["Result"] == "Created"}
        assert len(created) == len(stored_ids(url))
        shutil.rmtree(journal_dir())  # pruned, as after 30 days: only the ledger remembers
        code, out, _ = run("push", copy, "--op", "create", "--url", url, "--username", "demo")
        assert code == (1 if created else 0), out
        rows = read_sheet(copy)
        assert {r["_row"]: r["Id"] for r in rows if r["Result"] == "Exists"} == created
        assert stored_ids(url) == {str(r["Id"]) for r in rows}  # 4, each in its row


def stored_ids(url: str) -> set[str]:
    with Client(url, username="demo", password="demo") as client:
        return {str(r["Id"]) for r in client.query("SELECT Id FROM INVOICE")}
