"""A button's work off Excel's thread: no call from VBA into Python lasts more than a few seconds.

Excel waits for each call into Python (a button's ``RunPython``) and, past its OLE time-out, shows
"Microsoft Excel is waiting for another application to complete an OLE action" dialogs, over and
over, while the user can do nothing: a send of 10,000 rows to a real tenant takes longer than
that. So a button's work runs in a worker thread of the Python process that lives as long as
Excel (xlwings' UDF server: ``USE UDF SERVER`` in bpxl.conf), and every call the work makes into
Excel is done on the thread Excel called in on, in one of two places:

- the button's own call serves them for up to ``CALL_BUDGET_S``: a short send ends there, as if
  nothing ran in the background;
- if the work is not done by then, the call returns after asking Excel, with ``Application.OnTime``,
  to run the add-in's ``BpxlPoll`` in ``POLL_EVERY_S``; each poll serves the calls waiting for up to
  ``POLL_BUDGET_S`` and asks for the next one, until the work is done.

Between polls Excel is the user's: scrolling, typing, other workbooks. The work's calls into
Excel wait for the next poll, but for the status bar's progress, which is handed over without
waiting (it must never hold a send back). While the work runs, the Stop sending button asks a
send to end after the batch in flight (``stop_signal``): every row gets its outcome written;
another button says what is running.

The work sees the book through ``Marshalled``, a stand-in that does each call on Excel's thread,
so the buttons' code is the same in the background as in a direct call.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from . import xlam

CALL_BUDGET_S = 2.0  # the longest a button's own call serves the work before it returns
POLL_BUDGET_S = 1.0  # the longest a poll serves the work
POLL_EVERY_S = 0.5  # the pause Excel gets between polls
POLL_MACRO = "BpxlPoll"
POSTED = {"status_bar"}  # progress: shown when Excel next polls, never waited for

# Data, not Excel objects: handed to the work as they are (a range's values are lists of lists).
_PLAIN = (
    type(None),
    bool,
    int,
    float,
    str,
    bytes,
    dt.date,
    dt.time,
    dt.timedelta,
    list,
    tuple,
    dict,
)


class _Call:
    """One call into Excel waiting for Excel's thread; ``wait`` returns its result or raises."""

    def __init__(self, do: Callable[[], Any]) -> None:
        self.do = do
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.do()
        except BaseException as error:  # handed to the work, which decides
            self.error = error
        self.done.set()


class ExcelThread:
    """The calls the work makes into Excel, served on the thread Excel called in on."""

    def __init__(self) -> None:
        self._calls: queue.Queue[_Call] = queue.Queue()

    def call(self, do: Callable[[], Any]) -> Any:
        """From the work: ``do()`` on Excel's thread, waiting for its result."""
        call = _Call(do)
        self._calls.put(call)
        call.done.wait()
        if call.error is not None:
            raise call.error
        return call.result

    def post(self, do: Callable[[], Any]) -> None:
        """From the work: ``do()`` on Excel's thread, in order, without waiting or failing."""
        self._calls.put(_Call(do))

    @property
    def idle(self) -> bool:
        return self._calls.empty()

    def serve(self, until: float, finished: threading.Event) -> None:
        """On Excel's thread: do the waiting calls until ``until`` (monotonic) or until the work
        has finished and no call is left."""
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return
            try:
                call = self._calls.get(timeout=min(left, 0.05))
            except queue.Empty:
                if finished.is_set() and self.idle:
                    return
                continue
            call.run()


class Marshalled:
    """An Excel object (an xlwings Book, Sheet, Range, App, or their ``.api``) whose every
    call is done on Excel's thread; what it returns is wrapped again unless it is plain data."""

    __slots__ = ("_target", "_thread")

    def __init__(self, target: Any, thread: ExcelThread) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_thread", thread)

    def _wrap(self, value: Any) -> Any:
        return value if isinstance(value, _PLAIN) else Marshalled(value, self._thread)

    def __getattr__(self, name: str) -> Any:
        target = self._target
        return self._wrap(self._thread.call(lambda: getattr(target, name)))

    def __setattr__(self, name: str, value: Any) -> None:
        target, value = self._target, _unwrap(value)
        if name in POSTED:
            self._thread.post(lambda: setattr(target, name, value))
        else:
            self._thread.call(lambda: setattr(target, name, value))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        target = self._target
        args = tuple(_unwrap(a) for a in args)
        kwargs = {k: _unwrap(v) for k, v in kwargs.items()}
        return self._wrap(self._thread.call(lambda: target(*args, **kwargs)))

    def __getitem__(self, key: Any) -> Any:
        target = self._target
        return self._wrap(self._thread.call(lambda: target[key]))

    def __len__(self) -> int:
        target = self._target
        return int(self._thread.call(lambda: len(target)))

    def __iter__(self) -> Any:
        target = self._target
        return iter([self._wrap(item) for item in self._thread.call(lambda: list(target))])

    def __bool__(self) -> bool:
        target = self._target
        return bool(self._thread.call(lambda: bool(target)))


def _unwrap(value: Any) -> Any:
    return object.__getattribute__(value, "_target") if isinstance(value, Marshalled) else value


_local = threading.local()


def stop_signal() -> threading.Event | None:
    """The Stop sending button's signal, for work running in the background (else None)."""
    return getattr(_local, "stop", None)


class Job:
    """One button's work in a worker thread, its calls into Excel served by ``serve``."""

    def __init__(self, name: str, work: Callable[[Any], None], book: Any) -> None:
        self.name, self.book = name, book
        self.excel = ExcelThread()
        self.stop = threading.Event()
        self.finished = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(work,), name=f"bpxl {name}", daemon=True
        )
        self._thread.start()

    def _run(self, work: Callable[[Any], None]) -> None:
        _local.stop = self.stop
        try:
            work(Marshalled(self.book, self.excel))
        finally:
            self.finished.set()

    def serve(self, budget_s: float) -> bool:
        """Serve the work's calls into Excel for up to ``budget_s``; True when it is done (and
        every call it handed over was made), else the next poll is scheduled."""
        self.excel.serve(time.monotonic() + budget_s, self.finished)
        if self.finished.is_set() and self.excel.idle:
            return True
        when = dt.datetime.now() + dt.timedelta(seconds=POLL_EVERY_S)
        self.book.app.api.OnTime(when, xlam.macro(POLL_MACRO))
        return False
