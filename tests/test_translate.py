"""core.translate on its own: ``--map`` and ``--date-format`` checked, and a grid read through
them (the pushes that use them, CSV and workbook, are in test_csv_and_translate.py)."""

from __future__ import annotations

import pytest

from bpxl.core import fields
from bpxl.core.cells import Unreadable
from bpxl.core.errors import UsageError
from bpxl.core.fields import Catalogue, Field, FieldType
from bpxl.core.push import Grid
from bpxl.core.translate import Translation, apply, parse

BUILT_IN = fields.BUILT_IN
AMOUNTS = Catalogue(
    [
        *BUILT_IN.fields,
        Field("Amount", FieldType.DECIMAL, "an amount", custom=True),
        Field("Fee", FieldType.DECIMAL, "a fee", custom=True),
    ]
)


def refusal(call: object) -> tuple[str, str]:
    assert callable(call)
    with pytest.raises(UsageError) as raised:
        call()
    return raised.value.message, raised.value.hint or ""


def test_an_empty_translation_says_so_and_gives_no_options() -> None:
    assert Translation().empty and Translation().options() == []
    assert not Translation(renames=(("Due Dte", "DueDate"),)).empty
    assert not Translation(date_format="DD/MM/YYYY").empty
    assert not Translation(decimal_comma=True).empty


def test_maps_are_read_as_the_fields_they_name_and_given_back_as_options() -> None:
    made = parse([" Due Dte = duedate ", "Cust=Billing Profile Id"], "DD/MM/YYYY", BUILT_IN)
    assert made == Translation(
        (("Due Dte", "DueDate"), ("Cust", "BillingProfileId")), "DD/MM/YYYY", False
    )
    assert made.options() == [
        "--map", "Due Dte=DueDate", "--map", "Cust=BillingProfileId",
        "--date-format", "DD/MM/YYYY",
    ]  # fmt: skip
    assert parse([], None, BUILT_IN, decimal_comma=True) == Translation((), None, True)
    assert parse([], None, BUILT_IN) == Translation()


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("Due Dte", ""),
        ("=DueDate", ""),
        ("  =DueDate", ""),
        ("Due=Nothing", " ('Nothing' is not one)"),
    ],
)
def test_a_map_that_names_no_field_is_refused_showing_how_to_write_it(
    spec: str, named: str
) -> None:
    message, hint = refusal(lambda: parse([spec], None, BUILT_IN))
    assert message == (
        f'--map "{spec}": write it as "Your header=FieldName", with an Invoice field on the '
        f"right{named}."
    )
    assert hint == '`bpxl fields` lists the field names, e.g. --map "Due Dte=DueDate".'


def test_a_map_with_nothing_right_of_the_equals_sign_names_nothing_more() -> None:
    message, _ = refusal(lambda: parse(["Due=  "], None, BUILT_IN))
    assert message.endswith("with an Invoice field on the right.")


@pytest.mark.parametrize(
    "spec", ["DD/MM/YYYY", "MM-DD-YYYY", "D.M.YY", "YYYY MM DD", "dd/mm/yyyy", "YY-M-D"]
)
def test_date_formats_of_a_day_a_month_and_a_year_are_taken(spec: str) -> None:
    assert parse([], spec, BUILT_IN).date_format == spec


@pytest.mark.parametrize(
    "spec", ["DD/MM", "DD/MM/YYYY/YY", "DD/DD/YYYY", "DD,MM,YYYY", "DDxMMxYYYY", "", "MM/YYYY/YY"]
)
def test_a_date_format_without_one_day_month_and_year_is_refused(spec: str) -> None:
    message, hint = refusal(lambda: parse([], spec, BUILT_IN))
    assert message == (
        f"--date-format {spec}: write the day, month and year as DD, MM and YYYY (or YY), "
        "separated by /, ., - or a space."
    )
    assert hint == "e.g. --date-format DD/MM/YYYY, --date-format MM-DD-YYYY, --date-format D.M.YY"


def test_an_empty_translation_leaves_the_grid_as_it_is() -> None:
    grid = Grid(["Due Dte"], [(2, ["31/07/2024"])])
    assert apply(grid, Translation(), BUILT_IN) == (grid, [])


def test_maps_rename_columns_whatever_their_case_and_spaces() -> None:
    grid = Grid(["Cust", "due  dte", 7, "Note"], [(2, ["101", "x", 1, "n"])], date1904=True)
    made, notes = apply(
        grid, Translation((("Due Dte", "DueDate"), ("CUST", "BillingProfileId"))), BUILT_IN
    )
    assert made.header == ["BillingProfileId", "DueDate", 7, "Note"]
    assert made.rows == grid.rows and made.date1904 and made.sheet_rows is None
    assert notes == [
        "Column 'Due Dte' read as DueDate (--map).",
        "Column 'CUST' read as BillingProfileId (--map).",
    ]


def test_a_map_of_a_column_the_sheet_lacks_is_refused_naming_the_columns() -> None:
    grid = Grid(["Cust", None, 3, "  ", "Due"], [])
    message, hint = refusal(lambda: apply(grid, Translation((("Due Dte", "DueDate"),)), BUILT_IN))
    assert message == "--map \"Due Dte=DueDate\": there is no column 'Due Dte'. Nothing was sent."
    assert hint == "The columns are: 'Cust', 'Due'."


def test_dates_are_read_in_the_format_given_in_every_date_column() -> None:
    grid = Grid(
        ["DueDate", "Note", "ClosedDate", "AgingInterval"],
        [
            (2, ["31/07/2024", "31/07/2024", " 1/2/2024 ", "31/07/2024"]),
            (3, ["2024-07-31", None, "", 5]),
            (4, ["07/31/2024", "x", "   "]),
            (5, [45000, "y"]),
        ],
    )
    made, notes = apply(grid, Translation(date_format="DD/MM/YYYY"), BUILT_IN)
    assert made.header == grid.header
    assert made.rows == [
        (2, ["2024-07-31", "31/07/2024", "2024-02-01", "31/07/2024"]),
        (3, ["2024-07-31", None, "", 5]),  # an ISO date as it is; blanks and numbers too
        (
            4,
            [
                Unreadable(
                    '"07/31/2024" is not a date in the format DD/MM/YYYY given with --date-format'
                ),
                "x",
                "   ",
            ],
        ),
        (5, [45000, "y"]),  # a short row: the missing cells are not read
    ]
    assert notes == ["Dates read as DD/MM/YYYY (--date-format): 2 cells in DueDate, ClosedDate."]


def test_dates_read_count_thousands_and_say_when_no_column_is_a_date() -> None:
    rows = [(n, ["1.2.24"]) for n in range(2, 1202)]
    _, notes = apply(Grid(["DueDate"], rows), Translation(date_format="D.M.YY"), BUILT_IN)
    assert notes == ["Dates read as D.M.YY (--date-format): 1,200 cells in DueDate."]
    _, notes = apply(Grid(["Note"], [(2, ["1.2.24"])]), Translation(date_format="D.M.YY"), BUILT_IN)
    assert notes == ["Dates read as D.M.YY (--date-format): 0 cells in no date column."]


def test_a_mapped_column_is_read_as_the_field_it_became() -> None:
    grid = Grid(["Due"], [(2, ["31/07/2024"])])
    made, notes = apply(grid, parse(["Due=DueDate"], "DD/MM/YYYY", BUILT_IN), BUILT_IN)
    assert made.rows == [(2, ["2024-07-31"])]
    assert notes[1] == "Dates read as DD/MM/YYYY (--date-format): 1 cell in DueDate."


def test_the_rows_not_sent_are_read_alike_and_each_translation_is_said() -> None:
    every = [(2, ["31/07/2024", "1.234,5"]), (3, ["01/08/2024", "2,5"])]
    grid = Grid(["DueDate", "Amount"], every[1:], sheet_rows=every)
    made, notes = apply(grid, Translation(date_format="DD/MM/YYYY", decimal_comma=True), AMOUNTS)
    assert notes == [
        "Dates read as DD/MM/YYYY (--date-format): 1 cell in DueDate.",
        "Decimal commas read as decimal points (a CSV separated by ';'): 1 cell in Amount.",
    ]  # both said
    assert made.rows == [(3, ["2024-08-01", "2.5"])]
    assert made.sheet_rows == [(2, ["2024-07-31", "1234.5"]), (3, ["2024-08-01", "2.5"])]


def test_decimal_commas_are_read_as_points_in_decimal_columns_only() -> None:
    grid = Grid(
        ["Amount", "Note", "Fee", "AgingInterval"],
        [
            (2, ["1.234,56", "1,5", " 12,5 ", "1,5"]),
            (3, ["7", "x", "-1.000.000,25", None]),
            (4, ["1,2,3", "y", "1.23,4", ""]),
            (5, ["12.50", "z", "+0,5"]),
            (6, [12.5, "w", "1.234"]),
        ],
    )
    made, notes = apply(grid, Translation(decimal_comma=True), AMOUNTS)
    assert made.rows == [
        (2, ["1234.56", "1,5", "12.5", "1,5"]),
        (3, ["7", "x", "-1000000.25", None]),
        (4, ["1,2,3", "y", "1.23,4", ""]),  # not a number with a decimal comma: left to check
        (5, ["12.50", "z", "+0.5"]),  # a point without a comma is a decimal point
        (6, [12.5, "w", "1.234"]),
    ]
    assert notes == [
        "Decimal commas read as decimal points (a CSV separated by ';'): 4 cells in Amount, Fee."
    ]


def test_no_decimal_comma_read_no_note() -> None:
    grid = Grid(["Amount"], [(2, ["12.5"])], sheet_rows=[(2, ["12.5"]), (3, ["1,5"])])
    made, notes = apply(grid, Translation(decimal_comma=True), AMOUNTS)
    assert notes == [] and made.rows == [(2, ["12.5"])]
    assert made.sheet_rows == [(2, ["12.5"]), (3, ["1.5"])]
