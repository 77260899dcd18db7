"""Worksheet functions: ``=BP_INVOICE(id, field)``, ``=BP_QUERY(sql)`` and ``=BP_FIELDS()``.

Excel calls them through the add-in's VBA wrappers and xlwings' UDF server, a Python process that
lives as long as Excel; each answers at once and writes its value when it has it (``ASYNC``).
They read from the connection chosen with Connect... (the embedded sandbox until then), opened
once and kept. An invoice is fetched once per recalculation, however many cells
ask for its fields. Every problem comes back as readable text in the cell, never as #VALUE!.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import xlwings as xw

from ..core import fields, profiles
from ..core.client import Client
from ..core.connection import open_profile, profile_catalogue
from ..core.errors import BpxlError

CACHE_S = 2.0  # one recalculation's worth: cells of one invoice share one request
# Each function answers "#N/A waiting..." at once and writes its value when BillingPlatform has
# answered (xlwings' threading mode): a slow tenant never holds Excel's recalculation, nor a call
# from Excel past its OLE time-out.
ASYNC = "threading"


class _Reader:
    """The UDF server's one connection and its short-lived cache of invoices."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stack: ExitStack | None = None
        self._client: Client | None = None
        self._profile = ""
        self._cache: dict[str, tuple[float, dict[str, Any] | None]] = {}

    def client(self) -> Client:
        with self._lock:
            wanted = profiles.active()
            if self._client is None or wanted != self._profile:
                self.close()
                self._stack = ExitStack()
                self._client = self._stack.enter_context(open_profile(wanted)).client
                self._profile = wanted
                self._cache.clear()
            return self._client

    def invoice(self, record_id: str) -> dict[str, Any] | None:
        client = self.client()  # first: a connection chosen since empties the cache
        now = time.monotonic()
        cached = self._cache.get(record_id)
        if cached and now - cached[0] < CACHE_S:
            return cached[1]
        found = client.retrieve(record_id)
        self._cache[record_id] = (now, found)
        return found

    def close(self) -> None:
        if self._stack is not None:
            self._stack.close()
        self._stack, self._client = None, None


READER = _Reader()


def _as_cell(compute: Callable[[], object]) -> object:
    """A BpxlError becomes the cell's text, starting with #BPXL so it can be found and filtered."""
    try:
        return compute()
    except BpxlError as error:
        return f"#BPXL: {error.message}" + (f" {error.hint}" if error.hint else "")


def invoice_field(reader: _Reader, record_id: object, field: object) -> object:
    known = profile_catalogue(profiles.active()).lookup(field)
    if known is None:
        return f"#BPXL: {field!r} is not an Invoice field. =BP_FIELDS() lists them."
    if isinstance(record_id, float) and record_id.is_integer():
        record_id = int(record_id)  # Excel hands every number over as a float
    text = str(record_id if record_id is not None else "").strip()
    if not text.isdigit():
        return f"#BPXL: {record_id!r} is not an invoice Id (digits only)."
    found = reader.invoice(text)
    if found is None:
        return f"#BPXL: there is no invoice {text}."
    value = found.get(known.name)
    return "" if value is None else value


def query_table(reader: _Reader, sql: object) -> list[list[object]]:
    rows = list(reader.client().query(str(sql)))
    if not rows:
        return [["(no rows)"]]
    header = list(rows[0])
    return [header, *([row.get(name, "") for name in header] for row in rows)]


def fields_table() -> list[list[object]]:
    """The fields of the connected tenant (read at most once a day), as ``bpxl fields`` lists
    them; a note on where they come from, when there is one, below them."""
    catalogue = profile_catalogue(profiles.active())
    return fields.table(catalogue) + [[note, *[""] * 6] for note in catalogue.notes]


# The worksheet functions carry no type hints on purpose: xlwings reads hints as converters.


# What Excel's Function Wizard shows for each argument (the add-in's build writes them into its
# VBA, with each function's first docstring line, through Application.MacroOptions).
ARGUMENTS = {
    "BP_INVOICE": ("The invoice's Id, e.g. A2", 'The field\'s name, e.g. "Status"'),
    "BP_QUERY": ('A query in BillingPlatform\'s SQL, e.g. "SELECT Id, Status FROM INVOICE"',),
    "BP_FIELDS": (),
}


@xw.func(async_mode=ASYNC)
def BP_INVOICE(record_id, field):  # type: ignore[no-untyped-def]
    """One field of one invoice, live from BillingPlatform."""
    return _as_cell(lambda: invoice_field(READER, record_id, field))


@xw.func(async_mode=ASYNC)
def BP_QUERY(sql):  # type: ignore[no-untyped-def]
    """A query's rows as a table with a header row, e.g. =BP_QUERY("SELECT Id, Status FROM
    INVOICE WHERE BillingProfileId = 101")."""
    return _as_cell(lambda: query_table(READER, sql))


@xw.func(async_mode=ASYNC)
def BP_FIELDS():  # type: ignore[no-untyped-def]
    """The Invoice fields in use: name, label, type, length, required, writable, origin."""
    return _as_cell(fields_table)
