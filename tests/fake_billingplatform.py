"""A small fake BillingPlatform that misbehaves on cue, for what the sandbox does not script.

It keeps invoices in the sandbox's store (so queries work as there) but lets a test decide, write
by write, what the server does: store now, later or never, and answer with what status and body
(or drop the connection). Logins give session ids ``sess-N`` of user 1 and answers carry a Date.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bpxl.core.fields import BUILT_IN, Catalogue
from bpxl.core.results import Operation
from bpxl.sandbox.store import Store

_VERBS = {"POST": Operation.CREATE, "PUT": Operation.UPDATE, "PATCH": Operation.UPSERT}
_KEYS = {"POST": "createResponse", "PUT": "updateResponse", "PATCH": "upsertResponse"}


@dataclass
class Plan:
    """What the server does with one write request."""

    store: bool = True
    delay_s: float = 0.0  # store this long after answering (a server still working on it)
    status: int = 200  # 0: drop the connection with no answer
    answer_after_s: float = 0.0  # answer this long after storing (a client may give up first)
    body: Callable[[list[dict[str, str]], dict[str, str]], str] | None = None  # (items, headers)


Script = Callable[[int, list[dict[str, Any]]], Plan]
"""Called with the write's number (1, 2, ...) and its records."""

QueryScript = Callable[[int, str], int | None]
"""Called with the query's number (1, 2, ...) and its SQL before it is answered; a status (e.g.
400) answers it with that error instead."""


class QueriesAtOnce:
    """An ``on_query`` that holds each query ``hold_s`` (long enough for a second query to
    arrive if one was sent) and keeps the most answered at once."""

    def __init__(self, hold_s: float = 0.2) -> None:
        self.most = 0
        self._now = 0
        self._hold_s = hold_s
        self._lock = threading.Lock()

    def __call__(self, number: int, sql: str) -> None:
        with self._lock:
            self._now += 1
            self.most = max(self.most, self._now)
        time.sleep(self._hold_s)
        with self._lock:
            self._now -= 1


class FakeBillingPlatform:
    def __init__(self, script: Script, known: Catalogue = BUILT_IN) -> None:
        self.script = script
        self.store = Store(known=known)  # ``known``: a tenant's fields, its custom ones too
        self.writes: list[list[dict[str, Any]]] = []
        self.sessions: list[str] = []
        self.queries: list[str] = []  # the SQL of every query, paging clause included
        self.on_query: QueryScript | None = None
        self.clock: Callable[[], float] | None = None  # the server's time for its Date headers
        # How the server spells each queried record (its own Unicode form, flag words, ...).
        self.respell: Callable[[dict[str, str]], dict[str, str]] | None = None
        self.date: str | None = None  # the Date header as sent, whatever it says
        self._late: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        reported = self._server.handle_error

        def handle_error(request: Any, address: Any) -> None:
            if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that gave up
                reported(request, address)

        self._server.handle_error = handle_error  # type: ignore[method-assign]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/t"

    def apply(self, method: str, records: list[dict[str, Any]], headers: dict[str, str]) -> Any:
        with self._lock:
            self.writes.append(records)
            plan = self.script(len(self.writes), records)
        op = _VERBS[method]
        items: list[dict[str, str]] = []
        if plan.store and plan.delay_s:
            thread = threading.Thread(target=self._later, args=(plan.delay_s, op, records))
            self._late.append(thread)
            thread.start()
        elif plan.store:
            items = self.store.write(op, records, 1)
        if plan.answer_after_s:
            time.sleep(plan.answer_after_s)
        if plan.status == 0:
            return None
        body = plan.body(items, headers) if plan.body else json.dumps({_KEYS[method]: items})
        return plan.status, body

    def _later(self, delay: float, op: Operation, records: list[dict[str, Any]]) -> None:
        time.sleep(delay)
        self.store.write(op, records, 1)

    def ids(self) -> list[str]:
        return [r["Id"] for r in self.store.query("SELECT Id FROM INVOICE")]

    @contextmanager
    def running(self) -> Iterator[FakeBillingPlatform]:
        # A short poll: ``shutdown`` waits for the loop to notice, 0.5 s by default, per test.
        thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        try:
            yield self
        finally:
            for late in self._late:
                late.join()
            self._server.shutdown()
            self._server.server_close()


def _handler(fake: FakeBillingPlatform) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            sql = query["sql"][0] if "sql" in query else ""
            fake.queries.append(sql)
            status = fake.on_query(len(fake.queries), sql) if fake.on_query else None
            if status is not None:
                self._answer(status, json.dumps({"errors": [{"error_text": "Query refused"}]}))
                return
            rows = fake.store.query(sql) if sql else []
            rows = [fake.respell(r) for r in rows] if fake.respell else rows
            if rows:
                self._answer(200, json.dumps({"queryResponse": rows}))
            else:
                self._answer(404, json.dumps({"errors": [{"error_text": "No records found"}]}))

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.loads(raw) if raw else {}
            if self.path.endswith("/login"):
                session = f"sess-{len(fake.sessions) + 1}-{id(self)}"
                fake.sessions.append(session)
                item = {"ErrorCode": "0", "SessionID": session, "UserId": "1"}
                self._answer(200, json.dumps({"loginResponse": [item]}))
                return
            if self.path.endswith("/logout"):
                self._answer(200, "{}")
                return
            answer = fake.apply(self.command, body["brmObjects"], dict(self.headers.items()))
            if answer is None:
                self.close_connection = True
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                return
            self._answer(*answer)

        do_PUT = do_PATCH = do_POST

        def date_time_string(self, timestamp: float | None = None) -> str:
            if timestamp is None and fake.date is not None:
                return fake.date
            if timestamp is None and fake.clock is not None:
                timestamp = fake.clock()
            return super().date_time_string(timestamp)

        def _answer(self, status: int, text: str) -> None:
            payload = text.encode()
            try:
                self.send_response(status)  # adds the Date header
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up waiting: its affair

    return Handler
