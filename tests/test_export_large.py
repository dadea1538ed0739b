"""
Tests for exports of more than one RIFF (L{camserve.web._export_route},
L{camserve.recording._export_avi}): asked of a real server with the RIFF
limit made small, a span is an OpenDML file of several RIFFs, exactly as
long as it said, that OpenCV reads back as every frame recorded, each at
its capture time.
"""

from __future__ import annotations

import socket
from functools import partial
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import pytest
import pytest_twisted  # type: ignore[import-untyped]  # it ships no type hints
from avi_files import read_avi
from recorded import START, Served, frames_at, write_segment
from support import reactor_test
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread

from camserve.recording import _avi_plan
from camserve.recording._avi_plan import plan_avi
from camserve.web import _export_route

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

RIFF_SIZE = 1 << 19


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    """
    A server of the recordings in C{tmp_path}, whose exports' RIFFs hold
    at most L{RIFF_SIZE} bytes.
    """
    monkeypatch.setattr(
        _export_route, "plan_avi", partial(plan_avi, riff_size=RIFF_SIZE)
    )
    server = Served.start(tmp_path)
    yield server
    pytest_twisted.blockon(Deferred.fromCoroutine(server.close()))


def ask(port: int, path: str) -> bytes:
    """
    Everything a server at C{port} answers to C{GET path}, until it closes
    the connection.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        client.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        received = []
        while chunk := client.recv(1 << 20):
            received.append(chunk)
    return b"".join(received)


def shown(path: Path) -> list[tuple[float, np.ndarray[Any, Any]]]:
    """
    Every frame OpenCV reads from the video at C{path}, and when it shows.
    """
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened()
    found: list[tuple[float, np.ndarray[Any, Any]]] = []
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                return found
            found.append((capture.get(cv2.CAP_PROP_POS_MSEC) / 1000, image))
    finally:
        capture.release()


@reactor_test
async def test_several_riffs(served: Served, tmp_path: Path) -> None:
    """
    A span of 380 frames of 640x480, in two segments with 20 frames
    dropped in the first, is a file of several RIFFs of at most the limit,
    of exactly the length it said, holding the recorded JPEGs untouched;
    OpenCV reads each recorded frame once, the first and last the same
    pictures as recorded, each at its capture time from the first.
    """
    size = {"width": 640, "height": 480}
    first = frames_at(START, 200, fps=20, **size)
    first = first[:150] + first[170:]
    second = frames_at(START + 10, 200, fps=20, first=200, **size)
    write_segment(tmp_path, first)
    write_segment(tmp_path, second)
    recorded = first + second
    raw = await deferToThread(
        ask,
        served.port.getHost().port,
        "/api/cameras/porch/export?start=0&end=2000000000",
    )
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 200 OK"
    headers = dict(line.lower().split(b": ", 1) for line in lines[1:])
    assert int(headers[b"content-length"]) == len(body)
    assert headers[b"x-frames"] == b"380"
    read = read_avi(body)
    assert read.jpegs == [jpeg for _, jpeg in recorded]
    assert len(read.riff_sizes) >= 3
    assert max(read.riff_sizes) <= RIFF_SIZE
    # The frame before the dropped ones is listed 21 times.
    assert read.repeats == [1] * 149 + [21] + [1] * 230
    assert read.facts["fps"] == pytest.approx(20)
    assert read.facts["frames"] == 400
    saved = tmp_path / "export.avi"
    saved.write_bytes(body)
    frames = await deferToThread(shown, saved)
    assert len(frames) == len(recorded)
    assert [when for when, _ in frames] == pytest.approx(
        [when - START for when, _ in recorded], abs=0.001
    )
    for (_, image), (_, jpeg) in [(frames[0], recorded[0]), (frames[-1], recorded[-1])]:
        expected = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert expected is not None
        assert np.array_equal(image, expected)


@reactor_test
async def test_too_many_frames(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A span of more frames than an export holds is a C{413} saying so.
    """
    write_segment(tmp_path, frames_at(START, 10, fps=20))
    monkeypatch.setattr(_avi_plan, "MOST_FRAMES", 9)
    response = await served.http.get(
        served.url("/api/cameras/porch/export?start=0&end=2000000000")
    )
    assert response.code == 413
    assert "at most 9" in (await response.json())["error"]
