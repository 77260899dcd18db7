"""The run log: what the last push, pull, revert or recover did, row by row, outside the workbook.

Why: the workbook's Result and Message cells are the record of a run, but a user who closed Excel
without saving, a script that reads a CSV, or a colleague asking "what did you send?" needs it
somewhere else too. Every command that sends or fills rows (both front ends) saves one run log in
the data folder: where it went, the summary line, and for each row its number, Id, Result,
Message and the values of its Invoice columns as sent. ``bpxl log`` prints the last one, the
ribbon's *Show log* shows the same file, and ``--results FILE.csv`` writes it where the user says.

Never a secret: the values are the sheet's own cells, the target is a profile's name and URL,
and every Message has already been through the client's scrubbing.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import inert
from .cells import Unreadable, is_blank
from .connection import data_dir
from .records import Layout
from .results import SUCCESS, Outcome, RowResult

LOGS_KEPT = 50  # the newest run logs kept, whatever their workbook
_ROWS_AT_ONCE = 1000  # rows serialised together when a log is saved
CSV_COLUMNS = ("Row", "Id", "Result", "Message")
SENT = {o.value for o in (*SUCCESS.values(), Outcome.UNKNOWN)}  # rows whose values went out


def log_dir() -> Path:
    return data_dir() / "runs"


@dataclass(frozen=True)
class LoggedRow:
    row: int | None  # the sheet row (None: a pulled invoice reported by Id)
    id: str | None
    result: str  # the Result word ("" for a row a dry run found ready)
    message: str
    values: dict[str, str] = field(default_factory=dict)  # Invoice column header -> text sent


@dataclass(frozen=True)
class RunLog:
    command: str  # push, pull, revert, recover, validate
    workbook: str  # the file's full path
    sheet: str
    target: str  # where it went, as the user named it (a profile's label, a URL, the sandbox)
    summary: str
    started: str  # local time, ISO 8601 with its offset
    rows: tuple[LoggedRow, ...] = ()
    notes: tuple[str, ...] = ()  # lines a user should see with it (mapped columns, retries...)

    def text(self) -> str:
        """The log as ``bpxl log`` prints it and *Show log* shows it: one block per row."""
        when = dt.datetime.fromisoformat(self.started).strftime("%Y-%m-%d %H:%M:%S")
        sheet = f", sheet {self.sheet!r}" if self.sheet else ""
        lines = [
            f"{self.command} of {Path(self.workbook).name}{sheet}, {when}, {self.target}",
            f"  {self.workbook}",
            self.summary,
            *self.notes,
        ]
        for row in self.rows:
            where = f"Row {row.row}" if row.row is not None else "Invoice"
            what = " ".join(part for part in (row.result or "Ready", row.id or "") if part)
            lines.append(f"{where}: {what}" + (f": {row.message}" if row.message else ""))
            if row.values:
                label = "sent" if row.result in SENT else "values"
                cells = ", ".join(f"{name}={value}" for name, value in row.values.items())
                lines.append(f"    {label}: {cells}")
        return "\n".join(lines) + "\n"

    def write_csv(self, path: Path) -> Path:
        """The log's rows as a CSV file Excel opens (UTF-8 with a BOM): Row, Id, Result, Message,
        then one column per value sent."""
        names = list(dict.fromkeys(name for row in self.rows for name in row.values))
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out)
            writer.writerow([*CSV_COLUMNS, *names])
            for row in self.rows:
                writer.writerow(
                    [
                        "" if row.row is None else row.row,
                        row.id or "",
                        row.result,
                        inert.for_csv(row.message),
                        *(inert.for_csv(row.values.get(name, "")) for name in names),
                    ]
                )
        return path


def cell_text(value: object) -> str:
    """A cell value as the log keeps it: dates in ISO form, flags and numbers as Excel shows
    them."""
    if isinstance(value, str):  # most of what a record sends
        return value
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return f"{value:.15g}"
    return str(value)


def logged_rows(
    results: Sequence[RowResult],
    layout: Layout | None = None,
    sent: Mapping[int, Sequence[object]] | None = None,
    records: Mapping[int, Mapping[str, object]] | None = None,
) -> tuple[LoggedRow, ...]:
    """Each result as a log row, with what its row sent: its record as it went out (``records``,
    row -> field values: ``Pending`` for a typed ``pending``), else the Invoice cells of its row
    in ``sent`` (row -> cell values; a row that was not sent)."""
    rows = []
    for result in results:
        values: dict[str, str] = {}
        record = (records or {}).get(result.row)
        cells = (sent or {}).get(result.row)
        if record is not None:
            values = {name: "(cleared)" if v == "" else cell_text(v) for name, v in record.items()}
        elif layout is not None and cells is not None:
            for column in layout.columns:
                cell = cells[column.index] if column.index < len(cells) else None
                if not is_blank(cell) and not isinstance(cell, Unreadable):  # no value to log
                    values[column.header] = cell_text(cell)
        outcome = result.outcome.value if result.outcome else ""
        rows.append(LoggedRow(result.row, result.id, outcome, result.message, values))
    return tuple(rows)


NOT_FOUND = "Not found in BillingPlatform (deleted, or not visible to you)"


def save_pull(
    workbook: Path,
    sheet: str,
    target: str,
    summary: str,
    started: str,
    pulled: Iterable[str],
    missing: Iterable[str],
) -> RunLog:
    """Keep a pull's run log (both front ends): the Ids pulled, and those not found, in order."""

    def ordered(ids: Iterable[str]) -> list[str]:
        return sorted(ids, key=lambda i: (len(i), i))  # Ids are digits: 9 before 10

    log = RunLog(
        command="pull",
        workbook=str(Path(workbook).resolve()),
        sheet=sheet,
        target=target,
        summary=summary,
        started=started,
        rows=(
            *(LoggedRow(None, i, "Pulled", "") for i in ordered(pulled)),
            *(LoggedRow(None, i, "Not found", NOT_FOUND) for i in ordered(missing)),
        ),
    )
    save(log)
    return log


def now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def save(log: RunLog) -> Path:
    """Keep ``log`` as the newest run (the oldest beyond ``LOGS_KEPT`` are deleted)."""
    folder = log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    path = folder / f"{stamp}-{os.getpid()}.json"
    temporary = path.with_suffix(".tmp")
    # Not ``asdict``: it deep-copies every row's values (tens of seconds for 100,000 rows). Rows
    # go out a thousand at a time: the whole text at once was the peak of a 100,000-row push.
    head = json.dumps({k: v for k, v in vars(log).items() if k != "rows"}, ensure_ascii=False)
    with open(temporary, "w", encoding="utf-8") as out:
        out.write(f'{head[:-1]}, "rows": [')
        for start in range(0, len(log.rows), _ROWS_AT_ONCE):
            rows = [vars(row) for row in log.rows[start : start + _ROWS_AT_ONCE]]
            out.write(("" if start == 0 else ", ") + json.dumps(rows, ensure_ascii=False)[1:-1])
        out.write("]}")
    os.replace(temporary, path)
    for old in _files()[:-LOGS_KEPT]:
        with contextlib.suppress(OSError):
            old.unlink()
    return path


def _files() -> list[Path]:
    folder = log_dir()
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def last(workbook: Path | None = None) -> RunLog | None:
    """The newest run log (of ``workbook``, when given), or None."""
    wanted = str(workbook.resolve()) if workbook is not None else None
    for path in reversed(_files()):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            rows = tuple(LoggedRow(**row) for row in data.pop("rows"))
            log = RunLog(**{**data, "rows": rows, "notes": tuple(data.get("notes", ()))})
        except (OSError, ValueError, TypeError, KeyError):
            continue  # a log another version wrote, or one cut short: the one before it
        if wanted is None or log.workbook == wanted:
            return log
    return None
