"""No password, token or session id in any file, output, log or Excel cell, on every path.

One sandbox with a known password serves every command and every ribbon action, the good paths
and the bad ones (refused rows, failing logins, an unreachable server, a crash and its recovery);
then every file bpxl could have written, everything printed or logged, and everything the fake
Excel book shows are searched for the password and for every session id and token the sandbox
handed out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import socket
from pathlib import Path

import openpyxl
import pytest

from bpxl.core import journal, profiles
from bpxl.core.connection import journal_dir
from bpxl.core.results import Operation
from bpxl.excel import udfs
from bpxl.sandbox import Sandbox, SandboxConfig

from .conftest import read_sheet, write_invoices
from .fake_xlwings import Book, book_from_rows, press

PASSWORD = "Pa55-unique-Quokka-7d1e"
GOOD = {"BillingProfileId": "101", "Status": "Pending", "DueDate": dt.date(2026, 1, 5)}
REFUSED_BY_SERVER = {"BillingProfileId": "999", "Status": "Pending"}  # not a profile it knows
INVALID = {"BillingProfileId": "x"}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _crash(book: str, sheet: str, rows: list[int], target: journal.Target) -> None:
    """A journal as a push leaves it when the process dies with a batch in flight."""
    log = journal.Journal(
        journal_dir(),
        workbook=Path(book),
        sheet=sheet,
        op=Operation.CREATE,
        external_id="Id",
        target=target,
    )
    log.planned({row: journal.record_hash(GOOD) for row in rows})
    log.sending(rows[:1], dt.datetime.now(dt.UTC))
    log.close()


def _cli_paths(
    run, tmp_path: Path, sandbox: Sandbox, outputs: list[tuple[int, str, str]], monkeypatch
) -> None:
    url = ["--url", sandbox.url, "--username", "demo"]
    outputs.append(run("connect", "acme", *url, "--sandbox", password=PASSWORD))
    acme = ["--profile", "acme"]
    # Creates with rows refused by bpxl and by the server, then updates and upserts of them.
    book = write_invoices(tmp_path / "s.xlsx", [GOOD, GOOD, INVALID, REFUSED_BY_SERVER])
    outputs.append(run("push", book, "--op", "create", *acme, password=None))
    ids = [r["Id"] for r in read_sheet(book) if r.get("Id")]
    assert len(ids) == 2
    rows = [{"Id": ids[0], "Status": "Approved"}, {"Id": "999999", "Status": "Closed"}, INVALID]
    for op in ("update", "upsert"):
        changed = write_invoices(tmp_path / f"{op}.xlsx", rows)
        outputs.append(run("push", changed, "--op", op, *acme, password=None))
        outputs.append(run("revert", changed, *acme, password=None))
    # The round trip: pull, edit, send the changes, revert them.
    pulled = tmp_path / "pulled.xlsx"
    outputs.append(run("pull", pulled, "--where", "BillingProfileId = 101", *acme, password=None))
    workbook = openpyxl.load_workbook(pulled)
    sheet = workbook["Invoices"]
    header = [c.value for c in sheet[1]]
    sheet.cell(2, header.index("Status") + 1, "Closed")
    sheet.cell(3, header.index("DueDate") + 1, "31/02/2026")  # refused: not a date
    workbook.save(pulled)
    outputs.append(run("push", pulled, "--op", "update", "--changed", *acme, password=None))
    outputs.append(run("revert", pulled, *acme, password=None))
    # A push that died mid-way, then recovered (back to the profile the journal names).
    crashed = write_invoices(tmp_path / "crashed.xlsx", [GOOD, GOOD])
    _crash(str(crashed), "Invoices", [2, 3], journal.Target(sandbox.url, "acme"))
    outputs.append(run("push", crashed, "--op", "create", *acme, password=None))
    outputs.append(run("recover", crashed, password=None))
    # An OAuth client whose secret is the password, saved and used.
    outputs.append(run("connect", "oauth", "--url", sandbox.url, "--oauth-client", "demo",
                       "--sandbox", password=PASSWORD))  # fmt: skip
    outputs.append(run("push", book, "--op", "update", "--profile", "oauth", password=None))
    assert "Sending to oauth" in outputs[-1][1], outputs[-2:]
    # A bearer token from the environment.
    token, _ = sandbox.login("demo", PASSWORD)
    monkeypatch.setenv("BPXL_TEST_TOKEN", token)
    outputs.append(run("push", book, "--op", "update", "--url", sandbox.url, "--token-env",
                       "BPXL_TEST_TOKEN"))  # fmt: skip
    # Failing logins: a wrong password by URL, by profile, and a connect that is refused.
    outputs.append(run("push", book, "--op", "create", *url, password="wrong-" + PASSWORD))
    outputs.append(run("connect", "bad", *url, "--sandbox", password="wrong-" + PASSWORD))
    outputs.append(run("pull", tmp_path / "p2.xlsx", "--ids", ids[0], *url,
                       password="wrong-" + PASSWORD))  # fmt: skip
    # An unreachable server, with the good password.
    nowhere = ["--url", f"http://127.0.0.1:{_closed_port()}/acme", "--username", "demo"]
    outputs.append(run("push", book, "--op", "create", *nowhere, password=PASSWORD))
    outputs.append(run("pull", tmp_path / "p3.xlsx", "--where", "Id > 0", *nowhere,
                       password=PASSWORD))  # fmt: skip
    # The run logs of all those, printed and written as CSV.
    outputs.append(run("log", "--results", tmp_path / "last-run.csv"))
    outputs.append(run("log", book))


HEADER = ["Id", "BillingProfileId", "Status", "DueDate", "Result", "Message"]


def _ribbon_paths(tmp_path: Path, memory_keyring) -> list[Book]:
    profiles.set_active("acme")
    rows = [[None, "101", "Pending", dt.datetime(2026, 1, 5)]] * 3
    book = book_from_rows(HEADER, [*rows, [None, "x"], [None, "999", "Pending"]],
                          tmp_path / "ribbon.xlsx")  # fmt: skip
    book.app.alert_answers = ["ok"] * 4
    for action in ("bpxlValidate", "bpxlCreate", "bpxlLog", "bpxlUpdate", "bpxlUpsert"):
        press(book, action)
    press(book, "bpxlRevert")
    pulled = book_from_rows(HEADER, [], tmp_path / "ribbon-pulled.xlsx")
    pulled.app.input_answers = ["BillingProfileId = 101"]
    press(pulled, "bpxlPull")
    sheet = pulled.sheets[0]
    sheet.cells[(2, 3)] = "Closed"
    sheet.cells[(3, 4)] = "31/02/2026"
    for action in ("bpxlSendChanged", "bpxlRevert", "bpxlLog"):
        press(pulled, action)
    crashed = book_from_rows(HEADER, rows[:2], tmp_path / "ribbon-crashed.xlsx")
    url = profiles.get("acme").url
    _crash(crashed.fullname, "Invoices", [2, 3], journal.Target(url, "acme"))
    crashed.app.alert_answers = ["ok"]
    press(crashed, "bpxlCreate")
    press(crashed, "bpxlRecover")
    created = book.sheets[0].column("Id")[2]
    cells = [udfs.BP_INVOICE(created, "Status"), udfs.BP_QUERY("SELECT Id FROM INVOICE")]
    cells.append(udfs.BP_INVOICE("999999", "Status"))
    # A secret that stopped working, and a tenant that cannot be reached.
    memory_keyring.secrets[("bpxl", "acme")] = "wrong-" + PASSWORD
    udfs.READER.close()
    cells.append(udfs.BP_INVOICE(created, "Status"))
    # Not the crashed book's rows: a file holding them would be refused as its copy, unrecovered.
    other = [[None, "101", "Pending", dt.datetime(2026, 1, 6)]]
    refused = book_from_rows(HEADER, other, tmp_path / "ribbon-refused.xlsx")
    refused.app.alert_answers = ["ok"]
    press(refused, "bpxlCreate")
    udfs.READER.close()
    gone = profiles.get("acme")
    profiles.save(dataclasses.replace(gone, name="gone", url=f"http://127.0.0.1:{_closed_port()}/x"),
                  PASSWORD)  # fmt: skip
    profiles.set_active("gone")
    unreachable = book_from_rows(HEADER, rows[:1], tmp_path / "ribbon-unreachable.xlsx")
    unreachable.app.alert_answers = ["ok"]
    press(unreachable, "bpxlCreate")
    notes = book_from_rows(["Cells"], [[str(c)] for c in cells], tmp_path / "udfs.xlsx")
    return [book, pulled, crashed, refused, unreachable, notes]


def _shown(book: Book) -> str:
    """Everything the fake Excel shows: cells of every sheet, message boxes, the status bar."""
    parts = [str(v) for sheet in book.sheets.items for v in sheet.cells.values()]
    parts += [prompt for prompt, _ in book.app.alerts]
    parts += [str(s) for s in book.app.status_history]
    return "\n".join(parts)


def test_no_secret_anywhere_on_any_path(
    tmp_path: Path, run, memory_keyring, monkeypatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    caplog.set_level(logging.DEBUG)
    log = tmp_path / "requests.jsonl"
    outputs: list[tuple[int, str, str]] = []
    with Sandbox(SandboxConfig(port=0, password=PASSWORD, request_log=log)) as sandbox:
        _cli_paths(run, tmp_path, sandbox, outputs, monkeypatch)
        books = _ribbon_paths(tmp_path, memory_keyring)
        secrets = [PASSWORD, *sandbox.issued]
    # Every path ran: refused rows, failing logins and the unreachable server said so.
    everything = "\n".join(out + err for _, out, err in outputs)
    assert "refused the login" in everything and "Could not connect" in everything
    assert "Failed" in everything and "Invalid" in everything and "recover" in everything
    assert {code for code, _, _ in outputs} == {0, 1, 2}
    assert len(secrets) >= 10, "each login is a new session"

    folders = [tmp_path, Path(os.environ["BPXL_DATA_DIR"]), Path(os.environ["BPXL_CONFIG_DIR"])]
    files = [p for folder in folders for p in folder.rglob("*") if p.is_file()]
    kinds = {p.parent.name for p in files}
    assert {"journal", "undo", "runs"} <= kinds, kinds  # journals, revert data, run logs
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"a secret is in {path}"
    shown = [out + err for _, out, err in outputs] + [_shown(b) for b in books] + [caplog.text]
    ribbon = "\n".join(shown[len(outputs) :])
    assert "Failed" in ribbon and "refused the login" in ribbon and "Could not connect" in ribbon
    for text in shown:
        for secret in secrets:
            assert secret not in text
