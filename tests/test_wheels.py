"""``bpxl addin wheels FOLDER`` (excel/wheels.py) filling a folder through a stand-in for pip: a
script that answers ``python -m pip wheel`` and ``pip download`` as pip does, from a small
index of wheels, and logs each call. The rules on wheels' metadata are in test_install.py."""

from __future__ import annotations

import json
import os
import sys
import zipfile
from pathlib import Path

import pytest

from bpxl.core.errors import UsageError
from bpxl.excel import wheels

# What each wheel needs, as its METADATA says it (markers included).
INDEX = {
    "bpxl": ["xlwings==0.37.8", "keyring"],
    "xlwings": ['pywin32>=224; platform_system == "Windows"'],
    "keyring": ['pywin32-ctypes>=0.2.0; sys_platform == "win32"', "jaraco.classes"],
    "pywin32": [],
    "pywin32-ctypes": ['comtypes; sys_platform == "win32"'],  # a second round
    "jaraco.classes": [],
    "comtypes": [],
}
PIP = """#!{python}
import json, os, re, sys, zipfile
from pathlib import Path
args = sys.argv[1:]
with open({log!r}, "a") as log:
    log.write(json.dumps(args) + "\\n")
index = json.loads({index!r})
fail = os.environ.get("FAKE_PIP_FAIL", "")
if fail and fail in " ".join(args):
    sys.exit(1)
def wheel(folder, name):
    path = Path(folder) / (name.replace("-", "_") + "-1.0-py3-none-any.whl")
    lines = "".join("Requires-Dist: " + r + "\\n" for r in index[name])
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(name + "-1.0.dist-info/METADATA", "Name: " + name + "\\n" + lines)
def fetch(folder, name):
    wheel(folder, name)
    for need in index[name]:
        if ";" not in need:
            fetch(folder, re.split(r"[<>=!\\[ ]", need)[0])
if args[:3] == ["-m", "pip", "wheel"]:
    wheel(args[args.index("--wheel-dir") + 1], "bpxl")
elif args[:3] == ["-m", "pip", "download"]:
    dest = args[args.index("--dest") + 1]
    wanted = args[args.index("cp") + 1:]
    for want in wanted:
        name = "bpxl" if want.endswith(".whl") else re.split(r"[<>=!;\\[ ]", want)[0]
        if name in os.environ.get("FAKE_PIP_GHOSTS", "").split():
            continue  # "downloaded", yet never there
        fetch(dest, name)
else:
    sys.exit(2)
"""


@pytest.fixture
def pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process's Python replaced, for wheels' commands, by the stand-in; its log."""
    log = tmp_path / "pip.log"
    script = tmp_path / "python"
    script.write_text(PIP.format(python=sys.executable, log=str(log), index=json.dumps(INDEX)))
    script.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(script))
    return log


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def names(folder: Path) -> list[str]:
    return sorted(p.name.split("-")[0] for p in folder.glob("*.whl"))


def test_a_folder_gets_bpxl_and_every_wheel_it_needs_on_windows(pip: Path, tmp_path: Path) -> None:
    folder = tmp_path / "new" / "wheels"
    assert wheels.fill(folder) == folder.resolve()
    assert names(folder) == [
        "bpxl", "comtypes", "jaraco.classes", "keyring", "pywin32", "pywin32_ctypes", "xlwings"
    ]  # fmt: skip
    done = calls(pip)
    assert done[0] == [
        "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(folder.resolve()), str(wheels.SOURCE)
    ]  # fmt: skip
    built = str(folder.resolve() / "bpxl-1.0-py3-none-any.whl")
    first = done[1:5]
    assert first[0] == [
        "-m", "pip", "download", "--dest", str(folder.resolve()), "--only-binary=:all:",
        "--platform", "win_amd64", "--python-version", "3.11", "--implementation", "cp", built,
    ]  # fmt: skip
    assert [c[-1] for c in first] == [built] * 4
    assert [c[c.index("--python-version") + 1] for c in first] == ["3.11", "3.12", "3.13", "3.14"]
    rounds = [c[c.index("cp") + 1 :] for c in done[5:]]
    assert rounds == [["pywin32-ctypes>=0.2.0", "pywin32>=224"]] * 4 + [["comtypes"]] * 4


def test_the_newest_bpxl_wheel_is_the_one_fetched_for(pip: Path, tmp_path: Path) -> None:
    folder = tmp_path / "wheels"
    folder.mkdir()
    old = folder / "bpxl-9.9-py3-none-any.whl"  # a later version left by another checkout
    with zipfile.ZipFile(old, "w") as archive:
        archive.writestr("bpxl-9.9.dist-info/METADATA", "Name: bpxl\n")
    os.utime(old, (1, 1))  # long before this build
    wheels.fill(folder)
    assert calls(pip)[1][-1] == str(folder / "bpxl-1.0-py3-none-any.whl")


@pytest.mark.parametrize("failing", ["pip wheel", "--python-version 3.13", "comtypes"])
def test_pip_failing_at_any_step_is_said_in_words(
    pip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    monkeypatch.setenv("FAKE_PIP_FAIL", failing)
    folder = tmp_path / "wheels"
    with pytest.raises(UsageError) as refused:
        wheels.fill(folder)
    assert refused.value.message == (
        f"pip could not fetch every wheel bpxl needs into {folder.resolve()} (pip said why above)."
    )
    assert refused.value.hint == (
        "Check this computer's internet connection (pip uses HTTPS_PROXY for a proxy), then run "
        "this again."
    )
    if failing == "pip wheel":
        assert len(calls(pip)) == 1  # nothing downloaded for a wheel not built
    if failing != "comtypes":  # which fails in the second round of Windows' own
        # Nothing more is fetched once pip has failed: not Windows' own dependencies either.
        assert not any("pywin32>=224" in call for call in calls(pip))


def test_wheels_that_keep_needing_more_stop_after_the_last_round(
    pip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A download that never brings what is missing (here: ghost fetched, never there)."""
    monkeypatch.setenv("FAKE_PIP_GHOSTS", "ghost")
    folder = tmp_path / "wheels"
    folder.mkdir()
    with zipfile.ZipFile(folder / "stuck-1.0-py3-none-any.whl", "w") as archive:
        archive.writestr(
            "stuck-1.0.dist-info/METADATA", 'Name: stuck\nRequires-Dist: ghost; os_name == "nt"\n'
        )
    with pytest.raises(UsageError):
        wheels.fill(folder)
    asked = [c for c in calls(pip) if "ghost" in c]
    assert len(asked) == wheels.ROUNDS * len(wheels.PYTHONS)
