"""Connection profiles on their own (``core/profiles.py``): the file they are saved in and what
bpxl refuses to read from it, their secrets in the keyring (and the stores it refuses), the
active profile of the ribbon, and how a profile names its tenant."""

from __future__ import annotations

import json
import os
from pathlib import Path

import keyring
import keyring.errors
import pytest
from keyring.backend import KeyringBackend

from bpxl.core import profiles
from bpxl.core.errors import UsageError
from bpxl.core.profiles import Profile

from .conftest import MemoryKeyring

ANN = Profile("prod", "https://bp.example/acme", username="ann")


def _file() -> Path:
    return Path(os.environ["BPXL_CONFIG_DIR"]) / "profiles.json"


def test_a_profile_names_its_tenant_and_where_writes_go() -> None:
    assert ANN.tenant == "acme"
    assert ANN.label == "prod: PRODUCTION tenant acme (https://bp.example/acme)"
    test = Profile("t", "https://bp.example/a/test-1/", production=False)
    assert test.tenant == "test-1"
    assert test.label == "t: sandbox tenant test-1 (https://bp.example/a/test-1/)"
    assert Profile("h", "https://bp.example").tenant == "bp.example"
    assert Profile("odd", "acme").tenant == "acme"
    assert Profile("odd", "").tenant == ""


def test_the_config_folder_is_made_where_the_environment_says(tmp_path, monkeypatch) -> None:
    where = tmp_path / "deep" / "config"
    monkeypatch.setenv("BPXL_CONFIG_DIR", str(where))
    assert profiles.config_dir() == where and where.is_dir()
    assert profiles.config_dir() == where  # made once, found after


def test_the_config_folder_is_the_users_own_by_default(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("BPXL_CONFIG_DIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert profiles.config_dir() == tmp_path / "xdg" / "bpxl"


def test_a_profile_is_saved_without_its_secret_and_read_back(memory_keyring: MemoryKeyring) -> None:
    assert profiles.load_all() == {}
    key_field = Profile("test", "https://bp.example/t", oauth_client="app", key_field="Ref__c")
    assert profiles.save(ANN, "pw-secret-1") == _file()
    profiles.save(key_field, "client-secret-2")
    text = _file().read_text(encoding="utf-8")
    assert "secret" not in text and text.endswith("}\n")
    assert list(json.loads(text)) == ["prod", "test"]  # sorted by name
    assert json.loads(text)["prod"] == {
        "name": "prod",
        "url": "https://bp.example/acme",
        "username": "ann",
        "oauth_client": None,
        "production": True,
        "key_field": None,
    }
    assert '\n  "prod": {\n    "name": "prod",' in text  # indented by two, as people read it
    assert profiles.load_all() == {"prod": ANN, "test": key_field}
    assert profiles.get("test") == key_field
    assert memory_keyring.secrets == {
        ("bpxl", "prod"): "pw-secret-1",
        ("bpxl", "test"): "client-secret-2",
    }
    assert profiles.secret(ANN) == "pw-secret-1"
    assert not _file().with_suffix(".tmp").exists()


def test_the_sandbox_name_is_not_a_profile_name(memory_keyring: MemoryKeyring) -> None:
    with pytest.raises(UsageError, match="'sandbox' is the name of the embedded sandbox") as no:
        profiles.save(Profile("sandbox", "https://bp.example/t", username="a"), "pw")
    assert no.value.hint == "Choose another profile name."
    assert memory_keyring.secrets == {} and not _file().exists()


def test_an_unknown_profile_names_the_saved_ones(memory_keyring: MemoryKeyring) -> None:
    with pytest.raises(UsageError) as none:
        profiles.get("prod")
    assert none.value.message == (
        "There is no connection profile named 'prod' (saved profiles: none yet)."
    )
    assert none.value.hint == "Save one with `bpxl connect prod --url URL --username USER`."
    profiles.save(Profile("b", "https://bp.example/b", username="u"), "x")
    profiles.save(Profile("a", "https://bp.example/a", username="u"), "x")
    with pytest.raises(UsageError, match=r"\(saved profiles: a, b\)"):
        profiles.get("c")


def test_a_profile_is_updated_and_removed_with_its_secret(memory_keyring: MemoryKeyring) -> None:
    profiles.save(ANN, "pw")
    keyed = Profile("prod", ANN.url, username="ann", key_field="Ref__c")
    assert profiles.update(keyed) == _file()
    assert profiles.get("prod") == keyed and profiles.secret(keyed) == "pw"
    with pytest.raises(UsageError, match="no connection profile named 'other'"):
        profiles.update(Profile("other", ANN.url, username="x"))
    assert list(profiles.load_all()) == ["prod"]
    profiles.remove("prod")
    assert profiles.load_all() == {} and memory_keyring.secrets == {}
    with pytest.raises(UsageError, match="no connection profile named 'prod'"):
        profiles.remove("prod")


def test_a_profile_whose_secret_is_gone_can_still_be_removed(
    memory_keyring: MemoryKeyring,
) -> None:
    profiles.save(ANN, "pw")
    memory_keyring.secrets.clear()
    with pytest.raises(UsageError) as missing:
        profiles.secret(ANN)
    assert missing.value.message == "No password is saved for profile 'prod'."
    assert missing.value.hint == (
        "Run `bpxl connect prod --url https://bp.example/acme ...` again to save it."
    )
    profiles.remove("prod")
    assert profiles.load_all() == {}


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{not json", "it is not JSON"),
        ('["prod"]', "it does not list profiles by name"),
        ('{"prod": "https://bp.example"}', "the profile 'prod' is not one bpxl saved"),
        ('{"prod": {"url": 5}}', "the profile 'prod' is not one bpxl saved"),
        ('{"prod": {"url": "u", "production": "yes"}}', "the profile 'prod' is not one bpxl saved"),
        ('{"prod": {"url": "u", "username": 7}}', "the profile 'prod' is not one bpxl saved"),
        ('{"prod": {"url": "u", "colour": "red"}}', "the profile 'prod' is not one bpxl saved"),
        ('{"pr\\nod": {"username": "a"}}', "the profile 'pr od' is not one bpxl saved"),
    ],
)
def test_a_damaged_profiles_file_is_refused_in_words(text: str, why: str) -> None:
    _file().write_text(text, encoding="utf-8")
    with pytest.raises(UsageError) as damaged:
        profiles.load_all()
    assert damaged.value.message == f"The profiles file {_file()} is damaged: {why}."
    assert damaged.value.hint == (
        "Delete it (or put back a copy you kept) and save your connections again with "
        "`bpxl connect NAME --url URL --username USER`."
    )


def test_a_well_formed_entry_may_leave_out_what_it_does_not_use() -> None:
    _file().write_text(
        '{"p": {"url": "https://bp.example/t", "production": false, "username": null}}',
        encoding="utf-8",
    )
    assert profiles.load_all() == {"p": Profile("p", "https://bp.example/t", production=False)}


def test_a_profiles_file_that_cannot_be_read_says_why(tmp_path, monkeypatch) -> None:
    _file().mkdir()  # a folder where the file should be
    with pytest.raises(UsageError) as unreadable:
        profiles.load_all()
    assert unreadable.value.message.startswith(f"The profiles file {_file()} could not be read (")
    assert unreadable.value.hint == (
        "Check that you may read it, or delete it and save your connections again with "
        "`bpxl connect`."
    )


def test_the_active_profile_is_the_sandbox_until_one_is_chosen(
    memory_keyring: MemoryKeyring,
) -> None:
    assert profiles.active() == "sandbox"
    with pytest.raises(UsageError, match="no connection profile named 'prod'"):
        profiles.set_active("prod")
    profiles.save(ANN, "pw")
    profiles.set_active("prod")
    chosen = Path(os.environ["BPXL_CONFIG_DIR"]) / "active-profile.txt"
    assert chosen.read_text(encoding="utf-8") == "prod\n"
    assert profiles.active() == "prod"
    profiles.set_active("sandbox")
    assert profiles.active() == "sandbox"
    profiles.set_active("prod")
    profiles.remove("prod")  # a chosen profile removed since: the sandbox again
    assert profiles.active() == "sandbox"


class _Failing(MemoryKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError("no store")


def test_a_keyring_that_fails_is_named_in_words() -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(_Failing())
    try:
        with pytest.raises(UsageError) as unset:
            profiles.save(ANN, "pw")
        with pytest.raises(UsageError) as unread:
            profiles.secret(ANN)
    finally:
        keyring.set_keyring(previous)
    assert unset.value.message == (
        "This machine has no password store bpxl can use (PasswordSetError)."
    )
    assert unread.value.message.endswith("(KeyringLocked).")
    assert (
        unset.value.hint
        == unread.value.hint
        == (
            "On Linux install and unlock a Secret Service keyring (e.g. GNOME Keyring); in scripts "
            "use --url with --username and BPXL_PASSWORD, or --token-env, instead of a profile."
        )
    )
    assert not _file().exists()


class _Weak(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise AssertionError("a weak store must not be given the secret")

    def delete_password(self, service: str, username: str) -> None:
        return None


_Weak.__module__ = "keyrings.alt.file"


class _Chain(KeyringBackend):
    """A chain of stores, as keyring's ChainerBackend: it saves into its first."""

    priority = 1  # type: ignore[assignment]

    def __init__(self, *backends: KeyringBackend) -> None:
        super().__init__()
        self.backends = list(backends)

    def get_password(self, service: str, username: str) -> str | None:
        return self.backends[0].get_password(service, username)

    def set_password(self, service: str, username: str, password: str) -> None:
        self.backends[0].set_password(service, username, password)

    def delete_password(self, service: str, username: str) -> None:
        self.backends[0].delete_password(service, username)


@pytest.mark.parametrize("ring", [_Weak(), _Chain(_Weak(), MemoryKeyring())])
def test_a_weak_keyring_is_refused_naming_the_store(ring: KeyringBackend) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(ring)
    try:
        with pytest.raises(UsageError) as weak:
            profiles.save(ANN, "pw")
    finally:
        keyring.set_keyring(previous)
    assert weak.value.message == (
        "The password store bpxl would use here, _Weak (from keyrings.alt.file), keeps secrets "
        "in a plain or weakly encoded file (or not at all), so bpxl will not save the password "
        "there."
    )
    assert weak.value.hint == (
        "Use the system's own store: Windows Credential Manager or the macOS Keychain; on Linux "
        "install and unlock GNOME Keyring or KWallet, and remove keyrings.alt (`pip uninstall "
        "keyrings.alt`, or the python3-keyrings.alt package). In scripts, use --url with "
        "--username and BPXL_PASSWORD instead of a profile."
    )
    assert not _file().exists()


def test_a_chain_whose_first_store_is_strong_is_used() -> None:
    previous = keyring.get_keyring()
    strong = MemoryKeyring()
    keyring.set_keyring(_Chain(strong, _Weak()))
    try:
        profiles.save(ANN, "pw")
    finally:
        keyring.set_keyring(previous)
    assert strong.secrets == {("bpxl", "prod"): "pw"}
