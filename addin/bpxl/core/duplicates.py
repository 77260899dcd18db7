"""Before a create: does BillingPlatform already hold an invoice with a row's values?

The ledger knows what was created on this computer; a copy of the workbook pushed on another
computer, or by a colleague from their own bpxl, leaves no trace here. So before creating rows,
bpxl asks for the invoices created in the last ``BPXL_DUPLICATE_DAYS`` days (default 7; 0 turns
the check off), by anyone, for the rows' billing profiles, and compares them with each row on
every field the row sets, as ``spelling`` compares values. One query asks for all of them when
there are at most ``ALL_AT_ONCE`` (a tenant's usual week: one request for the whole push, where
BillingPlatform allows 15 a second); beyond that, one query per batch, narrowed to the batch's
own values, brings back only its matches. A row with such
an invoice is not created (``Exists``): its Message names the invoice found (Id, who, when) and
how to create it all the same. The row does not get that Id: two invoices with the same values
may be a coincidence.

Invoices whose Id the sheet already holds are its rows' own (a sheet may hold two identical
invoices on purpose), and are never a reason to refuse another row. What the check found also
tells the lookup of a lost create which matching invoices existed before the send, so that the
lookup may allow minutes of clock difference without taking one of those for the row's
(``reconcile``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from . import fields, settings
from .answers import positive_id
from .client import Client
from .fields import Catalogue, FieldType
from .reconcile import quote
from .spelling import values_key

DAYS_ENV = "BPXL_DUPLICATE_DAYS"
DEFAULT_DAYS = 7.0
# Types whose values a server compares as sent; and the longest clause a query URL carries well.
_NARROWING = (FieldType.TEXT, FieldType.PICKLIST, FieldType.ID, FieldType.INTEGER, FieldType.DATE)
_LONGEST_CLAUSE = 4000
_IN_CHUNK = 200  # BillingProfileId values per query (a batch has at most this many rows' worth)
ALL_AT_ONCE = 5_000  # invoices in the window read in one query; more: a narrow query per batch


@dataclass(frozen=True)
class Same:
    """An invoice that holds a row's values: its Id, who made it and when (server time)."""

    id: str
    user: str | None
    created: dt.datetime | None

    def described(self, me: str | None) -> str:
        """``Id 1042, created by user 7 on 2026-03-04 at 10:05`` (local time)."""
        who = "you" if self.user is not None and self.user == me else f"user {self.user or '?'}"
        when = self.created.astimezone().strftime(" on %Y-%m-%d at %H:%M") if self.created else ""
        return f"Id {self.id}, created by {who}{when}"


def days() -> float:
    """How many days back the check looks (``BPXL_DUPLICATE_DAYS``; 0: no check). Raises
    ``UsageError`` for a value that is not such a number (``-1`` is no way to turn it off)."""
    return settings.number(DAYS_ENV, DEFAULT_DAYS, "days", zero=True, most=settings.MOST_DAYS)


def look(
    client: Client,
    records: Mapping[int, Mapping[str, object]],
    catalogue: Catalogue,
    owned: Collection[str],
    batch_size: int,
    concurrency: int,
) -> dict[int, list[Same]]:
    """Each row's invoices created in the last ``days()`` with all of its values, not ``owned``
    (the sheet's own Ids): one query per ``batch_size`` rows, ``concurrency`` at a time. Raises
    ``BpxlError`` when a query fails."""
    span = days()
    if not span or not records:
        return {}
    since = client.server_now() - dt.timedelta(days=span)
    everything = _whole_window(client, records, since)
    if everything is not None:
        return _match(records, everything, catalogue, owned)
    rows = sorted(records)
    batches = [
        {r: records[r] for r in rows[i : i + batch_size]} for i in range(0, len(rows), batch_size)
    ]

    def batch_same(batch: Mapping[int, Mapping[str, object]]) -> dict[int, list[Same]]:
        return _match(batch, _query(client, batch, since, catalogue), catalogue, owned)

    with ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="bpxl-same") as pool:
        found = list(pool.map(batch_same, batches))
    return {row: same for part in found for row, same in part.items()}


def _whole_window(
    client: Client, records: Mapping[int, Mapping[str, object]], since: dt.datetime
) -> list[dict[str, object]] | None:
    """Every invoice made in the window for the rows' profiles, when there are at most
    ``ALL_AT_ONCE``; None when there are more (read no further)."""
    found = client.query_page(_select(records, since), ALL_AT_ONCE + 1)
    return found if len(found) <= ALL_AT_ONCE else None


def _query(
    client: Client,
    records: Mapping[int, Mapping[str, object]],
    since: dt.datetime,
    catalogue: Catalogue,
) -> list[dict[str, object]]:
    """The batch's one query (the client asks a failed query again itself)."""
    return list(client.query(_select(records, since, _narrowing(records, catalogue))))


def _select(
    records: Mapping[int, Mapping[str, object]],
    since: dt.datetime,
    narrowing: str | None = None,
) -> str:
    """The query for invoices made since ``since`` that may hold one of ``records``' values:
    of their profiles and, given the ``narrowing`` clause, with one of its values."""
    names = sorted({n for r in records.values() for n in r})
    select = ", ".join(dict.fromkeys([fields.ID, "Created", "CreatedUserId", *names]))
    stamp = since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    where = [f"Created >= '{stamp}'"]
    profiles = sorted({str(r.get("BillingProfileId") or "") for r in records.values()})
    if "" not in profiles and len(profiles) <= _IN_CHUNK:
        where.append(f"BillingProfileId IN ({', '.join(quote(p) for p in profiles)})")
    if narrowing:
        where.append(narrowing)
    return f"SELECT {select} FROM {fields.ENTITY} WHERE {' AND '.join(where)}"


def _narrowing(records: Mapping[int, Mapping[str, object]], catalogue: Catalogue) -> str | None:
    """The most selective ``FIELD IN (...)`` the batch allows: a field every row sets, whose
    values (as sent: an invoice made from a copy holds them as sent) fit in one clause, the
    most distinct first, text before a number, Id or date (a file name or a reference is one
    invoice's; many invoices share a due date). Without it, a busy tenant's query
    would bring back every invoice of the batch's profiles made in the window."""
    best: tuple[tuple[int, bool, int], str] | None = None
    shared = set.intersection(*(set(r) for r in records.values()))
    for name in sorted(shared - {fields.ID, "BillingProfileId"}):  # the profiles narrow already
        field = catalogue.by_name.get(name)
        if field is None or field.type not in _NARROWING:
            continue
        values = sorted({str(r[name]) for r in records.values()})
        if "" in values:
            continue
        numbers = field.type is FieldType.INTEGER and all(v.lstrip("-").isdigit() for v in values)
        clause = f"{name} IN ({', '.join(v if numbers else quote(v) for v in values)})"
        if len(clause) > _LONGEST_CLAUSE:
            continue
        rank = (len(values), field.type is FieldType.TEXT, -len(clause))
        if best is None or rank > best[0]:
            best = (rank, clause)
    return best[1] if best else None


def _match(
    records: Mapping[int, Mapping[str, object]],
    candidates: list[dict[str, object]],
    catalogue: Catalogue,
    owned: Collection[str],
) -> dict[int, list[Same]]:
    index: dict[tuple[str, ...], dict[tuple[tuple[str, str], ...], list[Same]]] = {}
    same: dict[int, list[Same]] = {}
    for row, record in records.items():
        names = tuple(n for n in sorted(record) if n != fields.ID)
        if names not in index:
            by_values = index[names] = defaultdict(list)
            for candidate in candidates:
                found = _same(candidate)
                if found is not None and found.id not in owned:
                    by_values[values_key(candidate, catalogue, names)].append(found)
        if index[names] and (hits := index[names].get(values_key(record, catalogue))):
            same[row] = hits
    return same


def _same(candidate: Mapping[str, object]) -> Same | None:
    found = positive_id(candidate.get(fields.ID))
    if found is None:
        return None
    try:
        created: dt.datetime | None = dt.datetime.fromisoformat(
            str(candidate.get("Created")).strip()  # "Z" for UTC too (Python 3.11)
        )
    except ValueError:
        created = None
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    return Same(found, positive_id(candidate.get("CreatedUserId")), created)
