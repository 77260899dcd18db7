"""Cell -> JSON conversion, type by type, including what Excel really delivers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpxl.core import fields
from bpxl.core.cells import (
    CLEAR,
    MAX_EXCEL_SERIAL,
    SHOWN_TEXT,
    TRIMMED,
    UNCHECKED,
    CellError,
    Converted,
    Unreadable,
    convert,
    is_blank,
    show,
)
from bpxl.core.fields import Field, FieldType
from bpxl.core.roundtrip.pull_memory import to_cell

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


def test_a_value_of_a_list_bpxl_does_not_know_passes_with_a_warning() -> None:
    converted = convert(F["EstimatedStatus"], "Tenant Special")
    assert converted.value == "Tenant Special"
    assert converted.warning == f'"Tenant Special": {UNCHECKED}'


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


@pytest.mark.parametrize(
    ("field", "cell", "message"),
    [
        ("BillingProfileId", True, "TRUE is not an Id; type the Id's digits (e.g. 1042)"),
        ("BillingProfileId", dt.date(2024, 1, 1),
         "2024-01-01 is not an Id; type the Id's digits (e.g. 1042)"),
        ("BillingProfileId", 1.2345678901234567e16,
         "Id 1.23456789012346e+16 was rounded by Excel; format the column as Text and type the "
         "Id again"),
        ("BillingProfileId", 12.5, "12.5 is not an Id (Ids are whole numbers)"),
        ("BillingProfileId", "0", "0 is not an Id (Ids are positive whole numbers)"),
        ("BillingProfileId", -4.0, "-4 is not an Id (Ids are positive whole numbers)"),
        ("BillingProfileId", "12a", '"12a" is not an Id; use digits only (e.g. 1042)'),
        ("BillingProfileId", float("inf"), "inf is not a number; type a number"),
        ("DueDate", 45292.5, "45292.5 has a time of day; this column takes a date only"),
        ("DueDate", 60, "shows 29 February 1900, a day that never was (Excel counts it for old "
         "Lotus files); type the date you mean"),
        ("DueDate", MAX_EXCEL_SERIAL + 1,
         "2958466 is not a date (use YYYY-MM-DD or an Excel date)"),
        ("DueDate", dt.datetime(2024, 1, 5, 0, 0, 1),
         "2024-01-05 00:00:01 has a time of day; this column takes a date only"),
        ("DueDate", dt.time(12, 0), "12:00:00 is a time of day, not a date (use YYYY-MM-DD)"),
        ("DueDate", False, "FALSE is not a date (use YYYY-MM-DD or an Excel date)"),
        ("DueDate", "2024-02-30", '"2024-02-30" is not a date (use YYYY-MM-DD or an Excel date)'),
        ("Created", "yesterday", '"yesterday" is not a date and time (use YYYY-MM-DD HH:MM:SS)'),
        ("Created", 5, "5 is not a date and time (use YYYY-MM-DD HH:MM:SS)"),
        ("Created", "2024-13-01T00:00:00",
         '"2024-13-01T00:00:00" is not a date and time (use YYYY-MM-DD HH:MM:SS)'),
        ("BillableFlag", "maybe", '"maybe" is not a flag; use TRUE/FALSE, 1/0 or yes/no'),
        ("BillableFlag", 2, "2 is not a flag; use TRUE/FALSE, 1/0 or yes/no"),
        ("AgingInterval", "12abc", '"12abc" is not a whole number'),
        ("AgingInterval", 1.5, "1.5 is not a whole number"),
        ("AgingInterval", True, "TRUE is not a whole number"),
        ("AgingInterval", float("nan"), "nan is not a number; type a number"),
        ("FileName", Decimal("1.5"), "1.5 cannot be sent as text"),
        ("FileName", "#N/A", "the cell shows the Excel error #N/A; fix the cell or its formula"),
    ],
)  # fmt: skip
def test_each_refusal_quotes_the_cell_as_the_user_sees_it(
    field: str, cell: object, message: str
) -> None:
    with pytest.raises(CellError) as refused:
        convert(F[field], cell)
    assert str(refused.value) == message


def test_values_at_the_edges_of_each_type() -> None:
    assert convert(F["BillingProfileId"], 1).value == "1"  # the smallest Id
    assert convert(F["BillingProfileId"], "1").value == "1"
    assert convert(F["DueDate"], MAX_EXCEL_SERIAL).value == "9999-12-31"
    assert convert(F["DueDate"], 59.0).value == "1900-02-28"
    amount = Field("Amount", FieldType.DECIMAL, "test")
    for cell, sent in [("7", 7), ("12.0", 12), ("12.50", 12.5), (3, 3), (2.5, 2.5)]:
        got = convert(amount, cell).value
        assert got == sent and type(got) is type(sent), cell
    with pytest.raises(CellError) as refused:
        convert(amount, "twelve")
    assert str(refused.value) == '"twelve" is not a number'
    stamp = F["Created"]
    assert convert(stamp, dt.date(2024, 1, 2)).value == "2024-01-02T00:00:00"
    assert convert(stamp, "2024-01-02 03:04").value == "2024-01-02T03:04:00"
    aware = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    assert convert(stamp, aware).value == "2024-01-02T03:04:05"  # as the cell shows it
    texts = [(True, "TRUE"), (False, "FALSE"), (12.5, "12.5"), (7, "7")]
    texts += [(dt.date(2024, 5, 6), "2024-05-06"), (dt.time(7, 8), "07:08:00")]
    for cell, sent in texts:
        assert convert(F["FileName"], cell).value == sent
    assert convert(F["EstimatedStatus"], True).value == "TRUE"


@pytest.mark.parametrize(
    ("typed", "nearest"),
    [("Pendng", "Pending"), ("aproved", "Approved"), ("closd", "Closed"), ("Voided", "Void")],
)
def test_a_value_outside_a_known_list_is_refused_with_the_nearest(typed: str, nearest: str) -> None:
    with pytest.raises(CellError) as refused:
        convert(F["Status"], typed)
    assert str(refused.value) == (
        f'"{typed}" is not a Status value; did you mean "{nearest}"? '
        "(Status takes Pending, Approved, Closed, Void)"
    )
    assert convert(F["Status"], "VOID") == Converted("Void")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("text", '"text"'),
        (True, "TRUE"),
        (False, "FALSE"),
        (0.1, "0.1"),
        (1e20, "1e+20"),
        (45292, "45292"),
        (dt.datetime(2024, 1, 2, 3, 4, 5), "2024-01-02 03:04:05"),
        (dt.date(2024, 1, 2), "2024-01-02"),
        (dt.time(3, 4), "03:04:00"),
        (None, "None"),
    ],
)
def test_show_writes_a_value_as_the_user_knows_it(value: object, shown: str) -> None:
    assert show(value) == shown


def test_what_excel_could_not_give_and_trimmed_text() -> None:
    with pytest.raises(CellError) as unreadable:
        convert(F["DueDate"], Unreadable("the formula has no saved value; open and save it"))
    assert str(unreadable.value) == "the formula has no saved value; open and save it"
    assert convert(F["Status"], " closed ") == Converted("Closed", TRIMMED)
    assert convert(F["EstimatedStatus"], " odd ") == Converted(
        "odd", f'{TRIMMED}; "odd": {UNCHECKED}'
    )
    assert convert(F["DueDate"], " 2024-01-31 ") == Converted("2024-01-31")
    assert convert(F["AgingInterval"], " 7 ") == Converted(7)


def test_1904_serials_at_their_edges() -> None:
    last = MAX_EXCEL_SERIAL - 1462
    assert convert(F["DueDate"], last, date1904=True).value == "9999-12-31"
    assert convert(F["DueDate"], 1.0, date1904=True).value == "1904-01-02"
    for serial in (last + 1, -1):
        with pytest.raises(CellError) as refused:
            convert(F["DueDate"], serial, date1904=True)
        assert str(refused.value) == f"{serial} is not a date (use YYYY-MM-DD or an Excel date)"
    with pytest.raises(CellError) as nan:
        convert(F["DueDate"], float("nan"), date1904=True)
    assert str(nan.value) == "nan is not a number; type a number"
    assert convert(F["AgingInterval"], 5, date1904=True) == Converted(5)
    assert convert(F["DueDate"], "2024-01-31", date1904=True).value == "2024-01-31"


def test_numbers_in_text_are_written_as_excel_shows_them() -> None:
    for number, text in [
        (0, "0"),
        (1, "1"),
        (100.0, "100"),
        (1e-9, "0.000000001"),
        (999999999999999.0, "999999999999999"),
        (-0.25, "-0.25"),
    ]:
        assert convert(F["FileName"], number).value == text, number
    for number in (1e15, -1e15, 1e-10):
        with pytest.raises(CellError) as refused:
            convert(F["FileName"], number)
        assert str(refused.value) == (
            f"Excel shows {show(number)} with an exponent, not as the text you mean; type it as "
            "text (start with an apostrophe: ') or format the column as Text"
        )


def test_long_text_is_cut_in_messages_and_only_text_gets_the_trim_note() -> None:
    assert show("x" * SHOWN_TEXT) == '"' + "x" * SHOWN_TEXT + '"'
    long = "y" * (SHOWN_TEXT + 1)
    assert show(long) == f'"{"y" * (SHOWN_TEXT - 20)}…" ({SHOWN_TEXT + 1:,} characters)'
    assert convert(F["FileName"], 7) == Converted("7")  # nothing was trimmed: no note
    assert convert(F["EstimatedStatus"], True) == Converted(
        "TRUE", convert(F["EstimatedStatus"], "TRUE").warning
    )
