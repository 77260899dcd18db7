"""A pull into a new workbook, streamed (workbook/streamed_pull.py), called directly: the exact cell
XML each value becomes, the rows and columns of both sheets, the table and the memory's header,
and what ``pull_new`` reports. The pulls end to end over the sandbox are in test_pull.py.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from bpxl import template
from bpxl.core import fields
from bpxl.workbook import streamed_pull
from bpxl.workbook.pulling import PULLED, read_pulled
from bpxl.workbook.sheet_xml import Book
from bpxl.workbook.streamed_pull import CellXml


@pytest.mark.parametrize(
    ("value", "xml"),
    [
        ("Pending", '<c r="B7" t="inlineStr"><is><t>Pending</t></is></c>'),
        ("", '<c r="B7" t="inlineStr"><is><t></t></is></c>'),
        ("a<b> & c", '<c r="B7" t="inlineStr"><is><t>a&lt;b&gt; &amp; c</t></is></c>'),
        ("line\r\nend", '<c r="B7" t="inlineStr"><is><t>line&#13;\nend</t></is></c>'),
        ("=1+1", '<c r="B7" t="inlineStr"><is><t>=1+1</t></is></c>'),  # text, never a formula
        (" lead", '<c r="B7" t="inlineStr"><is><t xml:space="preserve"> lead</t></is></c>'),
        ("trail ", '<c r="B7" t="inlineStr"><is><t xml:space="preserve">trail </t></is></c>'),
        (" ab", '<c r="B7" t="inlineStr"><is><t xml:space="preserve"> ab</t></is></c>'),
        ("ab ", '<c r="B7" t="inlineStr"><is><t xml:space="preserve">ab </t></is></c>'),
        ("a b", '<c r="B7" t="inlineStr"><is><t>a b</t></is></c>'),
        ("bell\x07", '<c r="B7" t="inlineStr"><is><t>bell\ufffd</t></is></c>'),
        (True, '<c r="B7" t="b"><v>1</v></c>'),
        (False, '<c r="B7" t="b"><v>0</v></c>'),
        (0, '<c r="B7"><v>0</v></c>'),
        (-12, '<c r="B7"><v>-12</v></c>'),
        (2.5, '<c r="B7"><v>2.5</v></c>'),
        (0.1, '<c r="B7"><v>0.1</v></c>'),
        (float("nan"), '<c r="B7" t="inlineStr"><is><t>nan</t></is></c>'),
        (float("inf"), '<c r="B7" t="inlineStr"><is><t>inf</t></is></c>'),
        (Decimal("1.50"), '<c r="B7" t="inlineStr"><is><t>1.50</t></is></c>'),
        (None, '<c r="B7" t="inlineStr"><is><t>None</t></is></c>'),
    ],
)
def test_each_value_becomes_the_cell_excel_reads_back(value: object, xml: str) -> None:
    assert CellXml(None, None).cell("B7", value) == xml


def test_dates_are_serials_with_their_styles_in_the_books_date_system() -> None:
    cells = CellXml(3, 4)
    assert cells.cell("C2", dt.date(2024, 7, 31)) == '<c r="C2" s="3"><v>45504</v></c>'
    noon = dt.datetime(2024, 7, 31, 12)
    assert cells.cell("C2", noon) == '<c r="C2" s="4"><v>45504.5</v></c>'
    mac = CellXml(3, 4, date1904=True)
    assert mac.cell("C2", dt.date(2024, 7, 31)) == '<c r="C2" s="3"><v>44042</v></c>'
    assert mac.cell("C2", noon) == '<c r="C2" s="4"><v>44042.5</v></c>'
    # Style 0 is a style too; without styles a date is still a serial.
    assert CellXml(0, 0).cell("C2", dt.date(2024, 7, 31)) == '<c r="C2" s="0"><v>45504</v></c>'
    assert CellXml(0, 0).cell("C2", noon) == '<c r="C2" s="0"><v>45504.5</v></c>'
    plain = CellXml(None, None)
    assert plain.cell("C2", dt.date(2024, 7, 31)) == '<c r="C2"><v>45504</v></c>'
    assert plain.cell("C2", noon) == '<c r="C2"><v>45504.5</v></c>'


def _parts(path: Path, title: str) -> tuple[str, str]:
    """The XML of the invoice sheet ``title`` and of the memory sheet."""
    with zipfile.ZipFile(path) as source:
        book = Book(source)
        sheet, memory = book.sheet_part(title), book.sheet_part(PULLED)
        return source.read(sheet).decode(), source.read(memory).decode()


def _rows(xml: str) -> list[str]:
    return re.findall(r"<row [^>]*>.*?</row>|<row [^>]*/>", xml.split("<sheetData>")[1])


def _new_book(
    path: Path, names: Sequence[str], records: Sequence[Mapping[str, object]], title: str = "Pulled"
) -> tuple[list[str], streamed_pull.NewBook]:
    with (
        tempfile.TemporaryFile("w+", encoding="utf-8") as rows,
        tempfile.TemporaryFile("w+", encoding="utf-8") as memory,
    ):
        new = streamed_pull.NewBook(path, title, names, rows, memory)
        assert [new.add(r) for r in records] == [str(r["Id"]) for r in records]
        return new.save(), new


RECORDS = [
    {"Id": "7", "Updated": "2026-01-01T10:00:00Z", "Status": "Pending", "Zeta__c": "z7",
     "Alpha__c": None},
    {"Id": "8", "Updated": "", "Status": None, "Alpha__c": "a8", "Zeta__c": "z8"},
    {"Id": "9", "Updated": "2026-01-03T10:00:00Z", "Status": "bad\x01", "Alpha__c": "a9"},
]  # fmt: skip


def test_both_sheets_get_every_row_in_the_same_columns(tmp_path: Path) -> None:
    path = tmp_path / "new.xlsx"
    extra, new = _new_book(path, ["Status", "Id", "Status"], RECORDS)
    # Id first, each field once; the unknown fields after Result and Message, in the order met.
    assert extra == ["Zeta__c", "Alpha__c"]
    assert new.noted == 1  # the control character of invoice 9, said in its Message
    sheet, memory = _parts(path, "Pulled")
    assert '<dimension ref="A1:F4"/>' in sheet and '<dimension ref="A1:C4"/>' in memory
    rows = _rows(sheet)
    assert rows[1:] == [
        '<row r="2"><c r="A2" t="inlineStr"><is><t>7</t></is></c>'
        '<c r="B2" t="inlineStr"><is><t>Pending</t></is></c>'
        '<c r="E2" t="inlineStr"><is><t>z7</t></is></c></row>',
        '<row r="3"><c r="A3" t="inlineStr"><is><t>8</t></is></c>'
        '<c r="F3" t="inlineStr"><is><t>a8</t></is></c>'
        '<c r="E3" t="inlineStr"><is><t>z8</t></is></c></row>',
        '<row r="4"><c r="A4" t="inlineStr"><is><t>9</t></is></c>'
        '<c r="B4" t="inlineStr"><is><t>bad\ufffd</t></is></c>'
        f'<c r="D4" t="inlineStr"><is><t>{_message("bad")}</t></is></c>'
        '<c r="F4" t="inlineStr"><is><t>a9</t></is></c></row>',
    ]
    memory_rows = _rows(memory)
    assert memory_rows[1:] == [
        '<row r="2"><c r="A2" t="inlineStr"><is><t>7</t></is></c>'
        '<c r="B2" t="inlineStr"><is><t>Pending</t></is></c>'
        '<c r="C2" t="inlineStr"><is><t>2026-01-01T10:00:00Z</t></is></c></row>',
        '<row r="3"><c r="A3" t="inlineStr"><is><t>8</t></is></c></row>',  # no stamp: none sent
        '<row r="4"><c r="A4" t="inlineStr"><is><t>9</t></is></c>'
        '<c r="B4" t="inlineStr"><is><t>bad\ufffd</t></is></c>'
        f'<c r="D4" t="inlineStr"><is><t>{_message("bad")}</t></is></c>'
        '<c r="C4" t="inlineStr"><is><t>2026-01-03T10:00:00Z</t></is></c></row>',
    ]
    workbook = openpyxl.load_workbook(path)
    pulled = workbook["Pulled"]
    assert [c.value for c in pulled[1]] == ["Id", "Status", "Result", "Message", "Zeta__c",
                                           "Alpha__c"]  # fmt: skip
    table = pulled.tables[template.TABLE_NAME]
    assert table.ref == "A1:D4" and table.autoFilter.ref == "A1:D4"
    assert [(c.id, c.name) for c in table.tableColumns] == [
        (1, "Id"), (2, "Status"), (3, "Result"), (4, "Message")
    ]  # fmt: skip
    header = [c.value for c in workbook[PULLED][1]]
    assert header[:4] == ["Id", "Status", "Updated (as pulled)", None]
    assert workbook[PULLED].sheet_state == "veryHidden"
    assert [str(f.sqref) for f in pulled.conditional_formatting] == [
        f"B2:B{template.LAST_ROW}"
    ]  # the amber marks: every field but the Id
    assert {i: p.updated for i, p in read_pulled(path).items()} == {
        "7": "2026-01-01T10:00:00Z", "8": "", "9": "2026-01-03T10:00:00Z",
    }  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.xlsx"]  # no temporary left


def _message(text: str) -> str:
    from bpxl.core.results import RowResult

    notes = streamed_pull.pull_memory.pulled({"Id": "9", "Status": text + "\x01"}, ["Status"])[1]
    return RowResult(4, None, None, list(notes.notes)).message


def test_a_pull_of_no_invoices_still_makes_a_table_of_one_row(tmp_path: Path) -> None:
    path = tmp_path / "none.xlsx"
    extra, new = _new_book(path, ["Status"], [])
    assert extra == [] and new.noted == 0
    sheet, memory = _parts(path, "Pulled")
    assert '<dimension ref="A1:D1"/>' in sheet and '<dimension ref="A1:C1"/>' in memory
    assert _rows(sheet) == [_rows(sheet)[0]] and len(_rows(memory)) == 1
    table = openpyxl.load_workbook(path)["Pulled"].tables[template.TABLE_NAME]
    assert table.ref == "A1:D2" and table.autoFilter.ref == "A1:D2"


def test_an_existing_file_is_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "again.xlsx"
    path.write_bytes(b"an older file")
    _new_book(path, ["Status"], RECORDS[:1])
    assert openpyxl.load_workbook(path)["Pulled"]["B2"].value == "Pending"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.xlsx"]


def test_dates_in_a_new_book_have_a_date_and_a_datetime_style(tmp_path: Path) -> None:
    path = tmp_path / "dates.xlsx"
    records = [{"Id": "1", "DueDate": "2026-03-01", "Created": "2026-03-01T12:30:00Z"}]
    _new_book(path, ["DueDate", "Created"], records)
    sheet = openpyxl.load_workbook(path)["Pulled"]
    assert sheet["B2"].number_format == template.DATE_FORMAT
    assert sheet["B2"].value == dt.datetime(2026, 3, 1)
    assert sheet["C2"].number_format == streamed_pull.DATETIME_FORMAT
    assert sheet["C2"].value.date() == dt.date(2026, 3, 1)
    assert sheet["A1"].number_format == "General" and sheet["A2"].number_format == "General"


def test_pull_new_reports_what_it_wrote(tmp_path: Path) -> None:
    path = tmp_path / "report.xlsx"
    records = [*RECORDS, {"Id": "7", "Status": "again"}]  # one invoice met twice
    report = streamed_pull.pull_new(path, None, records, ["Status"])
    assert report.sheet == template.SHEET_TITLE
    assert (report.added, report.refreshed, report.noted) == (3, 0, 1)
    with zipfile.ZipFile(path) as written:  # 100,000 rows stored plain would be ten times larger
        assert {i.compress_type for i in written.infolist()} == {zipfile.ZIP_DEFLATED}
    assert report.ids == {"7", "8", "9"} and report.extra == ["Zeta__c", "Alpha__c"]
    assert openpyxl.load_workbook(path).sheetnames[0] == template.SHEET_TITLE
    named = streamed_pull.pull_new(tmp_path / "named.xlsx", "Review", RECORDS[:1], ["Status"])
    assert named.sheet == "Review" and named.ids == {"7"} and named.added == 1
    assert openpyxl.load_workbook(tmp_path / "named.xlsx")["Review"]["B2"].value == "Pending"


def test_a_tenants_own_fields_are_pulled_into_their_columns(tmp_path: Path) -> None:
    region = fields.Field("Region__c", fields.FieldType.TEXT, "", label="Sales region")
    renewal = fields.Field("Renewal__c", fields.FieldType.DATE, "")
    tenant = fields.Catalogue([*fields.BUILT_IN.fields, region, renewal], "tenant")
    records = [
        {"Id": "7", "Region__c": "North\x01", "Other__c": "o", "Renewal__c": "2026-03-01"},
        {"Id": "8", "Region__c": "\x02"},
    ]
    names = ["Region__c", "Renewal__c"]
    report = streamed_pull.pull_new(tmp_path / "t.xlsx", None, records, names, tenant)
    assert report.extra == ["Other__c"] and report.noted == 2  # each control character noted
    sheet = openpyxl.load_workbook(tmp_path / "t.xlsx")[template.SHEET_TITLE]
    assert [c.value for c in sheet[1]] == [
        "Id", "Region__c", "Renewal__c", "Result", "Message", "Other__c"
    ]  # fmt: skip
    assert [c.value for c in sheet[2]][:3] == ["7", "North\ufffd", dt.datetime(2026, 3, 1)]
    assert sheet["E2"].value.startswith("Region__c: 1 control character")
    assert sheet["E3"].value.startswith("Region__c: 1 control character")


@pytest.mark.usefixtures("ascii_locale")
def test_a_pull_writes_utf_8_whatever_the_computers_encoding(tmp_path: Path) -> None:
    """Windows' ANSI code page cannot hold every character: the streamed rows are UTF-8."""
    records = [{"Id": "7", "Status": "Réglé € 日本"}]
    streamed_pull.pull_new(tmp_path / "u.xlsx", None, records, ["Status"])
    sheet = openpyxl.load_workbook(tmp_path / "u.xlsx")[template.SHEET_TITLE]
    assert sheet["B2"].value == "Réglé € 日本"
    assert read_pulled(tmp_path / "u.xlsx")["7"].values["Status"] == "Réglé € 日本"
