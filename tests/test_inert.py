"""core.inert: what any text bpxl writes into a cell becomes (the writers' tests are in
test_wysiwyg.py)."""

from __future__ import annotations

import pytest

from bpxl.core.inert import MAX_CELL_TEXT, REPLACEMENT, clean, for_csv, for_excel, inert


@pytest.mark.parametrize(
    "text", ['=HYPERLINK("http://evil.example/pay","x.pdf")', "+1", "-2", "@SUM(A1)", "a\tb\r\nc"]
)
def test_text_a_cell_can_hold_is_kept_exactly(text: str) -> None:
    assert inert(text).value == text and inert(text).note is None


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\x1f", "\x0b", "\ud800", "\udfff", "\uffff"])
def test_control_characters_and_lone_surrogates_are_replaced_with_a_note(bad: str) -> None:
    made = inert(f"a{bad}b{bad}")
    assert made.value == f"a{REPLACEMENT}b{REPLACEMENT}"
    assert made.note is not None and made.note.startswith("2 control characters")
    assert made.value.encode("utf-8")  # UTF-8 can hold it now
    assert "1 control character " in (inert(bad).note or "")


def test_the_note_of_replaced_characters_says_what_to_do_in_words() -> None:
    assert inert("a\x00b").note == (
        "1 control character or broken character that a cell cannot hold was shown as "
        f"{REPLACEMENT}; sending this cell would send it so: correct the text first"
    )
    assert inert("\x00\x01\x02").note == (
        "3 control characters or broken characters that a cell cannot hold were shown as "
        f"{REPLACEMENT}; sending this cell would send it so: correct the text first"
    )


def test_text_longer_than_a_cell_is_not_written_and_says_so() -> None:
    assert inert("x" * MAX_CELL_TEXT) == inert("x" * MAX_CELL_TEXT)
    assert inert("x" * MAX_CELL_TEXT).value == "x" * MAX_CELL_TEXT
    too_long = inert("x" * (MAX_CELL_TEXT + 1))
    assert too_long.value is None
    assert too_long.note == (
        "BillingPlatform holds 32,768 characters, more than an Excel cell holds (32,767), so the "
        "cell was left empty; read or change it in BillingPlatform"
    )


def test_bpxl_own_words_are_always_written_cut_to_a_cell() -> None:
    long = clean("y" * 40_000 + "\x01")
    assert len(long) == MAX_CELL_TEXT and long.endswith("(cut: too long for a cell)")
    assert clean("a\x01") == f"a{REPLACEMENT}" and clean("=1") == "=1"
    assert clean("z" * MAX_CELL_TEXT) == "z" * MAX_CELL_TEXT  # a full cell is not cut


def test_excel_range_writes_get_excel_text_prefix() -> None:
    assert for_excel("=1+1") == "'=1+1" and for_excel("'quoted") == "''quoted"
    assert for_excel("00123") == "'00123"


@pytest.mark.parametrize(
    ("text", "written"),
    [("\tcmd", "'\tcmd"), ("\r=1", "'\r=1"), ("-x", "'-x"), ("X+1", "X+1"), ("Xray", "Xray")],
)
def test_csv_text_starting_with_a_tab_a_return_or_a_sign_gets_the_text_mark(
    text: str, written: str
) -> None:
    assert for_csv(text) == written  # the formula-like cases are in test_csv_and_translate.py
