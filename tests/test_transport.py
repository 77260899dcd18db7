"""The guards under the client's requests (``core/transport.py``) on their own: the deadline that
shuts a request's sockets, whether a request may have left, the limits read from the
environment, and the same guards through a proxy. Real sockets and requests on loopback."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import requests

from bpxl.core import transport
from bpxl.core.errors import UsageError
from bpxl.core.transport import Exchange, GuardedAdapter
from tests.hostile_server import HostileServer, Request, head, ok_json

from .processes import wait_for


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    adapter = GuardedAdapter(max_retries=0)
    session.mount("http://", adapter)
    return session


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        return int(listener.getsockname()[1])


def test_the_limits_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.delenv(transport.DEADLINE_ENV, raising=False)
    monkeypatch.delenv(transport.SIZE_ENV, raising=False)
    assert transport.answer_deadline() == 600.0
    assert transport.max_answer_bytes() == 64 * 1024 * 1024
    monkeypatch.setenv("BPXL_ANSWER_SECONDS", "2.5")
    monkeypatch.setenv("BPXL_ANSWER_MB", "0.5")
    assert transport.answer_deadline() == 2.5
    assert transport.max_answer_bytes() == 512 * 1024
    monkeypatch.setenv("BPXL_ANSWER_MB", "lots")
    with pytest.raises(UsageError) as refused:
        transport.max_answer_bytes()
    assert refused.value.message == (
        "The environment variable BPXL_ANSWER_MB is 'lots', which is not a number of megabytes "
        "bpxl can use."
    )
    monkeypatch.setenv("BPXL_ANSWER_SECONDS", "0")
    with pytest.raises(UsageError, match="not a number of seconds"):
        transport.answer_deadline()


def test_an_exchange_is_the_threads_own_while_it_lasts() -> None:
    assert transport.current() is None
    seen: list[Exchange | None] = []
    before = set(threading.enumerate())
    with Exchange(60) as exchange:
        assert exchange.expired is False and exchange.left is False  # flags, not "unknown"
        watchdogs = set(threading.enumerate()) - before
        # The watchdog never keeps bpxl running when it exits with a request in flight.
        assert watchdogs and all(thread.daemon for thread in watchdogs)
        assert transport.current() is exchange
        other = threading.Thread(target=lambda: seen.append(transport.current()))
        other.start()
        other.join()
        assert not exchange.expired and not exchange.left and exchange.deadline_s == 60
    assert seen == [None] and transport.current() is None


def test_the_deadline_shuts_the_sockets_watched_and_any_watched_later() -> None:
    mine, theirs = socket.socketpair()
    late, late_peer = socket.socketpair()
    with mine, theirs, late, late_peer:
        mine.settimeout(10)
        late.settimeout(10)
        with Exchange(0.2) as exchange:
            exchange.watch(None)  # a connection not yet open: nothing to watch
            exchange.watch(mine)
            began = time.monotonic()
            assert mine.recv(1) == b""  # the read in progress ends at the deadline
            assert exchange.expired and 0.1 < time.monotonic() - began < 5
            exchange.watch(late)  # watched after the deadline: shut at once
            assert late.recv(1) == b""


def test_a_socket_closed_meanwhile_is_passed_over_at_the_deadline() -> None:
    """The connection may have been closed (the answer read, the pool emptied) when the deadline
    comes: shutting it down is then nothing to fail on."""
    closed, peer = socket.socketpair()
    closed.close()
    with peer, Exchange(0.05) as exchange:
        exchange.watch(closed)
        wait_for(lambda: exchange.expired)
        exchange.watch(closed)  # watched again after the deadline: shut at once, or passed over
        assert exchange.expired


def test_an_exchange_ended_in_time_lets_its_sockets_be() -> None:
    mine, theirs = socket.socketpair()
    with mine, theirs:
        with Exchange(0.2) as exchange:
            exchange.watch(mine)
        time.sleep(0.4)  # past the deadline the exchange no longer has
        assert not exchange.expired
        theirs.sendall(b"x")
        mine.settimeout(5)
        assert mine.recv(1) == b"x"


def test_a_connection_never_opened_has_not_left_and_one_answered_has() -> None:
    with Exchange(60) as refused, pytest.raises(requests.ConnectionError):
        _session().get(f"http://127.0.0.1:{_closed_port()}/t", timeout=5)
    assert not refused.left and not refused.expired

    def answer(request: Request) -> list[bytes | float | None]:
        return [None] if "x-drop" in request.headers else [ok_json({"ok": 1})]

    with HostileServer(answer).running() as server:
        with Exchange(60) as answered:
            assert _session().get(f"{server.url}/x", timeout=5).json() == {"ok": 1}
        assert answered.left
        with Exchange(60) as dropped, pytest.raises(requests.ConnectionError):
            # the request went out and the connection was cut: it may have been stored
            _session().get(f"{server.url}/x", timeout=5, headers={"X-Drop": "1"})
    assert dropped.left


def test_a_request_after_the_deadline_is_not_sent() -> None:
    with HostileServer(lambda r: [ok_json({})]).running() as server:
        with Exchange(0.05) as exchange:
            wait_for(lambda: exchange.expired)
            with pytest.raises(requests.ConnectTimeout):
                _session().get(f"{server.url}/x", timeout=5)
        assert server.requests == [] and not exchange.left


def test_a_request_outside_an_exchange_goes_unwatched() -> None:
    with HostileServer(lambda r: [ok_json({"ok": 1})]).running() as server:
        assert _session().get(f"{server.url}/x", timeout=5).json() == {"ok": 1}


def test_a_kept_alive_connection_is_watched_too() -> None:
    """The second request reuses the first one's socket: the deadline still shuts it."""

    def answer(request: Request) -> list[bytes | float | None]:
        if request.path.endswith("/first"):
            return [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", 30.0]
        return [30.0]

    session = _session()
    with HostileServer(answer).running() as server:
        session.get(f"{server.url}/first", timeout=5)
        began = time.monotonic()
        with Exchange(0.3) as exchange, pytest.raises(requests.RequestException):
            session.get(f"{server.url}/second", timeout=20)
        assert exchange.expired and time.monotonic() - began < 10
    assert [r.path for r in server.requests] == ["/t/first"]  # the second went the same way


def test_a_proxy_does_not_lift_the_deadline() -> None:
    """Through a proxy (here a server that trickles whatever it is asked), the request is still
    watched and ends at the deadline."""

    def trickle(request: Request) -> list[bytes | float | None]:
        return [head(200, {"Content-Type": "application/json"}, 1000), *[b" ", 0.2] * 200]

    with HostileServer(trickle).running() as proxy:
        session = _session()
        session.proxies = {"http": f"http://127.0.0.1:{proxy.port}"}
        began = time.monotonic()
        with Exchange(0.6) as exchange, pytest.raises(requests.RequestException):
            session.get("http://bp.example/t/rest/2.0/INVOICE/1", timeout=20).content  # noqa: B018
        assert exchange.expired and exchange.left
        assert time.monotonic() - began < 10
    [asked] = proxy.requests
    assert asked.path == "http://bp.example/t/rest/2.0/INVOICE/1"
