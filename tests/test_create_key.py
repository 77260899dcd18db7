"""core.create_key on its own: the key is a digest of the values a create sends, each spelled one
way, and the row's number among identical rows (the pushes that use it, with the ledger and
key-field mode, are end to end in test_same_invoice.py and test_key_field.py)."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from bpxl.core import create_key
from bpxl.core.fields import BUILT_IN
from bpxl.core.records import read_layout

LAYOUT = read_layout(["Id", "BillingProfileId", "FileName", "DueDate", "Result"], BUILT_IN)


@pytest.mark.parametrize(
    ("values", "spelled"),
    [
        ((True,), "1"),
        ((False,), "0"),
        ((1.5, 1.50, decimal.Decimal("1.500"), "1.5"), "1.5"),
        ((100, 100.0, 1e2, decimal.Decimal("1E+2"), "100"), "100"),
        ((-2.5, decimal.Decimal("-2.50")), "-2.5"),
        ((0, 0.0), "0"),
        ((1e20,), "100000000000000000000"),  # never 1E+20
        ((1.5e-7,), "0.00000015"),
        (("Cafe\u0301", "Caf\u00e9", " Caf\u00e9\n"), "Caf\u00e9"),  # NFC, no spaces around
        (("a\r\nb\rc", "a\nb\nc", "\ta\r\nb\rc \r\n"), "a\nb\nc"),  # one kind of line end
        ((dt.date(2026, 1, 31), "2026-01-31"), "2026-01-31"),
    ],
)
def test_a_value_is_spelled_one_way_whatever_the_cell_held(
    values: tuple[object, ...], spelled: str
) -> None:
    assert [create_key.spelled(v) for v in values] == [spelled] * len(values)


def test_the_key_of_a_record_is_the_same_in_every_version_of_bpxl() -> None:
    """Keys are kept in ledgers and in the key field on the server: spelled otherwise by a later
    bpxl, every invoice already made would be made again."""
    sent = {"FileName": "Caf\u00e9.pdf", "Amount": 1.5, "BillingProfileId": "101"}
    assert create_key.digest(sent) == "7436ef7467d1e1944f9c43085aa16d4f"
    assert create_key.digest({"FileName": "a.pdf"}) == "244c2a92bedc4e5ac95e3987fd08f24a"
    assert create_key.PATTERN.fullmatch(create_key.digest(sent) + "-1")


def test_what_a_create_does_not_send_is_not_in_the_key() -> None:
    sent = {"FileName": "a.pdf", "BillingProfileId": "101"}
    alike = {"BillingProfileId": "101", "Id": "55", "FileName": "a.pdf", "Notes": None, "Po": ""}
    assert create_key.digest(alike) == create_key.digest(sent)  # nor the field order
    with_key = {**sent, "BpxlKey__c": "x-1"}
    assert create_key.digest(with_key, ["BpxlKey__c"]) == create_key.digest(sent)
    assert create_key.digest(with_key, ("BpxlKey__c",)) == create_key.digest(sent)
    assert create_key.digest(with_key) != create_key.digest(sent)


def test_every_value_sent_and_its_field_make_the_key() -> None:
    key = create_key.digest({"FileName": "a.pdf", "BillingProfileId": "101"})
    others = [
        {"FileName": "a.pdf", "BillingProfileId": "102"},
        {"FileName": "b.pdf", "BillingProfileId": "101"},
        {"FileName": "101", "BillingProfileId": "a.pdf"},  # the values in each other's fields
        {"FileName": "a.pdf"},
        {"FileName": "a.pdf", "BillingProfileId": "101", "Amount": 0},  # 0 and False are sent
        {"FileName": "a.pdf", "BillingProfileId": "101", "Paid": False},
    ]
    found = [create_key.digest(o) for o in others]
    assert key not in found and len(set(found)) == len(found)
    assert all(len(k) == create_key.DIGEST_CHARS == 32 for k in [key, *found])
    assert all(set(k) <= set("0123456789abcdef") for k in [key, *found])


def test_texts_spelled_once_for_many_rows_give_each_row_its_own_key() -> None:
    """A sheet's texts are spelled once for all its rows; numbers each time (0.0 and -0.0 are
    equal, and spelled otherwise)."""
    records = {
        2: {"FileName": " a.pdf ", "AgingInterval": -0.0},
        3: {"FileName": " a.pdf ", "AgingInterval": 0.0},
        4: {"FileName": "Cafe\u0301", "AgingInterval": 0.0},
        5: {"FileName": "Caf\u00e9", "AgingInterval": -0.0},
    }
    rows = [(row, [None, "101", "x.pdf", None, None]) for row in records]
    keys = create_key.keys(LAYOUT, rows, records)
    assert keys == {row: f"{create_key.digest(r)}-1" for row, r in records.items()}
    assert len(set(keys.values())) == 4
    assert create_key.digest(records[2]) == create_key.digest(
        {"FileName": "a.pdf", "AgingInterval": -0.0}
    )


def test_identical_rows_are_numbered_from_the_top_and_blank_rows_skipped() -> None:
    twin = [None, "101", "a.pdf", dt.date(2026, 1, 31), None]
    other = [None, "101", "b.pdf", dt.date(2026, 1, 31), None]
    rows = [
        (9, twin),
        (2, twin),
        (3, [None, None, None, None, "Created"]),  # a Result alone: no data row
        (4, other),
        (
            5,
            [None, " 101 ", "a.pdf", "2026-01-31", "Failed"],
        ),  # the same invoice, spelled otherwise
        (6, []),
    ]
    keys = create_key.keys(LAYOUT, rows)
    sent = {"BillingProfileId": "101", "DueDate": "2026-01-31"}
    twins = create_key.digest({**sent, "FileName": "a.pdf"})
    b = create_key.digest({**sent, "FileName": "b.pdf"})
    assert keys == {2: f"{twins}-1", 4: f"{b}-1", 5: f"{twins}-2", 9: f"{twins}-3"}
    assert all(create_key.PATTERN.fullmatch(k) for k in keys.values())


def test_a_row_gets_its_key_from_the_record_a_create_built_for_it() -> None:
    rows = [(2, [None, "101", "a.pdf", None, None]), (3, [None, "101", "a.pdf", None, None])]
    built = {3: {"BillingProfileId": "101", "FileName": "built.pdf"}}
    keys = create_key.keys(LAYOUT, rows, built)
    assert keys == {
        2: f"{create_key.digest({'BillingProfileId': '101', 'FileName': 'a.pdf'})}-1",
        3: f"{create_key.digest(built[3])}-1",
    }
    assert create_key.keys(LAYOUT, rows, {}) == create_key.keys(LAYOUT, rows, None)


def test_a_date_given_as_a_number_is_read_in_the_workbooks_date_system() -> None:
    serial = [(2, [None, "101", "a.pdf", 46000, None])]
    in_1900 = [(2, [None, "101", "a.pdf", dt.date(1899, 12, 30) + dt.timedelta(46000), None])]
    in_1904 = [(2, [None, "101", "a.pdf", dt.date(1904, 1, 1) + dt.timedelta(46000), None])]
    assert create_key.keys(LAYOUT, serial) == create_key.keys(LAYOUT, in_1900)
    assert create_key.keys(LAYOUT, serial, None, False) == create_key.keys(LAYOUT, in_1900)
    assert create_key.keys(LAYOUT, serial, None, True) == create_key.keys(LAYOUT, in_1904)
    assert create_key.keys(LAYOUT, in_1900) != create_key.keys(LAYOUT, in_1904)


def test_fields_left_out_are_not_in_a_rows_key() -> None:
    rows = [(2, [None, "101", "a.pdf", None, None]), (3, [None, "101", "b.pdf", None, None])]
    keys = create_key.keys(LAYOUT, rows, leave_out=iter(["FileName"]))  # read once, as given
    alone = create_key.digest({"BillingProfileId": "101"})
    assert keys == {2: f"{alone}-1", 3: f"{alone}-2"}  # the same invoice once FileName is out


def test_the_key_of_the_last_row_excel_has_fits_and_only_keys_match() -> None:
    digest = create_key.digest({"FileName": "a.pdf"})
    last = f"{digest}-1048576"
    assert len(last) == create_key.LONGEST == 40
    assert create_key.PATTERN.fullmatch(last) and create_key.PATTERN.fullmatch(f"{digest}-7")
    for text in (
        f"{digest}-0",
        f"{digest}-01",
        f"{digest}-10485760",
        f"{digest}-",
        digest,
        f"{digest.upper()}-1",
        f"{digest[:-1]}-1",
        f"{digest}0-1",
    ):
        assert not create_key.PATTERN.fullmatch(text), text
