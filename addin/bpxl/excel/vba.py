"""A VBA project (``xl/vbaProject.bin``) built from text sources, for the .xlam build.

The OLE container, the ``dir`` stream and the ``PROJECT`` stream come from ms-ovba (a build-time
dependency, not installed on users' machines). The MS-OVBA compression of the module sources is
ours: ms-ovba 0.0.1's own compressor corrupts sources longer than a few kilobytes, which the tests
catch by reading the built project back with oletools' independent decompressor.

The project is laid out like the ones Excel writes, taking xlwings' Excel-built
``quickstart_addin_ribbon.xlam`` (known to open and run its macros) as the reference: a
``PROJECTwm`` stream, ``VersionCompatible32="393222000"`` and a ``[Workspace]`` section in
``PROJECT`` (which ms-ovba 0.0.1 leaves out unless asked, and whose absence is the one difference
between Excel's projects and the ms-ovba ones reported to open without running), the 32-bit
Windows SysKind that Excel and LibreOffice write, and the blank line that ends Excel's
``PROJECT``. tests/test_vba_project.py compares the stream set, the ``dir`` records and the
``PROJECT`` lines with that reference, so a departure fails CI.

Why write the project rather than edit the Excel-built one in place: editing still rewrites every
stream that matters (the module sources, ``dir`` with the module names and count, ``PROJECT``,
``PROJECTwm``) and the whole container (olefile only overwrites streams of the same size), so
little of Excel's own bytes would remain; and what would remain is what we do not want to ship:
compiled p-code of another Office build (ThisWorkbook's performance cache) and references naming
the template author's machine (an MSForms control reference into ``C:\\Users\\felix\\...``). Written
from text, the build stays reproducible and free of both, and the comparison test keeps it in
Excel's shape.
"""

from __future__ import annotations

import os
import random
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHUNK = 4096  # MS-OVBA compresses in chunks of 4,096 source bytes
CODE_PAGE = "cp1252"  # of the VBA sources, as the PROJECT stream's CODEPAGE record says (1252)
_CANDIDATES = 64  # earlier positions tried per match: enough for source text, and quick
_PROJECT_ID = "{5B1A2C3D-0B9E-4F11-9A7C-6B7078786C01}"  # fixed, so builds are reproducible
_WORKBOOK_GUID = uuid.UUID("00020819-0000-0000-C000-000000000046")
_SHEET_GUID = uuid.UUID("00020820-0000-0000-C000-000000000046")
# Excel writes this for every VBA project it saves ([MS-OVBA] 2.3.1.11: "393222000").
_VERSION_COMPATIBLE = "393222000"
_WIN32 = 1  # PROJECTSYSKIND as Excel's and LibreOffice's projects have it; VBA recompiles anyway
_WORKSPACE = (0, 0, 0, 0, "C")  # a closed code window, as Excel lists modules nobody opened
# The type libraries every Excel VBA project references: (GUID, path, title, name).
_REFERENCES = (
    (uuid.UUID("00020430-0000-0000-C000-000000000046"), r"C:\Windows\System32\stdole2.tlb",
     "OLE Automation", "stdole"),
    (uuid.UUID("2DF8D04C-5BFA-101B-BDE5-00AA0044DE52"),
     r"C:\Program Files\Common Files\Microsoft Shared\OFFICE16\MSO.DLL",
     "Microsoft Office 16.0 Object Library", "Office"),
)  # fmt: skip


def compress(data: bytes) -> bytes:
    """MS-OVBA compression ([MS-OVBA] 2.4.1): a signature byte, then one chunk per 4 KiB."""
    out = bytearray(b"\x01")
    for start in range(0, len(data), CHUNK):
        chunk = data[start : start + CHUNK]
        packed = _compress_chunk(chunk)
        if len(packed) <= CHUNK:
            out += _chunk_header(len(packed) + 2, compressed=True) + packed
        elif len(chunk) == CHUNK:
            out += _chunk_header(CHUNK + 2, compressed=False) + chunk  # stored raw
        else:  # a raw chunk holds 4,096 bytes exactly: the decompressor would add padding
            raise ValueError("a short chunk that does not compress cannot be stored")
    return bytes(out)


def _chunk_header(size: int, compressed: bool) -> bytes:
    """[MS-OVBA] 2.4.1.1.5: the chunk's size (its header included) less 3 in 12 bits, the
    signature 0b011, and whether the chunk is compressed."""
    return (compressed << 15 | 0b011 << 12 | size - 3).to_bytes(2, "little")


def _offset_bits(pos: int) -> int:
    """[MS-OVBA] 2.4.1.3.19.1: how many of a copy token's 16 bits hold the offset at ``pos``
    (the rest hold the length): enough to reach back to the chunk's start."""
    return max((pos - 1).bit_length(), 4)


def _compress_chunk(chunk: bytes) -> bytes:
    """Flag bytes, each followed by its 8 tokens: a literal byte, or a copy of earlier bytes."""
    out = bytearray()
    heads: dict[bytes, list[int]] = {}  # the 3 bytes at each position passed -> the positions
    pos = 0
    while pos < len(chunk):
        flags, tokens = 0, bytearray()
        for bit in range(8):
            if pos >= len(chunk):
                break
            match = _longest_match(chunk, pos, heads)
            if match is None:
                length = 1
                tokens.append(chunk[pos])
            else:
                offset, length = match
                token = ((offset - 1) << (16 - _offset_bits(pos))) | (length - 3)
                tokens += token.to_bytes(2, "little")
                flags |= 1 << bit
            for seen in range(pos, pos + length):
                heads.setdefault(chunk[seen : seen + 3], []).append(seen)
            pos += length
        out.append(flags)
        out += tokens
    return bytes(out)


def _longest_match(chunk: bytes, pos: int, heads: dict[bytes, list[int]]) -> tuple[int, int] | None:
    """(offset, length) of the longest earlier copy of the bytes at ``pos`` (the nearest of
    equals), or None when no earlier position starts with the same 3 bytes (a shorter copy
    costs more than the literal bytes; near the chunk's end fewer than 3 bytes are left, and
    ``heads`` holds no such short key for an earlier position)."""
    most = min((0xFFFF >> _offset_bits(pos)) + 3, len(chunk) - pos)
    best: tuple[int, int] | None = None
    for start in reversed(heads.get(chunk[pos : pos + 3], [])[-_CANDIDATES:]):
        length = 3
        while length < most and chunk[start + length] == chunk[pos + length]:
            length += 1
        if best is None or length > best[1]:
            best = (pos - start, length)
            if length == most:
                break
    return best


def build_project(std_modules: Mapping[str, str], documents: Mapping[str, str]) -> bytes:
    """The vbaProject.bin holding ``std_modules`` (name -> source) and the document modules
    ``documents`` (``ThisWorkbook`` and sheet code names -> source)."""
    from ms_cfb.ole_file import OleFile  # noqa: F401  (ms-ovba needs it importable)
    from ms_ovba.Models.Entities.doc_module import DocModule
    from ms_ovba.Models.Entities.reference import Reference
    from ms_ovba.Models.Entities.reference_registered import ReferenceRegistered
    from ms_ovba.Models.Entities.std_module import StdModule
    from ms_ovba.Models.Fields.libid_reference import LibidReference
    from ms_ovba.vbaProject import VbaProject
    from ms_ovba.Views.project_ole_file import ProjectOleFile

    with tempfile.TemporaryDirectory() as folder, _inside(Path(folder)), _as_excel_writes():
        project = VbaProject()
        project.project_id = _PROJECT_ID
        project.include_projectwm()
        project.add_attribute("VersionCompatible32", _VERSION_COMPATIBLE)
        for name, source in documents.items():
            Path(f"{name}.cls").write_bytes(source.encode(CODE_PAGE))
            module = DocModule(name)
            module.add_file(f"{name}.cls")
            module.add_guid(_WORKBOOK_GUID if name == "ThisWorkbook" else _SHEET_GUID)
            module.normalize_file()
            module.workspace = _WORKSPACE
            project.add_module(module)
        for name, source in std_modules.items():
            Path(f"{name}.bas").write_bytes(source.encode(CODE_PAGE))
            code = StdModule(name)
            code.add_file(f"{name}.bas")
            code.normalize_file()
            code.workspace = _WORKSPACE
            project.add_module(code)
        for guid, path, title, name in _REFERENCES:
            library = LibidReference(guid, "2.0", "0", path, title)
            project.add_reference(Reference(ReferenceRegistered(library), name))
        ProjectOleFile.write_file(project)
        return Path("vbaProject.bin").read_bytes()


@contextmanager
def _inside(folder: Path) -> Iterator[None]:
    """ms-ovba writes its pieces into the working folder, and the project key from ``random``:
    work in a scratch folder with a fixed seed, so that the build is reproducible."""
    previous, state = Path.cwd(), random.getstate()
    os.chdir(folder)
    random.seed(0)
    try:
        yield
    finally:
        random.setstate(state)
        os.chdir(previous)


@contextmanager
def _as_excel_writes() -> Iterator[None]:
    """ms-ovba 0.0.1 with our compressor, Excel's SysKind and Excel's blank line after the
    ``[Workspace]`` section: three values it hard-codes differently."""
    from ms_ovba.Models.Fields.idSizeField import IdSizeField
    from ms_ovba.Views.dirStream import DirStream
    from ms_ovba.Views.project import Project
    from ms_ovba_compression.ms_ovba import MsOvba

    originals = (MsOvba.compress, DirStream._load_information, Project.__str__)
    information, text = originals[1], originals[2]

    def excel_information(self: Any) -> list[Any]:
        records = information(self)
        if records[0].pack("little")[:2] != b"\x01\x00":
            raise RuntimeError("ms-ovba no longer starts the dir stream with PROJECTSYSKIND")
        return [IdSizeField(0x0001, 4, _WIN32), *records[1:]]

    MsOvba.compress = lambda self, data: compress(bytes(data))  # type: ignore[method-assign]
    DirStream._load_information = excel_information
    Project.__str__ = lambda self: text(self) + "\r\n"
    try:
        yield
    finally:
        MsOvba.compress = originals[0]  # type: ignore[method-assign]
        DirStream._load_information, Project.__str__ = originals[1:]
