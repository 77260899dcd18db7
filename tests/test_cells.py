"""Cell -> JSON conversion, type by type, including what Excel really delivers."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpxl import fields
from bpxl.cells import CLEAR, CellError, convert, is_blank
from bpxl.fields import Field, FieldType
from bpxl.roundtrip import to_cell

F = fields.BY_NAME


@pytest.mark.parametrize(
    ("field", "cell", "sent"),
    [
        ("BillingProfileId", "101", "101"),
        ("BillingProfileId", " 0042 ", "42"),
        ("BillingProfileId", 101, "101"),
        ("BillingProfileId", 101.0, "101"),
        ("BillingProfileId", 2.0**53, str(2**53)),
        ("DueDate", dt.date(2024, 2, 29), "2024-02-29"),
        ("DueDate", dt.datetime(2024, 2, 29), "2024-02-29"),
        ("DueDate", "2024-12-31", "2024-12-31"),
        ("DueDate", 45292, "2024-01-01"),
        ("DueDate", 45292.0, "2024-01-01"),
        ("DueDate", 59, "1900-02-28"),
        ("DueDate", 61, "1900-03-01"),
        ("DueDate", 1, "1900-01-01"),
        ("BillableFlag", True, "1"),
        ("BillableFlag", False, "0"),
        ("BillableFlag", 1, "1"),
        ("BillableFlag", 0.0, "0"),
        ("BillableFlag", "YES", "1"),
        ("BillableFlag", "no", "0"),
        ("BillableFlag", "TRUE", "1"),
        ("BillableFlag", "0", "0"),
        ("AgingInterval", 30, 30),
        ("AgingInterval", 30.0, 30),
        ("AgingInterval", " -5 ", -5),
        ("AgingInterval", "12.0", 12),
        ("Status", "approved", "Approved"),
        ("Status", "  CLOSED ", "Closed"),
        ("EinvoiceStatus", "Anything", "Anything"),
        ("FileName", "  inv-1.pdf ", "inv-1.pdf"),
        ("FileName", 12.0, "12"),
        ("FileName", "Ünïcödé 請求書", "Ünïcödé 請求書"),
        ("DueDate", "#NULL", CLEAR),
        ("BillableFlag", "#null", CLEAR),
        ("FileName", " #Null ", CLEAR),
    ],
)
def test_accepted_values(field: str, cell: object, sent: object) -> None:
    converted = convert(F[field], cell)
    assert converted.value == sent and type(converted.value) is type(sent)


@pytest.mark.parametrize(
    ("field", "cell", "says"),
    [
        ("BillingProfileId", 12.5, "whole numbers"),
        (
            "BillingProfileId",
            1.2345678901234567e16,
            "was rounded by Excel; format the column as Text",
        ),
        ("BillingProfileId", "1.23E+15", "digits only"),
        ("BillingProfileId", 0, "positive"),
        ("BillingProfileId", -4, "positive"),
        ("BillingProfileId", True, "not an Id"),
        ("BillingProfileId", float("inf"), "not a number"),
        ("BillingProfileId", dt.date(2024, 1, 1), "not an Id"),
        ("DueDate", "31/31/2024", '"31/31/2024" is not a date (use YYYY-MM-DD or an Excel date)'),
        ("DueDate", "2024-02-30", "is not a date"),
        ("DueDate", "2024-1-5", "is not a date"),
        ("DueDate", dt.datetime(2024, 1, 5, 0, 0, 1), "has a time of day"),
        ("DueDate", 45292.5, "has a time of day"),
        ("DueDate", 60, "29 February 1900, a day that never was"),
        ("DueDate", 0, "is not a date"),
        ("DueDate", -3, "is not a date"),
        ("DueDate", 3_000_000, "is not a date"),
        ("DueDate", dt.time(12, 0), "time of day"),
        ("DueDate", True, "is not a date"),
        ("DueDate", float("nan"), "not a number"),
        ("BillableFlag", "maybe", "use TRUE/FALSE, 1/0 or yes/no"),
        ("BillableFlag", 2, "not a flag"),
        ("AgingInterval", "12abc", "not a whole number"),
        ("AgingInterval", 1.5, "not a whole number"),
        ("AgingInterval", float("nan"), "not a number"),
        ("AgingInterval", float("-inf"), "not a number"),
        ("AgingInterval", "NaN", "not a whole number"),
        ("AgingInterval", "1_000", "not a whole number"),
        ("AgingInterval", True, "not a whole number"),
        ("FileName", "#N/A", "Excel error #N/A"),
        ("DueDate", "#NULL!", "Excel error #NULL!"),
        ("FileName", float("nan"), "not a number"),
    ],
)
def test_refused_values(field: str, cell: object, says: str) -> None:
    with pytest.raises(CellError) as refused:
        convert(F[field], cell)
    assert says in str(refused.value)


def test_unknown_picklist_value_passes_with_a_warning() -> None:
    converted = convert(F["Status"], "Tenant Special")
    assert converted.value == "Tenant Special"
    assert converted.warning and "not a known Status value" in converted.warning


def test_decimal_and_datetime_types() -> None:
    amount = Field("Amount", FieldType.DECIMAL, "test")
    assert convert(amount, "12.50").value == 12.5
    assert convert(amount, "7").value == 7
    assert convert(amount, 3.25).value == 3.25
    with pytest.raises(CellError):
        convert(amount, "twelve")
    stamp = F["Created"]
    assert convert(stamp, dt.datetime(2024, 1, 2, 3, 4, 5)).value == "2024-01-02T03:04:05"
    assert convert(stamp, "2014-10-29T20:00:06.000Z").value == "2014-10-29T20:00:06"
    with pytest.raises(CellError):
        convert(stamp, "yesterday")


def test_blank() -> None:
    assert is_blank(None) and is_blank("") and is_blank("  \t ")
    assert not is_blank(0) and not is_blank(False) and not is_blank("#NULL")


EXCEL_VALUES = st.one_of(
    st.none(),
    st.text(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.dates(),
    st.datetimes(),
    st.times(),
    st.sampled_from(["#N/A", "#VALUE!", "#NULL", "#NULL!", "TRUE", "2024-01-01", "  "]),
)


@settings(max_examples=1500, deadline=None)
@given(field=st.sampled_from([f for f in fields.FIELDS if f.writable]), value=EXCEL_VALUES)
def test_any_excel_value_converts_or_is_refused_with_a_reason(field: Field, value: object) -> None:
    if is_blank(value):
        return
    try:
        converted = convert(field, value)
    except CellError as refused:
        assert str(refused).strip()
    else:
        assert isinstance(converted.value, str | int | float) and not isinstance(
            converted.value, bool
        )


DATES = [
    (dt.date(2024, 2, 29), "2024-02-29"),
    (dt.datetime(2024, 2, 29), "2024-02-29"),
    (dt.datetime(2024, 12, 31), "2024-12-31"),
    (dt.datetime(2025, 1, 1), "2025-01-01"),
    ("2024-03-31", "2024-03-31"),
    (45292.0, "2024-01-01"),
]


def test_dates_are_never_shifted_by_the_time_zone(time_zone: str) -> None:
    """Midnight in Tokyo is the day before in UTC, and in Los Angeles the evening before is the
    next day in UTC: a date that passes through a clock or UTC on its way shows up here."""
    for cell, sent in DATES:
        assert convert(F["DueDate"], cell).value == sent, (time_zone, cell)
        assert to_cell(F["DueDate"], sent) == dt.date.fromisoformat(sent)
        assert to_cell(F["DueDate"], sent + "T00:00:00Z") == dt.date.fromisoformat(sent)
    stamp = F["Created"]
    assert convert(stamp, dt.datetime(2024, 3, 10, 2, 30)).value == "2024-03-10T02:30:00"
    assert convert(stamp, "2024-11-03T01:30:00Z").value == "2024-11-03T01:30:00"
    assert to_cell(stamp, "2024-12-31T23:30:00Z") == dt.datetime(2024, 12, 31, 23, 30)
