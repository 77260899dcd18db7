"""`bpxl push --op create` of one .xlsx by several versions of bpxl, run by run alternating, on one
machine in the same minutes: issue 28's paired measure (wall time, CPU, peak memory).

    .venv/bin/python benchmarks/push_pairs.py --rows 10000 --pairs 3 \\
        --code before=/tmp/bpxl-194204b/addin --code new=addin
    .venv/bin/python benchmarks/push_pairs.py --rows 100000 --pairs 2 --code new=addin \\
        --sandbox-process --sandbox-option=--max-rate=15

Each ``--code NAME=FOLDER`` is an ``addin`` folder (e.g. ``git archive 194204b | tar -x`` into a
temporary folder); every run gets a fresh copy of the workbook and a fresh data folder, so every
safety rule a version has is on (journal, values file, ledger, duplicate check, writer lock, room
check). By default the push uses the embedded sandbox, as a user's first push does (client and
server in one process); ``--sandbox-process`` starts a sandbox process per run (with
``--sandbox-option``s, e.g. its rate limit) and pushes to it with ``--url``, so that the push
process's CPU is the client's alone. CPU is user + system time of the push process (``wait4``),
peak memory its largest resident set. The load average is read before each run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cli_files import make_workbook
from common import record


def load() -> float:
    return os.getloadavg()[0]


@contextmanager
def sandbox_process(code: Path, options: list[str], log: Path) -> Iterator[str]:
    env = {**os.environ, "PYTHONPATH": str(code)}
    command = [sys.executable, "-m", "bpxl.cli", "sandbox", "--port", "0", *options]
    command += ["--request-log", str(log)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert server.stdout is not None
        yield server.stdout.readline().strip()
    finally:
        server.terminate()
        server.wait()


def one_push(
    code: Path, workbook: Path, folder: Path, url: str | None
) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds, peak MB and the last line said, of one push in its own process."""
    book = folder / "push.xlsx"
    shutil.copyfile(workbook, book)
    env = {**os.environ, "PYTHONPATH": str(code), "BPXL_DATA_DIR": str(folder / "data")}
    command = [sys.executable, "-m", "bpxl.cli", "push", str(book), "--op", "create"]
    if url:
        command += ["--url", url, "--username", "demo"]
        env["BPXL_PASSWORD"] = "demo"
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        child = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        said = out.read().strip()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the push with {code} failed:\n{said}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, said.splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--pairs", type=int, default=3, help="runs of each version")
    parser.add_argument("--code", action="append", required=True, help="NAME=ADDIN_FOLDER")
    parser.add_argument("--sandbox-process", action="store_true")
    parser.add_argument("--sandbox-option", action="append", default=[])
    parser.add_argument("--keep", action="store_true", help="append the table to results.md")
    args = parser.parse_args()
    codes = {
        name: Path(folder).resolve() for name, _, folder in (c.partition("=") for c in args.code)
    }
    runs: dict[str, list[tuple[float, float, float, float, str]]] = {name: [] for name in codes}
    with tempfile.TemporaryDirectory() as scratch:
        workbook = Path(scratch) / f"push-{args.rows}.xlsx"
        make_workbook(workbook, args.rows)
        for turn in range(args.pairs):
            order = list(codes.items())
            if turn % 2:
                order.reverse()  # neither version always runs first
            for name, code in order:
                folder = Path(scratch) / f"{name}-{turn}"
                folder.mkdir()
                before = load()
                if args.sandbox_process:
                    log = folder / "requests.jsonl"
                    with sandbox_process(code, args.sandbox_option, log) as url:
                        wall, cpu, peak, said = one_push(code, workbook, folder, url)
                    statuses = [json.loads(line)["status"] for line in log.open(encoding="utf-8")]
                    said += f" ({len(statuses)} requests, {statuses.count(429)} answered 429)"
                else:
                    wall, cpu, peak, said = one_push(code, workbook, folder, None)
                runs[name].append((wall, cpu, peak, before, said))
                print(
                    f"{name}: {wall:.2f} s wall, {cpu:.2f} s CPU, {peak:.0f} MB, load {before:.1f}"
                )
                shutil.rmtree(folder)
    first = next(iter(codes))
    rows = []
    for name, measured in runs.items():
        walls = [m[0] for m in measured]
        cpus = [m[1] for m in measured]
        ratio = [m[0] / b[0] for m, b in zip(measured, runs[first], strict=True)]
        rows.append(
            [
                name,
                f"{args.rows:,}",
                len(measured),
                f"{statistics.median(walls):.2f} s [{min(walls):.2f}-{max(walls):.2f}]",
                f"{statistics.median(cpus):.2f} s",
                f"{max(m[2] for m in measured):.0f} MB",
                f"{statistics.median(ratio):.2f}" if name != first else "1",
                f"{min(m[3] for m in measured):.1f}-{max(m[3] for m in measured):.1f}",
                measured[-1][4],
            ]
        )
    where = (
        "a sandbox process " + " ".join(args.sandbox_option)
        if args.sandbox_process
        else "the embedded sandbox"
    )
    record(
        f"`bpxl push --op create`, paired runs, {where}",
        [
            "code",
            "rows",
            "runs",
            "wall, median [range]",
            "CPU, median",
            "peak memory",
            f"wall / {first}'s beside it, median",
            "load before",
            "summary",
        ],
        rows,
        keep=args.keep,
    )


if __name__ == "__main__":
    main()
