"""The invoice workbook template (``bpxl template OUT.xlsx``), built from the field catalogue.

One column per writable field plus ``Id``, header names exactly the API's, typed columns, read-only
columns greyed, a comment on each header, dropdowns for flags and known picklists, a frozen header,
an Excel table, and the status columns ``Result`` and ``Message`` at the right. The styles of the
status columns live here too, so that a push that adds them to a user's sheet draws them the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from .core import fields
from .core.cells import NULL_SENTINEL
from .core.fields import Catalogue, Field, FieldType
from .core.records import MESSAGE_HEADER, RESULT_HEADER

SHEET_TITLE = "Invoices"
TABLE_NAME = "Invoices"
LAST_ROW = 1_048_576  # Excel's last row: validations and column styles cover the whole column

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
READ_ONLY_FILL = PatternFill("solid", fgColor="D9D9D9")
STATUS_FILL = PatternFill("solid", fgColor="1F3864")
STATUS_FONT = Font(bold=True, color="FFFFFF")
HEADER_FONT = Font(bold=True)
REQUIRED_FONT = Font(bold=True, color="C00000")  # a field every new invoice must fill
DATE_FORMAT = "yyyy-mm-dd"
TEXT_FORMAT = "@"

STATUS_COMMENTS = {
    RESULT_HEADER: (
        "Filled by bpxl: Created, Updated, Upserted, Invalid (not sent), Failed (refused by "
        "BillingPlatform) or Unknown (sent, no answer: check before resending). Clear it to "
        "send the row again."
    ),
    MESSAGE_HEADER: (
        "Filled by bpxl: what went wrong or needs a look, each note starting with its column name."
    ),
}
STATUS_WIDTHS = {RESULT_HEADER: 12, MESSAGE_HEADER: 70}


def _comment(field: Field) -> str:
    kind = f"{field.name}, {field.type.value}" if field.label else field.type.value
    lines = [f"{field.label or field.name} ({kind}): {field.description.rstrip('.')}."]
    if field.required:
        lines.append("Required: every new invoice needs it.")
    if field.length is not None:
        lines.append(f"At most {field.length} characters.")
    if field.picklist:
        lines.append(f"Known values: {', '.join(field.picklist)} (your tenant may have others).")
    if field.type is FieldType.FLAG:
        lines.append("TRUE/FALSE, 1/0 or yes/no.")
    if field.type is FieldType.DATE:
        lines.append("A date, or text YYYY-MM-DD.")
    if field.read_only:
        lines.append("Filled by BillingPlatform; used only to update (leave blank to create).")
    else:
        lines.append(f"Blank leaves it unchanged; {NULL_SENTINEL} clears it.")
    return "\n".join(lines)


def style_status_header(sheet: Worksheet, row: int, column: int, header: str) -> None:
    """Write a Result/Message header as bpxl's own column (also when a push adds them)."""
    cell = sheet.cell(row=row, column=column, value=header)
    cell.fill = STATUS_FILL
    cell.font = STATUS_FONT
    cell.comment = Comment(STATUS_COMMENTS[header], "bpxl", width=300, height=110)
    sheet.column_dimensions[get_column_letter(column)].width = STATUS_WIDTHS[header]


def _validation(field: Field) -> DataValidation | None:
    if field.type is FieldType.FLAG:
        return DataValidation(
            type="list",
            formula1='"TRUE,FALSE"',
            allow_blank=True,
            errorStyle="warning",
            error="Use TRUE or FALSE.",
        )
    if field.picklist:
        return DataValidation(
            type="list",
            formula1=f'"{",".join(field.picklist)}"',
            allow_blank=True,
            errorStyle="warning",
            error="Not a known value. Continue if your tenant defines it.",
        )
    if field.type is FieldType.DATE:
        return DataValidation(
            type="date",
            operator="greaterThan",
            formula1="1",
            allow_blank=True,
            errorStyle="warning",
            error="Type a date, e.g. 2024-07-31.",
        )
    return None


def build(
    catalogue: Catalogue = fields.BUILT_IN,
    columns: Sequence[Field] | None = None,
    title: str = SHEET_TITLE,
) -> Workbook:
    """The template workbook for ``catalogue``'s fields (a tenant's, or the built-in ones), or
    only for ``columns``."""
    book = Workbook()
    sheet = book.active
    sheet.title = title
    columns = list(catalogue.template_fields() if columns is None else columns)
    headers = [f.name for f in columns] + [RESULT_HEADER, MESSAGE_HEADER]
    sheet.append(headers)
    for index, field in enumerate(columns, start=1):
        letter = get_column_letter(index)
        cell = sheet.cell(row=1, column=index)
        cell.font = REQUIRED_FONT if field.required else HEADER_FONT
        cell.fill = READ_ONLY_FILL if field.read_only else HEADER_FILL
        cell.comment = Comment(_comment(field), "bpxl", width=320, height=120)
        dimension = sheet.column_dimensions[letter]
        dimension.width = max(12, len(field.name) + 4)
        if field.type is FieldType.ID:
            dimension.number_format = TEXT_FORMAT
        elif field.type is FieldType.DATE:
            dimension.number_format = DATE_FORMAT
        if field.read_only:
            dimension.fill = READ_ONLY_FILL
        validation = _validation(field)
        if validation is not None:
            validation.add(f"{letter}2:{letter}{LAST_ROW}")
            sheet.add_data_validation(validation)
    for offset, header in enumerate((RESULT_HEADER, MESSAGE_HEADER)):
        style_status_header(sheet, 1, len(columns) + 1 + offset, header)
    message_letter = get_column_letter(len(headers))
    sheet.freeze_panes = "B2"
    table = Table(displayName=TABLE_NAME, ref=f"A1:{message_letter}2")
    table.tableStyleInfo = TableStyleInfo(name="TableStyleLight1", showRowStripes=True)
    sheet.add_table(table)
    return book


# Sample rows for a first try: most are good, two carry the mistakes accountants make most.
EXAMPLE_ROWS: tuple[dict[str, object], ...] = (
    {
        "BillingProfileId": "101",
        "Status": "Pending",
        "DueDate": dt.date(2026, 1, 31),
        "BillableFlag": True,
        "FileName": "INV-2026-0001.pdf",
    },
    {
        "BillingProfileId": "102",
        "Status": "Pending",
        "DueDate": dt.date(2026, 2, 28),
        "BillableFlag": True,
        "AgingInterval": 30,
    },
    {
        "BillingProfileId": "103",
        "Status": "approved",
        "DueDate": "2026-03-15",
        "ApprovalDate": dt.date(2026, 3, 1),
        "BillableFlag": False,
    },
    {"BillingProfileId": "104", "Status": "Pending", "DueDate": "31/03/2026", "BillableFlag": True},
    {
        "BillingProfileId": "105",
        "Status": "Pending",
        "DueDate": dt.date(2026, 4, 30),
        "Disputed": "maybe",
    },
    {
        "BillingProfileId": "101",
        "Status": "Pending",
        "DueDate": dt.date(2026, 5, 31),
        "SendInvoiceEmail": "yes",
        "MoveInvoiceDescription": "Moved from profile 102",
    },
)


def fill(book: Workbook, rows: Iterable[Mapping[str, object]]) -> Workbook:
    """Put ``rows`` (dicts keyed by header name) under the template's header, from row 2, and
    stretch the Excel table over them."""
    sheet = book.active
    column = {cell.value: cell.column for cell in sheet[1]}
    last = 1
    for last, row in enumerate(rows, start=2):
        for name, value in row.items():
            sheet.cell(row=last, column=column[name], value=value)
    sheet.tables[TABLE_NAME].ref = f"A1:{get_column_letter(len(column))}{max(last, 2)}"
    return book


def write(path: str | Path, example: bool = False, catalogue: Catalogue = fields.BUILT_IN) -> Path:
    """Write the template for ``catalogue`` to ``path`` (an .xlsx), with ``EXAMPLE_ROWS`` if
    asked; return it."""
    path = Path(path)
    book = build(catalogue)
    if example:
        fill(book, EXAMPLE_ROWS)
    book.save(path)
    return path
