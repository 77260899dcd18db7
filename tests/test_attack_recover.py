"""Recovery attacked the way an accountant would by accident: edits, copies, duplicates and
second runs between a killed push and ``bpxl recover``, each checked against the promises (no
invoice twice, every row a definite status, no Id on a row it does not belong to, no user cell
changed, no secret), counting invoices on the sandbox against rows where a server is involved."""

from __future__ import annotations

from pathlib import Path

from bpxl.core import recover

from .test_recover import grid, killed_create


def test_a_file_name_replaced_in_every_row_leaves_each_row_found_by_the_rest(
    tmp_path: Path,
) -> None:
    """A find-and-replace over the only column whose values are rare (every file name), then a
    sort: each row still holds its date and interval together, values each shared by dozens of
    rows. Only rows sharing a rare value used to be scored, so all 3,000 were left unplaced, and
    the next create would have sent every one of them again."""

    def row(n: int) -> list[object]:
        due = f"2026-{1 + n % 12:02}-{1 + n % 28:02}"  # 84 dates, one per 36 rows
        return ["", str(101 + n % 4), ("Pending", "Approved")[n % 2], due, n // 84, f"{n}.pdf", ""]

    rows = [row(n) for n in range(3000)]
    run = killed_create(tmp_path, rows, answered=3000)
    now = [[*r[:5], str(r[5]).upper(), r[6]] for r in reversed(rows)]
    recovery = recover.recover(run, grid(now), None)
    assert recovery.unplaced == []
    ids = {str(now[r.row - 2][5]): r.id for r in recovery.results}
    assert ids == {f"{n}.PDF": str(n + 1) for n in range(3000)}
