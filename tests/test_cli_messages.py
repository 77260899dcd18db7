"""The command line's words: progress for scripts and around questions, commands quoted for the
user's shell, the production question, and the help."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import re
import shlex
import sys
from pathlib import Path

import openpyxl
import pytest

from bpxl import cli
from bpxl.core import results, shell
from bpxl.core.client import Client
from bpxl.core.results import Operation, Outcome, RowResult
from bpxl.core.roundtrip import queries
from bpxl.progress import Progress

from .conftest import read_sheet, write_invoices

GOOD = {"BillingProfileId": "101", "DueDate": dt.date(2024, 7, 31)}


def connect(sandbox) -> list[str]:
    return ["--url", sandbox.url, "--username", "demo"]


class _Terminal(io.StringIO):
    """A terminal: what is written to it, and lines the user types."""

    def isatty(self) -> bool:
        return True


def test_output_to_a_file_gets_a_progress_line_every_few_seconds(
    tmp_path: Path, make_sandbox, run, monkeypatch
) -> None:
    monkeypatch.setenv("BPXL_PROGRESS_SECONDS", "0.05")
    sandbox = make_sandbox(["latency:30ms"])
    book = write_invoices(tmp_path / "inv.xlsx", [GOOD] * 40)
    code, out, err = run(
        "push", book, "--op", "create", "--batch-size", "5", "--concurrency", "1", *connect(sandbox)
    )
    assert code == 0, out + err
    lines = [x for x in err.splitlines() if x.startswith("bpxl: ")]
    assert len(lines) >= 3, err
    counts = []
    for line in lines:
        match = re.fullmatch(r"bpxl: ([\d,]+) of 40 rows done \((\d+)%\), \d+ s", line)
        assert match, line
        counts.append(int(match.group(1)))
        assert int(match.group(2)) == 100 * counts[-1] // 40
    assert counts == sorted(counts) and counts[-1] <= 40
    assert "\r" not in err  # no bar drawn into a log file

    monkeypatch.setenv("BPXL_PROGRESS_SECONDS", "3600")
    again = write_invoices(tmp_path / "again.xlsx", [GOOD] * 5)
    # --create-anyway: the same values as the 40 above (no duplicate check)
    code, _, err = run("push", again, "--op", "create", "--create-anyway", *connect(sandbox))
    assert code == 0 and "rows done" not in err  # not before the few seconds are up


def test_the_bar_is_cleared_for_a_question_and_not_drawn_until_it_is_answered() -> None:
    screen = _Terminal()
    bar = Progress(screen, "rows", redraw_s=0)
    assert screen.getvalue() == ""  # nothing drawn before a row is counted (a password prompt)
    bar.update(3, 10)
    assert "3/10" in screen.getvalue()
    with bar.paused():
        cleared = screen.getvalue()
        assert cleared.endswith("\r")  # the line is blank where the question goes
        bar.update(2, 10)  # a row finishing while the user types
        assert screen.getvalue() == cleared
    assert "5/10" in screen.getvalue()[len(cleared) :]
    bar.close()


def test_the_production_question_takes_yes_and_nothing_looser(
    tmp_path: Path, sandbox, run, memory_keyring, monkeypatch
) -> None:
    run("connect", "live", "--url", sandbox.url, "--username", "demo", "--production")
    book = write_invoices(tmp_path / "prod.xlsx", [GOOD])
    for typed in ("y", "Y", "yes please", "ja"):
        monkeypatch.setattr(sys, "stdin", _Terminal(typed + "\n"))
        code, out, err = run("push", book, "--op", "create", "--profile", "live", password=None)
        assert code == 2 and "Type yes:" in out, typed
        assert f"The answer was {typed!r}, not yes." in out
        assert "Nothing was sent: the push was not confirmed." in err
    assert sandbox.writes() == []
    monkeypatch.setattr(sys, "stdin", _Terminal(" YES \n"))
    code, out, _ = run("push", book, "--op", "create", "--profile", "live", password=None)
    assert code == 0 and sandbox.sandbox.store.count() == 1


@pytest.mark.parametrize(
    ("words", "posix", "windows"),
    [
        (["recover", "invoices.xlsx"], "bpxl recover invoices.xlsx", "bpxl recover invoices.xlsx"),
        (
            ["recover", "Q4 ventes été.xlsx"],
            "bpxl recover 'Q4 ventes été.xlsx'",
            "bpxl recover 'Q4 ventes été.xlsx'",
        ),
        (
            ["push", "C:\\Users\\Ann O'Neil\\inv.xlsx", "--op", "create"],
            "bpxl push 'C:\\Users\\Ann O'\"'\"'Neil\\inv.xlsx' --op create",
            "bpxl push 'C:\\Users\\Ann O''Neil\\inv.xlsx' --op create",
        ),
        (
            ["pull", "a.xlsx", "--ids", "1,2"],
            "bpxl pull a.xlsx --ids 1,2",
            "bpxl pull a.xlsx --ids '1,2'",
        ),
        (["push", "$HOME.xlsx"], "bpxl push '$HOME.xlsx'", "bpxl push '$HOME.xlsx'"),
    ],
)
def test_suggested_commands_are_quoted_for_the_users_shell(
    words: list[str], posix: str, windows: str
) -> None:
    assert shell.command(*words, windows=False) == posix
    assert shell.command(*words, windows=True) == windows


@pytest.mark.parametrize(
    ("platform", "quoted"), [("win32", "'1,2' 'a b' C:\\x"), ("linux", "1,2 'a b' 'C:\\x'")]
)
def test_a_command_is_quoted_for_the_shell_of_the_computer_it_runs_on(
    monkeypatch, platform: str, quoted: str
) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    assert shell.command("pull", "1,2", "a b", "C:\\x") == f"bpxl pull {quoted}"
    assert shell.quoted("a b") == "'a b'"


def test_the_pulls_suggested_command_is_quoted(tmp_path: Path, sandbox, run) -> None:
    first = write_invoices(tmp_path / "first.xlsx", [GOOD])
    run("push", first, "--op", "create", *connect(sandbox))
    book = tmp_path / "Q4 ventes été.xlsx"
    code, out, _ = run("pull", book, "--ids", "1", *connect(sandbox))
    assert code == 0
    assert f"send them with: bpxl push {shlex.quote(str(book))} --op update --changed" in out
    assert shlex.split(out.split("send them with: ")[1].strip())[2] == str(book)


def test_summaries_count_in_one_order() -> None:
    rows = [
        RowResult(2, Outcome.UNKNOWN),
        RowResult(3, Outcome.FAILED),
        RowResult(4, Outcome.UPSERTED),
        RowResult(5, Outcome.INVALID),
        RowResult(6, Outcome.CREATED),
        RowResult(7, Outcome.CONFLICT),
    ]
    assert results.summary(rows, Operation.UPSERT) == (
        "6 rows: 1 created, 1 upserted, 1 invalid, 1 failed, 1 unknown, 1 conflict"
    )
    assert results.summary(rows[1:3], Operation.UPDATE) == (
        "2 rows: 0 updated, 1 upserted, 0 invalid, 1 failed"
    )


def test_overwrite_without_changed_is_refused(tmp_path: Path, sandbox, run) -> None:
    book = write_invoices(tmp_path / "inv.xlsx", [GOOD])
    code, _, err = run("push", book, "--op", "create", "--overwrite", *connect(sandbox))
    assert code == 2
    assert "--overwrite goes with --changed" in err
    assert sandbox.writes() == []


def test_a_dry_run_marks_every_row_it_checked(tmp_path: Path, run) -> None:
    book = write_invoices(tmp_path / "inv.xlsx", [GOOD, {"BillingProfileId": "x"}])
    code, out, _ = run("push", book, "--op", "create", "--dry-run")
    assert code == 1 and "2 rows: 1 ready to create, 1 invalid (dry run: nothing was sent)" in out
    rows = read_sheet(book)
    assert (rows[0]["Result"], rows[0]["Message"]) == (
        None,
        "Ready to create (dry run: nothing was sent)",
    )
    assert rows[1]["Result"] == "Invalid" and rows[1]["Message"].startswith("BillingProfileId:")


def test_help_shows_examples_exit_codes_and_every_options_default(capsys) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    assert "examples:\n  bpxl template --example example.xlsx" in text
    assert "bpxl push export.csv --op create --map" in text and "  bpxl log " in text
    for code, meaning in [
        ("0", "every row succeeded"),
        ("1", "some rows did not"),
        ("2", "it could not run"),
        ("130", "stopped"),
    ]:
        assert re.search(rf"^  {code} +{meaning}", text, re.MULTILINE), code
    parser = cli._parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in commands.choices.items():
        for action in sub._actions:
            if not action.option_strings or isinstance(action, argparse._HelpAction):
                continue
            said = sub._get_formatter()._expand_help(action)
            assert re.search(r"\bdefault\b|\(required\)", said), (
                name,
                action.option_strings,
                said,
            )


def test_a_loopback_profile_is_saved_as_a_test_tenant_and_says_so(
    sandbox, run, memory_keyring
) -> None:
    code, out, _ = run("connect", "local", "--url", sandbox.url, "--username", "demo")
    assert code == 0
    assert "was saved as a test tenant: writes to it never ask. Add --production" in out
    assert "local: sandbox tenant" in run("connect")[1]
    code, out, _ = run(
        "connect", "local2", "--url", sandbox.url, "--username", "demo", "--production"
    )
    assert "saved as a test tenant" not in out and "PRODUCTION" in out


def test_fields_on_an_existing_sheet_says_what_it_does_or_is_refused(
    tmp_path: Path, sandbox, run
) -> None:
    first = write_invoices(tmp_path / "first.xlsx", [GOOD, GOOD])
    run("push", first, "--op", "create", *connect(sandbox))
    book = tmp_path / "pulled.xlsx"
    assert run("pull", book, "--ids", "1,2", "--fields", "Status", *connect(sandbox))[0] == 0
    before = book.read_bytes()
    code, _, err = run(
        "pull", book, "--ids", "1,2", "--fields", "DueDate,FileName", *connect(sandbox)
    )
    assert code == 2
    assert "--fields DueDate, FileName: the invoice sheet of pulled.xlsx has no columns for" in err
    assert "Nothing was pulled." in err and book.read_bytes() == before
    code, out, _ = run("pull", book, "--ids", "1,2", "--fields", "status", *connect(sandbox))
    assert code == 0
    assert (
        "--fields: the sheet of pulled.xlsx has its columns already; all of them are refreshed"
        in out
    )


def test_a_refresh_names_the_hidden_rows_it_skipped(tmp_path: Path, sandbox, run) -> None:
    first = write_invoices(tmp_path / "first.xlsx", [GOOD, GOOD, GOOD])
    run("push", first, "--op", "create", *connect(sandbox))
    book = tmp_path / "pulled.xlsx"
    assert run("pull", book, "--ids", "1,2,3", *connect(sandbox))[0] == 0
    workbook = openpyxl.load_workbook(book)
    workbook.worksheets[0].row_dimensions[3].hidden = True
    workbook.save(book)
    code, out, _ = run("pull", book, "--ids-from-sheet", *connect(sandbox))
    assert code == 0
    assert "Pulled 2 invoices" in out and "2 refreshed" in out
    assert "Row 3 is hidden, so not refreshed: unhide and pull again to refresh." in out


def test_a_conflict_names_who_changed_the_invoice_and_when_in_local_time(
    tmp_path: Path, make_sandbox, run, time_zone
) -> None:
    sandbox = make_sandbox(extra_users={"Ann Müller": "pw2"})
    first = write_invoices(tmp_path / "first.xlsx", [GOOD])
    code, out, err = run("push", first, "--op", "create", *connect(sandbox))
    assert code == 0, out + err
    made = read_sheet(first)[0]["Id"]
    book = tmp_path / "pulled.xlsx"
    run("pull", book, "--ids", made, *connect(sandbox))
    with Client(sandbox.url, username="Ann Müller", password="pw2") as ann:
        ann.update([{"Id": made, "Status": "Approved"}])
    stamp = sandbox.sandbox.store.get(int(made))["Updated"]
    local = dt.datetime.fromisoformat(stamp).astimezone()
    assert local.utcoffset() != dt.timedelta(0)  # Tokyo or Los Angeles: not the server's UTC
    workbook = openpyxl.load_workbook(book)
    sheet = workbook.worksheets[0]
    headers = [c.value for c in sheet[1]]
    sheet.cell(2, headers.index("Status") + 1, "Closed")
    workbook.save(book)
    code, _out, _ = run("push", book, "--op", "update", "--changed", *connect(sandbox))
    assert code == 1
    message = read_sheet(book)[0]["Message"]
    assert message.startswith(
        f"Invoice {made} was changed in BillingPlatform by Ann Müller (user 2) at "
        f"{local:%H:%M on %Y-%m-%d} (your time) since it was pulled"
    )


def test_a_user_the_tenant_will_not_name_is_named_by_number(tmp_path: Path, make_sandbox) -> None:
    sandbox = make_sandbox(extra_users={"ann": "pw2"})
    sandbox.sandbox.config.refused_entities = ("USER",)
    with Client(sandbox.url, username="demo", password="demo") as client:
        assert queries._UserNames(client).name("2") == "user 2"
    sandbox.sandbox.config.refused_entities = ()
    with Client(sandbox.url, username="demo", password="demo") as client:
        names = queries._UserNames(client)
        assert (names.name("2"), names.name("1"), names.name("9")) == (
            "ann (user 2)",
            "demo (user 1)",
            "user 9",
        )
    assert queries.local_time("not a time") == "at not a time"
