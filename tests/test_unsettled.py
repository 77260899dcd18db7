"""core.unsettled on its own: a create whose outcome is unknown kept under a reference, found by
the reference its row's Message carries, pruned and forgotten (the pushes that keep and settle
them are in test_push_engine.py and test_sticky.py)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bpxl.core import unsettled
from bpxl.core.connection import data_dir

SENT_AT = dt.datetime(2026, 12, 7, 16, 40, 2, 123456, tzinfo=dt.UTC)


def test_a_create_kept_is_found_by_the_reference_its_message_carries() -> None:
    record = {"FileName": "Café.pdf", "DueDate": dt.date(2026, 3, 31), "BillingProfileId": "101"}
    kept = unsettled.keep(record, SENT_AT)
    assert kept.record == record and kept.record is not record and kept.sent_at == SENT_AT
    assert re.fullmatch("[0-9a-f]{12}", kept.ref)
    message = f"Sent, no answer: {unsettled.mention(kept)}; run bpxl again"
    assert unsettled.mention(kept) == f"(bpxl ref {kept.ref})"
    assert unsettled.ref_in(message) == kept.ref
    found = unsettled.find(kept.ref)
    assert found == unsettled.SentCreate(
        kept.ref,
        {"FileName": "Café.pdf", "DueDate": "2026-03-31", "BillingProfileId": "101"},
        SENT_AT,
    )  # a date is kept as its text, as it went out
    stored = data_dir() / "unsettled" / f"{kept.ref}.json"
    assert unsettled.folder() == stored.parent
    assert stored.read_bytes().isascii()  # the same bytes whatever the computer's encoding
    assert [p.name for p in stored.parent.iterdir()] == [stored.name]  # no temporary left
    other = unsettled.keep(record, SENT_AT)
    assert other.ref != kept.ref


def test_a_message_without_a_reference_carries_none() -> None:
    assert unsettled.ref_in("(bpxl ref 0123456789ab)") == "0123456789ab"
    for message in (
        None,
        42,
        "",
        "bpxl ref 0123456789ab",
        "(bpxl ref 0123456789AB)",
        "(bpxl ref 0123456789a)",
        "(bpxl ref 0123456789abc)",
        "(bpxl  ref 0123456789ab)",
    ):
        assert unsettled.ref_in(message) is None, message


def test_a_reference_not_kept_or_unreadable_finds_nothing() -> None:
    assert unsettled.find("0123456789ab") is None  # no folder yet
    kept = unsettled.keep({"FileName": "a.pdf"}, SENT_AT)
    path = unsettled.folder() / f"{kept.ref}.json"
    for text in ("{", "[]", json.dumps({"record": {}}), json.dumps({"sent_at": "x", "record": {}})):
        path.write_text(text, encoding="utf-8")
        assert unsettled.find(kept.ref) is None, text
    path.write_text(json.dumps({"record": {}, "sent_at": 5}), encoding="utf-8")
    assert unsettled.find(kept.ref) is None


def test_creates_kept_longer_than_the_days_given_are_pruned() -> None:
    unsettled.prune(1)  # no folder yet: nothing to do
    old, young = (unsettled.keep({"FileName": n}, SENT_AT) for n in ("old.pdf", "young.pdf"))
    now = time.time()
    os.utime(unsettled.folder() / f"{old.ref}.json", (now, now - 2.5 * 86_400))
    os.utime(unsettled.folder() / f"{young.ref}.json", (now, now - 1.5 * 86_400))
    (unsettled.folder() / "notes.txt").write_text("not a create", encoding="utf-8")
    os.utime(unsettled.folder() / "notes.txt", (now, now - 9 * 86_400))
    unsettled.prune(2)
    assert unsettled.find(old.ref) is None and unsettled.find(young.ref) == young
    assert (unsettled.folder() / "notes.txt").exists()  # not bpxl's to remove
    unsettled.prune(1)
    assert unsettled.find(young.ref) is None


def test_creates_settled_are_forgotten_and_others_kept() -> None:
    one, two = (unsettled.keep({"FileName": n}, SENT_AT) for n in ("1.pdf", "2.pdf"))
    unsettled.forget([one.ref, "0123456789ab"])  # one never kept: no error
    assert unsettled.find(one.ref) is None and unsettled.find(two.ref) == two
    unsettled.forget([])
    assert unsettled.find(two.ref) == two


def test_a_create_kept_a_minute_past_the_days_given_is_pruned() -> None:
    kept = unsettled.keep({"FileName": "a.pdf"}, SENT_AT)
    now = time.time()
    os.utime(unsettled.folder() / f"{kept.ref}.json", (now, now - 100 * 86_400 - 60))
    unsettled.prune(100.01)  # 864 s more: still kept
    assert unsettled.find(kept.ref) == kept
    unsettled.prune(100)
    assert unsettled.find(kept.ref) is None


def test_creates_kept_at_once_by_the_push_threads_each_keep_their_own() -> None:
    """A push's batches go out from several threads, and each keeps its lost creates."""
    start = threading.Barrier(8)

    def keep_many(thread: int) -> list[unsettled.SentCreate]:
        start.wait()
        return [unsettled.keep({"FileName": f"{thread}-{n}.pdf"}, SENT_AT) for n in range(40)]

    with ThreadPoolExecutor(8) as pool:
        kept = [c for made in pool.map(keep_many, range(8)) for c in made]
    assert len({c.ref for c in kept}) == 320
    assert all(unsettled.find(c.ref) == c for c in kept)


def test_a_create_is_kept_and_found_whatever_the_machines_encoding(ascii_locale: None) -> None:
    kept = unsettled.keep({"FileName": "Café ünd Ærø.pdf"}, SENT_AT)
    assert unsettled.find(kept.ref) == kept
    assert (unsettled.folder() / f"{kept.ref}.json").read_bytes().isascii()
    # One kept by an earlier bpxl, in UTF-8, is found too.
    earlier = {"record": {"FileName": "Café ünd Ærø.pdf"}, "sent_at": SENT_AT.isoformat()}
    path = unsettled.folder() / "0123456789ab.json"
    path.write_bytes(json.dumps(earlier, ensure_ascii=False).encode("utf-8"))
    assert unsettled.find("0123456789ab") == unsettled.SentCreate(
        "0123456789ab", {"FileName": "Café ünd Ærø.pdf"}, SENT_AT
    )


def test_a_create_kept_exactly_the_days_given_is_kept(monkeypatch) -> None:
    """Pruned are those kept longer than the days given, not as long."""
    kept = unsettled.keep({"FileName": "a.pdf"}, SENT_AT)
    now = 1_800_000_000
    monkeypatch.setattr(time, "time", lambda: now)
    path = unsettled.folder() / f"{kept.ref}.json"
    os.utime(path, ns=(now * 10**9, (now - 2 * 86_400) * 10**9))
    unsettled.prune(2)
    assert unsettled.find(kept.ref) == kept
    os.utime(path, ns=(now * 10**9, (now - 2 * 86_400) * 10**9 - 1_000_000))  # a ms longer
    unsettled.prune(2)
    assert unsettled.find(kept.ref) is None


def test_a_create_settled_by_another_bpxl_while_this_one_prunes_is_passed_over() -> None:
    """Another bpxl forgets a create between this one listing the folder and looking at the
    file: a link to no file stands for it (listed, then gone)."""
    kept = unsettled.keep({"FileName": "a.pdf"}, SENT_AT)
    now = time.time()
    os.utime(unsettled.folder() / f"{kept.ref}.json", (now, now - 9 * 86_400))
    (unsettled.folder() / "0123456789ab.json").symlink_to(unsettled.folder() / "gone.json")
    unsettled.prune(2)
    assert unsettled.find(kept.ref) is None  # the others are still pruned
