"""The client's rules one by one, fast: which hosts are this computer, where a request goes, the
tenant URLs it refuses, the pacing of requests, the retry policy, the server's clock, the strain
note, and scripted answers of a server on loopback (``tests/hostile_server.py``)."""

from __future__ import annotations

import datetime as dt
import email.utils
import threading
import time

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
from bpxl.core.errors import UsageError


def test_this_computer_is_named_by_loopback_addresses_and_localhost_only() -> None:
    for host in ("localhost", "LOCALHOST.", "127.0.0.1", "127.9.9.9", "::1", "[::1]"):
        assert is_loopback(host), host
    for host in (None, "", "10.0.0.1", "localhost.example", "0.0.0.0", "example.com", "[::2]"):
        assert not is_loopback(host), host


def test_the_origin_of_a_url_is_its_scheme_host_and_port() -> None:
    assert origin("https://bp.example/acme/rest/2.0/INVOICE?x=1") == "https://bp.example"
    assert origin("https://bp.example:8443/acme") == "https://bp.example:8443"
    assert origin("http://[::1]:5000/t") == "http://[::1]:5000"
    assert origin("https://BP.example/acme") == "https://bp.example"
    assert origin("/relative/path") == "/relative/path"
    assert origin("x" * 100) == "x" * 80
    assert origin("http://[::1/t" + "y" * 100) == ("http://[::1/t" + "y" * 100)[:80]
    assert origin("http://[::1]\n/t" + "z" * 80) == "http://[::1]"
    assert origin("https://h:99999/t" + "w" * 80) == ("https://h:99999/t" + "w" * 80)[:80]
    assert origin("not\na url") == "not a url"


def test_a_tenant_url_must_be_http_or_https_with_a_host() -> None:
    assert check_url("https://bp.example/acme").hostname == "bp.example"
    assert check_url("HTTP://127.0.0.1:9/t").port == 9
    for bad in ("ftp://bp.example/acme", "bp.example/acme", "https:///acme", "http://[::1/t"):
        with pytest.raises(UsageError, match="is not a tenant URL") as refused:
            check_url(bad)
        assert "https://my.billingplatform.com/yourtenant" in (refused.value.hint or "")
    with pytest.raises(UsageError) as clear:
        check_url("HTTP://bp.example/acme")
    assert clear.value.message.startswith("http://bp.example uses http://")
    assert clear.value.hint == ("Use the tenant's https:// address, e.g. https://bp.example/acme")


def test_a_url_holding_a_user_or_password_is_refused_without_repeating_it() -> None:
    for url in ("https://ann:pw-123@bp.example/acme", "https://ann@bp.example/t", "https://:pw@h"):
        with pytest.raises(UsageError, match="user name or password") as refused:
            refuse_secret_in_url(url)
        assert "pw-123" not in str(refused.value) and "--profile" in (refused.value.hint or "")
    with pytest.raises(UsageError, match="user name or password"):
        refuse_secret_in_url("http://ann:pw@[::1/t")  # unreadable, but holds an @
    refuse_secret_in_url("https://bp.example/acme")
    refuse_secret_in_url("http://[::1/t")


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
        with pytest.raises(UsageError, match="No credentials") as refused:
            Client("https://bp.example/t", **kwargs)
        assert "BPXL_PASSWORD" in (refused.value.hint or "")


def test_a_client_names_itself_and_paces_only_other_computers() -> None:
    tenant = Client("https://bp.example/acme/", username="ann", password="pw")
    assert tenant.url == "https://bp.example/acme" and tenant.rate == MAX_REQUESTS_PER_S
    assert tenant._throttle.interval == pytest.approx(1 / 15)
    assert tenant._http.trust_env  # a proxy may stand between us and a tenant
    assert tenant._http.headers["User-Agent"] == f"bpxl/{__version__}"
    assert tenant._http.headers["Accept"] == "application/json"
    assert tenant._http.headers["Content-Type"] == "application/json; charset=utf-8"
    assert tenant.timeout == (10.0, 420.0)
    local = Client("http://127.0.0.1:1/t", username="ann", password="pw")
    assert local.rate is None and local._throttle.interval == 0 and not local._http.trust_env
    slow = Client("http://127.0.0.1:1/t", token="t", max_requests_per_s=2)
    assert slow.rate == 2 and slow._throttle.interval == 0.5


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


def test_a_throttle_slows_down_on_429_and_speeds_back_up() -> None:
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
    assert free.interval == 0  # back to the rate given: unpaced

    paced = _Throttle(10.0)
    paced.slow_down()
    assert paced.interval == pytest.approx(0.15)
    paced.speed_up()
    assert paced.interval == pytest.approx(0.12)
    paced.speed_up()  # 0.096 is within 5% of 0.1: back to the rate given
    assert paced.interval == 0.1
    paced.speed_up()
    assert paced.interval == 0.1


def test_a_throttle_speeds_up_to_its_base_not_past_it() -> None:
    throttle = _Throttle(100.0)  # 10 ms
    throttle.slow_down()  # 1/15 s
    seen = []
    for _ in range(20):
        throttle.speed_up()
        seen.append(throttle.interval)
    assert min(seen) == pytest.approx(0.01) and all(s >= 0.01 for s in seen)
    assert seen[0] == pytest.approx(0.8 / 15)


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
