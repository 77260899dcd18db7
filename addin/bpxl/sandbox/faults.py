"""Faults the sandbox injects on request, so tests and benchmarks meet a hostile network.

Each ``--fault`` is ``KIND:VALUE``: ``latency:20ms`` delays every request; ``429:0.05``,
``503:0.05``, ``504:0.05``, ``500-echo:0.05``, ``reset-before:0.02`` and ``reset-after:0.02`` hit
that share of requests; ``store-late:1.5s`` makes a write whose answer is lost (``reset-after``,
``504``) store its records that long after the answer was lost, as a busy server still working on
it would. ``skew:600s`` (or ``skew:-10m``) runs the clock of the ``Date`` headers that far from
the one that stamps ``Created``, as a web host minutes apart from its database host would;
``respell:0.5`` answers that share of queries with the values spelled as another server may
(text in Unicode NFD with Windows line ends, flags ``Yes``/``No``, dates as date-times at
midnight, decimals with a ``.0``). ``rate:15`` holds the sandbox to 15 requests a second, as
BillingPlatform asks of its clients: a request beyond the rate (a token bucket holding one second's
worth, so bursts of up to 15) is answered 429 with a ``Retry-After`` in whole seconds and nothing
stored. A seed makes the sequence of draws repeatable.
"""

from __future__ import annotations

import enum
import random
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field


class Fault(enum.Enum):
    """What happens to one request."""

    NONE = "none"
    TOO_MANY = "429"  # answered 429 with Retry-After; nothing stored
    UNAVAILABLE = "503"  # answered 503; nothing stored
    RESET_BEFORE = "reset-before"  # connection dropped before anything is stored
    RESET_AFTER = "reset-after"  # records stored, then the connection dropped with no answer
    GATEWAY_TIMEOUT = "504"  # answered 504 by a gateway, but the records are stored all the same
    ECHO = "500-echo"  # answered 500 with an error page echoing the request headers; not stored

    @property
    def answer_lost(self) -> bool:
        """The records are stored although the client never hears how."""
        return self in (Fault.RESET_AFTER, Fault.GATEWAY_TIMEOUT)


_RATE_KINDS = {f.value: f for f in Fault if f is not Fault.NONE}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s)")
_SKEW = re.compile(r"([+-]?\d+(?:\.\d+)?)(s|m)")


@dataclass
class FaultPlan:
    """The faults of one sandbox run, drawn from one seeded generator."""

    latency_s: float = 0.0
    store_late_s: float = 0.0
    skew_s: float = 0.0  # the Date headers' clock, ahead of the Created stamps' (behind if < 0)
    respell: float = 0.0  # the share of query answers whose values are spelled otherwise
    rates: dict[Fault, float] = field(default_factory=dict)
    seed: int | None = None
    max_rate: float = 0.0  # requests a second answered (``rate:N``); 0: as many as come

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()
        self._tokens: float | None = None  # the rate's bucket: full at the first request
        self._filled = 0.0

    @classmethod
    def parse(cls, specs: Iterable[str], seed: int | None = None) -> FaultPlan:
        """Read ``--fault`` options; raise ``ValueError`` with a readable reason on a bad one."""
        plan = cls(seed=seed)
        for spec in specs:
            kind, _, value = spec.partition(":")
            kind = kind.strip().lower()
            if kind in ("latency", "store-late"):
                match = _DURATION.fullmatch(value.strip())
                if not match:
                    raise ValueError(f"--fault {spec}: write the delay as e.g. 20ms or 1.5s")
                amount = float(match.group(1))
                seconds = amount / 1000 if match.group(2) == "ms" else amount
                if kind == "latency":
                    plan.latency_s = seconds
                else:
                    plan.store_late_s = seconds
            elif kind == "skew":
                found = _SKEW.fullmatch(value.strip())
                if not found:
                    raise ValueError(f"--fault {spec}: write the skew as e.g. 600s, -10m")
                plan.skew_s = float(found.group(1)) * (60 if found.group(2) == "m" else 1)
            elif kind == "respell":
                plan.respell = _share(spec, value)
            elif kind == "rate":
                plan.max_rate = _per_second(spec, value)
            elif kind in _RATE_KINDS:
                plan.rates[_RATE_KINDS[kind]] = _share(spec, value)
            else:
                known = ", ".join(
                    ["latency", "store-late", "skew", "respell", "rate", *_RATE_KINDS]
                )
                raise ValueError(f"--fault {spec}: unknown fault; use one of {known}")
        return plan

    def over_rate(self) -> float:
        """0 when a request arriving now is within ``max_rate`` (it takes its turn), else the
        seconds until one would be."""
        if not self.max_rate:
            return 0.0
        with self._lock:
            now = time.monotonic()
            if self._tokens is None:
                self._tokens = self.max_rate
            self._tokens = min(self.max_rate, self._tokens + (now - self._filled) * self.max_rate)
            self._filled = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self.max_rate

    def draw_respell(self) -> bool:
        """Whether the next query's answer is respelled."""
        with self._lock:
            return bool(self.respell) and self._random.random() < self.respell

    def draw(self) -> Fault:
        """The fault for the next request: at most one, drawn in a fixed order (repeatable)."""
        with self._lock:
            for fault, rate in self.rates.items():
                if rate and self._random.random() < rate:
                    return fault
        return Fault.NONE


def _share(spec: str, value: str) -> float:
    try:
        rate = float(value)
    except ValueError:
        rate = -1.0
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"--fault {spec}: the share must be a number from 0 to 1")
    return rate


def _per_second(spec: str, value: str) -> float:
    try:
        rate = float(value)
    except ValueError:
        rate = 0.0
    if not 0.0 < rate <= 10_000.0:
        raise ValueError(f"--fault {spec}: write the requests a second as a number, e.g. rate:15")
    return rate
