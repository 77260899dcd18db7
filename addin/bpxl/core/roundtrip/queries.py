"""The round trip's queries: invoices by the user's condition or by Ids, and their stamps.

Before a round-trip send, one query per ``IN_CHUNK`` Ids reads the server's current ``Updated``
stamps; a row changed on the server since the pull is a ``Conflict`` and is not sent, unless the
user chooses to overwrite.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence

from .. import fields
from ..client import Client
from ..errors import BpxlError
from .pull_memory import UPDATED

IN_CHUNK = 500  # Ids per query


def query(client: Client, names: Sequence[str], where: str | None = None,
          ids: Sequence[str] | None = None) -> Iterator[dict[str, object]]:  # fmt: skip
    """Invoices by a where clause or by Ids (chunked), with Id, Updated and ``names``."""
    select = ", ".join(dict.fromkeys([fields.ID, UPDATED, *names]))
    base = f"SELECT {select} FROM {fields.ENTITY}"
    if ids is None:
        # In brackets, so that the user's condition cannot reach into the paging bpxl adds.
        yield from client.query(f"{base} WHERE ({where})" if where else base)
        return
    for start in range(0, len(ids), IN_CHUNK):
        chunk = ", ".join(f"'{i}'" for i in ids[start : start + IN_CHUNK] if i.isdigit())
        if chunk:
            yield from client.query(f"{base} WHERE {fields.ID} IN ({chunk})")


def conflicts(client: Client, expected: Mapping[str, str]) -> dict[str, str]:
    """Invoice Id -> a message, for invoices whose server stamp is no longer ``expected``: who
    changed it (by name when the tenant says) and when, in the user's local time."""
    found: dict[str, str] = {}
    seen: set[str] = set()
    names = _UserNames(client)
    for record in query(client, ["UpdatedUserId"], ids=list(expected)):
        invoice = str(record.get(fields.ID))
        seen.add(invoice)
        stamp = str(record.get(UPDATED) or "")
        if stamp != expected[invoice]:
            who = record.get("UpdatedUserId")
            by = f" by {names.name(str(who))}" if who not in (None, "") else ""
            found[invoice] = (
                f"Invoice {invoice} was changed in BillingPlatform{by} {local_time(stamp)} since "
                "it was pulled, so it was not sent; pull it again (bpxl pull --ids-from-sheet) "
                "or send with --overwrite"
            )
    for invoice in expected:
        if invoice not in seen:
            found[invoice] = (
                f"Invoice {invoice} is no longer in BillingPlatform (deleted, or not "
                "visible to you), so it was not sent"
            )
    return found


def local_time(stamp: str) -> str:
    """A server's time stamp as the user reads it: ``at 17:40 on 2026-12-07 (your time)``; a
    stamp without a zone is UTC (docs/api-notes.md); one that cannot be read is shown as is."""
    try:
        when = dt.datetime.fromisoformat(stamp.strip())
    except ValueError:
        return f"at {stamp}" if stamp else "recently"
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone().strftime("at %H:%M on %Y-%m-%d (your time)")


class _UserNames:
    """User numbers to names, asked of the tenant once per user; ``user 2`` when it will not say
    (a user who may not read the USER entity, a server without it)."""

    def __init__(self, client: Client) -> None:
        self._client, self._known = client, dict[str, str]()

    def name(self, user: str) -> str:
        if user not in self._known:
            self._known[user] = f"user {user}"
            if user.isdigit():
                try:
                    rows = self._client.retrieve_where(fields.USER_ENTITY, f"Id = {user}")
                except BpxlError:
                    rows = []
                name = str(rows[0].get(fields.USER_NAME) or "").strip() if rows else ""
                if name:
                    self._known[user] = f"{name} (user {user})"
        return self._known[user]


def stamps(client: Client, ids: Iterable[str]) -> dict[str, str]:
    """The server's current Updated stamp of each invoice."""
    return {
        str(r.get(fields.ID)): str(r.get(UPDATED) or "") for r in query(client, [], ids=list(ids))
    }
