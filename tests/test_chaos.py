"""Chaos histories, the quick run: a few dozen short random histories held to the invariants, and
tests that the checker and the shrinker catch what they must (see ``tests/chaos``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bpxl.core.results import Operation

from .chaos import checker, runner
from .chaos.runner import CONFIGS, History, play, shrink
from .chaos.steps import Step
from .chaos.world import World

QUICK_HISTORIES = int(os.environ.get("BPXL_CHAOS_HISTORIES") or 20)


@pytest.mark.parametrize("seed", range(1, QUICK_HISTORIES + 1))
def test_a_random_history_keeps_every_promise(seed: int) -> None:
    played = play(History.from_seed(seed, CONFIGS["quick"]))
    if not played.ok:
        steps, shrunk = shrink(played, budget_s=60)
        pytest.fail(f"{played.story()}\n\nshrunk:\n{shrunk.story(steps)}", pytrace=False)


@pytest.fixture
def world(tmp_path: Path):
    made = World(tmp_path / "world")
    made.create_workbook([{"BillingProfileId": "101", "AgingInterval": n} for n in range(3)])
    yield made
    made.close()


def test_the_checker_finds_a_second_invoice_for_a_row(world: World) -> None:
    assert world.cli("push", world.path, "--op", "create", *world.connection).code == 0
    assert checker.check(world) == []
    tag = world.rows[1].tag
    world.sandbox.store.write(Operation.CREATE, [{"BillingProfileId": "101", "FileName": tag}], 1)
    found = checker.check(world)
    assert [v.invariant for v in found] == ["twice"] and tag in found[0].text


def test_the_checker_finds_values_the_row_never_held_in_its_invoice(world: World) -> None:
    """A send of changed cells to the wrong invoice keeps the tag (FileName is not sent)."""
    world.cli("push", world.path, "--op", "create", *world.connection)
    assert checker.check(world) == []  # which also learns each row's Id
    invoice = world.rows[0].id
    world.sandbox.store.write(Operation.UPDATE, [{"Id": invoice, "AgingInterval": 2}], 1)
    [found] = checker.check(world)
    assert found.invariant == "ids"
    assert found.text == (
        f"sheet row 2 (r1.pdf): its invoice {invoice} has AgingInterval '2', which the row never "
        "held"
    )


def test_the_checker_finds_an_id_of_another_row_and_a_changed_user_cell(world: World) -> None:
    world.cli("push", world.path, "--op", "create", *world.connection)
    assert checker.check(world) == []

    def swap_ids(header: list[str], old: list[list[object]]) -> list[list[object]]:
        column = header.index("Id")
        old[0][column], old[1][column] = old[1][column], old[0][column]
        old[2][header.index("AgingInterval")] = 99  # not the user's edit: the model says 2
        return old

    world.edit(swap_ids)
    found = {(v.invariant, v.text.split(":")[0]) for v in checker.check(world)}
    assert ("ids", "sheet row 2 (r1.pdf) holds Id 2, which is row r2.pdf's invoice") in {
        (v.invariant, v.text) for v in checker.check(world)
    }
    assert ("cells", "sheet row 4 (r3.pdf)") in found


def test_the_checker_finds_unsettled_rows_and_secrets(world: World) -> None:
    world.cli("push", world.path, "--op", "create", *world.connection)
    assert checker.check_settled(world) == [] and checker.check_secrets(world) == []

    def lose(header: list[str], old: list[list[object]]) -> list[list[object]]:
        old[0][header.index("Result")] = "Unknown"
        old[1][header.index("Id")] = None
        old[2][header.index("Message")] = f"session {world.sandbox.issued[0]}"
        return old

    world.edit(lose)
    unsettled = [v.text for v in checker.check_settled(world)]
    assert "sheet row 2 (r1.pdf) is still Unknown" in unsettled
    assert "sheet row 3 (r2.pdf): its invoice 2 is not in the sheet" in unsettled
    (world.root / "data" / "log.txt").write_text(f"pw={world.password}")
    world.outputs.append(f"login {world.password}")
    leaks = [v.text for v in checker.check_secrets(world)]
    assert any("session id is in files/book-0.xlsx (xl/" in t for t in leaks)
    assert "the password is in data/log.txt" in leaks and len(leaks) == 3


def test_the_shrinker_keeps_only_the_steps_the_failure_needs(monkeypatch) -> None:
    """Played on a stand-in that fails whenever an insert comes after the sort."""
    history = History.from_seed(1, CONFIGS["quick"])
    culprit = [Step("sort", {"by": "Status", "seed": 1}), Step("insert", {"at": 0.5, "values": {}})]
    history.steps = [Step("edit", {"n": n}) for n in range(5)] + culprit + [Step("copy")]

    def stand_in(history: History, steps: list[Step] | None = None, keep=None) -> runner.Played:
        steps = history.steps if steps is None else steps
        played = runner.Played(history, notes=["ok"] * len(steps))
        kinds = [s.kind for s in steps]
        if "sort" in kinds and "insert" in kinds[kinds.index("sort") :]:
            played.violations = [checker.Violation("twice", "planted")]
            played.failed_at = kinds.index("insert", kinds.index("sort"))
        return played

    monkeypatch.setattr(runner, "play", stand_in)
    steps, shrunk = shrink(stand_in(history))
    assert steps == culprit and not shrunk.ok
