"""A thin client over BillingPlatform REST 2.0: the one place that builds HTTP requests.

It owns authentication (session login or a bearer token), timeouts, the request rate, retries of
what is safe to retry, and turning every answer, good or bad, into per-record results. Secrets are
kept in private attributes and never appear in ``repr()``, exceptions or logs.

    client = Client("https://my.billingplatform.com/acme", username="ann", password=...)
    results = client.create([{"BillingProfileId": "101", "DueDate": "2024-07-31"}])
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import email.utils
import ipaddress
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from http import HTTPMethod
from typing import Any, Self
from urllib.parse import SplitResult, urljoin, urlsplit

import requests
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from .. import __version__
from . import answers, fields, redact, transport
from .errors import ApiConnectionError, ApiError, AuthenticationError, UsageError
from .results import Operation, Outcome, RecordResult

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 420.0  # the server gives up after 400 s; we wait a little longer for big batches
MAX_REQUESTS_PER_S = 15.0  # BillingPlatform's published limit per client
MAX_CONCURRENCY = 8  # ... and its 4 to 8 concurrent threads
PAGE_SIZE = 10_000
RATE_LIMIT_BUDGET_S = 300.0  # total wait on 429s for one request before its batch is given up
_WRITE_VERBS = {
    Operation.CREATE: HTTPMethod.POST,
    Operation.UPDATE: HTTPMethod.PUT,
    Operation.UPSERT: HTTPMethod.PATCH,
}
_MOST_CLOCK_SKEW = dt.timedelta(days=366)  # a Date further off than this is junk


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` names this computer (127.0.0.0/8, ::1 or localhost)."""
    if not host:
        return False
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: where a request goes, without its path or query."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return redact.printable(url[:80])
    host = f"[{host}]" if ":" in host else host
    return redact.printable(f"{parts.scheme}://{host}{port}" if parts.scheme else url[:80])


class _Throttle:
    """Spaces request starts so that no more than ``rate`` begin per second, across threads.

    It also adapts: each 429 makes the spacing half as long again (up to one request every
    ``_SLOWEST_S``), and each answered request shortens it by a fifth, back to the configured rate,
    or to BillingPlatform's published rate once a 429 came: a server that asked once to slow down
    (a loopback sandbox, paced by no one) is not raced again.
    """

    _SLOWEST_S = 1.0

    def __init__(self, rate: float | None) -> None:
        self._base = 1.0 / rate if rate else 0.0
        self._interval = self._base
        self._next = 0.0
        self._lock = threading.Lock()

    @property
    def interval(self) -> float:
        return self._interval

    def wait(self) -> None:
        with self._lock:
            if not self._interval:
                return
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self._interval
        if start > now:
            time.sleep(start - now)

    def slow_down(self) -> None:
        with self._lock:
            self._base = max(self._base, 1.0 / MAX_REQUESTS_PER_S)
            slower = max(self._interval * 1.5, 1.0 / MAX_REQUESTS_PER_S)
            self._interval = min(slower, self._SLOWEST_S)

    def speed_up(self) -> None:
        with self._lock:
            if self._interval > self._base:
                faster = self._interval * 0.8
                self._interval = faster if faster > self._base * 1.05 else self._base


class Strain:
    """How hard the server made a run work, for its summary: how often it asked to slow down (a
    429), how many requests were sent again (after a 429, a 502/503/504 or a dropped
    connection) and how long the waits before them took. Shared by the client's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.slow_downs = 0
        self.resent = 0
        self.waited_s = 0.0

    def count(self, pause: float, slow_down: bool = False) -> None:
        with self._lock:
            self.slow_downs += slow_down
            self.resent += 1
            self.waited_s += pause

    def note(self) -> str | None:
        """One line for the summary, or None when the server never made anything wait."""
        if not self.resent:
            return None
        asked = (
            f"the server asked bpxl to slow down {self.slow_downs:,} "
            f"time{'' if self.slow_downs == 1 else 's'} (429)"
            if self.slow_downs
            else "the server was busy or a connection dropped"
        )
        return (
            f"Server strain: {asked}; {self.resent:,} request"
            f"{' was' if self.resent == 1 else 's were'} sent again, after waits of "
            f"{self.waited_s:,.1f} s in all. Nothing was sent twice."
        )


class _Retry(Retry):
    """urllib3's retries, and a plain 500 to a GET too: a query changes nothing, and a server
    that fails one now and then (an error page) usually answers the next; within the same
    status budget. A write's 500 is not retried here (it may have stored).

    Once ``halt`` is set (the user stopped the push), nothing is sent again: a failed answer is
    returned as it came, a failed connection raised, and a pause before a retry ends at once."""

    def __init__(
        self, *, halt: threading.Event | None = None, strain: Strain | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.halt = halt or threading.Event()
        self.strain = strain or Strain()

    def new(self, **kw: Any) -> Self:
        made = super().new(**kw)
        made.halt, made.strain = self.halt, self.strain
        return made

    def is_retry(self, method: str, status_code: int, *_: bool) -> bool:
        """(urllib3 would also retry a 429 with a Retry-After, or a 413: not here. A 429 is
        left to ``Client._send``, which waits it out and slows the whole client down, whatever
        the verb; a batch too large stays too large.)"""
        if self.halt.is_set():
            return False
        if method.upper() == "GET" and status_code == 500 and self.total:
            return True
        return super().is_retry(method, status_code)

    def increment(self, *args: Any, **kwargs: Any) -> Self:
        """The next try, after its pause (the server's Retry-After, else the backoff). Past the
        answer's deadline, or after a halt during the pause, urllib3 gives up on it: it returns a
        failed answer as it came, or raises the connection's failure."""
        exchange = transport.current()
        if exchange is not None and exchange.expired:  # the answer's deadline passed: no retry
            return self._give_up(*args, **kwargs)
        made = super().increment(*args, **kwargs)
        response: BaseHTTPResponse | None = kwargs.get("response")  # urllib3 names it
        pause = made.get_retry_after(response) if response is not None else None
        if not pause:  # (urllib3's respect_retry_after_header, True by default)
            pause = made.get_backoff_time()
        # A query's 429 asks to slow down as much as a write's does.
        self.strain.count(pause, slow_down=response is not None and response.status == 429)
        if self.halt.wait(pause):
            return self._give_up(*args, **kwargs)
        return made

    def _give_up(self, *args: Any, **kwargs: Any) -> Self:
        """Raises urllib3's ``MaxRetryError``, as when no retry is left (none is, here)."""
        return super(_Retry, self.new(total=0)).increment(*args, **kwargs)

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        """Nothing: ``increment`` has paused already, in a way a halt can cut short."""


def _retry_policy(halt: threading.Event, strain: Strain) -> Retry:
    """Retries that can never repeat a create: connection failures before anything was sent, and
    502/503/504 or lost answers on idempotent verbs only (GET, PUT update, PATCH upsert), and a
    500 to a GET (``_Retry``).

    (A 429 means nothing was processed, for any verb: ``Client._send`` waits and resends it.)"""
    return _Retry(
        total=5,
        connect=3,
        read=2,
        status=4,
        other=0,
        allowed_methods=frozenset({"GET", "PUT", "PATCH", "DELETE"}),
        status_forcelist=frozenset({502, 503, 504}),
        backoff_factor=0.5,
        backoff_max=30,
        backoff_jitter=0.5,
        raise_on_status=False,
        halt=halt,
        strain=strain,
    )


class Client:
    """A connection to one tenant: ``url`` is the tenant base, e.g. ``https://host/acme``.

    Credentials are one of: ``username`` and ``password`` (a session login), ``token`` (a bearer
    token), or ``oauth_client`` and ``client_secret`` (OAuth client credentials, exchanged for a
    bearer token at login and again when it expires).
    """

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        oauth_client: str | None = None,
        client_secret: str | None = None,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
        max_requests_per_s: float | None = None,
        pool_size: int = MAX_CONCURRENCY,
        deadline: float | None = None,
        max_answer_bytes: int | None = None,
    ) -> None:
        refuse_secret_in_url(url)
        parts = check_url(url)
        if not (
            token is not None
            or (username and password is not None)
            or (oauth_client and client_secret is not None)
        ):
            raise UsageError(
                "No credentials to log in with.",
                "Use a profile saved by `bpxl connect`, or give --username with the password in "
                "BPXL_PASSWORD, or a token with --token-env.",
            )
        self.url = url.rstrip("/")
        self.username = username
        self.oauth_client = oauth_client
        self._password = password
        self._client_secret = client_secret
        self._token = token  # a bearer token: given, or obtained with the OAuth client
        self._token_checked = False  # a given token is tried once before the first write
        self._session_id: str | None = None
        self._spent: set[str] = set()  # session ids and tokens no longer in use: still secret
        self.user_id: str | None = None  # who we are logged in as, for finding our own invoices
        self._login_lock = threading.Lock()
        self._clock_offset: dt.timedelta | None = None
        self.last_answer_date: dt.datetime | None = None  # the server's clock at its last answer
        self.timeout = timeout
        self.deadline = deadline or transport.answer_deadline()  # for the whole answer
        self.max_answer_bytes = max_answer_bytes or transport.max_answer_bytes()
        loopback = is_loopback(parts.hostname)
        if max_requests_per_s is None and not loopback:
            max_requests_per_s = MAX_REQUESTS_PER_S
        self.rate = max_requests_per_s  # requests a second at most; None: as fast as answered
        self._throttle = _Throttle(max_requests_per_s)
        self._halt = threading.Event()
        self.strain = Strain()
        self._http = requests.Session()
        self._http.trust_env = not loopback  # no proxy between us and a local sandbox
        adapter = transport.GuardedAdapter(
            pool_maxsize=pool_size,  # connections kept for reuse: one per thread
            max_retries=_retry_policy(self._halt, self.strain),
        )
        self._http.mount("http://", adapter)
        self._http.mount("https://", adapter)
        self._http.headers.update(
            {
                "Content-Type": "application/json; charset=utf-8",
                "Accept": "application/json",
                "User-Agent": f"bpxl/{__version__}",
            }
        )

    def __repr__(self) -> str:
        if self.oauth_client:
            who = f"OAuth client {self.oauth_client!r}"
        else:
            who = "token" if self._token else f"user {self.username!r}"
        return f"<Client {self.url} as {who}>"

    def stop_retrying(self) -> None:
        """The user stopped: from now on no request is sent again (after a 429, a 503 or a lost
        connection) and pauses before a retry end at once, so that the process can end within
        seconds. First attempts still go out (a lookup, a logout)."""
        self._halt.set()

    def close(self) -> None:
        """Log out (ending the server session) and release connections."""
        if self._session_id:
            with contextlib.suppress(ApiConnectionError):  # the session expires on its own
                self._send(HTTPMethod.POST, "logout", timeout=(self.timeout[0], 30))
            self._session_id = None
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- authentication -------------------------------------------------------------------------

    @property
    def _uses_session(self) -> bool:
        return self.oauth_client is None and self.username is not None and self._token is None

    def login(self) -> None:
        """Start a session or fetch an OAuth token (no-op with a given token).

        Raises ``AuthenticationError`` if the server refuses.
        """
        if self.oauth_client:
            self._token = self._oauth_token()
            self._spent.add(self._token)
            return
        if self._token is not None:
            self._check_token()
            return
        response = self._send(
            HTTPMethod.POST,
            "login",
            json={"username": self.username, "password": self._password},
            authenticated=False,
        )
        try:
            item = response.json()["loginResponse"]
            item = item[0] if isinstance(item, list) else item
            session_id = item.get("SessionID") if str(item.get("ErrorCode")) == "0" else None
            user = item.get("UserId")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            session_id = user = None
        if response.status_code != 200 or not session_id:
            raise AuthenticationError(
                f"BillingPlatform at {self.url} refused the login for {self.username!r} "
                f"(HTTP {response.status_code}).",
                "Check the user name and the password (run `bpxl connect` again to replace a "
                "saved one), and that the URL names your tenant.",
            )
        self._session_id = str(session_id)
        self._spent.add(self._session_id)
        self.user_id = answers.positive_id(user)  # assumed: docs/api-notes.md

    def _oauth_token(self) -> str:
        response = self._send(
            HTTPMethod.POST,
            "authenticate",
            api="auth/1.0",
            params={"grant_type": "client_credentials"},
            auth=(self.oauth_client or "", self._client_secret or ""),
            authenticated=False,
        )
        try:
            answer = response.json() if response.status_code == 200 else {}
            token = answer.get("access_token")
            self.user_id = answers.positive_id(answer.get("user_id"))  # assumed, ditto
        except (ValueError, AttributeError):
            token = None
        if not token:
            raise AuthenticationError(
                f"BillingPlatform at {self.url} refused the OAuth client {self.oauth_client!r} "
                f"(HTTP {response.status_code}).",
                "Check the client id and secret (run `bpxl connect` again to replace a saved "
                "secret), and that the URL names your tenant.",
            )
        return str(token)

    def _auth_headers(self) -> dict[str, str]:
        with self._login_lock:
            if self._token is None and self._session_id is None:
                self.login()
        if self._token is not None:
            return {"Authorization": f"Bearer {self._token}"}
        assert self._session_id is not None
        return {"sessionid": self._session_id}

    def _check_token(self) -> None:
        """A given bearer token is tried once with the smallest query, so that a refused token
        stops the run before anything is sent, as a refused password does."""
        if self._token_checked:
            return
        sql = f"SELECT Id FROM {fields.ENTITY} WHERE Id = 0"
        response = self._send(HTTPMethod.GET, "query", params={"sql": sql})
        if response.status_code in (401, 403):
            raise AuthenticationError(
                f"BillingPlatform at {self.url} refused the bearer token "
                f"(HTTP {response.status_code}).",
                "Get a new token (it may have expired) and put it in the environment variable "
                "named by --token-env, and check that the URL names your tenant.",
            )
        self._token_checked = True

    def _forget_credential(self, headers: Mapping[str, str]) -> bool:
        """After a 401: drop an expired session or OAuth token; False if there is none to renew."""
        with self._login_lock:
            if self.oauth_client and headers.get("Authorization") == f"Bearer {self._token}":
                self._token = None
                return True
            if self._uses_session and headers.get("sessionid") == self._session_id:
                self._session_id = None
                return True
            return self.oauth_client is not None or self._uses_session  # renewed meanwhile

    def scrub(self, text: str) -> str:
        """Server text with our secrets (and anything named like a credential) cut out, and
        the characters no terminal, journal or cell should get replaced (``redact.printable``)."""
        secrets = [self._password, self._client_secret, self._token, self._session_id]
        return redact.scrub(text, [*secrets, *self._spent])

    def _scrubbed(self, results: list[RecordResult]) -> list[RecordResult]:
        return [
            dataclasses.replace(r, messages=tuple(self.scrub(m) for m in r.messages))
            for r in results
        ]

    # -- the server's clock ---------------------------------------------------------------------

    def server_now(self) -> dt.datetime:
        """The server's time (UTC) as best we know it, from the Date header of its answers.

        Reconciliation compares it with the server's ``Created`` stamps, so our own clock's error
        does not matter; before any answer it is our own clock.
        """
        return dt.datetime.now(dt.UTC) + (self._clock_offset or dt.timedelta())

    def _note_clock(self, response: requests.Response) -> None:
        """The server's Date header. An HTTP date is in GMT: one without a zone (or ``-0000``)
        is read as UTC; junk, or a date more than a year from ours, is ignored."""
        try:
            server = email.utils.parsedate_to_datetime(response.headers["Date"])
        except (KeyError, TypeError, ValueError, IndexError, OverflowError):
            return
        if server.tzinfo is None:
            server = server.replace(tzinfo=dt.UTC)
        offset = server - dt.datetime.now(dt.UTC)
        if abs(offset) > _MOST_CLOCK_SKEW:
            return
        self.last_answer_date = server
        if self._clock_offset is None:
            self._clock_offset = offset

    # -- the one place requests are sent --------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        api: str = "rest/2.0",
        authenticated: bool = True,
        timeout: tuple[float, float] | None = None,
    ) -> requests.Response:
        """Send one request and return its answer, whatever its status.

        A 429 means the server processed nothing, so any verb is sent again after the wait it
        asks for (and the request rate slows down), within ``RATE_LIMIT_BUDGET_S``. After a 401
        the session or token is renewed once and the request resent. Connection failures raise
        ``ApiConnectionError`` whose ``sent`` tells whether the request may have reached the
        server (the transport has already retried what was safe to retry).
        """
        renewed = False
        waited = 0.0
        delay = 1.0
        while True:
            headers = self._auth_headers() if authenticated else {}
            self._throttle.wait()
            with transport.Exchange(self.deadline) as exchange:
                try:
                    response = self._http.request(
                        method,
                        f"{self.url}/{api}/{path}",
                        json=json,
                        params=params,
                        headers=headers,
                        auth=auth,
                        timeout=timeout or self.timeout,
                        allow_redirects=False,  # see _refuse_redirect
                        stream=True,
                    )
                    self._read_body(response, exchange)
                except requests.RequestException as failure:
                    raise self._connection_error(failure, exchange) from None
            self._note_clock(response)
            self._refuse_redirect(response)
            if response.status_code == 429:
                self._throttle.slow_down()
                pause = _retry_after(response, delay)
                if waited + pause > RATE_LIMIT_BUDGET_S:
                    return response  # nothing was processed: the caller says so
                self.strain.count(pause, slow_down=True)
                if self._halt.wait(pause):
                    return response  # nothing was processed: the caller says so
                waited += pause
                delay = min(delay * 2, 30.0)
                continue
            self._throttle.speed_up()
            if response.status_code == 401 and authenticated and not renewed:
                renewed = True
                if self._forget_credential(headers):
                    continue
            return response

    def _read_body(self, response: requests.Response, exchange: transport.Exchange) -> None:
        """The whole answer, read in pieces within the exchange's deadline and the size limit;
        either failing, the request may have been stored (``ApiConnectionError``, ``sent``;
        a failed read raises requests' exception, which ``_send`` words)."""
        body = bytearray()
        try:
            for piece in response.iter_content(1 << 16):
                body += piece
                if len(body) > self.max_answer_bytes:
                    limit = self.max_answer_bytes / (1024 * 1024)
                    raise ApiConnectionError(
                        f"BillingPlatform at {self.url} answered with more than {limit:g} MB, "
                        "more than bpxl reads, so the answer was not read.",
                        f"If this is your tenant, set {transport.SIZE_ENV} to a larger number of "
                        "megabytes; else check the URL.",
                    )
        finally:
            response.close()  # back to the pool when read to the end, else the connection closed
        if exchange.expired:  # the watchdog cut the answer short where no read noticed
            raise requests.Timeout()
        response._content = bytes(body)  # what .text and .json() read, as if read by requests
        if response.encoding is None:
            response.encoding = "utf-8"  # JSON's; spares guessing over megabytes

    def _refuse_redirect(self, response: requests.Response) -> None:
        """An API answer never sends us on: following a redirect would carry the password, the
        token or the session id to wherever it points (the issue of a tenant that is not ours)."""
        if not 300 <= response.status_code < 400:
            return
        location = response.headers.get("Location") or ""
        there = origin(urljoin(self.url, location))  # the request went to the tenant's origin
        here = origin(self.url)
        where = f"another address, {there}" if there != here else "another page of it"
        raise ApiConnectionError(
            f"BillingPlatform at {here} answered with a redirect (HTTP {response.status_code}) "
            f"to {where}. bpxl follows no redirect, so no password, token or session id was "
            "sent there.",
            f"Check the tenant URL with your administrator; if {there} is really your tenant's "
            "address, use that URL (bpxl connect NAME --url ...).",
        )

    def _connection_error(
        self, failure: requests.RequestException, exchange: transport.Exchange
    ) -> ApiConnectionError:
        """Only a connection that never opened is "not sent"; after that the server may have
        stored the records, however the answer was lost (a read timeout, a reset, a deadline)."""
        if not exchange.left:
            return ApiConnectionError(
                f"Could not connect to {self.url}.",
                "Check the URL, your network or VPN, and that the server is up.",
                sent=False,
            )
        if exchange.expired:
            return ApiConnectionError(
                f"BillingPlatform at {self.url} did not finish answering within "
                f"{exchange.deadline_s:g} seconds.",
                f"If your tenant is slow, set {transport.DEADLINE_ENV} to more seconds.",
            )
        kind = "timed out" if isinstance(failure, requests.Timeout) else "dropped the connection"
        return ApiConnectionError(f"BillingPlatform at {self.url} {kind} before answering.")

    # -- writes ---------------------------------------------------------------------------------

    def write(
        self, op: Operation, records: Sequence[Mapping[str, Any]], external_id: str = fields.ID
    ) -> list[RecordResult]:
        """Send one batch; always one result per record, whatever happens on the way."""
        body: dict[str, Any] = {"brmObjects": list(records)}
        if op is Operation.UPSERT:
            body["externalIDFieldName"] = external_id
        try:
            response = self._send(_WRITE_VERBS[op], fields.ENTITY, json=body)
        except ApiConnectionError as failure:
            if not failure.sent:
                return answers.all_records(
                    len(records), Outcome.FAILED, f"Nothing was sent. {failure.message}"
                )
            return answers.unknown(
                op, len(records), f"sent, but no answer came ({failure.message})"
            )
        except AuthenticationError as failure:
            return answers.all_records(
                len(records), Outcome.FAILED, f"Nothing was sent. {failure.message}"
            )
        if response.status_code // 100 == 2:  # (a 3xx was refused in _send)
            results = answers.from_body(op, records, response.text, None, external_id)
            if _retried(response):  # "found", to a repeat of a request whose answer was lost,
                # may mean found what the first try made: unsaid, for the caller to look up
                results = [dataclasses.replace(r, created=r.created or None) for r in results]
            return self._scrubbed(results)
        # The whole body is scrubbed before its gist is cut to length: a cut through a secret
        # would leave its first characters where no scrub can recognise them.
        return self._scrubbed(
            answers.from_status(op, len(records), response.status_code, self.scrub(response.text))
        )

    def create(self, records: Sequence[Mapping[str, Any]]) -> list[RecordResult]:
        return self.write(Operation.CREATE, records)

    def update(self, records: Sequence[Mapping[str, Any]]) -> list[RecordResult]:
        return self.write(Operation.UPDATE, records)

    def upsert(
        self, records: Sequence[Mapping[str, Any]], external_id: str = fields.ID
    ) -> list[RecordResult]:
        return self.write(Operation.UPSERT, records, external_id)

    def delete(self, ids: Sequence[str]) -> list[RecordResult]:
        response = self._send(
            HTTPMethod.DELETE,
            f"delete/{fields.ENTITY}",
            json={"brmObjects": [{fields.ID: i} for i in ids]},
        )
        if response.status_code != 200:
            body = self.scrub(response.text)
            return self._scrubbed(
                answers.from_status(Operation.UPDATE, len(ids), response.status_code, body)
            )
        records = [{fields.ID: i} for i in ids]
        return self._scrubbed(
            answers.from_body(Operation.UPDATE, records, response.text, key="deleteResponse")
        )

    # -- reads ----------------------------------------------------------------------------------

    def retrieve(self, record_id: str) -> dict[str, Any] | None:
        """One invoice by Id, or None when there is none."""
        response = self._send(HTTPMethod.GET, f"{fields.ENTITY}/{record_id}")
        rows = self._rows(response, "retrieveResponse")
        return rows[0] if rows else None

    def retrieve_where(self, entity: str, condition: str) -> list[dict[str, Any]]:
        """Records of any ``entity`` matching a condition (``GET {entity}?queryAnsiSql=``); an
        empty list when there are none. Refusals raise ``ApiError`` with the HTTP status."""
        response = self._send(HTTPMethod.GET, entity, params={"queryAnsiSql": condition})
        return self._rows(response, "retrieveResponse")

    def query(self, sql: str, page_size: int = PAGE_SIZE) -> Iterator[dict[str, Any]]:
        """Rows of a ``SELECT ... FROM INVOICE`` query, fetched page by page as they are read.
        The next page is asked for while the caller reads this one (one request in flight at a
        time), so the server's work and the caller's overlap: a pull of 100,000 invoices is ten
        pages."""

        def page(offset: int) -> list[dict[str, Any]]:
            return self.query_page(sql, page_size, offset)

        # One request in flight at a time whatever the pool's size: the next page is asked
        # for only once this one is in.
        with ThreadPoolExecutor(thread_name_prefix="bpxl-page") as ahead:
            offset = 0
            coming = ahead.submit(page, offset)
            while True:
                rows = coming.result()
                if len(rows) == page_size:
                    coming = ahead.submit(page, offset + page_size)
                yield from rows
                if len(rows) < page_size:
                    return
                offset += page_size

    def query_page(self, sql: str, size: int, offset: int = 0) -> list[dict[str, Any]]:
        """One page of a query's rows: at most ``size``, from ``offset``, in one request."""
        paged = f"{sql} OFFSET {offset} ROWS FETCH NEXT {size} ROWS ONLY"
        return self._rows(
            self._send(HTTPMethod.GET, "query", params={"sql": paged}), "queryResponse"
        )

    def _rows(self, response: requests.Response, key: str) -> list[dict[str, Any]]:
        if response.status_code == 404:
            return []  # BillingPlatform answers "no rows" with 404
        if response.status_code != 200:
            raise ApiError(
                f"BillingPlatform refused the query (HTTP {response.status_code}: "
                f"{answers.server_text(self.scrub(response.text))}).",
                status=response.status_code,
            )
        try:
            rows = response.json()[key]
        except (ValueError, KeyError, TypeError) as bad:
            raise ApiError(
                f"BillingPlatform's answer to a query could not be read ({bad}).",
                status=response.status_code,
            ) from None
        rows = [rows] if isinstance(rows, dict) else rows
        return [r for r in rows if isinstance(r, dict)]


def check_url(url: str) -> SplitResult:
    """A tenant URL's parts; refused when it is not one, or when it would send the password in
    clear (``http://``) to anything but this computer."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        host = None  # (and no parts)
    if not host or parts.scheme.lower() not in ("http", "https"):
        raise UsageError(
            f"{redact.printable(url)!r} is not a tenant URL.",
            "Give the address you log in to, e.g. https://my.billingplatform.com/yourtenant",
        )
    if parts.scheme.lower() == "http" and not is_loopback(host):
        raise UsageError(
            f"{origin(url)} uses http://, which would send the password and every invoice across "
            "the network unencrypted; bpxl uses http:// only for this computer (the sandbox).",
            f"Use the tenant's https:// address, e.g. https://{host}{parts.path}",
        )
    return parts


def refuse_secret_in_url(url: str) -> None:
    """A URL with a user name or password in it would carry the secret into journals, logs
    and messages: refuse it, without repeating it."""
    try:
        parts = urlsplit(url)
        has_user_info = parts.username is not None or parts.password is not None
    except ValueError:
        has_user_info = "@" in url
    if has_user_info:
        raise UsageError(
            "The tenant URL holds a user name or password (the part before @); bpxl does not "
            "take secrets in a URL, where they would end up in journals and messages.",
            "Give the URL without it (https://host/tenant), with --username and the password in "
            "BPXL_PASSWORD, or save a profile with `bpxl connect` and use --profile.",
        )


def _retried(response: requests.Response) -> bool:
    """Whether the transport sent the request again before this answer (a lost answer to an
    idempotent verb, a 502/503/504): what the answer says may be about the first try too."""
    retries = response.raw.retries  # urllib3 keeps the Retry an answer came with
    return retries is not None and bool(retries.history)


def _retry_after(response: requests.Response, fallback: float) -> float:
    """Seconds to wait from a Retry-After header (capped at a minute), else ``fallback``."""
    try:
        return min(max(float(response.headers["Retry-After"]), 0.0), 60.0)
    except (KeyError, ValueError):
        return fallback
