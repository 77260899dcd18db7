"""A tenant's own fields: ENTITY_FIELD rows -> a catalogue, the daily cache, the sandbox's answers,
the fallback, and validation against the tenant's facts."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from bpxl.core import describe, fields
from bpxl.core.client import Client
from bpxl.core.errors import ApiConnectionError
from bpxl.core.fields import Field, FieldType
from bpxl.core.push import Grid, PushOptions, plan
from bpxl.core.results import Operation
from bpxl.core.spelling import values_key
from bpxl.sandbox import Sandbox, SandboxConfig
from bpxl.sandbox.schema import parse_custom_field

from .hostile_server import HostileServer, ok_json

CUSTOM = ("PoNumber:text:40", "CostCentre:integer::required")


def row(name: str, kind: str, **extra: str) -> dict[str, str]:
    return {"FieldName": name, "DataType": kind, **extra}


def test_rows_become_fields_with_the_tenants_facts() -> None:
    catalogue = describe.catalogue_from(
        [
            row("Id", "LOOKUP"),
            row("DueDate", "Date"),
            row("Status", "Pick List", DataLength="20"),
            row("FileName", "VARCHAR", DataLength="80", RequiredFlag="1"),
            row("PoNumber", "TEXT", DataLength="40", FieldLabel="PO number", HelpContentShort="PO"),
            row("Owner", "NUMBER", ReferencedEntityId="12"),
            row("Secret", "TEXT", ApiAccessableFlag="0"),
            row("Weird", "GEOLOCATION"),
            row("Created", "DATETIME"),
            {"DataType": "TEXT"},  # no name: skipped
        ]
    )
    by = catalogue.by_name
    assert catalogue.source == "tenant"
    assert [f.name for f in catalogue.fields] == [
        "Id",
        "Status",
        "DueDate",
        "FileName",
        "PoNumber",
        "Owner",
        "Secret",
        "Weird",
        "Created",
    ]  # built-in order, the tenant's own after the writable ones, read-only last
    assert "BillingProfileId" not in by  # the tenant does not have it: not an Invoice field
    assert by["Status"].picklist == ("Pending", "Approved", "Closed", "Void")
    assert (by["FileName"].length, by["FileName"].required) == (80, True)
    po = by["PoNumber"]
    assert (po.type, po.length, po.label, po.description, po.custom) == (
        FieldType.TEXT,
        40,
        "PO number",
        "PO",
        True,
    )
    assert by["Owner"].type is FieldType.ID and by["Owner"].length is None
    assert not by["Secret"].writable and by["Created"].read_only
    assert by["Weird"].type is FieldType.TEXT
    assert catalogue.notes == (
        "Weird: BillingPlatform's type 'GEOLOCATION' is not one bpxl knows; its cells are read "
        "as text",
    )
    assert catalogue.lookup("po number") is po


def test_only_custom_fields_listed_keeps_the_built_in_ones() -> None:
    catalogue = describe.catalogue_from([row("PoNumber", "TEXT")])
    assert len(catalogue.fields) == len(fields.BUILT_IN.fields) + 1
    assert "only fields bpxl does not know" in catalogue.notes[0]


def test_no_field_rows_is_a_refusal() -> None:
    with pytest.raises(describe.Refused, match=r"^the tenant lists no Invoice fields$"):
        describe.catalogue_from([])


def sandbox_with(**config: object) -> Sandbox:
    return Sandbox(SandboxConfig(port=0, **config))  # type: ignore[arg-type]


def login(sandbox: Sandbox) -> Client:
    return Client(sandbox.url, username="demo", password="demo")


def test_the_sandbox_describes_invoice_with_its_custom_fields_and_caches_it(
    tmp_path: Path,
) -> None:
    custom = tuple(parse_custom_field(s) for s in CUSTOM)
    log = tmp_path / "requests.jsonl"
    with sandbox_with(custom_fields=custom, request_log=log) as sandbox, login(sandbox) as client:
        catalogue = describe.load(client, tmp_path, "acme")
        again = describe.load(client, tmp_path, "acme")
        describe.load(client, tmp_path, "acme", refresh=True)
        [missing] = client.create([{"PoNumber": "PO-1", "CostCentre": "1"}])
        [long] = client.create(
            [{"BillingProfileId": "101", "CostCentre": "1", "PoNumber": "x" * 41}]
        )
    assert "BillingProfileId is required" in missing.messages[0]
    assert "at most 40" in long.messages[0]
    assert catalogue.source == again.source == "tenant" and catalogue.notes == ()
    assert [f.name for f in again.fields] == [f.name for f in catalogue.fields]
    po, centre = catalogue.by_name["PoNumber"], catalogue.by_name["CostCentre"]
    assert (po.type, po.length, po.label, po.custom) == (FieldType.TEXT, 40, "Po Number", True)
    assert (centre.type, centre.required) == (FieldType.INTEGER, True)
    assert catalogue.by_name["BillingProfileId"].required
    assert [f.name for f in catalogue.template_fields()][-2:] == ["PoNumber", "CostCentre"]
    reads = [line for line in log.read_text().splitlines() if '"GET"' in line]
    assert len(reads) == 4  # ENTITY and ENTITY_FIELD, once, then again for the refresh


def test_a_day_old_cache_is_read_again(tmp_path: Path) -> None:
    with sandbox_with() as sandbox, login(sandbox) as client:
        describe.load(client, tmp_path, "acme")
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1, minutes=1)
    assert describe.cached(tmp_path, "acme") is not None
    assert describe.cached(tmp_path, "acme", tomorrow) is None
    assert describe.cached(tmp_path, "another") is None


def test_a_tenant_refusing_entity_field_falls_back_with_one_note(tmp_path: Path) -> None:
    with (
        sandbox_with(refused_entities=("ENTITY_FIELD",)) as sandbox,
        login(sandbox) as client,
    ):
        catalogue = describe.load(client, tmp_path, "locked")
    assert catalogue.source == "built-in" and len(catalogue.fields) == len(fields.FIELDS)
    assert catalogue.notes == (
        "Using bpxl's built-in Invoice fields: the tenant refused to list its Invoice fields "
        "(HTTP 403).",
    )
    assert describe.cached(tmp_path, "locked") is not None  # not asked again today


def test_unreachable_tenant_stops_the_run(tmp_path: Path) -> None:
    from bpxl.core.errors import ApiConnectionError

    with (
        Client("http://127.0.0.1:9/none", username="u", password="p") as client,
        pytest.raises(ApiConnectionError),
    ):
        describe.load(client, tmp_path, "gone")


def test_custom_field_specs() -> None:
    field = parse_custom_field("Region:picklist::required")
    assert (field.type, field.length, field.required) == (FieldType.PICKLIST, None, True)
    for bad in ("PoNumber", "PoNumber:texty", "PoNumber:text:forty", "DueDate:date", "X:text:1:no"):
        with pytest.raises(ValueError, match="--custom-field"):
            parse_custom_field(bad)


def tenant() -> fields.Catalogue:
    return describe.catalogue_from(
        [
            row("Id", "LOOKUP"),
            row("BillingProfileId", "LOOKUP", ReferencedEntityId="3", RequiredFlag="1"),
            row("DueDate", "DATE"),
            row("PoNumber", "TEXT", DataLength="40"),
            row("Locked", "TEXT", ApiAccessableFlag="0"),
        ]
    )


def messages(op: Operation, header: list[object], *data: list[object]) -> list[list[str]]:
    grid = Grid(header, [(i + 2, r) for i, r in enumerate(data)])
    _, plans, _ = plan(grid, PushOptions(op, catalogue=tenant()))
    return [p.errors for p in plans]


def test_validation_uses_the_tenants_lengths_required_flags_and_api_access() -> None:
    header = ["Id", "Billing profile Id", "PoNumber", "Locked", "FileName"]
    assert messages(
        Operation.CREATE,
        header,
        [None, "101", "x" * 40, None, "kept as a user column"],
        [None, "101", "x" * 41, None, None],
        [None, None, "ok", None, None],
        [None, "#NULL", "x" * 42, "no", None],
    ) == [
        [],
        [
            "PoNumber: 41 characters is longer than the 40 this field takes; shorten it by 1 "
            "character"
        ],
        ["Billing profile Id: your tenant requires it on every new invoice; fill it in"],
        [
            "PoNumber: 42 characters is longer than the 40 this field takes; shorten it by 2 "
            "characters",
            "Locked: your BillingPlatform tenant does not let the API write Locked; empty the "
            "cell (or delete the column) and change it in BillingPlatform",
            "Billing profile Id: your tenant requires it on every new invoice; fill it in",
        ],
    ]
    assert messages(Operation.UPDATE, header, ["7", None, "y", None, None]) == [[]]
    assert messages(Operation.CREATE, ["DueDate"], ["2024-01-01"]) == [
        [
            "BillingProfileId: your tenant requires it on every new invoice; add a "
            "BillingProfileId column and fill it in"
        ]
    ]


def test_a_lost_create_is_looked_up_by_the_tenants_types() -> None:
    """The server echoes a custom number as it stores it; only its type makes 12 and "12.00" one
    value, so that a create whose answer was lost is found and not sent twice."""
    known = describe.catalogue_from([row("Id", "LOOKUP"), row("Amount", "CURRENCY")])
    assert values_key({"Amount": 12}, known) == values_key({"Amount": "12.00"}, known)
    built_in = fields.BUILT_IN
    assert values_key({"Amount": 12}, built_in) != values_key({"Amount": "12.00"}, built_in)


@pytest.mark.parametrize("reference", ["0", " 0 ", 0, "", None])
def test_a_reference_to_no_entity_is_not_an_id(reference: object) -> None:
    """ENTITY_FIELD says "references no entity" with ReferencedEntityId 0 (or nothing): such a
    number stays a number, checked and sent as one, not an Id of another record."""
    notes: list[str] = []
    field = describe.to_field(
        {"FieldName": "Amount", "DataType": "NUMBER", "ReferencedEntityId": reference}, notes
    )
    assert field is not None and field.type is FieldType.DECIMAL and notes == []
    owner = describe.to_field(
        {"FieldName": "Amount", "DataType": "NUMBER", "ReferencedEntityId": "10"}, notes
    )
    assert owner is not None and owner.type is FieldType.ID


def test_flags_lengths_and_types_as_the_tenant_may_spell_them() -> None:
    notes: list[str] = []

    def field(name: str, kind: str, **extra: str) -> Field:
        found = describe.to_field(row(name, kind, **extra), notes)
        assert found is not None
        return found

    for word in ("1", "y", "Yes", " true ", "TRUE"):
        assert field("PoNumber", "TEXT", RequiredFlag=word).required is True, word
    for word in ("0", "N", "no", "false", "", " "):
        assert field("PoNumber", "TEXT", RequiredFlag=word).required is False, word
    assert field("PoNumber", "TEXT").required is False  # no flag: optional
    assert field("PoNumber", "TEXT", ApiAccessableFlag="no").api_writable is False
    assert field("PoNumber", "TEXT").api_writable is True  # no flag: the API may write it
    lengths = {
        v: field("PoNumber", "TEXT", DataLength=v).length for v in ("40", " 1 ", "0", "-3", "x")
    }
    assert lengths == {"40": 40, " 1 ": 1, "0": None, "-3": None, "x": None}
    assert field("AgingInterval", "INTEGER", DataLength="10").length is None  # not a text limit
    assert notes == []
    due = field("DueDate", "GEOLOCATION")  # a word bpxl does not know, for a field it does
    assert due.type is FieldType.DATE and notes == [
        "DueDate: BillingPlatform's type 'GEOLOCATION' is not one bpxl knows; its cells are read "
        "as date"
    ]


def test_a_fields_description_label_and_list_come_from_the_best_source() -> None:
    notes: list[str] = []
    plain = describe.to_field(row("PoNumber", "TEXT"), notes)
    labelled = describe.to_field(row("PoNumber", "TEXT", FieldLabel=" PO number "), notes)
    helped = describe.to_field(
        row("PoNumber", "TEXT", FieldLabel="PO", HelpContentShort="Help"), notes
    )
    due = describe.to_field(row("DueDate", "DATE"), notes)
    status_as_text = describe.to_field(row("Status", "TEXT"), notes)
    assert plain is not None and (plain.label, plain.description) == ("", "PoNumber")
    assert labelled is not None and (labelled.label, labelled.description) == ("PO number",) * 2
    assert helped is not None and helped.description == "Help"
    assert due is not None and due.description == fields.BY_NAME["DueDate"].description
    assert status_as_text is not None and status_as_text.picklist == ()  # any text, then


def test_only_the_id_and_custom_fields_listed_keeps_the_built_in_ones() -> None:
    catalogue = describe.catalogue_from([row("Id", "LOOKUP"), row("PoNumber", "TEXT")])
    assert "BillingProfileId" in catalogue.by_name and "PoNumber" in catalogue.by_name
    assert catalogue.notes == (
        "BillingPlatform listed only fields bpxl does not know, so its built-in Invoice fields "
        "are kept beside them",
    )


def test_cache_files_are_named_safely_for_any_key(tmp_path: Path) -> None:
    def name(key: str) -> str:
        digest = hashlib.sha256(key.encode()).hexdigest()[:10]
        found = describe.cache_file(tmp_path, key)
        assert found.parent == tmp_path and found.name.endswith(f"-{digest}.json"), found
        return found.name.removesuffix(f"-{digest}.json")

    assert name("Acme_EU-2") == "Acme_EU-2"
    assert name("Xerox X") == "Xerox-X"
    assert name("https://acme.example/tenant/") == "https-acme-example-tenant"
    assert name("Ünïcødé …") == "n-c-d"
    assert name("ÿ") == name("…") == "tenant"
    assert name("x" * 50) == "x" * 40


def facts(catalogue: fields.Catalogue) -> tuple[object, ...]:
    return (catalogue.fields, catalogue.source, catalogue.notes)


def test_a_cache_keeps_its_notes_and_holds_for_one_day_from_its_reading(tmp_path: Path) -> None:
    with sandbox_with(refused_entities=("ENTITY_FIELD",)) as sandbox, login(sandbox) as client:
        fallen = describe.load(client, tmp_path / "new" / "folder", "locked")
    read_at = dt.datetime.fromisoformat(
        json.loads(describe.cache_file(tmp_path / "new" / "folder", "locked").read_text())["read"]
    )
    folder = tmp_path / "new" / "folder"
    again = describe.cached(folder, "locked", read_at)
    assert again is not None and facts(again) == facts(fallen)  # its notes too
    assert describe.cached(folder, "locked", read_at - dt.timedelta(seconds=1)) is None  # future
    assert describe.cached(folder, "locked", read_at + describe.MAX_AGE) is None


def test_a_fresh_cache_sends_nothing_and_a_refresh_asks_the_tenant(tmp_path: Path) -> None:
    with sandbox_with() as sandbox, login(sandbox) as client:
        read = describe.load(client, tmp_path, "acme")
    with Client("http://127.0.0.1:9/none", username="u", password="p") as gone:
        cached = describe.load(gone, tmp_path, "acme")  # nothing sent: no server needed
        assert facts(cached) == facts(read)
        with pytest.raises(ApiConnectionError):
            describe.load(gone, tmp_path, "acme", refresh=True)


def test_a_tenant_listing_no_invoice_entity_or_losing_the_answer_falls_back(
    tmp_path: Path,
) -> None:
    only = {"retrieveResponse": [{"Id": "7", "EntityName": "ACCOUNT"}]}
    accounts = HostileServer(lambda r: [ok_json(only)])
    with accounts.running(), Client(accounts.url, username="u", password="p") as client:
        found = describe.load(client, tmp_path, "accounts")
    assert found.notes == (
        "Using bpxl's built-in Invoice fields: the tenant does not list Invoice among its records.",
    )
    cut = HostileServer(lambda r: [None])  # every answer lost on the way
    with cut.running(), Client(cut.url, username="u", password="p") as client:
        lost = describe.load(client, tmp_path, "cut")
    assert lost.notes == (
        "Using bpxl's built-in Invoice fields: the tenant's description of its fields was lost "
        "on the way.",
    )
    assert describe.cached(tmp_path, "cut") is None  # asked again next time
