"""Benchmark 4b (issue 28), reading a workbook for `bpxl push`: the reader of before (openpyxl's
parser alone, still there as ``reading._parsed``) against today's (``reading.read_values``:
python-calamine made exact, see ``workbook/calamine_cells``), in paired runs: old and new
alternate in one process on the same file, each timed in wall and CPU (user+sys of this
process), the machine's load noted; the values of both are compared (they must be equal, types
included). ``read_grid`` (the header search, the sheet, the grid a push sends) is timed with each
reader too. With ``--push OLD_TREE``, the whole `bpxl push --op create` is run in a child process
alternately with ``OLD_TREE/addin`` (e.g. a ``git archive`` of the commit before) and this tree.

    .venv/bin/python benchmarks/reading.py 10000 100000 --pairs 3 [--push /tmp/old] [--keep]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cli_files import make_workbook
from common import record

from bpxl.workbook import reading, sheet_io

ROOT = Path(__file__).parent.parent


def timed(work: Callable[[], object]) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def read_pairs(path: Path, pairs: int) -> list[list[object]]:
    """Reading the sheet alone, then ``read_grid``: old and new alternately."""
    rows: list[list[object]] = []
    with reading.open_book(path) as book:
        sheet = reading.choose_sheet(book, None, path)
        for pair in range(1, pairs + 1):
            started = load()
            old_wall, old_cpu, old = timed(lambda: reading._parsed(book, sheet, None))
            new_wall, new_cpu, new = timed(lambda: reading.read_values(book, sheet))
            same = old == new and all(
                [type(v) for v in a] == [type(v) for v in b]
                for a, b in zip(old.rows, new.rows, strict=True)  # type: ignore[attr-defined]
            )
            rows.append(
                [
                    pair,
                    "the sheet's values",
                    started,
                    f"{old_wall:.2f} s / {old_cpu:.2f} s",
                    f"{new_wall:.2f} s / {new_cpu:.2f} s",
                    f"{old_cpu / new_cpu:.1f}x",
                    "yes" if same else "NO",
                ]
            )
    fast = reading.read_values
    for pair in range(1, pairs + 1):
        started = load()
        reading.read_values = lambda book, sheet, last_row=None: reading._parsed(  # type: ignore[assignment]
            book, sheet, last_row
        )
        try:
            old_wall, old_cpu, old = timed(lambda: sheet_io.read_grid(path))
        finally:
            reading.read_values = fast  # type: ignore[assignment]
        new_wall, new_cpu, new = timed(lambda: sheet_io.read_grid(path))
        rows.append(
            [
                pair,
                "read_grid",
                started,
                f"{old_wall:.2f} s / {old_cpu:.2f} s",
                f"{new_wall:.2f} s / {new_cpu:.2f} s",
                f"{old_cpu / new_cpu:.1f}x",
                "yes" if old == new else "NO",
            ]
        )
    return rows


def push_pairs(path: Path, old_tree: Path, pairs: int, folder: Path) -> list[list[object]]:
    """The whole command, old tree and this one alternately, each on a fresh copy."""
    rows: list[list[object]] = []
    for pair in range(1, pairs + 1):
        figures = [pair, load()]
        for tree in (old_tree, ROOT):
            fresh = folder / f"fresh-{pair}-{tree.name}.xlsx"
            fresh.write_bytes(path.read_bytes())
            env = {
                **os.environ,
                "BPXL_DATA_DIR": str(folder / f"data-{pair}-{tree.name}"),
                "PYTHONPATH": str(tree / "addin"),
            }
            command = [sys.executable, "-m", "bpxl.cli", "push", str(fresh), "--op", "create"]
            seconds, cpu, peak_mb, said = child(command, env)
            figures.append(
                f"{seconds:.1f} s / {cpu:.1f} s, {peak_mb:,.0f} MB, {said.splitlines()[-1]}"
            )
        rows.append(figures)
    return rows


def child(command: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """A command in its own process: its wall and CPU (user+sys) seconds, its peak memory in MB
    and its output (wait4, Linux); a child that fails stops the benchmark."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        said = out.read().strip()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command[1:4])} exited with {process.returncode}:\n{said}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, said


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--push", type=Path, help="an older tree to run `bpxl push` from")
    parser.add_argument("--keep", action="store_true", help="append the tables to results.md")
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as folder:
        for n in args.sizes:
            path = Path(folder) / f"push-{n}.xlsx"
            make_workbook(path, n)
            record(
                f"Reading {n:,} template rows, old (openpyxl) and new (python-calamine made "
                f"exact) paired (benchmark 4b, reading.py)",
                [
                    "pair",
                    "what",
                    "load at start",
                    "old: wall / CPU",
                    "new: wall / CPU",
                    "CPU old/new",
                    "same values",
                ],
                read_pairs(path, args.pairs),
                keep=args.keep,
            )
            if args.push:
                record(
                    f"`bpxl push --op create` of {n:,} rows end to end, {args.push.name} "
                    f"against {commit}, paired (benchmark 4b, reading.py)",
                    [
                        "pair",
                        "load at start",
                        f"old ({args.push.name}): wall / CPU, peak, summary",
                        f"new ({commit}): wall / CPU, peak, summary",
                    ],
                    push_pairs(path, args.push, args.pairs, Path(folder)),
                    keep=args.keep,
                )


if __name__ == "__main__":
    main()
