"""Grid -> records: header matching, per-row rules of each operation."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpxl.core import fields
from bpxl.core.errors import UsageError
from bpxl.core.push import Grid, PushOptions, plan
from bpxl.core.records import (
    OwnColumns,
    RowPlan,
    check_layout,
    find_header,
    is_blank_row,
    own_columns,
    plan_row,
    plan_rows,
    read_layout,
    refuse_merged,
)
from bpxl.core.results import Operation

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
    assert p.warnings == []  # the Id column is where the upserted Id goes: nothing to note
    [q], _ = rows(Operation.UPSERT, ["9", None, "101"], header=header, external_id="FileName")
    assert q.errors == ["FileName: required to upsert; fill in the invoice's FileName"]


def test_create_needs_a_writable_field() -> None:
    [p], _ = rows(Operation.CREATE, [None, None, None, "2024-01-01"])
    assert p.errors == [
        "Nothing to create; fill at least one invoice field (e.g. BillingProfileId)"
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


def test_a_field_named_twice_names_both_columns_by_letter() -> None:
    header: list[object] = [None] * 28
    header[1], header[27] = "Status", "status"
    with pytest.raises(UsageError) as twice:
        read_layout(header)
    assert twice.value.message == "Columns B and AB both hold Status."
    assert twice.value.hint == "Rename or delete one of them, then run again. Nothing was sent."
    header[27], header[25] = None, "STATUS"
    with pytest.raises(UsageError, match=r"^Columns B and Z both hold Status"):
        read_layout(header)


def test_the_header_row_is_the_first_of_the_top_20_that_names_a_field() -> None:
    notes = [["Invoices for March"], [None, "prepared by Ann"]]
    assert find_header([*notes, ["Notes", "DueDate"], ["Id"]]) == 3
    assert find_header([["Id"]]) == 1
    assert find_header([["nothing"]] * 19 + [["Status"]]) == 20
    assert find_header([["nothing"]] * 20 + [["Status"]]) is None
    assert find_header([["a", "b"], []]) is None


def test_own_columns_are_found_or_added_after_the_last_used_column() -> None:
    full = read_layout(["Id", "Status", "Result", "Message"])
    assert own_columns(full, 4, need_id=True) == OwnColumns(0, 2, 3, ())
    bare = read_layout(["Status", "Notes"])
    assert own_columns(bare, 5, need_id=False) == OwnColumns(
        None, 5, 6, ((5, "Result"), (6, "Message"))
    )
    assert own_columns(bare, 5, need_id=True) == OwnColumns(
        5, 6, 7, ((5, "Id"), (6, "Result"), (7, "Message"))
    )
    some = read_layout(["Message", "Id", "Status"])
    assert own_columns(some, 3, need_id=True) == OwnColumns(1, 3, 0, ((3, "Result"),))
    assert read_layout(["Status"]).result_index is None
    assert read_layout(["Status"]).message_index is None


def test_added_columns_go_past_merged_ranges() -> None:
    bare = read_layout(["Status", "Notes"])
    added = ((5, "Result"), (6, "Message"))
    assert own_columns(bare, 2, False, [(0, 1)]).added == ((2, "Result"), (3, "Message"))
    assert own_columns(bare, 2, False, [(3, 4)]).added == added  # Message would be in it
    assert own_columns(bare, 2, False, [(1, 2)]).added == ((3, "Result"), (4, "Message"))
    assert own_columns(bare, 2, False, [(5, 6), (1, 4)]).added == ((7, "Result"), (8, "Message"))
    assert own_columns(bare, 2, False, [(2, 2), (4, 4)]).added == added


def test_each_sheet_refusal_says_what_to_do() -> None:
    with pytest.raises(UsageError) as empty:
        check_layout(read_layout(["Notes"]), Operation.CREATE, "Id")
    assert empty.value.message == "No column header names an Invoice field."
    assert empty.value.hint == (
        "Put the field names (e.g. Id, BillingProfileId, DueDate) in the header row; "
        "`bpxl template` writes a ready sheet."
    )
    with pytest.raises(UsageError) as bogus:
        check_layout(read_layout(["Id", "Status"]), Operation.UPSERT, "Bogus")
    assert bogus.value.message == "--external-id Bogus is not an Invoice field."
    assert bogus.value.hint == "Name the field that identifies each invoice, e.g. --external-id Id."
    check_layout(read_layout(["Status"]), Operation.CREATE, "Bogus")  # create needs no key
    with pytest.raises(UsageError) as no_id:
        check_layout(read_layout(["FileName", "Status"]), Operation.UPDATE, "FileName")
    assert no_id.value.message == "The sheet has no Id column, which update needs on every row."
    assert no_id.value.hint == "Add an Id column with each invoice's Id."
    with pytest.raises(UsageError) as no_key:
        check_layout(read_layout(["Id", "Status"]), Operation.UPSERT, "FileName")
    assert no_key.value.message == (
        "The sheet has no FileName column, which upsert needs on every row."
    )
    assert no_key.value.hint == "Add a FileName column with each invoice's FileName."
    check_layout(read_layout(["Id", "Status"]), Operation.UPSERT, "Id")


def test_every_cell_of_a_row_is_checked_after_a_refused_one() -> None:
    header = ["Id", "BillingProfileId", "Created", "DueDate", "Status"]
    [p], _ = rows(Operation.CREATE, ["12", "101", "2024-01-01", "2024-02-30", "Closed"],
                  header=header)  # fmt: skip
    assert p.errors == [
        "Id: leave Id blank to create (this row already has Id 12; use update to change that "
        "invoice)",
        'DueDate: "2024-02-30" is not a date (use YYYY-MM-DD or an Excel date)',
    ]
    assert p.warnings == ["Created: is set by BillingPlatform and was not sent"]
    assert p.record == {"BillingProfileId": "101", "Status": "Closed"}


def test_the_id_is_a_key_of_updates_only() -> None:
    header = ["Id", "FileName", "Status"]
    [p], _ = rows(Operation.UPDATE, ["9", "a.pdf", None], header=header, external_id="FileName")
    assert p.record == {"Id": "9", "FileName": "a.pdf"} and p.valid
    [q], _ = rows(Operation.UPSERT, ["9", "a.pdf", None], header=header, external_id="FileName")
    assert q.record == {"FileName": "a.pdf"} and not q.warnings  # the Id is not the key
    [r], _ = rows(Operation.UPDATE, [None, "a.pdf", None], header=header, external_id="FileName")
    assert r.errors == ["Id: required to update; fill in the invoice's Id"]
    [s], _ = rows(Operation.UPSERT, ["9", "#NULL", "Closed"], header=header, external_id="FileName")
    assert s.errors == ["FileName: #NULL cannot clear FileName; it identifies the row"]


def test_numbers_out_of_range_are_shown_whole_up_to_20_digits() -> None:
    header = ["Id", "BillingProfileId"]
    for profile, shown in [
        ("12345678901234567890", "12345678901234567890"),
        ("123456789012345678901", "a number of 21 digits"),
    ]:
        [p], _ = rows(Operation.CREATE, ["", profile], header=header)
        assert p.errors == [
            f"BillingProfileId: {shown} is outside what BillingPlatform takes here "
            "(1 to 9,223,372,036,854,775,807); check the cell"
        ]


# Equal to Python, not alike to a cell: a plan of many rows converts each value once
# (``records.Conversions``) and must never hand one of these the other's conversion.
_LOOKALIKES = st.sampled_from(
    [
        1,
        1.0,
        True,
        0,
        0.0,
        -0.0,
        False,
        "1",
        " 1",
        dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2024, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        dt.datetime(2024, 1, 1),
        dt.date(2024, 1, 1),
        "#N/A",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    cells=st.lists(
        st.lists(st.one_of(_LOOKALIKES, EXCEL_VALUES), min_size=5, max_size=5),
        min_size=1,
        max_size=12,
    ),
    op=st.sampled_from(list(Operation)),
)
def test_many_rows_are_planned_as_each_row_alone(cells: list[list[object]], op: Operation) -> None:
    layout = read_layout(["DueDate", "AgingInterval", "BillableFlag", "FileName", "Id"])
    rows = list(enumerate(cells, start=2))
    plans, _ = plan_rows(layout, rows, op)
    alone = [plan_row(layout, r, v, op, fields.ID) for r, v in rows if not is_blank_row(layout, v)]
    assert [repr(p) for p in plans] == [repr(p) for p in alone]  # repr: -0.0 is not 0.0


def test_rows_under_merged_field_cells_are_refused_naming_the_area_and_what_to_do() -> None:
    """A merged area holds one value in its first cell: every data row under it in a field column
    is refused; merges over user columns only, or across one field and a user column on one row,
    are a look and refuse nothing."""
    header: list[str | None] = ["Id", "DueDate", "Status", "Notes", *[None] * 23, "FileName"]
    layout = read_layout(header)
    plans = [RowPlan(row) for row in range(2, 10)]
    refuse_merged(
        layout,
        plans,
        [
            (1, 3, 1, 5),  # DueDate B3:B5
            (3, 2, 3, 9),  # Notes only: a user column
            (1, 6, 2, 6),  # one row across DueDate and Status: two fields joined
            (2, 7, 3, 7),  # one row across Status and Notes: one field, a look
            (27, 1, 27, 2),  # FileName AB1:AB2, from the header row: row 2 only
            (2, 8, 2, 100_000),  # Status C8:C100000, far past the rows sent
        ],
    )

    def said(header: str, area: str, first: str) -> str:
        return (
            f"{header}: cells {area} are merged, and merged cells hold one value (in {first}) "
            "whatever Excel shows beside each row; unmerge them and fill each row"
        )

    assert {p.row: p.errors for p in plans} == {
        2: [said("FileName", "AB1:AB2", "AB1")],
        3: [said("DueDate", "B3:B5", "B3")],
        4: [said("DueDate", "B3:B5", "B3")],
        5: [said("DueDate", "B3:B5", "B3")],
        6: [said("DueDate", "B6:C6", "B6")],
        7: [],
        8: [said("Status", "C8:C100000", "C8")],
        9: [said("Status", "C8:C100000", "C8")],
    }
    assert all(p.warnings == [] for p in plans)
