"""What the last update of a workbook replaced on the server, kept so that it can be reverted.

Every update or upsert records, per row, the values the server had before (the remembered values
of a pulled row, or fetched just before sending) and the server's ``Updated`` stamp right after.
They are kept as JSON in bpxl's data folder, one file per workbook, holding the values as they
are sent (text, numbers), never a secret; the newest push replaces the file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

from .roundtrip import Replaced


def _file(folder: Path, workbook: str) -> Path:
    key = hashlib.sha256(str(Path(workbook).resolve()).encode()).hexdigest()[:20]
    return folder / f"{key}.json"


def save(folder: Path, workbook: str, sheet: str, replaced: Sequence[Replaced]) -> None:
    """Keep what a push replaced (nothing replaced: the earlier record stays)."""
    if not replaced:
        return
    folder.mkdir(parents=True, exist_ok=True)
    entry = {
        "workbook": str(Path(workbook).resolve()),
        "sheet": sheet,
        "replaced": [[r.invoice, r.field, r.before, r.stamp_after] for r in replaced],
    }
    path = _file(folder, workbook)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(entry), encoding="utf-8")
    os.replace(temporary, path)


def load(folder: Path, workbook: str) -> list[Replaced]:
    path = _file(folder, workbook)
    if not path.exists():
        return []
    entry = json.loads(path.read_text(encoding="utf-8"))
    return [Replaced(str(i), str(f), b, str(s)) for i, f, b, s in entry["replaced"]]
