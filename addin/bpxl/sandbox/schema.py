"""The sandbox's INVOICE fields, custom ones included, and its ENTITY and ENTITY_FIELD answers.

A real tenant has fields of its own; ``bpxl sandbox --custom-field PoNumber:text:40`` gives the
sandbox some, so that bpxl's reading of a tenant's fields can be tried end to end. The answers
follow what ``bpxl.describe`` assumes about the real ones (it owns those assumptions; the words
for data types come from there), so the two sides change together.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from typing import Any

from ..core import describe, fields
from ..core.fields import BUILT_IN, Catalogue, Field, FieldType
from .sql import QueryError

ENTITY_IDS = {describe.ENTITY_ENTITY: 1, describe.FIELD_ENTITY: 2, fields.ENTITY: 7}
REFERENCED_ENTITY = 9  # what the sandbox says an Id field (other than Id) points at
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")
_CONDITION = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*('(?:[^']|'')*'|-?\d+)\s*", re.ASCII)


def parse_custom_field(spec: str) -> Field:
    """``NAME:TYPE[:LENGTH][:required]``, e.g. ``PoNumber:text:40`` or ``Region:text::required``.
    TYPE is one of bpxl's cell types (text, integer, decimal, date, date-time, flag, picklist,
    id); LENGTH limits text."""
    parts = spec.split(":")
    kinds = ", ".join(t.value for t in FieldType)
    if not 2 <= len(parts) <= 4 or not _NAME.fullmatch(parts[0]):
        raise ValueError(
            f"--custom-field {spec!r}: write it as NAME:TYPE[:LENGTH][:required], "
            "e.g. PoNumber:text:40"
        )
    name, kind = parts[0], parts[1].strip().lower()
    if BUILT_IN.lookup(name) is not None:
        raise ValueError(f"--custom-field {spec!r}: {name} is a built-in Invoice field already")
    try:
        field_type = FieldType(kind)
    except ValueError:
        raise ValueError(f"--custom-field {spec!r}: the type is one of {kinds}") from None
    length_text = parts[2].strip() if len(parts) > 2 else ""
    if length_text and not length_text.isdigit():
        raise ValueError(f"--custom-field {spec!r}: the length is a whole number, e.g. 40")
    flag = parts[3].strip().lower() if len(parts) > 3 else ""
    if flag not in ("", "required"):
        raise ValueError(f"--custom-field {spec!r}: the last part can only be 'required'")
    return Field(
        name,
        field_type,
        f"Custom field {name} (sandbox)",
        label=re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name),
        length=int(length_text) if length_text else None,
        required=flag == "required",
        custom=True,
    )


def catalogue(custom: Sequence[Field] = ()) -> Catalogue:
    """The sandbox's fields: the built-in ones (BillingProfileId required, as the store checks),
    then the custom ones."""
    built_in = [
        dataclasses.replace(f, required=True) if f.name == "BillingProfileId" else f
        for f in BUILT_IN.fields
    ]
    return Catalogue([*built_in, *custom], fields.TENANT_SOURCE)


def entity_rows() -> list[dict[str, str]]:
    return [
        {"Id": str(number), "EntityName": name, "EntityLabel": name.title(), "ApiEnabled": "1"}
        for name, number in ENTITY_IDS.items()
    ]


def field_rows(known: Catalogue) -> list[dict[str, str]]:
    """INVOICE's fields as the sandbox's ENTITY_FIELD rows."""
    return [
        {
            "Id": str(1000 + number),
            "EntityId": str(ENTITY_IDS[fields.ENTITY]),
            "FieldName": f.name,
            "FieldLabel": f.label or re.sub(r"(?<=[a-z])(?=[A-Z])", " ", f.name),
            "DataType": describe.SPELLING[f.type],
            "DataLength": "" if f.length is None else str(f.length),
            "RequiredFlag": "1" if f.required else "0",
            "ApiAccessableFlag": "1" if f.api_writable else "0",
            "ReferencedEntityId": (
                str(REFERENCED_ENTITY) if f.type is FieldType.ID and f.name != fields.ID else ""
            ),
            "HelpContentShort": f.description,
            "DefaultValue": "",
            "SystemFlag": "0" if f.custom else "1",
            "HiddenFlag": "0",
        }
        for number, f in enumerate(known.fields, start=1)
    ]


def matching(rows: Iterable[dict[str, str]], condition: str) -> list[dict[str, Any]]:
    """The rows a ``queryAnsiSql`` condition of ``Column = value`` terms joined by AND selects."""
    rows = list(rows)
    columns = {name.casefold(): name for row in rows for name in row}
    wanted: list[tuple[str, str]] = []
    for term in re.split(r"\bAND\b", condition, flags=re.IGNORECASE):
        match = _CONDITION.fullmatch(term)
        if match is None:
            raise QueryError(f"the sandbox reads only Column = value terms here, not {term!r}")
        column = columns.get(match.group(1).casefold())
        if column is None:
            raise QueryError(f"{match.group(1)} is not a column here")
        value = match.group(2)
        wanted.append((column, value[1:-1].replace("''", "'") if value[0] == "'" else value))
    return [r for r in rows if all(r.get(c, "").casefold() == v.casefold() for c, v in wanted)]
