"""excel/background.py on its own: a button's work in a worker thread, its every call into Excel
done on the thread Excel called in on (here: the test's), in order, with its result or its error;
the status bar handed over without waiting; a poll scheduled while the work goes on. The buttons
end to end (a long send, Stop sending) are in test_excel_like_excel.py."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

from bpxl.excel import background

from .fake_xlwings import App, book_from_rows

WAIT_S = 30.0  # generous: the machine may be loaded; each wait ends as soon as its condition holds


class Thing:
    """Stands for an Excel object: notes the thread each call on it is made on."""

    def __init__(self, name: str, threads: list[int]) -> None:
        self.name, self.threads = name, threads
        self.status_bar: object = None
        self.kept: object = None

    def _note(self) -> None:
        self.threads.append(threading.get_ident())

    @property
    def child(self) -> Thing:
        self._note()
        return Thing(f"{self.name}.child", self.threads)

    @property
    def values(self) -> list[list[object]]:
        self._note()
        return [[1, "a"], [dt.date(2026, 1, 31), None]]

    def __call__(self, *args: object, **kwargs: object) -> tuple[object, ...]:
        self._note()
        return args, kwargs

    def __getitem__(self, key: object) -> Thing:
        self._note()
        return Thing(f"{self.name}[{key}]", self.threads)

    def __len__(self) -> int:
        self._note()
        return 2

    def __iter__(self) -> Any:
        self._note()
        return iter([Thing(f"{self.name}/{i}", self.threads) for i in (1, 2)])

    def __bool__(self) -> bool:
        self._note()
        return True


def in_worker(work: Callable[[], None]) -> threading.Event:
    """``work`` in a thread of its own; the event is set when it has ended (whatever happened)."""
    finished = threading.Event()

    def run() -> None:
        try:
            work()
        finally:
            finished.set()

    threading.Thread(target=run, daemon=True).start()
    return finished


def test_the_works_calls_are_made_on_excels_thread_in_order_with_their_results_and_errors() -> None:
    excel = background.ExcelThread()
    seen: list[object] = []

    def work() -> None:
        seen.append(excel.call(threading.get_ident))
        excel.post(lambda: seen.append("posted"))
        excel.post(lambda: 1 / 0)  # a posted call that fails fails nothing
        try:
            excel.call(lambda: 1 / 0)
        except ZeroDivisionError:
            seen.append("the work got the error")
        seen.append(excel.call(lambda: "after"))

    finished = in_worker(work)
    excel.serve(time.monotonic() + WAIT_S, finished)
    assert finished.is_set() and excel.idle
    assert seen == [threading.get_ident(), "posted", "the work got the error", "after"]


def test_serving_ends_when_the_work_is_done_or_at_the_deadline_whichever_comes_first() -> None:
    excel = background.ExcelThread()
    done = threading.Event()
    done.set()
    began = time.monotonic()
    excel.serve(began + WAIT_S, done)  # nothing more will come: no reason to hold Excel
    assert time.monotonic() - began < 1.0

    release = threading.Event()
    running = in_worker(lambda: release.wait(WAIT_S))
    began = time.monotonic()
    excel.serve(began + 0.3, running)  # the work goes on: Excel is held until the deadline only
    assert 0.3 <= time.monotonic() - began < WAIT_S
    assert not running.is_set()
    release.set()
    assert running.wait(WAIT_S)


def test_a_marshalled_object_does_every_call_on_excels_thread_and_hands_data_over_as_is() -> None:
    excel = background.ExcelThread()
    threads: list[int] = []
    thing = Thing("book", threads)
    got: dict[str, object] = {}

    def work() -> None:
        book = background.Marshalled(thing, excel)
        got["values"] = book.values
        got["name"] = book.name
        child = book.child
        got["child"] = child.name
        got["item"] = book["Invoices"].name
        got["len"] = len(book)
        got["iterated"] = [each.name for each in book]
        got["bool"] = bool(book)
        got["called"] = book(child, 7, key=child)
        book.kept = child
        got["wrapped"] = (child, book.child.child)

    finished = in_worker(work)
    excel.serve(time.monotonic() + WAIT_S, finished)
    assert finished.is_set()
    assert got["values"] == [[1, "a"], [dt.date(2026, 1, 31), None]]
    assert type(got["values"]) is list and got["name"] == "book"
    assert got["child"] == "book.child" and got["item"] == "book[Invoices]"
    assert got["len"] == 2 and got["iterated"] == ["book/1", "book/2"] and got["bool"] is True
    # Excel objects go back into Excel as themselves, never as the stand-in.
    args, kwargs = got["called"]  # type: ignore[misc]
    assert [type(a) for a in args] == [Thing, int] and type(kwargs["key"]) is Thing
    assert type(thing.kept) is Thing and thing.kept.name == "book.child"
    assert all(type(w) is background.Marshalled for w in got["wrapped"])  # type: ignore[attr-defined]
    assert threads and set(threads) == {threading.get_ident()}


def test_the_status_bar_is_handed_over_without_waiting_other_settings_wait() -> None:
    excel = background.ExcelThread()
    thing = Thing("app", [])
    handed = threading.Event()

    def work() -> None:
        app = background.Marshalled(thing, excel)
        app.status_bar = "BillingPlatform: sending 1 of 2 rows"
        handed.set()  # with nobody serving Excel's thread yet
        app.kept = "set"  # waits for Excel's thread

    finished = in_worker(work)
    assert handed.wait(WAIT_S), "setting the status bar waited for Excel"
    assert thing.status_bar is None and not finished.is_set()
    excel.serve(time.monotonic() + WAIT_S, finished)
    assert thing.status_bar == "BillingPlatform: sending 1 of 2 rows" and thing.kept == "set"


def test_a_job_runs_in_its_own_named_daemon_thread_with_its_stop_signal() -> None:
    assert background.stop_signal() is None  # no work running on this thread
    seen: dict[str, object] = {}

    def work(book: Any) -> None:
        seen["stop"] = background.stop_signal()
        seen["thread"] = threading.current_thread()
        seen["sheet"] = book.sheets[0].name

    book = book_from_rows(["Id"], [["1"]])
    job = background.Job("bpxlCreate", work, book)
    assert job.serve(WAIT_S) is True
    assert seen["stop"] is job.stop and not job.stop.is_set()
    job.stop.set()  # Stop sending: the work sees it
    assert background.stop_signal() is None and job.stop.is_set()
    thread = seen["thread"]
    assert isinstance(thread, threading.Thread) and thread is not threading.current_thread()
    # Excel closing never waits for a send left running; a thread dump names the button.
    assert thread.daemon and thread.name == "bpxl bpxlCreate"
    assert seen["sheet"] == "Invoices" and job.name == "bpxlCreate" and job.book is book
    assert book.app.scheduled == []


class SlowBook:
    """A book whose status bar takes Excel half a second to show its first text (busy
    redrawing); its app is the fake Excel, where polls are scheduled."""

    def __init__(self) -> None:
        self.app = App()

    @property
    def status_bar(self) -> object:
        return self.app.status_bar

    @status_bar.setter
    def status_bar(self, value: object) -> None:
        self.app.status_bar = value
        if value == "first":
            time.sleep(0.5)


def test_work_not_done_in_its_budget_is_carried_on_by_a_poll_until_its_last_call() -> None:
    book = SlowBook()
    shown = book.app.status_history

    def work(marshalled: Any) -> None:
        marshalled.status_bar = "first"
        marshalled.status_bar = "last"  # handed over as the work ends

    job = background.Job("bpxlCreate", work, book)
    assert job.finished.wait(WAIT_S)  # the work has ended; its calls are not made yet
    assert job.serve(0.1) is False  # the first call outlasted the budget
    now = time.monotonic()
    assert shown == ["first"]
    [(due, procedure)] = book.app.scheduled
    assert procedure == "'bpxl.xlam'!BpxlPoll"
    assert 0.2 < due - now <= 0.5  # half a second on: Excel is the user's meanwhile
    assert job.serve(WAIT_S) is True
    assert shown == ["first", "last"]
