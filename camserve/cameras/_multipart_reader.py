# -*- test-case-name: tests.test_multipart_reader -*-
"""
Reading Motion JPEG streams from other servers: another camserve, an IP
camera, mjpg-streamer, uStreamer.

Such servers frame their streams in many small variations, so this reader
is lenient where they differ (parts with or without Content-Length, CRLF or
bare LF, boundaries with or without a leading C{--}, a preamble before the
first boundary, blank lines between parts) and strict where it matters: a
frame is passed on only if it is a whole JPEG, and a stream that never shows
its boundary cannot grow the buffer without limit.
"""

from __future__ import annotations

import math

from attrs import frozen

from camserve._jpeg import whole_jpeg

_MAX_HEADERS = 16 * 1024
"""The most bytes a part's headers may take."""


class StreamFormatError(ValueError):
    """
    A stream that cannot be read as Motion JPEG. The message is one line.
    """


@frozen
class StreamPart:
    """
    One frame read from a stream.

    @ivar jpeg: the JPEG bytes exactly as the server sent them.
    @ivar timestamp: the part's C{X-Timestamp} in Unix seconds, if it had a
        valid one.
    """

    jpeg: bytes
    timestamp: float | None


def boundary_from_content_type(content_type: str) -> bytes:
    """
    The boundary of a C{multipart/x-mixed-replace} response.

    @raise StreamFormatError: if the type is not multipart or names no
        boundary.
    """
    media_type, *parameters = content_type.split(";")
    if not media_type.strip().lower().startswith("multipart/"):
        raise StreamFormatError(
            f"not a Motion JPEG stream (Content-Type: {content_type.strip() or 'none'})"
        )
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "boundary":
            boundary = value.strip().strip('"')
            if boundary:
                return boundary.encode("latin-1")
    raise StreamFormatError(
        f"the stream's Content-Type names no boundary: {content_type}"
    )


class MultipartReader:
    """
    An incremental reader of a multipart Motion JPEG stream body.

    Feed it the body as it arrives; it returns each complete JPEG part.
    Parts with a Content-Length are cut by it; parts without one end at the
    next boundary. Parts that are not whole JPEGs are skipped and counted.
    """

    def __init__(
        self, boundary: bytes, *, max_part_size: int = 32 * 1024 * 1024
    ) -> None:
        """
        @param boundary: the boundary from the response's Content-Type.
        @param max_part_size: the most bytes a part may take; a longer one
            is a L{StreamFormatError}.
        """
        # Some servers declare "boundary=--x" and then write "--x" rather
        # than "----x": search for the shorter form, which both contain.
        self._delimiter = boundary if boundary.startswith(b"--") else b"--" + boundary
        self._max_part_size = max_part_size
        self._buffer = bytearray()
        self._searched = 0
        self._in_part = False
        self._length: int | None = None
        self._timestamp: float | None = None
        self._body_start = 0
        self.skipped = 0
        """Parts dropped because they were not whole JPEGs."""

    def feed(self, data: bytes) -> list[StreamPart]:
        """
        Add bytes of the stream body; return the frames they completed.

        @raise StreamFormatError: when the stream cannot be read further.
        """
        self._buffer += data
        parts: list[StreamPart] = []
        while self._in_part or self._read_headers():
            body = self._read_body()
            if body is None:
                break
            part = self._frame(body)
            if part is not None:
                parts.append(part)
        return parts

    def _read_headers(self) -> bool:
        """
        Find the next boundary and read the part headers after it.
        """
        buffer = self._buffer
        start = buffer.find(
            self._delimiter, max(0, self._searched - len(self._delimiter))
        )
        if start < 0:
            self._searched = len(buffer)
            self._check_size(len(buffer))
            return False
        line_end = buffer.find(b"\n", start)
        if line_end < 0:
            return False
        headers_start = line_end + 1
        end, separator = _end_of_headers(buffer, headers_start)
        if end < 0:
            if len(buffer) - headers_start > _MAX_HEADERS:
                raise StreamFormatError("a part's headers are too long")
            return False
        length: int | None = None
        timestamp: float | None = None
        for line in bytes(buffer[headers_start:end]).split(b"\n"):
            name, colon, value = line.partition(b":")
            if not colon:
                continue
            name = name.strip().lower()
            if name == b"content-length":
                length = _non_negative_int(value)
            elif name == b"x-timestamp":
                timestamp = _finite_float(value)
        if length is not None and length > self._max_part_size:
            raise StreamFormatError(f"a part is too large ({length} bytes)")
        del buffer[: end + len(separator)]
        self._searched = 0
        self._in_part = True
        self._length = length
        self._timestamp = timestamp
        return True

    def _read_body(self) -> bytes | None:
        """
        Take the current part's body off the buffer, once all of it is in.
        """
        buffer = self._buffer
        if self._length is not None:
            if len(buffer) < self._length:
                return None
            body = bytes(buffer[: self._length])
            del buffer[: self._length]
        else:
            # The boundary counts only at the start of a line, so that the
            # same bytes inside a JPEG cannot end it.
            ending = b"\n" + self._delimiter
            end = buffer.find(ending, max(0, self._searched - len(ending)))
            if end < 0:
                self._searched = len(buffer)
                self._check_size(len(buffer))
                return None
            body = bytes(buffer[:end])
            del buffer[: end + 1]
        self._searched = 0
        self._in_part = False
        return body

    def _frame(self, body: bytes) -> StreamPart | None:
        """
        The JPEG in a part's body, without any padding after its end; L{None}
        (and counted) if the body is not a whole JPEG.
        """
        jpeg = whole_jpeg(body)
        if jpeg is None:
            self.skipped += 1
            return None
        return StreamPart(jpeg, self._timestamp)

    def _check_size(self, size: int) -> None:
        if size > self._max_part_size:
            raise StreamFormatError(
                f"no boundary in {size} bytes of the stream (expected {self._delimiter!r})"
            )


def _end_of_headers(buffer: bytearray, start: int) -> tuple[int, bytes]:
    """
    Where a part's headers end, and the blank line that ends them; C{-1} if
    not yet arrived. A part with no headers ends them at once.
    """
    for blank in (b"\r\n", b"\n"):
        if buffer.startswith(blank, start):
            return start, blank
    crlf = buffer.find(b"\r\n\r\n", start)
    lf = buffer.find(b"\n\n", start)
    if lf >= 0 and (crlf < 0 or lf < crlf):
        return lf + 1, b"\n"
    if crlf >= 0:
        return crlf + 2, b"\r\n"
    return -1, b""


def _non_negative_int(value: bytes) -> int | None:
    try:
        number = int(value.strip())
    except ValueError:
        return None
    return number if number >= 0 else None


def _finite_float(value: bytes) -> float | None:
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None
