"""The file an open workbook is keyed on (excel/book_file.py): its path, the synced copy of an
online workbook, or a stand-in path made from its URL. Every button's end to end use of it is in
test_excel_like_excel.py (a SharePoint workbook)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from bpxl.core.connection import data_dir
from bpxl.excel import book_file

from .fake_xlwings import Book


def test_a_workbook_on_disk_is_keyed_on_its_path(tmp_path: Path) -> None:
    path = tmp_path / "Invoices.xlsx"
    assert book_file.workbook_file(Book(fullname=str(path))) == path
    assert book_file.workbook_file(Book(fullname="Book1")) == Path("Book1")  # never saved


def test_an_online_workbook_is_keyed_on_a_stand_in_of_its_url() -> None:
    url = (
        "https://contoso.sharepoint.com/sites/Finance/Shared%20Documents/./Q3/../Invoices%20Q3.xlsx"
    )
    assert book_file.workbook_file(Book(fullname=url)) == data_dir().joinpath(
        "online", "contoso.sharepoint.com", "sites", "Finance", "Shared Documents", "Q3",
        "Invoices Q3.xlsx",
    )  # fmt: skip
    assert book_file.online_stand_in("https://contoso.sharepoint.com//a%2Fb.xlsx") == (
        data_dir() / "online" / "contoso.sharepoint.com" / "a/b.xlsx"
    )
    assert book_file.online_stand_in("file:///Invoices.xlsx") == (
        data_dir() / "online" / "unknown" / "Invoices.xlsx"
    )


def test_an_online_workbook_synced_to_this_computer_is_keyed_on_its_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OneDrive's folder, as xlwings finds it from the OneDrive variables; the URL is new in
    each run (xlwings remembers the answer for a URL)."""
    monkeypatch.setenv("OneDriveConsumer", str(tmp_path))
    folder = uuid.uuid4().hex
    url = f"https://d.docs.live.net/4af3/{folder}/Invoices.xlsx"
    (tmp_path / folder).mkdir()
    (tmp_path / folder / "Invoices.xlsx").write_bytes(b"synced")
    assert book_file.workbook_file(Book(fullname=url)) == tmp_path / folder / "Invoices.xlsx"
    missing = f"https://d.docs.live.net/4af3/{folder}/Other.xlsx"  # not synced (yet)
    assert book_file.synced_copy(missing) is None
    assert book_file.workbook_file(Book(fullname=missing)) == data_dir().joinpath(
        "online", "d.docs.live.net", "4af3", folder, "Other.xlsx"
    )


def test_a_synced_path_that_is_a_folder_is_no_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OneDriveConsumer", str(tmp_path))
    folder = uuid.uuid4().hex
    (tmp_path / folder / "Invoices.xlsx").mkdir(parents=True)
    assert book_file.synced_copy(f"https://d.docs.live.net/4af3/{folder}/Invoices.xlsx") is None
