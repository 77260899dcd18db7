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

from bpxl import excel, udfs, vba, xlam

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
    assert "bpxl.excel.action('\" & control.ID & \"')" in modules["Bpxl"]
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
