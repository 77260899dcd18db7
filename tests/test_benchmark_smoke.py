"""CI's quick run of benchmark 2: 1,000 rows with 20 ms latency, the naive way and bpxl's way.

It asserts nothing about time (CI machines vary); the script itself checks the request counts
(1,000 single-row requests against 5 batches of 200) and that every row was created both ways.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_naive_vs_bpxl_quick_variant_makes_the_expected_requests() -> None:
    done = subprocess.run(
        [sys.executable, "naive_vs_bpxl.py", "--rows", "1000", "--smoke"],
        cwd=BENCHMARKS,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| one request per row, serial | 1,000 | 1000 |" in done.stdout
    assert "| 1,000 | 5 |" in done.stdout
    assert done.stdout.count("1,000 rows: 1,000 created, 0 invalid, 0 failed") == 2
