"""The fuzzing of issue 25, four cases of each kind in every test run (``tests/fuzz.py`` has the
long run): mutated workbooks, hostile servers and random command lines end in a plain message or a
row status, with no secret outside the process, no workbook left unreadable, no invoice made
twice."""

from __future__ import annotations

import os
import random
from pathlib import Path
from unittest import mock

import pytest

from bpxl import cli
from tests import fuzz


@pytest.mark.parametrize("kind", fuzz.KINDS)
def test_a_short_fuzz_run_breaks_no_invariant(kind: str) -> None:
    figures = fuzz.fuzz(seconds=90, seed=2512, kinds=(kind,), cases=4)
    assert figures.cases[kind] == 4, figures.text()
    assert not figures.failures, "\n".join([figures.text(), *figures.examples])


def test_the_fuzzer_sees_a_traceback_and_a_secret(tmp_path: Path, monkeypatch) -> None:
    """A fuzzer that cannot fail proves nothing: a command that escapes with an exception, one
    that ends in bpxl's last guard, and a secret on the terminal are each reported."""
    case = fuzz.Case(tmp_path, random.Random(1))

    def broken(args: object) -> int:
        raise RuntimeError(f"boom {fuzz.PASSWORD}")

    monkeypatch.setattr(cli, "_log", broken)
    with mock.patch.dict(os.environ, case.env):
        case.run("log")
    assert any("did not expect" in p for p in case.problems), case.problems
    assert any(p.startswith("secret") for p in case.problems), case.problems
    monkeypatch.setattr(cli, "_main", lambda argv: (_ for _ in ()).throw(KeyError("x")))
    case.run("log")
    assert any(p.startswith("traceback KeyError") for p in case.problems), case.problems
