"""``bpxl addin install`` / ``uninstall``: put the add-in where Excel and xlwings look for it.

- ``bpxl.xlam`` goes into the user's Excel startup folder (XLSTART), so Excel opens it at start
  and the BillingPlatform tab appears. No admin rights are needed.
- ``%USERPROFILE%\\.bpxl\\bpxl.conf`` tells the add-in's xlwings module which Python to run
  (this one, in bpxl's private environment) and where the worksheet functions live.
- The invoice template goes into bpxl's data folder, where New invoice sheet finds it.

``install.ps1`` is a thin wrapper around these steps, which live here so that tests run them on
Linux against a temporary home folder. Uninstall removes exactly what install wrote; the user's
journals, saved sandbox records and connection profiles stay.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from . import template, xlam
from .connection import data_dir

UDF_MODULES = "bpxl.udfs"
SANDBOX_LABEL = "SANDBOX (on this computer)"


@dataclass(frozen=True)
class Places:
    """Where each installed file goes, for one user."""

    home: Path
    startup: Path  # Excel's XLSTART for this user
    settings: Path  # %USERPROFILE%\.bpxl: xlwings settings of the add-in, and the ribbon label
    template: Path

    @property
    def addin(self) -> Path:
        return self.startup / "bpxl.xlam"

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


def install(places: Places) -> list[Path]:
    """Install for one user; returns the files written. Running it again updates them."""
    places.startup.mkdir(parents=True, exist_ok=True)
    places.settings.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(built_addin(), places.addin)
    key = "INTERPRETER_MAC" if sys.platform == "darwin" else "INTERPRETER_WIN"
    settings = {key: str(interpreter()), "UDF MODULES": UDF_MODULES, "USE UDF SERVER": "True"}
    # The format VBA's Write # statement uses, which the add-in's xlwings module reads.
    lines = "".join(f'"{name}","{value}"\r\n' for name, value in settings.items())
    places.config.write_text(lines, encoding="utf-8", newline="")
    if not places.label.exists():
        places.label.write_text(SANDBOX_LABEL + "\n", encoding="utf-8")
    template.write(places.template)
    return [places.addin, places.config, places.label, places.template]


def uninstall(places: Places) -> list[Path]:
    """Remove what ``install`` wrote (and folders it leaves empty); returns what was removed."""
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
    return removed
