"""``python -m bpxl.excel.wheels FOLDER``: fill a folder with every wheel install.ps1 needs offline.

Corporate machines often cannot reach PyPI (a proxy that wants Windows sign-in, which pip cannot
do, or no internet at all). On a machine that has the internet, this puts into FOLDER bpxl's own
wheel and the wheels of everything it depends on, for 64-bit Windows and each Python that bpxl
supports (3.11 to 3.14: a wheel with compiled code is made for one Python version); on the
accountant's machine ``install.ps1 -Wheels FOLDER`` then installs from that folder alone
(``pip install --no-index --find-links FOLDER``). It runs pip, so it needs no more than the
Python that runs it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

PYTHONS = ("3.11", "3.12", "3.13", "3.14")  # every Python 3.11+ install.ps1 may find
PLATFORM = "win_amd64"  # 64-bit Windows: the only Python the add-in accepts (preflight)
SOURCE = Path(__file__).resolve().parents[3]  # the folder holding bpxl's pyproject.toml


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


def download_commands(folder: Path, wheel: Path) -> list[list[str]]:
    """pip fetching the wheels of everything bpxl's ``wheel`` needs into ``folder``, for 64-bit
    Windows and each supported Python (binary wheels only: nothing is built on the user's side)."""
    return [
        [
            sys.executable, "-m", "pip", "download", "--dest", str(folder),
            "--only-binary=:all:", "--platform", PLATFORM, "--python-version", version,
            "--implementation", "cp", str(wheel),
        ]
        for version in PYTHONS
    ]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if len(arguments) != 1:
        print("usage: python -m bpxl.excel.wheels FOLDER  (a folder for install.ps1 -Wheels)")
        return 2
    folder = Path(arguments[0]).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    if subprocess.run(build_command(folder), check=False).returncode == 0:
        [wheel] = sorted(folder.glob("bpxl-*.whl"), key=lambda p: p.stat().st_mtime)[-1:]
        if all(
            subprocess.run(c, check=False).returncode == 0 for c in download_commands(folder, wheel)
        ):
            print(
                f"{folder} holds what install.ps1 -Wheels needs: copy it to the computer to "
                "install on."
            )
            return 0
    print(f"pip could not fetch what bpxl needs into {folder}; see pip's message above.")
    return 1


if __name__ == "__main__":
    sys.exit(main())
