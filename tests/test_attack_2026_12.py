"""Found by trying bpxl as a new user would, where its features meet (December 2026): each test
is one attack that broke a promise, counting invoices on the sandbox against rows."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bpxl.core.client import Client

from .conftest import read_sheet, write_invoices

ROWS = [
    {"BillingProfileId": "101", "DueDate": dt.date(2026, 7, 1 + n), "FileName": f"copy-{n}.pdf"}
    for n in range(5)
]


def _invoices(url: str) -> int:
    with Client(url, username="demo", password="demo") as client:
        return len(list(client.query("SELECT Id FROM INVOICE")))


@pytest.mark.parametrize("days", ["-1", "-7", "nan", "inf", "1e9", "1e6", "abc", "٧"])
def test_a_duplicate_days_setting_bpxl_cannot_use_stops_the_push_before_a_copy_is_sent(
    tmp_path: Path, sandbox, run: Callable[..., tuple[int, str, str]], monkeypatch, days: str
) -> None:
    """``BPXL_DUPLICATE_DAYS=-1`` (meant as 'no limit') silently turned the duplicate check off:
    the copy of a pushed workbook made every invoice again; ``nan``, ``inf`` or ``1e9`` stopped
    the push on 'a problem it did not expect ... it is a bug'; ``abc`` was ignored without a
    word. Now each stops the push in plain words, naming the variable, before anything is sent."""
    login = ["--url", sandbox.url, "--username", "demo"]
    book = write_invoices(tmp_path / "book.xlsx", ROWS)
    copy = tmp_path / "copy.xlsx"
    shutil.copy(book, copy)
    assert run("push", book, "--op", "create", *login)[0] == 0
    monkeypatch.setenv("BPXL_DUPLICATE_DAYS", days)
    code, out, err = run("push", copy, "--op", "create", *login)
    assert code == 2, out + err
    assert "BPXL_DUPLICATE_DAYS" in err and "did not expect" not in err, err
    assert _invoices(sandbox.url) == len(ROWS)
    assert all(not r.get("Result") for r in read_sheet(copy))


@pytest.mark.parametrize(
    ("name", "value"),
    [("BPXL_JOURNAL_DAYS", "abc"), ("BPXL_JOURNAL_DAYS", "nan"), ("BPXL_PROGRESS_SECONDS", "x")],
)
def test_a_setting_bpxl_cannot_use_stops_the_push_before_it_sends_not_after(
    tmp_path: Path, sandbox, run: Callable[..., tuple[int, str, str]], monkeypatch, name, value
) -> None:
    """``BPXL_JOURNAL_DAYS=abc`` was read only after the rows had gone out and their results
    were written: the push then ended on 'a problem it did not expect ... If rows were being
    sent, run bpxl recover', with exit 2 (which says nothing was sent) and no run log."""
    monkeypatch.setenv(name, value)
    book = write_invoices(tmp_path / "book.xlsx", ROWS)
    code, out, err = run("push", book, "--op", "create", "--url", sandbox.url, "--username", "demo")
    assert code == 2, out + err
    assert name in err and "did not expect" not in err, err
    assert _invoices(sandbox.url) == 0


@pytest.mark.parametrize("wait", ["nan", "inf", "1e300"])
def test_a_lookup_wait_that_is_no_number_of_seconds_is_the_default_not_a_crash(
    monkeypatch, wait: str
) -> None:
    """``BPXL_LOOKUP_WAIT=nan`` made the lookup of a lost create call ``time.sleep(nan)``: a
    crash in the middle of a push, its lost rows left for a recovery."""
    from bpxl.core import reconcile

    monkeypatch.setenv(reconcile.LOOKUP_WAIT_ENV, wait)
    assert reconcile.lookup_wait() == (86_400.0 if wait == "1e300" else 5.0)


def test_a_copy_pushed_through_the_tenant_url_spelled_another_way_meets_the_ledger(
    tmp_path: Path, sandbox, run: Callable[..., tuple[int, str, str]], monkeypatch
) -> None:
    """The ledger was filed under the URL as typed: pushed once as ``http://localhost:P/sandbox``
    and the copy as ``HTTP://LOCALHOST:P/sandbox/`` (on a tenant: ``https://My.Tenant.com/acme``
    one day, ``https://my.tenant.com/acme`` the next), the copy's rows were created again. The
    check by values is off here, as it is past ``BPXL_DUPLICATE_DAYS``: the ledger alone."""
    monkeypatch.setenv("BPXL_DUPLICATE_DAYS", "0")
    typed = sandbox.url.replace("127.0.0.1", "localhost")
    book = write_invoices(tmp_path / "book.xlsx", ROWS)
    copy = tmp_path / "copy.xlsx"
    shutil.copy(book, copy)
    assert run("push", book, "--op", "create", "--url", typed, "--username", "demo")[0] == 0
    other = typed.replace("http://localhost", "HTTP://LOCALHOST") + "/"
    code, out, err = run("push", copy, "--op", "create", "--url", other, "--username", "demo")
    assert code == 1, out + err
    assert {r["Result"] for r in read_sheet(copy)} == {"Exists"}
    assert _invoices(sandbox.url) == len(ROWS)
    assert [r["Id"] for r in read_sheet(copy)] == [r["Id"] for r in read_sheet(book)]


def test_recover_of_a_file_that_is_not_there_says_so(tmp_path: Path, run) -> None:
    """A mistyped name was answered 'Nothing to recover: every push of nothere.xlsx finished',
    a false reassurance: it is refused, naming the path and what to do."""
    code, out, err = run("recover", tmp_path / "nothere.xlsx")
    assert code == 2 and "Nothing to recover" not in out, out + err
    assert f"There is no file at {tmp_path / 'nothere.xlsx'}" in err
    assert "`bpxl recover` without a file name" in err
