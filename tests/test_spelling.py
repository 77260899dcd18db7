"""One spelling per value: what a server may echo compares equal to what bpxl sent, and
different values stay different."""

from __future__ import annotations

import unicodedata

import pytest

from bpxl.core import fields
from bpxl.core.spelling import comparable, values_key

F = fields.BUILT_IN.by_name


@pytest.mark.parametrize(
    ("name", "sent", "echoed"),
    [
        ("MoveInvoiceDescription", "Café", unicodedata.normalize("NFD", "Café")),
        ("MoveInvoiceDescription", "a\nb", "a\r\nb"),
        ("MoveInvoiceDescription", "a\nb", "a \rb  "),
        ("Disputed", "1", "Yes"),
        ("Disputed", "1", "TRUE"),
        ("Disputed", "1", "Y"),
        ("Disputed", "1", 1),
        ("Disputed", "1", True),
        ("Disputed", "1", "1.0"),
        ("Disputed", "0", "No"),
        ("Disputed", "0", "false"),
        ("Disputed", "0", "n"),
        ("Disputed", "0", False),
        ("AgingInterval", "1", "1.0"),
        ("AgingInterval", 1, "1"),
        ("AgingInterval", "10", "1E+1"),
        ("BillingProfileId", "101", 101),
        ("DueDate", "2026-03-04", "2026-03-04T00:00:00.000Z"),
        ("Created", "2026-03-04T10:00:00Z", "2026-03-04T11:00:00.123+01:00"),
        ("Created", "2026-03-04T10:00:00", "2026-03-04 10:00:00"),
        ("Nobody", "x", "x  "),
    ],
)
def test_the_same_value_spelled_otherwise_compares_equal(
    name: str, sent: object, echoed: object
) -> None:
    field = F.get(name)
    assert comparable(field, sent) == comparable(field, echoed)


@pytest.mark.parametrize(
    ("name", "a", "b"),
    [
        ("MoveInvoiceDescription", "Café", "Cafe"),
        ("MoveInvoiceDescription", "abc", "ABC"),
        ("MoveInvoiceDescription", "a b", "ab"),
        ("Disputed", "1", "0"),
        ("Disputed", "maybe", "1"),
        ("AgingInterval", "1", "10"),
        ("AgingInterval", "x", "y"),
        ("DueDate", "2026-03-04", "2026-03-05T00:00:00Z"),
        ("Created", "2026-03-04T10:00:00Z", "2026-03-04T10:00:00+01:00"),
        ("Created", "soon", "later"),
        ("MoveInvoiceDescription", None, "0"),
    ],
)
def test_different_values_stay_different(name: str, a: object, b: object) -> None:
    field = F.get(name)
    assert comparable(field, a) != comparable(field, b)


def test_a_key_leaves_out_the_id_and_keeps_the_names_asked_for() -> None:
    record = {"Id": "5", "DueDate": "2026-01-02", "Disputed": "Yes"}
    assert values_key(record, fields.BUILT_IN) == (("Disputed", "1"), ("DueDate", "2026-01-02"))
    assert values_key(record, fields.BUILT_IN, ["DueDate", "Status"]) == (
        ("DueDate", "2026-01-02"),
        ("Status", ""),
    )


@pytest.mark.parametrize(
    ("name", "value", "spelled"),
    [
        ("MoveInvoiceDescription", " a \r\nb  c \rd ", "a\nb  c\nd"),
        ("MoveInvoiceDescription", "1.0", "1.0"),  # text is not a number
        ("Nobody", "1E+1", "1E+1"),
        ("Disputed", "No", "0"),
        ("Disputed", "maybe", "maybe"),
        ("AgingInterval", "10", "10"),
        ("AgingInterval", "1E+1", "10"),
        ("AgingInterval", "2.50", "2.5"),
        ("AgingInterval", "", ""),
        ("DueDate", "2026-03-04T00:00:00Z", "2026-03-04"),
        ("Created", "2026-03-04 10:00:00.5-02:30", "2026-03-04T12:30:00"),
        ("Created", "2026-03-04T10:00:00", "2026-03-04T10:00:00"),
        ("Created", "soon, or in a while, later", "soon, or in a while"),
    ],
)
def test_each_value_has_one_spelling(name: str, value: object, spelled: str) -> None:
    assert comparable(F.get(name), value) == spelled


def test_a_date_time_is_spelled_in_utc_whatever_the_machines_time_zone(time_zone: str) -> None:
    created = F["Created"]
    assert comparable(created, "2026-03-04T10:00:00") == "2026-03-04T10:00:00"  # taken as UTC
    assert comparable(created, "2026-03-04T10:00:00Z") == "2026-03-04T10:00:00"
