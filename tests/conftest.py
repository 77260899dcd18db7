"""Shared fixtures: a real sandbox on loopback, workbooks built from the template, the CLI."""

from __future__ import annotations

import json
import locale
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keyring
import keyring.errors
import openpyxl
import pytest
from keyring.backend import KeyringBackend

from bpxl import cli, template
from bpxl.sandbox import FaultPlan, Sandbox, SandboxConfig


@pytest.fixture(autouse=True)
def _private_data_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never touch the real user's data and config folders, password or keyring."""
    monkeypatch.setenv("BPXL_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    monkeypatch.setenv("BPXL_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))
    monkeypatch.delenv("BPXL_PASSWORD", raising=False)
    # The second lookup of a lost create comes this long after the first (5 s for users); the
    # tests of late stores set their own.
    monkeypatch.setenv("BPXL_LOOKUP_WAIT", "0.2")


class MemoryKeyring(KeyringBackend):
    """The OS keyring stands in for itself only on desktops; tests keep secrets in memory."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.secrets.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(username)


# Tokyo (UTC+9) and Los Angeles (UTC-8/-7), as POSIX rules so that they need no time zone database.
TIME_ZONES = {"Asia/Tokyo": "JST-9", "America/Los_Angeles": "PST8PDT,M3.2.0,M11.1.0"}


@pytest.fixture(params=list(TIME_ZONES))
def time_zone(request: pytest.FixtureRequest) -> Iterator[str]:
    """The machine's local time zone set east, then west, of UTC: dates must never shift."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = TIME_ZONES[request.param]
    time.tzset()
    assert time.timezone != 0, "the time zone did not take effect"
    yield request.param
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.fixture
def ascii_locale() -> Iterator[None]:
    """A machine whose default text encoding is not UTF-8 (as Windows' ANSI code page): a file
    opened without naming its encoding cannot hold an accent; bpxl names UTF-8 everywhere."""
    before = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    assert locale.getencoding() != "UTF-8", "the C locale did not take effect"
    try:
        yield
    finally:
        locale.setlocale(locale.LC_CTYPE, before)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    yield ring
    keyring.set_keyring(previous)


@dataclass
class RunningSandbox:
    sandbox: Sandbox
    log_path: Path

    @property
    def url(self) -> str:
        return self.sandbox.url

    def requests(self) -> list[dict[str, Any]]:
        text = self.log_path.read_text(encoding="utf-8") if self.log_path.exists() else ""
        return [json.loads(line) for line in text.splitlines()]

    def writes(self) -> list[dict[str, Any]]:
        return [
            r
            for r in self.requests()
            if r["method"] in ("POST", "PUT", "PATCH") and r["path"].endswith("/INVOICE")
        ]


@pytest.fixture
def make_sandbox(tmp_path: Path) -> Iterator[Callable[..., RunningSandbox]]:
    started: list[Sandbox] = []

    def start(
        faults: list[str] | None = None,
        seed: int = 1,
        log_fields: bool = False,
        extra_users: dict[str, str] | None = None,
    ) -> RunningSandbox:
        log = tmp_path / f"requests-{len(started)}.jsonl"
        plan = FaultPlan.parse(faults or [], seed=seed)
        config = SandboxConfig(port=0, request_log=log, faults=plan, log_fields=log_fields)
        config.extra_users = extra_users or {}
        sandbox = Sandbox(config)
        started.append(sandbox.start())
        return RunningSandbox(sandbox, log)

    yield start
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., RunningSandbox]) -> RunningSandbox:
    return make_sandbox()


def write_invoices(path: Path, rows: list[Mapping[str, object]]) -> Path:
    """The template with ``rows`` filled in from row 2 (keys are header names)."""
    template.fill(template.build(), rows).save(path)
    return path


def read_sheet(path: Path, sheet: str | None = None) -> list[dict[str, Any]]:
    """Data rows as dicts keyed by header, with the sheet row number under ``_row``."""
    book = openpyxl.load_workbook(path)
    ws = book[sheet] if sheet else book.worksheets[0]
    headers = [c.value for c in ws[1]]
    out = []
    for number, values in enumerate(ws.iter_rows(min_row=2, values_only=True), start=2):
        if any(v is not None for v in values):
            out.append(
                {"_row": number, **{h: v for h, v in zip(headers, values, strict=False) if h}}
            )
    return out


@pytest.fixture
def run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str, str]]:
    """Run ``bpxl ARGS`` in-process; returns (exit code, stdout, stderr)."""

    def invoke(*args: object, password: str | None = "demo") -> tuple[int, str, str]:
        if password is not None:
            monkeypatch.setenv("BPXL_PASSWORD", password)
        code = cli.main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def short_of_room(monkeypatch: pytest.MonkeyPatch, folder: Path, free: int) -> None:
    """``folder``'s disk reported with ``free`` bytes free (the others as they are)."""
    real = shutil.disk_usage

    def usage(path: object) -> object:
        found = real(path)  # type: ignore[arg-type]
        return found._replace(free=free) if Path(str(path)).resolve() == folder else found

    monkeypatch.setattr(shutil, "disk_usage", usage)
