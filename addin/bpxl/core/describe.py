"""A tenant's own INVOICE fields, read from BillingPlatform's ``ENTITY`` and ``ENTITY_FIELD``.

BillingPlatform describes itself through the same REST API as the records: ``ENTITY`` lists the
entities, ``ENTITY_FIELD`` their fields with label, data type, length, required flag and whether
the API may use them. A tenant's custom fields, its lengths and its required flags are facts only
the tenant has, so bpxl reads them when it connects (at most once a day per connection, cached in
bpxl's data folder) and passes the resulting ``Catalogue`` through the core.

What these answers look like is **assumed** until seen on a real tenant (docs/api-notes.md). Every
assumption about them lives in this module, in the block marked ASSUMPTIONS below, and nowhere
else; the sandbox answers with the same spellings (it imports them from here), so a correction made
here moves both sides. When the tenant refuses these entities or lacks them, bpxl works with its
built-in catalogue and says so in one line.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from . import fields
from .client import Client
from .errors import ApiConnectionError, ApiError
from .fields import BUILT_IN, Catalogue, Field, FieldType

MAX_AGE = dt.timedelta(days=1)  # a tenant's fields are read again after a day
CACHE_VERSION = 1

# -- ASSUMPTIONS about the metadata answers (see docs/api-notes.md) --------------------------------
# Confirmed: the entities ENTITY and ENTITY_FIELD exist and are read like any entity, with
# GET /rest/2.0/{entity}?queryAnsiSql=<condition>, answering retrieveResponse; the column names
# below are those of the public reference. Everything else here is assumed.

ENTITY_ENTITY = "ENTITY"
FIELD_ENTITY = "ENTITY_FIELD"
# Assumed: ENTITY's EntityName holds the API name ("INVOICE"), and ENTITY_FIELD's EntityId points
# at ENTITY's Id.
ENTITY_CONDITION = f"EntityName = '{fields.ENTITY}'"
FIELDS_CONDITION = "EntityId = {entity_id}"

# Assumed: the words DataType takes. Keys are compared in capitals without spaces, dashes or
# underscores ("Date Time" == "DATE_TIME" == "DATETIME"). A word not here is read as text, with a
# note (or, for a built-in field, as bpxl's own guess for it).
DATA_TYPES: dict[str, FieldType] = {
    **dict.fromkeys(
        ["TEXT", "STRING", "VARCHAR", "CHAR", "TEXTAREA", "LONGTEXT", "EMAIL", "URL", "PHONE"],
        FieldType.TEXT,
    ),
    **dict.fromkeys(
        ["NUMBER", "NUMERIC", "DECIMAL", "FLOAT", "DOUBLE", "CURRENCY", "MONEY", "PERCENT"],
        FieldType.DECIMAL,
    ),
    **dict.fromkeys(["INTEGER", "INT", "LONG", "WHOLENUMBER"], FieldType.INTEGER),
    "DATE": FieldType.DATE,
    **dict.fromkeys(["DATETIME", "TIMESTAMP"], FieldType.DATETIME),
    **dict.fromkeys(["FLAG", "BOOLEAN", "CHECKBOX", "YESNO"], FieldType.FLAG),
    **dict.fromkeys(["PICKLIST", "SELECT", "LIST", "DROPDOWN", "ENUM"], FieldType.PICKLIST),
    **dict.fromkeys(["LOOKUP", "REFERENCE", "ID", "KEY", "FOREIGNKEY"], FieldType.ID),
}
# How the sandbox spells each type in its ENTITY_FIELD answers (one of the words above).
SPELLING: dict[FieldType, str] = {
    FieldType.TEXT: "TEXT",
    FieldType.DECIMAL: "NUMBER",
    FieldType.INTEGER: "INTEGER",
    FieldType.DATE: "DATE",
    FieldType.DATETIME: "DATETIME",
    FieldType.FLAG: "FLAG",
    FieldType.PICKLIST: "PICKLIST",
    FieldType.ID: "LOOKUP",
}
# Assumed: flags come as 1/0, "1"/"0", true/false or Y/N; a missing ApiAccessableFlag means the
# API may use the field, a missing RequiredFlag that it is optional.
_TRUE = frozenset({"1", "TRUE", "Y", "YES"})
# Assumed: DataLength is the longest text a text or picklist field takes (0 or blank: no limit);
# for other types it is not a character limit and is ignored.
_LENGTH_TYPES = frozenset({FieldType.TEXT, FieldType.PICKLIST})
# Assumed: a field with a ReferencedEntityId points at another record and holds its Id.
# Assumed: ENTITY_FIELD lists the built-in fields beside the custom ones. If it lists none of
# bpxl's built-in fields (only custom ones, say), the built-in catalogue is kept and the tenant's
# fields are added to it. Id is always kept: it identifies the row whatever the tenant lists.
# Assumed: which fields are set by the system is not in ENTITY_FIELD (SystemFlag may mean "not
# custom"); bpxl keeps its built-in read-only marks. Picklist values are not in ENTITY_FIELD
# either: built-in picklists keep bpxl's known values, a custom picklist takes any text.
# -------------------------------------------------------------------------------------------------


class Refused(Exception):
    """The tenant would not describe INVOICE (no access, or no such entities); says why."""


def _flag(value: object, default: bool) -> bool:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    return str(value).strip().upper() in _TRUE


def _length(value: object) -> int | None:
    try:
        length = int(str(value).strip())
    except ValueError:
        return None
    return length if length > 0 else None


def _type_word(value: object) -> str:
    return re.sub(r"[^A-Z]", "", str(value or "").upper())


def to_field(row: Mapping[str, Any], notes: list[str]) -> Field | None:
    """One ENTITY_FIELD row as a field (None for a row without a FieldName); type problems are
    added to ``notes``."""
    name = str(row.get("FieldName") or "").strip()
    if not name:
        return None
    known = BUILT_IN.by_name.get(name)
    word = _type_word(row.get("DataType"))
    referenced = str(row.get("ReferencedEntityId") or "").strip() not in ("", "0")
    kind = FieldType.ID if referenced else DATA_TYPES.get(word)
    if kind is None:
        kind = known.type if known else FieldType.TEXT
        notes.append(
            f"{name}: BillingPlatform's type {row.get('DataType')!r} is not one bpxl knows; "
            f"its cells are read as {kind.value}"
        )
    label = str(row.get("FieldLabel") or "").strip()
    help_text = str(row.get("HelpContentShort") or "").strip()
    return Field(
        name,
        kind,
        help_text or (known.description if known else label or name),
        read_only=known.read_only if known else False,
        picklist=known.picklist if known and kind is FieldType.PICKLIST else (),
        label=label,
        length=_length(row.get("DataLength")) if kind in _LENGTH_TYPES else None,
        required=_flag(row.get("RequiredFlag"), False) and name != fields.ID,
        api_writable=_flag(row.get("ApiAccessableFlag"), True) or name == fields.ID,
        custom=known is None,
    )


def catalogue_from(rows: Iterable[Mapping[str, Any]]) -> Catalogue:
    """The tenant's catalogue from its ENTITY_FIELD rows for INVOICE.

    Column order: bpxl's built-in order for the built-in fields the tenant has, the tenant's own
    fields after the writable ones, the read-only ones last.
    """
    notes: list[str] = []
    read = [f for row in rows if (f := to_field(row, notes)) is not None]
    if not read:
        raise Refused("the tenant lists no Invoice fields")
    tenant = {f.name: f for f in read}
    built_in_listed = any(name in tenant for name in BUILT_IN.by_name if name != fields.ID)
    if not built_in_listed:
        notes.append(
            "BillingPlatform listed only fields bpxl does not know, so its built-in Invoice "
            "fields are kept beside them"
        )
    kept = [
        tenant.get(f.name, f)
        for f in BUILT_IN.fields
        if f.name in tenant or f.name == fields.ID or not built_in_listed
    ]
    custom = [f for f in read if f.custom]
    first = [f for f in kept if not f.read_only or f.name == fields.ID]  # Id leads, as built in
    ordered = first + custom + [f for f in kept if f not in first]
    return Catalogue(ordered, fields.TENANT_SOURCE, notes)


def read(client: Client) -> Catalogue:
    """The tenant's INVOICE fields; ``Refused`` when it will not or cannot say."""
    try:
        entities = client.retrieve_where(ENTITY_ENTITY, ENTITY_CONDITION)
        invoice = next(
            (e for e in entities if str(e.get("EntityName", "")).upper() == fields.ENTITY), None
        )
        entity_id = str((invoice or {}).get("Id") or "").strip()
        if not entity_id.isdigit():
            raise Refused("the tenant does not list Invoice among its records")
        rows = client.retrieve_where(FIELD_ENTITY, FIELDS_CONDITION.format(entity_id=entity_id))
    except ApiError as refused:
        why = f"the tenant refused to list its Invoice fields (HTTP {refused.status})"
        raise Refused(why) from None
    return catalogue_from(rows)


# -- the daily cache -------------------------------------------------------------------------------


def cache_file(folder: Path, key: str) -> Path:
    """One file per connection (a profile's name, or a URL), named safely for any file system."""
    readable = re.sub(r"[^A-Za-z0-9_-]+", "-", key).strip("-")[:40] or "tenant"
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return folder / f"{readable}-{digest}.json"


def _encode(catalogue: Catalogue, now: dt.datetime) -> str:
    rows = [{**dataclasses.asdict(f), "type": f.type.value} for f in catalogue.fields]
    return json.dumps(
        {
            "version": CACHE_VERSION,
            "read": now.isoformat(),
            "source": catalogue.source,
            "notes": list(catalogue.notes),
            "fields": rows,
        },
        indent=1,
    )


def _decode(text: str) -> tuple[dt.datetime, Catalogue]:
    data = json.loads(text)
    if data.get("version") != CACHE_VERSION:
        raise ValueError("another version's cache")
    found = [
        Field(**{**row, "type": FieldType(row["type"]), "picklist": tuple(row["picklist"])})
        for row in data["fields"]
    ]
    return dt.datetime.fromisoformat(data["read"]), Catalogue(found, data["source"], data["notes"])


def cached(folder: Path, key: str, now: dt.datetime | None = None) -> Catalogue | None:
    """The catalogue last read for ``key`` if it is less than a day old (no request is sent)."""
    now = now or dt.datetime.now(dt.UTC)
    try:
        read_at, catalogue = _decode(cache_file(folder, key).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none yet, or unreadable: read the tenant again
    return catalogue if dt.timedelta(0) <= now - read_at < MAX_AGE else None


def load(client: Client, folder: Path, key: str, *, refresh: bool = False) -> Catalogue:
    """The catalogue for this connection: from the cache when fresh (and not ``refresh``), else
    read from the tenant and cached; the built-in one, with a note, when the tenant refuses."""
    now = dt.datetime.now(dt.UTC)
    if not refresh and (found := cached(folder, key, now)) is not None:
        return found
    try:
        catalogue = read(client)
    except Refused as why:
        catalogue = fallback(str(why))
    except ApiConnectionError as lost:
        if not lost.sent:
            raise  # the tenant cannot be reached at all: the run stops with that message
        return fallback("the tenant's description of its fields was lost on the way")
    folder.mkdir(parents=True, exist_ok=True)
    cache_file(folder, key).write_text(_encode(catalogue, now), encoding="utf-8")
    return catalogue


def fallback(why: str) -> Catalogue:
    """The built-in catalogue, with a one-line note saying why it is the one in use."""
    return Catalogue(
        BUILT_IN.fields, fields.BUILT_IN_SOURCE, [f"Using bpxl's built-in Invoice fields: {why}."]
    )
