"""The ledger of created invoices on its own: what it keeps, finds and says, shared by threads and
by other processes' connections, and the words when its file cannot be used."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bpxl.core.errors import UsageError
from bpxl.core.ledger import Entry, Ledger, ledger_file

TENANT = "https://acme.billingplatform.com/acme"
AT = dt.datetime(2026, 12, 7, 15, 40, 12, tzinfo=dt.UTC)


def entry(key: str, record_id: str, at: dt.datetime = AT, row: int = 4) -> Entry:
    return Entry(key, record_id, "/books/Invoices.xlsx", "Invoices", row, at)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(tmp_path / "ledger", TENANT) as opened:
        yield opened


@pytest.fixture
def tokyo() -> Iterator[None]:
    before = os.environ.get("TZ")
    os.environ["TZ"] = "JST-9"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_creates_are_found_by_key_oldest_first_and_kept_once(ledger: Ledger) -> None:
    later = AT + dt.timedelta(minutes=5)
    ledger.record([entry("k1", "9", later), entry("k1", "12"), entry("k2", "5", row=7)])
    ledger.record([entry("k1", "12", later, row=99)])  # the same create again: left as it was
    found = ledger.find(["k1", "k3", "k2", "k1"])
    assert found == {
        "k1": [entry("k1", "12"), entry("k1", "9", later)],
        "k2": [entry("k2", "5", row=7)],
    }
    assert found["k1"][0].at.utcoffset() == dt.timedelta(0)
    assert ledger.find([]) == {} and ledger.find(["k3"]) == {}


def test_two_creates_at_the_same_moment_come_in_the_order_of_their_ids(ledger: Ledger) -> None:
    ledger.record([entry("k", "31"), entry("k", "30")])
    assert [e.id for e in ledger.find(["k"])["k"]] == ["30", "31"]


def test_a_time_in_any_zone_is_kept_as_the_same_instant(ledger: Ledger, tokyo: None) -> None:
    """Kept and given back in UTC, whatever the computer's zone (``described`` tells it in local
    time)."""
    tokyo_time = AT.astimezone(dt.timezone(dt.timedelta(hours=9)))
    ledger.record([entry("k", "1", tokyo_time)])
    [kept] = ledger.find(["k"])["k"]
    assert kept.at == AT and kept.at.utcoffset() == dt.timedelta(0)


def test_thousands_of_keys_are_recorded_and_found_at_once(ledger: Ledger) -> None:
    """A 10,000-row send records and looks up more keys than SQLite takes in one statement."""
    entries = [entry(f"key{n}", str(n + 1), row=n + 2) for n in range(6000)]
    ledger.record(entries)
    found = ledger.find(e.key for e in entries)
    assert len(found) == 6000 and found["key5999"] == [entries[-1]]


def test_a_create_is_on_disk_for_another_process_the_moment_it_is_recorded(
    tmp_path: Path, ledger: Ledger
) -> None:
    ledger.record([entry("k", "1")])
    with Ledger(tmp_path / "ledger", TENANT) as other:
        assert other.find(["k"]) == {"k": [entry("k", "1")]}
    with sqlite3.connect(ledger.path) as plain:
        assert plain.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_ledger_another_process_is_writing_is_waited_for(tmp_path: Path, ledger: Ledger) -> None:
    other = sqlite3.connect(ledger.path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute(
        "INSERT INTO creates VALUES ('theirs', '8', 'other.xlsx', 'Sheet1', 2, ?)",
        (AT.isoformat(),),
    )
    threading.Timer(0.5, lambda: other.execute("COMMIT")).start()
    ledger.record([entry("mine", "9")])  # waits for the other writer instead of failing
    assert set(ledger.find(["mine", "theirs"])) == {"mine", "theirs"}
    other.close()


def test_threads_of_one_push_share_one_ledger(ledger: Ledger) -> None:
    def record(n: int) -> None:
        ledger.record([entry(f"k{n}", str(n + 1))])

    threads = [threading.Thread(target=record, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    found: dict[str, list[Entry]] = {}
    reader = threading.Thread(target=lambda: found.update(ledger.find(f"k{n}" for n in range(8))))
    reader.start()
    reader.join()
    assert sorted(found) == [f"k{n}" for n in range(8)]


def test_a_book_records_its_creates_with_the_workbook_sheet_and_time(
    tmp_path: Path, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    book = ledger.book(Path("../Invoices.xlsx"), "March")
    before = dt.datetime.now(dt.UTC)
    book.record({4: ("k4", "104"), 9: ("k9", "109")})
    after = dt.datetime.now(dt.UTC)
    found = book.find(["k9", "k4"])
    assert [(e.key, e.id, e.row) for e in found["k4"] + found["k9"]] == [
        ("k4", "104", 4),
        ("k9", "109", 9),
    ]
    for made in found["k4"] + found["k9"]:
        assert made.workbook == str(tmp_path / "Invoices.xlsx") and made.sheet == "March"
        assert before <= made.at <= after


def test_a_create_is_described_for_the_user_in_local_time(tokyo: None) -> None:
    assert (
        entry("k", "1").described()
        == "Invoices.xlsx (sheet Invoices, row 4) on 2026-12-08 at 00:40"
    )


def test_each_tenant_has_its_file_and_the_folder_is_made(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "ledger"
    with Ledger(folder, TENANT) as acme, Ledger(folder, "sandbox") as sandbox:
        assert acme.path == ledger_file(folder, TENANT) and acme.path.suffix == ".sqlite3"
        acme.record([entry("k", "1")])
        assert sandbox.find(["k"]) == {}
    assert ledger_file(folder, TENANT) != ledger_file(folder, "sandbox")


def test_a_damaged_ledger_says_what_to_do(tmp_path: Path) -> None:
    folder = tmp_path / "ledger"
    folder.mkdir()
    ledger_file(folder, TENANT).write_bytes(b"this is no database, it was damaged" * 100)
    with pytest.raises(UsageError) as refused:
        Ledger(folder, TENANT)
    assert str(ledger_file(folder, TENANT)) in refused.value.message
    assert "cannot be used (file is not a database)" in refused.value.message
    assert refused.value.hint == (
        "Check that the data folder is writable and not full; if the file is damaged, move it "
        "away (bpxl then starts a new ledger and can no longer recognise earlier creates)."
    )


def test_a_ledger_that_fails_later_says_so_in_words(ledger: Ledger) -> None:
    with sqlite3.connect(ledger.path) as other:
        other.execute("DROP TABLE creates")
    for act in (lambda: ledger.find(["k"]), lambda: ledger.record([entry("k", "1")])):
        with pytest.raises(UsageError) as refused:
            act()
        assert refused.value.message == (
            f"bpxl's ledger of created invoices, {ledger.path}, cannot be used (no such table: "
            "creates)."
        )
