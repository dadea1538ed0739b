# -*- test-case-name: tests.test_multipart -*-
"""
Reading what camserve needs to know from JPEG bytes, without decoding them.
"""

from __future__ import annotations

_MARKER = 0xFF
"""The byte that starts every JPEG marker."""

_SOI = b"\xff\xd8"
_EOI = b"\xff\xd9"

_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
"""Start-of-frame markers: every C{0xCn} except DHT, JPG and DAC."""


def jpeg_size(jpeg: bytes) -> tuple[int, int] | None:
    """
    The C{(width, height)} of a JPEG image, from its start-of-frame header,
    or L{None} if C{jpeg} is not a well-formed JPEG.
    """
    if not jpeg.startswith(_SOI):
        return None
    position = 2
    end = len(jpeg)
    while position + 4 <= end:
        if jpeg[position] != _MARKER:
            return None
        marker = jpeg[position + 1]
        if marker == _MARKER:
            position += 1
            continue
        length = int.from_bytes(jpeg[position + 2 : position + 4], "big")
        if marker in _SOF_MARKERS:
            if position + 9 > end:
                return None
            height = int.from_bytes(jpeg[position + 5 : position + 7], "big")
            width = int.from_bytes(jpeg[position + 7 : position + 9], "big")
            return width, height
        position += 2 + length
    return None


def whole_jpeg(data: bytes) -> bytes | None:
    """
    C{data} as one whole JPEG, from its start-of-image marker to its last
    end-of-image marker, or L{None} if it is not one: an empty or cut-short
    buffer, or a codec's packet that is no JPEG.

    Bytes after the end marker are cut off: UVC cameras and some streaming
    servers pad their frames.
    """
    if not data.startswith(_SOI):
        return None
    if not data.endswith(_EOI):
        end = data.rfind(_EOI, len(_SOI))
        if end < 0:
            return None
        data = data[: end + len(_EOI)]
    return data if jpeg_size(data) is not None else None
