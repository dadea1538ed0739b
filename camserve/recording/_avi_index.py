# -*- test-case-name: tests.test_avi_layout -*-
"""
The indexes of an OpenDML (AVI 2.0) file of one Motion JPEG stream, from
the lengths of its frames: the standard index (C{ix00}) at the end of each
RIFF's C{movi} list, the legacy C{idx1} of the first RIFF, and the super
index (C{indx}) in the stream's header that points at each C{ix00}.

Each is written a few thousand entries at a time, so that a long file's
index is never whole in memory.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from numpy.typing import NDArray

STREAM = b"00dc"
"""The chunks of the one stream: compressed video."""
IX_HEADER = 8 + 24
"""The bytes of an C{ix00} chunk before its entries."""
IX_ENTRY = 8
IDX1_ENTRY = 16
INDX_HEADER = 8 + 24
"""The bytes of the C{indx} chunk before its entries."""
INDX_ENTRY = 16
_BATCH = 4096
"""How many frames' entries are written at once."""
_KEYFRAME = 0x10
_INDEX_OF_INDEXES = 0
_INDEX_OF_CHUNKS = 1
_IX_ENTRY = np.dtype([("offset", "<u4"), ("size", "<u4")])
_IDX1_ENTRY = np.dtype(
    [("id", "S4"), ("flags", "<u4"), ("offset", "<u4"), ("size", "<u4")]
)


def chunk_sizes(lengths: NDArray[np.int64]) -> NDArray[np.int64]:
    """
    The bytes of each C{00dc} chunk of JPEGs of C{lengths}: its header, the
    JPEG, and a byte to make it even.
    """
    return 8 + lengths + lengths % 2


def standard_index(
    lengths: NDArray[np.int64], repeats: NDArray[np.int64], base: int
) -> Iterator[bytes]:
    """
    The C{ix00} chunk of frames of C{lengths}, each listed C{repeats}
    times, that a RIFF's C{movi} list holds in this order, its C{movi}
    type at C{base} in the file.

    Each entry is where a frame's JPEG is from C{base} (a 32-bit offset
    from a 64-bit base) and its length, keyframe bit clear: every JPEG is
    a keyframe.
    """
    entries = int(repeats.sum())
    yield struct.pack(
        "<4sIHBBI4sQI",
        b"ix00",
        IX_HEADER - 8 + IX_ENTRY * entries,
        2,
        0,
        _INDEX_OF_CHUNKS,
        entries,
        STREAM,
        base,
        0,
    )
    for first, sizes, batch, again in _batches(lengths, repeats):
        table = np.zeros(int(again.sum()), _IX_ENTRY)
        table["offset"] = np.repeat(first + _starts(sizes) + 8, again)
        table["size"] = np.repeat(batch, again)
        yield table.tobytes()


def legacy_index(
    lengths: NDArray[np.int64], repeats: NDArray[np.int64]
) -> Iterator[bytes]:
    """
    The C{idx1} chunk of the first RIFF, whose C{movi} list holds frames of
    C{lengths}, each listed C{repeats} times: for each, where its chunk is
    from the C{movi} type, and the JPEG's length.
    """
    yield b"idx1" + struct.pack("<I", IDX1_ENTRY * int(repeats.sum()))
    for first, sizes, batch, again in _batches(lengths, repeats):
        table = np.zeros(int(again.sum()), _IDX1_ENTRY)
        table["id"] = STREAM
        table["flags"] = _KEYFRAME
        table["offset"] = np.repeat(first + _starts(sizes), again)
        table["size"] = np.repeat(batch, again)
        yield table.tobytes()


def super_index(ixs: Sequence[tuple[int, int, int]]) -> bytes:
    """
    The C{indx} chunk of the C{ix00} chunks C{ixs}: each one's place in the
    file, its size (header included), and how many frames it lists.
    """
    header = struct.pack(
        "<4sIHBBI4s12x",
        b"indx",
        INDX_HEADER - 8 + INDX_ENTRY * len(ixs),
        4,
        0,
        _INDEX_OF_INDEXES,
        len(ixs),
        STREAM,
    )
    return header + b"".join(struct.pack("<QII", *each) for each in ixs)


def _starts(sizes: NDArray[np.int64]) -> NDArray[np.int64]:
    """
    Where each chunk of C{sizes} starts, from where the first does.
    """
    return np.cumsum(sizes) - sizes


def _batches(
    lengths: NDArray[np.int64], repeats: NDArray[np.int64]
) -> Iterator[tuple[int, NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]]:
    """
    The frames of C{lengths} a batch at a time: where the batch's first
    chunk is from the C{movi} type, its chunks' sizes, its JPEGs' lengths
    and how many times each is listed.
    """
    first = 4
    for start in range(0, len(lengths), _BATCH):
        batch = lengths[start : start + _BATCH]
        sizes = chunk_sizes(batch)
        yield first, sizes, batch, repeats[start : start + _BATCH]
        first += int(sizes.sum())
