"""Whether a folder takes new files, and how much room its disk has: asked before a push sends
anything, for the journal's folder and the workbook's, so that an outcome is never lost to a
read-only folder or a full disk after the invoices were made."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path


def free_after_probe(folder: Path) -> int:
    """The bytes free on ``folder``'s disk, once a small file was written there, synced to disk
    and removed (made if missing). ``OSError`` when it cannot be: the caller says it in words."""
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / f".bpxl-probe-{uuid.uuid4().hex[:8]}"
    with probe.open("xb") as file:
        file.write(bytes(4))  # what it holds is never read: only that it is written and synced
        file.flush()
        os.fsync(file.fileno())
    probe.unlink()
    return shutil.disk_usage(folder).free
