"""Workbooks from other producers: a push writes its statuses and changes no other cell.

Producers: openpyxl (our template), XlsxWriter, XML as the Open XML SDK and other generators write
it (an ``x:`` prefix, cells and rows without ``r``, single-quoted attributes, shared strings),
LibreOffice (a committed file, see ``fixtures/README.md``), and Excel's own files from calamine's
public test suite. Every cell of every sheet is compared before and after, formulas and cached
values alike, except the Id, Result and Message cells of the rows the push processed.
"""

from __future__ import annotations

import datetime as dt
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from bpxl.workbook import sheet_xml

from .conftest import write_invoices

FIXTURES = Path(__file__).parent / "fixtures"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "http://schemas.openxmlformats.org/package/2006/content-types"
SHEET_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
HEADER = ["BillingProfileId", "DueDate", "Status", "Notes"]
OURS = {"Id", "Result", "Message"}

Cells = dict[tuple[str, int, int], object]


def snapshot(path: Path) -> tuple[Cells, Cells]:
    """Every non-empty cell, as formulas and as the values Excel last showed."""
    found: list[Cells] = []
    for data_only in (False, True):
        book = openpyxl.load_workbook(path, data_only=data_only)
        found.append(
            {
                (sheet.title, cell.row, cell.column): cell.value
                for sheet in book.worksheets
                for row in sheet.iter_rows()
                for cell in row
                if cell.value is not None
            }
        )
    return found[0], found[1]


def assert_only_ours_changed(before: Cells, after: Cells, sheet: str, header_row: int) -> None:
    headers = {k[2]: v for k, v in after.items() if k[0] == sheet and k[1] == header_row}
    own = {column for column, name in headers.items() if name in OURS}
    processed = {k[1] for k, v in after.items() if k[0] == sheet and headers.get(k[2]) == "Result"}
    processed.discard(header_row)
    assert processed, "the push wrote no Result"

    def other(cells: Cells) -> Cells:
        return {
            k: v
            for k, v in cells.items()
            if not (k[0] == sheet and k[2] in own and (k[1] in processed or k[1] == header_row))
        }

    assert other(after) == other(before)


# -- the producers ---------------------------------------------------------------------------------

ROWS: list[list[object]] = [
    ["101", dt.date(2024, 7, 31), "Pending", "first"],
    ["102", dt.date(2024, 8, 31), "Pending", "  spaced  "],
    ["", None, None, "a note on a row with no invoice"],
    ["103", dt.date(2024, 9, 30), "Pending", "third"],
]


def by_openpyxl(path: Path) -> None:
    write_invoices(path, [dict(zip(HEADER[:3], row[:3], strict=True)) for row in ROWS if row[0]])
    book = openpyxl.load_workbook(path)
    book.create_sheet("Totals")["A1"] = "=COUNTA(Invoices!B:B)"
    book.save(path)


def by_xlsxwriter(path: Path) -> None:
    book = xlsxwriter.Workbook(str(path))
    summary = book.add_worksheet("Summary")  # a sheet before the invoices, naming no field
    summary.write_string(0, 0, "Report")
    summary.write_formula(1, 0, "=1+1", None, 2)
    summary.merge_range("C1:D1", "merged")
    sheet = book.add_worksheet("Invoices")
    dates = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, HEADER)
    for number, row in enumerate(ROWS, start=1):
        sheet.write_string(number, 0, str(row[0]))
        if row[1]:
            sheet.write_datetime(number, 1, dt.datetime.combine(row[1], dt.time()), dates)  # type: ignore[arg-type]
        if row[2]:
            sheet.write_string(number, 2, str(row[2]))
        sheet.write_string(number, 3, str(row[3]))
        sheet.write_formula(number, 5, f"=LEN(D{number + 1})", None, len(str(row[3])))
    sheet.write_comment("A1", "a comment")
    book.close()


def package(path: Path, sheet: str, strings: list[str]) -> None:
    """A minimal package around one sheet's XML, as code generators write it."""
    items = "".join(f"<x:si><x:t xml:space='preserve'>{s}</x:t></x:si>" for s in strings)
    parts = {
        "[Content_Types].xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{CT}"><Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default '
            'Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml"'
            ' ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.'
            f'main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="{SHEET_CT}"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.styles+xml"/><Override PartName="/xl/sharedStrings.xml"'
            ' ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
            'sharedStrings+xml"/></Types>'
        ),
        "_rels/.rels": (
            f"<?xml version='1.0' encoding='UTF-8'?><Relationships xmlns='{PKG}'><Relationship "
            f"Id='rId1' Type='{REL}/officeDocument' Target='xl/workbook.xml'/></Relationships>"
        ),
        "xl/workbook.xml": (
            f"<?xml version='1.0' encoding='UTF-8'?><x:workbook xmlns:x='{MAIN}' xmlns:r='{REL}'>"
            "<x:sheets><x:sheet name='Invoices' sheetId='1' r:id='rId1'/></x:sheets>"
            "</x:workbook>"
        ),
        "xl/_rels/workbook.xml.rels": (
            f"<?xml version='1.0' encoding='UTF-8'?><Relationships xmlns='{PKG}'>"
            f"<Relationship Id='rId1' Type='{REL}/worksheet' Target='worksheets/sheet1.xml'/>"
            f"<Relationship Id='rId2' Type='{REL}/styles' Target='styles.xml'/>"
            f"<Relationship Id='rId3' Type='{REL}/sharedStrings' Target='sharedStrings.xml'/>"
            "</Relationships>"
        ),
        "xl/styles.xml": (
            f"<?xml version='1.0' encoding='UTF-8'?><x:styleSheet xmlns:x='{MAIN}'>"
            "<x:numFmts count='1'><x:numFmt numFmtId='164' formatCode='yyyy\\-mm\\-dd'/>"
            "</x:numFmts><x:fonts count='1'><x:font><x:sz val='11'/></x:font></x:fonts>"
            "<x:fills count='2'><x:fill><x:patternFill patternType='none'/></x:fill><x:fill>"
            "<x:patternFill patternType='gray125'/></x:fill></x:fills>"
            "<x:borders count='1'><x:border/></x:borders><x:cellStyleXfs count='1'><x:xf "
            "numFmtId='0' fontId='0' fillId='0' borderId='0'/></x:cellStyleXfs><x:cellXfs "
            "count='2'><x:xf numFmtId='0' fontId='0' fillId='0' borderId='0'/><x:xf "
            "numFmtId='164' fontId='0' fillId='0' borderId='0' applyNumberFormat='1'/>"
            "</x:cellXfs><x:cellStyles count='1'><x:cellStyle name='Normal' xfId='0' "
            "builtinId='0'/></x:cellStyles></x:styleSheet>"
        ),
        "xl/sharedStrings.xml": (
            f"<?xml version='1.0' encoding='UTF-8'?><x:sst xmlns:x='{MAIN}'>{items}</x:sst>"
        ),
        "xl/worksheets/sheet1.xml": sheet,
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        for name, text in parts.items():
            book.writestr(name, text)


def by_code_generator(path: Path) -> None:
    """Cells and rows without ``r`` (their place says where they are), single quotes, x:."""
    strings = [*HEADER, "Pending", "first", "second", "kept", "below"]
    s = {text: index for index, text in enumerate(strings)}

    def text(value: str) -> str:
        return f"<x:c t='s'><x:v>{s[value]}</x:v></x:c>"

    def row(*cells: str, r: str = "") -> str:
        return f"<x:row{r}>{''.join(cells)}</x:row>"

    date = "<x:c s='1'><x:v>45504</x:v></x:c>"
    rows = [
        row(*(text(h) for h in HEADER)),
        row(
            "<x:c t='inlineStr'><x:is><x:t>101</x:t></x:is></x:c>",
            date,
            text("Pending"),
            text("first"),
        ),
        row(text("kept"), r=" r='5'"),  # a row of notes, not an invoice row (column A only)
        row(
            "<x:c t='inlineStr'><x:is><x:t>102</x:t></x:is></x:c>",
            date,
            text("Pending"),
            text("second"),
            "<x:c t='inlineStr'><x:is><x:t>col E</x:t></x:is></x:c>",
        ),
        row("<x:c r='D9' t='s'><x:v>8</x:v></x:c>", r=" r='9'"),
    ]
    sheet = (
        f"<?xml version='1.0' encoding='UTF-8' standalone='yes'?><x:worksheet xmlns:x='{MAIN}'>"
        f"<x:sheetData>{''.join(rows)}</x:sheetData></x:worksheet>"
    )
    package(path, sheet, strings)


def by_libreoffice(path: Path) -> None:
    shutil.copy(FIXTURES / "libreoffice-invoices.xlsx", path)


PRODUCERS: dict[str, Callable[[Path], None]] = {
    "openpyxl": by_openpyxl,
    "xlsxwriter": by_xlsxwriter,
    "code generator": by_code_generator,
    "libreoffice": by_libreoffice,
}


@pytest.mark.parametrize("producer", PRODUCERS)
def test_push_changes_no_cell_but_its_own(tmp_path: Path, sandbox, run, producer: str) -> None:
    path = tmp_path / "book.xlsx"
    PRODUCERS[producer](path)
    before = snapshot(path)
    code, out, err = run("push", path, "--op", "create", "--url", sandbox.url, "--username", "demo")
    assert "Traceback" not in err and code in (0, 1), out + err
    created = sandbox.sandbox.store.count()
    assert created >= 2, out
    after = snapshot(path)
    assert_only_ours_changed(before[0], after[0], "Invoices", 1)
    assert_only_ours_changed(before[1], after[1], "Invoices", 1)
    book = openpyxl.load_workbook(path)
    sheet = book["Invoices"]
    headers = [c.value for c in sheet[1]]
    results = [
        sheet.cell(r, headers.index("Result") + 1).value for r in range(2, sheet.max_row + 1)
    ]
    assert results.count("Created") == created
    code, out, _ = run("push", path, "--op", "create", "--url", sandbox.url, "--username", "demo")
    assert sandbox.sandbox.store.count() == created, out  # a second push creates nothing again


def test_cells_placed_by_position_keep_their_place(tmp_path: Path, sandbox, run) -> None:
    path = tmp_path / "generated.xlsx"
    by_code_generator(path)
    run("push", path, "--op", "create", "--url", sandbox.url, "--username", "demo")
    sheet = openpyxl.load_workbook(path)["Invoices"]
    assert [c.value for c in sheet[1]][:7] == [*HEADER, None, "Id", "Result"]
    assert sheet["D2"].value == "first" and sheet["A5"].value == "kept"
    assert sheet["A6"].value == "102" and sheet["E6"].value == "col E"
    assert [sheet[f"G{r}"].value for r in (2, 5, 6)] == ["Created", "Invalid", "Created"]
    assert sheet["D9"].value == "below" and sheet.max_row == 9


EXCEL_FILES = ["nonstandard-xml-ns-prefix", "date_1904", "table-multiple", "hyperlinks"]


@pytest.mark.parametrize("name", EXCEL_FILES)
@pytest.mark.filterwarnings("ignore:Workbook contains no stylesheet")
def test_excel_files_keep_every_other_cell(tmp_path: Path, name: str) -> None:
    """Files Excel made (calamine's test suite): statuses written past the used columns of the
    first sheet's rows 2 to 4 leave every other cell as it was."""
    source, target = FIXTURES / f"calamine-{name}.xlsx", tmp_path / "out.xlsx"
    book = openpyxl.load_workbook(source)
    sheet = book.worksheets[0]
    width = sheet.max_column
    edit = sheet_xml.Edit(header_row=1)
    edit.set(1, width + 1, "Result", sheet_xml.Style("FF1F3864", bold=True, white=True))
    edit.added.append((width + 1, "Result", 12))
    for row in (2, 3, 4):
        edit.set(row, width + 1, "Created", sheet_xml.Style("FFC6EFCE"))
        edit.set(row, width + 2, f"note {row}")
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        sheet_xml.apply(src, sheet.title, edit, dst)
    before, after = snapshot(source), snapshot(target)
    for old, new in zip(before, after, strict=True):
        ours = {k for k in new if k[0] == sheet.title and k[2] > width}
        assert {k: v for k, v in new.items() if k not in ours} == old
        assert {new[k] for k in ours} == {"Result", "Created", "note 2", "note 3", "note 4"}


def test_nothing_is_written_past_column_xfd(tmp_path: Path, sandbox, run) -> None:
    path = tmp_path / "wide.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["BillingProfileId"])
    sheet.append(["101"])
    sheet.cell(1, sheet_xml.MAX_COLUMN - 1, "far right")
    book.save(path)
    code, _, err = run("push", path, "--op", "create", "--url", sandbox.url, "--username", "demo")
    assert code == 2 and "XFD" in err and "Traceback" not in err
    assert sandbox.writes() == []  # refused before anything was sent
    with pytest.raises(sheet_xml.SheetFullError):
        sheet_xml.Edit().set(1, sheet_xml.MAX_COLUMN + 1, "x")
