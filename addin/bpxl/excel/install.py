"""``bpxl addin install`` / ``uninstall``: put the add-in where Excel and xlwings look for it.

- ``bpxl.xlam`` goes into the user's Excel startup folder (XLSTART), so Excel opens it at start
  and the BillingPlatform tab appears. No admin rights are needed.
- ``%USERPROFILE%\\.bpxl\\bpxl.conf`` tells the add-in's xlwings module which Python to run
  (this one, in bpxl's private environment) and where the worksheet functions live.
- The invoice template goes into bpxl's data folder, where New invoice sheet finds it.

``install.ps1`` is a thin wrapper around these steps, which live here so that tests run them on
Linux against a temporary home folder. Both steps first ask ``preflight`` whether the add-in can
work here (64-bit python.org Python, xlwings' DLLs present, Excel closed) and refuse, saying why,
when it cannot. Uninstall removes exactly what install wrote; the user's journals, revert data,
saved sandbox records and connection profiles stay unless ``purge`` asks to delete bpxl's data
folder too.

VBA reads ``bpxl.conf`` and ``target.txt`` with ``Input #`` and ``Line Input #``, in Windows' ANSI
code page, not UTF-8: both are written in that code page, and paths in ``bpxl.conf`` start with
``%LOCALAPPDATA%``-style variables (xlwings expands them), so a user folder such as
``C:\\Users\\Jürgen`` is never spelled out in the file at all.
"""

from __future__ import annotations

import locale
import os
import platform
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .. import template
from ..core.connection import data_dir
from ..core.errors import UsageError
from . import preflight, xlam

UDF_MODULES = "bpxl.excel.udfs"
SANDBOX_LABEL = "SANDBOX (on this computer)"
# Longest first: a path under LOCALAPPDATA is also under USERPROFILE.
FOLDER_VARIABLES = ("LOCALAPPDATA", "APPDATA", "USERPROFILE")
EXCEL_CLASS = r"Excel.Application\CLSID"  # under HKEY_CLASSES_ROOT where Excel is installed


class CannotInstallError(UsageError):
    """The add-in could not work on this computer as it is; the message says what to change."""


@dataclass(frozen=True)
class Places:
    """Where each installed file goes, for one user."""

    home: Path
    startup: Path  # Excel's XLSTART for this user
    settings: Path  # %USERPROFILE%\.bpxl: xlwings settings of the add-in, and the ribbon label
    template: Path

    @property
    def addin(self) -> Path:
        return self.startup / xlam.FILE_NAME

    @property
    def config(self) -> Path:
        return self.settings / f"{xlam.PROJECT_NAME}.conf"

    @property
    def label(self) -> Path:
        return self.settings / "target.txt"

    @classmethod
    def for_user(cls, home: Path | None = None) -> Places:
        home = home or Path.home()
        if sys.platform == "darwin":
            startup = (
                home / "Library/Group Containers/UBF8T346G9.Office/User Content.localized"
                "/Startup.localized/Excel"
            )
        else:
            appdata = Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming")
            startup = appdata / "Microsoft" / "Excel" / "XLSTART"
        return cls(home, startup, home / ".bpxl", data_dir() / "invoices-template.xlsx")


def built_addin() -> Path:
    """The committed add-in: in the source tree, or where pip installed the package's data."""
    for candidate in (xlam.BUILT, Path(sys.prefix) / "share" / "bpxl" / "bpxl.xlam"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("bpxl.xlam is missing from this installation; reinstall bpxl.")


def interpreter() -> Path:
    """The Python the add-in runs: this one, windowless (pythonw) where there is one."""
    python = Path(sys.executable)
    windowless = python.with_name("pythonw.exe")
    return windowless if windowless.exists() else python


def ansi_code_page() -> str:
    """The code page VBA's file statements use: Windows' ANSI code page (cp1252 for Western
    European languages). Elsewhere (developers, tests) cp1252 stands in for it."""
    return locale.getencoding() if sys.platform == "win32" else "cp1252"


def write_ansi(path: Path, text: str, code_page: str | None = None) -> None:
    """Write ``text`` for VBA to read; a letter the code page lacks becomes "?"."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.replace("\r\n", "\n").replace("\n", "\r\n")
    path.write_bytes(data.encode(code_page or ansi_code_page(), errors="replace"))


def with_variables(path: str, environ: Mapping[str, str]) -> str:
    """``path`` starting with the first of ``FOLDER_VARIABLES`` whose folder holds it."""
    for name in FOLDER_VARIABLES:
        folder = environ.get(name, "").rstrip("\\/")
        rest = path[len(folder) :]
        if folder and path.lower().startswith(folder.lower()) and rest[:1] in ("\\", "/"):
            return f"%{name}%{rest}"
    return path


def config_text(
    python: Path, environ: Mapping[str, str] | None = None, code_page: str | None = None
) -> str:
    """bpxl.conf for the add-in's xlwings module, in the format VBA's ``Write #`` gives."""
    environ = os.environ if environ is None else environ
    key = "INTERPRETER_MAC" if sys.platform == "darwin" else "INTERPRETER_WIN"
    settings = {
        key: with_variables(str(python), environ),
        "UDF MODULES": UDF_MODULES,
        "USE UDF SERVER": "True",
        # xlwings' default puts the workbook's folder on Python's path: for a workbook opened
        # from OneDrive, SharePoint or Teams that folder is an https URL, which xlwings fails to
        # map without settings, and Python does not start. bpxl imports nothing from there.
        "ADD_WORKBOOK_TO_PYTHONPATH": "False",
    }
    text = "".join(f'"{name}","{value}"\r\n' for name, value in settings.items())
    try:
        text.encode(code_page or ansi_code_page())
    except UnicodeEncodeError:
        raise CannotInstallError(
            f"Excel cannot read the folder name {settings[key]!r}: it has letters outside "
            "Windows' character set for this language.",
            "run install.ps1 again (it puts bpxl's Python under %LOCALAPPDATA%).",
        ) from None
    return text


def check(machine: preflight.Machine) -> None:
    """Refuse, with every reason and its way out, when the add-in could not work here."""
    found = preflight.problems(machine)
    if found:
        raise CannotInstallError("\n".join(found))


def install(
    places: Places,
    machine: preflight.Machine | None = None,
    python: Path | None = None,
    environ: Mapping[str, str] | None = None,
    code_page: str | None = None,
) -> list[Path]:
    """Install for one user; returns the files written. Running it again updates them."""
    check(machine or preflight.Machine.this())
    config = config_text(python or interpreter(), environ, code_page)
    places.startup.mkdir(parents=True, exist_ok=True)
    places.settings.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(built_addin(), places.addin)
    places.config.write_bytes(config.encode(code_page or ansi_code_page()))
    if not places.label.exists():  # in plain ASCII: the same in every code page
        write_ansi(places.label, SANDBOX_LABEL + "\n")
    template.write(places.template)
    return [places.addin, places.config, places.label, places.template]


def uninstall(
    places: Places, machine: preflight.Machine | None = None, purge: bool = False
) -> list[Path]:
    """Remove what ``install`` wrote (and folders it leaves empty); returns what was removed.

    The journals (what a send that stopped mid-way did), the revert data and the sandbox's
    records stay, so Recover and Revert still work after a reinstall; ``purge`` deletes them too
    (everything in bpxl's data folder but a ``venv`` that install.ps1 removes itself)."""
    if (machine or preflight.Machine.this()).excel_running:
        raise CannotInstallError(preflight.EXCEL_OPEN)  # the add-in file is locked
    removed = []
    for path in (places.addin, places.config, places.label, places.template):
        if path.exists():
            path.unlink()
            removed.append(path)
    for folder in (places.settings, places.startup, *places.startup.parents):
        if folder == places.home or places.home not in folder.parents:
            break  # never above the user's own folder
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # left empty by us: install made it (Excel makes it again if needed)
    if purge:
        removed += _purge(places.template.parent)
    return removed


def _purge(data: Path) -> list[Path]:
    removed = []
    for path in sorted(data.iterdir()) if data.is_dir() else []:
        if path.name == "venv":
            continue  # the running Python: install.ps1 deletes it once this process has ended
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
        removed.append(path)
    return removed


def refuse_without_excel(windows: bool | None = None, excel: bool | None = None) -> None:
    """``bpxl addin install`` needs Excel for Windows: elsewhere (macOS, Linux) or on a Windows
    without Excel there is nothing to add the tab to, and files written into a made-up XLSTART
    would only mislead. The command line works there; the message says so."""
    if windows is None:
        windows = sys.platform == "win32"
    if not windows:
        raise CannotInstallError(
            "The BillingPlatform tab is an add-in for Excel for Windows, and this computer runs "
            f"{platform.system() or sys.platform}. Nothing was installed.",
            "Use the command line here (bpxl push FILE.xlsx --op create); on a Windows computer "
            "with Excel, run install.ps1.",
        )
    if not (excel_registered() if excel is None else excel):
        raise CannotInstallError(
            "Excel is not installed on this computer (Windows knows no Excel.Application), so "
            "there is no Excel to add the BillingPlatform tab to. Nothing was installed.",
            "Install Excel (Microsoft 365 or Excel 2016 or later, 64-bit), then run install.ps1 "
            "again. The command line works without Excel.",
        )


def excel_registered() -> bool:
    """Whether Excel for Windows is installed: it registers ``Excel.Application`` for COM."""
    if sys.platform != "win32":
        return False
    # Windows' registry: no test on Linux runs the lines below, so they carry mutmut's pragma
    # (benchmarks/results.md lists them); tests/test_install_rules.py runs the line above.
    import winreg

    try:
        key = winreg.OpenKey(winreg.HKEY_CLASSES_ROOT, EXCEL_CLASS)  # pragma: no mutate
        winreg.CloseKey(key)  # pragma: no mutate
    except OSError:
        return False  # pragma: no mutate
    return True  # pragma: no mutate
