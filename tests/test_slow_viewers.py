"""
Slow viewers stay live: a viewer that reads slower than the stream gets
frames close to live, skipping to the newest, over plain TCP, over TLS and
through a relay, while a fast viewer beside it gets every frame; a viewer
that reads nothing leaves about two frames queued.

Each reader is a real socket, read at a fixed rate through a small receive
buffer, in a thread, while camserve runs on the real reactor. The bounds
are loose enough for a busy machine and far below what a queue that grows
reaches within the run.
"""

from __future__ import annotations

import fcntl
import gc
import itertools
import socket
import ssl
import statistics
import struct
import termios
import time
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import pytest
import pytest_twisted  # type: ignore[import-untyped]  # it ships no type hints
from support import reactor, reactor_test, self_signed_tls, wait_until
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.logger import LogLevel
from twisted.web.server import Site

from camserve import CameraHub, CameraService, camera_resource, make_camera
from camserve.testing import MultipartParser, ScriptedCamera

if TYPE_CHECKING:
    from collections.abc import Generator

    from support import LogRecorder

FPS = 20.0
READ_FOR = 5.0
"""Seconds each reader reads: long enough for a growing queue to show."""

RECEIVE_BUFFER = 8192
"""What slow readers ask for as their receive buffer (Linux doubles it)."""


def noisy_jpegs(count: int = 8) -> list[bytes]:
    """
    Distinct JPEGs of random pixels, about 20 KB each: frames big enough to
    fill socket buffers quickly.
    """
    generator = np.random.default_rng(7)
    jpegs = []
    for _ in range(count):
        pixels = generator.integers(0, 256, (96, 128, 3), dtype=np.uint8)
        ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        jpegs.append(bytes(encoded.tobytes()))
    return jpegs


JPEGS = noisy_jpegs()
PART_SIZE = max(len(jpeg) for jpeg in JPEGS) + 100
"""A part's size: the JPEG and its headers."""

BITRATE = PART_SIZE * FPS


class PacedReader:
    """
    A viewer on a blocking socket that reads at most C{rate} bytes a second
    (as fast as it can if L{None}), noting when each whole part arrived
    (on C{time.time()}) and its C{X-Timestamp}.
    """

    def __init__(
        self,
        port: int,
        rate: float | None,
        *,
        receive_buffer: int | None = RECEIVE_BUFFER,
        tls: bool = False,
    ) -> None:
        self.rate = rate
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:
            # Before connecting, so that the TCP window is small from the start.
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.receive_buffer = raw.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        raw.settimeout(10)
        # A loopback connect completes in the kernel, without the reactor;
        # the TLS handshake needs the reactor, so it happens in read_for.
        raw.connect(("127.0.0.1", port))
        self.sock = raw
        self.tls = tls

    def _request(self) -> None:
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            self.sock = context.wrap_socket(self.sock)
        self.sock.sendall(b"GET /video_feed HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")

    def read_for(self, seconds: float) -> list[tuple[float, float]]:
        """
        Ask for the stream and read it for C{seconds} (in a thread); each
        whole part's arrival and capture time.
        """
        self._request()
        parser = MultipartParser()
        head: bytes | None = b""
        arrivals: list[tuple[float, float]] = []
        started = time.monotonic()
        received = 0
        while time.monotonic() < started + seconds:
            chunk = 65536 if self.rate is None else 2048
            if self.rate is not None:
                wait = started + (received + chunk) / self.rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            data = self.sock.recv(chunk)
            assert data, "the server closed the stream"
            received += len(data)
            if head is not None:
                head += data
                end = head.find(b"\r\n\r\n")
                if end < 0:
                    continue
                data = head[end + 4 :]
                head = None
            now = time.time()
            arrivals.extend(
                (now, float(part.headers["x-timestamp"])) for part in parser.feed(data)
            )
        return arrivals

    def close(self) -> None:
        self.sock.close()


def assert_live(arrivals: list[tuple[float, float]], reader: PacedReader) -> None:
    """
    Each frame's age on arrival stays within the time to read about two
    frames and the reader's own receive buffer at its rate, plus a frame
    interval (with room for a busy machine), and does not grow.
    """
    assert reader.rate is not None
    assert len(arrivals) >= 8, arrivals
    captured = [at for _, at in arrivals]
    assert captured == sorted(set(captured)), "a frame came twice or out of order"
    ages = [at - capture for at, capture in arrivals[2:]]
    bound = (2 * PART_SIZE + reader.receive_buffer) / reader.rate + 1 / FPS
    assert max(ages) < 1.5 * bound + 0.1, (bound, ages)
    quarter = len(ages) // 4
    early, late = statistics.median(ages[:quarter]), statistics.median(ages[-quarter:])
    assert late < early + PART_SIZE / reader.rate, (early, late)
    # It skips: far fewer frames than were captured reach it.
    assert len(arrivals) < 0.6 * FPS * READ_FOR


def assert_every_frame(arrivals: list[tuple[float, float]]) -> None:
    """
    A fast reader got every frame, at the camera's rate.
    """
    captured = [at for _, at in arrivals]
    assert len(captured) >= 0.85 * FPS * READ_FOR
    gaps = [later - earlier for earlier, later in itertools.pairwise(captured)]
    assert max(gaps) < 2.5 / FPS, max(gaps)


class Servers:
    """
    Camera services and listening ports on 127.0.0.1, torn down after the
    test.
    """

    def __init__(self) -> None:
        self.services: list[CameraService] = []
        self.ports: list[Any] = []
        self.readers: list[PacedReader] = []

    def camera(self) -> CameraHub:
        """
        A camera of noisy frames at C{FPS}.
        """
        service = self._service()
        return service.add_camera("cam", ScriptedCamera(JPEGS, fps=FPS))

    def relay(self, url: str) -> CameraHub:
        """
        A relay of the stream at C{url}.
        """
        driver = make_camera("mjpeg", {"source": url}, reactor)
        return self._service().add_driver("relay", driver, driver="mjpeg")

    def listen(self, hub: CameraHub, *, tls: bool = False) -> int:
        """
        Serve C{hub} on a fresh port; its number.
        """
        site = Site(camera_resource(hub, reactor))
        if tls:
            port = reactor.listenSSL(0, site, self_signed_tls(), interface="127.0.0.1")
        else:
            port = reactor.listenTCP(0, site, interface="127.0.0.1")
        self.ports.append(port)
        return int(port.getHost().port)

    def reader(self, port: int, rate: float | None, **options: Any) -> PacedReader:
        """
        A reader of C{port}'s stream, closed after the test.
        """
        reader = PacedReader(port, rate, **options)
        self.readers.append(reader)
        return reader

    def _service(self) -> CameraService:
        service = CameraService(reactor)
        service.startService()
        self.services.append(service)
        return service

    async def close(self) -> None:
        for reader in self.readers:
            reader.close()
        for service in reversed(self.services):
            await service.stopService()
        for port in self.ports:
            await port.stopListening()


@pytest.fixture
def servers(log: LogRecorder) -> Generator[Servers, None, None]:
    """
    A L{Servers}, torn down after the test, which must log no error.
    """
    made = Servers()
    yield made
    pytest_twisted.blockon(Deferred.fromCoroutine(made.close()))
    gc.collect()
    errors = log.troubles(LogLevel.error)
    assert errors == [], "\n".join(errors)


async def read_together(
    *readers: PacedReader,
) -> list[list[tuple[float, float]]]:
    """
    Let every reader read for C{READ_FOR} seconds at once, each in a thread.
    """
    return [
        await reading
        for reading in [deferToThread(reader.read_for, READ_FOR) for reader in readers]
    ]


@reactor_test
async def test_slow_viewer_stays_live_beside_a_fast_one(servers: Servers) -> None:
    """
    A viewer reading at a quarter of the stream's bitrate gets frames about
    two frames' reading time old, never older as time goes on, skipping the
    rest; a fast viewer beside it gets every frame.
    """
    port = servers.listen(servers.camera())
    slow = servers.reader(port, 0.25 * BITRATE)
    fast = servers.reader(port, None, receive_buffer=None)
    slow_arrivals, fast_arrivals = await read_together(slow, fast)
    assert_live(slow_arrivals, slow)
    assert_every_frame(fast_arrivals)


@reactor_test
async def test_slow_viewers_at_half_and_most_of_the_bitrate(servers: Servers) -> None:
    """
    Viewers reading at half and at 90% of the stream's bitrate stay live
    too.
    """
    port = servers.listen(servers.camera())
    half = servers.reader(port, 0.5 * BITRATE)
    most = servers.reader(port, 0.9 * BITRATE)
    half_arrivals, most_arrivals = await read_together(half, most)
    assert_live(half_arrivals, half)
    ages = [at - capture for at, capture in most_arrivals[2:]]
    bound = (2 * PART_SIZE + most.receive_buffer) / (0.9 * BITRATE) + 1 / FPS
    assert max(ages) < 1.5 * bound + 0.1, (bound, ages)


@reactor_test
async def test_slow_viewer_over_tls_stays_live(servers: Servers) -> None:
    """
    Over TLS, where frames go through Twisted's TLS layer rather than
    straight to the socket, a slow viewer stays live as well.
    """
    port = servers.listen(servers.camera(), tls=True)
    slow = servers.reader(port, 0.25 * BITRATE, tls=True)
    fast = servers.reader(port, None, receive_buffer=None, tls=True)
    slow_arrivals, fast_arrivals = await read_together(slow, fast)
    assert_live(slow_arrivals, slow)
    assert_every_frame(fast_arrivals)


@reactor_test
async def test_slow_viewer_of_a_relay_stays_live(servers: Servers) -> None:
    """
    A slow viewer of a relay gets the origin's frames close to their
    capture time at the origin.
    """
    origin = servers.listen(servers.camera())
    relay = servers.listen(servers.relay(f"http://127.0.0.1:{origin}/video_feed"))
    slow = servers.reader(relay, 0.25 * BITRATE)
    fast = servers.reader(relay, None, receive_buffer=None)
    slow_arrivals, fast_arrivals = await read_together(slow, fast)
    assert_live(slow_arrivals, slow)
    assert_every_frame(fast_arrivals)


def queued_in_kernel(connection: Any) -> int:
    """
    The bytes a TCP connection's socket holds that its peer has not
    acknowledged (Linux's C{SIOCOUTQ}).
    """
    raw = fcntl.ioctl(connection.fileno(), termios.TIOCOUTQ, struct.pack("i", 0))
    return int(struct.unpack("i", raw)[0])


@reactor_test
async def test_stalled_viewer_leaves_about_two_frames_queued(servers: Servers) -> None:
    """
    A viewer that reads nothing is paused with about two frames queued on
    the server's side, in Twisted and in the kernel, however many frames
    the camera captures meanwhile.
    """
    hub = servers.camera()
    port = servers.listen(hub)
    stalled = PacedReader(port, 0, receive_buffer=4096)
    stalled._request()
    try:
        await wait_until(lambda: hub.viewers == 1, "the viewer is watching")
        captured = hub.frames_captured
        await wait_until(
            lambda: hub.frames_captured > captured + 2 * FPS, "two seconds of frames"
        )
        (viewer,) = hub._sinks
        transport: Any = viewer._request.transport  # type: ignore[attr-defined]
        in_twisted = len(transport.dataBuffer) + transport._tempDataLen
        in_kernel = queued_in_kernel(transport.getHandle())
        assert in_twisted <= PART_SIZE
        assert in_kernel <= 2 * PART_SIZE, in_kernel
        assert viewer._paused  # type: ignore[attr-defined]
    finally:
        stalled.close()
