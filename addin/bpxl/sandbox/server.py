"""The sandbox's HTTP server: BillingPlatform REST 2.0, as far as bpxl uses it, on loopback.

Routes live under ``/{tenant}/rest/2.0/``: ``login``, ``logout``, ``INVOICE`` (POST create, PUT
update, PATCH upsert, GET by id or ``?queryAnsiSql=``), ``query?sql=`` and ``delete/INVOICE``,
``ENTITY?queryAnsiSql=`` and ``ENTITY_FIELD?queryAnsiSql=`` (INVOICE's fields, see ``schema``); plus
``/{tenant}/auth/1.0/authenticate`` for OAuth client credentials. Every route but the logins needs
a ``sessionid`` header or an ``Authorization: Bearer`` token.

Each login is a user with its own number (``demo`` is 1, ``extra_users`` 2, 3, ...): the login
answer carries it as ``UserId`` and every invoice records it as ``CreatedUserId``, so a test can
have another user create invoices beside ours.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import secrets
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, unquote, urlsplit

from ..core import describe, fields
from ..core.fields import Field
from ..core.results import Operation
from . import schema
from .faults import Fault, FaultPlan
from .respell import respelled
from .sql import QueryError
from .store import Store

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_CREDENTIALS = ("sessionid", "authorization")
# How often the serving loop looks for a stop: `stop` (every test's teardown) waits up to this long.
_POLL_S = 0.05
_WRITES = {"POST": Operation.CREATE, "PUT": Operation.UPDATE, "PATCH": Operation.UPSERT}
_ANSWER = {
    Operation.CREATE: "createResponse",
    Operation.UPDATE: "updateResponse",
    Operation.UPSERT: "upsertResponse",
}


@dataclass
class SandboxConfig:
    """Everything ``bpxl sandbox`` takes on its command line."""

    host: str = "127.0.0.1"
    port: int = 8787
    tenant: str = "sandbox"
    db: Path | None = None
    username: str = "demo"
    password: str = "demo"
    extra_users: dict[str, str] = field(default_factory=dict)  # more logins: name -> password
    allow_remote: bool = False
    faults: FaultPlan = field(default_factory=FaultPlan)
    request_log: Path | None = None
    log_fields: bool = False  # add each record's field names to the request log (tests)
    custom_fields: tuple[Field, ...] = ()  # INVOICE fields of this tenant's own (--custom-field)
    refused_entities: tuple[str, ...] = ()  # entities this user may not read (--refuse-entity)


class Sandbox:
    """A running sandbox: start it, read ``url``, stop it. Used by the CLI, the tests and push."""

    def __init__(self, config: SandboxConfig) -> None:
        if config.host not in LOOPBACK_HOSTS and not config.allow_remote:
            raise ValueError(
                f"--host {config.host} is not a loopback address; the sandbox has a well-known "
                "password, so it only listens on this machine unless you add --allow-remote"
            )
        self.config = config
        self.known = schema.catalogue(config.custom_fields)
        self.store = Store(config.db, self.known)
        self._sessions: dict[str, int] = {}
        self.issued: list[str] = []  # every session id and token handed out (tests look for leaks)
        self.broken: list[str] = []  # requests that ended in an exception, by its type (tests wait)
        self._sessions_lock = threading.Lock()
        self._late: list[threading.Thread] = []  # writes a store-late fault is still working on
        self._log: IO[str] | None = (
            open(config.request_log, "a", encoding="utf-8") if config.request_log else None  # noqa: SIM115
        )
        self._log_lock = threading.Lock()
        self._server = _Server((config.host, config.port), _Handler, sandbox=self)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL to give ``--url``, e.g. ``http://127.0.0.1:8787/sandbox``."""
        host, port = self._server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/{self.config.tenant}"

    def start(self) -> Sandbox:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=_POLL_S)

    def stop(self) -> None:
        for late in list(self._late):
            late.join()
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join()
        if self._log:
            self._log.close()
        self.store.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- sessions -------------------------------------------------------------------------------

    def users(self) -> list[dict[str, str]]:
        """The tenant's users as its ``USER`` entity answers: each login's number and name."""
        logins = [self.config.username, *self.config.extra_users]
        return [{"Id": str(n), "UserName": name} for n, name in enumerate(logins, start=1)]

    def login(self, username: object, password: object) -> tuple[str, int] | None:
        """A new session id and the user's number, or None for a wrong login."""
        if not (isinstance(username, str) and isinstance(password, str)):
            return None
        logins = [(self.config.username, self.config.password), *self.config.extra_users.items()]
        user = 0
        for number, (name, expected) in enumerate(logins, start=1):
            # As bytes: compare_digest refuses str with non-ASCII letters (a user named Müller).
            if secrets.compare_digest(username.encode(), name.encode()) and secrets.compare_digest(
                password.encode(), expected.encode()
            ):
                user = user or number
        if not user:
            return None
        token = secrets.token_urlsafe(24)
        with self._sessions_lock:
            self._sessions[token] = user
            self.issued.append(token)
        return token, user

    def store_later(self, work: Any) -> None:
        """Run ``work`` (a write whose answer was lost) after the store-late delay."""

        def late() -> None:
            time.sleep(self.config.faults.store_late_s)
            work()
            with self._sessions_lock:
                self._late.remove(thread)

        thread = threading.Thread(target=late, daemon=True)
        with self._sessions_lock:
            self._late.append(thread)
        thread.start()

    def user_for(self, token: str | None) -> int | None:
        with self._sessions_lock:
            return self._sessions.get(token or "")

    def logout(self, token: str | None) -> None:
        with self._sessions_lock:
            self._sessions.pop(token or "", None)

    def log_request(
        self, method: str, path: str, records: int, status: int, names: list[list[str]]
    ) -> None:
        """One JSON line per request; status 0 means the connection was dropped unanswered.

        With ``log_fields``, a fifth key ``fields`` lists each record's field names, so tests can
        check that a minimal update sent only what changed."""
        if self._log is None:
            return
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "records": records,
            "status": status,
        }
        if self.config.log_fields:
            entry["fields"] = names
        line = json.dumps(entry)
        with self._log_lock:
            self._log.write(line + "\n")
            self._log.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], handler: type, *, sandbox: Sandbox) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.sandbox = sandbox
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (killed, Ctrl+C) is normal: no traceback on the terminal."""
        failure = sys.exc_info()[1]
        self.sandbox.broken.append(type(failure).__name__)
        if not isinstance(failure, ConnectionError):
            super().handle_error(request, client_address)


class _Dropped(Exception):
    """Raised to end a request with no answer at all (an injected connection reset)."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections, as with the real API
    # Headers and body go out in two writes; with Nagle's algorithm the second waits for the
    # client's delayed ACK, adding 40 ms to every answer on a kept-alive connection.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request stderr line; ``--request-log`` is the log."""

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header, by a clock ``skew`` away from the one that stamps Created."""
        if timestamp is None:
            timestamp = time.time() + self.server.sandbox.config.faults.skew_s
        return super().date_time_string(timestamp)

    # Every verb goes through one dispatcher.
    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        self._records = 0
        self._names: list[list[str]] = []
        self._status = 0
        self._logged = False
        self._lost: Fault | None = None
        try:
            body = self._read_body()
            route = self._route(parts.path)
            if route not in ("login", "logout", "authenticate"):
                self._inject_fault_before()  # may set _lost
            status, answer, extra_headers = self._handle(route, parse_qs(parts.query), body)
            if self._lost is Fault.RESET_AFTER:
                raise _Dropped
            if self._lost is Fault.GATEWAY_TIMEOUT:
                page = b"<html><title>504 Gateway Time-out</title></html>"
                self._send_raw(504, page, "text/html")
                raise _Handled
            self._send(status, answer, extra_headers)
        except _Handled:
            pass  # a fault already answered
        except _Dropped:
            self._drop()
        except OSError:
            self.close_connection = True  # the client went away mid-request
        except Exception as failure:  # a sandbox bug must still answer, as a real server would
            self._send(500, _errors("500", f"Internal error: {type(failure).__name__}"))
        finally:
            self._log()

    def _log(self) -> None:
        """Log the request once, before the client can see its answer (tests read the log)."""
        if not self._logged:
            self._logged = True
            path = urlsplit(self.path).path
            self.server.sandbox.log_request(
                self.command, path, self._records, self._status, self._names
            )

    # -- plumbing -------------------------------------------------------------------------------

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            body = json.loads(raw)
        except ValueError:
            return _BadJson()
        objects = _objects(body)
        self._records = 0 if objects is None else len(objects)
        self._names = [sorted(o) for o in objects or [] if isinstance(o, dict)]
        return body

    def _route(self, path: str) -> str:
        prefix = f"/{self.server.sandbox.config.tenant}/"
        if not path.startswith(prefix):
            return "unknown"
        rest = unquote(path[len(prefix) :]).rstrip("/")
        if rest == "auth/1.0/authenticate":
            return "authenticate"
        if not rest.startswith("rest/2.0/"):
            return "unknown"
        return rest[len("rest/2.0/") :]

    def _inject_fault_before(self) -> None:
        plan = self.server.sandbox.config.faults
        if wait := plan.over_rate():
            text = f"Too many requests: at most {plan.max_rate:g} a second; slow down"
            self._send(429, _errors("429", text), {"Retry-After": str(math.ceil(wait))})
            raise _Handled
        if plan.latency_s:
            time.sleep(plan.latency_s)
        fault = plan.draw()
        self._lost = fault if fault.answer_lost else None
        if fault is Fault.RESET_BEFORE:
            raise _Dropped
        if fault is Fault.TOO_MANY:
            self._send(429, _errors("429", "Too many requests; slow down"), {"Retry-After": "1"})
            raise _Handled
        if fault is Fault.UNAVAILABLE:
            self._send_raw(503, b"Service Unavailable", "text/plain")
            raise _Handled
        if (
            fault is Fault.ECHO
        ):  # a careless error text, as some app servers write: credentials first
            headers = sorted(self.headers.items(), key=lambda h: h[0].lower() not in _CREDENTIALS)
            echoed = "; ".join(f"{name}: {value}" for name, value in headers)
            self._send_raw(500, f"Internal error for request with {echoed}".encode(), "text/plain")
            raise _Handled

    def _send(self, status: int, answer: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(answer).encode()
        self._send_raw(status, payload, "application/json; charset=utf-8", headers)

    def _send_raw(
        self, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self._status = status
        self._log()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _drop(self) -> None:
        """Reset the connection: no status line, no body (SO_LINGER 0 sends a TCP RST)."""
        self._status = 0
        self._log()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    # -- routes ---------------------------------------------------------------------------------

    def _handle(
        self, route: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any, dict[str, str] | None]:
        sandbox = self.server.sandbox
        if isinstance(body, _BadJson):
            return 400, _errors("400", "The request body is not valid JSON"), None
        if route == "login" and self.command == "POST":
            return self._login(body)
        if route == "authenticate" and self.command == "POST":
            return self._authenticate()
        token = self.headers.get("sessionid")
        auth = self.headers.get("Authorization", "")
        if not token and auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        user = sandbox.user_for(token)
        if user is None:
            return 401, _errors("401", "Not logged in or session expired; log in again"), None
        if route == "logout" and self.command == "POST":
            sandbox.logout(token)
            return 200, {"logoutResponse": [{"ErrorCode": "0", "ErrorText": ""}]}, None
        if route == fields.ENTITY and self.command in _WRITES:
            return self._write(_WRITES[self.command], body, user)
        if route == f"delete/{fields.ENTITY}" and self.command == "DELETE":
            objects = _objects(body)
            if objects is None:
                return 400, _errors("400", "The body needs brmObjects"), None
            return 200, {"deleteResponse": sandbox.store.delete(objects)}, None
        if self.command == "GET":
            return self._read(route, query)
        return 404, _errors("404", f"No such resource: {self.command} {route}"), None

    def _login(self, body: Any) -> tuple[int, Any, None]:
        body = body if isinstance(body, dict) else {}
        session = self.server.sandbox.login(body.get("username"), body.get("password"))
        if session is None:
            item = {"ErrorCode": "1", "ErrorText": "Invalid username or password", "SessionID": ""}
            return 401, {"loginResponse": [item]}, None
        token, user = session
        item = {"ErrorCode": "0", "ErrorText": "", "SessionID": token, "UserId": str(user)}
        return 200, {"loginResponse": [item]}, None

    def _authenticate(self) -> tuple[int, Any, None]:
        auth = self.headers.get("Authorization", "")
        try:
            decoded = (
                base64.b64decode(auth[6:]).decode() if auth.lower().startswith("basic ") else ""
            )
        except ValueError:
            decoded = ""
        client_id, _, secret = decoded.partition(":")
        session = self.server.sandbox.login(client_id, secret)
        if session is None:
            return 401, {"error": "invalid_client"}, None
        token, user = session
        answer = {"access_token": token, "token_type": "Bearer", "expires_in": 3600}
        return 200, {**answer, "user_id": str(user)}, None

    def _write(self, op: Operation, body: Any, user: int) -> tuple[int, Any, None]:
        objects = _objects(body)
        if objects is None:
            return (
                400,
                _errors("400", "The body needs brmObjects: an object or a list of them"),
                None,
            )
        external_id = (
            body.get("externalIDFieldName", fields.ID) if op is Operation.UPSERT else fields.ID
        )
        store = self.server.sandbox.store
        if self._lost is not None and self.server.sandbox.config.faults.store_late_s:
            key = str(external_id)
            self.server.sandbox.store_later(lambda: store.write(op, objects, user, key))
            return 200, {_ANSWER[op]: []}, None  # never seen: the answer is lost
        items = store.write(op, objects, user, str(external_id))
        return 200, {_ANSWER[op]: items}, None

    def _read(self, route: str, query: dict[str, list[str]]) -> tuple[int, Any, None]:
        store = self.server.sandbox.store
        try:
            if route == "query" and "sql" in query:
                rows = store.query(query["sql"][0])
                if self.server.sandbox.config.faults.draw_respell():
                    rows = [respelled(row, self.server.sandbox.known) for row in rows]
                key = "queryResponse"
            elif route == fields.ENTITY and "queryAnsiSql" in query:
                rows = store.query_where(query["queryAnsiSql"][0])
                key = "retrieveResponse"
            elif route == fields.USER_ENTITY and "queryAnsiSql" in query:
                if route in self.server.sandbox.config.refused_entities:
                    return 403, _errors("403", f"You do not have access to {route}"), None
                rows = schema.matching(self.server.sandbox.users(), query["queryAnsiSql"][0])
                key = "retrieveResponse"
            elif route in schema.ENTITY_IDS and route != fields.ENTITY:
                if route.upper() in self.server.sandbox.config.refused_entities:
                    return 403, _errors("403", f"You do not have access to {route}"), None
                rows = schema.matching(self._describe(route), query.get("queryAnsiSql", [""])[0])
                key = "retrieveResponse"
            elif route.startswith(f"{fields.ENTITY}/") and route.split("/", 1)[1].isdigit():
                found = store.get(int(route.split("/", 1)[1]))
                rows = [found] if found else []
                key = "retrieveResponse"
            else:
                return 404, _errors("404", f"No such resource: GET {route}"), None
        except QueryError as bad:
            return 400, _errors("400", f"Query not understood: {bad}"), None
        if not rows:
            return 404, _errors("404", "No records found"), None
        return 200, {key: rows}, None

    def _describe(self, route: str) -> list[dict[str, str]]:
        if route == describe.ENTITY_ENTITY:
            return schema.entity_rows()
        return schema.field_rows(self.server.sandbox.known)


class _Handled(Exception):
    """The fault already answered the request; nothing more to send."""


class _BadJson:
    """Marks a body that was sent but is not JSON."""


def _objects(body: Any) -> list[Any] | None:
    objects = body.get("brmObjects") if isinstance(body, dict) else None
    if isinstance(objects, dict):
        return [objects]
    return objects if isinstance(objects, list) else None


def _errors(code: str, text: str) -> dict[str, Any]:
    return {"errors": [{"error_code": code, "error_text": text}]}
