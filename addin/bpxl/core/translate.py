"""Other systems' headers and date formats, read as Invoice fields: ``--map`` and ``--date-format``.

Why: an export from another system names its columns its own way (``Due Dte``) and writes dates
as text in its own order (``31/07/2024``). Rather than have the user edit the file, a push reads
it through a translation: headers renamed to the fields they hold, and text in date columns read
in the format given, for the whole column. Everything is done to the grid before it is planned,
so the rest of the push does not know; the file itself is never changed, and the summary says
what was translated. ``bpxl recover`` takes the same options, so it reads the file as the push
read it and finds its rows again.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .cells import Unreadable
from .errors import UsageError
from .fields import Catalogue, FieldType, header_key
from .push import Grid
from .results import plural

_TOKENS = {"YYYY": "%Y", "YY": "%y", "MM": "%m", "M": "%m", "DD": "%d", "D": "%d"}
_FORMAT = re.compile(r"(YYYY|YY|MM|M|DD|D)|([/.\- ])|(.)")
_ISO = re.compile(r"\d{4}-\d\d-\d\d")


@dataclass(frozen=True)
class Translation:
    renames: tuple[tuple[str, str], ...] = ()  # (header as the user wrote it, field name)
    date_format: str | None = None  # as the user wrote it, e.g. DD/MM/YYYY
    # A CSV separated by ';' comes from Excel where the decimal mark is a comma: 1.234,56
    decimal_comma: bool = False

    @property
    def empty(self) -> bool:
        return not self.renames and self.date_format is None and not self.decimal_comma

    def options(self) -> list[str]:
        """The command-line options that give this translation (for a suggested command)."""
        words = []
        for header, name in self.renames:
            words += ["--map", f"{header}={name}"]
        if self.date_format:
            words += ["--date-format", self.date_format]
        return words


def parse(
    maps: Sequence[str],
    date_format: str | None,
    catalogue: Catalogue,
    decimal_comma: bool = False,
) -> Translation:
    """``--map "Due Dte=DueDate"`` (repeatable) and ``--date-format DD/MM/YYYY``, checked;
    ``decimal_comma`` for a file written where the decimal mark is a comma."""
    renames = []
    for spec in maps:
        header, equals, name = spec.partition("=")
        field = catalogue.lookup(name.strip())
        if not equals or not header.strip() or field is None:
            raise UsageError(
                f'--map "{spec}": write it as "Your header=FieldName", with an Invoice field on '
                "the right"
                + (f" ({name.strip()!r} is not one)" if field is None and name.strip() else "")
                + ".",
                '`bpxl fields` lists the field names, e.g. --map "Due Dte=DueDate".',
            )
        renames.append((header.strip(), field.name))
    if date_format is not None:
        _strptime_format(date_format)  # checked now, before anything is read
    return Translation(tuple(renames), date_format, decimal_comma)


def _strptime_format(spec: str) -> str:
    """``DD/MM/YYYY`` -> ``%d/%m/%Y``; a format without a day, a month and a year is refused."""
    out, seen = [], []
    for token, separator, other in _FORMAT.findall(spec.upper()):
        if other:
            break
        out.append(_TOKENS[token] if token else separator)
        seen += [_TOKENS[token]] if token else []
    else:
        if sorted(seen) in (["%Y", "%d", "%m"], ["%d", "%m", "%y"]):
            return "".join(out)
    raise UsageError(
        f"--date-format {spec}: write the day, month and year as DD, MM and YYYY (or YY), "
        "separated by /, ., - or a space.",
        "e.g. --date-format DD/MM/YYYY, --date-format MM-DD-YYYY, --date-format D.M.YY",
    )


def apply(grid: Grid, translation: Translation, catalogue: Catalogue) -> tuple[Grid, list[str]]:
    """The grid as the push reads it, and one line per translation for the summary."""
    if translation.empty:
        return grid, []
    header = list(grid.header)
    notes = []
    keys = [header_key(h) if isinstance(h, str) else None for h in header]
    for wanted, name in translation.renames:
        if header_key(wanted) not in keys:
            shown = ", ".join(repr(h) for h in header if isinstance(h, str) and h.strip())
            raise UsageError(
                f'--map "{wanted}={name}": there is no column {wanted!r}. Nothing was sent.',
                f"The columns are: {shown}.",
            )
        index = keys.index(header_key(wanted))
        header[index] = name
        notes.append(f"Column {wanted!r} read as {name} (--map).")
    rows, every = grid.rows, grid.sheet_rows
    if translation.date_format:
        rows, note = _read_dates(header, rows, translation.date_format, catalogue)
        notes.append(note)
        if every is not None:  # the rows not sent, read alike (create keys count them)
            every = _read_dates(header, every, translation.date_format, catalogue)[0]
    if translation.decimal_comma:
        rows, commas = _read_decimal_commas(header, rows, catalogue)
        notes += [commas] if commas else []
        if every is not None:
            every = _read_decimal_commas(header, every, catalogue)[0]
    return Grid(header, rows, grid.date1904, sheet_rows=every), notes


_DECIMAL_COMMA = re.compile(r"[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?")
Rows = list[tuple[int, Sequence[object]]]


def _read_column_text(
    header: list[object],
    rows: Sequence[tuple[int, Sequence[object]]],
    catalogue: Catalogue,
    kind: FieldType,
    read: Callable[[str], object | None],
) -> tuple[Rows, list[str], int]:
    """Each text cell of the columns of fields of ``kind`` through ``read`` (None: left as it
    is); returns the rows, the columns' headers and how many cells were read."""
    columns = [
        i
        for i, h in enumerate(header)
        if (field := catalogue.lookup(h)) is not None and field.type is kind
    ]
    count = 0
    out: Rows = []
    for number, values in rows:
        changed = list(values)
        for index in columns:
            value = changed[index] if index < len(changed) else None
            if isinstance(value, str) and value.strip():
                made = read(value)
                if made is not None:
                    changed[index] = made
                    count += not isinstance(made, Unreadable)
        out.append((number, changed))
    return out, [str(header[i]) for i in columns], count


def _read_decimal_commas(
    header: list[object], rows: Sequence[tuple[int, Sequence[object]]], catalogue: Catalogue
) -> tuple[Rows, str | None]:
    """Text in decimal columns written with a decimal comma (``1.234,56``, ``12,5``) read as the
    number it is (``1234.56``); other text is left for the cell check to judge."""

    def read(text: str) -> str | None:
        if "," in text and _DECIMAL_COMMA.fullmatch(text.strip()):
            return text.strip().replace(".", "").replace(",", ".")
        return None

    out, names, count = _read_column_text(header, rows, catalogue, FieldType.DECIMAL, read)
    if not count:
        return out, None
    return (
        out,
        f"Decimal commas read as decimal points (a CSV separated by ';'): "
        f"{plural(count, 'cell')} in {', '.join(names)}.",
    )


def _read_dates(
    header: list[object],
    rows: Sequence[tuple[int, Sequence[object]]],
    spec: str,
    catalogue: Catalogue,
) -> tuple[Rows, str]:
    """Text in the date columns read as ``spec``: each cell becomes the ISO date, or (text that
    does not match, other than an ISO date) a cell refused with a reason naming the format."""
    pattern = _strptime_format(spec)

    def read(text: str) -> object | None:
        if _ISO.fullmatch(text.strip()):
            return None
        try:
            return dt.datetime.strptime(text.strip(), pattern).date().isoformat()
        except ValueError:
            return Unreadable(
                f'"{text}" is not a date in the format {spec} given with --date-format'
            )

    out, names, count = _read_column_text(header, rows, catalogue, FieldType.DATE, read)
    shown = ", ".join(names) or "no date column"
    return out, f"Dates read as {spec} (--date-format): {plural(count, 'cell')} in {shown}."
