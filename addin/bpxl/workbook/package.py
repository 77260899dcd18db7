"""An .xlsx package checked before any XML parser or decompressor is let loose on it.

An .xlsx is a zip of XML parts, and a hostile one can hide three things in it that the libraries
reading it do not refuse in plain words (they stop with a traceback, or worse):

- a **DTD** in a part (``<!DOCTYPE ...>``): the door to external entities (XXE, a file of this
  computer read into a cell), entity expansion (the "billion laughs", gigabytes from a few lines)
  and network fetches. Excel never writes one, so any part holding one is refused;
- a **zip bomb**: a part that unpacks to far more than it holds (1.5 MB packed, 1.5 GB unpacked).
  The zip's directory states each part's sizes and zipfile keeps to them when unpacking, so a part
  is refused before it is unpacked when it is larger than ``MAX_PART_MB`` or, past
  ``RATIO_FROM_MB``, packed more than ``MAX_PACKING_RATIO`` to 1 (a sheet of 100,000 invoices is
  about 15 to 1; only a bomb comes near deflate's limit of about 1,000 to 1);
- a part in an encoding chosen to slip past a check: the prolog is read in the encoding its
  bytes announce (UTF-8, UTF-16 or UTF-32, with or without a byte-order mark).
"""

from __future__ import annotations

import codecs
import zipfile
import zlib
from pathlib import Path

from ..core.errors import UsageError

MAX_PART_MB = 1024
MAX_TOTAL_MB = 2048
MAX_PACKING_RATIO = 100
RATIO_FROM_MB = 10
PROLOG_BYTES = 1 << 16  # what may come before a part's first element (declaration, comments)
_MB = 1024 * 1024
_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
]
_EBCDIC = b"\x4c\x6f\xa7\x94"  # "<?xm" in EBCDIC, which libxml2 also reads


def check(source: zipfile.ZipFile, name: str) -> None:
    """Refuse (``UsageError``) a package with a part too large, packed too densely, or holding a
    DTD; ``name`` is the file's, for the message."""
    total = 0
    for item in source.infolist():
        total += item.file_size
        _check_size(item, name)
    if total > MAX_TOTAL_MB * _MB:
        raise _refused(
            name,
            f"its parts unpack to {total / _MB:,.0f} MB in all, more than the {MAX_TOTAL_MB:,} MB "
            "bpxl reads",
        )
    for item in source.infolist():
        if not item.is_dir() and item.file_size:
            _check_prolog(source, item, name)


def check_file(path: Path) -> None:
    """``check`` for the package at ``path``; a file that is no zip is left to the reader to
    name (an old .xls, a CSV, an encrypted book)."""
    try:
        with zipfile.ZipFile(path) as source:
            check(source, path.name)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        return


def _check_size(item: zipfile.ZipInfo, name: str) -> None:
    if item.file_size > MAX_PART_MB * _MB:
        raise _refused(
            name,
            f"its part {item.filename} unpacks to {item.file_size / _MB:,.0f} MB, more than the "
            f"{MAX_PART_MB:,} MB bpxl reads in one part",
        )
    packed = max(item.compress_size, 1)
    if item.file_size > RATIO_FROM_MB * _MB and item.file_size / packed > MAX_PACKING_RATIO:
        raise _refused(
            name,
            f"its part {item.filename} would unpack from {packed / _MB:,.1f} MB to "
            f"{item.file_size / _MB:,.0f} MB ({item.file_size // packed:,} to 1; Excel's parts "
            f"are under {MAX_PACKING_RATIO} to 1): a zip bomb, made to fill the memory",
        )


def _check_prolog(source: zipfile.ZipFile, item: zipfile.ZipInfo, name: str) -> None:
    """A part that is XML may not declare a DTD before its first element (the only place XML
    allows one)."""
    try:
        with source.open(item) as part:
            head = part.read(PROLOG_BYTES)
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, NotImplementedError):
        raise _refused(name, f"its part {item.filename} is damaged") from None
    if head.startswith(_EBCDIC):
        raise _refused(name, f"its part {item.filename} is in EBCDIC, which Excel never writes")
    text = _decoded(head)
    if text is None:
        return  # not XML: an image, the macros, printer settings
    position = 0
    while True:
        while position < len(text) and text[position] in " \t\r\n":
            position += 1
        if text.startswith("<?", position):
            end = text.find("?>", position)
            position = end + 2 if end >= 0 else len(text)
        elif text.startswith("<!--", position):
            end = text.find("-->", position)
            position = end + 3 if end >= 0 else len(text)
        elif text.startswith("<!", position):
            raise _refused(
                name,
                f"its part {item.filename} holds a DTD (<!DOCTYPE ...>), which Excel never writes "
                "and which can make a reader fetch files or expand text without end",
            )
        elif position >= len(text) and len(head) == PROLOG_BYTES:
            raise _refused(
                name, f"its part {item.filename} starts with over 64 KB before its first element"
            )
        else:
            return  # the first element, or no XML at all


def _decoded(head: bytes) -> str | None:
    """The part's first bytes as text, in the encoding they announce; None when they do not
    start like XML."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return head[len(bom) :].decode(encoding, errors="replace")
    if head[:4].count(0):  # UTF-16 or UTF-32 without a byte-order mark: zeros in every unit
        wide = "utf-32" if head[:4].count(0) == 3 else "utf-16"
        order = "be" if head[:1] == b"\0" else "le"
        text = head.decode(f"{wide}-{order}", errors="replace")
        return text if text.lstrip(" \t\r\n").startswith("<") else None
    text = head.decode("latin-1")  # ASCII-compatible: UTF-8 and the 8-bit encodings alike
    return text if text.lstrip(" \t\r\n").startswith("<") else None


def _refused(name: str, why: str) -> UsageError:
    return UsageError(
        f"{name} was not read: {why}. Nothing was sent.",
        "If the workbook is yours, open it in Excel and save it as a new Excel Workbook (.xlsx), "
        "then use that copy; if it came from elsewhere, do not use it.",
    )
