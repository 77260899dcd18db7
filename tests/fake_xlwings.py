"""A small fake of just the xlwings objects the add-in touches, counting every call into Excel.

Excel does not run on Linux and xlwings' own remote engines need a licence, so the add-in's glue
is tested on this: a Book with Sheets of cells and its date system, Ranges with
.value/.options/.address/.row/.column, a multi-area selection, hidden (filtered-out) rows, the
status bar, screen updating, calculation, message boxes and an InputBox with scripted answers.
Every call the add-in makes into Excel adds one to ``App.calls`` under its name: each property
read or set and each method of an Excel object (a sheet's name, ``.api``, the book's date system,
format conditions and their count, a rule's interior and its colour, the status bar, message
boxes), as each is a round trip to Excel in the real add-in. Tests read the
cells and sheets through plain attributes (``Sheet.cells``, ``Book.sheets.items``) that count
nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter

_CELL = re.compile(r"\$?([A-Z]+)\$?(\d+)")


def _letter(column: int) -> str:
    return get_column_letter(column)


def _address(r1: int, c1: int, r2: int, c2: int) -> str:
    first = f"${_letter(c1)}${r1}"
    return first if (r1, c1) == (r2, c2) else f"{first}:${_letter(c2)}${r2}"


def _parse(text: str) -> tuple[int, int]:
    match = _CELL.fullmatch(text.strip())
    assert match, text
    letters, digits = match.groups()
    column = 0
    for char in letters:
        column = column * 26 + ord(char) - 64
    return int(digits), column


class App:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.selected = "$A$1"
        self.screen_updating_value = True
        self.calculation_value = "automatic"
        self.status_history: list[object] = []
        self.alerts: list[tuple[str, str | None]] = []
        self.alert_answers: list[str] = []
        self.input_answers: list[object] = []
        self.macros_run: list[str] = []
        self.books = _Books(self)
        self.api = _AppApi(self)

    def count(self, what: str) -> None:
        self.calls[what] += 1

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def selection(self) -> Any:
        self.count("selection")
        return _Selection(self)

    @property
    def screen_updating(self) -> bool:
        self.count("screen_updating")
        return self.screen_updating_value

    @screen_updating.setter
    def screen_updating(self, value: bool) -> None:
        self.count("screen_updating")
        self.screen_updating_value = value

    @property
    def calculation(self) -> str:
        self.count("calculation")
        return self.calculation_value

    @calculation.setter
    def calculation(self, value: str) -> None:
        self.count("calculation")
        self.calculation_value = value

    @property
    def status_bar(self) -> object:
        return self.status_history[-1] if self.status_history else False

    @status_bar.setter
    def status_bar(self, value: object) -> None:
        self.count("status_bar")
        self.status_history.append(value)

    def alert(self, prompt: str, title: str | None = None, buttons: str = "ok", **_: object) -> str:
        self.count("alert")
        self.alerts.append((prompt, buttons))
        if buttons == "ok":
            return "ok"
        return self.alert_answers.pop(0)

    def macro(self, name: str) -> Callable[[], None]:
        self.count("macro")
        return lambda: self.macros_run.append(name)


class _AppApi:
    def __init__(self, app: App) -> None:
        self.app = app

    def InputBox(self, prompt: str, title: str, default: str) -> object:
        self.app.count("InputBox")
        self.app.alerts.append((prompt, "input"))
        return self.app.input_answers.pop(0)


class _Selection:
    def __init__(self, app: App) -> None:
        self.app = app

    @property
    def address(self) -> str:
        self.app.count("address")
        return self.app.selected


class _Books:
    def __init__(self, app: App) -> None:
        self.app = app

    def open(self, path: str) -> Book:
        self.app.count("books.open")
        loaded = openpyxl.load_workbook(path)
        book = Book(self.app, path)
        for ws in loaded.worksheets:
            sheet = book.add_sheet(ws.title)
            for row in ws.iter_rows():
                for cell in row:
                    if cell.value is not None:
                        sheet.cells[(cell.row, cell.column)] = cell.value
        return book


class Book:
    def __init__(self, app: App | None = None, fullname: str = "Invoices.xlsx") -> None:
        self.app = app or App()
        self.path = fullname
        self._sheets = _Sheets(self)
        self.closed = False
        self.date1904 = False  # Excel's "Use 1904 date system" option of this book

    @property
    def api(self) -> _BookApi:
        self.app.count("api")
        return _BookApi(self)

    @property
    def fullname(self) -> str:
        self.app.count("fullname")
        return self.path

    @property
    def sheets(self) -> _Sheets:
        self.app.count("sheets")
        return self._sheets

    def add_sheet(self, name: str) -> Sheet:
        sheet = Sheet(self, name)
        self._sheets.items.append(sheet)
        return sheet

    def close(self) -> None:
        self.closed = True


class _BookApi:
    def __init__(self, book: Book) -> None:
        self.book = book

    @property
    def Date1904(self) -> bool:
        self.book.app.count("Date1904")
        return self.book.date1904


class _Sheets:
    def __init__(self, book: Book) -> None:
        self.book = book
        self.items: list[Sheet] = []
        self.active_index = 0

    @property
    def active(self) -> Sheet:
        self.book.app.count("sheets.active")
        return self.items[self.active_index]

    def __getitem__(self, key: int | str) -> Sheet:
        self.book.app.count("sheets[]")
        if isinstance(key, int):
            return self.items[key]
        return next(s for s in self.items if s.title == key)

    def __iter__(self) -> Iterator[Sheet]:
        for sheet in self.items:
            self.book.app.count("sheets[]")
            yield sheet

    def __len__(self) -> int:
        self.book.app.count("sheets.count")
        return len(self.items)

    def add(self, name: str, after: Sheet | None = None) -> Sheet:
        self.book.app.count("sheets.add")
        return self.book.add_sheet(name)


class Sheet:
    def __init__(self, book: Book, name: str) -> None:
        self.book = book
        self.title = name
        self.cells: dict[tuple[int, int], object] = {}
        self.hidden_rows: set[int] = set()
        self.format_rules: list[tuple[int, int, str, int]] = []
        self.protected = False
        self.visible = -1  # xlSheetVisible; 2 is xlSheetVeryHidden
        self.merged: list[tuple[int, int, int, int]] = []  # first row, column, last row, column

    @property
    def app(self) -> App:
        return self.book.app

    @property
    def name(self) -> str:
        self.app.count("sheet.name")
        return self.title

    @property
    def api(self) -> _SheetApi:
        self.app.count("api")
        return _SheetApi(self)

    def fill(self, header: list[str], rows: list[list[object]], top: int = 1) -> None:
        for c, value in enumerate(header, start=1):
            self.cells[(top, c)] = value
        for r, values in enumerate(rows, start=top + 1):
            for c, value in enumerate(values, start=1):
                if value is not None:
                    self.cells[(r, c)] = value

    def column(self, header: str, top: int = 1) -> dict[int, object]:
        """Row -> value under ``header`` (test helper, not an Excel call)."""
        index = next(c for (r, c), v in self.cells.items() if r == top and v == header)
        last = max(r for r, _ in self.cells)
        return {r: self.cells.get((r, index)) for r in range(top + 1, last + 1)}

    @property
    def used_range(self) -> Range:
        """From the first to the last cell with a value or in a merged range, as in Excel."""
        self.app.count("used_range")
        corners = [*self.cells, *(m[:2] for m in self.merged), *(m[2:] for m in self.merged)]
        rows = [r for r, _ in corners] or [1]
        columns = [c for _, c in corners] or [1]
        return Range(self, (min(rows), min(columns)), (max(rows), max(columns)))

    def range(self, first: tuple[int, int], last: tuple[int, int] | None = None) -> Range:
        self.app.count("range")
        return Range(self, first, last or first)

    def copy(self, after: Sheet) -> None:
        self.app.count("copy")
        target = after.book
        taken = [s.title for s in target._sheets.items]
        clone = target.add_sheet(self.title if self.title not in taken else f"{self.title} (2)")
        clone.cells = dict(self.cells)


class _SheetApi:
    def __init__(self, sheet: Sheet) -> None:
        self.sheet = sheet

    @property
    def Visible(self) -> int:
        self.sheet.app.count("Visible")
        return self.sheet.visible

    @Visible.setter
    def Visible(self, value: int) -> None:
        self.sheet.app.count("Visible")
        self.sheet.visible = value


class Range:
    def __init__(self, sheet: Sheet, first: tuple[int, int], last: tuple[int, int]) -> None:
        self.sheet = sheet
        self.r1, self.c1 = first
        self.r2, self.c2 = last
        self._ndim: int | None = None

    @property
    def app(self) -> App:
        return self.sheet.app

    @property
    def row(self) -> int:
        self.app.count("row")
        return self.r1

    @property
    def column(self) -> int:
        self.app.count("column")
        return self.c1

    @property
    def address(self) -> str:
        self.app.count("address")
        return _address(self.r1, self.c1, self.r2, self.c2)

    def options(self, ndim: int | None = None, **_: object) -> Range:
        self.app.count("options")
        self._ndim = ndim
        return self

    @property
    def value(self) -> object:
        self.app.count("value.get")
        grid = [
            [self.sheet.cells.get((r, c)) for c in range(self.c1, self.c2 + 1)]
            for r in range(self.r1, self.r2 + 1)
        ]
        if self._ndim == 2:
            return grid
        if len(grid) == 1 and len(grid[0]) == 1:
            return grid[0][0]
        return grid[0] if len(grid) == 1 else grid

    @value.setter
    def value(self, data: object) -> None:
        self.app.count("value.set")
        if self.sheet.protected:
            raise RuntimeError("The cell or chart you're trying to change is on a protected sheet.")
        rows = data if isinstance(data, list) else [[data]]
        rows = [r if isinstance(r, list) else [r] for r in rows]
        for i, values in enumerate(rows):
            for j, value in enumerate(values):
                key = (self.r1 + i, self.c1 + j)
                if value is None or value == "":
                    self.sheet.cells.pop(key, None)
                else:
                    self.sheet.cells[key] = value

    @property
    def api(self) -> _RangeApi:
        self.app.count("api")
        return _RangeApi(self)

    def clear_contents(self) -> None:
        self.app.count("clear_contents")
        for r in range(self.r1, self.r2 + 1):
            for c in range(self.c1, self.c2 + 1):
                self.sheet.cells.pop((r, c), None)


class _RangeApi:
    def __init__(self, cells: Range) -> None:
        self.cells = cells

    def SpecialCells(self, kind: int) -> Any:
        self.cells.app.count("SpecialCells")
        assert kind == 12  # xlCellTypeVisible
        rng = self.cells
        visible = [r for r in range(rng.r1, rng.r2 + 1) if r not in rng.sheet.hidden_rows]
        if not visible:
            raise RuntimeError("No cells were found.")
        areas, start = [], visible[0]
        for previous, current in zip(visible, [*visible[1:], None], strict=True):
            if current != previous + 1:
                areas.append(_address(start, rng.c1, previous, rng.c2))
                start = current
        return _Areas(self.cells.app, ",".join(areas))

    @property
    def FormatConditions(self) -> Any:
        self.cells.app.count("FormatConditions")
        return _Conditions(self.cells)


class _Areas:
    """What ``SpecialCells`` returns: the visible areas, read through ``.Address``."""

    def __init__(self, app: App, address: str) -> None:
        self.app = app
        self.address = address

    @property
    def Address(self) -> str:
        self.app.count("Address")
        return self.address


class _Conditions:
    def __init__(self, cells: Range) -> None:
        self.cells = cells

    @property
    def Count(self) -> int:
        """Rules on this range's column (Excel counts the rules that touch the range)."""
        self.cells.app.count("FormatConditions.Count")
        return sum(rule[0] == self.cells.c1 for rule in self.cells.sheet.format_rules)

    def Add(self, kind: int, operator: int, formula: str) -> _Rule:
        self.cells.app.count("FormatConditions.Add")
        return _Rule(self.cells, formula)


class _Rule:
    """A conditional format just added: its ``Interior.Color`` is set next."""

    def __init__(self, cells: Range, formula: str) -> None:
        self.cells, self.formula = cells, formula

    @property
    def Interior(self) -> _Rule:
        self.cells.app.count("Interior")
        return self

    @property
    def Color(self) -> int:
        self.cells.app.count("Interior.Color")
        return next(r[3] for r in self.cells.sheet.format_rules if r[2] == self.formula)

    @Color.setter
    def Color(self, colour: int) -> None:
        self.cells.app.count("Interior.Color")
        rule = (self.cells.c1, self.cells.r1, self.formula, colour)
        self.cells.sheet.format_rules.append(rule)


def book_from_rows(header: list[str], rows: list[list[object]], path: Path | None = None) -> Book:
    book = Book(fullname=str(path or "Invoices.xlsx"))
    book.add_sheet("Invoices").fill(header, rows)
    return book
