"""Benchmark: `bpxl pull --ids-from-sheet` (the refresh of a pulled workbook) of N invoices, this
tree's code paired with another tree's (the baseline), on one sandbox process.

The sandbox is filled with N invoices and a workbook is pulled from it once (this tree's code).
Then, for each case, each pair refreshes two copies of that workbook, one with each tree's code,
in alternating order, the load average read before each run:

1. nothing changed on the server;
2. every invoice changed on the server (Status and FileName), so every row is written.

Each refresh is its own process: wall time, CPU (user + system, from wait4) and peak memory
(ru_maxrss). The baseline is any checkout of bpxl, e.g. the commit before the streamed refresh:

    git worktree add /tmp/bpxl-before c07c0ac
    .venv/bin/python benchmarks/refresh.py 10000 100000 --baseline /tmp/bpxl-before --pairs 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from common import change_invoices, create_invoices, record, run_child, sandbox

from bpxl.core.client import Client

HERE = Path(__file__).resolve().parent


def _fill(url: str, n: int, changed: bool = False) -> list[str]:
    """N invoices on the sandbox (their Ids), or every one of them changed."""
    with Client(url, username="demo", password="demo") as client:
        if changed:
            ids = [r["Id"] for r in client.query("SELECT Id FROM INVOICE")]
            change_invoices(client, ids)
            return [str(i) for i in ids]
        return create_invoices(client, n)


def _pull(
    book: Path, url: str, folder: Path, tree: Path, *which: str
) -> tuple[float, float, float]:
    """One `bpxl pull` with the code of ``tree``: (wall s, CPU s, peak MB)."""
    env = {**os.environ, "BPXL_PASSWORD": "demo", "BPXL_DATA_DIR": str(folder),
           "PYTHONPATH": str(tree / "addin")}  # fmt: skip
    command = [sys.executable, "-m", "bpxl.cli", "pull", str(book), *which, "--url", url,
               "--username", "demo"]  # fmt: skip
    before = os.times()
    seconds, peak, said = run_child(command, env)
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    assert "refreshed" in said or "new rows" in said, said
    return seconds, cpu, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--baseline", type=Path, required=True, help="another bpxl checkout")
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--no-record", action="store_true", help="print only")
    args = parser.parse_args()
    tree = HERE.parent
    rows = []
    for n in args.sizes:
        with sandbox() as (url, _, _), tempfile.TemporaryDirectory() as folder_name:
            folder = Path(folder_name)
            _fill(url, n)
            pulled = folder / "pulled.xlsx"
            _pull(
                pulled,
                url,
                folder,
                tree,
                "--where",
                "BillingProfileId IN (101, 102, 103, 104, 105)",
            )
            for case in ("nothing changed on the server", "every invoice changed on the server"):
                if case.startswith("every"):
                    _fill(url, n, changed=True)
                runs: dict[str, list[tuple[float, float, float, float]]] = {"new": [], "old": []}
                for pair in range(args.pairs):
                    order = ("new", "old") if pair % 2 == 0 else ("old", "new")
                    for which in order:
                        book = folder / f"{which}.xlsx"
                        shutil.copy(pulled, book)
                        load = os.getloadavg()[0]
                        code = tree if which == "new" else args.baseline
                        runs[which].append(
                            (*_pull(book, url, folder, code, "--ids-from-sheet"), load)
                        )
                for which, label in (
                    ("old", f"baseline {args.baseline.name}"),
                    ("new", "this tree"),
                ):
                    done = runs[which]
                    rows.append([
                        case, f"{n:,}", label, len(done),
                        _spread([r[0] for r in done], "s"), _spread([r[1] for r in done], "s"),
                        _spread([r[2] for r in done], "MB", "{:,.0f}"),
                        " / ".join(f"{r[3]:.1f}" for r in done),
                    ])  # fmt: skip
    record(
        "`bpxl pull --ids-from-sheet` (refresh), paired against a baseline tree",
        ["case", "invoices", "code", "runs", "wall", "CPU (user+sys)", "peak memory",
         "load before each"],
        rows,
        keep=not args.no_record,
    )  # fmt: skip


def _spread(values: list[float], unit: str, shape: str = "{:.1f}") -> str:
    """The median and, for more than one run, the range."""
    middle = shape.format(statistics.median(values)) + f" {unit}"
    if len(values) == 1:
        return middle
    return f"{middle} [{shape.format(min(values))}-{shape.format(max(values))}]"


if __name__ == "__main__":
    main()
