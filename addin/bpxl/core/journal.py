"""The push journal: what a push is about to send and what came back, safe on disk at every step.

One append-only file of JSON lines per push, in the user's data folder. Before a batch goes out its
rows are written down; after the answer, each row's outcome; each line is flushed and synced
before the push moves on. If the process dies, Excel crashes or the laptop sleeps mid-push,
``bpxl recover`` reads the journal back and gives every row a definite status.

The journal holds no secrets and no records: rows are identified by their sheet row number and a
hash of the record sent, so that a recovery can tell whether a row was edited or moved since. Each
row's outcome is kept with its Message, which may quote a cell value (``"31/02/2026" is not a
date``): a recovery writes the same Message a finished push would have.

A recovery must find a sent row even after the user edited and moved it (an edit changes the
hash), and look up a create whose answer was lost as it was sent: so while a push runs, the
values it sends are kept beside its journal (``NAME.sent``, synced before each batch goes out),
and removed as soon as the push finishes or is recovered (a send from the Excel ribbon keeps them
until it is recovered or its journal pruned: Excel may close without saving its outcomes).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from . import room, settings
from .errors import StorageError, storage_error
from .results import Operation, Outcome, RowResult

KEEP_DAYS_ENV = "BPXL_JOURNAL_DAYS"
DEFAULT_KEEP_DAYS = 30
# What a push writes into the data folder, measured (test_hostile_files): per row, its plan,
# send and result lines and the run log's line (200 to 420 bytes with a server message), and its
# values twice (kept beside the journal and in the run log), quoted as JSON.
ROW_BYTES, VALUE_FACTOR, SLACK_BYTES, SAMPLE_ROWS = 600, 3, 1 << 20, 1000


def room_needed(rows: Sequence[tuple[int, Sequence[object]]]) -> int:
    """Bytes the journal of a push of ``rows`` (number, values) needs at most: the values' length
    is measured on the first ``SAMPLE_ROWS`` rows and taken as typical of the others."""
    sample = rows[:SAMPLE_ROWS]
    chars = sum(len(str(v)) for _, values in sample for v in values if v is not None)
    per_row = chars / len(sample) if sample else 0
    return int(len(rows) * (ROW_BYTES + VALUE_FACTOR * per_row)) + SLACK_BYTES


def prove_room(folder: Path, rows: Sequence[tuple[int, Sequence[object]]]) -> None:
    """Before anything is sent: the journal can be written in ``folder``, which has room for a
    push of ``rows`` (``room_needed``); else ``StorageError`` (nothing was sent)."""
    need = room_needed(rows)
    try:
        free = room.free_after_probe(folder)
    except OSError as error:
        raise _unwritable(error, folder) from None
    if free < need:
        raise StorageError(
            f"The disk holding bpxl's data folder {folder} has {free / 1e6:,.1f} MB free; the "
            f"journal of this push needs about {need / 1e6:,.1f} MB. Nothing was sent.",
            "Free some space on that disk (or set BPXL_DATA_DIR to a folder on a disk with room) "
            "and run again.",
        )


def _unwritable(error: OSError, folder: Path) -> StorageError:
    return storage_error(
        error,
        f"bpxl could not write its journal in {folder}",
        "Free some space there, or make the folder writable (or set BPXL_DATA_DIR to another "
        "folder), then run again. If rows were being sent, run `bpxl recover` first: it finds out "
        "what happened to each of them.",
    )


def record_hash(record: Mapping[str, object]) -> str:
    """A short fingerprint of a record: the same values give the same hash, on any machine."""
    text = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Target:
    """Where a push went, without secrets: enough for ``bpxl recover`` to go back there."""

    url: str | None  # None: the embedded sandbox
    profile: str | None = None


class Journal:
    """The journal of one push, being written."""

    def __init__(
        self,
        folder: Path,
        *,
        workbook: Path,
        sheet: str,
        op: Operation,
        external_id: str,
        target: Target,
    ) -> None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        self.path = folder / f"{stamp}-{uuid.uuid4().hex[:8]}.jsonl"
        self.folder = folder
        self.workbook = str(Path(workbook).resolve())
        self.sheet = sheet
        self._lock = threading.Lock()
        self.sent_any = False
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._file: IO[str] | None = self.path.open("x", encoding="utf-8")
        except OSError as error:
            raise _unwritable(error, folder) from None
        # The values sent: opened with the first batch that keeps any, held open till the end.
        self._values: IO[bytes] | None = None
        self._values_lock = threading.Lock()
        self._write(
            {
                "type": "run",
                "workbook": self.workbook,
                "sheet": sheet,
                "op": op.value,
                "external_id": external_id,
                "url": target.url,
                "profile": target.profile,
                "started": _now(),
            }
        )

    def planned(self, rows: Mapping[int, str | None]) -> None:
        """Every row the push looks at: its record's hash, or None for a row that is invalid."""
        self._write({"type": "plan", "rows": {str(r): h for r, h in rows.items()}})

    def sending(
        self,
        rows: Iterable[int],
        at: dt.datetime,
        records: Mapping[int, Mapping[str, object]] | None = None,
    ) -> None:
        """Called before a batch goes out; ``at`` is the server's time as best known.
        ``records`` (by row): the values sent, kept until the push is over."""
        self.sent_any = True
        if records:
            self._keep({str(r): dict(v) for r, v in records.items()})
        self._write({"type": "send", "rows": list(rows), "at": at.isoformat()})

    def answered(self, results: Iterable[RowResult]) -> None:
        self._write({"type": "result", "rows": [_dump(r) for r in results]})

    def finish(self, unsaved: bool = False) -> None:
        """The workbook holds every outcome: a recovery has nothing left to do. ``unsaved``: they
        went into a book open in Excel, which holds them on disk only once the user saves it; if
        Excel closes without saving, a recovery of the file is needed after all, so the values
        sent stay beside the journal (until it is recovered, or pruned)."""
        unsaved = unsaved and Path(self.workbook).exists()  # a new book: no file to lack them
        self._write({"type": "done", "at": _now(), **({"unsaved": True} if unsaved else {})})
        self.close()
        if not unsaved:
            sent_path(self.path).unlink(missing_ok=True)

    def discard(self) -> None:
        """Remove the journal of a push that sent nothing."""
        self.close()
        self.path.unlink(missing_ok=True)
        sent_path(self.path).unlink(missing_ok=True)

    def abandon(self) -> None:
        """A push that stopped on an error: keep the journal for a recovery if anything went
        out, else there is nothing to recover."""
        if self.sent_any:
            self.close()
        else:
            self.discard()

    def close(self) -> None:
        """Close the files; a line a full disk refused, still buffered, is dropped (the push
        that failed on it has stopped, and every line before it is on disk)."""
        with self._lock:
            if self._file is not None:
                with contextlib.suppress(OSError):
                    self._file.close()
                self._file = None
        with self._values_lock:
            if self._values is not None:
                with contextlib.suppress(OSError):
                    self._values.close()
                self._values = None

    def earlier_sends(self, rows: Mapping[int, str]) -> dict[int, dt.datetime]:
        """When earlier pushes of this sheet sent each of ``rows`` (row -> hash), if they did."""
        found: dict[int, dt.datetime] = {}
        for run in runs(self.folder):
            if run.path == self.path or (run.workbook, run.sheet) != (self.workbook, self.sheet):
                continue
            for row, at in run.sent.items():
                if rows.get(row) == run.planned.get(row) and (row not in found or at < found[row]):
                    found[row] = at
        return found

    def _keep(self, rows: dict[str, dict[str, object]]) -> None:
        """The values of a batch about to go out, on disk before this returns (``sent_path``).

        Before its send line: a send line in the journal, whether the process was killed or the
        power went, always has its values beside it. A lock of their own: a batch syncing its
        values does not hold up the journal's lines of the others."""
        line = json.dumps({"rows": rows}, ensure_ascii=False, default=str) + "\n"
        with self._values_lock:
            if self._file is None:
                raise ValueError("the journal is closed")
            try:
                if self._values is None:
                    self._values = sent_path(self.path).open("ab")
                self._values.write(line.encode())
                self._values.flush()
                os.fsync(self._values.fileno())
            except OSError as error:
                raise _unwritable(error, self.folder) from None

    def _write(self, entry: dict[str, Any]) -> None:
        """One line into the journal, on disk before this returns."""
        line = json.dumps(entry, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            if self._file is None:
                raise ValueError("the journal is closed")
            try:
                self._file.write(line)
                self._file.flush()
                os.fsync(self._file.fileno())
            except OSError as error:
                raise _unwritable(error, self.folder) from None


def sent_path(path: Path) -> Path:
    """Where the values a push sends are kept while it runs."""
    return path.with_suffix(".sent")


def _append(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.write(line)
        file.flush()
        os.fsync(file.fileno())


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _dump(result: RowResult) -> list[Any]:
    outcome = result.outcome.value if result.outcome else None
    return [result.row, outcome, result.id, result.messages]


@dataclass
class Run:
    """A journal read back from disk."""

    path: Path
    workbook: str
    sheet: str
    op: Operation
    external_id: str
    target: Target
    started: dt.datetime
    planned: dict[int, str | None] = field(default_factory=dict)
    sent: dict[int, dt.datetime] = field(default_factory=dict)
    # The values sent, by row, while they are kept (see ``sent_path``).
    sent_records: dict[int, dict[str, object]] = field(default_factory=dict)
    results: dict[int, RowResult] = field(default_factory=dict)
    finished: bool = False
    applied: set[str] = field(default_factory=set)  # the files that hold its outcomes
    recovered: bool = False  # stopped mid-way, finished by ``bpxl recover``
    # Files whose outcomes went into a book open in Excel, and when (on disk once it is saved).
    unsaved: dict[str, dt.datetime] = field(default_factory=dict)

    @property
    def created_or_unsure(self) -> set[str]:
        """Hashes of the records this push created, or may have (sent with no answer, or
        Unknown): a file showing one of them with no Id would create it again."""
        rows = {
            row
            for row, result in self.results.items()
            if result.outcome is Outcome.UNKNOWN
            or (result.outcome is Outcome.CREATED and result.id)
        }
        rows |= set(self.in_flight)
        return {digest for row in rows if (digest := self.planned.get(row))}

    @property
    def in_flight(self) -> list[int]:
        """Rows sent whose answer never reached the journal."""
        return [row for row in self.sent if row not in self.results]

    @property
    def never_sent(self) -> list[int]:
        return [
            row
            for row, digest in self.planned.items()
            if digest is not None and row not in self.sent and row not in self.results
        ]


def load(path: Path) -> Run | None:
    """Read a journal; a torn last line (the process died mid-write) is ignored."""
    run: Run | None = None
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            kind = entry.get("type")
            if kind == "run":
                run = Run(
                    path,
                    entry["workbook"],
                    entry["sheet"],
                    Operation(entry["op"]),
                    entry["external_id"],
                    Target(entry.get("url"), entry.get("profile")),
                    dt.datetime.fromisoformat(entry["started"]),
                )
            elif run is None:
                return None
            elif kind == "plan":
                run.planned.update({int(r): h for r, h in entry["rows"].items()})
            elif kind == "send":
                at = dt.datetime.fromisoformat(entry["at"])
                run.sent.update({int(r): at for r in entry["rows"]})
            elif kind == "result":
                for row, outcome, record_id, messages in entry["rows"]:
                    run.results[int(row)] = RowResult(
                        int(row), Outcome(outcome) if outcome else None, record_id, list(messages)
                    )
            elif kind == "done":
                run.finished = True
                into = entry.get("into") or run.workbook
                run.applied.add(into)
                run.recovered = run.recovered or bool(entry.get("recovered"))
                run.unsaved.pop(into, None)  # the file's last writing of the outcomes counts
                if entry.get("unsaved"):
                    run.unsaved[into] = dt.datetime.fromisoformat(entry["at"])
    if run is not None:  # kept while the push is unfinished, or its outcomes are not saved
        run.sent_records = _sent_records(sent_path(path))
    return run


def _sent_records(path: Path) -> dict[int, dict[str, object]]:
    """The values kept beside a journal (see ``sent_path``); a torn last line is ignored."""
    found: dict[int, dict[str, object]] = {}
    try:
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    found.update({int(r): v for r, v in json.loads(line)["rows"].items()})
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue
    except OSError:
        pass  # none kept: the push finished, or was written before they were kept
    return found


def runs(folder: Path) -> list[Run]:
    """Every readable journal in ``folder``, oldest first."""
    found = []
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        try:
            run = load(path)
        except (OSError, KeyError, TypeError, ValueError):
            continue  # not one of ours, or damaged beyond its last line
        if run is not None:
            found.append(run)
    # Names count whole seconds and then a random part: two pushes in one second sort by chance.
    return sorted(found, key=lambda run: run.started)


def unfinished(folder: Path, workbook: Path | None = None) -> list[Run]:
    """Pushes that stopped before their outcomes reached the workbook, oldest first."""
    wanted = str(Path(workbook).resolve()) if workbook else None
    return [r for r in runs(folder) if not r.finished and wanted in (None, r.workbook)]


def remember_found(run: Run, found: Iterable[RowResult]) -> None:
    """Keep in ``run``'s journal the creates in flight that ``bpxl recover`` found on the server,
    as their answers would have been, before it writes them into a workbook: a recovery run
    again (this one was stopped) or of a copy later (when the values sent are no longer kept)
    then knows their Ids."""
    if rows := [_dump(r) for r in found]:
        _append(run.path, json.dumps({"type": "result", "rows": rows}, ensure_ascii=False) + "\n")
        run.results.update((r.row, r) for r in found)


def mark_recovered(run: Run, into: Path, unsaved: bool = False) -> None:
    """Close a journal whose outcomes ``bpxl recover`` has written into the workbook ``into``
    (the push's own, or a copy of it): that file now holds them, another copy may not.
    ``unsaved`` as for ``Journal.finish``."""
    entry = {"type": "done", "at": _now(), "recovered": True, "into": str(Path(into).resolve())}
    if unsaved and Path(into).exists():  # a new, never saved book: no file to lack them
        entry["unsaved"] = True
    _append(run.path, json.dumps(entry) + "\n")
    sent_path(run.path).unlink(missing_ok=True)


def kept_days() -> float:
    """How long finished journals are kept: ``BPXL_JOURNAL_DAYS``, default 30. Raises
    ``UsageError`` for a value that is not a number of days."""
    return settings.number(
        KEEP_DAYS_ENV, DEFAULT_KEEP_DAYS, "days", zero=True, most=settings.MOST_DAYS
    )


def prune(folder: Path, keep_days: float | None = None) -> int:
    """Delete finished journals older than ``keep_days`` (``BPXL_JOURNAL_DAYS``, default 30).

    Unfinished journals are kept until they are recovered, whatever their age.
    """
    if keep_days is None:
        keep_days = kept_days()
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=keep_days)
    removed = 0
    for run in runs(folder):
        if run.finished and run.started < cutoff:
            run.path.unlink(missing_ok=True)
            sent_path(run.path).unlink(missing_ok=True)
            removed += 1
    return removed
