"""The add-in's preflight (excel/preflight.py) in the very words each problem is told, the facts
read from this Python, and the script's output and exit code; install's refusals built on it are
in test_install.py."""

from __future__ import annotations

import dataclasses
import struct
import sys
from pathlib import Path

import pytest

from bpxl.excel import preflight

from .test_install import GOOD  # a 64-bit python.org Python with xlwings' DLLs, Excel closed

WAY_OUT = (
    "install Python from python.org (Windows installer (64-bit), 'Install for me only' needs no "
    "administrator rights) or run `winget install Python.Python.3.12`, then run install.ps1 again"
)
OLD = f"bpxl needs Python 3.11 or newer; this is Python 3.10. To fix it, {WAY_OUT}."
STORE = (
    "This Python comes from the Microsoft Store: it keeps its files in a private copy of AppData "
    f"that Excel cannot see, so the BillingPlatform tab would not work. To fix it, {WAY_OUT}."
)
EXCEL_OPEN = (
    "Excel is open. Windows locks the add-in while Excel runs, and Excel loads it only when it "
    "starts. To fix it, save your workbooks, close every Excel window (check the taskbar), then "
    "run this again."
)


def not_x64(kind: str) -> str:
    return (
        f"bpxl's Excel add-in needs 64-bit (x64) Python from python.org; this is {kind}, for "
        "which the Excel connection (xlwings) has no DLLs, so every button would fail. To fix "
        f"it, {WAY_OUT}."
    )


def missing(names: str) -> str:
    return (
        f"The Excel connection's files ({names}) are missing from bpxl's Python environment, so "
        "every button would fail. To fix it, run install.ps1 again (it reinstalls the "
        "environment)."
    )


def told(**facts: object) -> list[str]:
    return preflight.problems(dataclasses.replace(GOOD, **facts))  # type: ignore[arg-type]


def test_each_problem_in_its_words() -> None:
    assert told() == []
    assert told(version=(3, 10)) == [OLD]
    assert told(version=(3, 11)) == [] and told(version=(4, 0)) == []
    assert told(base_prefix=r"C:\Program Files\WindowsApps\Python312") == [STORE]
    assert told(base_prefix=r"C:\x\PythonSoftwareFoundation.Python.3.12_qbz5") == [STORE]
    assert told(pointer_bits=32, machine="x86") == [not_x64("32-bit cpython on x86")]
    assert told(machine="ARM64") == [not_x64("64-bit cpython on ARM64")]
    assert told(machine="x86_64") == []
    assert told(pointer_bits=32) == [not_x64("32-bit cpython on AMD64")]
    assert told(implementation="pypy") == [not_x64("64-bit pypy on AMD64")]
    assert told(excel_running=True) == [EXCEL_OPEN]
    assert told(dlls=frozenset({"xlwings64-0.37.8.dll"})) == [missing("xlwings32-0.37.8.dll")]
    assert told(dlls=frozenset()) == [missing("xlwings32-0.37.8.dll, xlwings64-0.37.8.dll")]


def test_every_problem_at_once_and_none_off_windows_but_the_version() -> None:
    everything = dataclasses.replace(
        GOOD, version=(3, 9), machine="ARM64", dlls=frozenset(), excel_running=True
    )
    assert preflight.problems(everything) == [
        OLD.replace("3.10", "3.9"),
        not_x64("64-bit cpython on ARM64"),
        EXCEL_OPEN,
    ]  # no DLL is looked for on a Python that cannot have them
    store = dataclasses.replace(GOOD, base_prefix=r"C:\WindowsApps\Python", dlls=frozenset())
    assert preflight.problems(store) == [STORE]
    elsewhere = dataclasses.replace(everything, windows=False)
    assert preflight.problems(elsewhere) == [OLD.replace("3.10", "3.9")]


def test_before_install_the_dlls_are_not_looked_for() -> None:
    bare = dataclasses.replace(GOOD, dlls=frozenset())
    assert preflight.problems(bare, with_xlwings=False) == []


def test_the_dlls_are_those_of_the_version_named() -> None:
    assert preflight.needed_dlls("1.2.3") == {"xlwings64-1.2.3.dll", "xlwings32-1.2.3.dll"}


def test_this_python_is_read_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "Scripts").mkdir()
    (tmp_path / "xlwings64-0.37.8.dll").write_bytes(b"")
    (tmp_path / "Scripts" / "xlwings32-0.37.8.dll").write_bytes(b"")
    (tmp_path / "other.dll").write_bytes(b"")
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    this = preflight.Machine.this()
    assert this.windows is (sys.platform == "win32") and this.excel_running is False
    assert this.version == sys.version_info[:2] and this.implementation == "cpython"
    assert this.pointer_bits == struct.calcsize("P") * 8 and this.base_prefix == sys.base_prefix
    assert this.dlls == {"xlwings64-0.37.8.dll", "xlwings32-0.37.8.dll"}


def test_the_script_prints_each_problem_and_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """This Python taken for a Windows one without xlwings' DLLs (and no tasklist to ask)."""
    monkeypatch.setattr(sys, "argv", ["preflight.py"])
    assert preflight.main() == 0 and capsys.readouterr().out == ""  # off Windows: fine
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "platform", "win32")
    assert preflight.main(["--before-install"]) == 0 and capsys.readouterr().out == ""
    assert preflight.main([]) == 1
    assert capsys.readouterr().out == missing("xlwings32-0.37.8.dll, xlwings64-0.37.8.dll") + "\n"
    monkeypatch.setattr(sys, "argv", ["preflight.py", "--before-install"])
    assert preflight.main() == 0
