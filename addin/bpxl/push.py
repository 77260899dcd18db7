"""The batch engine: a grid of rows in, one result per row out.

Validation first (bad rows are never sent; the good ones still go), then the valid records in
batches of ``batch_size``, ``concurrency`` batches in flight at once, each answer mapped back to its
rows. Front ends (the command line, the Excel add-in) only move grids in and results out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from . import fields
from .client import MAX_CONCURRENCY, Client
from .errors import UsageError
from .records import Layout, RowPlan, check_layout, plan_rows, read_layout
from .results import Operation, Outcome, RecordResult, RowResult, summary

DEFAULT_BATCH_SIZE = 200
DEFAULT_CONCURRENCY = 4  # BillingPlatform asks for 4 to 8 concurrent requests at most

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

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise UsageError("--batch-size must be at least 1.")
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise UsageError(
                f"--concurrency must be from 1 to {MAX_CONCURRENCY}.",
                "BillingPlatform allows 4 to 8 requests at once; 1 sends one batch at a time.",
            )
        canonical = fields.lookup(self.external_id)
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
    layout = read_layout(grid.header)
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
    grid: Grid, client: Client | None, options: PushOptions, progress: Progress | None = None
) -> PushReport:
    """Validate, send and map back. ``client`` may be None only for a dry run."""
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
        if valid:
            client.login()  # a refused login stops the run before anything is sent
        report = (lambda n: progress(n, total)) if progress else None
        for row, record in _send_all(client, valid, options, report):
            results[row.row] = RowResult(
                row.row, record.outcome, record.id, [*record.messages, *row.warnings]
            )
    ordered = [results[p.row] for p in plans]
    return PushReport(options, layout, ordered, skipped)


def _send_all(
    client: Client,
    rows: list[RowPlan],
    options: PushOptions,
    progress: Callable[[int], None] | None,
) -> list[tuple[RowPlan, RecordResult]]:
    batches = [rows[i : i + options.batch_size] for i in range(0, len(rows), options.batch_size)]
    done: list[tuple[RowPlan, RecordResult]] = []

    def send(batch: list[RowPlan]) -> list[tuple[RowPlan, RecordResult]]:
        answers = client.write(options.op, [r.record for r in batch], options.external_id)
        return list(zip(batch, answers, strict=True))

    with ThreadPoolExecutor(
        max_workers=options.concurrency, thread_name_prefix="bpxl-send"
    ) as pool:
        for future in as_completed([pool.submit(send, b) for b in batches]):
            finished = future.result()
            done.extend(finished)
            if progress:
                progress(len(finished))
    return done
