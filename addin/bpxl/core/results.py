"""Per-row results: what happened to each row, as data that every front end writes back.

The status words are a contract with users and scripts (they filter on them in Excel): keep them
exactly as they are.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from .inert import MAX_CELL_TEXT, clean

MESSAGE_PART = 900  # the most of one note in a Message cell (34 columns of notes still fit)
MESSAGE_SEPARATOR = " | "  # notes themselves may hold "; ", so they are joined with a bar


class Operation(enum.Enum):
    """The three writes, named as on the command line (``--op``)."""

    CREATE = "create"
    UPDATE = "update"
    UPSERT = "upsert"


class Outcome(enum.Enum):
    """A row's ``Result`` cell."""

    CREATED = "Created"
    UPDATED = "Updated"
    UPSERTED = "Upserted"
    INVALID = "Invalid"  # not sent: the row failed validation
    FAILED = "Failed"  # the server refused it, or it was never delivered
    UNKNOWN = "Unknown"  # sent, but no answer: check before resending
    CONFLICT = "Conflict"  # changed on the server since the pull: not sent
    CHANGED = "Changed"  # edited since the pull (a dry run of --changed): not sent yet
    EXISTS = "Exists"  # not sent: this invoice already exists (--create-anyway creates it)

    @property
    def ok(self) -> bool:
        return self in SUCCESS.values()


SUCCESS: dict[Operation, Outcome] = {
    Operation.CREATE: Outcome.CREATED,
    Operation.UPDATE: Outcome.UPDATED,
    Operation.UPSERT: Outcome.UPSERTED,
}


@dataclass(frozen=True)
class RecordResult:
    """The server's word on one record of a batch (or the lack of it)."""

    outcome: Outcome
    id: str | None = None
    messages: tuple[str, ...] = ()
    # The server refused or failed on the request as a whole (a 400, or a 500 that is not an
    # outage), most likely for one bad record in it: the batch is sent again in halves to find it.
    split: bool = False
    # An upsert's item says whether it made the record (True) or found it (False); None: unsaid.
    created: bool | None = field(default=None, compare=False)


@dataclass
class RowResult:
    """One sheet row's result: its ``Result``, ``Message`` and, after a create, its new ``Id``.

    ``outcome`` is None for a valid row of a dry run: checked, not sent.
    """

    row: int
    outcome: Outcome | None
    id: str | None = None
    messages: list[str] = field(default_factory=list)

    @property
    def names_invoice(self) -> bool:
        """Whether its Id goes into the Id cell even over one there: a row created, or found to
        exist, after an earlier push found it existing (the Id bpxl wrote then is replaced)."""
        return self.id is not None and self.outcome in (Outcome.CREATED, Outcome.EXISTS)

    @property
    def message(self) -> str:
        """The ``Message`` cell: every error and warning, each starting with its column name."""
        text = MESSAGE_SEPARATOR.join(map(_fit, self.messages))
        # Excel refuses a cell longer than this (it calls the file damaged), so it is cut short;
        # a server's words may hold what no cell can (``inert.clean``).
        return clean(text if len(text) <= MAX_CELL_TEXT else text[: MAX_CELL_TEXT - 1] + "…")


def _fit(message: str) -> str:
    """A long note (a server's page of text) cut in its middle: its start says what happened and
    its end holds what bpxl adds, such as the ref that the next push looks an Unknown row up by."""
    if len(message) <= MESSAGE_PART:
        return message
    return message[: MESSAGE_PART - 200] + "…" + message[-199:]


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 invoice``, ``2 invoices``: counts as a user reads them."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"


ORDER = (Outcome.CREATED, Outcome.UPDATED, Outcome.UPSERTED, Outcome.INVALID, Outcome.FAILED)
"""Counts always in this order, in every summary: what succeeded, then what did not."""


def summary(results: Iterable[RowResult], op: Operation, skipped: int = 0) -> str:
    """The one-line summary, e.g. ``1,001 rows: 990 created, 11 invalid, 0 failed``: the
    operation's own count, invalid and failed always; created, updated, upserted, invalid,
    failed, unknown and the rest in that order."""
    results = list(results)
    counts = Counter(r.outcome for r in results)
    done = SUCCESS[op]
    always = {done, Outcome.INVALID, Outcome.FAILED}
    order = [*ORDER, *(o for o in Outcome if o not in ORDER)]
    parts = [f"{counts[o]:,} {o.value.lower()}" for o in order if o in always or counts[o]]
    line = f"{plural(len(results), 'row')}: {', '.join(parts)}"
    if skipped:
        line += (
            f" ({skipped:,} skipped: already Created; to create one again, clear its Id and "
            "Result and push with --create-anyway)"
        )
    return line
