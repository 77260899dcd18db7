"""The world a history plays in: a sandbox on loopback, the user's workbook, and bpxl run as a user
runs it.

Commands go through ``bpxl``'s command line: in this process (``cli.main``, fast) when nothing
depends on timing, and as real ``python -m bpxl.cli`` processes for a signal at a random moment,
two commands at once, or a file edited while a push runs. Clear status goes through the ribbon's
action on the fake xlwings book, and the user's own edits through openpyxl, saved the way Excel
saves (a new file renamed over the old one).

The world keeps a model of what the user put in the sheet (``Row``), so the checker can tell the
user's edits from anything bpxl did to a cell. Each row carries a unique tag in ``FileName`` (sent
with every create, so invoices can be counted per row on the server) and in the user's own
``Note`` column.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import io
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import keyring
from keyring.backend import KeyringBackend
from openpyxl import load_workbook

from bpxl import cli, template
from bpxl.core import profiles
from bpxl.sandbox import FaultPlan, Sandbox, SandboxConfig

from ..conftest import MemoryKeyring
from ..fake_xlwings import App, press
from .steps import LOOKUP_WAIT_S, Step

SHEET = template.SHEET_TITLE
TAG = "FileName"
NOTE = "Note"
OWN = ("Id", "Result", "Message")  # the only cells bpxl may write
USER = "chaos"
COLLEAGUE = "colleague"  # a second person: their own login, bpxl data folder and copies
STOP_WITHIN_S = 10.0  # after SIGINT, a push must end within this
RACE_TIMEOUT_S = 120.0


@dataclass
class Row:
    """One row as the user made it: the values they typed, and the Id bpxl first gave it."""

    tag: str
    note: str
    values: dict[str, object]
    id: str | None = None
    seen: dict[str, set[str]] = field(default_factory=dict)  # every value each field has held

    def __post_init__(self) -> None:
        for name, value in self.values.items():
            self.seen.setdefault(name, set()).add(norm(value))

    def set(self, name: str, value: object) -> None:
        self.values[name] = value
        self.seen.setdefault(name, set()).add(norm(value))


@dataclass
class Ran:
    """What one command did: its exit code and what it printed."""

    code: int | None
    out: str = ""
    err: str = ""

    def gist(self) -> str:
        lines = [line for line in (self.out + "\n" + self.err).splitlines() if line.strip()]
        said = [line for line in lines if line.startswith("bpxl:")] or lines[-1:]
        last = said[0].strip() if said else ""
        return f"exit {self.code}" + (f": {last[:160]}" if last else "")


@dataclass
class World:
    """One history's sandbox, folders and workbook; a model of the user's rows."""

    root: Path
    rows: list[Row] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what each step did, for the story
    races: Counter[str] = field(default_factory=Counter)
    late_sigint: list[str] = field(default_factory=list)  # SIGINTs the push did not stop at

    def __post_init__(self) -> None:
        self.password = f"Chaos-{secrets.token_urlsafe(12)}-pw"  # unique: found anywhere = leak
        self.colleague_password = f"Chaos-{secrets.token_urlsafe(12)}-pw2"
        for name in ("data", "config", "files", "out", "data2", "config2", "theirs"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        config = SandboxConfig(
            port=0, username=USER, password=self.password, request_log=self.root / "req.jsonl"
        )
        config.extra_users = {COLLEAGUE: self.colleague_password}
        self.sandbox = Sandbox(config).start()
        self.path = self.root / "files" / "book-0.xlsx"
        self.old_copy = self.root / "theirs" / "old-copy.xlsx"  # the last copy a colleague got
        self.updated_since_copy = False  # an edit, update, upsert or revert since that copy
        self.paths = [self.path]
        self._tags = 0
        self._spawned = 0
        self._keyring: KeyringBackend | None = None

    def close(self) -> None:
        self.sandbox.stop()
        if self._keyring is not None:
            keyring.set_keyring(self._keyring)

    # -- the workbook ---------------------------------------------------------------------------

    def new_row(self, values: dict[str, object]) -> Row:
        self._tags += 1
        return Row(f"r{self._tags}.pdf", f"note {self._tags}", dict(values))

    def create_workbook(self, values: list[dict[str, object]]) -> None:
        self.rows = [self.new_row(v) for v in values]
        book = template.fill(
            template.build(), [{TAG: r.tag, **r.values} for r in self.rows]
        )  # fmt: skip
        sheet = book[SHEET]
        sheet.cell(row=1, column=sheet.max_column + 1, value=NOTE)
        note = sheet.max_column
        for number, row in enumerate(self.rows, start=2):
            sheet.cell(row=number, column=note, value=row.note)
        book.save(self.path)
        shutil.copy2(self.path, self.old_copy)

    def read(self, path: Path | None = None) -> tuple[list[str], list[list[object]]]:
        """The sheet's header and data rows (as the user would see them)."""
        book = load_workbook(path or self.path)
        try:
            sheet = book[SHEET]
            header = [str(c.value) if c.value is not None else "" for c in sheet[1]]
            rows = [list(r) for r in sheet.iter_rows(min_row=2, values_only=True)]
        finally:
            book.close()
        while rows and all(v is None for v in rows[-1]):
            rows.pop()
        return header, rows

    def edit(self, change: Callable[[list[str], list[list[object]]], list[list[object]]]) -> None:
        """Rewrite the sheet's data rows as the user (or another program) does, and save it as
        Excel does: to a new file renamed over the old one, unless bpxl wrote it meanwhile."""
        for _ in range(20):
            before = self.path.stat()
            book = load_workbook(self.path)
            sheet = book[SHEET]
            header = [str(c.value) if c.value is not None else "" for c in sheet[1]]
            width = len(header)
            old = [list(r) for r in sheet.iter_rows(min_row=2, max_col=width, values_only=True)]
            new = change(header, old)
            for number in range(2, max(sheet.max_row, len(new) + 1) + 1):
                values = new[number - 2] if number - 2 < len(new) else [None] * width
                for column in range(1, width + 1):
                    value = values[column - 1] if column - 1 < len(values) else None
                    sheet.cell(row=number, column=column).value = value
            handle, temporary = tempfile.mkstemp(suffix=".xlsx", dir=self.path.parent)
            os.close(handle)
            book.save(temporary)
            now = self.path.stat()
            if (now.st_mtime_ns, now.st_size, now.st_ino) == (
                before.st_mtime_ns,
                before.st_size,
                before.st_ino,
            ):
                os.replace(temporary, self.path)
                return
            os.remove(temporary)  # bpxl saved results meanwhile: the user's edit starts again
            time.sleep(0.05)
        raise RuntimeError("the workbook kept changing under the user's edit")

    def reorder(self, order: Callable[[list[str], list[list[object]]], list[list[object]]]) -> None:
        """An edit that moves, adds or drops whole rows; the model follows by each row's tag."""
        by_tag = {r.tag: r for r in self.rows}
        result: list[list[object]] = []

        def change(header: list[str], old: list[list[object]]) -> list[list[object]]:
            result[:] = order(header, old)
            return result

        self.edit(change)
        header = self.read()[0]
        tag = header.index(TAG)
        self.rows = [by_tag[str(values[tag])] for values in result if values[tag] is not None]

    # -- running bpxl ---------------------------------------------------------------------------

    @property
    def connection(self) -> list[str]:
        return ["--url", self.sandbox.url, "--username", USER]

    @property
    def colleague(self) -> list[str]:
        return ["--url", self.sandbox.url, "--username", COLLEAGUE]

    def env(self, who: str = USER) -> dict[str, str]:
        mine = who == USER
        return {
            "BPXL_DATA_DIR": str(self.root / ("data" if mine else "data2")),
            "BPXL_CONFIG_DIR": str(self.root / ("config" if mine else "config2")),
            "BPXL_PASSWORD": self.password if mine else self.colleague_password,
            "BPXL_LOOKUP_WAIT": str(LOOKUP_WAIT_S),
            "USER": who,
        }

    @contextlib.contextmanager
    def environment(self, who: str = USER) -> Iterator[None]:
        saved = {name: os.environ.get(name) for name in self.env(who)}
        os.environ.update(self.env(who))
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def set_faults(self, step: Step) -> None:
        self.sandbox.config.faults = FaultPlan.parse(step.faults, seed=step.fault_seed)

    def cli(self, *args: object, who: str = USER) -> Ran:
        """``bpxl ARGS`` in this process, output captured (``who``: the user or the colleague)."""
        out, err = io.StringIO(), io.StringIO()
        with (
            self.environment(who),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            try:
                code: int | None = cli.main([str(a) for a in args])
            except SystemExit as stop:  # argparse refusing an option
                code = stop.code if isinstance(stop.code, int) else 2
        ran = Ran(code, out.getvalue(), err.getvalue())
        self.outputs += [ran.out, ran.err]
        return ran

    def spawn(self, *args: object, who: str = USER) -> tuple[subprocess.Popen[bytes], Path]:
        """``python -m bpxl.cli ARGS`` as its own process; its output goes to a file."""
        self._spawned += 1
        out = self.root / "out" / f"{self._spawned}.txt"
        env = {**os.environ, **self.env(who), "PYTHONUNBUFFERED": "1"}
        with out.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "bpxl.cli", *[str(a) for a in args]],
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # a signal reaches this process only
            )
        return process, out

    def finish(self, process: subprocess.Popen[bytes], out: Path, timeout: float) -> Ran:
        try:
            code: int | None = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            code = None
        text = out.read_text(encoding="utf-8", errors="replace")
        self.outputs.append(text)
        return Ran(code, text)

    def writes(self) -> int:
        """Write requests the sandbox has answered or dropped so far."""
        log = self.root / "req.jsonl"
        if not log.exists():
            return 0
        return sum(
            ('"method": "POST"' in line or '"method": "PUT"' in line or '"method": "PATCH"' in line)
            and '/INVOICE"' in line
            for line in log.read_text(encoding="utf-8").splitlines()
        )

    def wait_for_write(self, process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
        """Until ``process`` has had a write answered (or ended): a signal or an edit "at a
        random moment" should land while it sends, not while Python starts."""
        before, deadline = self.writes(), time.monotonic() + timeout
        while self.writes() == before and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)

    # -- the ribbon -----------------------------------------------------------------------------

    def ribbon(self, control: str, rows: list[int], save: bool = True) -> list[str]:
        """Run a ribbon action on the workbook as Excel shows it, with ``rows`` selected, then
        save what the action changed in the sheet (Excel's Save), unless the user closes it
        without saving. Returns the message boxes."""
        if self._keyring is None:  # the ribbon sends to a profile: its secret in a keyring
            self._keyring = keyring.get_keyring()
            keyring.set_keyring(MemoryKeyring())
            self.cli("connect", USER, *self.connection, "--sandbox")
            with self.environment():
                profiles.set_active(USER)
        app = App()
        shown: list[str] = []

        def alert(prompt: str, title: str | None = None, buttons: str = "ok", **_: object) -> str:
            shown.append(prompt)  # a careful user: a warning or a question is answered No
            return "ok" if buttons == "ok" else "no" if "yes" in buttons else "cancel"

        app.alert = alert  # type: ignore[method-assign]
        book = app.books.open(str(self.path))
        # Two cells of each chosen row: one cell alone would mean "every visible row".
        app.selected = ",".join(f"$A${r}:$B${r}" for r in rows) or "$A$1"
        with self.environment():
            press(book, control)
        self.outputs += shown
        if not save:
            return shown  # the user closes the workbook without saving
        cells = book.sheets[SHEET].cells

        def excel_save(header: list[str], old: list[list[object]]) -> list[list[object]]:
            width = max([len(header)] + [c for _, c in cells])
            last = max([len(old) + 1] + [r for r, _ in cells])
            return [[cells.get((r, c)) for c in range(1, width + 1)] for r in range(2, last + 1)]

        self.edit(excel_save)
        return shown

    # -- helpers for steps ----------------------------------------------------------------------

    def index(self, at: float, extra: int = 0) -> int:
        return min(int(at * (len(self.rows) + extra)), len(self.rows) + extra - 1)

    def sheet_rows(self, fractions: list[float]) -> list[int]:
        if not self.rows:
            return []
        return sorted({2 + self.index(f) for f in fractions})

    def next_path(self) -> Path:
        path = self.root / "files" / f"book-{len(self.paths)}.xlsx"
        self.paths.append(path)
        return path


def norm(value: object) -> str:
    """One spelling per value, so a date typed as a date and pulled as a date compare equal."""
    if value is None:
        return ""
    if isinstance(value, str):  # text as the user sees it: either Unicode form, either line end
        value = unicodedata.normalize("NFC", value).replace("\r\n", "\n")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()[:10]
    if isinstance(value, bool):
        return "1" if value else "0"
    text = str(value).strip()
    if isinstance(value, int | float | decimal.Decimal) or text.lstrip("-").isdigit():
        try:
            return format(decimal.Decimal(text).normalize(), "f")
        except decimal.InvalidOperation:
            return text
    return text


def signal_named(name: str) -> signal.Signals:
    return signal.SIGINT if name == "SIGINT" else signal.SIGKILL


def sort_key(name: str, header: list[str]) -> Callable[[list[object]], tuple[int, str]]:
    index = header.index(name)

    def key(values: list[object]) -> tuple[int, str]:
        value = values[index] if index < len(values) else None
        if isinstance(value, dt.datetime | dt.date):
            return (0, value.isoformat())
        return (1, "") if value is None else (0, f"{value!s:>12}")

    return key


def shuffled(seed: int) -> Callable[[list[str], list[list[object]]], list[list[object]]]:
    def order(header: list[str], old: list[list[object]]) -> list[list[object]]:
        rows = [r for r in old if any(v is not None for v in r)]
        random.Random(seed).shuffle(rows)
        return rows

    return order


def copy_file(world: World, move: bool) -> None:
    target = world.next_path()
    if move:
        os.replace(world.path, target)
    else:
        shutil.copy2(world.path, target)
        shutil.copy2(world.path, world.old_copy)  # the colleague got this copy too (e-mailed)
        world.updated_since_copy = False
    world.path = target
