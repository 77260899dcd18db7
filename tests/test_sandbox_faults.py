"""The sandbox's users and its faults of a server under load: late stores, 504s, echoing pages."""

from __future__ import annotations

import time

import pytest

from bpxl.core.client import Client
from bpxl.core.results import Outcome
from bpxl.sandbox import FaultPlan


def test_each_login_is_its_own_user(make_sandbox) -> None:
    running = make_sandbox(extra_users={"other": "other-pw"})
    with Client(running.url, username="other", password="other-pw") as client:
        other = client.create([{"BillingProfileId": "101"}])[0].id
        assert client.user_id == "2"
    with Client(running.url, username="demo", password="demo") as client:
        mine = client.create([{"BillingProfileId": "101"}])[0].id
        assert client.user_id == "1"
        owners = {
            r["Id"]: r["CreatedUserId"]
            for r in client.query("SELECT Id, CreatedUserId FROM INVOICE")
        }
    assert owners == {other: "2", mine: "1"}


def test_store_late_stores_a_lost_write_only_after_the_delay(make_sandbox) -> None:
    running = make_sandbox(faults=["reset-after:1.0", "store-late:0.6s"])
    with Client(running.url, username="demo", password="demo") as client:
        got = client.create([{"BillingProfileId": "101"}, {"BillingProfileId": "102"}])
        assert [r.outcome for r in got] == [Outcome.UNKNOWN] * 2
        assert running.sandbox.store.count() == 0  # still working on it
        time.sleep(1.0)
        assert running.sandbox.store.count() == 2


def test_504_stores_the_records_all_the_same(make_sandbox) -> None:
    running = make_sandbox(faults=["504:1.0"])
    with Client(running.url, username="demo", password="demo") as client:
        got = client.create([{"BillingProfileId": "101"}])
    assert got[0].outcome is Outcome.UNKNOWN and "504" in got[0].messages[0]
    assert running.sandbox.store.count() == 1
    assert [r["status"] for r in running.writes()] == [504]


def test_500_echo_stores_nothing(make_sandbox) -> None:
    running = make_sandbox(faults=["500-echo:1.0"])
    with Client(running.url, username="demo", password="demo") as client:
        got = client.create([{"BillingProfileId": "101"}])
    assert got[0].outcome is Outcome.UNKNOWN and running.sandbox.store.count() == 0


@pytest.mark.parametrize("spec", ["store-late:soon", "504:2", "store-late"])
def test_bad_fault_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="--fault"):
        FaultPlan.parse([spec])
