"""Key-field mode: the create key kept by BillingPlatform itself, in a text field of the tenant.

The ledger only knows what was created on this computer. When the tenant's administrator adds
one custom text field to INVOICE for bpxl (``FIELD_TYPE``, at least ``create_key.LONGEST``
characters) and the profile names it (``bpxl connect NAME --key-field FIELD``), every create is
sent as an upsert on that field (``PATCH`` with ``externalIDFieldName``), holding the row's create
key. BillingPlatform then finds or creates by the key (assumed: docs/api-notes.md), so a resend, a
rerun, a copy pushed elsewhere or a colleague's push meets the invoice already made instead of
making another. Before a create is sent its key is looked for (one query per ``CHUNK`` keys): an
invoice found is not touched, and the row says ``Exists`` with its Id; a create whose answer was
lost is looked up by its key, exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from . import create_key, fields
from .answers import positive_id
from .client import Client
from .fields import Catalogue, FieldType

FIELD_TYPE = FieldType.TEXT
CHUNK = 100  # keys per query: about 4,500 characters of URL, under the usual 8 KB limits


@dataclass(frozen=True)
class Found:
    """An invoice holding a create key: its Id, who made it and when (as the server says)."""

    id: str
    user: str | None
    created: str

    def made_by(self, me: str | None) -> bool:
        """Whether the user we are logged in as made it (unknown user: it cannot be told)."""
        return me is not None and self.user == me

    def described(self) -> str:
        """``Id 1042, created 2026-12-07T16:40:02Z by user 3``."""
        when = f", created {self.created}" if self.created else ""
        who = f" by user {self.user}" if self.user else ""
        return f"Id {self.id}{when}{who}"


def problem(catalogue: Catalogue, name: str) -> str | None:
    """Why the tenant's field ``name`` cannot hold create keys, or None when it can."""
    field = catalogue.lookup(name)
    if field is None:
        return f"the tenant has no Invoice field named {name}"
    if not field.custom:
        return f"{field.name} is one of BillingPlatform's own Invoice fields, not one for bpxl"
    if field.type is not FIELD_TYPE:
        return f"{field.name} is a {field.type.value} field; it must be a text field"
    if field.length is not None and field.length < create_key.LONGEST:
        return (
            f"{field.name} takes {field.length} characters; create keys need {create_key.LONGEST}"
        )
    if not field.writable:
        return f"the tenant does not let the API write {field.name}"
    return None


def setup_text() -> str:
    """What the administrator adds, in one sentence (for messages and the README)."""
    return (
        f"a custom Invoice field of type Text, at least {create_key.LONGEST} characters long, "
        "that nothing else writes"
    )


def lookup(
    client: Client, field: str, keys: Iterable[str], concurrency: int = 1
) -> dict[str, list[Found]]:
    """The invoices holding each of ``keys`` in ``field`` (one query per ``CHUNK`` keys, up to
    ``concurrency`` at once); a key without any is left out. Raises ``BpxlError`` when a query
    fails."""
    wanted = [k for k in dict.fromkeys(keys) if create_key.PATTERN.fullmatch(k)]
    asked = set(wanted)
    parts = [wanted[i : i + CHUNK] for i in range(0, len(wanted), CHUNK)]
    found: dict[str, list[Found]] = {}
    if not parts:
        return found

    def one(part: Sequence[str]) -> list[dict[str, object]]:
        listed = ", ".join(f"'{k}'" for k in part)  # keys are hex digits and a dash: no quoting
        sql = (
            f"SELECT Id, Created, CreatedUserId, {field} FROM {fields.ENTITY} "
            f"WHERE {field} IN ({listed})"
        )
        return list(client.query(sql))

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(parts)))) as pool:
        for rows in pool.map(one, parts):
            for row in rows:
                record_id = positive_id(row.get(fields.ID))
                key = str(row.get(field) or "").strip()
                if record_id is None or key not in asked:
                    continue
                user = positive_id(row.get("CreatedUserId"))
                found.setdefault(key, []).append(
                    Found(record_id, user, str(row.get("Created") or ""))
                )
    return found
