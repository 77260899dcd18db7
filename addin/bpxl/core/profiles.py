"""Named connection profiles: where to send (URL, user, production or not) and how to log in.

A profile is saved by ``bpxl connect`` (or the ribbon's Connect...) in ``profiles.json`` in the
user's config folder; it holds no secret. The password, OAuth client secret or token lives in the
operating system's keyring (Windows Credential Manager, macOS Keychain, Secret Service), under
the service name ``bpxl`` and the profile's name.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from urllib.parse import urlsplit

import keyring
import keyring.errors
from platformdirs import user_config_dir

from . import redact
from .errors import UsageError, storage_reason

KEYRING_SERVICE = "bpxl"
CONFIG_DIR_ENV = "BPXL_CONFIG_DIR"
SANDBOX = "sandbox"  # the name that always means the embedded sandbox
# Keyring backends that keep a secret in a file anyone who can read it can decode (plain text,
# base64, or encrypted with a key kept beside it or typed nowhere), or that keep nothing.
_WEAK_KEYRINGS = ("keyrings.alt", "keyrings.cryptfile", "keyring.backends.null")


@dataclass(frozen=True)
class Profile:
    """One tenant connection, logging in as ``username`` or as the OAuth client ``oauth_client``."""

    name: str
    url: str
    username: str | None = None
    oauth_client: str | None = None
    production: bool = True
    key_field: str | None = None  # the tenant's Invoice field for create keys (key-field mode)

    @property
    def tenant(self) -> str:
        """The tenant's name as the user knows it: the URL's last path part, else its host."""
        parts = urlsplit(self.url)
        return parts.path.strip("/").rsplit("/", 1)[-1] or parts.hostname or self.url

    @property
    def label(self) -> str:
        """What the ribbon and the terminal show: where the next write goes."""
        kind = "PRODUCTION" if self.production else "sandbox"
        return f"{self.name}: {kind} tenant {self.tenant} ({self.url})"


def config_dir() -> Path:
    path = Path(os.environ.get(CONFIG_DIR_ENV) or user_config_dir("bpxl", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _file() -> Path:
    return config_dir() / "profiles.json"


def load_all() -> dict[str, Profile]:
    try:
        raw = json.loads(_file().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError:
        raise _damaged("it is not JSON") from None
    except OSError as error:
        raise UsageError(
            f"The profiles file {_file()} could not be read ({storage_reason(error)}).",
            "Check that you may read it, or delete it and save your connections again with "
            "`bpxl connect`.",
        ) from None
    if not isinstance(raw, dict):
        raise _damaged("it does not list profiles by name")
    found = {}
    for name, entry in raw.items():
        if not _well_formed(entry):
            raise _damaged(f"the profile {redact.printable(str(name))!r} is not one bpxl saved")
        found[name] = Profile(**{"name": name, **entry})  # well formed: a Profile's keys, a URL
    return found


def _well_formed(entry: object) -> bool:
    """An entry as ``save`` writes it: a Profile's keys, a URL, a flag for production and
    text or nothing for the rest."""
    if not isinstance(entry, dict) or not set(entry) <= {f.name for f in fields(Profile)}:
        return False
    return (
        isinstance(entry.get("url"), str)
        and isinstance(entry.get("production", True), bool)
        and all(v is None or isinstance(v, str) for k, v in entry.items() if k != "production")
    )


def _damaged(why: str) -> UsageError:
    return UsageError(
        f"The profiles file {_file()} is damaged: {why}.",
        "Delete it (or put back a copy you kept) and save your connections again with "
        "`bpxl connect NAME --url URL --username USER`.",
    )


def get(name: str) -> Profile:
    profiles = load_all()
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none yet"
        raise UsageError(
            f"There is no connection profile named {name!r} (saved profiles: {known}).",
            f"Save one with `bpxl connect {name} --url URL --username USER`.",
        )
    return profiles[name]


def save(profile: Profile, secret: str) -> Path:
    """Store the profile in the config file and its secret in the keyring."""
    if profile.name == SANDBOX:
        raise UsageError(
            f"{SANDBOX!r} is the name of the embedded sandbox.", "Choose another profile name."
        )
    _refuse_weak_keyring()
    try:
        keyring.set_password(KEYRING_SERVICE, profile.name, secret)
    except keyring.errors.KeyringError as failure:
        raise _no_keyring(failure) from None
    profiles = load_all()
    profiles[profile.name] = profile
    _write(profiles)
    return _file()


def update(profile: Profile) -> Path:
    """Save a change to a saved profile (its key field, say); its secret stays as it is."""
    profiles = load_all()
    get(profile.name)
    profiles[profile.name] = profile
    _write(profiles)
    return _file()


def remove(name: str) -> None:
    profiles = load_all()
    get(name)
    del profiles[name]
    _write(profiles)
    with contextlib.suppress(keyring.errors.KeyringError):  # nothing stored: nothing to remove
        keyring.delete_password(KEYRING_SERVICE, name)


def secret(profile: Profile) -> str:
    """The profile's password, client secret or token, from the keyring."""
    try:
        value = keyring.get_password(KEYRING_SERVICE, profile.name)
    except keyring.errors.KeyringError as failure:
        raise _no_keyring(failure) from None
    if value is None:
        raise UsageError(
            f"No password is saved for profile {profile.name!r}.",
            f"Run `bpxl connect {profile.name} --url {profile.url} ...` again to save it.",
        )
    return value


def active() -> str:
    """The profile the Excel ribbon sends to (``sandbox`` until Connect... chooses another)."""
    path = config_dir() / "active-profile.txt"
    name = path.read_text(encoding="utf-8").strip() if path.exists() else ""
    return name if name in load_all() else SANDBOX


def set_active(name: str) -> None:
    if name != SANDBOX:
        get(name)
    (config_dir() / "active-profile.txt").write_text(name + "\n", encoding="utf-8")


def _write(profiles: dict[str, Profile]) -> None:
    path = _file()
    temporary = path.with_suffix(".tmp")
    text = json.dumps({name: asdict(p) for name, p in sorted(profiles.items())}, indent=2)
    temporary.write_text(text + "\n", encoding="utf-8")
    temporary.replace(path)


def _refuse_weak_keyring() -> None:
    """Saving a secret where it is a plain or weakly encoded file would be no safer than
    writing it into the profile: refuse, naming the store and how to get a real one."""
    ring = keyring.get_keyring()
    chain = getattr(ring, "backends", None)  # a chain of stores saves into its first
    store = chain[0] if chain else ring
    kind = type(store)
    if kind.__module__.startswith(_WEAK_KEYRINGS):
        raise UsageError(
            f"The password store bpxl would use here, {kind.__name__} (from {kind.__module__}), "
            "keeps secrets in a plain or weakly encoded file (or not at all), so bpxl will not "
            "save the password there.",
            "Use the system's own store: Windows Credential Manager or the macOS Keychain; on "
            "Linux install and unlock GNOME Keyring or KWallet, and remove keyrings.alt "
            "(`pip uninstall keyrings.alt`, or the python3-keyrings.alt package). In scripts, use "
            "--url with --username and BPXL_PASSWORD instead of a profile.",
        )


def _no_keyring(failure: Exception) -> UsageError:
    return UsageError(
        f"This machine has no password store bpxl can use ({type(failure).__name__}).",
        "On Linux install and unlock a Secret Service keyring (e.g. GNOME Keyring); in scripts "
        "use --url with --username and BPXL_PASSWORD, or --token-env, instead of a profile.",
    )
