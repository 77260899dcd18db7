"""Benchmarks 4 and 5, the CLI on files: `bpxl push --op create` of a 10,000- and a 100,000-row
.xlsx, split into reading the workbook, the core (validation), the network (batched sending to a
sandbox process) and writing the results back; bpxl's reading (python-calamine made exact, see
benchmark 4b, reading.py, for it paired with openpyxl's) compared with python-calamine's raw values;
then the whole command as a user runs it, with its peak memory.

    .venv/bin/python benchmarks/cli_files.py 10000 100000
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import record, run_child, sandbox

from bpxl.core import push
from bpxl.core.client import Client
from bpxl.core.results import Operation
from bpxl.workbook import sheet_io as xlsx


def calamine_grid(path: Path, sheet: str) -> list[list[object]]:
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()
    return [[None if v == "" else v for v in row] for row in rows]


def make_workbook(path: Path, n: int) -> None:
    """The benchmark workbook, made in a child process so that this one stays small."""
    script = (
        "import sys; from common import invoice; from bpxl import template; "
        "n = int(sys.argv[2]); "
        "template.fill(template.build(), map(invoice, range(2, n + 2))).save(sys.argv[1])"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(path), str(n)], cwd=Path(__file__).parent, check=True
    )


def error_cells_kept(folder: Path) -> str:
    """What each reader makes of an error cell (#N/A from a failed lookup). Blank would mean the
    field is silently left out of the record, where bpxl refuses the row."""
    import openpyxl

    path = folder / "errors.xlsx"
    book = openpyxl.Workbook()
    book.active.title = "S"
    book.active["A1"], book.active["A2"] = "DueDate", "#N/A"  # stored as an error cell
    book.save(path)
    ours = xlsx.read_grid(path, "S").grid.rows[0][1][0]
    theirs = calamine_grid(path, "S")[1][0]
    return f"openpyxl {ours!r}, python-calamine {theirs!r}"


def phases(path: Path, n: int) -> tuple[list[object], list[object]]:
    started = time.perf_counter()
    found = xlsx.read_grid(path)
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    values = calamine_grid(path, found.sheet)
    calamine_s = time.perf_counter() - started
    options = push.PushOptions(Operation.CREATE)
    started = time.perf_counter()
    _, plans, _ = push.plan(found.grid, options)
    core_s = time.perf_counter() - started
    header = values[found.header_row - 1]
    calamine = push.Grid(
        header, list(enumerate(values[found.header_row :], start=found.header_row + 1))
    )
    _, other, _ = push.plan(calamine, options)
    same = [(p.row, p.record, p.errors) for p in plans] == [
        (p.row, p.record, p.errors) for p in other
    ]
    with sandbox() as (url, _, _), Client(url, username="demo", password="demo") as client:
        started = time.perf_counter()
        report = push.push(found.grid, client, options)
        network_s = time.perf_counter() - started - core_s
    started = time.perf_counter()
    xlsx.write_results(path, found, report.layout, report.results)
    write_s = time.perf_counter() - started
    return (
        [
            f"{n:,}",
            f"{read_s:.2f} s",
            f"{core_s:.2f} s",
            f"{network_s:.2f} s",
            f"{write_s:.2f} s",
            f"{read_s + core_s + network_s + write_s:.2f} s",
        ],
        [
            f"{n:,}",
            f"{read_s:.2f} s",
            f"{calamine_s:.2f} s",
            f"{read_s / calamine_s:.1f}x",
            "yes" if same else "NO",
            error_cells_kept(path.parent),
        ],
    )


def whole_command(path: Path, data: Path) -> list[object]:
    """The push as a user runs it, in its own process; its peak memory from wait4 (Linux)."""
    env = {**os.environ, "BPXL_DATA_DIR": str(data)}
    command = [sys.executable, "-m", "bpxl.cli", "push", str(path), "--op", "create"]
    seconds, peak_mb, said = run_child(command, env)
    return [f"{seconds:.1f} s", f"{peak_mb:,.0f} MB", said.splitlines()[-1]]


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 100_000]
    split, readers, whole = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        for n in sizes:
            path = Path(folder) / f"push-{n}.xlsx"
            make_workbook(path, n)
            fresh = Path(folder) / f"fresh-{n}.xlsx"
            fresh.write_bytes(path.read_bytes())
            # First, while this process is small: a forked child's peak counts its parent's pages.
            whole.append([f"{n:,}", *whole_command(fresh, Path(folder) / f"data-{n}")])
            parts, reading = phases(path, n)
            split.append(parts)
            readers.append(reading)
    record(
        "The CLI on files, by phase (benchmark 4)",
        [
            "rows",
            "read (reading.read_values)",
            "core (validation)",
            "network (sandbox process)",
            "write back",
            "sum",
        ],
        split,
    )
    record(
        "Reading: bpxl's reader and python-calamine's raw values (benchmark 4)",
        [
            "rows",
            "bpxl (reading.read_values)",
            "python-calamine",
            "calamine faster by",
            "identical records (these rows)",
            "an #N/A cell reads as",
        ],
        readers,
    )
    record(
        "`bpxl push --op create`, end to end, embedded sandbox (benchmarks 4 and 5)",
        ["rows", "wall time", "peak memory of the push process", "summary"],
        whole,
    )


if __name__ == "__main__":
    main()
