"""
camserve end to end: a real server on the real reactor, on a real loopback
port, watched by real clients (raw sockets read in threads, treq and
OpenCV).

Every test starts its own server through the L{harness} fixture, which
tears everything down afterwards: client sockets, the camera service (and
so its capture threads), the listening port and every connection, so that
no test leaves the reactor dirty for the next. No test may log an error.
"""

from __future__ import annotations

import gc
import json
import re
import socket
import struct
import threading
import time
from typing import TYPE_CHECKING, Any

import attrs
import cv2
import numpy as np
import pytest
import pytest_twisted  # type: ignore[import-untyped]  # it ships no type hints
import treq
from support import reactor, reactor_test, read_head, receive, wait_until
from twisted.internet import tcp
from twisted.internet.defer import Deferred, gatherResults, inlineCallbacks
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread
from twisted.logger import LogLevel
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.resource import Resource
from twisted.web.server import Site

from camserve import (
    CameraHub,
    CameraService,
    EmulatedCamera,
    HubState,
    ICamera,
    StreamViewer,
    camera_resource,
)
from camserve.testing import MultipartParser, Part, ScriptedCamera, make_jpeg

if TYPE_CHECKING:
    from collections.abc import Callable, Generator
    from pathlib import Path

    from support import LogRecorder


TIMEOUT = 10.0
"""Seconds any single wait of a test may take before the test fails."""

FPS = 30.0


# Blocking clients, run in threads with deferToThread.


@attrs.frozen
class Head:
    """
    An HTTP response's status line and headers.
    """

    status: int
    status_line: str
    headers: dict[str, list[str]]

    def one(self, name: str) -> str:
        """
        The single value of header C{name}.
        """
        values = self.headers.get(name.lower(), [])
        assert len(values) == 1, f"{name}: {values!r}"
        return values[0]


@attrs.frozen
class Received:
    """
    A part of a stream and when it was complete, on C{time.monotonic()}.
    """

    part: Part
    at: float


class RawClient:
    """
    One HTTP request on a plain socket, read by blocking calls (run them in a
    thread: the server runs in the reactor thread). Every read is bounded by
    a deadline.
    """

    def __init__(
        self,
        port: int,
        path: str = "/video_feed",
        *,
        rcvbuf: int | None = None,
        extra_headers: str = "",
    ) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            # Before connecting, so that the TCP window is small from the start.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(TIMEOUT)
        # A loopback connect completes in the kernel, without the reactor.
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"User-Agent: camserve-tests\r\n{extra_headers}\r\n".encode("ascii")
        )
        self.buffer = b""
        self.parser = MultipartParser()
        self.closed = False

    def read_head(self) -> Head:
        """
        Read the status line and headers (the first read); keep what follows
        in C{buffer}.
        """
        assert self.buffer == b"", "the head was read already"
        response = read_head(self.sock, time.monotonic() + TIMEOUT)
        self.buffer = response.body
        status_line = response.status.decode("latin-1")
        headers = {
            name.decode("latin-1"): [value.decode("latin-1") for value in values]
            for name, values in response.headers.items()
        }
        return Head(int(status_line.split()[1]), status_line, headers)

    def read_body(self, length: int) -> bytes:
        """
        Read exactly C{length} bytes of body.
        """
        deadline = time.monotonic() + TIMEOUT
        while len(self.buffer) < length:
            data = receive(self.sock, deadline)
            if not data:
                break
            self.buffer += data
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return body

    def read_parts(self, count: int) -> list[Received]:
        """
        Read (after L{read_head}) until C{count} parts have been received.
        """
        deadline = time.monotonic() + TIMEOUT
        received = self._feed(self.buffer)
        self.buffer = b""
        while len(received) < count:
            data = receive(self.sock, deadline)
            if not data:
                raise ConnectionError(f"stream ended after {len(received)} parts")
            received += self._feed(data)
        return received

    def read_until(self, stop: threading.Event) -> list[Received]:
        """
        Read parts continuously until C{stop} is set (or the time limit).
        """
        deadline = time.monotonic() + 3 * TIMEOUT
        received = self._feed(self.buffer)
        self.buffer = b""
        self.sock.settimeout(0.1)
        while not stop.is_set():
            if time.monotonic() > deadline:
                raise TimeoutError("read_until was never stopped")
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                raise ConnectionError(f"stream ended after {len(received)} parts")
            received += self._feed(data)
        return received

    def _feed(self, data: bytes) -> list[Received]:
        now = time.monotonic()
        return [Received(part, now) for part in self.parser.feed(data)]

    def abort(self) -> None:
        """
        Close with a TCP reset rather than a FIN.
        """
        self.sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
        self.close()

    def close(self) -> None:
        """
        Close the socket, once.
        """
        if not self.closed:
            self.closed = True
            self.sock.close()


# The server.


def open_connections() -> list[Any]:
    """
    The reactor's TCP connections, client and server side, still open.
    """
    selectables = {*reactor.getReaders(), *reactor.getWriters()}
    return [each for each in selectables if isinstance(each, tcp.Connection)]


@attrs.define
class Server:
    """
    A running camserve server on 127.0.0.1.
    """

    service: CameraService
    hub: CameraHub
    site: Site
    port: Any

    @property
    def number(self) -> int:
        """
        The TCP port number.
        """
        return int(self.port.getHost().port)

    def url(self, path: str) -> str:
        """
        The URL of C{path} on this server.
        """
        return f"http://127.0.0.1:{self.number}{path}"


class Harness:
    """
    Starts servers and clients for a test and tears all of them down.
    """

    def __init__(self) -> None:
        self.servers: list[Server] = []
        self.clients: list[RawClient] = []
        self.pool = HTTPConnectionPool(reactor, persistent=False)
        self.http = treq.client.HTTPClient(Agent(reactor, pool=self.pool))

    def serve(
        self,
        camera: ICamera,
        *,
        idle_timeout: float = 10.0,
        mount: Callable[[Any], Any] | None = None,
    ) -> Server:
        """
        Serve C{camera} as camera C{"cam"} on a fresh port.

        @param mount: given the camera's resource, returns the site's root
            resource; by default the camera's resource is the root.
        """
        service = CameraService(reactor)
        hub = service.add_camera("cam", camera, idle_timeout=idle_timeout)
        resource = camera_resource(hub, reactor)
        site = Site(resource if mount is None else mount(resource))
        port = reactor.listenTCP(0, site, interface="127.0.0.1")
        service.startService()
        server = Server(service, hub, site, port)
        self.servers.append(server)
        return server

    def client(
        self, server: Server, path: str = "/video_feed", **options: Any
    ) -> RawClient:
        """
        A raw client that has sent C{GET path} to C{server}.
        """
        client = RawClient(server.number, path, **options)
        self.clients.append(client)
        return client

    @inlineCallbacks
    def close(self) -> Generator[Deferred[Any], Any, None]:
        """
        Close clients, stop services and ports, and wait for every
        connection (the server's and treq's) to be gone.
        """
        for client in self.clients:
            client.close()
        for server in self.servers:
            yield server.service.stopService()
            yield server.port.stopListening()
        yield self.pool.closeCachedConnections()
        deadline = time.monotonic() + TIMEOUT
        while open_connections():
            if time.monotonic() > deadline:
                for connection in open_connections():
                    connection.abortConnection()
                deadline = time.monotonic() + TIMEOUT
            yield deferLater(reactor, 0.01, lambda: None)


@pytest.fixture
def harness(log: LogRecorder) -> Generator[Harness, None, None]:
    """
    A L{Harness}, torn down after the test. Neither the test nor the
    teardown may log an error: a camserve server in ordinary use (viewers
    coming and going, a camera failing) logs warnings at most. (The C{log}
    fixture, set up first, is torn down last: it records the teardown.)
    """
    harness = Harness()
    yield harness
    pytest_twisted.blockon(harness.close())
    gc.collect()  # Unhandled errors in Deferreds are logged when collected.
    errors = log.troubles(LogLevel.error)
    assert errors == [], "\n".join(errors)


# Helpers.


async def pause(seconds: float) -> None:
    """
    Let the reactor run for C{seconds}.
    """
    await deferLater(reactor, seconds, lambda: None)


def noisy_jpeg(seed: int, width: int = 320, height: int = 240) -> bytes:
    """
    A JPEG of random pixels, which compresses badly: big frames fill socket
    buffers quickly.
    """
    image = np.random.default_rng(seed).integers(
        0, 256, (height, width, 3), dtype=np.uint8
    )
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return bytes(encoded.tobytes())


def assert_valid_jpeg(data: bytes, size: tuple[int, int] | None = None) -> None:
    """
    C{data} is a complete JPEG that OpenCV decodes, of C{(width, height)}.
    """
    assert data[:2] == b"\xff\xd8", data[:16]
    assert data[-2:] == b"\xff\xd9", data[-16:]
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    if size is not None:
        assert (image.shape[1], image.shape[0]) == size


def assert_stream(parts: list[Received], size: tuple[int, int] | None = None) -> None:
    """
    Each part is a valid JPEG with correct headers; timestamps strictly rise
    and no frame repeats the one before it.
    """
    previous_stamp = 0.0
    previous_body = b""
    for received in parts:
        headers, body = received.part.headers, received.part.body
        assert headers["content-type"] == "image/jpeg"
        assert int(headers["content-length"]) == len(body)
        assert re.fullmatch(r"\d+\.\d{6}", headers["x-timestamp"])
        stamp = float(headers["x-timestamp"])
        assert stamp > previous_stamp
        assert abs(stamp - time.time()) < 60
        assert body != previous_body
        assert_valid_jpeg(body, size)
        previous_stamp, previous_body = stamp, body


def viewers_of(hub: CameraHub) -> list[StreamViewer]:
    """
    The hub's subscribed stream viewers (private state, looked at on
    purpose).
    """
    return [sink for sink in hub._sinks if isinstance(sink, StreamViewer)]


class Other(Resource):
    """
    A resource of the site the camera is embedded in.
    """

    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        """
        Say what it is.
        """
        request.setHeader(b"content-type", b"text/plain")
        return b"not the camera"


# The tests.


@reactor_test
async def test_stream_response_is_close_delimited_mjpeg(harness: Harness) -> None:
    """
    GET /video_feed answers HTTP/1.1 200 with the headers the README
    documents (multipart/x-mixed-replace with boundary "frame",
    Cache-Control: no-store, Connection: close) and neither chunked
    Transfer-Encoding nor a Content-Length; the body opens with --frame and
    parses into valid JPEG parts with correct Content-Length, X-Timestamp
    with 6 decimals, strictly rising, and no frame equal to the one before.
    """
    server = harness.serve(EmulatedCamera(fps=FPS, width=160, height=120))
    client = harness.client(server)

    head = await deferToThread(client.read_head)
    assert head.status_line == "HTTP/1.1 200 OK"
    assert head.one("content-type") == "multipart/x-mixed-replace; boundary=frame"
    directives = [each.strip() for each in head.one("cache-control").split(",")]
    assert "no-store" in directives
    assert head.one("connection") == "close"
    assert "transfer-encoding" not in head.headers
    assert "content-length" not in head.headers

    parts = await deferToThread(client.read_parts, 12)
    assert len(parts) >= 12
    assert_stream(parts, size=(160, 120))


@reactor_test
async def test_two_viewers_at_once(harness: Harness) -> None:
    """
    Two viewers watching at the same time both receive a valid stream, and
    the hub counts both.
    """
    server = harness.serve(ScriptedCamera([make_jpeg(n) for n in range(6)], fps=FPS))
    first, second = harness.client(server), harness.client(server)

    heads = await gatherResults(
        [deferToThread(first.read_head), deferToThread(second.read_head)]
    )
    assert [head.status for head in heads] == [200, 200]
    streams = await gatherResults(
        [deferToThread(first.read_parts, 10), deferToThread(second.read_parts, 10)]
    )
    for parts in streams:
        assert_stream(parts, size=(32, 24))
    assert server.hub.viewers == 2


@reactor_test
async def test_stalled_viewer_does_not_slow_another(harness: Harness) -> None:
    """
    A viewer that never reads (a tiny receive buffer, no recv) fills its
    connection until the server holds its frames back, yet another viewer
    still gets at least 80% of the camera's frame rate over 2 s, and the
    server keeps both viewers.
    """
    camera = ScriptedCamera([noisy_jpeg(n) for n in range(4)], fps=FPS)
    server = harness.serve(camera)
    stalled = harness.client(server, rcvbuf=4096)
    fast = harness.client(server)
    await deferToThread(fast.read_head)
    stop = threading.Event()
    reading = deferToThread(fast.read_until, stop)
    stalled_peer = f"127.0.0.1:{stalled.sock.getsockname()[1]}"

    def stalled_is_paused() -> bool:
        return any(
            viewer.peer == stalled_peer and viewer._paused
            for viewer in viewers_of(server.hub)
        )

    try:
        await wait_until(stalled_is_paused, "the stalled viewer's connection is full")
        started = time.monotonic()
        await pause(2.0)
        ended = time.monotonic()
        assert server.hub.viewers == 2
        assert stalled_is_paused()
    finally:
        stop.set()
        parts = await reading

    in_window = [r for r in parts if started <= r.at <= ended]
    stamps = {r.part.headers["x-timestamp"] for r in in_window}
    assert len(stamps) >= 0.8 * FPS * (ended - started), len(stamps)
    assert_stream(parts)


@reactor_test
async def test_camera_stops_when_idle_and_restarts(harness: Harness) -> None:
    """
    Once the last viewer leaves, the camera keeps running for the idle
    timeout, then its frames() generator is closed (the device released) and
    the hub is idle; a new viewer opens the camera again and gets frames.
    """
    camera = ScriptedCamera([make_jpeg(n) for n in range(5)], fps=FPS)
    server = harness.serve(camera, idle_timeout=0.5)
    hub = server.hub
    assert hub.health()["state"] == "idle"
    assert camera.opened == 0

    client = harness.client(server)
    await deferToThread(client.read_head)
    assert_stream(await deferToThread(client.read_parts, 3))
    assert camera.is_open
    assert hub.state is HubState.RUNNING

    client.close()
    await wait_until(lambda: hub.viewers == 0, "the server sees the viewer leave")
    left = time.monotonic()
    await wait_until(lambda: not camera.is_open, "the camera is closed")
    assert time.monotonic() - left >= 0.4, "closed before the idle timeout"
    assert (camera.opened, camera.closed) == (1, 1)
    await wait_until(lambda: hub.state is HubState.IDLE, "the hub is idle")

    again = harness.client(server)
    head = await deferToThread(again.read_head)
    assert head.status == 200
    assert_stream(await deferToThread(again.read_parts, 5))
    assert camera.opened == 2
    assert camera.is_open
    assert hub.state is HubState.RUNNING


@reactor_test
async def test_camera_failing_before_first_frame(harness: Harness) -> None:
    """
    A camera whose frames() raises before yielding anything gives a viewer a
    503 whose body is one line naming the error, and /healthz reports the
    camera failed (with a 503 and the error).
    """
    camera = ScriptedCamera(
        [make_jpeg()], fail_after=0, error=OSError("lens cap is on\nsecond line")
    )
    server = harness.serve(camera)

    response = await harness.http.get(server.url("/video_feed"))
    body = await response.text()
    assert response.code == 503
    assert response.headers.getRawHeaders("content-type") == [
        "text/plain; charset=utf-8"
    ]
    assert body == "camera cam failed: lens cap is on\n"

    response = await harness.http.get(server.url("/healthz"))
    health = json.loads(await response.text())
    assert response.code == 503
    assert health["state"] == "failed"
    assert health["last_error"] == "lens cap is on"
    assert health["viewers"] == 0
    assert server.hub.state is HubState.FAILED
    assert camera.opened == camera.closed == 1


@reactor_test
async def test_opencv_reads_the_stream(harness: Harness) -> None:
    """
    OpenCV's VideoCapture (its FFmpeg backend) opens /video_feed and decodes
    at least 10 frames of the camera's size.
    """
    server = harness.serve(EmulatedCamera(fps=FPS, width=160, height=120))
    url = server.url("/video_feed")

    def capture() -> list[tuple[int, ...]]:
        timeouts = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            int(TIMEOUT * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            int(TIMEOUT * 1000),
        ]
        video = cv2.VideoCapture(url, cv2.CAP_FFMPEG, timeouts)
        try:
            assert video.isOpened(), "OpenCV could not open the stream"
            shapes: list[tuple[int, ...]] = []
            for _ in range(10):
                ok, image = video.read()
                assert ok, f"OpenCV failed after {len(shapes)} frames"
                shapes.append(tuple(image.shape))
            return shapes
        finally:
            video.release()

    shapes = await deferToThread(capture)
    assert shapes == [(120, 160, 3)] * 10


@reactor_test
async def test_embedded_under_existing_site(harness: Harness, tmp_path: Path) -> None:
    """
    The camera's resource mounted at /cam/ in an existing resource tree
    serves its page, a snapshot and the stream there, next to the tree's own
    resources; the emulated camera plays a folder of JPEGs.
    """
    jpegs = [make_jpeg(n, 48, 32) for n in (10, 20, 30)]
    for n, jpeg in enumerate(jpegs, 1):
        (tmp_path / f"{n}.jpg").write_bytes(jpeg)

    def mount(resource: Any) -> Resource:
        root = Resource()
        root.putChild(b"cam", resource)
        root.putChild(b"other", Other())
        return root

    server = harness.serve(EmulatedCamera(fps=FPS, source=str(tmp_path)), mount=mount)

    client = harness.client(server, "/cam/video_feed")
    head = await deferToThread(client.read_head)
    assert head.status == 200
    assert head.one("content-type") == "multipart/x-mixed-replace; boundary=frame"
    parts = await deferToThread(client.read_parts, 10)
    assert_stream(parts, size=(48, 32))
    assert all(received.part.body in jpegs for received in parts)

    page = await harness.http.get(server.url("/cam/"))
    text = await page.text()
    assert page.code == 200
    assert page.headers.getRawHeaders("content-type") == ["text/html; charset=utf-8"]
    assert '<h1 id="name">cam</h1>' in text
    assert 'src="video_feed?advance_headers=1"' in text
    assert "48\u00d732" in text

    snapshot = await harness.http.get(server.url("/cam/snapshot.jpg"))
    image = await snapshot.content()
    assert snapshot.code == 200
    assert snapshot.headers.getRawHeaders("content-type") == ["image/jpeg"]
    assert image in jpegs
    assert_valid_jpeg(image, (48, 32))

    other = await harness.http.get(server.url("/other"))
    assert await other.content() == b"not the camera"
    missing = await harness.http.get(server.url("/cam/nothing"))
    await missing.content()
    assert missing.code == 404


@reactor_test
async def test_viewer_leaving_mid_frame_logs_no_error(
    harness: Harness, log: LogRecorder
) -> None:
    """
    Viewers that disconnect in the middle of a frame (one closing its
    socket with unread data, one resetting the connection) are dropped by
    the hub without any error-level log event or traceback.
    """
    server = harness.serve(ScriptedCamera([noisy_jpeg(n, 640, 480) for n in range(3)]))

    def read_into_a_frame(client: RawClient) -> None:
        client.read_head()
        # The first part's headers and a little of its JPEG, no more.
        while b"\xff\xd8" not in client.buffer:
            client.buffer += receive(client.sock, time.monotonic() + TIMEOUT)
        assert len(client.buffer) < 200_000

    closing, resetting = harness.client(server), harness.client(server)
    await gatherResults(
        [
            deferToThread(read_into_a_frame, closing),
            deferToThread(read_into_a_frame, resetting),
        ]
    )
    await wait_until(lambda: server.hub.viewers == 2, "both viewers are subscribed")
    closing.close()
    resetting.abort()
    await wait_until(lambda: server.hub.viewers == 0, "the hub drops both viewers")
    # Deferreds that fail unhandled are only reported when collected.
    gc.collect()
    await pause(0.2)
    assert log.troubles(LogLevel.error) == []
