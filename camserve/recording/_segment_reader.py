# -*- test-case-name: tests.test_segment_reader -*-
"""
Reading a recorded segment back (C{docs/recording-format.md}): which of its
frames are complete, where each one is, and their bytes, trusting only what
the files prove, whatever moment a crash cut them at.

A segment is read in two steps. L{load_segment} reads the index, keeps its
records up to the first that cannot be right (rule 1, and the part of rule 2
that needs no JPEG: a record running past the end), and recovers the parts
after it from their headers (rules 3 and 4). L{read_frames} reads frames,
checking each against its record: its CRC-32 (the rest of rule 2) and the
part's own headers. A frame that fails ends the index before it for good,
and what follows is recovered from the headers again; so a segment read
frame by frame gives exactly the frames L{read_segment} gives, which checks
them all at once, without reading gigabytes to open a segment.

Two points the format leaves open are settled here, both so that damage is
never taken for a frame: a record must name a frame of at least one byte,
just after the frame before (an index zero-filled by a power cut has records
of no length at offset 0, whose CRC-32 of nothing is 0 and so "matches"); and
a part recovered from its headers is not kept if a record of the index names
the same place for a frame that is not this one (other length, CRC-32 or
time): one of the two is damaged, and which one cannot be told.

Everything here blocks: it runs in a thread, never in the reactor.
"""

from __future__ import annotations

import math
import os
from array import array
from typing import TYPE_CHECKING

from attrs import frozen

from camserve.recording._segment_parts import (
    BETWEEN,
    LONGEST_HEADERS,
    OPENING,
    RECORD,
    SHORTEST_HEADERS,
    Entry,
    checked_jpeg,
    whole_parts,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from pathlib import Path


@frozen(eq=False)
class SegmentFrames:
    """
    The complete frames of one segment, in order, as far as its files showed
    when they were read. Never changed once made: reading more of a segment
    that grows, or finding damage, makes another.

    @ivar times: each frame's capture time, for searching by time.
    @ivar offsets: each frame's JPEG offset.
    @ivar lengths: each frame's JPEG length.
    @ivar crcs: each frame's CRC-32.
    @ivar indexed: how many of the frames (the first ones) its index gave;
        the others were recovered from the segment's part headers.
    @ivar size: the segment's size in bytes when it was read.
    @ivar damaged: whether a frame was found not to be what its record
        says, which ends the index before it for good.
    """

    times: array[float]
    offsets: array[int]
    lengths: array[int]
    crcs: array[int]
    indexed: int
    size: int
    damaged: bool = False

    def __len__(self) -> int:
        return len(self.times)

    def entry(self, index: int) -> Entry:
        """
        Where frame C{index} is.
        """
        return Entry(
            self.times[index],
            self.offsets[index],
            self.lengths[index],
            self.crcs[index],
        )


def empty_frames() -> SegmentFrames:
    """
    A segment with no complete frame.
    """
    return SegmentFrames(array("d"), array("Q"), array("I"), array("I"), 0, 0)


def load_segment(
    mjpeg: Path, idx: Path, previous: SegmentFrames | None = None
) -> SegmentFrames:
    """
    The complete frames of the segment C{mjpeg} with the index C{idx}, their
    bytes not yet checked against their records (see L{read_frames}).

    @param previous: what an earlier read of this segment gave, if it is
        still being written: its indexed frames are kept, and only what
        was added since is read.
    """
    try:
        fd = os.open(mjpeg, os.O_RDONLY)
    except FileNotFoundError:
        return empty_frames()
    try:
        return _load(fd, os.fstat(fd).st_size, idx, previous)
    finally:
        os.close(fd)


def read_frames(
    mjpeg: Path, idx: Path, frames: SegmentFrames, wanted: Iterable[int]
) -> tuple[list[tuple[Entry, bytes]], SegmentFrames]:
    """
    The JPEGs of the frames C{wanted} (indexes in C{frames}, ascending),
    each checked against its record.

    @return: the frames read, with where each is, and the segment's frames
        as known now: C{frames} itself, or, if a frame was found damaged,
        the frames before it and those recovered after it, in which the
        rest of C{wanted} was read. Frames past the end of that are left
        out.
    """
    read: list[tuple[Entry, bytes]] = []
    try:
        fd = os.open(mjpeg, os.O_RDONLY)
    except FileNotFoundError:
        return read, _cut(frames, 0)
    try:
        recovered = False
        for index in wanted:
            if index >= len(frames):
                break
            jpeg = _checked(fd, frames, index)
            if jpeg is None and not recovered:
                frames, recovered = _damaged(fd, idx, frames, index), True
                jpeg = _checked(fd, frames, index) if index < len(frames) else None
            if jpeg is None:
                # Recovered a moment ago and already not what it was: the
                # file is changing under the reader, which stops there.
                return read, _cut(frames, index)
            read.append((frames.entry(index), jpeg))
    finally:
        os.close(fd)
    return read, frames


def read_segment(mjpeg: Path, idx: Path) -> Iterator[tuple[float, bytes]]:
    """
    Every complete frame of a segment, in order: its capture time and JPEG.
    """
    frames = load_segment(mjpeg, idx)
    index = 0
    while index < len(frames):
        batch, frames = read_frames(
            mjpeg, idx, frames, range(index, min(index + 64, len(frames)))
        )
        if not batch:
            return
        for entry, jpeg in batch:
            yield entry.captured_at, jpeg
        index += len(batch)


def _load(
    fd: int, size: int, idx: Path, previous: SegmentFrames | None
) -> SegmentFrames:
    """
    L{load_segment} of the open segment C{fd} of C{size} bytes.
    """
    if previous is None:
        previous = empty_frames()
    indexed = previous.indexed
    records = _records(idx, indexed)
    frames = _prefix(previous, indexed)
    if not previous.damaged:
        accepted = _accept(frames, records, size)
        indexed += accepted
        records = records[accepted:]
    known = {
        previous.offsets[index]: previous.entry(index)
        for index in range(previous.indexed, len(previous))
    }
    return _recovered(
        fd,
        size,
        frames,
        indexed,
        records=records,
        known=known,
        damaged=previous.damaged,
    )


def _damaged(fd: int, idx: Path, frames: SegmentFrames, index: int) -> SegmentFrames:
    """
    The frames of a segment whose frame C{index} is not what its record
    says: the index ends before it, and the parts after are recovered from
    their headers, unless a record contradicts them.
    """
    indexed = min(index, frames.indexed)
    known = {
        frames.offsets[each]: frames.entry(each)
        for each in range(max(index, frames.indexed), len(frames))
    }
    return _recovered(
        fd,
        os.fstat(fd).st_size,
        _prefix(frames, index),
        indexed,
        records=_records(idx, indexed),
        known=known,
        damaged=True,
    )


def _cut(frames: SegmentFrames, count: int) -> SegmentFrames:
    """
    The first C{count} of C{frames}, and nothing after them for good.
    """
    return _recovered(
        None,
        frames.size,
        _prefix(frames, count),
        min(count, frames.indexed),
        records=[],
        known={},
        damaged=True,
    )


def _records(idx: Path, first: int) -> list[tuple[float, int, int, int]]:
    """
    The whole records of index C{idx} from the C{first}; a record cut
    short at its end is ignored (rule 1).
    """
    try:
        with idx.open("rb") as file:
            file.seek(first * RECORD.size)
            data = file.read()
    except FileNotFoundError:
        return []
    whole = len(data) - len(data) % RECORD.size
    return list(RECORD.iter_unpack(memoryview(data)[:whole]))


def _prefix(frames: SegmentFrames, count: int) -> SegmentFrames:
    """
    A copy of the first C{count} of C{frames}, to add to.
    """
    return SegmentFrames(
        frames.times[:count],
        frames.offsets[:count],
        frames.lengths[:count],
        frames.crcs[:count],
        min(count, frames.indexed),
        frames.size,
    )


def _accept(
    frames: SegmentFrames, records: list[tuple[float, int, int, int]], size: int
) -> int:
    """
    Add to C{frames} the first C{records} that can be right without reading
    their JPEGs: each names a frame of at least one byte, within the
    segment's C{size} (rule 2), just after the frame before it.

    @return: how many were added.
    """
    end = frames.offsets[-1] + frames.lengths[-1] if len(frames) else 0
    opening = len(OPENING if end == 0 else BETWEEN)
    for accepted, (captured_at, offset, length, crc) in enumerate(records):
        if not (
            length > 0
            and offset + length <= size
            and opening + SHORTEST_HEADERS <= offset - end <= opening + LONGEST_HEADERS
            and math.isfinite(captured_at)
        ):
            return accepted
        frames.times.append(captured_at)
        frames.offsets.append(offset)
        frames.lengths.append(length)
        frames.crcs.append(crc)
        end, opening = offset + length, len(BETWEEN)
    return len(records)


def _recovered(
    fd: int | None,
    size: int,
    frames: SegmentFrames,
    indexed: int,
    *,
    records: list[tuple[float, int, int, int]],
    known: Mapping[int, Entry],
    damaged: bool,
) -> SegmentFrames:
    """
    C{frames}, the first C{indexed} of them from the index, then the whole
    parts of the segment C{fd} after them, recovered from their headers
    (rules 3 and 4); none without C{fd}.

    @param records: the index's records after the indexed frames, which a
        part recovered must not contradict.
    @param known: parts recovered by an earlier read, by offset, whose
        JPEGs need not be read again.
    """
    claims: dict[int, Entry] = {}
    for captured_at, offset, length, crc in records:
        if length > 0 and offset + length <= size:
            claims.setdefault(offset, Entry(captured_at, offset, length, crc))
    end = frames.offsets[-1] + frames.lengths[-1] if len(frames) else 0
    parts = () if fd is None else whole_parts(fd, size, end, claims, known)
    for entry in parts:
        frames.times.append(entry.captured_at)
        frames.offsets.append(entry.offset)
        frames.lengths.append(entry.length)
        frames.crcs.append(entry.crc)
    return SegmentFrames(
        frames.times,
        frames.offsets,
        frames.lengths,
        frames.crcs,
        indexed,
        size,
        damaged,
    )


def _checked(fd: int, frames: SegmentFrames, index: int) -> bytes | None:
    """
    The JPEG of frame C{index} of C{frames}, if its part is what its record
    says (L{checked_jpeg}); else L{None}.
    """
    start = frames.offsets[index - 1] + frames.lengths[index - 1] if index else 0
    return checked_jpeg(fd, frames.entry(index), start)
