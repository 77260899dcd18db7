"""The long run: ``python -m tests.chaos --histories 300`` (from the repository root).

Plays histories from consecutive seeds, prints each failing one shrunk to a short story with the
command that replays it, and ends with the figures for ``benchmarks/results.md``. ``--seed N``
replays one history and prints its story. ``--minutes M`` stops starting new histories after M
minutes. Exit code 1 when any history broke an invariant.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Iterable

from .runner import CONFIGS, History, Played, play, shrink


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--histories", type=int, default=300)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--seed", type=int, help="replay this one history and tell its story")
    parser.add_argument("--config", choices=sorted(CONFIGS), default="long")
    parser.add_argument("--steps", type=int, help="steps per history (default: the config's)")
    parser.add_argument("--minutes", type=float, help="start no new history after this long")
    parser.add_argument("--no-shrink", action="store_true", help="print failures unshrunk")
    parser.add_argument(
        "--record", action="store_true", help="append the figures to benchmarks/results.md"
    )
    args = parser.parse_args(argv)
    config = CONFIGS[args.config]
    if args.steps:
        config = config.with_steps(args.steps)
    if args.seed is not None:
        played = play(History.from_seed(args.seed, config))
        print(played.story())
        return 0 if played.ok else 1
    began = time.monotonic()
    totals: Counter[str] = Counter()
    faults: Counter[str] = Counter()
    broken: Counter[str] = Counter()
    failures: list[Played] = []
    for seed in range(args.first_seed, args.first_seed + args.histories):
        if args.minutes and time.monotonic() - began > args.minutes * 60:
            break
        played = play(History.from_seed(seed, config))
        totals["histories"] += 1
        totals["steps"] += played.steps_run
        faults.update(played.faults)
        if played.ok:
            continue
        failures.append(played)
        broken.update({v.invariant for v in played.violations})
        if args.no_shrink:
            print(played.story(), flush=True)
        else:
            steps, shrunk = shrink(played)
            print(
                f"{shrunk.story(steps)}\n  (shrunk from {(played.failed_at or 0) + 1} steps)",
                flush=True,
            )
    minutes = (time.monotonic() - began) / 60
    network = sum(faults[k] for k in NETWORK)
    races = sum(faults.values()) - network
    row = [
        totals["histories"],
        totals["steps"],
        f"{network} ({_listed(faults, NETWORK)})",
        f"{races} ({_listed(faults, set(faults) - set(NETWORK))})",
        f"{len(failures)}" + (f" ({_listed(broken, broken)})" if broken else ""),
        ", ".join(str(p.history.seed) for p in failures[:20]) or "-",
        f"{minutes:.1f} min",
    ]
    header = [
        "histories",
        "steps",
        "faults answered",
        "races and signals",
        "histories with violations",
        "seeds",
        "time",
    ]
    if args.record:
        from benchmarks.common import record

        record(f"Chaos histories, {config.name} run (`python -m tests.chaos`)", header, [row])
    else:
        print("\n" + "; ".join(f"{h}: {v}" for h, v in zip(header, row, strict=True)))
    return 1 if failures else 0


NETWORK = ("429", "500", "503", "504", "reset")  # what the sandbox answered, from its request log


def _listed(counts: Counter[str], names: Iterable[str]) -> str:
    return ", ".join(f"{name} {counts[name]}" for name in sorted(names) if counts[name])


if __name__ == "__main__":
    sys.exit(main())
