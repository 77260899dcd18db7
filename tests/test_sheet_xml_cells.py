"""What ``sheet_xml`` writes, checked in the worksheet XML itself: openpyxl forgives what Excel
repairs or misreads (a row numbered twice, a number marked as a shared string), so reading the
result back through openpyxl alone proves little. Where only a spreadsheet program can judge,
LibreOffice (when installed) opens the file and says what it shows."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest
from lxml import etree

from bpxl.workbook import sheet_xml

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
NS = {"m": MAIN}
SHEET = "xl/worksheets/sheet1.xml"
# Cell format 1 shows numbers with a thousands separator and two decimals (#,##0.00).
STYLES = (
    f'<styleSheet xmlns="{MAIN}"><fonts count="1"><font><sz val="11"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill>'
    '<patternFill patternType="gray125"/></fill></fills><borders count="1"><border/></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="4" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
    "</cellStyles></styleSheet>"
)


def package(
    path: Path,
    rows: str,
    *,
    workbook_pr: str = "",
    strings: tuple[str, ...] = (),
    head: str = "",
    tail: str = "",
    parts: dict[str, str | None] | None = None,
) -> Path:
    """A one-sheet .xlsx whose sheetData holds ``rows`` (raw XML), after ``head`` and before
    ``tail``, and whose shared strings are ``strings``, as a program other than openpyxl may
    write it; ``parts`` adds parts or replaces them (None: leaves one out)."""
    shared = "".join(f"<si><t>{s}</t></si>" for s in strings)
    texts: dict[str, str | None] = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
            'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
            'worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.spreadsheetml.styles+xml"/><Override PartName="/xl/'
            'sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.sharedStrings+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{MAIN}" xmlns:r="{REL}">{workbook_pr}<sheets>'
            '<sheet name="Invoices" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{PKG}">'
            f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{REL}/styles" Target="styles.xml"/>'
            f'<Relationship Id="rId3" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>"
        ),
        "xl/styles.xml": STYLES,
        "xl/sharedStrings.xml": (
            f'<sst xmlns="{MAIN}" count="{len(strings)}" uniqueCount="{len(strings)}">{shared}'
            "</sst>"
        ),
        SHEET: f'<worksheet xmlns="{MAIN}">{head}<sheetData>{rows}</sheetData>{tail}</worksheet>',
    }
    texts.update(parts or {})
    with zipfile.ZipFile(path, "w") as book:
        for name, text in texts.items():
            if text is not None:
                book.writestr(
                    name, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + text
                )
    return path


def edited(source: Path, edit: sheet_xml.Edit) -> tuple[Path, etree._Element]:
    """``source`` with ``edit`` applied, saved beside it, and its worksheet XML."""
    target = source.with_name(f"out-{source.name}")
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        sheet_xml.apply(src, "Invoices", edit, dst)
    with zipfile.ZipFile(target) as out:
        return target, etree.fromstring(out.read(SHEET))


def cell(sheet: etree._Element, ref: str) -> etree._Element:
    [found] = sheet.xpath(f"//m:c[@r='{ref}']", namespaces=NS)
    return found


def value(sheet: etree._Element, ref: str) -> str | None:
    text: list[str] = cell(sheet, ref).xpath("m:v/text()", namespaces=NS)
    return text[0] if text else None


OFFICE = shutil.which("soffice") or shutil.which("libreoffice")
needs_libreoffice = pytest.mark.skipif(
    OFFICE is None, reason="LibreOffice is not installed (apt-get install libreoffice-calc-nogui)"
)


def libreoffice_csv(book: Path) -> list[list[str]]:
    """The sheet as LibreOffice shows it (formatted), through a headless conversion to CSV."""
    assert OFFICE is not None
    folder = book.parent / f"lo-{book.stem}"
    profile = (book.parent / "lo-profile").as_uri()
    command = [OFFICE, f"-env:UserInstallation={profile}", "--headless"]
    done = subprocess.run(
        [*command, "--convert-to", "csv", "--outdir", str(folder), str(book)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    converted = folder / f"{book.stem}.csv"
    assert converted.exists(), done.stdout + done.stderr
    with converted.open(encoding="utf-8", newline="") as text:
        return list(csv.reader(text))


def test_an_edited_cell_keeps_its_style(tmp_path: Path) -> None:
    """A value written over a formatted cell keeps the cell's format (its ``s``): an amount
    shown as 1,234.50 stays so; only a Style bpxl gives replaces it."""
    book = package(
        tmp_path / "styled.xlsx",
        '<row r="1"><c r="A1" t="s"><v>0</v></c></row>'
        '<row r="2"><c r="A2" s="1"><v>7</v></c><c r="B2" s="1"/>'
        '<c r="C2" s="1"><v>1</v></c></row>',
        strings=("Amount",),
    )
    edit = sheet_xml.Edit()
    edit.set(2, 1, 1234.5)
    edit.set(2, 2, None)  # emptied: a formatted empty cell stays, with its format
    edit.set(2, 3, 2, sheet_xml.Style("FFC6EFCE"))
    target, sheet = edited(book, edit)
    assert cell(sheet, "A2").get("s") == "1" and value(sheet, "A2") == "1234.5"
    assert cell(sheet, "B2").get("s") == "1" and value(sheet, "B2") is None
    assert cell(sheet, "C2").get("s") not in (None, "0", "1")  # bpxl's own fill, a new format
    opened = openpyxl.load_workbook(target)["Invoices"]
    assert opened["A2"].number_format == "#,##0.00"


def test_a_number_over_text_loses_the_text_type(tmp_path: Path) -> None:
    """A cell that held text (a shared string, a formula's text, a bool) and gets a number must
    lose its ``t``: a number under t="s" is read as the index of a shared string (empty, or
    another cell's text), and a later send of changed cells would clear the field."""
    book = package(
        tmp_path / "typed.xlsx",
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>'
        '<c r="C1" t="s"><v>2</v></c><c r="D1" t="s"><v>3</v></c></row>'
        '<row r="2"><c r="A2" t="s"><v>0</v></c><c r="B2" t="str"><f>"x"&amp;"y"</f><v>xy</v></c>'
        '<c r="C2" t="b"><v>1</v></c><c r="D2" t="e"><v>#N/A</v></c></row>',
        strings=("Id", "Note", "Flag", "Amount"),
    )
    edit = sheet_xml.Edit()
    edit.set(2, 1, 1)  # 1 is also a valid shared string index: it would read back "Note"
    edit.set(2, 2, 42.5)
    edit.set(2, 3, 3)
    edit.set(2, 4, "fixed")
    target, sheet = edited(book, edit)
    for ref in ("A2", "B2", "C2"):
        assert cell(sheet, ref).get("t") is None, etree.tostring(cell(sheet, ref))
    assert not cell(sheet, "B2").xpath("m:f", namespaces=NS)  # the formula went with its value
    assert cell(sheet, "D2").get("t") == "inlineStr"
    assert [value(sheet, r) for r in ("A2", "B2", "C2")] == ["1", "42.5", "3"]
    opened = openpyxl.load_workbook(target)["Invoices"]
    assert [c.value for c in opened[2]] == [1, 42.5, 3, "fixed"]


def dates_in_1904(folder: Path, spelling: str = "1") -> tuple[Path, etree._Element]:
    book = package(
        folder / "mac.xlsx",
        '<row r="1"><c r="A1" t="s"><v>0</v></c></row>',
        workbook_pr=f'<workbookPr date1904="{spelling}"/>',
        strings=("DueDate",),
    )
    edit = sheet_xml.Edit()
    edit.set(2, 1, dt.date(2024, 1, 1), sheet_xml.Style(number_format="yyyy-mm-dd"))
    edit.set(3, 1, dt.datetime(1904, 1, 2, 12, 0))
    return edited(book, edit)


@pytest.mark.parametrize("spelling", ["1", "true"])
def test_dates_are_written_in_the_workbooks_own_date_system(tmp_path: Path, spelling: str) -> None:
    """In a 1904 workbook (Excel for Mac's old default) serial 0 is 1 January 1904: a date
    written with 1900's serials would show 4 years and a day late."""
    target, sheet = dates_in_1904(tmp_path, spelling)
    assert value(sheet, "A2") == "43830"  # 45292 in a 1900 workbook
    assert value(sheet, "A3") == "1.5"
    opened = openpyxl.load_workbook(target)["Invoices"]
    assert opened["A2"].value == dt.datetime(2024, 1, 1)


@needs_libreoffice
def test_libreoffice_shows_a_date_written_into_a_1904_workbook_as_that_date(
    tmp_path: Path,
) -> None:
    target, _ = dates_in_1904(tmp_path)
    assert libreoffice_csv(target)[1] == ["2024-01-01"]


def test_a_1900_workbook_counts_from_1900(tmp_path: Path) -> None:
    book = package(tmp_path / "pc.xlsx", '<row r="1"><c r="A1" t="s"><v>0</v></c></row>',
                   workbook_pr='<workbookPr date1904="false"/>', strings=("DueDate",))  # fmt: skip
    edit = sheet_xml.Edit()
    edit.set(2, 1, dt.date(2024, 1, 1))
    _, sheet = edited(book, edit)
    assert value(sheet, "A2") == "45292"


def row_numbers(sheet: etree._Element) -> list[int]:
    """Each row's number as Excel counts it: its ``r``, else one more than the row before."""
    numbers: list[int] = []
    for row in sheet.iterfind(".//m:sheetData/m:row", NS):
        numbers.append(int(row.get("r") or (numbers[-1] if numbers else 0) + 1))
    return numbers


def implied_rows(folder: Path) -> tuple[Path, etree._Element]:
    book = package(
        folder / "implied.xlsx",
        "<row><c><v>10</v></c><c><v>11</v></c></row>"
        "<row><c><v>20</v></c><c><v>21</v></c></row>"
        "<row><c><v>30</v></c><c><v>31</v></c></row>"
        '<row r="5"><c r="A5"><v>50</v></c></row>'
        "<row><c><v>60</v></c></row>",
    )
    edit = sheet_xml.Edit()
    edit.set(3, 3, "Created")
    edit.set(4, 1, 40)  # a row the sheet has no element for, between implied and numbered ones
    edit.set(6, 2, 61)
    edit.set(8, 1, 80)
    return edited(book, edit)


IMPLIED = [
    [10, 11, None],
    [20, 21, None],
    [30, 31, "Created"],
    [40, None, None],
    [50, None, None],
    [60, 61, None],
    [None, None, None],
    [80, None, None],
]


def test_rows_without_numbers_are_edited_where_they_stand(tmp_path: Path) -> None:
    """Rows may leave out ``r`` (their number is their position): an edit of row 3 goes into
    the third row, a new row 4 between, and no row number appears twice (Excel "repairs" a
    sheet with a duplicate row by dropping content)."""
    target, sheet = implied_rows(tmp_path)
    assert row_numbers(sheet) == [1, 2, 3, 4, 5, 6, 8]
    rows = sheet.findall(".//m:sheetData/m:row", NS)
    assert [c.get("r") for c in rows[2]] == ["A3", "B3", "C3"]  # placed by position, then named
    assert rows[2][2].xpath("string(m:is/m:t)", namespaces=NS) == "Created"
    assert [c.get("r") for c in rows[5]] == ["A6", "B6"]
    opened = openpyxl.load_workbook(target)["Invoices"]
    assert [[c.value for c in r] for r in opened.iter_rows(max_col=3)] == IMPLIED


@needs_libreoffice
def test_libreoffice_reads_rows_without_numbers_where_bpxl_wrote_them(tmp_path: Path) -> None:
    target, _ = implied_rows(tmp_path)
    shown = [row[:3] for row in libreoffice_csv(target)]
    assert shown == [["" if v is None else str(v) for v in row] for row in IMPLIED]
