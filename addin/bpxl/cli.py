"""The ``bpxl`` command line: ``push``, ``recover``, ``connect``, ``template`` and ``sandbox``.

Handlers only read options, call plain functions of the core and print what happened. Every
``BpxlError`` ends the run with its message and exit code 2, never a traceback; rows that did not
succeed give exit code 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any, NoReturn, TextIO
from urllib.parse import urlsplit

import truststore

from . import __version__, template
from .core import (
    connection,
    describe,
    fields,
    journal,
    key_field,
    profiles,
    push,
    recover,
    redact,
    run_log,
    sending,
    shell,
    translate,
    writer_lock,
)
from .core.client import MAX_CONCURRENCY, refuse_secret_in_url
from .core.connection import journal_dir, undo_dir
from .core.errors import ApiError, BpxlError, UsageError, storage_reason
from .core.records import IGNORE_OPTION, Layout, read_layout
from .core.results import Operation, Outcome, RowResult, plural
from .core.roundtrip import edits, pulls, queries, revert_memory, sends
from .excel import install, smoke, wheels, xlam
from .progress import Progress
from .sandbox import FaultPlan, Sandbox, SandboxConfig
from .sandbox.schema import parse_custom_field
from .workbook import csv_file, files, pulling, saving, sheet_io, streamed_pull
from .workbook import refresh as xlsx_refresh

EXIT_OK, EXIT_ROWS_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_STOPPED = 130  # stopped by Ctrl+C, a closed window or a kill request (the shell's 128 + 2)
STOP_SIGNALS = [
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK")  # SIGBREAK: a closed console window
    if hasattr(signal, name)
]
PROBLEMS_SHOWN = 20  # rows with problems listed on the terminal; the workbook has them all


def _connection_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--profile",
        help="a connection saved with `bpxl connect` (default: none; with neither --profile nor "
        "--url, the embedded sandbox)",
    )
    p.add_argument(
        "--url",
        help="tenant URL, e.g. https://my.billingplatform.com/acme (default: the embedded sandbox)",
    )
    p.add_argument("--username", help="user to log in as; the password comes from BPXL_PASSWORD")
    p.add_argument("--token-env", metavar="VAR", help="environment variable holding a bearer token")


def _translation_options(p: argparse.ArgumentParser, how: str = "") -> None:
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar='"HEADER=FIELD"',
        help='read the column HEADER as the Invoice field FIELD, e.g. --map "Due Dte=DueDate" '
        f"(repeatable; default: headers are field names){' ' + how if how else ''}",
    )
    p.add_argument(
        "--date-format",
        metavar="FORMAT",
        help="read text in date columns in this order, e.g. DD/MM/YYYY or MM-DD-YY (default: "
        f"only YYYY-MM-DD text and real dates){' ' + how if how else ''}",
    )


def _results_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--results",
        type=Path,
        metavar="FILE.csv",
        help="also write the run log (Row, Id, Result, Message and the values sent) to this CSV "
        "file (default: only in bpxl's data folder; `bpxl log` shows it)",
    )


def _whole(text: str) -> int:
    """A whole number written in ASCII digits (``int`` takes ``٣`` for 3), of a sane length."""
    digits = text.strip().removeprefix("-")
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 9):
        shown = text if len(text) <= 20 else text[:19] + "…"
        raise argparse.ArgumentTypeError(f"{shown!r} is not a whole number like 100")
    return int(text)


EXAMPLES = """\
examples:
  bpxl template --example example.xlsx          a workbook with sample rows to try
  bpxl push invoices.xlsx --op create           create invoices; new Ids go into the Id column
  bpxl push invoices.xlsx --op update --dry-run check every row, send nothing
  bpxl push export.csv --op create --map "Due Dte=DueDate" --date-format DD/MM/YYYY
  bpxl pull invoices.xlsx --where "BillingProfileId = 101"
  bpxl push invoices.xlsx --op update --changed send only the cells edited since the pull
  bpxl recover invoices.xlsx                    after a crash: every row gets its outcome
  bpxl log                                      the last run, row by row
  bpxl backups invoices.xlsx                    the copies kept before each write

exit codes:
  0    every row succeeded (or there was nothing to do)
  1    some rows did not succeed: their Result and Message say why
  2    it could not run (bad option, unreadable file, no connection): nothing was sent
  130  stopped (Ctrl+C, a closed window): every row's outcome is in the file

`bpxl COMMAND --help` shows a command's options. The user guide: docs/guide/ in the repository.
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Help that shows every option's default: flags are off unless given, lists empty, and an
    option with no default says so (a help text that names its default is left as it is)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if not action.option_strings or "default" in text or action.help == argparse.SUPPRESS:
            return text
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            return text
        if action.required:
            return f"{text} (required)"
        if isinstance(action, argparse._StoreConstAction) and action.const is not None:
            return f"{text} (default: off)"
        if action.default in (None, []):
            return f"{text} (default: none)"
        return f"{text} (default: {action.default})"


class _Parser(argparse.ArgumentParser):
    """Mistakes on the command line in one line, not a usage dump: which option is missing and
    what it takes."""

    def error(self, message: str) -> NoReturn:
        missing = message.partition("the following arguments are required: ")[2]
        if missing:
            wanted = []
            for name in missing.split(", "):
                action = next((a for a in self._actions if name in a.option_strings), None)
                choices = list(action.choices or []) if action else []
                takes = f" ({', '.join(choices[:-1])} or {choices[-1]})" if len(choices) > 1 else ""
                wanted.append(f"{name}{takes}")
            message = f"{' and '.join(wanted)} {'is' if len(wanted) == 1 else 'are'} missing"
        self.exit(EXIT_USAGE, f"{self.prog}: {message}; see `{self.prog} --help`.\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bpxl",
        description="BillingPlatform invoices from Excel workbooks and CSV files: create, update "
        "or upsert them in bulk, each row's outcome written next to it.",
        epilog=EXAMPLES,
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"bpxl {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("push", help="send a workbook's (or a CSV file's) rows")
    p.add_argument(
        "file",
        type=Path,
        metavar="FILE",
        help="the workbook (.xlsx, .xlsm) or CSV file to send; a CSV's results go into "
        "FILE.results.csv beside it",
    )
    p.add_argument(
        "--op",
        required=True,
        choices=[o.value for o in Operation],
        help="create new invoices, update them by Id, or upsert (update or create)",
    )
    p.add_argument(
        "--sheet", help="sheet name (default: the sheet whose headers name the most fields)"
    )
    p.add_argument("--rows", help="sheet rows to send, e.g. 2-50,60 (default: all non-blank rows)")
    p.add_argument(
        "--include-hidden",
        action="store_true",
        help="send hidden rows too (by default rows you hid, or a filter hides, are not sent)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="validate and write statuses, send nothing"
    )
    p.add_argument(
        "--create-anyway",
        action="store_true",
        help="create rows marked Exists all the same: created before from this workbook or a "
        "copy (the ledger, the key field), or BillingPlatform has an invoice with their values",
    )
    p.add_argument(
        "--external-id",
        default=fields.ID,
        metavar="FIELD",
        help="the field upsert matches on (default: Id)",
    )
    p.add_argument(
        "--batch-size",
        type=_whole,
        default=push.DEFAULT_BATCH_SIZE,
        metavar="N",
        help=f"invoices per request (default {push.DEFAULT_BATCH_SIZE})",
    )
    p.add_argument(
        "--concurrency",
        type=_whole,
        default=push.DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"batches in flight at once, 1 to {MAX_CONCURRENCY} (1 = one at a time; default "
        f"{push.DEFAULT_CONCURRENCY})",
    )
    p.add_argument(
        "--changed",
        action="store_true",
        help="with --op update: send only the cells edited since `bpxl pull` (minimal updates)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="with --changed: send rows changed on the server since the pull too",
    )
    p.add_argument(
        IGNORE_OPTION,
        action="append",
        default=[],
        metavar="HEADERS",
        help='columns that are yours, not Invoice fields, e.g. "Due Dte,Billable": a header '
        "that looks like a field otherwise stops the push",
    )
    p.add_argument(
        "--key-field",
        metavar="FIELD",
        help="with --url: the tenant's Invoice field for create keys (a profile's is set with "
        "`bpxl connect NAME --key-field FIELD`)",
    )
    p.add_argument(
        "--yes", action="store_true", help="do not ask before writing to a production tenant"
    )
    _translation_options(p)
    _results_option(p)
    _connection_options(p)

    pl = commands.add_parser("pull", help="fill a workbook with invoices from BillingPlatform")
    pl.add_argument("file", type=Path, metavar="FILE.xlsx", help="created if it does not exist")
    which = pl.add_mutually_exclusive_group(required=True)
    one = "(one of --where, --ids or --ids-from-sheet; no default)"
    which.add_argument("--where", help=f'a query condition, e.g. "BillingProfileId = 101" {one}')
    which.add_argument("--ids", help=f"invoice Ids, e.g. 1042,1043 {one}")
    which.add_argument(
        "--ids-from-sheet",
        action="store_true",
        help=f"refresh the invoices already in the sheet {one}",
    )
    pl.add_argument("--fields", help="fields to pull, e.g. Status,DueDate (default: the sheet's)")
    pl.add_argument("--sheet", help="sheet to fill (default: the invoice sheet)")
    _results_option(pl)
    pl.add_argument(
        edits.REPLACE_EDITS,
        action="store_true",
        help="replace cells you edited and did not send with BillingPlatform's values (by "
        "default a refresh keeps them, and a row changed on the server too says Conflict)",
    )
    _connection_options(pl)

    rv = commands.add_parser("revert", help="put back what the last update or upsert replaced")
    rv.add_argument("file", type=Path, metavar="FILE.xlsx", help="the workbook pushed last")
    rv.add_argument(
        "--sheet", help="sheet name (default: the sheet whose headers name the most fields)"
    )
    rv.add_argument("--rows", help="only these sheet rows, e.g. 2-50,60 (default: all it changed)")
    rv.add_argument(
        "--overwrite", action="store_true", help="revert rows changed on the server since too"
    )
    rv.add_argument("--yes", action="store_true", help="do not ask before writing to production")
    _results_option(rv)
    _connection_options(rv)

    r = commands.add_parser(
        "recover", help="write the outcomes of a push that stopped mid-way into its workbook"
    )
    r.add_argument(
        "file",
        type=Path,
        nargs="?",
        metavar="FILE",
        help="the workbook or CSV file (default: every unfinished push)",
    )
    _translation_options(r, "as the push did")
    _results_option(r)
    _connection_options(r)

    lg = commands.add_parser(
        "log", help="show the last run (push, pull, revert, recover) row by row"
    )
    lg.add_argument(
        "file",
        type=Path,
        nargs="?",
        metavar="FILE",
        help="the last run of this workbook or CSV file (default: the last run of any)",
    )
    _results_option(lg)

    c = commands.add_parser("connect", help="save a named connection (secret in the OS keyring)")
    c.add_argument("name", nargs="?", metavar="NAME", help="profile name (none: list profiles)")
    c.add_argument(
        "--url",
        help="tenant URL, e.g. https://my.billingplatform.com/acme (no default: needed to save)",
    )
    login = c.add_mutually_exclusive_group()
    login.add_argument("--username", help="log in as this user (the password is asked for)")
    login.add_argument(
        "--oauth-client", metavar="ID", help="log in as this OAuth client (its secret is asked for)"
    )
    kind = c.add_mutually_exclusive_group()
    kind.add_argument(
        "--production",
        dest="production",
        action="store_true",
        default=None,
        help="a production tenant: writes ask for confirmation (the default, except for a URL "
        "on this computer)",
    )
    kind.add_argument(
        "--sandbox",
        dest="production",
        action="store_false",
        help="a test tenant: writes never ask (default: off, except for a URL on this computer, "
        "127.0.0.1 or localhost, which is a test tenant unless --production is given)",
    )
    c.add_argument("--remove", action="store_true", help="delete the profile and its secret")
    keying = c.add_mutually_exclusive_group()
    keying.add_argument(
        "--key-field",
        metavar="FIELD",
        help="the tenant's Invoice text field for create keys: creates are then sent as upserts "
        "on it, so no copy or colleague creates an invoice twice (alone: set it on a saved "
        "profile)",
    )
    keying.add_argument(
        "--no-key-field", action="store_true", help="stop using the profile's key field"
    )

    a = commands.add_parser("addin", help="install, remove or build the Excel add-in")
    a.add_argument(
        "step",
        choices=["install", "uninstall", "build", "wheels", "smoke"],
        help="install or uninstall for this user; build bpxl.xlam from addin/xlam (developers); "
        "wheels FOLDER: fill a folder for an offline install.ps1 -Wheels FOLDER; smoke FILE: "
        "write the workbook of docs/excel-smoke-test.md",
    )
    a.add_argument(
        "target", nargs="?", type=Path, help="the folder (wheels) or workbook (smoke) to write"
    )
    a.add_argument(
        "--purge",
        action="store_true",
        help="with uninstall: also delete the journals, revert data and sandbox records",
    )

    t = commands.add_parser("template", help="write the invoice workbook template")
    t.add_argument("out", type=Path, metavar="OUT.xlsx", help="the workbook to write (a new file)")
    t.add_argument("--example", action="store_true", help="fill in sample rows to try a push")
    t.add_argument(
        "--force",
        action="store_true",
        help="replace OUT.xlsx if it exists (a copy goes into the 'bpxl backups' folder first)",
    )
    _connection_options(t)  # with one: the tenant's own fields (default: the built-in ones)

    b = commands.add_parser(
        "backups",
        help="list a workbook's backups, or restore one",
        description="bpxl backups [FILE] lists backups (of FILE, or every one in the "
        "'bpxl backups' folder here), newest first. bpxl backups restore FILE [NUMBER] puts "
        "backup NUMBER (default 1, the newest) in FILE's place; FILE as it is now becomes a "
        "backup first.",
    )
    b.add_argument(
        "words",
        nargs="*",
        metavar="[restore] FILE [NUMBER]",
        help="FILE: the workbook or CSV file (default: every backup in this folder); restore FILE "
        "NUMBER: put that backup back (default 1, the newest)",
    )
    b.add_argument(
        "--force",
        action="store_true",
        help="restore even a backup older than a push that created invoices (default: refused)",
    )

    f = commands.add_parser("fields", help="list the Invoice fields bpxl works with")
    f.add_argument(
        "--refresh", action="store_true", help="read them from the tenant now (else once a day)"
    )
    _connection_options(f)

    s = commands.add_parser("sandbox", help="run a local BillingPlatform stand-in")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=_whole, default=8787, help="0 picks a free port (default 8787)")
    s.add_argument("--tenant", default="sandbox", help="tenant name in its URLs (default sandbox)")
    s.add_argument("--db", type=Path, help="SQLite file for the records (default: in memory)")
    s.add_argument("--user", default="demo", help="the user it accepts (default demo)")
    s.add_argument("--password", default="demo", help="that user's password (default demo)")
    s.add_argument(
        "--extra-user",
        action="append",
        default=[],
        metavar="NAME:PASSWORD",
        help="another login, with its own user number (e.g. to test invoices of other users)",
    )
    s.add_argument(
        "--allow-remote",
        action="store_true",
        help="listen on a non-loopback address (the password is well known!)",
    )
    s.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND:VALUE",
        help="latency:20ms, 429:0.05, 503:0.05, 504:0.05, 500-echo:0.05, reset-before:0.02, "
        "reset-after:0.02, store-late:1.5s, skew:600s, respell:0.5; rate:15 answers 429 (with "
        "Retry-After) to requests beyond 15 a second, as BillingPlatform holds its clients",
    )
    s.add_argument(
        "--seed", type=_whole, help="seed for the fault draws (default: different draws each run)"
    )
    s.add_argument(
        "--custom-field",
        action="append",
        default=[],
        metavar="NAME:TYPE[:LENGTH][:required]",
        help="an INVOICE field of the tenant's own, e.g. PoNumber:text:40 (repeatable)",
    )
    s.add_argument(
        "--refuse-entity",
        action="append",
        default=[],
        metavar="ENTITY",
        help="answer reads of this entity with 403, e.g. ENTITY_FIELD (a user without access)",
    )
    s.add_argument("--request-log", type=Path, metavar="FILE", help="one JSON line per request")
    s.add_argument(
        "--request-log-fields",
        action="store_true",
        help="add each record's field names to the request log",
    )
    for sub in commands.choices.values():
        sub.formatter_class = _Formatter
    return parser


class _Terminal:
    """stdout or stderr that outlives its reader. When the reader has gone (``bpxl fields | head``)
    what is printed is dropped instead of stopping the command with a traceback: a push whose
    report no one reads still writes every result into the workbook."""

    def __init__(self, stream: TextIO) -> None:
        self._stream, self._gone = stream, False

    def write(self, text: str) -> int:
        if not self._gone:
            try:
                self._stream.write(text)
            except UnicodeEncodeError:  # a console that cannot show a character: shown as ?
                encoding = getattr(self._stream, "encoding", None) or "ascii"
                self.write(text.encode(encoding, errors="replace").decode(encoding))
            except BrokenPipeError:
                self._lose()
        return len(text)

    def flush(self) -> None:
        if not self._gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._lose()

    def _lose(self) -> None:
        self._gone = True
        # What is still buffered goes to the null device, so Python's last flush at exit does
        # not fail on the closed pipe either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._stream.fileno())
        except (OSError, ValueError):
            pass
        finally:
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main(argv: Sequence[str] | None = None) -> int:
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Terminal(sys.stdout), _Terminal(sys.stderr)
    try:
        return _main(argv)
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        sys.stdout, sys.stderr = streams


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    truststore.inject_into_ssl()  # the OS's certificates: corporate proxies with their own CA work
    try:
        handler = {
            "push": _push,
            "recover": _recover,
            "connect": _connect,
            "addin": _addin,
            "pull": _pull,
            "revert": _revert,
            "template": _template,
            "fields": _fields,
            "sandbox": _sandbox,
            "log": _log,
            "backups": _backups,
        }[args.command]
        return handler(args)
    except BpxlError as error:
        print(f"bpxl: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        advice = _after_stop(
            args, "before anything else", "run the command again when you are ready"
        )
        print(f"bpxl: stopped at once. {advice}", file=sys.stderr)
        return EXIT_STOPPED
    except OSError as error:  # a file or folder bpxl had to read or write
        where = f" ({redact.printable(str(error.filename))})" if error.filename else ""
        advice = _after_stop(args, "once that is fixed", "run the command again once it is fixed")
        print(f"bpxl: stopped: {storage_reason(error)}{where}. {advice}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as error:  # the last guard: a bug is told, never a traceback
        place = traceback.extract_tb(error.__traceback__)[-1]
        what = redact.printable(f"{type(error).__name__}: {error}")[:200]
        print(
            f"bpxl: stopped on a problem it did not expect ({what}, in "
            f"{Path(place.filename).name} line {place.lineno}). "
            f"{_after_stop(args, 'now', 'run the command again')} Please report this message to "
            "the bpxl team: it is a bug.",
            file=sys.stderr,
        )
        return EXIT_USAGE


def _after_stop(args: argparse.Namespace, when: str, otherwise: str) -> str:
    """What to do after a command stopped mid-way: a recovery ``when`` if it may have sent rows,
    else ``otherwise``."""
    if args.command in ("push", "revert", "recover"):
        book = getattr(args, "file", None)
        what = shell.command("recover", book) if book else "bpxl recover"
        return (
            f"If rows were being sent, run `{what}` {when}: it finds out what happened to each "
            "of them."
        )
    return f"Nothing was sent; {otherwise}."  # pull, template, fields: nothing goes out


def _addin(args: argparse.Namespace) -> int:
    places = install.Places.for_user()
    if args.step in ("wheels", "smoke"):
        example = {"wheels": r"D:\bpxl-wheels", "smoke": "smoke.xlsx"}[args.step]
        if args.target is None:
            raise UsageError(
                f"bpxl addin {args.step} needs where to write.",
                f"Add it, e.g. bpxl addin {args.step} {example}",
            )
        if args.step == "wheels":
            print(f"{wheels.fill(args.target)} holds what install.ps1 -Wheels needs: copy it to "
                  "the computer to install on.")  # fmt: skip
        else:
            print(f"Wrote {smoke.write(args.target)}: follow docs/excel-smoke-test.md with it.")
    elif args.step == "build":
        print(f"Built {xlam.build()}")
    elif args.step == "install":
        install.refuse_without_excel()
        for path in install.install(places):
            print(f"Wrote {path}")
        print("Start Excel: the BillingPlatform tab is there.")
    else:
        removed = install.uninstall(places, purge=args.purge)
        for path in removed:
            print(f"Removed {path}")
        if not removed:
            print("The add-in was not installed for this user: nothing to remove.")
        if not args.purge:
            print("Your journals and revert data stay (bpxl addin uninstall --purge deletes them).")
    return EXIT_OK


def _log(args: argparse.Namespace) -> int:
    log = run_log.last(args.file)
    if log is None:
        which = f"of {args.file.name} " if args.file else ""
        print(f"No run {which}is logged yet (bpxl keeps the last {run_log.LOGS_KEPT} runs).")
        return EXIT_OK
    print(log.text(), end="")
    _write_results(args, log)
    return EXIT_OK


def _write_results(args: argparse.Namespace, log: run_log.RunLog | None) -> None:
    """``--results FILE.csv``: the run log, written where the user asked."""
    target: Path | None = getattr(args, "results", None)
    if target is None or log is None:
        return
    if target.suffix.lower() != ".csv":
        raise UsageError(
            f"--results {target}: the run log is written as CSV, so name a .csv file.",
            f"e.g. --results {shell.quoted(str(target.with_suffix('.csv')))}",
        )
    try:
        log.write_csv(target)
    except OSError as failed:
        raise UsageError(
            f"--results {target}: could not write it ({failed.strerror}). The run itself is done "
            "and logged.",
            "Write it again elsewhere: "
            + shell.command("log", log.workbook, "--results", "FILE.csv"),
        ) from None
    print(f"Run log written to {target}")


def _backups(args: argparse.Namespace) -> int:
    words: list[str] = args.words
    if words[:1] == ["restore"] and len(words) > 1:
        return _restore(Path(words[1]), words[2] if len(words) > 2 else "1", args.force)
    if len(words) > 1:
        raise UsageError(
            f"bpxl backups takes one file, not {len(words)}: {' '.join(words)}.",
            "List: bpxl backups FILE; restore: bpxl backups restore FILE NUMBER.",
        )
    if not words:
        folder = Path.cwd() / saving.BACKUP_FOLDER
        found = sorted(folder.iterdir()) if folder.is_dir() else []
        copies = [p for p in found if p.is_file() and not p.name.startswith(".")]
        if not copies:
            print(f"No backups here: there is no {saving.BACKUP_FOLDER!r} folder in {Path.cwd()}.")
            return EXIT_OK
        print(f"Backups in {folder}:")
        for copy in copies:
            print(f"  {copy.name}  {_size(copy)}")
        print(f"List one file's backups: {shell.command('backups', 'FILE')}")
        return EXIT_OK
    path = Path(words[0])
    copies = list(reversed(saving.backups(path)))
    if not copies:
        print(
            f"{path.name} has no backups (bpxl keeps one before every write into it, in the "
            f"{saving.BACKUP_FOLDER!r} folder beside it)."
        )
        return EXIT_OK
    print(f"Backups of {path.name}, newest first (in {saving.backup_folder(path)}):")
    for number, copy in enumerate(copies, start=1):
        when = saving.taken_at(copy).strftime("%Y-%m-%d %H:%M:%S")
        print(f"  {number}  {when}  {_size(copy):>9}  {copy.name}")
    print(f"Restore one: {shell.command('backups', 'restore', path, 'NUMBER')}")
    return EXIT_OK


def _size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size:,} bytes" if size < 10_000 else f"{size // 1024:,} KB"


def _restore(path: Path, which: str, force: bool) -> int:
    copies = list(reversed(saving.backups(path)))
    chosen = next((c for c in copies if c.name == which), None)
    if chosen is None and which.isdigit() and 1 <= int(which) <= len(copies):
        chosen = copies[int(which) - 1]
    if chosen is None:
        have = f"1 to {len(copies)}" if copies else "none: it has no backups"
        raise UsageError(
            f"{path.name} has no backup {which} (its backups are numbered {have}).",
            f"List them: {shell.command('backups', path)}",
        )
    with writer_lock.hold(path, command="restore"):
        if path.exists():
            files.SendFile(path).check_writable()
        if not force:
            _refuse_older_than_creates(path, chosen)
        kept = saving.restore(path, chosen)
    when = saving.taken_at(chosen).strftime("%Y-%m-%d %H:%M:%S")
    print(f"Restored {path.name} from its backup of {when} ({chosen.name}).")
    if kept is not None:
        print(f"The file it replaced is kept as a backup: {kept.name}")
    return EXIT_OK


def _refuse_older_than_creates(path: Path, chosen: Path) -> None:
    """A backup taken before a push wrote the Ids of the invoices it created lacks them: pushed
    again, it would create them twice. Restoring it is refused, naming that push, unless
    --force."""
    try:
        now, then = (_ids_in(f) for f in (path, chosen))
    except BpxlError:
        return  # not a sheet of invoices: nothing to lose
    here = str(path.resolve())
    for run in reversed(journal.runs(journal_dir())):
        made = {r.id for r in run.results.values() if r.id and r.outcome is Outcome.CREATED}
        lost = sorted((made & now) - then, key=int)
        if run.workbook != here or not lost:
            continue
        started = run.started.astimezone().strftime("%Y-%m-%d %H:%M")
        raise UsageError(
            f"The backup {chosen.name} was taken before the push of {path.name} started "
            f"{started} wrote the Ids of the {plural(len(lost), 'invoice')} it created (Ids "
            f"{', '.join(lost[:5])}{', ...' if len(lost) > 5 else ''}). Pushed again with --op "
            "create, the backup would create them again. Nothing was restored.",
            "Restore a newer backup, or add --force and then put those Ids back into their rows "
            "(with Created in Result) before pushing.",
        )


def _ids_in(path: Path) -> set[str]:
    grid = files.SendFile(path).read_grid().grid
    return push.sheet_ids(grid, read_layout(grid.header))


def _template(args: argparse.Namespace) -> int:
    out: Path = args.out
    files.refuse_format(out, "template")
    if out.exists() and not args.force:
        raise UsageError(
            f"{out} already exists; bpxl template does not overwrite a workbook. Nothing was "
            "written.",
            "Choose another file name, or add --force to replace it.",
        )
    tenant = args.profile or args.url
    catalogue = _catalogue(args, connect=True) if tenant else fields.BUILT_IN
    # A workbook a push is sending from, or open in Excel, is not replaced under it.
    with writer_lock.hold(out, command="template"):
        if out.exists():
            sheet_io.check_writable(out)
            saving.backup(out)
        print(f"Wrote {template.write(out, example=args.example, catalogue=catalogue)}")
    return EXIT_OK


def _fields(args: argparse.Namespace) -> int:
    catalogue = _catalogue(args, connect=True, refresh=args.refresh)
    origin = "read from the tenant" if catalogue.source == fields.TENANT_SOURCE else "built in"
    print(f"{len(catalogue.fields)} Invoice fields ({origin}):")
    rows = [[redact.printable(str(v)) for v in row] for row in fields.table(catalogue)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    if args.profile and args.profile != profiles.SANDBOX:
        print(_key_field_line(profiles.get(args.profile), catalogue))
    return EXIT_OK


def _catalogue(
    args: argparse.Namespace, *, connect: bool, refresh: bool = False
) -> fields.Catalogue:
    """The Invoice fields of the tenant the options name, read at most once a day; ``connect``
    False (a dry run) only uses what was read before. Its notes are printed, one line each."""
    key = args.profile or args.url or profiles.SANDBOX
    opener = (lambda: _connection(args, announce=False)) if connect else None
    catalogue = connection.catalogue_for(key, opener, refresh)
    _print_notes(catalogue)
    return catalogue


def _print_notes(catalogue: fields.Catalogue) -> None:
    for note in catalogue.notes:
        print(f"Note: {redact.printable(note)}")  # may quote what the tenant named its fields


def _sandbox(args: argparse.Namespace) -> int:
    try:
        faults = FaultPlan.parse(args.fault, seed=args.seed)
        custom = tuple(parse_custom_field(spec) for spec in args.custom_field)
        sandbox = Sandbox(
            SandboxConfig(
                host=args.host,
                port=args.port,
                tenant=args.tenant,
                db=args.db,
                username=args.user,
                password=args.password,
                extra_users=_logins(args.extra_user),
                allow_remote=args.allow_remote,
                faults=faults,
                request_log=args.request_log,
                log_fields=args.request_log_fields,
                custom_fields=custom,
                refused_entities=tuple(e.strip().upper() for e in args.refuse_entity),
            )
        )
    except (ValueError, OSError) as bad:
        raise UsageError(str(bad)) from None
    print(sandbox.url, flush=True)
    print(
        f"BillingPlatform sandbox: log in as {args.user!r}; records "
        f"{'in ' + str(args.db) if args.db else 'in memory'}. Ctrl+C stops it.",
        flush=True,
    )
    try:
        sandbox.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return EXIT_OK


def _logins(specs: list[str]) -> dict[str, str]:
    logins = {}
    for spec in specs:
        name, colon, password = spec.partition(":")
        if not (name and colon):
            raise UsageError(f"--extra-user {name or spec}: write it as NAME:PASSWORD")
        logins[name] = password
    return logins


@contextmanager
def _connection(
    args: argparse.Namespace, earlier: journal.Target | None = None, announce: bool = True
) -> Iterator[connection.Connection]:
    """``--profile``, ``--url`` or, with neither, the embedded sandbox (started here, and said
    so unless not ``announce``). ``earlier`` is where a journal's push went: recovery goes back
    there by default."""
    name = args.profile or (earlier.profile if earlier and not args.url else None)
    url = args.url or (earlier.url if earlier and not args.profile else None)
    if name or url is None:
        say = (lambda what: print(f"No --url given: {what}.")) if announce else (lambda _: None)
        with connection.open_profile(name, say) as c:
            yield c
        return
    token = password = None
    if args.token_env:
        token = os.environ.get(args.token_env)
        if not token:
            raise UsageError(
                f"--token-env {args.token_env}: that environment variable is empty.",
                f"Set {args.token_env} to your bearer token.",
            )
    elif args.username:
        password = os.environ.get("BPXL_PASSWORD")
        if password is None and sys.stdin.isatty():
            password = getpass.getpass(f"Password for {args.username}: ")
    with connection.open_url(url, username=args.username, password=password, token=token) as c:
        yield c


def _confirmation(
    args: argparse.Namespace, profile: profiles.Profile | None, op: Operation
) -> Callable[[int], bool] | None:
    """Writes to a production profile are confirmed by the user (or by --yes in scripts)."""
    if profile is None or not profile.production or args.yes:
        return None

    def confirm(rows: int) -> bool:
        what = f"{op.value} {rows:,} invoice row{'' if rows == 1 else 's'}"
        if not sys.stdin.isatty():
            raise UsageError(
                f"Profile {profile.name!r} is the PRODUCTION tenant {profile.tenant}: nothing "
                f"was sent ({what}).",
                "Add --yes to confirm writes to production in scripts.",
            )
        answer = input(
            f"\n{what} in the PRODUCTION tenant {profile.tenant} ({profile.url})? Type yes: "
        )
        if answer.strip().lower() == "yes":  # what was asked for, and nothing looser ("y")
            return True
        print(f"The answer was {answer.strip()!r}, not yes.")
        return False

    return confirm


class _Desk:
    """The command line's side of a send (``sending.Desk``): an .xlsx file, a progress bar on the
    terminal, and a typed "yes" for production."""

    unsaved = False  # results are saved into the file

    def __init__(
        self, args: argparse.Namespace, read: Callable[[], sending.Outgoing | None]
    ) -> None:
        self.args, self._read = args, read
        self.workbook: Path = args.file
        self.file = files.SendFile(args.file)
        self.translation = translate.Translation()  # --map, --date-format: read() sets it
        self.found: sheet_io.SheetGrid | None = None
        self.seen: tuple[int, int] | None = None
        self.catalogue = fields.BUILT_IN  # the tenant's fields, once read() has asked for them
        self.bar = Progress(sys.stderr, "rows")

    @property
    def recover_hint(self) -> str:
        return f"Run `{shell.command('recover', self.workbook, *self.translation.options())}`"

    def read(self) -> sending.Outgoing | None:
        self.seen = _on_disk(self.workbook)  # before reading: a save meanwhile shows as a change
        return self._read()

    def changed(self) -> bool:
        if not self.workbook.exists():  # the journal stays unfinished, for that recovery
            raise UsageError(
                f"{self.workbook.name} was moved, renamed or deleted while bpxl was sending, so "
                "the results could not be written into it. The rows were sent.",
                "Find the workbook where it is now and run `bpxl recover` with its new name: it "
                "writes what happened to each row, so that nothing is sent twice.",
            )
        return _on_disk(self.workbook) != self.seen

    def reread(self, sheet: str) -> push.Grid:
        self.found = self.file.read_grid(sheet or None, catalogue=self.catalogue)
        grid, _ = translate.apply(self.found.grid, self.translation, self.catalogue)
        return grid

    def warn(self, text: str) -> None:
        self.bar.close()
        print(f"bpxl: {text}", file=sys.stderr)

    @contextmanager
    def connect(self) -> Iterator[connection.Connection]:
        with _connection(self.args) as link:
            where = link.profile.label if link.profile is not None else None
            if where and self.args.dry_run:  # only --changed connects, to look for conflicts
                print(f"Checking for conflicts in {where} (dry run: nothing is sent)", flush=True)
            elif where:
                print(f"Sending to {where}", flush=True)
            yield link

    def confirm(self, link: connection.Connection, op: Operation, rows: Callable[[], int]) -> bool:
        ask = _confirmation(self.args, link.profile, op)
        if ask is None:
            return True
        with self.bar.paused():  # the bar never draws over the question
            return ask(rows())

    def create_again(self, found: list[RowResult]) -> bool:
        return False  # --create-anyway is the answer, given before the push starts

    def progress(self, done: int, total: int) -> None:
        self.bar.update(done, total)

    def write(self, sheet: str, layout: Layout, results: list[RowResult]) -> None:
        assert self.found is not None
        self.bar.close()
        if results:
            self.file.write_results(self.found, layout, results)

    def prove_writable(self, sheet: str, rows: int) -> None:
        self.file.prove_writable(sheet, rows)

    def store(self, sheet: str, remember: sends.Remember) -> None:
        xlsx_refresh.after_push(
            self.workbook, sheet, remember.pulled, remember.cells, self.catalogue
        )


def _on_disk(path: Path) -> tuple[int, int] | None:
    """The file's size and modification time: what changes when anything saves it."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns


def _send(
    args: argparse.Namespace,
    read: Callable[[_Desk], sending.Outgoing | None],
    command: str = "push",
) -> int:
    """One send through the core's workflow; ``read`` makes the outgoing rows from the file."""
    files.SendFile(args.file).check_writable()
    desk = _Desk(args, lambda: read(desk))
    try:
        with _stop_on_signals() as stop:
            report = sending.send(desk, command, stop)
    finally:
        desk.bar.close()
    if report is None:
        return EXIT_OK
    assert desk.found is not None
    _print_report(report, desk.found, getattr(args, "rows", None))
    _write_results(args, run_log.last(desk.workbook))
    if report.stopped:
        print(
            f"bpxl: stopped. {desk.workbook.name} holds what happened to every row: rows not sent "
            "say Failed (send again), rows whose answer did not come say Unknown (the next push "
            "looks them up first). Push again to send the rest.",
            file=sys.stderr,
        )
        return EXIT_STOPPED
    return EXIT_OK if report.all_ok else EXIT_ROWS_FAILED


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """Ctrl+C, a kill request or a closed window stops the push in order (see ``push``): no new
    batch, answers in flight awaited a few seconds, every outcome written. A second one stops at
    once."""
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print(
            "\nbpxl: stopping: no new batch goes out; waiting a few seconds for the answers on "
            "their way, then writing every row's outcome.",
            file=sys.stderr,
            flush=True,
        )

    if threading.current_thread() is not threading.main_thread():
        yield stop  # signals reach the main thread only (e.g. a test running bpxl in a thread)
        return
    previous = {number: signal.signal(number, handle) for number in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _push(args: argparse.Namespace) -> int:
    op = Operation(args.op)
    push.PushOptions(op, args.external_id, args.batch_size, args.concurrency)  # checked early
    if args.changed and op is not Operation.UPDATE:
        raise UsageError("--changed sends minimal updates: use it with --op update.")
    if args.overwrite and not args.changed:
        raise UsageError(
            "--overwrite goes with --changed: it sends rows changed in BillingPlatform since your "
            "pull, which only --changed looks for. Without --changed it would do nothing. "
            "Nothing was sent.",
            "Add --changed (with --op update), or leave --overwrite out.",
        )
    path: Path = args.file
    if csv_file.is_csv(path):
        if args.changed:
            raise UsageError(
                f"--changed sends what was edited since `bpxl pull`, which fills workbooks: "
                f"{path.name} is a CSV file.",
                "Pull into an .xlsx workbook and push that with --changed.",
            )
        csv_file.refuse_rerun(path, args.op)

    def read(desk: _Desk) -> sending.Outgoing | None:
        rows = sheet_io.parse_rows(args.rows) if args.rows else None
        known = desk.catalogue = _catalogue(args, connect=not args.dry_run)
        options = push.PushOptions(
            op,
            args.external_id,
            args.batch_size,
            args.concurrency,
            args.dry_run,
            known,
            _ignored(args.ignore_columns),
            create_anyway=args.create_anyway,
            key_field=args.key_field,
        )
        found = desk.found = desk.file.read_grid(args.sheet, rows, known, args.include_hidden)
        desk.translation = translate.parse(
            args.map, args.date_format, known, desk.file.decimal_comma
        )
        grid, notes = translate.apply(found.grid, desk.translation, known)
        desk.file.check_header(grid.header, known)
        notes = [*desk.file.notes(), *notes]
        for note in notes:
            print(note)
        trip: sends.Trip | None = None
        if args.changed:
            if not desk.translation.empty:
                raise UsageError(
                    "--changed sends the cells edited since `bpxl pull`, whose headers are field "
                    "names already: leave out --map and --date-format."
                )
            pulled = pulling.read_pulled(path)
            changed = sends.ChangedRows(grid, pulled, args.overwrite, known)
            if changed.empty:
                print(f"No row of {path.name} has changed since the pull: nothing to send.")
                return None
            trip = changed
        elif options.op is not Operation.CREATE and not args.dry_run and not desk.file.is_csv:
            trip = sends.Recorded(grid, pulling.read_pulled(path), known)  # for revert
        return sending.Outgoing(found.sheet, grid, options, trip, tuple(notes))

    return _send(args, read)


def _ignored(given: list[str]) -> tuple[str, ...]:
    """The headers of ``--ignore-columns`` (given once or more, each a comma-separated list)."""
    return tuple(name.strip() for text in given for name in text.split(",") if name.strip())


def _pull(args: argparse.Namespace) -> int:
    with writer_lock.hold(args.file, command="pull"):
        return _pull_held(args)


def _pull_held(args: argparse.Namespace) -> int:
    path: Path = args.file
    files.refuse_format(path, "pull")
    if path.exists():
        sheet_io.check_writable(path)
    known = _catalogue(args, connect=True)
    if path.exists() and args.sheet is None:  # the sheet a push would read, not the first one
        args.sheet = sheet_io.invoice_sheet(path, known)
    requested = []
    for name in (args.fields or "").split(","):
        if name.strip():
            field = known.lookup(name.strip())
            if field is None:
                raise UsageError(
                    f"--fields: {name.strip()!r} is not an Invoice field.",
                    "`bpxl template` writes a sheet with every field name as a header.",
                )
            requested.append(field.name)
    # An existing sheet is refreshed in all its columns, so what is remembered is complete.
    in_sheet = pulling.sheet_fields(path, args.sheet, known)
    if in_sheet and requested:
        _fields_of_a_sheet(path, requested, in_sheet)
    names = in_sheet + requested or [f.name for f in known.template_fields()]
    names = list(dict.fromkeys([fields.ID, *names]))
    where, ids, found = None, None, None
    if args.where is not None:
        where = pulls.check_condition(args.where)
        what = where
    elif args.ids:
        ids = pulls.parse_ids(args.ids)
        what = f"Ids {', '.join(ids)}"
    else:
        found = sheet_io.read_grid(path, args.sheet, None, known)
        layout = read_layout(found.grid.header, known)
        ids = pulls.sheet_ids(((r, edits.row_id(layout, v)) for r, v in found.grid.rows), fields.ID)
        what = "the Ids in the sheet"
        if not ids:
            print(f"Sheet {found.sheet!r} of {path.name} has no Ids to refresh.")
            return EXIT_OK
    started = run_log.now()
    bar = Progress(sys.stderr, "invoices", "bpxl pull")
    with _connection(args) as link, closing(bar):
        records = queries.query(link.client, names, where=where, ids=ids)
        first = _first_page(records, where)
        if first is None:
            done = "was not changed" if path.exists() else "was not created"
            print(f"No invoices match {what}; {path.name} {done}.")
            return EXIT_OK
        counted = _counted(first, records, bar)
        if not path.exists():
            report = streamed_pull.pull_new(path, args.sheet, counted, names, known)
        else:
            report = xlsx_refresh.refresh(
                path, args.sheet, counted, names, known, found, args.replace_edits
            ) or (pulling.pull_into(path, args.sheet, counted, names, known))
    missing = pulls.not_found(ids, report.ids)
    lost = f"; {plural(len(missing), 'Id')} not found" if missing else ""
    summary = (
        f"Pulled {plural(len(report.ids), 'invoice')} into sheet {report.sheet!r} of "
        f"{path.name}: {plural(report.added, 'new row')}, {report.refreshed:,} refreshed{lost}."
    )
    print(
        f"{summary} Edited cells turn amber; send them with: "
        f"{shell.command('push', path, '--op', 'update', '--changed')}"
    )
    if missing:
        more = len(missing) - PROBLEMS_SHOWN
        shown = ", ".join(missing[:PROBLEMS_SHOWN]) + (f" and {more:,} more" if more > 0 else "")
        print(f"{run_log.NOT_FOUND}: {shown}")
    if report.extra:
        print(f"Fields bpxl does not know were kept in extra columns: {', '.join(report.extra)}")
    if report.kept:
        conflicts = (
            f"; {plural(report.conflicts, 'row')} changed in BillingPlatform too, marked "
            "Conflict (see Message)"
            if report.conflicts
            else ""
        )
        print(
            f"{plural(report.kept, 'row')} {'has' if report.kept == 1 else 'have'} edits you did "
            f"not send: your values were kept{conflicts}. Send them with: "
            f"{shell.command('push', path, '--op', 'update', '--changed')}; or take "
            f"BillingPlatform's with {edits.REPLACE_EDITS}."
        )
    if report.noted:
        print(
            f"{plural(report.noted, 'row')}: BillingPlatform holds text a cell cannot show as it "
            "is; their Message says which cells and what was written."
        )
    if found is not None and (hidden := found.hidden_skipped):
        which = f"Row {hidden[0]:,} is" if len(hidden) == 1 else f"Rows {_row_list(hidden)} are"
        print(f"{which} hidden, so not refreshed: unhide and pull again to refresh.")
    log = run_log.save_pull(path, report.sheet, link.label, summary, started, report.ids, missing)
    _write_results(args, log)
    return EXIT_OK


def _fields_of_a_sheet(path: Path, requested: list[str], in_sheet: list[str]) -> None:
    """``--fields`` chooses the columns of a new sheet; a sheet that has its columns keeps them
    all, refreshed. Fields it lacks are refused (they would not be added), and else it is said."""
    lacking = [name for name in requested if name not in in_sheet]
    if lacking:
        raise UsageError(
            f"--fields {', '.join(lacking)}: the invoice sheet of {path.name} has no "
            f"{'column' if len(lacking) == 1 else 'columns'} for {', '.join(lacking)}, and a pull "
            "does not add columns to a sheet that has them already (--fields chooses the columns "
            "of a new sheet). Nothing was pulled.",
            "Add those headers to the sheet and pull again, or pull into a new workbook.",
        )
    print(
        f"--fields: the sheet of {path.name} has its columns already; all of them are refreshed "
        "(--fields chooses the columns of a new sheet)."
    )


def _first_page(
    records: Iterator[dict[str, object]], where: str | None
) -> dict[str, object] | None:
    """The first invoice of a pull, or None: a condition the server refuses is the user's to fix,
    and it is refused here, before any file is written."""
    try:
        return next(records, None)
    except ApiError as refused:
        if where is None:
            raise
        raise pulls.condition_refused(where, refused) from None


def _counted(
    first: dict[str, object], rest: Iterator[dict[str, object]], bar: Progress
) -> Iterator[dict[str, object]]:
    yield first
    bar.update(1)
    for record in rest:
        yield record
        bar.update(1)


def _revert(args: argparse.Namespace) -> int:
    path: Path = args.file
    args.dry_run = False

    def read(desk: _Desk) -> sending.Outgoing:
        known = desk.catalogue = _catalogue(args, connect=True)
        found = desk.found = sheet_io.read_grid(path, args.sheet, None, known)
        rows = sheet_io.parse_rows(args.rows) if args.rows else None
        replaced = revert_memory.load(undo_dir(), str(path))
        pulled = pulling.read_pulled(path)
        done = revert_memory.reverted(undo_dir(), str(path))
        trip = sends.Revert(found.grid, pulled, replaced, args.overwrite, rows, known, done)
        for invoice in trip.missing:
            print(f"Invoice {invoice} is no longer in the sheet, so it was not reverted.")
        options = push.PushOptions(Operation.UPDATE, catalogue=known, check_headers=False)
        return sending.Outgoing(found.sheet, found.grid, options, trip)

    return _send(args, read, "revert")


def _recover(args: argparse.Namespace) -> int:
    with ExitStack() as held:
        if args.file is None:
            pending = [(run, Path(run.workbook)) for run in journal.unfinished(journal_dir())]
        else:
            if not args.file.exists():  # "every push finished" would be false reassurance
                raise UsageError(
                    f"There is no file at {args.file}. Nothing was recovered.",
                    "Check the file's name and folder. `bpxl recover` without a file name "
                    "recovers every push that did not finish, and names those whose workbook "
                    "has moved.",
                )
            held.enter_context(writer_lock.hold(args.file, command="recover"))
            pending = [(run, args.file) for run in _unfinished_of(args, args.file)]
        if not pending:
            what = f"every push of {args.file.name}" if args.file else "every push"
            print(f"Nothing to recover: {what} finished.")
            return EXIT_OK
        code = EXIT_OK
        done: set[Path] = set()
        while pending:
            code = max(code, _recover_all(args, pending))
            done |= {run.path for run, _ in pending}
            # Outcomes written into a copy make it one of the files that must hold what other
            # pushes of the original did: those are recovered into it too, now.
            again = _unfinished_of(args, args.file) if args.file else []
            pending = [(run, args.file) for run in again if run.path not in done]
        return code


def _recover_all(args: argparse.Namespace, pending: list[tuple[journal.Run, Path]]) -> int:
    """Recover each of ``pending`` into its file; the exit code they earn together."""
    code = EXIT_OK
    for run, path in pending:
        if args.file is None and not path.exists():
            started = run.started.astimezone().strftime("%Y-%m-%d %H:%M")
            print(
                f"The push of {path.name} started {started} stopped before it finished, and "
                f"{path} is no longer there. If you moved, renamed or copied it, run `bpxl "
                "recover NEW-NAME.xlsx`: it finds that push in the workbook as it is now."
            )
            code = EXIT_ROWS_FAILED
            continue
        # The push's own workbook too: a recovery never runs beside the push it recovers.
        mine = {args.file.resolve()} if args.file else set()
        others = {Path(run.workbook).resolve(), path.resolve()} - mine
        with writer_lock.hold(*others, command="recover"):
            if not _recover_run(args, run, path):
                code = EXIT_ROWS_FAILED
    return code


def _read_as_pushed(
    args: argparse.Namespace, file: files.SendFile, sheet: str, known: fields.Catalogue
) -> tuple[sheet_io.SheetGrid, push.Grid]:
    """A file's sheet as its push read it: the grid, translated by ``--map`` and
    ``--date-format`` (the push's hashes of its rows are of what it sent)."""
    found = file.read_grid(sheet, None, known)
    translation = translate.parse(args.map, args.date_format, known, file.decimal_comma)
    grid, _ = translate.apply(found.grid, translation, known)
    return found, grid


def _unfinished_of(args: argparse.Namespace, path: Path) -> list[journal.Run]:
    """Pushes whose outcomes ``path`` lacks: unfinished ones of this file or of one it is a copy
    of, and finished ones whose outcomes went into another copy."""
    found = []
    runs = journal.runs(journal_dir())
    for run in runs:
        known = connection.catalogue_for(connection.catalogue_key(run.target), None)
        try:
            _, grid = _read_as_pushed(args, files.SendFile(path), run.sheet, known)
        except BpxlError:
            continue  # not a sheet of this workbook
        if sending.to_recover(run, runs, path, grid, known):
            found.append(run)
    return found


def _recover_run(args: argparse.Namespace, run: journal.Run, path: Path) -> bool:
    """Write one unfinished push's outcomes into ``path``; True when every row succeeded."""
    file = files.SendFile(path)
    file.check_writable()
    known = connection.catalogue_for(connection.catalogue_key(run.target), None)
    found, grid = _read_as_pushed(args, file, run.sheet, known)
    if recover.needs_client(run):
        with _connection(args, run.target) as link:
            recovery = recover.recover(run, grid, link.client, known)
    else:
        recovery = recover.recover(run, grid, None, known)
    recover.remember_created(run, path, recovery, grid)
    if recovery.results:
        file.write_results(found, recovery.layout, recovery.results)
    journal.mark_recovered(run, file.results)
    recover.save_log(run, path, recovery, grid)
    started = run.started.astimezone().strftime("%Y-%m-%d %H:%M")
    print(f"{path.name} (push started {started}): {recovery.summary(run.op)}")
    _write_results(args, run_log.last(path))
    return not recovery.unplaced and all(r.outcome and r.outcome.ok for r in recovery.results)


def _connect(args: argparse.Namespace) -> int:
    if args.name is None:
        saved = profiles.load_all()
        for profile in saved.values():
            who = profile.username or f"OAuth client {profile.oauth_client}"
            keyed = f", create keys in {profile.key_field}" if profile.key_field else ""
            print(f"{profile.label} as {who}{keyed}")
        if not saved:
            print("No profiles yet. Save one: bpxl connect NAME --url URL --username USER")
        return EXIT_OK
    if args.remove:
        profiles.remove(args.name)
        print(f"Removed profile {args.name!r} and its saved secret.")
        return EXIT_OK
    if (args.key_field or args.no_key_field) and not (
        args.url or args.username or args.oauth_client
    ):
        return _set_key_field(args)
    if not args.url or not (args.username or args.oauth_client):
        raise UsageError(
            f"bpxl connect {args.name} needs --url and one of --username or --oauth-client.",
            "e.g. "
            + shell.command(
                "connect",
                args.name,
                "--url",
                "https://my.billingplatform.com/acme",
                "--username",
                "ann",
            ),
        )
    refuse_secret_in_url(args.url)
    production = args.production
    if production is None:
        production = urlsplit(args.url).hostname not in ("127.0.0.1", "localhost", "::1")
    profile = profiles.Profile(
        args.name, args.url.rstrip("/"), args.username, args.oauth_client, production
    )
    if args.key_field is None and not args.no_key_field and args.name in profiles.load_all():
        profile = dataclasses.replace(profile, key_field=profiles.get(args.name).key_field)
    kind = "client secret" if args.oauth_client else "password"
    secret = os.environ.get("BPXL_PASSWORD")
    if secret is None:
        if not sys.stdin.isatty():
            raise UsageError(
                f"No {kind} to save: it is asked for on a terminal.",
                "In scripts, put it in BPXL_PASSWORD for this one command.",
            )
        secret = getpass.getpass(f"{kind.capitalize()} for {profile.label}: ")
    with connection.profile_client(profile, secret) as client:
        client.login()  # a wrong secret is refused now, not at the first push
        # First contact: the tenant's own fields, read now (and again once a day when used).
        found = describe.load(client, connection.fields_dir(), profile.name, refresh=True)
        if args.key_field:
            profile = _with_key_field(profile, found, args.key_field)
        where = profiles.save(profile, secret)
        print(f"Saved {profile.label}. The {kind} is in the OS keyring; {where} holds no secret.")
        if args.production is None and not production:
            print(
                f"{args.url} is on this computer, so {args.name!r} was saved as a test tenant: "
                "writes to it never ask. Add --production to be asked before every write."
            )
    if profile.key_field:
        print(_key_field_line(profile, found))
    if found.source == fields.TENANT_SOURCE:
        custom = sum(f.custom for f in found.fields)
        print(f"Read its {len(found.fields)} Invoice fields ({custom} of its own): bpxl fields")
    _print_notes(found)
    return EXIT_OK


def _with_key_field(
    profile: profiles.Profile, catalogue: fields.Catalogue, name: str
) -> profiles.Profile:
    """The profile keeping create keys in the tenant's field ``name``; refused (nothing saved)
    when the tenant has no field that can hold them."""
    wrong = key_field.problem(catalogue, name)
    if wrong is not None:
        raise UsageError(
            f"--key-field {name}: {wrong}. Nothing was saved.",
            f"Ask the tenant's administrator for {key_field.setup_text()} (e.g. named "
            "BpxlCreateKey), then run this again; `bpxl fields` lists the tenant's fields.",
        )
    field = catalogue.lookup(name)
    return dataclasses.replace(profile, key_field=field.name if field else name)


def _set_key_field(args: argparse.Namespace) -> int:
    """``bpxl connect NAME --key-field FIELD`` (or ``--no-key-field``) on a saved profile."""
    profile = profiles.get(args.name)
    if args.no_key_field:
        profiles.update(dataclasses.replace(profile, key_field=None))
        print(
            f"{profile.label}: no key field any more. Creates are plain creates again; bpxl "
            "recognises those made from this computer only (its ledger)."
        )
        return EXIT_OK
    catalogue = connection.profile_catalogue(args.name, connect=True)
    _print_notes(catalogue)
    profile = _with_key_field(profile, catalogue, args.key_field)
    profiles.update(profile)
    print(_key_field_line(profile, catalogue))
    return EXIT_OK


def _key_field_line(profile: profiles.Profile, catalogue: fields.Catalogue) -> str:
    """What ``bpxl fields`` and ``bpxl connect`` say of the profile's key field."""
    name = profile.key_field
    if name is None:
        return (
            f"Key field: none set up for {profile.name}. bpxl recognises invoices created from "
            "this computer (its ledger), not those a copy of a workbook created elsewhere. For "
            f"that, the tenant's administrator adds {key_field.setup_text()}, then: "
            f"bpxl connect {profile.name} --key-field FIELD"
        )
    wrong = key_field.problem(catalogue, name)
    if wrong is not None:
        return (
            f"Key field: {name}, but {wrong}: creates are refused until it is fixed (ask the "
            f"administrator for {key_field.setup_text()}, or: bpxl connect {profile.name} "
            "--no-key-field)."
        )
    return (
        f"Key field: {name} (on the tenant, {key_field.FIELD_TYPE.value}). Every create is sent "
        "as an upsert on it with the row's create key: a copy, a rerun or a colleague's push "
        "finds the invoice made instead of making another."
    )


def _print_report(
    report: push.PushReport, found: sheet_io.SheetGrid, rows: str | None = None
) -> None:
    if report.layout.user_headers:
        print(f"Not sent (not Invoice fields): {', '.join(report.layout.user_headers)}")
    problems = [r for r in report.results if r.outcome is not None and not r.outcome.ok]
    # Rows that went wrong the same way (a stop, an outage) are told once, not row by row.
    alike: dict[tuple[str, tuple[str, ...]], list[int]] = {}
    for result in problems:
        assert result.outcome is not None
        alike.setdefault((result.outcome.value, tuple(result.messages)), []).append(result.row)
    shown = 0
    for (outcome, messages), numbers in alike.items():
        if shown == PROBLEMS_SHOWN:
            break
        shown += 1
        which = f"Row {numbers[0]}" if len(numbers) == 1 else f"Rows {_row_list(numbers)}"
        print(f"  {which}: {outcome}")
        for message in messages:
            print(f"    {message}")
    left = sum(len(numbers) for numbers in list(alike.values())[shown:])
    if left:
        print(
            f"  ... and {plural(left, 'more row')} with problems; see the Result and Message "
            "columns"
        )
    hidden = found.hidden_skipped
    if not report.results and not report.skipped:
        if hidden:
            pass  # said once, below: the rows are hidden, not empty
        elif rows:
            print(
                f"The rows named by --rows {rows} hold nothing in the Invoice columns of sheet "
                f"{found.sheet!r}: nothing to send."
            )
        else:
            print(f"Sheet {found.sheet!r} has no rows with Invoice values: nothing to send.")
    unknown = sum(r.outcome is Outcome.UNKNOWN for r in report.results)
    if unknown:
        print(
            f"{plural(unknown, 'row')} {'is' if unknown == 1 else 'are'} Unknown: sent, but no "
            "answer came. The next push (or `bpxl recover`) looks them up in BillingPlatform "
            "before sending them again; their Message says what was found so far."
        )
    print(report.summary())
    for note in report.notes:
        print(note)
    if hidden:
        which = f"Row {hidden[0]:,} was" if len(hidden) == 1 else f"Rows {_row_list(hidden)} were"
        nothing = "; nothing was sent" if not report.results and not report.skipped else ""
        print(f"{which} hidden and not sent{nothing} (add --include-hidden to send hidden rows).")


def _row_list(rows: list[int]) -> str:
    """``2-40, 45, 50-52 (43 rows)``: row numbers as ranges, the first few of them."""
    spans: list[list[int]] = []
    for row in rows:
        if spans and row == spans[-1][1] + 1:
            spans[-1][1] = row
        else:
            spans.append([row, row])
    text = ", ".join(f"{a:,}" if a == b else f"{a:,}-{b:,}" for a, b in spans[:5])
    return f"{text}{', ...' if len(spans) > 5 else ''} ({len(rows):,} rows)"


def run_and_exit() -> None:
    """The ``bpxl`` command: exit with ``main``'s code, at once even if a batch stopped by a signal
    still waits for its answer (its row is already marked in the workbook and the journal)."""
    code = main()
    if code == EXIT_STOPPED and threading.active_count() > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run_and_exit()
