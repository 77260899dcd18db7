"""The workbook template: what it holds; the committed copy is what `bpxl template` writes."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import openpyxl

from bpxl import cli
from bpxl.core import fields
from bpxl.core.records import read_layout

COMMITTED = Path(__file__).resolve().parent.parent / "workbook_templates" / "invoices.xlsx"


def members(path: Path) -> dict[str, bytes]:
    """Zip members, minus the save-time stamps openpyxl writes into docProps/core.xml."""
    with zipfile.ZipFile(path) as book:
        out = {name: book.read(name) for name in book.namelist()}
    out["docProps/core.xml"] = re.sub(
        rb"<dcterms:(created|modified)[^<]*</dcterms:\1>", b"", out["docProps/core.xml"]
    )
    return out


def test_committed_template_is_current(tmp_path: Path) -> None:
    fresh = tmp_path / "invoices.xlsx"
    assert cli.main(["template", str(fresh)]) == 0
    assert members(COMMITTED) == members(fresh), (
        "workbook_templates/invoices.xlsx is stale: "
        "run `bpxl template workbook_templates/invoices.xlsx --force`"
    )


def test_template_layout() -> None:
    book = openpyxl.load_workbook(COMMITTED)
    sheet = book.active
    headers = [c.value for c in sheet[1]]
    writable = [f.name for f in fields.FIELDS if f.writable]
    assert (
        headers[0] == "Id" and headers[1:-2] == writable and headers[-2:] == ["Result", "Message"]
    )
    layout = read_layout(headers)
    assert len(layout.columns) == len(writable) + 1 and not layout.user_headers
    assert sheet.freeze_panes == "B2"
    assert list(sheet.tables) == ["Invoices"]
    assert sheet.column_dimensions["A"].number_format == "@"
    assert sheet.column_dimensions[_letter(headers, "DueDate")].number_format == "yyyy-mm-dd"
    assert sheet["A1"].fill.fgColor.rgb != sheet["B1"].fill.fgColor.rgb  # read-only Id is greyed
    assert all(sheet.cell(1, i + 1).comment for i in range(len(headers)))
    assert "Pending" in sheet[f"{_letter(headers, 'Status')}1"].comment.text
    lists = {str(v.sqref).split(":")[0]: v.formula1 for v in sheet.data_validations.dataValidation}
    assert lists[f"{_letter(headers, 'BillableFlag')}2"] == '"TRUE,FALSE"'
    status_fill = sheet.cell(1, len(headers)).fill.fgColor.rgb
    assert (
        status_fill
        == sheet.cell(1, len(headers) - 1).fill.fgColor.rgb
        != sheet["B1"].fill.fgColor.rgb
    )


def _letter(headers: list[object], name: str) -> str:
    return openpyxl.utils.get_column_letter(headers.index(name) + 1)
