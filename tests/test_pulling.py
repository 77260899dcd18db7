"""The openpyxl pull (``workbook/pulling.py``) called directly on small workbooks: which sheet it
writes into, where each invoice goes, the columns it adds, the statuses it clears, the memory
sheet and the amber marks, and what it refuses to drop. The command line's pulls, against the
sandbox, are in test_pull.py."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.chart import BarChart, Reference

from bpxl import template
from bpxl.core import fields
from bpxl.core.errors import UsageError
from bpxl.core.fields import Catalogue, Field, FieldType
from bpxl.core.roundtrip import edits
from bpxl.workbook import pulling, saving
from bpxl.workbook.pulling import PULLED, pull_into, read_pulled, sheet_fields

from .conftest import write_invoices
from .test_pull import TEXT_BOX, _add_text_box, _with_chart
from .test_roundtrip import add_cross_sheet_dropdown

NAMES = ["Id", "Status", "DueDate", "FileName"]


def _record(invoice: int, **changed: object) -> dict[str, object]:
    """An invoice as the server answers a query: every value as text, empties as ""."""
    record: dict[str, object] = {
        "Id": str(invoice),
        "Updated": f"2026-12-0{invoice % 9 + 1}T10:00:00.000Z",
        "Status": "Pending",
        "DueDate": (dt.date(2026, 1, 1) + dt.timedelta(days=invoice)).isoformat(),
        "FileName": f"inv-{invoice}.pdf",
    }
    record.update(changed)
    return record


def _values(path: Path, sheet: str) -> list[list[object]]:
    return [list(r) for r in openpyxl.load_workbook(path)[sheet].iter_rows(values_only=True)]


def test_a_named_sheet_that_does_not_exist_is_made_with_the_pulled_fields(
    tmp_path: Path,
) -> None:
    book = write_invoices(tmp_path / "book.xlsx", [{"Status": "Draft"}])
    report = pull_into(book, "Review", [_record(1), _record(2)], NAMES)
    assert (report.sheet, report.added, report.refreshed) == ("Review", 2, 0)
    assert report.ids == {"1", "2"} and report.extra == [] and report.noted == 0
    assert _values(book, "Review") == [
        [*NAMES, "Result", "Message"],
        ["1", "Pending", dt.datetime(2026, 1, 2), "inv-1.pdf", None, None],
        ["2", "Pending", dt.datetime(2026, 1, 3), "inv-2.pdf", None, None],
    ]
    assert _values(book, template.SHEET_TITLE)[1][:4] == [None, None, "Draft", None]


def test_without_a_sheet_name_the_first_visible_sheet_with_invoice_fields_is_chosen(
    tmp_path: Path,
) -> None:
    book = write_invoices(tmp_path / "book.xlsx", [])
    workbook = openpyxl.load_workbook(book)
    hidden = workbook.create_sheet("Hidden", 0)  # an invoice sheet, but hidden: not the one
    hidden.append(["Id", "Status"])
    hidden.sheet_state = "hidden"
    workbook.create_sheet("Cover", 0)["A1"] = "Invoices of December"  # no header: not the one
    workbook.save(book)
    report = pull_into(book, None, [_record(5)], NAMES)
    assert report.sheet == template.SHEET_TITLE and report.added == 1
    assert _values(book, "Hidden") == [["Id", "Status"]]
    assert _values(book, "Cover") == [["Invoices of December"]]


def test_a_workbook_without_an_invoice_sheet_is_refused_in_words(tmp_path: Path) -> None:
    book = tmp_path / "plain.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["Name", "Amount"])
    workbook.save(book)
    before = book.read_bytes()
    with pytest.raises(UsageError) as raised:
        pull_into(book, None, [_record(1)], NAMES)
    assert str(raised.value) == (
        "The workbook has no invoice sheet to pull into.\n"
        "  What to do: Name one to create with --sheet NAME, or pull into a new file."
    )
    assert book.read_bytes() == before


def test_a_named_sheet_without_a_header_or_an_id_column_is_refused(tmp_path: Path) -> None:
    book = tmp_path / "plain.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.title = "Notes"
    workbook.active.append(["Name", "Amount"])
    workbook.create_sheet("NoId").append(["Status", "DueDate"])
    workbook.save(book)
    with pytest.raises(UsageError, match=r"^Sheet 'Notes' has no header row naming Invoice fields"):
        pull_into(book, "Notes", [_record(1)], NAMES)
    with pytest.raises(UsageError, match=r"^Sheet 'NoId' has no Id column to match invoices on"):
        pull_into(book, "NoId", [_record(1)], NAMES)
    assert _values(book, "NoId") == [["Status", "DueDate"]]


def test_each_invoice_goes_into_its_rows_or_below_the_last_used_row(tmp_path: Path) -> None:
    """Rows holding the Id (twice, as a number) are written whole, empties too, and their stale
    statuses cleared with their colour; a draft and formatted rows below are left alone."""
    book = write_invoices(
        tmp_path / "book.xlsx",
        [
            {"Id": 2, "Status": "Old", "FileName": "old.pdf", "Result": "Conflict",
             "Message": "Changed in BillingPlatform"},
            {"Status": "Draft"},
            {"Id": "2", "Status": "Old"},
        ],
    )  # fmt: skip
    workbook = openpyxl.load_workbook(book)
    sheet = workbook[template.SHEET_TITLE]
    header = [c.value for c in sheet[1]]
    result = header.index("Result") + 1
    sheet.cell(2, result).fill = openpyxl.styles.PatternFill("solid", fgColor="FFC7CE")
    sheet.cell(9, 1).number_format = "0.00"  # formatted, empty: free
    workbook.save(book)
    report = pull_into(book, None, [_record(2, FileName=""), _record(7)], NAMES)
    assert (report.added, report.refreshed) == (1, 1)
    workbook = openpyxl.load_workbook(book)
    sheet = workbook[template.SHEET_TITLE]
    rows = {n: dict(zip(header, v, strict=False)) for n, v in enumerate(sheet.values, 1)}
    for row in (2, 4):
        assert (rows[row]["Status"], rows[row]["FileName"]) == ("Pending", None)
    assert rows[2]["Id"] == "2" and rows[2]["Result"] is None and rows[2]["Message"] is None
    assert sheet.cell(2, result).fill.fill_type is None
    assert rows[3]["Status"] == "Draft" and rows[3]["Id"] is None
    assert rows[5]["Id"] == "7" and rows[5]["DueDate"] == dt.datetime(2026, 1, 8)
    last = openpyxl.utils.get_column_letter(len(header))
    table = sheet.tables[template.TABLE_NAME]
    assert table.ref == table.autoFilter.ref == f"A1:{last}5"  # the table takes the new row


def test_fields_the_catalogue_does_not_know_go_into_extra_columns_past_everything_used(
    tmp_path: Path,
) -> None:
    book = write_invoices(tmp_path / "book.xlsx", [{"Status": "Draft"}])
    workbook = openpyxl.load_workbook(book)
    sheet = workbook[template.SHEET_TITLE]
    width = sheet.max_column
    sheet.cell(3, width + 2, "my note")  # a note of the user's, past the statuses
    sheet.merge_cells(start_row=5, start_column=width + 3, end_row=5, end_column=width + 4)
    workbook.save(book)
    report = pull_into(
        book, None, [_record(1, Region__c="EU", Colour__c="=1+1"), _record(2, Region__c="US")],
        NAMES,
    )  # fmt: skip
    assert report.extra == ["Region__c", "Colour__c"]
    rows = _values(book, template.SHEET_TITLE)
    assert rows[0][width + 4 :] == ["Region__c", "Colour__c"]
    assert rows[0][width : width + 4] == [None] * 4
    assert rows[3][width + 4 :] == ["EU", "=1+1"] and rows[4][width + 4 :] == ["US", None]
    cell = openpyxl.load_workbook(book)[template.SHEET_TITLE].cell(4, width + 6)
    assert cell.data_type == "s"  # text, never a formula
    assert rows[2][width + 1] == "my note"


def test_a_note_on_a_cell_needs_a_message_column_and_gets_one(tmp_path: Path) -> None:
    book = tmp_path / "book.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.title = "Mine"
    workbook.active.append(["Id", "Status", "FileName"])
    workbook.save(book)
    records = [_record(1, FileName="a\x01b"), _record(2), _record(3, Status="\x02")]
    report = pull_into(book, None, records, NAMES)
    assert report.noted == 2
    sheet = openpyxl.load_workbook(book)["Mine"]
    assert [c.value for c in sheet[1]] == ["Id", "Status", "FileName", "Message"]
    assert sheet.cell(1, 4).font.bold  # bpxl's own status column
    message = sheet.cell(2, 4).value
    assert message.startswith("FileName: 1 control character") and sheet.cell(3, 4).value is None
    assert sheet.cell(2, 3).value == "a\ufffdb"


def test_the_memory_sheet_holds_what_was_pulled_and_the_marks_are_set_once(
    tmp_path: Path,
) -> None:
    book = tmp_path / "book.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["Title"])
    workbook.active.append([*NAMES, "Notes"])
    workbook.active.append(["1"])
    workbook.save(book)
    pull_into(book, None, [_record(1)], NAMES)
    pull_into(book, None, [_record(1, Status="Approved"), _record(3)], NAMES)
    workbook = openpyxl.load_workbook(book)
    memory = workbook[PULLED]
    assert memory.sheet_state == "veryHidden" and memory.protection.sheet
    remembered = read_pulled(book)
    assert sorted(remembered) == ["1", "3"]
    assert remembered["1"].values["Status"] == "Approved"
    assert remembered["1"].updated == "2026-12-02T10:00:00.000Z"
    assert remembered["3"].values["DueDate"] == dt.datetime(2026, 1, 4)
    sheet = workbook.active
    marked = sorted(str(r.sqref) for r in sheet.conditional_formatting)
    assert marked == [f"{x}3:{x}{template.LAST_ROW}" for x in "BCD"]  # not Id, not Notes
    for rules in sheet.conditional_formatting:
        (rule,) = rules.rules
        letter = str(rules.sqref)[0]
        assert rule.formula == [edits.changed_formula("A", letter, 3, PULLED)]
        assert rule.dxf.fill.bgColor.rgb == "FFFFEB9C"


def test_a_pull_keeps_a_backup_of_the_workbook_as_it_was(tmp_path: Path) -> None:
    book = write_invoices(tmp_path / "book.xlsx", [{"Status": "Draft"}])
    before = book.read_bytes()
    pull_into(book, None, [_record(1)], NAMES)
    (copy,) = saving.backups(book)
    assert copy.read_bytes() == before


def test_what_openpyxl_would_drop_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    dropdown = write_invoices(tmp_path / "dropdown.xlsx", [{"Status": "Draft"}])
    add_cross_sheet_dropdown(dropdown)
    boxed = write_invoices(tmp_path / "boxed.xlsx", [{"Status": "Draft"}])
    _with_chart(boxed)
    _add_text_box(boxed)
    on_chart = write_invoices(tmp_path / "on_chart.xlsx", [{"Status": "Draft"}])
    _with_chart(on_chart)
    _add_text_box(on_chart, on_chart=True)
    said = {}
    for book in (dropdown, boxed, on_chart):
        before = book.read_bytes()
        with pytest.raises(UsageError) as raised:
            pull_into(book, None, [_record(1)], NAMES)
        assert book.read_bytes() == before and not saving.backups(book)
        said[book.stem] = str(raised.value)
    assert said["dropdown"] == (
        "dropdown.xlsx has a dropdown or check whose list is on another sheet, which bpxl "
        "cannot keep when it pulls into this workbook for the first time. Nothing was written.\n"
        "  What to do: Pull into a new workbook (bpxl pull new.xlsx ...) and copy the rows you "
        "need, or remove those parts first."
    )
    assert said["boxed"].startswith("boxed.xlsx has text boxes or shapes (sheet 'Invoices'),")
    assert said["on_chart"].startswith(
        "on_chart.xlsx has text boxes or shapes on a chart (sheet 'Invoices'),"
    )
    charted = write_invoices(tmp_path / "charted.xlsx", [{"Status": "Draft"}])
    _with_chart(charted)
    assert pull_into(charted, None, [_record(1)], NAMES).added == 1  # a chart alone is kept


def test_sheet_fields_names_the_fields_of_the_sheet_a_pull_would_write(tmp_path: Path) -> None:
    assert sheet_fields(tmp_path / "new.xlsx", None) == []
    book = tmp_path / "book.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.title = "Cover"
    workbook.active.append(["Name", "Amount"])
    workbook.create_sheet(PULLED).append(["Id", "Status", "Updated"])
    workbook.create_sheet("Short").append(["Title"])
    workbook["Short"].append(["ID", "Due Date", "Colour", "Result"])
    workbook["Short"].append(["7", "2026-01-01", "red", None])
    workbook.create_sheet("Other").append(["Status", "FileName"])
    workbook.save(book)
    assert sheet_fields(book, None) == ["Id", "DueDate"]
    assert sheet_fields(book, "Other") == ["Status", "FileName"]
    assert sheet_fields(book, "Missing") == ["Id", "DueDate"]
    assert sheet_fields(book, "Cover") == []


def test_the_memory_holds_one_row_per_invoice_in_the_sheets_columns(tmp_path: Path) -> None:
    """Each invoice once, in the row it had, each value in its invoice sheet column, the stamp
    in the column after the last field: the amber marks find the first row with the Id, in the
    sheet's own column, so a second row or a shifted column would compare the wrong values."""
    book = tmp_path / "book.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["Notes", "Status", "Id", "DueDate", "Mine"])
    workbook.save(book)
    stamp = "2026-12-09T10:00:00.000Z"
    pull_into(book, None, [_record(1), _record(2)], NAMES)
    pull_into(book, None, [_record(2, Status="Approved", Updated=stamp), _record(3)], NAMES)
    memory = openpyxl.load_workbook(book)[PULLED]
    cells = [list(r) for r in memory.iter_rows(values_only=True)]
    assert cells == [
        [None, "Status", "Id", "DueDate", pulling.STAMP_HEADER],
        [None, "Pending", "1", dt.datetime(2026, 1, 2), "2026-12-02T10:00:00.000Z"],
        [None, "Approved", "2", dt.datetime(2026, 1, 3), stamp],
        [None, "Pending", "3", dt.datetime(2026, 1, 4), "2026-12-04T10:00:00.000Z"],
    ]


def test_a_workbook_never_pulled_into_remembers_nothing(tmp_path: Path) -> None:
    assert read_pulled(write_invoices(tmp_path / "new.xlsx", [{"Status": "Draft"}])) == {}


def _draw(book: Path, xml: str) -> None:
    """``xml`` into the drawing of the book's chart (see ``_with_chart``)."""
    with zipfile.ZipFile(book) as source:
        parts = {item.filename: source.read(item.filename) for item in source.infolist()}
    drawing = "xl/drawings/drawing1.xml"
    parts[drawing] = parts[drawing].replace(b"</wsDr>", xml.encode() + b"</wsDr>")
    with zipfile.ZipFile(book, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)


# What Excel writes for a picture and for SmartArt, inside a drawing's anchor.
PICTURE = (
    '<xdr:twoCellAnchor xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/'
    'spreadsheetDrawing"><xdr:from><xdr:col>1</xdr:col><xdr:colOff>0</xdr:colOff>'
    "<xdr:row>5</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from><xdr:to><xdr:col>4</xdr:col>"
    "<xdr:colOff>0</xdr:colOff><xdr:row>8</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:to>"
    '<xdr:pic><xdr:nvPicPr><xdr:cNvPr id="3" name="Logo"/><xdr:cNvPicPr/></xdr:nvPicPr>'
    "</xdr:pic><xdr:clientData/></xdr:twoCellAnchor>"
)
SMART_ART = (
    '<xdr:oneCellAnchor xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/'
    'spreadsheetDrawing" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main">'
    "<xdr:from><xdr:col>1</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>5</xdr:row>"
    '<xdr:rowOff>0</xdr:rowOff></xdr:from><xdr:ext cx="100" cy="100"/>'
    '<xdr:graphicFrame macro=""><a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/'
    'drawingml/2006/diagram"/></a:graphic></xdr:graphicFrame><xdr:clientData/>'
    "</xdr:oneCellAnchor>"
)


@pytest.mark.parametrize(
    ("drawn", "said"),
    [
        (PICTURE, "pictures (sheet 'Invoices')"),
        (SMART_ART, "drawings other than charts (such as SmartArt) (sheet 'Invoices')"),
    ],
)
def test_pictures_and_smart_art_are_named_when_openpyxl_would_drop_them(
    tmp_path: Path, drawn: str, said: str
) -> None:
    book = write_invoices(tmp_path / "drawn.xlsx", [{"Status": "Draft"}])
    _with_chart(book)
    _draw(book, drawn)
    with pytest.raises(UsageError) as raised:
        pull_into(book, None, [_record(1)], NAMES)
    assert str(raised.value).startswith(f"drawn.xlsx has {said}, which bpxl cannot keep")


def test_with_pillow_openpyxl_keeps_pictures_and_the_pull_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pulling, "PILImage", object())  # openpyxl reads pictures with Pillow
    book = write_invoices(tmp_path / "drawn.xlsx", [{"Status": "Draft"}])
    _with_chart(book)
    _draw(book, PICTURE)
    assert pulling._drawings_lost(book) == []
    _draw(book, SMART_ART)
    assert pulling._drawings_lost(book) == [
        "drawings other than charts (such as SmartArt) (sheet 'Invoices')"
    ]


def test_comments_in_a_drawing_are_no_drawing(tmp_path: Path) -> None:
    """Another program's comments inside a drawing's XML hold nothing openpyxl would drop."""
    book = write_invoices(tmp_path / "commented.xlsx", [{"Status": "Draft"}])
    _with_chart(book)
    with zipfile.ZipFile(book) as source:
        parts = {item.filename: source.read(item.filename) for item in source.infolist()}
    drawing = "xl/drawings/drawing1.xml"
    parts[drawing] = parts[drawing].replace(
        b"<oneCellAnchor>", b"<!-- made by a program --><oneCellAnchor><!-- here -->"
    )
    with zipfile.ZipFile(book, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    assert pull_into(book, None, [_record(1)], NAMES).added == 1


def test_sheet_fields_knows_the_tenants_own_fields(tmp_path: Path) -> None:
    region = Field("Region__c", FieldType.TEXT, "the tenant's own", custom=True)
    tenant = Catalogue([*fields.BUILT_IN.fields, region], fields.TENANT_SOURCE)
    book = tmp_path / "book.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["Region__c", "Mine"])
    workbook.save(book)
    assert sheet_fields(book, None, tenant) == ["Region__c"]
    assert sheet_fields(book, None) == []


def test_a_pull_of_nothing_leaves_the_table_its_one_empty_row(tmp_path: Path) -> None:
    book = write_invoices(tmp_path / "book.xlsx", [])
    assert pull_into(book, None, [], NAMES).added == 0
    table = openpyxl.load_workbook(book)[template.SHEET_TITLE].tables[template.TABLE_NAME]
    assert table.ref.endswith("2") and table.ref.startswith("A1:")


def test_a_sheet_naming_only_the_tenants_labels_is_found(tmp_path: Path) -> None:
    """A tenant that labels its fields its own way: the sheet that names them is the invoice
    sheet, found by the tenant's catalogue."""
    invoice = dataclasses.replace(fields.BUILT_IN.by_name["Id"], label="Invoice No")
    region = Field("Region__c", FieldType.TEXT, "the tenant's own", label="Region", custom=True)
    tenant = Catalogue(
        [invoice, *(f for f in fields.BUILT_IN.fields if f.name != "Id"), region],
        fields.TENANT_SOURCE,
    )
    book = tmp_path / "book.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.title = "Cover"
    workbook.create_sheet("Mine").append(["Invoice No", "Region"])
    workbook.save(book)
    record = {"Id": "7", "Updated": "2026-12-01T10:00:00Z", "Region__c": "EU"}
    report = pull_into(book, None, [record], ["Id", "Region__c"], tenant)
    assert report.sheet == "Mine" and report.added == 1
    assert _values(book, "Mine") == [["Invoice No", "Region"], ["7", "EU"]]


SHEET_TYPE = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
MACRO_TYPE = b"application/vnd.ms-excel.sheet.macroEnabled.main+xml"


def _with_macros(plain: Path, macro: Path) -> Path:
    """``plain`` as Excel saves it with macros: a macro-enabled workbook with a VBA project."""
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(macro, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "[Content_Types].xml":
                data = data.replace(SHEET_TYPE, MACRO_TYPE).replace(
                    b"</Types>",
                    b'<Default Extension="bin" ContentType='
                    b'"application/vnd.ms-office.vbaProject"/></Types>',
                )
            target.writestr(item, data)
        target.writestr("xl/vbaProject.bin", b"the user's macros")
    return macro


def test_a_workbook_with_macros_keeps_them_and_one_without_gets_none(tmp_path: Path) -> None:
    """Excel opens a .xlsm only with its macro-enabled type, a .xlsx only without: a pull keeps
    the macros of one (whatever the case of its name) and adds none to the other."""
    plain = write_invoices(tmp_path / "plain.xlsx", [{"Status": "Draft"}])
    macro = _with_macros(plain, tmp_path / "MACRO.XLSM")
    for book in (plain, macro):
        pull_into(book, None, [_record(1)], NAMES)
    with zipfile.ZipFile(macro) as saved:
        assert saved.read("xl/vbaProject.bin") == b"the user's macros"
        assert MACRO_TYPE in saved.read("[Content_Types].xml")
    with zipfile.ZipFile(plain) as saved:
        assert "xl/vbaProject.bin" not in saved.namelist()
        types = saved.read("[Content_Types].xml")
        assert SHEET_TYPE in types and MACRO_TYPE not in types


def test_an_extension_openpyxl_does_not_know_is_refused_in_general_words(tmp_path: Path) -> None:
    book = write_invoices(tmp_path / "newer.xlsx", [{"Status": "Draft"}])
    with zipfile.ZipFile(book) as source:
        parts = {item.filename: source.read(item.filename) for item in source.infolist()}
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = parts[sheet].replace(
        b"</worksheet>",
        b'<extLst><ext uri="{00000000-1234-5678-9ABC-DEF012345678}"/></extLst></worksheet>',
    )
    with zipfile.ZipFile(book, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    with pytest.raises(UsageError) as raised:
        pull_into(book, None, [_record(1)], NAMES)
    assert str(raised.value).startswith("newer.xlsx has parts of a newer Excel, which bpxl")


def _small(path: Path, rows: list[list[object]]) -> tuple[Path, openpyxl.Workbook]:
    workbook = openpyxl.Workbook()
    workbook.active.title = "Mine"
    for row in rows:
        workbook.active.append(row)
    return path, workbook


def test_an_extra_column_goes_right_after_the_columns_used_from_the_header_down(
    tmp_path: Path,
) -> None:
    """Not after a note in a title above the header, nor after empty cells that only have a
    format: right after the last column holding a value in the header row or below."""
    book, workbook = _small(tmp_path / "book.xlsx", [[None] * 7 + ["Title note"], NAMES])
    workbook.active.cell(3, 9).number_format = "0.00"  # formatted, empty
    workbook.save(book)
    pull_into(book, None, [_record(1, Region__c="EU")], NAMES)
    rows = _values(book, "Mine")
    assert rows[1][:5] == [*NAMES, "Region__c"] and rows[2][4] == "EU"


def test_an_extra_column_keeps_clear_of_merged_cells_and_goes_up_to_them(tmp_path: Path) -> None:
    """A merged header cell past the fields is not written under; a merge further down that
    starts one column later leaves the column before it free."""
    book, workbook = _small(tmp_path / "header.xlsx", [[*NAMES, "Notes"]])
    workbook.active.merge_cells("E1:F1")  # the user's header, merged over two columns
    workbook.save(book)
    pull_into(book, None, [_record(1, Region__c="EU")], NAMES)
    assert _values(book, "Mine")[0] == [*NAMES, "Notes", None, "Region__c"]
    book, workbook = _small(tmp_path / "below.xlsx", [NAMES])
    workbook.active.merge_cells("F3:G3")  # below the header, from the second column past it
    workbook.save(book)
    pull_into(book, None, [_record(1, Region__c="EU", Colour__c="red")], NAMES)
    assert _values(book, "Mine")[0][4:] == ["Region__c", None, None, "Colour__c"]


def test_ids_are_written_as_numbers_where_the_users_ids_are_numbers(tmp_path: Path) -> None:
    book, workbook = _small(tmp_path / "numbers.xlsx", [NAMES, [7, "Old"]])
    workbook.save(book)
    pull_into(book, None, [_record(7), _record(8)], NAMES)
    rows = _values(book, "Mine")
    assert [r[0] for r in rows] == ["Id", 7, 8]  # like the user's own beside them
    assert sorted(read_pulled(book)) == ["7", "8"]


def test_everything_a_pull_would_drop_is_named_with_each_sheet_it_is_on(tmp_path: Path) -> None:
    book = write_invoices(tmp_path / "both.xlsx", [{"Status": "Draft"}])
    workbook = openpyxl.load_workbook(book)
    workbook.copy_worksheet(workbook[template.SHEET_TITLE]).title = "Copy"
    workbook.save(book)
    _with_chart(book)  # on the first sheet
    workbook = openpyxl.load_workbook(book)
    chart = BarChart()
    chart.add_data(Reference(workbook["Copy"], min_col=2, min_row=1, max_row=2))
    workbook["Copy"].add_chart(chart, "K2")
    workbook.save(book)
    with zipfile.ZipFile(book) as source:
        parts = {item.filename: source.read(item.filename) for item in source.infolist()}
    for drawing in ("xl/drawings/drawing1.xml", "xl/drawings/drawing2.xml"):
        parts[drawing] = parts[drawing].replace(b"</wsDr>", TEXT_BOX.encode() + b"</wsDr>")
    with zipfile.ZipFile(book, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    add_cross_sheet_dropdown(book)
    with pytest.raises(UsageError) as raised:
        pull_into(book, None, [_record(1)], NAMES)
    assert str(raised.value).startswith(
        "both.xlsx has a dropdown or check whose list is on another sheet, text boxes or shapes "
        "(sheets 'Invoices', 'Copy'), which bpxl cannot keep"
    )
