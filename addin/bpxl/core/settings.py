"""Numbers bpxl reads from environment variables (``BPXL_DUPLICATE_DAYS``, ``BPXL_JOURNAL_DAYS``,
``BPXL_ANSWER_SECONDS``, ...), all read one way: a value that is not a number bpxl can use stops
the command in plain words, naming the variable. Read each its own way, ``-1`` days silently
turned the duplicate check off (a copy pushed made every invoice again), and ``nan``, ``1e9`` or
``abc`` stopped a push on "a problem it did not expect", for ``BPXL_JOURNAL_DAYS`` after its rows
had gone out."""

from __future__ import annotations

import math
import os

from .errors import UsageError

MOST_DAYS = 36_500.0  # a hundred years: further back than any date a server keeps


def number(name: str, default: float, what: str, *, zero: bool = False, most: float = 1e9) -> float:
    """``name``'s value: ``default`` when unset or empty; else a number above 0 (or 0 itself,
    when ``zero`` means something, e.g. no check) and below ``most``. Raises ``UsageError``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw) if raw.isascii() else math.nan
    except ValueError:
        value = math.nan
    if not ((value >= 0 if zero else value > 0) and value < most):  # nan is neither
        least = "0 or more" if zero else "more than 0"
        raise UsageError(
            f"The environment variable {name} is {raw!r}, which is not a number of {what} bpxl "
            "can use.",
            f"Set it to a number of {what}, {least} and less than {most:,.0f} (default "
            f"{default:g}), or remove it.",
        )
    return value
