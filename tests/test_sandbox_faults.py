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


@pytest.mark.parametrize(
    "spec", ["store-late:soon", "504:2", "store-late", "rate:0", "rate:fast", "rate:-3"]
)
def test_bad_fault_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="--fault"):
        FaultPlan.parse([spec])


def test_skew_and_respell_faults(make_sandbox) -> None:
    """``skew`` moves the Date headers' clock away from the Created stamps'; ``respell`` answers
    queries with the same values spelled otherwise; both parse as documented."""
    import datetime as dt
    import unicodedata

    running = make_sandbox(faults=["skew:-10m", "respell:1"])
    record = {"BillingProfileId": "101", "FileName": "Café\nx", "DueDate": "2026-02-03"}
    record["Disputed"] = "1"
    with Client(running.url, username="demo", password="demo") as client:
        [made] = client.create([record])
        now = client.last_answer_date
        [found] = client.query("SELECT Id, Created, FileName, DueDate, Disputed FROM INVOICE")
    assert made.outcome is Outcome.CREATED and now is not None
    assert abs((dt.datetime.now(dt.UTC) - now).total_seconds() - 600) < 5
    created = dt.datetime.fromisoformat(str(found["Created"]).replace("Z", "+00:00"))
    assert (
        abs(
            (
                dt.datetime.now(dt.UTC) - created.replace(tzinfo=created.tzinfo or dt.UTC)
            ).total_seconds()
        )
        < 5
    )
    assert found["FileName"] == unicodedata.normalize("NFD", "Café\r\nx")
    assert found["DueDate"] == "2026-02-03T00:00:00.000Z" and found["Disputed"] == "Yes"
    assert (
        FaultPlan.parse(["skew:90s"]).skew_s == 90 and FaultPlan.parse(["skew:+2m"]).skew_s == 120
    )
    for bad in ("skew:soon", "respell:2"):
        with pytest.raises(ValueError, match="--fault"):
            FaultPlan.parse([bad])
