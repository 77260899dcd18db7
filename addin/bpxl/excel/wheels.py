"""``bpxl addin wheels FOLDER``: fill a folder with every wheel install.ps1 needs offline.

Corporate machines often cannot reach PyPI (a proxy that wants Windows sign-in, which pip cannot
do, or no internet at all). On a machine that has the internet, this puts into FOLDER bpxl's own
wheel and the wheels of everything it depends on, for 64-bit Windows and each Python that bpxl
supports (3.11 to 3.14: a wheel with compiled code is made for one Python version), Windows'
own dependencies included (pywin32 for xlwings, pywin32-ctypes for keyring: pip leaves out what
only Windows needs when it runs elsewhere, so they are read from the wheels' metadata); on the
accountant's machine ``install.ps1 -Wheels FOLDER`` then installs from that folder alone
(``pip install --no-index --find-links FOLDER``). It runs pip, so it needs no more than the
Python that runs it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

from ..core.errors import UsageError

PYTHONS = ("3.11", "3.12", "3.13", "3.14")  # every Python 3.11+ install.ps1 may find
PLATFORM = "win_amd64"  # 64-bit Windows: the only Python the add-in accepts (preflight)
SOURCE = Path(__file__).resolve().parents[3]  # the folder holding bpxl's pyproject.toml
WINDOWS = {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt"}
ROUNDS = 5  # Windows' own dependencies may have their own: fetched until none is missing


def build_command(folder: Path, source: Path = SOURCE) -> list[str]:
    """pip making bpxl's own wheel (pure Python: one for every platform) into ``folder``."""
    return [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--wheel-dir",
        str(folder),
        str(source),
    ]


def download_commands(folder: Path, requirements: Sequence[str]) -> list[list[str]]:
    """pip fetching the wheels of ``requirements`` (bpxl's wheel, or names) and of everything
    they need into ``folder``, for 64-bit Windows and each supported Python (binary wheels only:
    nothing is built on the user's side)."""
    return [
        [
            sys.executable, "-m", "pip", "download", "--dest", str(folder),
            "--only-binary=:all:", "--platform", PLATFORM, "--python-version", version,
            "--implementation", "cp", *requirements,
        ]
        for version in PYTHONS
    ]  # fmt: skip


def windows_only(folder: Path) -> list[str]:
    """Requirements of the wheels in ``folder`` that only Windows needs and that no wheel there
    provides yet (``pywin32>=224`` for xlwings' ``platform_system == "Windows"``)."""
    try:
        from packaging.requirements import Requirement
    except ImportError:  # pip's own copy: pip is there, it runs this module's commands
        from pip._vendor.packaging.requirements import Requirement  # type: ignore[assignment]

    present = {_name(w.name.split("-")[0]) for w in folder.glob("*.whl")}
    missing = set()
    for wheel in folder.glob("*.whl"):
        for line in _metadata(wheel).splitlines():
            if not line.startswith("Requires-Dist:"):
                continue
            need = Requirement(line.partition(":")[2].strip())
            if need.marker is None or _name(need.name) in present:
                continue
            for version in PYTHONS:
                python = {"python_version": version, "python_full_version": f"{version}.0"}
                on_windows = {**python, **WINDOWS, "extra": ""}
                if need.marker.evaluate(on_windows) and not need.marker.evaluate(
                    {**python, "extra": ""}
                ):
                    missing.add(f"{need.name}{need.specifier}")
    return sorted(missing)


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _metadata(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return archive.read(name).decode("utf-8", errors="replace")


def _fetched(commands: list[list[str]]) -> bool:
    return all(subprocess.run(c, check=False).returncode == 0 for c in commands)


def fill(folder: Path) -> Path:
    """Fill ``folder`` (made if need be) with bpxl's wheel and every wheel it needs on 64-bit
    Windows; return it. Raises ``UsageError`` when pip cannot fetch them."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    fetched = _fetched([build_command(folder)])
    if fetched:
        [wheel] = sorted(folder.glob("bpxl-*.whl"), key=lambda p: p.stat().st_mtime)[-1:]
        fetched = _fetched(download_commands(folder, [str(wheel)]))
    for _ in range(ROUNDS):
        missing = windows_only(folder) if fetched else []
        if not missing:
            break
        fetched = _fetched(download_commands(folder, missing))
    if not fetched or missing:
        raise UsageError(
            f"pip could not fetch every wheel bpxl needs into {folder} (pip said why above).",
            "Check this computer's internet connection (pip uses HTTPS_PROXY for a proxy), then "
            "run this again.",
        )
    return folder
