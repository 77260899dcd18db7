"""Recovery of a push that stopped mid-way: every row it touched gets a definite status.

The journal says which rows were planned, which were sent and what came back. Recovery maps that
onto the sheet as it is now (rows are found by their record's hash, so a sorted sheet still
works), settles creates that were in flight by looking on the server, and marks rows that were
never sent so that the next push sends them.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import create_key, fields, journal, run_log, unsettled
from .client import Client
from .connection import ledger_for
from .errors import UsageError
from .fields import Catalogue
from .journal import Run, record_hash
from .push import Grid
from .reconcile import Finding, Lost, Verdict, reconcile
from .records import Layout, RowPlan, is_blank_row, plan_row, read_layout
from .results import Operation, Outcome, RowResult, plural, summary
from .roundtrip.edits import row_id

# How much of a sent record a sheet row must still hold to be taken for it, edited since: an
# edit of one or two fields is recognised, a different invoice to the same customer is not.
_ALIKE = 0.6
# Rows holding a value that more edited rows than this hold too are not looked for through it
# (a status, a customer; a date when every row was edited): it singles out no row, and scoring
# them all would take hours on a large sheet.
_CROWD = 100

FOUND = "Created; bpxl stopped before saving the answer, and `bpxl recover` found it"
NOT_SAVED = "Not saved: bpxl stopped before BillingPlatform saved this row; sending again is safe"
NOT_SENT = "Not sent: bpxl stopped before sending this row; send it again"
EDITED = (
    "Edited since it was sent: the invoice has the values sent then; send your edits as an update"
)
EDITED_UNSENT = "Edited since it was sent; the result above is for the values sent then"


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


def save_log(run: Run, workbook: Path, recovery: Recovery, grid: Grid) -> None:
    """Keep the recovery as the newest run log (see ``run_log``): what each row was marked."""
    target = run.target.profile or run.target.url or "the embedded SANDBOX"
    run_log.save(
        run_log.RunLog(
            command=f"recover {run.op.value}",
            workbook=str(Path(workbook).resolve()),
            sheet=run.sheet,
            target=target,
            summary=recovery.summary(run.op),
            started=run_log.now(),
            rows=run_log.logged_rows(recovery.results, recovery.layout, dict(grid.rows)),
        )
    )


def remember_created(run: Run, workbook: Path, recovery: Recovery, grid: Grid) -> None:
    """Record in the tenant's ledger the creates a recovery settled (found on the server, or
    answered before the push stopped), by the create keys of the rows they went into: a copy
    of the workbook pushed later is then recognised as for a push that finished."""
    created = [r for r in recovery.results if r.outcome is Outcome.CREATED]
    if run.op is not Operation.CREATE or not created:
        return
    keys = create_key.keys(recovery.layout, grid.every_row, None, grid.date1904)
    with ledger_for(run.target) as ledger:
        ledger.book(workbook, run.sheet).record(
            {r.row: (keys[r.row], r.id) for r in created if r.id and r.row in keys}
        )


def needs_client(run: Run) -> bool:
    """Only creates whose answer was lost, or was Unknown, need a look on the server."""
    return any(_unanswered_create(run, row) for row in run.sent)


def recover(
    run: Run, grid: Grid, client: Client | None, catalogue: Catalogue = fields.BUILT_IN
) -> Recovery:
    """Results for the sheet's rows from the journal of an unfinished push (whose rows were
    checked against ``catalogue``: the same fields give the same records to find)."""
    layout = read_layout(grid.header, catalogue)
    plans: dict[int, RowPlan] = {}
    with_id: dict[int, str] = {}  # sheet row -> the Id it shows
    for row, values in grid.rows:
        if not is_blank_row(layout, values):
            plans[row] = plan_row(layout, row, values, run.op, run.external_id, grid.date1904)
            if (shown := row_id(layout, values)) is not None:
                with_id[row] = shown
    place, unplaced, edited = _placement(run, plans, with_id)
    new_only = run.op is Operation.CREATE  # an update's rows show their Ids before it too
    results: dict[int, RowResult] = {}
    asked: dict[int, Mapping[str, object]] = {}  # creates to look up: journal row -> as sent
    for old, row in place.items():
        plan = plans[row]
        known = run.results.get(old)
        if new_only and known is not None and known.id and with_id.get(row) == known.id:
            continue  # it shows the Id its create got: a recovery stopped after writing it
        if _unanswered_create(run, old) and (old not in edited or old in run.sent_records):
            asked[old] = run.sent_records.get(old, plan.record)  # edited since or not
        elif old in edited:
            results[row] = _edited(run, old, row)
        elif run.planned[old] is None:
            if not plan.valid:
                results[row] = RowResult(row, Outcome.INVALID, None, plan.errors + plan.warnings)
        elif known is not None:
            results[row] = RowResult(row, known.outcome, known.id, known.messages)
        elif old in run.sent:
            results[row] = _result(row, Outcome.UNKNOWN, _resend_safe(run.op))
        else:
            results[row] = _result(row, Outcome.FAILED, NOT_SENT)
    # A create in flight whose row is gone is looked up too: its Id, if it was made, is named.
    gone = [old for old in unplaced if _unanswered_create(run, old) and old in run.sent_records]
    asked |= {old: run.sent_records[old] for old in gone}
    findings = _look_up(run, set(with_id.values()), client, catalogue, asked) if asked else {}
    found = [
        RowResult(old, Outcome.CREATED, f.id, [FOUND])
        for old, f in findings.items()
        if f.verdict is Verdict.FOUND
    ]
    journal.remember_found(run, found)  # before any workbook is written: a rerun knows them
    for old, finding in findings.items():
        if old in place:
            row = place[old]
            results[row] = _settled(run, old, plans[row], asked[old], finding)
    made = {
        old: result.id
        for old in unplaced
        if (result := run.results.get(old)) is not None and result.id is not None
    }
    return Recovery(layout, [results[r] for r in sorted(results)], unplaced, made)


def _unanswered_create(run: Run, old: int) -> bool:
    """A create that went out and got no answer, or only an Unknown one (the push stopped before
    it could look it up): the server must say whether it was saved."""
    if run.op is not Operation.CREATE or old not in run.sent:
        return False
    known = run.results.get(old)
    return known is None or known.outcome is Outcome.UNKNOWN


def _look_up(
    run: Run,
    in_sheet: set[str],
    client: Client | None,
    catalogue: Catalogue,
    asked: Mapping[int, Mapping[str, object]],
) -> dict[int, Finding]:
    """Look on the server for creates that were in flight (journal row -> the record sent); the
    Ids ``in_sheet`` and those the push was given belong to rows already."""
    if client is None:
        raise UsageError("Recovering creates that were in flight needs a connection.")
    claimed = in_sheet | {r.id for r in run.results.values() if r.id}
    lost = {old: Lost(record, run.sent[old]) for old, record in asked.items()}
    return reconcile(client, lost, claimed, catalogue)


def _settled(
    run: Run, old: int, plan: RowPlan, sent: Mapping[str, object], finding: Finding
) -> RowResult:
    """A sheet row's result from the lookup of the create it sent."""
    if finding.verdict is Verdict.FOUND:
        edited = [EDITED] if sent != plan.record else []
        return RowResult(plan.row, Outcome.CREATED, finding.id, [FOUND, *edited])
    if finding.verdict is Verdict.ABSENT:
        return _result(plan.row, Outcome.FAILED, NOT_SAVED)
    # Cannot tell: what was sent is kept, so that the next push looks for it first (under the
    # reference an earlier answer gave, while this computer keeps it).
    known = run.results.get(old)
    refs = [ref for m in (known.messages if known else []) if (ref := unsettled.ref_in(m))]
    kept = [create for ref in refs if (create := unsettled.find(ref))]
    create = kept[0] if kept else unsettled.keep(sent, run.sent[old])
    return _result(plan.row, Outcome.UNKNOWN, f"{finding.message} {unsettled.mention(create)}")


def _placement(
    run: Run, plans: dict[int, RowPlan], with_id: Mapping[int, str]
) -> tuple[dict[int, int], list[int], set[int]]:
    """Journal row -> sheet row: the same row if its record is unchanged, else the row that now
    holds that record (after a sort), else, for a row edited since it was sent, the row that
    shows the Id its send got (a recovery stopped after writing it), else the row that still
    resembles the values it was sent with (``_resembling``; they are kept while the push
    is unfinished). Journal rows placed nowhere (deleted, edited beyond recognition, or sent by
    a push whose values are no longer kept) are unplaced; the third part names the journal
    rows placed as edited. Nothing is placed by its row number alone: a row inserted where a
    deleted one was would take its Id."""
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
        if digest is not None and (free := by_digest.get(digest)):
            place[old] = free.pop(0)
            taken.add(place[old])
        elif digest is not None and (old in run.sent or old in run.results):
            missing.append(old)  # sent, then edited, moved or deleted
    shown = {ident: row for row, ident in with_id.items() if row not in taken}
    for old in missing:
        given = run.results.get(old)
        holder = shown.get(given.id) if given is not None and given.id else None
        if holder is not None and holder not in taken:
            place[old] = holder
            taken.add(holder)
    sent_digests = set(run.planned.values())
    # A row showing an Id is another invoice, not a create in flight; an update or upsert sends
    # rows with their Ids, and an edited one is found by its Id among the values it still holds.
    new_only = run.op is Operation.CREATE
    candidates = {
        row: plan.record
        for row, plan in plans.items()
        if row not in taken
        and not (new_only and row in with_id)
        and digests[row] not in sent_digests
    }
    known = {o: run.sent_records[o] for o in missing if o in run.sent_records and o not in place}
    sheet = [plan.record for plan in plans.values()]
    place.update(_resembling(known, candidates, sheet))
    unplaced = [old for old in missing if old not in place]
    edited = {old for old in missing if old in place}
    return place, unplaced, edited


def _resembling(
    sent: Mapping[int, Mapping[str, object]],
    candidates: Mapping[int, Mapping[str, object]],
    sheet: Iterable[Mapping[str, object]],
) -> dict[int, int]:
    """Journal row -> sheet row, for sent records edited since: the candidate row that shares
    the most of the sent values, if it shares at least ``_ALIKE`` of them. Fields that hold one
    value in every row of the ``sheet`` (and in every record sent) tell rows apart no better than
    chance, so they do not count. Best pairs first; among equals, the nearest row (the one of
    the same number first). A sent record is placed on no row, and named to the user, when two rows
    holding different values resemble it equally best, or when another row still holds a value
    only it was sent with (a row copied from it before it was edited resembles it more): which
    row it is would be a guess.

    Rows are scored from those sharing the sent record's rarest value (a file name, an amount)
    on, no further than a row sharing none of the values looked at so far could beat the best
    found, and never through a value held by more than ``_CROWD`` edited rows: thousands of
    edited rows are matched in a moment, not in hours, and a value edited in every row (a file
    name replaced throughout) still leaves each row found by its dates and amounts together."""
    if not sent or not candidates:
        return {}
    keyed = {row: _keys(record) for row, record in candidates.items()}
    in_sheet: Counter[tuple[str, str]] = Counter()
    for record in sheet:
        in_sheet.update(_keys(record).items())
    in_sent: Counter[tuple[str, str]] = Counter()
    for record in sent.values():
        in_sent.update(_keys(record).items())
    values: dict[str, set[str]] = defaultdict(set)
    for name, key in [*in_sheet, *in_sent]:
        values[name].add(key)
    telling = {name for name, seen in values.items() if len(seen) > 1}
    holding: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row, now in keyed.items():
        for name, key in now.items():
            if name in telling:
                holding[name, key].append(row)
    pairs: list[tuple[float, int, int, int]] = []
    for old, record in sent.items():
        was = _keys(record)
        shared = [holding.get((name, was[name]), []) for name in telling & was.keys()]
        scored: set[int] = set()
        best = 0.0
        alike: list[tuple[float, int]] = []
        for looked, rows in enumerate(sorted(shared, key=len)):
            # A row holding none of the values looked at so far scores at most this much: once
            # that cannot reach _ALIKE, or beat the best found, no row left can be the one.
            ceiling = (len(shared) - looked) / len(shared)
            if ceiling < _ALIKE or (best and ceiling <= best) or len(rows) > _CROWD:
                break
            for row in set(rows) - scored:
                scored.add(row)
                now = keyed[row]
                used = telling & (was.keys() | now.keys())
                score = sum(was.get(n) == now.get(n) for n in used) / len(used)
                if score >= _ALIKE:
                    best = max(best, score)
                    alike.append((score, row))
        top = {row for score, row in alike if score == best}
        if len({frozenset(keyed[row].items()) for row in top}) > 1:
            continue  # rows that differ, each as alike as the other: which one it is is a guess
        # A value no other record was sent with, still in one row only (its file name): a row
        # resembling the record more without it (a copy of it, edited) may not take its Id.
        own = {
            row
            for name in telling & was.keys()
            if in_sent[name, was[name]] == 1 and in_sheet[name, was[name]] == 1
            for row in holding.get((name, was[name]), [])
        }
        if own - top:
            continue
        pairs.extend((-score, abs(row - old), old, row) for score, row in alike)
    found: dict[int, int] = {}
    taken: set[int] = set()
    for *_, old, row in sorted(pairs):
        if old not in found and row not in taken:
            found[old] = row
            taken.add(row)
    return found


def _keys(record: Mapping[str, object]) -> dict[str, str]:
    """A record's values as text, each the same for the same value (as in ``record_hash``)."""
    return {name: json.dumps(value) for name, value in record.items()}  # converted: JSON's types


def _edited(run: Run, old: int, row: int) -> RowResult:
    """A row edited after it was sent: what the send did stays on it (a create is never sent
    again), with a word on the edits."""
    known = run.results.get(old)
    if known is None:  # an update or upsert with no answer (a create's is looked up)
        return _result(row, Outcome.UNKNOWN, _resend_safe(run.op))
    note = EDITED if known.outcome is not None and known.outcome.ok else EDITED_UNSENT
    return RowResult(row, known.outcome, known.id, [*known.messages, note])


def _result(row: int, outcome: Outcome, message: str) -> RowResult:
    return RowResult(row, outcome, None, [message])


def _resend_safe(op: Operation) -> str:
    return f"Sent, but bpxl stopped before the answer came; sending the {op.value} again is safe"
