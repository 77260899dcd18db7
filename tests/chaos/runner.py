"""Playing a history step by step, checking after each, and shrinking a failure to a short story.

``play`` stops at the first step after which an invariant fails. ``shrink`` then drops steps (first
halves, then single steps) as long as the same invariant still fails, so what is printed is the
shortest history found that still breaks the promise, with the seed that replays the original.
"""

from __future__ import annotations

import dataclasses
import random
import shutil
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import checker
from .checker import Violation
from .steps import ALL_KINDS, FAULT_KINDS, Step, generate, initial_rows
from .world import (
    COLLEAGUE,
    RACE_TIMEOUT_S,
    STOP_WITHIN_S,
    TAG,
    Ran,
    World,
    copy_file,
    shuffled,
    signal_named,
    sort_key,
)


@dataclass(frozen=True)
class Config:
    """Which steps, faults and invariants a run uses, and how long its histories are."""

    name: str
    steps: int = 8
    kinds: tuple[str, ...] = ALL_KINDS
    faults: tuple[str, ...] = FAULT_KINDS
    invariants: tuple[str, ...] = checker.INVARIANTS
    # Left out: "edit-before-recover", "unsaved" (see ``steps.generate``).
    without: tuple[str, ...] = ()

    def with_steps(self, steps: int) -> Config:
        return dataclasses.replace(self, steps=steps)


# The quick run (in the normal test command) and the long run play every kind of step; the
# shorter histories keep the quick one within a minute or two.
CONFIGS = {
    "long": Config("long", steps=10),
    "quick": Config("quick", steps=6),
}


@dataclass
class History:
    seed: int
    config: Config
    start: list[dict[str, object]]
    steps: list[Step]

    @classmethod
    def from_seed(cls, seed: int, config: Config) -> History:
        rng = random.Random(seed)
        start = initial_rows(rng)
        steps = generate(rng, config.steps, config.kinds, config.faults, config.without)
        return cls(seed, config, start, steps)

    def replay_command(self) -> str:
        named = f"--config {self.config.name} --steps {self.config.steps}"
        return f"python -m tests.chaos {named} --seed {self.seed}"


@dataclass
class Played:
    """What playing a history did."""

    history: History
    violations: list[Violation] = field(default_factory=list)
    failed_at: int | None = None  # index of the step after which the invariants failed
    notes: list[str] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    steps_run: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.violations

    def story(self, steps: list[Step] | None = None) -> str:
        lines = [f"seed {self.history.seed} ({self.history.replay_command()}):"]
        lines.append(f"  the user starts with {len(self.history.start)} rows")
        told = zip(steps or self.history.steps, self.notes, strict=False)
        for number, (step, note) in enumerate(told, 1):
            lines.append(f"  {number}. {step.story()} -> {note}")
        steps = steps or self.history.steps
        if len(self.notes) > len(steps):  # the history settled: what the user did at the end
            lines.append(f"  at the end: {self.notes[len(steps)]}")
        lines += [f"  VIOLATION {v}" for v in self.violations[:6]]
        return "\n".join(lines)


def play(history: History, steps: list[Step] | None = None, keep: Path | None = None) -> Played:
    """Play ``steps`` (default: the history's) in a fresh world; stop at the first violation."""
    steps = history.steps if steps is None else steps
    played = Played(history)
    began = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix=f"chaos-{history.seed}-", dir=keep))
    world = World(root)
    try:
        _play(world, history, steps, played)
    except Exception:  # the harness itself failed: say so loudly, never as a pass
        played.violations = [Violation("harness", traceback.format_exc())]
        played.failed_at = played.steps_run
    finally:
        played.faults = _faults_injected(world)
        world.close()
        played.seconds = time.monotonic() - began
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return played


def _play(world: World, history: History, steps: list[Step], played: Played) -> None:
    world.create_workbook(history.start)
    wanted = set(history.config.invariants)
    for index, step in enumerate(steps):
        note, adopt, extra = _do(world, step)
        played.notes.append(note)
        played.steps_run += 1
        found = [v for v in [*extra, *checker.check(world, adopt)] if v.invariant in wanted]
        if found:
            played.violations, played.failed_at = found, index
            break
    else:
        played.notes.append(_settle(world))
        found = checker.check(world) + checker.check_settled(world)
        found += checker.check_secrets(world)
        played.violations = [v for v in found if v.invariant in wanted]
        if played.violations:
            played.failed_at = len(steps)


def shrink(played: Played, budget_s: float = 180.0) -> tuple[list[Step], Played]:
    """The shortest history found (within ``budget_s``) that breaks the same invariant."""
    target = played.violations[0].invariant
    assert played.failed_at is not None
    steps = played.history.steps[: played.failed_at + 1]
    best = played
    deadline = time.monotonic() + budget_s
    chunk = max(1, len(steps) // 2)
    while chunk >= 1 and time.monotonic() < deadline:
        start, shrunk = 0, False
        while start < len(steps) and time.monotonic() < deadline:
            trial = steps[:start] + steps[start + chunk :]
            again = play(played.history, trial) if trial else None
            if again and any(v.invariant == target for v in again.violations):
                assert again.failed_at is not None
                steps, best, shrunk = trial[: again.failed_at + 1], again, True
            else:
                start += chunk
        if not shrunk:
            chunk //= 2
    return steps, best


# -- steps ----------------------------------------------------------------------------------------


def _do(world: World, step: Step) -> tuple[str, bool, list[Violation]]:
    """Do one step: (what happened, whether field cells may have been refreshed, violations
    seen while it ran)."""
    world.set_faults(step)
    kind, a = step.kind, step.args
    path = world.path
    if _may_update(step):
        world.updated_since_copy = True
    if kind == "push":
        rows = world.sheet_rows(a["rows"]) if a.get("rows") else None
        if rows == []:
            return "skipped: no rows to choose", False, []
        args: list[object] = ["push", path, "--op", a["op"], "--batch-size", a.get("batch_size", 2)]
        args += ["--concurrency", 1, *_rows_option(rows)]
        if a.get("external_id"):
            args += ["--external-id", a["external_id"]]
        if a.get("dry_run"):
            args.append("--dry-run")
        return world.cli(*args, *world.connection).gist(), a["op"] != "create", []
    if kind == "ribbon":
        rows = world.sheet_rows(a["rows"])
        if len(rows) > 1:  # from the first to the last chosen row, as a user drags
            rows = list(range(rows[0], rows[-1] + 1))
        control = {"create": "bpxlCreate", "update": "bpxlUpdate"}[a["op"]]
        shown = world.ribbon(control, rows, save=a["save"])
        return (
            (shown[-1].splitlines()[0][:160] if shown else "nothing shown"),
            a["op"] != "create",
            [],
        )
    if kind == "changed":
        extra = ["--dry-run"] if a.get("dry_run") else []
        ran = world.cli("push", path, "--op", "update", "--changed", *extra, *world.connection)
        return ran.gist(), False, []
    if kind == "pull":
        ran = world.cli("pull", path, "--ids-from-sheet", *world.connection)
        return ran.gist(), True, []
    if kind == "revert":
        return world.cli("revert", path, *world.connection).gist(), True, []
    if kind == "recover":
        which = [path] if a.get("file") else []
        return world.cli("recover", *which, *world.connection).gist(), False, []
    if kind == "clear":
        shown = world.ribbon("bpxlClear", world.sheet_rows(a["rows"]))
        return (shown[-1][:160] if shown else "cleared"), False, []
    return (
        _edit(world, step)
        if kind in ("sort", "insert", "delete", "edit", "copy", "move")
        else (_race(world, step))
    )


def _rows_option(rows: list[int] | None) -> list[object]:
    return [] if rows is None else ["--rows", ",".join(str(r) for r in rows)]


def _edit(world: World, step: Step) -> tuple[str, bool, list[Violation]]:
    kind, a = step.kind, step.args
    if kind == "sort":
        by = a["by"]
        if by == "shuffle":
            world.reorder(shuffled(a["seed"]))
        else:
            world.reorder(
                lambda header, old: sorted(
                    [r for r in old if any(v is not None for v in r)],
                    key=sort_key(by if by != "reverse" else TAG, header),
                    reverse=by == "reverse",
                )
            )
    elif kind == "insert":
        row = world.new_row(a["values"])
        at = world.index(a["at"], extra=1)
        world.rows.append(row)  # known by its tag; ``reorder`` puts it in its place

        def insert(header: list[str], old: list[list[object]]) -> list[list[object]]:
            rows = [r for r in old if any(v is not None for v in r)]
            values: list[object] = [None] * len(header)
            for name, value in {TAG: row.tag, "Note": row.note, **row.values}.items():
                values[header.index(name)] = value
            return [*rows[:at], values, *rows[at:]]

        world.reorder(insert)
        return f"row {row.tag} inserted at sheet row {at + 2}", False, []
    elif kind == "delete":
        if not world.rows:
            return "skipped: no rows", False, []
        gone = world.rows[world.index(a["at"])].tag
        world.reorder(
            lambda header, old: [
                r for r in old if any(v is not None for v in r) and r[header.index(TAG)] != gone
            ]
        )
        return f"row {gone} deleted", False, []
    elif kind == "edit":
        if not world.rows:
            return "skipped: no rows", False, []
        row = world.rows[world.index(a["at"])]
        name, value = a["field"], a["value"]

        def change(header: list[str], old: list[list[object]]) -> list[list[object]]:
            for values in old:
                if values[header.index(TAG)] == row.tag:
                    values[header.index(name)] = value
            return old

        world.edit(change)
        row.set(name, value)
        return f"row {row.tag}", False, []
    else:
        copy_file(world, move=kind == "move")
        return f"now {world.path.name}", False, []
    return "done", False, []


def _race(world: World, step: Step) -> tuple[str, bool, list[Violation]]:
    kind, a = step.kind, step.args
    path, connection = world.path, world.connection
    found: list[Violation] = []
    if kind == "kill":
        world.races[a["signal"]] += 1
        process, out = world.spawn(
            "push", path, "--op", a["op"], "--batch-size", 1, "--concurrency", 1, *connection
        )
        world.wait_for_write(process)
        time.sleep(a["after"])
        if process.poll() is not None:
            ended = world.finish(process, out, 1).gist()
            return f"ended before the {a['signal']}: {ended}", True, []
        before = world.writes()
        process.send_signal(signal_named(a["signal"]))
        signalled = time.monotonic()
        ran = world.finish(process, out, STOP_WITHIN_S if a["signal"] == "SIGINT" else 30)
        if a["signal"] == "SIGINT":
            took, sent = time.monotonic() - signalled, world.writes() - before
            if ran.code is None or sent > 2:
                found.append(
                    Violation(
                        "stops",
                        f"after SIGINT the push sent {sent} more requests and "
                        + ("did not end" if ran.code is None else f"ended after {took:.1f} s"),
                    )
                )
        return f"{a['signal']}: " + ran.gist(), a["op"] != "create", found
    if kind == "twin":
        world.races["twin"] += 1
        commands = {
            "push create": ["push", path, "--op", "create", "--batch-size", 1],
            "push update": ["push", path, "--op", "update", "--batch-size", 1],
            "recover": ["recover", path],
            "pull": ["pull", path, "--ids-from-sheet"],
        }
        first = world.spawn(*commands[a["first"]], *connection)
        time.sleep(0.05)
        second = world.spawn(*commands[a["second"]], *connection)
        ran = [world.finish(*p, RACE_TIMEOUT_S) for p in (first, second)]
        return " / ".join(r.gist() for r in ran), True, []
    if kind == "colleague":
        return _colleague(world, step)
    world.races["edit-during"] += 1
    process, out = world.spawn(
        "push", path, "--op", a["op"], "--batch-size", 1, "--concurrency", 1, *connection
    )
    world.wait_for_write(process)
    time.sleep(a["after"])
    world.reorder(shuffled(a["seed"]))
    ran: Ran = world.finish(process, out, RACE_TIMEOUT_S)
    return "user sorted mid-push; push " + ran.gist(), False, []


def _may_update(step: Step) -> bool:
    """Whether a step may change a row's values from the colleague's copy: the user's edit, or
    an update, upsert or revert of invoices on the server."""
    a = step.args
    if a.get("dry_run"):
        return False
    return (
        step.kind in ("changed", "revert", "edit")
        or (step.kind in ("push", "ribbon", "kill") and a.get("op") != "create")
        or (step.kind == "twin" and "push update" in (a["first"], a["second"]))
    )


def _colleague(world: World, step: Step) -> tuple[str, bool, list[Violation]]:
    """A second person, with their own bpxl (data folder) and login: pushes the user's workbook
    at the moment the user does (a shared folder), or the copy they were sent earlier."""
    world.races["colleague"] += 1
    if step.args["what"] == "same":
        path = world.path
        mine = world.spawn("push", path, "--op", "create", "--batch-size", 1, *world.connection)
        time.sleep(0.05)
        theirs = world.spawn(
            "push", path, "--op", "create", "--batch-size", 1, *world.colleague, who=COLLEAGUE
        )
        ran = [world.finish(*p, RACE_TIMEOUT_S) for p in (mine, theirs)]
        return "user / colleague: " + " / ".join(r.gist() for r in ran), False, []
    if world.updated_since_copy:
        # Without a key field, a copy's row and a row or invoice whose values changed since are
        # two invoices by their values: nothing can tell them apart (README, "An invoice someone
        # already made").
        return "skipped: values were changed since the colleague's copy was taken", False, []
    pushed = world.root / "theirs" / f"pushed-{world.races['colleague']}.xlsx"
    shutil.copy2(world.old_copy, pushed)
    ran = world.cli("push", pushed, "--op", "create", *world.colleague, who=COLLEAGUE)
    return "colleague's old copy: " + ran.gist(), False, []


def _settle(world: World) -> str:
    """What the user does at the end of the day: the network is fine again; run `bpxl recover`
    on the workbook (the tool's own advice when a push stopped; a no-op otherwise), then create
    the rows that still have no Id and send again the updates left Unknown, as the messages
    say."""
    world.sandbox.config.faults = type(world.sandbox.config.faults)()
    notes = ["recover FILE: " + world.cli("recover", world.path, *world.connection).gist()]
    header, rows = world.read()
    column, result = header.index("Id"), header.index("Result")
    without = [n for n, values in enumerate(rows, start=2) if values[column] is None]
    unknown = [  # updates whose answer was lost: the tool says sending them again is safe
        n
        for n, values in enumerate(rows, start=2)
        if values[column] is not None and values[result] == "Unknown"
    ]
    for op, chosen in (("create", without), ("update", unknown)):
        if chosen:
            spec = ",".join(str(r) for r in chosen)
            ran = world.cli("push", world.path, "--op", op, "--rows", spec, *world.connection)
            notes.append(f"{op} rows {spec} again: {ran.gist()}")
    return "; ".join(notes)


def _faults_injected(world: World) -> Counter[str]:
    """Requests the sandbox answered with a fault (429, 500, 503, 504, a dropped connection),
    and the races and signals of the history."""
    counts: Counter[str] = Counter(world.races)
    log = world.root / "req.jsonl"
    text = log.read_text(encoding="utf-8") if log.exists() else ""
    for line in text.splitlines():
        for status in ("429", "500", "503", "504", "0"):
            if line.endswith(f'"status": {status}}}'):
                counts["reset" if status == "0" else status] += 1
    return counts
