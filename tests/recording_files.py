"""
Reading recordings back for the tests, by C{docs/recording-format.md}
alone: a strict check of a segment written whole, and the reading rules
after a crash. (camserve's own reader is another module; these are the
spec's words, written out again.)
"""

from __future__ import annotations

import re
import struct
import zlib
from typing import TYPE_CHECKING

from attrs import frozen

if TYPE_CHECKING:
    from pathlib import Path

RECORD = struct.Struct("<dQII")
PREAMBLE = b"--frame\r\n"
PART_END = b"\r\n--frame\r\n"
NAME = re.compile(r"\d{8}T\d{6}\.\d{3}Z")


@frozen
class Recorded:
    """
    One frame read back: its capture time, its JPEG, and whether its index
    record was found good (else it was read from its part's headers).
    """

    captured_at: float
    jpeg: bytes
    indexed: bool


def segments(root: Path, camera: str) -> list[Path]:
    """
    Camera C{camera}'s segment files under C{root}, in time order, each
    where the spec puts it.
    """
    found = sorted((root / camera).glob("*/*.mjpeg"), key=lambda path: path.name)
    for path in found:
        assert NAME.fullmatch(path.stem), path
        day = path.parent.name
        assert day == f"{path.stem[:4]}-{path.stem[4:6]}-{path.stem[6:8]}", path
    return found


def index_of(segment: Path) -> Path:
    return segment.with_suffix(".idx")


def parse_part(data: bytes, start: int) -> tuple[float, int, int, int] | None:
    """
    The part at C{start}: its capture time, its JPEG's offset and length,
    and where the next part starts; L{None} unless it is whole.
    """
    end = data.find(b"\r\n\r\n", start)
    if end < 0:
        return None
    headers = {}
    for line in data[start:end].split(b"\r\n"):
        name, colon, value = line.partition(b":")
        if not colon:
            return None
        headers[name.strip().lower()] = value.strip()
    try:
        length = int(headers[b"content-length"])
        captured_at = float(headers[b"x-timestamp"])
    except (KeyError, ValueError):
        return None
    offset = end + 4
    after = offset + length
    if data[after : after + len(PART_END)] != PART_END:
        return None
    return captured_at, offset, length, after + len(PART_END)


def read_segment(segment: Path) -> list[Recorded]:
    """
    The frames of C{segment} by the spec's rules for reading after a crash:
    index records up to the last whole one, ending at the first whose JPEG
    is empty, starts before the end of the part before (or of the
    preamble), runs past the segment, or fails its CRC; then the whole
    parts after the last good record, read from their headers; nothing
    after.
    """
    data = segment.read_bytes()
    index_path = index_of(segment)
    index = index_path.read_bytes() if index_path.exists() else b""
    frames: list[Recorded] = []
    resume = len(PREAMBLE) if data.startswith(PREAMBLE) else None
    whole = len(index) // RECORD.size
    for number in range(whole):
        captured_at, offset, length, crc = RECORD.unpack_from(
            index, number * RECORD.size
        )
        jpeg = data[offset : offset + length]
        if (
            resume is None
            or length == 0
            or offset < resume
            or offset + length > len(data)
            or zlib.crc32(jpeg) != crc
        ):
            break
        frames.append(Recorded(captured_at, jpeg, indexed=True))
        resume = offset + length + len(PART_END)
    while resume is not None and (part := parse_part(data, resume)) is not None:
        captured_at, offset, length, resume = part
        frames.append(Recorded(captured_at, data[offset : offset + length], False))
    return frames


def check_whole(segment: Path) -> list[Recorded]:
    """
    Check that C{segment} is what the writer leaves when it closes a
    segment: the preamble, then whole parts and nothing else, each with
    one index record that gives its capture time, its JPEG's offset and
    length and their CRC-32, in order; capture times never go back. The
    frames, all indexed.
    """
    data = segment.read_bytes()
    index = index_of(segment).read_bytes()
    assert data.startswith(PREAMBLE)
    assert len(index) % RECORD.size == 0
    records = [
        RECORD.unpack_from(index, at) for at in range(0, len(index), RECORD.size)
    ]
    position = len(PREAMBLE)
    frames: list[Recorded] = []
    for captured_at, offset, length, crc in records:
        part = parse_part(data, position)
        assert part is not None, f"no whole part at {position} of {segment}"
        timestamp, at, size, position = part
        assert (at, size) == (offset, length)
        assert timestamp == float(f"{captured_at:.6f}")
        jpeg = data[offset : offset + length]
        assert zlib.crc32(jpeg) == crc
        assert not frames or captured_at >= frames[-1].captured_at
        frames.append(Recorded(captured_at, jpeg, indexed=True))
    assert position == len(data), f"{segment} has bytes after its last part"
    return frames


def read_camera(root: Path, camera: str) -> list[Recorded]:
    """
    Every frame of camera C{camera}'s recording, segment after segment,
    each segment checked whole.
    """
    return [frame for each in segments(root, camera) for frame in check_whole(each)]
