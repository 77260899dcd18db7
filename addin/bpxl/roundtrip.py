"""The round trip: invoices pulled into a sheet, what the user changed since, and conflicts.

A pull remembers, per invoice Id, the values it wrote and the server's ``Updated`` stamp. Later,
"send changed" compares each row with what was pulled (by Id, so sorting does not matter) and sends
only the rows with edits, each reduced to its Id and the changed fields: a minimal update. Before
sending, one query per 500 rows reads the server's current stamps; a row changed on the server since
the pull is a ``Conflict`` and is not sent, unless the user chooses to overwrite.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from . import fields
from .cells import NULL_SENTINEL, CellError, convert, is_blank
from .client import Client
from .fields import Catalogue, Field, FieldType
from .push import Grid
from .records import Layout

UPDATED = "Updated"
IN_CHUNK = 500  # Ids per query
MEMORY_SHEET = "_bpxl_pulled"  # very hidden: what was pulled, per Id
STAMP_HEADER = "Updated (as pulled)"  # the memory's column of server stamps


@dataclass(frozen=True)
class Pulled:
    """What a pull wrote for one invoice: its cells by field name, and the server's stamp."""

    updated: str
    values: Mapping[str, object]


@dataclass(frozen=True)
class Replaced:
    """One field a send changed: its value before (as sent: text or a number), and the server's
    stamp right after."""

    invoice: str
    field: str
    before: object
    stamp_after: str


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
    record: Mapping[str, object], names: Sequence[str], catalogue: Catalogue = fields.BUILT_IN
) -> tuple[str, Pulled]:
    """One pulled invoice as cells by field name (its Id, and what to remember): every field asked
    for, an empty or missing one as None, so that a refresh blanks a cell emptied on the server."""
    invoice = id_text(record.get(fields.ID))
    known = catalogue.by_name
    values = {
        name: invoice if name == fields.ID else to_cell(known.get(name), record.get(name))
        for name in names
    }
    return invoice, Pulled(id_text(record.get(UPDATED)), values)


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


def query(client: Client, names: Sequence[str], where: str | None = None,
          ids: Sequence[str] | None = None) -> Iterator[dict[str, object]]:  # fmt: skip
    """Invoices by a where clause or by Ids (chunked), with Id, Updated and ``names``."""
    select = ", ".join(dict.fromkeys([fields.ID, UPDATED, *names]))
    base = f"SELECT {select} FROM {fields.ENTITY}"
    if ids is None:
        # In brackets, so that the user's condition cannot reach into the paging bpxl adds.
        yield from client.query(f"{base} WHERE ({where})" if where else base)
        return
    for start in range(0, len(ids), IN_CHUNK):
        chunk = ", ".join(f"'{i}'" for i in ids[start : start + IN_CHUNK] if i.isdigit())
        if chunk:
            yield from client.query(f"{base} WHERE {fields.ID} IN ({chunk})")


def same(field: Field, a: object, b: object) -> bool:
    """Whether two cells hold the same value for ``field`` (as they would be sent)."""
    if is_blank(a) or is_blank(b):
        return is_blank(a) and is_blank(b)
    try:
        return convert(field, a).value == convert(field, b).value
    except CellError:
        return a == b


def row_id(layout: Layout, values: Sequence[object]) -> str | None:
    column = layout.column(fields.ID)
    if column is None or column.index >= len(values) or is_blank(values[column.index]):
        return None
    return id_text(values[column.index])


@dataclass
class Changes:
    """The rows with edits, reduced to Id and changed cells, and what changed in each."""

    grid: Grid
    fields: dict[int, list[str]]  # sheet row -> changed field names
    ids: dict[int, str]  # sheet row -> invoice Id


def changes(grid: Grid, layout: Layout, pulled: Mapping[str, Pulled]) -> Changes:
    """Compare each pulled row with what was pulled; a cell emptied since is sent as #NULL."""
    id_column = layout.column(fields.ID)
    rows: list[tuple[int, list[object]]] = []
    changed: dict[int, list[str]] = {}
    ids: dict[int, str] = {}
    for row, values in grid.rows:
        invoice = row_id(layout, values)
        if invoice is None or invoice not in pulled or id_column is None:
            continue
        reduced: list[object] = [None] * len(values)
        reduced[id_column.index] = values[id_column.index]
        names = []
        for column in layout.columns:
            if column.field.read_only or column.index >= len(values):
                continue
            now, then = values[column.index], pulled[invoice].values.get(column.field.name)
            if not same(column.field, now, then):
                reduced[column.index] = NULL_SENTINEL if is_blank(now) else now
                names.append(column.field.name)
        if names:
            rows.append((row, reduced))
            changed[row] = names
            ids[row] = invoice
    return Changes(Grid(grid.header, rows, grid.date1904), changed, ids)


def conflicts(client: Client, expected: Mapping[str, str]) -> dict[str, str]:
    """Invoice Id -> a message, for invoices whose server stamp is no longer ``expected``."""
    found: dict[str, str] = {}
    seen: set[str] = set()
    for record in query(client, ["UpdatedUserId"], ids=list(expected)):
        invoice = str(record.get(fields.ID))
        seen.add(invoice)
        stamp = str(record.get(UPDATED) or "")
        if stamp != expected[invoice]:
            who = record.get("UpdatedUserId")
            by = f" by user {who}" if who not in (None, "") else ""
            found[invoice] = (
                f"Invoice {invoice} was changed in BillingPlatform{by} at {stamp} since it "
                "was pulled, so it was not sent; pull it again (bpxl pull --ids-from-sheet) or "
                "send with --overwrite"
            )
    for invoice in expected:
        if invoice not in seen:
            found[invoice] = (
                f"Invoice {invoice} is no longer in BillingPlatform (deleted, or not "
                "visible to you), so it was not sent"
            )
    return found


def stamps(client: Client, ids: Iterable[str]) -> dict[str, str]:
    """The server's current Updated stamp of each invoice."""
    return {
        str(r.get(fields.ID)): str(r.get(UPDATED) or "") for r in query(client, [], ids=list(ids))
    }


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


def changed_formula(id_letter: str, letter: str, first_row: int, memory: str) -> str:
    """The conditional format that marks a cell edited since the pull: it differs from the
    remembered value of the same column, found by the row's Id (so sorting changes nothing)."""
    return (
        f'AND(${id_letter}{first_row}<>"",IFERROR({letter}{first_row}&""<>INDEX(\'{memory}\'!'
        f"{letter}:{letter},MATCH(${id_letter}{first_row}&\"\",'{memory}'!${id_letter}:"
        f'${id_letter},0))&"",FALSE))'
    )
