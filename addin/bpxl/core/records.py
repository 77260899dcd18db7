"""Grid of cells -> records ready for ``brmObjects``, with per-row, per-column validation.

A pure function of the cell values: it knows nothing of Excel or HTTP. Each data row becomes a
``RowPlan``: either a record to send, or the errors that keep it from being sent. A bad row never
stops the others.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

from . import fields
from .cells import CLEAR, CellError, Converted, convert, is_blank
from .errors import UsageError
from .fields import Catalogue, Field, FieldType
from .results import Operation, Outcome

RESULT_HEADER = "Result"
MESSAGE_HEADER = "Message"
HEADER_SEARCH_ROWS = 20  # a title or notes may sit above the header row


@dataclass(frozen=True)
class Column:
    """A sheet column that names an INVOICE field."""

    index: int  # 0-based position in the grid
    header: str  # as the user wrote it: messages name the column this way
    field: Field


@dataclass(frozen=True)
class Resembling:
    """A user column whose header names no field but looks like one (``Catalogue.resembles``)."""

    index: int
    header: str
    field: Field


@dataclass(frozen=True)
class Layout:
    """What the header row says: which columns are fields, which are ours, which are the user's."""

    columns: tuple[Column, ...]
    user_headers: tuple[str, ...]
    result_index: int | None
    message_index: int | None
    catalogue: Catalogue = fields.BUILT_IN  # the fields the headers were matched against
    resembling: tuple[Resembling, ...] = ()  # user columns that look like a field

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.field.name == name), None)

    def ways(self, op: Operation, external_id: str) -> tuple[Way, ...]:
        """How each column's cells are planned in ``op`` (worked out once per sheet)."""
        ways = self._ways.get((op, external_id))
        if ways is None:
            ways = self._ways[(op, external_id)] = tuple(
                Way.of(c, op, external_id) for c in self.columns
            )
        return ways

    @functools.cached_property
    def _ways(self) -> dict[tuple[Operation, str], tuple[Way, ...]]:
        return {}

    @functools.cached_property
    def required(self) -> tuple[Field, ...]:
        """The fields a create must fill (``Catalogue.required``), looked up once per sheet."""
        return tuple(self.catalogue.required())


@functools.lru_cache(maxsize=16384)  # every column Excel has (A to XFD)
def column_letter(column: int) -> str:
    """A sheet column's letters, counting from 1 (1 -> A, 28 -> AB): for messages and formulas
    of both front ends and the sheet XML writer."""
    letters = ""
    while column > 0:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def find_header(
    rows: Iterable[Sequence[object]], catalogue: Catalogue = fields.BUILT_IN
) -> int | None:
    """The 1-based row (within the first rows) whose cells name at least one Invoice field."""
    for number, values in enumerate(rows, start=1):
        if number > HEADER_SEARCH_ROWS:
            return None
        if any(catalogue.lookup(v) is not None for v in values):
            return number
    return None


@dataclass(frozen=True)
class OwnColumns:
    """0-based columns for the Id, Result and Message a push writes, and the headers to add."""

    id: int | None
    result: int
    message: int
    added: tuple[tuple[int, str], ...]


def clear_of(merged: Iterable[tuple[int, int]], start: int, count: int = 1) -> int:
    """The first of ``count`` columns side by side, from ``start`` (0-based) on, that none of the
    ``merged`` ranges (first and last 0-based column of each) covers: a merged cell hides what
    is written under it."""
    for first, last in sorted(merged):
        if first < start + count and last >= start:
            start = last + 1
    return start


def own_columns(
    layout: Layout, width: int, need_id: bool, merged: Iterable[tuple[int, int]] = ()
) -> OwnColumns:
    """Where results go. Missing columns are added after the last used one (``width``) and clear
    of the ``merged`` ranges in the header row or below (see ``clear_of``): Result and Message
    always, Id only when a create has new Ids to write."""
    id_column = layout.column(fields.ID)
    wanted = [
        (fields.ID, None if id_column is None else id_column.index, need_id),
        (RESULT_HEADER, layout.result_index, True),
        (MESSAGE_HEADER, layout.message_index, True),
    ]
    start = clear_of(merged, width, sum(index is None and needed for _, index, needed in wanted))
    found: list[int | None] = []
    added: list[tuple[int, str]] = []
    for header, index, needed in wanted:
        if index is None and needed:
            index = start + len(added)
            added.append((index, header))
        found.append(index)
    id_index, result, message = found
    assert result is not None and message is not None
    return OwnColumns(id_index, result, message, tuple(added))


IGNORE_OPTION = "--ignore-columns"


def read_layout(
    header: Sequence[object], catalogue: Catalogue = fields.BUILT_IN, ignore: Iterable[str] = ()
) -> Layout:
    """Match headers to ``catalogue``'s fields (case- and space-insensitive; the tenant's labels
    too); a field named twice is an error. The headers named in ``ignore`` are the user's own
    columns, whatever they say; naming one the sheet does not have is an error."""
    columns: list[Column] = []
    user: list[str] = []
    resembling: list[Resembling] = []
    seen: dict[str, int] = {}
    ignored = {fields.header_key(name): name for name in ignore}
    result_index = message_index = None
    for index, cell in enumerate(header):
        if is_blank(cell):
            continue
        text = str(cell).strip()
        key = fields.header_key(text)
        if key == fields.header_key(RESULT_HEADER):
            result_index = index
            continue
        if key == fields.header_key(MESSAGE_HEADER):
            message_index = index
            continue
        if ignored.pop(key, None) is not None:  # the user's own, as they said
            user.append(text)
            continue
        found = catalogue.lookup(text)
        if found is None:
            user.append(text)
            like = catalogue.resembles(text)
            if like is not None:
                resembling.append(Resembling(index, text, like))
            continue
        if found.name in seen:
            first = column_letter(seen[found.name] + 1)
            raise UsageError(
                f"Columns {first} and {column_letter(index + 1)} both hold {found.name}.",
                "Rename or delete one of them, then run again. Nothing was sent.",
            )
        seen[found.name] = index
        columns.append(Column(index, text, found))
    if ignored:
        named = ", ".join(f'"{name}"' for name in ignored.values())
        raise UsageError(
            f"{IGNORE_OPTION} names {named}, which the header row does not have. Nothing was sent.",
            "Name the headers as the header row spells them, separated by commas, e.g. "
            f'{IGNORE_OPTION} "Due Dte,Billable".',
        )
    return Layout(
        tuple(columns), tuple(user), result_index, message_index, catalogue, tuple(resembling)
    )


Area = tuple[int, int, int, int]
"""Merged cells: first and last column (0-based, as in a grid) and first and last sheet row."""


def refuse_merged(layout: Layout, plans: Sequence[RowPlan], merged: Iterable[Area]) -> None:
    """Rows under merged cells of a field column are not sent: whatever Excel shows beside each
    row, a merged area holds one value, in its first cell, and the other rows would go without
    it. (Cells merged across one row's columns are a look, unless they join two field columns.)"""
    fields_at = {c.index: c for c in layout.columns}
    rows = {p.row: p for p in plans}
    for left, top, right, bottom in merged:
        covered = [fields_at[i] for i in range(left, right + 1) if i in fields_at]
        if not covered or (top == bottom and len(covered) < 2):
            continue
        first = f"{column_letter(left + 1)}{top}"
        area = f"{first}:{column_letter(right + 1)}{bottom}"
        said = (
            f"{covered[0].header}: cells {area} are merged, and merged cells hold one value (in "
            f"{first}) whatever Excel shows beside each row; unmerge them and fill each row"
        )
        for row in range(top, bottom + 1) if bottom - top < len(rows) else sorted(rows):
            if row in rows and top <= row <= bottom:
                rows[row].errors.append(said)


@dataclass
class RowPlan:
    """One data row after validation: a record to send, or errors; warnings ride along."""

    row: int  # the sheet row number the user sees
    record: dict[str, object] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    recheck: bool = False  # an earlier create of this row got no answer: look before sending
    unchecked: list[str] = field(default_factory=list)  # headers of values from an unknown list
    earlier_message: str = ""  # the Message of a row to recheck: it names what was sent

    @property
    def valid(self) -> bool:
        return not self.errors


def is_blank_row(layout: Layout, values: Sequence[object]) -> bool:
    """A row with no value in any field column is not a data row (user columns do not count)."""
    return all(is_blank(_cell(values, c.index)) for c in layout.columns)


def earlier_outcome(layout: Layout, values: Sequence[object]) -> Outcome | None:
    """The outcome the row's Result cell shows from an earlier push, if it shows one."""
    if layout.result_index is None:
        return None
    result = _cell(values, layout.result_index)
    if not isinstance(result, str):
        return None
    text = result.strip().casefold()
    return next((o for o in Outcome if o.value.casefold() == text), None)


def _cell(values: Sequence[object], index: int) -> object:
    return values[index] if index < len(values) else None


def plan_row(
    layout: Layout,
    row: int,
    values: Sequence[object],
    op: Operation,
    external_id: str,
    date1904: bool = False,
    known: Conversions | None = None,
) -> RowPlan:
    """Validate one row and build its record; every error names the column it is about.
    ``known``: the cells converted so far by a plan of many rows (see ``Conversions``)."""
    plan = RowPlan(row)
    refused: set[str] = set()  # fields whose cell had an error: not reported missing as well
    width = len(values)
    for way in layout.ways(op, external_id):
        column = way.column
        value = values[column.index] if column.index < width else None
        if is_blank(value):
            continue
        name = column.field.name
        if way.out is not None:
            _keep_out(way, value, plan, refused)
            continue
        try:
            converted = _checked(column.field, value, date1904, known)
        except CellError as problem:
            plan.errors.append(f"{column.header}: {problem}")
            refused.add(name)
            continue
        if way.is_key and converted.value == "":
            plan.errors.append(f"{column.header}: #NULL cannot clear {name}; it identifies the row")
            refused.add(name)
            continue
        plan.record[name] = converted.value
        if way.unchecked:
            plan.unchecked.append(column.header)  # counted in the summary line too
        if converted.warning:
            plan.warnings.append(f"{column.header}: {converted.warning}")
    _require_keys(layout, plan, op, external_id, refused)
    if op is Operation.CREATE:
        _require_fields(layout, plan, refused)
    return plan


@dataclass(frozen=True)
class Way:
    """How a column's non-blank cells are planned in one operation, worked out once per sheet:
    converted and sent, or kept out (``out``: why, see ``_keep_out``)."""

    column: Column
    is_key: bool  # the column identifies the row (Id for an update, the upsert's key)
    out: str | None  # None: sent; else "has Id", "Id column", "read-only" or "not writable"
    unchecked: bool  # a list field whose values bpxl does not know: BillingPlatform checks them

    @staticmethod
    def of(column: Column, op: Operation, external_id: str) -> Way:
        field = column.field
        is_key = field.name == external_id or (field.name == fields.ID and op is Operation.UPDATE)
        out = None
        if field.name == fields.ID and op is Operation.CREATE:
            out = "has Id"
        elif field.name == fields.ID and op is Operation.UPSERT and not is_key:
            out = "Id column"
        elif field.read_only and not is_key:
            out = "read-only"
        elif not field.api_writable and not is_key:
            out = "not writable"
        unchecked = field.type is FieldType.PICKLIST and not field.picklist
        return Way(column, is_key, out, unchecked)


def _keep_out(way: Way, value: object, plan: RowPlan, refused: set[str]) -> None:
    """A non-blank cell of a column whose values are not sent: an error, a warning or nothing."""
    column = way.column
    if way.out == "has Id":
        plan.errors.append(
            f"{column.header}: leave Id blank to create (this row already has Id "
            f"{str(value).strip()}; use update to change that invoice)"
        )
    elif way.out == "read-only":
        plan.warnings.append(f"{column.header}: is set by BillingPlatform and was not sent")
    elif way.out == "not writable":
        plan.errors.append(
            f"{column.header}: your BillingPlatform tenant does not let the API write "
            f"{column.field.name}; empty the cell (or delete the column) and change it in "
            "BillingPlatform"
        )
        refused.add(column.field.name)
    # "Id column": an upsert keyed on another field; the Id column is where bpxl writes the Id


Conversions = dict[tuple[str, type, Hashable], Converted | CellError]
"""Cells converted while planning many rows, by field and value: a column holds the same few
values over and over (a profile, a status, a period, a date), each converted and checked once."""

_LIMIT = 100_000  # values kept per plan: a column of unique values stops adding to it


def _checked(field: Field, value: object, date1904: bool, known: Conversions | None) -> Converted:
    """``value`` converted for ``field`` and checked against its limits, or ``CellError``.
    Kept in ``known`` only for kinds whose equal values convert alike: not -0.0 and 0.0, nor
    datetimes of different time zones (1, 1.0 and True are told apart by their type)."""
    kind = type(value)
    if known is None or not (
        kind in _SAME_KINDS
        or (kind is float and value)
        or (kind is dt.datetime and value.tzinfo is None)  # type: ignore[attr-defined]
    ):
        return _convert_checked(field, value, date1904)
    key = (field.name, kind, value)
    found = known.get(key)
    if found is None:
        try:
            found = _convert_checked(field, value, date1904)
        except CellError as problem:
            found = problem
        if len(known) < _LIMIT:
            known[key] = found
    if isinstance(found, CellError):
        raise CellError(*found.args)
    return found


_SAME_KINDS = frozenset({str, bool, int, dt.date})


def _convert_checked(field: Field, value: object, date1904: bool) -> Converted:
    converted = convert(field, value, date1904)
    _check_length(field, converted.value)
    _check_range(field, converted.value)
    return converted


def _check_range(field: Field, value: object) -> None:
    """A whole number or Id outside what the API takes (``fields.RANGES``) is refused here."""
    bounds = fields.RANGES.get(field.type)
    if bounds is None or value in ("", None):
        return
    try:
        number = int(str(value))
    except ValueError:
        return  # not a number: the conversion already said so
    low, high = bounds
    if not low <= number <= high:
        digits = str(abs(number))
        shown = f"a number of {len(digits)} digits" if len(digits) > 20 else str(number)
        raise CellError(
            f"{shown} is outside what BillingPlatform takes here ({low:,} to {high:,}); "
            "check the cell"
        )


def _check_length(field: Field, value: object) -> None:
    """Text longer than the tenant's limit for the field is refused before it is sent."""
    if field.length is not None and isinstance(value, str) and len(value) > field.length:
        extra = len(value) - field.length
        raise CellError(
            f"{len(value)} characters is longer than the {field.length} this field takes; "
            f"shorten it by {extra} character{'' if extra == 1 else 's'}"
        )


def _require_fields(layout: Layout, plan: RowPlan, refused: set[str]) -> None:
    """The fields the tenant requires on every new invoice; each missing one is an error."""
    for wanted in layout.required:
        if wanted.name in refused or plan.record.get(wanted.name, CLEAR) != CLEAR:
            continue
        column = layout.column(wanted.name)
        if column is None:
            plan.errors.append(
                f"{wanted.name}: your tenant requires it on every new invoice; add a "
                f"{wanted.name} column and fill it in"
            )
        else:
            plan.errors.append(
                f"{column.header}: your tenant requires it on every new invoice; fill it in"
            )


def _require_keys(
    layout: Layout, plan: RowPlan, op: Operation, external_id: str, refused: set[str]
) -> None:
    """Each operation's minimum: update needs Id, upsert its key, create one writable field."""
    if op is Operation.CREATE:
        if not plan.record and not plan.errors:
            plan.errors.append(
                "Nothing to create; fill at least one invoice field (e.g. BillingProfileId)"
            )
        return
    key = fields.ID if op is Operation.UPDATE else external_id
    column = layout.column(key)
    if column is None:
        return  # the sheet has no such column: reported once for the sheet, see check_layout
    if key not in plan.record and key not in refused:
        plan.errors.append(f"{column.header}: required to {op.value}; fill in the invoice's {key}")


def check_layout(
    layout: Layout, op: Operation, external_id: str, check_headers: bool = True
) -> None:
    """Refuse a sheet that cannot work for ``op`` before any row is looked at: among others, one
    with a header that looks like a field but names none (its values would silently stay
    behind), unless not ``check_headers``."""
    if layout.resembling and check_headers:
        said = "; ".join(
            f'column {column_letter(r.index + 1)} "{r.header}" looks like {r.field.name}'
            for r in layout.resembling
        )
        headers = ",".join(r.header for r in layout.resembling)
        raise UsageError(
            f"Some headers name no Invoice field but look like one, so their values would not "
            f"be sent: {said}. Nothing was sent.",
            f"Rename each header to the field it means (e.g. {layout.resembling[0].field.name}); "
            f'or, if the columns are your own, send without them: {IGNORE_OPTION} "{headers}" '
            f'(in Excel: put "My " before each such header, e.g. '
            f'"My {layout.resembling[0].header}").',
        )
    if not layout.columns:
        raise UsageError(
            "No column header names an Invoice field.",
            "Put the field names (e.g. Id, BillingProfileId, DueDate) in the header row; "
            "`bpxl template` writes a ready sheet.",
        )
    field = layout.catalogue.by_name.get(external_id)
    if op is Operation.UPSERT and field is None:
        raise UsageError(
            f"--external-id {external_id} is not an Invoice field.",
            "Name the field that identifies each invoice, e.g. --external-id Id.",
        )
    key = fields.ID if op is Operation.UPDATE else external_id
    if op is not Operation.CREATE and layout.column(key) is None:
        article = "an" if key[:1].lower() in "aeiou" else "a"  # "an Id column", "a FileName column"
        raise UsageError(
            f"The sheet has no {key} column, which {op.value} needs on every row.",
            f"Add {article} {key} column with each invoice's {key}.",
        )


def plan_rows(
    layout: Layout,
    rows: Iterable[tuple[int, Sequence[object]]],
    op: Operation,
    external_id: str = fields.ID,
    date1904: bool = False,
) -> tuple[list[RowPlan], list[int]]:
    """Plans for the non-blank rows, and the rows skipped because a create already sent them.

    A create's marks are sticky: a create skips rows whose Result is Created, and marks rows whose
    Result is Unknown (valid or not, edited or not) for a look on the server before anything is
    sent. Updates and upserts leave alone the rows a create marked Created or Unknown and that have
    no Id: only a create, which looks first, may settle them.
    """
    plans: list[RowPlan] = []
    skipped: list[int] = []
    known: Conversions = {}
    id_column = layout.column(fields.ID)
    for row, values in rows:
        if is_blank_row(layout, values):
            continue
        earlier = earlier_outcome(layout, values)
        if op is Operation.CREATE and earlier is Outcome.CREATED:
            skipped.append(row)
            continue
        if (
            op is not Operation.CREATE
            and earlier in (Outcome.CREATED, Outcome.UNKNOWN)
            and (id_column is None or is_blank(_cell(values, id_column.index)))
        ):
            skipped.append(row)
            continue
        if op is Operation.CREATE and earlier is Outcome.EXISTS and id_column is not None:
            # The Id bpxl wrote there names the invoice found, not one this row made: the row is
            # checked again (and created with --create-anyway).
            values = [*values[: id_column.index], None, *values[id_column.index + 1 :]]
        plan = plan_row(layout, row, values, op, external_id, date1904, known)
        if op is Operation.CREATE and earlier is Outcome.UNKNOWN:
            plan.recheck = True
            if layout.message_index is not None:
                plan.earlier_message = str(_cell(values, layout.message_index) or "")
        plans.append(plan)
    return plans, skipped
