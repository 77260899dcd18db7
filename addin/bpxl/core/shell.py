"""Commands bpxl suggests, quoted for the shell the user types them into.

Why: a message that says "run bpxl recover Q4 invoices.xlsx" fails when pasted (two arguments);
accents, spaces, quotes and a leading dash in a path must survive the paste. PowerShell (the
Windows prompt the install script uses) quotes with single quotes doubled inside; POSIX shells
use ``shlex.quote``. Plain words (``--op``, ``invoices.xlsx``) stay unquoted in both.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import PurePath

_PLAIN = re.compile(r"[A-Za-z0-9_.,:/=+-]+")  # safe unquoted in a POSIX shell
_PLAIN_WINDOWS = re.compile(r"[A-Za-z0-9_.:/\\=+-]+")  # "," makes an array in PowerShell


def quoted(word: str | PurePath, windows: bool | None = None) -> str:
    """``word`` as one argument of the user's shell (PowerShell on Windows)."""
    text = str(word)
    if windows is None:
        windows = sys.platform == "win32"
    if windows:
        if _PLAIN_WINDOWS.fullmatch(text):
            return text
        return "'" + text.replace("'", "''") + "'"
    if _PLAIN.fullmatch(text):
        return text
    return shlex.quote(text)


def command(*words: str | PurePath, windows: bool | None = None) -> str:
    """``bpxl`` and its arguments, each quoted for the user's shell."""
    return " ".join(["bpxl", *(quoted(word, windows) for word in words)])
