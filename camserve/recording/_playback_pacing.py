# -*- test-case-name: tests.test_playback -*-
"""
Pacing a playback: each frame given when its capture time has come, at the
playback's speed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from camserve.recording._recorded_spans import GAP

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.internet.interfaces import IDelayedCall, IReactorTime

LATE = 0.25
"""Seconds a frame may be late (the disk was slow) before the playback goes
on from it rather than hurrying to catch up."""


class Timed(Protocol):
    """
    A frame to play: a recorded one, or a live one.
    """

    @property
    def jpeg(self) -> bytes:
        """
        Its JPEG.
        """

    @property
    def captured_at(self) -> float:
        """
        Its capture time, Unix seconds.
        """


class Upcoming(Protocol):
    """
    Where the frames to play next come from, in order.
    """

    def peek(self) -> Timed | None:
        """
        The next frame, if it is there yet.
        """

    def take(self) -> Timed | None:
        """
        The next frame, if it is there yet, which is then no longer next.
        """


class Pacer:
    """
    Gives the frames of a source when their time comes: a frame's capture
    time, less that of the frame the pacing was set by, divided by the
    speed, after that frame was given. The frame after a gap (L{GAP}) comes
    as the frame before it came after its own; a frame late by more than
    L{LATE} sets the pacing anew rather than hurry the next ones.

    @ivar speed: how many times faster than they were captured the frames
        are given.
    @ivar shown: the frame given last, if any.
    """

    def __init__(
        self,
        clock: IReactorTime,
        give: Callable[[Timed], None],
        idle: Callable[[], None],
        *,
        speed: float,
    ) -> None:
        """
        @param give: called with each frame when its time has come.
        @param idle: called when the source has no next frame yet.
        """
        self._clock = clock
        self._give = give
        self._idle = idle
        self.speed = speed
        self.source: Upcoming | None = None
        self.shown: Timed | None = None
        self._shown_at = 0.0
        self._interval = 0.0
        self._anchor = (0.0, 0.0)
        self._running = False
        self._timer: IDelayedCall | None = None

    @property
    def quiet(self) -> float:
        """
        Seconds since a frame was last given.
        """
        return self._clock.seconds() - self._shown_at

    def use(self, source: Upcoming) -> None:
        """
        Take the frames from C{source} from now on.
        """
        self._cancel()
        self.source = source

    def given_now(self, frame: Timed) -> None:
        """
        C{frame} was given now, out of turn (the frame sought, say): the
        frames after it are paced from it.
        """
        now = self._clock.seconds()
        self.shown, self._shown_at = frame, now
        self._anchor = (now, frame.captured_at)

    def run(self) -> None:
        """
        Give frames, paced from the one given last as if it were given now.
        """
        self._running = True
        self._anchor = (self._clock.seconds(), self._shown_time())
        self.schedule()

    def hold(self) -> None:
        """
        Give no frame until run again.
        """
        self._running = False
        self._cancel()

    def set_speed(self, speed: float) -> None:
        """
        Pace the frames after the one given last at C{speed}.
        """
        self.speed = speed
        self._cancel()
        self._anchor = (self._clock.seconds(), self._shown_time())

    def schedule(self) -> None:
        """
        Give the next frame when its time comes, if it is there; else say
        the source is idle.
        """
        source = self.source
        if self._timer is not None or not self._running or source is None:
            return
        coming = source.peek()
        if coming is None:
            self._idle()
            return
        now = self._clock.seconds()
        due = self._due(coming, now)
        if due is not None:
            self._timer = self._clock.callLater(max(due - now, 0.0), self._tick)

    def reschedule(self) -> None:
        """
        Give the next frame when its time comes by the pacing of now: the
        time it was due by changed.
        """
        self._cancel()
        self.schedule()

    def stop(self) -> None:
        """
        Give nothing more.
        """
        self._running = False
        self._cancel()
        self.source = None

    def _due(self, coming: Timed, now: float) -> float | None:
        """
        When C{coming}, the next frame, is to be given: the pacing from the
        frame it was set by, set anew across a gap or when late.

        @param now: the time now.
        @return: its time, or L{None} for no time yet.
        """
        if not 0 <= coming.captured_at - self._shown_time() <= GAP:
            # Across a gap (or back in time, where a clock was set back).
            self._anchor = (self._shown_at + self._interval, coming.captured_at)
        wall, recorded = self._anchor
        due = wall + (coming.captured_at - recorded) / self.speed
        if due < now - LATE:
            self._anchor = (now, coming.captured_at)
            due = now
        return due

    def _tick(self) -> None:
        self._timer = None
        source = self.source
        frame = None if source is None else source.take()
        if frame is not None:
            now = self._clock.seconds()
            if 0 <= frame.captured_at - self._shown_time() <= GAP:
                self._interval = now - self._shown_at
            self.shown, self._shown_at = frame, now
            self._give(frame)
        self.schedule()

    def _shown_time(self) -> float:
        return 0.0 if self.shown is None else self.shown.captured_at

    def _cancel(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
