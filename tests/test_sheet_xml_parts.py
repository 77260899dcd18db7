"""What ``sheet_xml`` writes around the cells, checked in the package's XML: the tables that take
bpxl's added columns and rows, the cell formats it adds to the styles, the column widths and the
sheet's dimension, the parts it leaves alone byte for byte, the relationships it follows to find
them, and the edit's bounds (Excel's last row and column)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from lxml import etree

from bpxl.core.errors import UsageError
from bpxl.workbook import sheet_xml

from .test_sheet_xml_cells import MAIN, NS, PKG, REL, SHEET, cell, edited, package, value

TABLE = "xl/tables/table1.xml"
SHEET_RELS = "xl/worksheets/_rels/sheet1.xml.rels"
HEADER = '<row r="1"><c r="A1" t="inlineStr"><is><t>Id</t></is></c></row>'


def part(target: Path, name: str) -> etree._Element:
    with zipfile.ZipFile(target) as book:
        return etree.fromstring(book.read(name))


def raw(target: Path, name: str) -> bytes:
    with zipfile.ZipFile(target) as book:
        return book.read(name)


def table(ref: str = "A1:B3", columns: str = '<tableColumn id="1" name="Id"/>'
          '<tableColumn id="2" name="Amount"/>', count: int = 2, auto: str | None = None,
          prefix: str = "") -> str:  # fmt: skip
    """A table part as Excel writes it (``prefix``: as the Open XML SDK may)."""
    p = f"{prefix}:" if prefix else ""
    declared = f"xmlns:{prefix}" if prefix else "xmlns"
    text = (
        f'<{p}table {declared}="{MAIN}" id="1" name="Table1" displayName="Table1" ref="{ref}">'
        f'<{p}autoFilter ref="{auto or ref}"/><{p}tableColumns count="{count}">{columns}'
        f'</{p}tableColumns><{p}tableStyleInfo name="TableStyleMedium2" showRowStripes="1"/>'
        f"</{p}table>"
    )
    return text.replace("<tableColumn", f"<{p}tableColumn")


def with_table(folder: Path, table_xml: str, target: str = "../tables/table1.xml") -> Path:
    """A workbook whose sheet has the table ``table_xml``, its relationship after a hyperlink's
    (an external target, which names no part of the package)."""
    rels = (
        f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/hyperlink" '
        'Target="https://example.com/tables/table1.xml" TargetMode="External"/>'
        f'<Relationship Id="rId2" Type="{REL}/table" Target="{target}"/></Relationships>'
    )
    return package(
        folder / "table.xlsx",
        HEADER,
        tail=f'<tableParts count="1"><tablePart xmlns:r="{REL}" r:id="rId2"/></tableParts>',
        parts={TABLE: table_xml, SHEET_RELS: rels},
    )


def results_edit(grow_rows: bool = True, header_row: int = 1) -> sheet_xml.Edit:
    """Result and Message added in columns C and D, a result in row 5."""
    edit = sheet_xml.Edit(header_row=header_row, grow_rows=grow_rows)
    edit.set(header_row, 3, "Result")
    edit.set(header_row, 4, "Message")
    edit.added += [(4, "Message", 40), (3, "Result", 12)]
    edit.set(5, 3, "Created")
    return edit


def columns_of(root: etree._Element) -> list[tuple[str | None, str | None]]:
    return [(c.get("id"), c.get("name")) for c in root.iterfind(".//m:tableColumn", NS)]


def refs(root: etree._Element) -> tuple[str | None, str | None, str | None]:
    auto = root.find("m:autoFilter", NS)
    columns = root.find("m:tableColumns", NS)
    assert auto is not None and columns is not None
    return root.get("ref"), auto.get("ref"), columns.get("count")


@pytest.mark.parametrize("prefix", ["", "x"])
def test_a_table_takes_the_added_columns_and_grows_down_to_the_last_row(
    tmp_path: Path, prefix: str
) -> None:
    book = with_table(tmp_path, table(prefix=prefix))
    target, _ = edited(book, results_edit())
    root = part(target, TABLE)
    assert refs(root) == ("A1:D5", "A1:D5", "4")
    assert columns_of(root) == [("1", "Id"), ("2", "Amount"), ("3", "Result"), ("4", "Message")]
    assert {etree.QName(c).namespace for c in root.iter(etree.Element)} == {MAIN}
    assert raw(target, TABLE).startswith(
        b"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n<"
    )


def test_a_table_grows_down_only_when_asked_and_never_shrinks(tmp_path: Path) -> None:
    book = with_table(tmp_path, table())
    target, _ = edited(book, results_edit(grow_rows=False))
    assert refs(part(target, TABLE)) == ("A1:D3", "A1:D3", "4")
    long = with_table(tmp_path, table(ref="A1:B9"))
    target, _ = edited(long, results_edit())
    assert refs(part(target, TABLE)) == ("A1:D9", "A1:D9", "4")


def test_a_table_under_another_header_row_is_left_as_it_is(tmp_path: Path) -> None:
    """A table whose first row is not the sheet's header row is not the invoices' table."""
    book = with_table(tmp_path, table(ref="A2:B3"))
    target, _ = edited(book, results_edit())
    assert refs(part(target, TABLE)) == ("A2:B3", "A2:B3", "2")
    assert columns_of(part(target, TABLE)) == [("1", "Id"), ("2", "Amount")]
    target, _ = edited(book, results_edit(header_row=2))
    assert refs(part(target, TABLE)) == ("A2:D5", "A2:D5", "4")


def test_a_table_takes_only_the_columns_next_to_it(tmp_path: Path) -> None:
    """Columns added further right stay outside; a filter over other cells keeps its range; a
    column's id is one more than the largest, whatever gaps the table's ids have."""
    columns = '<tableColumn id="1" name="Id"/><tableColumn id="7" name="Amount"/>'
    book = with_table(tmp_path, table(columns=columns, auto="A1:A3"))
    edit = sheet_xml.Edit(header_row=1)
    edit.set(1, 3, "Result")
    edit.set(1, 6, "Far")
    edit.added += [(6, "Far", 10), (3, "Result", 12)]
    target, _ = edited(book, edit)
    root = part(target, TABLE)
    assert refs(root) == ("A1:C3", "A1:A3", "3")
    assert columns_of(root) == [("1", "Id"), ("7", "Amount"), ("8", "Result")]


def test_a_table_found_through_an_absolute_or_roundabout_target(tmp_path: Path) -> None:
    for target in ("/xl/tables/table1.xml", "./../../../xl/./tables/table1.xml"):
        book = with_table(tmp_path, table(), target=target)
        written, _ = edited(book, results_edit())
        assert refs(part(written, TABLE)) == ("A1:D5", "A1:D5", "4"), target


def test_a_table_without_added_columns_only_grows_down(tmp_path: Path) -> None:
    book = with_table(tmp_path, table())
    edit = sheet_xml.Edit(header_row=1, grow_rows=True)
    edit.set(6, 1, "1006")
    target, sheet = edited(book, edit)
    assert refs(part(target, TABLE)) == ("A1:B6", "A1:B6", "2")
    assert cell(sheet, "A6").xpath("string(m:is/m:t)", namespaces=NS) == "1006"


# -- styles ---------------------------------------------------------------------------------------


def xf_of(target: Path, ref: str) -> etree._Element:
    """The cell format (xf) the cell ``ref`` uses."""
    sheet = part(target, SHEET)
    styles = part(target, "xl/styles.xml")
    return styles.findall("m:cellXfs/m:xf", NS)[int(cell(sheet, ref).get("s") or 0)]


def test_each_look_gets_one_cell_format_with_its_font_fill_and_number_format(
    tmp_path: Path,
) -> None:
    book = package(tmp_path / "looks.xlsx", HEADER)
    green, header = sheet_xml.Style("FFC6EFCE"), sheet_xml.Style("FF1F3864", True, True)
    date, bold = sheet_xml.Style(number_format="yyyy-mm-dd"), sheet_xml.Style(bold=True)
    edit = sheet_xml.Edit()
    edit.set(1, 2, "Result", header)
    for row in (2, 3):
        edit.set(row, 2, "Created", green)
    edit.set(2, 3, "2024-01-01", date)
    edit.set(2, 4, "note", bold)
    edit.set(3, 4, "kept", None)  # no look given: none added
    target, sheet = edited(book, edit)
    styles = part(target, "xl/styles.xml")
    fonts, fills = styles.find("m:fonts", NS), styles.find("m:fills", NS)
    xfs = styles.find("m:cellXfs", NS)
    assert fonts is not None and fills is not None and xfs is not None
    assert (fonts.get("count"), fills.get("count"), xfs.get("count")) == ("3", "4", "6")
    assert len(fonts) == 3 and len(fills) == 4 and len(xfs) == 6
    assert cell(sheet, "B2").get("s") == cell(sheet, "B3").get("s")  # one format for one look
    assert cell(sheet, "D3").get("s") is None
    for ref, (number_format, font_xml, fill_rgb) in {
        "B1": ("0", '<font><b/><color rgb="FFFFFFFF"/><sz val="11"/></font>', "FF1F3864"),
        "B2": ("0", None, "FFC6EFCE"),
        "C2": ("164", None, None),
        "D2": ("0", '<font><b/><sz val="11"/></font>', None),
    }.items():
        xf = xf_of(target, ref)
        assert dict(xf.attrib) == {
            "numFmtId": number_format,
            "fontId": xf.get("fontId"),
            "fillId": xf.get("fillId"),
            "borderId": "0",
            "xfId": "0",
            "applyFont": "1",
            "applyFill": "1",
            "applyNumberFormat": "1",
        }, ref
        font, fill = fonts[int(xf.get("fontId", ""))], fills[int(xf.get("fillId", ""))]
        if font_xml is None:
            assert xf.get("fontId") == "0", ref
        else:
            assert etree.tostring(font).decode().replace(f' xmlns="{MAIN}"', "") == font_xml
        if fill_rgb is None:
            assert xf.get("fillId") == "0", ref
        else:
            pattern = fill.find("m:patternFill", NS)
            assert pattern is not None and pattern.get("patternType") == "solid"
            assert [(e.tag.split("}")[1], dict(e.attrib)) for e in pattern] == [
                ("fgColor", {"rgb": fill_rgb}),
                ("bgColor", {"indexed": "64"}),
            ]
    formats = styles.find("m:numFmts", NS)
    assert formats is not None and styles.index(formats) == 0  # numFmts come first
    assert [dict(f.attrib) for f in formats] == [{"numFmtId": "164", "formatCode": "yyyy-mm-dd"}]
    assert formats.get("count") == "1"


NUMBER_FORMATS = (
    '<numFmts count="2"><numFmt numFmtId="170" formatCode="dd/mm/yyyy"/>'
    '<numFmt numFmtId="165" formatCode="0.000"/></numFmts>'
)


def test_a_number_format_the_workbook_has_is_used_again_and_a_new_one_numbered_after(
    tmp_path: Path,
) -> None:
    from .test_sheet_xml_cells import STYLES

    styles = STYLES.replace("<fonts", NUMBER_FORMATS + "<fonts", 1)
    book = package(tmp_path / "formats.xlsx", HEADER, parts={"xl/styles.xml": styles})
    edit = sheet_xml.Edit()
    edit.set(2, 1, "a", sheet_xml.Style(number_format="dd/mm/yyyy"))
    edit.set(2, 2, "b", sheet_xml.Style(number_format="yyyy-mm-dd hh:mm"))
    target, _ = edited(book, edit)
    assert xf_of(target, "A2").get("numFmtId") == "170"
    assert xf_of(target, "B2").get("numFmtId") == "171"
    formats = part(target, "xl/styles.xml").find("m:numFmts", NS)
    assert formats is not None and formats.get("count") == "3"
    assert [f.get("numFmtId") for f in formats] == ["170", "165", "171"]
    assert formats[2].get("formatCode") == "yyyy-mm-dd hh:mm"


@pytest.mark.parametrize("missing", ["fonts", "fills", "cellXfs", "the part"])
def test_values_go_in_without_their_looks_where_the_styles_cannot_take_them(
    tmp_path: Path, missing: str
) -> None:
    """A styles part without a list of fonts, fills or cell formats (or none at all): the cells
    are written, plain, and the styles left as they were."""
    from .test_sheet_xml_cells import STYLES

    root = etree.fromstring(STYLES)
    for found in root.findall(f"m:{missing}", NS):
        root.remove(found)
    styles = None if missing == "the part" else etree.tostring(root).decode()
    assert styles != STYLES
    book = package(tmp_path / "odd.xlsx", HEADER, parts={"xl/styles.xml": styles})
    edit = sheet_xml.Edit()
    edit.set(2, 1, "Created", sheet_xml.Style("FFC6EFCE", bold=True, number_format="0.0"))
    target, sheet = edited(book, edit)
    assert cell(sheet, "A2").get("s") is None
    assert cell(sheet, "A2").xpath("string(m:is/m:t)", namespaces=NS) == "Created"
    if styles is not None:
        after, before = part(target, "xl/styles.xml"), part(book, "xl/styles.xml")
        assert etree.tostring(after, method="c14n") == etree.tostring(before, method="c14n")


# -- the sheet around its rows: widths, dimension, what comes before and after --------------------


def widths(target: Path) -> list[dict[str, str]]:
    return [dict(c.attrib) for c in part(target, SHEET).iterfind("m:cols/m:col", NS)]


def test_added_columns_get_their_width_unless_the_sheet_sets_one(tmp_path: Path) -> None:
    head = (
        '<cols><col min="1" max="2" width="20" customWidth="1"/>'
        '<col min="6" max="6" width="9"/></cols>'
    )
    book = package(tmp_path / "cols.xlsx", HEADER, head=head)
    edit = sheet_xml.Edit()
    edit.set(1, 2, "Id")
    edit.added += [(7, "Far", 30.5), (2, "Set", 5), (3, "Result", 12)]
    target, _ = edited(book, edit)
    assert widths(target) == [
        {"min": "1", "max": "2", "width": "20", "customWidth": "1"},
        {"min": "3", "max": "3", "width": "12", "customWidth": "1"},
        {"min": "6", "max": "6", "width": "9"},
        {"min": "7", "max": "7", "width": "30.5", "customWidth": "1"},
    ]


def test_a_sheet_without_widths_gets_them_before_its_rows(tmp_path: Path) -> None:
    head = '<dimension ref="A1"/><sheetViews><sheetView workbookViewId="0"/></sheetViews>'
    book = package(tmp_path / "plain.xlsx", HEADER, head=head)
    edit = sheet_xml.Edit()
    edit.set(1, 2, "Result")
    edit.added.append((2, "Result", 12))
    target, sheet = edited(book, edit)
    assert [etree.QName(e).localname for e in sheet] == [
        "dimension",
        "sheetViews",
        "cols",
        "sheetData",
    ]
    assert widths(target) == [{"min": "2", "max": "2", "width": "12", "customWidth": "1"}]
    # nothing added, nothing widened: the sheet's head is as it was
    edit = sheet_xml.Edit()
    edit.set(2, 1, "x")
    _, sheet = edited(book, edit)
    assert [etree.QName(e).localname for e in sheet] == ["dimension", "sheetViews", "sheetData"]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("A1:C3", "A1:E7"),  # an edit past the used range widens it
        ("A1", "A1:E7"),  # one cell
        ("B2:AB30", "B2:AB30"),  # an edit inside leaves it
        ("nonsense", "nonsense"),  # not a range: left alone
    ],
)
def test_the_dimension_covers_the_cells_written(tmp_path: Path, before: str, after: str) -> None:
    book = package(tmp_path / "dim.xlsx", HEADER, head=f'<dimension ref="{before}"/>')
    edit = sheet_xml.Edit()
    edit.set(7, 2, "x")
    edit.set(3, 5, "y")
    _, sheet = edited(book, edit)
    dimension = sheet.find("m:dimension", NS)
    assert dimension is not None and dimension.get("ref") == after


def test_a_dimension_larger_in_rows_than_in_columns_keeps_both(tmp_path: Path) -> None:
    book = package(tmp_path / "dim.xlsx", HEADER, head='<dimension ref="A1:B900"/>')
    edit = sheet_xml.Edit()
    edit.set(2, 3, "Result")
    _, sheet = edited(book, edit)
    dimension = sheet.find("m:dimension", NS)
    assert dimension is not None and dimension.get("ref") == "A1:C900"


def test_what_comes_after_the_rows_is_kept_as_it_was(tmp_path: Path) -> None:
    tail = (
        '\n  <mergeCells count="1"><mergeCell ref="A9:B9"/></mergeCells>'
        '<conditionalFormatting sqref="A2:A9"><cfRule type="expression" dxfId="0" '
        'priority="1"><formula>A2&lt;&gt;""</formula></cfRule></conditionalFormatting>'
        '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" '
        'footer="0.3"/>\n'
    )
    book = package(tmp_path / "tail.xlsx", HEADER, tail=tail)
    edit = sheet_xml.Edit()
    edit.set(2, 1, "x")
    target, sheet = edited(book, edit)
    xml = raw(target, SHEET)
    assert xml.endswith(b"</sheetData>" + tail.encode() + b"</worksheet>")
    assert xml.count(b"xmlns") == 1  # declared once, not again on each row written
    assert [etree.QName(e).localname for e in sheet] == [
        "sheetData",
        "mergeCells",
        "conditionalFormatting",
        "pageMargins",
    ]


def test_a_sheet_with_no_rows_gets_the_edited_ones(tmp_path: Path) -> None:
    for rows in ("", "<!-- none -->"):
        book = package(tmp_path / "empty.xlsx", rows, head='<dimension ref="A1"/>')
        edit = sheet_xml.Edit()
        edit.set(3, 2, "b3")
        edit.set(1, 1, "a1")
        _, sheet = edited(book, edit)
        assert [r.get("r") for r in sheet.iterfind("m:sheetData/m:row", NS)] == ["1", "3"]
        assert cell(sheet, "B3").xpath("string(m:is/m:t)", namespaces=NS) == "b3"


def test_a_sheet_without_its_rows_element_is_refused(tmp_path: Path) -> None:
    book = package(tmp_path / "broken.xlsx", "", parts={SHEET: f'<worksheet xmlns="{MAIN}"/>'})
    edit = sheet_xml.Edit()
    edit.set(1, 1, "x")
    with pytest.raises(ValueError, match="the sheet has no sheetData"):
        edited(book, edit)


# -- the package: which parts change, which are copied, which sheet is which ----------------------


def test_an_empty_edit_copies_every_part_byte_for_byte(tmp_path: Path) -> None:
    book = with_table(tmp_path, table())
    target, _ = edited(book, sheet_xml.Edit())
    with zipfile.ZipFile(book) as before, zipfile.ZipFile(target) as after:
        assert [i.filename for i in after.infolist()] == [i.filename for i in before.infolist()]
        for item in before.infolist():
            assert after.read(item.filename) == before.read(item.filename), item.filename


def test_only_the_edited_sheet_its_styles_and_tables_change(tmp_path: Path) -> None:
    book = with_table(tmp_path, table())
    edit = results_edit()
    edit.set(2, 3, "Created", sheet_xml.Style("FFC6EFCE"))
    target, _ = edited(book, edit)
    changed = {SHEET, TABLE, "xl/styles.xml"}
    with zipfile.ZipFile(book) as before, zipfile.ZipFile(target) as after:
        assert [i.filename for i in after.infolist()] == [i.filename for i in before.infolist()]
        for item in before.infolist():
            same = after.read(item.filename) == before.read(item.filename)
            assert same is (item.filename not in changed), item.filename
            assert after.getinfo(item.filename).compress_type == item.compress_type
    unstyled, _ = edited(book, results_edit())  # no look: the styles part as it was
    assert raw(unstyled, "xl/styles.xml") == raw(book, "xl/styles.xml")


def two_sheets(folder: Path, second_target: str = "worksheets/sheet2.xml") -> Path:
    workbook = (
        f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><workbookPr defaultThemeVersion="124226"/>'
        '<sheets><sheet name="Invoices" sheetId="1" r:id="rId1"/>'
        '<sheet name="Memory" sheetId="2" state="hidden" r:id="rId4"/>'
        '<sheet name="Lost" sheetId="3" r:id="rId9"/></sheets></workbook>'
    )
    rels = (
        f'<Relationships xmlns="{PKG}">'
        f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{REL}/styles" Target="styles.xml"/>'
        f'<Relationship Id="rId4" Type="{REL}/worksheet" Target="{second_target}"/>'
        "</Relationships>"
    )
    second = f'<worksheet xmlns="{MAIN}"><sheetData>{HEADER}</sheetData></worksheet>'
    return package(
        folder / "two.xlsx",
        HEADER,
        parts={
            "xl/workbook.xml": workbook,
            "xl/_rels/workbook.xml.rels": rels,
            "xl/worksheets/sheet2.xml": second,
        },
    )


def test_the_sheet_named_is_edited_and_the_one_given_anew_is_written_from_its_pieces(
    tmp_path: Path,
) -> None:
    book = two_sheets(tmp_path)
    with zipfile.ZipFile(book) as source:
        found = sheet_xml.Book(source)
        assert found.sheets() == [("Invoices", "rId1"), ("Memory", "rId4"), ("Lost", "rId9")]
        assert found.sheet_part("Memory") == "xl/worksheets/sheet2.xml"
        assert not found.date1904  # a workbookPr without date1904: the 1900 system
        assert etree.QName(found.part("xl/worksheets/sheet2.xml")).localname == "worksheet"
        for missing in ("Lost", "Nope"):  # Lost has no relationship
            with pytest.raises(KeyError, match=f"sheet '{missing}' is not in the workbook"):
                found.sheet_part(missing)
    edit = sheet_xml.Edit()
    edit.set(2, 1, "1001")
    pieces = [b'<worksheet xmlns="' + MAIN.encode() + b'">', b"<sheetData/>", b"</worksheet>"]
    target = tmp_path / "out.xlsx"
    with zipfile.ZipFile(book) as src, zipfile.ZipFile(target, "w") as dst:
        sheet_xml.apply(src, "Memory", edit, dst, anew={"Invoices": pieces})
    assert raw(target, SHEET) == b"".join(pieces)
    memory = part(target, "xl/worksheets/sheet2.xml")
    assert value(memory, "A2") is None
    assert memory.xpath("string(//m:c[@r='A2']/m:is/m:t)", namespaces=NS) == "1001"


def test_sheets_in_the_strict_spelling_are_found(tmp_path: Path) -> None:
    """ISO strict workbooks name relationships in another namespace (purl.oclc.org)."""
    strict = "http://purl.oclc.org/ooxml/officeDocument/relationships"
    workbook = (
        f'<workbook xmlns="{MAIN}" xmlns:r="{strict}" xmlns:o="urn:other"><sheets>'
        '<sheet o:id="rId2" name="Invoices" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    book = package(tmp_path / "strict.xlsx", HEADER, parts={"xl/workbook.xml": workbook})
    with zipfile.ZipFile(book) as source:
        assert sheet_xml.Book(source).sheets() == [("Invoices", "rId1")]
        assert sheet_xml.Book(source).sheet_part("Invoices") == SHEET


def test_check_parts_reads_the_parts_a_write_back_rewrites_but_the_sheet(tmp_path: Path) -> None:
    """A broken styles or table part is found before any row is sent; the sheet itself was read
    whole already, so it is not parsed again."""
    good = with_table(tmp_path, table())
    with zipfile.ZipFile(good) as source:
        sheet_xml.check_parts(source, "Invoices")
    for name in (TABLE, "xl/styles.xml"):
        broken = tmp_path / "broken.xlsx"
        with zipfile.ZipFile(good) as source, zipfile.ZipFile(broken, "w") as target:
            for item in source.infolist():
                data = b"<unclosed>" if item.filename == name else source.read(item)
                target.writestr(item, data)
        with zipfile.ZipFile(broken) as source, pytest.raises(etree.XMLSyntaxError):
            sheet_xml.check_parts(source, "Invoices")
    with zipfile.ZipFile(good) as source, pytest.raises(KeyError):
        sheet_xml.check_parts(source, "Nope")


def test_a_package_with_a_dtd_is_refused_naming_the_file(tmp_path: Path) -> None:
    dtd = '<!DOCTYPE x [<!ENTITY e "boom">]>'
    book = package(tmp_path / "Q4 hostile.xlsx", HEADER)
    with zipfile.ZipFile(book, "a") as more:
        more.writestr("xl/extra.xml", f'<?xml version="1.0"?>{dtd}<x>&e;</x>')
    with zipfile.ZipFile(book) as source, pytest.raises(UsageError) as refused:
        sheet_xml.check_parts(source, "Invoices")
    assert "Q4 hostile.xlsx" in str(refused.value)


# -- the edit's bounds ----------------------------------------------------------------------------


def test_cells_up_to_excels_last_row_and_column_are_taken_and_none_past_them() -> None:
    edit = sheet_xml.Edit()
    edit.set(1_048_576, 16_384, "XFD1048576")
    edit.set(1, 1, "A1")
    assert edit.values == {1_048_576: {16_384: "XFD1048576"}, 1: {1: "A1"}}
    for row, column in ((0, 1), (1, 0), (1_048_577, 1), (1, 16_385)):
        with pytest.raises(sheet_xml.SheetFullError):
            edit.set(row, column, "x")
    with pytest.raises(sheet_xml.SheetFullError) as full:
        edit.set(7, 16_385, "x")
    assert full.value.message == (
        "Cell XFE7 would be past Excel's last column (XFD) or row (1,048,576), so bpxl cannot "
        "write there."
    )
    assert full.value.hint == (
        "Make room: delete empty columns at the right of the sheet, or move the data."
    )
    assert edit.values == {1_048_576: {16_384: "XFD1048576"}, 1: {1: "A1"}}


def test_a_look_given_once_stays_when_the_cell_is_set_again_without_one() -> None:
    green = sheet_xml.Style("FFC6EFCE")
    edit = sheet_xml.Edit()
    edit.set(2, 3, "Created", green)
    edit.set(2, 3, "Updated")
    edit.set(2, 4, "plain")
    assert edit.styles == {(2, 3): green} and edit.values == {2: {3: "Updated", 4: "plain"}}


@pytest.mark.parametrize(("letters", "number"), [("A", 1), ("z", 26), ("AA", 27), ("xfd", 16384)])
def test_column_letters_are_numbered_as_excel_does(letters: str, number: int) -> None:
    assert sheet_xml.column_number(letters) == number


# -- the cells ------------------------------------------------------------------------------------


def cell_xml(sheet: etree._Element, ref: str) -> str:
    """The cell as written, without the namespace declaration lxml repeats on it alone."""
    return etree.tostring(cell(sheet, ref)).decode().replace(f' xmlns="{MAIN}"', "")


def test_each_kind_of_value_is_written_as_excel_stores_it(tmp_path: Path) -> None:
    import datetime as dt

    old = '<c r="{ref}" s="{s}" t="s" cm="1" vm="2" ph="1"><f>A1</f><v>0</v>{ext}</c>'
    ext = '<extLst><ext uri="u"/></extLst>'
    cells = "".join(
        old.format(
            ref=f"{letter}2", s="1" if letter in "BK" else "0", ext=ext if letter == "L" else ""
        )
        for letter in "ABCDEFGHIJKL"
    )
    book = package(tmp_path / "kinds.xlsx", f'{HEADER}<row r="2">{cells}</row>', strings=("x",))
    values: dict[str, sheet_xml.CellValue] = {
        "A": True,
        "B": False,
        "C": 7,
        "D": 0.1,
        "E": 1e20,
        "F": dt.date(1900, 2, 28),
        "G": dt.datetime(2024, 1, 1, 6, 0, tzinfo=dt.timezone(dt.timedelta(hours=5))),
        "H": " padded ",
        "I": "plain",
        "J": "",
        "K": "",
        "L": None,
    }
    edit = sheet_xml.Edit()
    for letter, written in values.items():
        edit.set(2, sheet_xml.column_number(letter), written)
    _, sheet = edited(book, edit)
    assert cell_xml(sheet, "A2") == '<c r="A2" s="0" t="b"><v>1</v></c>'
    assert cell_xml(sheet, "B2") == '<c r="B2" s="1" t="b"><v>0</v></c>'
    assert cell_xml(sheet, "C2") == '<c r="C2" s="0"><v>7</v></c>'
    assert cell_xml(sheet, "D2") == '<c r="D2" s="0"><v>0.1</v></c>'
    assert cell_xml(sheet, "E2") == '<c r="E2" s="0"><v>1e+20</v></c>'
    assert cell_xml(sheet, "F2") == '<c r="F2" s="0"><v>59</v></c>'  # 1900: no workbookPr
    assert cell_xml(sheet, "G2") == '<c r="G2" s="0"><v>45292.25</v></c>'  # as the clock read
    assert cell_xml(sheet, "H2") == (
        '<c r="H2" s="0" t="inlineStr"><is><t xml:space="preserve"> padded </t></is></c>'
    )
    assert cell_xml(sheet, "I2") == '<c r="I2" s="0" t="inlineStr"><is><t>plain</t></is></c>'
    assert not sheet.xpath("//m:c[@r='J2']", namespaces=NS)  # empty and plain: gone
    assert cell_xml(sheet, "K2") == '<c r="K2" s="1"/>'  # empty, its format kept
    assert cell_xml(sheet, "L2") == f'<c r="L2" s="0">{ext}</c>'  # empty, its extension kept


@pytest.mark.parametrize(
    ("day", "serial"),
    [("1900-01-01", "1"), ("1900-02-28", "59"), ("1900-03-01", "61"), ("2024-01-01", "45292")],
)
def test_dates_are_excels_serials_across_its_leap_day_that_never_was(day: str, serial: str) -> None:
    import datetime as dt

    date = dt.date.fromisoformat(day)
    assert repr(sheet_xml.excel_serial(date, False)).removesuffix(".0") == serial
    assert sheet_xml.excel_serial(date, True) == sheet_xml.excel_serial(date, False) - 1462 + (
        1 if date < dt.date(1900, 3, 1) else 0
    )


@pytest.mark.parametrize("number", [float("nan"), float("inf"), -float("inf")])
def test_a_number_no_cell_can_hold_is_refused(tmp_path: Path, number: float) -> None:
    book = package(tmp_path / "nan.xlsx", HEADER)
    edit = sheet_xml.Edit()
    edit.set(2, 1, number)
    with pytest.raises(ValueError, match=f"^{number} cannot be written into a cell$"):
        edited(book, edit)


def test_a_sheet_written_past_zip_s_size_limit_is_written_in_zip64(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain zip entry cannot state a size past 2 GB, and a sheet bpxl edits or writes anew
    may cross it (a sheet of a million rows does): those are written in zip64, whatever size
    the sheet had before. The limit is lowered here to just above the sheet's old size."""
    book = with_table(tmp_path, table())
    with zipfile.ZipFile(book) as source:
        size = source.getinfo(SHEET).file_size
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", int(size * 1.05) + 1)
    edit = results_edit()
    for row in range(2, 40):
        edit.set(row, 3, "Created", sheet_xml.Style("FFC6EFCE"))
    target, sheet = edited(book, edit)
    assert cell(sheet, "C39").xpath("string(m:is/m:t)", namespaces=NS) == "Created"
    anew = tmp_path / "anew.xlsx"
    pieces = [f'<worksheet xmlns="{MAIN}"><sheetData>'.encode(), b"<row/>" * 100, b"</sheetData>"
              b"</worksheet>"]  # fmt: skip
    with zipfile.ZipFile(book) as src, zipfile.ZipFile(anew, "w") as dst:
        sheet_xml.apply(src, "Invoices", sheet_xml.Edit(), dst, anew={"Invoices": pieces})
    for written in (target, anew):
        with zipfile.ZipFile(book) as before, zipfile.ZipFile(written) as after:
            assert after.testzip() is None
            assert after.read("[Content_Types].xml") == before.read("[Content_Types].xml")
    assert raw(anew, SHEET) == b"".join(pieces)


def test_a_package_read_from_memory_is_named_the_workbook_when_refused() -> None:
    import io

    memory = io.BytesIO()
    with zipfile.ZipFile(memory, "w") as book:
        book.writestr("xl/workbook.xml", '<?xml version="1.0"?><!DOCTYPE x []><workbook/>')
    with zipfile.ZipFile(memory) as source, pytest.raises(UsageError) as refused:
        sheet_xml.Book(source)
    assert str(refused.value).startswith("the workbook was not read: ")
