"""The file a command sends from: an .xlsx workbook, or a CSV file whose results go beside it.

Why: push and recover read rows and write results the same way whatever the file; only these
three steps (check it can be written, read its grid, write the results) differ between a workbook
(results into its own cells, see ``sheet_io``) and a CSV file (results into a results file, see
``csv_file``). The command line asks this module and never which kind of file it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..core import fields
from ..core.errors import UsageError
from ..core.fields import Catalogue
from ..core.records import Layout
from ..core.results import RowResult
from . import csv_file, saving, sheet_io

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")


class SendFile:
    """``path`` as a push or a recovery reads and writes it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.csv: csv_file.CsvFile | None = None
        self.is_csv = csv_file.is_csv(path)

    @property
    def results(self) -> Path:
        """Where results are written: the workbook itself, or a CSV's results file."""
        return csv_file.results_path(self.path) if self.is_csv else self.path

    def check_writable(self) -> None:
        """Refuse, before anything is sent, a file whose results could not be written."""
        if not self.is_csv:
            sheet_io.check_writable(self.path)
            return
        if not self.path.is_file():
            sheet_io.check_writable(self.path)  # says what is wrong: a folder, nothing there
        if self.results.exists():
            sheet_io.check_writable(self.results)

    def prove_writable(self, sheet: str, rows: int) -> None:
        """Before anything is sent: the results of ``rows`` rows can be written (see
        ``sheet_io.prove_writable``; a CSV's results file needs room beside it)."""
        if self.is_csv:
            saving.prove_room(self.results, rows, like=self.path)
        else:
            sheet_io.prove_writable(self.path, sheet, rows)

    def read_grid(
        self,
        sheet: str | None = None,
        rows: set[int] | None = None,
        catalogue: Catalogue = fields.BUILT_IN,
        include_hidden: bool = False,
    ) -> sheet_io.SheetGrid:
        if not self.is_csv:
            return sheet_io.read_grid(self.path, sheet, rows, catalogue, include_hidden)
        if sheet:
            raise UsageError(
                f"--sheet {sheet}: {self.path.name} is a CSV file, which has no sheets.",
                "Leave --sheet out.",
            )
        self.csv = csv_file.read(self.path, catalogue)
        return csv_file.read_grid(self.csv, rows)

    @property
    def decimal_comma(self) -> bool:
        """Read as written where the decimal mark is a comma (Excel's CSV separated by ';')."""
        return self.csv is not None and self.csv.separator == ";"

    def check_header(self, header: Sequence[object], catalogue: Catalogue) -> None:
        """A CSV's first line, as translated, must name an Invoice field (see ``csv_file``)."""
        if self.csv is not None:
            csv_file.check_header(self.csv, header, catalogue)

    def notes(self) -> tuple[str, ...]:
        """What the user should know about how the file was read and where results go."""
        if self.csv is None:
            return ()
        return (self.csv.found, f"Results go into {self.results.name}.")

    def write_results(
        self, found: sheet_io.SheetGrid, layout: Layout, results: Sequence[RowResult]
    ) -> None:
        if self.csv is None:
            sheet_io.write_results(self.path, found, layout, results)
        else:
            csv_file.write_results(self.csv, found, layout, results)


def refuse_format(path: Path, command: str) -> None:
    """``template`` and ``pull`` write .xlsx workbooks (a pull fills an existing .xlsm too): a
    name they would fill with the wrong format (``out.csv``, ``out.xlsm``) is refused before
    anything is written."""
    kept = WORKBOOK_SUFFIXES if command == "pull" and path.exists() else (".xlsx",)
    if path.suffix.lower() in kept:
        return
    advice = (
        "To push invoices from a CSV file, push the CSV itself (bpxl push FILE.csv); to keep a "
        "pull's rows as CSV, save the workbook as CSV from Excel."
        if csv_file.is_csv(path)
        else ""
    )
    raise UsageError(
        f"bpxl {command} writes an Excel workbook (.xlsx), so it cannot write {path.name}. "
        "Nothing was written.",
        f"Use {path.with_suffix('.xlsx').name}. {advice}".strip(),
    )
