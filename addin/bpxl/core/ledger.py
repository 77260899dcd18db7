"""The ledger: every invoice bpxl created for a tenant on this computer, by its create key.

A copy of a workbook taken before a push (a backup, a colleague's copy, an e-mail attachment)
shows none of the Ids the push wrote back, and would create every invoice again. The ledger
remembers each create the moment its answer is known (and each one ``bpxl recover`` finds): its
key (``create_key``), the invoice's Id, the workbook and sheet it came from and when. A create
whose key is in the ledger is not sent: the row gets ``Exists`` with the Id, and a message naming
the workbook and the time; ``--create-anyway`` creates it all the same.

One SQLite file per tenant in bpxl's data folder (``ledger/``), written in short transactions so
that several bpxl processes (two pushes, a push and the ribbon) share it safely. It holds no
secrets and no invoice values: keys are digests.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .describe import cache_file
from .errors import BpxlError, UsageError

_BUSY_TIMEOUT_S = 30.0  # another bpxl writing its creates: wait, do not fail
_CHUNK = 500  # keys per lookup (SQLite takes up to 32,766 parameters)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS creates (
    key TEXT NOT NULL,
    id TEXT NOT NULL,
    workbook TEXT NOT NULL,
    sheet TEXT NOT NULL,
    row INTEGER NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (key, id)
);
"""


@dataclass(frozen=True)
class Entry:
    """One invoice created: by which key, with which Id, from where and when (UTC)."""

    key: str
    id: str
    workbook: str
    sheet: str
    row: int
    at: dt.datetime

    def described(self) -> str:
        """``Invoices.xlsx (sheet Invoices, row 4) on 2026-12-07 at 16:40``, in local time."""
        local = self.at.astimezone()
        return (
            f"{Path(self.workbook).name} (sheet {self.sheet}, row {self.row}) on "
            f"{local:%Y-%m-%d} at {local:%H:%M}"
        )


def ledger_file(folder: Path, tenant: str) -> Path:
    """One file per tenant (its URL; ``sandbox`` for the embedded one)."""
    return cache_file(folder, tenant).with_suffix(".sqlite3")


class Ledger:
    """The ledger of one tenant, open for one push (or recovery). Thread-safe."""

    def __init__(self, folder: Path, tenant: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = ledger_file(folder, tenant)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                str(self.path),
                timeout=_BUSY_TIMEOUT_S,
                check_same_thread=False,
                isolation_level=None,
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as failure:
            raise _unusable(self.path, failure) from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def book(self, workbook: Path, sheet: str) -> Book:
        """The ledger as a push of ``sheet`` of ``workbook`` uses it."""
        return Book(self, str(Path(workbook).resolve()), sheet)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def find(self, keys: Iterable[str]) -> dict[str, list[Entry]]:
        """The creates recorded under each of ``keys`` that has any, oldest first."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, list[Entry]] = {}
        with self._lock:
            for start in range(0, len(wanted), _CHUNK):
                part = wanted[start : start + _CHUNK]
                try:
                    rows = self._db.execute(
                        "SELECT key, id, workbook, sheet, row, at FROM creates WHERE key IN "
                        f"({', '.join('?' * len(part))}) ORDER BY at, id",
                        part,
                    ).fetchall()
                except sqlite3.Error as failure:
                    raise _unusable(self.path, failure) from None
                for key, record_id, workbook, sheet, row, at in rows:
                    at_time = dt.datetime.fromisoformat(at)
                    found.setdefault(key, []).append(
                        Entry(key, record_id, workbook, sheet, row, at_time)
                    )
        return found

    def record(self, entries: Iterable[Entry]) -> None:
        """Remember creates, on disk before this returns; one already there is left as it is."""
        rows = [
            (e.key, e.id, e.workbook, e.sheet, e.row, e.at.astimezone(dt.UTC).isoformat())
            for e in entries
        ]
        for start in range(0, len(rows), _CHUNK):  # one statement: one transaction, atomic
            part = rows[start : start + _CHUNK]
            values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(part))
            with self._lock:
                try:
                    self._db.execute(
                        "INSERT OR IGNORE INTO creates (key, id, workbook, sheet, row, at) "
                        f"VALUES {values}",
                        [v for row in part for v in row],
                    )
                except sqlite3.Error as failure:
                    raise _unusable(self.path, failure) from None


@dataclass(frozen=True)
class Book:
    """The ledger as one push of one sheet uses it: what it finds, and where its creates came
    from."""

    ledger: Ledger
    workbook: str
    sheet: str

    def find(self, keys: Iterable[str]) -> dict[str, list[Entry]]:
        return self.ledger.find(keys)

    def record(self, created: Mapping[int, tuple[str, str]]) -> None:
        """Creates just answered: sheet row -> (create key, Id)."""
        now = dt.datetime.now(dt.UTC)
        self.ledger.record(
            Entry(key, record_id, self.workbook, self.sheet, row, now)
            for row, (key, record_id) in created.items()
        )


def _unusable(path: Path, failure: Exception) -> BpxlError:
    return UsageError(
        f"bpxl's ledger of created invoices, {path}, cannot be used ({failure}).",
        "Check that the data folder is writable and not full; if the file is damaged, move it "
        "away (bpxl then starts a new ledger and can no longer recognise earlier creates).",
    )
