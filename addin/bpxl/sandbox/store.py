"""The sandbox's records: INVOICE rows in SQLite, validated per record like the real API.

Every write request runs in one transaction, and each record gets its own answer item: a bad
record gets an ``ErrorCode``/``ErrorText``/``ErrorElementField`` while the others are stored. The
error codes are the sandbox's own (BillingPlatform's are not published): clients must only rely on
``"0"`` meaning success.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..core import fields
from ..core.fields import Catalogue, Field, FieldType
from ..core.results import Operation
from . import sql

TABLE = "invoice"
BILLING_PROFILES = range(101, 106)
_INTEGER_TYPES = {FieldType.ID, FieldType.FLAG, FieldType.INTEGER}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INTEGER = re.compile(r"-?\d+")

Item = dict[str, str]


class RecordError(Exception):
    """One record's refusal, as the API reports it."""

    def __init__(self, code: str, text: str, field: str = "") -> None:
        super().__init__(text)
        self.item: Item = {"ErrorCode": code, "ErrorText": text, "ErrorElementField": field}


def _ok(record_id: int, **extra: str) -> Item:
    return {
        "ErrorCode": "0",
        "ErrorText": "",
        "ErrorElementField": "",
        "Id": str(record_id),
        **extra,
    }


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _column(field: Field) -> str:
    return f'"{field.name}" {"INTEGER" if field.type in _INTEGER_TYPES else "TEXT"}'


def _schema(known: Catalogue) -> str:
    columns = ['"Id" INTEGER PRIMARY KEY AUTOINCREMENT']
    columns += [_column(f) for f in known.fields if f.name != fields.ID]
    return (
        f"CREATE TABLE IF NOT EXISTS {TABLE} ({', '.join(columns)});"
        "CREATE TABLE IF NOT EXISTS billing_profile (Id INTEGER PRIMARY KEY);"
        "INSERT OR IGNORE INTO billing_profile VALUES "
        f"{', '.join(f'({i})' for i in BILLING_PROFILES)};"
    )


class Store:
    """Thread-safe INVOICE storage: one SQLite connection, one transaction per request."""

    def __init__(self, path: str | Path | None = None, known: Catalogue = fields.BUILT_IN) -> None:
        self.known = known  # the sandbox's INVOICE fields, its custom ones included
        self._indexed: set[str] = set()  # fields with an index for upserts (``_index``)
        self._db = sqlite3.connect(
            ":memory:" if path is None else str(path), check_same_thread=False, isolation_level=None
        )
        self._lock = threading.Lock()
        if path is not None:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(_schema(known))
        have = {row[1] for row in self._db.execute(f"PRAGMA table_info({TABLE})")}
        for f in known.fields:  # a --db file made before a custom field was added
            if f.name not in have:
                self._db.execute(f"ALTER TABLE {TABLE} ADD COLUMN {_column(f)}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- writes ---------------------------------------------------------------------------------

    def write(
        self, op: Operation, records: Sequence[Any], user_id: int, external_id: str = fields.ID
    ) -> list[Item]:
        """Apply one request's records; one answer item per record, in order."""
        with self._transaction() as db:
            return [self._write_one(db, op, r, user_id, external_id) for r in records]

    def _write_one(
        self, db: sqlite3.Connection, op: Operation, record: Any, user_id: int, external_id: str
    ) -> Item:
        try:
            if not isinstance(record, dict):
                raise RecordError("INVALID_RECORD", "Each brmObjects item must be a JSON object")
            if op is Operation.CREATE:
                return self._insert(db, self._values(db, record, key=None), user_id)
            if op is Operation.UPDATE:
                return self._update(db, self._existing_id(db, record), record, user_id)
            return self._upsert(db, record, user_id, external_id)
        except RecordError as refused:
            return refused.item

    def _existing_id(self, db: sqlite3.Connection, record: dict[str, Any]) -> int:
        raw = record.get(fields.ID)
        if raw in (None, ""):
            raise RecordError("REQUIRED_FIELD", "Id is required to update a record", fields.ID)
        record_id = _as_int(fields.BY_NAME[fields.ID], raw)
        if db.execute(f'SELECT 1 FROM {TABLE} WHERE "Id" = ?', (record_id,)).fetchone() is None:
            raise RecordError("NOT_FOUND", f"No INVOICE with Id {record_id}", fields.ID)
        return record_id

    def _upsert(
        self, db: sqlite3.Connection, record: dict[str, Any], user_id: int, external_id: str
    ) -> Item:
        key_field = self.known.by_name.get(external_id)
        if key_field is None:
            raise RecordError(
                "INVALID_FIELD", f"externalIDFieldName {external_id} is not a field", external_id
            )
        if key_field.name == fields.ID:
            item = self._update(db, self._existing_id(db, record), record, user_id)
            return {**item, "created": "false"}
        self._index(db, key_field.name)
        key = record.get(key_field.name)
        if key in (None, ""):
            raise RecordError(
                "REQUIRED_FIELD", f"{key_field.name} is required to upsert", key_field.name
            )
        matches = db.execute(
            f'SELECT "Id" FROM {TABLE} WHERE "{key_field.name}" = ? LIMIT 2',
            (_stored(key_field, key),),
        ).fetchall()
        if len(matches) > 1:
            raise RecordError(
                "DUPLICATE_KEY",
                f"More than one INVOICE has {key_field.name} = {key}",
                key_field.name,
            )
        if matches:
            return {**self._update(db, matches[0][0], record, user_id), "created": "false"}
        return {**self._insert(db, self._values(db, record, key=None), user_id), "created": "true"}

    def _index(self, db: sqlite3.Connection, name: str) -> None:
        """An index on a field upserts match on, made at its first upsert: finding the record
        by its key stays quick as the table grows (as a real tenant's external ids are)."""
        if name not in self._indexed:
            db.execute(f'CREATE INDEX IF NOT EXISTS "upsert_{name}" ON {TABLE} ("{name}")')
            self._indexed.add(name)

    def _insert(self, db: sqlite3.Connection, values: dict[str, Any], user_id: int) -> Item:
        for field in self.known.required():
            if values.get(field.name) is None:
                raise RecordError(
                    "REQUIRED_FIELD", f"{field.name} is required to create an invoice", field.name
                )
        now = _now()
        values.update(Created=now, Updated=now, CreatedUserId=user_id, UpdatedUserId=user_id)
        names = ", ".join(f'"{n}"' for n in values)
        cursor = db.execute(
            f"INSERT INTO {TABLE} ({names}) VALUES ({', '.join('?' * len(values))})",
            list(values.values()),
        )
        assert cursor.lastrowid is not None
        return _ok(cursor.lastrowid)

    def _update(
        self, db: sqlite3.Connection, record_id: int, record: dict[str, Any], user_id: int
    ) -> Item:
        values = self._values(db, record, key=fields.ID)
        values.update(Updated=_now(), UpdatedUserId=user_id)
        assignments = ", ".join(f'"{n}" = ?' for n in values)
        db.execute(
            f'UPDATE {TABLE} SET {assignments} WHERE "Id" = ?', [*values.values(), record_id]
        )
        return _ok(record_id)

    def _values(
        self, db: sqlite3.Connection, record: dict[str, Any], key: str | None
    ) -> dict[str, Any]:
        """Check every field of a record and turn it into column values; "" or null clears."""
        values: dict[str, Any] = {}
        for name, raw in record.items():
            field = self.known.by_name.get(name)
            if field is None:
                raise RecordError("INVALID_FIELD", f"INVOICE has no field named {name}", name)
            if name == key:
                continue
            if field.read_only:
                if raw in (None, ""):
                    continue
                raise RecordError("READ_ONLY_FIELD", f"{name} is read-only", name)
            values[name] = None if raw in (None, "") else _stored(field, raw)
        profile = values.get("BillingProfileId")
        if (
            profile is not None
            and db.execute("SELECT 1 FROM billing_profile WHERE Id = ?", (profile,)).fetchone()
            is None
        ):
            raise RecordError(
                "INVALID_REFERENCE",
                f"BillingProfileId {profile} does not exist",
                "BillingProfileId",
            )
        return values

    # -- reads ----------------------------------------------------------------------------------

    def get(self, record_id: int) -> dict[str, str] | None:
        rows = self._select(sql.where_clause(f"Id = {int(record_id)}", TABLE, self.known))
        return rows[0] if rows else None

    def query(self, text: str) -> list[dict[str, str]]:
        """Rows for ``GET query?sql=``; raises ``sql.QueryError`` for text it cannot run."""
        return self._select(sql.select(text, TABLE, self.known))

    def query_where(self, text: str) -> list[dict[str, str]]:
        """Rows for ``GET INVOICE?queryAnsiSql=``."""
        return self._select(sql.where_clause(text, TABLE, self.known))

    def _select(self, query: sql.Query) -> list[dict[str, str]]:
        with self._lock:
            rows = self._db.execute(query.sql, query.params).fetchall()
        return [
            {name: _text(value) for name, value in zip(query.columns, row, strict=True)}
            for row in rows
        ]

    def delete(self, records: Sequence[Any]) -> list[Item]:
        with self._transaction() as db:
            return [self._delete_one(db, r) for r in records]

    def _delete_one(self, db: sqlite3.Connection, record: Any) -> Item:
        try:
            raw = record.get(fields.ID) if isinstance(record, dict) else None
            record_id = self._existing_id(db, {fields.ID: raw})
        except RecordError as refused:
            return refused.item
        db.execute(f'DELETE FROM {TABLE} WHERE "Id" = ?', (record_id,))
        return _ok(record_id)

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0])


def _as_int(field: Field, raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).isdigit():
        raise RecordError(
            "INVALID_VALUE", f"{field.name} must be a whole number, not {raw!r}", field.name
        )
    return int(raw)


def _stored(field: Field, raw: Any) -> Any:
    """A JSON value as the column stores it; a value of the wrong type refuses the record."""
    if field.type is FieldType.ID:
        return _as_int(field, raw)
    if field.type is FieldType.INTEGER:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and _INTEGER.fullmatch(raw):
            return int(raw)
        raise RecordError(
            "INVALID_VALUE", f"{field.name} must be a whole number, not {raw!r}", field.name
        )
    if field.type is FieldType.FLAG:
        if raw in ("0", "1", 0, 1, True, False):
            return int(raw)
        raise RecordError("INVALID_VALUE", f"{field.name} must be 0 or 1, not {raw!r}", field.name)
    if field.type is FieldType.DATE:
        if isinstance(raw, str) and _DATE.fullmatch(raw):
            try:
                return dt.date.fromisoformat(raw).isoformat()
            except ValueError:
                pass
        raise RecordError(
            "INVALID_VALUE", f"{field.name} must be a date YYYY-MM-DD, not {raw!r}", field.name
        )
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        raise RecordError("INVALID_VALUE", f"{field.name} must be text, not {raw!r}", field.name)
    if field.length is not None and len(str(raw)) > field.length:
        raise RecordError(
            "TOO_LONG",
            f"{field.name} takes at most {field.length} characters, not {len(str(raw))}",
            field.name,
        )
    text = str(raw)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: a Java server holds it in its UTF-16 text
        return text.encode("utf-8", "surrogatepass")
    return text


def _text(value: Any) -> str:
    """A stored value as the API answers it (text kept with a lone surrogate comes back so)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogatepass")
    return "" if value is None else str(value)
