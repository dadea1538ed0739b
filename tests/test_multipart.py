"""
Tests for the byte-level helpers: L{camserve._jpeg.jpeg_size} and
L{camserve._jpeg.whole_jpeg},
L{camserve._multipart.encode_part} and the test helper
L{camserve.testing.MultipartParser} that the stream tests rely on.
"""

from __future__ import annotations

import pytest

from camserve import BOUNDARY, CONTENT_TYPE, Frame, encode_part
from camserve._jpeg import jpeg_size, whole_jpeg
from camserve._multipart import ADVANCE_PREAMBLE, PREAMBLE, encode_advance_part
from camserve.testing import MultipartError, MultipartParser, Part, make_jpeg

# jpeg_size


def sof_offset(jpeg: bytes) -> int:
    """
    Where the baseline start-of-frame marker of an OpenCV JPEG is.
    """
    offset = jpeg.find(b"\xff\xc0")
    assert offset > 0
    return offset


@pytest.mark.parametrize(
    ("width", "height"), [(1, 1), (32, 24), (64, 48), (17, 9), (640, 480), (8, 1000)]
)
def test_jpeg_size(width: int, height: int) -> None:
    """
    The size of a real JPEG is read from its header as C{(width, height)}.
    """
    assert jpeg_size(make_jpeg(3, width=width, height=height)) == (width, height)


def test_whole_jpeg() -> None:
    """
    A complete JPEG passes (without the padding some cameras and servers
    add after it); a truncated one, or a packet of another codec, does not.
    """
    jpeg = make_jpeg(3)
    assert whole_jpeg(jpeg) == jpeg
    assert whole_jpeg(jpeg + b"\x00" * 300) == jpeg
    assert whole_jpeg(jpeg[: len(jpeg) // 2]) is None
    assert whole_jpeg(jpeg[:-2]) is None
    assert whole_jpeg(b"\x00\x00\x00\x01\x67\x42" + jpeg[6:]) is None
    assert whole_jpeg(b"\xff\xd8\xff\xd9") is None
    assert whole_jpeg(jpeg + b"\r\n--x") == jpeg
    assert whole_jpeg(b"") is None


def test_jpeg_size_other_sof_markers() -> None:
    """
    Progressive and other start-of-frame markers give the size too.
    """
    jpeg = make_jpeg(width=64, height=48)
    offset = sof_offset(jpeg)
    for marker in (0xC1, 0xC2, 0xC3, 0xC9, 0xCF):
        changed = jpeg[: offset + 1] + bytes([marker]) + jpeg[offset + 2 :]
        assert jpeg_size(changed) == (64, 48), hex(marker)


def test_jpeg_size_skips_non_sof_markers() -> None:
    """
    DHT, JPG and DAC segments (C{0xC4}, C{0xC8}, C{0xCC}) before the
    start-of-frame are skipped, not read as one.
    """
    sof = b"\xff\xc0\x00\x11\x08\x00\x30\x00\x40" + b"\x00" * 8
    for marker in (0xC4, 0xC8, 0xCC):
        segment = b"\xff" + bytes([marker]) + b"\x00\x07" + b"\x01\x02\x03\x04\x05"
        assert jpeg_size(b"\xff\xd8" + segment + sof) == (64, 48), hex(marker)


def test_jpeg_size_fill_bytes() -> None:
    """
    C{0xFF} fill bytes before a marker are allowed.
    """
    jpeg = make_jpeg(width=64, height=48)
    offset = sof_offset(jpeg)
    filled = jpeg[:offset] + b"\xff\xff\xff" + jpeg[offset:]
    assert jpeg_size(filled) == (64, 48)


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\xff",
        b"\xff\xd8",
        b"not a jpeg at all",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00@\x00\x00\x000",
        b"\xff\xd8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\xff" * 40,
        b"\xff\xd8" + b"\xff\xe0\x00\x02" * 20,
    ],
)
def test_jpeg_size_garbage(garbage: bytes) -> None:
    """
    Bytes that are not a JPEG with a start-of-frame give L{None}.
    """
    assert jpeg_size(garbage) is None


def test_jpeg_size_truncated() -> None:
    """
    A JPEG cut anywhere before the end of its start-of-frame size fields
    gives L{None}; with the size fields complete, the size.
    """
    jpeg = make_jpeg(width=64, height=48)
    complete = sof_offset(jpeg) + 9
    for length in range(complete):
        assert jpeg_size(jpeg[:length]) is None, length
    assert jpeg_size(jpeg[:complete]) == (64, 48)


def test_jpeg_size_without_soi() -> None:
    """
    A JPEG missing its start-of-image marker gives L{None}.
    """
    assert jpeg_size(make_jpeg()[2:]) is None


# encode_part and the stream constants


def test_constants() -> None:
    """
    The boundary is C{frame}; the content type names it; a stream opens
    with it.
    """
    assert BOUNDARY == b"frame"
    assert CONTENT_TYPE == b"multipart/x-mixed-replace; boundary=frame"
    assert PREAMBLE == b"--frame\r\n"


def test_encode_part_exact() -> None:
    """
    A part is its headers, a blank line, the JPEG, then the next boundary.
    """
    assert encode_part(b"JPEGDATA", 1234.5) == (
        b"Content-Type: image/jpeg\r\n"
        b"Content-Length: 8\r\n"
        b"X-Timestamp: 1234.500000\r\n"
        b"\r\n"
        b"JPEGDATA"
        b"\r\n--frame\r\n"
    )


def test_encode_part_naming_its_camera_exact() -> None:
    """
    A part of a stream of several cameras also names its camera, in an
    C{X-Camera} header before C{X-Timestamp}, percent-encoded.
    """
    assert encode_part(b"JPEGDATA", 1234.5, "back yard/\u00e9") == (
        b"Content-Type: image/jpeg\r\n"
        b"Content-Length: 8\r\n"
        b"X-Camera: back%20yard%2F%C3%A9\r\n"
        b"X-Timestamp: 1234.500000\r\n"
        b"\r\n"
        b"JPEGDATA"
        b"\r\n--frame\r\n"
    )


def test_encode_part_real_jpeg() -> None:
    """
    C{Content-Length} counts the JPEG's bytes exactly, and the timestamp is
    rounded to six decimals.
    """
    jpeg = make_jpeg(5, width=64, height=48)
    part = encode_part(jpeg, 1_700_000_000.1234567)
    headers = (
        b"Content-Type: image/jpeg\r\nContent-Length: %d\r\n"
        b"X-Timestamp: 1700000000.123457\r\n\r\n" % len(jpeg)
    )
    assert part == headers + jpeg + b"\r\n--frame\r\n"


def test_encode_part_empty() -> None:
    """
    An empty body still gives a well-formed part.
    """
    assert encode_part(b"", 0) == (
        b"Content-Type: image/jpeg\r\nContent-Length: 0\r\n"
        b"X-Timestamp: 0.000000\r\n\r\n\r\n--frame\r\n"
    )


def test_frame_part() -> None:
    """
    A frame's part is its JPEG encoded with its capture time, built once.
    """
    frame = Frame(b"JPEG", 12.25, 1, 0.0)
    assert frame.part == encode_part(b"JPEG", 12.25)
    assert frame.part is frame.part


# MultipartParser


def stream(*bodies: bytes) -> bytes:
    """
    A stream as camserve frames it, of parts with C{bodies}.
    """
    return PREAMBLE + b"".join(
        encode_part(body, 100.0 + index) for index, body in enumerate(bodies)
    )


BODIES = (make_jpeg(1), b"", b"contains \r\n--frame\r\n inside", make_jpeg(2))


def test_parser_whole_stream() -> None:
    """
    Fed a whole stream, the parser returns every part with its headers and
    exact body, a body containing the boundary included.
    """
    parts = MultipartParser().feed(stream(*BODIES))
    assert [part.body for part in parts] == list(BODIES)
    assert parts[0].headers == {
        "content-type": "image/jpeg",
        "content-length": str(len(BODIES[0])),
        "x-timestamp": "100.000000",
    }


def feed_bytewise(parser: MultipartParser, data: bytes) -> list[Part]:
    """
    Feed C{data} to C{parser} one byte at a time; return all parts.
    """
    parts: list[Part] = []
    for index in range(len(data)):
        parts.extend(parser.feed(data[index : index + 1]))
    return parts


def test_parser_byte_by_byte() -> None:
    """
    Fed one byte at a time, the parser returns the same parts, each as soon
    as its closing boundary is complete.
    """
    data = stream(*BODIES)
    whole = MultipartParser().feed(data)
    parser = MultipartParser()
    parts: list[Part] = []
    completed_at: list[int] = []
    for index in range(len(data)):
        new = parser.feed(data[index : index + 1])
        parts.extend(new)
        completed_at.extend([index + 1] * len(new))
    assert parts == whole
    ends = []
    position = len(PREAMBLE)
    for index, body in enumerate(BODIES):
        position += len(encode_part(body, 100.0 + index))
        ends.append(position)
    assert completed_at == ends


def test_parser_incomplete() -> None:
    """
    A stream cut short, in its preamble or inside a part, gives no part for
    the incomplete bit and no error; the rest completes it.
    """
    assert MultipartParser().feed(b"--fra") == []
    data = stream(b"abc", b"defg")
    parser = MultipartParser()
    (first,) = parser.feed(data[:-1])
    assert first.body == b"abc"
    assert parser.feed(b"") == []
    (second,) = parser.feed(data[-1:])
    assert second.body == b"defg"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"--other\r\n", id="wrong-boundary"),
        pytest.param(b"Content-Type: image/jpeg\r\n", id="no-preamble"),
        pytest.param(PREAMBLE + b"no colon here\r\n\r\n", id="bad-header"),
        pytest.param(
            PREAMBLE + b"Content-Type: image/jpeg\r\n\r\nabc\r\n--frame\r\n",
            id="no-length",
        ),
        pytest.param(
            PREAMBLE + b"Content-Length: three\r\n\r\nabc\r\n--frame\r\n",
            id="bad-length",
        ),
        pytest.param(
            PREAMBLE + b"Content-Length: 2\r\n\r\nabc\r\n--frame\r\n",
            id="short-length",
        ),
        pytest.param(
            PREAMBLE + b"Content-Length: 3\r\n\r\nabcd\r\n--frame\r\n",
            id="long-body",
        ),
        pytest.param(
            PREAMBLE + b"Content-Length: 3\r\n\r\nabc\r\n--other\r\n",
            id="wrong-closing-boundary",
        ),
        pytest.param(
            PREAMBLE + b"Content-Length: 3\r\n\r\nabc--frame\r\n\r\n",
            id="boundary-without-crlf",
        ),
        pytest.param(stream(b"abc") + b"garbage\r\n\r\n", id="garbage-after-part"),
    ],
)
def test_parser_rejects_malformed(data: bytes) -> None:
    """
    Streams not framed as camserve frames them raise L{MultipartError}, fed
    whole or byte by byte.
    """
    with pytest.raises(MultipartError):
        MultipartParser().feed(data)
    with pytest.raises(MultipartError):
        feed_bytewise(MultipartParser(), data)


def test_parser_custom_boundary() -> None:
    """
    The parser can follow another boundary.
    """
    data = b"--xyz\r\nContent-Length: 2\r\n\r\nhi\r\n--xyz\r\n"
    (part,) = MultipartParser(b"xyz").feed(data)
    assert part.body == b"hi"


def test_encode_advance_part_exact_bytes() -> None:
    """
    An advance-headers part is the JPEG, the boundary, and the next part's
    headers; the stream opens with the boundary and the first part's headers.
    """
    assert encode_advance_part(b"\xff\xd8jpeg\xff\xd9") == (
        b"\xff\xd8jpeg\xff\xd9\r\n--frame\r\nContent-Type: image/jpeg\r\n\r\n"
    )
    assert ADVANCE_PREAMBLE == b"--frame\r\nContent-Type: image/jpeg\r\n\r\n"
