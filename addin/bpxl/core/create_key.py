"""The create key: one name for a row's invoice that every copy of the workbook gives it.

A copy taken before a push (a colleague's, a backup, an e-mail attachment) holds the same rows but
none of the Ids the push wrote back, so nothing written into the sheet can tell that its rows were
already created. What the row holds can: the key is a digest of the values a create sends, each
spelled one way (text in Unicode NFC with ``\\n`` line ends and no spaces around it, numbers
without trailing zeros, fields left blank or cleared left out), so the same row gives the same key
on any computer, in any copy, whatever its row number.

Two rows holding the same values in one sheet are two invoices, not one: the n-th of them from
the top gets ``n`` in its key (every row of the sheet counts, sent or not: hidden rows, rows
left out by --rows). A new row put above identical ones created before takes the first one's
key: the push then finds that key's invoice in another row of the sheet (its Id is there), so it
is not this row's, and the row is created (``push``). The ledger (``ledger``) and key-field mode
(``push``) use the key; the README says in plain words what makes two rows the same invoice.
"""

from __future__ import annotations

import decimal
import hashlib
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence, Set

from . import fields
from .cells import CLEAR
from .records import Layout, is_blank_row, plan_row
from .results import Operation

DIGEST_CHARS = 32  # hex characters of the digest: 128 bits
LONGEST = 40  # digest, a dash and an occurrence of up to 7 digits (Excel's 1,048,576 rows)
PATTERN = re.compile(r"[0-9a-f]{32}-[1-9][0-9]{0,6}")


def spelled(value: object) -> str:
    """A sent value spelled one way: what two copies of one row hold alike."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float | decimal.Decimal):
        return format(decimal.Decimal(str(value)).normalize(), "f")  # 1.50 and 1.5, 100 and 1E+2
    text = unicodedata.normalize("NFC", str(value))
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def digest(record: Mapping[str, object], leave_out: Iterable[str] = ()) -> str:
    """The digest of what a create of ``record`` sends (without the fields ``leave_out``)."""
    return _digest(record, {fields.ID, *leave_out}, {})


def _digest(record: Mapping[str, object], skipped: Set[str], texts: dict[str, str]) -> str:
    """``digest``, with ``texts``: text values spelled so far, for many records (a column
    repeats its values)."""
    kept = sorted(
        (name, _spelled(value, texts))
        for name, value in record.items()
        if name not in skipped and value not in (None, CLEAR)
    )
    text = json.dumps(kept, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:DIGEST_CHARS]


def _spelled(value: object, texts: dict[str, str]) -> str:
    if type(value) is not str:  # equal texts are alike; 1, 1.0, -0.0 not
        return spelled(value)
    if value not in texts:
        texts[value] = spelled(value)
    return texts[value]


def keys(
    layout: Layout,
    rows: Sequence[tuple[int, Sequence[object]]],
    records: Mapping[int, Mapping[str, object]] | None = None,
    date1904: bool = False,
    leave_out: Iterable[str] = (),
) -> dict[int, str]:
    """Each data row's create key, from every row of the sheet (``rows``: all of them, not only
    those sent, so that a row's number among its identical rows is the same in every send).
    ``records`` are records a create already built for some rows (the others are built here);
    ``leave_out`` names fields that are not the row's values (the key field itself)."""
    records = records or {}
    skipped = {fields.ID, *leave_out}
    seen: Counter[str] = Counter()
    numbered: dict[int, str] = {}
    texts: dict[str, str] = {}
    for row, values in sorted(rows):  # by row number: each is in ``rows`` once
        if is_blank_row(layout, values):
            continue
        record = records.get(row)
        if record is None:
            record = plan_row(layout, row, values, Operation.CREATE, fields.ID, date1904).record
        found = _digest(record, skipped, texts)
        seen[found] += 1
        numbered[row] = f"{found}-{seen[found]}"
    return numbered
