"""What a pull remembers of each invoice, and how a server value looks in a cell.

A pull remembers, per invoice Id, the values it wrote and the server's ``Updated`` stamp, in a very
hidden sheet of the workbook (``MEMORY_SHEET``) that both front ends lay out the same way, so a
workbook can go back and forth between the ribbon and the command line. Each front end reads and
writes that sheet; what its rows mean lives here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from .. import fields
from ..fields import Catalogue, Field, FieldType
from ..inert import inert

UPDATED = "Updated"
MEMORY_SHEET = "_bpxl_pulled"  # very hidden: what was pulled, per Id
STAMP_HEADER = "Updated (as pulled)"  # the memory's column of server stamps
EXACT_DIGITS = 15  # an Id of more digits than Excel keeps exactly is written as text


@dataclass(frozen=True)
class Pulled:
    """What a pull wrote for one invoice: its cells by field name, and the server's stamp;
    ``notes`` (for the row's Message) name the values a cell could not hold as the server does."""

    updated: str
    values: Mapping[str, object]
    notes: tuple[str, ...] = ()


def to_cell(field: Field | None, value: object) -> object:
    """A server value as a typed cell: dates as dates, flags as TRUE/FALSE, Ids as text."""
    if value is None or value == "":
        return None
    text = str(value)
    kind = field.type if field else FieldType.TEXT
    try:
        if kind is FieldType.DATE:
            return dt.date.fromisoformat(text[:10])
        if kind is FieldType.DATETIME:
            return dt.datetime.fromisoformat(text.replace("Z", "")[:19])
        if kind is FieldType.FLAG:
            return {"1": True, "true": True, "0": False, "false": False}.get(text.lower(), text)
        if kind is FieldType.INTEGER:
            return int(text)
        if kind is FieldType.DECIMAL:
            number = float(text)
            return int(number) if number.is_integer() else number
    except ValueError:
        return text  # not what we expected: show it as the server sent it
    return text


def pulled(
    record: Mapping[str, object],
    names: Sequence[str],
    catalogue: Catalogue = fields.BUILT_IN,
    numbers: Collection[str] = (),
) -> tuple[str, Pulled]:
    """One pulled invoice as cells by field name (its Id, and what to remember): every field asked
    for, an empty or missing one as None, so that a refresh blanks a cell emptied on the server.
    Text is made inert (``core.inert``), with a note for the row; the Id-type fields in
    ``numbers`` (their column holds numbers, see ``number_columns``) are written as numbers."""
    invoice = id_text(record.get(fields.ID))
    known = catalogue.by_name
    notes: list[str] = []
    values = {}
    for name in names:
        value = to_cell(known.get(name), invoice if name == fields.ID else record.get(name))
        values[name] = _written(name, value, notes, name in numbers)
    return invoice, Pulled(id_text(record.get(UPDATED)), values, tuple(notes))


def extra_cells(unknown: Mapping[str, object]) -> tuple[dict[str, object], list[str]]:
    """The cells of fields the catalogue does not know (kept in extra columns), made inert, and
    the notes for the row."""
    notes: list[str] = []
    return {k: _written(k, to_cell(None, v), notes) for k, v in unknown.items()}, notes


def _written(name: str, value: object, notes: list[str], number: bool = False) -> object:
    """A cell as a pull writes it: text inert, with a note in ``notes``; an Id as a number when
    asked and Excel keeps it exactly."""
    if not isinstance(value, str):
        return value
    if number and value.isascii() and value.isdigit() and len(value) <= EXACT_DIGITS:
        return int(value)
    made = inert(value)
    if made.note:
        notes.append(f"{name}: {made.note}")
    return made.value


def number_columns(
    columns: Mapping[str, int], rows: Iterable[Sequence[object]], catalogue: Catalogue
) -> set[str]:
    """The Id-type fields whose column (0-based ``columns``) holds more numbers than text in
    ``rows``: a pull writes their Ids as numbers, like the user's own beside them."""
    counts = {name: 0 for name in columns if _is_id(catalogue.by_name.get(name))}
    for values in rows:
        for name in counts:
            index = columns[name]
            value = values[index] if index < len(values) else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                counts[name] += 1
            elif isinstance(value, str) and value.strip():
                counts[name] -= 1
    return {name for name, count in counts.items() if count > 0}


def _is_id(field: Field | None) -> bool:
    return field is not None and field.type is FieldType.ID


class Unknown:
    """The fields of pulled records that the catalogue does not know (kept in extra columns).
    Each key is looked up once: a pull of 100,000 invoices repeats the same few dozen keys."""

    def __init__(self, catalogue: Catalogue = fields.BUILT_IN) -> None:
        self.catalogue = catalogue
        self.seen: dict[str, bool] = {}

    def __call__(self, record: Mapping[str, object]) -> dict[str, object]:
        return {key: value for key, value in record.items() if self._unknown(key)}

    def _unknown(self, key: str) -> bool:
        found = self.seen.get(key)
        if found is None:
            found = self.seen[key] = self.catalogue.lookup(key) is None
        return found


def id_text(value: object) -> str:
    """An Id cell as text: Excel hands whole numbers over as floats (1042.0)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value).strip()


def pulled_from(rows: Iterable[Sequence[object]]) -> dict[str, Pulled]:
    """The memory of a pull, from its sheet's rows (header first): Id -> what was pulled."""
    rows = iter(rows)
    header = [str(h) if h is not None else "" for h in next(rows, ())]
    if fields.ID not in header or STAMP_HEADER not in header:
        return {}
    id_index, stamp = header.index(fields.ID), header.index(STAMP_HEADER)
    found = {}
    for values in rows:
        if id_index < len(values) and values[id_index] not in (None, ""):
            named = {  # the memory's headers are field names (custom ones too), and the stamp
                h: v for h, v in zip(header, values, strict=False) if h and h != STAMP_HEADER
            }
            found[id_text(values[id_index])] = Pulled(id_text(values[stamp]), named)
    return found
