"""The .xlam build: the add-in Excel loads, made from the text sources in ``addin/xlam/``.

Its parts: ``customUI.xml`` (the ribbon), ``Bpxl.bas`` (the ribbon callbacks and the UDF
wrappers), the VBA module of the installed xlwings (RunPython and the UDF plumbing, named for this
add-in) and the workbook shell of xlwings' ribbon add-in template. Zip entries carry a fixed date
and the VBA project is built reproducibly, so a rebuild of unchanged sources gives the same bytes
and a test can tell when the committed ``addin/bpxl.xlam`` is stale.
"""

from __future__ import annotations

import os
import re
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from . import vba

PROJECT_NAME = "bpxl"  # xlwings reads its settings from %USERPROFILE%\.bpxl\bpxl.conf
FILE_NAME = f"{PROJECT_NAME}.xlam"  # as installed: what qualifies its macros for Application.Run


def macro(name: str) -> str:
    """A macro of the add-in as ``Application.Run`` and ``OnTime`` must name it: qualified with
    the add-in's file, since an unqualified name is looked for in the active workbook only."""
    return f"'{FILE_NAME}'!{name}"


SOURCES = Path(__file__).resolve().parents[2] / "xlam"
BUILT = Path(__file__).resolve().parents[2] / "bpxl.xlam"
_STAMP = (2026, 1, 1, 0, 0, 0)
# customUI.xml is in the 2006/01 namespace (Office 2007 and later), whose part Office finds by
# the 2006 relationship type; the 2007 type is for customUI14.xml (the 2009/07 namespace). The
# template's .rels has the 2007 type; xlwings rewrites its own add-in to the 2006 one, as we do.
RIBBON_RELATIONSHIP = "http://schemas.microsoft.com/office/2006/relationships/ui/extensibility"
_TEMPLATE_RIBBON_RELATIONSHIP = (
    "http://schemas.microsoft.com/office/2007/relationships/ui/extensibility"
)


def _xlwings_dir() -> Path:
    import xlwings

    return Path(xlwings.__file__).resolve().parent


def xlwings_module() -> str:
    """xlwings' standalone VBA module, with this add-in's name for its settings."""
    text = (_xlwings_dir() / "xlwings_custom_addin.bas").read_text(encoding=vba.CODE_PAGE)
    placeholder = 'PROJECT_NAME As String = "myaddin"'
    if text.count(placeholder) != 1:
        raise RuntimeError("This xlwings version's add-in module has no PROJECT_NAME to set.")
    return text.replace(placeholder, f'PROJECT_NAME As String = "{PROJECT_NAME}"')


def described_functions() -> str:
    """The VBA sub that describes the worksheet functions to Excel's Function Wizard (fx): each
    function's first docstring line and its arguments (``udfs.ARGUMENTS``), so the wizard says
    what the Python says. ThisWorkbook's Workbook_Open calls it (Excel keeps no description of a
    VBA function otherwise; 255 characters at most each)."""
    from . import udfs

    def text(words: str) -> str:
        return '"' + words.replace('"', '""') + '"'

    lines = [
        "Sub BpxlDescribeFunctions()",
        "    ' Written by the build from bpxl.excel.udfs: what Excel's Function Wizard shows.",
        "    On Error Resume Next  ' never stop the add-in from opening over a description",
    ]
    for name, arguments in udfs.ARGUMENTS.items():
        doc = " ".join((getattr(udfs, name).__doc__ or "").strip().split("\n\n")[0].split())
        described = f", ArgumentDescriptions:=Array({', '.join(map(text, arguments))})"
        lines.append(
            f"    Application.MacroOptions Macro:={text(name)}, Description:={text(doc)}, "
            f"Category:={text('BillingPlatform')}{described if arguments else ''}"
        )
    return "\n".join([*lines, "End Sub", ""])


def modules() -> tuple[dict[str, str], dict[str, str]]:
    """(standard modules, document modules) of the add-in's VBA project: name -> source."""
    bpxl = (SOURCES / "Bpxl.bas").read_text(encoding=vba.CODE_PAGE)
    standard = {
        "xlwings": xlwings_module(),
        "Bpxl": bpxl.rstrip("\n") + "\n\n" + described_functions(),
    }
    documents = {
        name: (SOURCES / f"{name}.cls").read_text(encoding=vba.CODE_PAGE)
        for name in ("ThisWorkbook", "Sheet1")
    }
    return standard, documents


def build(out: Path = BUILT) -> Path:
    """Write the .xlam (atomically) and return its path."""
    standard, documents = modules()
    project = vba.build_project(standard, documents)
    replacements: dict[str, Callable[[bytes], bytes]] = {
        "customUI/customUI.xml": lambda _: (SOURCES / "customUI.xml").read_bytes(),
        "_rels/.rels": _package_relationships,
        "xl/vbaProject.bin": lambda _: project,
        # The settings sheet stays inactive (its name starts with "_"): settings live in the
        # user's bpxl.conf, written by `bpxl addin install`.
        "xl/workbook.xml": _workbook_xml,
        "xl/worksheets/sheet1.xml": lambda data: data.replace(
            b'codeName="Sheet2"', b'codeName="Sheet1"'
        ),
        "docProps/core.xml": lambda data: data.replace(b"Felix Zumstein", b"bpxl").replace(
            b"<dc:creator>Felix</dc:creator>", b"<dc:creator>bpxl</dc:creator>"
        ),
    }
    handle, temporary = tempfile.mkstemp(suffix=".xlam", dir=out.parent)
    os.close(handle)
    try:
        with (
            zipfile.ZipFile(_xlwings_dir() / "quickstart_addin_ribbon.xlam") as shell,
            zipfile.ZipFile(temporary, "w") as xlam,
        ):
            for name in shell.namelist():
                data = shell.read(name)
                if name in replacements:
                    data = replacements[name](data)
                entry = zipfile.ZipInfo(name, date_time=_STAMP)
                entry.compress_type = zipfile.ZIP_DEFLATED
                xlam.writestr(entry, data)
        os.replace(temporary, out)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return out


def _workbook_xml(data: bytes) -> bytes:
    text = data.decode("utf-8").replace('name="_myaddin.conf"', f'name="_{PROJECT_NAME}.conf"')
    # The template's author's folder (an mc:AlternateContent naming it): not ours to ship.
    return re.sub(r"<mc:AlternateContent[\s\S]*?</mc:AlternateContent>", "", text).encode()


def _package_relationships(data: bytes) -> bytes:
    text = data.decode("utf-8")
    if text.count(_TEMPLATE_RIBBON_RELATIONSHIP) != 1:
        raise RuntimeError("This xlwings version's add-in template has no ribbon to point at.")
    return text.replace(_TEMPLATE_RIBBON_RELATIONSHIP, RIBBON_RELATIONSHIP).encode("utf-8")
