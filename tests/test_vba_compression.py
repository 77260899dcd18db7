"""excel/vba.py's MS-OVBA compression (the add-in's VBA sources are stored compressed in the
.xlam), read back by oletools' independent decompressor: [MS-OVBA]'s own examples, chunks that do
not compress (stored raw), copies as long and as far back as a copy token holds, and the
add-in's sources compressed quickly. The whole project is checked in test_addin_build.py (round
trips of any text, the committed .xlam rebuilt byte for byte) and test_vba_project.py."""

from __future__ import annotations

import random
import time

import pytest
from oletools.olevba import decompress_stream

from bpxl.excel import vba, xlam

RAW_HEADER = bytes.fromhex("FF 3F")  # 4,096 + 2 bytes less 3, signature 0b011, not compressed


def unpacked(data: bytes) -> bytes:
    return bytes(decompress_stream(bytearray(data)))


def noise(size: int, seed: int = 7) -> bytes:
    """Bytes that do not compress (the same ones on every run)."""
    return random.Random(seed).randbytes(size)


def test_the_specifications_examples_come_out_as_it_prints_them() -> None:
    # [MS-OVBA] 3.2.1: nothing repeats, so 3 flag bytes of 0 among the 23 literals.
    text = b"abcdefghijklmnopqrstuv."
    assert vba.compress(text) == bytes.fromhex(
        "01 19 B0 00 61 62 63 64 65 66 67 68 00 69 6A 6B 6C 6D 6E 6F 70 00 71 72 73 74 75 76 2E"
    )
    # [MS-OVBA] 3.2.2, but for three copy tokens (its 30 00, 10 04, 3C 00): where copies of the
    # same length are found, the example takes a farther one, while its own matching procedure
    # (2.4.1.3.19.4) keeps the nearest, as we do. Both read back the same.
    text = b"#aaabcdefaaaaghijaaaaaklaaamnopqaaaaaaaaaaaarstuvwxyzaaa"
    packed = vba.compress(text)
    assert packed == bytes.fromhex(
        "01 2F B0 00 23 61 61 61 62 63 64 65 82 66 00 70 61 67 68 69 6A 01 38 08 61 6B 6C 00 20"
        "6D 6E 6F 70 06 71 02 70 04 00 72 73 74 75 76 10 77 78 79 7A 00 2C"
    )
    assert unpacked(packed) == text
    # One letter over a whole chunk: the letter, then one copy of the 4,095 others.
    assert vba.compress(b"a" * vba.CHUNK) == bytes.fromhex("01 03 B0 02 61 FC 0F")


def test_chunks_that_do_not_compress_are_stored_raw_and_read_back() -> None:
    raw = noise(2 * vba.CHUNK)
    text = b'Sub BpxlAction(control As IRibbonControl)\r\n    RunPython "..."\r\nEnd Sub\r\n' * 40
    packed = vba.compress(raw + text)
    assert unpacked(packed) == raw + text
    first, second = packed[1 : 3 + vba.CHUNK], packed[3 + vba.CHUNK : 5 + 2 * vba.CHUNK]
    assert first == RAW_HEADER + raw[: vba.CHUNK] and second == RAW_HEADER + raw[vba.CHUNK :]
    assert len(packed) < 5 + 2 * vba.CHUNK + len(text) // 4  # the text after them compressed


def test_a_short_chunk_compressing_to_exactly_a_chunks_size_is_kept_compressed() -> None:
    head = noise(3631, seed=3631)
    text = head + head[:74]  # 3,705 bytes: 3,631 literals and a copy, 4,096 bytes packed
    packed = vba.compress(text)
    assert len(packed) == 1 + 2 + vba.CHUNK
    assert unpacked(packed) == text


def test_a_last_chunk_that_would_only_grow_is_refused_rather_than_written_wrong() -> None:
    """A raw chunk holds exactly 4,096 bytes (the reader would take padding for text): a short
    last chunk that does not compress cannot be stored. VBA source text always compresses."""
    with pytest.raises(ValueError) as refused:
        vba.compress(noise(4000))
    assert str(refused.value) == "a short chunk that does not compress cannot be stored"


@pytest.mark.parametrize("period", [2, 3, 15, 16, 17, 31, 33, 255, 257, 1023, 2047, 2049, 3000])
def test_copies_reach_as_far_back_and_run_as_long_as_a_copy_token_holds(period: int) -> None:
    """A copy token's 16 bits hold its offset in as few bits as reach the chunk's start and
    its length in the rest: copies at every change of that split, as long as they can be."""
    text = noise(period, seed=period) * (3 * vba.CHUNK // period + 2)
    packed = vba.compress(text)
    assert unpacked(packed) == text
    assert len(packed) < 0.95 * len(text)  # copies, not literals, after the first period


def test_the_addins_vba_compresses_in_well_under_a_second() -> None:
    """Each build and each test of the .xlam compresses its 50 KB of VBA (a compressor that
    searched every earlier position took 40 seconds)."""
    standard, documents = xlam.modules()
    source = "".join([*standard.values(), *documents.values()]).encode(vba.CODE_PAGE)
    began = time.process_time()  # this process's own time: the same on a busy machine
    packed = vba.compress(source)
    assert time.process_time() - began < 5.0
    assert unpacked(packed) == source and len(packed) < len(source) // 2
