"""Fuzzing bpxl as a hostile tester would (issue 25), all on loopback, every case bounded.

Three kinds of case, drawn from one seeded generator:

- **files**: a workbook mutated (bytes flipped, parts removed or swapped, XML cut, junk or a DTD
  inserted, attributes made absurd, a zip-bomb part, odd cell values) through ``push --dry-run``,
  ``push``, ``pull --ids-from-sheet`` and ``recover`` against the sandbox;
- **servers**: a push of good rows to a fake BillingPlatform answering random statuses, headers
  and bodies (truncated, huge, trickling, redirected, wrong shapes, items reordered, missing or
  doubled, lone surrogates, junk Dates), then ``recover``, then a push to it behaving well;
- **options**: random command lines (odd digits, absurd numbers, paths that are folders or
  missing, URLs that are no tenant's).

Invariants after every case: no traceback and no "did not expect" (bpxl's last guard) on the
terminal or from any thread; an exit code of 0, 1 or 2; no secret (the password, a session id)
in the terminal, the workbook, the journals or the run logs; a workbook that was readable is still
readable; and, for servers, no invoice stored twice for one row.

    python -m tests.fuzz --minutes 20 [--seed N] [--kinds files,servers,options]

prints the figures (cases, seconds, failures by invariant) and keeps each failing case's
command line and workbook under ``--keep`` (default ``fuzz-failures/``) to replay it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import keyring
import openpyxl

from bpxl import cli
from bpxl.sandbox import Sandbox, SandboxConfig
from tests.conftest import MemoryKeyring, write_invoices
from tests.fake_billingplatform import FakeBillingPlatform, Plan
from tests.hostile_server import HostileServer, Request, head, ok_json

PASSWORD = "fuzz-Pa55-7Q9xK"
MARKERS = ("Traceback (most recent call last)", "did not expect", "Exception in thread")
KINDS = ("files", "servers", "options")


@dataclass
class Figures:
    cases: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)

    def text(self) -> str:
        cases = ", ".join(f"{kind} {n}" for kind, n in sorted(self.cases.items()))
        failed = ", ".join(f"{kind} {n}" for kind, n in sorted(self.failures.items())) or "none"
        return (
            f"{sum(self.cases.values())} cases ({cases}) in {self.seconds:.0f} s; "
            f"failures: {failed}"
        )


class Case:
    """One case's folder, environment and checks."""

    def __init__(self, folder: Path, rng: random.Random) -> None:
        self.folder, self.rng = folder, rng
        self.problems: list[str] = []
        self.secrets = [PASSWORD]
        self.data = folder / "data"
        self.env = {
            "BPXL_DATA_DIR": str(self.data),
            "BPXL_CONFIG_DIR": str(folder / "config"),
            "BPXL_PASSWORD": PASSWORD,
            "BPXL_LOOKUP_WAIT": "1",
            "BPXL_ANSWER_SECONDS": "3",
            "BPXL_ANSWER_MB": "1",
            "NO_PROXY": "*",
        }

    def run(self, *args: object) -> int:
        """``bpxl ARGS`` in this process, its terminal checked."""
        out, err = io.StringIO(), io.StringIO()
        argv = [str(a) for a in args]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(argv)
            except SystemExit as stopped:  # argparse's refusal: its one line, exit 2
                code = stopped.code if isinstance(stopped.code, int) else 2
            except BaseException as escaped:  # a traceback for the user
                code = -1
                self.problems.append(f"traceback {type(escaped).__name__}: {escaped} <- {argv}")
        said = out.getvalue() + err.getvalue()
        for marker in MARKERS:
            if marker in said:
                self.problems.append(f"{marker!r} <- {argv}: {said[-600:]}")
        if code not in (0, 1, 2, 130):
            self.problems.append(f"exit {code} <- {argv}")
        self.leaked(said, f"terminal of {argv}")
        return code

    def leaked(self, text: str, where: str) -> None:
        for secret in self.secrets:
            if secret and secret in text:
                self.problems.append(f"secret in {where}")

    def check_files(self, *books: Path) -> None:
        """No secret in the workbooks, journals and run logs."""
        for path in [*books, *self.data.rglob("*")] if self.data.exists() else books:
            if not path.is_file():
                continue
            blob = path.read_bytes()
            with (
                contextlib.suppress(Exception),
                zipfile.ZipFile(path) as package,
            ):  # damaged: so be it
                small = [i.filename for i in package.infolist() if i.file_size < 1 << 22]
                blob += b"".join(package.read(name) for name in small[:50])
            self.leaked(blob.decode("utf-8", "replace"), str(path.name))


def readable(path: Path) -> bool:
    """Whether openpyxl (as a stand-in for Excel) still opens ``path``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            openpyxl.load_workbook(path, read_only=True).close()
    except Exception:
        return False
    return True


# -- files -----------------------------------------------------------------------------------------

ODD_VALUES: list[object] = [
    "", " ", "=1+1", "+SUM(A1)", "@x", "-2", "0", "-0", "1e400", "NaN", "inf", "2024-02-30",
    "31/12/2024", "٣", "²", "1\u00a0000", "\u202eevil", "a" * 40_000, "tab\there",
    10**30, -1, 0.1 + 0.2, True, "TRUE", "12:00",
]  # fmt: skip


def base_rows(rng: random.Random, n: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for i in range(n):
        row: dict[str, object] = {"BillingProfileId": "101", "DueDate": f"2024-{1 + i % 12:02d}-"
                                  f"{1 + i // 12 % 28:02d}"}  # fmt: skip
        if rng.random() < 0.2:
            row[rng.choice(["BillingProfileId", "DueDate", "Id"])] = rng.choice(ODD_VALUES)
        rows.append(row)
    return rows


def _xml_mutation(text: str, rng: random.Random) -> str:
    at = rng.randrange(len(text) + 1)
    pick = rng.randrange(9)
    if pick == 0:
        return text[:at]
    if pick == 1:
        doctype = rng.choice([
            '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
            '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
            '<!DOCTYPE r SYSTEM "http://127.0.0.1:9/x.dtd">',
        ])  # fmt: skip
        cut = text.index("?>") + 2 if text.startswith("<?xml") else 0
        return text[:cut] + doctype + text[cut:]
    if pick == 2:
        junk = rng.choice(["<", "&", "&x;", "\x00", "]]>", "<c r='A1'>", "</row>", "\ufffe", "é"])
        return text[:at] + junk + text[at:]
    if pick == 3:
        start = rng.randrange(len(text) + 1)
        return text[:start] + text[start : start + rng.randrange(200)] * 2 + text[start:]
    if pick == 4:
        start = rng.randrange(len(text) + 1)
        return text[:start] + text[start + rng.randrange(200) :]
    if pick == 5:
        return text.replace('r="A2"', f'r="{rng.choice(["XFD1048577", "A0", "AAAA1", "A-1", ""])}"')
    if pick == 6:
        return text.replace("<v>", rng.choice(["<v>NaN", "<v>1e999", "<v>-", "<v>x"]), 1)
    if pick == 7:
        value = rng.choice(['"-1"', '"99999999999"', '"x"', '""', '"1.5"'])
        return text.replace('="1"', "=" + value, rng.randrange(1, 4))
    return text.replace("sheet1", rng.choice(["sheet9", "../../etc/passwd", "sheet1 "]), 1)


def mutate(book: Path, rng: random.Random) -> str:
    """Change ``book`` in one random way; returns what was done."""
    with zipfile.ZipFile(book) as source:
        parts = {item.filename: source.read(item.filename) for item in source.infolist()}
    names = sorted(parts)
    kind = rng.choice(["flip", "drop", "swap", "xml", "xml", "xml", "bomb"])
    what = kind
    if kind == "flip":
        data = bytearray(book.read_bytes())
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        book.write_bytes(bytes(data))
        return what
    if kind == "drop":
        name = rng.choice(names)
        del parts[name]
        what = f"drop {name}"
    elif kind == "swap":
        a, b = rng.sample(names, 2)
        parts[a], parts[b] = parts[b], parts[a]
        what = f"swap {a} {b}"
    elif kind == "xml":
        name = rng.choice([n for n in names if n.endswith((".xml", ".rels"))])
        parts[name] = _xml_mutation(parts[name].decode("utf-8", "replace"), rng).encode(
            "utf-8", "surrogatepass"
        )
        what = f"xml {name}"
    else:
        parts["xl/media/bomb.xml"] = bytes(12 << 20)
    with zipfile.ZipFile(book, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)
    return what


def file_case(case: Case, sandbox_url: str) -> None:
    rng = case.rng
    book = write_invoices(case.folder / "book.xlsx", base_rows(rng, rng.randint(1, 6)))
    mutate(book, rng)
    was_readable = readable(book)
    login = ("--url", sandbox_url, "--username", "demo")
    command = rng.choice(["dry", "push", "pull", "recover"])
    if command == "dry":
        case.run("push", book, "--op", rng.choice(["create", "update", "upsert"]), "--dry-run")
    elif command == "push":
        case.run("push", book, "--op", rng.choice(["create", "update", "upsert"]), *login)
        case.run("recover", book, *login)
    elif command == "pull":
        case.run("pull", book, "--ids-from-sheet", *login)
    else:
        case.run("recover", book, *login)
    if was_readable and not readable(book):
        case.problems.append("a readable workbook was left unreadable")
    case.check_files(book)


# -- servers ---------------------------------------------------------------------------------------


Body = Callable[[list[dict[str, str]], dict[str, str]], str]
REFUSALS = (401, 403, 413, 429)  # statuses that say nothing was stored (bpxl believes them)


def _body(rng: random.Random) -> tuple[Body | None, bool]:
    """A body for a write's answer, built from the items the store made (or not), and whether
    it says that records were refused: a server that says so must not have stored them (bpxl
    believes a refusal; a lie there is not a case bpxl can or should survive)."""
    pick = rng.randrange(12)
    if pick < 3:
        return None, False  # the right answer

    def body(items: list[dict[str, str]], headers: dict[str, str]) -> str:
        key = "createResponse"
        got: Any = list(items)
        if pick == 3:
            rng.shuffle(got)
        elif pick == 4 and got:
            got.pop(rng.randrange(len(got)))
        elif pick == 5 and got:
            got.append(dict(got[0]))
        elif pick == 6:
            for item in got:
                item["Id"] = rng.choice(["-1", "1e3", "٣", "", None, "7", "0", 7.5, "abc"])
        elif pick == 7:
            return rng.choice(['{"createResponse": ', "null", "[]", '"x"', "{}", "<html>", ""])
        elif pick == 8:
            text = rng.choice(["\\ud800 bad", "\\u001b[2J cleared", "sessionid=" + headers.get(
                "sessionid", ""), "x" * 5000])  # fmt: skip
            got = [{"ErrorCode": "9", "ErrorText": text} for _ in items or [0]]
            escaped = json.dumps(got).replace("\\\\u", "\\u")  # \\ud800 as JSON sends it
            return f'{{"{key}": {escaped}}}'
        elif pick == 9:
            got = {"ErrorCode": rng.choice(["0", 0, None, "", "x"]), "Id": "5"}
        elif pick == 10:
            return json.dumps({key: got}) + " " * (2 << 20)  # past BPXL_ANSWER_MB
        return json.dumps({key: got})

    return body, pick in (8, 9)


def _plan(rng: random.Random) -> Plan:
    status = rng.choice([200] * 6 + [0, 400, 401, 403, 404, 408, 409, 413, 429, 500, 502, 503])
    body, refuses = _body(rng)
    return Plan(
        store=rng.random() < 0.7 and not refuses and status not in REFUSALS,
        delay_s=rng.choice([0.0] * 4 + [0.3]),  # stored after answering: within the lookup wait
        status=status,
        body=body,
        answer_after_s=rng.choice([0.0] * 8 + [3.5]),  # past BPXL_ANSWER_SECONDS
    )


JUNK_DATES = [None, "Mon, 07 Dec 2026 16:00:00", "yesterday", "Mon, 07 Dec 2126 16:00:00 GMT",
              "Thu, 01 Jan 1970 00:00:00 GMT", "Tue, 99 Foo 2026 99:99:99 GMT"]  # fmt: skip


def server_case(case: Case) -> None:
    rng = case.rng
    if rng.random() < 0.25:
        raw_server_case(case)
        return
    rows = [{"BillingProfileId": "101", "DueDate": f"2025-{1 + i // 28:02d}-{1 + i % 28:02d}"}
            for i in range(rng.randint(1, 12))]  # fmt: skip
    book = write_invoices(case.folder / "book.xlsx", rows)
    fake = FakeBillingPlatform(lambda n, records: _plan(rng))
    fake.on_query = lambda n, sql: rng.choice([None] * 6 + [400, 500, 503])
    fake.date = rng.choice(JUNK_DATES)
    login = ("--url", fake.url, "--username", "ann")
    with fake.running():
        size = str(rng.choice([1, 2, 5, 200]))
        case.run("push", book, "--op", "create", "--batch-size", size, *login)
        case.run("recover", book, *login)
        fake.script = lambda n, records: Plan()
        fake.on_query = None
        fake.date = None
        case.run("push", book, "--op", "create", *login)
        case.run("recover", book, *login)
        case.secrets += fake.sessions
        made = Counter(r["DueDate"] for r in fake.store.query("SELECT Id, DueDate FROM INVOICE"))
    twice = [date for date, n in made.items() if n > 1]
    if twice:
        case.problems.append(f"duplicate invoices for {twice}")
    case.check_files(book)


def raw_server_case(case: Case) -> None:
    """What the fake cannot say: a trickle, a redirect elsewhere, a cut or lying answer."""
    rng = case.rng
    elsewhere = HostileServer(lambda r: [ok_json({})], answer_logins=False)
    pick = rng.randrange(6)

    def answer(request: Request) -> list[bytes | float | None]:
        if pick == 0:
            return [head(200, {"Content-Type": "application/json"}, 5000), *[b" ", 0.4] * 50]
        if pick == 1:
            where = f"http://127.0.0.1:{elsewhere.port}/t/rest/2.0/INVOICE"
            return [head(rng.choice([301, 302, 307, 308]), {"Location": where}, 0)]
        if pick == 2:
            return [head(200, {"Content-Type": "application/json"}, 9000), b'{"createRe', None]
        if pick == 3:
            return [b"HTTP/1.1 2OO OK\r\n\r\n"]
        if pick == 4:
            return [b"HTTP/1.1 200 OK\r\n", *[b"X-A: b\r\n", 0.3] * 40]
        return [head(200, {"Content-Encoding": "gzip"}, 10), b"not gzip!!"]

    with elsewhere.running(), HostileServer(answer).running() as server:
        case.secrets.append(server.session)
        book = write_invoices(case.folder / "book.xlsx", base_rows(rng, 2))
        login = ("--url", server.url, "--username", "ann")
        case.run("push", book, "--op", rng.choice(["create", "update"]), *login)
        case.run("pull", book, "--ids-from-sheet", *login)
        case.run("recover", book, *login)
    for request in elsewhere.requests:
        case.leaked(json.dumps(request.headers) + request.body.decode("utf-8", "replace"),
                    "a request to another address")  # fmt: skip
    case.check_files(book)


# -- options ---------------------------------------------------------------------------------------

VALUES = ["", "0", "-1", "²", "٣", "9" * 30, "2-1", "1-99999999999", "abc", "\u202e1", "a,b", "-",
          "nan", "1e9", "2-5,7", "1042", "  ", "\x07"]  # fmt: skip
URLS = ["http://bp.example/x", "https://[::1", "ftp://x", "http://127.0.0.1:1/t",
        "http://user:pw@127.0.0.1/t", "https://", "http://[::1]:1/t", "javascript:x"]  # fmt: skip
OPTIONS = {
    "push": ["--op", "--sheet", "--rows", "--batch-size", "--concurrency", "--external-id",
             "--url", "--username", "--profile", "--token-env", "--dry-run", "--changed",
             "--overwrite", "--yes", "--include-hidden"],
    "pull": ["--where", "--ids", "--ids-from-sheet", "--fields", "--sheet", "--url", "--profile"],
    "revert": ["--rows", "--sheet", "--overwrite", "--url", "--profile"],
    "recover": ["--url", "--profile", "--username"],
    "connect": ["--url", "--username", "--oauth-client", "--sandbox", "--production", "--remove"],
    "template": ["--example", "--force"],
    "fields": ["--profile", "--url"],
    "log": [],
}  # fmt: skip
FLAGS = {"--dry-run", "--changed", "--overwrite", "--yes", "--include-hidden", "--ids-from-sheet",
         "--sandbox", "--production", "--remove", "--example", "--force"}  # fmt: skip


def options_case(case: Case, sandbox_url: str) -> None:
    rng = case.rng
    book = write_invoices(case.folder / "book.xlsx", base_rows(rng, 2))
    text = case.folder / "notes.txt"
    text.write_text("BillingProfileId\n101\n")
    files = [book, case.folder, case.folder / "missing.xlsx", text, case.folder / "new.xlsx"]
    command = rng.choice(sorted(OPTIONS))
    argv: list[object] = [command]
    if command != "fields" and command != "log" and rng.random() < 0.9:
        argv.append(rng.choice(files) if command != "connect" else rng.choice(VALUES) or "p")
    for option in rng.sample(OPTIONS[command], rng.randint(0, min(4, len(OPTIONS[command])))):
        argv.append(option)
        if option in FLAGS:
            continue
        if option == "--url":
            argv.append(rng.choice([*URLS, sandbox_url]))
        elif option == "--op":
            argv.append(rng.choice(["create", "update", "upsert", "delete", ""]))
        else:
            argv.append(rng.choice(VALUES))
    if "--url" in argv and "--username" not in argv and rng.random() < 0.7:
        argv += ["--username", "demo"]
    readable_before = readable(book)
    with _stdin_closed():
        case.run(*argv)
    if readable_before and not readable(book):
        case.problems.append(f"a readable workbook was left unreadable <- {argv}")
    case.check_files(book)


@contextlib.contextmanager
def _stdin_closed() -> Iterator[None]:
    """No terminal to ask on (a question would wait for ever)."""
    before = sys.stdin
    sys.stdin = io.StringIO("")
    try:
        yield
    finally:
        sys.stdin = before


# -- the run ---------------------------------------------------------------------------------------


def fuzz(
    seconds: float,
    seed: int,
    kinds: tuple[str, ...] = KINDS,
    keep: Path | None = None,
    cases: int | None = None,
) -> Figures:
    """Cases for ``seconds`` (each bounded), or ``cases`` of them if that comes first, from
    ``seed``; the figures."""
    figures = Figures()
    rng = random.Random(seed)
    thread_failures: list[str] = []
    previous_hook = threading.excepthook
    threading.excepthook = lambda hook: thread_failures.append(
        f"{hook.exc_type.__name__} in thread {hook.thread.name if hook.thread else '?'}"
    )
    previous_ring = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    began = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="bpxl-fuzz-"))
    try:
        sandbox_env = {"BPXL_DATA_DIR": str(root / "sandbox-data")}
        with mock.patch.dict(os.environ, sandbox_env), Sandbox(SandboxConfig(port=0)) as sandbox:
            number = 0
            while time.monotonic() - began < seconds and (cases is None or number < cases):
                number += 1
                kind = kinds[number % len(kinds)]
                case_seed = rng.randrange(1 << 30)
                folder = root / f"case-{number}"
                folder.mkdir()
                case = Case(folder, random.Random(case_seed))
                with mock.patch.dict(os.environ, case.env):
                    if kind == "files":
                        file_case(case, sandbox.url)
                    elif kind == "servers":
                        server_case(case)
                    else:
                        options_case(case, sandbox.url)
                case.problems += thread_failures
                thread_failures.clear()
                figures.cases[kind] += 1
                for problem in case.problems:
                    figures.failures[problem.split(" ")[0]] += 1
                    if len(figures.examples) < 20:
                        figures.examples.append(f"[{kind} seed {case_seed}] {problem[:800]}")
                if case.problems and keep is not None:
                    shutil.copytree(folder, keep / f"{kind}-{case_seed}", dirs_exist_ok=True)
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        threading.excepthook = previous_hook
        keyring.set_keyring(previous_ring)
        shutil.rmtree(root, ignore_errors=True)
    figures.seconds = time.monotonic() - began
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--keep", type=Path, default=Path("fuzz-failures"))
    args = parser.parse_args()
    kinds = tuple(k for k in args.kinds.split(",") if k in KINDS) or KINDS
    args.keep.mkdir(exist_ok=True)
    figures = fuzz(args.minutes * 60, args.seed, kinds, args.keep)
    print(f"seed {args.seed}: {figures.text()}")
    for example in figures.examples:
        print(f"  {example}")
    return 1 if figures.failures else 0


if __name__ == "__main__":
    sys.exit(main())
