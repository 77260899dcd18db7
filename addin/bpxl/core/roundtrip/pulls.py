"""What a pull asks for and where each invoice lands, the same for the command line and the ribbon.

Before anything is sent, the Ids and the user's condition are checked, so that a typo is named
instead of dropped or answered with a complaint about bpxl's own paging. After the query, each
invoice goes into the rows that already hold its Id (a refresh) or into a new row below the last
used row: never into a draft (a row without an Id) or another invoice's row, so a pull cannot cost
the user a row they typed. The Ids asked for and not found are told, not silently left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ..errors import ApiError, UsageError

# Words that belong to the query around the condition, not in it: bpxl pages through the result
# itself (OFFSET ... FETCH), so a condition that brings its own paging or order would break it.
_PAGING = {"ORDER", "OFFSET", "FETCH", "LIMIT", "TOP"}
_STATEMENT = {"SELECT", "FROM", "WHERE", "UNION", "GROUP", "HAVING"}
_DANGLING = {"AND", "OR", "NOT", "IN", "LIKE", "IS", "=", "<>", "!=", "<", ">", "<=", ">="}
_TOKEN = re.compile(r"'(?:[^']|'')*'?|[A-Za-z_][A-Za-z0-9_.]*|\d+(?:\.\d+)?|<>|!=|<=|>=|\S")
_EXAMPLE = "e.g. BillingProfileId = 101 AND Status = 'Pending'"


def check_condition(text: str) -> str:
    """The user's condition, trimmed, or a UsageError that says what is wrong with it."""
    condition = text.strip().rstrip(";").strip()
    if not condition:
        raise UsageError("The condition is empty.", f"Say which invoices to pull, {_EXAMPLE}.")
    tokens = _TOKEN.findall(condition)
    depth = 0
    for token in tokens:
        word = token.upper()
        if token.startswith("'") and (len(token) == 1 or not token.endswith("'")):
            raise UsageError(
                f"In the condition {condition!r}, the text starting {token[:20]!r} has no closing "
                "quote.",
                "Put text values in single quotes, e.g. Status = 'Pending'.",
            )
        if word in _PAGING:
            raise UsageError(
                f"The condition {condition!r} has its own {word}: bpxl reads every matching "
                "invoice page by page itself, so a condition cannot order or page them.",
                "Leave out ORDER BY, OFFSET and FETCH; to pull fewer invoices, narrow the "
                "condition, e.g. add AND DueDate >= '2026-01-01'.",
            )
        if word in _STATEMENT or token == ";":
            raise UsageError(
                f"The condition {condition!r} contains {token}: give only the condition (what "
                "would follow WHERE).",
                _EXAMPLE[0].upper() + _EXAMPLE[1:] + ".",
            )
        depth += {"(": 1, ")": -1}.get(token, 0)
        if depth < 0:
            raise UsageError(f"The condition {condition!r} closes a bracket it never opened.")
    if depth > 0:
        raise UsageError(f"The condition {condition!r} opens a bracket it never closes.")
    first, last = tokens[0].upper(), tokens[-1].upper()
    if first in ("AND", "OR"):
        raise UsageError(
            f"The condition {condition!r} starts with {tokens[0]}: say what comes before it, or "
            "remove it."
        )
    if last in _DANGLING:
        raise UsageError(
            f"The condition {condition!r} ends with {tokens[-1]}: say what follows it, or remove "
            "it.",
            _EXAMPLE[0].upper() + _EXAMPLE[1:] + ".",
        )
    return condition


def condition_refused(condition: str, refused: ApiError) -> UsageError:
    """The server refused the user's condition: say so about the condition, which is theirs to
    fix (the query around it is bpxl's)."""
    said = refused.message.removeprefix("BillingPlatform refused the query ").rstrip(".")
    return UsageError(
        f"BillingPlatform refused the condition {condition!r} {said}.",
        f"Check the condition: field names as in the template, text in single quotes, {_EXAMPLE}.",
    )


def invoice_id(text: str) -> str | None:
    """An Id as BillingPlatform knows it (a whole number of ASCII digits, at most 19 of them
    without leading zeros), or None: ``²`` or ``٣`` is a digit to Python, not an Id."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text.lstrip("0")) > 19:
        return None
    return str(int(text))


def parse_ids(text: str) -> list[str]:
    """``"1042, 1043"`` -> the Ids, each once; an entry that is not an Id is named in an error."""
    ids: list[str] = []
    for entry in text.split(","):
        if not entry.strip():
            continue
        invoice = invoice_id(entry)
        if invoice is None:
            raise UsageError(
                f"--ids: {entry.strip()!r} is not an invoice Id.",
                "Invoice Ids are whole numbers, separated by commas, e.g. --ids 1042,1043.",
            )
        ids.append(invoice)
    if not ids:
        raise UsageError("--ids names no invoice.", "Give Ids separated by commas, e.g. 1042,1043.")
    return list(dict.fromkeys(ids))


def sheet_ids(rows: Iterable[tuple[int, str | None]], id_header: str) -> list[str]:
    """The Ids of a sheet's rows, each once; a cell that is not an Id is named (row and column)."""
    ids: list[str] = []
    for row, text in rows:
        if text is None:
            continue
        invoice = invoice_id(text)
        if invoice is None:
            raise UsageError(
                f"Row {row}, column {id_header}: {text!r} is not an invoice Id, so the sheet's "
                "invoices cannot be refreshed.",
                "Correct or clear that cell, then pull again.",
            )
        ids.append(invoice)
    return list(dict.fromkeys(ids))


def not_found(asked: Sequence[str] | None, got: Iterable[str]) -> list[str]:
    """The Ids asked for that the pull did not bring (deleted, or not visible to the user)."""
    if asked is None:
        return []
    found = set(got)
    return [i for i in asked if i not in found]


class Places:
    """Where pulled invoices go: the rows that already hold each Id, else the next row below
    everything used. A row without an Id (a draft) or with another Id is never handed out."""

    def __init__(self, ids: Iterable[tuple[int, str | None]], last_used: int) -> None:
        self.rows: dict[str, list[int]] = {}
        for row, invoice in ids:
            if invoice:
                self.rows.setdefault(invoice, []).append(row)
        self.last = last_used
        self.added = self.refreshed = 0

    def of(self, invoice: str) -> list[int]:
        """The rows to write ``invoice`` into (a sheet may hold it twice: both are refreshed)."""
        rows = self.rows.get(invoice)
        if rows is not None:
            self.refreshed += 1
            return rows
        self.last += 1
        self.added += 1
        self.rows[invoice] = [self.last]
        return [self.last]
