"""Where a push goes: a saved profile, a URL with credentials, or the embedded sandbox.

Both front ends open connections here, so the command line and the Excel ribbon reach the same
tenant the same way. The embedded sandbox keeps its records in bpxl's data folder, next to the
push journals, so that a create and a later update of the same workbook meet the same invoices.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from platformdirs import user_data_dir

from ..sandbox import Sandbox, SandboxConfig
from . import describe, journal, profiles
from .client import Client
from .fields import Catalogue
from .ledger import Ledger

DATA_DIR_ENV = "BPXL_DATA_DIR"
SANDBOX_USER = SANDBOX_PASSWORD = "demo"  # the embedded sandbox's well-known login


def data_dir() -> Path:
    """bpxl's folder for the embedded sandbox's records and the push journals."""
    path = Path(os.environ.get(DATA_DIR_ENV) or user_data_dir("bpxl", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def journal_dir() -> Path:
    return data_dir() / "journal"


def undo_dir() -> Path:
    """Where what the last update of each workbook replaced is kept (see ``revert_memory``)."""
    return data_dir() / "undo"


def fields_dir() -> Path:
    """Where each connection's INVOICE fields, as last read from the tenant, are kept."""
    return data_dir() / "fields"


def ledger_dir() -> Path:
    """Where each tenant's ledger of the invoices created from this computer is kept."""
    return data_dir() / "ledger"


def ledger_for(target: journal.Target) -> Ledger:
    """The ledger of the tenant ``target`` names (by its URL; the embedded sandbox's own)."""
    return Ledger(ledger_dir(), tenant_url(target.url) if target.url else profiles.SANDBOX)


def tenant_url(url: str) -> str:
    """``url`` spelled one way, for what is kept per tenant: scheme and host in lower case, no
    default port, no trailing slash (``HTTPS://My.Host:443/acme/`` is ``https://my.host/acme``).
    Filed under the URL as typed, one tenant typed two ways had two ledgers, and a copy pushed
    through the other spelling was created again."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:  # refused before any push connects; kept as typed
        return url.rstrip("/")
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    if port is not None and port != {"http": 80, "https": 443}.get(scheme):
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, parts.path.rstrip("/"), parts.query, ""))


def catalogue_key(target: journal.Target) -> str:
    """What a tenant's cached fields are filed under: the profile's name, else the URL."""
    return target.profile or target.url or profiles.SANDBOX


def catalogue_for(
    key: str,
    opener: Callable[[], AbstractContextManager[Connection]] | None,
    refresh: bool = False,
) -> Catalogue:
    """The INVOICE fields of the tenant filed under ``key`` (a profile's name, a URL, or
    ``sandbox``): from the cache when less than a day old and not ``refresh``, else read through
    a connection ``opener`` opens. Without an opener (a check that sends nothing, and so does not
    connect) and no fresh cache, the built-in fields, with a note saying so."""
    if not refresh and (found := describe.cached(fields_dir(), key)) is not None:
        return found
    if opener is None:
        return describe.fallback(
            "this tenant's own fields were not read in the last day (a send or `bpxl fields` "
            "reads them)"
        )
    with opener() as link:
        return link.catalogue(refresh=True)


def profile_catalogue(name: str | None, connect: bool = True) -> Catalogue:
    """The fields of a saved profile's tenant, or (None or ``sandbox``) the embedded sandbox's;
    without ``connect``, only what was read in the last day (see ``catalogue_for``)."""
    return catalogue_for(
        name or profiles.SANDBOX, (lambda: open_profile(name)) if connect else None
    )


@dataclass(frozen=True)
class Connection:
    client: Client
    target: journal.Target  # what the journal records (no secrets)
    profile: profiles.Profile | None  # None: the embedded sandbox or a bare URL

    @property
    def key_field(self) -> str | None:
        """The tenant's field for create keys, as the profile names it (key-field mode)."""
        return self.profile.key_field if self.profile is not None else None

    @property
    def label(self) -> str:
        if self.profile is not None:
            return self.profile.label
        return "the embedded SANDBOX" if self.target.url is None else self.target.url

    def catalogue(self, refresh: bool = False) -> Catalogue:
        """The tenant's INVOICE fields: read at most once a day (or now, with ``refresh``);
        the built-in ones, with a note, when the tenant will not say."""
        return describe.load(self.client, fields_dir(), catalogue_key(self.target), refresh=refresh)


def profile_client(profile: profiles.Profile, secret: str) -> Client:
    if profile.oauth_client:
        return Client(profile.url, oauth_client=profile.oauth_client, client_secret=secret)
    return Client(profile.url, username=profile.username, password=secret)


@contextmanager
def open_profile(
    name: str | None, announce: Callable[[str], None] = lambda _: None
) -> Iterator[Connection]:
    """A connection for a saved profile, or (None or ``sandbox``) the embedded sandbox."""
    if name and name != profiles.SANDBOX:
        profile = profiles.get(name)
        with profile_client(profile, profiles.secret(profile)) as client:
            yield Connection(client, journal.Target(profile.url, profile.name), profile)
        return
    db = data_dir() / "sandbox.sqlite3"
    with Sandbox(SandboxConfig(port=0, db=db)) as sandbox:
        announce(f"using the embedded sandbox (records kept in {db})")
        with Client(sandbox.url, username=SANDBOX_USER, password=SANDBOX_PASSWORD) as client:
            yield Connection(client, journal.Target(None, profiles.SANDBOX), None)


@contextmanager
def open_url(
    url: str, *, username: str | None, password: str | None, token: str | None
) -> Iterator[Connection]:
    """A connection for a bare URL with credentials from the environment (scripts, CI)."""
    with Client(url, username=username, password=password, token=token) as client:
        yield Connection(client, journal.Target(url), None)
