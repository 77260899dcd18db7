"""Grid -> records: header matching, per-row rules of each operation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpxl import fields
from bpxl.errors import UsageError
from bpxl.push import Grid, PushOptions, plan
from bpxl.records import check_layout, plan_rows, read_layout
from bpxl.results import Operation

from .test_cells import EXCEL_VALUES


def test_headers_match_case_and_space_insensitively() -> None:
    layout = read_layout(
        ["ID", " due date ", "Notes", None, "RESULT", "message", "billingprofileid"]
    )
    assert [(c.index, c.field.name, c.header) for c in layout.columns] == [
        (0, "Id", "ID"),
        (1, "DueDate", "due date"),
        (6, "BillingProfileId", "billingprofileid"),
    ]
    assert layout.user_headers == ("Notes",)
    assert (layout.result_index, layout.message_index) == (4, 5)


def test_field_named_twice_is_a_sheet_error() -> None:
    with pytest.raises(UsageError, match="Columns A and C both hold DueDate"):
        read_layout(["DueDate", "Id", "Due Date"])


def test_sheet_without_key_column_is_refused_for_update_and_upsert() -> None:
    layout = read_layout(["DueDate"])
    check_layout(layout, Operation.CREATE, "Id")
    with pytest.raises(UsageError, match="no Id column"):
        check_layout(layout, Operation.UPDATE, "Id")
    with pytest.raises(UsageError, match="no FileName column"):
        check_layout(layout, Operation.UPSERT, "FileName")


def rows(op: Operation, *data: list[object], header=None, external_id="Id"):
    layout = read_layout(
        header or ["Id", "BillingProfileId", "DueDate", "Created", "Notes", "Result"]
    )
    return plan_rows(layout, [(i + 2, r) for i, r in enumerate(data)], op, external_id)


def test_blank_rows_and_user_only_rows_are_not_data_rows() -> None:
    plans, skipped = rows(Operation.CREATE, [None, " ", None, None, "just a note"], [None, "101"])
    assert [p.row for p in plans] == [3] and skipped == []


def test_create_skips_created_rows_and_rechecks_unknown_ones() -> None:
    plans, skipped = rows(
        Operation.CREATE,
        [None, "101", None, None, None, "Created"],
        [None, "101", None, None, None, "unknown"],
        [None, "101", None, None, None, "Failed"],
    )
    assert skipped == [2] and [(p.row, p.recheck) for p in plans] == [(3, True), (4, False)]
    plans, skipped = rows(Operation.UPDATE, ["7", "101", None, None, None, "Unknown"])
    assert skipped == [] and not plans[0].recheck


def test_read_only_fields_warn_and_are_not_sent() -> None:
    [p], _ = rows(Operation.CREATE, [None, "101", None, "2024-01-01 10:00"])
    assert p.valid and p.record == {"BillingProfileId": "101"}
    assert p.warnings == ["Created: is set by BillingPlatform and was not sent"]


def test_id_rules_per_operation() -> None:
    [create], _ = rows(Operation.CREATE, ["12", "101"])
    assert create.errors[0].startswith("Id: leave Id blank to create")
    [update], _ = rows(Operation.UPDATE, ["12", None, "2024-01-31"])
    assert update.record == {"Id": "12", "DueDate": "2024-01-31"}
    [missing], _ = rows(Operation.UPDATE, [None, None, "2024-01-31"])
    assert missing.errors == ["Id: required to update; fill in the invoice's Id"]
    [cleared], _ = rows(Operation.UPDATE, ["#NULL", None, "2024-01-31"])
    assert cleared.errors == ["Id: #NULL cannot clear Id; it identifies the row"]
    [bad], _ = rows(Operation.UPDATE, ["x1", None, "2024-01-31"])
    assert bad.errors == ['Id: "x1" is not an Id; use digits only (e.g. 1042)']


def test_upsert_on_another_external_id() -> None:
    header = ["Id", "FileName", "BillingProfileId"]
    [p], _ = rows(
        Operation.UPSERT, ["9", "inv-9.pdf", "101"], header=header, external_id="FileName"
    )
    assert p.record == {"FileName": "inv-9.pdf", "BillingProfileId": "101"}
    assert p.warnings == ["Id: is set by BillingPlatform and was not sent"]
    [q], _ = rows(Operation.UPSERT, ["9", None, "101"], header=header, external_id="FileName")
    assert q.errors == ["FileName: required to upsert; fill in the invoice's FileName"]


def test_create_needs_a_writable_field() -> None:
    [p], _ = rows(Operation.CREATE, [None, None, None, "2024-01-01"])
    assert p.errors == [
        "Row: nothing to create; fill at least one invoice field (e.g. BillingProfileId)"
    ]


def test_external_id_is_matched_like_a_header() -> None:
    assert PushOptions(Operation.UPSERT, external_id="fileName").external_id == "FileName"


HEADERS = [f.name for f in fields.FIELDS[:12]] + ["Notes", "Result"]


@settings(max_examples=1000, deadline=None)
@given(
    op=st.sampled_from(list(Operation)),
    data=st.lists(st.lists(EXCEL_VALUES, min_size=0, max_size=len(HEADERS)), max_size=4),
)
def test_every_rejected_row_names_its_columns(op: Operation, data: list[list[object]]) -> None:
    grid = Grid(HEADERS, [(i + 2, r) for i, r in enumerate(data)])
    _, plans, _ = plan(grid, PushOptions(op))
    known = {h for h in HEADERS} | {"Row"}
    for p in plans:
        assert p.row >= 2
        for message in p.errors + p.warnings:
            assert message.split(":", 1)[0] in known, message
        if p.valid:
            assert all(name in fields.BY_NAME for name in p.record)


@pytest.mark.parametrize(
    ("aging", "profile", "bad"),
    [
        (1e308, "101", "a number of 309 digits is outside"),
        (2**70, "101", "a number of 22 digits is outside"),
        (-(2**31) - 1, "101", "-2147483649 is outside"),
        (2**31 - 1, "0", "0 is not an Id"),
        (0, str(2**63), "9223372036854775808 is outside"),
    ],
)
def test_numbers_outside_the_api_range_are_invalid_before_sending(aging, profile, bad) -> None:
    plans, _ = rows(
        Operation.CREATE, ["", profile, aging], header=["Id", "BillingProfileId", "AgingInterval"]
    )
    assert len(plans[0].errors) == 1 and bad in plans[0].errors[0]


def test_numbers_at_the_edges_of_the_api_range_go() -> None:
    header = ["Id", "BillingProfileId", "AgingInterval"]
    for aging in (2**31 - 1, -(2**31)):
        plans, _ = rows(Operation.CREATE, ["", str(2**63 - 1), aging], header=header)
        assert plans[0].valid and plans[0].record["AgingInterval"] == aging
