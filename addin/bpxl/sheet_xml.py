"""Results written straight into an .xlsx's worksheet XML, leaving every other byte alone.

Loading a whole workbook into openpyxl to set three columns costs about 500 bytes per cell (a
100,000-row sheet took over a gigabyte) and drops what openpyxl does not model: images, charts,
shapes. So the results go in as text edits instead: only the rows that get a result are rewritten
(their other cells are copied through as they are), new strings are written inline, three fills
and the header styles are appended to ``styles.xml``, and a table that ends next to an added
column grows to include it. Every other part of the package is copied unchanged.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from xml.sax.saxutils import escape, quoteattr

_ROW = re.compile(r"<(?P<p>\w+:)?row\b(?P<attrs>[^>]*?)(?:/>|>(?P<body>.*?)</(?P=p)?row>)", re.S)
_CELL = re.compile(r"<(?:\w+:)?c\b(?P<attrs>[^>]*?)(?:/>|>.*?</(?:\w+:)?c>)", re.S)
_REF = re.compile(r'\br="([A-Z]+)(\d+)"')
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Style:
    """A cell look bpxl adds: a fill colour (ARGB) and whether the font is bold (and white)."""

    fill: str | None = None
    bold: bool = False
    white: bool = False


@dataclass
class Edit:
    """What to write into one sheet: values by (row, column), and columns bpxl adds."""

    values: dict[int, dict[int, str | None]] = field(default_factory=dict)
    styles: dict[tuple[int, int], Style] = field(default_factory=dict)
    added: list[tuple[int, str, float]] = field(default_factory=list)  # column, header, width
    header_row: int = 1

    def set(self, row: int, column: int, value: str | None, style: Style | None = None) -> None:
        self.values.setdefault(row, {})[column] = value
        if style is not None:
            self.styles[(row, column)] = style


def column_letter(column: int) -> str:
    letters = ""
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _column_number(letters: str) -> int:
    number = 0
    for char in letters:
        number = number * 26 + ord(char) - 64
    return number


def apply(source: zipfile.ZipFile, sheet: str, edit: Edit, target: zipfile.ZipFile) -> None:
    """Copy ``source`` into ``target`` with ``edit`` applied to the sheet named ``sheet``."""
    part = _sheet_part(source, sheet)
    styles_xml, style_ids = _with_styles(source.read("xl/styles.xml").decode("utf-8"), edit)
    changed = {
        part: _edit_sheet(source.read(part).decode("utf-8"), edit, style_ids).encode("utf-8"),
        "xl/styles.xml": styles_xml.encode("utf-8"),
    }
    for table in _table_parts(source, part):
        changed[table] = _extend_table(source.read(table).decode("utf-8"), edit).encode("utf-8")
    for item in source.infolist():
        target.writestr(item, changed.get(item.filename) or source.read(item.filename))


# -- where the sheet is ---------------------------------------------------------------------------


def _attr(tag: str, name: str) -> str | None:
    found = re.search(rf'\b{name}="([^"]*)"', tag)
    return found.group(1) if found else None


def _rels(source: zipfile.ZipFile, part: str) -> dict[str, str]:
    """Relationship id -> the part it points to, for ``part``'s .rels file."""
    path = PurePosixPath(part)
    rels = str(path.parent / "_rels" / f"{path.name}.rels")
    if rels not in source.namelist():
        return {}
    found = {}
    for tag in re.findall(r"<(?:\w+:)?Relationship\b[^>]*>", source.read(rels).decode("utf-8")):
        target = _attr(tag, "Target") or ""
        if target.startswith("/"):
            resolved = target.lstrip("/")
        else:
            resolved = str(PurePosixPath(path.parent, target))
            parts: list[str] = []
            for piece in resolved.split("/"):
                if piece == "..":
                    parts.pop()
                else:
                    parts.append(piece)
            resolved = "/".join(parts)
        found[_attr(tag, "Id") or ""] = resolved
    return found


def _sheet_part(source: zipfile.ZipFile, sheet: str) -> str:
    workbook = source.read("xl/workbook.xml").decode("utf-8")
    rels = _rels(source, "xl/workbook.xml")
    for tag in re.findall(r"<(?:\w+:)?sheet\b[^>]*>", workbook):
        name = _attr(tag, "name")
        if name is not None and _unescape(name) == sheet:
            rid = re.search(r'\br:id="([^"]*)"|\b\w+:id="([^"]*)"', tag)
            if rid:
                return rels[rid.group(1) or rid.group(2)]
    raise KeyError(f"sheet {sheet!r} is not in the workbook")


def _unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&amp;", "&")
    )


def _table_parts(source: zipfile.ZipFile, sheet_part: str) -> list[str]:
    return [p for p in _rels(source, sheet_part).values() if "/tables/" in p]


# -- styles ---------------------------------------------------------------------------------------


def _with_styles(xml: str, edit: Edit) -> tuple[str, dict[Style, int]]:
    """styles.xml with a cell format for each Style the edit uses, and their indexes."""
    wanted = sorted(set(edit.styles.values()), key=repr)
    fonts = re.search(r"<(\w+:)?fonts\b[^>]*>(.*?)</(\w+:)?fonts>", xml, re.S)
    fills = re.search(r"<(\w+:)?fills\b[^>]*>(.*?)</(\w+:)?fills>", xml, re.S)
    xfs = re.search(r"<(\w+:)?cellXfs\b[^>]*>(.*?)</(\w+:)?cellXfs>", xml, re.S)
    if not wanted or not (fonts and fills and xfs):
        return xml, {}  # an unusual styles part: results go in without colours
    prefix = xfs.group(1) or ""
    font_count = len(re.findall(rf"<{prefix}font\b", fonts.group(2)))
    fill_count = len(re.findall(rf"<{prefix}fill\b", fills.group(2)))
    xf_count = len(re.findall(rf"<{prefix}xf\b", xfs.group(2)))
    new_fonts, new_fills, new_xfs = [], [], []
    ids: dict[Style, int] = {}
    for style in wanted:
        font_id = 0
        if style.bold:
            colour = f'<{prefix}color rgb="FFFFFFFF"/>' if style.white else ""
            new_fonts.append(
                f'<{prefix}font><{prefix}b/>{colour}<{prefix}sz val="11"/></{prefix}font>'
            )
            font_id = font_count + len(new_fonts) - 1
        fill_id = 0
        if style.fill:
            new_fills.append(
                f'<{prefix}fill><{prefix}patternFill patternType="solid"><{prefix}fgColor '
                f'rgb="{style.fill}"/><{prefix}bgColor indexed="64"/></{prefix}patternFill>'
                f"</{prefix}fill>"
            )
            fill_id = fill_count + len(new_fills) - 1
        new_xfs.append(
            f'<{prefix}xf numFmtId="0" fontId="{font_id}" fillId="{fill_id}" borderId="0" '
            f'xfId="0" applyFont="1" applyFill="1"/>'
        )
        ids[style] = xf_count + len(new_xfs) - 1
    xml = _append(xml, "cellXfs", prefix, new_xfs, xf_count)
    xml = _append(xml, "fills", prefix, new_fills, fill_count)
    return _append(xml, "fonts", prefix, new_fonts, font_count), ids


def _append(xml: str, tag: str, prefix: str, items: list[str], before: int) -> str:
    if not items:
        return xml
    start = re.search(rf"<{prefix}{tag}\b[^>]*>", xml)
    end = xml.find(f"</{prefix}{tag}>")
    assert start is not None and end != -1
    opening = re.sub(r'\bcount="\d+"', f'count="{before + len(items)}"', start.group(0))
    return xml[: start.start()] + opening + xml[start.end() : end] + "".join(items) + xml[end:]


# -- the sheet ------------------------------------------------------------------------------------


def _edit_sheet(xml: str, edit: Edit, style_ids: Mapping[Style, int]) -> str:
    data_start = re.search(r"<(\w+:)?sheetData\b[^>]*>", xml)
    if data_start is None or data_start.group(0).endswith("/>"):
        raise ValueError("the sheet has no rows")
    prefix = data_start.group(1) or ""
    data_end = xml.index(f"</{prefix}sheetData>")
    body = xml[data_start.end() : data_end]
    pending = sorted(edit.values)
    pieces: list[str] = []
    position = 0
    max_row = max_column = 0
    for match in _ROW.finditer(body):
        number = int(_attr(match.group("attrs"), "r") or 0)
        while pending and pending[0] < number:  # a row with no cells yet
            pieces.append(body[position : match.start()])
            position = match.start()
            pieces.append(_row(prefix, pending.pop(0), "", "", edit, style_ids))
        if pending and pending[0] == number:
            pending.pop(0)
            pieces.append(body[position : match.start()])
            pieces.append(
                _row(
                    prefix, number, match.group("attrs"), match.group("body") or "", edit, style_ids
                )
            )
            position = match.end()
        max_row = max(max_row, number)
    pieces.append(body[position:])
    pieces += [_row(prefix, number, "", "", edit, style_ids) for number in pending]
    max_row = max([max_row, *pending])
    max_column = max((c for row in edit.values.values() for c in row), default=0)
    xml = xml[: data_start.end()] + "".join(pieces) + xml[data_end:]
    return _widen(_redimension(xml, max_row, max_column), edit, prefix)


def _row(
    prefix: str,
    number: int,
    attrs: str,
    body: str,
    edit: Edit,
    style_ids: Mapping[Style, int],
) -> str:
    cells: dict[int, str] = {}
    for match in _CELL.finditer(body):
        ref = _REF.search(match.group("attrs"))
        if ref:
            cells[_column_number(ref.group(1))] = match.group(0)
    for column, value in edit.values[number].items():
        style = edit.styles.get((number, column))
        old = cells.get(column, "")
        s = str(style_ids[style]) if style is not None and style in style_ids else _attr(old, "s")
        cell = _cell(prefix, f"{column_letter(column)}{number}", value, s)
        if cell:
            cells[column] = cell
        else:
            cells.pop(column, None)
    attrs = re.sub(r'\s+spans="[^"]*"', "", attrs) or f' r="{number}"'
    inner = "".join(cells[c] for c in sorted(cells))
    return f"<{prefix}row{attrs}>{inner}</{prefix}row>"


def _cell(prefix: str, ref: str, value: str | None, style: str | None) -> str:
    s = f' s="{style}"' if style and style != "0" else ""
    if value is None or value == "":
        return f'<{prefix}c r="{ref}"{s}/>' if s else ""
    text = escape(_ILLEGAL.sub("", value))
    return (
        f'<{prefix}c r="{ref}"{s} t="inlineStr"><{prefix}is><{prefix}t xml:space="preserve">'
        f"{text}</{prefix}t></{prefix}is></{prefix}c>"
    )


def _redimension(xml: str, max_row: int, max_column: int) -> str:
    found = re.search(r'<(?:\w+:)?dimension\b[^>]*\bref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"', xml)
    if found is None:
        return xml
    last_column = max(_column_number(found.group(3) or found.group(1)), max_column)
    last_row = max(int(found.group(4) or found.group(2)), max_row)
    ref = f"{found.group(1)}{found.group(2)}:{column_letter(last_column)}{last_row}"
    return xml[: found.start(1)] + ref + xml[found.end(found.lastindex or 2) :]


def _widen(xml: str, edit: Edit, prefix: str) -> str:
    """Give added columns their width, unless the sheet already sets one for them."""
    cols = re.search(rf"<{prefix}cols>(.*?)</{prefix}cols>", xml, re.S)
    taken = []
    if cols:
        for tag in re.findall(r"<(?:\w+:)?col\b[^>]*>", cols.group(1)):
            taken.append((int(_attr(tag, "min") or 0), int(_attr(tag, "max") or 0)))
    new = [
        f'<{prefix}col min="{c}" max="{c}" width="{w}" customWidth="1"/>'
        for c, _, w in edit.added
        if not any(low <= c <= high for low, high in taken)
    ]
    if not new:
        return xml
    if cols:
        entries = re.findall(r"<(?:\w+:)?col\b[^>]*/>", cols.group(1)) + new
        entries.sort(key=lambda tag: int(_attr(tag, "min") or 0))
        return xml[: cols.start(1)] + "".join(entries) + xml[cols.end(1) :]
    data = re.search(r"<(\w+:)?sheetData\b", xml)
    assert data is not None
    return (
        xml[: data.start()] + f"<{prefix}cols>{''.join(new)}</{prefix}cols>" + xml[data.start() :]
    )


def _extend_table(xml: str, edit: Edit) -> str:
    """Grow a table that ends just left of columns bpxl added, so they join it."""
    for column, header, _ in sorted(edit.added):
        found = re.search(r'<(\w+:)?table\b[^>]*\bref="([A-Z]+)(\d+):([A-Z]+)(\d+)"', xml)
        if not found or int(found.group(3)) != edit.header_row:
            return xml
        if _column_number(found.group(4)) + 1 != column:
            continue
        prefix = found.group(1) or ""
        old = f"{found.group(2)}{found.group(3)}:{found.group(4)}{found.group(5)}"
        new = f"{found.group(2)}{found.group(3)}:{column_letter(column)}{found.group(5)}"
        xml = xml.replace(f'ref="{old}"', f'ref="{new}"')
        ids = [int(i) for i in re.findall(r'<(?:\w+:)?tableColumn\b[^>]*\bid="(\d+)"', xml)]
        entry = f'<{prefix}tableColumn id="{max(ids, default=0) + 1}" name={quoteattr(header)}/>'
        end = xml.index(f"</{prefix}tableColumns>")
        xml = xml[:end] + entry + xml[end:]
        count = len(ids) + 1
        xml = re.sub(r'(<(?:\w+:)?tableColumns\b[^>]*\bcount=")\d+', rf"\g<1>{count}", xml, count=1)
    return xml
