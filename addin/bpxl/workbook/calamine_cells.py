"""A whole sheet's values read by python-calamine, about ten times faster than openpyxl, made
exactly the values openpyxl reads.

python-calamine (Rust) reads every value of a sheet in one call, but not always as openpyxl
does: an error cell (``#N/A``) and a formula without a saved value read as blank, an empty text
as blank, a whole number as a float, a date as a ``date`` (openpyxl: a ``datetime``), a
``_x000D_`` as a carriage return, serials up to 60 as other days, a style's date format by its
own rule; it does not say which rows are hidden. So before its values are used, the sheet's XML
is searched (C-speed regular expressions, no Python work per cell) for every cell where the two
could differ: those cells are read by ``cell_scan``'s exact reader and replace calamine's. The
rest is checked where it matters: rows in order, each cell in its row, columns in order, every
style classed alike by both (a probe workbook with the book's own styles), the date system (one
date read both ways). Anything else raises ``Unsure`` and the caller reads the sheet otherwise.

What is left to calamine is then: whole numbers of at most 15 digits and decimals written
plainly (Excel's and every producer's way), plain texts, booleans 0 and 1, and whole-day dates
after 1 March 1900: values both read alike once ``""`` is ``None``, a whole float an ``int`` and
a ``date`` a ``datetime``. ``tests/test_fast_reading.py`` holds it to openpyxl, cell by cell.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import operator
import re
import weakref
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any

from openpyxl.utils.cell import column_index_from_string, get_column_letter
from openpyxl.utils.datetime import CALENDAR_WINDOWS_1900, from_excel
from python_calamine import CalamineWorkbook

from . import cell_scan
from .cell_scan import Unsure

_ROW_NUMBER = re.compile(r'<row r="([1-9][0-9]{0,6})"')
_ROW_OR_CELL = re.compile(r'<(?:row r="|c r="[A-Z]{1,3})([0-9]+)"')
_VALUELESS = re.compile(r'<c r="([A-Z]{1,3})[0-9]+"[^>]*?(?:/>|>\s*(?:<v\s*/>\s*|<v></v>\s*)?</c>)')
_HIDDEN = re.compile(r'<row r="([0-9]+)"[^>]*?\shidden="([^"]*)"')
# Cells calamine may read otherwise, each search with a literal start (fast in C):
_SPECIAL = [
    re.compile(r"<f\b[^>]*(?:/>|>[^<]*</f>)\s*(?:</c>|<v\s*/>|<v></v>)"),  # no saved value
    re.compile(r' t="(?!(?:s|n|b|str|inlineStr)")'),  # errors, ISO dates, unknown types
    re.compile(r"<v>(?![0-9]{1,15}</v>|-[0-9]{1,15}</v>|-?[0-9]*\.[0-9]*[1-9][0-9]*</v>)"),
    re.compile(r"<v\s"),  # a value with attributes
    # not a plain text (calamine trims a text's ends unless xml:space="preserve")
    re.compile(
        r'<is>(?!<t>[^<&\s](?:[^<&]*[^<&\s])?</t></is>|<t xml:space="preserve">[^<&]+</t></is>)'
    ),
    re.compile(r"_x[0-9A-Fa-f]{4}_"),  # calamine unescapes these, openpyxl does not
    re.compile(r' t="b"[^>]*>\s*<v>(?![01]</v>)'),
    re.compile(r' t="s"[^>]*>\s*<v>(?![0-9])'),
]
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_PREFIXED = re.compile(r"</?[A-Za-z_][\w.-]*:")
_LINE_OR_TAB = re.compile("[\n\t]")
_COLON = re.compile(r":[\w.-]*[\s/>]")  # a quick look first: what a prefixed tag needs
_SHEET_DATA = re.compile(r"<sheetData(?:\s[^>]*)?>")
_SST_ODD = re.compile(  # escapes, phonetic runs, line ends, and ends calamine would trim
    rb"x[0-9A-Fa-f]{4}_|<(?:\w+:)?rPh\b|(?<!\?>)\r|<(?:\w+:)?t>(?:\s[^<]*|[^<]*\s)</(?:\w+:)?t>"
)
_MARCH_1900 = dt.date(1900, 3, 1)
_JANUARY_1904 = dt.date(1904, 1, 2)
_PROBE_SERIAL = 45000  # 15 March 2023: a whole day, a date or a number in any format

# A probe per workbook: how calamine classes each of its styles.
_probes: weakref.WeakKeyDictionary[Any, frozenset[int]] = weakref.WeakKeyDictionary()


def read(
    archive: zipfile.ZipFile, part: str, title: str, book: cell_scan.Book, owner: object
) -> tuple[list[list[object]], set[int], bytes]:
    """The rows of sheet ``title`` (its XML in ``part`` of ``archive``) with openpyxl's values
    (every row, row 1 first, all as wide as the widest), its hidden rows, and its XML without
    the rows (for openpyxl's parser: merged cells). ``owner``: the workbook, for its probe.

    calamine reads in a thread of its own (its parser lets Python run) while the sheet's XML is
    searched here: on two cores and more, the searches cost no time."""
    source = archive.fp
    if source is None:
        raise Unsure("the workbook is closed")
    position = source.tell()
    source.seek(0)
    data = io.BytesIO(source.read())  # the file openpyxl has open, as it was checked
    source.seek(position)
    with ThreadPoolExecutor(1, thread_name_prefix="calamine") as calamine:
        reading = calamine.submit(_calamine_rows, data, title)
        return _exact(_decoded(archive.read(part)), reading, book, archive, owner)


def _exact(
    text: str,
    reading: Future[list[list[Any]]],
    book: cell_scan.Book,
    archive: zipfile.ZipFile,
    owner: object,
) -> tuple[list[list[object]], set[int], bytes]:
    opened = _SHEET_DATA.search(text)
    end = text.find("</sheetData>")
    if opened is None or end < opened.end() or "<!" in text:
        raise Unsure("no sheetData with rows, or a comment")
    body = text[opened.end() : end]
    skeleton = (text[: opened.end()] + text[end:]).encode()
    del text  # the sheet's text is held once (100,000 rows: about 60 MB)
    if "\r" in body:  # XML reads a line end as \n, calamine may not
        raise Unsure("a carriage return in the rows")
    for space in _LINE_OR_TAB.finditer(body):  # the searches below look for spaces in tags
        if body.rfind("<", 0, space.start()) > body.rfind(">", 0, space.start()):
            raise Unsure("a line end or tab inside a tag")
    if "xmlns" in body or "<?" in body or (_COLON.search(body) and _PREFIXED.search(body)):
        raise Unsure("a namespace, prefix or processing instruction in the rows")
    rows_count = _shape(body)
    hidden = {int(r) for r, flag in _HIDDEN.findall(body) if flag.lower() in ("1", "true")}
    exact = _special_cells(body, book, archive, owner)
    grid = reading.result()
    width = _width(body, grid, exact)
    if len(grid) > rows_count:
        raise Unsure("calamine read more than the sheet's rows")
    rows, odd, first_date = _converted(grid, width, book.epoch)
    rows.extend([None] * width for _ in range(rows_count - len(rows)))
    located = None
    for r, c in odd:
        if (r, c) not in exact:
            located = located or _row_starts(body)
            start = body.find(f'<c r="{get_column_letter(c)}{r}"', located[r])
            if start < 0:
                raise Unsure("a cell calamine read that is not there")
            exact[r, c] = cell_scan.cell_at(body, start, book)[2]
    if first_date is not None:  # calamine's date system is openpyxl's
        r, c = first_date
        located = located or _row_starts(body)
        start = body.find(f'<c r="{get_column_letter(c)}{r}"', located[r])
        if start < 0 or cell_scan.cell_at(body, start, book)[2] != rows[r - 1][c - 1]:
            raise Unsure("calamine counts dates from another day")
    for (r, c), value in exact.items():
        rows[r - 1][c - 1] = value
    return rows, hidden, skeleton


def _decoded(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    head = data[:200]
    if head.startswith(b"<?xml") and b"encoding" in head.split(b"?>")[0]:
        declared = re.search(rb'encoding=["\']([^"\']*)', head)
        if declared is None or declared.group(1).lower() not in (b"utf-8", b"utf8"):
            raise Unsure("declared in another encoding")
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise Unsure("not UTF-8") from None
    if _FORBIDDEN.search(text):
        raise Unsure("a character XML forbids")
    return text


def _shape(body: str) -> int:
    """The number of the last row, as openpyxl counts rows; ``Unsure`` unless every row and
    cell says where it is first, rows go down and each cell is in its row."""
    numbers = list(map(int, _ROW_NUMBER.findall(body)))
    if len(numbers) != body.count("<row") or not all(map(operator.lt, numbers, numbers[1:])):
        raise Unsure("a row that does not say where it is first, or rows out of order")
    refs = _ROW_OR_CELL.findall(body)  # the row of each row and cell, in the sheet's order
    cells = body.count("<c ") + body.count("<c>") + body.count("<c/>")
    if len(refs) != len(numbers) + cells:
        raise Unsure("a cell that does not say where it is first")
    if sum(1 for _ in itertools.groupby(refs)) != len(numbers):  # a row's cells name its row
        raise Unsure("a cell outside its row")
    return numbers[-1] if numbers else 0


def _width(body: str, grid: list[list[Any]], exact: dict[tuple[int, int], object]) -> int:
    """The widest row's width as openpyxl counts it: calamine's, or a cell it saw no value in."""
    width = len(grid[0]) if grid else 0
    empty = {column_index_from_string(letters) for letters in _VALUELESS.findall(body)}
    return max(width, max(empty, default=0), max((c for _, c in exact), default=0))


def _special_cells(
    body: str, book: cell_scan.Book, archive: zipfile.ZipFile, owner: object
) -> dict[tuple[int, int], object]:
    """The cells calamine may read otherwise than openpyxl, read exactly."""
    searches = list(_SPECIAL)
    empty = [str(i) for i, text in enumerate(book.strings) if text == ""]
    if empty:
        searches.append(re.compile(rf' t="s"[^>]*>\s*<v>(?:{"|".join(empty)})</v>'))
    odd_styles = _styles_read_otherwise(archive, book, owner)
    if odd_styles:
        styles = "|".join(str(s) for s in sorted(odd_styles))
        searches.append(re.compile(rf'<c r="[^"]*"[^>]*? s="(?:{styles})"'))
    if book.date_styles:  # a date but a whole one from 100 to 999999: out of range, or early
        styles = "|".join(str(s) for s in sorted(book.date_styles))
        searches.append(
            re.compile(rf'<c r="[^"]*"[^>]*? s="(?:{styles})"[^>]*>\s*<v>(?![1-9][0-9]{{2,5}}</v>)')
        )
    exact: dict[tuple[int, int], object] = {}
    digits = len(str(len(book.strings)))
    for index in re.finditer(rf' t="s"[^>]*>\s*<v>([0-9]{{{digits},}})</v>', body):
        if int(index.group(1)) >= len(book.strings):
            raise Unsure("a shared string that is not there")
    for search in searches:
        for found in search.finditer(body):
            start = body.rfind("<c ", 0, found.start() + len("<c "))
            if start < 0:
                raise Unsure("a value outside a cell")
            row, column, value = cell_scan.cell_at(body, start, book)
            exact[row, column] = value
    return exact


def _styles_read_otherwise(
    archive: zipfile.ZipFile, book: cell_scan.Book, owner: object
) -> frozenset[int]:
    """The styles whose numbers calamine and openpyxl read differently (a date, a duration or a
    number): calamine reads a probe workbook with this book's styles, a cell in each."""
    if owner in _probes:
        return _probes[owner]
    names = set(archive.namelist())
    sst = next((n for n in names if n.lower().endswith("sharedstrings.xml")), None)
    if sst is not None and _SST_ODD.search(archive.read(sst)):
        raise Unsure("shared strings calamine reads otherwise (escapes, phonetic, trimmed)")
    styles_part = next((n for n in names if n.lower() == "xl/styles.xml"), None)
    if styles_part is None:
        raise Unsure("no stylesheet where calamine looks")
    styles = archive.read(styles_part)
    count = max(len(re.findall(rb"<(?:\w+:)?xf\b", styles)), 1)
    probe = _probe(styles, count)
    odd = set()
    for index in range(count):
        theirs = probe[index] if index < len(probe) else None
        if index in book.duration_styles:
            ours: object = from_excel(_PROBE_SERIAL, book.epoch, timedelta=True)
        elif index in book.date_styles:
            ours = from_excel(_PROBE_SERIAL, CALENDAR_WINDOWS_1900)
        else:
            ours = _PROBE_SERIAL
        if theirs.__class__ is dt.date:
            theirs = dt.datetime(theirs.year, theirs.month, theirs.day)
        elif theirs.__class__ is float:
            theirs = int(theirs)
        if theirs != ours or theirs.__class__ is not ours.__class__:
            odd.add(index)
    _probes[owner] = frozenset(odd)
    return _probes[owner]


def _probe(styles: bytes, count: int) -> list[object]:
    """What calamine reads from a cell of each style holding ``_PROBE_SERIAL`` (1900 dates)."""
    main = cell_scan.MAIN
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    package = "http://schemas.openxmlformats.org/package/2006/relationships"
    rows = "".join(
        f'<row r="{i + 1}"><c r="A{i + 1}" s="{i}"><v>{_PROBE_SERIAL}</v></c></row>'
        for i in range(count)
    )
    parts: dict[str, str | bytes] = {
        "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="xml" ContentType="application/xml"/><Default '
        'Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"'
        '/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/></Types>',
        "_rels/.rels": f'<Relationships xmlns="{package}"><Relationship Id="r1" Type="{rel}/'
        'officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets><sheet name="P" '
        'sheetId="1" r:id="r1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{package}"><Relationship Id="r1" '
        f'Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="r2" '
        f'Type="{rel}/styles" Target="styles.xml"/></Relationships>',
        "xl/styles.xml": styles,
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{main}"><sheetData>{rows}</sheetData>'
        "</worksheet>",
    }
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as probe:
        for name, content in parts.items():
            probe.writestr(name, content)
    data.seek(0)
    return [row[0] if row else None for row in _calamine_rows(data, "P")]


def _calamine_rows(data: IO[bytes], title: str) -> list[list[Any]]:
    """Sheet ``title``'s values as calamine reads them; ``Unsure`` when it cannot."""
    try:
        with CalamineWorkbook.from_filelike(data) as workbook:
            return workbook.get_sheet_by_name(title).to_python(skip_empty_area=False)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # its errors, and its panics (a value out of its bounds)
        raise Unsure(f"calamine: {error}") from None


def _converted(
    grid: list[list[Any]], width: int, epoch: dt.datetime
) -> tuple[list[list[object]], list[tuple[int, int]], tuple[int, int] | None]:
    """calamine's rows with openpyxl's values where both read the same thing differently
    (``""`` None, a whole float an int, a date a datetime), as wide as ``width``; the cells it
    read as other dates or times, which only ``cell_scan`` reads exactly; the first date.
    Column by column: most columns hold one kind of value, or none."""
    odd: list[tuple[int, int]] = []
    first: tuple[int, int] | None = None
    height = len(grid)
    columns: list[list[Any]] = []
    by_column = list(zip(*grid, strict=True))
    grid.clear()  # its rows are no longer needed: memory for the rows made below
    for c, column in enumerate(by_column, start=1):
        kinds = set(map(type, column))
        if kinds == {str} and column.count("") == height:
            columns.append([None] * height)
            continue
        values = [None if v == "" else v for v in column]
        if float in kinds:
            values = [
                v if v.__class__ is not float or not v.is_integer() else int(v) for v in values
            ]
        if dt.date in kinds:
            first = first or _first_date(values, c)
            values = _days(values, c, epoch, odd)
        if kinds & {dt.datetime, dt.time, dt.timedelta}:
            odd.extend((r, c) for r, v in enumerate(values, start=1) if v.__class__ in _TIMES)
        columns.append(values)
    del by_column
    columns.extend([None] * height for _ in range(width - len(columns)))
    if not columns:
        return [[] for _ in range(height)], odd, first
    return [list(row) for row in zip(*columns, strict=True)], odd, first


_TIMES = {dt.datetime, dt.time, dt.timedelta}


def _first_date(values: list[Any], column: int) -> tuple[int, int] | None:
    return next(
        ((r, column) for r, v in enumerate(values, start=1) if v.__class__ is dt.date), None
    )


def _days(
    values: list[Any], column: int, epoch: dt.datetime, odd: list[tuple[int, int]]
) -> list[Any]:
    """calamine's whole days as openpyxl's datetimes; days openpyxl reads otherwise (before
    March 1900: its 29 February, and a day added) go to ``odd``."""
    earliest = _MARCH_1900 if epoch == CALENDAR_WINDOWS_1900 else _JANUARY_1904
    days: dict[dt.date, dt.datetime] = {}
    converted = []
    for r, v in enumerate(values, start=1):
        if v.__class__ is dt.date:
            if v > earliest:
                day = days.get(v)
                if day is None:
                    day = days[v] = dt.datetime(v.year, v.month, v.day)
                v = day
            else:
                odd.append((r, column))
        converted.append(v)
    return converted


def _row_starts(body: str) -> dict[int, int]:
    return {int(m.group(1)): m.start() for m in re.finditer(r'<row r="([0-9]+)"', body)}
