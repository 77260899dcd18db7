"""The sandbox's ``respell`` fault: a query answer with the same values spelled as another server
may spell them, so that bpxl's lookups are tried against what they must see through
(``core/spelling.py``): text in Unicode NFD with Windows line ends, flags as ``Yes``/``No``,
dates as date-times at midnight, decimals with a ``.0``. Ids, whole numbers and stamps are left
as they are (a server that spells those otherwise is not known of)."""

from __future__ import annotations

import unicodedata
from typing import Any

from ..core.fields import Catalogue, FieldType

_TEXT = (FieldType.TEXT, FieldType.PICKLIST)


def respelled(row: dict[str, Any], known: Catalogue) -> dict[str, Any]:
    out = dict(row)
    for name, value in row.items():
        field = known.by_name.get(name)
        if field is None or value in (None, ""):
            continue
        text = str(value)
        if field.type in _TEXT:
            out[name] = unicodedata.normalize("NFD", text).replace("\n", "\r\n")
        elif field.type is FieldType.FLAG:
            out[name] = {"1": "Yes", "0": "No"}.get(text, text)
        elif field.type is FieldType.DATE and len(text) == 10:
            out[name] = f"{text}T00:00:00.000Z"
        elif field.type is FieldType.DECIMAL and "." not in text:
            out[name] = f"{text}.0"
    return out
