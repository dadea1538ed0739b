# -*- test-case-name: tests.test_avi_layout -*-
"""
The layout of a span of a recording as an OpenDML (AVI 2.0) file of Motion
JPEG (C{MJPG}), worked out from the lengths of its JPEGs alone, before any
is read.

The file is a series of RIFF chunks of at most L{RIFF_SIZE} bytes each. The
first, C{RIFF AVI }, holds the headers (C{hdrl}: C{avih}; a C{strl} of the
one video stream's C{strh}, C{strf} and C{indx}, its super index; and
C{odml}'s C{dmlh}, the frame count of the whole file), a C{movi} list of
frames (one C{00dc} chunk per JPEG, untouched) ending with their standard
index (C{ix00}), and the legacy index C{idx1} of its frames. Each next one,
C{RIFF AVIX}, holds a C{movi} list of more frames and their C{ix00}. A
reader of AVI 1.0 files finds in the first RIFF a whole AVI 1.0 file: for
a span that fits in one, all of it.
"""

from __future__ import annotations

import struct
from array import array
from typing import TYPE_CHECKING

import numpy as np
from attrs import frozen

from camserve._jpeg import jpeg_size
from camserve.recording._avi_index import (
    IDX1_ENTRY,
    INDX_ENTRY,
    INDX_HEADER,
    IX_ENTRY,
    IX_HEADER,
    chunk_sizes,
    legacy_index,
    standard_index,
    super_index,
)
from camserve.recording._catalog import Stretch
from camserve.recording._export_timing import Timing, frame_timing

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from numpy.typing import NDArray

RIFF_SIZE = 1 << 30
"""The most bytes in one RIFF of a file, unless a single frame is larger:
the limit other writers keep to, which every reader of OpenDML reads."""
MOST_FRAMES = 1_000_000
"""The most frames in a file (about 9 hours at 30 frames a second): what
the server holds of an export while it is sent grows with them."""
LARGEST = 0xFFFF_FFFF
"""The most a 32-bit size or count of a RIFF file holds."""
_HAS_INDEX = 0x10
_MUST_USE_INDEX = 0x20
_DMLH_SIZE = 248


def _hdrl_size(riffs: int) -> int:
    """
    The bytes of the C{hdrl} list, after its own eight, for a file of
    C{riffs} RIFFs.
    """
    strl = 4 + (8 + 56) + (8 + 40) + INDX_HEADER + INDX_ENTRY * riffs
    odml = 4 + 8 + _DMLH_SIZE
    return 4 + (8 + 56) + 8 + strl + 8 + odml


class TooLargeError(ValueError):
    """
    A span with more frames than an export holds (L{MOST_FRAMES}), or a
    frame larger than a RIFF holds.
    """


@frozen
class Riff:
    """
    One RIFF chunk of a file.

    @ivar first: the place of its first frame among the file's.
    @ivar stop: the place of the frame after its last.
    @ivar start: where it starts in the file.
    @ivar size: its size as its header gives it, the eight bytes of its
        header not counted.
    @ivar movi: its C{movi} list's, likewise.
    @ivar movi_at: where the type of its C{movi} list is in the file: the
        base of its C{ix00}.
    @ivar ix_at: where its C{ix00} chunk is in the file.
    @ivar entries: how many entries its C{ix00} has.
    """

    first: int
    stop: int
    start: int
    size: int
    movi: int
    movi_at: int
    ix_at: int
    entries: int

    @property
    def head(self) -> bytes:
        """
        Its first bytes, up to its first frame, unless it is the first.
        """
        return struct.pack(
            "<4sI4s4sI4s", b"RIFF", self.size, b"AVIX", b"LIST", self.movi, b"movi"
        )


@frozen
class AviPlan:
    """
    What an AVI file of a span of a recording holds, known before any of it
    is written.

    @ivar stretches: the span's frames, by segment.
    @ivar lengths: their JPEGs' lengths.
    @ivar timing: when each shows.
    @ivar riffs: the file's RIFF chunks, in order.
    @ivar headers: the file's first bytes, up to the first frame's chunk.
    @ivar size: the file's length in bytes.
    """

    stretches: Sequence[Stretch]
    lengths: NDArray[np.int64]
    timing: Timing
    riffs: Sequence[Riff]
    headers: bytes
    size: int

    @property
    def count(self) -> int:
        """
        How many frames the file holds.
        """
        return len(self.lengths)

    def pieces(self) -> Iterator[bytes | int]:
        """
        The file, in order, as the bytes to write and, in between, the
        number of frames to write next, as chunks of their JPEGs.
        """
        for number, riff in enumerate(self.riffs):
            yield self.headers if number == 0 else riff.head
            yield riff.stop - riff.first
            lengths = self.lengths[riff.first : riff.stop]
            repeats = self.timing.repeats[riff.first : riff.stop]
            yield from standard_index(lengths, repeats, riff.movi_at)
            if number == 0:
                yield from legacy_index(lengths, repeats)


def plan_avi(
    stretches: Sequence[Stretch], first: bytes, *, riff_size: int = RIFF_SIZE
) -> AviPlan:
    """
    The AVI file of the frames C{stretches}, whose first JPEG is C{first},
    in RIFFs of at most C{riff_size} bytes.

    @raise TooLargeError: if the span has more than L{MOST_FRAMES} frames,
        or a frame larger than a RIFF holds (4 GiB).
    """
    count = sum(len(stretch.lengths) for stretch in stretches)
    if count > MOST_FRAMES:
        raise TooLargeError(
            f"the span has {count} frames; an export holds at most {MOST_FRAMES}"
        )
    lengths = np.concatenate(
        [np.asarray(stretch.lengths, np.int64) for stretch in stretches]
    )
    times = np.concatenate(
        [np.asarray(stretch.times, np.float64) for stretch in stretches]
    )
    timing = frame_timing(times)
    riffs = _riffs(lengths, timing.repeats, riff_size)
    width, height = jpeg_size(first) or (0, 0)
    headers = _headers(riffs, timing, int(lengths.max()), width, height)
    # The index's lists become compact arrays: the plan is held while the
    # file is sent.
    compact = [
        Stretch(
            stretch.segment,
            stretch.first,
            array("q", stretch.lengths),
            array("d", stretch.times),
        )
        for stretch in stretches
    ]
    size = riffs[-1].start + 8 + riffs[-1].size
    return AviPlan(compact, lengths, timing, riffs, headers, size)


def _riffs(
    lengths: NDArray[np.int64], repeats: NDArray[np.int64], riff_size: int
) -> list[Riff]:
    """
    The RIFFs of frames of C{lengths} listed C{repeats} times each: as
    many frames in each as fit in C{riff_size} bytes, and at least one.

    The first RIFF's headers hold an entry for each RIFF, and how many
    frames fit in it depends on them: its size is found again until the
    number of RIFFs it leads to is the number it was found for.
    """
    chunks = chunk_sizes(lengths)
    riffs = 1
    # More RIFFs make larger headers, hence fewer frames in the first RIFF
    # and never fewer RIFFs: the count only grows, up to the frames'.
    while True:
        bounds = _split(chunks, repeats, _hdrl_size(riffs), riff_size)
        if len(bounds) == riffs:
            break
        riffs = len(bounds)
    found: list[Riff] = []
    start = 0
    for first, stop in bounds:
        entries = int(repeats[first:stop].sum())
        movi = 4 + int(chunks[first:stop].sum()) + IX_HEADER + IX_ENTRY * entries
        if found:
            movi_at = start + 20
            size = 4 + 8 + movi
        else:
            hdrl = _hdrl_size(riffs)
            movi_at = 12 + 8 + hdrl + 8
            size = 4 + (8 + hdrl) + (8 + movi) + (8 + IDX1_ENTRY * entries)
        ix_at = movi_at + movi - IX_HEADER - IX_ENTRY * entries
        if size > LARGEST or entries > LARGEST:
            raise TooLargeError("a frame of the span is larger than AVI holds")
        found.append(Riff(first, stop, start, size, movi, movi_at, ix_at, entries))
        start += 8 + size
    return found


def _split(
    chunks: NDArray[np.int64],
    repeats: NDArray[np.int64],
    hdrl: int,
    riff_size: int,
) -> list[tuple[int, int]]:
    """
    Where the RIFFs of frames of chunks of C{chunks} bytes, listed
    C{repeats} times each, begin and end, the first with headers of
    C{hdrl} bytes.
    """
    # What the frames up to each take in the first RIFF (their chunks and
    # their entries in both its indexes) and in the others (in C{ix00}).
    in_first = np.concatenate(
        [[0], np.cumsum(chunks + (IX_ENTRY + IDX1_ENTRY) * repeats)]
    )
    in_others = np.concatenate([[0], np.cumsum(chunks + IX_ENTRY * repeats)])
    fixed, taken = 12 + 8 + hdrl + 12 + IX_HEADER + 8, in_first
    bounds = []
    first = 0
    while first < len(chunks):
        room = taken[first] + riff_size - fixed
        stop = int(np.searchsorted(taken, room, side="right")) - 1
        stop = max(stop, first + 1)
        bounds.append((first, stop))
        first = stop
        fixed, taken = 12 + 12 + IX_HEADER, in_others
    return bounds


def _headers(
    riffs: Sequence[Riff], timing: Timing, largest: int, width: int, height: int
) -> bytes:
    """
    The first bytes of the file of C{riffs}, up to its first frame, for
    frames of C{timing}, the largest of C{largest} bytes, of C{width} by
    C{height} pixels.
    """
    fps = timing.rate
    rate, scale = max(round(fps * 1000), 1), 1000
    total = timing.entries
    # Frames listed again show only by the index, not in the order of the
    # chunks: say so, for readers that would otherwise read the chunks.
    flags = _HAS_INDEX | (_MUST_USE_INDEX if total > len(timing.repeats) else 0)
    avih = struct.pack(
        "<10I16x",
        round(1_000_000 / fps),
        min(round(largest * fps), LARGEST),
        0,
        flags,
        # OpenDML: the frames of the first RIFF, which an AVI 1.0 reader
        # reads; the whole file's are in dmlh.
        riffs[0].entries,
        0,
        1,
        largest,
        width,
        height,
    )
    strh = struct.pack(
        "<4s4sIHHIIIIIIIIhhhh",
        b"vids",
        b"MJPG",
        0,
        0,
        0,
        0,
        scale,
        rate,
        0,
        total,
        largest,
        LARGEST,
        0,
        0,
        0,
        min(width, 0x7FFF),
        min(height, 0x7FFF),
    )
    strf = struct.pack(
        "<IiiHH4sIiiII",
        40,
        width,
        height,
        1,
        24,
        b"MJPG",
        width * height * 3,
        0,
        0,
        0,
        0,
    )
    indx = super_index(
        [
            (riff.ix_at, IX_HEADER + IX_ENTRY * riff.entries, riff.entries)
            for riff in riffs
        ]
    )
    strl = b"strl" + _chunk(b"strh", strh) + _chunk(b"strf", strf) + indx
    dmlh = struct.pack("<I", total).ljust(_DMLH_SIZE, b"\0")
    odml = b"odml" + _chunk(b"dmlh", dmlh)
    hdrl = (
        b"hdrl" + _chunk(b"avih", avih) + _chunk(b"LIST", strl) + _chunk(b"LIST", odml)
    )
    first = riffs[0]
    return b"".join(
        [
            struct.pack("<4sI4s", b"RIFF", first.size, b"AVI "),
            _chunk(b"LIST", hdrl),
            struct.pack("<4sI4s", b"LIST", first.movi, b"movi"),
        ]
    )


def _chunk(fourcc: bytes, data: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(data)) + data + b"\0" * (len(data) % 2)
