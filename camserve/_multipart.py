# -*- test-case-name: tests.test_multipart -*-
"""
The bytes of a C{multipart/x-mixed-replace} Motion JPEG stream.

Each part ends with the next boundary rather than starting with it, so a
client knows a part is complete as soon as it has arrived.

Chromium (Blink) shows a part only once it has parsed the I{headers} of the
part after it (crbug.com/527446), so in the standard framing a browser shows
every frame one frame late. Streams for browsers use the "advance headers"
framing instead, as uStreamer does: right after each JPEG come the boundary
and the next part's headers. Those headers cannot carry the next JPEG's
length or capture time, so that framing has neither; the standard one, for
every other client, has both.
"""

from __future__ import annotations

from urllib.parse import quote

BOUNDARY = b"frame"
CONTENT_TYPE = b"multipart/x-mixed-replace; boundary=" + BOUNDARY
PREAMBLE = b"--" + BOUNDARY + b"\r\n"
"""What a stream opens with, before its first part."""

_PART_END = b"\r\n--" + BOUNDARY + b"\r\n"
_ADVANCE_HEADERS = b"Content-Type: image/jpeg\r\n\r\n"

ADVANCE_PREAMBLE = PREAMBLE + _ADVANCE_HEADERS
"""What a stream in the advance-headers framing opens with."""


def encode_part(jpeg: bytes, captured_at: float, camera: str | None = None) -> bytes:
    """
    One complete part: headers, the JPEG, and the boundary that closes it.

    @param camera: the camera's name, for streams that carry several: then
        an C{X-Camera} header names it (percent-encoded UTF-8).
    """
    label = (
        b"" if camera is None else b"X-Camera: %s\r\n" % quote(camera, safe="").encode()
    )
    headers = (
        b"Content-Type: image/jpeg\r\n"
        b"Content-Length: %d\r\n"
        b"%sX-Timestamp: %.6f\r\n\r\n" % (len(jpeg), label, captured_at)
    )
    return b"".join((headers, jpeg, _PART_END))


def encode_advance_part(jpeg: bytes) -> bytes:
    """
    One part in the advance-headers framing: the JPEG, the boundary, and the
    headers of the part to come.
    """
    return b"".join((jpeg, _PART_END, _ADVANCE_HEADERS))
