"""
Tests for L{camserve.recording._segment_reader}: a segment reads back up to
its last complete frame whatever moment a crash cut its files at, and
damage is never taken for a frame.

Each damaged segment is read twice, as the catalog reads it (its frames
loaded, then read one at a time, checked as they are read) and all at once
(L{read_segment}), and both must give exactly the frames the files prove.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import pytest
from recorded import (
    BOUNDARY_AFTER,
    RECORD,
    START,
    Written,
    frames_at,
    write_segment,
)

from camserve.recording._segment_reader import (
    load_segment,
    read_frames,
    read_segment,
)
from camserve.testing import make_jpeg

if TYPE_CHECKING:
    from pathlib import Path

COUNT = 24


def seeded(seed: int) -> random.Random:
    """
    Random numbers that are the same at every run, to damage files with.
    """
    return random.Random(seed)  # noqa: S311 - places to damage, not secrets


@pytest.fixture
def written(tmp_path: Path) -> Written:
    """
    A segment of L{COUNT} frames of different sizes, all indexed.
    """
    frames = [
        (captured_at, make_jpeg(index, width=32 + index % 4 * 16))
        for index, (captured_at, _) in enumerate(frames_at(START, COUNT))
    ]
    return write_segment(tmp_path, frames)


def frame_by_frame(written: Written) -> list[tuple[float, bytes]]:
    """
    The frames of C{written}'s segment read one at a time, as playback
    reads them: each read may find the segment to be other than it seemed.
    """
    frames = load_segment(written.mjpeg, written.idx)
    read = []
    index = 0
    while index < len(frames):
        batch, frames = read_frames(written.mjpeg, written.idx, frames, [index])
        if not batch:
            break
        read += [(entry.captured_at, jpeg) for entry, jpeg in batch]
        index += 1
    return read


def assert_reads(written: Written, count: int) -> None:
    """
    Read both ways, the segment gives exactly its first C{count} frames,
    their JPEGs untouched and their capture times to the microsecond.
    """
    for read in [
        list(read_segment(written.mjpeg, written.idx)),
        frame_by_frame(written),
    ]:
        assert [jpeg for _, jpeg in read] == [
            jpeg for _, jpeg in written.frames[:count]
        ]
        for (got, _), (expected, _) in zip(read, written.frames, strict=False):
            assert got == pytest.approx(expected, abs=1e-6)


def test_whole_segment(written: Written) -> None:
    """
    A segment written whole reads back every frame.
    """
    assert_reads(written, COUNT)
    frames = load_segment(written.mjpeg, written.idx)
    assert (len(frames), frames.indexed, frames.damaged) == (COUNT, COUNT, False)


@pytest.mark.parametrize("indexed", [0, 1, 10, COUNT - 1])
def test_parts_not_yet_indexed(written: Written, indexed: int) -> None:
    """
    Parts written after the last index record (or with no index at all)
    are read from their headers.
    """
    written.idx.write_bytes(written.idx.read_bytes()[: indexed * RECORD.size])
    assert_reads(written, COUNT)
    assert load_segment(written.mjpeg, written.idx).indexed == indexed
    written.idx.unlink()
    assert_reads(written, COUNT)


def expected_after_cut(written: Written, size: int, records: int) -> int:
    """
    How many frames a segment cut to C{size} bytes, with its first
    C{records} index records whole, has complete: the indexed frames whose
    JPEG is all there, then, if they all are, the parts after them whose
    JPEG and closing boundary are.
    """
    count = 0
    while count < min(records, COUNT) and written.ends[count] <= size:
        count += 1
    if count < min(records, COUNT):
        return count
    while count < COUNT and written.ends[count] + len(BOUNDARY_AFTER) <= size:
        count += 1
    return count


def test_truncated_at_random(written: Written) -> None:
    """
    A segment and its index cut at random places, as by a crash or a
    process killed mid-write, read back exactly the frames complete before
    the cut: never a frame cut short, never an exception.
    """
    segment, index = written.mjpeg.read_bytes(), written.idx.read_bytes()
    rng = seeded(18)
    cuts = [(rng.randrange(len(segment) + 1), len(index)) for _ in range(150)]
    cuts += [(len(segment), rng.randrange(len(index) + 1)) for _ in range(50)]
    cuts += [
        (rng.randrange(len(segment) + 1), rng.randrange(len(index) + 1))
        for _ in range(150)
    ]
    for size, kept in cuts:
        written.mjpeg.write_bytes(segment[:size])
        written.idx.write_bytes(index[:kept])
        assert_reads(written, expected_after_cut(written, size, kept // RECORD.size))


def test_zero_filled_segment(written: Written) -> None:
    """
    A segment whose end is zeros (a power cut can leave a file longer than
    what reached the disk) reads back the frames complete before the zeros:
    the records of frames that are zeros fail their CRC-32.
    """
    segment = written.mjpeg.read_bytes()
    rng = seeded(19)
    for _ in range(150):
        size = rng.randrange(len(segment))
        written.mjpeg.write_bytes(segment[:size] + bytes(len(segment) - size))
        assert_reads(written, expected_after_cut(written, size, COUNT))


def expected_after_zeroed_index(written: Written, kept: int) -> int:
    """
    How many frames a whole segment has complete when its index is zeros
    from byte C{kept} on: the record torn there (if any) is taken as a
    record if it names a frame of some length within the segment; as such
    it contradicts its frame, and the frames end before it. Otherwise it,
    and the zero records after it, are no records, and every part is read
    from its headers.
    """
    torn, within = divmod(kept, RECORD.size)
    if torn >= COUNT or not within:
        return COUNT
    record = bytearray(written.record(torn))
    record[within:] = bytes(RECORD.size - within)
    _, offset, length, _ = RECORD.unpack(record)
    if record == written.record(torn) or length == 0:
        return COUNT
    assert offset == written.offsets[torn]
    return torn


def test_zero_filled_index(written: Written) -> None:
    """
    An index whose end is zeros reads back every frame whose part is
    whole, unless a record torn by the zeros names a frame that is not
    what it says.
    """
    index = written.idx.read_bytes()
    rng = seeded(20)
    for kept in [*range(3 * RECORD.size), *rng.sample(range(len(index)), 60)]:
        written.idx.write_bytes(index[:kept] + bytes(len(index) - kept))
        assert_reads(written, expected_after_zeroed_index(written, kept))


def test_corrupt_byte_in_segment(written: Written) -> None:
    """
    A byte changed anywhere in an indexed frame's part (its boundary,
    headers or JPEG) ends the frames before that frame; one changed in the
    boundary after the last frame changes nothing.
    """
    segment = written.mjpeg.read_bytes()
    rng = seeded(21)
    for position in rng.sample(range(len(segment)), 300):
        damaged = bytearray(segment)
        damaged[position] ^= 0xFF
        written.mjpeg.write_bytes(bytes(damaged))
        frame = sum(end <= position for end in written.ends)
        assert_reads(written, frame)


def test_corrupt_byte_in_unindexed_part(written: Written) -> None:
    """
    A byte changed in the boundary or headers of a part not yet indexed,
    or in the boundary that closes it, ends the frames before that part.
    (A byte changed inside such a part's JPEG cannot be seen: only an
    index record carries a CRC-32.)
    """
    written.idx.write_bytes(written.idx.read_bytes()[: 10 * RECORD.size])
    segment = written.mjpeg.read_bytes()
    framing = [
        position
        for frame in range(10, COUNT)
        for position in range(written.starts[frame], written.offsets[frame])
    ]
    framing += range(written.ends[-1], len(segment))
    for position in seeded(22).sample(framing, 150):
        damaged = bytearray(segment)
        damaged[position] ^= 0xFF
        written.mjpeg.write_bytes(bytes(damaged))
        whole = [
            end + (len(BOUNDARY_AFTER) if frame >= 10 else 0) <= position
            for frame, end in enumerate(written.ends)
        ]
        assert_reads(written, whole.index(False) if False in whole else COUNT)


@pytest.mark.parametrize(
    ("field", "byte"),
    [("time", 2), ("time", 5), ("length", 0), ("length", 1), ("crc", 0), ("crc", 3)],
)
def test_corrupt_index_record(written: Written, field: str, byte: int) -> None:
    """
    A record whose time, length or CRC-32 was changed ends the frames
    before its frame, which the record then contradicts (unless the length
    runs past the segment: then it is no record and its frame is read from
    its headers).
    """
    index = written.idx.read_bytes()
    start = {"time": 0, "length": 16, "crc": 20}[field]
    for frame in [0, 1, COUNT // 2, COUNT - 1]:
        damaged = bytearray(index)
        damaged[frame * RECORD.size + start + byte] ^= 0xFF
        written.idx.write_bytes(bytes(damaged))
        _, offset, length, _ = RECORD.unpack_from(damaged, frame * RECORD.size)
        past_end = offset + length > written.mjpeg.stat().st_size
        assert_reads(written, COUNT if past_end else frame)


@pytest.mark.parametrize("byte", [0, 1])
def test_corrupt_index_offset(written: Written, byte: int) -> None:
    """
    A record whose offset was changed names no frame: the parts from its
    frame on are read from their headers, and nothing is lost.
    """
    index = written.idx.read_bytes()
    for frame in range(COUNT):
        damaged = bytearray(index)
        damaged[frame * RECORD.size + 8 + byte] ^= 0xFF
        written.idx.write_bytes(bytes(damaged))
        assert_reads(written, COUNT)


def test_growing_segment(tmp_path: Path) -> None:
    """
    A segment still being written reads back what it has so far, and read
    again with what was read before, the frames added since, as a fresh
    read does.
    """
    frames = frames_at(START, 30)
    full = write_segment(tmp_path, frames)
    segment, index = full.mjpeg.read_bytes(), full.idx.read_bytes()
    rng = seeded(23)
    previous = None
    records = 0
    for step in [*sorted(rng.sample(range(len(segment)), 25)), len(segment)]:
        # The index lags the segment, and never shrinks.
        whole = sum(end <= step for end in full.ends)
        records = max(records, whole - rng.randrange(3))
        full.mjpeg.write_bytes(segment[:step])
        full.idx.write_bytes(index[: records * RECORD.size])
        previous = load_segment(full.mjpeg, full.idx, previous)
        fresh = load_segment(full.mjpeg, full.idx)
        assert list(previous.offsets) == list(fresh.offsets)
        assert list(previous.crcs) == list(fresh.crcs)
        assert previous.indexed == fresh.indexed
    assert previous is not None
    assert len(previous) == 30


def test_missing_files(tmp_path: Path) -> None:
    """
    A segment that is not there has no frames.
    """
    mjpeg, idx = tmp_path / "x.mjpeg", tmp_path / "x.idx"
    assert list(read_segment(mjpeg, idx)) == []
    assert len(load_segment(mjpeg, idx)) == 0
