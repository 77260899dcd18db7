"""Answer mapping: no row is marked successful unless the server confirmed that record."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpxl import answers
from bpxl.results import Operation, Outcome

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
