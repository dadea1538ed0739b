# -*- test-case-name: tests.test_playback -*-
"""
The frames a playback shows next, read from the recording ahead of time.
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING

from twisted.logger import Logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.python.failure import Failure

    from camserve.recording._catalog import Catalog, Position, Recorded


class ReadAhead:
    """
    Reads a recording's frames, a batch at a time, ahead of when they are
    shown: at most a batch waits in memory, and only the frames to be shown
    are read. At a high speed, frames captured closer together than the
    playback can show are skipped without reading them.

    All methods are called in the reactor thread.

    @ivar at_end: whether the frames recorded so far have all been read;
        L{poll} looks for more.
    """

    _log = Logger()

    def __init__(
        self,
        catalog: Catalog,
        arrived: Callable[[], None],
        *,
        batch: int = 8,
    ) -> None:
        """
        @param arrived: called when frames have been read, or the end of the
            recording has been reached.
        @param batch: how many frames are read at once, and wait at most.
        """
        self._catalog = catalog
        self._arrived = arrived
        self._batch = batch
        self._queue: deque[Recorded] = deque()
        self._cursor: Position | None = None
        self._first: Position | None = None
        self._step = 0.0
        self._after = -math.inf
        self._reading = False
        self._generation = 0
        self._quiet = False
        self.at_end = False

    def restart(
        self,
        position: Position,
        *,
        step: float,
        including: bool,
        after: float | None = None,
    ) -> None:
        """
        Forget the frames read, and read from C{position} on.

        @param step: the shortest time between the capture of two frames
            read: those in between are skipped.
        @param including: whether C{position}'s own frame is the first read,
            else the one after it.
        @param after: if given, read only frames captured after it.
        """
        self._generation += 1
        self._queue.clear()
        self._cursor = position
        self._first = position if including else None
        self._step = step
        self._after = -math.inf if after is None else math.nextafter(after, math.inf)
        self._reading = False
        self.at_end = False
        self._fill()

    def peek(self) -> Recorded | None:
        """
        The next frame, if it has been read.
        """
        return self._queue[0] if self._queue else None

    def take(self) -> Recorded | None:
        """
        The next frame, if it has been read, which is then no longer waiting;
        more is read.
        """
        frame = self._queue.popleft() if self._queue else None
        # The caller goes on from what it took: what is read meanwhile is
        # not announced in the middle of it.
        self._quiet = True
        try:
            self._fill()
        finally:
            self._quiet = False
        return frame

    def poll(self) -> None:
        """
        Look for frames recorded since the end was reached.
        """
        if self.at_end:
            self.at_end = False
            self._fill()

    def stop(self) -> None:
        """
        Read nothing more.
        """
        self._generation += 1
        self._queue.clear()
        self._cursor = None
        self._first = None

    def _fill(self) -> None:
        cursor = self._cursor
        if cursor is None or self._reading or self.at_end:
            return
        if len(self._queue) >= self._batch:
            return
        self._reading = True
        chosen: list[Position] = []
        if self._first is not None:
            chosen.append(self._first)
            self._first = None
        self._choose(self._generation, chosen, chosen[0] if chosen else cursor)

    def _choose(self, generation: int, chosen: list[Position], after: Position) -> None:
        """
        Choose the frame to read after C{after}, for the batch C{chosen} so
        far, unless it is full.
        """
        if len(chosen) == self._batch:
            self._read(generation, chosen)
            return
        self._catalog.at_or_after(
            after, max(after.captured_at + self._step, self._after), after.index + 1
        ).addCallbacks(
            self._found,
            self._failed,
            callbackArgs=(generation, chosen),
            errbackArgs=(generation,),
        )

    def _found(
        self, position: Position | None, generation: int, chosen: list[Position]
    ) -> None:
        if generation != self._generation:
            return
        if position is None and not chosen:
            self._reading = False
            self.at_end = True
            self._notify()
        elif position is None or (chosen and position.segment is not chosen[0].segment):
            # The catalog reads one segment at a time: the next batch starts
            # in the next segment.
            self._read(generation, chosen)
        else:
            chosen.append(position)
            self._choose(generation, chosen, position)

    def _read(self, generation: int, chosen: list[Position]) -> None:
        self._catalog.read(chosen).addCallbacks(
            self._done,
            self._failed,
            callbackArgs=(generation, chosen),
            errbackArgs=(generation,),
        )

    def _done(
        self, frames: list[Recorded], generation: int, chosen: list[Position]
    ) -> None:
        if generation != self._generation:
            return
        self._reading = False
        self._queue.extend(frames)
        # A frame found damaged ends the batch: the next is looked for after
        # the last one read, in what the catalog knows now.
        self._cursor = frames[-1].position if frames else chosen[0]
        self._notify()
        self._fill()

    def _failed(self, failure: Failure, generation: int) -> None:
        if generation != self._generation:
            return
        self._log.failure("reading a recording to play it failed", failure)
        self._reading = False
        self.at_end = True
        self._notify()

    def _notify(self) -> None:
        if not self._quiet:
            self._arrived()
