"""Cell value -> JSON value for one field, and the reverse for display.

Cells arrive as openpyxl and xlwings deliver them: ``str``, ``int``, ``float``, ``bool``,
``datetime``, ``date``, ``time`` or ``None``. Conversion is strict on purpose: a value that is not
clearly what the field takes is refused with a message the accountant can act on, rather than
guessed at and sent. Messages here do not name the column; the caller puts the column header first.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .fields import Field, FieldType

NULL_SENTINEL = "#NULL"
"""Typed in a cell to clear the field on the server (a blank cell leaves it unchanged)."""

CLEAR = ""
"""What the API takes to clear a field (api-notes: clients send an empty string)."""

# What Excel shows in a cell whose formula failed; openpyxl reads them as text. "#NULL!" is one of
# them, not to be confused with our sentinel "#NULL".
EXCEL_ERRORS = frozenset(
    [
        "#N/A",
        "#VALUE!",
        "#REF!",
        "#DIV/0!",
        "#NUM!",
        "#NAME?",
        "#NULL!",
        "#SPILL!",
        "#CALC!",
        "#FIELD!",
        "#BLOCKED!",
        "#CONNECT!",
        "#BUSY!",
        "#UNKNOWN!",
        "#GETTING_DATA",
        "#PYTHON!",
    ]
)

EXCEL_EPOCH = dt.date(1899, 12, 30)
EXCEL_1904_EPOCH = dt.date(1904, 1, 1)
EXCEL_1904_OFFSET = 1462  # days from the 1900 system's serials to the 1904 system's
MAX_EXCEL_SERIAL = 2958465  # 9999-12-31
MAX_EXACT_FLOAT = 2**53  # above this Excel's doubles cannot hold every whole number

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?Z?")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})

JsonValue = str | int | float


class CellError(ValueError):
    """A cell value the field cannot take; the message says why and what to type instead."""


@dataclass(frozen=True)
class Converted:
    """A converted cell: the JSON value to send, and a warning to show with the row's result."""

    value: JsonValue
    warning: str | None = None


@dataclass(frozen=True)
class Unreadable:
    """A cell whose value cannot be known as Excel shows it; sending it is refused with
    ``reason``. Front ends put one in the grid instead of guessing (a blank would leave the field
    out and the row would succeed without it)."""

    reason: str


NO_SAVED_VALUE = Unreadable(
    "the formula has no saved value (the file was written by a program that does not calculate "
    "formulas); open and save the workbook in Excel, or type the value"
)
PHANTOM_DATE = Unreadable(
    "shows 29 February 1900, a day that never was (Excel counts it for old Lotus files); type "
    "the date you mean"
)
TRIMMED = "spaces before or after the text were removed"
EXCEL_DIGITS = 15  # Excel shows (and keeps) 15 significant digits


def is_blank(value: object) -> bool:
    """Blank cells and whitespace-only text leave a field out of the record."""
    return value is None or (isinstance(value, str) and not value.strip())


SHOWN_TEXT = 80  # characters of a cell quoted in a message


def show(value: object) -> str:
    """A cell value as the user would recognise it in a message."""
    if isinstance(value, str):
        if len(value) > SHOWN_TEXT:  # a whole pasted page would bury the message
            return f'"{value[: SHOWN_TEXT - 20]}…" ({len(value):,} characters)'
        return f'"{value}"'
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return f"{value:.15g}"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def convert(field: Field, value: object, date1904: bool = False) -> Converted:
    """Convert a non-blank cell for a writable ``field``; raise ``CellError`` if it cannot be.

    ``#NULL`` (any case) clears the field; an Excel error value is refused. Text is trimmed of
    spaces before and after it, with a note when that changes a text field's value.
    ``date1904``: the workbook counts dates from 1904 (Excel's Mac option), for plain numbers in
    a date column.
    """
    if isinstance(value, Unreadable):
        raise CellError(value.reason)
    trimmed = False
    if isinstance(value, str):
        stripped = value.strip()
        trimmed = stripped != value
        value = stripped
        if value.upper() == NULL_SENTINEL:
            return Converted(CLEAR)
        if value.upper() in EXCEL_ERRORS:
            raise CellError(f"the cell shows the Excel error {value}; fix the cell or its formula")
    if date1904 and field.type is FieldType.DATE and _is_number(value):
        _refuse_non_finite(float(value))  # type: ignore[arg-type]
        return Converted(_excel_serial_date(float(value), date1904).isoformat())  # type: ignore[arg-type]
    converted = _CONVERTERS[field.type](field, value)
    if trimmed and field.type in (FieldType.TEXT, FieldType.PICKLIST):
        warning = "; ".join(w for w in (TRIMMED, converted.warning) if w)
        return Converted(converted.value, warning)
    return converted


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def excel_number_text(value: int | float) -> str:
    """A number as Excel shows it in a cell of General format: at most 15 significant digits, no
    binary noise (0.1 + 0.2 shows 0.3). Raises ``CellError`` when Excel itself would show an
    exponent (1E+308), since no plain text is what the user sees."""
    if isinstance(value, float):
        _refuse_non_finite(value)
    if value == 0:
        return "0"
    shown = Decimal(f"{value:.{EXCEL_DIGITS}g}")
    if abs(shown) >= Decimal(10) ** EXCEL_DIGITS or abs(shown) < Decimal("1E-9"):
        raise CellError(
            f"Excel shows {show(value)} with an exponent, not as the text you mean; type it as "
            "text (start with an apostrophe: ') or format the column as Text"
        )
    text = format(shown.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _number_text(value: object) -> Decimal | None:
    """Numeric text as a finite Decimal, or None when it is not a number."""
    if not isinstance(value, str) or "_" in value:  # Decimal takes "1_000"; Excel does not
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _refuse_non_finite(value: float) -> None:
    if not math.isfinite(value):
        raise CellError(f"{show(value)} is not a number; type a number")


def _to_id(field: Field, value: object) -> Converted:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise CellError(f"{show(value)} is not an Id; type the Id's digits (e.g. 1042)")
    if isinstance(value, float):
        _refuse_non_finite(value)
        if abs(value) > MAX_EXACT_FLOAT:
            raise CellError(
                f"Id {show(value)} was rounded by Excel; format the column as Text and type the "
                "Id again"
            )
        if not value.is_integer():
            raise CellError(f"{show(value)} is not an Id (Ids are whole numbers)")
        value = int(value)
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()):
            raise CellError(f"{show(value)} is not an Id; use digits only (e.g. 1042)")
        value = int(value)
    if value <= 0:
        raise CellError(f"{show(value)} is not an Id (Ids are positive whole numbers)")
    return Converted(str(value))


def _excel_serial_date(value: float, date1904: bool = False) -> dt.date:
    """An Excel date serial as a date. In the 1900 system Excel counts a 1900-02-29 that never
    was (serial 60): refused, not shifted."""
    if not value.is_integer():
        raise CellError(f"{show(value)} has a time of day; this column takes a date only")
    serial = int(value)
    if date1904:
        if not 0 <= serial <= MAX_EXCEL_SERIAL - EXCEL_1904_OFFSET:
            raise CellError(f"{show(value)} is not a date (use YYYY-MM-DD or an Excel date)")
        return EXCEL_1904_EPOCH + dt.timedelta(days=serial)
    if serial == 60:
        raise CellError(PHANTOM_DATE.reason)
    if not 1 <= serial <= MAX_EXCEL_SERIAL:
        raise CellError(f"{show(value)} is not a date (use YYYY-MM-DD or an Excel date)")
    offset = serial if serial > 60 else serial + 1
    return EXCEL_EPOCH + dt.timedelta(days=offset)


def _to_date(field: Field, value: object) -> Converted:
    # datetime is a subclass of date: test it first.
    if isinstance(value, dt.datetime):
        if value.time() != dt.time(0):
            raise CellError(f"{show(value)} has a time of day; this column takes a date only")
        return Converted(value.date().isoformat())
    if isinstance(value, dt.date):
        return Converted(value.isoformat())
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return Converted(dt.date.fromisoformat(value).isoformat())
        except ValueError:
            pass  # e.g. 2024-02-30: reported below like any other non-date
    if isinstance(value, int | float) and not isinstance(value, bool):
        _refuse_non_finite(float(value))
        return Converted(_excel_serial_date(float(value)).isoformat())
    if isinstance(value, dt.time):
        raise CellError(f"{show(value)} is a time of day, not a date (use YYYY-MM-DD)")
    raise CellError(f"{show(value)} is not a date (use YYYY-MM-DD or an Excel date)")


def _to_datetime(field: Field, value: object) -> Converted:
    if isinstance(value, dt.datetime):
        return Converted(value.replace(tzinfo=None).isoformat(timespec="seconds"))
    if isinstance(value, dt.date):
        return Converted(dt.datetime.combine(value, dt.time(0)).isoformat())
    if isinstance(value, str) and _ISO_DATETIME.fullmatch(value):
        try:
            parsed = dt.datetime.fromisoformat(value.removesuffix("Z"))
        except ValueError:
            pass
        else:
            return Converted(parsed.isoformat(timespec="seconds"))
    raise CellError(f"{show(value)} is not a date and time (use YYYY-MM-DD HH:MM:SS)")


def _to_flag(field: Field, value: object) -> Converted:
    if isinstance(value, bool):
        return Converted("1" if value else "0")
    if isinstance(value, int | float) and value in (0, 1):
        return Converted("1" if value == 1 else "0")
    if isinstance(value, str):
        word = value.casefold()
        if word in _TRUE:
            return Converted("1")
        if word in _FALSE:
            return Converted("0")
    raise CellError(f"{show(value)} is not a flag; use TRUE/FALSE, 1/0 or yes/no")


def _to_integer(field: Field, value: object) -> Converted:
    number: int | float | Decimal | None
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if number is None:
        number = _number_text(value)
    if number is None:
        raise CellError(f"{show(value)} is not a whole number")
    if isinstance(number, float):
        _refuse_non_finite(number)
    if number != int(number):
        raise CellError(f"{show(value)} is not a whole number")
    return Converted(int(number))


def _to_decimal(field: Field, value: object) -> Converted:
    if isinstance(value, int | float) and not isinstance(value, bool):
        _refuse_non_finite(float(value))
        return Converted(value)
    number = _number_text(value)
    if number is None:
        raise CellError(f"{show(value)} is not a number")
    return Converted(int(number) if number == int(number) else float(number))


def _to_text(field: Field, value: object) -> Converted:
    if isinstance(value, str):
        return Converted(value)
    if isinstance(value, bool):
        return Converted("TRUE" if value else "FALSE")
    if isinstance(value, int | float):
        return Converted(excel_number_text(value))
    if isinstance(value, dt.date | dt.time):
        return Converted(value.isoformat())
    raise CellError(f"{show(value)} cannot be sent as text")


UNCHECKED = "bpxl does not know the values your tenant allows here; BillingPlatform checks it"


def _to_picklist(field: Field, value: object) -> Converted:
    """A value from the field's list, in the list's spelling; a value outside a known list is
    refused with the nearest one; where the list is not known, the value goes with a note."""
    text = str(_to_text(field, value).value)
    for known in field.picklist:
        if known.casefold() == text.casefold():
            return Converted(known)
    if not field.picklist:
        return Converted(text, warning=f"{show(text)}: {UNCHECKED}")
    nearest = min(field.picklist, key=lambda known: _unlike(text, known))
    raise CellError(
        f"{show(text)} is not a {field.name} value; did you mean {show(nearest)}? "
        f"({field.name} takes {', '.join(field.picklist)})"
    )


def _unlike(text: str, known: str) -> float:
    """How far ``text`` is from ``known`` (0: the same), case aside."""
    return 1 - difflib.SequenceMatcher(None, text.casefold(), known.casefold()).ratio()


_CONVERTERS: dict[FieldType, Callable[[Field, object], Converted]] = {
    FieldType.ID: _to_id,
    FieldType.DATE: _to_date,
    FieldType.DATETIME: _to_datetime,
    FieldType.FLAG: _to_flag,
    FieldType.INTEGER: _to_integer,
    FieldType.DECIMAL: _to_decimal,
    FieldType.PICKLIST: _to_picklist,
    FieldType.TEXT: _to_text,
}
