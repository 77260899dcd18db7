"""One spelling per value, so that a row and an invoice the server echoes compare as equal.

Looking up a lost create, looking for a second invoice, and looking for an invoice someone already
made all compare what a row sent with what a server's query answers hold, and a server may spell
the same value otherwise than bpxl sent it: text in another Unicode normal form (NFD for NFC),
Windows line ends, trailing spaces; a flag as ``Yes``, ``true``, ``Y`` or ``1``; a number as
``1``, ``1.0`` or ``"1"``; a date as a date-time at midnight. A value bpxl missed would make a
stored invoice look absent, and the row would be created twice; so every comparison goes through
``values_key`` here, and nowhere else.
"""

from __future__ import annotations

import datetime as dt
import decimal
import unicodedata
from collections.abc import Iterable, Mapping

from . import fields
from .fields import Catalogue, Field, FieldType

_TRUE = {"1", "true", "yes", "y", "t", "on"}
_FALSE = {"0", "false", "no", "n", "f", "off"}
_NUMBERS = (FieldType.INTEGER, FieldType.DECIMAL, FieldType.ID)

ValuesKey = tuple[tuple[str, str], ...]


def values_key(
    record: Mapping[str, object], catalogue: Catalogue, names: Iterable[str] | None = None
) -> ValuesKey:
    """The record's values (``names``, default all of its own; Id aside) as one spelling each."""
    names = sorted(record) if names is None else names
    return tuple(
        (name, comparable(catalogue.by_name.get(name), record.get(name)))
        for name in names
        if name != fields.ID
    )


def comparable(field: Field | None, value: object) -> str:
    """One spelling of ``value`` as a ``field`` holds it (None: a field bpxl does not know,
    compared as text)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "1" if value else "0"
    text = unicodedata.normalize("NFC", str(value)).replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n")).strip()
    kind = field.type if field else FieldType.TEXT
    if kind is FieldType.DATE:
        return text[:10]
    if kind is FieldType.DATETIME:
        return _instant(text)
    if kind is FieldType.FLAG:
        word = text.lower()
        if word.endswith(".0"):
            word = word[:-2]
        return "1" if word in _TRUE else "0" if word in _FALSE else text
    if kind in _NUMBERS and text:
        try:
            return format(decimal.Decimal(text).normalize(), "f")
        except decimal.InvalidOperation:
            return text
    return text


def _instant(text: str) -> str:
    """A date-time as UTC to the second, whatever offset or fraction the server writes."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return text[:19]
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
