"""Issue 28: the fast readers of a sheet give exactly openpyxl's values, cell by cell.

Every workbook here is read twice, by the reader a push uses (``reading.read_values``) and by
openpyxl's parser alone (``reading._parsed``, the reader before issue 28), and the two must agree
on every row, every cell's value and type, the hidden rows, the merged ranges and the date
system. Each shape also says which reader must have read it: the fast ones for the shapes
producers write (or the comparison would prove nothing), openpyxl's for XML the fast ones do not
read.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900

from bpxl.core.cells import PHANTOM_DATE
from bpxl.workbook import cell_scan, reading

from .test_producers import FIXTURES, MAIN, package


def _typed(values: reading.SheetValues) -> object:
    """The values with their types: 1 and 1.0, or True and 1, are not the same cell."""
    return (
        values.title,
        [[(type(v).__name__, v) for v in row] for row in values.rows],
        values.hidden,
        values.date1904,
        values.merged,
    )


def read_both(
    path: Path, fast: bool = True, calamine: bool | None = True
) -> list[reading.SheetValues]:
    """Every sheet of ``path`` read as a push reads it, checked against openpyxl's parser;
    ``fast``: the scanner must have read every sheet (else: it must have declined);
    ``calamine``: calamine too (None: it may decline, e.g. a duration beyond its bounds)."""
    found = []
    with reading.open_book(path) as book:
        for sheet in book.worksheets:
            ours = reading.read_values(book, sheet)
            theirs = reading._parsed(book, sheet, None)
            assert _typed(ours) == _typed(theirs), sheet.title
            if fast:
                assert _typed(reading._scanned(book, sheet, None)) == _typed(theirs)
            else:
                with pytest.raises(cell_scan.Unsure):
                    reading._scanned(book, sheet, None)
            if calamine:
                assert _typed(reading._calamine(book, sheet)) == _typed(theirs)
            elif calamine is None:
                with contextlib.suppress(cell_scan.Unsure):
                    assert _typed(reading._calamine(book, sheet)) == _typed(theirs)
            else:
                with pytest.raises(cell_scan.Unsure):
                    reading._calamine(book, sheet)
            for last in (1, 3):
                assert _typed(reading.read_values(book, sheet, last)) == _typed(
                    reading._parsed(book, sheet, last)
                )
            found.append(ours)
    return found


ODD_VALUES: list[object] = [
    0,
    -7,
    30,
    30.0,
    1.5,
    -0.0,
    1e-12,
    1e300,
    12345678901234567,
    123456789012345678901234567890,
    "",
    " spaced ",
    "a & b < c > d \" ' ",
    "_x000D_ and x005F_ stay as typed",
    "line\nbreak",
    "ünïcödé € 日本",
    "=not a formula",
    "#N/A",
    True,
    False,
    dt.datetime(2024, 7, 31),
    dt.datetime(2024, 7, 31, 13, 45, 12, 345000),
    dt.date(1900, 1, 1),
    dt.time(0, 0),
    dt.time(23, 59, 59),
    dt.timedelta(hours=30, minutes=5),
    None,
]


def odd_openpyxl_book(path: Path, epoch: dt.datetime | None = None) -> Path:
    """Every kind of value openpyxl writes, serials on both sides of Excel's 1900 leap day in a
    date format, formulas without saved values, errors, hidden and merged rows, gaps."""
    book = openpyxl.Workbook()
    if epoch is not None:
        book.epoch = epoch
    sheet = book.active
    sheet.title = "Odd"
    sheet.append(["BillingProfileId", "DueDate", "FileName", "Amount"])
    for index, value in enumerate(ODD_VALUES):
        sheet.append(["101", value, f"INV-{index}", index * 1.25])
    for serial in [-1, 0, 0.5, 1, 59, 59.5, 60, 60.25, 61, 2958465, 2958466, 45000.99999999]:
        sheet.append(["102", serial, "serial", serial])
        sheet.cell(sheet.max_row, 2).number_format = "yyyy-mm-dd hh:mm"
        sheet.cell(sheet.max_row, 4).number_format = "[h]:mm:ss"
    sheet.append(["103", "=TODAY()", '=CONCAT("INV-", A2)', "=1/0"])
    sheet.cell(sheet.max_row + 1, 2).value = "#DIV/0!"
    sheet.cell(sheet.max_row, 2).data_type = "e"
    sheet.row_dimensions[5].hidden = True
    sheet.merge_cells("C8:D9")
    sheet.cell(sheet.max_row + 5, 7, "after a gap")
    sheet.cell(sheet.max_row + 1, 9).number_format = "yyyy-mm-dd"  # a formatted empty cell
    other = book.create_sheet("Empty")
    other.sheet_state = "hidden"
    book.save(path)
    return path


def test_openpyxl_made_odd_values_read_alike(tmp_path: Path) -> None:
    [odd, empty] = read_both(odd_openpyxl_book(tmp_path / "odd.xlsx"))
    assert odd.rows[-1] == [None] * 8 + [None]  # the formatted empty cell still counts
    assert 5 in odd.hidden and odd.merged == ((3, 8, 4, 9),)
    assert empty.rows == []


def test_a_1904_book_reads_alike(tmp_path: Path) -> None:
    [odd, _] = read_both(odd_openpyxl_book(tmp_path / "odd.xlsx", CALENDAR_MAC_1904))
    assert odd.date1904


def xlsxwriter_book(path: Path) -> Path:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Invoices")
    dates = book.add_format({"num_format": "dd/mm/yyyy"})
    times = book.add_format({"num_format": "hh:mm:ss"})
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, ["BillingProfileId", "DueDate", "FileName", "Total", "Flag"])
    for row in range(1, 40):
        sheet.write_string(row, 0, str(100 + row % 3))  # shared strings
        sheet.write_datetime(row, 1, dt.datetime(2024, 1, 1) + dt.timedelta(days=row), dates)
        sheet.write_rich_string(row, 2, "INV-", bold, str(row), ".pdf")
        sheet.write_formula(row, 3, f"=A{row + 1}*2", None, row * 2)
        sheet.write_boolean(row, 4, row % 2 == 0)
    sheet.write_formula(40, 3, "=NA()", None, "#N/A")
    sheet.write_formula(41, 3, '=""', None, "")
    sheet.write_formula(42, 3, '="text"', None, "text")
    sheet.write_blank(43, 6, None, dates)
    sheet.write_number(44, 1, 0.75, times)
    sheet.write_string(45, 2, "")
    sheet.merge_range("A47:C47", "merged")
    sheet.set_row(10, None, None, {"hidden": True})
    sheet.autofilter("A1:E40")
    sheet.filter_column("A", "x == 101")
    for row in range(1, 40):
        if str(100 + row % 3) != "101":
            sheet.set_row(row, None, None, {"hidden": True})
    book.close()
    return path


def test_xlsxwriter_made_book_reads_alike(tmp_path: Path) -> None:
    [sheet] = read_both(xlsxwriter_book(tmp_path / "xw.xlsx"))
    assert sheet.rows[1][2] == "INV-1.pdf" and sheet.rows[40][3] == "#N/A"
    assert len(sheet.hidden) > 20


@pytest.mark.parametrize(
    "name", ["date_1904", "hyperlinks", "merge_cells", "table-multiple", "libreoffice"]
)
def test_files_of_other_producers_read_alike(tmp_path: Path, name: str) -> None:
    source = FIXTURES / (
        "libreoffice-invoices.xlsx" if name == "libreoffice" else f"calamine-{name}.xlsx"
    )
    read_both(Path(shutil.copy(source, tmp_path / "book.xlsx")))


def test_a_prefixed_sheet_is_left_to_openpyxl(tmp_path: Path) -> None:
    path = shutil.copy(FIXTURES / "calamine-nonstandard-xml-ns-prefix.xlsx", tmp_path / "p.xlsx")
    read_both(Path(path), fast=False, calamine=False)


def _sheet(rows: str, tail: str = "", head: str = "") -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{MAIN}" '
        f'xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac">{head}'
        f"<sheetData>{rows}</sheetData>{tail}</worksheet>"
    )


STRINGS = ["BillingProfileId", "FileName", "", "shared"]
HEADER = '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'

# Hand-written rows, as other programs may write them: read fast, and alike.
FAST_SHAPES = {
    "rich inline text": '<row r="2"><c r="B2" t="inlineStr"><is><r><rPr><b/></rPr><t>a</t></r>'
    "<r><t xml:space='preserve'> b</t></r></is></c></row>",
    "phonetic inline text": '<row r="2"><c r="B2" t="inlineStr"><is><t>漢字</t><rPh sb="0" eb="2">'
    "<t>かんじ</t></rPh></is></c></row>",
    "empty inline texts": '<row r="2"><c r="A2" t="inlineStr"><is><t/></is></c>'
    '<c r="B2" t="inlineStr"><is></is></c><c r="C2" t="inlineStr"/></row>',
    "texts with spaces at their ends": '<row r="2"><c r="A2" t="inlineStr"><is><t> a </t></is></c>'
    '<c r="B2" t="inlineStr"><is><t>  </t></is></c><c r="C2" t="inlineStr"><is><t>x\ny</t></is>'
    '</c><c r="D2" t="inlineStr"><is><t xml:space="preserve"> b </t></is></c></row>',
    "escapes": '<row r="2"><c r="B2" t="inlineStr"><is><t>a &amp; &lt;b&gt; &#233;&#x20AC;'
    '</t></is></c><c r="C2" t="str"><v>&quot;q&quot;</v></c><c r="D2"><v>1&#48;</v></c></row>',
    "an empty shared string": '<row r="2"><c r="A2" t="s"><v>2</v></c>'
    '<c r="B2" t="s"><v> 3 </v></c></row>',
    "text formulas": '<row r="2"><c r="A2" t="str"><f>""</f><v></v></c><c r="B2" t="str">'
    '<f>"x"</f><v>x</v></c><c r="C2" t="str"><f>A1</f></c><c r="D2"><f>1+1</f><v/></c>'
    '<c r="E2" t="inlineStr"><f>A1</f></c></row>',
    "errors and odd types": '<row r="2"><c r="A2" t="e"><v>#REF!</v></c><c r="B2" t="d">'
    '<v>2024-07-31T10:00:00</v></c><c r="C2" t="b"><v>0</v></c><c r="E2" t="s"><v>-1</v></c>'
    "</row>",
    "a date beyond calamine's": '<row r="2"><c r="A2" s="1"><v>1000000000</v></c></row>',
    "pretty printed": '\n  <row r="2" spans="1:2">\n    <c r="A2" s="0" t="s">\n      <v>3</v>\n'
    "    </c>\n  </row>\n",
    "hidden rows spelled every way": '<row r="2" hidden="1"><c r="A2"><v>1</v></c></row>'
    '<row r="3" hidden="true"/><row r="4" hidden="TRUE"/><row r="5" hidden="0"/>'
    '<row r="6" hidden="false"/><row r="7" customHeight="1" hidden="1" ht="0"/>',
    "other attributes": '<row r="2" spans="1:3" x14ac:dyDescent="0.25"><c r="A2" s="0" t="n" '
    'cm="1"><f t="array" ref="A2">1</f><v>1</v></c><c r="B2" vm="1"><v>2</v></c></row>',
    "a cell written twice, columns out of order": '<row r="2"><c r="A2"><v>1</v></c><c r="A2">'
    '<v>2</v></c><c r="C2"><v>3</v></c><c r="B2"><v>4</v></c></row>',
    "a huge row number": '<row r="70000"><c r="C70000"><v>1</v></c></row>',
    "numbers as written": '<row r="2"><c r="A2"><v>1.0</v></c><c r="B2"><v>1E3</v></c>'
    '<c r="C2"><v>-0</v></c><c r="D2"><v>007</v></c><c r="E2"><v>1e400</v></c>'
    '<c r="F2"><v> 5 </v></c><c r="G2"><v>1_000</v></c></row>',
}


# ... read by the scanner, not by calamine
SCANNED_SHAPES = {
    "rows and cells without r": '<row><c t="s"><v>3</v></c><c/><c t="s"><v>3</v></c></row><row>'
    '<c r="C3"><v>5</v></c><c><v>6</v></c></row><row r="9"/>',
    "a type calamine refuses": '<row r="2"><c r="D2" t="zz"><v>odd</v></c></row>',
    "a boolean calamine refuses": '<row r="2"><c r="D2" t="b"><v>2</v></c></row>',
    "attributes on lines of their own": '<row r="2"><c r="A2"\n t="e"><v>#N/A</v></c></row>',
    # (a day before March 1900 first: calamine's date system is not checked on it)
    "dates of 28 February 1900 written every way": '<row r="2"><c r="A2" t="d"><v>1900-02-28'
    'T00:00:00</v></c><c r="B2" s="1"><v>6&#48;</v></c><c r="C2" s="1"><v>59</v></c>'
    '<c r="D2" s="1" t="n"><v>&#54;0.5</v></c><c r="E2" t="s"><v>&#51;</v></c></row>',
    "line ends of Windows": '<row r="2">\r\n<c r="A2" t="inlineStr"><is><t>a\r\nb\rc</t></is>'
    "</c></row>\r\n",
}


@pytest.mark.parametrize("shape", [*FAST_SHAPES, *SCANNED_SHAPES])
def test_hand_written_shapes_read_fast_and_alike(tmp_path: Path, shape: str) -> None:
    path = tmp_path / "book.xlsx"
    merged = '<mergeCells count="1"><mergeCell ref="A2:B2"/></mergeCells>'
    rows = FAST_SHAPES.get(shape) or SCANNED_SHAPES[shape]
    package(path, _sheet(HEADER + rows, merged), STRINGS)
    read_both(path, calamine=shape in FAST_SHAPES)


# Shapes the fast readers leave to openpyxl (which reads them, or names the damage).
SLOW_SHAPES = {
    "single quotes": "<row r='2'><c r='A2' t='s'><v>3</v></c></row>",
    "attributes out of order": '<row r="2"><c t="s" r="A2"><v>3</v></c></row>',
    "a row number after other attributes": '<row spans="1:1" r="2"><c><v>1</v></c></row>',
    "a comment": '<row r="2"><!-- note --><c r="A2"><v>1</v></c></row>',
    "CDATA": '<row r="2"><c r="A2" t="str"><v><![CDATA[<x>]]></v></c></row>',
    "rows out of order": '<row r="3"><c r="A3"><v>1</v></c></row><row r="2"><c r="A2"><v>2</v>'
    "</c></row>",
    "a namespace inside": '<row r="2" xmlns:y="urn:y"><c r="A2"><v>1</v></c></row>',
    "a saved NaN": '<row r="2"><c r="A2"><v>NaN</v></c></row>',
    "a shared string that is not there": '<row r="2"><c r="A2" t="s"><v>99</v></c></row>',
    "a column past openpyxl's": '<row r="2"><c r="AAAA2"><v>1</v></c></row>',
    "an unknown child": '<row r="2"><c r="A2"><v>1</v><extLst/></c></row>',
    "a bad boolean": '<row r="2"><c r="A2" t="b"><v>yes</v></c></row>',
}


@pytest.mark.parametrize("shape", SLOW_SHAPES)
def test_other_shapes_are_read_by_openpyxl(tmp_path: Path, shape: str) -> None:
    path = tmp_path / "book.xlsx"
    package(path, _sheet(HEADER + SLOW_SHAPES[shape]), STRINGS)
    with reading.open_book(path) as book:
        sheet = book.worksheets[0]
        with pytest.raises(cell_scan.Unsure):
            reading._scanned(book, sheet, None)
        try:
            theirs: object = _typed(reading._parsed(book, sheet, None))
        except reading.DAMAGED as damage:
            theirs = type(damage)
        try:
            ours: object = _typed(reading.read_values(book, sheet))
        except reading.DAMAGED as damage:
            ours = type(damage)
        assert ours == theirs


def test_shared_strings_with_spaces_at_their_ends_are_not_left_to_calamine(
    tmp_path: Path,
) -> None:
    """calamine trims a text's ends unless it says xml:space="preserve" (openpyxl does not)."""
    path = tmp_path / "book.xlsx"
    rows = '<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="s"><v>3</v></c></row>'
    package(path, _sheet(HEADER + rows), [*STRINGS[:2], " lead", "  "])
    with zipfile.ZipFile(path) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    strings = parts["xl/sharedStrings.xml"]
    parts["xl/sharedStrings.xml"] = strings.replace(b" xml:space='preserve'", b"")
    with zipfile.ZipFile(path, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    [sheet] = read_both(path, calamine=False)
    assert sheet.rows[1][:2] == [" lead", "  "]


def test_a_sheet_in_utf16_is_left_to_openpyxl(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    sheet = _sheet(HEADER).replace('encoding="UTF-8"', 'encoding="UTF-16"')
    package(path, sheet, STRINGS)
    with zipfile.ZipFile(path) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    parts["xl/worksheets/sheet1.xml"] = sheet.encode("utf-16")
    with zipfile.ZipFile(path, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    read_both(path, fast=False, calamine=False)


def test_damage_after_the_rows_is_named_as_openpyxl_names_it(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    package(path, _sheet(HEADER, "<mergeCells><mergeCell ref='A1:B1'></mergeCells>"), STRINGS)
    with pytest.raises(reading.UsageError, match="damaged"), reading.open_book(path) as book:
        reading.read_values(book, book.worksheets[0])


def test_rows_are_read_a_chunk_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks end anywhere: inside a tag, a text, an escape, a character of several bytes."""
    monkeypatch.setattr(cell_scan, "CHUNK_BYTES", 7)
    path = tmp_path / "book.xlsx"
    shapes = ("escapes", "other attributes", "phonetic inline text")
    rows = "".join(FAST_SHAPES[s].replace("2", str(n)) for n, s in enumerate(shapes, start=2))
    package(path, _sheet(HEADER + rows), STRINGS)
    read_both(path)


CELL_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**18), 10**18),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
    st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(9999, 12, 31)),
    st.times(),
    st.sampled_from(["#N/A", "#VALUE!", "=A1", "=SUM(A1:A2)", " ", "_x0041_"]),
)
FORMATS = st.sampled_from(
    [None, "General", "0.00", "yyyy-mm-dd", "hh:mm", "[h]:mm:ss", "d-mmm-yy", "@", "mm:ss.0"]
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.lists(st.tuples(CELL_VALUES, FORMATS), max_size=6), max_size=8),
    hidden=st.sets(st.integers(1, 10)),
    date1904=st.booleans(),
)
def test_any_cells_openpyxl_writes_read_alike(
    rows: list[list[tuple[object, str | None]]], hidden: set[int], date1904: bool
) -> None:
    book = openpyxl.Workbook()
    if date1904:
        book.epoch = CALENDAR_MAC_1904
    sheet = book.active
    for r, row in enumerate(rows, start=1):
        for c, (value, number_format) in enumerate(row, start=1):
            cell = sheet.cell(r, c)
            cell.value = value
            if number_format:
                cell.number_format = number_format
    for r in hidden:
        sheet.row_dimensions[r].hidden = True
    data = io.BytesIO()
    book.save(data)
    folder = Path(__import__("tempfile").mkdtemp())
    path = folder / "any.xlsx"
    path.write_bytes(data.getvalue())
    try:
        read_both(path, calamine=None)
    finally:
        shutil.rmtree(folder)


def test_a_large_sheet_is_read_a_megabyte_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past CALAMINE_MAX_MB, calamine (which holds the whole sheet twice) is not asked: the
    scanner reads it, to the same values."""
    path = xlsxwriter_book(tmp_path / "xw.xlsx")
    with reading.open_book(path) as book:
        sheet = book.worksheets[0]
        expected = _typed(reading._parsed(book, sheet, None))
        asked = []
        monkeypatch.setattr(reading, "_calamine", lambda *args: asked.append(args))
        monkeypatch.setattr(reading, "CALAMINE_MAX_MB", 0)
        assert _typed(reading.read_values(book, sheet)) == expected and asked == []
        monkeypatch.setattr(reading, "CALAMINE_MAX_MB", 1)
        assert reading.read_values(book, sheet) is None  # the stand-in's answer: it was asked
        assert len(asked) == 1
        size = book._archive.getinfo(sheet._worksheet_path).file_size
        monkeypatch.setattr(reading, "CALAMINE_MAX_MB", size / 1024 / 1024)  # just that size
        assert reading.read_values(book, sheet) is None and len(asked) == 2
        monkeypatch.setattr(reading, "CALAMINE_MAX_MB", (size - 1) / 1024 / 1024)  # a byte less
        assert _typed(reading.read_values(book, sheet)) == expected and len(asked) == 2
        assert _typed(reading.read_values(book, sheet, 3)) == _typed(
            reading._parsed(book, sheet, 3)
        )  # the first rows alone: never calamine, which reads every row
        assert len(asked) == 2


def test_serial_60_shown_as_a_date_is_the_phantom_day_and_an_iso_date_is_not(
    tmp_path: Path,
) -> None:
    """Every reader shares ``cell_scan.phantom``: its answers are checked here on their own."""
    windows = CALENDAR_WINDOWS_1900
    assert [cell_scan.phantom(raw, windows) for raw in ("60", "60.99", "61", "59.99")] == [
        True, True, False, False
    ]  # fmt: skip
    assert not cell_scan.phantom("60", CALENDAR_MAC_1904)
    assert not cell_scan.phantom("1900-02-28T00:00:00", windows)
    path = tmp_path / "book.xlsx"
    package(
        path,
        _sheet(HEADER + SCANNED_SHAPES["dates of 28 February 1900 written every way"]),
        STRINGS,
    )
    [sheet] = read_both(path, calamine=False)
    day = dt.datetime(1900, 2, 28)
    assert sheet.rows[1] == [day, PHANTOM_DATE, day, PHANTOM_DATE, "shared"]
