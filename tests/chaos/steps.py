"""The steps of a history and the seeded generator that draws them.

A step names rows by a fraction of the sheet (``at``: 0.0 is the first data row, 0.99 the last)
rather than by number, so that it still means something when the shrinker drops the steps before
it. Every random choice is made here, from the history's seed: playing the same steps again makes
the same requests with the same fault draws (only the moments of a signal or of two processes
racing depend on the machine).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

# Step kinds, grouped by what they exercise.
COMMANDS = ("push", "ribbon", "changed", "pull", "revert", "recover", "clear")
EDITS = ("sort", "insert", "delete", "edit", "copy", "move")
RACES = ("kill", "twin", "edit-during", "colleague")
ALL_KINDS = COMMANDS + EDITS + RACES

# Faults a command step may run under (sandbox ``--fault`` kinds); "store-late" is a server that
# stores a write whose answer was lost some time later, as a busy one still working on it would;
# "skew" runs its Date headers minutes from its Created stamps; "respell" spells the values of
# its query answers otherwise (NFD text, Yes/No flags, dates as date-times).
FAULT_KINDS = (
    "429", "503", "504", "500-echo", "reset-before", "reset-after", "latency", "store-late",
    "skew", "respell",
)  # fmt: skip
# Seconds between the two lookups of a lost create (BPXL_LOOKUP_WAIT) in histories; a server that
# stores late stays below it, as the setting asks.
LOOKUP_WAIT_S = 1.0

EDITABLE = ("BillingProfileId", "Status", "DueDate", "AgingInterval")
STATUSES = ("Pending", "Approved", "Closed")
_WEIGHTS = {
    "push": 10,
    "ribbon": 3,
    "changed": 3,
    "pull": 3,
    "revert": 2,
    "recover": 2,
    "clear": 2,
    "sort": 3,
    "insert": 2,
    "delete": 1,
    "edit": 4,
    "copy": 1,
    "move": 1,
    "kill": 3,
    "twin": 3,
    "edit-during": 2,
    "colleague": 3,
}


@dataclass(frozen=True)
class Step:
    """One thing that happens in a history."""

    kind: str
    args: dict[str, Any] = field(default_factory=dict)
    faults: tuple[str, ...] = ()
    fault_seed: int = 0

    def story(self) -> str:
        """The step in a few words, for the short story of a failing history."""
        a = self.args
        if self.kind == "push":
            text = f"push --op {a['op']}"
            text += f" --external-id {a['external_id']}" if a.get("external_id") else ""
            text += " --dry-run" if a.get("dry_run") else ""
            text += f" on rows at {a['rows']}" if a.get("rows") else ""
        elif self.kind == "ribbon":
            text = f"{a['op'].capitalize()} on the ribbon, rows at {a['rows']}"
            text += "" if a["save"] else ", then Excel closes without saving"
        elif self.kind == "changed":
            text = "push --op update --changed" + (" --dry-run" if a.get("dry_run") else "")
        elif self.kind in ("pull", "revert"):
            text = "pull --ids-from-sheet" if self.kind == "pull" else "revert"
        elif self.kind == "recover":
            text = "recover" + (" FILE" if a.get("file") else " (every workbook)")
        elif self.kind == "clear":
            text = f"Clear status on the ribbon, rows at {a['rows']}"
        elif self.kind == "sort":
            text = f"user sorts the sheet by {a['by']}"
        elif self.kind == "insert":
            text = f"user inserts a row at {a['at']:.2f}"
        elif self.kind == "delete":
            text = f"user deletes the row at {a['at']:.2f}"
        elif self.kind == "edit":
            text = f"user sets {a['field']} = {a['value']!r} in the row at {a['at']:.2f}"
        elif self.kind in ("copy", "move"):
            text = f"user {'copies' if self.kind == 'copy' else 'moves'} the workbook to a new name"
        elif self.kind == "kill":
            text = f"push --op {a['op']} in a process, {a['signal']} {a['after']:.2f} s"
            text += " after its first write"
        elif self.kind == "twin":
            text = f"{a['first']} and {a['second']} at the same time"
        elif self.kind == "colleague":
            text = (
                "a colleague (own bpxl, own login) pushes the same file while the user does"
                if a["what"] == "same"
                else "a colleague (own bpxl, own login) pushes the copy taken at the last copy"
            )
        else:
            text = f"push --op {a['op']} in a process; user sorts the file {a['after']:.2f} s"
            text += " after its first write"
        if self.faults:
            text += f" [faults {', '.join(self.faults)}]"
        return text


def _rows_choice(rng: random.Random) -> list[float] | None:
    """Most commands take every row; some take a few chosen ones (``--rows``)."""
    if rng.random() < 0.7:
        return None
    return sorted({round(rng.random(), 2) for _ in range(rng.randint(1, 3))})


def _faults(rng: random.Random, allowed: Collection[str], slow: bool = False) -> tuple[str, ...]:
    specs: list[str] = []
    if slow:  # races need a command that lasts long enough to be caught mid-way
        specs.append(f"latency:{rng.choice((100, 150, 200))}ms")
    if not allowed or rng.random() < 0.45:
        return tuple(specs)
    for kind in rng.sample(list(allowed), k=min(len(allowed), rng.randint(1, 2))):
        if kind == "latency":
            if not slow:
                specs.append(f"latency:{rng.choice((5, 20))}ms")
        elif kind == "429":
            specs.append("429:0.1")  # each 429 costs the client a one-second wait: keep it rare
        elif kind == "skew":
            specs.append(f"skew:{rng.choice((-600, -300, -60, 60, 300, 600))}s")
        elif kind == "respell":
            specs.append("respell:1")
        elif kind == "store-late":
            specs.append(f"store-late:{rng.choice((0.3, 0.8))}s")
            specs.append(f"{rng.choice(('reset-after', '504'))}:0.3")
        else:
            specs.append(f"{kind}:{rng.choice((0.2, 0.4))}")
    return tuple(specs)


def value_for(rng: random.Random, name: str) -> object:
    """A value for an editable field; now and then one that is refused (by bpxl or the server)."""
    bad = rng.random() < 0.08
    if name == "BillingProfileId":
        return "106" if bad else str(rng.randint(101, 105))  # 106: the server refuses it
    if name == "Status":
        return rng.choice(STATUSES)
    if name == "DueDate":
        if bad:
            return "31/02/2026"  # not a date: bpxl marks the row Invalid
        return dt.datetime(2026, 1, 1) + dt.timedelta(days=rng.randint(0, 300))
    return "many" if bad else rng.randint(0, 90)


def initial_rows(rng: random.Random) -> list[dict[str, object]]:
    """The rows the user starts with (without their tag and note, which the world adds)."""
    return [{name: value_for(rng, name) for name in EDITABLE} for _ in range(rng.randint(4, 9))]


def generate(
    rng: random.Random,
    count: int,
    kinds: Collection[str] = ALL_KINDS,
    faults: Collection[str] = FAULT_KINDS,
    without: Collection[str] = (),
) -> list[Step]:
    """``count`` random steps of the allowed kinds, each command with faults of the allowed kinds.
    ``without`` may leave out "unsaved" (Excel closing without saving after a ribbon send) and
    "edit-before-recover" (the user then runs `bpxl recover` right after a kill, first thing)."""
    names = [k for k in ALL_KINDS if k in kinds]
    weights = [_WEIGHTS[k] for k in names]
    steps: list[Step] = []
    if "push" in kinds and rng.random() < 0.5:  # the user's day often starts with a create
        steps.append(Step("push", {"op": "create"}, _faults(rng, faults), rng.randrange(10**6)))
    while len(steps) < count:
        kind = rng.choices(names, weights)[0]
        steps.append(_step(rng, kind, faults, without))
        if kind == "kill" and "edit-before-recover" in without:
            steps.append(Step("recover", {"file": True}))
    return steps


def _step(rng: random.Random, kind: str, faults: Collection[str], without: Collection[str]) -> Step:
    seed = rng.randrange(10**6)
    if kind == "push":
        op = rng.choice(("create", "create", "update", "upsert"))
        args: dict[str, Any] = {"op": op, "rows": _rows_choice(rng)}
        if op == "upsert" and rng.random() < 0.5:
            args["external_id"] = "FileName"
        args["dry_run"] = rng.random() < 0.15
        args["batch_size"] = rng.randint(1, 3)
        return Step(kind, args, _faults(rng, faults), seed)
    if kind == "ribbon":
        args = {"op": rng.choice(("create", "update")), "rows": _rows_choice(rng) or [0.0, 0.99]}
        args["save"] = rng.random() < 0.85 or "unsaved" in without
        return Step(kind, args, _faults(rng, faults), seed)
    if kind == "changed":
        return Step(kind, {"dry_run": rng.random() < 0.2}, _faults(rng, faults), seed)
    if kind in ("pull", "revert"):
        return Step(kind, {}, _faults(rng, faults), seed)
    if kind == "recover":
        return Step(kind, {"file": rng.random() < 0.5}, _faults(rng, faults), seed)
    if kind == "clear":
        return Step(kind, {"rows": _rows_choice(rng) or [0.0, 0.99]})
    if kind == "sort":
        return Step(kind, {"by": rng.choice((*EDITABLE, "reverse", "shuffle")), "seed": seed})
    if kind in ("insert", "delete"):
        args = {"at": round(rng.random(), 2)}
        if kind == "insert":
            args["values"] = {name: value_for(rng, name) for name in EDITABLE}
        return Step(kind, args)
    if kind == "edit":
        name = rng.choice(EDITABLE)
        return Step(
            kind, {"at": round(rng.random(), 2), "field": name, "value": value_for(rng, name)}
        )
    if kind in ("copy", "move"):
        return Step(kind)
    if kind == "kill":
        args = {
            "op": rng.choice(("create", "create", "update")),
            "signal": rng.choice(("SIGINT", "SIGKILL")),
            "after": round(rng.uniform(0.0, 0.8), 2),  # after its first write is answered
        }
        return Step(kind, args, _faults(rng, faults, slow=True), seed)
    if kind == "colleague":
        what = rng.choice(("same", "old"))
        return Step(kind, {"what": what}, _faults(rng, faults, slow=what == "same"), seed)
    if kind == "twin":
        pair = rng.choice(
            (("push create", "push create"), ("push create", "recover"),
             ("push create", "pull"), ("push update", "push create"))
        )  # fmt: skip
        return Step(kind, {"first": pair[0], "second": pair[1]}, _faults(rng, faults, True), seed)
    args = {"op": "create", "after": round(rng.uniform(0.0, 0.6), 2), "seed": seed}
    return Step("edit-during", args, _faults(rng, faults, slow=True), seed)
