"""How fast ``recover`` places sent rows edited after a crash, and whether it places them right.

A create of N rows is journalled as a killed push leaves it (every row answered, the values sent
kept), the sheet is edited and sorted backwards, and ``core.recover`` places the journal's rows on
it (no server: every create was answered). Cases: an interval edited in every tenth row; every
file name replaced (the only value no other row holds), in every tenth row and in every row; and
the same with rows whose dates and intervals single them out (placeable) or repeat every 1,260
rows (twins but for the file name: they cannot be told apart and are left for the user).

    .venv/bin/python benchmarks/recover_placement.py [ROWS]
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import record  # noqa: E402
from tests.test_recover import grid, killed_create  # noqa: E402

from bpxl.core import recover  # noqa: E402

AGING, NAME = 4, 5  # columns of test_recover.HEADER


def row(n: int, twins: bool) -> list[object]:
    due = f"2026-{1 + n % 12:02}-{1 + n % 28:02}"
    aging = n % 90 if twins else n // 84
    return ["", str(101 + n % 4), ("Pending", "Approved")[n % 2], due, aging, f"{n}.pdf", ""]


def case(
    count: int, twins: bool, every: int, edit: Callable[[list[object]], None]
) -> tuple[float, int, int]:
    """Seconds, rows placed wrong, rows left unplaced."""
    rows = [row(n, twins) for n in range(count)]
    with tempfile.TemporaryDirectory() as folder:
        run = killed_create(Path(folder), rows, answered=count)
        now = [list(r) for r in rows]
        for values in now[::every]:
            edit(values)
        now.reverse()
        started = time.perf_counter()
        recovery = recover.recover(run, grid(now), None)
        took = time.perf_counter() - started
    # Row n was given Id n + 1; its file name tells n.
    wrong = sum(
        1 for r in recovery.results if r.id != str(int(str(now[r.row - 2][NAME]).split(".")[0]) + 1)
    )
    return took, wrong, len(recovery.unplaced)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000

    def interval(values: list[object]) -> None:
        values[AGING] = 999

    def name(values: list[object]) -> None:
        values[NAME] = str(values[NAME]).upper()

    table = []
    for label, twins, every, edit in [
        ("interval edited, every 10th row", False, 10, interval),
        ("file name replaced, every 10th row", False, 10, name),
        ("file name replaced, every row", False, 1, name),
        ("file name replaced, every row; twins", True, 1, name),
    ]:
        took, wrong, unplaced = case(count, twins, every, edit)
        edited = len(range(0, count, every))
        table.append([label, f"{count:,}", f"{edited:,}", f"{took:.1f} s", wrong, f"{unplaced:,}"])
    record(
        "recover placement (core.recover, no server)",
        ["case", "rows", "edited", "placing", "placed wrong", "left unplaced"],
        table,
    )


if __name__ == "__main__":
    main()
