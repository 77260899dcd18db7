"""A sheet's cells read several times faster than openpyxl's parser, to the same values.

openpyxl parses a sheet element by element (lxml, then Python calls per cell): 100,000 rows of
the template take about 10 s. Every producer we know (Excel, openpyxl, XlsxWriter, LibreOffice)
writes the rows in one narrow, regular shape, ``<row r=".."><c r=".." s=".." t=".."><v>..</v>
</c>...</row>``: this module reads that shape with one regular expression over the sheet's text,
a megabyte at a time, and gives each cell the value openpyxl's parser gives it (``data_only``),
with openpyxl's own functions (``_cast_number``, ``from_excel``, ``from_ISO8601``, ``Text``), the
book's shared strings and its date styles.

It is strict. The XML around the rows is left to openpyxl's parser (the caller runs it on that
skeleton: the merged cells, and any damage there, come from it). Anything in the rows outside the
shape (an element prefix or namespace, single-quoted or escaped attributes, a comment, CDATA, an
unknown child, a character XML forbids, another encoding, rows out of order, a value openpyxl
would refuse or reads in its own way) raises ``Unsure``, and the caller reads the sheet with
openpyxl instead. Either way a cell reads as openpyxl reads it; ``tests/test_cell_scan.py``
compares the two on many odd workbooks, cell by cell.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from lxml import etree
from openpyxl.cell.text import Text
from openpyxl.utils.cell import column_index_from_string
from openpyxl.utils.datetime import CALENDAR_WINDOWS_1900, from_excel, from_ISO8601
from openpyxl.worksheet._reader import _cast_number

from ..core.cells import NO_SAVED_VALUE, PHANTOM_DATE

CHUNK_BYTES = 1 << 20  # the sheet is unpacked, decoded and scanned a megabyte at a time
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"

_ATTRS = r'(?:\s+[A-Za-z_][\w.:-]*="[^"<&]*")*'  # double-quoted, nothing to unescape
_TOKEN = re.compile(
    # a row's start, its number first (as every producer we know writes it)
    rf'(<row)(?:\s+r="([1-9][0-9]{{0,6}})")?({_ATTRS})\s*(/?)>'
    r"|(</row>)"
    # a cell: r, s and t in that order, other attributes; then <f>, <v>, <is>, in that order
    r'|(<c)(?:\s+r="([A-Z]{1,3})([1-9][0-9]{0,6})")?(?:\s+s="([0-9]{1,9})")?'
    rf'(?:\s+t="([a-zA-Z]+)")?({_ATTRS})\s*'
    r"(?:/>|>\s*"
    rf"(?:(<f)\b{_ATTRS}\s*(?:/>|>[^<]*</f>)\s*)?"
    rf"(?:(<v){_ATTRS}\s*(?:/>|>([^<]*)</v>)\s*)?"
    r"(?:(<is>)((?:(?!</is>).)*)</is>\s*)?"
    r"</c>)"
    r"|(\S)",  # anything else: not the shape
    re.DOTALL,
)
_RST = re.compile(r'\s[rst]="')
_HIDDEN = re.compile(r'\shidden="([^"]*)"')
_PLAIN_TEXT = re.compile(r'<t(?:\s+xml:space="preserve")?>([^<]*)</t>')
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_DECLARATION = re.compile(r'<\?xml\s[^>]*?encoding=["\']([^"\']*)["\']')
_SHEET_DATA = re.compile(r"<sheetData(?:\s[^>]*)?(/?)>")
_END = "</sheetData>"
_TRUE = ("1", "true")


class Unsure(Exception):
    """The sheet holds XML this scanner does not read; openpyxl's parser reads it."""


@dataclass(frozen=True)
class Book:
    """What cells' values depend on in the workbook: its shared strings, the styles that show a
    number as a date or a duration, and its first day (1900 or 1904)."""

    strings: list[str]
    date_styles: set[int]
    duration_styles: set[int]
    epoch: dt.datetime


@dataclass
class Scan:
    """What a scan found besides the rows: the hidden rows, and the sheet's XML without its rows
    (for openpyxl's parser), both complete once the rows have all been read."""

    hidden: set[int] = field(default_factory=set)
    skeleton: bytes = b""


Row = tuple[int, list[tuple[int, object]]]  # a row's number, its cells' (column, value)


def rows(source: IO[bytes], book: Book, scan: Scan) -> Iterator[Row]:
    """Each row of the sheet read from ``source``: its number and its cells' values as
    openpyxl's parser gives them, marked as ``reading`` marks them (a formula without a saved
    value, the phantom 29 February 1900). Raises ``Unsure`` when the sheet is not in the shape
    read here (the module's notes), possibly after some rows: those were read right."""
    chunks = _chunks(source)
    head = ""
    opened = None
    for chunk in chunks:
        head += chunk
        opened = _SHEET_DATA.search(head, max(0, len(head) - len(chunk) - 16))
        if opened is not None:
            break
    if opened is None or "<!" in head:
        raise Unsure("no sheetData, or a comment before it")
    if opened.group(1):  # <sheetData/>: no rows
        scan.skeleton = (head + "".join(chunks)).encode()
        return
    reader = _Rows(book, scan)
    body = head[opened.end() :]
    head = head[: opened.end()]
    while True:
        end = body.find(_END)
        if end >= 0:
            yield from reader.read(body[:end])
            reader.finish()
            scan.skeleton = (head + body[end:] + "".join(chunks)).encode()
            return
        cut = body.rfind("</row>") + len("</row>")
        if cut > len("</row>") - 1:
            yield from reader.read(body[:cut])
            body = body[cut:]
        more = next(chunks, "")
        if not more:
            raise Unsure("the sheet ends inside its rows")
        body += more


def _chunks(source: IO[bytes]) -> Iterator[str]:
    """The sheet's text, decoded from UTF-8, with line ends as an XML parser sees them."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    held = ""
    first = True
    while True:
        data = source.read(CHUNK_BYTES)
        try:
            text = held + decoder.decode(data, final=not data)
        except UnicodeDecodeError:
            raise Unsure("not UTF-8") from None
        if first:
            first = False
            if text.startswith("<?xml"):
                declared = _DECLARATION.match(text[: text.find("?>") + 2])
                if declared and declared.group(1).lower() not in ("utf-8", "utf8"):
                    raise Unsure("declared in another encoding")
        held = text[-1:] if data and text.endswith("\r") else ""
        if held:
            text = text[:-1]
        if "\r" in text:  # XML reads a line end as \n
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if _FORBIDDEN.search(text):
            raise Unsure("a character XML forbids")
        if text:
            yield text
        if not data:
            return


class _Rows:
    """Turns the tokens of the sheet's rows into rows of values, as openpyxl's parser does."""

    def __init__(self, book: Book, scan: Scan) -> None:
        self.book = book
        self.hidden = scan.hidden
        self.row = 0  # the number of the last row begun
        self.column = 0
        self.cells: list[tuple[int, object]] | None = None  # the open row's cells

    def read(self, text: str) -> Iterator[Row]:
        if "xmlns" in text:
            raise Unsure("a namespace declared inside the rows")
        cells = self.cells
        column = self.column
        done: list[Row] = []
        for (
            row_open,
            row_r,
            row_attrs,
            row_empty,
            row_end,
            cell,
            letters,
            _,
            style,
            kind,
            cell_attrs,
            formula,
            v_tag,
            raw,
            is_tag,
            inline,
            junk,
        ) in _TOKEN.findall(text):
            if cell:
                if cells is None:
                    raise Unsure("a cell outside a row")
                if letters:
                    column = _column(letters)
                else:
                    column += 1
                value = self.value(style, kind, cell_attrs, formula, v_tag, raw, is_tag, inline)
                cells.append((column, value))
            elif row_open:
                if cells is not None:
                    raise Unsure("a row inside a row")
                self._start(row_r, row_attrs)
                column = 0
                if row_empty:
                    done.append((self.row, []))
                else:
                    cells = []
            elif row_end:
                if cells is None:
                    raise Unsure("a row ends that did not begin")
                done.append((self.row, cells))
                cells = None
            else:
                raise Unsure(f"{junk!r} where a row or cell was expected")
        self.cells = cells
        self.column = column
        return iter(done)

    def value(
        self,
        style: str,
        kind: str,
        attrs: str,
        formula: str,
        v_tag: str,
        raw: str,
        is_tag: str,
        inline: str,
    ) -> object:
        """A cell's value from its tokens, as openpyxl's parser and ``reading`` give it."""
        if attrs and _RST.search(attrs):
            raise Unsure("a cell's r, s or t out of their order")
        value: object
        if kind == "inlineStr":
            value = _inline(inline) if is_tag else None
        elif not raw:
            value = None
        else:
            if "&" in raw:
                raw = _unescape(raw)  # as openpyxl's parser reads the text
            if kind == "s":
                try:
                    value = self.book.strings[int(raw)]
                except (ValueError, IndexError):
                    raise Unsure("a shared string openpyxl cannot find") from None
            elif not kind or kind == "n":
                value = self._number(raw, int(style) if style else 0, self.book.date_styles)
            else:
                value = _typed(kind, raw)
        if value is None:
            if formula and (kind != "str" or not v_tag):
                value = NO_SAVED_VALUE  # Excel saves an empty text result as t="str"
        elif value.__class__ is dt.datetime and value.timetuple()[:3] == (1900, 2, 28):
            value = PHANTOM_DATE if phantom(raw, self.book.epoch) else value
        return value

    def _start(self, number: str, attrs: str) -> None:
        if number:
            row = int(number)
        elif _RST.search(attrs):
            raise Unsure("a row's number after its other attributes")
        else:
            row = self.row + 1
        if row <= self.row:
            raise Unsure("rows out of order")
        self.row = row
        if "hidden" in attrs:
            hidden = _HIDDEN.search(attrs)
            if hidden and hidden.group(1).lower() in _TRUE:
                self.hidden.add(row)

    def _number(self, raw: str, style: int, dates: set[int]) -> object:
        try:
            number = _cast_number(raw)
        except ValueError:  # openpyxl's row parser stops; ``reading`` reads such a row itself
            raise Unsure("a number openpyxl cannot read") from None
        if style not in dates:
            return number
        try:
            return from_excel(number, self.book.epoch, style in self.book.duration_styles)
        except (OverflowError, ValueError):
            return "#VALUE!"  # as openpyxl's parser gives a date beyond its limits

    def finish(self) -> None:
        if self.cells is not None:
            raise Unsure("the rows end inside a row")


def cell_at(text: str, start: int, book: Book) -> tuple[int, int, object]:
    """The row, column and value (as openpyxl reads it) of the cell whose ``<c`` is at
    ``start`` in the sheet's ``text``; ``Unsure`` if it is not a cell of the shape read here or
    does not say where it is."""
    token = _TOKEN.match(text, start)
    if token is None or not token.group(6) or not token.group(7):
        raise Unsure("a cell that does not say where it is")
    groups = token.groups()
    value = _Rows(book, Scan()).value(*groups[8:16])
    return int(groups[7]), _column(groups[6]), value


def _column(letters: str) -> int:
    try:
        column: int = column_index_from_string(letters)
    except ValueError:
        raise Unsure("a column beyond openpyxl's") from None
    return column


def phantom(raw: str, epoch: dt.datetime) -> bool:
    """Whether a cell read as 28 February 1900 holds serial 60 (Excel's 29 February 1900), not
    an ISO date (``t="d"``) of the 28th."""
    try:
        return epoch == CALENDAR_WINDOWS_1900 and 60 <= float(raw) < 61
    except ValueError:
        return False


def _typed(kind: str, raw: str) -> object:
    if kind == "b":
        try:
            return bool(int(raw))
        except ValueError:
            raise Unsure("a boolean openpyxl cannot read") from None
    if kind == "d":
        try:
            return from_ISO8601(raw)
        except (ValueError, TypeError, AttributeError):
            raise Unsure("a date openpyxl cannot read") from None
    return raw  # t="str", t="e" (an error, e.g. #N/A) and any other type: the saved text


def _inline(inline: str) -> str:
    plain = _PLAIN_TEXT.fullmatch(inline)
    if plain is not None:
        text = plain.group(1)
        return _unescape(text) if "&" in text else text
    try:
        element = etree.fromstring(f'<is xmlns="{MAIN}">{inline}</is>')
    except etree.XMLSyntaxError:
        raise Unsure("an inline string openpyxl parses in its own way") from None
    content: str = Text.from_tree(element).content
    return content


def _unescape(text: str) -> str:
    try:
        element = etree.fromstring(f"<t>{text}</t>")
    except etree.XMLSyntaxError:
        raise Unsure("an escape openpyxl's parser refuses") from None
    return element.text or ""
