"""Text bpxl writes into a cell, made inert: it shows what the server holds and never acts.

Text from a server (a pulled field, an error message quoted in Message) is written into the user's
workbook, where a leading ``=``, ``+``, ``-`` or ``@`` would make a live formula
(``=HYPERLINK("http://evil.example/pay","x.pdf")``), a control character or a lone surrogate makes
the file unwritable or unreadable, and text longer than a cell holds is cut by Excel when it saves,
so that the next push would send the cut text back. ``inert`` is the one place that decides what
such text becomes; every writer of both front ends calls it (the .xlsx writers through
``pull_memory`` and their own cell writers, the ribbon through ``for_excel``).

How a leading ``=`` is kept literal depends on the writer:

- an .xlsx file's string cell (``t="inlineStr"``, ``t="s"``, or openpyxl's data type ``s``) is
  text in the file format: Excel shows it as typed and never evaluates it. The .xlsx writers write
  every text as a string cell, so the text itself is not changed;
- a value put into a live Excel range (xlwings ``Range.value``) is read by Excel as if typed:
  ``=...`` becomes a formula, ``00123`` a number, ``1/2`` a date. Excel's own convention for "this
  is text" is a leading apostrophe, which it keeps out of the value (``Range.PrefixCharacter``):
  ``for_excel`` adds one to every text.

What is replaced: C0 control characters other than tab, line feed and carriage return, which
XML 1.0 cannot hold, the two non-characters U+FFFE and U+FFFF, and lone surrogates (JSON may
carry them as ``\\ud800``; UTF-8 cannot). Each becomes U+FFFD, the replacement character, and
the row's Message says how many were replaced. Text over ``MAX_CELL_TEXT`` characters is not
written at all (the cell is left empty, so a push leaves the field alone) and the row says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CELL_TEXT = 32_767  # Excel's limit on the characters of one cell
REPLACEMENT = "\ufffd"
EXCEL_TEXT_PREFIX = "'"  # Excel's "this is text" mark, not part of the value
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Text:
    """Text as it may go into a cell: ``value`` (None: too long, leave the cell empty) and a
    ``note`` for the row's Message when it is not exactly the text given."""

    value: str | None
    note: str | None = None


def inert(text: str) -> Text:
    """``text`` as a cell may hold it (see the module docstring). The note does not name the
    column: the caller puts the column's header first, as for every row message."""
    cleaned, replaced = _UNSAFE.subn(REPLACEMENT, text)
    if len(cleaned) > MAX_CELL_TEXT:
        return Text(
            None,
            f"BillingPlatform holds {len(cleaned):,} characters, more than an Excel cell holds "
            f"({MAX_CELL_TEXT:,}), so the cell was left empty; read or change it in "
            "BillingPlatform",
        )
    if replaced:
        plural = "s" if replaced > 1 else ""
        return Text(
            cleaned,
            f"{replaced} control character{plural} or broken character{plural} that a cell "
            f"cannot hold {'were' if plural else 'was'} shown as {REPLACEMENT}; sending this "
            "cell would send it so: correct the text first",
        )
    return Text(cleaned)


def clean(text: str) -> str:
    """``text`` for a cell bpxl writes for itself (a Message, a header): unsafe characters
    replaced and cut to what a cell holds, with a mark where it was cut. Never None: bpxl's own
    words are always written."""
    cleaned = _UNSAFE.sub(REPLACEMENT, text)
    if len(cleaned) > MAX_CELL_TEXT:
        cut = " … (cut: too long for a cell)"
        cleaned = cleaned[: MAX_CELL_TEXT - len(cut)] + cut
    return cleaned


def for_excel(text: str) -> str:
    """Text (as ``inert`` or ``clean`` made it) to put into a live Excel range so that Excel
    keeps it as text: with Excel's leading apostrophe, which Excel keeps out of the cell's value.
    Every text gets it, not only a formula-like one: Excel would also turn ``00123`` into 123,
    ``1-2`` into a date, and a text that starts with an apostrophe would lose it."""
    return EXCEL_TEXT_PREFIX + text


_NUMBER = re.compile(r"[+-]?(\d[\d,.]*)?\d(E[+-]?\d+)?%?", re.IGNORECASE)


def for_csv(text: str) -> str:
    """``text`` for a CSV file a spreadsheet will open, where every field is read as if typed:
    a leading ``=``, ``+``, ``-``, ``@``, tab or carriage return gets an apostrophe in front, so
    that it shows as text and never runs as a formula. Numbers (``-12.50``) are left as they are."""
    if text[:1] in ("=", "@", "\t", "\r") or (
        text[:1] in "+-" and text and not _NUMBER.fullmatch(text)
    ):
        return EXCEL_TEXT_PREFIX + text
    return text
