"""excel/ribbon.py's buttons on the fake Excel, quickly: one button's work at a time (another
says what runs, Stop sending asks it to end), an unexpected problem in words with its details in
a file, Connect's wrong answers and Cancel, Validate's sum-up, Clear status's warning, Show log
cut to a message box. The long sends and the round trip are in test_excel*.py."""

from __future__ import annotations

import pytest

from bpxl.core import profiles, run_log, shell
from bpxl.core.connection import data_dir
from bpxl.excel import ribbon

from .fake_xlwings import book_from_rows, press

HEADER = ["Id", "BillingProfileId", "Status", "DueDate", "Result", "Message"]


def _rows(n: int) -> list[list[object]]:
    return [[None, str(101 + i % 3), "Pending", "2026-01-31", None, None] for i in range(n)]


def test_a_button_clicked_while_another_runs_says_what_runs_and_stop_ends_it(
    make_sandbox, run, memory_keyring
) -> None:  # type: ignore[no-untyped-def]
    """1,000 rows: five batches, four at a time, to a slow tenant: the click returns while they
    go, and Stop sending keeps the fifth from going."""
    sandbox = make_sandbox(faults=["latency:3s"])
    run("connect", "live", "--url", sandbox.url, "--username", "demo", "--sandbox")
    profiles.set_active("live")
    book = book_from_rows(HEADER, _rows(1_000))
    app = book.app
    app.vba["BpxlPoll"] = ribbon.poll
    app.alert_answers = ["ok"]
    app.run_python(lambda: ribbon.action("bpxlCreate", book))
    assert app.scheduled, "the send should still be running"
    app.run_python(lambda: ribbon.action("bpxlValidate", book))
    assert app.alerts[-1][0] == (
        "BillingPlatform is still busy with Create (progress in the status bar). Wait for it to "
        "finish, or click Stop sending; then click again."
    )
    app.run_python(lambda: ribbon.action("bpxlStop", book))
    assert "BillingPlatform: stopping after the rows on their way..." in app.status_history
    app.idle()
    said = app.alerts[-1][0]
    assert said.startswith(
        "Stopped, as you asked: no more rows went out. Every row says what happened to it; rows "
        "not sent say so: select them and click the button again to send them.\n1,000 rows: "
    ), said
    results, messages = book.sheets[0].column("Result"), book.sheets[0].column("Message")
    created = [r for r in results if results[r] == "Created"]
    stopped = [r for r in results if results[r] == "Failed"]
    assert len(created) + len(stopped) == 1_000 and len(stopped) >= 200
    assert all(messages[r].startswith("Not sent: stopped") for r in stopped)
    assert sandbox.sandbox.store.count() == len(created)  # the rows on their way when stopped
    press(book, "bpxlStop")
    assert app.alerts[-1][0] == "Nothing is running."  # the send has ended: the next one may go
    assert set(app.alert_titles) == {"BillingPlatform"}
    ribbon.poll()  # a poll left over from the ended work does nothing
    assert app.scheduled == []


def test_an_unexpected_problem_is_said_in_words_and_its_details_kept_for_support() -> None:
    book = book_from_rows(HEADER, _rows(2))
    book.sheets[0].protected = True  # Excel refuses the results: not a problem bpxl knows
    book.app.alert_answers = ["ok"]
    press(book, "bpxlCreate")
    details = data_dir() / "excel-error.txt"
    assert book.app.alerts[-1] == (
        "bpxl stopped on an unexpected problem. Nothing more was sent.\n"
        f"What to do: send {details} to your bpxl support contact.",
        "ok",
    )
    assert set(book.app.alert_titles) == {"BillingPlatform"}
    written = details.read_text(encoding="utf-8")
    assert written.startswith("Traceback") and "protected sheet" in written


@pytest.mark.parametrize("answer", [False, None, ""])  # Cancel, closed, or nothing typed
def test_connect_cancelled_changes_nothing(answer: object, memory_keyring) -> None:  # type: ignore[no-untyped-def]
    book = book_from_rows(HEADER, _rows(1))
    book.app.input_answers = [answer]
    press(book, "bpxlConnect")
    assert profiles.active() == profiles.SANDBOX and book.app.macros_run == []
    assert [buttons for _, buttons in book.app.alerts] == ["input"]


@pytest.mark.parametrize("answer", ["0", "-1", "3", "two", " 2x", "²"])
def test_connect_refuses_an_answer_that_is_not_a_number_shown(
    answer: str, memory_keyring, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HOME", str(tmp_path))
    profiles.save(profiles.Profile("acme", "https://acme.billingplatform.com/acme", "jo"), "pw")
    book = book_from_rows(HEADER, _rows(1))
    book.app.input_answers = [answer]
    press(book, "bpxlConnect")
    prompt = book.app.alerts[0][0]
    assert prompt.startswith("Send invoices to:\n\n1. SANDBOX (on this computer)\n2. acme")
    assert prompt.endswith(
        "\n\nType the number. To add a tenant, run in a command prompt:\n"
        "bpxl connect NAME --url https://... --username YOU"
    )
    assert book.app.alerts[-1][0] == (
        f"{answer!r} is not one of the numbers shown.\n  What to do: Click Connect... again."
    )
    assert profiles.active() == profiles.SANDBOX


def test_connect_offers_the_active_tenant_and_a_reset_ribbon_is_told(
    memory_keyring, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("acme", "beta"):
        profile = profiles.Profile(name, f"https://{name}.billingplatform.com/{name}", "jo")
        profiles.save(profile, "pw")
    profiles.set_active("beta")
    book = book_from_rows(HEADER, _rows(1))
    defaults: list[str] = []
    original = type(book.app.api).InputBox

    def input_box(api, prompt: str, title: str, default: str) -> object:  # type: ignore[no-untyped-def]
        defaults.append(default)
        assert title == "BillingPlatform: Connect"
        return original(api, prompt, title, default)

    monkeypatch.setattr(type(book.app.api), "InputBox", input_box)
    book.app.ribbon_held = False  # a VBA reset: the ribbon's label cannot be refreshed
    book.app.input_answers = [" 2 "]
    press(book, "bpxlConnect")
    assert defaults == ["3"]  # beta, the one in use
    assert profiles.active() == "acme"
    assert book.app.alerts[-1][0] == (
        f"Next write: {profiles.get('acme').label}.\nThe ribbon's label shows it again once "
        "Excel restarts (its link to the ribbon was reset)."
    )
    assert book.app.alert_titles[-1] == "BillingPlatform"


def test_validate_sums_up_what_it_checked_and_keeps_a_run_log() -> None:
    rows = _rows(3)
    rows[0][0] = "12"  # an update
    rows[1][3] = "31/02/2026"  # not a date
    book = book_from_rows(HEADER, rows)
    book.app.selected = "$A$2:$A$4"
    press(book, "bpxlValidate")
    assert book.app.alerts[-1][0].startswith(
        "3 rows checked: 2 ready, 1 invalid (nothing was sent)\n"
    )
    assert book.app.alert_titles == ["BillingPlatform"]
    log = run_log.last()
    assert log is not None and log.command == "validate" and log.sheet == "Invoices"
    assert log.target == "a check: nothing was sent"
    assert log.summary == "3 rows checked: 2 ready, 1 invalid (nothing was sent)"
    assert [(r.row, r.result) for r in log.rows] == [(2, ""), (3, "Invalid"), (4, "")]


def test_validate_with_no_rows_chosen_says_how_to_choose() -> None:
    book = book_from_rows(HEADER, [])
    press(book, "bpxlValidate")
    assert book.app.alerts[-1][0] == (
        "No data rows are chosen.\n  What to do: Select cells in the rows to work on (or one cell "
        "for all visible rows), then click again."
    )


def test_clear_status_warns_once_for_rows_that_say_unknown_and_cancel_keeps_them() -> None:
    rows = _rows(4)
    for row in rows[1:]:
        row[4] = "Unknown"
    book = book_from_rows(HEADER, rows)
    book.app.selected = "$A$2:$A$5"
    book.app.alert_answers = ["cancel"]
    press(book, "bpxlClear")
    assert book.app.alerts[-1] == (
        "3 rows (the first is row 3) say Unknown: the invoice may already exist in "
        "BillingPlatform. Cleared, the next Create sends it again without looking, which can "
        "make a second invoice. Check in BillingPlatform first.\n\nClear anyway?",
        "ok_cancel",
    )
    assert book.sheets[0].column("Result") == {2: None, 3: "Unknown", 4: "Unknown", 5: "Unknown"}
    book.app.selected = "$A$4"
    book.app.alert_answers = ["ok"]
    press(book, "bpxlClear")  # one cell: every row
    assert book.app.alerts[-1][0].startswith("3 rows (the first is row 3) say Unknown")
    assert set(book.sheets[0].column("Result").values()) == {None}
    assert set(book.app.alert_titles) == {"BillingPlatform"}
    book.sheets[0].cells[(3, 5)] = "Unknown"
    book.app.selected = "$A$3"  # one cell: every row again
    book.app.alert_answers = ["ok"]
    press(book, "bpxlClear")
    assert book.app.alerts[-1][0].startswith("Row 3 says Unknown: the invoice may already exist")


def test_show_log_says_there_is_no_run_yet_then_shows_the_last_cut_to_a_message_box() -> None:
    book = book_from_rows(HEADER, [])
    press(book, "bpxlLog")
    assert book.app.alerts[-1] == ("No run yet: nothing was sent or checked.", "ok")
    assert book.app.alert_titles == ["BillingPlatform: last run"]
    rows = _rows(80)
    for row in rows:
        row[3] = "31/02/2026"  # not a date: a long log of invalid rows
    book = book_from_rows(HEADER, rows)
    book.app.selected = "$A$2:$A$81"
    press(book, "bpxlValidate")
    press(book, "bpxlLog")
    log = run_log.last()
    assert log is not None
    text = book.app.alerts[-1][0]
    kept = log.text()[: ribbon.SHOW_LOG_CHARACTERS].rsplit("\n", 1)[0]
    assert text == (
        kept + "\n...\nThe whole run: type in a command prompt: "
        + shell.command("log", log.workbook, windows=True)
    )  # fmt: skip
    assert book.app.alert_titles == ["BillingPlatform", "BillingPlatform: last run"]


def test_recover_with_nothing_unfinished_says_so() -> None:
    book = book_from_rows(HEADER, _rows(2))
    press(book, "bpxlRecover")
    assert book.app.alerts == [
        ("Nothing to recover: every send from this workbook finished.", "ok")
    ]
    assert book.app.alert_titles == ["BillingPlatform"]
