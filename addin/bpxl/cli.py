"""The ``bpxl`` command line: ``push``, ``template`` and ``sandbox``.

Handlers only read options, call plain functions of the core and print what happened. Every
``BpxlError`` ends the run with its message and exit code 2, never a traceback; rows that did not
succeed give exit code 1.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path

from platformdirs import user_data_dir
from tqdm import tqdm

from . import __version__, fields, push, template, xlsx
from .client import MAX_CONCURRENCY, Client
from .errors import BpxlError, UsageError
from .results import Operation, Outcome
from .sandbox import FaultPlan, Sandbox, SandboxConfig

EXIT_OK, EXIT_ROWS_FAILED, EXIT_USAGE = 0, 1, 2
PROBLEMS_SHOWN = 20  # rows with problems listed on the terminal; the workbook has them all


def data_dir() -> Path:
    """bpxl's folder for the embedded sandbox's records (``BPXL_DATA_DIR`` overrides it)."""
    path = Path(os.environ.get("BPXL_DATA_DIR") or user_data_dir("bpxl", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bpxl", description="BillingPlatform invoices from Excel workbooks."
    )
    parser.add_argument("--version", action="version", version=f"bpxl {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("push", help="send a workbook's rows to BillingPlatform")
    p.add_argument("file", type=Path, metavar="FILE.xlsx")
    p.add_argument("--op", required=True, choices=[o.value for o in Operation])
    p.add_argument("--sheet", help="sheet name (default: the first sheet with an Id column)")
    p.add_argument("--rows", help="sheet rows to send, e.g. 2-50,60 (default: all non-blank rows)")
    p.add_argument(
        "--dry-run", action="store_true", help="validate and write statuses, send nothing"
    )
    p.add_argument(
        "--external-id",
        default=fields.ID,
        metavar="FIELD",
        help="the field upsert matches on (default: Id)",
    )
    p.add_argument("--batch-size", type=int, default=push.DEFAULT_BATCH_SIZE, metavar="N")
    p.add_argument(
        "--concurrency",
        type=int,
        default=push.DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"batches in flight at once, 1 to {MAX_CONCURRENCY} (1 = one at a time)",
    )
    p.add_argument(
        "--url",
        help="tenant URL, e.g. https://my.billingplatform.com/acme (default: the embedded sandbox)",
    )
    p.add_argument("--username", help="user to log in as; the password comes from BPXL_PASSWORD")
    p.add_argument("--token-env", metavar="VAR", help="environment variable holding a bearer token")

    t = commands.add_parser("template", help="write the invoice workbook template")
    t.add_argument("out", type=Path, metavar="OUT.xlsx")
    t.add_argument("--example", action="store_true", help="fill in sample rows to try a push")

    s = commands.add_parser("sandbox", help="run a local BillingPlatform stand-in")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8787, help="0 picks a free port")
    s.add_argument("--tenant", default="sandbox")
    s.add_argument("--db", type=Path, help="SQLite file for the records (default: in memory)")
    s.add_argument("--user", default="demo")
    s.add_argument("--password", default="demo")
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
        help="latency:20ms, 429:0.05, 503:0.05, reset-before:0.02, reset-after:0.02",
    )
    s.add_argument("--seed", type=int, help="seed for the fault draws")
    s.add_argument("--request-log", type=Path, metavar="FILE", help="one JSON line per request")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        handler = {"push": _push, "template": _template, "sandbox": _sandbox}[args.command]
        return handler(args)
    except BpxlError as error:
        print(f"bpxl: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("bpxl: stopped.", file=sys.stderr)
        return EXIT_USAGE


def _template(args: argparse.Namespace) -> int:
    print(f"Wrote {template.write(args.out, example=args.example)}")
    return EXIT_OK


def _sandbox(args: argparse.Namespace) -> int:
    try:
        faults = FaultPlan.parse(args.fault, seed=args.seed)
        sandbox = Sandbox(
            SandboxConfig(
                host=args.host,
                port=args.port,
                tenant=args.tenant,
                db=args.db,
                username=args.user,
                password=args.password,
                allow_remote=args.allow_remote,
                faults=faults,
                request_log=args.request_log,
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


@contextmanager
def _connection(args: argparse.Namespace) -> Iterator[Client]:
    """A client for ``--url``, or for the embedded sandbox (started here) when there is none."""
    if args.url is None:
        db = data_dir() / "sandbox.sqlite3"
        with Sandbox(SandboxConfig(port=0, db=db)) as sandbox:
            print(f"No --url given: using the embedded sandbox (records kept in {db}).", flush=True)
            with Client(sandbox.url, username="demo", password="demo") as client:
                yield client
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
    with Client(args.url, username=args.username, password=password, token=token) as client:
        yield client


def _push(args: argparse.Namespace) -> int:
    options = push.PushOptions(
        Operation(args.op), args.external_id, args.batch_size, args.concurrency, args.dry_run
    )
    path: Path = args.file
    xlsx.check_writable(path)
    rows = xlsx.parse_rows(args.rows) if args.rows else None
    found = xlsx.read_grid(path, args.sheet, rows)
    connection = nullcontext(None) if args.dry_run else _connection(args)
    with connection as client, tqdm(unit="row", desc="bpxl", disable=None, file=sys.stderr) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done)

        report = push.push(found.grid, client, options, progress)
    if report.results:
        xlsx.write_results(path, found, report.layout, report.results)
    _print_report(report, found)
    return EXIT_OK if report.all_ok else EXIT_ROWS_FAILED


def _print_report(report: push.PushReport, found: xlsx.SheetGrid) -> None:
    if report.layout.user_headers:
        print(f"Not sent (not Invoice fields): {', '.join(report.layout.user_headers)}")
    problems = [r for r in report.results if r.outcome is not None and not r.outcome.ok]
    for result in problems[:PROBLEMS_SHOWN]:
        assert result.outcome is not None
        print(f"  Row {result.row}: {result.outcome.value}")
        for message in result.messages:
            print(f"    {message}")
    if len(problems) > PROBLEMS_SHOWN:
        print(
            f"  ... and {len(problems) - PROBLEMS_SHOWN:,} more rows with problems; see the "
            "Result and Message columns"
        )
    if not report.results and not report.skipped:
        print(f"Sheet {found.sheet!r} has no data rows to send.")
    unknown = sum(r.outcome is Outcome.UNKNOWN for r in report.results)
    if unknown:
        print(
            f"{unknown:,} rows are Unknown: they were sent but no answer came. Check them in "
            "BillingPlatform before sending again."
        )
    print(report.summary())


if __name__ == "__main__":
    sys.exit(main())
