"""
Tests for the export of recordings (L{camserve.web._export_route},
L{camserve.recording._export_avi}): a span of a camera's recording, asked
of a real server, is an AVI file that OpenCV opens and reads back as
exactly the frames recorded, streamed as it is read without piling up in
memory; bad spans, unknown cameras and servers that do not record are
refused with a short message.
"""

from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import pytest
from avi_files import read_avi
from recorded import START, Served, frames_at, write_segment
from support import reactor, reactor_test, split_response, wait_until
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread
from twisted.web.client import ResponseFailed

from camserve.recording import _export_avi
from camserve.web import _export_route
from camserve.web._instants import instant

if TYPE_CHECKING:
    from pathlib import Path

    from recorded import Written
    from support import LogRecorder


@pytest.fixture
def recorded(tmp_path: Path) -> list[Written]:
    """
    Camera C{porch}'s recording: two segments of 40 frames at 20 fps, one
    right after the other.
    """
    size = {"width": 64, "height": 48}
    return [
        write_segment(tmp_path, frames_at(START, 40, fps=20, **size)),
        write_segment(tmp_path, frames_at(START + 2, 40, fps=20, first=40, **size)),
    ]


def avi(data: bytes) -> tuple[dict[str, Any], list[bytes]]:
    """
    Read an AVI file of one Motion JPEG stream as its headers' main facts
    and its frames, checking its structure (L{read_avi}).
    """
    read = read_avi(data)
    return read.facts, read.jpegs


def video_frames(path: Path) -> list[np.ndarray[Any, Any]]:
    """
    Every frame OpenCV reads from the video at C{path}.
    """
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened()
    frames: list[np.ndarray[Any, Any]] = []
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                return frames
            frames.append(image)
    finally:
        capture.release()


@reactor_test
async def test_export_opened_by_opencv(
    served: Served, recorded: list[Written], tmp_path: Path
) -> None:
    """
    A span across two segments is an AVI file, named for the camera and
    the span, that OpenCV reads as exactly the span's frames: their count,
    their size, and the same pictures as the recorded JPEGs, which the file
    holds untouched.
    """
    every = [frame for each in recorded for frame in each.frames]
    start, end = every[10][0] - 0.001, every[69][0]
    response, body = await served.get(
        f"/api/cameras/porch/export?start={start:.3f}&end={end:.6f}"
    )
    assert response.code == 200
    headers = response.headers
    assert headers.getRawHeaders(b"content-type") == [b"video/x-msvideo"]
    assert response.length == len(body)
    assert headers.getRawHeaders(b"content-disposition") == [
        b'attachment; filename="porch-20231114-221320-to-20231114-221323.avi"'
    ]
    facts, jpegs = avi(body)
    assert jpegs == [jpeg for _, jpeg in every[10:70]]
    assert facts == {
        "frames": 60,
        "width": 64,
        "height": 48,
        "handler": b"MJPG",
        "fps": pytest.approx(20, abs=0.01),
        "length": 60,
    }
    saved = tmp_path / "export.avi"
    saved.write_bytes(body)
    decoded = await deferToThread(video_frames, saved)
    assert len(decoded) == 60
    assert {image.shape for image in decoded} == {(48, 64, 3)}
    for image, (_, jpeg) in [(decoded[0], every[10]), (decoded[-1], every[69])]:
        expected = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert expected is not None
        assert np.array_equal(image, expected)


@reactor_test
async def test_times_as_iso_8601(served: Served, recorded: list[Written]) -> None:
    """
    The span may be given as ISO 8601 times, in any zone, to the frame.
    """
    every = [frame for each in recorded for frame in each.frames]
    start = "2023-11-14T23:13:20.173456+01:00"
    assert instant(start) == pytest.approx(every[1][0])
    response = await served.http.get(
        served.url("/api/cameras/porch/export"),
        params={"start": start, "end": "2023-11-14T22:13:20.223456Z"},
    )
    _, jpegs = avi(await response.content())
    assert jpegs == [jpeg for _, jpeg in every[1:3]]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1714564800.25", 1714564800.25),
        ("1714564800", 1714564800.0),
        ("2024-05-01T12:00:00Z", 1714564800.0),
        ("2024-05-01T12:00:00", 1714564800.0),
        ("2024-05-01 12:00:00.5", 1714564800.5),
        ("2024-05-01T14:00:00.250+02:00", 1714564800.25),
        ("2024-05-01T14:00:00.250 02:00", 1714564800.25),
        ("20240501T120000Z", 1714564800.0),
    ],
)
def test_instants(text: str, seconds: float) -> None:
    """
    Instants are Unix seconds or ISO 8601 times, UTC unless they say
    otherwise; a C{+} that a query string turned into a space is read as
    the C{+} it was.
    """
    assert instant(text) == seconds


@pytest.mark.parametrize("text", ["", "nan", "inf", "-inf", "yesterday", "2024-13-01"])
def test_not_instants(text: str) -> None:
    """
    Anything else is not an instant.
    """
    with pytest.raises(ValueError, match="not a time"):
        instant(text)


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        ("", 400, "start and end must be ISO 8601 times or Unix seconds"),
        (
            "?start=1700000000",
            400,
            "start and end must be ISO 8601 times or Unix seconds",
        ),
        ("?start=yesterday&end=1700000001", 400, "start and end must be ISO 8601"),
        ("?start=nan&end=1700000001", 400, "start and end must be ISO 8601"),
        ("?start=1700000001&end=1700000000", 400, "end must not be before start"),
        ("?start=1600000000&end=1600000100", 404, "nothing was recorded then"),
    ],
)
@reactor_test
async def test_bad_spans(
    served: Served, recorded: list[Written], query: str, code: int, message: str
) -> None:
    """
    A span that is missing, not made of times, backwards, or with nothing
    recorded in it is refused with a short JSON message.
    """
    response = await served.http.get(served.url(f"/api/cameras/porch/export{query}"))
    assert response.code == code
    assert message in (await response.json())["error"]


@reactor_test
async def test_unknown_or_not_recorded(served: Served, tmp_path: Path) -> None:
    """
    An unknown camera is a C{404} naming the cameras; so is a camera of a
    server that does not record, or one with nothing recorded.
    """
    span = "?start=0&end=2000000000"
    response = await served.http.get(served.url(f"/api/cameras/garage/export{span}"))
    assert response.code == 404
    assert await response.json() == {
        "error": "no such camera",
        "cameras": ["porch", "yard"],
    }
    response = await served.http.get(served.url(f"/api/cameras/yard/export{span}"))
    assert (response.code, await response.json()) == (
        404,
        {"error": "nothing was recorded then"},
    )
    elsewhere = Served.start(None)
    try:
        response = await elsewhere.http.get(
            elsewhere.url(f"/api/cameras/porch/export{span}")
        )
        assert (response.code, await response.json()) == (
            404,
            {"error": "this camera is not recorded"},
        )
    finally:
        await elsewhere.close()


def noisy_jpeg() -> bytes:
    """
    A JPEG of noise, which compresses badly: about 300 kB.
    """
    noise = np.random.default_rng(18).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    ok, encoded = cv2.imencode(".jpg", noise, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return bytes(encoded.tobytes())


@reactor_test
async def test_streamed_not_held(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A large export is written as it is read: while the client reads
    nothing, the server writes a bounded part of it and waits; the rest
    comes once the client reads.
    """
    jpeg = noisy_jpeg()
    frames = [(START + index / 10, jpeg) for index in range(200)]
    write_segment(tmp_path, frames)
    writers: list[Any] = []

    class Noted(_export_avi.AviWriter):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            writers.append(self)

    monkeypatch.setattr(_export_route, "AviWriter", Noted)
    client = socket.create_connection(("127.0.0.1", served.port.getHost().port))
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    client.sendall(
        b"GET /api/cameras/porch/export?start=0&end=2000000000 HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    await wait_until(lambda: bool(writers), "the export starts")
    # The server writes until the sockets' buffers are full, then nothing
    # more while the client reads nothing: what can be shown of an absence
    # is that a while passes without any.
    written, steady = -1, 0
    deadline = time.monotonic() + 20
    while steady < 50:
        assert time.monotonic() < deadline, "the export never waited"
        await deferLater(reactor, 0.01, lambda: None)
        steady = steady + 1 if writers[0].written == written else 0
        written = writers[0].written
    assert writers[0]._paused
    # Whatever the sockets' buffers hold, plus a batch read ahead of them.
    size = len(jpeg) * 200
    assert written < 12_000_000 < size

    def read_all() -> bytes:
        client.settimeout(30)
        received = []
        while chunk := client.recv(1 << 20):
            received.append(chunk)
        return b"".join(received)

    try:
        raw = await deferToThread(read_all)
    finally:
        client.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"200 OK" in head
    facts, jpegs = avi(body)
    assert facts["frames"] == 200
    assert jpegs == [jpeg] * 200
    assert writers[0].written == len(body)


@reactor_test
async def test_damage_found_while_exporting(
    served: Served, recorded: list[Written], log: LogRecorder
) -> None:
    """
    A frame found damaged while the file is written (its index said
    otherwise) ends the response short of its length, so that the file is
    not taken for whole; asked again, the span is exported up to the
    damage and from the next segment on.
    """
    damaged = bytearray(recorded[0].mjpeg.read_bytes())
    damaged[recorded[0].offsets[30] + 50] ^= 0xFF
    recorded[0].mjpeg.write_bytes(bytes(damaged))
    url = served.url("/api/cameras/porch/export?start=0&end=2000000000")
    response = await served.http.get(url)
    assert response.code == 200
    with pytest.raises(ResponseFailed):
        await response.content()
    assert any("export to" in line for line in log.formatted())
    response = await served.http.get(url)
    _, jpegs = avi(await response.content())
    every = [frame for each in recorded for frame in each.frames]
    assert jpegs == [jpeg for _, jpeg in every[:30] + every[40:]]


def ask_head(port: int, path: str) -> bytes:
    """
    Everything a server at C{port} answers to C{HEAD path}.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(
            f"HEAD {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        received = []
        while chunk := client.recv(65536):
            received.append(chunk)
    return b"".join(received)


@reactor_test
async def test_head(served: Served, recorded: list[Written]) -> None:
    """
    C{HEAD} says what the file would be, without a body.
    """
    path = "/api/cameras/porch/export?start=0&end=2000000000"
    head = split_response(
        await deferToThread(ask_head, served.port.getHost().port, path)
    )
    assert head.status == b"HTTP/1.1 200 OK"
    assert head.headers[b"x-frames"] == [b"80"]
    assert head.body == b""
    _, body = await served.get(path)
    assert head.headers[b"content-length"] == [b"%d" % len(body)]
