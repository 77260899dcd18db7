"""A row's result as the sheet shows it: the status words, the Message cell's notes and length,
and the one-line summary (its counts in their fixed order)."""

from __future__ import annotations

from bpxl.core.inert import MAX_CELL_TEXT
from bpxl.core.results import (
    MESSAGE_PART,
    MESSAGE_SEPARATOR,
    SUCCESS,
    Operation,
    Outcome,
    RecordResult,
    RowResult,
    summary,
)


def test_the_status_words_are_the_contract() -> None:
    assert [o.value for o in Outcome] == [
        "Created",
        "Updated",
        "Upserted",
        "Invalid",
        "Failed",
        "Unknown",
        "Conflict",
        "Changed",
        "Exists",
    ]
    assert [op.value for op in Operation] == ["create", "update", "upsert"]
    assert [o for o in Outcome if o.ok] == [Outcome.CREATED, Outcome.UPDATED, Outcome.UPSERTED]
    assert SUCCESS[Operation.UPDATE] is Outcome.UPDATED


def test_a_record_result_says_nothing_more_than_given() -> None:
    plain = RecordResult(Outcome.FAILED)
    assert (plain.id, plain.messages, plain.split, plain.created) == (None, (), False, None)
    # Whether an upsert made its record is not part of its identity.
    assert RecordResult(Outcome.UPSERTED, "7", created=True) == RecordResult(
        Outcome.UPSERTED, "7", created=False
    )
    assert RowResult(3, Outcome.INVALID).messages == [] and RowResult(3, None).id is None


def test_only_a_created_or_existing_row_with_an_id_names_its_invoice() -> None:
    assert RowResult(2, Outcome.CREATED, "10").names_invoice
    assert RowResult(2, Outcome.EXISTS, "10").names_invoice
    assert not RowResult(2, Outcome.CREATED).names_invoice
    assert not RowResult(2, Outcome.UPDATED, "10").names_invoice
    assert not RowResult(2, None, "10").names_invoice


def test_notes_are_joined_with_a_bar() -> None:
    row = RowResult(2, Outcome.FAILED, messages=["Due date: not a date; fix it", "Amount: text"])
    assert MESSAGE_SEPARATOR == " | "
    assert row.message == "Due date: not a date; fix it | Amount: text"
    assert RowResult(2, Outcome.CREATED, "1").message == ""


def test_a_long_note_keeps_its_start_and_its_end() -> None:
    fits = "a" * MESSAGE_PART
    assert RowResult(2, Outcome.FAILED, messages=[fits]).message == fits
    long = "S" * 700 + "m" * 1000 + "E" * 199
    cut = RowResult(2, Outcome.FAILED, messages=[long + "x"]).message
    # The first 700 characters, a mark, the last 199: 900 in all.
    assert cut == "S" * 700 + "…" + "E" * 198 + "x"
    assert len(cut) == MESSAGE_PART


def test_a_message_longer_than_a_cell_is_cut_to_fit_one() -> None:
    notes = ["n" * MESSAGE_PART] * 40  # 40 notes of 900 with 39 bars: more than a cell
    text = RowResult(2, Outcome.FAILED, messages=notes).message
    assert len(text) == MAX_CELL_TEXT and text.endswith("n…")
    whole = ["n" * MESSAGE_PART] * 35  # 31,602 characters: whole
    assert RowResult(2, Outcome.FAILED, messages=whole).message == " | ".join(whole)


def test_a_message_exactly_a_cell_long_is_kept_whole() -> None:
    notes = ["n" * MESSAGE_PART] * 36 + ["x" * (MAX_CELL_TEXT - 36 * (MESSAGE_PART + 3))]
    text = RowResult(2, Outcome.FAILED, messages=notes).message
    assert len(text) == MAX_CELL_TEXT and text.endswith("x")


def test_a_message_is_made_safe_for_a_cell() -> None:
    row = RowResult(2, Outcome.FAILED, messages=["bad\x00byte"])
    assert "\x00" not in row.message and row.message.startswith("bad")


def test_the_summary_counts_in_a_fixed_order() -> None:
    rows = [
        RowResult(1, Outcome.UNKNOWN),
        RowResult(2, Outcome.FAILED),
        RowResult(3, Outcome.CREATED, "1"),
        RowResult(4, Outcome.CONFLICT),
        RowResult(5, Outcome.CREATED, "2"),
        RowResult(6, Outcome.EXISTS, "3"),
    ]
    assert summary(rows, Operation.CREATE) == (
        "6 rows: 2 created, 0 invalid, 1 failed, 1 unknown, 1 conflict, 1 exists"
    )
    assert (
        summary(rows[:1], Operation.UPSERT) == "1 row: 0 upserted, 0 invalid, 0 failed, 1 unknown"
    )
    # An update's summary leaves out the creates it has none of, never its own count.
    assert summary([], Operation.UPDATE) == "0 rows: 0 updated, 0 invalid, 0 failed"
    many = [RowResult(i, Outcome.UPDATED, str(i)) for i in range(1_234)]
    assert summary(many, Operation.UPDATE) == "1,234 rows: 1,234 updated, 0 invalid, 0 failed"


def test_the_summary_says_what_was_skipped_and_how_to_create_it_again() -> None:
    line = summary([RowResult(1, Outcome.CREATED, "1")], Operation.CREATE, skipped=1_500)
    assert line == (
        "1 row: 1 created, 0 invalid, 0 failed (1,500 skipped: already Created; to create one "
        "again, clear its Id and Result and push with --create-anyway)"
    )
