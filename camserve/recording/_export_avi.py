# -*- test-case-name: tests.test_export -*-
"""
The writing of a span of a recording as an AVI file (laid out by
L{camserve.recording._avi_plan}): its JPEGs untouched, streamed as they are
read, the file never in memory.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from zope.interface import implementer

from camserve._defaults import STALL_TIMEOUT
from camserve.recording._avi_index import STREAM

if TYPE_CHECKING:
    from collections.abc import Iterator

    from twisted.internet.interfaces import IDelayedCall, IReactorTime
    from twisted.python.failure import Failure
    from twisted.web.http import Request

    from camserve.recording._avi_plan import AviPlan
    from camserve.recording._catalog import Catalog, Recorded

_BATCH = 1 << 20
"""About how many bytes of JPEGs are read at once."""
_LENGTH = struct.Struct("<I")


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
        self._pieces: Iterator[bytes | int] = plan.pieces()
        self._wanted = 0
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
            if self._wanted:
                self._read()
                continue
            piece = next(self._pieces, None)
            if piece is None:
                self._end()
                self._done.callback(None)
                return
            if isinstance(piece, int):
                self._wanted = piece
            else:
                self._write(piece)

    def _read(self) -> None:
        """
        Read the next frames wanted, of one segment, about a batch of them.
        """
        stretch = self._plan.stretches[self._stretch]
        first = self._next
        stop = first + 1
        budget = stretch.lengths[first]
        last = min(len(stretch.lengths), first + self._wanted)
        while stop < last and budget < _BATCH:
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
        stretch = self._plan.stretches[self._stretch]
        planned = stretch.lengths[self._next : self._next + wanted]
        if [len(frame.jpeg) for frame in frames] != list(planned):
            self._abort("a frame of the span was found damaged as it was read")
            return
        for frame in frames:
            jpeg = frame.jpeg
            pad = b"\0" * (len(jpeg) % 2)
            self._write(b"".join([STREAM, _LENGTH.pack(len(jpeg)), jpeg, pad]))
        self._wanted -= wanted
        self._next += wanted
        if self._next == len(stretch.lengths):
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
