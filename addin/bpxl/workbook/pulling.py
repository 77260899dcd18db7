"""The round trip in .xlsx files (openpyxl): pulled invoices into the sheet, the hidden sheet that
remembers what was pulled, the marks on changed cells, and the values a push replaced.

``_bpxl_pulled`` (very hidden, protected) holds one row per pulled invoice, keyed on Id: the
server's Updated stamp and the values as pulled, in the invoice sheet's column order. A conditional
format on each field column compares the cell with it (INDEX/MATCH on the Id), so an edited cell
turns amber at once in Excel, and sorting or filtering the sheet changes nothing. It
holds no secret. What a push replaced, for ``bpxl revert``, is kept by ``revert_memory``.
"""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import Cell
from openpyxl.drawing.image import PILImage
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from .. import template
from ..core import fields
from ..core.errors import UsageError
from ..core.fields import Catalogue
from ..core.records import MESSAGE_HEADER, RESULT_HEADER, clear_of, find_header
from ..core.results import RowResult
from ..core.roundtrip import pull_memory
from ..core.roundtrip.edits import changed_formula
from ..core.roundtrip.pull_memory import STAMP_HEADER, Pulled, id_text, pulled_from
from ..core.roundtrip.pulls import Places
from . import reading, saving, sheet_io, sheet_xml

PULLED = pull_memory.MEMORY_SHEET
CHANGED = PatternFill(bgColor="FFFFEB9C")  # amber, as Excel's "neutral" style


@dataclass(frozen=True)
class PullReport:
    sheet: str
    added: int
    refreshed: int
    extra: list[str]  # fields bpxl does not know, kept in extra columns
    ids: set[str]  # the invoices pulled
    noted: int = 0  # rows whose Message says what a cell could not hold as the server does
    kept: int = 0  # rows whose unsent edits the refresh kept
    conflicts: int = 0  # of those, rows whose edited field changed on the server too


def _invoice_sheet(
    book: Workbook, name: str | None, catalogue: Catalogue, names: Sequence[str]
) -> tuple[Worksheet, int]:
    if name is not None and name in book.sheetnames:
        sheet = book[name]
    elif name is not None:
        sheet = book.create_sheet(name)
        sheet.append([*names, RESULT_HEADER, MESSAGE_HEADER])
    else:
        sheet = next(
            (
                s
                for s in book.worksheets
                if s.sheet_state == "visible"
                and find_header(s.iter_rows(values_only=True), catalogue) is not None
            ),
            None,
        )
        if sheet is None:
            raise UsageError(
                "The workbook has no invoice sheet to pull into.",
                "Name one to create with --sheet NAME, or pull into a new file.",
            )
    header = find_header(sheet.iter_rows(values_only=True), catalogue)  # reads the first rows
    if header is None:
        raise UsageError(f"Sheet {sheet.title!r} has no header row naming Invoice fields.")
    return sheet, header


def _last_used(sheet: Worksheet, header_row: int) -> int:
    """The last row holding any value (rows below it may be formatted, but are free)."""
    for row in range(sheet.max_row, header_row, -1):
        if any(c.value is not None for c in sheet[row]):
            return row
    return header_row


# What openpyxl says it drops on loading (it saves the workbook without them), in the user's words.
_DROPPED = {
    "Data Validation": "a dropdown or check whose list is on another sheet",
    "Conditional Formatting": "conditional formatting of a newer Excel (data bars, icon sets)",
}


_CHART = "http://schemas.openxmlformats.org/drawingml/2006/chart"
_PLACE = {"from", "to", "ext", "pos", "clientData"}  # where an anchor sits, not what it holds
_SHAPES = {"sp", "cxnSp", "grpSp"}  # a text box is a shape too


def _drawings_lost(path: Path) -> list[str]:
    """What the sheets' drawings hold that openpyxl does not read, and so drops without a word
    when it saves (it keeps charts, and pictures only when Pillow is installed), each with the
    sheets it is on."""
    where: dict[str, list[str]] = {}
    with zipfile.ZipFile(path) as package:
        book = sheet_xml.Book(package)
        parts = book.rels("xl/workbook.xml")
        for sheet, rid in book.sheets():
            kinds: set[str] = set()
            for drawing in book.related_all(parts[rid][1], "/drawing") if rid in parts else []:
                kinds |= _not_kept(book.part(drawing))
                for chart in book.related_all(drawing, "/chart"):
                    for shapes in book.related_all(chart, "/chartUserShapes"):
                        if _not_kept(book.part(shapes)):
                            kinds.add("text boxes or shapes on a chart")
            for kind in kinds:
                where.setdefault(kind, []).append(repr(sheet))
    return [
        f"{kind} (sheet{'s' if len(sheets) > 1 else ''} {', '.join(sheets)})"
        for kind, sheets in where.items()
    ]


def _not_kept(drawing: etree._Element) -> set[str]:
    """What of one drawing part openpyxl would drop, in the user's words."""
    kinds = set()
    for anchor in drawing:  # a comment here has no children either
        for drawn in anchor.iterchildren(tag=etree.Element):
            kind = etree.QName(drawn).localname
            if kind in _PLACE or (kind == "pic" and PILImage):
                continue
            if kind in _SHAPES:
                kinds.add("text boxes or shapes")
            elif kind == "pic":
                kinds.add("pictures")
            elif kind != "graphicFrame" or _CHART not in drawn.xpath(".//@uri"):
                kinds.add("drawings other than charts (such as SmartArt)")
    return kinds


def _load_whole(path: Path) -> Workbook:
    """The workbook for editing, or a refusal naming what saving it through openpyxl would lose:
    a pull must not take anything away from the user's workbook."""
    lost = set(_drawings_lost(path))
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        book = load_workbook(path, keep_vba=path.suffix.lower() == ".xlsm")
    lost |= {
        next((plain for key, plain in _DROPPED.items() if text.startswith(key)), "")
        or "parts of a newer Excel"
        for w in said
        if "will be removed" in (text := str(w.message)) or "dropped" in text
    }
    if lost:
        raise UsageError(
            f"{path.name} has {', '.join(sorted(lost))}, which bpxl cannot keep when it pulls "
            "into this workbook for the first time. Nothing was written.",
            "Pull into a new workbook (bpxl pull new.xlsx ...) and copy the rows you need, or "
            "remove those parts first.",
        )
    return book


def pull_into(
    path: Path,
    sheet_name: str | None,
    records: Iterable[Mapping[str, object]],
    names: Sequence[str],
    catalogue: Catalogue = fields.BUILT_IN,
) -> PullReport:
    """Write pulled ``records`` into an existing workbook and remember them. Each invoice goes
    into the rows holding its Id (every pulled field written, empty ones too, and the row's
    status cleared) or into a new row below the last used row; other rows are not touched."""
    book = _load_whole(path)
    sheet, header_row = _invoice_sheet(book, sheet_name, catalogue, names)
    columns = {
        str(c.value).strip(): c.column for c in sheet[header_row] if c.value not in (None, "")
    }
    by_field = {f.name: columns[h] for h in columns if (f := catalogue.lookup(h)) is not None}
    id_column = by_field.get(fields.ID)
    if id_column is None:
        raise UsageError(f"Sheet {sheet.title!r} has no Id column to match invoices on.")
    places = Places(
        (
            (row, id_text(v) or None)
            for row, (v,) in enumerate(
                sheet.iter_rows(min_row=header_row + 1, min_col=id_column, max_col=id_column,
                                values_only=True),
                start=header_row + 1,
            )
        ),
        _last_used(sheet, header_row),
    )  # fmt: skip
    statuses = [columns[h] for h in (RESULT_HEADER, MESSAGE_HEADER) if h in columns]
    merged = [
        (m.min_col - 1, m.max_col - 1) for m in sheet.merged_cells.ranges if m.max_row >= header_row
    ]
    free = sheet_io.used_width(sheet.iter_rows(min_row=header_row, values_only=True))
    numbers = pull_memory.number_columns(
        {name: column - 1 for name, column in by_field.items()},
        sheet.iter_rows(min_row=header_row + 1, values_only=True),
        catalogue,
    )
    extra: list[str] = []
    remembered: dict[str, Pulled] = {}
    unknown_in = pull_memory.Unknown(catalogue)
    noted = 0
    for record in records:
        wanted = [n for n in names if n in by_field]
        invoice, pulled = pull_memory.pulled(record, wanted, catalogue, numbers)
        unknown, notes = pull_memory.extra_cells(unknown_in(record))
        notes = [*pulled.notes, *notes]
        for key in unknown:
            if key not in columns:  # kept, not dropped, and written over nothing of the user's
                index = clear_of(merged, free)
                free = columns[key] = index + 1  # the next free column; openpyxl counts from 1
                sheet.cell(header_row, columns[key], key)
                extra.append(key)
        if notes and MESSAGE_HEADER not in columns:  # the notes need a Message column
            free = columns[MESSAGE_HEADER] = clear_of(merged, free) + 1
            template.style_status_header(sheet, header_row, free, MESSAGE_HEADER)
            statuses.append(free)
        for row in places.of(invoice):
            for name, value in pulled.values.items():
                _put(sheet.cell(row, by_field[name]), value)
            for key, value in unknown.items():
                _put(sheet.cell(row, columns[key]), value)
            for column in statuses:  # a stale Conflict or Failed no longer applies
                cell = sheet.cell(row, column)
                cell.value, cell.fill = None, PatternFill()
            if notes:
                noted += 1
                message = RowResult(row, None, None, notes).message
                _put(sheet.cell(row, columns[MESSAGE_HEADER]), message)
        remembered[invoice] = pulled
    _remember(book, sheet, header_row, by_field, remembered)
    _extend_table(sheet, places.last)
    _save(book, path, backup=True)
    return PullReport(sheet.title, places.added, places.refreshed, extra, set(remembered), noted)


def _put(cell: Cell, value: object) -> None:
    """A value into a cell; text as a string cell, never a formula (openpyxl makes text that
    starts with ``=`` one)."""
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"


def memory_sheet(book: Workbook) -> Worksheet:
    """The very hidden sheet remembering what was pulled (made if the workbook has none)."""
    if PULLED in book.sheetnames:
        return book[PULLED]
    sheet = book.create_sheet(PULLED)
    sheet.sheet_state = "veryHidden"
    sheet.protection.sheet = True  # a stray edit would make every row look changed
    return sheet


def _remember(
    book: Workbook,
    sheet: Worksheet,
    header_row: int,
    by_field: Mapping[str, int],
    pulled: Mapping[str, Pulled],
) -> None:
    """Store pulled values in the invoice sheet's column positions, and mark changed cells."""
    memory = memory_sheet(book)
    width = max(by_field.values())
    stamp_column = width + 1
    memory.cell(1, stamp_column, STAMP_HEADER)
    for name, column in by_field.items():
        memory.cell(1, column, name)
    ids = {
        id_text(v): r
        for r, (v,) in enumerate(
            memory.iter_rows(min_row=2, min_col=by_field[fields.ID],
                             max_col=by_field[fields.ID], values_only=True),
            start=2,
        )
    }  # fmt: skip
    last = max([1, *ids.values()])
    for invoice, remembered in pulled.items():
        row = ids.get(invoice)
        if row is None:
            last += 1
            row = ids[invoice] = last
        for name, value in remembered.values.items():
            if name in by_field:
                _put(memory.cell(row, by_field[name]), value)
        # the Id as text whatever the sheet holds: the amber mark looks it up as MATCH(Id&"", ...)
        _put(memory.cell(row, by_field[fields.ID]), invoice)
        _put(memory.cell(row, stamp_column), remembered.updated)
    mark_changes(sheet, header_row, by_field)


def mark_changes(sheet: Worksheet, header_row: int, by_field: Mapping[str, int]) -> None:
    """A conditional format on each field column that turns a cell edited since the pull amber."""
    id_letter = get_column_letter(by_field[fields.ID])
    first = header_row + 1
    marked = {str(rules.sqref) for rules in sheet.conditional_formatting}
    for name, column in by_field.items():
        if name == fields.ID:
            continue
        letter = get_column_letter(column)
        formula = changed_formula(id_letter, letter, first, PULLED)
        target = f"{letter}{first}:{letter}{template.LAST_ROW}"
        if target not in marked:
            sheet.conditional_formatting.add(target, FormulaRule(formula=[formula], fill=CHANGED))


def sheet_fields(
    path: Path, sheet_name: str | None, catalogue: Catalogue = fields.BUILT_IN
) -> list[str]:
    """The Invoice fields an existing sheet has columns for (empty for a new file)."""
    if not path.exists():
        return []
    with reading.open_book(path) as book:
        names = book.sheetnames
        chosen = (
            [sheet_name] if sheet_name in names else [n for n in names if not n.startswith("_bpxl")]
        )
        for name in chosen:
            sheet = book[name]
            header = find_header(sheet.iter_rows(values_only=True), catalogue)  # the first rows
            if header is not None:
                (values,) = sheet.iter_rows(min_row=header, max_row=header, values_only=True)
                return [f.name for v in values if (f := catalogue.lookup(v)) is not None]
        return []


def read_pulled(path: Path) -> dict[str, Pulled]:
    """Invoice Id -> what was pulled, from the hidden sheet (empty when nothing was pulled)."""
    return pulled_from(_rows(path, PULLED))


def _rows(path: Path, title: str) -> list[list[object]]:
    """The sheet's rows, read as the invoice sheet is (``reading.read_values``: its fast reader
    too; the memory of 100,000 invoices is 3.5 million cells)."""
    with reading.open_book(path) as book:
        return reading.read_values(book, book[title]).rows if title in book.sheetnames else []


def _extend_table(sheet: Worksheet, last: int) -> None:
    for table in sheet.tables.values():
        start, end = table.ref.split(":")  # a table has a header and a row at least
        end_column = "".join(c for c in end if c.isalpha())
        table.ref = f"{start}:{end_column}{max(last, 2)}"
        if table.autoFilter is not None:
            table.autoFilter.ref = table.ref


def _save(book: Workbook, path: Path, backup: bool) -> None:
    if backup:
        saving.backup(path)
    saving.save(path, book.save)
