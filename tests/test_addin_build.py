"""The built add-in (addin/bpxl.xlam) is consistent with its text sources and with Python."""

from __future__ import annotations

import inspect
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
import xlwings
from hypothesis import given, settings
from hypothesis import strategies as st
from oletools.olevba import VBA_Parser, decompress_stream

from bpxl.excel import ribbon as excel
from bpxl.excel import udfs, vba, xlam

RIBBON_NS = {"ui": "http://schemas.microsoft.com/office/2006/01/customui"}


@pytest.fixture(scope="module")
def built() -> Path:
    return xlam.BUILT


@pytest.fixture(scope="module")
def modules(built: Path) -> dict[str, str]:
    parser = VBA_Parser(str(built))
    try:
        return {
            name.rsplit(".", 1)[0]: code.replace("\r\n", "\n")
            for _, _, name, code in parser.extract_macros()
        }
    finally:
        parser.close()


def test_the_committed_xlam_is_what_the_sources_build(tmp_path: Path, built: Path) -> None:
    fresh = xlam.build(tmp_path / "bpxl.xlam")
    assert _members(fresh) == _members(built), (
        "addin/bpxl.xlam is stale: run `bpxl addin build` and commit it"
    )


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as book:
        return {name: book.read(name) for name in book.namelist()}


def test_vba_modules_read_back_exactly_as_their_sources(modules: dict[str, str]) -> None:
    standard, documents = xlam.modules()
    assert set(modules) == {*standard, *documents}
    for name, source in standard.items():
        assert modules[name].strip() == source.replace("\r\n", "\n").strip()
    assert f'PROJECT_NAME As String = "{xlam.PROJECT_NAME}"' in modules["xlwings"]
    assert f'XLWINGS_VERSION As String = "{xlwings.__version__}"' in modules["xlwings"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=9000).map(str.encode) | st.binary(max_size=3000))
def test_our_compression_round_trips_through_oletools(data: bytes) -> None:
    assert bytes(decompress_stream(bytearray(vba.compress(data)))) == data


def _subs(modules: dict[str, str]) -> dict[str, str]:
    """Sub and Function names of the VBA project -> their parameter lists."""
    found = {}
    for code in modules.values():
        for match in re.finditer(
            r"^(?:Public |Private )?(?:Sub|Function) (\w+)\(([^)]*)\)", code, re.M
        ):
            found[match.group(1)] = match.group(2)
    return found


def test_every_ribbon_callback_exists_in_vba_and_every_button_in_python(
    built: Path, modules: dict[str, str]
) -> None:
    with zipfile.ZipFile(built) as book:
        ribbon = ElementTree.fromstring(book.read("customUI/customUI.xml"))
        relations = book.read("_rels/.rels").decode()
    assert 'Target="customUI/customUI.xml"' in relations
    subs = _subs(modules)
    buttons = ribbon.findall(".//ui:button", RIBBON_NS)
    assert {b.get("id") for b in buttons} == set(excel.ACTIONS)
    for button in buttons:
        assert button.get("label") == excel.ACTIONS[button.get("id")].label
        assert "IRibbonControl" in subs[button.get("onAction")]
    [label] = ribbon.findall(".//ui:labelControl", RIBBON_NS)
    assert "ByRef label" in subs[label.get("getLabel")]
    assert "IRibbonUI" in subs[ribbon.get("onLoad")]
    assert "bpxl.excel.ribbon.action('\" & control.ID & \"')" in modules["Bpxl"]
    assert 'InvalidateControl "bpxlTarget"' in modules["Bpxl"] and label.get("id") == "bpxlTarget"


def test_every_udf_wrapper_matches_a_python_udf_and_its_arguments(modules: dict[str, str]) -> None:
    wrappers = {
        name: params
        for name, params in _subs({"Bpxl": modules["Bpxl"]}).items()
        if name.startswith("BP_")
    }
    python = {name: f for name, f in vars(udfs).items() if name.startswith("BP_")}
    assert set(wrappers) == set(python) == {"BP_INVOICE", "BP_QUERY", "BP_FIELDS"}
    for name, function in python.items():
        arguments = list(inspect.signature(function).parameters)
        assert [p.strip() for p in wrappers[name].split(",") if p.strip()] == arguments
        call = f'XLPy.CallUDF("{udfs.__name__}", "{name}", Array({", ".join(arguments)})'
        assert call in modules["Bpxl"]


def test_the_addin_reads_its_settings_from_the_installed_config(built: Path) -> None:
    with zipfile.ZipFile(built) as book:
        workbook = book.read("xl/workbook.xml").decode()
        types = book.read("[Content_Types].xml").decode()
    # The sheet named bpxl.conf would override the user's settings; ours is disabled by its "_".
    assert 'name="_bpxl.conf"' in workbook and 'name="bpxl.conf"' not in workbook
    assert "felix" not in workbook.lower()
    assert "application/vnd.ms-excel.addin.macroEnabled.main+xml" in types


DATA = Path(__file__).parent / "data"


def test_the_ribbon_validates_against_the_custom_ui_schema(built: Path) -> None:
    from lxml import etree

    schema = etree.XMLSchema(etree.parse(str(DATA / "customui-subset.xsd")))
    with zipfile.ZipFile(built) as book:
        ribbon = etree.fromstring(book.read("customUI/customUI.xml"))
    assert schema.validate(ribbon), schema.error_log
    broken = etree.fromstring(etree.tostring(ribbon))
    broken.find(".//{*}button").set("size", "huge")  # the schema does refuse a bad value
    assert not schema.validate(broken)
    twice = etree.fromstring(etree.tostring(ribbon))
    buttons = twice.findall(".//{*}button")
    buttons[1].set("id", buttons[0].get("id"))  # and a control id used twice
    assert not schema.validate(twice)


def test_every_icon_is_an_office_image_name(built: Path) -> None:
    names = {
        line.strip()
        for line in (DATA / "imagemso.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    with zipfile.ZipFile(built) as book:
        ribbon = ElementTree.fromstring(book.read("customUI/customUI.xml"))
    icons = {e.get("imageMso") for e in ribbon.iter() if e.get("imageMso")}
    assert icons and icons <= names, icons - names


def test_the_ribbon_part_is_found_by_the_2006_relationship_type(built: Path) -> None:
    with zipfile.ZipFile(built) as book:
        relations = ElementTree.fromstring(book.read("_rels/.rels"))
        ribbon = ElementTree.fromstring(book.read("customUI/customUI.xml"))
    [ui] = [r for r in relations if r.get("Target") == "customUI/customUI.xml"]
    assert ui.get("Type") == xlam.RIBBON_RELATIONSHIP
    assert (
        ui.get("Type") == "http://schemas.microsoft.com/office/2006/relationships/ui/extensibility"
    )
    assert ribbon.tag == "{http://schemas.microsoft.com/office/2006/01/customui}customUI"


def _procedure(code: str, name: str) -> str:
    start = re.search(rf"^(?:Private )?(?:Sub|Function) {name}\(", code, re.M)
    assert start, name
    return code[start.start() : code.index("\nEnd ", start.start())]


def test_ribbon_vba_answers_ordinary_situations_with_a_message_box(
    modules: dict[str, str],
) -> None:
    """No workbook open, target.txt empty, unreadable or missing, Python not starting: a
    message box or a label in plain words, never a Visual Basic error dialog."""
    action = _procedure(modules["Bpxl"], "BpxlAction")
    assert action.index("If ActiveWorkbook Is Nothing Then") < action.index("RunPython")
    assert action.index("On Error GoTo failed") < action.index("RunPython")
    assert "MsgBox" in action.split("failed:")[1]
    target = _procedure(modules["Bpxl"], "BpxlTarget")
    assert target.index("On Error GoTo unreadable") < target.index("Open path")
    assert "If Not EOF(handle) Then Line Input" in target  # an empty file: no error 62
    assert 'If Trim(text) = "" Then GoTo unknown' in target
    assert "Resume unknown" in target.split("unreadable:")[1]
    for name in ("BP_INVOICE", "BP_QUERY", "BP_FIELDS"):
        assert "On Error GoTo failed" in _procedure(modules["Bpxl"], name)


def test_protected_view_and_blocked_python_get_a_plain_message(modules: dict[str, str]) -> None:
    """A workbook in Protected View has no ActiveWorkbook (the old message said to open one);
    Python blocked by Office's security rules or AppLocker was told to reinstall, again and
    again. Polls of a long send answer a lost Python with Recover last run."""
    action = _procedure(modules["Bpxl"], "BpxlAction")
    protected = action.index("If Not Application.ActiveProtectedViewWindow Is Nothing Then")
    assert protected < action.index("If ActiveWorkbook Is Nothing Then")
    assert "Enable Editing" in action[protected : action.index("If ActiveWorkbook Is Nothing")]
    failed = action.split("failed:")[1]
    for words in ("security rules", "AppLocker", "For IT"):
        assert words in failed
    poll = _procedure(modules["Bpxl"], "BpxlPoll")
    assert poll.index("On Error GoTo failed") < poll.index("bpxl.excel.ribbon.poll()")
    assert "Recover last run" in poll.split("failed:")[1]


def test_the_function_wizard_describes_every_worksheet_function(modules: dict[str, str]) -> None:
    """Excel's fx dialog showed no description: each function and argument is described, from
    the Python docstrings, when the add-in opens."""
    opened = _procedure(modules["ThisWorkbook"], "Workbook_Open")
    assert "Bpxl.BpxlDescribeFunctions" in opened
    described = _procedure(modules["Bpxl"], "BpxlDescribeFunctions")
    assert "On Error Resume Next" in described
    for name in ("BP_INVOICE", "BP_QUERY", "BP_FIELDS"):
        line = next(x for x in described.splitlines() if f'Macro:="{name}"' in x)
        first = " ".join((getattr(udfs, name).__doc__ or "").split("\n\n")[0].split())
        assert f'Description:="{first.replace(chr(34), chr(34) * 2)}"' in line
        assert len(first) <= 255 and 'Category:="BillingPlatform"' in line
    assert 'ArgumentDescriptions:=Array("The invoice\'s Id, e.g. A2", ' in described


def test_worksheet_functions_never_hold_excel_while_the_server_answers() -> None:
    """A BP_QUERY of thousands of invoices on a slow tenant held Excel's recalculation, and the
    call from Excel, past its OLE time-out: each function answers at once and writes its value
    later (xlwings' threading mode, which needs no change to the VBA wrappers). Off Windows
    xlwings' decorator records nothing, so the source says it."""
    source = inspect.getsource(udfs)
    assert udfs.ASYNC == "threading"
    for name in ("BP_INVOICE", "BP_QUERY", "BP_FIELDS"):
        assert f"@xw.func(async_mode=ASYNC)\ndef {name}(" in source, name


def test_macros_are_named_with_the_add_ins_file_for_application_run() -> None:
    """Application.Run and OnTime look for an unqualified macro in the active workbook only."""
    assert xlam.macro("BpxlPoll") == "'bpxl.xlam'!BpxlPoll"
    assert xlam.FILE_NAME == "bpxl.xlam"


@pytest.fixture
def xlwings_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the installed xlwings' add-in module and template, in the folder xlwings is
    imported from (as a different xlwings version would have them)."""
    folder = tmp_path / "xlwings"
    folder.mkdir()
    original = Path(xlwings.__file__).parent
    for name in ("xlwings_custom_addin.bas", "quickstart_addin_ribbon.xlam"):
        (folder / name).write_bytes((original / name).read_bytes())
    monkeypatch.setattr(xlwings, "__file__", str(folder / "__init__.py"))
    return folder


def test_an_xlwings_whose_add_in_module_has_no_project_name_stops_the_build(
    xlwings_copy: Path, tmp_path: Path
) -> None:
    module = xlwings_copy / "xlwings_custom_addin.bas"
    text = module.read_text(encoding="cp1252")
    assert xlam.xlwings_module().count('PROJECT_NAME As String = "bpxl"') == 1
    renamed = text.replace('PROJECT_NAME As String = "myaddin"', 'PROJECT_NAME = "theirs"')
    for changed in (renamed, text + text):  # none, or two: which one is ours?
        module.write_text(changed, encoding="cp1252")
        with pytest.raises(RuntimeError) as refused:
            xlam.build(tmp_path / "bpxl.xlam")
        assert str(refused.value) == (
            "This xlwings version's add-in module has no PROJECT_NAME to set."
        )
    assert not (tmp_path / "bpxl.xlam").exists()


def test_an_xlwings_template_without_a_ribbon_stops_the_build_and_leaves_no_file(
    xlwings_copy: Path, tmp_path: Path
) -> None:
    template = xlwings_copy / "quickstart_addin_ribbon.xlam"
    with zipfile.ZipFile(template) as shell:
        parts = {name: shell.read(name) for name in shell.namelist()}
    parts["_rels/.rels"] = parts["_rels/.rels"].replace(b"2007/relationships/ui", b"2007/ui")
    with zipfile.ZipFile(template, "w") as shell:
        for name, data in parts.items():
            shell.writestr(name, data)
    out = tmp_path / "out" / "bpxl.xlam"
    out.parent.mkdir()
    out.write_bytes(b"the add-in built before")
    with pytest.raises(RuntimeError) as refused:
        xlam.build(out)
    assert str(refused.value) == "This xlwings version's add-in template has no ribbon to point at."
    assert out.read_bytes() == b"the add-in built before"  # and no half-written file beside it
    assert [p.name for p in out.parent.iterdir()] == ["bpxl.xlam"]
