"""A tenant's custom fields end to end on the command line, against a sandbox that has two:
template, push, pull, --changed, revert, `bpxl fields`, and the fallback when ENTITY_FIELD is
refused."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import openpyxl
import pytest

from bpxl.core import connection, describe, profiles
from bpxl.core.client import Client
from bpxl.excel import udfs
from bpxl.sandbox import Sandbox, SandboxConfig
from bpxl.sandbox.schema import parse_custom_field

from .conftest import read_sheet
from .fake_xlwings import book_from_rows, press

CUSTOM = ("PoNumber:text:40", "CostCentre:integer")


@pytest.fixture
def tenant(tmp_path: Path) -> Iterator[Callable[..., Sandbox]]:
    started: list[Sandbox] = []

    def start(*custom: str, refused: tuple[str, ...] = ()) -> Sandbox:
        sandbox = Sandbox(
            SandboxConfig(
                port=0,
                custom_fields=tuple(parse_custom_field(c) for c in custom),
                refused_entities=refused,
                request_log=tmp_path / f"requests-{len(started)}.jsonl",
                log_fields=True,
            )
        )
        started.append(sandbox.start())
        return sandbox

    yield start
    for sandbox in started:
        sandbox.stop()


def url(sandbox: Sandbox) -> list[str]:
    return ["--url", sandbox.url, "--username", "demo"]


def writes(sandbox: Sandbox) -> list[dict[str, object]]:
    assert sandbox.config.request_log is not None
    lines = sandbox.config.request_log.read_text(encoding="utf-8").splitlines()
    return [
        r
        for line in lines
        if (r := json.loads(line))["method"] in ("POST", "PUT", "PATCH")
        and str(r["path"]).endswith("/INVOICE")
    ]


def fill(path: Path, rows: list[dict[str, object]]) -> None:
    book = openpyxl.load_workbook(path)
    sheet = book.active
    column = {c.value: c.column for c in sheet[1]}
    for number, values in enumerate(rows, start=2):
        for name, value in values.items():
            sheet.cell(number, column[name], value)
    book.save(path)


def test_custom_fields_from_template_to_revert(tmp_path: Path, tenant, run) -> None:
    sandbox = tenant(*CUSTOM)
    book = tmp_path / "invoices.xlsx"
    code, out, err = run("template", book, *url(sandbox))
    assert code == 0, err
    assert "Note:" not in out
    sheet = openpyxl.load_workbook(book).active
    headers = [c.value for c in sheet[1]]
    assert headers[-4:] == ["PoNumber", "CostCentre", "Result", "Message"]
    po = sheet.cell(1, headers.index("PoNumber") + 1)
    assert po.comment.text.startswith("Po Number (PoNumber, text)")
    assert "At most 40 characters." in po.comment.text
    assert sheet.cell(1, headers.index("BillingProfileId") + 1).font.color.rgb == "00C00000"

    fill(
        book,
        [
            {"BillingProfileId": "101", "PoNumber": "PO-1", "CostCentre": 12},
            {"BillingProfileId": "102", "PoNumber": "x" * 41},
            {"PoNumber": "PO-3"},
        ],
    )
    code, out, err = run("push", book, "--op", "create", *url(sandbox))
    assert code == 1, err
    results = read_sheet(book)
    assert [r["Result"] for r in results] == ["Created", "Invalid", "Invalid"]
    assert results[1]["Message"] == (
        "PoNumber: 41 characters is longer than the 40 this field takes; shorten it by 1 character"
    )
    assert results[2]["Message"].startswith("BillingProfileId: your tenant requires it")
    assert [w["records"] for w in writes(sandbox)] == [1]  # the invalid rows were never sent
    new_id = results[0]["Id"]
    stored = sandbox.store.get(int(new_id))
    assert stored is not None and (stored["PoNumber"], stored["CostCentre"]) == ("PO-1", "12")

    pulled = tmp_path / "pulled.xlsx"
    code, out, err = run("pull", pulled, "--ids", new_id, *url(sandbox))
    assert code == 0, err
    [row] = read_sheet(pulled)
    assert (row["PoNumber"], row["CostCentre"]) == ("PO-1", 12)

    fill(pulled, [{"PoNumber": "PO-1b"}])
    code, out, err = run("push", pulled, "--op", "update", "--changed", *url(sandbox))
    assert code == 0, out + err
    assert writes(sandbox)[-1]["fields"] == [["Id", "PoNumber"]]
    stored = sandbox.store.get(int(new_id))
    assert stored is not None and (stored["PoNumber"], stored["CostCentre"]) == ("PO-1b", "12")

    code, out, err = run("revert", pulled, *url(sandbox))
    assert code == 0, out + err
    stored = sandbox.store.get(int(new_id))
    assert stored is not None and stored["PoNumber"] == "PO-1"

    code, out, err = run("fields", *url(sandbox))
    assert code == 0, err
    assert out.startswith("50 Invoice fields (read from the tenant):")
    [line] = [line for line in out.splitlines() if line.startswith("PoNumber ")]
    assert line.split() == ["PoNumber", "Po", "Number", "text", "40", "yes", "tenant"]


def test_a_tenant_refusing_entity_field_gets_the_built_in_fields(
    tmp_path: Path, tenant, run
) -> None:
    sandbox = tenant(*CUSTOM, refused=("ENTITY_FIELD",))
    book = tmp_path / "plain.xlsx"
    assert run("template", book)[0] == 0  # no connection options: the built-in fields
    book_obj = openpyxl.load_workbook(book)
    width = book_obj.active.max_column
    book_obj.active.cell(1, width + 1, "PoNumber")
    book_obj.save(book)
    fill(book, [{"BillingProfileId": "101", "PoNumber": "PO-9"}])
    code, out, err = run("push", book, "--op", "create", *url(sandbox))
    assert code == 0, err
    notes = [line for line in out.splitlines() if line.startswith("Note:")]
    assert notes == [
        "Note: Using bpxl's built-in Invoice fields: the tenant refused to list its Invoice "
        "fields (HTTP 403)."
    ]
    assert "Not sent (not Invoice fields): PoNumber" in out
    assert writes(sandbox)[-1]["fields"] == [["BillingProfileId"]]


def test_dry_run_uses_the_fields_read_before_and_never_connects(
    tmp_path: Path, tenant, run
) -> None:
    sandbox = tenant(*CUSTOM)
    book = tmp_path / "dry.xlsx"
    assert run("template", book, *url(sandbox))[0] == 0  # reads and keeps the tenant's fields
    fill(book, [{"BillingProfileId": "101", "PoNumber": "y" * 45}])
    sandbox.stop()
    code, out, _ = run("push", book, "--op", "create", "--dry-run", *url(sandbox))
    assert code == 1 and "Note:" not in out
    assert read_sheet(book)[0]["Message"].startswith("PoNumber: 45 characters")


def test_the_ribbon_uses_the_connected_tenants_fields(tmp_path: Path, tenant, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    sandbox = tenant(*CUSTOM)
    with Client(sandbox.url, username="demo", password="demo") as client:
        # what the ribbon's connection (here: the sandbox) said about its fields today
        describe.load(client, connection.fields_dir(), profiles.SANDBOX)
    header = ["Id", "BillingProfileId", "PoNumber", "Result", "Message"]
    book = book_from_rows(header, [[None, "101", "x" * 41, None, None], [None, "101", "ok"]])
    book.app.selected = "$A$2:$A$3"
    press(book, "bpxlValidate")
    messages = book.sheets[0].column("Message")
    assert messages[2].startswith("PoNumber: 41 characters is longer than the 40")
    assert messages[3] is None

    press(book, "bpxlNewSheet")
    new = book.sheets[1]
    headers = [new.cells.get((1, c)) for c in range(1, 60) if new.cells.get((1, c))]
    assert headers[-4:] == ["PoNumber", "CostCentre", "Result", "Message"]

    table = udfs.BP_FIELDS()
    assert ["PoNumber", "Po Number", "text", 40, "", "yes", "tenant"] in table
    udfs.READER.close()


def test_connect_reads_the_tenants_fields_and_template_uses_the_profile(
    tmp_path: Path, tenant, run, memory_keyring
) -> None:
    sandbox = tenant(*CUSTOM)
    code, out, err = run("connect", "acme", "--url", sandbox.url, "--username", "demo")
    assert code == 0, err
    assert "Read its 50 Invoice fields (2 of its own): bpxl fields" in out
    book = tmp_path / "acme.xlsx"
    assert run("template", book, "--profile", "acme")[0] == 0
    headers = [c.value for c in openpyxl.load_workbook(book).active[1]]
    assert {"PoNumber", "CostCentre"} <= set(headers)
    reads = [
        line
        for line in sandbox.config.request_log.read_text().splitlines()  # type: ignore[union-attr]
        if "ENTITY" in line
    ]
    assert len(reads) == 2  # read once at connect; the template used what was read today


def test_validate_before_any_read_says_it_used_the_built_in_fields() -> None:
    book = book_from_rows(["Id", "BillingProfileId", "Result", "Message"], [[None, "101"]])
    book.app.selected = "$A$2"
    press(book, "bpxlValidate")
    assert book.app.alerts[-1][0].splitlines()[1] == (
        "Using bpxl's built-in Invoice fields: this tenant's own fields were not read in the last "
        "day (a send or `bpxl fields` reads them)."
    )
