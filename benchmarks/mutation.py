"""Mutation testing of the core: how many small deliberate bugs the tests catch, module by module.

    nice -n 10 .venv/bin/python benchmarks/mutation.py [--record] [MODULE ...]

(default: every module in ``TESTS``, one after the other). mutmut (in the ``test`` extra) changes
one operator, constant or call at a time in a module and runs the tests that reach the changed
function; a mutant the tests still pass "survived". mutmut expects the code in ``src/`` or at the
top of the project, so each module runs in a scratch copy, ``.mutation/MODULE/`` (git ignores
it), with ``src/bpxl`` and ``tests/``: the repository itself is never changed. Survivors are listed
in ``.mutation/MODULE/survivors.txt``; ``cd .mutation/MODULE && ../../.venv/bin/mutmut show NAME``
shows one. ``--record`` appends the scores to ``results.md``. Not part of CI: a module takes from
one to several minutes on 2 cores.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from common import record

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = ROOT / ".mutation"
MUTMUT = Path(sys.executable).with_name("mutmut")

# The tests that exercise each core module, fast ones only: mutmut runs, per mutant, just the tests
# of this selection that reached the mutated function.
TESTS = {
    "cells": ["tests/test_cells.py", "tests/test_records.py", "tests/test_xlsx_read.py"],
    "records": [
        "tests/test_records.py",
        "tests/test_cells.py",
        "tests/test_describe.py",
        "tests/test_tenant_fields.py",
        "tests/test_xlsx_read.py",
    ],
    "journal": ["tests/test_journal.py"],
    "answers": ["tests/test_answers.py"],
    # The engine called directly, one batch at a time; the command line's end-to-end tests and
    # the lookup's (test_lookup.py) are too slow to run per mutant.
    "push": ["tests/test_push_engine.py"],
    # Its rules one by one, and the two looks and the clock on the fake server with short waits;
    # the end-to-end lookups (test_lookup.py, test_safety.py) wait on purpose: too slow here.
    "reconcile": ["tests/test_reconcile.py"],
    "sends": ["tests/test_trips.py", "tests/test_roundtrip.py", "tests/test_tenant_fields.py"],
}
# Push's and reconcile's tests mostly wait (a lost create is looked up a second after its send, by
# the server's clock), so a few mutants are tested at once at little CPU cost, and a mutant that
# loops (sending a batch again and again) is stopped by wall time, 3 times its tests' usual time
# (mutmut's default, 15 times, lets each such mutant wait minutes). The other modules compute.
CHILDREN = {"push": 4, "reconcile": 3}
TIMEOUT_MULTIPLIER = {"push": 3, "reconcile": 3}
# Where each module lives under addin/bpxl (the others: core/MODULE.py).
PATHS = {"sends": "core/roundtrip/sends.py"}
TIMEOUT = 12 * 60  # seconds per module: a longer run is stopped and scored on what it tested


def prepare(module: str) -> Path:
    """A fresh scratch project for ``module``: the package under src/, the tests, the config."""
    folder = SCRATCH / module
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "src").mkdir(parents=True)
    shutil.copytree(ROOT / "addin" / "bpxl", folder / "src" / "bpxl")
    shutil.copytree(ROOT / "tests", folder / "tests")
    (folder / "setup.cfg").write_text(
        "[mutmut]\n"
        "source_paths=src/bpxl\n"
        f"timeout_multiplier={TIMEOUT_MULTIPLIER.get(module, 15)}\n"
        f"only_mutate=src/bpxl/{PATHS.get(module, f'core/{module}.py')}\n"
        "pytest_add_cli_args_test_selection=\n    " + "\n    ".join(TESTS[module]) + "\n",
        encoding="utf-8",
    )
    return folder


def mutate(module: str) -> dict[str, object]:
    folder = prepare(module)
    began = time.monotonic()
    with (folder / "run.log").open("w", encoding="utf-8") as log:
        run = subprocess.Popen(
            [str(MUTMUT), "run", "--max-children", str(CHILDREN.get(module, 1))],
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its forked test runs end with it
        )
        try:
            stopped = run.wait(timeout=TIMEOUT) != 0
        except subprocess.TimeoutExpired:
            stopped = True  # the mutants tested so far still count; the rest are reported
        finally:  # also when this script is stopped: the run must not go on without it
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGTERM)
                run.wait()
    subprocess.run([str(MUTMUT), "export-cicd-stats"], cwd=folder, check=True, capture_output=True)
    stats = json.loads((folder / "mutants" / "mutmut-cicd-stats.json").read_text())
    listed = subprocess.run(
        [str(MUTMUT), "results"], cwd=folder, check=True, capture_output=True, text=True
    ).stdout
    survivors = [
        line.split(":")[0].strip()
        for line in listed.splitlines()
        if line.rstrip().endswith(": survived")
    ]
    (folder / "survivors.txt").write_text("\n".join(survivors) + "\n", encoding="utf-8")
    killed = int(stats["killed"]) + int(stats["timeout"])
    tested = killed + int(stats["survived"]) + int(stats["no_tests"])
    total = int(stats["total"]) - int(stats["skipped"])
    return {
        "module": module,
        "mutants": total if tested == total else f"{total} ({tested} tested, then stopped)",
        "killed": killed,
        "survived": int(stats["survived"]),
        "no tests": int(stats["no_tests"]),
        "score": f"{100 * killed / tested:.0f}%" if tested else "-",
        "minutes": f"{(time.monotonic() - began) / 60:.1f}" + (" (stopped)" if stopped else ""),
    }


def main() -> None:
    args = sys.argv[1:]
    keep = "--record" in args
    modules = [a for a in args if a != "--record"] or list(TESTS)
    unknown = sorted(set(modules) - set(TESTS))
    if unknown:
        raise SystemExit(f"no test selection for {', '.join(unknown)}; known: {', '.join(TESTS)}")
    os.environ.pop("MUTANT_UNDER_TEST", None)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))  # so that `finally` runs
    rows = []
    for module in modules:
        row = mutate(module)
        print(", ".join(f"{k} {v}" for k, v in row.items()), flush=True)
        rows.append(list(row.values()))
    record(
        "Mutation testing of the core (mutmut)",
        ["module", "mutants", "killed", "survived", "no tests", "score", "minutes"],
        rows,
        keep,
    )


if __name__ == "__main__":
    main()
