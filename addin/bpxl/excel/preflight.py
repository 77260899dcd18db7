"""Can the Excel add-in work with this Python on this computer? Checked before anything is written.

Each rule stops an install that would otherwise half-work, with the buttons or the worksheet
functions failing later in Excel where the cause is hard to see:

- Python 3.11 or newer: xlwings 0.37.8, which the add-in embeds, needs it.
- 64-bit (x64) CPython: xlwings' wheels for 32-bit and ARM64 Python come without the DLLs that
  Excel's side of the add-in loads (every button and formula would fail).
- Not the Microsoft Store's Python: it writes into a private, virtualised copy of AppData, so
  Excel and PowerShell would not see the environment or the add-in installed "there".
- xlwings' DLLs are in the environment (the wheel actually installed is the right one).
- Excel is closed: Windows locks the add-in file while Excel runs, and Excel reads the add-in
  only when it starts.

The facts come from :meth:`Machine.this`; tests pass other facts to :func:`problems`. The module
uses only the standard library, so ``install.ps1`` runs it as a script with the Python it found,
before it makes bpxl's environment (``--before-install``: xlwings is not there yet), and
``bpxl addin install`` / ``uninstall`` run it again.
"""

from __future__ import annotations

import platform
import struct
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

XLWINGS_VERSION = "0.37.8"  # pyproject.toml pins this version; the add-in embeds its VBA
X64_MACHINES = {"amd64", "x86_64"}
STORE_MARKERS = ("\\windowsapps\\", "pythonsoftwarefoundation.python.")
WAY_OUT = (
    "install Python from python.org (Windows installer (64-bit), 'Install for me only' needs no "
    "administrator rights) or run `winget install Python.Python.3.12`, then run install.ps1 again"
)

EXCEL_OPEN = (
    "Excel is open. Windows locks the add-in while Excel runs, and Excel loads it only when it "
    "starts. To fix it, save your workbooks, close every Excel window (check the taskbar), then "
    "run this again."
)


@dataclass(frozen=True)
class Machine:
    """What decides whether the add-in can work: this Python, its environment, Excel."""

    windows: bool
    version: tuple[int, int]
    implementation: str  # sys.implementation.name
    machine: str  # platform.machine(): AMD64 on x64 Windows, ARM64, x86
    pointer_bits: int
    base_prefix: str  # the installed Python a virtual environment was made from
    dlls: frozenset[str]  # xlwings DLL file names found in the environment
    excel_running: bool

    @classmethod
    def this(cls) -> Machine:
        windows = sys.platform == "win32"
        prefix = Path(sys.prefix)
        folders = (prefix, prefix / "Scripts")  # xlwings' VBA looks next to python(w).exe and above
        return cls(
            windows=windows,
            version=(sys.version_info.major, sys.version_info.minor),
            implementation=sys.implementation.name,
            machine=platform.machine(),
            pointer_bits=struct.calcsize("P") * 8,
            base_prefix=sys.base_prefix,
            dlls=frozenset(p.name for f in folders if f.is_dir() for p in f.glob("xlwings*.dll")),
            excel_running=windows and excel_running(),
        )


def excel_running() -> bool:
    """Whether an EXCEL.EXE runs in this Windows session (tasklist ships with Windows).

    tasklist writes in the console's OEM code page (cp850 on a German Windows: "ausgeführt" has
    a byte cp1252 and UTF-8 cannot decode), so its output is read as bytes, in CSV form, where
    the image name is plain ASCII in quotes whatever the language."""
    try:
        listing = subprocess.run(
            ["tasklist", "/FI", "IMAGENAME eq EXCEL.EXE", "/FO", "CSV", "/NH"],
            capture_output=True,
            timeout=30,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False  # nothing to go by; the copy itself will say if the add-in is locked
    return b'"excel.exe"' in (listing or b"").lower()


def needed_dlls(version: str = XLWINGS_VERSION) -> set[str]:
    """The DLLs xlwings' VBA loads: one for 64-bit Office (the default), one for 32-bit."""
    return {f"xlwings64-{version}.dll", f"xlwings32-{version}.dll"}


def problems(machine: Machine, *, with_xlwings: bool = True) -> list[str]:
    """What stops the add-in from working here, each in plain words with the way out; [] if
    nothing does. Off Windows only the Python version counts (developers and tests)."""
    found = []
    if machine.version < (3, 11):
        found.append(
            f"bpxl needs Python 3.11 or newer; this is Python {machine.version[0]}."
            f"{machine.version[1]}. To fix it, {WAY_OUT}."
        )
    if not machine.windows:
        return found
    store = any(marker in machine.base_prefix.lower() for marker in STORE_MARKERS)
    if store:
        found.append(
            "This Python comes from the Microsoft Store: it keeps its files in a private copy of "
            "AppData that Excel cannot see, so the BillingPlatform tab would not work. To fix "
            f"it, {WAY_OUT}."
        )
    x64 = machine.machine.lower() in X64_MACHINES and machine.pointer_bits == 64
    if machine.implementation != "cpython" or not x64:
        kind = f"{machine.pointer_bits}-bit {machine.implementation} on {machine.machine}"
        found.append(
            f"bpxl's Excel add-in needs 64-bit (x64) Python from python.org; this is {kind}, for "
            "which the Excel connection (xlwings) has no DLLs, so every button would fail. To "
            f"fix it, {WAY_OUT}."
        )
    if with_xlwings and not store and x64:
        missing = sorted(needed_dlls() - machine.dlls)
        if missing:
            found.append(
                f"The Excel connection's files ({', '.join(missing)}) are missing from bpxl's "
                "Python environment, so every button would fail. To fix it, run install.ps1 again "
                "(it reinstalls the environment)."
            )
    if machine.excel_running:
        found.append(EXCEL_OPEN)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """``python preflight.py [--before-install]``: print the problems, exit 1 if there are any.

    They go to standard output: Windows PowerShell 5.1 turns a native command's standard error
    into an exception when the script captures it."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    found = problems(Machine.this(), with_xlwings="--before-install" not in arguments)
    for problem in found:
        print(problem)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
