"""excel/install.py's rules one by one, on facts of Windows and macOS that this machine does not
have (passed in, or the platform's name faked): where each file goes, which Python runs the
add-in, folders named by variable, what uninstall removes and leaves, and the words when there
is no Excel for Windows. Install and uninstall as a whole are in test_install.py."""

from __future__ import annotations

import dataclasses
import locale
import platform
import shutil
import sys
from pathlib import Path

import pytest

from bpxl.core import connection
from bpxl.excel import install, preflight, xlam

from .test_install import GOOD, JUERGEN, VENV_PYTHON


def test_each_file_goes_where_excel_and_the_add_in_look(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "Jürgen"
    monkeypatch.setattr(sys, "platform", "win32")
    roaming = tmp_path / "Roaming elsewhere"  # a roaming profile on a server, say
    monkeypatch.setenv("APPDATA", str(roaming))
    places = install.Places.for_user(home)
    assert places.home == home
    assert places.startup == roaming / "Microsoft" / "Excel" / "XLSTART"
    assert places.addin == roaming / "Microsoft" / "Excel" / "XLSTART" / "bpxl.xlam"
    assert places.settings == home / ".bpxl"
    assert places.config == home / ".bpxl" / "bpxl.conf"  # xlwings' %USERPROFILE%\.bpxl
    assert places.label == home / ".bpxl" / "target.txt"
    assert places.template == connection.data_dir() / "invoices-template.xlsx"
    for unset in ("", None):  # no APPDATA: the user's own roaming folder
        if unset is None:
            monkeypatch.delenv("APPDATA")
        else:
            monkeypatch.setenv("APPDATA", unset)
        startup = install.Places.for_user(home).startup
        assert startup == home / "AppData" / "Roaming" / "Microsoft" / "Excel" / "XLSTART"
    monkeypatch.setenv("HOME", str(home))
    assert install.Places.for_user().home == home  # no home given: the user's


def test_on_a_mac_the_add_in_goes_into_excels_startup_folder_and_names_a_mac_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    home = tmp_path / "jo"
    startup = install.Places.for_user(home).startup
    assert startup == (
        home / "Library" / "Group Containers" / "UBF8T346G9.Office" / "User Content.localized"
        / "Startup.localized" / "Excel"
    )  # fmt: skip
    text = install.config_text(Path("/Users/jo/.bpxl/venv/bin/python"), {}, "cp1252")
    assert text.startswith('"INTERPRETER_MAC","/Users/jo/.bpxl/venv/bin/python"\r\n')


def test_the_add_in_installed_is_the_committed_one_or_the_one_pip_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert install.built_addin() == xlam.BUILT
    monkeypatch.setattr(xlam, "BUILT", tmp_path / "not built" / "bpxl.xlam")
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    with pytest.raises(FileNotFoundError) as missing:
        install.built_addin()
    assert str(missing.value) == "bpxl.xlam is missing from this installation; reinstall bpxl."
    shared = tmp_path / "share" / "bpxl" / "bpxl.xlam"  # pyproject's data files, pip-installed
    shared.parent.mkdir(parents=True)
    shared.write_bytes(b"xlam")
    assert install.built_addin() == shared


def test_the_add_in_runs_the_windowless_python_beside_this_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    python = tmp_path / "Scripts" / "python.exe"
    python.parent.mkdir()
    python.write_bytes(b"")
    monkeypatch.setattr(sys, "executable", str(python))
    assert install.interpreter() == python  # no pythonw.exe: the console one
    (tmp_path / "Scripts" / "pythonw.exe").write_bytes(b"")
    assert install.interpreter() == tmp_path / "Scripts" / "pythonw.exe"  # no console window


def test_vba_reads_in_windows_ansi_code_page_there_and_cp1252_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert install.ansi_code_page() == "cp1252"
    monkeypatch.setattr(sys, "platform", "win32")
    assert install.ansi_code_page() == locale.getencoding()
    label = tmp_path / "new" / "target.txt"
    install.write_ansi(label, "Zoë's tenant\nsecond line\r\n", "cp1252")
    assert label.read_bytes() == "Zoë's tenant\r\nsecond line\r\n".encode("cp1252")
    install.write_ansi(label, "用户 tenant\n", "cp1252")  # letters the code page lacks
    assert label.read_bytes() == b"?? tenant\r\n"


@pytest.mark.parametrize(
    ("path", "written"),
    [
        (r"C:\Users\Jürgen\AppData\Local\bpxl\python.exe", r"%LOCALAPPDATA%\bpxl\python.exe"),
        (r"C:\Users\Jürgen\AppData\Roaming\bpxl\python.exe", r"%APPDATA%\bpxl\python.exe"),
        (r"C:\Users\Jürgen\bpxl\python.exe", r"%USERPROFILE%\bpxl\python.exe"),
        (r"c:\users\jürgen\bpxl\python.exe", r"%USERPROFILE%\bpxl\python.exe"),  # any case
        (r"C:\Users\Jürgen/bpxl/python.exe", r"%USERPROFILE%/bpxl/python.exe"),
        (r"C:\Users\Jürgen2\bpxl\python.exe", r"C:\Users\Jürgen2\bpxl\python.exe"),  # another
        (r"C:\Users\Jürgen", r"C:\Users\Jürgen"),  # the folder itself: no file in it
        (r"D:\Python\python.exe", r"D:\Python\python.exe"),
    ],
)
def test_a_path_in_a_users_folder_is_named_by_its_variable(path: str, written: str) -> None:
    assert install.with_variables(path, JUERGEN) == written


def test_a_variable_ending_in_a_backslash_or_empty_names_nothing_wrongly() -> None:
    ended = {"USERPROFILE": "C:\\Users\\Jürgen\\"}
    assert install.with_variables(r"C:\Users\Jürgen\x.exe", ended) == r"%USERPROFILE%\x.exe"
    empty = {"LOCALAPPDATA": "", "USERPROFILE": r"C:\Users\Jürgen"}
    assert install.with_variables(r"C:\x.exe", empty) == r"C:\x.exe"
    assert install.with_variables(r"\x.exe", empty) == r"\x.exe"


def test_the_folder_name_excel_cannot_read_is_named_with_its_way_out() -> None:
    with pytest.raises(install.CannotInstallError) as refused:
        install.config_text(Path(r"D:\用户\python.exe"), JUERGEN, "cp1252")
    assert refused.value.message == (
        "Excel cannot read the folder name 'D:\\\\用户\\\\python.exe': it has letters outside "
        "Windows' character set for this language."
    )
    assert refused.value.hint == (
        "run install.ps1 again (it puts bpxl's Python under %LOCALAPPDATA%)."
    )


def test_install_writes_the_add_in_config_label_and_template_and_keeps_a_chosen_label(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APPDATA", str(tmp_path / "Roaming"))
    places = install.Places.for_user(tmp_path / "home")
    written = install.install(places, GOOD, VENV_PYTHON, JUERGEN, "cp1252")
    assert written == [places.addin, places.config, places.label, places.template]
    assert places.addin.read_bytes() == xlam.BUILT.read_bytes()
    assert all(path.is_file() for path in written)
    places.label.write_bytes(b"Acme (production)\r\n")  # connected since
    install.install(places, GOOD, VENV_PYTHON, JUERGEN, "cp1252")  # an update
    assert places.label.read_bytes() == b"Acme (production)\r\n"


def test_uninstall_removes_the_folders_it_left_empty_but_never_above_the_users_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("APPDATA", str(home / "AppData" / "Roaming"))
    places = install.Places.for_user(home)
    install.install(places, GOOD, VENV_PYTHON, JUERGEN, "cp1252")
    other = home / "AppData" / "Roaming" / "Microsoft" / "Word" / "Startup"
    other.mkdir(parents=True)  # another program's folder beside Excel's
    removed = install.uninstall(places, GOOD)
    assert removed == [places.addin, places.config, places.label, places.template]
    assert not places.settings.exists() and not places.startup.exists()
    assert not (home / "AppData" / "Roaming" / "Microsoft" / "Excel").exists()
    assert other.is_dir() and home.is_dir()
    assert install.uninstall(places, GOOD) == []  # nothing left to remove
    outside = tmp_path / "Roaming" / "Microsoft" / "Excel" / "XLSTART"  # APPDATA elsewhere
    monkeypatch.setenv("APPDATA", str(tmp_path / "Roaming"))
    places = install.Places.for_user(home)
    install.install(places, GOOD, VENV_PYTHON, JUERGEN, "cp1252")
    install.uninstall(places, GOOD)
    assert outside.is_dir() and not places.addin.exists()  # not the user's to remove


def test_purge_deletes_bpxls_data_but_the_running_environment(places_home: Path) -> None:
    data = connection.data_dir()
    for name in ("journal/run.jsonl", "undo/book.json", "venv/python.exe", "settings.json"):
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_text("x")
    places = install.Places.for_user(places_home)
    removed = install.uninstall(places, GOOD, purge=True)
    assert removed == [data / "journal", data / "settings.json", data / "undo"]
    assert sorted(p.name for p in data.iterdir()) == ["venv"]


@pytest.fixture
def places_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("APPDATA", str(tmp_path / "home" / "AppData" / "Roaming"))
    return tmp_path / "home"


def test_without_excel_for_windows_nothing_is_installed_and_the_words_say_what_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(platform, "system", lambda: "Linux")
    with pytest.raises(install.CannotInstallError) as refused:
        install.refuse_without_excel(windows=False)
    assert refused.value.message == (
        "The BillingPlatform tab is an add-in for Excel for Windows, and this computer runs "
        "Linux. Nothing was installed."
    )
    assert refused.value.hint == (
        "Use the command line here (bpxl push FILE.xlsx --op create); on a Windows computer with "
        "Excel, run install.ps1."
    )
    monkeypatch.setattr(platform, "system", lambda: "")
    monkeypatch.setattr(sys, "platform", "sunos5")
    with pytest.raises(install.CannotInstallError, match="this computer runs sunos5"):
        install.refuse_without_excel()  # sys.platform says whether this is Windows
    with pytest.raises(install.CannotInstallError) as refused:
        install.refuse_without_excel(windows=True, excel=False)
    assert refused.value.message == (
        "Excel is not installed on this computer (Windows knows no Excel.Application), so there "
        "is no Excel to add the BillingPlatform tab to. Nothing was installed."
    )
    assert refused.value.hint == (
        "Install Excel (Microsoft 365 or Excel 2016 or later, 64-bit), then run install.ps1 "
        "again. The command line works without Excel."
    )
    monkeypatch.setattr(sys, "platform", "linux")  # no Windows registry: no Excel.Application
    assert install.excel_registered() is False
    with pytest.raises(install.CannotInstallError, match="Excel is not installed"):
        install.refuse_without_excel(windows=True)  # the registry asked when not told


def test_every_reason_not_to_install_is_named_each_on_its_own_line(places_home: Path) -> None:
    machine = dataclasses.replace(GOOD, version=(3, 10), excel_running=True)
    reasons = preflight.problems(machine)
    assert len(reasons) == 2
    with pytest.raises(install.CannotInstallError) as refused:
        install.install(install.Places.for_user(places_home), machine, VENV_PYTHON, JUERGEN)
    assert str(refused.value) == "\n".join(reasons)


def test_the_config_is_written_in_the_code_page_windows_uses_for_the_user(
    places_home: Path,
) -> None:
    """A Polish Windows (cp1250) holds a folder name cp1252 cannot."""
    python = Path(r"D:\Łódź\python.exe")
    places = install.Places.for_user(places_home)
    install.install(places, GOOD, python, JUERGEN, "cp1250")
    assert (
        places.config.read_bytes()
        .decode("cp1250")
        .startswith('"INTERPRETER_WIN","D:\\Łódź\\python.exe"\r\n')
    )
    assert places.label.read_bytes() == b"SANDBOX (on this computer)\r\n"


def test_purge_without_a_data_folder_removes_nothing_more(places_home: Path) -> None:
    shutil.rmtree(connection.data_dir(), ignore_errors=True)
    assert install.uninstall(install.Places.for_user(places_home), GOOD, purge=True) == []
