"""Cell values written straight into an .xlsx's worksheet XML, with a real XML parser (lxml).

Why not openpyxl: loading a whole workbook to set three columns costs about 500 bytes per cell (a
100,000-row sheet took over a gigabyte) and drops what openpyxl does not model (images, charts,
shapes). Why not text patterns: SpreadsheetML may leave out ``r`` on rows and cells, quote
attributes either way, prefix every tag (``x:c``), and a pattern that misses one of these writes
rows Excel does not read. So the sheet is parsed as XML, one row at a time (``iterparse``), and
written back as it streams; memory stays flat however long the sheet is.

What it guarantees: only the cells named in an ``Edit`` change. Every other cell, row and part
keeps its meaning (rows that are not edited are re-serialised by lxml, never rebuilt by us; other
parts of the package are copied byte for byte). A cell whose row or column is implied by its
position gets an explicit ``r`` when its row is edited, so inserting a cell cannot shift it.
Nothing is written past Excel's last column (XFD) or row: ``SheetFullError`` says so instead.

How to use it (the push's results, a pull's refresh, new rows)::

    edit = sheet_xml.Edit(header_row=1)
    edit.set(5, 3, "Created", sheet_xml.Style("FFC6EFCE"))   # row 5, column C, with a fill
    edit.set(7, 2, 42.5)                                      # numbers, bools, dates, text, None
    edit.set(100_001, 1, "new row")                           # rows past the end are added
    edit.added.append((9, "Result", 12))                      # a new column: its width
    with zipfile.ZipFile(src) as source, zipfile.ZipFile(dst, "w") as target:
        sheet_xml.apply(source, "Invoices", edit, target)

``None`` or ``""`` empties a cell (it stays, empty, when it has a style). Text goes in as an
inline string, kept exactly (leading and trailing spaces too, and a leading ``=``: a string cell
is never a formula) but for what no cell can hold (``inert.clean``); dates are written as serial
numbers in the workbook's own date system, with a date ``Style.number_format`` if the caller
gives one.
``sheet_io.save_edit`` wraps ``apply`` with the backup and the atomic save.
"""

from __future__ import annotations

import collections
import copy
import datetime as dt
import functools
import math
import re
import shutil
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from lxml import etree

from ..core.errors import UsageError
from ..core.inert import clean
from ..core.records import column_letter
from . import package

CellValue = str | int | float | bool | dt.date | None
MAX_COLUMN = 16384  # XFD
MAX_ROW = 1048576
OFFICE_RELS = "officeDocument/2006/relationships"
PACKAGE_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_REF = re.compile(r"([A-Za-z]{1,3})(\d+)")
_XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
# Cell attributes that describe the old value; they go when bpxl writes a new one.
_VALUE_ATTRIBUTES = ("t", "cm", "vm", "ph")


class SheetFullError(UsageError):
    """A cell would land past Excel's last column or row."""


@dataclass(frozen=True)
class Style:
    """A cell look bpxl adds: a fill colour (ARGB), a bold (and white) font, a number format."""

    fill: str | None = None
    bold: bool = False
    white: bool = False
    number_format: str | None = None


@dataclass
class Edit:
    """What to write into one sheet: values by (row, column), and columns bpxl adds."""

    values: dict[int, dict[int, CellValue]] = field(default_factory=dict)
    styles: dict[tuple[int, int], Style] = field(default_factory=dict)
    added: list[tuple[int, str, float]] = field(default_factory=list)  # column, header, width
    header_row: int = 1
    grow_rows: bool = False  # a table under the header row grows down to the last edited row

    def set(self, row: int, column: int, value: CellValue, style: Style | None = None) -> None:
        if not 1 <= column <= MAX_COLUMN or not 1 <= row <= MAX_ROW:
            raise SheetFullError(
                f"Cell {column_letter(column)}{row} would be past Excel's last column (XFD) or "
                f"row ({MAX_ROW:,}), so bpxl cannot write there.",
                "Make room: delete empty columns at the right of the sheet, or move the data.",
            )
        self.values.setdefault(row, {})[column] = value
        if style is not None:
            self.styles[(row, column)] = style


@functools.lru_cache(maxsize=4096)
def column_number(letters: str) -> int:
    number = 0
    for char in letters.upper():
        number = number * 26 + ord(char) - 64
    return number


def apply(
    source: zipfile.ZipFile,
    sheet: str,
    edit: Edit,
    target: zipfile.ZipFile,
    anew: Mapping[str, Iterable[bytes]] | None = None,
) -> None:
    """Copy ``source`` into ``target`` with ``edit`` applied to the sheet named ``sheet``, and the
    sheets named in ``anew`` written anew from their XML, given in pieces (a sheet of 100,000
    rows is tens of megabytes: it is never held whole)."""
    book = Book(source)
    part = book.sheet_part(sheet)
    fresh = {book.sheet_part(name): pieces for name, pieces in (anew or {}).items()}
    styles_part = book.related("xl/workbook.xml", "/styles")
    changed: dict[str, bytes] = {}
    style_ids: dict[Style, int] = {}
    if styles_part is not None and edit.styles:
        styles, style_ids = _with_styles(_parse(source.read(styles_part)), edit)
        changed[styles_part] = _serialise(styles)
    for table in book.related_all(part, "/table") if edit.values or edit.added else []:
        changed[table] = _serialise(_extend_table(_parse(source.read(table)), edit))
    for item in source.infolist():
        if item.filename == part and (edit.values or edit.added):
            with source.open(part) as xml, target.open(item, "w", force_zip64=True) as out:
                _SheetWriter(edit, style_ids, book.date1904).run(xml, out)
        elif item.filename in fresh:
            with target.open(item, "w", force_zip64=True) as out:
                for piece in fresh[item.filename]:
                    out.write(piece)
        elif item.filename in changed:
            target.writestr(item, changed[item.filename])
        else:
            copy_part(source, item, target)


def copy_part(source: zipfile.ZipFile, item: zipfile.ZipInfo, target: zipfile.ZipFile) -> None:
    """One part as it is, in pieces (a sheet may be tens of megabytes). Its size is known from
    ``item``: zipfile writes a part past 2 GB in zip64 by itself."""
    with source.open(item) as data, target.open(item, "w") as out:
        shutil.copyfileobj(data, out)


def check_parts(source: zipfile.ZipFile, sheet: str) -> None:
    """Parse every part ``apply`` rewrites for ``sheet`` but the sheet itself (the workbook and
    its relationships, the styles, the sheet's tables), so that a write-back cannot fail on one
    after the rows were sent. The sheet was parsed whole when it was read (by openpyxl, over
    lxml, after ``package`` refused any DTD): parsing its megabytes again cost 5 s per 20,000
    rows. Raises what parsing raises (``package`` refusals included)."""
    book = Book(source)
    part = book.sheet_part(sheet)
    styles = book.related("xl/workbook.xml", "/styles")
    for name in [*([styles] if styles else []), *book.related_all(part, "/table")]:
        _parse(source.read(name))


# -- the package ----------------------------------------------------------------------------------


def _parse(data: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, huge_tree=True)  # no network: the default
    return etree.fromstring(data, parser)


def _serialise(root: etree._Element) -> bytes:
    xml: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    return xml


def _local(element: etree._Element) -> str:
    tag = element.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _children(element: etree._Element, name: str) -> Iterator[etree._Element]:
    return (child for child in element if _local(child) == name)


class Book:
    """The workbook part of a package: its sheets, its relationships, its date system."""

    def __init__(self, source: zipfile.ZipFile) -> None:
        package.check(source, Path(str(source.filename or "the workbook")).name)
        self.source = source
        self.names = set(source.namelist())
        self.workbook = _parse(source.read("xl/workbook.xml"))
        self.date1904 = any(
            str(pr.get("date1904")).lower() in ("1", "true")
            for pr in _children(self.workbook, "workbookPr")
        )

    def sheets(self) -> list[tuple[str, str]]:
        """(name, relationship id) of each sheet, in the workbook's order."""
        found = []
        for sheets in _children(self.workbook, "sheets"):
            for sheet in _children(sheets, "sheet"):
                rid = next((v for k, v in sheet.attrib.items() if _is_rel_id(k)), "")
                found.append((sheet.get("name", ""), rid))
        return found

    def sheet_part(self, name: str) -> str:
        rels = self.rels("xl/workbook.xml")
        for sheet, rid in self.sheets():
            if sheet == name and rid in rels:
                return rels[rid][1]
        raise KeyError(f"sheet {name!r} is not in the workbook")

    def part(self, name: str) -> etree._Element:
        """The XML of the part ``name`` of the package."""
        return _parse(self.source.read(name))

    def rels(self, part: str) -> dict[str, tuple[str, str]]:
        """Relationship id -> (type, the part it points to), from ``part``'s .rels file."""
        path = PurePosixPath(part)
        rels = str(path.parent / "_rels" / f"{path.name}.rels")
        if rels not in self.names:
            return {}
        found = {}
        for item in _parse(self.source.read(rels)).iter(PACKAGE_RELS):
            if item.get("TargetMode") == "External":
                continue
            target = item.get("Target", "")
            if target.startswith("/"):
                resolved = target.lstrip("/")
            else:
                parts: list[str] = []
                for piece in str(PurePosixPath(path.parent, target)).split("/"):
                    if piece == "..":
                        if parts:
                            parts.pop()
                    elif piece != ".":
                        parts.append(piece)
                resolved = "/".join(parts)
            found[item.get("Id", "")] = (item.get("Type", ""), resolved)
        return found

    def related_all(self, part: str, kind: str) -> list[str]:
        """The parts ``part`` points to whose relationship type ends with ``kind``."""
        return [t for k, t in self.rels(part).values() if k.endswith(kind) and t in self.names]

    def related(self, part: str, kind: str) -> str | None:
        return next(iter(self.related_all(part, kind)), None)


def _is_rel_id(attribute: str) -> bool:
    name = etree.QName(attribute)
    return name.localname == "id" and (name.namespace or "").endswith(OFFICE_RELS.split("/")[-1])


# -- styles ---------------------------------------------------------------------------------------


def _with_styles(root: etree._Element, edit: Edit) -> tuple[etree._Element, dict[Style, int]]:
    """styles.xml with a cell format for each Style the edit uses, and their indexes."""
    wanted = sorted(set(edit.styles.values()), key=repr)
    fonts, fills, xfs = (next(_children(root, n), None) for n in ("fonts", "fills", "cellXfs"))
    if fonts is None or fills is None or xfs is None:
        return root, {}  # an unusual styles part: the values go in without their looks
    main = etree.QName(root).namespace

    def tag(name: str) -> str:
        return str(etree.QName(main, name))

    ids: dict[Style, int] = {}
    for style in wanted:
        font_id = fill_id = format_id = 0
        if style.bold:
            font = etree.SubElement(fonts, tag("font"))
            etree.SubElement(font, tag("b"))
            if style.white:
                etree.SubElement(font, tag("color"), rgb="FFFFFFFF")
            etree.SubElement(font, tag("sz"), val="11")
            font_id = len(list(_children(fonts, "font"))) - 1
        if style.fill:
            pattern = etree.SubElement(
                etree.SubElement(fills, tag("fill")), tag("patternFill"), patternType="solid"
            )
            etree.SubElement(pattern, tag("fgColor"), rgb=style.fill)
            etree.SubElement(pattern, tag("bgColor"), indexed="64")
            fill_id = len(list(_children(fills, "fill"))) - 1
        if style.number_format:
            format_id = _number_format(root, tag, style.number_format)
        etree.SubElement(
            xfs,
            tag("xf"),
            numFmtId=str(format_id),
            fontId=str(font_id),
            fillId=str(fill_id),
            borderId="0",
            xfId="0",
            applyFont="1",
            applyFill="1",
            applyNumberFormat="1",
        )
        ids[style] = len(list(_children(xfs, "xf"))) - 1
    for element, name in ((fonts, "font"), (fills, "fill"), (xfs, "xf")):
        element.set("count", str(len(list(_children(element, name)))))
    return root, ids


def _number_format(root: etree._Element, tag: Callable[[str], str], code: str) -> int:
    formats = next(_children(root, "numFmts"), None)
    if formats is None:
        formats = etree.Element(tag("numFmts"))
        root.insert(0, formats)
    taken = {int(f.get("numFmtId", "0")): f.get("formatCode") for f in _children(formats, "numFmt")}
    for number, existing in taken.items():
        if existing == code:
            return number
    number = max([163, *taken]) + 1  # 164 and up are the workbook's own formats
    etree.SubElement(formats, tag("numFmt"), numFmtId=str(number), formatCode=code)
    formats.set("count", str(len(taken) + 1))
    return number


# -- tables ---------------------------------------------------------------------------------------


def _extend_table(root: etree._Element, edit: Edit) -> etree._Element:
    """Grow a table that ends just left of columns bpxl added, so they join it (and, with
    ``grow_rows``, one under the header row down to the rows bpxl added)."""
    main = etree.QName(root).namespace
    start, _, end = (root.get("ref") or "").partition(":")
    top, bottom = _REF.fullmatch(start), _REF.fullmatch(end)
    last = max(edit.values, default=0)
    grows = edit.grow_rows and top and int(top.group(2)) == edit.header_row
    if grows and bottom and int(bottom.group(2)) < last:
        for element in (root, *_children(root, "autoFilter")):
            if element.get("ref") == f"{start}:{end}":
                element.set("ref", f"{start}:{bottom.group(1)}{last}")
    for column, header, _ in sorted(edit.added):
        found = _REF.fullmatch((root.get("ref") or "").split(":")[-1])
        first = _REF.fullmatch((root.get("ref") or "").split(":")[0])
        if not found or not first or int(first.group(2)) != edit.header_row:
            return root
        if column_number(found.group(1)) + 1 != column:
            continue
        old = root.get("ref") or ""
        new = f"{first.group(0)}:{column_letter(column)}{found.group(2)}"
        root.set("ref", new)
        for auto in _children(root, "autoFilter"):
            if auto.get("ref") == old:
                auto.set("ref", new)
        for columns in _children(root, "tableColumns"):
            ids = [int(c.get("id", "0")) for c in _children(columns, "tableColumn")]
            column_tag = str(etree.QName(main, "tableColumn"))
            etree.SubElement(columns, column_tag, id=str(max(ids, default=0) + 1), name=header)
            columns.set("count", str(len(ids) + 1))
    return root


# -- the sheet ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)  # a pull writes the same few hundred dates again and again
def excel_serial(value: dt.date, date1904: bool) -> float:
    """A date or datetime as Excel stores it, in the workbook's date system."""
    epoch = dt.datetime(1904, 1, 1) if date1904 else dt.datetime(1899, 12, 30)
    moment = value if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time())
    days = (moment.replace(tzinfo=None) - epoch) / dt.timedelta(days=1)
    if not date1904 and days < 61:
        days -= 1  # Excel's serials count a 29 February 1900 that never was
    return days


class _SheetWriter:
    """Streams one worksheet part from ``source`` to ``out`` with the edit applied."""

    def __init__(self, edit: Edit, style_ids: Mapping[Style, int], date1904: bool) -> None:
        self.edit = edit
        self.style_ids = style_ids
        self.date1904 = date1904
        self.pending = collections.deque(sorted(edit.values))
        self.marker = f"bpxl-{uuid.uuid4().hex}"
        self.main: str | None = None
        self.scope: dict[str | None, str] = {}
        self.out: IO[bytes] | None = None
        self.buffer: list[bytes] = []
        self.seen: dict[bytes, bytes] = {}
        self.buffered = 0

    def run(self, source: IO[bytes], out: IO[bytes]) -> None:
        self.out = out
        events = etree.iterparse(  # "end" events only, blank text kept: lxml's defaults
            source, tag=("{*}sheetData", "{*}row"), resolve_entities=False, huge_tree=True
        )
        number = 0
        data: etree._Element | None = None
        for _, element in events:
            if _local(element) == "sheetData":
                if data is None:  # a sheet without rows
                    data = element
                    self._head(element)
                continue
            parent = element.getparent()
            if data is None and parent is not None and _local(parent) == "sheetData":
                data = parent  # the head before it is complete once its first row is
                self._head(parent)
            if parent is None or parent is not data:
                continue
            number = int(element.get("r") or number + 1)
            while self.pending and self.pending[0] < number:
                self._write(self._new_row(self.pending.popleft()))
            if self.pending and self.pending[0] == number:
                values = self.edit.values[self.pending.popleft()]
                spliced = self._spliced(element, values, number)
                if spliced is not None:
                    self._put(spliced)
                else:
                    self._edit_row(element, values, number)
                    self._write(element)
            else:
                self._write(element)
            element.clear(keep_tail=False)
            while element.getprevious() is not None:
                del data[0]
            data.remove(element)
        if data is None:
            raise ValueError("the sheet has no sheetData")
        for row in self.pending:
            self._write(self._new_row(row))
        self._tail(events.root, data)

    # The parts of the sheet around its rows are small: they are serialised whole, with a marker
    # where the rows go, so that lxml writes the namespace declarations once, at the top.

    def _head(self, data: etree._Element) -> None:
        root = data.getparent()
        assert root is not None and self.out is not None
        self.main = etree.QName(data).namespace
        self.scope = dict(data.nsmap)
        shell = etree.Element(root.tag, attrib=dict(root.attrib), nsmap=root.nsmap)
        shell.text = root.text
        for child in root:
            if child is data:
                break
            shell.append(copy.deepcopy(child))
        self._redimension(shell)
        self._widen(shell)
        rows = etree.SubElement(shell, data.tag, attrib=dict(data.attrib), nsmap=_own_ns(data))
        rows.append(etree.Comment(self.marker))
        head = _serialise(shell)
        self.out.write(head[: head.index(f"<!--{self.marker}-->".encode())])

    def _tail(self, root: etree._Element, data: etree._Element) -> None:
        assert self.out is not None
        self._flush()
        self.out.write(f"</{_qname(data)}>".encode())
        if data.tail:
            self.out.write(_escape_text(data.tail))
        shell = etree.Element(root.tag, nsmap=root.nsmap)
        shell.append(etree.Comment(self.marker))
        after = False
        for child in list(root):
            if after:
                shell.append(child)
            after = after or child is data
        tail = _serialise(shell)
        self.out.write(tail[tail.index(f"<!--{self.marker}-->".encode()) + len(self.marker) + 7 :])

    def _write(self, row: etree._Element) -> None:
        self._put(self._serialised(row))

    def _serialised(self, row: etree._Element) -> bytes:
        """The row as lxml writes it, without the namespace declarations lxml repeats on it when
        the enclosing sheetData already has them in scope (the same prefix for the same
        namespace). What each set of declarations became is remembered: rows repeat the same few.
        """
        xml: bytes = etree.tostring(row, encoding="UTF-8")
        found = _DECLARATIONS.match(xml)
        if found is None:
            return xml
        declared = found.group(1)
        if declared not in self.seen:
            self.seen[declared] = _DECLARATION.sub(self._unless_in_scope, declared)
        return xml[: found.start(1)] + self.seen[declared] + xml[found.end(1) :]

    def _unless_in_scope(self, declaration: re.Match[bytes]) -> bytes:
        prefix = declaration.group(1).decode() if declaration.group(1) else None
        in_scope = self.scope.get(prefix) == declaration.group(2).decode()
        return b"" if in_scope else declaration.group(0)

    def _put(self, piece: bytes) -> None:
        """Rows go out in chunks of about a megabyte: the zip stream compresses each write."""
        self.buffer.append(piece)
        self.buffered += len(piece)
        if self.buffered > 1 << 20:
            self._flush()

    def _flush(self) -> None:
        assert self.out is not None
        self.out.write(b"".join(self.buffer))
        self.buffer.clear()
        self.buffered = 0

    def _tag(self, name: str) -> str:
        return str(etree.QName(self.main, name))

    def _new_row(self, number: int) -> etree._Element:
        row = etree.Element(self._tag("row"), nsmap=self.scope)
        self._edit_row(row, self.edit.values[number], number)  # which numbers it (r)
        return row

    def _spliced(
        self, row: etree._Element, values: Mapping[int, CellValue], number: int
    ) -> bytes | None:
        """The edited row's XML when every edited cell is new, before the row's first cell or
        after its last (a push's Id, Result and Message mostly are) and holds text or nothing:
        the new cells' XML goes around the row's own, serialised by lxml as it stands, without
        building them as elements (a third of the time of ``_edit_row``). None: ``_edit_row``.
        """
        cell_tag = self._tag("c")
        if not len(row) or row[0].tag != cell_tag or row[-1].tag != cell_tag:
            return None
        first_ref, last_ref = row[0].get("r"), row[-1].get("r")
        if not first_ref or not last_ref:
            return None
        low = column_number(first_ref.rstrip("0123456789"))
        high = column_number(last_ref.rstrip("0123456789"))
        prefix = f"{row.prefix}:" if row.prefix else ""
        before: list[bytes] = []
        after: list[bytes] = []
        for column, value in sorted(values.items()):
            if low <= column <= high:
                return None
            if value is not None and not isinstance(value, str):
                return None
            (before if column < low else after).append(
                self._cell_xml(prefix, column, number, value)
            )
        row.set("r", str(number))
        row.attrib.pop("spans", None)  # a hint Excel recomputes; it may no longer cover the cells
        xml = self._serialised(row)
        start, end = xml.index(b">") + 1, xml.rindex(b"</")  # lxml writes ">" in values as &gt;
        if row.text:  # new cells go where lxml puts them: after the text before the first
            start += len(_element_text(row.text))
        return b"".join([xml[:start], *before, xml[start:end], *after, xml[end:]])

    def _cell_xml(self, prefix: str, column: int, number: int, value: str | None) -> bytes:
        """A new cell as ``_fill`` makes it and lxml writes it (``b""``: empty and unstyled)."""
        style = self.edit.styles.get((number, column))
        index = self.style_ids.get(style) if style is not None else None
        styled = f' s="{index}"' if index is not None else ""
        ref = f"{column_letter(column)}{number}"
        if not value:
            return f'<{prefix}c r="{ref}"{styled}/>'.encode() if index else b""
        text = clean(value)
        space = ' xml:space="preserve"' if text != text.strip() else ""
        opening = f'<{prefix}c r="{ref}"{styled} t="inlineStr"><{prefix}is><{prefix}t{space}>'
        closing = f"</{prefix}t></{prefix}is></{prefix}c>"
        return opening.encode() + _element_text(text) + closing.encode()

    def _edit_row(self, row: etree._Element, values: Mapping[int, CellValue], number: int) -> None:
        row.set("r", str(number))
        row.attrib.pop("spans", None)  # a hint Excel recomputes; it may no longer cover the cells
        cell_tag = self._tag("c")
        cells = self._ends(row, cell_tag, values) or self._cells(row, cell_tag, number)
        for column, value in sorted(values.items()):
            cell = cells.get(column)
            if cell is None:
                cell = row.makeelement(cell_tag, {"r": f"{column_letter(column)}{number}"})
                later = [c for c in cells if c > column]
                if later:
                    cells[min(later)].addprevious(cell)
                elif cells:
                    cells[max(cells)].addnext(cell)  # after the last cell: an extLst stays last
                else:
                    row.insert(0, cell)
                cells[column] = cell
            if not self._fill(cell, value, self.edit.styles.get((number, column))):
                row.remove(cell)
                del cells[column]

    @staticmethod
    def _cells(row: etree._Element, cell_tag: str, number: int) -> dict[int, etree._Element]:
        """Every cell of the row by column; a cell placed by position gets its ``r`` now, so that
        a cell inserted before it cannot move it."""
        cells: dict[int, etree._Element] = {}
        column = 0
        for cell in row.iterchildren(cell_tag):
            ref = cell.get("r")
            if ref:
                column = column_number(ref.rstrip("0123456789"))
            else:
                column += 1
                cell.set("r", f"{column_letter(column)}{number}")
            cells[column] = cell
        return cells

    @staticmethod
    def _ends(
        row: etree._Element, cell_tag: str, values: Mapping[int, CellValue]
    ) -> dict[int, etree._Element] | None:
        """The row's first and last cells, when they are all the edit needs (every edited column
        at or beyond them, both placed by ``r``): most rows are edited at their ends, and this
        spares reading every cell of a long row. None when the whole row must be read."""
        first = next(row.iterchildren(cell_tag), None)
        last = next(row.iterchildren(cell_tag, reversed=True), None)
        if first is None or last is None:
            return None
        first_ref, last_ref = first.get("r"), last.get("r")
        if not first_ref or not last_ref:
            return None
        low = column_number(first_ref.rstrip("0123456789"))
        high = column_number(last_ref.rstrip("0123456789"))
        if any(low < column < high for column in values):
            return None
        return {low: first, high: last}

    def _fill(self, cell: etree._Element, value: CellValue, style: Style | None) -> bool:
        """Put ``value`` in ``cell``; False when the cell should go (empty and unstyled)."""
        if len(cell):
            for child in list(cell):
                if _local(child) != "extLst":
                    cell.remove(child)
        cell.text = None
        attributes = cell.attrib
        for name in _VALUE_ATTRIBUTES:
            if name in attributes:
                del attributes[name]
        if style is not None and (index := self.style_ids.get(style)) is not None:
            attributes["s"] = str(index)
        if value is None or (isinstance(value, str) and value == ""):
            return attributes.get("s", "0") != "0" or len(cell) > 0
        if isinstance(value, str):
            attributes["t"] = "inlineStr"
            text = etree.SubElement(etree.SubElement(cell, self._tag("is")), self._tag("t"))
            text.text = clean(value)  # a string cell: Excel never evaluates it
            if text.text != text.text.strip():
                text.set(_XML_SPACE, "preserve")
        elif isinstance(value, bool):
            attributes["t"] = "b"
            self._value(cell, "1" if value else "0")
        elif isinstance(value, int | float):
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{value} cannot be written into a cell")
            self._value(cell, repr(value) if isinstance(value, float) else str(value))
        else:
            self._value(cell, repr(excel_serial(value, self.date1904)).removesuffix(".0"))
        return True

    def _value(self, cell: etree._Element, text: str) -> None:
        etree.SubElement(cell, self._tag("v")).text = text

    def _redimension(self, shell: etree._Element) -> None:
        dimension = next(_children(shell, "dimension"), None)
        if dimension is None or not self.edit.values:
            return
        ref = (dimension.get("ref") or "A1").split(":")
        first, last = _REF.fullmatch(ref[0]), _REF.fullmatch(ref[-1])
        if first is None or last is None:
            return
        max_row = max(int(last.group(2)), *self.edit.values)
        max_column = max(
            column_number(last.group(1)), *(c for row in self.edit.values.values() for c in row)
        )
        dimension.set("ref", f"{first.group(0)}:{column_letter(max_column)}{max_row}")

    def _widen(self, shell: etree._Element) -> None:
        """Give added columns their width, unless the sheet already sets one for them."""
        if not self.edit.added:
            return
        cols = next(_children(shell, "cols"), None)
        taken = []
        if cols is not None:
            taken = [
                (int(c.get("min", "0")), int(c.get("max", "0"))) for c in _children(cols, "col")
            ]
        new = [(c, w) for c, _, w in self.edit.added if not any(lo <= c <= hi for lo, hi in taken)]
        if not new:
            return
        if cols is None:
            cols = etree.SubElement(shell, self._tag("cols"))
        for column, width in new:
            entry = etree.Element(
                self._tag("col"),
                min=str(column),
                max=str(column),
                width=str(width),
                customWidth="1",
            )
            later = [c for c in _children(cols, "col") if int(c.get("min", "0")) > column]
            if later:
                later[0].addprevious(entry)
            else:
                cols.append(entry)


def _own_ns(element: etree._Element) -> dict[str | None, str]:
    """The namespaces ``element`` itself declares (not those it inherits)."""
    parent = element.getparent()
    inherited = parent.nsmap if parent is not None else {}
    return {k: v for k, v in element.nsmap.items() if inherited.get(k) != v}


def _qname(element: etree._Element) -> str:
    return f"{element.prefix}:{_local(element)}" if element.prefix else _local(element)


def _escape_text(text: str) -> bytes:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode()


def _element_text(text: str) -> bytes:
    """An element's text as lxml writes it: a carriage return as ``&#13;`` (XML would read a
    bare one back as a line feed)."""
    return _escape_text(text).replace(b"\r", b"&#13;")


_DECLARATIONS = re.compile(rb'^<[\w.:-]+((?:\s+xmlns(?::[\w.-]+)?="[^"]*")+)')
_DECLARATION = re.compile(rb'\s+xmlns(?::([\w.-]+))?="([^"]*)"')
