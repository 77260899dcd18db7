"""Results written into worksheet XML as other programs write it, not only as openpyxl does."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
from lxml import etree

from bpxl.workbook import sheet_xml

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"


def prefixed_workbook(path: Path) -> None:
    """A workbook as the Open XML SDK writes it: an x: prefix, shared strings, no dimension."""
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
            'package/2006/content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType='
            '"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override '
            'PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.styles+xml"/><Override PartName="/xl/sharedStrings.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
            'sharedStrings+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG}"><Relationship '
            f'Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><x:workbook xmlns:x="{MAIN}" xmlns:r="{REL}">'
            '<x:sheets><x:sheet name="Data &amp; more" sheetId="1" r:id="rId1"/></x:sheets>'
            "</x:workbook>"
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG}">'
            f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="/xl/worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{REL}/styles" Target="styles.xml"/>'
            f'<Relationship Id="rId3" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>"
        ),
        "xl/styles.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><x:styleSheet xmlns:x="{MAIN}">'
            '<x:fonts count="1"><x:font><x:sz val="11"/></x:font></x:fonts>'
            '<x:fills count="2"><x:fill><x:patternFill patternType="none"/></x:fill><x:fill>'
            '<x:patternFill patternType="gray125"/></x:fill></x:fills>'
            '<x:borders count="1"><x:border/></x:borders>'
            '<x:cellStyleXfs count="1"><x:xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
            "</x:cellStyleXfs>"
            '<x:cellXfs count="1"><x:xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
            '</x:cellXfs><x:cellStyles count="1"><x:cellStyle name="Normal" xfId="0" '
            'builtinId="0"/></x:cellStyles></x:styleSheet>'
        ),
        "xl/sharedStrings.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><x:sst xmlns:x="{MAIN}" count="4" '
            'uniqueCount="4"><x:si><x:t>Id</x:t></x:si><x:si><x:t>BillingProfileId</x:t></x:si>'
            "<x:si><x:t>101</x:t></x:si><x:si><x:t>note</x:t></x:si></x:sst>"
        ),
        "xl/worksheets/sheet1.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><x:worksheet xmlns:x="{MAIN}"><x:sheetData>'
            '<x:row r="1" spans="1:2"><x:c r="A1" t="s"><x:v>0</x:v></x:c><x:c r="B1" t="s">'
            '<x:v>1</x:v></x:c><x:c r="D1" t="s"><x:v>3</x:v></x:c></x:row>'
            '<x:row r="2"><x:c r="B2" t="s"><x:v>2</x:v></x:c></x:row>'
            '<x:row r="4"><x:c r="B4" t="s"><x:v>2</x:v></x:c></x:row>'
            "</x:sheetData></x:worksheet>"
        ),
    }
    with zipfile.ZipFile(path, "w") as book:
        for name, text in parts.items():
            book.writestr(name, text)


def test_prefixed_xml_gets_results_in_order_with_new_rows_and_escaping(tmp_path: Path) -> None:
    source, target = tmp_path / "sdk.xlsx", tmp_path / "out.xlsx"
    prefixed_workbook(source)
    edit = sheet_xml.Edit(header_row=1)
    edit.set(1, 5, "Result", sheet_xml.Style("FF1F3864", bold=True, white=True))
    edit.added.append((5, "Result", 12))
    edit.set(2, 5, "Created", sheet_xml.Style("FFC6EFCE"))
    edit.set(2, 3, 'Notes <& "quotes">\x01')
    edit.set(3, 5, "Invalid")  # a row the sheet has no element for yet
    edit.set(4, 1, "1042")
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        sheet_xml.apply(src, "Data & more", edit, dst)
    sheet = openpyxl.load_workbook(target)["Data & more"]
    assert [c.value for c in sheet[1]] == ["Id", "BillingProfileId", None, "note", "Result"]
    assert sheet["E2"].value == "Created" and sheet["E2"].fill.fgColor.rgb == "FFC6EFCE"
    assert sheet["C2"].value == 'Notes <& "quotes">\ufffd' and sheet["B2"].value == "101"
    assert sheet["E3"].value == "Invalid" and sheet["A4"].value == "1042"
    assert sheet["E1"].font.bold and sheet.column_dimensions["E"].width == 12
    with zipfile.ZipFile(target) as out:
        xml = out.read("xl/worksheets/sheet1.xml").decode()
    assert "<x:row" in xml and "<row" not in xml and 'spans="' not in xml
    assert xml.count("xmlns") == 1  # declared once, not again on each row written
    with zipfile.ZipFile(target) as out:
        styles = etree.fromstring(out.read("xl/styles.xml"))
    assert {etree.QName(e).namespace for e in styles.iter(etree.Element)} == {MAIN}
    assert {e.prefix for e in styles.iter(etree.Element)} == {"x"}  # the looks added too
    assert xml.index('r="A4"') < xml.index('r="B4"')  # cells stay in column order


FAST_ROWS = [
    # the template's rows: cells placed by r, the new cells before the first and after the last
    '<row r="{n}" spans="2:3"><c r="B{n}"><v>1</v></c><c r="C{n}" t="s"><v>0</v></c></row>',
    # pretty-printed: whitespace before the first cell and after each
    '<row r="{n}">\n  <c r="B{n}"><v>1</v></c>\n  <c r="C{n}"><v>2</v></c>\n</row>',
    # not for the short way: an extLst after the last cell, a cell without r, a comment first
    '<row r="{n}"><c r="B{n}"><v>1</v></c><c r="C{n}"/><extLst><ext uri="u"/></extLst></row>',
    '<row r="{n}"><c r="B{n}"><v>1</v></c><c><v>2</v></c></row>',
    '<row r="{n}"><!-- a note --><c r="B{n}"><v>1</v></c><c r="C{n}"><v>2</v></c></row>',
]
FAST_VALUES: list[sheet_xml.CellValue] = [
    "Created",
    "  padded ",
    "a&b<c>d\r\ne\tf",
    "=SUM(A1)",
    "bell\x07",
    "",
    None,
    42,
]


def _written(sheet: bytes, edit: sheet_xml.Edit, styles: dict[sheet_xml.Style, int]) -> bytes:
    import io

    out = io.BytesIO()
    sheet_xml._SheetWriter(edit, styles, False).run(io.BytesIO(sheet), out)
    return out.getvalue()


def test_new_cells_at_a_rows_ends_are_written_as_the_full_edit_writes_them(monkeypatch) -> None:
    """The short way (``_spliced``: new text cells put around the row's serialised XML) writes
    byte for byte what editing the row's elements writes, whatever the text, style and prefix."""
    styled, plain, zero = sheet_xml.Style("FFC6EFCE"), sheet_xml.Style("FF000000"), None
    styles = {styled: 7, sheet_xml.Style("FFFFFFFF"): 0}
    for prefix in ("", "x:"):
        declared = f' xmlns:x="{MAIN}"' if prefix else f' xmlns="{MAIN}"'
        rows, edit, number = [], sheet_xml.Edit(), 1
        for template in FAST_ROWS:
            for value in FAST_VALUES:
                for column in (1, 4, 6):
                    for style in (styled, plain, sheet_xml.Style("FFFFFFFF"), zero):
                        number += 1
                        row = template.format(n=number)
                        rows.append(
                            row.replace("<", f"<{prefix}")
                            .replace(f"<{prefix}/", f"</{prefix}")
                            .replace(f"<{prefix}!", "<!")
                        )
                        edit.set(number, column, value, style)
                        edit.set(number, 5, "Failed", styled)
        sheet = (
            f"<{prefix}worksheet{declared}><{prefix}sheetData>{''.join(rows)}"
            f"</{prefix}sheetData></{prefix}worksheet>"
        ).encode()
        fast = _written(sheet, edit, styles)
        with monkeypatch.context() as patched:
            patched.setattr(sheet_xml._SheetWriter, "_spliced", lambda *_: None)
            slow = _written(sheet, edit, styles)
        assert fast == slow
        assert fast.count(b"Failed") == number - 1


def test_a_push_s_results_take_the_short_way(monkeypatch) -> None:
    """Id, Result and Message cells new at a row's ends never build elements (``_edit_row``)."""

    def refuse(*_: object) -> None:
        raise AssertionError("the row was edited element by element")

    monkeypatch.setattr(sheet_xml._SheetWriter, "_edit_row", refuse)
    edit = sheet_xml.Edit()
    for number in range(2, 50):
        edit.set(number, 1, str(1000 + number))
        edit.set(number, 4, "Created", sheet_xml.Style("FFC6EFCE"))
        edit.set(number, 5, "")
    rows = "".join(
        f'<row r="{n}"><c r="B{n}"><v>1</v></c><c r="C{n}"><v>2</v></c></row>' for n in range(2, 50)
    )
    sheet = f'<worksheet xmlns="{MAIN}"><sheetData>{rows}</sheetData></worksheet>'.encode()
    written = _written(sheet, edit, {sheet_xml.Style("FFC6EFCE"): 3})
    assert written.count(b'<c r="D') == 48 and b'<c r="E' not in written


def test_a_long_rows_ends_are_edited_without_reading_its_other_cells(monkeypatch) -> None:
    """Numbers written into a row's first and last cells, and past them, touch only its ends
    (``_ends``): reading every cell of a long row for each result is what made write-backs slow.
    An edit between its ends reads the row (``_cells``), and every cell keeps its place."""
    import io

    read: list[int] = []
    cells = sheet_xml._SheetWriter._cells

    def counted(row, cell_tag, number):  # type: ignore[no-untyped-def]
        read.append(number)
        return cells(row, cell_tag, number)

    monkeypatch.setattr(sheet_xml._SheetWriter, "_cells", staticmethod(counted))
    middle = "".join(f"<c><v>{n}</v></c>" for n in range(3, 59))  # C to BF, placed by position
    rows = "".join(
        f'<row r="{n}"><c r="B{n}"><v>2</v></c>{middle}<c r="BG{n}"><v>59</v></c>{ext}</row>'
        for n, ext in ((2, ""), (3, ""), (4, ""), (5, ""), (6, '<extLst><ext uri="u"/></extLst>'))
    )
    sheet = f'<worksheet xmlns="{MAIN}"><sheetData>{rows}</sheetData></worksheet>'.encode()
    edit = sheet_xml.Edit()
    edit.set(2, 2, 20)  # the first cell
    edit.set(3, 59, 590)  # the last
    edit.set(4, 1, 1)  # before the first
    edit.set(4, 60, 600)  # after the last
    edit.set(5, 30, 300)  # between: the whole row is read
    edit.set(6, 2, 21)
    edit.set(6, 59, 591)
    out = io.BytesIO()
    sheet_xml._SheetWriter(edit, {}, False).run(io.BytesIO(sheet), out)
    assert read == [5]
    written = etree.fromstring(out.getvalue())
    found = {
        c.get("r"): c.findtext(f"{{{MAIN}}}v") for c in written.iter(f"{{{MAIN}}}c") if c.get("r")
    }
    assert (found["B2"], found["BG3"], found["A4"], found["BH4"]) == ("20", "590", "1", "600")
    assert (found["AD5"], found["AC5"], found["AE5"], found["BG5"]) == ("300", "29", "31", "59")
    assert (found["B6"], found["BG6"]) == ("21", "591")  # before the row's extension list
    row_4 = written.find(f".//{{{MAIN}}}row[@r='4']")
    assert row_4 is not None and row_4[1].get("r") == "B4" and row_4[2].get("r") is None
    assert [c.findtext(f"{{{MAIN}}}v") for c in row_4] == ["1", *map(str, range(2, 60)), "600"]
