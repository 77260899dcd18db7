"""The add-in's VBA project has the structure of one Excel wrote.

The reference is xlwings' ``quickstart_addin_ribbon.xlam`` from the installed wheel: saved by
Excel, shipped to every xlwings user, known to open and run its macros. The stream set, the
``dir`` stream's records (their kinds and order, per module too) and the ``PROJECT`` stream's
lines are compared with ours; names, GUIDs, paths and window positions may differ, the layout may
not. Both projects are read with olefile and oletools' decompressor, not with our writer's code.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import olefile
import pytest
import xlwings
from oletools.olevba import VBA_Parser, decompress_stream

from bpxl.excel import xlam

REFERENCE = Path(xlwings.__file__).parent / "quickstart_addin_ribbon.xlam"
PROJECT_VERSION = 0x0009  # the one record whose size field is not the size of what follows
REFERENCES = {0x000D, 0x000E, 0x002F, 0x0030, 0x0033}  # registered, project, control, original
OFFICE = b"{2DF8D04C-5BFA-101B-BDE5-00AA0044DE52}"  # the Office object library
PROCEDURAL, DOCUMENT_OR_CLASS = 0x0021, 0x0022


@dataclass
class Project:
    streams: set[str]
    storages: set[str]
    sector_sizes: tuple[int, int]
    vba_project: bytes
    records: list[tuple[int, bytes]]  # the dir stream, decompressed, record by record
    lines: list[str]  # the PROJECT stream
    wm: bytes  # the PROJECTwm stream

    @property
    def information(self) -> list[tuple[int, bytes]]:
        return self.records[: self._first_reference()]

    def _first_reference(self) -> int:
        # PROJECTCONSTANTS' Unicode half (0x3C) ends the information records.
        return next(i for i, (rid, _) in enumerate(self.records) if rid == 0x003C) + 1

    @property
    def references(self) -> list[list[tuple[int, bytes]]]:
        """Each reference: its NAME records, then the records of its kind."""
        start = self._first_reference()
        end = next(i for i, (rid, _) in enumerate(self.records) if rid == 0x000F)
        found: list[list[tuple[int, bytes]]] = []
        for rid, data in self.records[start:end]:
            if rid == 0x0016 and not (found and found[-1][-1][0] == 0x002F):
                found.append([])  # a new reference (a control's own name record follows 0x2F)
            found[-1].append((rid, data))
        return found

    @property
    def modules(self) -> list[list[tuple[int, bytes]]]:
        start = next(i for i, (rid, _) in enumerate(self.records) if rid == 0x000F)
        found: list[list[tuple[int, bytes]]] = []
        for rid, data in self.records[start + 2 :]:
            if rid == 0x0019:
                found.append([])
            if rid == 0x0010:
                break
            found[-1].append((rid, data))
        return found

    def module_names(self) -> list[str]:
        return [dict(m)[0x0019].decode("cp1252") for m in self.modules]


def _records(data: bytes) -> list[tuple[int, bytes]]:
    records, at = [], 0
    while at < len(data):
        rid, size = struct.unpack_from("<HI", data, at)
        if rid == PROJECT_VERSION:
            size = 6  # Reserved (4), then VersionMajor (4) and VersionMinor (2)
        records.append((rid, data[at + 6 : at + 6 + size]))
        at += 6 + size
    return records


def _read(xlam_path: Path) -> Project:
    with zipfile.ZipFile(xlam_path) as book:
        ole = olefile.OleFileIO(io.BytesIO(book.read("xl/vbaProject.bin")))
    try:
        entries = ["/".join(e) for e in ole.listdir(streams=True, storages=True)]
        streams = {e for e in entries if ole.get_type(e) == olefile.STGTY_STREAM}
        dir_stream = bytes(decompress_stream(bytearray(ole.openstream("VBA/dir").read())))
        return Project(
            streams=streams,
            storages=set(entries) - streams,
            sector_sizes=(ole.sector_size, ole.mini_sector_size),
            vba_project=ole.openstream("VBA/_VBA_PROJECT").read(),
            records=_records(dir_stream),
            lines=ole.openstream("PROJECT").read().decode("cp1252").split("\r\n"),
            wm=ole.openstream("PROJECTwm").read() if ole.exists("PROJECTwm") else b"",
        )
    finally:
        ole.close()


@pytest.fixture(scope="module")
def reference() -> Project:
    return _read(REFERENCE)


@pytest.fixture(scope="module")
def ours() -> Project:
    return _read(xlam.BUILT)


@pytest.fixture(params=["reference", "ours"])
def each(request: pytest.FixtureRequest, reference: Project, ours: Project) -> Project:
    """The checks that say what a project is made of hold for the reference too: if one fails
    there, it is the check that is wrong, not our add-in."""
    return reference if request.param == "reference" else ours


def test_the_same_streams_and_storages(reference: Project, ours: Project) -> None:
    def layout(project: Project) -> set[str]:
        modules = {f"VBA/{name}" for name in project.module_names()}
        assert modules <= project.streams
        return project.streams - modules

    assert (
        layout(ours)
        == layout(reference)
        == {
            "PROJECT",
            "PROJECTwm",
            "VBA/_VBA_PROJECT",
            "VBA/dir",
        }
    )
    assert ours.storages == reference.storages == {"VBA"}
    assert ours.sector_sizes == reference.sector_sizes


def test_the_vba_project_stream_asks_for_a_recompile_like_the_reference(
    reference: Project, ours: Project
) -> None:
    # Reserved1 0x61CC, Version 0xFFFF (no compiled code to trust), Reserved2 0; Reserved3 is
    # ignored on read; no performance cache.
    assert len(ours.vba_project) == len(reference.vba_project) == 7
    assert ours.vba_project[:5] == reference.vba_project[:5] == bytes.fromhex("CC61FFFF00")


def test_the_project_information_records_match(reference: Project, ours: Project) -> None:
    assert [rid for rid, _ in ours.information] == [rid for rid, _ in reference.information]
    for record in (0x0001, 0x0002, 0x0014, 0x0003):  # SysKind, LCID, LCID invoke, code page
        assert dict(ours.information)[record] == dict(reference.information)[record], hex(record)


def test_every_reference_is_a_named_library_of_a_known_kind(each: Project) -> None:
    assert each.references
    for reference in each.references:
        assert [rid for rid, _ in reference[:2]] == [0x0016, 0x003E]
        assert {rid for rid, _ in reference[2:]} <= REFERENCES | {0x0016, 0x003E}
    assert any(OFFICE in data for ref in each.references for _, data in ref)


def test_the_module_records_match_kind_by_kind(reference: Project, ours: Project) -> None:
    def shapes(project: Project) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {}
        for module in project.modules:
            ids = [rid for rid, _ in module]
            kind = PROCEDURAL if PROCEDURAL in ids else DOCUMENT_OR_CLASS
            assert found.setdefault(kind, ids) == ids, "one kind, one record layout"
        return found

    assert shapes(ours) == shapes(reference)
    for project in (reference, ours):
        count = next(data for rid, data in project.records if rid == 0x000F)
        assert struct.unpack("<H", count)[0] == len(project.modules)
        assert project.records[-1] == (0x0010, b"")


def _module_lines(project: Project) -> list[tuple[str, str]]:
    """PROJECT's module lines (kind, name): Document=, Module=, Class=, in order."""
    found = []
    for line in project.lines[1:]:
        key, _, value = line.partition("=")
        if key not in {"Document", "Module", "Class", "BaseClass"}:
            break
        found.append((key, value.split("/")[0]))
    return found


def test_the_project_stream_has_the_references_lines_in_its_order(
    reference: Project, ours: Project
) -> None:
    def shape(project: Project) -> list[str]:
        modules = {name for _, name in _module_lines(project)}
        keys = []
        for line in project.lines:
            key = line.partition("=")[0]
            if key in {"Document", "Module", "Class", "BaseClass"}:
                key = "<module line>"
            elif key in modules:
                key = "<workspace line>"
            if not keys or key != keys[-1] or not key.startswith("<"):
                keys.append(key)
        return keys

    assert shape(ours) == shape(reference)
    assert shape(ours) == [
        "ID", "<module line>", "Name", "HelpContextID", "VersionCompatible32", "CMG", "DPB",
        "GC", "", "[Host Extender Info]", "&H00000001", "", "[Workspace]", "<workspace line>",
        "", "",
    ]  # fmt: skip
    for line in ("VersionCompatible32", "&H00000001"):
        assert next(x for x in ours.lines if x.startswith(line)) == next(
            x for x in reference.lines if x.startswith(line)
        )


def test_module_names_agree_across_dir_project_workspace_and_projectwm(each: Project) -> None:
    name = dict(each.information)[0x0004].decode("cp1252")  # PROJECTNAME
    assert f'Name="{name}"' in each.lines
    names = each.module_names()
    assert [name for _, name in _module_lines(each)] == names
    workspace = each.lines[each.lines.index("[Workspace]") + 1 :]
    assert [line.partition("=")[0] for line in workspace if line] == names
    wm = b"".join(n.encode("cp1252") + b"\0" + n.encode("utf-16-le") + b"\0\0" for n in names)
    assert each.wm == wm + b"\0\0"
    kind_of = {name: kind for kind, name in _module_lines(each)}
    for module, name in zip(each.modules, names, strict=True):
        procedural = PROCEDURAL in [rid for rid, _ in module]
        assert procedural == (kind_of[name] == "Module"), name


def _sources(xlam_path: Path) -> dict[str, str]:
    parser = VBA_Parser(str(xlam_path))
    try:
        return {name.rsplit(".", 1)[0]: code for _, _, name, code in parser.extract_macros()}
    finally:
        parser.close()


def _attributes(code: str, name: str) -> list[str]:
    """The module's Attribute lines, with its own name taken out."""
    lines = [line for line in code.splitlines() if line.startswith("Attribute VB_")]
    return [line.replace(f'"{name}"', '"<name>"') for line in lines]


def test_module_headers_carry_the_attributes_excel_writes(
    reference: Project, ours: Project
) -> None:
    def headers(project: Project, path: Path) -> dict[str, list[str]]:
        sources = _sources(path)
        found: dict[str, list[str]] = {}
        for module, name in zip(project.modules, project.module_names(), strict=True):
            attributes = _attributes(sources[name], name)
            if PROCEDURAL in [rid for rid, _ in module]:
                kind = "module"
            else:  # a worksheet's, the workbook's, or a class's: told apart by VB_Base
                kind = next((a for a in attributes if a.startswith("Attribute VB_Base")), "")
            assert found.setdefault(kind, attributes) == attributes, (name, kind)
        return found

    mine, excels = headers(ours, xlam.BUILT), headers(reference, REFERENCE)
    assert mine.keys() <= excels.keys()
    for kind, attributes in mine.items():
        assert attributes == excels[kind], kind


def test_document_modules_are_the_workbooks_code_names(ours: Project) -> None:
    with zipfile.ZipFile(xlam.BUILT) as book:
        names = [n for n in book.namelist() if n.startswith("xl/") and n.endswith(".xml")]
        parts = [book.read(n).decode("utf-8") for n in names]
    code_names = {name for part in parts for name in re.findall(r'codeName="(\w+)"', part)}
    documents = {
        name
        for module, name in zip(ours.modules, ours.module_names(), strict=True)
        if PROCEDURAL not in [rid for rid, _ in module]
    }
    assert documents == code_names == {"ThisWorkbook", "Sheet1"}
