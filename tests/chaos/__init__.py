"""Chaos histories: random sequences of commands, user edits and faults, held to bpxl's promises.

A history is drawn from a seed (``steps.generate``): pushes of every kind, pulls, reverts,
recoveries, Clear status on the ribbon, edits by "the user" between commands (sort, insert or
delete a row, change a value, copy or move the file), two commands at once, a SIGINT or SIGKILL at
a random moment, and sandbox faults. ``world.World`` plays it against a sandbox on loopback through
the command line (in this process, or as real ``python -m bpxl.cli`` processes where timing
matters) and the ribbon on the fake xlwings book, while keeping its own model of what the user put
in the sheet. ``checker`` holds the sheet, the server and every file and output to the invariants
after each step; ``runner`` replays a seed and shrinks a failing history to a short story.

The quick run is ``tests/test_chaos.py``; the long run is ``python -m tests.chaos --histories 300``.
"""
