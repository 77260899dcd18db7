"""The batch engine: a grid of rows in, one result per row out.

Validation first (bad rows are never sent; the good ones still go), then the valid records in
batches of ``batch_size``, ``concurrency`` batches in flight at once, each answer mapped back to its
rows. Front ends (the command line, the Excel add-in) only move grids in and results out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from . import fields
from .client import MAX_CONCURRENCY, Client
from .errors import UsageError
from .fields import Catalogue
from .journal import Journal, record_hash
from .reconcile import Verdict, reconcile
from .records import Layout, RowPlan, check_layout, plan_rows, read_layout
from .results import Operation, Outcome, RecordResult, RowResult, summary

DEFAULT_BATCH_SIZE = 200
DEFAULT_CONCURRENCY = 4  # BillingPlatform asks for 4 to 8 concurrent requests at most

RESEND_ROUNDS = 3  # creates proven absent are sent again at most this many times
_FOUND_EARLIER = (
    "Row: an earlier send created this invoice (found in BillingPlatform); not sent again"
)
_FOUND_AFTER_LOSS = "Row: created; its answer was lost, so bpxl found it in BillingPlatform"
_NOT_SAVED = RecordResult(
    Outcome.FAILED,
    None,
    (
        f"Row: not saved: no answer came {RESEND_ROUNDS + 1} times and BillingPlatform does not "
        "have it; sending again is safe",
    ),
)

Progress = Callable[[int, int], None]
"""Called as rows finish: (rows just finished, total rows to process)."""


@dataclass(frozen=True)
class Grid:
    """Cell values as a front end read them: the header row, then (sheet row number, values)."""

    header: Sequence[object]
    rows: Sequence[tuple[int, Sequence[object]]]


@dataclass(frozen=True)
class PushOptions:
    op: Operation
    external_id: str = fields.ID
    batch_size: int = DEFAULT_BATCH_SIZE
    concurrency: int = DEFAULT_CONCURRENCY
    dry_run: bool = False
    catalogue: Catalogue = fields.BUILT_IN  # the tenant's fields, or the built-in ones

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise UsageError("--batch-size must be at least 1.")
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise UsageError(
                f"--concurrency must be from 1 to {MAX_CONCURRENCY}.",
                "BillingPlatform allows 4 to 8 requests at once; 1 sends one batch at a time.",
            )
        canonical = self.catalogue.lookup(self.external_id)
        if canonical is not None and canonical.name != self.external_id:
            object.__setattr__(self, "external_id", canonical.name)


@dataclass
class PushReport:
    """What a push did: a result for every processed row, and the rows it skipped."""

    options: PushOptions
    layout: Layout
    results: list[RowResult]
    skipped: list[int] = field(default_factory=list)

    @property
    def all_ok(self) -> bool:
        """True when every processed row succeeded (or, in a dry run, is valid)."""
        if self.options.dry_run:
            return all(r.outcome is not Outcome.INVALID for r in self.results)
        return all(r.outcome is not None and r.outcome.ok for r in self.results)

    def summary(self) -> str:
        if self.options.dry_run:
            bad = sum(r.outcome is Outcome.INVALID for r in self.results)
            return (
                f"{len(self.results):,} rows: {len(self.results) - bad:,} ready to "
                f"{self.options.op.value}, {bad:,} invalid (dry run: nothing was sent)"
            )
        return summary(self.results, self.options.op, len(self.skipped))


def plan(grid: Grid, options: PushOptions) -> tuple[Layout, list[RowPlan], list[int]]:
    """Validate every row of the grid; raise ``UsageError`` for a sheet that cannot work."""
    layout = read_layout(grid.header, options.catalogue)
    check_layout(layout, options.op, options.external_id)
    plans, skipped = plan_rows(layout, grid.rows, options.op, options.external_id)
    if options.op is not Operation.CREATE:
        _refuse_repeated_keys(
            plans, fields.ID if options.op is Operation.UPDATE else options.external_id
        )
    return layout, plans, skipped


def _refuse_repeated_keys(plans: list[RowPlan], key: str) -> None:
    """Two rows for one invoice in one push would race each other: send only the first."""
    first_row: dict[object, int] = {}
    for row in plans:
        value = row.record.get(key)
        if not row.valid or value is None:
            continue
        if value in first_row:
            row.errors.append(
                f"{key}: {value} is also on row {first_row[value]}; send one row per invoice"
            )
        else:
            first_row[value] = row.row


def push(
    grid: Grid,
    client: Client | None,
    options: PushOptions,
    progress: Progress | None = None,
    journal: Journal | None = None,
    confirm: Callable[[int], bool] | None = None,
) -> PushReport:
    """Validate, send and map back. ``client`` may be None only for a dry run.

    With a ``journal``, every step is written down before it happens, for ``bpxl recover``.
    ``confirm`` is asked with the number of rows about to be sent; if it says no, nothing is.
    """
    layout, plans, skipped = plan(grid, options)
    results: dict[int, RowResult] = {}
    valid: list[RowPlan] = []
    for row in plans:
        if row.valid:
            valid.append(row)
        else:
            results[row.row] = RowResult(row.row, Outcome.INVALID, None, row.errors + row.warnings)
    total = len(plans)
    if progress:
        progress(len(results), total)
    if options.dry_run:
        for row in valid:
            results[row.row] = RowResult(row.row, None, None, row.warnings)
    else:
        if client is None:
            raise UsageError("Nothing to send to: no connection was given.")
        if valid and confirm is not None and not confirm(len(valid)):
            raise UsageError("Nothing was sent: the push was not confirmed.")
        if journal:
            journal.planned({p.row: record_hash(p.record) if p.valid else None for p in plans})
            journal.answered(results.values())
        if valid:
            client.login()  # a refused login stops the run before anything is sent
        report = (lambda n: progress(n, total)) if progress else None
        outcomes = _Sender(client, options, journal, report).run(valid, sheet_ids(grid, layout))
        for row in valid:
            record = outcomes[row.row]
            results[row.row] = RowResult(
                row.row, record.outcome, record.id, [*record.messages, *row.warnings]
            )
    ordered = [results[p.row] for p in plans]
    return PushReport(options, layout, ordered, skipped)


def sheet_ids(grid: Grid, layout: Layout) -> set[str]:
    """The Ids the sheet already holds: invoices that belong to rows, not to be claimed again."""
    column = layout.column(fields.ID)
    if column is None:
        return set()
    index = column.index
    return {
        str(values[index]).strip()
        for _, values in grid.rows
        if index < len(values) and values[index] not in (None, "")
    }


class _Sender:
    """Sends valid rows in parallel batches and settles every create whose answer was lost."""

    def __init__(
        self,
        client: Client,
        options: PushOptions,
        journal: Journal | None,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.client = client
        self.options = options
        self.journal = journal
        self.progress = progress
        self.outcomes: dict[int, RecordResult] = {}

    def run(self, rows: list[RowPlan], claimed: set[str]) -> dict[int, RecordResult]:
        """One result per row; a create is sent again only when the server proves it absent."""
        rechecks = [r for r in rows if r.recheck]
        to_send = [r for r in rows if not r.recheck]
        if rechecks:
            to_send += self._settle(rechecks, self._earlier_send(rechecks), claimed, _FOUND_EARLIER)
        since = self.client.server_now()
        self._send(to_send, report=True)
        creates = self.options.op is Operation.CREATE
        for attempt in range(1, RESEND_ROUNDS + 2):
            lost = [r for r in to_send if self.outcomes[r.row].outcome is Outcome.UNKNOWN]
            if not lost:
                break
            if creates:  # resend only what the server proves absent
                taken = claimed | {o.id for o in self.outcomes.values() if o.id}
                lost = self._settle(lost, since, taken, _FOUND_AFTER_LOSS)
            if attempt > RESEND_ROUNDS:
                if creates:
                    self._record(lost, _NOT_SAVED)
                break
            since = self.client.server_now()
            self._send(lost, report=False)  # an update or keyed upsert is safe to repeat
            to_send = lost
        return self.outcomes

    def _earlier_send(self, rows: list[RowPlan]) -> dt.datetime | None:
        """When the earliest of ``rows`` was first sent, if the journals know for all of them."""
        if self.journal is None:
            return None
        sent = self.journal.earlier_sends({r.row: record_hash(r.record) for r in rows})
        return min(sent.values()) if len(sent) == len(rows) else None

    def _settle(
        self, rows: list[RowPlan], since: dt.datetime | None, claimed: set[str], found: str
    ) -> list[RowPlan]:
        """Look up creates that may have happened; record what is known, return the absent."""
        findings = reconcile(self.client, {r.row: r.record for r in rows}, since, claimed)
        absent: list[RowPlan] = []
        settled: dict[int, RecordResult] = {}
        for row in rows:
            finding = findings[row.row]
            if finding.verdict is Verdict.ABSENT:
                absent.append(row)
            elif finding.verdict is Verdict.FOUND:
                settled[row.row] = RecordResult(Outcome.CREATED, finding.id, (found,))
            else:
                settled[row.row] = RecordResult(Outcome.UNKNOWN, None, (finding.message,))
        self._record_all(settled)
        return absent

    def _record(self, rows: list[RowPlan], result: RecordResult) -> None:
        self._record_all({r.row: result for r in rows})

    def _record_all(self, settled: dict[int, RecordResult]) -> None:
        self.outcomes.update(settled)
        if self.journal:
            self.journal.answered(_row_results(settled))

    def _send(self, rows: list[RowPlan], report: bool) -> None:
        size = self.options.batch_size
        batches = [rows[i : i + size] for i in range(0, len(rows), size)]
        with ThreadPoolExecutor(
            max_workers=self.options.concurrency, thread_name_prefix="bpxl-send"
        ) as pool:
            for future in as_completed([pool.submit(self._send_batch, b) for b in batches]):
                finished = future.result()
                self._record_all(finished)
                if report and self.progress:
                    self.progress(len(finished))

    def _send_batch(self, batch: list[RowPlan]) -> dict[int, RecordResult]:
        if self.journal:
            self.journal.sending([r.row for r in batch], self.client.server_now())
        answers = self.client.write(
            self.options.op, [r.record for r in batch], self.options.external_id
        )
        return {row.row: answer for row, answer in zip(batch, answers, strict=True)}


def _row_results(outcomes: dict[int, RecordResult]) -> list[RowResult]:
    return [RowResult(row, r.outcome, r.id, list(r.messages)) for row, r in outcomes.items()]
