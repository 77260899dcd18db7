"""`bpxl addin install` / `uninstall` on the Windows facts we cannot have here, passed explicitly:
which Python, which DLLs, whether Excel runs, a user folder with non-ASCII letters."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

from bpxl.core import connection
from bpxl.excel import desk, install, preflight, xlam

GOOD = preflight.Machine(
    windows=True,
    version=(3, 12),
    implementation="cpython",
    machine="AMD64",
    pointer_bits=64,
    base_prefix=r"C:\Users\Jürgen\AppData\Local\Programs\Python\Python312",
    dlls=frozenset(preflight.needed_dlls()),
    excel_running=False,
)
JUERGEN = {
    "USERPROFILE": r"C:\Users\Jürgen",
    "APPDATA": r"C:\Users\Jürgen\AppData\Roaming",
    "LOCALAPPDATA": r"C:\Users\Jürgen\AppData\Local",
}
VENV_PYTHON = Path(r"C:\Users\Jürgen\AppData\Local\bpxl\venv\Scripts\pythonw.exe")


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> install.Places:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("APPDATA", str(home / "AppData" / "Roaming"))
    return install.Places.for_user(home)


def test_a_64_bit_python_org_python_with_xlwings_dlls_and_excel_closed_passes() -> None:
    assert preflight.problems(GOOD) == []


@pytest.mark.parametrize(
    ("facts", "words"),
    [
        ({"pointer_bits": 32, "machine": "x86"}, "64-bit (x64) Python"),
        ({"machine": "ARM64"}, "64-bit (x64) Python"),
        ({"implementation": "pypy"}, "64-bit (x64) Python"),
        (
            {"base_prefix": r"C:\Program Files\WindowsApps\PythonSoftwareFoundation.Python.3.12_"},
            "Microsoft Store",
        ),
        ({"dlls": frozenset({"xlwings64-0.37.8.dll"})}, "xlwings32-0.37.8.dll"),
        ({"dlls": frozenset()}, "are missing from bpxl's Python environment"),
        ({"excel_running": True}, "Excel is open"),
        ({"version": (3, 10)}, "Python 3.11 or newer; this is Python 3.10"),
    ],
)
def test_install_refuses_what_would_half_work_and_writes_nothing(
    places: install.Places, facts: dict[str, object], words: str
) -> None:
    machine = dataclasses.replace(GOOD, **facts)  # type: ignore[arg-type]
    with pytest.raises(install.CannotInstallError) as refused:
        install.install(places, machine, VENV_PYTHON, JUERGEN)
    assert words in str(refused.value) and "To fix it" in str(refused.value)
    assert list(places.home.rglob("*")) == []


def test_store_and_32_bit_python_are_told_where_to_get_the_right_one() -> None:
    store = dataclasses.replace(GOOD, base_prefix=r"C:\Program Files\WindowsApps\Python")
    [message] = preflight.problems(store)
    assert "python.org" in message and "winget install Python.Python.3.12" in message
    assert "only" in message  # the per-user installer: no administrator rights


def test_preflight_runs_as_a_plain_script_as_install_ps1_calls_it() -> None:
    script = Path(preflight.__file__)
    done = subprocess.run(
        [sys.executable, str(script), "--before-install"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr  # off Windows only the version counts


def test_config_names_folders_by_variable_and_reads_back_as_ansi_for_juergen(
    places: install.Places,
) -> None:
    install.install(places, GOOD, VENV_PYTHON, JUERGEN, code_page="cp1252")
    text = places.config.read_bytes().decode("cp1252")  # what VBA's Input # sees
    rows = [line.split('","') for line in text.split("\r\n") if line]
    settings = {name.strip('"'): value.strip('"') for name, value in rows}
    assert settings == {
        "INTERPRETER_WIN": r"%LOCALAPPDATA%\bpxl\venv\Scripts\pythonw.exe",
        "UDF MODULES": "bpxl.excel.udfs",
        "USE UDF SERVER": "True",
        "ADD_WORKBOOK_TO_PYTHONPATH": "False",  # an online workbook's folder is a URL
    }
    assert text.endswith("\r\n")
    assert places.label.read_bytes().decode("cp1252") == install.SANDBOX_LABEL + "\r\n"


def test_a_path_outside_the_user_folders_is_written_in_the_code_page(
    places: install.Places,
) -> None:
    python = Path(r"D:\Programme\Jürgen\python.exe")
    install.install(places, GOOD, python, JUERGEN, code_page="cp1252")
    assert b'"D:\\Programme\\J\xfcrgen\\python.exe"' in places.config.read_bytes()


def test_a_folder_name_the_code_page_cannot_hold_is_refused_before_writing(
    places: install.Places,
) -> None:
    with pytest.raises(install.CannotInstallError, match="outside Windows' character set"):
        install.install(places, GOOD, Path(r"D:\用户\python.exe"), JUERGEN, code_page="cp1252")
    assert list(places.home.rglob("*")) == []


def test_the_ribbon_label_is_written_for_line_input(monkeypatch: pytest.MonkeyPatch) -> None:
    desk.write_label("Jürgen's tenant (production)")
    assert desk.label_file().read_bytes() == "Jürgen's tenant (production)\r\n".encode("cp1252")


def test_uninstall_keeps_journals_and_revert_data_unless_purged(places: install.Places) -> None:
    install.install(places, GOOD, VENV_PYTHON, JUERGEN)
    kept = [
        connection.journal_dir() / "run.jsonl",
        connection.undo_dir() / "book.json",
        connection.data_dir() / "venv" / "python.exe",
    ]
    for path in kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    install.uninstall(places, GOOD)
    assert all(path.exists() for path in kept) and not places.addin.exists()
    removed = install.uninstall(places, GOOD, purge=True)
    assert connection.journal_dir() in removed and connection.undo_dir() in removed
    assert not connection.journal_dir().exists() and not connection.undo_dir().exists()
    assert kept[2].exists()  # the running environment: install.ps1 removes it afterwards


def test_uninstall_refuses_while_excel_runs(places: install.Places) -> None:
    install.install(places, GOOD, VENV_PYTHON, JUERGEN)
    with pytest.raises(install.CannotInstallError, match="Excel is open"):
        install.uninstall(places, dataclasses.replace(GOOD, excel_running=True))
    assert places.addin.exists()


def test_install_ps1_is_a_thin_wrapper_over_the_python_checks() -> None:
    script = (Path(__file__).parent.parent / "install.ps1").read_text(encoding="utf-8")
    assert "& $Bpxl addin install" in script and "& $Bpxl addin uninstall @purgeOption" in script
    assert "[switch]$Uninstall" in script and "[switch]$Purge" in script
    assert "sys.version_info >= (3, 11)" in script and "3.10" not in script
    # preflight.py, by the path of the module the tests above run, before the environment exists
    assert 'Join-Path $Source "addin\\bpxl\\excel\\preflight.py"' in script
    assert Path(preflight.__file__).relative_to(Path(__file__).parent.parent / "addin")
    assert "$Preflight --before-install" in script
    assert "winget install Python.Python.3.12" in script
    assert "from the Microsoft Store" not in script  # its Python is refused, not suggested
    # The environment lives in bpxl's data folder on Windows (platformdirs' user_data_dir); only
    # -Purge deletes that folder, where the journals are.
    assert 'Join-Path $env:LOCALAPPDATA "bpxl"' in script
    assert "if ($Purge -and (Test-Path $Root)) { Remove-Item -Recurse -Force $Root }" in script


def test_the_command_keeps_journals_and_says_how_to_purge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bpxl import cli

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("APPDATA", str(tmp_path / "home" / "AppData" / "Roaming"))
    monkeypatch.setattr(install, "refuse_without_excel", lambda: None)  # as on Windows with Excel
    assert cli.main(["addin", "install"]) == 0
    journal = connection.journal_dir() / "run.jsonl"
    journal.parent.mkdir(parents=True, exist_ok=True)
    journal.write_text("x")
    assert cli.main(["addin", "uninstall"]) == 0
    assert journal.exists() and "bpxl addin uninstall --purge" in capsys.readouterr().out
    assert cli.main(["addin", "uninstall", "--purge"]) == 0
    assert not journal.exists() and "--purge" not in capsys.readouterr().out


def test_the_dlls_looked_for_are_the_ones_the_add_ins_vba_loads() -> None:
    declared = set(re.findall(r'Lib "(xlwings\w+-[\d.]+\.dll)"', xlam.xlwings_module()))
    assert declared == preflight.needed_dlls()  # bump XLWINGS_VERSION with pyproject's pin


def test_install_refuses_without_excel_for_windows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bpxl import cli

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("APPDATA", str(tmp_path / "home" / "AppData" / "Roaming"))
    if sys.platform != "win32":
        assert cli.main(["addin", "install"]) == 2
        err = capsys.readouterr().err
        assert "an add-in for Excel for Windows, and this computer runs" in err
        assert "Nothing was installed." in err and "Use the command line here" in err
        assert not (tmp_path / "home").exists()
    with pytest.raises(install.CannotInstallError, match="Excel is not installed on this computer"):
        install.refuse_without_excel(windows=True, excel=False)
    install.refuse_without_excel(windows=True, excel=True)


@pytest.mark.parametrize(
    ("listing", "running"),
    [
        # A German Windows without Excel: "ausgeführt" in cp850, the console's code page.
        ("INFO: Es werden keine Tasks mit den angegebenen Kriterien ausgeführt.\r\n", False),
        ('"EXCEL.EXE","4711","Console","1","123.456 K"\r\n', True),
        ('"NOTEXCEL.EXE","4711","Console","1","1.234 K"\r\n', False),
    ],
)
def test_excel_is_found_running_whatever_the_consoles_code_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listing: str, running: bool
) -> None:
    """tasklist answers in the OEM code page (cp850 in Germany), which neither cp1252 nor UTF-8
    decodes: reading it as text raised, and every Python was refused."""
    data = tmp_path / "listing.txt"
    data.write_bytes(listing.encode("cp850"))
    tasklist = tmp_path / "tasklist"
    tasklist.write_text(  # like tasklist: switches and filters in any case, others refused
        "#!/bin/sh\n"
        '[ "$(echo "$*" | tr a-z A-Z)" = \'/FI IMAGENAME EQ EXCEL.EXE /FO CSV /NH\' ] || '
        "{ echo 'ERROR: Invalid argument/option.'; exit 1; }\n"
        f"cat '{data}'\n"
    )
    tasklist.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    assert preflight.excel_running() is running


def test_a_tasklist_that_fails_is_no_excel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing to go by (a tasklist refused by a policy): the copy of the add-in will say if it
    is locked."""
    tasklist = tmp_path / "tasklist"
    tasklist.write_text("#!/bin/sh\necho 'ERROR: Access denied'\nexit 1\n")
    tasklist.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    assert preflight.excel_running() is False
    tasklist.unlink()
    assert preflight.excel_running() is False  # none at all


def test_install_ps1_finds_3_14_makes_a_fresh_environment_and_works_behind_proxies() -> None:
    """A rerun after a Python upgrade laid the new environment over the old one (old compiled
    packages stayed: import lxml.etree failed); 3.14 was never looked for; pip honoured only
    HTTP(S)_PROXY; nothing said what IT must allow when Python may not run."""
    script = (Path(__file__).parent.parent / "install.ps1").read_text(encoding="utf-8")
    finder = script[script.index("function Find-Python") : script.index("if ($Uninstall)")]
    assert finder.index('@("py", "-3.14")') < finder.index('@("py", "-3.11")')
    assert "& py -0p" in finder  # and every other Python the launcher knows
    assert "-m venv --clear $Venv" in script and "-m venv $Venv" not in script
    assert "[string]$Proxy" in script and '@("--proxy", $Proxy)' in script
    assert "[System.Net.WebRequest]::GetSystemWebProxy().GetProxy($pypi)" in script
    assert "[string]$Wheels" in script
    assert '@("--no-index", "--find-links", $Wheels)' in script
    assert "bpxl addin wheels" in script
    blocked = script[script.index("$ItMustAllow =") : script.index("function Find-Python")]
    for what in ("python.exe", "pythonw.exe", "AppLocker", "creating child processes",
                 "Win32 API calls from Office macros", "For IT"):  # fmt: skip
        assert what in blocked
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### For IT") :]
    for rule in ("D4F940AB-401B-4EFC-AADC-AD5F3C50688A", "92E97FA1-2EDF-4476-BDD6-9DD0B4DDDC7B"):
        assert rule in section
    assert f"xlwings64-{preflight.XLWINGS_VERSION}.dll" in section


def test_the_wheels_folder_holds_windows_own_dependencies(tmp_path: Path) -> None:
    """pip, run on another system than Windows, leaves out what only Windows needs (xlwings'
    pywin32, keyring's pywin32-ctypes): they are read from the wheels and fetched too."""
    from bpxl.excel import wheels

    def wheel(name: str, *requires: str) -> None:
        path = tmp_path / f"{name}-1.0-py3-none-any.whl"
        lines = "".join(f"Requires-Dist: {r}\n" for r in requires)
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr(f"{name}-1.0.dist-info/METADATA", f"Name: {name}\n{lines}")

    wheel(
        "xlwings", 'pywin32>=224; platform_system == "Windows"', 'psutil; sys_platform == "darwin"'
    )
    wheel("keyring", "jaraco.classes", 'pywin32-ctypes>=0.2.0; sys_platform == "win32"')
    wheel("tqdm", 'colorama; platform_system == "Windows"', 'pytest; extra == "dev"')
    wheel("colorama")
    with zipfile.ZipFile(tmp_path / "legacy-1.0-py3-none-any.whl", "w") as archive:
        archive.writestr(  # metadata in Latin-1, not UTF-8: read all the same
            "legacy-1.0.dist-info/METADATA",
            b'Name: legacy\nAuthor: J\xfcrgen\nRequires-Dist: pywin32>=224; os_name == "nt"\n',
        )
    wheel(  # for some of the Pythons only, by either spelling of the version
        "jaraco.context",
        'backports.tarfile; python_full_version < "3.12" and sys_platform == "win32"',
        'winloop; python_version >= "3.13" and platform_system == "Windows"',
        'exceptiongroup; python_version < "3.11" and os_name == "nt"',
        'tzdata; python_full_version >= "3.13" and os_name == "nt"',
        'tomli-w; python_version >= "3.13"',  # wherever it runs: pip fetches it itself
    )
    assert wheels.windows_only(tmp_path) == [
        "backports.tarfile", "pywin32-ctypes>=0.2.0", "pywin32>=224", "tzdata", "winloop"
    ]  # fmt: skip
    [first, *_] = wheels.download_commands(tmp_path, ["pywin32>=224"])
    assert first[first.index("--platform") + 1] == "win_amd64" and "--only-binary=:all:" in first
    versions = [c[c.index("--python-version") + 1] for c in wheels.download_commands(tmp_path, [])]
    assert versions == ["3.11", "3.12", "3.13", "3.14"]


def test_the_smoke_workbook_holds_each_scenario(tmp_path: Path) -> None:
    """docs/excel-smoke-test.md's prepared workbook: 2,000 new invoices for the long send, a
    filter leaving 50 scattered rows (an address of more than 255 characters) and an empty sheet
    for the pull, each checked by the add-in itself on the fake Excel."""
    from bpxl import cli
    from bpxl.excel import smoke
    from bpxl.excel.range_io import chosen_rows, read_block

    from .fake_xlwings import App

    path = tmp_path / "smoke.xlsx"
    assert cli.main(["addin", "smoke", str(path)]) == 0
    assert cli.main(["addin", "smoke"]) == 2  # where to write is needed
    written = openpyxl.load_workbook(path)
    assert written.sheetnames == ["Read me", "Invoices", "Filtered", "Pull here"]
    app = App()
    book = app.books.open(str(path))
    invoices = read_block(book.sheets["Invoices"])
    assert len(invoices.data) == smoke.LONG_SEND
    filtered = book.sheets["Filtered"]
    hidden = {r for r, d in written["Filtered"].row_dimensions.items() if d.hidden}
    filtered.hidden_rows = hidden
    block = read_block(filtered)
    areas = filtered.range((2, 1), (smoke.FILTER_ROWS + 1, 1)).api.SpecialCells(12)
    assert len(areas.Address) == 255  # cut: the rows must come from the areas
    choice = chosen_rows(app, block)
    assert len(choice.rows) == smoke.FILTER_ROWS // 3 == 50
    assert set(choice.rows).isdisjoint(hidden) and written["Filtered"].auto_filter.ref
    assert read_block(book.sheets["Pull here"]).data == {}
