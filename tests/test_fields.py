"""The field catalogue on its own (``core/fields.py``): which header names which field, which
header only resembles one (and by how many letters), the template's columns, the fields a create
needs, and the table ``bpxl fields`` prints."""

from __future__ import annotations

import pytest

from bpxl.core import fields
from bpxl.core.fields import BUILT_IN, Catalogue, Field, FieldType, header_key, spelling_distance


def _field(name: str, **kw: object) -> Field:
    return Field(name, FieldType.TEXT, "", **kw)  # type: ignore[arg-type]


def test_a_header_is_matched_without_case_or_spaces() -> None:
    assert header_key(" Due\tdate ") == "duedate" == header_key("DUEDATE")
    assert BUILT_IN.lookup("due date") is fields.BY_NAME["DueDate"]
    assert fields.lookup("billingprofileid") is fields.BY_NAME["BillingProfileId"]
    assert BUILT_IN.lookup("Due_date") is None and BUILT_IN.lookup(7) is None
    assert BUILT_IN.lookup(None) is None


def test_a_tenants_label_names_its_field_unless_two_share_it() -> None:
    catalogue = Catalogue(
        [
            _field("Ref__c", label="Our reference"),
            _field("A__c", label="Shared"),
            _field("B__c", label="Shared"),
            _field("Status", label="Ref__c"),  # a label spelling another field's name
        ]
    )
    assert catalogue.lookup("our reference") is catalogue.by_name["Ref__c"]
    assert catalogue.lookup("Shared") is None
    assert catalogue.lookup("Ref__c") is catalogue.by_name["Ref__c"]
    assert repr(catalogue) == "Catalogue(4 fields, built-in)"
    assert repr(Catalogue([], fields.TENANT_SOURCE, ["n"])) == "Catalogue(0 fields, tenant)"


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("duedate", "duedate", 0),
        ("duedte", "duedate", 1),  # a letter dropped
        ("duedatee", "duedate", 1),  # one added
        ("dudeate", "duedate", 1),  # two swapped
        ("duxdate", "duedate", 1),  # one changed
        ("ab", "ba", 1),
        ("abc", "", 3),
        ("", "abc", 3),
        ("abcd", "", 4),  # past 3: not counted further
        ("abcdefgh", "abcd", 4),
        ("abcdefgh", "wxyz", 4),  # four letters apart in length: 4 whatever the letters
        ("aaa", "a", 2),  # no swap with the letter before the first
        ("abcdefg", "abcd", 3),
        ("kitten", "sitting", 3),
        ("ca", "abc", 3),  # optimal string alignment: no edit of a swapped pair
    ],
)
def test_spelling_distance_counts_letters_to_add_drop_change_or_swap(
    a: str, b: str, distance: int
) -> None:
    assert spelling_distance(a, b) == distance


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Due Dte", "DueDate"),
        ("Billing Profile", "BillingProfileId"),
        ("Billing Profle", "BillingProfileId"),  # a label without Id, a letter dropped
        ("Billing Porfle", "BillingProfileId"),  # two letters in a long word
        ("Billable", "BillableFlag"),
        ("Disputed Flg", "Disputed"),
        ("Migrated", "MigratedInvoice"),
        ("Accounting Period", "AccountingPeriodId"),
        ("Statu", "Status"),
        ("FileNameId", "FileName"),
    ],
)
def test_a_header_resembling_a_field_is_known_as_that_field(header: str, field: str) -> None:
    assert BUILT_IN.lookup(header) is None
    found = BUILT_IN.resembles(header)
    assert found is not None and found.name == field


@pytest.mark.parametrize(
    "header",
    [
        "Qty",  # too short to be anyone's typo
        "Id2",
        "My Billing Profile",  # a word added: the user's own column
        "Billing Prfl",  # three letters
        "Due Dt",  # two letters in a short word
        "Notes",
        "Stat",
        "Flag",
    ],
)
def test_a_users_own_header_resembles_no_field(header: str) -> None:
    assert BUILT_IN.resembles(header) is None


def test_the_labels_bpxl_knows_are_resembled_in_any_catalogue() -> None:
    """A tenant's catalogue is built anew from its fields: the labels BillingPlatform's screens
    are assumed to show still count ("Disputed Flag" for Disputed)."""
    tenant = Catalogue(fields.FIELDS, fields.TENANT_SOURCE)
    found = tenant.resembles("Disputed Flg")
    assert found is not None and found.name == "Disputed"


def test_the_closest_field_wins() -> None:
    catalogue = Catalogue([_field("Amount"), _field("Amounts"), _field("Mount")])
    assert catalogue.resembles("Amountz") is catalogue.by_name["Amount"]  # 1 beats 1: the first
    both = Catalogue([_field("Abcdefghij"), _field("Abcdefghik")])
    assert both.resembles("abcdefghik") is both.by_name["Abcdefghik"]  # 0 beats 1
    assert both.resembles("xbcdefghij") is both.by_name["Abcdefghij"]
    short = Catalogue([_field("Abcdefgh")])
    assert short.resembles("Abcdefxx") is None  # 8 letters is not long: one letter only
    ten = Catalogue([_field("Abcdefghij")])
    assert ten.resembles("Abcdefgxyz") is None  # three letters, even in a long word
    long = Catalogue([_field("Abcdefghi")])
    assert long.resembles("Abcdefgxx") is long.by_name["Abcdefghi"]
    assert long.resembles("Abcdefghxxx") is None  # two letters added: a word added


def test_a_suffix_comes_off_only_a_long_enough_stem() -> None:
    catalogue = Catalogue([_field("AbcdId"), _field("XyzFlag")])
    assert catalogue.resembles("Abcd") is catalogue.by_name["AbcdId"]
    assert catalogue.resembles("Xyz") is None  # three letters: no stem
    assert Catalogue([_field("AbcId")]).resembles("Abcz") is None  # no stem "abc" to be near
    assert catalogue.resembles("Xyzflg") is catalogue.by_name["XyzFlag"]
    header = Catalogue([_field("Report")])
    assert header.resembles("ReportId") is header.by_name["Report"]
    assert header.resembles("ReprtFlag") is header.by_name["Report"]


def test_the_template_has_the_id_and_every_writable_field_in_order() -> None:
    catalogue = Catalogue(
        [
            Field("Id", FieldType.ID, "", read_only=True),
            _field("A"),
            _field("B", read_only=True),
            _field("C", api_writable=False),
            _field("D", required=True),
            _field("E", required=True, read_only=True),
            _field("F", required=True, api_writable=False),
        ]
    )
    assert [f.name for f in catalogue.template_fields()] == ["Id", "A", "D"]
    assert [f.name for f in catalogue.required()] == ["D"]
    assert [f.name for f in fields.template_fields()][:3] == ["Id", "BillingProfileId", "Status"]
    assert not fields.BY_NAME["Created"].writable and fields.BY_NAME["DueDate"].writable


def test_the_fields_table_says_each_fields_type_length_flags_and_origin() -> None:
    catalogue = Catalogue(
        [
            Field("Id", FieldType.ID, "", read_only=True),
            _field("Ref__c", label="Our ref", length=40, required=True, custom=True),
            Field("Paid", FieldType.FLAG, "", length=0),
        ]
    )
    assert fields.table(catalogue) == [
        ["Field", "Label", "Type", "Length", "Required", "Writable", "Origin"],
        ["Id", "", "id", "", "", "", "built-in"],
        ["Ref__c", "Our ref", "text", 40, "yes", "yes", "tenant"],
        ["Paid", "", "flag", 0, "", "yes", "built-in"],
    ]
