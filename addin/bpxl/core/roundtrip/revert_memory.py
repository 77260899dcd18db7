"""What the last update of a workbook replaced on the server, kept so that it can be reverted.

Every update or upsert records, per row, the values the server had before (the remembered values
of a pulled row, or fetched just before sending) and the server's ``Updated`` stamp right after.
They are kept as JSON in bpxl's data folder, one file per workbook, holding the values as they
are sent (text, numbers), never a secret; the newest push replaces the file. A revert takes the
invoices it put back out of it, so a second revert does not send the change again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Replaced:
    """One field a send changed: its value before (as sent: text or a number), and the server's
    stamp right after."""

    invoice: str
    field: str
    before: object
    stamp_after: str


def _file(folder: Path, workbook: str) -> Path:
    key = hashlib.sha256(str(Path(workbook).resolve()).encode()).hexdigest()[:20]
    return folder / f"{key}.json"


def save(folder: Path, workbook: str, sheet: str, replaced: Sequence[Replaced]) -> None:
    """Keep what a push replaced (nothing replaced: the earlier record stays)."""
    if replaced:
        _write(folder, workbook, sheet, replaced, reverted=False)


def _write(
    folder: Path, workbook: str, sheet: str, replaced: Sequence[Replaced], reverted: bool
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    entry = {
        "workbook": str(Path(workbook).resolve()),
        "sheet": sheet,
        "replaced": [[r.invoice, r.field, r.before, r.stamp_after] for r in replaced],
        "reverted": reverted,
    }
    path = _file(folder, workbook)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(entry), encoding="utf-8")
    os.replace(temporary, path)


def forget(folder: Path, workbook: str, sheet: str, invoices: Iterable[str]) -> None:
    """A revert put these invoices back: they are left out of the next revert, which would
    otherwise send the reverted change again."""
    gone = set(invoices)
    if gone:
        kept = [r for r in load(folder, workbook) if r.invoice not in gone]
        _write(folder, workbook, sheet, kept, reverted=True)


def load(folder: Path, workbook: str) -> list[Replaced]:
    """What the last push replaced and no revert has put back yet."""
    entry = _entry(folder, workbook)
    return [Replaced(str(i), str(f), b, str(s)) for i, f, b, s in entry.get("replaced", [])]


def reverted(folder: Path, workbook: str) -> bool:
    """Whether a revert has put back (some of) what the last push replaced."""
    return bool(_entry(folder, workbook).get("reverted"))


def _entry(folder: Path, workbook: str) -> dict[str, Any]:
    path = _file(folder, workbook)
    if not path.exists():
        return {}
    found: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return found
