# -*- test-case-name: tests.test_multipart -*-
"""
The bytes of a C{multipart/x-mixed-replace} Motion JPEG stream.

Each part ends with the next boundary rather than starting with it: Chromium
shows a part only once it sees the boundary after it, so boundary-first
framing would show every frame one frame late.
"""

from __future__ import annotations

BOUNDARY = b"frame"
CONTENT_TYPE = b"multipart/x-mixed-replace; boundary=" + BOUNDARY
PREAMBLE = b"--" + BOUNDARY + b"\r\n"
"""What a stream opens with, before its first part."""

_PART_END = b"\r\n--" + BOUNDARY + b"\r\n"


def encode_part(jpeg: bytes, captured_at: float) -> bytes:
    """
    One complete part: headers, the JPEG, and the boundary that closes it.
    """
    headers = (
        b"Content-Type: image/jpeg\r\n"
        b"Content-Length: %d\r\n"
        b"X-Timestamp: %.6f\r\n\r\n" % (len(jpeg), captured_at)
    )
    return b"".join((headers, jpeg, _PART_END))
