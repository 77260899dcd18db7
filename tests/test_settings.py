"""core.settings on its own: every number bpxl reads from the environment is read one way, and
one it cannot use stops the command in plain words naming the variable (the pushes stopped so
are in test_attack_2026_12.py)."""

from __future__ import annotations

from typing import Any

import pytest

from bpxl.core import settings
from bpxl.core.errors import UsageError

NAME = "BPXL_TEST_SECONDS"


def read(monkeypatch: pytest.MonkeyPatch, raw: str | None, **options: Any) -> float:
    if raw is None:
        monkeypatch.delenv(NAME, raising=False)
    else:
        monkeypatch.setenv(NAME, raw)
    return settings.number(NAME, 2.5, "seconds", **options)


@pytest.mark.parametrize(
    ("raw", "value"),
    [(None, 2.5), ("", 2.5), ("   ", 2.5), ("7", 7.0), (" 0.25 ", 0.25), ("1e3", 1000.0)],
)
def test_a_number_is_read_or_the_default_taken_when_unset(monkeypatch, raw, value) -> None:
    assert read(monkeypatch, raw) == value


def test_zero_is_taken_only_where_it_means_something(monkeypatch) -> None:
    assert read(monkeypatch, "0", zero=True) == 0.0
    with pytest.raises(UsageError):
        read(monkeypatch, "0")


def test_the_most_is_not_taken(monkeypatch) -> None:
    assert read(monkeypatch, "99.5", most=100) == 99.5
    with pytest.raises(UsageError):
        read(monkeypatch, "100", most=100)
    assert read(monkeypatch, "999999999") == 999_999_999
    with pytest.raises(UsageError):
        read(monkeypatch, "1e9")


@pytest.mark.parametrize("raw", ["-1", "abc", "nan", "inf", "-inf", "1,5", "٣", "１"])
def test_a_value_bpxl_cannot_use_stops_in_words_naming_the_variable(monkeypatch, raw) -> None:
    with pytest.raises(UsageError) as raised:
        read(monkeypatch, raw)
    assert raised.value.message == (
        f"The environment variable {NAME} is {raw!r}, which is not a number of seconds bpxl "
        "can use."
    )
    assert raised.value.hint == (
        "Set it to a number of seconds, more than 0 and less than 1,000,000,000 (default 2.5), "
        "or remove it."
    )


def test_where_zero_is_taken_the_words_say_so(monkeypatch) -> None:
    monkeypatch.setenv(NAME, "-0.5")
    with pytest.raises(UsageError) as raised:
        settings.number(NAME, 30, "days", zero=True, most=settings.MOST_DAYS)
    assert raised.value.hint == (
        "Set it to a number of days, 0 or more and less than 36,500 (default 30), or remove it."
    )
