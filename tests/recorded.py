"""
Recordings for the tests, written as C{docs/recording-format.md} says,
independently of camserve's own writer: segment files of given frames, and
where each frame's bytes are, to tell what a reader must give back after
the files are damaged; a server of such recordings, and a client of its
streams.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
import zlib
from typing import TYPE_CHECKING, Any

import treq
from attrs import define, frozen
from support import reactor, split_response
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.server import Site

from camserve import CameraService, EmulatedCamera
from camserve._multipart import PREAMBLE, encode_part
from camserve.testing import MultipartParser, Part, make_jpeg
from camserve.web._server_app import ServerApp

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from support import Response
    from twisted.web.iweb import IResponse

RECORD = struct.Struct("<dQII")
BOUNDARY_AFTER = b"\r\n" + PREAMBLE
"""What follows each JPEG in a segment."""
START = 1_700_000_000.123456
"""A capture time to start recordings at."""


@frozen
class Written:
    """
    A segment written for a test.

    @ivar mjpeg: the segment's path.
    @ivar idx: its index's path.
    @ivar frames: each frame's capture time and JPEG.
    @ivar starts: where each frame's part begins: the end of the JPEG
        before it, or 0 for the first.
    @ivar offsets: where each JPEG begins.
    @ivar ends: where each JPEG ends.
    """

    mjpeg: Path
    idx: Path
    frames: list[tuple[float, bytes]]
    starts: list[int]
    offsets: list[int]
    ends: list[int]

    def record(self, index: int) -> bytes:
        """
        The index record of frame C{index}.
        """
        captured_at, jpeg = self.frames[index]
        return RECORD.pack(
            captured_at, self.offsets[index], len(jpeg), zlib.crc32(jpeg)
        )


def segment_name(captured_at: float) -> str:
    """
    The file name (without suffix) and the date folder of a segment whose
    first frame was captured at C{captured_at}: C{YYYY-MM-DD/YYYYMMDDTHHMMSS.mmmZ}.
    """
    day = time.strftime("%Y-%m-%d", time.gmtime(captured_at))
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(captured_at))
    millis = int(captured_at * 1000) % 1000
    return f"{day}/{stamp}.{millis:03d}Z"


def write_segment(
    folder: Path,
    frames: Sequence[tuple[float, bytes]],
    *,
    camera: str = "porch",
    indexed: int | None = None,
) -> Written:
    """
    Write a segment of C{frames} (capture time and JPEG) into the
    recordings folder C{folder}, under C{camera}, named for its first
    frame, with an index of its first C{indexed} frames (all by default).
    """
    base = folder / camera / segment_name(frames[0][0])
    base.parent.mkdir(parents=True, exist_ok=True)
    mjpeg, idx = (
        base.with_name(base.name + ".mjpeg"),
        base.with_name(base.name + ".idx"),
    )
    data = bytearray(PREAMBLE)
    offsets: list[int] = []
    ends: list[int] = []
    for captured_at, jpeg in frames:
        part = encode_part(jpeg, captured_at)
        offsets.append(len(data) + len(part) - len(BOUNDARY_AFTER) - len(jpeg))
        ends.append(offsets[-1] + len(jpeg))
        data += part
    starts = [0, *ends[:-1]]
    mjpeg.write_bytes(bytes(data))
    written = Written(mjpeg, idx, list(frames), starts, offsets, ends)
    count = len(frames) if indexed is None else indexed
    idx.write_bytes(b"".join(written.record(index) for index in range(count)))
    return written


def frames_at(
    start: float, count: int, fps: float = 30.0, first: int = 0, **size: int
) -> list[tuple[float, bytes]]:
    """
    C{count} distinct frames captured at C{fps} from C{start}, their JPEGs
    numbered from C{first} (see L{make_jpeg}).
    """
    return [
        (start + index / fps, make_jpeg(first + index, **size))
        for index in range(count)
    ]


@define
class Served:
    """
    A camserve server on a fresh port of 127.0.0.1 with cameras C{porch}
    and C{yard} (emulated, started only if watched), whose recordings are
    in C{folder}, and an HTTP client.
    """

    folder: Path | None
    service: CameraService
    port: Any
    pool: HTTPConnectionPool
    http: treq.client.HTTPClient

    @classmethod
    def start(cls, folder: Path | None, **app: Any) -> Served:
        """
        Serve the recordings in C{folder} (L{None} for a server that does
        not record), with C{app} more arguments of the server app.
        """
        service = CameraService(reactor)
        service.add_camera("porch", EmulatedCamera(fps=5))
        service.add_camera("yard", EmulatedCamera(fps=5))
        service.startService()
        app_ = ServerApp(service, reactor, recordings_dir=folder, **app)
        port = reactor.listenTCP(0, Site(app_.app.resource()), interface="127.0.0.1")
        pool = HTTPConnectionPool(reactor, persistent=False)
        return cls(
            folder,
            service,
            port,
            pool,
            treq.client.HTTPClient(Agent(reactor, pool=pool)),
        )

    async def get(self, path: str, method: bytes = b"GET") -> tuple[IResponse, bytes]:
        """
        Ask for C{path} with a plain L{Agent}, without treq's decoding of
        the body (which loses its length); the response, and its body.
        """
        agent = Agent(reactor, pool=self.pool)
        response = await agent.request(method, self.url(path).encode("ascii"))
        return response, await treq.content(response)

    async def until_gone(self, url: str, what: str) -> None:
        """
        Ask for C{url} until it is a C{404}, for at most 10 seconds, failing
        with C{what} if it is not.
        """
        deadline = time.monotonic() + 10
        while True:
            response = await self.http.get(url)
            await response.content()
            if response.code == 404:
                return
            assert time.monotonic() < deadline, what

    def url(self, path: str) -> str:
        """
        The URL of C{path} on this server.
        """
        return f"http://127.0.0.1:{self.port.getHost().port}{path}"

    async def close(self) -> None:
        """
        Stop serving.
        """
        await self.pool.closeCachedConnections()
        await self.port.stopListening()
        await self.service.stopService()


class Watching:
    """
    A client reading a stream on a raw socket in a thread of its own,
    noting each part and when it came.
    """

    def __init__(self, port: int, path: str) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.socket.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        )
        self.head: Response | None = None
        self.parts: list[tuple[float, Part]] = []
        self.closed = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        data = b""
        parser = MultipartParser()
        try:
            while chunk := self.socket.recv(65536):
                if self.head is None:
                    data += chunk
                    if b"\r\n\r\n" not in data:
                        continue
                    self.head = split_response(data)
                    chunk = self.head.body
                    if not self.head.status.endswith(b"200 OK"):
                        continue
                now = time.monotonic()
                self.parts += [(now, part) for part in parser.feed(chunk)]
        except OSError:
            pass
        self.closed = True

    @property
    def times(self) -> list[float]:
        """
        The capture times of the parts so far.
        """
        return [float(part.headers["x-timestamp"]) for _, part in self.parts]

    @property
    def session(self) -> str:
        """
        The playback's session, from the response's headers.
        """
        assert self.head is not None
        return self.head.headers[b"x-playback-session"][0].decode("ascii")

    def close(self) -> None:
        self.socket.shutdown(socket.SHUT_RDWR)
        self.socket.close()
        self._thread.join(10)


def watch(served: Served, clients: list[Watching], path: str) -> Watching:
    """
    A client of C{path} on C{served}, among C{clients}.
    """
    client = Watching(served.port.getHost().port, path)
    clients.append(client)
    return client
