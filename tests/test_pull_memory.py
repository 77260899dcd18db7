"""core.roundtrip.pull_memory on its own: a server value as a typed cell, what a pull remembers of
each invoice and reads back from its memory sheet, and which Id columns hold numbers (the pulls
that write them are in test_pull.py and test_roundtrip.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from bpxl.core import fields
from bpxl.core.fields import Catalogue, Field, FieldType
from bpxl.core.inert import MAX_CELL_TEXT, REPLACEMENT
from bpxl.core.roundtrip.pull_memory import (
    STAMP_HEADER,
    Pulled,
    Unknown,
    extra_cells,
    id_text,
    number_columns,
    pulled,
    pulled_from,
    to_cell,
)

F = fields.BUILT_IN.by_name
AMOUNT = Field("Amount", FieldType.DECIMAL, "an amount", custom=True)


@pytest.mark.parametrize(
    ("name", "value", "cell"),
    [
        ("DueDate", "2026-03-04", dt.date(2026, 3, 4)),
        ("DueDate", "2026-03-04T00:00:00.000Z", dt.date(2026, 3, 4)),
        ("DueDate", "soon", "soon"),
        ("Created", "2026-03-04T10:20:30.123Z", dt.datetime(2026, 3, 4, 10, 20, 30)),
        ("Created", "2026-03-04 10:20:30", dt.datetime(2026, 3, 4, 10, 20, 30)),
        (
            "Created",
            "2026-03-04T10:20Z",
            dt.datetime(2026, 3, 4, 10, 20),
        ),  # no zone: a cell has none
        ("Created", "later", "later"),
        ("Disputed", "1", True),
        ("Disputed", "TRUE", True),
        ("Disputed", "0", False),
        ("Disputed", "False", False),
        ("Disputed", True, True),
        ("Disputed", "Yes", "Yes"),
        ("AgingInterval", "30", 30),
        ("AgingInterval", 30, 30),
        ("AgingInterval", "30.5", "30.5"),
        ("Amount", "12.50", 12.5),
        ("Amount", "12.0", 12),
        ("Amount", "x", "x"),
        ("BillingProfileId", 101, "101"),
        ("FileName", "a.pdf", "a.pdf"),
        ("Nobody", 5, "5"),
        ("FileName", "", None),
        ("FileName", None, None),
    ],
)
def test_a_server_value_becomes_a_typed_cell(name: str, value: object, cell: object) -> None:
    field = {**F, "Amount": AMOUNT}.get(name)
    made = to_cell(field, value)
    assert made == cell and type(made) is type(cell)
    assert not isinstance(made, dt.datetime) or made.tzinfo is None  # openpyxl refuses a zone


def test_a_pulled_invoice_holds_every_field_asked_for() -> None:
    record = {
        "Id": "1042",
        "Updated": "2026-12-07T10:00:00Z",
        "Status": "Pending",
        "DueDate": "2026-03-04",
        "AccountingPeriodId": "7",
        "BillingProfileId": "101",
        "FileName": '=HYPERLINK("x")\x01',
        "LastGatewayKey": "k" * (MAX_CELL_TEXT + 1),
    }
    names = ["Id", "Status", "DueDate", "AccountingPeriodId", "BillingProfileId", "FileName",
             "LastGatewayKey", "ClosedDate"]  # fmt: skip
    invoice, memory = pulled(record, names, numbers={"BillingProfileId", "Id"})
    assert invoice == "1042" and memory.updated == "2026-12-07T10:00:00Z"
    assert memory.values == {
        "Id": 1042,  # an Id-type column of numbers gets a number
        "Status": "Pending",
        "DueDate": dt.date(2026, 3, 4),
        "AccountingPeriodId": "7",  # not among the number columns: text
        "BillingProfileId": 101,
        "FileName": f'=HYPERLINK("x"){REPLACEMENT}',  # text inert
        "LastGatewayKey": None,  # too long for a cell
        "ClosedDate": None,  # empty on the server: a refresh blanks it
    }
    assert len(memory.notes) == 2
    assert memory.notes[0].startswith("FileName: 1 control character")
    assert memory.notes[1].startswith("LastGatewayKey: BillingPlatform holds 32,768 characters")
    assert pulled({"Id": 5.0}, ["Id"]) == ("5", Pulled("", {"Id": "5"}))


@pytest.mark.parametrize(
    ("text", "cell"),
    [("1" * 15, int("1" * 15)), ("1" * 16, "1" * 16), ("١٢", "١٢"), ("12a", "12a"), ("", None)],
)
def test_an_id_is_a_number_only_when_excel_keeps_it_exactly(text: str, cell: object) -> None:
    _, memory = pulled({"Id": "1", "BillingProfileId": text}, ["BillingProfileId"],
                       numbers={"BillingProfileId"})  # fmt: skip
    assert memory.values["BillingProfileId"] == cell


def test_fields_the_catalogue_does_not_know_are_kept_as_text_made_inert() -> None:
    cells, notes = extra_cells({"Colour": "red\x02", "Size": 3, "Empty": ""})
    assert cells == {"Colour": f"red{REPLACEMENT}", "Size": "3", "Empty": None}
    assert len(notes) == 1 and notes[0].startswith("Colour: 1 control character")


def test_the_id_columns_holding_more_numbers_than_text_get_numbers() -> None:
    catalogue = Catalogue([*fields.BUILT_IN.fields, AMOUNT])
    columns = {"BillingProfileId": 0, "AccountingPeriodId": 1, "ApprovalUserId": 2,
               "Amount": 3, "Status": 4, "EventInvoiceCycleId": 5}  # fmt: skip
    rows = [
        [101, "7", 3, 1.5, "Pending", 9],
        [102.0, 8, "u7", 2, "Void", "  "],  # a blank cell is neither
        ["103", None, True],  # nor is a flag; a short row has nothing further
        [],
    ]
    assert number_columns(columns, rows, catalogue) == {"BillingProfileId", "EventInvoiceCycleId"}
    assert number_columns(columns, [], catalogue) == set()


def test_the_fields_the_catalogue_does_not_know_are_looked_up_once_each() -> None:
    unknown = Unknown()
    record = {"Id": "1", "Status": "Pending", "Colour": "red", "due date": "x"}
    assert unknown(record) == {"Colour": "red"}
    assert unknown.seen == {"Id": False, "Status": False, "Colour": True, "due date": False}
    unknown.seen["Colour"] = False  # looked up again, it would be unknown
    assert unknown(record) == {}
    assert Unknown(Catalogue([AMOUNT]))({"Amount": 1, "Status": "x"}) == {"Status": "x"}


@pytest.mark.parametrize(
    ("value", "text"),
    [(1042.0, "1042"), (1042, "1042"), (" 1042 ", "1042"), (None, ""), (10.5, "10.5"), ("", "")],
)
def test_an_id_cell_as_text(value: object, text: str) -> None:
    assert id_text(value) == text


def test_the_memory_sheet_is_read_back_by_id() -> None:
    rows = [
        ["Id", "Status", None, STAMP_HEADER, "Colour"],
        [1042.0, "Pending", "x", "2026-12-07T10:00:00Z", "red"],
        [None, "Lost", None, "2026-12-07T10:00:00Z"],
        ["", "Lost", None, "2026-12-07T10:00:00Z"],
        [" 77 ", None, None, None, None],
    ]
    memory = pulled_from(rows)
    assert memory == {
        "1042": Pulled(
            "2026-12-07T10:00:00Z", {"Id": 1042.0, "Status": "Pending", "Colour": "red"}
        ),
        "77": Pulled("", {"Id": " 77 ", "Status": None, "Colour": None}),
    }


@pytest.mark.parametrize("header", [[], ["Status", STAMP_HEADER], ["Id", "Status", "Updated"]])
def test_a_sheet_that_is_no_memory_remembers_nothing(header: list[object]) -> None:
    assert pulled_from([header, ["1", "x", "y"]] if header else []) == {}
