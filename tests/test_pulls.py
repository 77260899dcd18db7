"""core.roundtrip.pulls on its own: a pull's condition and Ids checked before anything is sent,
in words, the Ids not found, and where each invoice lands (the pulls themselves are in
test_pull.py)."""

from __future__ import annotations

import pytest

from bpxl.core.errors import ApiError, UsageError
from bpxl.core.roundtrip.pulls import (
    Places,
    check_condition,
    condition_refused,
    invoice_id,
    not_found,
    parse_ids,
    sheet_ids,
)

EXAMPLE = "e.g. BillingProfileId = 101 AND Status = 'Pending'"


def refused(text: str) -> UsageError:
    with pytest.raises(UsageError) as raised:
        check_condition(text)
    return raised.value


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("  Status = 'Pending' ; ", "Status = 'Pending'"),
        ("(Status = 'it''s' OR Id IN (1, 2)) AND DueDate >= '2026-01-01'", None),
        ("Amount <> 1.5", None),
        ("Description LIKE '%ORDER BY%'", None),  # words inside text are the user's
        ("NOT Disputed = 1", None),
        ("Region = MAX;", "Region = MAX"),
    ],
)
def test_a_condition_is_kept_as_the_user_wrote_it(text: str, kept: str | None) -> None:
    assert check_condition(text) == (kept or text)


@pytest.mark.parametrize("text", ["", "   ", " ; "])
def test_an_empty_condition_is_refused(text: str) -> None:
    error = refused(text)
    assert (error.message, error.hint) == (
        "The condition is empty.",
        f"Say which invoices to pull, {EXAMPLE}.",
    )


def test_text_without_its_closing_quote_is_named() -> None:
    error = refused("Status = 'Pending")
    assert error.message == (
        'In the condition "Status = \'Pending", the text starting "\'Pending" has no closing quote.'
    )
    assert error.hint == "Put text values in single quotes, e.g. Status = 'Pending'."
    long = refused("Status = 'Pending and more words than twenty").message
    assert 'the text starting "\'Pending and more wo" has' in long  # its first 20 characters
    assert 'text starting "\'"' in refused("Status = '").message


@pytest.mark.parametrize("word", ["ORDER", "offset", "FETCH", "Limit", "TOP"])
def test_paging_of_its_own_is_refused(word: str) -> None:
    error = refused(f"Status = 'Void' {word} 5")
    assert error.message == (
        f"The condition \"Status = 'Void' {word} 5\" has its own {word.upper()}: bpxl reads every "
        "matching invoice page by page itself, so a condition cannot order or page them."
    )
    assert error.hint == (
        "Leave out ORDER BY, OFFSET and FETCH; to pull fewer invoices, narrow the condition, "
        "e.g. add AND DueDate >= '2026-01-01'."
    )


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("SELECT Id FROM INVOICE", "SELECT"),
        ("Id = 1 union Id = 2", "union"),
        ("Id = 1; Id = 2", ";"),
        ("Id = 1 GROUP BY Id", "GROUP"),
        ("WHERE Id = 1", "WHERE"),
        ("Id = 1 HAVING x", "HAVING"),
        ("Id = 1 from x", "from"),
    ],
)
def test_a_statement_instead_of_a_condition_is_refused(text: str, token: str) -> None:
    error = refused(text)
    assert error.message == (
        f"The condition {text!r} contains {token}: give only the condition (what would follow "
        "WHERE)."
    )
    assert error.hint == "E.g. BillingProfileId = 101 AND Status = 'Pending'."


def test_brackets_must_match() -> None:
    assert refused("(Id = 1").message == "The condition '(Id = 1' opens a bracket it never closes."
    assert refused("Id = 1)").message == "The condition 'Id = 1)' closes a bracket it never opened."
    assert refused(")Id = 1(").message.endswith("closes a bracket it never opened.")
    assert refused("Id IN (").message == "The condition 'Id IN (' opens a bracket it never closes."
    assert refused("Id = 1)").hint is None


@pytest.mark.parametrize("first", ["AND", "or"])
def test_a_condition_starting_with_and_or_or_is_refused(first: str) -> None:
    error = refused(f"{first} Id = 1")
    assert error.message == (
        f"The condition '{first} Id = 1' starts with {first}: say what comes before it, or "
        "remove it."
    )


@pytest.mark.parametrize(
    "last", ["AND", "or", "Not", "IN", "LIKE", "is", "=", "<>", "!=", "<", ">", "<=", ">="]
)
def test_a_condition_ending_mid_way_is_refused(last: str) -> None:
    text = f"Id = 1 {last}"
    error = refused(text)
    assert error.message.startswith(f"The condition {text!r} ")
    assert error.message.endswith(f"ends with {last}: say what follows it, or remove it.")
    assert error.hint == "E.g. BillingProfileId = 101 AND Status = 'Pending'."


def test_a_condition_the_server_refused_is_the_users_to_fix() -> None:
    error = condition_refused(
        "Colour = 'red'",
        ApiError("BillingPlatform refused the query (HTTP 400: no field Colour)."),
    )
    assert error.message == (
        "BillingPlatform refused the condition \"Colour = 'red'\" (HTTP 400: no field Colour)."
    )
    assert error.hint == (
        f"Check the condition: field names as in the template, text in single quotes, {EXAMPLE}."
    )
    said = condition_refused("Box = 1", ApiError("BillingPlatform refused the query over BOX."))
    assert said.message == "BillingPlatform refused the condition 'Box = 1' over BOX."


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("1042", "1042"),
        (" 0042 ", "42"),
        ("9" * 19, "9" * 19),
        ("0" + "9" * 19, "9" * 19),
        ("1" * 20, None),
        ("²", None),
        ("٣", None),
        ("-1", None),
        ("1.0", None),
        ("", None),
    ],
)
def test_an_id_is_a_whole_number_of_ascii_digits(text: str, found: str | None) -> None:
    assert invoice_id(text) == found


def test_ids_are_read_each_once_and_a_bad_one_is_named() -> None:
    assert parse_ids(" 1042, 1043,,1042 , 0007") == ["1042", "1043", "7"]
    with pytest.raises(UsageError) as raised:
        parse_ids("1042, DRAFT-1, x")
    assert raised.value.message == "--ids: 'DRAFT-1' is not an invoice Id."
    assert raised.value.hint == (
        "Invoice Ids are whole numbers, separated by commas, e.g. --ids 1042,1043."
    )
    for empty in ("", " , ,"):
        with pytest.raises(UsageError) as raised:
            parse_ids(empty)
        assert raised.value.message == "--ids names no invoice."
        assert raised.value.hint == "Give Ids separated by commas, e.g. 1042,1043."


def test_a_sheets_ids_each_once_and_a_bad_cell_named_by_row_and_column() -> None:
    assert sheet_ids([(2, "1042"), (3, None), (4, " 1042"), (5, "7")], "Id") == ["1042", "7"]
    assert sheet_ids([], "Id") == []
    with pytest.raises(UsageError) as raised:
        sheet_ids([(2, "1042"), (3, "DRAFT")], "Invoice Id")
    assert raised.value.message == (
        "Row 3, column Invoice Id: 'DRAFT' is not an invoice Id, so the sheet's invoices cannot "
        "be refreshed."
    )
    assert raised.value.hint == "Correct or clear that cell, then pull again."


def test_the_ids_asked_for_and_not_brought_are_told_in_order() -> None:
    assert not_found(["3", "1", "2"], iter(["1"])) == ["3", "2"]
    assert not_found(None, ["1"]) == []
    assert not_found([], []) == []


def test_an_invoice_lands_in_its_rows_or_below_everything_used() -> None:
    places = Places([(2, "1042"), (3, None), (4, ""), (5, "1043"), (6, "1042")], last_used=9)
    assert places.of("1042") == [2, 6]  # held twice: both refreshed
    assert places.of("7") == [10] and places.of("8") == [11]
    assert places.of("7") == [10]  # asked again: the same row
    assert places.of("1043") == [5]
    assert (places.added, places.refreshed, places.last) == (2, 3, 11)
    assert Places([], last_used=1).of("5") == [2]
