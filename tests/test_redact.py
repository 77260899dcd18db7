"""Secrets never leave the process: not from a URL, not echoed back by the server, not into a
weak password store."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from bpxl.core import redact
from bpxl.core.client import Client
from bpxl.sandbox import FaultPlan, Sandbox, SandboxConfig

from .conftest import MemoryKeyring, read_sheet, write_invoices
from .fake_billingplatform import FakeBillingPlatform, Plan

PASSWORD = "Pa55-unique-Wombat-91c3"


def _texts(folders: list[Path]) -> dict[Path, str]:
    """Every file under ``folders`` as text, a workbook's XML parts unzipped."""
    found: dict[Path, str] = {}
    for path in (p for folder in folders for p in folder.rglob("*") if p.is_file()):
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                parts = [archive.read(n).decode("utf-8", "replace") for n in archive.namelist()]
            found[path] = "\n".join(parts)
        else:
            found[path] = path.read_bytes().decode("utf-8", "replace")
    return found


def _leaks(secrets: list[str], texts: dict[Path, str], outputs: list[str]) -> list[str]:
    where = [f"{path}" for path, text in texts.items() if any(s in text for s in secrets)]
    return where + [f"output: {o[:200]}" for o in outputs if any(s in o for s in secrets)]


def test_a_password_in_the_url_is_refused_without_repeating_it(tmp_path, sandbox, run) -> None:
    book = write_invoices(tmp_path / "u.xlsx", [{"BillingProfileId": "101"}])
    host = sandbox.url.removeprefix("http://")
    for args in (
        ["push", book, "--op", "create", "--url", f"http://demo:{PASSWORD}@{host}"],
        ["connect", "acme", "--url", f"https://a:{PASSWORD}@x.invalid/a", "--username", "a"],
    ):  # fmt: skip
        code, out, err = run(*args)
        assert code == 2 and "BPXL_PASSWORD" in err and "profile" in err
        assert PASSWORD not in out + err
    assert sandbox.writes() == []
    assert PASSWORD not in "".join(_texts([Path(os.environ["BPXL_DATA_DIR"])]).values())


@pytest.mark.parametrize("how", ["password", "token"])
def test_an_error_page_echoing_headers_leaks_nothing(tmp_path, run, monkeypatch, how) -> None:
    """Every write and lookup is answered by a page that echoes the request's headers."""
    config = SandboxConfig(port=0, password=PASSWORD, faults=FaultPlan.parse(["500-echo:1.0"]))
    outputs = []
    with Sandbox(config) as echoing:
        book = write_invoices(tmp_path / "e.xlsx", [{"BillingProfileId": "101"}] * 2)
        connect = ["--url", echoing.url]
        if how == "token":
            token, _ = echoing.login("demo", PASSWORD) or ("", 0)
            monkeypatch.setenv("BP_TOKEN", token)
            connect += ["--token-env", "BP_TOKEN"]
        else:
            connect += ["--username", "demo"]
        for _ in range(2):  # the rerun looks up the Unknown rows again
            _, out, err = run("push", book, "--op", "create", *connect, password=PASSWORD)
            outputs += [out, err]
        secrets = [PASSWORD, *echoing.issued]
        assert echoing.store.count() == 0
    sheet = read_sheet(book)
    assert {r["Result"] for r in sheet} <= {"Unknown", "Failed"}
    assert all(r["Message"] for r in sheet)
    # the page's own words, not the headers it echoed (where the secrets were)
    assert "(HTTP 500: Internal error for request)" in sheet[0]["Message"]
    assert not any("User-Agent" in r["Message"] or "[hidden]" in r["Message"] for r in sheet)
    folders = [tmp_path, Path(os.environ["BPXL_DATA_DIR"]), Path(os.environ["BPXL_CONFIG_DIR"])]
    assert _leaks(secrets, _texts(folders), outputs) == []


def test_scrub_cuts_known_secrets_and_named_credentials() -> None:
    text = (
        'sessionid: s3ss10n-value Authorization: Bearer eyJ.abc.def {"password": "hunter2xx"} '
        "echo=Pa55-unique-Wombat-91c3 url=p%40ss+w0rd%2Fx Cookie=JSESSIONID=abcd"
    )
    got = redact.scrub(text, [PASSWORD, "p@ss w0rd/x"])
    for secret in ("s3ss10n-value", "eyJ.abc.def", "hunter2xx", PASSWORD, "w0rd", "abcd"):
        assert secret not in got
    assert redact.scrub("Status must be Pending; DueDate: 2024-13-01") == (
        "Status must be Pending; DueDate: 2024-13-01"
    )


def test_a_secret_holding_another_is_cut_whole() -> None:
    """The longest first: a session id that contains the password is cut whole, not around
    the password (which would leave the session id's ends readable)."""
    text = "echo: sid=aa-zz9hunter-bb pw zz9hunter"  # the shorter one sorts after by letters
    assert redact.scrub(text, ["zz9hunter", "aa-zz9hunter-bb"]) == "echo: sid=[hidden] pw [hidden]"
    assert redact.scrub(text, ["aa-zz9hunter-bb", "zz9hunter"]) == "echo: sid=[hidden] pw [hidden]"


def test_a_secret_echoed_json_escaped_is_cut_whole_and_nothing_else() -> None:
    secret = 'pa"ss\\wörd'
    text = f'{{"error": "the rules refuse {json.dumps(secret)[1:-1]}", "null": null}}'
    got = redact.scrub(text, [secret])
    assert got == '{"error": "the rules refuse [hidden]", "null": null}', got


def test_a_named_credential_keeps_its_name_and_loses_its_value() -> None:
    got = redact.scrub("failed: sessionid=abc123; Authorization: Bearer eyJ.x.y; cookie = k=v")
    assert got == "failed: sessionid=[hidden]; Authorization: [hidden]; cookie = [hidden]", got


@pytest.mark.parametrize("secret", ["pa55", "s3cr3t!", "1234567"])
def test_short_secrets_are_cut_too(secret: str) -> None:
    """A password of four to seven characters is still a password (a tenant may allow them):
    it is cut wherever the server echoes it. Shorter ones are not: they would cut words."""
    text = f"login failed for demo with {secret}; retry"
    assert redact.scrub(text, [secret]) == "login failed for demo with [hidden]; retry"
    assert redact.scrub("the cat sat", ["cat"]) == "the cat sat"


def test_a_secret_echoed_url_encoded_with_percent_20_is_cut() -> None:
    """A form or a query string may echo a space as %20 (or +), and / or @ escaped."""
    secret = "my pass/w@rd"
    for echoed in ("my%20pass%2Fw%40rd", "my+pass%2Fw%40rd", "my pass/w@rd"):
        got = redact.scrub(f"bad request: p={echoed}&x=1", [secret])
        assert got == "bad request: p=[hidden]&x=1", got


class PlaintextKeyring(KeyringBackend):
    """Stands for keyrings.alt's backend of that name (a plain file), as keyring sees it."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise AssertionError("the secret must not reach a weak store")

    def delete_password(self, service: str, username: str) -> None:
        pass


PlaintextKeyring.__module__ = "keyrings.alt.file"


def test_connect_refuses_a_keyring_that_keeps_secrets_in_a_plain_file(sandbox, run) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(PlaintextKeyring())
    try:
        code, _, err = run("connect", "acme", "--url", sandbox.url, "--username", "demo")
    finally:
        keyring.set_keyring(previous)
    assert code == 2 and "PlaintextKeyring" in err and "keyrings.alt" in err
    assert "GNOME Keyring" in err and "not save" in err
    assert "acme" not in run("connect")[1]


def test_connect_still_saves_into_a_real_store(sandbox, run, memory_keyring: MemoryKeyring) -> None:
    code, _, err = run("connect", "acme", "--url", sandbox.url, "--username", "demo")
    assert code == 0, err
    assert memory_keyring.secrets == {("bpxl", "acme"): "demo"}


def test_a_secret_cut_by_the_length_of_a_message_leaves_no_part_behind() -> None:
    """An error page long enough to be shortened, with the password and the session id (not named
    as such: a table of values) just where the message is cut."""

    def page(_: list[dict[str, str]], headers: dict[str, str]) -> str:
        cells = "".join(f"<td>{v}</td>" for v in (PASSWORD, headers.get("sessionid", "")))
        return f"<html><body><p>{'x' * 290}</p><table><tr>{cells}</tr></table></body></html>"

    fake = FakeBillingPlatform(lambda n, _: Plan(store=False, status=500, body=page))
    with fake.running(), Client(fake.url, username="demo", password=PASSWORD) as client:
        message = client.update([{"Id": "1", "FileName": "a.pdf"}])[0].messages[0]
    assert "…" in message and "[hidden]" in message, message  # shortened, the secret cut whole
    for secret in (PASSWORD, *fake.sessions):
        assert not any(secret[:k] in message for k in range(4, len(secret) + 1)), message
