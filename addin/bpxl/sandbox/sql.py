"""The sandbox's query language: enough of BillingPlatform's SQL for what bpxl sends.

``SELECT cols FROM INVOICE [WHERE cond] [ORDER BY col [ASC|DESC]]
[OFFSET n ROWS FETCH NEXT m ROWS ONLY]``, where ``cond`` combines ``=, <>, !=, <, >, <=, >=``,
``IN (...)``, ``IS [NOT] NULL``, ``LIKE``, ``NOT``, ``AND``, ``OR`` and parentheses. The text is
parsed into parameterised SQLite, so identifiers are checked against the field catalogue and values
are never pasted into SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..core import fields
from ..core.fields import Catalogue

MAX_PAGE = 10_000  # api-notes: pages of at most 10,000 rows

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op><>|!=|<=|>=|[=<>(),*])"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)


class QueryError(ValueError):
    """The query is not one the sandbox understands; the message says where."""


@dataclass
class Query:
    """A parsed query, ready for SQLite: ``sql`` with ``params``, and the columns it returns."""

    columns: list[str]
    sql: str
    params: list[object]


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip().rstrip(";")
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise QueryError(f"cannot read the query near: {text[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class _Parser:
    def __init__(self, text: str, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.tokens = _tokens(text)
        self.pos = 0
        self.params: list[object] = []

    def peek(self, offset: int = 0) -> tuple[str, str]:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else ("end", "")

    def next(self) -> tuple[str, str]:
        token = self.peek()
        self.pos += 1
        return token

    def at_word(self, *words: str) -> bool:
        kind, value = self.peek()
        return kind == "word" and value.upper() in words

    def expect_word(self, word: str) -> None:
        kind, value = self.next()
        if kind != "word" or value.upper() != word:
            raise QueryError(f"expected {word}, found {value or 'the end'}")

    def expect_op(self, op: str) -> None:
        kind, value = self.next()
        if kind != "op" or value != op:
            raise QueryError(f"expected {op!r}, found {value or 'the end'}")

    def column(self) -> str:
        kind, value = self.next()
        field = self.catalogue.lookup(value.split(".")[-1]) if kind == "word" else None
        if field is None:
            raise QueryError(f"{value or 'the end'} is not an INVOICE field")
        return field.name

    def value(self) -> None:
        kind, value = self.next()
        if kind == "str":
            self.params.append(value[1:-1].replace("''", "'"))
        elif kind == "num":
            self.params.append(float(value) if "." in value else int(value))
        elif kind == "word" and value.upper() == "NULL":
            self.params.append(None)
        else:
            raise QueryError(f"expected a value, found {value or 'the end'}")

    def condition(self) -> str:
        parts = [self.conjunction()]
        while self.at_word("OR"):
            self.next()
            parts.append(self.conjunction())
        return " OR ".join(parts)

    def conjunction(self) -> str:
        parts = [self.factor()]
        while self.at_word("AND"):
            self.next()
            parts.append(self.factor())
        return " AND ".join(parts)

    def factor(self) -> str:
        if self.at_word("NOT"):
            self.next()
            return f"NOT ({self.factor()})"
        if self.peek() == ("op", "("):
            self.next()
            inner = self.condition()
            self.expect_op(")")
            return f"({inner})"
        column = f'"{self.column()}"'
        if self.at_word("IS"):
            self.next()
            negate = self.at_word("NOT")
            if negate:
                self.next()
            self.expect_word("NULL")
            return f"{column} IS {'NOT ' if negate else ''}NULL"
        negate = self.at_word("NOT")
        if negate:
            self.next()
        if self.at_word("IN"):
            self.next()
            self.expect_op("(")
            count = 0
            while True:
                self.value()
                count += 1
                if self.peek() == ("op", ","):
                    self.next()
                    continue
                self.expect_op(")")
                break
            return f"{column} {'NOT ' if negate else ''}IN ({', '.join('?' * count)})"
        if self.at_word("LIKE"):
            self.next()
            self.value()
            return f"{column} {'NOT ' if negate else ''}LIKE ?"
        if negate:
            raise QueryError("NOT must be followed by IN or LIKE here")
        kind, op = self.next()
        if kind != "op" or op not in {"=", "<>", "!=", "<", ">", "<=", ">="}:
            raise QueryError(f"expected a comparison after {column}, found {op or 'the end'}")
        self.value()
        return f"{column} {'<>' if op == '!=' else op} ?"

    def integer(self) -> int:
        kind, value = self.next()
        if kind != "num" or not value.isdigit():
            raise QueryError(f"expected a whole number, found {value or 'the end'}")
        return int(value)

    def paging(self) -> str:
        """``OFFSET n ROWS FETCH NEXT m ROWS ONLY`` (or FETCH FIRST), pages capped at MAX_PAGE."""
        offset, limit = 0, MAX_PAGE
        if self.at_word("OFFSET"):
            self.next()
            offset = self.integer()
            if self.at_word("ROWS", "ROW"):
                self.next()
        if self.at_word("FETCH"):
            self.next()
            if not self.at_word("NEXT", "FIRST"):
                raise QueryError("expected FETCH NEXT n ROWS ONLY")
            self.next()
            limit = min(self.integer(), MAX_PAGE)
            if self.at_word("ROWS", "ROW"):
                self.next()
            self.expect_word("ONLY")
        return f" LIMIT {limit} OFFSET {offset}"

    def order(self) -> str:
        if not self.at_word("ORDER"):
            return ' ORDER BY "Id"'
        self.next()
        self.expect_word("BY")
        column = self.column()
        direction = "ASC"
        if self.at_word("ASC", "DESC"):
            direction = self.next()[1].upper()
        return f' ORDER BY "{column}" {direction}, "Id"'

    def end(self) -> None:
        if self.peek()[0] != "end":
            raise QueryError(f"unexpected {self.peek()[1]!r} at the end of the query")


def where_clause(text: str, table: str, catalogue: Catalogue = fields.BUILT_IN) -> Query:
    """``GET INVOICE?queryAnsiSql=``: a bare condition, every field returned."""
    parser = _Parser(text, catalogue)
    condition = parser.condition()
    parser.end()
    columns = [f.name for f in catalogue.fields]
    sql = f'SELECT {", ".join(map(_quote, columns))} FROM {table} WHERE {condition} ORDER BY "Id"'
    return Query(columns, sql, parser.params)


def select(text: str, table: str, catalogue: Catalogue = fields.BUILT_IN) -> Query:
    """``GET query?sql=``: a SELECT naming its columns from one entity."""
    parser = _Parser(text, catalogue)
    parser.expect_word("SELECT")
    if parser.peek() == ("op", "*"):
        raise QueryError("name the columns to select; SELECT * is not allowed")
    columns = [parser.column()]
    while parser.peek() == ("op", ","):
        parser.next()
        columns.append(parser.column())
    parser.expect_word("FROM")
    kind, entity = parser.next()
    if kind != "word" or entity.upper() != fields.ENTITY:
        raise QueryError(f"the sandbox only knows {fields.ENTITY}, not {entity or 'nothing'}")
    condition = ""
    if parser.at_word("WHERE"):
        parser.next()
        condition = f" WHERE {parser.condition()}"
    sql = f"SELECT {', '.join(map(_quote, columns))} FROM {table}{condition}"
    sql += parser.order() + parser.paging()
    parser.end()
    return Query(columns, sql, parser.params)


def _quote(name: str) -> str:
    return f'"{name}"'
