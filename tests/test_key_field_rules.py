"""core.key_field on its own: which tenant field can hold create keys, and the look-up of keys on
the fake server, one rule at a time (key-field pushes end to end are in test_key_field.py)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator

import pytest

from bpxl.core import create_key, fields, key_field
from bpxl.core.client import Client
from bpxl.core.fields import Catalogue, Field, FieldType
from bpxl.core.key_field import Found, lookup, problem, setup_text
from bpxl.core.results import Operation

from .fake_billingplatform import FakeBillingPlatform, Plan, QueriesAtOnce

KEY = "BpxlKey"
GOOD = Field(KEY, FieldType.TEXT, "bpxl's key", length=create_key.LONGEST, custom=True)


def catalogue(*more: Field) -> Catalogue:
    return Catalogue([*fields.BUILT_IN.fields, *more])


def key(n: int, digest: str = "a") -> str:
    return f"{digest * 32}-{n}"


def test_who_made_an_invoice_is_told_only_when_both_users_are_known() -> None:
    assert Found("5", "3", "").made_by("3")
    assert not Found("5", "3", "").made_by("4")
    assert not Found("5", None, "").made_by(None)
    assert not Found("5", "3", "").made_by(None)


def test_an_invoice_found_is_described_with_what_the_server_said() -> None:
    assert Found("1042", "3", "2026-12-07T16:40:02Z").described() == (
        "Id 1042, created 2026-12-07T16:40:02Z by user 3"
    )
    assert Found("1042", None, "2026-12-07").described() == "Id 1042, created 2026-12-07"
    assert Found("1042", "3", "").described() == "Id 1042 by user 3"
    assert Found("1042", None, "").described() == "Id 1042"


def test_a_custom_text_field_long_enough_and_writable_can_hold_keys() -> None:
    assert problem(catalogue(GOOD), KEY) is None
    assert problem(catalogue(GOOD), "bpxlkey") is None  # as headers are matched
    assert problem(catalogue(dataclasses.replace(GOOD, length=None)), KEY) is None
    longer = dataclasses.replace(GOOD, length=create_key.LONGEST + 1)
    assert problem(catalogue(longer), KEY) is None


@pytest.mark.parametrize(
    ("field", "name", "why"),
    [
        (GOOD, "Nothing", "the tenant has no Invoice field named Nothing"),
        (
            GOOD,
            "filename",
            "FileName is one of BillingPlatform's own Invoice fields, not one for bpxl",
        ),
        (
            dataclasses.replace(GOOD, type=FieldType.INTEGER),
            KEY,
            "BpxlKey is a integer field; it must be a text field",
        ),
        (
            dataclasses.replace(GOOD, length=create_key.LONGEST - 1),
            KEY,
            "BpxlKey takes 39 characters; create keys need 40",
        ),
        (
            dataclasses.replace(GOOD, read_only=True),
            KEY,
            "the tenant does not let the API write BpxlKey",
        ),
        (
            dataclasses.replace(GOOD, api_writable=False),
            KEY,
            "the tenant does not let the API write BpxlKey",
        ),
    ],
)
def test_a_field_that_cannot_hold_keys_says_why(field: Field, name: str, why: str) -> None:
    assert problem(catalogue(field), name) == why


def test_the_setup_is_said_in_one_sentence() -> None:
    assert setup_text() == (
        "a custom Invoice field of type Text, at least 40 characters long, that nothing else writes"
    )


@pytest.fixture
def fake() -> Iterator[FakeBillingPlatform]:
    server = FakeBillingPlatform(lambda n, _: Plan(), known=catalogue(GOOD))
    with server.running():
        yield server


def store(fake: FakeBillingPlatform, user: int, *keys: str) -> list[str]:
    records = [{"BillingProfileId": "101", KEY: k} for k in keys]
    return [str(item["Id"]) for item in fake.store.write(Operation.CREATE, records, user)]


def created(fake: FakeBillingPlatform, record_id: str) -> str:
    stored = fake.store.get(int(record_id))
    assert stored is not None
    return stored["Created"]


def test_keys_are_looked_up_exactly_and_each_answers_with_its_invoices(fake) -> None:
    ids = store(fake, 7, key(1), key(2), key(1), key(3), key(4), "")
    fake.respell = lambda row: {**row, KEY: f" {row[KEY]}  "} if row[KEY] == key(3) else row
    client = Client(fake.url, username="u", password="p")
    found = lookup(client, KEY, [key(1), key(3), key(1), key(5), "not-a-key", key(2, "B")])
    client.close()
    assert found == {
        key(1): [
            Found(ids[0], "7", created(fake, ids[0])),
            Found(ids[2], "7", created(fake, ids[2])),
        ],
        key(3): [Found(ids[3], "7", created(fake, ids[3]))],  # spaces the server adds aside
    }
    listed = f"'{key(1)}', '{key(3)}', '{key(5)}'"  # each once, and only real keys
    assert [sql.split(" OFFSET ")[0] for sql in fake.queries] == [
        f"SELECT Id, Created, CreatedUserId, {KEY} FROM INVOICE WHERE {KEY} IN ({listed})"
    ]


def test_keys_are_asked_a_hundred_a_query(fake) -> None:
    wanted = [key(n) for n in range(1, 2 * key_field.CHUNK + 2)]
    ids = store(fake, 7, wanted[0], wanted[key_field.CHUNK], wanted[-1])
    client = Client(fake.url, username="u", password="p")
    found = lookup(client, KEY, wanted, concurrency=2)
    client.close()
    assert {k: [f.id for f in v] for k, v in found.items()} == {
        wanted[0]: [ids[0]],
        wanted[key_field.CHUNK]: [ids[1]],
        wanted[-1]: [ids[2]],
    }
    asked = sorted(sql.split(" IN (")[1].split(")")[0].count("'") // 2 for sql in fake.queries)
    assert asked == [1, key_field.CHUNK, key_field.CHUNK]


def test_no_key_asks_nothing(fake) -> None:
    client = Client(fake.url, username="u", password="p")
    assert lookup(client, KEY, []) == {} and lookup(client, KEY, ["x", ""]) == {}
    client.close()
    assert fake.queries == []


def test_an_answer_without_a_real_id_or_with_a_key_not_asked_is_passed_over(fake) -> None:
    ids = store(fake, 7, key(1), key(2), key(3), key(4))
    spelled = {ids[0]: {"Id": "0"}, ids[1]: {KEY: key(8)}, ids[2]: {"CreatedUserId": "none"}}
    spelled[ids[3]] = {"Created": ""}
    fake.respell = lambda row: {**row, **spelled.get(row["Id"], {})}
    client = Client(fake.url, username="u", password="p")
    found = lookup(client, KEY, [key(1), key(2), key(3), key(4)])
    client.close()
    assert found == {
        key(3): [Found(ids[2], None, created(fake, ids[2]))],  # who made it: not known
        key(4): [Found(ids[3], "7", "")],
    }


def test_keys_are_asked_one_query_at_a_time_unless_told_more(fake) -> None:
    """The look-up runs before every create: by default it asks the server one query at a
    time, as many at once as the push's concurrency when told."""
    wanted = [key(n) for n in range(1, 3 * key_field.CHUNK + 1)]
    store(fake, 7, *wanted[:: key_field.CHUNK])
    fake.on_query = counted = QueriesAtOnce()
    client = Client(fake.url, username="u", password="p")
    assert len(lookup(client, KEY, wanted)) == 3
    assert counted.most == 1 and len(fake.queries) == 3
    together = threading.Barrier(3, timeout=30)  # three queries at once, or this breaks

    def all_together(number: int, sql: str) -> None:
        together.wait()

    fake.on_query = all_together
    assert len(lookup(client, KEY, wanted, concurrency=5)) == 3
    client.close()
