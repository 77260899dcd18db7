"""The client's rules one by one, fast: which hosts are this computer, where a request goes, the
tenant URLs it refuses, the pacing of requests, the retry policy, the server's clock, the strain
note, and scripted answers of a server on loopback (``tests/hostile_server.py``)."""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable

import pytest
import requests

from bpxl import __version__
from bpxl.core.client import (
    MAX_REQUESTS_PER_S,
    Client,
    Strain,
    _retry_after,
    _retry_policy,
    _Throttle,
    check_url,
    is_loopback,
    origin,
    refuse_secret_in_url,
)
from bpxl.core.errors import ApiConnectionError, ApiError, AuthenticationError, UsageError
from bpxl.core.results import Outcome
from bpxl.core.transport import GuardedAdapter
from tests.hostile_server import HostileServer, Piece, Request, head, ok_json


def test_this_computer_is_named_by_loopback_addresses_and_localhost_only() -> None:
    for host in ("localhost", "LOCALHOST.", "127.0.0.1", "127.9.9.9", "::1", "[::1]"):
        assert is_loopback(host), host
    for host in (
        None,
        "",
        "10.0.0.1",
        "localhost.example",
        "0.0.0.0",
        "example.com",
        "[::2]",
        "localhostx",
    ):
        assert not is_loopback(host), host


def test_the_origin_of_a_url_is_its_scheme_host_and_port() -> None:
    assert origin("https://bp.example/acme/rest/2.0/INVOICE?x=1") == "https://bp.example"
    assert origin("https://bp.example:8443/acme") == "https://bp.example:8443"
    assert origin("http://[::1]:5000/t") == "http://[::1]:5000"
    assert origin("https://BP.example/acme") == "https://bp.example"
    assert origin("/relative/path") == "/relative/path"
    assert origin("file:///C:/books") == "file://"
    assert origin("x" * 100) == "x" * 80
    assert origin("http://[::1/t" + "y" * 100) == ("http://[::1/t" + "y" * 100)[:80]
    assert origin("http://[::1]\n/t" + "z" * 80) == "http://[::1]"
    assert origin("https://h:99999/t" + "w" * 80) == ("https://h:99999/t" + "w" * 80)[:80]
    assert origin("not\na url") == "not a url"


def test_a_tenant_url_must_be_http_or_https_with_a_host() -> None:
    assert check_url("https://bp.example/acme").hostname == "bp.example"
    assert check_url("HTTP://127.0.0.1:9/t").port == 9
    for bad in ("ftp://bp.example/acme", "bp.example/acme", "https:///acme", "http://[::1/t"):
        with pytest.raises(UsageError) as refused:
            check_url(bad)
        assert refused.value.message == f"{bad!r} is not a tenant URL."
        assert refused.value.hint == (
            "Give the address you log in to, e.g. https://my.billingplatform.com/yourtenant"
        )
    with pytest.raises(UsageError) as clear:
        check_url("HTTP://bp.example/acme")
    assert clear.value.message == (
        "http://bp.example uses http://, which would send the password and every invoice across "
        "the network unencrypted; bpxl uses http:// only for this computer (the sandbox)."
    )
    assert clear.value.hint == ("Use the tenant's https:// address, e.g. https://bp.example/acme")


def test_a_url_holding_a_user_or_password_is_refused_without_repeating_it() -> None:
    for url in ("https://ann:pw-123@bp.example/acme", "https://ann@bp.example/t", "https://:pw@h"):
        with pytest.raises(UsageError) as refused:
            refuse_secret_in_url(url)
        assert refused.value.message == (
            "The tenant URL holds a user name or password (the part before @); bpxl does not "
            "take secrets in a URL, where they would end up in journals and messages."
        )
        assert refused.value.hint == (
            "Give the URL without it (https://host/tenant), with --username and the password in "
            "BPXL_PASSWORD, or save a profile with `bpxl connect` and use --profile."
        )
    with pytest.raises(UsageError, match="user name or password"):
        refuse_secret_in_url("http://ann:pw@[::1/t")  # unreadable, but holds an @
    refuse_secret_in_url("https://bp.example/acme")
    refuse_secret_in_url("http://[::1/t")
    with pytest.raises(UsageError, match="user name or password") as refused:
        Client("https://ann:pw-123@bp.example/acme", token="t")
    assert "pw-123" not in str(refused.value)


def test_a_client_needs_credentials_of_one_kind() -> None:
    Client("https://bp.example/t", token="")
    Client("https://bp.example/t", username="ann", password="")
    Client("https://bp.example/t", oauth_client="app", client_secret="")
    for kwargs in (
        {},
        {"username": "ann"},
        {"password": "pw"},
        {"username": "", "password": "pw"},
        {"oauth_client": "app"},
        {"oauth_client": "", "client_secret": "s"},
    ):
        with pytest.raises(UsageError) as refused:
            Client("https://bp.example/t", **kwargs)
        assert refused.value.message == "No credentials to log in with."
        assert refused.value.hint == (
            "Use a profile saved by `bpxl connect`, or give --username with the password in "
            "BPXL_PASSWORD, or a token with --token-env."
        )


def test_a_client_names_itself_and_paces_only_other_computers() -> None:
    tenant = Client("https://bp.example/acme/", username="ann", password="pw")
    assert tenant.url == "https://bp.example/acme" and tenant.rate == MAX_REQUESTS_PER_S
    assert tenant._throttle.interval == pytest.approx(1 / 15)
    assert tenant._http.trust_env  # a proxy may stand between us and a tenant
    assert tenant._http.headers["User-Agent"] == f"bpxl/{__version__}"
    assert tenant._http.headers["Accept"] == "application/json"
    assert tenant._http.headers["Content-Type"] == "application/json; charset=utf-8"
    assert tenant.timeout == (10.0, 420.0)
    assert Client("https://bp.example/TAX//", token="t").url == "https://bp.example/TAX"
    local = Client("http://127.0.0.1:1/t", username="ann", password="pw")
    assert local.rate is None and local._throttle.interval == 0 and not local._http.trust_env
    slow = Client("http://127.0.0.1:1/t", token="t", max_requests_per_s=2)
    assert slow.rate == 2 and slow._throttle.interval == 0.5


def test_a_tenant_over_https_gets_the_guards_and_retries_of_loopback() -> None:
    """Every request, http:// to the sandbox or https:// to a tenant, goes through the guarded
    transport (deadline, size) with the retry policy that never repeats a create."""
    for url in ("https://bp.example/acme", "http://127.0.0.1:1/t"):
        client = Client(url, token="t")
        adapter = client._http.get_adapter(f"{url}/rest/2.0/query")
        assert isinstance(adapter, GuardedAdapter), url
        assert adapter.max_retries.total == 5 and "POST" not in adapter.max_retries.allowed_methods


def test_the_deadline_and_size_given_win_over_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("BPXL_ANSWER_SECONDS", "42")
    monkeypatch.setenv("BPXL_ANSWER_MB", "3")
    default = Client("http://127.0.0.1:1/t", token="t")
    assert default.deadline == 42 and default.max_answer_bytes == 3 * 1024 * 1024
    given = Client("http://127.0.0.1:1/t", token="t", deadline=5, max_answer_bytes=1000)
    assert given.deadline == 5 and given.max_answer_bytes == 1000


# -- pacing -----------------------------------------------------------------------------------


def test_a_throttle_spaces_request_starts() -> None:
    throttle = _Throttle(20.0)  # one start every 50 ms
    assert throttle.interval == pytest.approx(0.05)
    began = time.monotonic()
    for _ in range(5):
        throttle.wait()
    assert time.monotonic() - began >= 0.19  # the first at once, then 4 spaced
    free = _Throttle(None)
    began = time.monotonic()
    for _ in range(200):
        free.wait()
    assert free.interval == 0 and time.monotonic() - began < 0.5


def test_a_throttle_spaces_starts_across_threads() -> None:
    throttle = _Throttle(40.0)  # 25 ms apart
    starts: list[float] = []

    def go() -> None:
        throttle.wait()
        starts.append(time.monotonic())

    threads = [threading.Thread(target=go) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    starts.sort()
    assert starts[-1] - starts[0] >= 5 * 0.025 - 0.005


def test_a_throttle_slows_down_on_429_and_speeds_back_up_to_the_published_rate() -> None:
    free = _Throttle(None)
    free.slow_down()  # a client that was not paced starts at the published rate
    assert free.interval == pytest.approx(1 / 15)
    free.slow_down()
    assert free.interval == pytest.approx(1.5 / 15)
    for _ in range(20):
        free.slow_down()
    assert free.interval == 1.0  # never slower than one a second
    free.speed_up()
    assert free.interval == pytest.approx(0.8)
    for _ in range(40):
        free.speed_up()
    assert free.interval == 1 / 15  # a server that asked once is not raced again

    paced = _Throttle(2.0)  # slower than the published rate: back to its own
    paced.slow_down()
    assert paced.interval == pytest.approx(0.75)
    paced.speed_up()
    assert paced.interval == pytest.approx(0.6)
    paced.speed_up()  # 0.48 is within 5% of 0.5: back to the rate given
    assert paced.interval == 0.5
    paced.speed_up()
    assert paced.interval == 0.5


def test_a_throttle_faster_than_the_published_rate_keeps_to_it_after_a_429() -> None:
    throttle = _Throttle(100.0)  # 10 ms
    throttle.speed_up()
    assert throttle.interval == pytest.approx(0.01)
    throttle.slow_down()
    assert throttle.interval == pytest.approx(1 / 15)
    for _ in range(20):
        throttle.speed_up()
    assert throttle.interval == pytest.approx(1 / 15)
    throttle.slow_down()
    assert throttle.interval == pytest.approx(1.5 / 15)
    throttle.speed_up()
    assert throttle.interval == pytest.approx(1.2 / 15)


# -- the strain note --------------------------------------------------------------------------


def test_the_strain_note_counts_what_the_server_made_wait() -> None:
    strain = Strain()
    assert strain.note() is None
    strain.count(1.25)
    assert (strain.slow_downs, strain.resent, strain.waited_s) == (0, 1, 1.25)
    assert strain.note() == (
        "Server strain: the server was busy or a connection dropped; 1 request was sent again, "
        "after waits of 1.2 s in all. Nothing was sent twice."
    )
    strain.count(2.0, slow_down=True)
    assert strain.note() == (
        "Server strain: the server asked bpxl to slow down 1 time (429); 2 requests were sent "
        "again, after waits of 3.2 s in all. Nothing was sent twice."
    )
    for _ in range(1_000):
        strain.count(1.0, slow_down=True)
    assert strain.note() == (
        "Server strain: the server asked bpxl to slow down 1,001 times (429); 1,002 requests "
        "were sent again, after waits of 1,003.2 s in all. Nothing was sent twice."
    )


# -- retries ----------------------------------------------------------------------------------


def test_the_retry_policy_never_repeats_a_create() -> None:
    policy = _retry_policy(threading.Event(), Strain())
    assert (policy.total, policy.connect, policy.read, policy.status, policy.other) == (
        5,
        3,
        2,
        4,
        0,
    )
    assert "POST" not in policy.allowed_methods
    assert set(policy.allowed_methods) == {"GET", "PUT", "PATCH", "DELETE"}
    assert set(policy.status_forcelist) == {502, 503, 504}
    assert (policy.backoff_factor, policy.backoff_max, policy.backoff_jitter) == (0.5, 30, 0.5)
    assert policy.respect_retry_after_header and not policy.raise_on_status
    assert policy.is_retry("GET", 503) and policy.is_retry("PUT", 502)
    assert not policy.is_retry("POST", 503) and not policy.is_retry("POST", 500)
    assert policy.is_retry("get", 500)  # a query changes nothing
    assert not policy.is_retry("PUT", 500)  # a write's 500 may have stored
    assert not policy.is_retry("GET", 404)


def test_a_retry_keeps_its_halt_and_strain_and_a_halt_stops_retrying() -> None:
    halt, strain = threading.Event(), Strain()
    policy = _retry_policy(halt, strain)
    later = policy.new(total=0)
    assert later.halt is halt and later.strain is strain
    assert not later.is_retry("GET", 500)  # no budget left
    halt.set()
    assert not policy.is_retry("GET", 503) and not policy.is_retry("GET", 500)


def test_a_retry_after_header_is_read_in_seconds_capped_at_a_minute() -> None:
    def answer(header: str | None) -> requests.Response:
        response = requests.Response()
        if header is not None:
            response.headers["Retry-After"] = header
        return response

    assert _retry_after(answer("2.5"), 9.0) == 2.5
    assert _retry_after(answer("600"), 9.0) == 60.0
    assert _retry_after(answer("-3"), 9.0) == 0.0
    assert _retry_after(answer("soon"), 9.0) == 9.0
    assert _retry_after(answer(None), 4.0) == 4.0


# -- the server's clock -----------------------------------------------------------------------


def _dated(value: str | None) -> requests.Response:
    response = requests.Response()
    if value is not None:
        response.headers["Date"] = value
    return response


def test_the_servers_clock_is_learnt_from_its_first_good_date() -> None:
    client = Client("http://127.0.0.1:1/t", token="t")
    assert abs(client.server_now() - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)
    ahead = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    client._note_clock(_dated(email.utils.format_datetime(ahead, usegmt=True)))
    assert client.last_answer_date == ahead.replace(microsecond=0)
    assert abs(client.server_now() - ahead) < dt.timedelta(seconds=5)
    # Later answers move the last date, not the offset learnt first.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=5)
    client._note_clock(_dated(email.utils.format_datetime(later, usegmt=True)))
    assert client.last_answer_date == later.replace(microsecond=0)
    assert abs(client.server_now() - ahead) < dt.timedelta(seconds=5)


def test_a_date_without_a_zone_is_utc_and_junk_or_a_far_date_is_ignored() -> None:
    client = Client("http://127.0.0.1:1/t", token="t")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=3)
    client._note_clock(_dated(now.strftime("%a, %d %b %Y %H:%M:%S -0000")))
    assert client.last_answer_date == now
    assert client.last_answer_date.tzinfo is dt.UTC
    for junk in (None, "yesterday", "Mon, 01 Jan 1990 00:00:00 GMT", "Mon, 99 Foo 2026 99:99"):
        fresh = Client("http://127.0.0.1:1/t", token="t")
        fresh._note_clock(_dated(junk))
        assert fresh.last_answer_date is None and fresh._clock_offset is None, junk
    far = dt.datetime.now(dt.UTC) + dt.timedelta(days=367)
    fresh = Client("http://127.0.0.1:1/t", token="t")
    fresh._note_clock(_dated(email.utils.format_datetime(far, usegmt=True)))
    assert fresh.last_answer_date is None
    near = dt.datetime.now(dt.UTC) - dt.timedelta(days=365)
    fresh._note_clock(_dated(email.utils.format_datetime(near, usegmt=True)))
    assert fresh.last_answer_date == near.replace(microsecond=0)


# -- a scripted server on loopback ------------------------------------------------------------


def _always(*pieces: Piece) -> Callable[[Request], list[Piece]]:
    return lambda request: list(pieces)


def _in_turn(*answers: list[Piece]) -> Callable[[Request], list[Piece]]:
    """The first answer to the first request, and so on; the last one again after that."""
    given = iter(answers)
    last: list[list[Piece]] = []

    def answer(request: Request) -> list[Piece]:
        last[:] = [next(given, None) or last[0]]
        return last[0]

    return answer


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        return int(listener.getsockname()[1])


_ROW = {"BillingProfileId": "101"}
_CREATED = ok_json({"createResponse": [{"ErrorCode": "0", "Id": "5"}]})
_NO_ROWS = ok_json({"queryResponse": []})


def test_a_login_is_read_from_a_list_or_one_item_and_names_the_user() -> None:
    one = ok_json({"loginResponse": {"ErrorCode": 0, "SessionID": "s-1", "UserId": "7"}})
    server = HostileServer(_always(one), answer_logins=False)
    with server.running():
        client = Client(server.url, username="ann", password="pw-1")
        client.login()
    assert client._session_id == "s-1" and client.user_id == "7"
    [login] = server.requests
    assert (login.method, login.path) == ("POST", "/t/rest/2.0/login")
    assert login.json() == {"username": "ann", "password": "pw-1"}
    assert "sessionid" not in login.headers and "authorization" not in login.headers


@pytest.mark.parametrize(
    "body",
    [
        {"loginResponse": [{"ErrorCode": "1", "SessionID": "s-1", "UserId": "7"}]},
        {"loginResponse": [{"ErrorCode": "0", "UserId": "7"}]},
        {"loginResponse": []},
        {"loginResponse": "no"},
        {"nothing": 1},
        ["loginResponse"],
    ],
)
def test_a_login_answered_without_a_session_is_refused(body: object) -> None:
    with HostileServer(_always(ok_json(body)), answer_logins=False).running() as server:
        client = Client(server.url, username="ann", password="pw-1")
        with pytest.raises(AuthenticationError) as refused:
            client.login()
    assert refused.value.message == (
        f"BillingPlatform at {server.url} refused the login for 'ann' (HTTP 200)."
    )
    assert refused.value.hint == (
        "Check the user name and the password (run `bpxl connect` again to replace a saved one), "
        "and that the URL names your tenant."
    )
    assert client._session_id is None


def test_a_login_refused_with_a_session_in_an_error_answer_is_refused() -> None:
    body = {"loginResponse": [{"ErrorCode": "0", "SessionID": "s-1"}]}
    server = HostileServer(_always(ok_json(body, 401)), answer_logins=False)
    with server.running(), pytest.raises(AuthenticationError, match=r"\(HTTP 401\)"):
        Client(server.url, username="ann", password="pw-1").login()


def test_an_oauth_token_is_asked_for_with_the_client_credentials() -> None:
    token = ok_json({"access_token": "tok-123", "user_id": 12})
    server = HostileServer(_in_turn([token], [_CREATED]))
    with server.running(), Client(server.url, oauth_client="app", client_secret="sec-9") as client:
        [created] = client.create([_ROW])
        assert client.user_id == "12" and created.outcome is Outcome.CREATED
    asked, write = server.requests
    assert (asked.method, asked.path) == (
        "POST",
        "/t/auth/1.0/authenticate?grant_type=client_credentials",
    )
    assert asked.headers["authorization"] == "Basic " + base64.b64encode(b"app:sec-9").decode()
    assert write.headers["authorization"] == "Bearer tok-123"
    assert (write.method, write.path) == ("POST", "/t/rest/2.0/INVOICE")


@pytest.mark.parametrize(
    "answer",
    [
        ok_json({"access_token": "tok-123"}, 401),
        ok_json({"error": "invalid_client"}),
        ok_json(["access_token"]),
        head(200, {"Content-Type": "application/json"}, 4) + b"junk",
    ],
)
def test_an_oauth_client_refused_says_so(answer: bytes) -> None:
    with HostileServer(_always(answer)).running() as server:
        client = Client(server.url, oauth_client="app", client_secret="sec-9")
        with pytest.raises(AuthenticationError) as refused:
            client.login()
    said = refused.value.message
    assert said.startswith(f"BillingPlatform at {server.url} refused the OAuth client 'app'")
    assert "sec-9" not in str(refused.value)
    assert refused.value.hint == (
        "Check the client id and secret (run `bpxl connect` again to replace a saved secret), "
        "and that the URL names your tenant."
    )


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_token_stops_at_login(status: int) -> None:
    with HostileServer(_always(ok_json({}, status))).running() as server:
        client = Client(server.url, token="tok-old")
        with pytest.raises(AuthenticationError) as refused:
            client.login()
    assert refused.value.message == (
        f"BillingPlatform at {server.url} refused the bearer token (HTTP {status})."
    )
    assert refused.value.hint == (
        "Get a new token (it may have expired) and put it in the environment variable named by "
        "--token-env, and check that the URL names your tenant."
    )
    [check] = server.requests
    assert check.method == "GET" and check.headers["authorization"] == "Bearer tok-old"
    assert check.path == "/t/rest/2.0/query?sql=SELECT+Id+FROM+INVOICE+WHERE+Id+%3D+0"


def test_a_token_is_checked_once() -> None:
    with HostileServer(_always(_NO_ROWS)).running() as server:
        client = Client(server.url, token="tok-1")
        client.login()
        client.login()
    assert len(server.requests) == 1
    assert client.user_id is None  # a token names nobody: no invoice is claimed as ours


def test_a_write_answered_with_any_2xx_is_read_as_answered() -> None:
    """A gateway that answers 201 Created (or 204 with nothing to say) has not refused it."""
    created = ok_json({"createResponse": [{"ErrorCode": "0", "Id": "5"}]}, 201)
    with HostileServer(_in_turn([created], [head(204, {}, 0)])).running() as server:
        client = Client(server.url, token="t")
        [made] = client.create([_ROW])
        [unsaid] = client.create([_ROW])
    assert (made.outcome, made.id) == (Outcome.CREATED, "5")
    assert unsaid.outcome is Outcome.UNKNOWN and "HTTP 204" not in unsaid.messages[0]


def test_a_given_token_refused_mid_run_is_not_renewed() -> None:
    """Nothing can renew a token given: the write ends Failed, sent once."""
    with HostileServer(_always(ok_json({}, 401))).running() as server:
        [result] = Client(server.url, token="tok-1").create([_ROW])
    assert result.outcome is Outcome.FAILED and "refused the login (HTTP 401" in result.messages[0]
    assert len(server.requests) == 1


def test_an_expired_session_is_renewed_once_then_the_refusal_stands() -> None:
    with HostileServer(_always(ok_json({}, 401))).running() as server:
        [result] = Client(server.url, username="ann", password="pw").create([_ROW])
    assert result.outcome is Outcome.FAILED
    paths = [r.path.rsplit("/", 1)[-1] for r in server.requests]
    assert paths == ["login", "INVOICE", "login", "INVOICE"]


def test_a_credential_renewed_by_another_thread_meanwhile_is_kept() -> None:
    session = Client("http://127.0.0.1:1/t", username="ann", password="pw")
    session._session_id = "s-new"
    assert session._forget_credential({"sessionid": "s-old"})
    assert session._session_id == "s-new"
    assert session._forget_credential({"sessionid": "s-new"}) and session._session_id is None
    oauth = Client("http://127.0.0.1:1/t", oauth_client="app", client_secret="s")
    oauth._token = "t-new"
    assert oauth._forget_credential({"Authorization": "Bearer t-old"})
    assert oauth._token == "t-new"
    given = Client("http://127.0.0.1:1/t", token="t-1")
    assert not given._forget_credential({"Authorization": "Bearer t-1"})
    assert given._token == "t-1"


def test_nothing_was_sent_when_the_server_cannot_be_reached() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/t"
    client = Client(url, token="tok-1")
    with pytest.raises(ApiConnectionError) as failed:
        client.retrieve("5")
    assert failed.value.sent is False
    assert failed.value.message == f"Could not connect to {url}."
    assert failed.value.hint == "Check the URL, your network or VPN, and that the server is up."
    [result] = client.create([_ROW])
    assert result.outcome is Outcome.FAILED
    assert result.messages == (f"Nothing was sent. Could not connect to {url}.",)


def test_a_login_refused_on_a_write_is_failed_and_nothing_was_sent() -> None:
    body = ok_json({"loginResponse": [{"ErrorCode": "1"}]})
    with HostileServer(_always(body), answer_logins=False).running() as server:
        results = Client(server.url, username="ann", password="pw").create([_ROW, _ROW])
    assert [r.outcome for r in results] == [Outcome.FAILED] * 2
    assert results[0].messages == (
        f"Nothing was sent. BillingPlatform at {server.url} refused the login for 'ann' "
        "(HTTP 200).",
    )


def test_a_connection_dropped_after_sending_may_have_stored() -> None:
    with HostileServer(_always(None)).running() as server:
        [result] = Client(server.url, username="ann", password="pw").create([_ROW])
        with pytest.raises(ApiConnectionError) as failed:
            Client(server.url, token="t").retrieve("5")
    assert result.outcome is Outcome.UNKNOWN
    assert result.messages[0].startswith(
        f"Sent, but no answer came (BillingPlatform at {server.url} dropped the connection "
        "before answering.)"
    )
    assert failed.value.sent is True and failed.value.hint is None


def test_an_answer_that_never_comes_timed_out_and_may_have_stored() -> None:
    with HostileServer(_always(5.0)).running() as server:
        client = Client(server.url, username="ann", password="pw", timeout=(2.0, 0.3))
        [result] = client.create([_ROW])
    assert result.outcome is Outcome.UNKNOWN
    assert f"BillingPlatform at {server.url} timed out before answering." in result.messages[0]


def test_a_query_past_its_deadline_is_not_asked_again() -> None:
    trickle = [head(200, {"Content-Type": "application/json"}, 1000), *[b" ", 0.2] * 100]
    with HostileServer(_always(*trickle)).running() as server:
        client = Client(server.url, token="t", deadline=0.8)
        with pytest.raises(ApiConnectionError, match=r"within 0\.8 seconds") as failed:
            client.retrieve("5")
    assert "BPXL_ANSWER_SECONDS" in (failed.value.hint or "")
    assert len(server.requests) == 1 and client.strain.resent == 0


def test_a_query_is_asked_again_after_a_busy_answer_or_a_dropped_connection() -> None:
    found = ok_json({"retrieveResponse": [{"Id": "5"}]})
    busy = ok_json({}, 503, {"Retry-After": "1"})
    slow = ok_json({}, 429, {"Retry-After": "1"})
    with HostileServer(_in_turn([None], [busy], [slow], [slow], [found])).running() as server:
        client = Client(server.url, token="t")
        assert client.retrieve("5") == {"Id": "5"}
    assert len(server.requests) == 5
    assert (client.strain.resent, client.strain.slow_downs) == (4, 2)  # 429s only slow down
    assert client.strain.waited_s == pytest.approx(3.0, abs=0.01)  # as asked; no backoff first


@pytest.mark.parametrize("verb", ["GET", "PUT"])
def test_a_429_to_a_query_or_an_update_slows_the_client_down_too(verb: str) -> None:
    """Every 429 asks the whole client to slow down (to BillingPlatform's 15 a second), not
    only a create's: a query's or an update's with a Retry-After as well."""
    slow = ok_json({}, 429, {"Retry-After": "1"})
    updated = ok_json({"updateResponse": [{"ErrorCode": "0", "Id": "5"}]})
    found = ok_json({"retrieveResponse": [{"Id": "5"}]})
    answers = _in_turn([_NO_ROWS], [slow], [found if verb == "GET" else updated])
    with HostileServer(answers).running() as server:
        client = Client(server.url, token="t")
        client.login()  # the token's check
        if verb == "GET":
            assert client.retrieve("5") == {"Id": "5"}
        else:
            assert client.update([{"Id": "5", "Status": "Closed"}])[0].outcome is Outcome.UPDATED
    assert [r.method for r in server.requests] == ["GET", verb, verb]
    assert (client.strain.slow_downs, client.strain.waited_s) == (1, 1.0)
    assert client._throttle.interval == pytest.approx(1 / MAX_REQUESTS_PER_S)


def test_a_query_unanswered_past_its_deadline_is_not_asked_again() -> None:
    """The watchdog ends the wait for the status line, a failed read urllib3 would retry on a
    GET: past the deadline it does not (no pause, no second request, nothing counted as
    strain)."""
    with HostileServer(_always(5.0)).running() as server:
        client = Client(server.url, token="t", deadline=0.6)
        with pytest.raises(ApiConnectionError, match=r"within 0\.6 seconds"):
            client.retrieve("5")
    assert len(server.requests) == 1 and client.strain.resent == 0


def test_an_upserts_found_after_a_retry_may_be_what_the_first_try_made() -> None:
    """A lost answer to an upsert is retried (PATCH changes nothing twice); "found" then may
    mean found what the first try made, so it is left unsaid; "made" still says made."""
    found = ok_json({"upsertResponse": [{"ErrorCode": "0", "Id": "5", "created": "false"}]})
    made = ok_json({"upsertResponse": [{"ErrorCode": "0", "Id": "6", "created": "true"}]})
    answers = _in_turn([None], [found], [found], [None], [made])
    with HostileServer(answers).running() as server:
        client = Client(server.url, token="t")
        [retried] = client.upsert([{"Id": "5", "Status": "Closed"}])
        [answered] = client.upsert([{"Id": "5", "Status": "Closed"}])
        [retried_made] = client.upsert([{"Id": "6", "Status": "Closed"}])
    assert len(server.requests) == 5
    assert retried.outcome is Outcome.UPSERTED and retried.created is None
    assert answered.created is False
    assert retried_made.created is True


def test_an_upsert_on_a_key_field_names_it_and_places_answers_by_it() -> None:
    """The field an upsert matches on is sent as externalIDFieldName, and answers that come
    back in another order go to the record holding the key they name."""
    records = [{"FileName": "a", "Status": "Closed"}, {"FileName": "b", "Status": "Closed"}]
    swapped = ok_json(
        {
            "upsertResponse": [
                {"ErrorCode": "0", "Id": "12", "FileName": "b"},
                {"ErrorCode": "0", "Id": "11", "FileName": "a"},
            ]
        }
    )
    with HostileServer(_always(swapped)).running() as server:
        got = Client(server.url, token="t").upsert(records, external_id="FileName")
    assert [(r.outcome, r.id) for r in got] == [(Outcome.UPSERTED, "11"), (Outcome.UPSERTED, "12")]
    sent = server.requests[-1]
    assert (sent.method, sent.path) == ("PATCH", "/t/rest/2.0/INVOICE")
    assert sent.json() == {"brmObjects": records, "externalIDFieldName": "FileName"}


def test_a_stop_ends_the_wait_before_a_retry() -> None:
    """The busy answer is then returned as it came, at once, and nothing is sent again."""
    busy = ok_json({}, 503, {"Retry-After": "30"})
    with HostileServer(_always(busy)).running() as server:
        client = Client(server.url, token="t")
        threading.Timer(0.5, client.stop_retrying).start()
        began = time.monotonic()
        with pytest.raises(ApiError, match="HTTP 503"):
            client.retrieve("5")
        assert time.monotonic() - began < 10 and len(server.requests) == 1
        with pytest.raises(ApiError, match="HTTP 503"):
            client.retrieve("6")
    assert len(server.requests) == 2 and client.strain.resent == 1


def test_429s_are_waited_out_within_a_budget_then_the_batch_is_refused(monkeypatch) -> None:
    monkeypatch.setattr("bpxl.core.client.RATE_LIMIT_BUDGET_S", 1.0)
    slow = ok_json({"error": "slow down"}, 429, {"Retry-After": "0.6"})
    with HostileServer(_always(slow)).running() as server:
        client = Client(server.url, token="t")
        [result] = client.create([_ROW])
    assert len(server.requests) == 2  # one wait of 0.6 s fits the budget; a second does not
    assert result.outcome is Outcome.FAILED and "rate limiting (HTTP 429" in result.messages[0]
    assert (client.strain.slow_downs, client.strain.resent) == (1, 1)
    assert client.strain.waited_s == pytest.approx(0.6)
    assert client._throttle.interval == pytest.approx(1.5 / 15)  # slowed down twice


def test_the_429_budget_is_spent_to_its_last_second(monkeypatch) -> None:
    monkeypatch.setattr("bpxl.core.client.RATE_LIMIT_BUDGET_S", 1.0)
    slow = ok_json({"error": "slow down"}, 429, {"Retry-After": "0.5"})
    with HostileServer(_always(slow)).running() as server:
        client = Client(server.url, token="t")
        [result] = client.create([_ROW])
    assert len(server.requests) == 3  # two waits of 0.5 s fill the budget of 1 s exactly
    assert client.strain.waited_s == 1.0 and result.outcome is Outcome.FAILED


def test_a_429_without_retry_after_waits_longer_each_time(monkeypatch) -> None:
    monkeypatch.setattr("bpxl.core.client.RATE_LIMIT_BUDGET_S", 3.5)
    slow = ok_json({}, 429)
    with HostileServer(_in_turn([slow], [slow], [_CREATED])).running() as server:
        client = Client(server.url, token="t")
        [result] = client.create([_ROW])
    assert result.outcome is Outcome.CREATED and len(server.requests) == 3
    assert client.strain.waited_s == pytest.approx(3.0)  # 1 s, then 2 s


def test_a_stop_during_a_429_wait_returns_the_refusal() -> None:
    slow = ok_json({}, 429, {"Retry-After": "30"})
    with HostileServer(_always(slow)).running() as server:
        client = Client(server.url, token="t")
        threading.Timer(0.3, client.stop_retrying).start()
        began = time.monotonic()
        [result] = client.create([_ROW])
    assert time.monotonic() - began < 10 and len(server.requests) == 1
    assert result.outcome is Outcome.FAILED and "HTTP 429" in result.messages[0]


def test_a_redirect_to_another_page_of_the_tenant_is_refused_too() -> None:
    moved = head(302, {"Location": "/t/elsewhere"}, 0)
    server = HostileServer(_always(moved))
    with server.running(), pytest.raises(ApiConnectionError) as refused:
        Client(server.url, token="t").retrieve("5")
    assert refused.value.message == (
        f"BillingPlatform at http://127.0.0.1:{server.port} answered with a redirect (HTTP 302) "
        "to another page of it. bpxl follows no redirect, so no password, token or session id "
        "was sent there."
    )
    assert refused.value.hint == (
        f"Check the tenant URL with your administrator; if http://127.0.0.1:{server.port} is "
        "really your tenant's address, use that URL (bpxl connect NAME --url ...)."
    )


@pytest.mark.parametrize("status", [300, 399])
def test_every_3xx_is_a_redirect_refused(status: int) -> None:
    """300 (Multiple Choices) and any 3xx a server invents point elsewhere as much as a 302."""
    moved = head(status, {"Location": "https://elsewhere.example/t"}, 0)
    server = HostileServer(_always(moved))
    with server.running(), pytest.raises(ApiConnectionError) as refused:
        Client(server.url, token="t").retrieve("5")
    assert refused.value.message.startswith(
        f"BillingPlatform at http://127.0.0.1:{server.port} answered with a redirect "
        f"(HTTP {status}) to another address, https://elsewhere.example."
    )


def test_an_answer_is_read_up_to_its_size_limit_and_refused_past_it() -> None:
    """The limit is the most read: an answer of exactly that size is read; a byte more is not,
    and the words say how to raise the limit."""
    body = b'{"retrieveResponse": [{"Id": "5"}]}'
    exact = head(200, {"Content-Type": "application/json"}, len(body)) + body
    with HostileServer(_in_turn([exact], [exact])).running() as server:
        assert Client(server.url, token="t", max_answer_bytes=len(body)).retrieve("5") == {
            "Id": "5"
        }
        with pytest.raises(ApiConnectionError) as refused:
            Client(server.url, token="t", max_answer_bytes=len(body) - 1).retrieve("5")
    assert refused.value.message == (
        f"BillingPlatform at {server.url} answered with more than "
        f"{(len(body) - 1) / 1048576:g} MB, more than bpxl reads, so the answer was not read."
    )
    assert refused.value.hint == (
        "If this is your tenant, set BPXL_ANSWER_MB to a larger number of megabytes; else check "
        "the URL."
    )
    assert refused.value.sent is True


def test_a_refused_query_says_its_status_in_the_servers_words_without_secrets() -> None:
    refused = ok_json({"error": "bad column", "echo": "sess-hostile-0123456789"}, 400)
    with HostileServer(_always(refused)).running() as server:
        client = Client(server.url, username="ann", password="pw")
        with pytest.raises(ApiError) as failed:
            client.retrieve_where("ACCOUNT", "Name = 'x'")
    assert failed.value.status == 400
    assert failed.value.message.startswith("BillingPlatform refused the query (HTTP 400: ")
    assert "bad column" in failed.value.message and server.session not in failed.value.message
    query = server.requests[-1]
    assert query.path == "/t/rest/2.0/ACCOUNT?queryAnsiSql=Name+%3D+%27x%27"


def test_an_unreadable_query_answer_is_an_error_with_its_status() -> None:
    junk = head(200, {"Content-Type": "application/json"}, 5) + b"<html"
    for answer in (junk, ok_json({"other": []})):
        server = HostileServer(_always(answer))
        with server.running(), pytest.raises(ApiError) as failed:
            Client(server.url, token="t").retrieve("5")
        assert failed.value.status == 200
        assert failed.value.message.startswith("BillingPlatform's answer to a query could not")


def test_an_answer_is_read_in_the_charset_it_names_else_in_utf_8() -> None:
    """A server that names no charset is read as JSON is written (UTF-8), not guessed at."""
    row = '{"retrieveResponse": [{"Name": "Caf\u00e9 cr\u00e8me"}]}'
    named = head(200, {"Content-Type": "application/json; charset=iso-8859-1"}, len(row))
    unnamed = head(200, {"Content-Type": "application/json"}, len(row.encode()))
    error = '{"error": "Caf\u00e9 ferm\u00e9"}'.encode()
    refused = head(400, {"Content-Type": "application/json"}, len(error)) + error
    answers = _in_turn(
        [_NO_ROWS], [named + row.encode("latin-1")], [unnamed + row.encode()], [refused]
    )
    with HostileServer(answers).running() as server:
        client = Client(server.url, token="t")
        client.login()
        assert client.retrieve("5") == {"Name": "Caf\u00e9 cr\u00e8me"}
        assert client.retrieve("6") == {"Name": "Caf\u00e9 cr\u00e8me"}
        with pytest.raises(ApiError, match="Caf\u00e9 ferm\u00e9"):
            client.retrieve("7")


def test_query_rows_are_the_dicts_of_the_answer_a_lone_one_too() -> None:
    one = ok_json({"retrieveResponse": {"Id": "5"}})
    mixed = ok_json({"queryResponse": [{"Id": "1"}, "junk", None, {"Id": "2"}]})
    missing = ok_json({}, 404)
    with HostileServer(_in_turn([one], [mixed], [missing])).running() as server:
        client = Client(server.url, token="t")
        assert client.retrieve("5") == {"Id": "5"}
        assert list(client.query("SELECT Id FROM INVOICE")) == [{"Id": "1"}, {"Id": "2"}]
        assert client.retrieve("6") is None


def test_a_query_asks_for_the_next_page_only_after_a_full_one() -> None:
    page = ok_json({"queryResponse": [{"Id": "1"}, {"Id": "2"}]})
    pages = _in_turn([page], [page], [page], [_NO_ROWS], [page])
    with HostileServer(pages).running() as server:
        client = Client(server.url, token="t")
        rows = list(client.query("SELECT Id FROM INVOICE", page_size=2))
        assert len(rows) == 6
        assert client.query_page("SELECT Id FROM INVOICE", 5) == [{"Id": "1"}, {"Id": "2"}]
    asked = [
        urllib.parse.parse_qs(urllib.parse.urlsplit(r.path).query)["sql"][0]
        for r in server.requests
    ]
    assert asked == [
        *(f"SELECT Id FROM INVOICE OFFSET {n} ROWS FETCH NEXT 2 ROWS ONLY" for n in (0, 2, 4, 6)),
        "SELECT Id FROM INVOICE OFFSET 0 ROWS FETCH NEXT 5 ROWS ONLY",
    ]


def test_pages_are_asked_for_on_a_thread_named_for_them() -> None:
    """A hang or a failure report (tests/fuzz.py names the thread) says what was running."""
    page = ok_json({"queryResponse": [{"Id": "1"}, {"Id": "2"}]})
    named: list[str] = []

    def answer(request: Request) -> list[Piece]:
        named.extend(t.name for t in threading.enumerate() if t.name.startswith("bpxl-page"))
        return [page]

    with HostileServer(answer).running() as server:
        rows = Client(server.url, token="t").query("SELECT Id FROM INVOICE", page_size=5)
        assert len(list(rows)) == 2
    assert named and named[-1].startswith("bpxl-page_")


def test_a_refused_delete_fails_every_id_without_secrets() -> None:
    refused = ok_json({"error": "no", "echo": "sess-hostile-0123456789"}, 403)
    with HostileServer(_always(refused)).running() as server:
        results = Client(server.url, username="ann", password="pw").delete(["5", "6"])
    assert [r.outcome for r in results] == [Outcome.FAILED] * 2
    assert results[0].messages[0].startswith("BillingPlatform refused the login (HTTP 403: ")
    assert server.session not in results[0].messages[0] and "no" in results[0].messages[0]
    delete = server.requests[-1]
    assert (delete.method, delete.path) == ("DELETE", "/t/rest/2.0/delete/INVOICE")
    assert delete.json() == {"brmObjects": [{"Id": "5"}, {"Id": "6"}]}


def test_a_delete_the_server_failed_on_may_be_sent_again() -> None:
    with HostileServer(_always(ok_json({"error": "down"}, 500))).running() as server:
        [result] = Client(server.url, token="t").delete(["5"])
    assert result.outcome is Outcome.UNKNOWN
    assert result.messages[0].endswith("; sending the update again is safe")
    assert len(server.requests) == 1  # a write's 500 is not sent again


def test_a_server_echoing_a_secret_in_a_result_has_it_cut() -> None:
    echo = ok_json(
        {"createResponse": [{"ErrorCode": "1", "ErrorText": "bad sess-hostile-0123456789"}]}
    )
    with HostileServer(_always(echo)).running() as server:
        [result] = Client(server.url, username="ann", password="pw").create([_ROW])
    assert result.outcome is Outcome.FAILED and server.session not in result.messages[0]


def test_a_session_or_token_given_up_stays_secret() -> None:
    """After a renewal the old session id or token is no longer sent, but a server may still
    echo it: it is cut from what the server says as the new one is."""
    logins = iter(["sess-first-0123456789", "sess-second-0123456789"])

    def session(request: Request) -> list[Piece]:
        if request.path.endswith("/login"):
            return [ok_json({"loginResponse": [{"ErrorCode": "0", "SessionID": next(logins)}]})]
        if request.headers.get("sessionid") == "sess-first-0123456789":
            return [ok_json({}, 401)]
        echo = "was sess-first-0123456789, is sess-second-0123456789"
        return [ok_json({"createResponse": [{"ErrorCode": "1", "ErrorText": echo}]})]

    with HostileServer(session, answer_logins=False).running() as server:
        [result] = Client(server.url, username="ann", password="pw").create([_ROW])
    assert "Was [hidden], is [hidden]" in result.messages[0]

    tokens = iter(["tok-first-0123456789", "tok-second-0123456789"])

    def oauth(request: Request) -> list[Piece]:
        if request.path.startswith("/t/auth/"):
            return [ok_json({"access_token": next(tokens)})]
        if request.headers.get("authorization") == "Bearer tok-first-0123456789":
            return [ok_json({}, 401)]
        echo = "was tok-first-0123456789, is tok-second-0123456789"
        return [ok_json({"createResponse": [{"ErrorCode": "1", "ErrorText": echo}]})]

    with HostileServer(oauth).running() as server:
        [result] = Client(server.url, oauth_client="app", client_secret="s").create([_ROW])
    assert "Was [hidden], is [hidden]" in result.messages[0]


def test_a_logout_that_fails_is_no_error() -> None:
    """The session expires on its own."""
    server = HostileServer(_always(_CREATED))
    with server.running():
        client = Client(server.url, username="ann", password="pw")
        client.create([_ROW])
    client.close()  # the server is gone
    assert client._session_id is None


def test_a_logout_is_given_30_seconds_whatever_the_read_timeout() -> None:
    """Closing waits for a slow logout (up to 30 s: a hung one must not hold the end of a run
    for the 7 minutes a batch may take), not only as long as the client's read timeout."""

    login = ok_json({"loginResponse": [{"ErrorCode": "0", "SessionID": "s-1", "UserId": "7"}]})

    def answer(request: Request) -> list[Piece]:
        if request.path.endswith("/login"):
            return [login]
        return [1.0, ok_json({})] if request.path.endswith("/logout") else [_CREATED]

    with HostileServer(answer, answer_logins=False).running() as server:
        client = Client(server.url, username="ann", password="pw", timeout=(2.0, 0.3))
        client.create([_ROW])
        began = time.monotonic()
        client.close()
        assert time.monotonic() - began >= 0.9  # the answer came after 1 s and was waited for
    assert server.requests[-1].path == "/t/rest/2.0/logout"


def test_closing_logs_out_a_session_only() -> None:
    with HostileServer(_always(_CREATED)).running() as server:
        with Client(server.url, username="ann", password="pw") as client:
            client.create([_ROW])
        assert client._session_id is None
        Client(server.url, token="t").close()
    logout = server.requests[-1]
    assert (logout.method, logout.path) == ("POST", "/t/rest/2.0/logout")
    assert logout.headers["sessionid"] == server.session
    assert len(server.requests) == 3
