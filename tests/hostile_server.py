"""A server on loopback that answers exactly the bytes a test scripts: statuses, headers and
bodies the sandbox would never send (a trickle, a redirect elsewhere, a body larger than any
page, a Date without a zone, a connection cut mid-body).

Each request is handed to ``answer(request)``, which returns the pieces of the answer in order:
``bytes`` are sent as they are, a ``float`` is a pause in seconds, and ``None`` cuts the
connection there. Logins are answered for you unless ``answer_logins`` is False.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

Piece = bytes | float | None


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body) if self.body else None


@dataclass
class HostileServer:
    answer: Callable[[Request], Iterable[Piece]]
    answer_logins: bool = True
    requests: list[Request] = field(default_factory=list)
    session: str = "sess-hostile-0123456789"

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/t"

    @contextmanager
    def running(self) -> Iterator[HostileServer]:
        accepting = threading.Thread(target=self._accept, daemon=True)
        accepting.start()
        try:
            yield self
        finally:
            self._stop.set()
            accepting.join(5)
            for thread in self._threads:
                thread.join(5)
            self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        with conn:
            try:
                request = _read_request(conn)
            except (OSError, ValueError):
                return
            if request is None:
                return
            self.requests.append(request)
            if self.answer_logins and request.path.endswith("/login"):
                pieces: Iterable[Piece] = [ok_json({"loginResponse": [{
                    "ErrorCode": "0", "SessionID": self.session, "UserId": "1"}]})]  # fmt: skip
            elif self.answer_logins and request.path.endswith("/logout"):
                pieces = [ok_json({})]
            else:
                pieces = self.answer(request)
            try:
                for piece in pieces:
                    if self._stop.is_set():
                        return
                    if piece is None:
                        conn.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                        return
                    if isinstance(piece, float):
                        self._stop.wait(piece)
                    else:
                        conn.sendall(piece)
            except OSError:
                return


def _read_request(conn: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return Request(method, path, headers, body)


def head(status: int, headers: dict[str, str] | None = None, length: int | None = None) -> bytes:
    """A status line and headers (``Connection: close`` always; a Date unless one is given)."""
    lines = [f"HTTP/1.1 {status} X"]
    given = {k.lower() for k in headers or {}}
    if "date" not in given:
        lines.append(f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime())}")
    lines.append("Connection: close")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def ok_json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> bytes:
    payload = json.dumps(body).encode()
    kind = {"Content-Type": "application/json", **(headers or {})}
    return head(status, kind, len(payload)) + payload
