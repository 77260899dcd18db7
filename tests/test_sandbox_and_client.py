"""The sandbox's endpoints and faults, through bpxl's own client over loopback HTTP."""

from __future__ import annotations

import socket
import struct
import time
from urllib.parse import urlsplit

import pytest
import requests

from bpxl.core.client import MAX_REQUESTS_PER_S, Client
from bpxl.core.errors import ApiError, AuthenticationError
from bpxl.core.results import Outcome
from bpxl.sandbox import Sandbox, SandboxConfig
from bpxl.sandbox.faults import Fault, FaultPlan
from bpxl.sandbox.sql import QueryError, select

from .processes import wait_for


def client_for(sandbox, **kw) -> Client:
    return Client(sandbox.url, username="demo", password=kw.pop("password", "demo"), **kw)


def test_query_paging_and_operators(sandbox) -> None:
    with client_for(sandbox) as client:
        created = client.create(
            [{"BillingProfileId": str(101 + i % 5), "Status": "Pending"} for i in range(25)]
        )
        assert all(r.outcome is Outcome.CREATED for r in created)
        client.update([{"Id": created[0].id, "Status": "Closed", "DueDate": "2024-05-01"}])
        rows = list(
            client.query(
                "SELECT Id, Status FROM INVOICE WHERE BillingProfileId IN (101, 102)", page_size=4
            )
        )
        assert len(rows) == 10 and len({r["Id"] for r in rows}) == 10
        closed = list(
            client.query(
                "SELECT Id, DueDate FROM INVOICE WHERE Status = 'Closed' "
                "AND (DueDate > '2024-01-01' "
                "OR DueDate IS NULL)"
            )
        )
        assert closed == [{"Id": created[0].id, "DueDate": "2024-05-01"}]
        assert (
            list(client.query("SELECT Id FROM INVOICE WHERE Status <> 'Pending' AND Id > 1000"))
            == []
        )
        assert client.retrieve(created[1].id)["Status"] == "Pending"
        assert client.retrieve("999999") is None
        deleted = client.delete([created[2].id, "999999"])
        assert [d.outcome for d in deleted] == [Outcome.UPDATED, Outcome.FAILED]
    gets = [r for r in sandbox.requests() if r["path"].endswith("/query")]
    assert len(gets) == 5  # 3 pages of 4 (the last short), then 2 more queries


def test_query_language_refuses_what_it_does_not_know() -> None:
    for text in (
        "SELECT * FROM INVOICE",
        "SELECT Id FROM ACCOUNT",
        "SELECT Nope FROM INVOICE",
        "SELECT Id FROM INVOICE WHERE Id = 1; DROP TABLE invoice",
        "SELECT Id FROM INVOICE WHERE Status = 'x' OR",
    ):
        with pytest.raises(QueryError):
            select(text, "invoice")
    query = select(
        "SELECT Id FROM INVOICE WHERE FileName = 'it''s' OFFSET 5 ROWS FETCH NEXT 20000 ROWS ONLY",
        "invoice",
    )
    assert query.params == ["it's"] and "LIMIT 10000 OFFSET 5" in query.sql


def test_upsert_on_external_id_creates_then_updates(sandbox) -> None:
    with client_for(sandbox) as client:
        first = client.upsert(
            [{"FileName": "a.pdf", "BillingProfileId": "101"}], external_id="FileName"
        )
        again = client.upsert([{"FileName": "a.pdf", "Status": "Closed"}], external_id="FileName")
    assert first[0].outcome is again[0].outcome is Outcome.UPSERTED
    assert first[0].id == again[0].id
    assert sandbox.sandbox.store.count() == 1


def test_read_only_and_unknown_fields_are_refused_per_record(sandbox) -> None:
    with client_for(sandbox) as client:
        got = client.create(
            [
                {"BillingProfileId": "101", "Created": "2024-01-01"},
                {"BillingProfileId": "101", "Colour": "red"},
                {"BillingProfileId": "101", "BillableFlag": "2"},
                {"BillingProfileId": "101"},
            ]
        )
    assert [r.outcome for r in got] == [
        Outcome.FAILED,
        Outcome.FAILED,
        Outcome.FAILED,
        Outcome.CREATED,
    ]
    assert got[0].messages[0].startswith("Created:") and got[1].messages[0].startswith("Colour:")


def test_login_refused_and_secrets_kept_out_of_repr(sandbox) -> None:
    client = client_for(sandbox, password="hunter2-secret")
    assert "hunter2" not in repr(client)
    with pytest.raises(AuthenticationError) as refused:
        client.login()
    assert "hunter2" not in str(refused.value)


def test_repr_names_who_logs_in_and_never_a_secret() -> None:
    secret = "Okapi-s3cret-9f2"
    with Sandbox(SandboxConfig(port=0, password=secret)) as sandbox:
        token, _ = sandbox.login("demo", secret)
        clients = [
            (Client(sandbox.url, username="demo", password=secret), "as user 'demo'"),
            (
                Client(sandbox.url, oauth_client="demo", client_secret=secret),
                "as OAuth client 'demo'",
            ),
            (Client(sandbox.url, token=token), "as token"),
        ]
        for client, who in clients:
            with client:
                client.create([{"BillingProfileId": "101"}])  # logged in: a session or token
                shown = repr(client)
                assert shown == f"<Client {sandbox.url} as {who[3:]}>"
                for leaked in [secret, *sandbox.issued]:
                    assert leaked not in shown
        assert len(sandbox.issued) == 3


def test_expired_session_logs_in_again_once(sandbox) -> None:
    with client_for(sandbox) as client:
        client.login()
        sandbox.sandbox.logout(client._session_id)  # the server forgets the session
        assert client.create([{"BillingProfileId": "101"}])[0].outcome is Outcome.CREATED
    logins = [r for r in sandbox.requests() if r["path"].endswith("/login")]
    assert len(logins) == 2


def test_every_route_but_login_needs_auth(sandbox) -> None:
    for method, path in [
        ("GET", "INVOICE/1"),
        ("POST", "INVOICE"),
        ("GET", "query?sql=x"),
        ("DELETE", "delete/INVOICE"),
    ]:
        answer = requests.request(
            method, f"{sandbox.url}/rest/2.0/{path}", json={"brmObjects": []}, timeout=5
        )
        assert answer.status_code == 401


def test_oauth_client_credentials(sandbox) -> None:
    answer = requests.post(
        f"{sandbox.url}/auth/1.0/authenticate?grant_type=client_credentials",
        auth=("demo", "demo"),
        timeout=5,
    )
    token = answer.json()["access_token"]
    with Client(sandbox.url, token=token) as client:
        assert client.create([{"BillingProfileId": "101"}])[0].outcome is Outcome.CREATED


def test_client_fetches_and_renews_an_oauth_token(sandbox) -> None:
    with Client(sandbox.url, oauth_client="demo", client_secret="demo") as client:
        assert client.create([{"BillingProfileId": "101"}])[0].outcome is Outcome.CREATED
        sandbox.sandbox.logout(client._token)  # the token expires
        assert client.create([{"BillingProfileId": "102"}])[0].outcome is Outcome.CREATED
    fetched = [r for r in sandbox.requests() if r["path"].endswith("/authenticate")]
    assert len(fetched) == 2
    with pytest.raises(AuthenticationError) as refused:
        Client(sandbox.url, oauth_client="demo", client_secret="wrong-secret").login()
    assert "wrong-secret" not in str(refused.value) and "bpxl connect" in refused.value.hint


def test_429_on_an_update_is_waited_out_and_slows_the_client(make_sandbox) -> None:
    limited = make_sandbox(faults=["429:0.5"], seed=4)
    with client_for(limited) as client:
        assert client._throttle.interval == 0  # loopback: no pacing until the server asks
        created = client.create([{"BillingProfileId": "101"}])
        got = client.update([{"Id": created[0].id, "Status": "Closed"}])
        assert got[0].outcome is Outcome.UPDATED
        statuses = [r["status"] for r in limited.writes()]
        assert 429 in statuses and client._throttle.interval > 0
    assert statuses.count(200) == 2 and set(statuses) == {200, 429}


def test_a_server_that_asked_to_slow_down_is_held_to_the_published_rate(make_sandbox) -> None:
    """Once told 429, the client paces itself at BillingPlatform's 15 requests a second for the
    rest of the run, even on loopback, however many answers follow; it does not race again."""
    limited = make_sandbox(faults=["429:0.5"], seed=4)
    with client_for(limited) as client:
        client.create([{"BillingProfileId": "101"}])
        while 429 not in [r["status"] for r in limited.writes()]:
            client.create([{"BillingProfileId": "102"}])
        for _ in range(25):  # each answer speeds the client up again, down to its floor
            client._throttle.speed_up()
        assert client._throttle.interval == pytest.approx(1 / MAX_REQUESTS_PER_S)


def test_a_sandbox_held_to_a_rate_answers_429_beyond_it_and_stores_nothing_then(
    make_sandbox,
) -> None:
    """``--fault rate:N``: a burst of up to N requests passes, then N a second; beyond that a
    429 with Retry-After in whole seconds, the records not stored. The client waits and sends
    them again: every record made once, none before its turn. One a second, so that a loaded
    machine (a create taking a few hundred milliseconds) still asks faster than the rate."""
    limited = make_sandbox(faults=["rate:1"])
    with client_for(limited) as client:
        client.login()
        began = time.monotonic()
        got = [client.create([{"BillingProfileId": "101"}])[0] for _ in range(4)]
        took = time.monotonic() - began
    assert [r.outcome for r in got] == [Outcome.CREATED] * 4
    assert limited.sandbox.store.count() == 4
    statuses = [r["status"] for r in limited.writes()]
    assert statuses.count(200) == 4 and 429 in statuses and set(statuses) == {200, 429}
    assert took >= (4 - 1) / 1 - 0.2  # a burst of 1, then 1 a second
    answer = requests.get(f"{limited.url}/rest/2.0/INVOICE/1", timeout=5)
    for _ in range(10):
        if answer.status_code == 429:
            break
        answer = requests.get(f"{limited.url}/rest/2.0/INVOICE/1", timeout=5)
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) >= 1


def test_reset_after_stores_records_but_gives_no_answer(make_sandbox) -> None:
    broken = make_sandbox(faults=["reset-after:1.0"])
    with client_for(broken) as client:
        got = client.create([{"BillingProfileId": "101"}, {"BillingProfileId": "102"}])
    assert [r.outcome for r in got] == [Outcome.UNKNOWN] * 2
    assert "check in BillingPlatform" in got[0].messages[0]
    assert broken.sandbox.store.count() == 2
    assert [r["status"] for r in broken.writes()] == [0]


def test_reset_before_stores_nothing(make_sandbox) -> None:
    broken = make_sandbox(faults=["reset-before:1.0"])
    with client_for(broken) as client:
        got = client.create([{"BillingProfileId": "101"}])
    assert got[0].outcome is Outcome.UNKNOWN and broken.sandbox.store.count() == 0


def test_429_is_waited_out_and_a_create_is_then_sent(make_sandbox) -> None:
    limited = make_sandbox(faults=["429:0.5"], seed=3)
    with client_for(limited) as client:
        got = client.create([{"BillingProfileId": "101"}])
    assert got[0].outcome is Outcome.CREATED and limited.sandbox.store.count() == 1
    statuses = [r["status"] for r in limited.writes()]
    assert statuses[-1] == 200 and set(statuses[:-1]) <= {429}


def test_request_log_has_the_four_keys_and_no_secret(sandbox) -> None:
    with client_for(sandbox) as client:
        client.create([{"BillingProfileId": "101"}] * 3)
        session = client._session_id
    text = sandbox.log_path.read_text()
    assert session and session not in text and "demo" not in text
    first_write = sandbox.writes()[0]
    assert first_write == {
        "method": "POST",
        "path": "/sandbox/rest/2.0/INVOICE",
        "records": 3,
        "status": 200,
    }


def test_fault_plan_parsing_and_repeatability() -> None:
    plan = FaultPlan.parse(["latency:20ms", "503:0.5"], seed=7)
    assert plan.latency_s == 0.02
    again = FaultPlan.parse(["503:0.5"], seed=7)
    assert [plan.draw() for _ in range(50)] == [again.draw() for _ in range(50)]
    assert Fault.UNAVAILABLE in {plan.draw() for _ in range(50)}
    for bad in ("latency:fast", "503:2", "explode:0.1"):
        with pytest.raises(ValueError, match="--fault"):
            FaultPlan.parse([bad])


def test_an_internal_sandbox_error_is_answered_with_500(sandbox, monkeypatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(sandbox.sandbox.store, "write", broken)
    with client_for(sandbox) as client:
        [got] = client.create([{"BillingProfileId": "101"}])
    assert got.outcome is Outcome.UNKNOWN and "HTTP 500" in got.messages[0]


def test_a_tenant_is_sent_at_most_15_requests_a_second() -> None:
    """A sandbox on this computer is sent requests at full speed; any other host is held to
    BillingPlatform's published 15 a second (which a loopback client asked for is held to, here:
    a tenant elsewhere would need https, which the sandbox does not speak)."""
    assert Client("https://bp.example/acme", username="u", password="p").rate == 15
    assert Client("http://127.0.0.1:1/sandbox", username="u", password="p").rate is None
    with Sandbox(SandboxConfig(port=0)) as sandbox:
        with Client(sandbox.url, username="demo", password="demo", max_requests_per_s=15) as client:
            client.login()
            began = time.monotonic()
            for _ in range(16):
                client.create([{"BillingProfileId": "101"}])
            seconds = time.monotonic() - began
        assert sandbox.store.count() == 16
    assert seconds >= 0.95, f"16 requests in {seconds:.2f} s"


def test_a_client_that_goes_away_mid_request_leaves_no_traceback(sandbox, capsys) -> None:
    """A killed bpxl (the chaos histories kill many) must not spray tracebacks on the sandbox's
    terminal; a real sandbox bug still does (see the 500 test above)."""
    where = urlsplit(sandbox.url)
    for _ in range(3):
        with socket.create_connection((where.hostname, where.port)) as dropped:
            dropped.sendall(b"POST /sandbox/rest/2.0/INVOICE HTTP/1.1\r\nContent-Length: 99\r\n")
            time.sleep(0.05)
            dropped.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    wait_for(lambda: len(sandbox.sandbox.broken) == 3)  # the server has dealt with all three
    assert set(sandbox.sandbox.broken) == {"ConnectionResetError"}
    with Client(sandbox.url, username="demo", password="demo") as client:
        client.login()  # the sandbox still answers
    assert "Traceback" not in capsys.readouterr().err


class _Failing(FaultPlan):
    """The next ``times`` requests are answered with a plain 500 error page; then all is well."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.times = times

    def draw(self) -> Fault:
        if self.times <= 0:
            return Fault.NONE
        self.times -= 1
        return Fault.ECHO


def test_a_query_answered_500_is_asked_again_and_a_write_is_not(sandbox) -> None:
    """A query changes nothing, so a 500 to it is retried (within the retry budget); a create's
    500 may have stored, so it is not."""
    with client_for(sandbox) as client:
        client.login()
        client.create([{"BillingProfileId": "101"}])
        sandbox.sandbox.config.faults = _Failing(2)
        rows = list(client.query("SELECT Id FROM INVOICE"))
        assert len(rows) == 1 and sandbox.sandbox.config.faults.times == 0
        sandbox.sandbox.config.faults = _Failing(1)
        [result] = client.create([{"BillingProfileId": "102"}])
        assert result.outcome is not Outcome.CREATED
        sandbox.sandbox.config.faults = _Failing(9)
        with pytest.raises(ApiError, match=r"HTTP 500"):
            list(client.query("SELECT Id FROM INVOICE"))
        assert sandbox.sandbox.config.faults.times == 9 - 5  # the first ask and 4 retries
