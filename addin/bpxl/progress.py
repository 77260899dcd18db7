"""Progress on the command line: a bar on a terminal, a line every few seconds for scripts.

Why: a push of 50,000 rows takes minutes. On a terminal a bar (tqdm) shows it moving; when the
output goes to a file or a scheduler's log, a bar is either nothing (tqdm turns itself off) or
a mess of carriage returns, so a plain line is written instead, every ``BPXL_PROGRESS_SECONDS``
seconds (default 5): ``bpxl: 1,200 of 10,000 rows done (12%), 14 s``. A question (production's
"Type yes") pauses the bar: it is cleared before the question and drawn again after the answer,
and nothing is drawn while the user types. The bar appears with the first row counted, so a
password prompt before it is never drawn over either.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm import tqdm

from .core import settings

EVERY_ENV = "BPXL_PROGRESS_SECONDS"
EVERY_S = 5.0


class Progress:
    """Counts of ``unit`` done, shown on ``stream`` (stderr) as a bar or as lines."""

    def __init__(
        self, stream: TextIO, unit: str, desc: str = "bpxl", redraw_s: float = 0.1
    ) -> None:
        self._stream, self._unit, self._desc = stream, unit, desc
        terminal = stream.isatty()
        self._redraw_s = redraw_s
        self._bar: tqdm | None = None  # drawn from the first count on, not under a password prompt
        self._lines = not terminal
        self._every = settings.number(EVERY_ENV, EVERY_S, "seconds", zero=True)
        self._start = self._last = time.monotonic()
        self._done, self._total = 0, 0
        self._held = 0  # counted during a question, drawn after it
        self._asking = False
        self._lock = threading.Lock()

    def update(self, done: int, total: int | None = None) -> None:
        with self._lock:
            self._done += done
            if total is not None:
                self._total = total
                if self._bar is not None:
                    self._bar.total = total
            if self._asking:
                self._held += done
                return
            if not self._lines:
                self._drawn().update(done)
            now = time.monotonic()
            if self._lines and now - self._last >= self._every:
                self._last = now
                self._line(now)

    def _drawn(self) -> tqdm:
        if self._bar is None:
            self._bar = tqdm(
                total=self._total or None,
                unit=f" {self._unit}",
                desc=self._desc,
                file=self._stream,
                mininterval=self._redraw_s,
            )
        return self._bar

    def _line(self, now: float) -> None:
        of = f" of {self._total:,}" if self._total else ""
        share = f" ({100 * self._done // self._total}%)" if self._total else ""
        self._stream.write(
            f"{self._desc}: {self._done:,}{of} {self._unit} done{share}, "
            f"{now - self._start:,.0f} s\n"
        )
        self._stream.flush()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """While the user answers a question: the bar cleared and not drawn again until after."""
        with self._lock:
            self._asking = True
            if self._bar is not None:
                self._bar.clear()
        try:
            yield
        finally:
            with self._lock:
                self._asking = False
                held, self._held = self._held, 0
                if self._bar is not None:
                    self._bar.update(held)
                    self._bar.refresh()
                elif held and not self._lines:
                    self._drawn().update(held)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
