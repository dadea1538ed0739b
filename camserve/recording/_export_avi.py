# -*- test-case-name: tests.test_export -*-
"""
A span of a recording as an AVI file: its JPEGs untouched as Motion JPEG in
AVI (C{MJPG}), streamed as it is read.

The file is an AVI 1.0 file: a C{RIFF} C{AVI } list of the headers
(C{hdrl}: C{avih}, and a C{strl} of one video stream's C{strh} and C{strf}),
the frames (C{movi}: one C{00dc} chunk per JPEG) and the index (C{idx1}).
Every size in it follows from the JPEGs' lengths, which the index of the
recording gives, so the whole file is described before the first frame is
read, and the frames then go out as they are read: the file is never in
memory. AVI 1.0 counts in 32 bits, so a file holds at most 4 GiB; the frame
rate is one for the whole file, the span's average.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from attrs import frozen
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from zope.interface import implementer

from camserve._defaults import STALL_TIMEOUT
from camserve._jpeg import jpeg_size

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from twisted.internet.interfaces import IDelayedCall, IReactorTime
    from twisted.python.failure import Failure
    from twisted.web.http import Request

    from camserve.recording._catalog import Catalog, Recorded, Stretch

LARGEST = 0xFFFF_FFFF
"""The most bytes an AVI 1.0 file holds, less its first eight."""
_BATCH = 1 << 20
"""About how many bytes of JPEGs are read at once."""
_INDEX_BATCH = 4096
"""How many index entries are written at once."""
_HAS_INDEX = 0x10
_KEYFRAME = 0x10
_HEADERS_SIZE = 4 + (8 + 56) + (8 + 4 + (8 + 56) + (8 + 40))
"""The bytes of the C{hdrl} list, after its own eight."""


class TooLargeError(ValueError):
    """
    A span whose AVI file would be larger than an AVI 1.0 file holds.
    """


@frozen
class AviPlan:
    """
    What an AVI file of a span of a recording holds, known before any of it
    is written.

    @ivar stretches: the span's frames, by segment.
    @ivar size: the file's length in bytes.
    @ivar headers: its first bytes, up to the first frame's chunk.
    """

    stretches: Sequence[Stretch]
    size: int
    headers: bytes

    @property
    def count(self) -> int:
        """
        How many frames the file holds.
        """
        return sum(len(stretch.lengths) for stretch in self.stretches)


def plan_avi(stretches: Sequence[Stretch], first: bytes) -> AviPlan:
    """
    The AVI file of the frames C{stretches}, whose first JPEG is C{first}.

    @raise TooLargeError: if the file would hold more than AVI 1.0 can.
    """
    lengths = [length for stretch in stretches for length in stretch.lengths]
    times = [when for stretch in stretches for when in stretch.times]
    count = len(lengths)
    movi = 4 + sum(8 + length + length % 2 for length in lengths)
    size = 12 + 8 + _HEADERS_SIZE + 8 + movi + 8 + 16 * count
    if size - 8 > LARGEST:
        raise TooLargeError("the span is larger than an AVI file holds (4 GiB)")
    width, height = jpeg_size(first) or (0, 0)
    elapsed = times[-1] - times[0]
    fps = (count - 1) / elapsed if count > 1 and elapsed > 0 else 1.0
    rate, scale = max(round(fps * 1000), 1), 1000
    largest = max(lengths)
    avih = struct.pack(
        "<10I16x",
        round(1_000_000 / fps),
        min(round(largest * fps), LARGEST),
        0,
        _HAS_INDEX,
        count,
        0,
        1,
        largest,
        width,
        height,
    )
    strh = struct.pack(
        "<4s4sIHHIIIIIIIIhhhh",
        b"vids",
        b"MJPG",
        0,
        0,
        0,
        0,
        scale,
        rate,
        0,
        count,
        largest,
        LARGEST,
        0,
        0,
        0,
        min(width, 0x7FFF),
        min(height, 0x7FFF),
    )
    strf = struct.pack(
        "<IiiHH4sIiiII",
        40,
        width,
        height,
        1,
        24,
        b"MJPG",
        width * height * 3,
        0,
        0,
        0,
        0,
    )
    strl = b"strl" + _chunk(b"strh", strh) + _chunk(b"strf", strf)
    hdrl = b"hdrl" + _chunk(b"avih", avih) + _chunk(b"LIST", strl)
    headers = b"".join(
        [
            b"RIFF",
            struct.pack("<I", size - 8),
            b"AVI ",
            _chunk(b"LIST", hdrl),
            b"LIST",
            struct.pack("<I", movi),
            b"movi",
        ]
    )
    return AviPlan(stretches, size, headers)


def _chunk(fourcc: bytes, data: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(data)) + data + b"\0" * (len(data) % 2)


def _index(lengths: Iterator[int]) -> Iterator[bytes]:
    """
    The C{idx1} chunk of frames of C{lengths}, a few thousand entries at a
    time: each frame's chunk, where it is from the C{movi} list's type, and
    its length.
    """
    entry = struct.Struct("<4sIII")
    offset = 4
    batch = []
    for length in lengths:
        batch.append(entry.pack(b"00dc", _KEYFRAME, offset, length))
        offset += 8 + length + length % 2
        if len(batch) == _INDEX_BATCH:
            yield b"".join(batch)
            batch = []
    yield b"".join(batch)


@implementer(IPushProducer)
class AviWriter:
    """
    Writes the AVI file of an L{AviPlan} as the body of a request, reading
    the frames a batch at a time, and no more while the request's
    connection is full.

    A frame found damaged as it is read (a recording's index does not prove
    a frame's bytes until they are read), or a reader that reads nothing
    for the stall timeout, ends the response short of the length promised:
    the connection is closed, so that the file is not taken for whole.
    """

    _log = Logger()

    def __init__(
        self,
        request: Request,
        catalog: Catalog,
        plan: AviPlan,
        clock: IReactorTime,
        *,
        stall_timeout: float = STALL_TIMEOUT,
    ) -> None:
        """
        @param stall_timeout: seconds the connection may stay full before
            the reader is presumed gone.
        """
        self._request = request
        self._catalog = catalog
        self._plan = plan
        self._clock = clock
        self._stall_timeout = stall_timeout
        self._stretch = 0
        self._next = 0
        self._index: Iterator[bytes] | None = None
        self._paused = False
        self._reading = False
        self._stall: IDelayedCall | None = None
        self._ended = False
        self._done: Deferred[None] = Deferred(self._cancelled)
        self.written = 0
        """How many bytes of the file have been written so far."""

    def start(self) -> Deferred[None]:
        """
        Write the file, after the response's headers.

        @return: fires once it is all written; cancel it (as Klein does
            when the client leaves) to stop.
        """
        self._request.registerProducer(self, True)
        self._write(self._plan.headers)
        self._produce()
        return self._done

    def pauseProducing(self) -> None:
        """
        The connection has enough for now.
        """
        self._paused = True
        if self._stall is None and not self._ended:
            self._stall = self._clock.callLater(self._stall_timeout, self._stalled)

    def resumeProducing(self) -> None:
        """
        The connection wants more.
        """
        self._paused = False
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        self._produce()

    def stopProducing(self) -> None:
        """
        The connection is going away.
        """
        self._end()

    def _produce(self) -> None:
        while not (self._paused or self._reading or self._ended):
            if self._index is not None:
                chunk = next(self._index, None)
                if chunk is None:
                    self._end()
                    self._done.callback(None)
                    return
                self._write(chunk)
            elif self._stretch == len(self._plan.stretches):
                lengths = (n for each in self._plan.stretches for n in each.lengths)
                self._write(b"idx1" + struct.pack("<I", 16 * self._plan.count))
                self._index = _index(lengths)
            else:
                self._read()

    def _read(self) -> None:
        stretch = self._plan.stretches[self._stretch]
        first = self._next
        stop = first + 1
        budget = stretch.lengths[first]
        while stop < len(stretch.lengths) and budget < _BATCH:
            budget += stretch.lengths[stop]
            stop += 1
        positions = [stretch.position(index) for index in range(first, stop)]
        self._reading = True
        self._catalog.read(positions).addCallbacks(
            self._read_done, self._read_failed, callbackArgs=(len(positions),)
        )

    def _read_done(self, frames: list[Recorded], wanted: int) -> None:
        self._reading = False
        if self._ended:
            return
        if len(frames) < wanted:
            self._abort("a frame of the span was found damaged as it was read")
            return
        for frame in frames:
            self._write(_chunk(b"00dc", frame.jpeg))
        self._next += wanted
        if self._next == len(self._plan.stretches[self._stretch].lengths):
            self._stretch += 1
            self._next = 0
        self._produce()

    def _read_failed(self, failure: Failure) -> None:
        self._reading = False
        self._log.failure("reading a recording to export failed", failure)
        self._abort("the recording could not be read")

    def _write(self, data: bytes) -> None:
        self.written += len(data)
        self._request.write(data)

    def _stalled(self) -> None:
        self._stall = None
        self._abort("the reader read nothing for the stall timeout")

    def _abort(self, why: str) -> None:
        """
        End the file short, closing the connection; Klein then cancels
        what L{start} returned.
        """
        if not self._end():
            return
        self._log.warn(
            "export to {peer} ended after {written} of {size} bytes: {why}",
            peer=str(self._request.getClientAddress()),
            written=self.written,
            size=self._plan.size,
            why=why,
        )
        transport = self._request.transport
        if transport is not None:
            abort = getattr(transport, "abortConnection", transport.loseConnection)
            abort()

    def _cancelled(self, _: Deferred[None]) -> None:
        self._end()

    def _end(self) -> bool:
        """
        Stop writing, once.

        @return: whether this call did it.
        """
        if self._ended:
            return False
        self._ended = True
        if self._stall is not None and self._stall.active():
            self._stall.cancel()
        self._stall = None
        if self._request.channel is not None:
            self._request.unregisterProducer()
        return True
