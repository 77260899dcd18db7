"""Hostile servers (issue 25): credentials stay with their tenant, every answer has a deadline and
a size limit, junk in a Date or in server text ends in a row status, and an answer lost after the
request left is "maybe stored", never "not sent". All on loopback."""

from __future__ import annotations

import json
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from bpxl.core import redact
from bpxl.core.client import Client
from bpxl.core.errors import ApiConnectionError, UsageError
from bpxl.core.fields import Field, FieldType
from bpxl.core.results import Outcome
from bpxl.sandbox import Sandbox, SandboxConfig
from tests.conftest import read_sheet, write_invoices
from tests.fake_billingplatform import FakeBillingPlatform, Plan
from tests.hostile_server import HostileServer, Request, head, ok_json

ROW = {"BillingProfileId": "101", "DueDate": "2026-07-31"}


def _created(request: Request) -> list[bytes]:
    items = [
        {"ErrorCode": "0", "Id": str(100 + i)} for i, _ in enumerate(request.json()["brmObjects"])
    ]  # type: ignore[index]
    return [ok_json({"createResponse": items})]


# -- credentials stay with their tenant ----------------------------------------------------------


def test_a_redirect_to_another_port_gets_neither_the_password_nor_the_session() -> None:
    """A 307 keeps the method and the body: followed, it carried the login's password (and, on a
    write, the session id) to the other address. Refused, naming both."""
    elsewhere = HostileServer(lambda r: [ok_json({})], answer_logins=False)
    with elsewhere.running():
        moved = f"http://127.0.0.1:{elsewhere.port}/t/rest/2.0/login"
        server = HostileServer(lambda r: [head(307, {"Location": moved}, 0)], answer_logins=False)
        with server.running():
            client = Client(server.url, username="ann", password="s3cret-pw")
            with pytest.raises(ApiConnectionError) as refused:
                client.login()
    assert elsewhere.requests == []
    said = str(refused.value)
    assert f"127.0.0.1:{server.port}" in said and f"127.0.0.1:{elsewhere.port}" in said
    assert "s3cret-pw" not in said


def test_a_write_redirected_elsewhere_is_unknown_and_the_session_id_stays(run, tmp_path) -> None:
    elsewhere = HostileServer(_created, answer_logins=False)
    with elsewhere.running():
        there = f"http://127.0.0.1:{elsewhere.port}/t/rest/2.0/INVOICE"
        server = HostileServer(lambda r: [head(307, {"Location": there}, 0)])
        with server.running():
            book = write_invoices(tmp_path / "book.xlsx", [ROW])
            # --create-anyway: the duplicate check's query is redirected too, and would keep
            # the row from being sent at all (Failed, "could not check").
            _code, out, err = run("push", book, "--op", "create", "--create-anyway",
                                 "--url", server.url, "--username", "ann")  # fmt: skip
    assert elsewhere.requests == []
    assert "Traceback" not in err
    [row] = read_sheet(book)
    assert row["Result"] == "Unknown"
    assert f"127.0.0.1:{elsewhere.port}" in row["Message"]
    assert server.session not in out + err + row["Message"]


@pytest.mark.parametrize("command", ["push", "connect"])
def test_http_to_a_host_that_is_not_this_computer_is_refused(run, tmp_path, command) -> None:
    if command == "push":
        book = write_invoices(tmp_path / "book.xlsx", [ROW])
        args = ["push", book, "--op", "create", "--url", "http://bp.example/acme"]
    else:
        args = ["connect", "prod", "--url", "http://bp.example/acme"]
    code, _out, err = run(*args, "--username", "ann")
    assert code == 2
    assert "http://" in err and "unencrypted" in err and "https://bp.example/acme" in err
    assert not (Path(tmp_path) / "profiles.json").exists()


def test_http_on_this_computer_is_fine_and_its_spellings_are_known() -> None:
    for url in ("http://127.0.0.1:1/t", "http://localhost:1/t", "http://[::1]:1/t"):
        Client(url, username="u", password="p")
    for url in ("http://10.0.0.1/t", "http://127.0.0.1.example.com/t", "http://0.0.0.0/t"):
        with pytest.raises(UsageError, match="unencrypted"):
            Client(url, username="u", password="p")


# -- deadlines and sizes -------------------------------------------------------------------------


def test_an_answer_that_trickles_ends_at_the_deadline_as_maybe_stored() -> None:
    """One byte every half second would last for ever under a read timeout (it counts between
    bytes); the whole answer has a deadline. The create may have been stored: Unknown."""

    def trickle(request: Request) -> list[bytes | float | None]:
        return [head(200, {"Content-Type": "application/json"}, 10_000)] + [b" ", 0.5] * 10_000

    with HostileServer(trickle).running() as server:
        client = Client(server.url, username="u", password="p", deadline=2.0)
        began = time.monotonic()
        [result] = client.create([ROW])
        took = time.monotonic() - began
    assert result.outcome is Outcome.UNKNOWN
    assert "within 2 seconds" in result.messages[0]
    assert took < 10


def test_headers_that_trickle_end_at_the_deadline_too() -> None:
    def trickle(request: Request) -> list[bytes | float | None]:
        return [b"HTTP/1.1 200 OK\r\n"] + [b"X-Slow: 1\r\n", 0.3] * 1000

    with HostileServer(trickle).running() as server:
        client = Client(server.url, username="u", password="p", deadline=1.5)
        client.login()
        began = time.monotonic()
        with pytest.raises(ApiConnectionError, match=r"within 1\.5 seconds"):
            list(client.query("SELECT Id FROM INVOICE"))  # a GET, which urllib3 would retry
    assert time.monotonic() - began < 8


def test_the_deadline_is_set_by_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("BPXL_ANSWER_SECONDS", "42")
    assert Client("http://127.0.0.1:1/t", username="u", password="p").deadline == 42
    monkeypatch.setenv("BPXL_ANSWER_SECONDS", "soon")
    with pytest.raises(UsageError, match="BPXL_ANSWER_SECONDS"):
        Client("http://127.0.0.1:1/t", username="u", password="p")


def test_a_huge_answer_is_refused_while_it_streams_not_held_in_memory() -> None:
    """A 300 MB answer took 900 MB; now an answer past the limit (here 1 MB, of 40 MB sent) is
    refused after the limit is read, and the create is Unknown."""
    chunk = b" " * (1 << 20)

    def huge(request: Request) -> list[bytes | float | None]:
        return [head(200, {"Content-Type": "application/json"}, 40 << 20), *[chunk] * 40]

    with HostileServer(huge).running() as server:
        client = Client(server.url, username="u", password="p", max_answer_bytes=1 << 20)
        client.login()
        tracemalloc.start()
        try:
            [result] = client.create([ROW])
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert result.outcome is Outcome.UNKNOWN and "more than 1 MB" in result.messages[0]
    assert peak < 8 << 20, f"{peak / 1e6:.1f} MB held"


# -- junk in what the server says ----------------------------------------------------------------


def test_a_date_without_a_zone_after_a_lost_create_ends_in_row_statuses(run, tmp_path) -> None:
    """A Date header without a zone read as a time with none: push and every recover then
    stopped on comparing it with an aware one, and the workbook was locked out for good."""
    fake = FakeBillingPlatform(lambda n, records: Plan(store=n > 1, status=0))  # answer lost
    fake.date = time.strftime("%a, %d %b %Y %H:%M:%S", time.gmtime())
    with fake.running():
        book = write_invoices(tmp_path / "book.xlsx", [ROW])
        _code, _out, err = run("push", book, "--op", "create", "--url", fake.url, "--username", "u")
        assert "Traceback" not in err, err
        fake.date = "not a date at all"
        again = run("recover", book, "--url", fake.url, "--username", "u")
        assert "Traceback" not in again[2], again[2]
        [row] = read_sheet(book)
        assert row["Result"] in ("Created", "Unknown", "Failed"), row
    assert len(fake.ids()) <= 1


def test_a_lone_surrogate_in_a_servers_error_text_reaches_no_file_broken(run, tmp_path) -> None:
    """JSON may carry ``\\ud800``: UTF-8 cannot, so the journal, the workbook or the terminal
    stopped with a traceback after sending. It is shown as U+FFFD, control characters too."""

    def refuse(items: list[dict[str, str]], headers: dict[str, str]) -> str:
        text = "Bad \\ud800 value\\u001b[2J\\r\\nRow 2: Created"
        return '{"createResponse": [{"ErrorCode": "5", "ErrorText": "' + text + '"}]}'

    fake = FakeBillingPlatform(lambda n, records: Plan(store=False, body=refuse))
    with fake.running():
        book = write_invoices(tmp_path / "book.xlsx", [ROW])
        code, out, err = run("push", book, "--op", "create", "--url", fake.url, "--username", "u")
    assert code == 1 and "Traceback" not in err
    [row] = read_sheet(book)
    assert row["Result"] == "Failed"
    assert "Bad \ufffd value\ufffd[2J  Row 2: Created" in row["Message"]
    assert "\x1b" not in out + err and "\r" not in out


def test_printable_replaces_what_no_terminal_or_file_should_get() -> None:
    assert redact.printable("a\tb\nc\rd") == "a b c d"
    assert redact.printable("\x00\x1b\x7f\x9b\ud800\udfff\ufffe") == "\ufffd" * 7
    assert redact.printable("Ünïcode ✓ 😀") == "Ünïcode ✓ 😀"


# -- an answer that never came ---------------------------------------------------------------------


def test_a_create_whose_answer_timed_out_after_it_was_stored_is_maybe_stored(run, tmp_path) -> None:
    """The request left and the server stored the invoice, but its answer came after the client
    gave up. Read as "not sent", the row would be sent again: a duplicate. It is Unknown, then
    found on the server by its values; the next push creates nothing."""
    answered = threading.Event()

    def slow(n: int, records: list[dict[str, object]]) -> Plan:
        return Plan(answer_after_s=1.5 if n == 1 else 0.0)

    fake = FakeBillingPlatform(slow)
    with fake.running():
        client = Client(fake.url, username="u", password="p", timeout=(5.0, 0.5))
        [result] = client.create([ROW])
        client.close()
        assert result.outcome is Outcome.UNKNOWN, result
        assert "check in BillingPlatform" in result.messages[0]
        answered.set()
        assert len(fake.ids()) == 1
        # The same through a push, with the answer lost to the whole-answer deadline.
        book = write_invoices(tmp_path / "book.xlsx", [ROW])
        fake.writes.clear()
        fake.script = lambda n, records: Plan(answer_after_s=2.0 if n == 1 else 0.0)
        with pytest.MonkeyPatch.context() as env:
            env.setenv("BPXL_ANSWER_SECONDS", "0.8")
            # --create-anyway: the same values as the invoice made above, on purpose
            _code, _out, err = run("push", book, "--op", "create", "--create-anyway",
                                 "--url", fake.url, "--username", "u")  # fmt: skip
        assert "Traceback" not in err
        run("push", book, "--op", "create", "--url", fake.url, "--username", "u")
    [row] = read_sheet(book)
    assert row["Result"] in ("Created", "Unknown"), row
    assert len(fake.ids()) == 2, "the push's row was created once, not twice"


def test_the_journal_keeps_server_text_readable(run, tmp_path) -> None:
    def refuse(items: list[dict[str, str]], headers: dict[str, str]) -> str:
        return json.dumps({"createResponse": [{"ErrorCode": "5", "ErrorText": "x\x07y"}]})

    fake = FakeBillingPlatform(lambda n, records: Plan(store=False, body=refuse))
    with fake.running():
        book = write_invoices(tmp_path / "book.xlsx", [ROW])
        run("push", book, "--op", "create", "--url", fake.url, "--username", "u")
    [row] = read_sheet(book)
    assert row["Message"].startswith("X\ufffdy")


def test_what_a_tenant_names_its_fields_reaches_the_terminal_printable(run) -> None:
    """A field label holding an escape sequence would clear the user's terminal or retitle it."""
    evil = Field("PoNumber", FieldType.TEXT, "x", label="Evil\x1b[2J\x1b]0;pwned\x07", custom=True)
    with Sandbox(SandboxConfig(port=0, custom_fields=(evil,))) as sandbox:
        code, out, err = run("fields", "--refresh", "--url", sandbox.url, "--username", "demo")
    assert code == 0 and "PoNumber" in out, out + err
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert "Evil\ufffd[2J" in out
