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
nothing, and the fill conditional formats give a cell through ``Sheet.value_colour`` (a rule on
cell values needs a comparison operator, as in Excel).

It behaves like Excel where Excel is documented to surprise (issue 26), so that code which only
works on an English Excel with the cursor in A1 fails here too:

- a formula given to ``FormatConditions.Add`` is read in the user's language (``App.language``:
  German wants ``;`` between arguments and its own function names) and its relative references
  are read against the active cell (``App.active_cell``), not the range being formatted;
  ``Sheet.rule_formula_at`` shows the formula a rule evaluates at a cell, names expanded;
  ``Names.Add(RefersToR1C1=...)`` is in the macro language (English) and relative to the cell
  using the name, as Excel documents it;
- ``Address`` is cut at 255 characters; ``Areas`` gives every area;
- a string starting with ``=`` written to ``.value`` becomes a formula (``Formula``), one
  starting with an apostrophe is text without it (Excel's ``PrefixCharacter``);
- ``Book.fullname`` is xlwings' (which fails for a SharePoint or Teams URL it cannot map to a
  synced folder), ``Book.api.FullName`` Excel's own (an https URL for an online workbook);
- ``Application.Run`` (``App.macro``) finds an unqualified macro name only in the active
  workbook, not in the add-in;
- a call from VBA into Python (``App.run_python``) that lasts longer than ``App.ole_limit_s``
  fails as Excel's "waiting for another application to complete an OLE action" does, and
  ``Application.OnTime`` procedures run only when the test lets Excel idle (``App.idle``).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter

_CELL = re.compile(r"\$?([A-Z]+)\$?(\d+)")
ADDRESS_LIMIT = 255  # Range.Address is cut at 255 characters
ADDIN = "bpxl.xlam"
_MACRO_NOT_FOUND = (
    "Cannot run the macro '{}'. The macro may not be available in this workbook or all macros "
    "may be disabled."
)
_INVALID_CALL = "Invalid procedure call or argument"
# Function names as a German Excel reads and shows them (the few the add-in could use).
GERMAN_FUNCTIONS = {
    "AND": "UND",
    "OR": "ODER",
    "IF": "WENN",
    "IFERROR": "WENNFEHLER",
    "INDEX": "INDEX",
    "MATCH": "VERGLEICH",
    "ISNA": "ISTNV",
    "ISBLANK": "ISTLEER",
    "NOT": "NICHT",
    "COUNTIF": "ZÄHLENWENN",
}
LANGUAGES = {
    "en-US": ({name: name for name in GERMAN_FUNCTIONS}, ","),
    "de-DE": (GERMAN_FUNCTIONS, ";"),
}


def _typed_as_formula(text: str) -> bool:
    """Whether Excel, given ``text`` as a cell's value, enters a formula: ``=...``, and ``+``,
    ``-`` or ``@`` before something that is not a number (``-5`` is the number -5)."""
    if text.startswith("="):
        return True
    if text[:1] in ("+", "-", "@") and len(text) > 1:
        try:
            float(text[1:])
        except ValueError:
            return True
    return False


class ExcelError(RuntimeError):
    """What a failing call into Excel raises (pywin32's com_error in the real add-in)."""


class OleWaitError(RuntimeError):
    """Excel gave up waiting on a call into Python: its OLE-wait dialogs in the real Excel."""


@dataclass(frozen=True)
class Formula:
    """A cell holding a formula: what a string starting with ``=`` written to ``.value`` becomes."""

    text: str


_A1_REF = re.compile(
    r"(?<![A-Za-z0-9_.])(\$?)([A-Z]{1,3})(\$?)(\d+)(?![A-Za-z0-9_(])"
    r"|(?<![A-Za-z0-9_.])(\$?)([A-Z]{1,3}):(\$?)([A-Z]{1,3})(?![A-Za-z0-9_(])"
)
_R1C1_REF = re.compile(
    r"(?<![A-Za-z0-9_.])R(\[-?\d+\]|\d+)?C(\[-?\d+\]|\d+)?(?![A-Za-z0-9_(\[])"
    r"|(?<![A-Za-z0-9_.])C(\[-?\d+\]|\d+)?(?![A-Za-z0-9_(\[])"
)


def _column_number(letters: str) -> int:
    number = 0
    for char in letters:
        number = number * 26 + ord(char) - 64
    return number


def _outside_strings(formula: str, change: Callable[[str], str]) -> str:
    """``change`` applied to the parts of ``formula`` outside string literals."""
    parts = formula.split('"')
    return '"'.join(change(p) if i % 2 == 0 else p for i, p in enumerate(parts))


def _a1_to_r1c1(formula: str, row: int, column: int) -> str:
    """Excel's reading of an A1 formula typed with the cursor on (row, column)."""

    def one(match: re.Match[str]) -> str:
        if match.group(2):
            fixed_c, letters, fixed_r, digits = match.group(1, 2, 3, 4)
            c, r = _column_number(letters), int(digits)
            rows = f"R{r}" if fixed_r else ("R" if r == row else f"R[{r - row}]")
            columns = f"C{c}" if fixed_c else ("C" if c == column else f"C[{c - column}]")
            return rows + columns
        spans = []
        for fixed, letters in (match.group(5, 6), match.group(7, 8)):
            c = _column_number(letters)
            spans.append(f"C{c}" if fixed else ("C" if c == column else f"C[{c - column}]"))
        return spans[0] if spans[0] == spans[1] else ":".join(spans)

    return _outside_strings(formula, lambda part: _A1_REF.sub(one, part))


def _r1c1_to_a1(formula: str, row: int, column: int) -> str:
    """An R1C1 formula as it reads at (row, column), in A1 (relative references plain)."""

    def position(text: str | None, here: int) -> tuple[int, bool]:
        if not text:
            return here, False
        if text.startswith("["):
            return here + int(text[1:-1]), False
        return int(text), True

    def one(match: re.Match[str]) -> str:
        if match.group(3) is not None or (
            match.group(1) is None and match.group(2) is None and match.group(0) == "C"
        ):
            c, fixed = position(match.group(3), column)
            letter = ("$" if fixed else "") + _letter(c)
            return f"{letter}:{letter}"
        r, fixed_r = position(match.group(1), row)
        c, fixed_c = position(match.group(2), column)
        return f"{'$' if fixed_c else ''}{_letter(c)}{'$' if fixed_r else ''}{r}"

    return _outside_strings(formula, lambda part: _R1C1_REF.sub(one, part))


def _check_language(formula: str, language: str) -> None:
    """Refuse a formula the way Excel does when it is not in the user's language."""
    functions, separator = LANGUAGES[language]
    known = set(functions.values())

    def check(part: str) -> str:
        for name in re.findall(r"([A-ZÄÖÜ][A-ZÄÖÜ0-9.]*)\(", part):
            if name not in known:
                raise ExcelError(_INVALID_CALL)
        if separator == ";" and "," in part:
            raise ExcelError(_INVALID_CALL)
        return part

    _outside_strings(formula, check)


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
    def __init__(self, language: str = "en-US") -> None:
        self.calls: Counter[str] = Counter()
        self.language = language  # Excel's UI language: how it reads formulas typed by users
        self.active_cell = (1, 1)  # where the cursor is: relative references are read from it
        self.selected = "$A$1"
        self.ole_limit_s = 90.0  # how long Excel waits on a call into Python, then fails
        self.scheduled: list[tuple[float, str]] = []  # Application.OnTime: (when, procedure)
        self.vba: dict[str, Callable[[], None]] = {}  # macros of the add-in, by name
        self.call_seconds: list[float] = []  # the duration of each call into Python
        self.screen_updating_value = True
        self.calculation_value = "automatic"
        self.status_history: list[object] = []
        self.alerts: list[tuple[str, str | None]] = []
        self.alert_titles: list[str | None] = []  # each message box's caption, in order
        self.input_titles: list[str] = []  # each InputBox's caption, in order
        self.alert_answers: list[str] = []
        self.input_answers: list[object] = []
        self.macros_run: list[str] = []
        self.ribbon_held = True  # the add-in's VBA holds the ribbon (False after a VBA reset)
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
        self.alert_titles.append(title)
        if buttons == "ok":
            return "ok"
        return self.alert_answers.pop(0)

    def macro(self, name: str) -> Callable[[], object]:
        """Application.Run: an unqualified name is looked for in the active workbook only. The
        add-in's BpxlRefreshRibbon answers whether it still holds the ribbon (``ribbon_held``:
        a VBA reset clears what VBA modules hold, until Excel restarts)."""
        self.count("macro")
        book, _, macro = name.rpartition("!")
        if book.strip("'") != ADDIN:
            raise ExcelError(_MACRO_NOT_FOUND.format(name))

        def run() -> object:
            self.macros_run.append(macro)
            return self.ribbon_held if macro == "BpxlRefreshRibbon" else None

        return run

    def run_python(self, call: Callable[[], None]) -> None:
        """A call from VBA into Python (RunPython): Excel waits for it, up to its OLE limit."""
        began = time.monotonic()
        call()
        seconds = time.monotonic() - began
        self.call_seconds.append(seconds)
        if seconds > self.ole_limit_s:
            raise OleWaitError(
                f"Microsoft Excel is waiting for another application to complete an OLE action "
                f"({seconds:.1f} s)"
            )

    def idle(self, timeout_s: float = 600.0) -> None:
        """Excel idles: the procedures scheduled with OnTime run when due, until none is left."""
        deadline = time.monotonic() + timeout_s
        while self.scheduled:
            assert time.monotonic() < deadline, f"still scheduled: {self.scheduled}"
            self.scheduled.sort()
            when, procedure = self.scheduled[0]
            time.sleep(max(0.0, when - time.monotonic()))
            self.scheduled.pop(0)
            book, _, name = procedure.rpartition("!")
            if book.strip("'") != ADDIN:
                raise ExcelError(_MACRO_NOT_FOUND.format(procedure))
            self.run_python(self.vba[name])


class _AppApi:
    def __init__(self, app: App) -> None:
        self.app = app

    def InputBox(self, prompt: str, title: str, default: str) -> object:
        self.app.count("InputBox")
        self.app.alerts.append((prompt, "input"))
        self.app.input_titles.append(title)
        return self.app.input_answers.pop(0)

    def OnTime(self, EarliestTime: dt.datetime, Procedure: str) -> None:
        """Run ``Procedure`` once Excel is idle at ``EarliestTime`` (a local date-time)."""
        self.app.count("OnTime")
        due = time.monotonic() + (EarliestTime - dt.datetime.now()).total_seconds()
        self.app.scheduled.append((due, Procedure))


class _Selection:
    def __init__(self, app: App) -> None:
        self.app = app

    @property
    def address(self) -> str:
        self.app.count("address")
        return self.app.selected[:ADDRESS_LIMIT]

    @property
    def api(self) -> _AreasApi:
        self.app.count("api")
        corners = []
        for area in self.app.selected.split(","):
            ends = [_parse(part) for part in area.replace("$", "").split(":")]
            corners.append((*ends[0], *ends[-1]))
        return _AreasApi(self.app, corners)


class _AreasApi:
    """The COM side of a range of one or more areas: ``Areas`` and ``Address``."""

    def __init__(self, app: App, corners: list[tuple[int, int, int, int]]) -> None:
        self.app = app
        self.corners = corners  # (first row, first column, last row, last column) per area

    @property
    def Areas(self) -> _AreaList:
        self.app.count("Areas")
        return _AreaList(self.app, self.corners)

    @property
    def Address(self) -> str:
        self.app.count("Address")
        return ",".join(_address(*c) for c in self.corners)[:ADDRESS_LIMIT]


class _AreaList:
    def __init__(self, app: App, corners: list[tuple[int, int, int, int]]) -> None:
        self.app = app
        self.corners = corners

    @property
    def Count(self) -> int:
        self.app.count("Areas.Count")
        return len(self.corners)

    def Item(self, index: int) -> _Area:
        self.app.count("Areas.Item")
        return _Area(self.app, self.corners[index - 1])  # Excel counts from 1


class _Area:
    def __init__(self, app: App, corners: tuple[int, int, int, int]) -> None:
        self.app = app
        self.r1, self.c1, self.r2, self.c2 = corners

    @property
    def Row(self) -> int:
        self.app.count("Area.Row")
        return self.r1

    @property
    def Column(self) -> int:
        self.app.count("Area.Column")
        return self.c1

    @property
    def Rows(self) -> _Count:
        return _Count(self.app, self.r2 - self.r1 + 1)

    @property
    def Columns(self) -> _Count:
        return _Count(self.app, self.c2 - self.c1 + 1)


class _Count:
    def __init__(self, app: App, count: int) -> None:
        self.app, self.value = app, count

    @property
    def Count(self) -> int:
        self.app.count("Count")
        return self.value


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
        self.path = fullname  # Excel's FullName: an https URL for OneDrive, SharePoint, Teams
        self._sheets = _Sheets(self)
        self.closed = False
        self.date1904 = False  # Excel's "Use 1904 date system" option of this book
        self.names: dict[str, tuple[str, bool]] = {}  # defined names: R1C1 formula, visible

    @property
    def api(self) -> _BookApi:
        self.app.count("api")
        return _BookApi(self)

    @property
    def fullname(self) -> str:
        """xlwings' Book.fullname: a URL is turned into the synced folder's path, which xlwings
        cannot find for SharePoint or Teams without settings (it raises, as here)."""
        self.app.count("fullname")
        if "://" in self.path:
            raise RuntimeError(
                "Couldn't find your SharePoint folder. You'll need to configure the "
                "'SHAREPOINT_WIN' setting."
            )
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

    @property
    def FullName(self) -> str:
        self.book.app.count("FullName")
        return self.book.path

    @property
    def Names(self) -> _Names:
        self.book.app.count("Names")
        return _Names(self.book)


class _Names:
    def __init__(self, book: Book) -> None:
        self.book = book

    def Add(
        self,
        Name: str,
        RefersTo: str | None = None,
        Visible: bool = True,
        RefersToR1C1: str | None = None,
    ) -> None:
        """A defined name; ``RefersTo`` (A1) is read against the active cell, ``RefersToR1C1``
        as written. Both are in the macro language (English), as Excel documents them."""
        app = self.book.app
        app.count("Names.Add")
        formula = RefersToR1C1 if RefersToR1C1 is not None else RefersTo
        if formula is None or not formula.startswith("="):
            raise ExcelError(_INVALID_CALL)
        _check_language(formula, "en-US")
        if RefersToR1C1 is None:
            formula = _a1_to_r1c1(formula, *app.active_cell)
        self.book.names[Name] = (formula, Visible)


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

    def add(self, name: str, before: Sheet | None = None, after: Sheet | None = None) -> Sheet:
        """A new sheet after ``after``, or before ``before``; with neither, before the active
        sheet, as Excel puts it (not at the end)."""
        self.book.app.count("sheets.add")
        sheet = self.book.add_sheet(name)
        self.items.remove(sheet)
        if after is not None:
            at = self.items.index(after) + 1
        else:
            at = self.items.index(before) if before is not None else self.active_index
        self.items.insert(at, sheet)
        if at <= self.active_index:
            self.active_index += 1  # the same sheet stays active
        return sheet


class Sheet:
    def __init__(self, book: Book, name: str) -> None:
        self.book = book
        self.title = name
        self.cells: dict[tuple[int, int], object] = {}
        self.hidden_rows: set[int] = set()
        self.format_rules: list[tuple[int, int, str, int]] = []
        # Each rule's kind (1 xlCellValue, 2 xlExpression) and the cells it covers, in order.
        self.format_areas: list[tuple[int, int, int, int, int]] = []
        self.format_operators: list[int] = []  # each rule's comparison (3 xlEqual, 4 xlNotEqual)
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

    def rule_formula_at(self, row: int, column: int) -> list[str]:
        """The formulas of the expression rules on ``column`` as Excel evaluates them at the
        cell (row, column), in A1, defined names replaced by what they refer to there (test
        helper, not an Excel call)."""
        formulas = []
        for (_, _, formula, _), (kind, r1, c1, r2, c2) in zip(
            self.format_rules, self.format_areas, strict=True
        ):
            covers = min(r1, r2) <= row <= max(r1, r2) and min(c1, c2) <= column <= max(c1, c2)
            if kind != 2 or not covers:
                continue
            for name, (refers, _) in self.book.names.items():
                formula = re.sub(
                    rf"(?<![A-Za-z0-9_.]){re.escape(name)}(?![A-Za-z0-9_.(])",
                    lambda _m, refers=refers: f"({refers.lstrip('=')})",
                    formula,
                )
            formulas.append(_r1c1_to_a1(formula, row, column))
        return formulas

    def value_colour(self, row: int, column: int) -> int | None:
        """The fill the cell value rules (xlCellValue) give the cell (row, column) as Excel
        shows it: the first rule that covers the cell and holds for its value; texts compared
        as Excel does, whatever their case (test helper, not an Excel call)."""
        value = self.cells.get((row, column))
        for (_, _, formula, colour), (kind, r1, c1, r2, c2), operator in zip(
            self.format_rules, self.format_areas, self.format_operators, strict=True
        ):
            covers = min(r1, r2) <= row <= max(r1, r2) and min(c1, c2) <= column <= max(c1, c2)
            if kind != 1 or not covers:
                continue
            text = formula.removeprefix('="').removesuffix('"')  # the rules here: ="Created"
            equal = isinstance(value, str) and value.casefold() == text.casefold()
            if operator not in (3, 4):
                raise NotImplementedError(f"operator {operator}")
            if equal == (operator == 3):  # xlEqual, xlNotEqual
                return colour
        return None

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
        """Cells from ``first`` to ``last`` (row, column); like Excel, none outside the sheet."""
        self.app.count("range")
        for row, column in (first, last or first):
            if not (isinstance(row, int) and 1 <= row <= 1_048_576):
                raise ExcelError(_INVALID_CALL)
            if not (isinstance(column, int) and 1 <= column <= 16_384):
                raise ExcelError(_INVALID_CALL)
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
        return _address(self.r1, self.c1, self.r2, self.c2)[:ADDRESS_LIMIT]

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
                if isinstance(value, str) and value.startswith("'"):
                    value = value[1:]  # Excel's "this is text" mark, kept out of the value
                elif isinstance(value, str) and _typed_as_formula(value):
                    value = Formula(value)  # Excel enters it as if typed: a formula
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
                areas.append((start, rng.c1, previous, rng.c2))
                start = current
        return _AreasApi(self.cells.app, areas)

    @property
    def FormatConditions(self) -> Any:
        self.cells.app.count("FormatConditions")
        return _Conditions(self.cells)


class _Conditions:
    def __init__(self, cells: Range) -> None:
        self.cells = cells

    @property
    def Count(self) -> int:
        """Rules on this range's column (Excel counts the rules that touch the range)."""
        self.cells.app.count("FormatConditions.Count")
        return sum(rule[0] == self.cells.c1 for rule in self.cells.sheet.format_rules)

    def Add(self, kind: int, operator: int, formula: str) -> _Rule:
        """A rule, its formula read as Excel reads one typed by the user: in the UI language,
        relative references from the active cell (Excel keeps it in R1C1 from there)."""
        app = self.cells.app
        app.count("FormatConditions.Add")
        if kind not in (1, 2) or not isinstance(formula, str):  # the kinds with a formula
            raise ExcelError(_INVALID_CALL)
        if kind == 1 and operator not in range(1, 9):  # xlCellValue needs xlBetween..xlLessEqual
            raise ExcelError(_INVALID_CALL)
        if kind == 2:  # xlExpression (its Operator is ignored)
            _check_language(formula, app.language)
            formula = _a1_to_r1c1(formula, *app.active_cell)
        return _Rule(self.cells, formula, kind, operator)


class _Rule:
    """A conditional format just added: its ``Interior.Color`` is set next."""

    def __init__(self, cells: Range, formula: str, kind: int, operator: int) -> None:
        self.cells, self.formula, self.kind, self.operator = cells, formula, kind, operator

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
        cells = self.cells
        cells.sheet.format_rules.append((cells.c1, cells.r1, self.formula, colour))
        cells.sheet.format_areas.append((self.kind, cells.r1, cells.c1, cells.r2, cells.c2))
        cells.sheet.format_operators.append(self.operator)


def press(book: Book, control_id: str) -> None:
    """A click on a ribbon button, as the add-in's VBA makes it: BpxlAction calls Python
    (``bpxl.excel.ribbon.action``), then Excel idles, running the BpxlPoll calls the button's
    work schedules until it is done. Every call into Python is held to Excel's OLE limit."""
    from bpxl.excel import ribbon

    app = book.app
    app.vba.setdefault("BpxlPoll", ribbon.poll)
    app.run_python(lambda: ribbon.action(control_id, book))
    app.idle()


def book_from_rows(header: list[str], rows: list[list[object]], path: Path | None = None) -> Book:
    book = Book(fullname=str(path or "Invoices.xlsx"))
    book.add_sheet("Invoices").fill(header, rows)
    return book
