"""CSV files in and out, for users of Data Loader and other systems' exports.

Why: invoices often come as a CSV export, and a CSV cannot hold a Result next to its rows the way
a workbook does without being rewritten. So a CSV is read as it is, and what happened goes into a
results file beside it (``invoices.results.csv``): every column of the input, plus ``Id``,
``Result`` and ``Message``. That file is a CSV like any other and can be pushed again: its rows
marked ``Created`` are skipped and its Ids make the next update find them, so nothing is created
twice. Pushing a results file writes the new results into it (after a backup); pushing the
original again while its results file exists is refused, as it would create every row again.

What is read: UTF-8 with or without a byte-order mark (Excel's "CSV UTF-8"), else Windows-1252
(Excel's "CSV (Comma delimited)" on Windows); the separator is ``,``, ``;`` (Excel where the
decimal mark is a comma) or a tab, whichever makes the first line name the most Invoice fields,
or Excel's own ``sep=;`` first line. What was found is stated, in one line, before sending.
Results are written with the same separator, in UTF-8 with a byte-order mark (Excel then reads
accents right, whatever the computer's code page).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core import fields, inert, shell
from ..core.errors import UsageError
from ..core.fields import Catalogue
from ..core.push import Grid
from ..core.records import Layout, own_columns
from ..core.results import Outcome, RowResult
from . import saving
from .sheet_io import SheetGrid

SUFFIX = ".csv"
RESULTS_SUFFIX = ".results.csv"
SEPARATORS = {",": "','", ";": "';' (Excel's regional CSV)", "\t": "tabs"}
_ENCODINGS = {
    "utf-8-sig": "UTF-8 with a byte-order mark",
    "utf-8": "UTF-8",
    "cp1252": "Windows-1252 (Excel's 'CSV (Comma delimited)')",
}


def is_csv(path: Path) -> bool:
    return path.suffix.lower() == SUFFIX


def results_path(path: Path) -> Path:
    """Where a push of ``path`` writes its results: beside it, or into itself if it is one."""
    if path.name.lower().endswith(RESULTS_SUFFIX):
        return path
    return path.with_name(path.name[: -len(SUFFIX)] + RESULTS_SUFFIX)


@dataclass(frozen=True)
class CsvFile:
    """A CSV file as read: its cells, and how it was written."""

    path: Path
    encoding: str
    separator: str
    sep_line: bool  # it starts with Excel's "sep=;" line
    rows: list[list[str]]  # every record, the header first

    @property
    def found(self) -> str:
        """How it was read, for the user: the encoding and the separator."""
        return (
            f"Read {self.path.name} as CSV: {_ENCODINGS[self.encoding]}, columns separated by "
            f"{SEPARATORS[self.separator]}, {len(self.rows) - 1:,} data rows."
        )


def read(path: Path, catalogue: Catalogue = fields.BUILT_IN) -> CsvFile:
    """Read the CSV at ``path`` (see the module docstring for what is understood)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(
            f"There is no file at {path}.", "Check the file name and folder."
        ) from None
    except OSError as failed:
        raise UsageError(f"{path.name} could not be read ({failed.strerror}).") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    else:
        try:
            raw.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            encoding = "cp1252"
    text = raw.decode(encoding, errors="replace")
    if "\x00" in text:
        raise UsageError(
            f"{path.name} is not a text CSV file (it holds binary data; is it a workbook "
            "renamed .csv, or saved as UTF-16?).",
            "Save it from Excel as 'CSV UTF-8 (Comma delimited)', or push the .xlsx itself.",
        )
    first, _, rest = text.partition("\n")
    sep_line = first.strip().lower().startswith("sep=") and len(first.strip()) == 5
    if sep_line:
        separator = first.strip()[4]
        text = rest
        if separator not in SEPARATORS:
            raise UsageError(
                f"{path.name}: its first line {first.strip()!r} names an unknown separator."
            )
    else:
        separator = _separator(first, catalogue)
    rows = [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=separator)]
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()  # blank lines at the end
    if not rows:
        raise UsageError(f"{path.name} is empty.", "Put the field names in its first line.")
    return CsvFile(path, encoding, separator, sep_line, rows)


def _separator(header: str, catalogue: Catalogue) -> str:
    """The separator that makes ``header`` name the most Invoice fields (ties: the most used)."""

    def score(separator: str) -> tuple[int, int]:
        cells = next(csv.reader([header], delimiter=separator), [])
        return sum(catalogue.lookup(c) is not None for c in cells), header.count(separator)

    return max(SEPARATORS, key=score)


def read_grid(source: CsvFile, rows: set[int] | None = None) -> SheetGrid:
    """The CSV's records as a grid: row 1 the header, data from row 2 (as Excel numbers them
    when it opens the file); empty cells are blank."""
    header = source.rows[0]
    data: list[tuple[int, Sequence[object]]] = []
    for number, values in enumerate(source.rows[1:], start=2):
        if rows is not None and number not in rows:
            continue
        data.append((number, [v if v.strip() else None for v in values]))
    width = max(len(r) for r in source.rows)
    return SheetGrid("", 1, Grid(header, data), width=width)


def check_header(source: CsvFile, header: Sequence[object], catalogue: Catalogue) -> None:
    """A CSV whose first line (after ``--map``) names no Invoice field: the wrong file, or one
    whose separator could not be told; said with what the line reads."""
    if any(catalogue.lookup(c) is not None for c in header):
        return
    shown = source.rows[0]
    raise UsageError(
        f"The first line of {source.path.name} names no Invoice field "
        f"(it reads {', '.join(repr(c) for c in shown[:5])}{', ...' if len(shown) > 5 else ''}).",
        "Put the field names (BillingProfileId, DueDate, ...) in the first line, or map your "
        'headers with --map "Your header=FieldName".',
    )


def refuse_rerun(path: Path, op: str) -> None:
    """The original of a results file is not pushed again once its results file shows a send (an
    Id, or a Result other than Invalid): those rows would be sent again. A results file of a dry
    run, or of a push that refused every row, shows none, and the original may be fixed and
    pushed."""
    done = results_path(path)
    if done != path and done.exists() and _shows_a_send(read(done)):
        raise UsageError(
            f"{path.name} was pushed before: its results, with the new Ids, are in {done.name}. "
            "Pushing it again would send every row again, and replace those results. Nothing "
            "was sent.",
            f"Push the results file instead: `{shell.command('push', done, '--op', op)}` (rows "
            f"marked Created are skipped, and its Ids make updates find them), or rename "
            f"{done.name} to start over.",
        )


def _shows_a_send(results: CsvFile) -> bool:
    """Whether a results file holds an Id, or a Result that only a send gives."""
    header = [cell.strip().lower() for cell in results.rows[0]]
    wanted = [header.index(name) for name in ("id", "result") if name in header]
    unsent = {"", Outcome.INVALID.value.lower()}
    return any(
        column < len(row) and row[column].strip().lower() not in unsent
        for row in results.rows[1:]
        for column in wanted
    )


def write_results(
    source: CsvFile, found: SheetGrid, layout: Layout, results: Sequence[RowResult]
) -> Path:
    """Every column of ``source`` plus Id, Result and Message into its results file (a backup of
    an earlier one first); returns the file written."""
    target = results_path(source.path)
    columns = own_columns(layout, found.width, True)
    width = max([found.width, *(index + 1 for index, _ in columns.added)])
    table = [list(row) + [""] * (width - len(row)) for row in source.rows]
    for index, header in columns.added:
        table[0][index] = header
    assert columns.id is not None
    for result in results:
        row = table[result.row - 1]
        if result.id and not row[columns.id].strip():
            row[columns.id] = result.id
        row[columns.result] = result.outcome.value if result.outcome else ""
        row[columns.message] = inert.for_csv(result.message)
    if target.exists():
        saving.backup(target)

    def write(temporary: Path) -> None:
        with open(temporary, "w", encoding="utf-8-sig", newline="") as out:
            if source.sep_line:
                out.write(f"sep={source.separator}\r\n")
            csv.writer(out, delimiter=source.separator).writerows(table)

    saving.save(target, write)
    return target
