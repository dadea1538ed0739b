"""
Tests for L{camserve.cameras._multipart_reader}: reading other servers' Motion JPEG
streams.
"""

from __future__ import annotations

import pytest

from camserve._multipart import (
    ADVANCE_PREAMBLE,
    PREAMBLE,
    encode_advance_part,
    encode_part,
)
from camserve.cameras._multipart_reader import (
    MultipartReader,
    StreamFormatError,
    StreamPart,
    boundary_from_content_type,
)
from camserve.testing import make_jpeg

JPEGS = [make_jpeg(number) for number in range(1, 4)]


def feed_bytewise(reader: MultipartReader, data: bytes) -> list[StreamPart]:
    """
    Feed C{data} one byte at a time, as the slowest network would.
    """
    parts = []
    for index in range(len(data)):
        parts.extend(reader.feed(data[index : index + 1]))
    return parts


@pytest.mark.parametrize(
    ("content_type", "boundary"),
    [
        ("multipart/x-mixed-replace; boundary=frame", b"frame"),
        ('multipart/x-mixed-replace;boundary="--myboundary"', b"--myboundary"),
        ("Multipart/X-Mixed-Replace; charset=x; BOUNDARY=a b", b"a b"),
    ],
)
def test_boundary_from_content_type(content_type: str, boundary: bytes) -> None:
    """
    The boundary is read from the response's Content-Type, quoted or not.
    """
    assert boundary_from_content_type(content_type) == boundary


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        ("text/html", "not a Motion JPEG stream (Content-Type: text/html)"),
        ("", "not a Motion JPEG stream (Content-Type: none)"),
        (
            "multipart/x-mixed-replace",
            "the stream's Content-Type names no boundary: multipart/x-mixed-replace",
        ),
    ],
)
def test_not_a_stream(content_type: str, message: str) -> None:
    """
    A response that is not multipart, or has no boundary, is refused in one
    line.
    """
    with pytest.raises(StreamFormatError) as caught:
        boundary_from_content_type(content_type)
    assert str(caught.value) == message


def test_camserve_stream_byte_for_byte() -> None:
    """
    camserve's own framing is read with each JPEG byte-identical and its
    X-Timestamp carried, however the bytes are split.
    """
    stream = PREAMBLE + b"".join(
        encode_part(jpeg, 1700000000.25 + index) for index, jpeg in enumerate(JPEGS)
    )
    expected = [
        StreamPart(jpeg, 1700000000.25 + index) for index, jpeg in enumerate(JPEGS)
    ]
    assert MultipartReader(b"frame").feed(stream) == expected
    assert feed_bytewise(MultipartReader(b"frame"), stream) == expected


def test_advance_headers_framing() -> None:
    """
    Parts without Content-Length end at the next boundary.
    """
    stream = ADVANCE_PREAMBLE + b"".join(encode_advance_part(jpeg) for jpeg in JPEGS)
    reader = MultipartReader(b"frame")
    assert feed_bytewise(reader, stream) == [StreamPart(jpeg, None) for jpeg in JPEGS]
    assert reader.skipped == 0


def test_other_servers_framing() -> None:
    """
    A preamble, a boundary declared with its dashes, bare LF line ends,
    blank lines between parts, and padding after a JPEG are all read.
    """
    stream = (
        b"HTTP junk before the first boundary\r\n"
        b"--myboundary\nContent-Type: image/jpeg\nContent-Length: %d\n\n%s\n\n"
        b"--myboundary\r\nContent-Type: image/jpeg\r\n\r\n%s\x00\x00\r\n"
        b"--myboundary\r\nX-Timestamp: nan\r\nContent-Length: %d\r\n\r\n%s\r\n"
        b"--myboundary\r\n"
    ) % (len(JPEGS[0]), JPEGS[0], JPEGS[1], len(JPEGS[2]), JPEGS[2])
    expected = [StreamPart(jpeg, None) for jpeg in JPEGS]
    assert MultipartReader(b"--myboundary").feed(stream) == expected
    assert feed_bytewise(MultipartReader(b"--myboundary"), stream) == expected


def test_boundary_inside_a_jpeg() -> None:
    """
    Without Content-Length, the boundary's bytes in the middle of a line of
    the JPEG do not end the part.
    """
    tricky = JPEGS[0][:-2] + b"xx--frame\r\n" + b"\xff\xd9"
    stream = (
        ADVANCE_PREAMBLE + encode_advance_part(tricky) + encode_advance_part(JPEGS[1])
    )
    assert MultipartReader(b"frame").feed(stream) == [
        StreamPart(tricky, None),
        StreamPart(JPEGS[1], None),
    ]


def test_broken_parts_are_skipped_and_counted() -> None:
    """
    A part that is not a whole JPEG is dropped, counted, and the stream goes
    on.
    """
    stream = (
        PREAMBLE
        + encode_part(b"not a jpeg", 1.0)
        + encode_part(JPEGS[0][:-10], 2.0)
        + encode_part(JPEGS[1], 3.0)
    )
    reader = MultipartReader(b"frame")
    assert reader.feed(stream) == [StreamPart(JPEGS[1], 3.0)]
    assert reader.skipped == 2


def test_limits() -> None:
    """
    A stream that shows no boundary, announces a huge part, or never ends
    its headers is an error rather than a growing buffer.
    """
    with pytest.raises(StreamFormatError, match=r"^no boundary in 2000 bytes"):
        MultipartReader(b"frame", max_part_size=1000).feed(b"x" * 2000)
    with pytest.raises(StreamFormatError, match=r"^a part is too large \(5000 bytes\)"):
        MultipartReader(b"frame", max_part_size=1000).feed(
            PREAMBLE + b"Content-Length: 5000\r\n\r\n"
        )
    with pytest.raises(StreamFormatError, match=r"^no boundary in \d+ bytes"):
        MultipartReader(b"frame", max_part_size=1000).feed(
            ADVANCE_PREAMBLE + b"\xff\xd8" + b"x" * 2000
        )
    with pytest.raises(StreamFormatError, match=r"^a part's headers are too long"):
        MultipartReader(b"frame").feed(PREAMBLE + b"X: " + b"y" * 20000)
