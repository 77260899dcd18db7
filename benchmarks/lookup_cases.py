"""The lost-create cases of issue 12, each against a small fake BillingPlatform, with figures.

Run it on the current code, and on an older commit to compare (the bpxl it imports decides):

    .venv/bin/python benchmarks/lookup_cases.py
    git worktree add /tmp/old COMMIT
    PYTHONPATH=/tmp/old/addin .venv/bin/python benchmarks/lookup_cases.py

Per case: rows pushed, invoices on the server afterwards, duplicates (invoices beyond one per
row), other users' or older invoices claimed, the rows' statuses, secrets shown, wall time. The
last case is how long a create whose answer was lost takes to settle.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import record  # noqa: E402
from tests.fake_billingplatform import FakeBillingPlatform, Plan  # noqa: E402

import bpxl  # noqa: E402
from bpxl.core.client import Client  # noqa: E402
from bpxl.core.push import Grid, PushOptions, push  # noqa: E402
from bpxl.core.results import Operation  # noqa: E402

HEADER = ["Id", "BillingProfileId", "FileName", "AgingInterval", "Result", "Message"]


def rows(n: int, same: bool = False, name: str = "inv") -> list[list[object]]:
    return [[None, "101", "same.pdf" if same else f"{name}-{i}.pdf", 7, None, None]
            for i in range(n)]  # fmt: skip


def run_case(
    label: str,
    data: list[list[object]],
    script: Callable[[int, list[dict[str, Any]]], Plan],
    before: Callable[[FakeBillingPlatform], None] = lambda _: None,
    batch_size: int = 200,
) -> list[object]:
    fake = FakeBillingPlatform(script)
    with fake.running():
        before(fake)
        earlier = set(fake.ids())
        started = time.perf_counter()
        with Client(fake.url, username="demo", password="demo") as client:
            report = push(
                Grid(HEADER, [(i + 2, r) for i, r in enumerate(data)]),
                client,
                PushOptions(Operation.CREATE, batch_size=batch_size),
            )
        seconds = time.perf_counter() - started
        sessions = list(fake.sessions)
    ids = fake.ids()  # after late stores have landed
    statuses = Counter(r.outcome.value if r.outcome else "-" for r in report.results)
    sent = sum(r.outcome is not None and r.outcome.value != "Invalid" for r in report.results)
    new = len(ids) - len(earlier)
    claimed_foreign = sum(1 for r in report.results if r.id in earlier)
    got = [r.id for r in report.results if r.id]
    wrong = [i for i in got if i not in ids] + got[len(set(got)) :]  # unknown, or twice
    leaks = sum(s in m for r in report.results for m in r.messages for s in ["demo", *sessions])
    return [
        label,
        len(data),
        new,
        max(new - sent, 0),
        claimed_foreign + len(wrong),
        ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())),
        leaks,
        f"{seconds:.1f} s",
    ]


def junk(value: object) -> Callable[[int, list[dict[str, Any]]], Plan]:
    def body(items: list[dict[str, str]], _: dict[str, str]) -> str:
        return json.dumps({"createResponse": [{**i, "Id": value} for i in items]})

    return lambda n, _: Plan(body=body)


def foreign_twins(fake: FakeBillingPlatform) -> None:
    records = [{"BillingProfileId": "101", "FileName": f"inv-{i}.pdf", "AgingInterval": 7}
               for i in range(3)]  # fmt: skip
    fake.store.write(Operation.CREATE, records, 2)  # another user, just before


def our_own_27s_earlier(fake: FakeBillingPlatform) -> None:
    twin = {"BillingProfileId": "101", "FileName": "same.pdf", "AgingInterval": 7}
    fake.store.write(Operation.CREATE, [twin], 1)
    stamp = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=27)).isoformat()[:23] + "Z"
    fake.store._db.execute("UPDATE invoice SET Created = ?", (stamp,))


def refused_echoing(n: int, records: list[dict[str, Any]]) -> Plan:
    def body(items: list[dict[str, str]], headers: dict[str, str]) -> str:
        text = f"Bad value for request with sessionid: {headers.get('sessionid')}"
        item = {"ErrorCode": "E1", "ErrorText": text, "ErrorElementField": "FileName"}
        return json.dumps({"createResponse": [item for _ in records]})

    return Plan(store=False, body=body)


def poisoned(n: int, records: list[dict[str, Any]]) -> Plan:
    if any(r.get("FileName") == "poison.pdf" for r in records):
        return Plan(store=False, status=500, body=echo)
    return Plan()


def echo(_: list[dict[str, str]], headers: dict[str, str]) -> str:
    ordered = sorted(headers.items(), key=lambda h: h[0] != "sessionid")
    shown = "; ".join(f"{k}: {v}" for k, v in ordered)
    return json.dumps({"errors": [{"error_code": "500", "error_text": f"Internal error; {shown}"}]})


def main() -> None:
    first_lost = lambda status, **kw: lambda n, _: Plan(status=status, **kw) if n == 1 else Plan()  # noqa: E731
    with_poison = rows(15)
    with_poison[6] = [None, "101", "poison.pdf", 7, None, None]
    cases = [
        run_case("stored 1.5 s after a dropped connection", rows(3), first_lost(0, delay_s=1.5)),
        run_case("each row's twin made by another user; dropped before storing",
                 rows(3), first_lost(0, store=False), foreign_twins),
        run_case("our own identical invoice 27 s before; dropped before storing",
                 rows(1, same=True), first_lost(0, store=False), our_own_27s_earlier),
        *(run_case(f"created, answered with Id {json.dumps(j)}", rows(3), junk(j))
          for j in [" ", "null", 0, False, [], {}]),
        run_case("created, every item answered with Id \"1\"", rows(3), junk("1")),
        run_case("AgingInterval 1e308 among 14 good rows",
                 [*rows(14), [None, "101", "big.pdf", 1e308, None, None]], lambda n, _: Plan()),
        run_case("500 for a batch with one bad record (page echoes headers)", with_poison,
                 poisoned),
        run_case("each record refused, its ErrorText echoing the session id", rows(2),
                 refused_echoing),
        *(run_case(f"{s} after storing", rows(4), first_lost(s)) for s in (400, 408, 409)),
        run_case("lost create settles: dropped after storing, 10 rows", rows(10), first_lost(0)),
        run_case("lost create settles: dropped before storing, 10 rows", rows(10),
                 first_lost(0, store=False)),
    ]  # fmt: skip
    code = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True, text=True, cwd=Path(bpxl.__file__).parent, check=False,
    ).stdout.strip()  # fmt: skip
    wait = os.environ.get("BPXL_LOOKUP_WAIT", "default")
    record(
        f"Lost-create cases (issue 12), bpxl code at {code}, BPXL_LOOKUP_WAIT {wait}",
        ["case", "rows", "invoices made", "duplicates", "wrong or foreign Ids claimed", "statuses",
         "secrets in messages", "wall time"],
        cases,
        keep="--keep" in sys.argv,
    )  # fmt: skip


if __name__ == "__main__":
    main()
