"""core.roundtrip.revert_memory on its own: what the last update of a workbook replaced, kept per
workbook whatever path names it, replaced by the next push, and forgotten invoice by invoice as
a revert puts them back (the sends and reverts are in test_trips.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from bpxl.core.roundtrip.revert_memory import Replaced, forget, load, reverted, save

ONE = Replaced("1001", "Status", "Pending", "2026-12-07T10:00:00Z")
TWO = Replaced("1002", "AgingInterval", 30, "2026-12-07T10:00:01Z")
THREE = Replaced("1002", "MoveInvoiceDescription", "", "2026-12-07T10:00:01Z")


def test_what_a_push_replaced_is_kept_per_workbook(tmp_path: Path) -> None:
    memory = tmp_path / "undo"
    assert load(memory, "book.xlsx") == [] and not reverted(memory, "book.xlsx")
    save(memory, str(tmp_path / "book.xlsx"), "Invoices", [ONE, TWO, THREE])
    assert load(memory, str(tmp_path / "book.xlsx")) == [ONE, TWO, THREE]  # a number stays one
    assert not reverted(memory, str(tmp_path / "book.xlsx"))
    assert load(memory, str(tmp_path / "other.xlsx")) == []
    (kept,) = memory.iterdir()
    assert len(kept.stem) == 20 and kept.suffix == ".json"
    entry = json.loads(kept.read_text(encoding="utf-8"))
    assert entry == {
        "workbook": str((tmp_path / "book.xlsx").resolve()),
        "sheet": "Invoices",
        "replaced": [
            ["1001", "Status", "Pending", "2026-12-07T10:00:00Z"],
            ["1002", "AgingInterval", 30, "2026-12-07T10:00:01Z"],
            ["1002", "MoveInvoiceDescription", "", "2026-12-07T10:00:01Z"],
        ],
        "reverted": False,
    }


def test_a_workbook_named_by_another_path_is_the_same_workbook(tmp_path: Path, monkeypatch) -> None:
    memory = tmp_path / "undo"
    save(memory, str(tmp_path / "book.xlsx"), "S", [ONE])
    monkeypatch.chdir(tmp_path)
    assert load(memory, "book.xlsx") == [ONE]
    assert load(memory, os.path.join("..", tmp_path.name, "book.xlsx")) == [ONE]


def test_the_next_push_replaces_the_record_and_one_replacing_nothing_keeps_it(
    tmp_path: Path,
) -> None:
    book = str(tmp_path / "book.xlsx")
    save(tmp_path, book, "S", [ONE, TWO])
    save(tmp_path, book, "S", [])
    assert load(tmp_path, book) == [ONE, TWO]
    save(tmp_path, book, "S", [THREE])
    assert load(tmp_path, book) == [THREE]
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json"]  # no temporary left


def test_a_revert_forgets_the_invoices_it_put_back(tmp_path: Path) -> None:
    book = str(tmp_path / "book.xlsx")
    save(tmp_path, book, "S", [ONE, TWO, THREE])
    forget(tmp_path, book, "S", [])
    assert load(tmp_path, book) == [ONE, TWO, THREE] and not reverted(tmp_path, book)
    forget(tmp_path, book, "S", ["1002", "9999"])
    assert load(tmp_path, book) == [ONE] and reverted(tmp_path, book)
    (kept,) = tmp_path.glob("*.json")
    assert json.loads(kept.read_text(encoding="utf-8"))["sheet"] == "S"
    forget(tmp_path, book, "S", iter(["1001"]))
    assert load(tmp_path, book) == [] and reverted(tmp_path, book)
    save(tmp_path, book, "S", [TWO])
    assert not reverted(tmp_path, book)  # a new push: nothing reverted of it yet


def test_a_memory_folder_not_there_yet_is_made(tmp_path: Path) -> None:
    memory = tmp_path / "data" / "undo"
    save(memory, str(tmp_path / "book.xlsx"), "S", [ONE])
    assert load(memory, str(tmp_path / "book.xlsx")) == [ONE]
