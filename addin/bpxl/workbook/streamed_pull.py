"""A pull into a new workbook, written as a stream: 100,000 invoices without a workbook in memory.

openpyxl builds the workbook's frame, which is small: the template's header row for the pulled
fields, styles, comments, dropdowns, the table, the very hidden memory sheet's header and the amber
marks. The pulled rows are then written as worksheet XML while they arrive from the server, into
temporary files, and the package is put together from the frame and those files. Building the
rows in openpyxl cost a minute and 2.2 GB for 100,000 invoices; its write-only mode still took 20 s
for the two sheets (benchmarks/results.md). Each row is written twice, once into the invoice sheet
and once into the memory sheet, in the same column positions.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO
from xml.sax.saxutils import escape

from openpyxl.utils import get_column_letter
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.table import TableColumn

from .. import template
from ..core import fields
from ..core.fields import Catalogue
from ..core.inert import clean
from ..core.records import MESSAGE_HEADER, RESULT_HEADER
from ..core.results import RowResult
from ..core.roundtrip import pull_memory
from ..core.roundtrip.pull_memory import STAMP_HEADER
from . import pulling
from .pulling import PULLED, PullReport
from .sheet_xml import Book, excel_serial

_NEEDS_ESCAPE = re.compile("[&<>\r]")
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"


class CellXml:
    """Cell XML: text inline (a string cell, never a formula, made safe by ``inert.clean``),
    numbers, TRUE/FALSE, dates as serials in the workbook's date system with their style."""

    def __init__(
        self, date_style: int | None, datetime_style: int | None, date1904: bool = False
    ) -> None:
        self.date = f' s="{date_style}"' if date_style is not None else ""
        self.datetime = f' s="{datetime_style}"' if datetime_style is not None else ""
        self.date1904 = date1904

    def cell(self, ref: str, value: object) -> str:
        if isinstance(value, str):
            text = clean(value)
            if _NEEDS_ESCAPE.search(text):  # a carriage return too: XML readers drop a bare one
                text = escape(text, {"\r": "&#13;"})
            space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
            return f'<c r="{ref}" t="inlineStr"><is><t{space}>{text}</t></is></c>'
        if isinstance(value, bool):
            return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
        if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
            return f'<c r="{ref}"><v>{value!r}</v></c>'
        if isinstance(value, dt.datetime):
            serial = excel_serial(value, self.date1904)
            return f'<c r="{ref}"{self.datetime}><v>{serial!r}</v></c>'
        if isinstance(value, dt.date):
            return f'<c r="{ref}"{self.date}><v>{int(excel_serial(value, self.date1904))}</v></c>'
        return self.cell(ref, str(value))  # not a cell type (or not a finite number): as text


class NewBook:
    """A new workbook being filled with pulled invoices: ``add`` each one, then ``save``."""

    def __init__(
        self,
        path: Path,
        sheet_title: str,
        names: Sequence[str],
        rows: IO[str],
        memory: IO[str],
        catalogue: Catalogue = fields.BUILT_IN,
    ) -> None:
        self.path, self.catalogue = path, catalogue
        self.unknown = pull_memory.Unknown(catalogue)
        self.names = list(dict.fromkeys([fields.ID, *names]))
        columns = [catalogue.by_name[n] for n in self.names]
        self.book = template.build(columns=columns, title=sheet_title)
        self.sheet = self.book[sheet_title]
        # Dates need a cell style; registering one on a scratch cell gives its index (one cell
        # each: openpyxl keeps the style object itself, so a second format would change the first).
        styles = []
        for column, number_format in enumerate((template.DATE_FORMAT, DATETIME_FORMAT), 1):
            scratch = self.sheet.cell(2, column)
            scratch.number_format = number_format
            styles.append(scratch.style_id)
        self.sheet.delete_rows(2)
        date_style, datetime_style = styles
        self.cells = CellXml(date_style, datetime_style)
        self.letters = {n: get_column_letter(i) for i, n in enumerate(self.names, start=1)}
        self.width = len(self.names) + 2  # the fields, Result, Message
        self.extra: dict[str, str] = {}  # fields bpxl does not know -> their column letter
        self.stamp = get_column_letter(len(self.names) + 1)  # in the memory sheet
        self.rows = 1
        self.noted = 0  # rows with a note in Message
        self.sheet_rows, self.memory_rows = rows, memory  # temporary files

    def add(self, record: Mapping[str, object]) -> str:
        """Write one pulled invoice into the next row of both sheets; returns its Id."""
        invoice, pulled = pull_memory.pulled(record, self.names, self.catalogue)
        self.rows += 1
        row = str(self.rows)
        cell = self.cells.cell
        known = "".join(
            cell(self.letters[name] + row, value)
            for name, value in pulled.values.items()
            if value is not None
        )
        unknown = ""
        extra, notes = pull_memory.extra_cells(self.unknown(record))
        for key, value in extra.items():
            if value is not None:
                letter = self.extra.get(key)
                if letter is None:
                    letter = self.extra[key] = get_column_letter(self.width + len(self.extra) + 1)
                unknown += cell(letter + row, value)
        notes = [*pulled.notes, *notes]
        if notes:
            self.noted += 1
            message = RowResult(self.rows, None, None, notes).message
            known += cell(get_column_letter(self.width) + row, message)
        self.sheet_rows.write(f'<row r="{row}">{known}{unknown}</row>')
        stamp = cell(self.stamp + row, pulled.updated) if pulled.updated else ""
        self.memory_rows.write(f'<row r="{row}">{known}{stamp}</row>')
        return invoice

    def save(self) -> list[str]:
        """Put the workbook together (atomically); returns the unknown fields given columns."""
        for offset, key in enumerate(self.extra, start=self.width + 1):
            self.sheet.cell(1, offset, key)
        table = self.sheet.tables[template.TABLE_NAME]
        table.ref = f"A1:{get_column_letter(self.width)}{max(self.rows, 2)}"
        # Named here: openpyxl would otherwise make a cell for every row of the table to read
        # its header (30 s and a gigabyte for 100,000 rows).
        headers = [*self.names, RESULT_HEADER, MESSAGE_HEADER]
        table.tableColumns = [TableColumn(id=i, name=h) for i, h in enumerate(headers, start=1)]
        table.autoFilter = AutoFilter(ref=table.ref)
        pulling.memory_sheet(self.book).append([*self.names, STAMP_HEADER])
        pulling.mark_changes(self.sheet, 1, {n: i for i, n in enumerate(self.names, 1)})
        frame = io.BytesIO()
        self.book.save(frame)
        temporary = self.path.with_name(f".{self.path.stem}.pulling{self.path.suffix}")
        try:
            with (
                zipfile.ZipFile(frame) as source,
                zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as target,
            ):
                book = Book(source)
                sheet, memory = book.sheet_part(self.sheet.title), book.sheet_part(PULLED)
                parts = {
                    sheet: (self.sheet_rows, self.width + len(self.extra)),
                    memory: (self.memory_rows, len(self.names) + 1),
                }
                for item in source.infolist():
                    if item.filename in parts:
                        rows, width = parts[item.filename]
                        xml = source.read(item).decode()  # openpyxl writes UTF-8
                        self._sheet(xml, rows, width, target, item.filename)
                    else:
                        target.writestr(item.filename, source.read(item))
            os.replace(temporary, self.path)
        finally:
            temporary.unlink(missing_ok=True)
        return list(self.extra)

    def _sheet(
        self, xml: str, rows: IO[str], width: int, target: zipfile.ZipFile, name: str
    ) -> None:
        """The frame's sheet XML with the streamed rows put in before ``</sheetData>``."""
        end = xml.index("</sheetData>")
        head = re.sub(
            r'<dimension ref="[^"]*"',
            f'<dimension ref="A1:{get_column_letter(width)}{self.rows}"',
            xml[:end],  # a sheet has one dimension
        )
        rows.seek(0)  # flushes the text layer; the bytes below it are already UTF-8
        with target.open(name, "w") as out:
            out.write(head.encode())  # UTF-8, as the rows
            shutil.copyfileobj(rows.buffer, out)  # type: ignore[attr-defined]
            out.write(xml[end:].encode())


def pull_new(
    path: Path,
    sheet_title: str | None,
    records: Iterable[Mapping[str, object]],
    names: Sequence[str],
    catalogue: Catalogue = fields.BUILT_IN,
) -> PullReport:
    """Pull ``records`` into a new workbook at ``path`` (its invoice sheet named ``sheet_title``,
    or as the template's)."""
    title = sheet_title or template.SHEET_TITLE
    with (
        tempfile.TemporaryFile("w+", encoding="utf-8") as rows,
        tempfile.TemporaryFile("w+", encoding="utf-8") as memory,
    ):
        book = NewBook(path, title, names, rows, memory, catalogue)
        ids = {book.add(record) for record in records}
        extra = book.save()
    return PullReport(title, len(ids), 0, extra, ids, book.noted)
