# -*- test-case-name: tests.test_segment_reader -*-
"""
The parts of a recorded segment, byte by byte (C{docs/recording-format.md}):
finding whole parts from their headers, and checking a part against its
index record.

Everything here blocks: it runs in a thread, never in the reactor.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from typing import TYPE_CHECKING

from attrs import frozen

from camserve._multipart import PREAMBLE

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

RECORD = struct.Struct("<dQII")
"""An index record: capture time, offset of the JPEG, its length, its CRC-32."""
OPENING = PREAMBLE
"""What a segment starts with, before its first part's headers."""
BETWEEN = b"\r\n" + PREAMBLE
"""What ends each part's JPEG, and starts the next part's headers."""
HEADERS = re.compile(
    rb"Content-Type: image/jpeg\r\n"
    rb"Content-Length: ([0-9]{1,10})\r\n"
    rb"X-Timestamp: (-?[0-9]{1,17}\.[0-9]{6})\r\n\r\n"
)
"""A part's headers, exactly as camserve writes them."""
SHORTEST_HEADERS = len(
    b"Content-Type: image/jpeg\r\nContent-Length: 1\r\nX-Timestamp: 0.000000\r\n\r\n"
)
"""The fewest bytes a part's headers take."""
LONGEST_HEADERS = SHORTEST_HEADERS + 9 + 17
"""The most bytes a part's headers take: a length of ten digits, a time of
seventeen and a sign."""
_CHUNK = 1 << 20
"""The most bytes read at once while checking a long JPEG's CRC-32."""


@frozen
class Entry:
    """
    Where one complete frame is in its segment.

    @ivar captured_at: its capture time, Unix seconds.
    @ivar offset: where its JPEG starts in the segment.
    @ivar length: the JPEG's length.
    @ivar crc: the JPEG's CRC-32.
    """

    captured_at: float
    offset: int
    length: int
    crc: int

    @property
    def stamp(self) -> bytes:
        """
        The capture time as the part's C{X-Timestamp} header writes it.
        """
        return b"%.6f" % (self.captured_at,)

    @property
    def end(self) -> int:
        """
        Where the JPEG ends.
        """
        return self.offset + self.length


def whole_parts(
    fd: int,
    size: int,
    start: int,
    claims: Mapping[int, Entry],
    known: Mapping[int, Entry],
) -> Iterator[Entry]:
    """
    The whole parts of the segment C{fd} of C{size} bytes from C{start} on
    (the end of a JPEG, or 0 for the segment's beginning), read from their
    headers, up to the first that is not whole or that a claim contradicts.

    @param claims: what the index's records after the last one taken say
        is at each offset: a part there that is not that is damaged, or its
        record is, and the reading stops.
    @param known: parts found by an earlier reading, by offset, whose JPEGs
        need not be read again.
    """
    position = start
    opening = OPENING if start == 0 else BETWEEN
    while True:
        head = os.pread(fd, len(opening) + LONGEST_HEADERS, position)
        headers = HEADERS.match(head, len(opening))
        if not head.startswith(opening) or headers is None:
            return
        length = int(headers[1])
        offset = position + headers.end()
        stamp = headers[2]
        if length == 0 or offset + length + len(BETWEEN) > size:
            return
        if os.pread(fd, len(BETWEEN), offset + length) != BETWEEN:
            return
        entry = known.get(offset)
        if entry is None or (entry.length, entry.stamp) != (length, stamp):
            entry = Entry(float(stamp), offset, length, crc_of(fd, offset, length))
        claim = claims.get(offset)
        if claim is not None and (claim.length, claim.crc, claim.stamp) != (
            entry.length,
            entry.crc,
            entry.stamp,
        ):
            return
        yield entry
        position, opening = entry.end, BETWEEN


def crc_of(fd: int, offset: int, length: int) -> int:
    """
    The CRC-32 of C{length} bytes of C{fd} from C{offset}, read a chunk at a
    time.
    """
    crc = 0
    end = offset + length
    while offset < end:
        chunk = os.pread(fd, min(_CHUNK, end - offset), offset)
        if not chunk:
            break
        crc = zlib.crc32(chunk, crc)
        offset += len(chunk)
    return crc


def checked_jpeg(fd: int, entry: Entry, start: int) -> bytes | None:
    """
    The JPEG of C{entry} if its part is what the entry says: the boundary
    and headers from C{start} (the end of the JPEG before, or 0 for the
    first part) up to it, its length and capture time, and its CRC-32;
    else L{None}.
    """
    data = os.pread(fd, entry.end - start, start)
    opening = OPENING if start == 0 else BETWEEN
    head = len(data) - entry.length
    headers = HEADERS.fullmatch(data, len(opening), head) if head > 0 else None
    if (
        headers is None
        or not data.startswith(opening)
        or int(headers[1]) != entry.length
        or headers[2] != entry.stamp
    ):
        return None
    jpeg = data[head:]
    return jpeg if zlib.crc32(jpeg) == entry.crc else None
