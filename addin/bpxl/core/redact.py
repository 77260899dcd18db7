"""Secrets never leave the process: server text is scrubbed before anyone sees it.

An error page may echo the request's headers (the session id, the bearer token) or the login
body (the password). Everything that came from the server passes through ``scrub`` before it
reaches a cell, the journal, a log or the terminal: the secrets we know are cut out wherever they
appear, and so is the value after anything that looks like a credential's name.

Server text is also made printable (``printable``): a control character would rewrite the
terminal's lines (an escape sequence, a carriage return) and a lone surrogate (JSON may carry
``\\ud800``) cannot be written as UTF-8 at all, into a journal, a log or a cell.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

HIDDEN = "[hidden]"
# A credential's name, then ':' or '=' (maybe quoted, as in JSON), then its value.
_NAMED = re.compile(
    r"(?P<name>\b(?:session[-_ ]?id|authorization|cookie|set-cookie|password|passwd|"
    r"access[-_]?token|token|client[-_]?secret|secret|api[-_]?key)\b[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<value>(?:bearer\s+|basic\s+)?[^\s\"'<>,;&]+)",
    re.IGNORECASE,
)
# C0 and C1 controls, DEL, lone surrogates and the two non-characters XML cannot hold.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_SPACES = str.maketrans("\t\n\r", "   ")
_SHORTEST_SECRET = 4  # shorter "secrets" would cut ordinary words out of messages


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` without any of ``secrets`` and without the value of anything named like one."""
    forms = {form for s in secrets if s and len(s) >= _SHORTEST_SECRET for form in _spellings(s)}
    for secret in sorted(forms, key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return printable(_NAMED.sub(lambda m: m.group("name") + HIDDEN, text))


def printable(text: str) -> str:
    """``text`` safe to print, journal or put in a cell: tabs and line breaks become spaces,
    other control characters and lone surrogates the replacement character (U+FFFD)."""
    return _UNPRINTABLE.sub("\ufffd", text.translate(_SPACES))


def _spellings(secret: str) -> set[str]:
    """A secret as a server may echo it: as is, URL-encoded, JSON-escaped, HTML-escaped."""
    return {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        html.escape(secret),
    }
