"""Finding out what an unanswered create did, so that no invoice is ever created twice.

A create whose answer was lost (a timeout, a dropped connection, a server error) may or may not
have saved its records, and the API has no idempotency key. Sending it again blindly could
duplicate invoices, so we look first: one query for the invoices created since just before the
batch went out, matched to the rows on every field the row sets.

- One match, not already claimed by another row: the row was created; we take that Id.
- No match: the create never happened, so sending it now is safe.
- Anything else (several matches, rows identical to each other, no time window to look in): the
  row stays Unknown and its message lists what was found, for the user to decide.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from . import fields
from .client import Client
from .errors import BpxlError
from .fields import FieldType

# Our estimate of the server's clock comes from 1-second Date headers; look a little further back.
CLOCK_MARGIN = dt.timedelta(minutes=2)
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


def created_since(since: dt.datetime) -> str:
    """The ``Created`` bound as the query compares it: ISO 8601 UTC, a clock margin earlier."""
    return (since - CLOCK_MARGIN).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def reconcile(
    client: Client,
    records: Mapping[int, Mapping[str, object]],
    since: dt.datetime | None,
    claimed: Collection[str] = (),
) -> dict[int, Finding]:
    """What became of each row's create: ``records`` maps sheet rows to the records sent.

    ``since`` is the server time just before the first of them went out (None when unknown: then
    a match may be an older invoice, so it is reported, never taken). ``claimed`` holds the Ids
    other rows of the run already own.
    """
    if not records:
        return {}
    if since is None and any(not r.get("BillingProfileId") for r in records.values()):
        reason = "the send time is not known and the row has no BillingProfileId to look it up by"
        return {row: _unsure(reason) for row in records}
    try:
        found = _candidates(client, records.values(), since)
    except BpxlError as failure:
        reason = f"looking it up in BillingPlatform failed ({failure.message})"
        return {row: _unsure(reason) for row in records}
    groups: dict[tuple[tuple[str, str], ...], list[int]] = defaultdict(list)
    for row, record in records.items():
        groups[_key(record)].append(row)
    # Rows that leave fields blank compare on fewer fields, so one invoice can match rows of
    # several groups: it is then nobody's for certain.
    indexes: dict[tuple[str, ...], dict[tuple[tuple[str, str], ...], list[str]]] = {}
    matches: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for key in groups:
        names = tuple(name for name, _ in key)
        if names not in indexes:
            index = indexes[names] = defaultdict(list)
            for candidate in found:
                if (cid := str(candidate.get(fields.ID))) not in claimed:
                    index[_key(candidate, names)].append(cid)
        matches[key] = indexes[names].get(key, [])
    groups_per_id = Counter(cid for ids in matches.values() for cid in ids)
    findings: dict[int, Finding] = {}
    for key, rows in groups.items():
        shared = any(groups_per_id[cid] > 1 for cid in matches[key])
        for row in rows:
            findings[row] = _judge(matches[key], rows, since is not None and not shared)
    return findings


def _judge(ids: list[str], rows: list[int], windowed: bool) -> Finding:
    if not ids:
        return Finding(Verdict.ABSENT)
    listed = ", ".join(ids[:_IDS_SHOWN]) + (" ..." if len(ids) > _IDS_SHOWN else "")
    if len(rows) > 1:
        others = ", ".join(str(r) for r in rows)
        return _unsure(
            f"rows {others} hold the same values and BillingPlatform has {len(ids)} such "
            f"invoice(s) (Id {listed}), so which row was created cannot be told"
        )
    if len(ids) == 1 and windowed:
        return Finding(Verdict.FOUND, ids[0])
    if len(ids) == 1:
        return _unsure(f"invoice Id {listed} has this row's values but may be another row's")
    return _unsure(f"{len(ids)} invoices have this row's values (Id {listed})")


def _unsure(reason: str) -> Finding:
    return Finding(
        Verdict.UNSURE,
        message=(
            f"Row: sent, but no answer came, and {reason}; check in BillingPlatform, then put "
            "the invoice's Id in the Id column and Created in Result, or clear Result to send "
            "the row again"
        ),
    )


def _candidates(
    client: Client, records: Iterable[Mapping[str, object]], since: dt.datetime | None
) -> list[dict[str, object]]:
    """Invoices that could be the rows': created in the window, for the rows' billing profiles."""
    records = list(records)
    names = sorted({name for record in records for name in record} - {fields.ID, "Created"})
    select = ", ".join([fields.ID, "Created", *names])
    where = [f"Created >= '{created_since(since)}'"] if since else []
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
            clause.append(f"BillingProfileId IN ({', '.join(_quote(p) for p in chunk)})")
        found += client.query(f"SELECT {select} FROM {fields.ENTITY} WHERE {' AND '.join(clause)}")
    return found


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _key(
    record: Mapping[str, object], names: Iterable[str] | None = None
) -> tuple[tuple[str, str], ...]:
    """The row's values as the server would echo them, for matching (Id and stamps aside)."""
    names = sorted(record) if names is None else names
    return tuple((name, _comparable(name, record.get(name))) for name in names if name != fields.ID)


def _comparable(name: str, value: object) -> str:
    """One spelling per value: dates by day, flags as 1/0, numbers without trailing zeros."""
    if value is None:
        return ""
    text = str(value).strip()
    field = fields.BY_NAME.get(name)
    kind = field.type if field else FieldType.TEXT
    if kind is FieldType.DATE:
        return text[:10]
    if kind is FieldType.DATETIME:
        return text[:19]
    if kind is FieldType.FLAG:
        return {"true": "1", "false": "0"}.get(text.lower(), text)
    if kind in (FieldType.INTEGER, FieldType.DECIMAL, FieldType.ID) and text:
        try:
            return format(decimal.Decimal(text).normalize(), "f")
        except decimal.InvalidOperation:
            return text
    return text
