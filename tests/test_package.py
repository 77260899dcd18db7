"""The package check (workbook/package.py) rule by rule, on small zips built here: the limits at
their edges, a DTD found in every encoding a part may announce, and what is left alone.

The end-to-end refusals (a push, a pull) are in test_hostile_files.py. A zip bomb's sizes are the
ones its directory states: here they are set on the zip as read, as a hostile zip states them, so
that no test has to pack a gigabyte.
"""

from __future__ import annotations

import codecs
import io
import zipfile
from pathlib import Path

import pytest

from bpxl.core.errors import UsageError
from bpxl.workbook import package

MB = 1024 * 1024
DTD = '<!DOCTYPE r [<!ENTITY a "ha">]>'
ADVICE = (
    "If the workbook is yours, open it in Excel and save it as a new Excel Workbook (.xlsx), "
    "then use that copy; if it came from elsewhere, do not use it."
)


def packed(parts: dict[str, bytes]) -> zipfile.ZipFile:
    """A zip of ``parts``, opened for reading."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)
    return zipfile.ZipFile(io.BytesIO(buffer.getvalue()))


def stated(sizes: dict[str, tuple[int, int]]) -> zipfile.ZipFile:
    """A zip whose directory states these (unpacked, packed) sizes for its entries; they are
    folders, so only the sizes are checked."""
    source = packed({name: b"" for name in sizes})
    for name, (unpacked, packed_size) in sizes.items():
        item = source.getinfo(name)
        item.file_size, item.compress_size = unpacked, packed_size
    return source


def refusal(source: zipfile.ZipFile) -> str:
    with pytest.raises(UsageError) as refused:
        package.check(source, "book.xlsx")
    assert refused.value.hint == ADVICE
    message = refused.value.message
    start, end = "book.xlsx was not read: ", ". Nothing was sent."
    assert message.startswith(start) and message.endswith(end)
    return message.removeprefix(start).removesuffix(end)


def accepted(source: zipfile.ZipFile) -> None:
    package.check(source, "book.xlsx")  # no refusal


def dtd_refusal(part: str = "xl/workbook.xml") -> str:
    return (
        f"its part {part} holds a DTD (<!DOCTYPE ...>), which Excel never writes and which can "
        "make a reader fetch files or expand text without end"
    )


# -- sizes -----------------------------------------------------------------------------------


def test_a_part_of_the_largest_size_read_is_read_and_one_byte_more_is_refused() -> None:
    largest = package.MAX_PART_MB * MB
    accepted(stated({"xl/big/": (largest, largest)}))
    assert refusal(stated({"xl/big/": (largest + 1, largest + 1)})) == (
        "its part xl/big/ unpacks to 1,024 MB, more than the 1,024 MB bpxl reads in one part"
    )


def test_parts_adding_up_to_more_than_the_total_read_are_refused() -> None:
    total = package.MAX_TOTAL_MB * MB
    big = package.MAX_PART_MB * MB
    rest = total - 2 * big + MB  # three parts, each under the part's limit: exactly the total
    parts = {"a/": (big, big), "b/": (big - MB, big - MB), "c/": (rest, rest)}
    accepted(stated(parts))
    assert refusal(stated({**parts, "c/": (rest + 1, rest + 1)})) == (
        "its parts unpack to 2,048 MB in all, more than the 2,048 MB bpxl reads"
    )
    assert refusal(stated({**parts, "d/": (3 * MB, 3 * MB)})) == (
        "its parts unpack to 2,051 MB in all, more than the 2,048 MB bpxl reads"
    )


def test_a_part_packed_over_the_ratio_is_refused_past_the_size_the_ratio_counts_from() -> None:
    start = package.RATIO_FROM_MB * MB  # up to this size, any packing is fine
    accepted(stated({"small/": (start, 1)}))
    assert refusal(stated({"bomb/": (start + 1, 1)})) == (
        "its part bomb/ would unpack from 0.0 MB to 10 MB (10,485,761 to 1; Excel's parts are "
        "under 100 to 1): a zip bomb, made to fill the memory"
    )
    size = 100 * MB  # exactly 100 to 1 is allowed, a byte denser is not
    accepted(stated({"dense/": (size, MB)}))
    assert refusal(stated({"dense/": (size, MB - 1)})) == (
        "its part dense/ would unpack from 1.0 MB to 100 MB (100 to 1; Excel's parts are under "
        "100 to 1): a zip bomb, made to fill the memory"
    )


def test_a_part_stated_to_pack_into_nothing_is_counted_as_one_byte() -> None:
    assert "would unpack from 0.0 MB to 20 MB (20,971,520 to 1;" in refusal(
        stated({"bomb/": (20 * MB, 0)})
    )


def test_a_real_bomb_is_refused_from_its_directory() -> None:
    assert "(1,0" in refusal(packed({"xl/media/bomb.xml": bytes(20 * MB)}))


# -- a DTD, in every encoding ----------------------------------------------------------------

DECLARED = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
ELEMENT = '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>'


def test_excels_parts_are_accepted() -> None:
    accepted(
        packed(
            {
                "[Content_Types].xml": (DECLARED + ELEMENT).encode(),
                "xl/workbook.xml": (DECLARED + "<!-- a comment -->\n" + ELEMENT).encode(),
                "xl/media/image1.png": b"\x89PNG\r\n\x1a\n" + bytes(100),
                "xl/vbaProject.bin": b"\xd0\xcf\x11\xe0" + bytes(100),
                "xl/empty.xml": b"",
                "xl/declared.xml": DECLARED.encode(),  # a declaration and nothing else
                "xl/unended.xml": b'<?xml version="1.0"',
                "xl/uncommented.xml": b"<!-- never ends",
            }
        )
    )


@pytest.mark.parametrize(
    "prolog",
    [
        "",
        DECLARED,
        DECLARED + "<!-- first -->",
        "<!--x-->" + DECLARED,
        "\n \t\r\n",  # an odd number of blanks
        DECLARED + " \t \r\n",
        "<?xml-stylesheet href='a'?><!-- a --> <!-- b -->\n",
    ],
)
def test_a_dtd_after_any_prolog_is_refused(prolog: str) -> None:
    part = (prolog + DTD + ELEMENT).encode()
    assert refusal(packed({"xl/workbook.xml": part})) == dtd_refusal()


@pytest.mark.parametrize(
    "part",
    [
        DECLARED + "<!DOCTYPE r [<?pi x?>]>" + ELEMENT,  # the DTD's own parts end later
        DECLARED + "<!DOCTYPE r [<!-- x -->]>" + ELEMENT,
        "<!-- a --><!DOCTYPE r [<!-- b -->]>" + ELEMENT,  # a comment ends at its first -->
        "<!-- ?> --><?pi a ?>" + DTD + ELEMENT,  # a comment's "?>" ends no instruction
        "<?pi <!-- ?>" + DTD + "<!-- -->" + ELEMENT,
    ],
)
def test_each_part_of_the_prolog_ends_at_its_own_end(part: str) -> None:
    assert refusal(packed({"xl/workbook.xml": part.encode()})) == dtd_refusal()


def test_a_dtd_inside_a_comment_is_only_text() -> None:
    accepted(packed({"xl/workbook.xml": ("<!-- " + DTD + " -->" + ELEMENT).encode()}))
    accepted(packed({"xl/workbook.xml": ("<?pi " + DTD + " ?>" + ELEMENT).encode()}))


def test_a_dtd_after_the_first_element_is_left_to_the_parser() -> None:
    """XML allows a DTD only before the first element: later it is text the parser refuses."""
    accepted(packed({"xl/workbook.xml": ("<r>" + DTD + "</r>").encode()}))


BOMS = [
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
]


@pytest.mark.parametrize(("bom", "encoding"), BOMS)
def test_a_dtd_is_found_behind_every_byte_order_mark(bom: bytes, encoding: str) -> None:
    part = bom + (DECLARED + DTD + ELEMENT).encode(encoding)
    assert refusal(packed({"xl/workbook.xml": part})) == dtd_refusal()


@pytest.mark.parametrize(("bom", "encoding"), BOMS)
def test_bytes_that_do_not_decode_are_left_to_the_parser(bom: bytes, encoding: str) -> None:
    part = bom + ELEMENT.encode(encoding) + b"\xff\xfe\xfd\xd8\x00\xdc"
    accepted(packed({"xl/workbook.xml": part}))


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_a_dtd_is_found_in_wide_encodings_without_a_byte_order_mark(encoding: str) -> None:
    for prolog in ("", DECLARED, "  "):
        part = (prolog + DTD + ELEMENT).encode(encoding)
        assert refusal(packed({"xl/sheet.xml": part})) == dtd_refusal("xl/sheet.xml")
    accepted(packed({"xl/sheet.xml": (DECLARED + ELEMENT).encode(encoding)}))


@pytest.mark.parametrize(
    ("encoding", "junk"),
    [
        ("utf-16-le", b"\x00\xd8<"),  # a lone surrogate, and half a unit at the end
        ("utf-16-be", b"\xd8\x00<"),
        ("utf-32-le", b"\xff\xff\xff\x7f"),  # past the last code point
        ("utf-32-be", b"\x7f\xff\xff\xff"),
    ],
)
def test_wide_bytes_that_do_not_decode_are_left_to_the_parser(encoding: str, junk: bytes) -> None:
    accepted(packed({"xl/workbook.xml": ELEMENT.encode(encoding) + junk}))
    dtd = (DTD + ELEMENT).encode(encoding) + junk
    assert refusal(packed({"xl/workbook.xml": dtd})) == dtd_refusal()


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "utf-8"])
def test_text_that_is_not_xml_is_left_alone(encoding: str) -> None:
    """However long its blanks: only XML has a prolog to look through."""
    accepted(packed({"xl/notes.txt": (" " * 70_000 + "hello " + DTD).encode(encoding)}))


def test_ebcdic_is_refused() -> None:
    part = "<?xml version='1.0'?><r/>".encode("cp500")
    assert refusal(packed({"xl/workbook.xml": part})) == (
        "its part xl/workbook.xml is in EBCDIC, which Excel never writes"
    )


def test_a_prolog_longer_than_what_is_read_is_refused() -> None:
    blanks = package.PROLOG_BYTES - len(DECLARED)
    too_long = (DECLARED + " " * blanks + ELEMENT).encode()
    assert refusal(packed({"xl/workbook.xml": too_long})) == (
        "its part xl/workbook.xml starts with over 64 KB before its first element"
    )
    just_fits = (DECLARED + " " * (blanks - 1) + ELEMENT).encode()
    accepted(packed({"xl/workbook.xml": just_fits}))
    comments = ("<!--" + "c" * 1000 + "-->") * 70  # the 64 KB end inside a comment
    assert "over 64 KB" in refusal(packed({"xl/workbook.xml": (comments + ELEMENT).encode()}))
    instruction = "<?pi " + "p" * 70_000 + "?>"  # ... or inside a processing instruction
    assert "over 64 KB" in refusal(packed({"xl/workbook.xml": (instruction + ELEMENT).encode()}))


def test_a_damaged_part_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as target:
        target.writestr("xl/workbook.xml", (DECLARED + ELEMENT).encode())
    data = buffer.getvalue().replace(b"<workbook", b"<workbooK")  # its checksum no longer fits
    assert refusal(zipfile.ZipFile(io.BytesIO(data))) == "its part xl/workbook.xml is damaged"


def test_a_file_is_checked_when_it_is_a_zip(tmp_path: Path) -> None:
    book = tmp_path / "book.xlsx"
    book.write_bytes(b"not a zip, maybe an old .xls")
    assert package.check_file(book) is None  # left to the reader, which names it
    assert package.check_file(tmp_path / "missing.xlsx") is None
    with zipfile.ZipFile(book, "w") as target:
        target.writestr("xl/workbook.xml", DTD + ELEMENT)
    with pytest.raises(UsageError, match=r"^book.xlsx was not read: its part xl/workbook.xml "):
        package.check_file(book)
