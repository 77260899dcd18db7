"""Answer mapping: no row is marked successful unless the server confirmed that record."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpxl.core import answers
from bpxl.core.results import Operation, Outcome, RecordResult

RECORDS = [{"Id": "1"}, {"Id": "2"}, {"Id": "3"}]


def ok(i: str) -> dict[str, str]:
    return {"ErrorCode": "0", "ErrorText": "", "Id": i}


def test_items_map_in_order() -> None:
    body = json.dumps(
        {
            "updateResponse": [
                ok("1"),
                {"ErrorCode": "E1", "ErrorText": "bad date", "ErrorElementField": "DueDate"},
                ok("3"),
            ]
        }
    )
    got = answers.from_body(Operation.UPDATE, RECORDS, body)
    assert [r.outcome for r in got] == [Outcome.UPDATED, Outcome.FAILED, Outcome.UPDATED]
    assert got[1].messages[0].startswith("DueDate: bad date (BillingPlatform error E1)")


def test_short_answer_for_create_is_unknown_for_every_row() -> None:
    body = json.dumps({"createResponse": [ok("7"), ok("8")]})
    got = answers.from_body(Operation.CREATE, [{}, {}, {}], body)
    assert {r.outcome for r in got} == {Outcome.UNKNOWN}
    assert "2 results for 3 rows" in got[0].messages[0]


def test_short_answer_for_update_matches_by_id() -> None:
    body = json.dumps({"updateResponse": [ok("3"), ok("1")]})
    got = answers.from_body(Operation.UPDATE, RECORDS, body)
    assert [r.outcome for r in got] == [Outcome.UPDATED, Outcome.UNKNOWN, Outcome.UPDATED]


def test_created_without_id_is_not_a_success() -> None:
    got = answers.from_body(
        Operation.CREATE, [{}], json.dumps({"createResponse": [{"ErrorCode": "0"}]})
    )
    assert got[0].outcome is Outcome.UNKNOWN


def test_single_object_answer_and_upsert_created_flag() -> None:
    body = json.dumps({"upsertResponse": {**ok("4"), "created": "true"}})
    [got] = answers.from_body(Operation.UPSERT, [{"FileName": "x"}], body)
    assert (
        got.outcome is Outcome.UPSERTED
        and got.id == "4"
        and "new one was created" in got.messages[0]
    )


def test_html_error_page_gives_its_title() -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    got = answers.from_status(Operation.CREATE, 2, 502, page)
    assert [r.outcome for r in got] == [Outcome.UNKNOWN] * 2
    assert "HTTP 502: 502 Bad Gateway" in got[0].messages[0] and "duplicate" in got[0].messages[0]


def test_refusals_that_may_follow_a_store_never_say_nothing_was_saved() -> None:
    body = json.dumps({"errors": [{"error_code": "400", "error_text": "brmObjects missing"}]})
    for status in (400, 408, 409):
        [got] = answers.from_status(Operation.CREATE, 1, status, body)
        assert got.outcome is Outcome.UNKNOWN and "nothing was saved" not in got.messages[0]
        assert "brmObjects missing" in got.messages[0] and got.split is (status == 400)
    [big] = answers.from_status(Operation.CREATE, 1, 413, "")
    assert big.outcome is Outcome.FAILED and "smaller --batch-size" in big.messages[0]
    assert [r.split for r in answers.from_status(Operation.UPDATE, 2, 500, "")] == [True] * 2
    assert not answers.from_status(Operation.UPDATE, 1, 503, "")[0].split


JUNK_IDS = [" ", "null", 0, "0", False, True, [], {}, "-3", "1.5", "x1", None, "", "١٢"]


@pytest.mark.parametrize("junk", JUNK_IDS)
def test_a_create_with_a_junk_id_is_not_believed(junk: object) -> None:
    body = json.dumps({"createResponse": [{"ErrorCode": "0", "Id": junk}]})
    [got] = answers.from_body(Operation.CREATE, [{"BillingProfileId": "101"}], body)
    assert got.outcome is Outcome.UNKNOWN and got.id is None


def test_one_id_for_several_rows_is_believed_for_none() -> None:
    body = json.dumps({"createResponse": [{"ErrorCode": "0", "Id": "1"}] * 3})
    got = answers.from_body(Operation.CREATE, [{"BillingProfileId": "101"}] * 3, body)
    assert [r.outcome for r in got] == [Outcome.UNKNOWN] * 3
    assert "gave Id 1 to 3 rows" in got[0].messages[0]


def test_an_update_answered_for_another_invoice_is_not_believed() -> None:
    body = json.dumps({"updateResponse": [{"ErrorCode": "0", "Id": "8"}]})
    [got] = answers.from_body(Operation.UPDATE, [{"Id": "7", "Status": "Closed"}], body)
    assert got.outcome is Outcome.UNKNOWN and "Id '8'" in got.messages[0]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
ITEM = st.fixed_dictionaries(
    {},
    optional={
        "ErrorCode": st.sampled_from(["0", 0, "1", "", None, "E"]),
        "Id": st.sampled_from(["1", "2", "9", "", None, 5]),
        "ErrorText": st.text(max_size=10),
    },
)
BODY = st.one_of(
    st.text(max_size=40),
    JSON.map(json.dumps),
    st.builds(
        lambda key, items: json.dumps({key: items}),
        st.sampled_from(["createResponse", "updateResponse", "upsertResponse", "x"]),
        st.lists(ITEM, max_size=5) | ITEM,
    ),
    st.builds(lambda s: s[: len(s) // 2], JSON.map(json.dumps)),  # truncated JSON
    st.sampled_from(["", "<html><head><title>502 Bad Gateway</title></head></html>", "null"]),
)


@settings(max_examples=1500, deadline=None)
@given(
    op=st.sampled_from(list(Operation)),
    body=BODY,
    status=st.sampled_from([200, 201, 400, 500, 503]),
)
def test_no_row_is_successful_without_confirmation(op: Operation, body: str, status: int) -> None:
    got = (
        answers.from_body(op, RECORDS, body)
        if status < 300
        else answers.from_status(op, len(RECORDS), status, body)
    )
    assert len(got) == len(RECORDS)
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    items = parsed.get(answers.ANSWER_KEYS[op]) if isinstance(parsed, dict) else None
    items = [items] if isinstance(items, dict) else items
    for result in got:
        if result.outcome.ok:
            assert status < 300 and isinstance(items, list)
            confirmed = [i for i in items if isinstance(i, dict) and str(i.get("ErrorCode")) == "0"]
            assert confirmed
            if op is Operation.CREATE:
                assert result.id and any(str(i.get("Id")) == result.id for i in confirmed)
        else:
            assert result.messages and result.messages[0].strip()


CHECK = (
    "check in BillingPlatform whether the invoice exists before sending again "
    "(a second create would duplicate it)"
)


def unknown(what: str, advice: str = CHECK, split: bool = False) -> RecordResult:
    return RecordResult(Outcome.UNKNOWN, None, (f"{what[:1].upper()}{what[1:]}; {advice}",), split)


def test_resend_advice_and_ids_as_billingplatform_gives_them() -> None:
    assert answers.resend_advice(Operation.CREATE) == CHECK
    assert answers.resend_advice(Operation.UPDATE) == "sending the update again is safe"
    assert answers.resend_advice(Operation.UPSERT) == "sending the upsert again is safe"
    for value, shown in [(5, "5"), (" 007 ", "7"), ("12", "12")]:
        assert answers.positive_id(value) == shown
    for value in (True, 0, "0", "-3", "1.0", 1.0, None, "١٢", "", "7a"):
        assert answers.positive_id(value) is None, value
    assert answers.all_records(2, Outcome.FAILED, "m") == [
        RecordResult(Outcome.FAILED, None, ("m",)),
        RecordResult(Outcome.FAILED, None, ("m",)),
    ]


def test_unreadable_answers_make_every_row_unknown_with_the_right_advice() -> None:
    assert (
        answers.from_body(Operation.CREATE, [{}, {}], "<html>")
        == [unknown("BillingPlatform's answer could not be read (not JSON)")] * 2
    )
    safe = "sending the update again is safe"
    no_items = unknown("BillingPlatform's answer had no per-row results", safe)
    assert answers.from_body(Operation.UPDATE, [{"Id": "1"}], "[1, 2]") == [no_items]
    assert answers.from_body(Operation.UPDATE, [{"Id": "1"}], '{"createResponse": []}') == [
        no_items
    ]
    body = json.dumps({"custom": [ok("1")]})
    assert answers.from_body(Operation.UPDATE, [{"Id": "1"}], body, key="custom") == [
        RecordResult(Outcome.UPDATED, "1")
    ]


def one(op: Operation, item: object, record: dict[str, object] | None = None) -> RecordResult:
    [got] = answers.from_body(op, [record or {}], json.dumps({answers.ANSWER_KEYS[op]: [item]}))
    return got


def test_each_item_is_read_strictly() -> None:
    create, update, upsert = Operation.CREATE, Operation.UPDATE, Operation.UPSERT
    safe = "sending the update again is safe"
    assert one(create, "ok") == unknown("BillingPlatform's result for this row could not be read")
    no_code = unknown("BillingPlatform's result for this row has no result code")
    assert one(create, {"Id": "5"}) == no_code
    assert one(create, {"ErrorCode": "  ", "Id": "5"}) == no_code
    assert one(create, {"ErrorCode": " 0 ", "Id": 5}) == RecordResult(Outcome.CREATED, "5")
    assert one(
        create, {"ErrorCode": "E7", "ErrorText": " bad date ", "ErrorElementField": " DueDate "}
    ) == RecordResult(
        Outcome.FAILED,
        None,
        ("DueDate: bad date (BillingPlatform error E7); fix it and send again",),
    )
    assert one(create, {"ErrorCode": 12}).messages == (
        "No reason given (BillingPlatform error 12); fix it and send again",
    )
    assert one(create, {"ErrorCode": "0", "Id": "abc"}) == unknown(
        "BillingPlatform reported success but gave Id 'abc', which is not an invoice Id"
    )
    assert one(create, {"ErrorCode": "0", "Id": ["x" * 40]}) == unknown(
        'BillingPlatform reported success but gave Id ["' + "x" * 27 + "…, which is not an "
        "invoice Id"
    )
    assert one(create, {"ErrorCode": "0"}) == unknown(
        "BillingPlatform reported success but gave no Id"
    )
    assert one(update, {"ErrorCode": "0"}, {"Id": "8"}) == RecordResult(Outcome.UPDATED, "8")
    assert one(update, {"ErrorCode": "0", "Id": ""}, {"Id": 8}) == RecordResult(
        Outcome.UPDATED, "8"
    )
    assert one(update, {"ErrorCode": "0", "Id": "008"}, {"Id": "8"}) == RecordResult(
        Outcome.UPDATED, "8"
    )
    assert one(update, {"ErrorCode": "0", "Id": 9}, {"Id": "8"}) == unknown(
        "BillingPlatform answered for Id 9, not this row's", safe
    )
    assert one(upsert, {"ErrorCode": "0"}, {"Id": "8"}) == RecordResult(Outcome.UPSERTED, "8")
    assert one(upsert, {"ErrorCode": "0"}, {"FileName": "x"}) == unknown(
        "BillingPlatform reported success but gave no Id", "sending the upsert again is safe"
    )
    made = RecordResult(Outcome.UPSERTED, "4", ("No invoice matched, so a new one was created",))
    assert one(upsert, {**ok("4"), "created": "True"}) == made
    assert one(upsert, {**ok("4"), "created": "false"}) == RecordResult(Outcome.UPSERTED, "4")


def test_an_id_given_to_two_rows_and_answers_of_the_wrong_length() -> None:
    twice = json.dumps({"upsertResponse": [ok("7"), ok("7"), ok("8")]})
    got = answers.from_body(Operation.UPSERT, [{}, {}, {}], twice)
    shared = unknown(
        "BillingPlatform gave Id 7 to 2 rows of one batch", "sending the upsert again is safe"
    )
    assert got == [shared, shared, RecordResult(Outcome.UPSERTED, "8")]
    failed = {"ErrorCode": "E1", "Id": "7"}
    body = json.dumps({"createResponse": [ok("7"), failed]})
    assert [r.outcome for r in answers.from_body(Operation.CREATE, [{}, {}], body)] == [
        Outcome.CREATED,
        Outcome.FAILED,
    ]
    short = json.dumps({"createResponse": [ok("7")]})
    assert (
        answers.from_body(Operation.CREATE, [{}, {}], short)
        == [
            unknown(
                "BillingPlatform answered 1 results for 2 rows, so no row can be matched to "
                "its answer"
            )
        ]
        * 2
    )
    safe = "sending the update again is safe"
    long = json.dumps({"updateResponse": [ok("1"), ok("2"), ok("2"), "junk", {"Id": ""}]})
    got = answers.from_body(Operation.UPDATE, [{"Id": "1"}, {"Id": "2"}, {"Id": "3"}], long)
    none = unknown(
        "BillingPlatform answered 5 results for 3 rows and none of them is this row's", safe
    )
    assert got == [RecordResult(Outcome.UPDATED, "1"), none, none]


def test_server_text_finds_the_gist_of_any_error_body() -> None:
    errors = {"errors": [{"ErrorText": "bad date", "code": 1}, {"errorText": "no such Id"}]}
    assert answers.server_text(json.dumps(errors)) == "bad date; no such Id"
    assert answers.server_text(json.dumps({"message": "down", "empty": ""})) == "down"
    assert answers.server_text(json.dumps({"error": {"Text": "x"}})) == "x"
    page = "<html><head><title>502 Bad\n Gateway</title></head><body>ignored</body></html>"
    assert answers.server_text(page) == "502 Bad Gateway"
    assert answers.server_text("<p>Fish &amp; <b>chips</b></p>") == "Fish & chips"
    assert answers.server_text("") == "no details"
    echo = "Internal error for request with Host: 127.0.0.1:80; User-Agent: x; Accept: */*"
    assert answers.server_text(echo) == "Internal error for request"
    assert answers.server_text("Host: h\nAccept-Encoding: gzip") == "no details"
    assert answers.server_text("{}") == "{}"
    assert answers.server_text("x" * 400) == "x" * 299 + "…"
    assert answers.server_text("abcdef", limit=4) == "abc…"
    assert answers.server_text("abcd", limit=4) == "abcd"


def test_whole_request_answers_by_status() -> None:
    def said(status: int, op: Operation = Operation.CREATE) -> list[RecordResult]:
        return answers.from_status(op, 2, status, '{"errors": [{"ErrorText": "why"}]}')

    refused = {
        413: "the batch was too large (HTTP 413: why); nothing was saved; send again with a "
        "smaller --batch-size",
        429: "BillingPlatform is rate limiting (HTTP 429: why); nothing was saved; send again "
        "in a few minutes",
        401: "BillingPlatform refused the login (HTTP 401: why); nothing was saved; check the "
        "user's access and send again",
        403: "BillingPlatform refused the login (HTTP 403: why); nothing was saved; check the "
        "user's access and send again",
    }
    for status, message in refused.items():
        assert said(status) == [RecordResult(Outcome.FAILED, None, (message,))] * 2
    failed = "BillingPlatform failed while handling the batch"
    assert said(500) == [unknown(f"{failed} (HTTP 500: why)", split=True)] * 2
    assert said(503) == [unknown(f"{failed} (HTTP 503: why)")] * 2
    whole = "BillingPlatform refused the batch as a whole"
    assert (
        said(400, Operation.UPDATE)
        == [
            unknown(
                f"{whole} (HTTP 400: why), perhaps after saving some",
                "sending the update again is safe",
                split=True,
            )
        ]
        * 2
    )
    assert said(409) == [unknown(f"{whole} (HTTP 409: why), perhaps after saving some")] * 2


def test_edges_of_reading_an_item() -> None:
    create, update, upsert = Operation.CREATE, Operation.UPDATE, Operation.UPSERT
    assert answers.positive_id(Decimal("5")) is None  # not how an answer gives an Id
    assert one(update, {"ErrorCode": "0"}, {}) == RecordResult(Outcome.UPDATED, None)
    assert one(upsert, {"ErrorCode": "0", "Id": ""}, {"Id": "8"}) == RecordResult(
        Outcome.UPSERTED, "8"
    )
    assert one(create, {"ErrorCode": "0", "Id": ""}) == unknown(
        "BillingPlatform reported success but gave no Id"
    )
    gave = "BillingPlatform reported success but gave Id {}, which is not an invoice Id"
    assert one(create, {"ErrorCode": "0", "Id": ["Zoë"]}) == unknown(gave.format('["Zoë"]'))
    exactly_30 = '["' + "x" * 26 + '"]'
    assert one(create, {"ErrorCode": "0", "Id": ["x" * 26]}) == unknown(gave.format(exactly_30))
    assert one(create, {"ErrorCode": "0", "Id": ["x" * 27]}) == unknown(
        gave.format('["' + "x" * 27 + "…")
    )
    long = json.dumps({"updateResponse": [ok("1"), {"ErrorCode": "0", "Id": ""}, ok("3")]})
    got = answers.from_body(update, [{"Id": "1"}, {}], long)
    assert got[1] == unknown(
        "BillingPlatform answered 3 results for 2 rows and none of them is this row's",
        "sending the update again is safe",
    )


def test_upsert_items_out_of_order_are_matched_by_the_key_they_name() -> None:
    """Upsert on a key field: items that echo the key go to the record holding it; a refusal
    that names nothing cannot be placed once the order is known to be broken."""
    records = [{"FileName": "a"}, {"FileName": "b"}, {"FileName": "c"}]
    items = [
        {"ErrorCode": "0", "Id": "12", "FileName": "b"},
        {"ErrorCode": "E1", "ErrorText": "bad"},
        {"ErrorCode": "0", "Id": "13", "FileName": "c"},
    ]
    body = json.dumps({"upsertResponse": items})
    got = answers.from_body(Operation.UPSERT, records, body, external_id="FileName")
    assert [r.outcome for r in got] == [Outcome.UNKNOWN, Outcome.UPSERTED, Outcome.UPSERTED]
    assert [r.id for r in got] == [None, "12", "13"]
    assert "another order" in got[0].messages[0]
    in_order = answers.from_body(
        Operation.UPSERT,
        records,
        json.dumps({"upsertResponse": [items[1], *items[::2]]}),
        external_id="FileName",
    )
    assert [r.outcome for r in in_order] == [Outcome.FAILED, Outcome.UPSERTED, Outcome.UPSERTED]


def test_update_items_out_of_order_are_matched_by_the_ids_they_name_as_numbers() -> None:
    """An update answered in another order: each row takes the item naming its Id, however the
    server spells the number; a one-row upsert answered for another Id is not believed."""
    records = [{"Id": "1", "Status": "Closed"}, {"Id": "2", "Status": "Open"}]
    for first, second in (("2", "1"), ("0002", "01"), (2, 1)):
        body = json.dumps({"updateResponse": [ok(first), ok(second)]})  # type: ignore[arg-type]
        assert answers.from_body(Operation.UPDATE, records, body) == [
            RecordResult(Outcome.UPDATED, "1"),
            RecordResult(Outcome.UPDATED, "2"),
        ], (first, second)
    body = json.dumps({"upsertResponse": [ok("9")]})
    assert answers.from_body(Operation.UPSERT, [{"Id": "8"}], body) == [
        unknown(
            "BillingPlatform's answers came in another order than the rows were sent, and none "
            "of them names this row",
            "sending the upsert again is safe",
        )
    ]


def test_a_row_two_items_name_and_a_row_none_names_are_unknown_and_say_which() -> None:
    records = [{"FileName": "a"}, {"FileName": "b"}]
    items = [{**ok("12"), "FileName": "a"}, {**ok("13"), "FileName": " a "}]
    body = json.dumps({"upsertResponse": items})
    order = "BillingPlatform's answers came in another order than the rows were sent, and "
    safe = "sending the upsert again is safe"
    assert answers.from_body(Operation.UPSERT, records, body, external_id="FileName") == [
        unknown(order + "more than one names this row", safe),
        unknown(order + "none of them names this row", safe),
    ]


def test_an_upsert_on_a_key_field_takes_the_new_ids_its_answer_gives() -> None:
    """Rows that still show an old Id, upserted on a key field: the answer's Ids are new and name
    no row; the items are matched by the key, spaces the server adds around it aside."""
    records = [{"Id": "5", "FileName": "a"}, {"Id": "6", "FileName": "b"}]
    items = [{**ok("77"), "FileName": "a"}, {**ok("78"), "FileName": "b"}]
    body = json.dumps({"upsertResponse": items})
    got = answers.from_body(Operation.UPSERT, records, body, external_id="FileName")
    assert got == [RecordResult(Outcome.UPSERTED, "77"), RecordResult(Outcome.UPSERTED, "78")]
    items = [{**ok("78"), "FileName": " b"}, {**ok("77"), "FileName": "a "}]
    body = json.dumps({"upsertResponse": items})
    got = answers.from_body(Operation.UPSERT, records, body, external_id="FileName")
    assert got == [RecordResult(Outcome.UPSERTED, "77"), RecordResult(Outcome.UPSERTED, "78")]


def test_an_unreadable_item_among_good_ones_is_unknown_alone() -> None:
    records = [{"Id": "1"}, {"Id": "2"}]
    body = json.dumps({"updateResponse": ["junk", ok("2")]})
    assert answers.from_body(Operation.UPDATE, records, body) == [
        unknown(
            "BillingPlatform's result for this row could not be read",
            "sending the update again is safe",
        ),
        RecordResult(Outcome.UPDATED, "2"),
    ]


def test_an_upserts_created_flag_in_any_spelling() -> None:
    """True: a new invoice was made (and the row says so); False: one was found; None: the
    answer did not say (a push then looks twice before trusting a resend)."""
    spellings = {"1": True, "true": True, " True ": True, 1: True, "0": False, "false": False}
    spellings |= {"FALSE": False, 0: False, "yes": None, "": None, None: None}
    for flag, created in spellings.items():
        got = one(Operation.UPSERT, {**ok("4"), "created": flag})
        assert got.outcome is Outcome.UPSERTED and got.created is created, flag
        assert got.messages == (
            ("No invoice matched, so a new one was created",) if created else ()
        )
    assert one(Operation.UPSERT, ok("4")).created is None


def test_the_gist_of_an_error_page_in_capitals_or_ending_before_echoed_headers() -> None:
    page = "<HTML><HEAD><TITLE>Service\nUnavailable</TITLE></HEAD></HTML>"
    assert answers.server_text(page) == "Service Unavailable"
    echo = "Refused by TAX - with Host: 127.0.0.1; User-Agent: x"
    assert answers.server_text(echo) == "Refused by TAX"
    assert answers.server_text("Bad request: ; Accept: */*") == "Bad request"


def test_two_rows_updating_one_invoice_both_take_a_short_answers_item() -> None:
    """An update's items are checked against each record's own Id, so one Id for two rows is
    no doubt there (unlike a create's new Id)."""
    body = json.dumps({"updateResponse": [ok("1")]})
    got = answers.from_body(Operation.UPDATE, [{"Id": "1"}, {"Id": "1"}, {"Id": "2"}], body)
    assert got[:2] == [RecordResult(Outcome.UPDATED, "1")] * 2
    assert got[2].outcome is Outcome.UNKNOWN
