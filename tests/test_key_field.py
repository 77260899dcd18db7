"""Key-field mode (issue 23): creates sent as upserts on a text field of the tenant holding each
row's create key, so that a copy, a rerun, a colleague's push or two pushes at once meet the
invoice made instead of making another. End to end, against the sandbox over loopback (with a
custom field, as an administrator would add it)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bpxl.core import create_key, profiles
from bpxl.core.client import Client
from bpxl.sandbox import FaultPlan, Sandbox, SandboxConfig
from bpxl.sandbox.schema import parse_custom_field

from .conftest import read_sheet, write_invoices
from .processes import push

KEY = "BpxlKey"
ROWS = [
    {"BillingProfileId": "101", "DueDate": dt.date(2026, 3, 31), "FileName": f"k-{n}.pdf"}
    for n in range(1, 5)
] + [
    {"BillingProfileId": "103", "DueDate": dt.date(2026, 3, 31), "FileName": "twin.pdf"},
    {"BillingProfileId": "103", "DueDate": dt.date(2026, 3, 31), "FileName": "twin.pdf"},
]


def keyed_sandbox(tmp_path: Path, *faults: str, seed: int = 3) -> Sandbox:
    config = SandboxConfig(
        port=0,
        custom_fields=(parse_custom_field(f"{KEY}:text:{create_key.LONGEST}"),),
        extra_users={"bob": "bob"},
        faults=FaultPlan.parse(list(faults), seed=seed),
        request_log=tmp_path / "requests.jsonl",
    )
    return Sandbox(config).start()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Sandbox]:
    sandbox = keyed_sandbox(tmp_path)
    yield sandbox
    sandbox.stop()


def writes(tmp_path: Path) -> list[dict[str, object]]:
    lines = (tmp_path / "requests.jsonl").read_text().splitlines()
    return [
        r
        for r in map(json.loads, lines)
        if r["method"] in ("POST", "PATCH", "PUT") and str(r["path"]).endswith("/INVOICE")
    ]


def invoices(server: Sandbox) -> dict[str, list[str]]:
    """Key -> the Ids of the invoices holding it (an invoice without one under '')."""
    found: dict[str, list[str]] = {}
    for row in server.store.query(f"SELECT Id, {KEY} FROM INVOICE"):
        found.setdefault(row[KEY], []).append(row["Id"])
    return found


def as_user(monkeypatch: pytest.MonkeyPatch, base: Path, who: str) -> None:
    """Another person: a data folder and a config folder of their own."""
    monkeypatch.setenv("BPXL_DATA_DIR", str(base / who / "data"))
    monkeypatch.setenv("BPXL_CONFIG_DIR", str(base / who / "config"))


def connect(run, server: Sandbox, name: str, user: str = "demo", *more: str):
    return run("connect", name, "--url", server.url, "--username", user, *more, password=user)


def test_connect_names_the_key_field_and_fields_says_it_is_set_up(
    tmp_path: Path, server, run, memory_keyring
) -> None:
    code, out, err = connect(run, server, "shop", "demo", "--key-field", "bpxlkey")
    assert code == 0, err
    assert profiles.get("shop").key_field == KEY  # as the tenant spells it
    assert f"Key field: {KEY}" in out
    code, out, _ = run("fields", "--profile", "shop")
    assert code == 0 and f"Key field: {KEY} (on the tenant, text)" in out
    code, out, _ = run("connect")
    assert f"create keys in {KEY}" in out

    code, out, _ = run("connect", "shop", "--no-key-field")
    assert code == 0 and profiles.get("shop").key_field is None
    code, out, _ = run("fields", "--profile", "shop")
    assert "Key field: none set up for shop" in out and "Text, at least 40" in out
    code, out, _ = run("connect", "shop", "--key-field", KEY)
    assert code == 0 and profiles.get("shop").key_field == KEY


@pytest.mark.parametrize(
    ("field", "said"),
    [
        ("Nope", "the tenant has no Invoice field named Nope"),
        ("FileName", "one of BillingPlatform's own Invoice fields"),
        ("Short", "takes 10 characters; create keys need 40"),
        ("Number", "is a integer field; it must be a text field"),
    ],
)
def test_a_field_that_cannot_hold_keys_is_refused_and_nothing_saved(
    tmp_path: Path, run, memory_keyring, field: str, said: str
) -> None:
    custom = (parse_custom_field("Short:text:10"), parse_custom_field("Number:integer"))
    with Sandbox(SandboxConfig(port=0, custom_fields=custom)) as sandbox:
        code, _, err = connect(run, sandbox, "shop", "demo", "--key-field", field)  # type: ignore[arg-type]
    assert code == 2
    assert said in err and "Nothing was saved" in err and "Text, at least 40" in err
    assert "shop" not in profiles.load_all()


def test_a_key_field_gone_from_the_tenant_stops_the_push_before_sending(
    tmp_path: Path, server, run, memory_keyring
) -> None:
    connect(run, server, "shop", "demo", "--key-field", KEY)
    with Sandbox(SandboxConfig(port=0)) as plain:  # the same profile, a tenant without it
        current = profiles.get("shop")
        profiles.update(profiles.Profile(**{**current.__dict__, "url": plain.url}))
        book = write_invoices(tmp_path / "inv.xlsx", ROWS)
        code, out, _ = run("fields", "--profile", "shop", "--refresh")
        assert f"Key field: {KEY}, but the tenant has no Invoice field named {KEY}" in out
        code, _, err = run("push", book, "--op", "create", "--profile", "shop")
        assert code == 2, err
        assert f"keeps create keys in the Invoice field {KEY}" in err
        assert "Nothing was sent" in err and plain.store.count() == 0


def test_two_people_pushing_one_file_make_one_invoice_per_row(
    tmp_path: Path, server, run, memory_keyring, monkeypatch
) -> None:
    """Two Windows accounts (own data and config folders, own logins), one workbook on a shared
    folder, each pushing a copy of it taken before either push."""
    book = write_invoices(tmp_path / "shared.xlsx", ROWS)
    anns, bobs = tmp_path / "ann.xlsx", tmp_path / "bob.xlsx"
    shutil.copy(book, anns)
    shutil.copy(book, bobs)
    as_user(monkeypatch, tmp_path, "ann")
    connect(run, server, "shop", "demo", "--key-field", KEY)
    code, out, _ = run("push", anns, "--op", "create", "--profile", "shop")
    assert code == 0, out
    as_user(monkeypatch, tmp_path, "bob")
    connect(run, server, "shop", "bob", "--key-field", KEY)
    code, out, _ = run("push", bobs, "--op", "create", "--profile", "shop")
    assert code == 1, out  # Bob's rows exist: not a success, and said so

    stored = invoices(server)
    assert server.store.count() == 6 and all(len(ids) == 1 for ids in stored.values())
    made = [r["Id"] for r in read_sheet(anns)]
    rows = read_sheet(bobs)
    assert [r["Result"] for r in rows] == ["Exists"] * 6
    assert [r["Id"] for r in rows] == made  # the twins too: each row its own invoice
    assert "by user 1" in rows[0]["Message"] and KEY in rows[0]["Message"]
    assert "--create-anyway" in rows[0]["Message"]
    assert sorted(i for ids in stored.values() for i in ids) == sorted(made)
    assert [w["method"] for w in writes(tmp_path)] == ["PATCH"]  # Bob sent nothing


def test_create_anyway_in_key_mode_makes_a_second_set(
    tmp_path: Path, server, run, memory_keyring, monkeypatch
) -> None:
    book = write_invoices(tmp_path / "inv.xlsx", ROWS)
    copy = tmp_path / "copy.xlsx"
    shutil.copy(book, copy)
    connect(run, server, "shop", "demo", "--key-field", KEY)
    run("push", book, "--op", "create", "--profile", "shop")
    as_user(monkeypatch, tmp_path, "other")
    connect(run, server, "shop", "demo", "--key-field", KEY)
    code, out, _ = run("push", copy, "--op", "create", "--profile", "shop", "--create-anyway")
    assert code == 0, out
    assert server.store.count() == 12
    assert {r["Result"] for r in read_sheet(copy)} == {"Created"}
    assert not {r["Id"] for r in read_sheet(copy)} & {r["Id"] for r in read_sheet(book)}


def test_lost_answers_are_found_by_key_even_for_identical_rows(tmp_path: Path, run) -> None:
    """Every other answer is lost after the server stored the batch: the lookup by key is
    exact, where one by values cannot tell identical rows apart."""
    server = keyed_sandbox(tmp_path, "reset-after:0.5", seed=11)
    try:
        same = {"BillingProfileId": "104", "FileName": "same.pdf"}
        book = write_invoices(tmp_path / "inv.xlsx", [same] * 12)
        code, out, _ = run(
            "push",
            book,
            "--op",
            "create",
            "--url",
            server.url,
            "--username",
            "demo",
            "--key-field",
            KEY,
            "--batch-size",
            "2",
        )
        assert code == 0, out
        rows = read_sheet(book)
        assert {r["Result"] for r in rows} == {"Created"}
        assert any("found it in BillingPlatform by its key" in str(r["Message"]) for r in rows)
        stored = invoices(server)
        assert server.store.count() == 12 and all(len(ids) == 1 for ids in stored.values())
        assert sorted(r["Id"] for r in rows) == sorted(i for ids in stored.values() for i in ids)
    finally:
        server.stop()


def test_two_processes_creating_the_same_keys_at_once_make_one_invoice_per_key(
    tmp_path: Path,
) -> None:
    rows = [{"BillingProfileId": str(101 + n % 5), "FileName": f"p-{n}.pdf"} for n in range(400)]
    book = write_invoices(tmp_path / "inv.xlsx", rows)
    args = [sys.executable, "-m", "bpxl.cli", "sandbox", "--port", "0", "--db"]
    args += [str(tmp_path / "server.sqlite3"), "--fault", "latency:5ms"]
    args += ["--custom-field", f"{KEY}:text:40"]
    server = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        pushes = []
        for who in ("ann", "bob"):
            copy = tmp_path / f"{who}.xlsx"
            shutil.copy(book, copy)
            folders = {
                "BPXL_DATA_DIR": str(tmp_path / who / "data"),
                "BPXL_CONFIG_DIR": str(tmp_path / who / "config"),
            }
            more = ["--key-field", KEY, "--batch-size", "5", "--concurrency", "4"]
            pushes.append(push(copy, url, *more, env=folders))
        outs = [p.communicate(timeout=300) for p in pushes]
        assert all(p.returncode in (0, 1) for p in pushes), outs
        with Client(url, username="demo", password="demo") as client:
            stored = list(client.query(f"SELECT Id, {KEY} FROM INVOICE"))
        by_key: dict[str, list[str]] = {}
        for record in stored:
            by_key.setdefault(str(record[KEY]), []).append(str(record["Id"]))
        assert len(stored) == 400 and all(len(ids) == 1 for ids in by_key.values())
        ann, bob = read_sheet(tmp_path / "ann.xlsx"), read_sheet(tmp_path / "bob.xlsx")
        assert [r["Id"] for r in ann] == [r["Id"] for r in bob]  # the same invoice per row
        results = [r["Result"] for r in ann + bob]
        assert results.count("Created") == 400 and results.count("Exists") == 400
        assert {str(r["Id"]) for r in ann} == {i for ids in by_key.values() for i in ids}
    finally:
        server.terminate()
        server.wait()


def test_the_sandbox_finds_or_creates_by_key_when_requests_race(server) -> None:
    """Twenty upserts of one key at the same moment: one invoice, made by one of them."""
    login = server.login("demo", "demo")
    assert login is not None
    session = login[0]
    record = {KEY: "a" * 32 + "-1", "BillingProfileId": "101"}
    body = json.dumps({"externalIDFieldName": KEY, "brmObjects": [record]}).encode()
    answers: list[dict[str, object]] = []
    start = threading.Barrier(20)

    def upsert() -> None:
        request = urllib.request.Request(
            f"{server.url}/rest/2.0/INVOICE",
            data=body,
            method="PATCH",
            headers={"sessionid": session, "Content-Type": "application/json"},
        )
        start.wait()
        with urllib.request.urlopen(request, timeout=30) as answer:
            answers.append(json.loads(answer.read())["upsertResponse"][0])

    threads = [threading.Thread(target=upsert) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 20
    assert server.store.count() == 1
    assert [a["created"] for a in answers].count("true") == 1
    assert len({a["Id"] for a in answers}) == 1
