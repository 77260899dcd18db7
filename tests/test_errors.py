"""The one exception hierarchy: what each error carries, how it prints, and why a file could not
be written in the user's words."""

from __future__ import annotations

import errno

import pytest

from bpxl.core.errors import (
    ApiConnectionError,
    ApiError,
    AuthenticationError,
    BpxlError,
    StorageError,
    UsageError,
    WorkbookBusyError,
    WorkbookLockedError,
    storage_error,
    storage_reason,
)


def test_an_error_prints_what_happened_then_what_to_do() -> None:
    error = UsageError("The workbook has no header row.", "Put the field names in row 1.")
    assert (error.message, error.hint) == (
        "The workbook has no header row.",
        "Put the field names in row 1.",
    )
    assert (
        str(error) == "The workbook has no header row.\n  What to do: Put the field names in row 1."
    )
    bare = BpxlError("Stopped.")
    assert bare.hint is None and str(bare) == "Stopped." and bare.args == ("Stopped.",)


def test_the_hierarchy_lets_callers_catch_by_kind() -> None:
    assert issubclass(WorkbookLockedError, UsageError) and issubclass(WorkbookBusyError, UsageError)
    assert issubclass(ApiConnectionError, ConnectionError)
    for kind in (UsageError, ApiConnectionError, AuthenticationError, ApiError, StorageError):
        assert issubclass(kind, BpxlError)


def test_a_connection_error_may_have_sent_unless_told_otherwise() -> None:
    lost = ApiConnectionError("The server dropped the connection.")
    assert lost.sent is True and lost.hint is None
    refused = ApiConnectionError("Could not connect.", "Check the URL.", sent=False)
    assert (
        refused.sent is False and str(refused) == "Could not connect.\n  What to do: Check the URL."
    )


def test_an_api_error_carries_its_status() -> None:
    assert ApiError("No answer.").status == 0
    refused = ApiError("Refused.", "Ask your administrator.", status=403)
    assert refused.status == 403 and refused.hint == "Ask your administrator."
    assert str(refused) == "Refused.\n  What to do: Ask your administrator."


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        (errno.ENOSPC, "the disk is full"),
        (errno.EDQUOT, "your disk quota is used up"),
        (errno.EROFS, "the drive is read-only"),
        (errno.EACCES, "you may not write there (or the file is open in another program)"),
        (errno.EPERM, "you may not write there (or the file is open in another program)"),
        (errno.EFBIG, "the file would be larger than the drive allows"),
    ],
)
def test_a_storage_failure_is_told_in_the_users_words(number: int, reason: str) -> None:
    assert storage_reason(OSError(number, "system words")) == reason


def test_another_storage_failure_is_told_in_the_systems_words() -> None:
    assert storage_reason(OSError(errno.EIO, "Input/Output Error")) == "input/output error"
    assert storage_reason(OSError("no number")) == "oserror"
    assert storage_reason(FileNotFoundError()) == "filenotfounderror"


def test_a_storage_error_says_what_failed_why_and_what_to_do() -> None:
    error = storage_error(
        OSError(errno.ENOSPC, "No space left on device"),
        "bpxl could not write its journal in /tmp/j",
        "Free some space and run the command again.",
    )
    assert isinstance(error, StorageError)
    assert str(error) == (
        "bpxl could not write its journal in /tmp/j: the disk is full.\n"
        "  What to do: Free some space and run the command again."
    )
