"""The batch engine: a grid of rows in, one result per row out.

Validation first (bad rows are never sent; the good ones still go), then the valid records in
batches of ``batch_size``, ``concurrency`` batches in flight at once, each answer mapped back to its
rows. Front ends (the command line, the Excel add-in) only move grids in and results out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from . import answers, create_key, duplicates, fields, key_field, unsettled
from .cells import is_blank
from .client import MAX_CONCURRENCY, Client
from .errors import BpxlError, UsageError
from .fields import Catalogue
from .journal import Journal, record_hash
from .ledger import Book, Entry
from .reconcile import Lost, Verdict, allowed_slack, learn_skew, lookup_wait, reconcile, twins
from .records import Area, Layout, RowPlan, check_layout, plan_rows, read_layout, refuse_merged
from .results import Operation, Outcome, RecordResult, RowResult, plural, summary
from .roundtrip.pull_memory import id_text

DEFAULT_BATCH_SIZE = 200
DEFAULT_CONCURRENCY = 4  # BillingPlatform asks for 4 to 8 concurrent requests at most

_OUTAGE_BATCHES = 4  # every one of this many batches refused at once: not one bad record
RESEND_ROUNDS = 3  # creates proven absent are sent again at most this many times
_FOUND_EARLIER = "An earlier send created this invoice (found in BillingPlatform); not sent again"
_FOUND_AFTER_LOSS = "Created; its answer was lost, so bpxl found it in BillingPlatform"
_NOT_SAVED = RecordResult(
    Outcome.FAILED,
    None,
    (
        f"Not saved: no answer came {RESEND_ROUNDS + 1} times and BillingPlatform does not "
        "have it; sending again is safe",
    ),
)

_STOPPED = RecordResult(Outcome.FAILED, None, ("Not sent: stopped before sending; send again",))
_NO_ANSWER_STOPPED = (
    "Sent, but bpxl was stopped before the answer came; the next push looks it up in "
    "BillingPlatform before sending it again"
)
_NO_ANSWER = RecordResult(  # a create's is replaced by _NO_ANSWER_STOPPED and its ref
    Outcome.UNKNOWN,
    None,
    ("Sent, but bpxl was stopped before the answer came; sending it again is safe",),
)
_NOT_PROVEN = RecordResult(
    Outcome.UNKNOWN,
    None,
    (
        "An earlier create of this row got no answer, and bpxl no longer knows what it sent "
        "or when (the row was edited, or its journal is gone), so finding nothing proves "
        "nothing; check in BillingPlatform, then put the invoice's Id in the Id column and "
        "Created in Result, or clear Result to send the row again",
    ),
)
_FOUND_BY_KEY = "Created; its answer was lost, so bpxl found it in BillingPlatform by its key"
ANYWAY = (
    "to create it again all the same, push with --create-anyway (in Excel, answer Yes when asked)"
)
_EDITED_SINCE = (
    "Edited since that send: the invoice has the values sent then; send your edits as an update"
)
STOP_GRACE_S = 4.0  # after a stop, how long batches already out may take to answer
_POLL_S = 0.1

Progress = Callable[[int, int], None]
"""Called as rows finish: (rows just finished, total rows to process)."""


@dataclass(frozen=True)
class Grid:
    """Cell values as a front end read them: the header row, then (sheet row number, values)."""

    header: Sequence[object]
    rows: Sequence[tuple[int, Sequence[object]]]
    date1904: bool = False  # the workbook counts dates from 1904 (Excel's Mac option)
    merged: Sequence[Area] = ()  # the sheet's merged cells (a front end that can tell)
    # Every data row of the sheet when ``rows`` are only some of them (--rows, hidden rows): a
    # row's create key counts the rows holding the same values, sent or not.
    sheet_rows: Sequence[tuple[int, Sequence[object]]] | None = None

    @property
    def every_row(self) -> Sequence[tuple[int, Sequence[object]]]:
        return self.rows if self.sheet_rows is None else self.sheet_rows


@dataclass(frozen=True)
class PushOptions:
    op: Operation
    external_id: str = fields.ID
    batch_size: int = DEFAULT_BATCH_SIZE
    concurrency: int = DEFAULT_CONCURRENCY
    dry_run: bool = False
    catalogue: Catalogue = fields.BUILT_IN  # the tenant's fields, or the built-in ones
    ignore_columns: tuple[str, ...] = ()  # headers the user says are their own, not fields
    # A header that looks like a field stops the push (records.check_layout); a revert puts
    # back cells by field name and leaves the sheet's other columns alone, so it does not ask.
    check_headers: bool = True
    create_anyway: bool = False  # create rows the ledger or the key field says exist already
    key_field: str | None = None  # the tenant's field for create keys (key-field mode)

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
    stopped: bool = False  # a stop (Ctrl+C, a closed window) ended the push early
    settled: list[str] = field(default_factory=list)  # ``unsettled`` refs to forget once written
    moved: list[int] = field(default_factory=list)  # sent rows no longer found in the sheet
    doubled: list[int] = field(default_factory=list)  # created rows with a late-stored twin
    notes: list[str] = field(default_factory=list)  # lines for the summary (server strain...)
    unchecked: dict[int, list[str]] = field(default_factory=dict)  # row -> unknown-list headers
    # Each valid row's record as planned (and sent): the run log's values, never planned again.
    records: dict[int, dict[str, object]] = field(default_factory=dict)

    def _unchecked(self) -> str:
        """Rows sent with values from a list bpxl does not know: said in the summary line, not
        only in their Message cells."""
        if not self.unchecked:
            return ""
        headers = dict.fromkeys(h for named in self.unchecked.values() for h in named)
        return (
            f"; {plural(len(self.unchecked), 'row')} with a value bpxl cannot check "
            f"({', '.join(headers)}): BillingPlatform checks it, see Message"
        )

    @property
    def all_ok(self) -> bool:
        """True when every processed row succeeded (or, in a dry run, is valid)."""
        if self.options.dry_run:
            return all(r.outcome not in (Outcome.INVALID, Outcome.CONFLICT) for r in self.results)
        # A sent row no longer found in the sheet has no result there: not a success.
        return not self.moved and all(r.outcome is not None and r.outcome.ok for r in self.results)

    def summary(self) -> str:
        if self.options.dry_run:
            bad = sum(r.outcome is Outcome.INVALID for r in self.results)
            clashes = sum(r.outcome is Outcome.CONFLICT for r in self.results)
            unknown = sum(r.outcome is Outcome.UNKNOWN for r in self.results)
            conflicts = f", {clashes:,} conflict" if clashes else ""
            looked_up = f", {unknown:,} unknown (looked up before sending)" if unknown else ""
            ready = len(self.results) - bad - clashes - unknown
            return (
                f"{plural(len(self.results), 'row')}: {ready:,} ready to {self.options.op.value}"
                f", {bad:,} invalid{conflicts}{looked_up} (dry run: nothing was sent)"
                f"{self._unchecked()}"
            )
        twins = (
            f" ({plural(len(self.doubled), 'row')} with a second invoice in BillingPlatform: "
            "see Message)"
            if self.doubled
            else ""
        )
        if self.options.op is Operation.CREATE or not self.skipped:
            done = summary(self.results, self.options.op, len(self.skipped))
            return done + twins + self._unchecked()
        left = (
            f" ({len(self.skipped):,} left as they were: marked Created or Unknown by a create "
            "and with no Id; a create looks them up)"
        )
        return summary(self.results, self.options.op) + twins + left + self._unchecked()


def plan(grid: Grid, options: PushOptions) -> tuple[Layout, list[RowPlan], list[int]]:
    """Validate every row of the grid; raise ``UsageError`` for a sheet that cannot work."""
    layout = read_layout(grid.header, options.catalogue, options.ignore_columns)
    check_layout(layout, options.op, options.external_id, options.check_headers)
    plans, skipped = plan_rows(layout, grid.rows, options.op, options.external_id, grid.date1904)
    refuse_merged(layout, plans, grid.merged)
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
    stop: threading.Event | None = None,
    ledger: Book | None = None,
    again: Callable[[list[RowResult]], bool] | None = None,
) -> PushReport:
    """Validate, send and map back. ``client`` may be None only for a dry run.

    With a ``journal``, every step is written down before it happens, for ``bpxl recover``.
    ``confirm`` is asked with the number of rows about to be sent; if it says no, nothing is.
    Setting ``stop`` (from a signal handler) ends the push early: see ``_Sender``.
    A create looks each row's create key up in the ``ledger`` (and, in key-field mode, in
    BillingPlatform) and records what it creates there; rows found are ``Exists``, not sent,
    unless ``options.create_anyway`` or ``again`` (asked with those rows' results) says yes.
    """
    layout, plans, skipped = plan(grid, options)
    results: dict[int, RowResult] = {}
    valid: list[RowPlan] = []
    rechecks: list[RowPlan] = []  # Unknown from an earlier create: looked up, valid or not
    for row in plans:
        if row.recheck:
            rechecks.append(row)
        elif row.valid:
            valid.append(row)
        else:
            results[row.row] = RowResult(row.row, Outcome.INVALID, None, row.errors + row.warnings)
    total = len(plans)
    if progress:
        progress(len(results), total)
    if options.dry_run:
        for row in valid:
            results[row.row] = RowResult(row.row, None, None, row.warnings)
        for row in rechecks:  # the mark and what it names stay until a lookup settles it
            results[row.row] = RowResult(row.row, Outcome.UNKNOWN, None, [row.earlier_message])
    else:
        if client is None:
            raise UsageError("Nothing to send to: no connection was given.")
        keys = _keys(grid, layout, plans, options) if ledger or options.key_field else {}
        anyway = options.create_anyway
        if keys and valid and not anyway:
            shown = row_ids(grid.every_row, layout)
            known = _existing(client, options, valid, keys, ledger, shown)
            if known and again is not None and again([known[r] for r in sorted(known)]):
                anyway = True
            else:
                results.update(known)
                valid = [r for r in valid if r.row not in known]
        going = len(valid) + len(rechecks)
        if going and confirm is not None and not confirm(going):
            raise UsageError("Nothing was sent: the push was not confirmed.")
        if journal:
            journal.planned({p.row: record_hash(p.record) if p.valid else None for p in plans})
            journal.answered(results.values())
        if going:
            client.login()  # a refused login stops the run before anything is sent
        checked: set[int] = set()
        keyed = options.key_field if keys and not anyway else None  # exact: no value check
        if options.op is Operation.CREATE and valid and not anyway and keyed is None:
            owned = sheet_ids(Grid(grid.header, grid.every_row), layout)
            found, checked = _already_there(client, options, valid, owned)
            results.update((r.row, r) for r in _row_results(found))
            valid = [r for r in valid if r.row not in found]
            if journal and found:
                journal.answered(_row_results(found))
        report = (lambda n: progress(n, total)) if progress else None
        if anyway and not options.create_anyway:  # the ribbon's Yes
            options = dataclasses.replace(options, create_anyway=True)
        sender = _Sender(client, options, journal, report, stop, _Keys(keys, keyed, ledger))
        sender.checked = checked
        outcomes = sender.run(valid, rechecks, sheet_ids(grid, layout))
        headers = {c.field.name: c.header for c in layout.columns}
        for row in valid + rechecks:
            record = outcomes[row.row]
            messages = [_in_user_words(m, headers) for m in record.messages]
            results[row.row] = RowResult(
                row.row, record.outcome, record.id, [*messages, *row.warnings]
            )
    ordered = [results[p.row] for p in plans]
    settled = [
        ref
        for row in rechecks
        if results[row.row].outcome not in (None, Outcome.UNKNOWN)
        and (ref := unsettled.ref_in(row.earlier_message))
    ]
    stopped = bool(stop and stop.is_set())
    doubled = sorted(sender.doubled) if not options.dry_run else []
    unchecked = {p.row: p.unchecked for p in plans if p.unchecked and p.valid}
    unrecorded = sender.unrecorded if not options.dry_run else 0
    notes = [_unrecorded_note(unrecorded)] if unrecorded else []
    return PushReport(
        options,
        layout,
        ordered,
        skipped,
        stopped,
        settled,
        doubled=doubled,
        unchecked=unchecked,
        notes=notes,
        records={p.row: p.record for p in plans if p.valid},
    )


def _unrecorded_note(count: int) -> str:
    return (
        f"{plural(count, 'invoice')} created could not be written into bpxl's ledger on this "
        "computer (is the data folder full or read-only?): a copy of this workbook pushed later "
        "would not be recognised as created by the ledger"
    )


def _keys(grid: Grid, layout: Layout, plans: list[RowPlan], options: PushOptions) -> dict[int, str]:
    """Each row's create key (see ``create_key``), for a create; a value in the key field's own
    column is not the row's (bpxl writes the key there), and is said so."""
    if options.op is not Operation.CREATE:
        return {}
    leave_out = [options.key_field] if options.key_field else []
    records = {p.row: p.record for p in plans}
    keys = create_key.keys(layout, grid.every_row, records, grid.date1904, leave_out)
    column = layout.column(options.key_field) if options.key_field else None
    for plan in plans:
        if column is not None and plan.record.pop(column.field.name, None) is not None:
            plan.warnings.append(
                f"{column.header}: bpxl puts each row's create key in {column.field.name}; "
                "the cell's value was not sent"
            )
    return keys


def _existing(
    client: Client,
    options: PushOptions,
    rows: list[RowPlan],
    keys: Mapping[int, str],
    ledger: Book | None,
    shown: Mapping[int, str],
) -> dict[int, RowResult]:
    """The rows whose invoice exists already: the ledger's creates on this computer, then, in
    key-field mode, the invoices holding their keys in BillingPlatform. An invoice whose Id
    another row of the sheet shows is that row's (``shown``: row -> Id), not this one's: a new
    row put above identical ones takes the first one's key."""
    in_sheet = Counter(shown.values())

    def elsewhere(row: int, record_id: str) -> bool:
        return in_sheet[record_id] > (1 if shown.get(row) == record_id else 0)

    known = ledger.find(keys[r.row] for r in rows) if ledger else {}
    found: dict[int, RowResult] = {}
    for row in rows:
        entries = [e for e in known.get(keys[row.row], []) if not elsewhere(row.row, e.id)]
        if entries:
            message = _in_ledger(entries)
            found[row.row] = RowResult(row.row, Outcome.EXISTS, entries[0].id, [message])
    field = options.key_field
    rest = [r for r in rows if r.row not in found]
    if field and rest:
        client.login()  # a refused login stops the run before anything is looked up or sent
        stored = key_field.lookup(client, field, (keys[r.row] for r in rest), options.concurrency)
        for row in rest:
            hits = [h for h in stored.get(keys[row.row], []) if not elsewhere(row.row, h.id)]
            if hits:
                found[row.row] = RowResult(
                    row.row, Outcome.EXISTS, hits[0].id, [_by_key(hits, field)]
                )
    return found


def _in_ledger(entries: list[Entry]) -> str:
    first = entries[0]
    since = ", ".join(e.id for e in entries[1:])
    also = f"; created again since with --create-anyway: Id {since}" if since else ""
    return (
        f"Not sent: this invoice was already created on this computer from "
        f"{first.described()} (Id {first.id}{also}); {ANYWAY}"
    )


def _by_key(hits: list[key_field.Found], field: str) -> str:
    others = ", ".join(h.id for h in hits[1:])
    also = f"; also Id {others}" if others else ""
    return (
        f"Not sent: BillingPlatform already has this invoice ({hits[0].described()}{also}), "
        f"found by this row's create key in {field}; {ANYWAY}"
    )


def _already_there(
    client: Client, options: PushOptions, rows: list[RowPlan], owned: set[str]
) -> tuple[dict[int, RecordResult], set[int]]:
    """The per-batch duplicate check (``duplicates``): rows BillingPlatform already holds an
    invoice for are ``Exists`` (or ``Failed`` when the check itself failed), not sent; also the
    rows checked and found free."""
    if not duplicates.days():
        return {}, set()
    records = {r.row: r.record for r in rows}
    try:
        same = duplicates.look(
            client, records, options.catalogue, owned, options.batch_size, options.concurrency
        )
    except BpxlError as failure:
        why = (
            f"Not sent: bpxl could not check whether BillingPlatform already has this invoice "
            f"({failure.message}); push again later, or with --create-anyway to create it "
            "without the check"
        )
        return {r: RecordResult(Outcome.FAILED, None, (why,)) for r in records}, set()
    me = client.user_id
    found = {
        row: RecordResult(Outcome.EXISTS, None, (_exists(hits, me),)) for row, hits in same.items()
    }
    return found, set(records) - set(found)


def _exists(hits: list[duplicates.Same], me: str | None) -> str:
    """An ``Exists`` row's Message from the duplicate check: the invoice(s) found, and what to
    do when the row really is a new invoice."""
    first = hits[0].described(me)
    more = f" and {plural(len(hits) - 1, 'other')} (Id {', '.join(h.id for h in hits[1:6])})"
    return (
        f"Not sent: BillingPlatform already has an invoice with this row's values ({first}"
        f"{more if len(hits) > 1 else ''}), made in the last {duplicates.days():g} days, perhaps "
        f"from a copy of this workbook or by a colleague; if this really is a new invoice, "
        f"{ANYWAY}"
    )


def going(grid: Grid, options: PushOptions) -> int:
    """How many rows of ``grid`` a push sends: the valid ones and those looked up first."""
    _, plans, _ = plan(grid, options)
    return sum(1 for p in plans if p.valid or p.recheck)


def parts(grid: Grid, options: PushOptions) -> list[tuple[Grid, PushOptions]]:
    """An upsert on Id is two sends: rows with an Id are upserted; rows without one are created,
    through the create path and its lookups (a lost answer is looked up, a rerun finds the row
    ``Created``), so that they can never be created twice. Every other push is one part."""
    if options.op is not Operation.UPSERT or options.external_id != fields.ID:
        return [(grid, options)]
    column = read_layout(grid.header, options.catalogue).column(fields.ID)
    if column is None:
        return [(grid, options)]
    index = column.index
    new = [(r, v) for r, v in grid.rows if is_blank(v[index] if index < len(v) else None)]
    kept = [(r, v) for r, v in grid.rows if not is_blank(v[index] if index < len(v) else None)]
    creates = dataclasses.replace(options, op=Operation.CREATE)
    found = [
        (dataclasses.replace(grid, rows=rows, sheet_rows=_whole(grid, rows)), part)
        for rows, part in ((new, creates), (kept, options))
        if rows
    ]
    return found or [(grid, options)]


def _whole(
    grid: Grid, rows: Sequence[tuple[int, Sequence[object]]]
) -> Sequence[tuple[int, Sequence[object]]] | None:
    """A part's ``sheet_rows``: the grid's every row when the part leaves some out."""
    return grid.sheet_rows if len(rows) == len(grid.rows) else grid.every_row


def merged(reports: list[PushReport], options: PushOptions) -> PushReport:
    """One report for the parts of a push, in sheet order, as the push's own operation."""
    results = sorted((r for report in reports for r in report.results), key=lambda r: r.row)
    skipped = sorted(row for report in reports for row in report.skipped)
    stopped = any(report.stopped for report in reports)
    settled = [ref for report in reports for ref in report.settled]
    doubled = sorted(row for report in reports for row in report.doubled)
    unchecked = {row: named for report in reports for row, named in report.unchecked.items()}
    return PushReport(
        options,
        reports[0].layout,
        results,
        skipped,
        stopped,
        settled,
        doubled=doubled,
        unchecked=unchecked,
        notes=[note for report in reports for note in report.notes],
        records={row: r for report in reports for row, r in report.records.items()},
    )


def _in_user_words(message: str, headers: dict[str, str]) -> str:
    """A server message names fields by their API names (``BillingProfileId 999 does not
    exist``); the user knows the columns by their own headers (``Billing profile id``), as in
    bpxl's own messages. ``headers``: API name to the sheet's header."""
    keyed = {fields.header_key(name): header for name, header in headers.items()}
    name, colon, rest = message.partition(":")
    header = keyed.get(fields.header_key(name)) if colon else None
    if header is None:
        header, colon, rest = "", "", message
    for api, mine in headers.items():
        if api != mine:
            rest = re.sub(rf"\b{re.escape(api)}\b", mine.replace("\\", r"\\"), rest)
    if header and rest.startswith(f" {header} "):  # "Due date: Due date 5 is ..." says it twice
        rest = rest[len(header) + 1 :]
    return f"{header}{colon}{rest}"


def sheet_ids(grid: Grid, layout: Layout) -> set[str]:
    """The Ids the sheet already holds: invoices that belong to rows, not to be claimed again."""
    return set(row_ids(grid.rows, layout).values())


def row_ids(rows: Sequence[tuple[int, Sequence[object]]], layout: Layout) -> dict[int, str]:
    """Each row's Id, for the rows that show one."""
    column = layout.column(fields.ID)
    if column is None:
        return {}
    index = column.index
    return {
        row: id_text(values[index])
        for row, values in rows
        if index < len(values) and not is_blank(values[index])
    }


class _Sender:
    """Sends valid rows in parallel batches and settles every create whose answer was lost.

    Rounds: send, then look up the creates whose answer was lost (``reconcile``), then send
    again what the server proved it does not have. A batch the server refused as a whole (a 400,
    or a 500 that is not an outage) is sent again in halves until the record at fault is alone:
    it fails, the others go. Splitting a create batch is safe because only records the lookup
    proved absent are sent again. When every batch of a round (``_OUTAGE_BATCHES`` or more) is
    refused, the server itself is failing: splitting stops and the usual resends take over.

    When ``stop`` is set (Ctrl+C, a closed window), no batch starts any more: batches already out
    get ``STOP_GRACE_S`` to answer, rows not sent are Failed "not sent", and creates still without
    an answer are Unknown with what was sent kept for the next push to look up.
    """

    def __init__(
        self,
        client: Client,
        options: PushOptions,
        journal: Journal | None,
        progress: Callable[[int], None] | None,
        stop: threading.Event | None = None,
        keys: _Keys | None = None,
    ) -> None:
        self.client = client
        self.options = options
        self.keys = keys or _Keys({}, None, None)
        self.journal = journal
        self.progress = progress
        self.stop = stop or threading.Event()
        self.outcomes: dict[int, RecordResult] = {}
        self.sent_at: dict[int, dt.datetime] = {}
        self.owners: dict[str, int | None] = {}  # Id -> the row that has it (None: the sheet's)
        self.contested: set[str] = set()  # Ids answered for two rows: the lookup decides
        self.doubted: list[int] = []  # rows whose answered Id another row got too
        self.refused: list[list[RowPlan]] = []  # batches refused as a whole, this round
        self.splitting = True  # until every batch of a round is refused (an outage)
        self.first_sent: dict[int, dt.datetime] = {}  # each row's first send (server time)
        self.resent: set[int] = set()  # creates sent again after a lookup declared them absent
        self.last_send = 0.0  # when the last batch went out (monotonic)
        self.doubled: list[int] = []  # rows the final lookup found a second invoice for
        self.checked: set[int] = set()  # rows the duplicate check found free before sending
        self.skew: dt.timedelta | None = None  # Created less Date, learnt from answered creates
        self._skew_from = 0  # how many answered creates the skew was learnt from
        self.unrecorded = 0  # creates the ledger could not record (the data folder full)

    def run(
        self, rows: list[RowPlan], rechecks: list[RowPlan], claimed: set[str]
    ) -> dict[int, RecordResult]:
        """One result per row; a create is sent again only when the server proves it absent."""
        self.owners = dict.fromkeys(claimed)
        plans = {r.row: r for r in rows + rechecks}
        first = list(rows)
        if rechecks:
            first += self._recheck(rechecks)
        creates = self.options.op is Operation.CREATE
        resends: Counter[int] = Counter()
        groups = [first]
        report = True
        while groups := [g for g in groups if g]:
            batches = self._send(groups, report)
            report = False
            if self.stop.is_set():
                break
            lost = [r for g in groups for r in g if self.outcomes[r.row].outcome is Outcome.UNKNOWN]
            sent = {r.row for r in lost}
            lost += [plans[n] for n in dict.fromkeys(self.doubted) if n not in sent]
            self.doubted = []
            refused, self.refused = self.refused, []
            if len(refused) == batches >= _OUTAGE_BATCHES:
                self.splitting = False  # every batch refused: the server, not a record
            refused = refused if self.splitting else []
            if creates and lost and self.keys.field:  # an upsert on its key is safe to resend
                lost = self._settle_by_key(lost)
            elif creates and lost:  # send again only what the server proves absent
                lost = self._settle(lost, {r.row: self.sent_at.get(r.row) for r in lost})
                lost = self._not_made_elsewhere(lost)
            groups = self._halves(refused, lost)
            halved = {r.row for g in groups for r in g}
            again = []
            for row in lost:
                if row.row in halved:
                    continue
                resends[row.row] += 1
                if resends[row.row] <= RESEND_ROUNDS:
                    again.append(row)
                    self.resent.add(row.row)
                elif creates:
                    self._record_all({row.row: _NOT_SAVED})
            groups.append(again)
        if creates and self.stop.is_set():
            self._keep_unknown(first)
        elif creates and self.resent and not self.keys.field:
            self._find_twins(plans)
        return self.outcomes

    def _find_twins(self, plans: Mapping[int, RowPlan]) -> None:
        """One last lookup, twice ``lookup_wait`` after the last send (a store later than one
        wait fools the lookups; the last lookup catches one up to two waits late), for the rows
        created by a resend: a second invoice with the row's values is an earlier send of it,
        stored after bpxl had looked."""
        created = {
            row: Lost(plans[row].record, self.first_sent[row], self._slack(row))
            for row in self.resent
            if (result := self.outcomes.get(row)) is not None
            and result.outcome is Outcome.CREATED
            and result.id
            and row in self.first_sent
        }
        if not created:
            return
        pause = 2 * lookup_wait() - (time.monotonic() - self.last_send)
        if pause > 0:
            time.sleep(pause)
        found = twins(self.client, created, self.owners.keys(), self.options.catalogue)
        noted: dict[int, RecordResult] = {}
        for row, others in sorted(found.items()):
            result = self.outcomes[row]
            noted[row] = dataclasses.replace(
                result, messages=(*result.messages, _twin_note(str(result.id), others))
            )
            self.doubled.append(row)
        self.outcomes.update(noted)
        if self.journal and noted:
            self.journal.answered(_row_results(noted))

    def _recheck(self, rows: list[RowPlan]) -> list[RowPlan]:
        """Rows an earlier create left Unknown: looked up as they were sent (values and time,
        kept under the ref their Message names), whatever the row holds now; older marks by the
        row's values and the journals' send times. The ones proven absent are sent if valid."""
        sent = self._earlier_sends(rows)
        records: dict[int, Mapping[str, object]] = {}
        for row in rows:
            if (create := _sent_create(row)) is not None:
                records[row.row], sent[row.row] = create.record, create.sent_at
        absent = self._settle(rows, sent, _FOUND_EARLIER, records)
        self.first_sent.update((r.row, at) for r in absent if (at := sent.get(r.row)) is not None)
        self.resent.update(r.row for r in absent)
        kept: dict[int, RecordResult] = {}
        for row in absent:
            if sent.get(row.row) is None:  # neither what was sent nor when: absence is no proof
                kept[row.row] = _NOT_PROVEN
            elif not row.valid:
                kept[row.row] = RecordResult(Outcome.INVALID, None, tuple(row.errors))
        self._record_all(kept)
        return self._not_made_elsewhere([r for r in absent if r.row not in kept])

    def _halves(self, refused: list[list[RowPlan]], lost: list[RowPlan]) -> list[list[RowPlan]]:
        """The halves of each batch refused as a whole, for the rows still to send; a record
        refused on its own fails (the others of its batch went or go on)."""
        pending = {r.row for r in lost}
        groups: list[list[RowPlan]] = []
        for batch in refused:
            todo = [r for r in batch if r.row in pending]
            if len(batch) == 1 and todo:
                self._record_all({todo[0].row: self._refused_alone(self.outcomes[todo[0].row])})
                lost.remove(todo[0])
            elif todo:
                half = (len(todo) + 1) // 2
                groups += [todo[:half], todo[half:]]
        return groups

    def _refused_alone(self, answer: RecordResult) -> RecordResult:
        # "<What happened>; <advice>": keep what happened, with all the server said
        what = answer.messages[0].rsplit("; ", 1)[0] if answer.messages else ""
        absent = "; BillingPlatform does not have it" if self.options.op is Operation.CREATE else ""
        return RecordResult(
            Outcome.FAILED,
            None,
            (
                f"Sent on its own: {what}{absent}; the rest of its batch was sent without "
                "it; check this row's values (e.g. a number far too large) and send again",
            ),
        )

    def _earlier_sends(self, rows: list[RowPlan]) -> dict[int, dt.datetime | None]:
        """When each of ``rows`` was first sent, where the journals know it."""
        if self.journal is None:
            return dict.fromkeys((r.row for r in rows), None)
        sent = self.journal.earlier_sends({r.row: record_hash(r.record) for r in rows})
        return {r.row: sent.get(r.row) for r in rows}

    def _settle(
        self,
        rows: list[RowPlan],
        sent: Mapping[int, dt.datetime | None],
        found: str = _FOUND_AFTER_LOSS,
        records: Mapping[int, Mapping[str, object]] | None = None,
    ) -> list[RowPlan]:
        """Look up creates that may have happened (as ``records`` were sent, by default the rows'
        own records); record what is known, return the absent."""
        records = records or {}
        lost = {
            r.row: Lost(records.get(r.row, r.record), sent.get(r.row), self._slack(r.row))
            for r in rows
        }
        claimed = {i for i, owner in self.owners.items() if owner not in lost}
        findings = reconcile(self.client, lost, claimed, self.options.catalogue)
        absent: list[RowPlan] = []
        settled: dict[int, RecordResult] = {}
        for row in rows:
            finding = findings[row.row]
            if finding.verdict is Verdict.ABSENT:
                absent.append(row)
            elif finding.verdict is Verdict.FOUND:
                edited = lost[row.row].record != row.record
                note = (found, _EDITED_SINCE) if edited else (found,)
                settled[row.row] = RecordResult(Outcome.CREATED, finding.id, note)
            else:  # what was sent is kept, so that the next push looks for it as sent
                create = _sent_create(row) or unsettled.keep(
                    lost[row.row].record, lost[row.row].sent or self.client.server_now()
                )
                message = f"{finding.message} {unsettled.mention(create)}"
                settled[row.row] = RecordResult(Outcome.UNKNOWN, None, (message,))
        self._record_all(settled, looked_up=True)
        return absent

    def _not_made_elsewhere(self, rows: list[RowPlan]) -> list[RowPlan]:
        """Creates about to be sent again, the lookup having proved that we did not store them:
        the duplicate check once more, for an invoice someone else made meanwhile (a colleague
        pushing a copy while this row's answer was lost); such rows are ``Exists``."""
        if not rows or self.options.create_anyway or self.keys.field or not duplicates.days():
            return rows
        found, _ = _already_there(self.client, self.options, rows, set(self.owners))
        self._record_all(found)
        return [r for r in rows if r.row not in found]

    def _slack(self, row: int) -> dt.timedelta:
        """How long before its send the row's invoice may be stamped (``allowed_slack``), the
        skew learnt again from the creates answered since it was last learnt."""
        answered = {
            str(result.id): self.sent_at[n]
            for n, result in self.outcomes.items()
            if result.outcome is Outcome.CREATED and result.id and n in self.sent_at
        }
        if len(answered) > self._skew_from:
            self._skew_from = len(answered)
            self.skew = learn_skew(self.client, answered) if answered else None
        return allowed_slack(self.skew, row in self.checked)

    def _settle_by_key(self, rows: list[RowPlan]) -> list[RowPlan]:
        """Key-field mode: look up by their create keys the creates whose answer was lost (or
        did not say whether it made the invoice); return those BillingPlatform does not have.
        An invoice holding the key was made after the push looked for it before sending: ours
        when our user made it, else another push's at the same moment."""
        field, keys = self.keys.field, self.keys.by_row
        assert field is not None
        try:
            found = key_field.lookup(
                self.client, field, (keys[r.row] for r in rows), self.options.concurrency
            )
        except BpxlError:
            return rows  # sent again as an upsert on its key: it cannot make a second invoice
        settled: dict[int, RecordResult] = {}
        absent = []
        for row in rows:
            hits = found.get(keys[row.row])
            mine = [h for h in hits or [] if h.made_by(self.client.user_id)]
            if not hits:
                absent.append(row)
            elif mine:
                settled[row.row] = RecordResult(Outcome.CREATED, mine[0].id, (_FOUND_BY_KEY,))
            else:
                settled[row.row] = RecordResult(
                    Outcome.EXISTS, hits[0].id, (_made_meanwhile(hits[0], field),)
                )
        self._record_all(settled, looked_up=True)
        return absent

    def _keep_unknown(self, rows: list[RowPlan]) -> None:
        """Creates left without an answer or a lookup by a stop: what was sent is kept for the
        next push, which looks them up before sending anything."""
        kept = {}
        for row in rows:
            result = self.outcomes.get(row.row)
            if result is None or result.outcome is not Outcome.UNKNOWN:
                continue
            if unsettled.ref_in(" ".join(result.messages)):
                continue  # a lookup already kept it
            at = self.sent_at.get(row.row) or self.client.server_now()
            create = unsettled.keep(row.record, at)
            message = f"{_NO_ANSWER_STOPPED} {unsettled.mention(create)}"
            kept[row.row] = RecordResult(Outcome.UNKNOWN, None, (message,))
        self._record_all(kept)

    def _record_all(self, settled: dict[int, RecordResult], looked_up: bool = False) -> None:
        """Record outcomes; a lookup's findings are the word on whose an Id is, answers not."""
        for row, result in list(settled.items()):
            if looked_up and result.id:
                self.owners[result.id] = row
                self.contested.discard(result.id)
            else:
                settled[row] = self._claim(row, result, settled)
        self.outcomes.update(settled)
        if self.journal and settled:
            self.journal.answered(_row_results(settled))
        if self.keys.ledger is not None and self.options.op is Operation.CREATE:
            created = {
                row: (key, result.id)
                for row, result in settled.items()
                if result.outcome is Outcome.CREATED
                and result.id
                and (key := self.keys.by_row.get(row))
            }
            try:
                self.keys.ledger.record(created)
            except BpxlError:  # the journal and the workbook hold them: the push goes on
                self.unrecorded += len(created)

    def _claim(
        self, row: int, result: RecordResult, settled: dict[int, RecordResult]
    ) -> RecordResult:
        """A new Id belongs to one row. When answers give one Id to two rows, neither answer
        is believed: both rows become Unknown and the lookup tells whose invoice it is."""
        if not (result.outcome.ok and result.id) or self.options.op is not Operation.CREATE:
            return result
        if result.id not in self.owners and result.id not in self.contested:
            self.owners[result.id] = row
            return result
        owner = self.owners.get(result.id)
        if owner == row:
            return result
        what = f"BillingPlatform answered with Id {result.id}, which another row also got"
        if result.id in self.owners and owner is None:
            what = f"BillingPlatform answered with Id {result.id}, which a row of the sheet has"
        elif owner is not None:
            del self.owners[result.id]
            self.contested.add(result.id)
            settled[owner] = answers.unknown(self.options.op, 1, what)[0]
            self.doubted.append(owner)
        return answers.unknown(self.options.op, 1, what)[0]

    def _send(self, groups: list[list[RowPlan]], report: bool) -> int:
        """Send the groups in batches, in parallel; returns how many batches went out."""
        size = self.options.batch_size
        batches = [g[i : i + size] for g in groups for i in range(0, len(g), size)]
        pool = ThreadPoolExecutor(
            max_workers=self.options.concurrency, thread_name_prefix="bpxl-send"
        )
        waiting = {pool.submit(self._send_batch, b): b for b in batches}
        deadline: float | None = None
        try:
            while waiting:
                if self.stop.is_set() and deadline is None:
                    deadline = time.monotonic() + STOP_GRACE_S
                    self.client.stop_retrying()  # a batch in flight is not sent again
                    for future in [f for f in waiting if f.cancel()]:
                        self._record_all({r.row: _STOPPED for r in waiting.pop(future)})
                if deadline is not None and time.monotonic() >= deadline:
                    break
                done, _ = wait(waiting, timeout=_POLL_S, return_when=FIRST_COMPLETED)
                for future in done:
                    batch = waiting.pop(future)
                    finished = future.result()
                    if all(r.split for r in finished.values()):
                        self.refused.append(batch)
                    self._record_all(finished)
                    if report and self.progress:
                        self.progress(len(finished))
        finally:
            # After a stop, batches still out are not waited for: their rows are settled below.
            pool.shutdown(wait=not self.stop.is_set(), cancel_futures=True)
        for batch in waiting.values():
            self._record_all({r.row: _NO_ANSWER for r in batch})
        return len(batches)

    def _send_batch(self, batch: list[RowPlan]) -> dict[int, RecordResult]:
        if self.stop.is_set():
            return {row.row: _STOPPED for row in batch}
        at = self.client.server_now()
        if self.journal:  # with the values, for `bpxl recover` to find rows edited since
            self.journal.sending([r.row for r in batch], at, {r.row: r.record for r in batch})
        self.sent_at.update((r.row, at) for r in batch)
        for row in batch:
            self.first_sent.setdefault(row.row, at)
        field = self.keys.field
        if field is None:
            answers = self.client.write(
                self.options.op, [r.record for r in batch], self.options.external_id
            )
        else:  # key-field mode: found or created by the row's key
            keyed = [{**r.record, field: self.keys.by_row[r.row]} for r in batch]
            answers = self.client.write(Operation.UPSERT, keyed, field)
            answers = [self._as_create(r.row, a) for r, a in zip(batch, answers, strict=True)]
        self.last_send = time.monotonic()  # a late store counts from when the answer was lost
        return {row.row: answer for row, answer in zip(batch, answers, strict=True)}

    def _as_create(self, row: int, answer: RecordResult) -> RecordResult:
        """An upsert's answer for a create sent on its key: Created when it made the invoice;
        Exists when it found one (made since the push looked, so by another push at the same
        moment); looked up by key when it did not say, or when this was a resend (the found
        invoice may be the one the lost first send made)."""
        if answer.outcome is not Outcome.UPSERTED:
            return answer
        if answer.created:
            return RecordResult(Outcome.CREATED, answer.id)
        if answer.created is False and row not in self.resent:
            found = key_field.Found(str(answer.id), None, "")
            field = self.keys.field or ""
            return RecordResult(Outcome.EXISTS, answer.id, (_made_meanwhile(found, field),))
        what = "BillingPlatform saved it without saying whether it made the invoice or found one"
        return answers.unknown(Operation.CREATE, 1, what)[0]


@dataclass(frozen=True)
class _Keys:
    """A create's keys (sheet row -> create key), the tenant's key field when the creates are
    sent as upserts on it (None: plain creates), and the ledger they are recorded in."""

    by_row: Mapping[int, str]
    field: str | None
    ledger: Book | None


def _made_meanwhile(found: key_field.Found, field: str) -> str:
    return (
        f"Not created: another push made this invoice ({found.described()}) while this one was "
        f"sending, found by this row's create key in {field}; {ANYWAY}"
    )


def _twin_note(kept: str, others: list[str]) -> str:
    """What a row created twice says: both Ids, which one the sheet keeps, and what to do."""
    ids = ", ".join(others)
    which = "that invoice" if len(others) == 1 else "those invoices"
    return (
        f"BillingPlatform holds {plural(len(others) + 1, 'invoice')} for this row: Id {kept} "
        f"(kept in the Id column) and Id {ids}. The first send was stored late, after bpxl had "
        f"looked for it and sent the row again; delete {which} ({ids}) in BillingPlatform"
    )


def _sent_create(row: RowPlan) -> unsettled.SentCreate | None:
    """What an Unknown row's earlier create sent, if its Message names a create kept here."""
    ref = unsettled.ref_in(row.earlier_message)
    return unsettled.find(ref) if ref else None


def _row_results(outcomes: dict[int, RecordResult]) -> list[RowResult]:
    return [RowResult(row, r.outcome, r.id, list(r.messages)) for row, r in outcomes.items()]
