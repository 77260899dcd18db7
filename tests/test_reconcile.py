"""How the lookup of a lost create judges what it finds, piece by piece and without a server.

The end-to-end cases (a server that stores late, other users' twins, a token login) are in
``test_lookup.py``; these pin each rule exactly, fast enough for mutation testing.
"""

from __future__ import annotations

import datetime as dt

from bpxl.core import fields
from bpxl.core import reconcile as lookup
from bpxl.core.reconcile import Finding, Lost, Verdict

SENT = dt.datetime(2026, 3, 1, 10, 0, 0, tzinfo=dt.UTC)
CHECK = (
    "; push again later to look again, or check in BillingPlatform, then put the invoice's Id in "
    "the Id column and Created in Result, or clear Result to send the row again"
)


def unsure(reason: str) -> Finding:
    return Finding(Verdict.UNSURE, None, f"Sent, but no answer came, and {reason}{CHECK}")


def test_the_wait_between_lookups_comes_from_the_environment(monkeypatch) -> None:
    for given, wait in [
        (None, 5.0),
        ("", 5.0),
        ("0.5", 0.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("soon", 5.0),
    ]:
        if given is None:
            monkeypatch.delenv(lookup.LOOKUP_WAIT_ENV, raising=False)
        else:
            monkeypatch.setenv(lookup.LOOKUP_WAIT_ENV, given)
        assert lookup.lookup_wait() == wait, given


def test_the_window_starts_two_seconds_before_the_send_in_utc() -> None:
    tokyo = dt.timezone(dt.timedelta(hours=9))
    assert lookup.created_since(SENT) == "2026-03-01T09:59:58"
    assert lookup.created_since(SENT.astimezone(tokyo)) == "2026-03-01T09:59:58"
    assert lookup._clock_passed(None, SENT) and lookup._clock_passed(SENT, None)
    assert lookup._clock_passed(SENT, SENT)
    assert not lookup._clock_passed(SENT - dt.timedelta(seconds=1), SENT)


def test_an_invoice_is_in_the_window_from_two_seconds_before_the_send() -> None:
    def made(created: object) -> bool:
        return lookup._created_after({"Created": created}, SENT)

    assert made("2026-03-01T09:59:58") and made("2026-03-01T09:59:58Z")
    assert not made("2026-03-01T09:59:57.999")
    assert made("2026-03-01T18:59:58+09:00") and not made("2026-03-01T18:59:57+09:00")
    assert made(" 2026-03-01T10:00:00 ")
    assert made("not a time") and made(None)  # unreadable: counts as in, it blocks "absent"
    assert lookup._created_after({}, None) and lookup._created_after({"Created": "x"}, None)
    assert not lookup._created_after(
        {"created": "2026-03-01T10:00:00", "Created": "2020-01-01T00:00:00"}, SENT
    )


def test_why_a_single_match_cannot_be_taken() -> None:
    assert lookup._doubt(True, SENT, "5") == "it may be another row's"
    assert lookup._doubt(False, None, "5") == (
        "it may be older than this send (when the row was sent is not known)"
    )
    assert lookup._doubt(False, SENT, None) == (
        "bpxl does not know which user it is logged in as (a token login), so it may be "
        "someone else's"
    )
    assert lookup._doubt(False, SENT, "5") == ""


def test_the_verdict_from_the_ids_found() -> None:
    assert lookup._judge([], [2], "") == Finding(Verdict.ABSENT)
    assert lookup._judge([], [2, 3], "it may be another row's") == Finding(Verdict.ABSENT)
    assert lookup._judge(["7"], [2], "") == Finding(Verdict.FOUND, "7")
    assert lookup._judge(["7"], [2], "it may be another row's") == unsure(
        "invoice Id 7 has this row's values, but it may be another row's"
    )
    assert lookup._judge(["7", "8"], [2], "") == unsure(
        "2 invoices have this row's values (Id 7, 8)"
    )
    six = [str(i) for i in range(1, 7)]
    assert lookup._judge(six, [2], "") == unsure(
        "6 invoices have this row's values (Id 1, 2, 3, 4, 5 ...)"
    )
    assert lookup._judge(six[:5], [2], "") == unsure(
        "5 invoices have this row's values (Id 1, 2, 3, 4, 5)"
    )
    assert lookup._judge(["7"], [4, 9], "") == unsure(
        "rows 4, 9 hold the same values and BillingPlatform has 1 such invoice(s) (Id 7), so "
        "which row was created cannot be told"
    )


def test_values_are_compared_in_one_spelling() -> None:
    by = fields.BY_NAME
    assert lookup._comparable(by["DueDate"], "2026-03-01T00:00:00Z") == "2026-03-01"
    assert lookup._comparable(by["Created"], " 2026-03-01T10:11:12.000Z ") == "2026-03-01T10:11:12"
    assert lookup._comparable(by["BillableFlag"], "TRUE") == "1"
    assert lookup._comparable(by["BillableFlag"], "false") == "0"
    assert lookup._comparable(by["BillableFlag"], "1") == "1"
    assert lookup._comparable(by["AgingInterval"], "30.0") == "30"
    assert lookup._comparable(by["AgingInterval"], 30) == "30"
    assert lookup._comparable(by["BillingProfileId"], "0101") == "101"
    assert lookup._comparable(by["AgingInterval"], "n/a") == "n/a"
    assert lookup._comparable(by["AgingInterval"], "") == ""
    assert lookup._comparable(by["FileName"], " a.pdf ") == "a.pdf"
    assert lookup._comparable(None, 12.50) == "12.5"
    assert lookup._comparable(by["FileName"], None) == ""
    record = {"Id": "9", "FileName": "a.pdf", "AgingInterval": "30.0"}
    assert lookup._key(record, fields.BUILT_IN) == (("AgingInterval", "30"), ("FileName", "a.pdf"))
    assert lookup._key(record, fields.BUILT_IN, ["FileName", "Status"]) == (
        ("FileName", "a.pdf"),
        ("Status", ""),
    )
    assert lookup._quote("O'Brien") == "'O''Brien'"


def invoice(number: int, user: str = "5", created: str = "2026-03-01T10:00:01", **values: object):
    return {"Id": str(number), "CreatedUserId": user, "Created": created, **values}


def test_judging_all_rows_against_the_invoices_found() -> None:
    rows = {
        2: Lost({"BillingProfileId": "101", "FileName": "a.pdf"}, SENT),
        3: Lost({"BillingProfileId": "101", "FileName": "b.pdf"}, SENT),
        4: Lost({"BillingProfileId": "101", "FileName": "c.pdf"}, SENT),
        5: Lost({"BillingProfileId": "101", "FileName": "d.pdf"}, SENT),
        6: Lost({"BillingProfileId": "101", "FileName": "e.pdf"}, None),
    }
    found = [
        invoice(11, BillingProfileId="101", FileName="a.pdf"),
        invoice(12, user="6", BillingProfileId="101", FileName="b.pdf"),  # another user's
        invoice(13, BillingProfileId="101", FileName="c.pdf"),  # claimed by another row
        invoice(14, created="2026-03-01T09:00:00", BillingProfileId="101", FileName="d.pdf"),
        invoice(15, BillingProfileId="101", FileName="e.pdf"),
        invoice(0, BillingProfileId="101", FileName="b.pdf"),  # not an invoice Id
    ]
    got = lookup._judge_all(rows, found, {"13"}, "5", fields.BUILT_IN)
    assert got == {
        2: Finding(Verdict.FOUND, "11"),
        3: Finding(Verdict.ABSENT),
        4: Finding(Verdict.ABSENT),
        5: Finding(Verdict.ABSENT),  # made before the send: an older invoice
        6: unsure(
            "invoice Id 15 has this row's values, but it may be older than this send (when the "
            "row was sent is not known)"
        ),
    }
    token = lookup._judge_all({2: rows[2], 3: rows[3]}, found, set(), None, fields.BUILT_IN)
    assert token[3] == unsure(
        "invoice Id 12 has this row's values, but bpxl does not know which user it is logged in "
        "as (a token login), so it may be someone else's"
    )


def test_an_invoice_matching_rows_of_two_groups_is_nobodys() -> None:
    rows = {
        2: Lost({"BillingProfileId": "101", "FileName": "a.pdf"}, SENT),
        3: Lost({"BillingProfileId": "101"}, SENT),  # fewer fields: matches the same invoice
    }
    found = [invoice(11, BillingProfileId="101", FileName="a.pdf")]
    got = lookup._judge_all(rows, found, set(), "5", fields.BUILT_IN)
    shared = "invoice Id 11 has this row's values, but it may be another row's"
    assert got == {2: unsure(shared), 3: unsure(shared)}
