"""The worksheet functions (excel/udfs.py) called as Excel's UDF server calls them, against the
sandbox: the text each problem becomes, one request per invoice per recalculation, and the
connection followed when another is chosen. test_excel.py has them after a ribbon send."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bpxl.core import profiles
from bpxl.core.connection import open_profile
from bpxl.core.errors import ApiError, UsageError
from bpxl.excel import udfs

INVOICE = {"BillingProfileId": "101", "Status": "Pending", "DueDate": "2026-01-01"}


def connect(run, sandbox, name: str) -> None:  # type: ignore[no-untyped-def]
    run("connect", name, "--url", sandbox.url, "--username", "demo", "--sandbox")
    profiles.set_active(name)


def created(name: str, count: int = 1) -> list[str]:
    with open_profile(name) as opened:
        results = opened.client.create([INVOICE] * count)
    return [str(r.id) for r in results]


@pytest.fixture
def live(sandbox, run, memory_keyring) -> Iterator[object]:  # type: ignore[no-untyped-def]
    connect(run, sandbox, "live")
    yield sandbox
    udfs.READER.close()


def gets(sandbox, record_id: str) -> int:  # type: ignore[no-untyped-def]
    return sum(r["path"].endswith(f"/INVOICE/{record_id}") for r in sandbox.requests())


def test_a_field_of_an_invoice_whatever_excel_hands_over(live) -> None:  # type: ignore[no-untyped-def]
    [record] = created("live")
    reader = udfs._Reader()
    assert udfs.invoice_field(reader, float(record), "status") == "Pending"
    assert udfs.invoice_field(reader, f" {record} ", "Due date") == "2026-01-01"
    assert udfs.invoice_field(reader, int(record), "Id") == record
    assert udfs.invoice_field(reader, record, "ClosedDate") == ""  # no value: an empty cell
    reader.close()


@pytest.mark.parametrize(
    ("record_id", "said"),
    [
        (None, "#BPXL: None is not an invoice Id (digits only)."),
        (2.5, "#BPXL: 2.5 is not an invoice Id (digits only)."),
        ("12a", "#BPXL: '12a' is not an invoice Id (digits only)."),
        ("", "#BPXL: '' is not an invoice Id (digits only)."),
        (-3.0, "#BPXL: -3 is not an invoice Id (digits only)."),
    ],
)
def test_what_is_no_id_is_said_without_asking(live, record_id, said) -> None:  # type: ignore[no-untyped-def]
    before = len(live.requests())
    assert udfs.BP_INVOICE(record_id, "Status") == said
    assert len(live.requests()) == before


def test_an_unknown_field_and_a_missing_invoice_are_said(live) -> None:  # type: ignore[no-untyped-def]
    assert udfs.BP_INVOICE("1", "Colour") == (
        "#BPXL: 'Colour' is not an Invoice field. =BP_FIELDS() lists them."
    )
    assert udfs.BP_INVOICE(999999.0, "Status") == "#BPXL: there is no invoice 999999."


def test_an_invoice_is_asked_once_per_recalculation(live, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    [record] = created("live")
    clock = [1000.0]
    monkeypatch.setattr(udfs.time, "monotonic", lambda: clock[0])
    reader = udfs._Reader()
    assert udfs.invoice_field(reader, record, "Status") == "Pending"
    clock[0] += udfs.CACHE_S - 0.01
    assert udfs.invoice_field(reader, record, "DueDate") == "2026-01-01"
    assert gets(live, record) == 1
    clock[0] += 0.01  # the next recalculation: asked again
    assert udfs.invoice_field(reader, record, "Status") == "Pending"
    assert gets(live, record) == 2
    assert udfs.invoice_field(reader, "999999", "Status") == "#BPXL: there is no invoice 999999."
    assert udfs.invoice_field(reader, "999999", "Status") == "#BPXL: there is no invoice 999999."
    assert gets(live, "999999") == 1  # "none" is remembered too
    reader.close()


def test_the_connection_chosen_is_followed_and_its_cache_is_not(
    make_sandbox, run, memory_keyring
) -> None:  # type: ignore[no-untyped-def]
    first, second = make_sandbox(), make_sandbox()
    connect(run, first, "first")
    [record] = created("first")
    connect(run, second, "second")
    profiles.set_active("first")
    reader = udfs._Reader()
    assert udfs.invoice_field(reader, record, "Status") == "Pending"
    profiles.set_active("second")  # Connect... chose another: asked there, nothing cached kept
    udfs.invoice_field(reader, record, "Status")
    assert (gets(first, record), gets(second, record)) == (1, 1)
    client = reader.client()
    assert reader.client() is client  # kept while the choice stands
    reader.close()
    assert reader.client() is not client  # opened again after a close
    reader.close()
    reader.close()  # closing twice is harmless


def test_a_query_is_a_table_with_its_header(live) -> None:  # type: ignore[no-untyped-def]
    ids = created("live", 2)
    table = udfs.BP_QUERY(f"SELECT Id, Status FROM INVOICE WHERE Id = {ids[1]}")
    assert table == [["Id", "Status"], [ids[1], "Pending"]]
    assert udfs.BP_QUERY("SELECT Id FROM INVOICE WHERE Id = 999999") == [["(no rows)"]]


def test_a_query_row_missing_a_column_of_the_first_gets_an_empty_cell() -> None:
    class Answers:  # the rows as BillingPlatform's query answers them (nulls left out)
        def client(self) -> Answers:
            return self

        def query(self, sql: str) -> Iterator[dict[str, object]]:
            yield {"Id": "1", "Notes": "x"}
            yield {"Id": "2"}

    assert udfs.query_table(Answers(), "SELECT") == [["Id", "Notes"], ["1", "x"], ["2", ""]]  # type: ignore[arg-type]


def test_errors_become_the_cells_text_with_what_to_do(live) -> None:  # type: ignore[no-untyped-def]
    def refused() -> object:
        raise ApiError("BillingPlatform refused the query.", "Check its spelling.")

    def plain() -> object:
        raise UsageError("No.")

    assert udfs._as_cell(refused) == "#BPXL: BillingPlatform refused the query. Check its spelling."
    assert udfs._as_cell(plain) == "#BPXL: No."
    assert udfs._as_cell(lambda: 5) == 5
    said = udfs.BP_QUERY("SELECT * FROM INVOICE")
    assert said.startswith("#BPXL: BillingPlatform refused") and "  What to do" not in said


def test_the_fields_are_listed_with_their_notes_below(live) -> None:  # type: ignore[no-untyped-def]
    table = udfs.BP_FIELDS()
    assert table[0] == ["Field", "Label", "Type", "Length", "Required", "Writable", "Origin"]
    assert all(len(row) == 7 for row in table)


def test_the_fields_are_those_of_the_tenant_connected(run, memory_keyring, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bpxl.sandbox import Sandbox, SandboxConfig
    from bpxl.sandbox.schema import parse_custom_field

    config = SandboxConfig(port=0, custom_fields=(parse_custom_field("PoNumber:text:40"),))
    with Sandbox(config) as tenant:
        connect(run, tenant, "acme")
        try:
            table = udfs.BP_FIELDS()
            assert ["PoNumber", "Po Number", "text", 40, "", "yes", "tenant"] in table
            assert udfs.BP_INVOICE("1", "PoNumber") == "#BPXL: there is no invoice 1."
        finally:
            udfs.READER.close()


def test_a_note_on_the_fields_in_use_comes_below_them(run, memory_keyring) -> None:  # type: ignore[no-untyped-def]
    """A tenant that will not describe its fields: bpxl's own are listed, and a row says why."""
    from bpxl.sandbox import Sandbox, SandboxConfig

    with Sandbox(SandboxConfig(port=0, refused_entities=("ENTITY_FIELD",))) as tenant:
        connect(run, tenant, "acme")
        try:
            *listed, note = udfs.BP_FIELDS()
        finally:
            udfs.READER.close()
    assert listed[0] == ["Field", "Label", "Type", "Length", "Required", "Writable", "Origin"]
    assert note[0].startswith("Using bpxl's built-in Invoice fields: ") and note[1:] == [""] * 6
