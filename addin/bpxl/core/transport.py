"""The guards under the client's HTTP requests that requests and urllib3 do not give.

- **A deadline for the whole answer.** urllib3's read timeout counts between two bytes, so a
  server (or a proxy) that trickles one byte every two seconds held a push for ever. Each request
  is an ``Exchange``: when its deadline passes, a watchdog shuts the request's socket down, the
  read in progress fails at once, and no retry starts.
- **A size limit.** An answer is read in pieces, counted as they come (after gzip), and refused
  past ``max_bytes`` instead of being held whole in memory (a 300 MB answer took 900 MB).
- **Whether the request may have left.** Only a connection that never opened means that nothing
  can have been stored; a read timeout, a reset or a deadline after the connection opened means the
  server may have stored the records (``Exchange.left``), whatever urllib3's last retry says.

The deadline and the limit are stated in ``ANSWER_DEADLINE_S`` and ``MAX_ANSWER_MB`` and may be set
with the environment variables ``BPXL_ANSWER_SECONDS`` and ``BPXL_ANSWER_MB``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError
from urllib3.poolmanager import PoolManager, ProxyManager

from . import settings

ANSWER_DEADLINE_S = 600.0  # the server gives up on a batch after 400 s; an answer then streams
MAX_ANSWER_MB = 64.0  # a page of 10,000 invoices is 10 to 20 MB
DEADLINE_ENV = "BPXL_ANSWER_SECONDS"
SIZE_ENV = "BPXL_ANSWER_MB"

_current = threading.local()


def answer_deadline() -> float:
    """Seconds a request may take, from sending it to the last byte of its answer."""
    return settings.number(DEADLINE_ENV, ANSWER_DEADLINE_S, "seconds")


def max_answer_bytes() -> int:
    """The largest answer read, in bytes."""
    return int(settings.number(SIZE_ENV, MAX_ANSWER_MB, "megabytes") * 1024 * 1024)


class Exchange:
    """One request and its answer, watched: ``with Exchange(seconds): ...`` on the thread that
    sends it. ``expired`` once the deadline passed (its sockets are then shut down); ``left``
    once the request may have reached the server."""

    def __init__(self, deadline_s: float) -> None:
        self.deadline_s = deadline_s
        self.expired = False
        self.left = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(deadline_s, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Exchange:
        _current.exchange = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            self._sockets.clear()  # the connection goes back to the pool: no longer ours
        _current.exchange = None

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def current() -> Exchange | None:
    """The exchange the calling thread is sending, if any."""
    exchange: Exchange | None = getattr(_current, "exchange", None)
    return exchange


def _shut(sock: socket.socket) -> None:
    """Ends the reads and writes of ``sock`` in whatever thread waits on them (the plain socket's
    shutdown also for TLS, whose own would tear its state down under the reading thread)."""
    with contextlib.suppress(OSError):  # already closed
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watched:
    """A connection pool that tells the thread's ``Exchange`` about each request it makes."""

    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        exchange = current()
        if exchange is None:
            return super()._make_request(conn, *args, **kwargs)  # type: ignore[misc]
        if exchange.expired:
            raise ConnectTimeoutError(self, "the deadline for the answer passed")
        connect = conn.connect

        def connect_watched() -> None:  # the socket exists only once connected
            connect()
            exchange.watch(conn.sock)

        conn.connect = connect_watched
        exchange.watch(getattr(conn, "sock", None))  # a kept-alive connection
        try:
            response = super()._make_request(conn, *args, **kwargs)  # type: ignore[misc]
        except ConnectTimeoutError:  # NewConnectionError too: the connection never opened
            raise
        except BaseException:
            exchange.left = True
            raise
        finally:
            conn.connect = connect
        exchange.left = True
        return response


class _WatchedHTTP(_Watched, HTTPConnectionPool):
    pass


class _WatchedHTTPS(_Watched, HTTPSConnectionPool):
    pass


_POOLS = {"http": _WatchedHTTP, "https": _WatchedHTTPS}


class GuardedAdapter(HTTPAdapter):
    """requests' adapter over the watched pools (and through a proxy too)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        manager: ProxyManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager
