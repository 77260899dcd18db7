"""The file a workbook open in Excel stands for, whatever Excel's ``FullName`` says.

The journal, the writer locks and the memory of replaced values are keyed on a workbook's file.
For a workbook opened from OneDrive, SharePoint or Teams, Excel's ``FullName`` is an https URL,
not a path, and xlwings' ``Book.fullname``, which turns such a URL into the synced folder's path,
raises when it cannot find that folder (SharePoint and Teams libraries without xlwings settings):
every button would fail. So the add-in reads Excel's own ``FullName`` and keys an online workbook
on the synced copy when there is one on this computer (the command line sees that file), or else
on a stand-in path under bpxl's data folder made from the URL: the same workbook gets the same key
in every session, whatever Excel's working folder, and messages still name ``Invoices.xlsx``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..core.connection import data_dir


def workbook_file(book: Any) -> Path:
    """The file ``book`` (an xlwings Book) is keyed on: its path, its synced copy, or the
    stand-in of its URL."""
    full = str(book.api.FullName)
    if "://" not in full:
        return Path(full)
    return synced_copy(full) or online_stand_in(full)


def synced_copy(url: str) -> Path | None:
    """The OneDrive or SharePoint folder's copy of ``url`` on this computer, if xlwings finds
    one (from the OneDrive environment variables and its settings) and the file is there."""
    from xlwings.utils import fullname_url_to_local_path

    try:
        local = Path(fullname_url_to_local_path(url))
    except Exception:  # xlwings raises when it cannot map the URL (SharePoint, Teams)
        return None
    return local if local.is_file() else None


def online_stand_in(url: str) -> Path:
    """A path that stands for the online workbook at ``url``: bpxl's data folder / online /
    host / the URL's path, decoded (``Shared%20Documents`` -> ``Shared Documents``)."""
    parts = urlsplit(url)
    steps = [unquote(step) for step in parts.path.split("/") if step not in ("", ".", "..")]
    return data_dir().joinpath("online", parts.hostname or "unknown", *steps)
