"""Creates whose outcome is not known yet: what was sent and when, kept until a lookup settles it.

A row ends ``Unknown`` when its create went out, no answer came back and a lookup could not tell
whether BillingPlatform saved it. Whatever happens to the row afterwards (an edit, a sort, a copy
of the workbook, a dry run, a push with another operation), the next create must look for the
invoice as it was sent, in the time window it was sent in, not for the row as it is now. So bpxl
keeps the record as sent and the server time its batch went out in its data folder, one small file
per create, under a short reference that the row's ``Message`` carries (``bpxl ref 3f9a2c1d``):
the reference travels with the row wherever it goes.

The interface is small on purpose (lookups in ``push`` and ``recover`` use it): ``keep`` a
``SentCreate`` and get the text for the Message, ``ref_in`` a Message, ``find`` the create behind
it, ``forget`` it once the row's outcome is known and written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .connection import data_dir

_REF = re.compile(r"\(bpxl ref ([0-9a-f]{12})\)")


@dataclass(frozen=True)
class SentCreate:
    """What identifies one create whose answer never came: the values as sent, and when."""

    ref: str
    record: Mapping[str, object]
    sent_at: dt.datetime  # the server's time just before the create's batch went out


def folder() -> Path:
    return data_dir() / "unsettled"


def _file(ref: str) -> Path:
    return folder() / f"{ref}.json"


def keep(record: Mapping[str, object], sent_at: dt.datetime) -> SentCreate:
    """Keep a create that may or may not have happened; its ``ref`` goes into the row's Message
    (see ``mention``)."""
    create = SentCreate(uuid.uuid4().hex[:12], dict(record), sent_at)
    folder().mkdir(exist_ok=True)  # in the data folder, which data_dir() made
    text = json.dumps({"record": create.record, "sent_at": sent_at.isoformat()}, default=str)
    # Written under the bare reference, then renamed: ``find`` and ``prune`` see it whole or not at
    # all. JSON's escapes keep it ASCII, the same bytes whatever the computer's encoding.
    partial = folder() / create.ref
    partial.write_bytes(text.encode())
    os.replace(partial, _file(create.ref))
    return create


def mention(create: SentCreate) -> str:
    """The text a row's Message carries so that the next push finds what was sent."""
    return f"(bpxl ref {create.ref})"


def ref_in(message: object) -> str | None:
    """The reference an Unknown row's Message carries, if it carries one."""
    found = _REF.search(message) if isinstance(message, str) else None
    return found.group(1) if found else None


def find(ref: str) -> SentCreate | None:
    """The create behind ``ref``; None when it is not (or no longer) kept on this computer."""
    try:
        entry = json.loads(_file(ref).read_bytes())  # UTF-8 too, as an earlier bpxl kept it
        return SentCreate(ref, entry["record"], dt.datetime.fromisoformat(entry["sent_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def prune(keep_days: float) -> None:
    """Drop creates kept longer than ``keep_days`` (their rows were cleared by hand, or deleted);
    a row still Unknown after that is looked up by its values, without the send time."""
    cutoff = time.time() - keep_days * 86_400
    for path in folder().glob("*.json"):  # none when there is no folder yet
        with contextlib.suppress(FileNotFoundError):  # settled meanwhile by another bpxl
            if path.stat().st_mtime < cutoff:
                path.unlink()


def forget(refs: Iterable[str]) -> None:
    """Drop creates whose rows now hold a definite outcome."""
    for ref in refs:
        _file(ref).unlink(missing_ok=True)
