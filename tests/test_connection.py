"""Where a push goes (``core/connection.py``), called directly: bpxl's folders, one spelling of
a tenant's URL for what is kept per tenant, the fields cache by profile or URL, and the
connections a profile, a URL or the embedded sandbox opens."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bpxl.core import connection, describe, profiles
from bpxl.core.connection import Connection, tenant_url
from bpxl.core.fields import BUILT_IN_SOURCE
from bpxl.core.journal import Target
from bpxl.core.ledger import ledger_file
from bpxl.core.profiles import Profile

from .conftest import MemoryKeyring


def test_bpxl_keeps_its_data_in_one_folder_made_on_first_use(tmp_path, monkeypatch) -> None:
    where = tmp_path / "a" / "data"
    monkeypatch.setenv("BPXL_DATA_DIR", str(where))
    assert connection.data_dir() == where and where.is_dir()
    assert connection.journal_dir() == where / "journal"
    assert connection.undo_dir() == where / "undo"
    assert connection.fields_dir() == where / "fields"
    assert connection.ledger_dir() == where / "ledger"


def test_the_data_folder_is_the_users_own_by_default(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("BPXL_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert connection.data_dir() == tmp_path / "xdg" / "bpxl"


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("HTTPS://My.Host:443/acme/", "https://my.host/acme"),
        ("https://my.host/acme", "https://my.host/acme"),
        ("  https://my.host/acme  ", "https://my.host/acme"),
        ("https://my.host:8443/acme", "https://my.host:8443/acme"),
        ("http://127.0.0.1:80/t", "http://127.0.0.1/t"),
        ("http://127.0.0.1:443/t", "http://127.0.0.1:443/t"),
        ("https://my.host:80/t", "https://my.host:80/t"),
        ("http://[::1]:5000/t/", "http://[::1]:5000/t"),
        ("https://my.host/acme?tenant=2#top", "https://my.host/acme?tenant=2"),
        ("https://my.host:99999/acme/", "https://my.host:99999/acme"),
        ("https://my.host:99999/BOX/", "https://my.host:99999/BOX"),
        ("https://my.host/BOX/", "https://my.host/BOX"),
        ("file:///C:/tenant", "file:///C:/tenant"),
    ],
)
def test_a_tenant_url_is_kept_spelled_one_way(typed: str, kept: str) -> None:
    assert tenant_url(typed) == kept


def test_each_tenant_has_its_ledger_and_the_sandbox_its_own(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BPXL_DATA_DIR", str(tmp_path))
    folder = tmp_path / "ledger"
    tenant = connection.ledger_for(Target("HTTPS://My.Host/acme/", "prod"))
    sandbox = connection.ledger_for(Target(None, "sandbox"))
    try:
        assert tenant.path == ledger_file(folder, "https://my.host/acme")
        assert sandbox.path == ledger_file(folder, "sandbox")
    finally:
        tenant.close()
        sandbox.close()


def test_cached_fields_are_filed_under_the_profile_else_the_url() -> None:
    assert connection.catalogue_key(Target("https://h/t", "prod")) == "prod"
    assert connection.catalogue_key(Target("https://h/t")) == "https://h/t"
    assert connection.catalogue_key(Target(None)) == "sandbox"


def test_the_fields_come_from_the_cache_else_the_tenant_else_the_built_in_ones(sandbox) -> None:
    opened: list[str] = []

    @contextmanager
    def opener() -> Iterator[Connection]:
        opened.append("x")
        client = connection.Client(sandbox.url, username="demo", password="demo")
        with client:
            yield Connection(client, Target(sandbox.url, "here"), None)

    unread = connection.catalogue_for("here", None)
    assert unread.source == BUILT_IN_SOURCE and opened == []
    assert unread.notes == (
        "Using bpxl's built-in Invoice fields: this tenant's own fields were not read in the "
        "last day (a send or `bpxl fields` reads them).",
    )
    read = connection.catalogue_for("here", opener)
    assert opened == ["x"] and read.notes == ()
    assert describe.cached(connection.fields_dir(), "here") is not None
    again = connection.catalogue_for("here", opener)
    assert opened == ["x"] and again.fields == read.fields  # from the cache
    assert connection.catalogue_for("here", None).fields == read.fields

    def asked() -> int:
        return sum(1 for r in sandbox.requests() if "/rest/2.0/" in r["path"])

    before = asked()
    connection.catalogue_for("here", opener, refresh=True)  # read again though fresh
    assert opened == ["x", "x"] and asked() > before


def test_a_connection_reads_its_tenants_fields_once_a_day(sandbox) -> None:
    with connection.Client(sandbox.url, username="demo", password="demo") as client:
        link = Connection(client, Target(sandbox.url, "daily"), None)
        link.catalogue()
        asked = len(sandbox.requests())
        assert link.catalogue().notes == () and len(sandbox.requests()) == asked
        link.catalogue(refresh=True)
        assert len(sandbox.requests()) > asked


def test_a_profiles_fields_without_connecting_are_only_those_read_lately(
    memory_keyring: MemoryKeyring,
) -> None:
    profiles.save(Profile("prod", "https://bp.example/acme", username="ann"), "pw")
    found = connection.profile_catalogue("prod", connect=False)
    assert found.source == BUILT_IN_SOURCE and "not read in the last day" in found.notes[0]
    assert connection.profile_catalogue(None, connect=False).notes == found.notes


def test_a_profiles_fields_are_read_from_its_tenant_and_filed_under_its_name(
    sandbox, memory_keyring: MemoryKeyring
) -> None:
    profiles.save(Profile("prod", sandbox.url, username="demo"), "demo")
    before = len(sandbox.requests())
    read = connection.profile_catalogue("prod")
    assert read.notes == () and len(sandbox.requests()) > before
    assert connection.profile_catalogue("prod", connect=False).notes == ()  # now cached
    assert connection.profile_catalogue(None, connect=False).notes != ()  # not the sandbox's


def test_the_sandbox_fields_are_read_through_the_embedded_sandbox() -> None:
    read = connection.profile_catalogue(None)
    assert read.notes == () and describe.cached(connection.fields_dir(), "sandbox") is not None
    assert connection.profile_catalogue("sandbox", connect=False).fields == read.fields


def test_a_profile_opens_a_client_of_its_kind(memory_keyring: MemoryKeyring) -> None:
    user = Profile("prod", "https://bp.example/acme", username="ann", key_field="Ref__c")
    app = Profile("api", "https://bp.example/acme", oauth_client="app")
    as_user = connection.profile_client(user, "pw-1")
    as_app = connection.profile_client(app, "sec-2")
    assert (as_user.username, as_user.oauth_client, as_user._password) == ("ann", None, "pw-1")
    assert (as_app.oauth_client, as_app._client_secret, as_app.username) == ("app", "sec-2", None)
    profiles.save(user, "pw-1")
    said: list[str] = []
    with connection.open_profile("prod", said.append) as link:
        assert link.target == Target("https://bp.example/acme", "prod")
        assert link.profile == user and link.key_field == "Ref__c"
        assert link.label == user.label and link.client._password == "pw-1"
    assert said == []


def test_the_embedded_sandbox_keeps_its_records_in_the_data_folder() -> None:
    said: list[str] = []
    for name in (None, "sandbox"):
        with connection.open_profile(name, said.append) as link:
            assert link.target == Target(None, "sandbox") and link.profile is None
            assert link.label == "the embedded SANDBOX" and link.key_field is None
            [made] = link.client.create([{"BillingProfileId": "101"}])
            assert made.id
    db = Path(os.environ["BPXL_DATA_DIR"]) / "sandbox.sqlite3"
    assert said == [f"using the embedded sandbox (records kept in {db})"] * 2
    assert db.exists()
    with connection.open_profile(None) as link:  # the records are still there
        assert link.client.retrieve(made.id) is not None


def test_a_bare_url_opens_with_the_credentials_given(sandbox) -> None:
    with connection.open_url(sandbox.url, username="demo", password="demo", token=None) as link:
        assert link.target == Target(sandbox.url) and link.profile is None
        assert link.label == sandbox.url and link.key_field is None
        assert link.client.create([{"BillingProfileId": "101"}])[0].id
        assert link.client._session_id is not None
    assert link.client._session_id is None  # logged out
    with connection.open_url(sandbox.url, username=None, password=None, token="t") as link:
        assert link.client._token == "t"
