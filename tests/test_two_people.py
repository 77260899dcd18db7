"""Two people, each with their own bpxl (own data folder: two Windows accounts, two laptops on a
shared or synced folder), and one workbook: at the same time, the lock file beside the workbook
keeps the second out and names the first; one after the other, from an old copy, the duplicate
check finds the invoices the first made. One invoice per row every time."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bpxl.core import folder_lock, writer_lock
from bpxl.core.errors import WorkbookBusyError

from .conftest import read_sheet, write_invoices
from .fake_billingplatform import FakeBillingPlatform, Plan
from .processes import wait_for

ROWS = [
    {"BillingProfileId": "101", "FileName": f"shared-{i}.pdf", "AgingInterval": i} for i in range(3)
]


def _person(tmp_path: Path, name: str) -> dict[str, str]:
    """The environment of one person's bpxl: their own data and config folders, login name."""
    home = tmp_path / name
    for folder in ("data", "config"):
        (home / folder).mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "BPXL_DATA_DIR": str(home / "data"),
        "BPXL_CONFIG_DIR": str(home / "config"),
        "BPXL_PASSWORD": "demo",
        "USER": name,
        "LOGNAME": name,
    }


def _push(book: Path, url: str, env: dict[str, str], *more: str) -> subprocess.Popen[str]:
    args = ["push", str(book), "--op", "create", "--url", url, "--username", "demo", *more]
    return subprocess.Popen(
        [sys.executable, "-m", "bpxl.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_people_pushing_one_workbook_at_once_make_one_invoice_per_row(tmp_path: Path) -> None:
    """Anna's push is held at its first create by the server; Ben's push of the same file, from
    his own bpxl, is refused and told who holds it; then Anna's finishes: 3 rows, 3 invoices."""
    gate = threading.Event()

    def held(n: int, records: list[dict[str, object]]) -> Plan:
        gate.wait(90)  # until Ben has tried
        return Plan()

    fake = FakeBillingPlatform(held)
    book = write_invoices(tmp_path / "shared.xlsx", ROWS)
    with fake.running():
        try:
            anna = _push(book, fake.url, _person(tmp_path, "anna"), "--batch-size", "1")
            wait_for(lambda: len(fake.writes) >= 1)
            ben = _push(book, fake.url, _person(tmp_path, "ben"), "--batch-size", "1")
            _, err = ben.communicate(timeout=60)
        finally:
            gate.set()
        out, anna_err = anna.communicate(timeout=120)
        ids = fake.ids()
    assert ben.returncode == 2, err
    host = socket.gethostname()
    assert f"shared.xlsx is in use by bpxl push of anna on computer {host} (since " in err
    assert "Nothing was read or sent" in err and "Traceback" not in err
    assert anna.returncode == 0, out + anna_err
    sheet = read_sheet(book)
    assert len(ids) == 3 and sorted(str(r["Id"]) for r in sheet) == sorted(ids)
    assert {r["Result"] for r in sheet} == {"Created"}
    assert not folder_lock.lock_path(book).exists()  # gone with the push


def test_a_colleague_pushing_an_old_copy_is_told_the_invoices_exist(
    tmp_path: Path, make_sandbox, run, monkeypatch
) -> None:
    """Anna pushes the workbook; Ben, with his own bpxl and his own login, pushes the copy he
    took before: the duplicate check finds Anna's invoices (Exists, naming them); with
    --create-anyway he creates them all the same."""
    server = make_sandbox(extra_users={"ben": "ben-pw"})
    book = write_invoices(tmp_path / "book.xlsx", ROWS)
    copy = tmp_path / "copy of book.xlsx"
    copy.write_bytes(book.read_bytes())
    for name, value in _person(tmp_path, "anna").items():
        if name.startswith("BPXL_"):
            monkeypatch.setenv(name, value)
    code, out, err = run("push", book, "--op", "create", "--url", server.url, "--username", "demo")
    assert code == 0, out + err
    made = {r["FileName"]: str(r["Id"]) for r in read_sheet(book)}
    for name, value in _person(tmp_path, "ben").items():
        if name.startswith("BPXL_"):
            monkeypatch.setenv(name, value)
    login = ["--url", server.url, "--username", "ben"]
    code, out, err = run("push", copy, "--op", "create", *login, password="ben-pw")
    assert code == 1, out + err
    assert "3 rows: 0 created, 0 invalid, 0 failed, 3 exists" in out + err
    sheet = read_sheet(copy)
    assert len(server.writes()) == 1  # Anna's batch only: nothing of Ben's was sent
    for row in sheet:
        assert row["Result"] == "Exists" and row["Id"] is None
        message = row["Message"]
        assert f"Id {made[row['FileName']]}, created by user 1 on " in message, message
        assert "--create-anyway" in message
    code, out, err = run(
        "push", copy, "--op", "create", "--create-anyway", *login, password="ben-pw"
    )
    assert code == 0, out + err
    assert {r["Result"] for r in read_sheet(copy)} == {"Created"} and len(server.writes()) == 2


def _stale_holder(book: Path, **holder: object) -> Path:
    path = folder_lock.lock_path(book)
    since = dt.datetime.now(dt.UTC).isoformat()
    body = {"user": "anna", "host": socket.gethostname(), "pid": os.getpid(), "command": "push"}
    body.update({"since": since, "alive": since, "token": "t0", **holder})
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


def test_a_lock_file_of_an_ended_process_on_this_computer_is_taken_over(tmp_path: Path) -> None:
    book = write_invoices(tmp_path / "b.xlsx", ROWS)
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    _stale_holder(book, pid=int(ended.stdout))
    with writer_lock.hold(book, command="push") as notes:
        held = json.loads(folder_lock.lock_path(book).read_text(encoding="utf-8"))
    assert held["pid"] == os.getpid() and held["token"] != "t0"
    [note] = notes
    assert "held by bpxl push of anna on computer" in note and "its process has ended" in note
    assert "took over" in note
    assert not folder_lock.lock_path(book).exists()


def test_another_computers_holder_is_honoured_until_it_falls_silent(tmp_path: Path) -> None:
    book = write_invoices(tmp_path / "b.xlsx", ROWS)
    path = _stale_holder(book, host="LAPTOP-BEN", pid=1, user="ben")
    with pytest.raises(WorkbookBusyError) as refused, writer_lock.hold(book, command="push"):
        pass
    said = str(refused.value) + refused.value.hint
    assert "in use by bpxl push of ben on computer LAPTOP-BEN (since " in said
    assert "no sign of life for 5 minutes" in said and path.name in said
    assert path.exists()  # still Ben's
    quiet = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=6)
    os.utime(path, (quiet.timestamp(), quiet.timestamp()))
    _stale_holder(book, host="LAPTOP-BEN", pid=1, user="ben", alive=quiet.isoformat())
    os.utime(path, (quiet.timestamp(), quiet.timestamp()))
    with writer_lock.hold(book, command="push") as notes:
        pass
    assert "given no sign of life for 6 minutes" in notes[0] and "LAPTOP-BEN" in notes[0]


def test_a_live_holder_keeps_its_lock_alive(tmp_path: Path, monkeypatch) -> None:
    """The heartbeat: the holder writes its file again and again while it runs."""
    monkeypatch.setattr(folder_lock, "HEARTBEAT_S", 0.05)
    book = write_invoices(tmp_path / "b.xlsx", ROWS)
    path = folder_lock.lock_path(book)
    with writer_lock.hold(book, command="push"):
        first = json.loads(path.read_text(encoding="utf-8"))["alive"]
        wait_for(lambda: json.loads(path.read_text(encoding="utf-8"))["alive"] != first, 10)
    assert not path.exists()
