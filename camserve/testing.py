# -*- test-case-name: tests.test_testing -*-
"""
Helpers for testing camserve, its drivers and applications that embed it.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from attrs import frozen
from twisted.python.failure import Failure
from zope.interface import implementer

from camserve._multipart import BOUNDARY
from camserve.interfaces import ICamera, IFrameSource

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator


def make_jpeg(number: int = 0, width: int = 32, height: int = 24) -> bytes:
    """
    A real JPEG of the given size whose pixels encode C{number}, so distinct
    numbers give distinct images while C{number} fits in one bit per 8x8
    block (12 bits at the default size).
    """
    import cv2  # noqa: PLC0415 - only this helper needs OpenCV
    import numpy as np  # noqa: PLC0415

    image = np.full((height, width, 3), 128, dtype=np.uint8)
    # The number's bits as black and white 8x8 blocks, which JPEG keeps.
    columns = width // 8
    for bit in range(columns * (height // 8)):
        row, column = divmod(bit, columns)
        block = image[row * 8 : row * 8 + 8, column * 8 : column * 8 + 8]
        block[:] = 255 if number >> bit & 1 else 0
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    return bytes(encoded.tobytes())


def self_signed_pem(name: str = "127.0.0.1") -> tuple[bytes, bytes]:
    """
    A fresh P-256 key and a self-signed certificate for C{name} (its common
    name, and its subject alternative name: an IP address or a host name),
    valid from yesterday to tomorrow, both in PEM: for serving TLS in tests
    (C{ssl:...:privateKey=...:certKey=...}).

    @return: the key and the certificate.
    """
    import ipaddress  # noqa: PLC0415 - only this helper needs these
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    try:
        alternative: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        alternative = x509.DNSName(name)
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([alternative]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM)


@implementer(ICamera)
class ScriptedCamera:
    """
    A blocking camera that yields the given JPEGs, in a loop, at C{fps}.

    It counts how often it was opened and closed, so tests can check that
    the device is released; C{fail_after} makes it raise after that many
    frames of each run, like a camera unplugged mid-stream.
    """

    def __init__(
        self,
        jpegs: Iterable[bytes],
        *,
        fps: float = 30.0,
        fail_after: int | None = None,
        error: Exception | None = None,
    ) -> None:
        self.jpegs = list(jpegs)
        self.fps = fps
        self.fail_after = fail_after
        self.error = error or OSError("scripted camera failure")
        self._lock = threading.Lock()
        self.opened = 0
        self.closed = 0

    @property
    def is_open(self) -> bool:
        """
        Whether a C{frames()} generator is running and not yet closed.
        """
        with self._lock:
            return self.opened > self.closed

    def frames(self) -> Iterator[bytes]:
        """
        Yield the JPEGs at C{fps}; raise C{error} after C{fail_after}.
        """
        with self._lock:
            self.opened += 1
        try:
            interval = 1 / self.fps
            deadline = time.monotonic()
            count = 0
            while True:
                for jpeg in self.jpegs:
                    if self.fail_after is not None and count >= self.fail_after:
                        raise self.error
                    yield jpeg
                    count += 1
                    deadline += interval
                    time.sleep(max(0.0, deadline - time.monotonic()))
        finally:
            with self._lock:
                self.closed += 1


@implementer(IFrameSource)
class PushSource:
    """
    A frame source driven by hand, in the reactor thread: what an
    asynchronous driver looks like to its hub, for tests that need every
    frame and every failure at an exact moment.
    """

    def __init__(self) -> None:
        self.starts = 0
        self.stops = 0
        self.running = False
        self.stop_requested = False
        self._deliver: Callable[[bytes, float], None] | None = None
        self._stopped: Callable[[Failure | None], None] | None = None

    def start(
        self,
        deliver: Callable[[bytes, float], None],
        stopped: Callable[[Failure | None], None],
    ) -> None:
        """
        Note the start; frames come from L{push}.
        """
        if self.running:
            raise RuntimeError("PushSource started twice")
        self.starts += 1
        self.running = True
        self.stop_requested = False
        self._deliver = deliver
        self._stopped = stopped

    def stop(self) -> None:
        """
        Note the request; the source reports stopped on L{finish_stop}.
        """
        self.stops += 1
        self.stop_requested = True

    def push(self, jpeg: bytes, captured_at: float | None = None) -> None:
        """
        Deliver a frame now.
        """
        if self._deliver is None:
            raise RuntimeError("PushSource is not running")
        self._deliver(jpeg, time.time() if captured_at is None else captured_at)

    def finish_stop(self) -> None:
        """
        Report that a requested stop has completed.
        """
        self._report(None)

    def fail(self, error: Exception) -> None:
        """
        Report that the source failed with C{error}.
        """
        self._report(Failure(error))

    def _report(self, outcome: Failure | None) -> None:
        stopped = self._stopped
        if stopped is None:
            raise RuntimeError("PushSource is not running")
        self.running = False
        self._deliver = self._stopped = None
        stopped(outcome)


@frozen
class Part:
    """
    One part of a multipart stream.

    @ivar headers: header names (lower case) to values.
    """

    headers: dict[str, str]
    body: bytes


class MultipartError(ValueError):
    """
    A multipart stream is not framed as camserve frames it.
    """


class MultipartParser:
    """
    An incremental, strict parser of a camserve C{multipart/x-mixed-replace}
    stream body: each part must carry a correct Content-Length and be
    followed at once by the next boundary.
    """

    def __init__(self, boundary: bytes = BOUNDARY) -> None:
        self._delimiter = b"--" + boundary + b"\r\n"
        self._buffer = b""
        self._opened = False

    def feed(self, data: bytes) -> list[Part]:
        """
        Add bytes from the stream; return the parts completed by them.

        @raise MultipartError: when the stream is malformed.
        """
        self._buffer += data
        parts: list[Part] = []
        if not self._opened:
            if len(self._buffer) < len(self._delimiter):
                return parts
            if not self._buffer.startswith(self._delimiter):
                raise MultipartError(f"stream does not open with {self._delimiter!r}")
            self._buffer = self._buffer[len(self._delimiter) :]
            self._opened = True
        while (part := self._next_part()) is not None:
            parts.append(part)
        return parts

    def _next_part(self) -> Part | None:
        """
        Take one complete part off the buffer, if there is one.
        """
        end_of_headers = self._buffer.find(b"\r\n\r\n")
        if end_of_headers < 0:
            return None
        headers: dict[str, str] = {}
        for line in self._buffer[:end_of_headers].decode("latin-1").split("\r\n"):
            name, colon, value = line.partition(":")
            if not colon:
                raise MultipartError(f"malformed part header {line!r}")
            headers[name.strip().lower()] = value.strip()
        try:
            length = int(headers["content-length"])
        except (KeyError, ValueError):
            raise MultipartError("part has no valid Content-Length") from None
        start = end_of_headers + 4
        end = start + length
        closing = b"\r\n" + self._delimiter
        if len(self._buffer) < end + len(closing):
            return None
        if self._buffer[end : end + len(closing)] != closing:
            raise MultipartError("part is not followed by the boundary")
        body = self._buffer[start:end]
        self._buffer = self._buffer[end + len(closing) :]
        return Part(headers, body)
