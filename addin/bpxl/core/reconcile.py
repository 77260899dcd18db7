"""Finding out what an unanswered create did, so that no invoice is ever created twice.

A create whose answer was lost (a timeout, a dropped connection, a server error) may or may not
have saved its records, and the API has no idempotency key. Sending it again blindly could
duplicate invoices, so we look first, and we look until we are sure:

- Only our own invoices are candidates: created by the user we are logged in as
  (``CreatedUserId``), at or after the moment the row went out by the server's clock (less
  ``CLOCK_MARGIN``, which the Date header's one-second resolution needs). The window is each
  row's own: a row with no known send time narrows nothing for the others.
- Candidates are matched to rows on every field the row sets, each value spelled one way
  (``spelling``: a server may echo text, flags, numbers and dates otherwise than we sent
  them). One match, not claimed by another row: the row was created, and that is its Id.
- A row is declared absent (safe to send again) only when two lookups, ``BPXL_LOOKUP_WAIT``
  seconds apart, both found nothing, and the server's clock at the second one had passed the
  row's send time: a server still working on the request when we first look is caught by the
  second.
- Anything else (several matches, identical rows, no send time, no known user, a failed lookup):
  the row stays Unknown and its message says what was found; the next push or ``bpxl recover``
  looks again.

A server that stores a lost create later than the two lookups can still fool them, and the row
is sent again. ``twins`` looks once more, at the end of the push, for rows sent again after
being declared absent: another invoice of ours with the row's values, made since its first
send, is that late store, and the row says so.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import os
import time
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from . import fields
from .answers import positive_id
from .client import Client
from .errors import BpxlError
from .fields import Catalogue
from .spelling import ValuesKey, values_key

# Our estimate of the server's clock comes from Date headers in whole seconds, and the Created
# stamp may come from another of its machines: seconds, not minutes, of slack.
CLOCK_MARGIN = dt.timedelta(seconds=2)
# A server's Created stamps may come from another clock than its Date headers (a database host
# minutes apart from the web host). Learnt from the run's own answered creates when it has any
# (``learn_skew``); otherwise rows that the duplicate check found no invoice for before the send
# may allow this much (an invoice of ours with the row's values made since the check is the
# row's, whatever the clocks say).
SKEW_ALLOWANCE = dt.timedelta(minutes=15)
_SKEW_SAMPLE = 50  # answered creates whose Created stamps tell the skew (one query)
LOOKUP_WAIT_ENV = "BPXL_LOOKUP_WAIT"
# Seconds between the two lookups that must both find nothing. A server that timed out at the
# gateway, or dropped the connection, usually commits within a second or two after; 5 s covers
# that at the cost of 5 s per lost batch. A server that stores later still can fool it: raise it.
DEFAULT_LOOKUP_WAIT_S = 5.0
_DATE_RESOLUTION = dt.timedelta(seconds=1)  # a Date header is in whole seconds, rounded down
_LONGEST_CLOCK_WAIT_S = 60.0  # how long we wait for the server's clock to pass a send time
_IN_CHUNK = 200  # BillingProfileId values per query
_IDS_SHOWN = 5


class Verdict(enum.Enum):
    FOUND = "found"  # the create happened: ``Finding.id`` is the invoice
    ABSENT = "absent"  # the create did not happen: sending again is safe
    UNSURE = "unsure"  # cannot tell: leave the row Unknown, say what was found


@dataclass(frozen=True)
class Finding:
    verdict: Verdict
    id: str | None = None
    message: str = ""


@dataclass(frozen=True)
class Lost:
    """A create that may have happened: the record as sent, and when it went out (server time;
    None when not known, e.g. the row was edited since)."""

    record: Mapping[str, object]
    sent: dt.datetime | None
    # How long before ``sent`` its invoice's Created stamp may be: the Date header's resolution,
    # plus the clock skew learnt or allowed (see ``SKEW_ALLOWANCE``).
    slack: dt.timedelta = CLOCK_MARGIN


def lookup_wait() -> float:
    """Seconds between the two lookups (``BPXL_LOOKUP_WAIT``, default 5; at most a day): what
    is no number of seconds (``nan``, ``inf``, ``soon``) is the default, not a crash mid-push."""
    try:
        wait = float(os.environ.get(LOOKUP_WAIT_ENV) or DEFAULT_LOOKUP_WAIT_S)
    except ValueError:
        return DEFAULT_LOOKUP_WAIT_S
    return min(max(wait, 0.0), 86_400.0) if math.isfinite(wait) else DEFAULT_LOOKUP_WAIT_S


def created_since(since: dt.datetime, slack: dt.timedelta = CLOCK_MARGIN) -> str:
    """The ``Created`` bound as the query compares it: ISO 8601 UTC, ``slack`` earlier."""
    return (since - slack).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def learn_skew(client: Client, sent: Mapping[str, dt.datetime]) -> dt.timedelta | None:
    """How far the server's Created stamps run from its Date headers, from invoices this run
    created (Id -> when its batch went out by the Date headers): the least ``Created - sent``
    (at most a request's own time more than the skew). None when it cannot be told."""
    ids = sorted(sent, key=lambda i: sent[i])[-_SKEW_SAMPLE:]
    if not ids:
        return None
    query = f"SELECT Id, Created FROM {fields.ENTITY} WHERE Id IN ({', '.join(ids)})"
    try:
        stamps = [(str(positive_id(r.get(fields.ID))), _created(r)) for r in client.query(query)]
    except BpxlError:
        return None
    offsets = [at - sent[i] for i, at in stamps if at is not None and i in sent]
    return min(offsets, default=None)


def allowed_slack(skew: dt.timedelta | None, checked: bool) -> dt.timedelta:
    """How long before its send a row's invoice may be stamped: with the skew learnt, that
    much (only ever widened, never narrowed: a slow request makes Created later); without,
    minutes when the duplicate check saw no such invoice before the send, else seconds."""
    if skew is not None:
        return CLOCK_MARGIN + max(-skew, dt.timedelta())
    return SKEW_ALLOWANCE if checked else CLOCK_MARGIN


def reconcile(
    client: Client,
    rows: Mapping[int, Lost],
    claimed: Collection[str] = (),
    catalogue: Catalogue = fields.BUILT_IN,
) -> dict[int, Finding]:
    """What became of each row's create. ``claimed`` holds the Ids other rows already own;
    ``catalogue`` types the values compared (a tenant's custom numbers and dates too)."""
    started = time.monotonic()
    findings = _look(client, rows, claimed, catalogue)
    again = {row: rows[row] for row, f in findings.items() if f.verdict is Verdict.ABSENT}
    if not again:
        return findings
    latest = max((lost.sent for lost in again.values() if lost.sent), default=None)
    pause = lookup_wait() - (time.monotonic() - started)
    if latest is not None:
        behind = (latest + _DATE_RESOLUTION - client.server_now()).total_seconds()
        pause = max(pause, min(behind, _LONGEST_CLOCK_WAIT_S))
    if pause > 0:
        time.sleep(pause)
    second = _look(client, again, claimed, catalogue)
    clock = client.last_answer_date
    for row, lost in again.items():
        finding = second[row]
        if finding.verdict is Verdict.ABSENT and not _clock_passed(clock, lost.sent):
            finding = _unsure("BillingPlatform's clock had not yet passed the time it was sent")
        findings[row] = finding
    return findings


def twins(
    client: Client,
    rows: Mapping[int, Lost],
    owned: Collection[str],
    catalogue: Catalogue = fields.BUILT_IN,
) -> dict[int, list[str]]:
    """For rows created by a resend (``Lost.sent``: the row's first send), the Ids of the other
    invoices BillingPlatform now holds for them: ours, made since the first send, with the row's
    values, and not ``owned`` by any row. Identical rows share theirs out in turn. Nothing is
    said when the user is not known (another user's invoice must never be called a duplicate)
    or the lookup fails."""
    me = client.user_id
    dated = {row: (lost, lost.sent) for row, lost in rows.items() if lost.sent is not None}
    if me is None or not dated:
        return {}
    try:
        found = _candidates(client, (lost for lost, _ in dated.values()), me)
    except BpxlError:
        return {}
    groups: dict[ValuesKey, list[int]] = defaultdict(list)
    for row, (lost, _) in dated.items():
        groups[values_key(lost.record, catalogue)].append(row)
    extra: dict[int, list[str]] = {}
    for key, group in groups.items():
        names = [name for name, _ in key]
        earliest = min(dated[row][1] for row in group)
        slack = max(dated[row][0].slack for row in group)
        ids = dict.fromkeys(
            str(cid)
            for c in found
            if (cid := positive_id(c.get(fields.ID))) is not None
            and str(cid) not in owned
            and positive_id(c.get("CreatedUserId")) == me
            and values_key(c, catalogue, names) == key
            and _created_after(c, earliest, slack)
        )
        for i, twin in enumerate(ids):
            extra.setdefault(group[i % len(group)], []).append(twin)
    return extra


def _clock_passed(clock: dt.datetime | None, sent: dt.datetime | None) -> bool:
    """Whether the server's clock, at our last lookup, was past the row's send time. Without a
    Date header there is no clock to go by: the wait between the lookups has to do."""
    return clock is None or sent is None or clock >= sent


def _look(
    client: Client, rows: Mapping[int, Lost], claimed: Collection[str], catalogue: Catalogue
) -> dict[int, Finding]:
    """One lookup: each row's verdict from the invoices on the server now."""
    findings: dict[int, Finding] = {}
    windowed = {row: lost for row, lost in rows.items() if lost.sent is not None}
    profiled = {
        row: lost
        for row, lost in rows.items()
        if lost.sent is None and lost.record.get("BillingProfileId")
    }
    for row in rows.keys() - windowed.keys() - profiled.keys():
        findings[row] = _unsure(
            "the time it was sent is not known and the row has no BillingProfileId to look it up by"
        )
    try:
        found: dict[str, dict[str, object]] = {}
        for group in (windowed, profiled):
            if group:
                for candidate in _candidates(client, group.values(), client.user_id):
                    found[str(candidate.get(fields.ID))] = candidate
    except BpxlError as failure:
        reason = f"looking it up in BillingPlatform failed ({failure.message})"
        return {row: _unsure(reason) for row in rows}
    looked = {**windowed, **profiled}
    findings.update(_judge_all(looked, list(found.values()), claimed, client.user_id, catalogue))
    return findings


def _judge_all(
    rows: Mapping[int, Lost],
    found: list[dict[str, object]],
    claimed: Collection[str],
    me: str | None,
    catalogue: Catalogue,
) -> dict[int, Finding]:
    groups: dict[ValuesKey, list[int]] = defaultdict(list)
    for row, lost in rows.items():
        groups[values_key(lost.record, catalogue)].append(row)
    usable = [
        c
        for c in found
        if (cid := positive_id(c.get(fields.ID))) is not None
        and cid not in claimed
        and (me is None or positive_id(c.get("CreatedUserId")) == me)
    ]
    # Rows that leave fields blank compare on fewer fields, so one invoice can match rows of
    # several groups: it is then nobody's for certain.
    indexes: dict[tuple[str, ...], dict[ValuesKey, list[dict[str, object]]]] = {}
    matches: dict[ValuesKey, list[dict[str, object]]] = {}
    for key in groups:
        names = tuple(name for name, _ in key)
        if names not in indexes:
            index = indexes[names] = defaultdict(list)
            for candidate in usable:
                index[values_key(candidate, catalogue, names)].append(candidate)
        matches[key] = indexes[names].get(key, [])
    groups_per_id = Counter(str(c[fields.ID]) for found in matches.values() for c in found)
    findings: dict[int, Finding] = {}
    for key, group in groups.items():
        shared = any(groups_per_id[str(c[fields.ID])] > 1 for c in matches[key])
        for row in group:
            sent = rows[row].sent
            mine = [c for c in matches[key] if _created_after(c, sent, rows[row].slack)]
            ids = [str(positive_id(c[fields.ID])) for c in mine]
            findings[row] = _judge(ids, group, _doubt(shared, sent, me))
    return findings


def _doubt(shared: bool, sent: dt.datetime | None, me: str | None) -> str:
    """Why a single match cannot be taken as the row's invoice; empty when it can."""
    if shared:
        return "it may be another row's"
    if sent is None:
        return "it may be older than this send (when the row was sent is not known)"
    if me is None:
        return (
            "bpxl does not know which user it is logged in as (a token login), so it may be "
            "someone else's"
        )
    return ""


def _created_after(
    candidate: Mapping[str, object], sent: dt.datetime | None, slack: dt.timedelta = CLOCK_MARGIN
) -> bool:
    """Whether an invoice was created in the row's window (an unreadable stamp counts as in:
    it blocks a verdict of absent rather than be ignored)."""
    if sent is None:
        return True
    created = _created(candidate)
    return created is None or created >= sent - slack


def _created(candidate: Mapping[str, object]) -> dt.datetime | None:
    """An invoice's Created stamp (UTC when it names no offset); None when unreadable."""
    try:
        created = dt.datetime.fromisoformat(str(candidate.get("Created")).strip())
    except ValueError:
        return None
    return created.replace(tzinfo=dt.UTC) if created.tzinfo is None else created


def _judge(ids: list[str], rows: list[int], doubt: str) -> Finding:
    """The verdict from the Ids found for a group of identical rows; ``doubt`` says why a
    single match cannot be taken (empty: it can)."""
    if not ids:
        return Finding(Verdict.ABSENT)
    listed = ", ".join(ids[:_IDS_SHOWN]) + (" ..." if len(ids) > _IDS_SHOWN else "")
    if len(rows) > 1:
        others = ", ".join(str(r) for r in rows)
        return _unsure(
            f"rows {others} hold the same values and BillingPlatform has {len(ids)} such "
            f"invoice(s) (Id {listed}), so which row was created cannot be told"
        )
    if len(ids) == 1 and not doubt:
        return Finding(Verdict.FOUND, ids[0])
    if len(ids) == 1:
        return _unsure(f"invoice Id {listed} has this row's values, but {doubt}")
    return _unsure(f"{len(ids)} invoices have this row's values (Id {listed})")


def _unsure(reason: str) -> Finding:
    return Finding(
        Verdict.UNSURE,
        message=(
            f"Sent, but no answer came, and {reason}; push again later to look again, or "
            "check in BillingPlatform, then put the invoice's Id in the Id column and Created in "
            "Result, or clear Result to send the row again"
        ),
    )


def _candidates(client: Client, lost: Iterable[Lost], me: str | None) -> list[dict[str, object]]:
    """Invoices that could be the rows': ours, created in the window, for their profiles."""
    lost = list(lost)
    records = [item.record for item in lost]
    names = sorted({name for record in records for name in record} - {fields.ID, "Created"})
    select = ", ".join(dict.fromkeys([fields.ID, "Created", "CreatedUserId", *names]))
    where = [f"CreatedUserId = {me}"] if me else []
    if all(item.sent for item in lost):
        start = min(item.sent - item.slack for item in lost if item.sent)
        where.append(f"Created >= '{created_since(start, dt.timedelta())}'")
    profiles = sorted({str(r.get("BillingProfileId") or "") for r in records})
    chunks: list[list[str]] = [
        profiles[i : i + _IN_CHUNK] for i in range(0, len(profiles), _IN_CHUNK)
    ]
    if "" in profiles:
        chunks = [[]]  # some rows have no profile: the time window alone narrows it
    found: list[dict[str, object]] = []
    for chunk in chunks:
        clause = list(where)
        if chunk:
            clause.append(f"BillingProfileId IN ({', '.join(quote(p) for p in chunk)})")
        query = f"SELECT {select} FROM {fields.ENTITY}"
        found += client.query(query + (f" WHERE {' AND '.join(clause)}" if clause else ""))
    return found


def quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
