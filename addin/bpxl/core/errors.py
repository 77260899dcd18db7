"""One exception hierarchy, whose messages say what happened and what to do next.

A problem with one row is never an exception: it is data in that row's result. Exceptions are for
what stops a whole run (bad options, an unreadable workbook, no connection, a failed login). Every
message is written for an accountant and never holds a secret: callers pass only text that is safe
to show.
"""

from __future__ import annotations

import errno


class BpxlError(Exception):
    """Base of every error bpxl raises on purpose.

    ``hint`` is the next step for the user; ``str()`` gives both, ready to print.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  What to do: {self.hint}" if self.hint else self.message


class UsageError(BpxlError):
    """The command, its options or the workbook's layout are not usable as given."""


class WorkbookLockedError(UsageError):
    """The workbook is open in Excel (or otherwise locked), so bpxl must not write it."""


class ApiConnectionError(BpxlError, ConnectionError):
    """The server could not be reached or dropped the connection.

    ``sent`` is False only when the request surely never left this machine (connection refused,
    connect timeout): then nothing can have been saved and sending again is safe.
    """

    def __init__(self, message: str, hint: str | None = None, *, sent: bool = True) -> None:
        super().__init__(message, hint)
        self.sent = sent


class AuthenticationError(BpxlError):
    """Login failed, or the server rejected our credentials."""


class ApiError(BpxlError):
    """The server answered a whole request with an error.

    ``status`` is the HTTP status (0 when there was no answer at all).
    """

    def __init__(self, message: str, hint: str | None = None, *, status: int = 0) -> None:
        super().__init__(message, hint)
        self.status = status


class WorkbookBusyError(UsageError):
    """Another bpxl command (a push, pull, revert or recover) is working on the workbook."""


class StorageError(BpxlError):
    """A file or folder bpxl must write could not be written: a full disk, a read-only drive or
    folder, no permission."""


def storage_reason(error: OSError) -> str:
    """Why a file could not be written, in the user's words."""
    reasons = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "your disk quota is used up",
        errno.EROFS: "the drive is read-only",
        errno.EACCES: "you may not write there (or the file is open in another program)",
        errno.EPERM: "you may not write there (or the file is open in another program)",
        errno.EFBIG: "the file would be larger than the drive allows",
    }
    return reasons.get(error.errno or 0) or (error.strerror or type(error).__name__).lower()


def storage_error(error: OSError, what: str, hint: str) -> StorageError:
    """``what`` (e.g. "bpxl could not write its journal in FOLDER") failed with ``error``."""
    return StorageError(f"{what}: {storage_reason(error)}.", hint)
