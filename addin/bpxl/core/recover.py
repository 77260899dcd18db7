"""Recovery of a push that stopped mid-way: every row it touched gets a definite status.

The journal says which rows were planned, which were sent and what came back. Recovery maps that
onto the sheet as it is now (rows are found by their record's hash, so a sorted sheet still
works), settles creates that were in flight by looking on the server, and marks rows that were
never sent so that the next push sends them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import fields, unsettled
from .client import Client
from .errors import UsageError
from .fields import Catalogue
from .journal import Run, record_hash
from .push import Grid, sheet_ids
from .reconcile import Lost, Verdict, reconcile
from .records import Layout, RowPlan, is_blank_row, plan_row, read_layout
from .results import Operation, Outcome, RowResult, plural, summary

FOUND = "Created; bpxl stopped before saving the answer, and `bpxl recover` found it"
NOT_SAVED = "Not saved: bpxl stopped before BillingPlatform saved this row; sending again is safe"
NOT_SENT = "Not sent: bpxl stopped before sending this row; send it again"
EDITED = (
    "Edited since it was sent: the invoice has the values sent then; send your edits as an update"
)
EDITED_UNSENT = "Edited since it was sent; the result above is for the values sent then"
EDITED_IN_FLIGHT = (
    "Sent at {at}, then edited before bpxl saw the answer, so it cannot be looked up by "
    "its values; check in BillingPlatform for an invoice created then, and put its Id in the Id "
    "column and Created in Result, or clear Result to send the row again"
)


@dataclass
class Recovery:
    """What ``recover`` found: results for sheet rows, and journal rows it could not place."""

    layout: Layout
    results: list[RowResult]
    unplaced: list[int]
    made: dict[int, str] = field(default_factory=dict)  # unplaced row -> the Id it was given

    def summary(self, op: Operation) -> str:
        """The counts of the rows marked, then the rows not found again: only the parts that
        say something, so no empty count and no stray separator."""
        parts = [summary(self.results, op)] if self.results else []
        if self.unplaced:
            parts.append(
                f"{plural(len(self.unplaced), 'row')} "
                f"{'was' if len(self.unplaced) == 1 else 'were'} edited or deleted since sent: "
                f"{self.unplaced_text()}"
            )
        return "; ".join(parts) or "no row needed a status"

    def unplaced_text(self) -> str:
        """Which rows, as sent, could not be found again, and the Id each was given: without
        the Id in its row, the next create would send that invoice again."""
        shown = [
            f"row {row} ({'Id ' + self.made[row] if row in self.made else 'no answer kept'})"
            for row in self.unplaced[:10]
        ]
        more = len(self.unplaced) - len(shown)
        listed = ", ".join(shown) + (f" and {more:,} more" if more > 0 else "")
        advice = "check them in BillingPlatform"
        if self.made:
            advice = (
                "put each Id into the Id column of the row it belongs to, with Created in "
                "Result, so that it is not created again; " + advice
            )
        return f"{listed} (row numbers as sent); {advice}"


def needs_client(run: Run) -> bool:
    """Only creates whose answer was lost need a look on the server."""
    return run.op is Operation.CREATE and bool(run.in_flight)


def recover(
    run: Run, grid: Grid, client: Client | None, catalogue: Catalogue = fields.BUILT_IN
) -> Recovery:
    """Results for the sheet's rows from the journal of an unfinished push (whose rows were
    checked against ``catalogue``: the same fields give the same records to find)."""
    layout = read_layout(grid.header, catalogue)
    plans: dict[int, RowPlan] = {}
    for row, values in grid.rows:
        if not is_blank_row(layout, values):
            plans[row] = plan_row(layout, row, values, run.op, run.external_id, grid.date1904)
    place, unplaced, edited = _placement(run, plans)
    results: dict[int, RowResult] = {}
    lost: dict[int, RowPlan] = {}
    for old, row in place.items():
        plan = plans[row]
        if old in edited:
            results[row] = _edited(run, old, row)
        elif run.planned[old] is None:
            if not plan.valid:
                results[row] = RowResult(row, Outcome.INVALID, None, plan.errors + plan.warnings)
        elif old in run.results:
            known = run.results[old]
            results[row] = RowResult(row, known.outcome, known.id, known.messages)
        elif old in run.sent and run.op is Operation.CREATE:
            lost[old] = plan
        elif old in run.sent:
            results[row] = _result(row, Outcome.UNKNOWN, _resend_safe(run.op))
        else:
            results[row] = _result(row, Outcome.FAILED, NOT_SENT)
    if lost:
        if client is None:
            raise UsageError("Recovering creates that were in flight needs a connection.")
        claimed = sheet_ids(grid, layout) | {r.id for r in run.results.values() if r.id}
        findings = reconcile(
            client,
            {p.row: Lost(p.record, run.sent[old]) for old, p in lost.items()},
            claimed,
            catalogue,
        )
        for old, plan in lost.items():
            finding = findings[plan.row]
            if finding.verdict is Verdict.FOUND:
                results[plan.row] = RowResult(plan.row, Outcome.CREATED, finding.id, [FOUND])
            elif finding.verdict is Verdict.ABSENT:
                results[plan.row] = _result(plan.row, Outcome.FAILED, NOT_SAVED)
            else:  # what was sent is kept, so that the next push looks for it first
                create = unsettled.keep(plan.record, run.sent[old])
                message = f"{finding.message} {unsettled.mention(create)}"
                results[plan.row] = _result(plan.row, Outcome.UNKNOWN, message)
    made = {
        row: result.id
        for row in unplaced
        if (result := run.results.get(row)) is not None and result.id is not None
    }
    return Recovery(layout, [results[r] for r in sorted(results)], unplaced, made)


def _placement(run: Run, plans: dict[int, RowPlan]) -> tuple[dict[int, int], list[int], set[int]]:
    """Journal row -> sheet row: the same row if its record is unchanged, else the row that now
    holds that record (after a sort), else (edited since it was sent) the row of the same number
    if no other sent record is there. Journal rows placed nowhere (deleted, or edited and
    moved) are unplaced; the third part names the journal rows placed as edited."""
    digests = {row: record_hash(p.record) if p.valid else None for row, p in plans.items()}
    place: dict[int, int] = {}
    taken: set[int] = set()
    for old, digest in run.planned.items():
        # An invalid row stays where it was only if that row is still invalid: a sent row may
        # have moved there (the user inserted a row above it).
        if old in digests and digests[old] == digest:
            place[old] = old
            taken.add(old)
    by_digest: dict[str, list[int]] = {}
    for row, digest in digests.items():
        if digest is not None and row not in taken:
            by_digest.setdefault(digest, []).append(row)
    missing = []
    for old, digest in run.planned.items():
        if old in place:
            continue
        free = by_digest.get(digest or "", [])
        if digest is not None and free:
            place[old] = free.pop(0)
            taken.add(place[old])
        elif digest is not None and (old in run.sent or old in run.results):
            missing.append(old)  # sent, then edited, moved or deleted
    sent_digests = set(run.planned.values())
    unplaced: list[int] = []
    edited: set[int] = set()
    for old in missing:
        here = digests.get(old, "")
        if old in plans and old not in taken and here not in sent_digests:
            place[old] = old  # edited where it stood: the row keeps what its send did
            taken.add(old)
            edited.add(old)
        else:
            unplaced.append(old)
    return place, unplaced, edited


def _edited(run: Run, old: int, row: int) -> RowResult:
    """A row edited after it was sent: what the send did stays on it (a create is never sent
    again), with a word on the edits."""
    if old in run.results:
        known = run.results[old]
        note = EDITED if known.outcome is not None and known.outcome.ok else EDITED_UNSENT
        return RowResult(row, known.outcome, known.id, [*known.messages, note])
    if run.op is not Operation.CREATE:
        return _result(row, Outcome.UNKNOWN, _resend_safe(run.op))
    at = run.sent[old].astimezone().strftime("%Y-%m-%d %H:%M")
    return _result(row, Outcome.UNKNOWN, EDITED_IN_FLIGHT.format(at=at))


def _result(row: int, outcome: Outcome, message: str) -> RowResult:
    return RowResult(row, outcome, None, [message])


def _resend_safe(op: Operation) -> str:
    return f"Sent, but bpxl stopped before the answer came; sending the {op.value} again is safe"
