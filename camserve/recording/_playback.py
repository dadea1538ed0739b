# -*- test-case-name: tests.test_playback -*-
"""
Playing a camera's recording back: a feed of recorded frames that a stream
shows as it shows the camera live, paced by the frames' capture times at a
speed, and controlled while it plays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from zope.interface import implementer

from camserve._defaults import KEEPALIVE
from camserve._frame import Frame
from camserve.interfaces import IFeed, IKeepAliveSink
from camserve.recording._catalog import GAP
from camserve.recording._playback_reader import ReadAhead

if TYPE_CHECKING:
    from twisted.internet.interfaces import IDelayedCall, IReactorTime

    from camserve.interfaces import IFrameSink
    from camserve.recording._catalog import Catalog, Position, Recorded

SLOWEST = 0.25
"""The slowest speed a recording plays at."""
FASTEST = 16.0
"""The fastest speed a recording plays at."""
MAX_RATE = 60.0
"""The most frames a second a playback shows: at a high speed, frames
captured closer together than this, times the speed, are skipped."""
LATE = 0.25
"""Seconds a frame may be late (the disk was slow) before the playback goes
on from it rather than hurrying to catch up."""
END_POLL = 1.0
"""Seconds between looks for new frames once playback has shown the last
one recorded."""


@implementer(IFeed)
class Playback:
    """
    A feed of one camera's recorded frames, played from an instant at a
    speed: each frame is given when its capture time, less the first one's
    and divided by the speed, has passed since the first was given. Gaps in
    the recording (L{GAP}) are skipped: the frame after one follows the
    frame before it as the frame before that did. Frames are numbered anew
    as they are given, so a frame played again after a seek back is shown.

    It plays while a sink is subscribed; once the last leaves, it stops.
    Paused, or at the end of what is recorded, it gives the sinks that want
    keepalives (L{IKeepAliveSink}, HTTP streams) its frame again every
    keepalive interval; at the end, it looks for new frames every
    L{END_POLL} seconds, so that it follows a recording still being made.

    All methods are called in the reactor thread.

    @ivar name: the camera's name.
    @ivar newest: the frame given last, or L{None} before the first.
    @ivar paused: whether it is paused.
    """

    _log = Logger()

    def __init__(
        self,
        name: str,
        catalog: Catalog,
        clock: IReactorTime,
        *,
        speed: float = 1.0,
        keepalive: float = KEEPALIVE,
    ) -> None:
        """
        @param catalog: the camera's recordings.
        @param speed: how many times faster than they were captured the
            frames are played, from L{SLOWEST} to L{FASTEST}.
        @param keepalive: seconds without a new frame before the sinks get
            the last one again.
        """
        self.name = name
        self.newest: Frame | None = None
        self.paused = False
        self._catalog = catalog
        self._clock = clock
        self._speed = speed
        self._keepalive = keepalive
        self._reader = ReadAhead(catalog, self._arrived)
        self._sinks: list[IFrameSink] = []
        self._number = 0
        self._shown: Recorded | None = None
        self._shown_at = 0.0
        self._interval = 0.0
        self._anchor = (0.0, 0.0)
        self._timer: IDelayedCall | None = None
        self._kept: IDelayedCall | None = None
        self._polling: IDelayedCall | None = None
        self._at_once: list[Deferred[Frame | None]] = []
        self._stopped = False
        self.ended: Deferred[None] = Deferred()
        """Fires when the playback stops."""

    @property
    def speed(self) -> float:
        """
        How many times faster than they were captured the frames are played.
        """
        return self._speed

    @property
    def at_end(self) -> bool:
        """
        Whether every frame recorded so far has been given.
        """
        return self._reader.at_end and self._reader.peek() is None

    # Finding where to play

    def start(self, when: float) -> Deferred[Frame | None]:
        """
        Give, as the first frame, the one captured at C{when} or just
        before; or, if nothing was recorded then, the first captured after.

        @return: fires with that frame, or L{None} if nothing was recorded
            at C{when} or since.
        """
        return self._catalog.refresh().addCallback(lambda _: self.seek(when))

    def seek(self, when: float) -> Deferred[Frame | None]:
        """
        Go on from the frame captured at C{when} or just before (or, in a
        gap, the first after), given at once, even while paused.

        @return: fires with that frame, or L{None} if nothing was recorded
            at C{when} or since, which changes nothing.
        """

        def near(position: Position | None) -> Deferred[Position | None]:
            if position is not None and when - position.captured_at <= GAP:
                return succeed(position)
            return self._catalog.following(when)

        return self._catalog.at(when).addCallback(near).addCallback(self._go)

    def step(self, frames: int) -> Deferred[Frame | None]:
        """
        Pause, and give the frame after the one given last (C{frames} 1) or
        the one before it (C{frames} -1).

        @return: fires with the frame given, or L{None} if there is none.
        """
        self.pause()
        shown = self._shown
        if shown is None:
            return succeed(None)
        if frames > 0:
            return self._show_next()
        return self._catalog.before(shown.position).addCallback(self._go)

    # Control

    def pause(self) -> None:
        """
        Give no new frame until resumed; the last is given again every
        keepalive interval.
        """
        self.paused = True
        self._cancel_timer()

    def resume(self) -> None:
        """
        Go on from the frame given last.
        """
        if not self.paused:
            return
        self.paused = False
        self._anchor = (self._clock.seconds(), self._shown_time())
        self._schedule()

    def set_speed(self, speed: float) -> None:
        """
        Play at C{speed} from now on, from the frame given last.
        """
        self._speed = speed
        shown = self._shown
        if shown is None:
            return
        self._cancel_timer()
        self._anchor = (self._clock.seconds(), shown.captured_at)
        self._reader.restart(shown.position, step=self._step(), including=False)

    def stop(self) -> None:
        """
        Play no more.
        """
        if self._stopped:
            return
        self._stopped = True
        self._cancel_timer()
        for call in (self._kept, self._polling):
            if call is not None and call.active():
                call.cancel()
        self._kept = self._polling = None
        self._reader.stop()
        waiting, self._at_once = self._at_once, []
        for waiter in waiting:
            waiter.callback(None)
        self.ended.callback(None)

    # IFeed

    def subscribe(self, sink: IFrameSink) -> None:
        """
        Give C{sink} every frame from now on; the first sink starts the
        pacing from the frame given last.
        """
        self._sinks.append(sink)
        if len(self._sinks) == 1 and not self.paused:
            self._anchor = (self._clock.seconds(), self._shown_time())
            self._schedule()

    def unsubscribe(self, sink: IFrameSink) -> None:
        """
        Give C{sink} no more frames; without sinks, the playback stops.
        """
        if sink in self._sinks:
            self._sinks.remove(sink)
            if not self._sinks:
                self.stop()

    def next_frame(self) -> Deferred[Frame]:
        """
        The frame given last, or the first to be given.
        """
        if self.newest is not None:
            return succeed(self.newest)
        waiter: Deferred[Frame | None] = Deferred()
        self._at_once.append(waiter)
        return waiter.addCallback(_given)

    def fresh_frame(self) -> Frame | None:
        """
        The frame given last: a recording's frames are never stale.
        """
        return self.newest

    # Pacing

    def _go(self, position: Position | None) -> Deferred[Frame | None]:
        """
        Go on from C{position}, whose frame is given at once.
        """
        if position is None or self._stopped:
            return succeed(None)
        self._cancel_timer()
        waiter: Deferred[Frame | None] = Deferred()
        self._at_once.append(waiter)
        self._reader.restart(position, step=self._step(), including=True)
        return waiter

    def _show_next(self) -> Deferred[Frame | None]:
        waiter: Deferred[Frame | None] = Deferred()
        self._at_once.append(waiter)
        self._arrived()
        return waiter

    def _step(self) -> float:
        return self._speed / MAX_RATE

    def _shown_time(self) -> float:
        return 0.0 if self._shown is None else self._shown.captured_at

    def _arrived(self) -> None:
        """
        Frames were read, or the end was reached.
        """
        if self._stopped:
            return
        if self._at_once:
            recorded = self._reader.take()
            if recorded is None and not self._reader.at_end:
                return
            frame = None
            if recorded is not None:
                self._anchor = (self._clock.seconds(), recorded.captured_at)
                frame = self._show(recorded)
            waiting, self._at_once = self._at_once, []
            for waiter in waiting:
                waiter.callback(frame)
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is not None or self.paused or self._stopped or not self._sinks:
            return
        coming = self._reader.peek()
        if coming is None:
            if self._reader.at_end and self._polling is None:
                self._polling = self._clock.callLater(END_POLL, self._poll)
            return
        now = self._clock.seconds()
        shown = self._shown_time()
        if not 0 <= coming.captured_at - shown <= GAP:
            # Across a gap (or back in time, where a clock was set back):
            # the frame after it comes as the frame before it came.
            self._anchor = (self._shown_at + self._interval, coming.captured_at)
        wall, recorded = self._anchor
        due = wall + (coming.captured_at - recorded) / self._speed
        if due < now - LATE:
            self._anchor = (now, coming.captured_at)
            due = now
        self._timer = self._clock.callLater(max(due - now, 0.0), self._tick)

    def _tick(self) -> None:
        self._timer = None
        recorded = self._reader.take()
        if recorded is not None:
            if 0 <= recorded.captured_at - self._shown_time() <= GAP:
                self._interval = self._clock.seconds() - self._shown_at
            self._show(recorded)
        self._schedule()

    def _poll(self) -> None:
        self._polling = None
        self._reader.poll()

    def _show(self, recorded: Recorded) -> Frame:
        """
        Give C{recorded} to the sinks, as the next frame.
        """
        now = self._clock.seconds()
        self._number += 1
        frame = Frame(recorded.jpeg, recorded.captured_at, self._number, now, self.name)
        self._shown, self._shown_at, self.newest = recorded, now, frame
        for sink in list(self._sinks):
            self._give(sink, frame)
        if self._kept is None:
            self._kept = self._clock.callLater(self._keepalive, self._keep_alive)
        return frame

    def _give(self, sink: IFrameSink, frame: Frame) -> None:
        try:
            sink.send_frame(frame)
        except Exception:  # noqa: BLE001 - a sink's bug must not stop the others
            self._log.failure(
                "playback of camera {camera}: a sink failed and was detached",
                camera=self.name,
            )
            self.unsubscribe(sink)

    def _keep_alive(self) -> None:
        self._kept = None
        newest = self.newest
        if newest is None or self._stopped:
            return
        quiet = self._clock.seconds() - self._shown_at
        if quiet >= self._keepalive:
            for sink in list(self._sinks):
                if IKeepAliveSink.providedBy(sink):
                    sink.keep_alive(newest)
            quiet = 0.0
        self._kept = self._clock.callLater(self._keepalive - quiet, self._keep_alive)

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None


def _given(frame: Frame | None) -> Frame:
    """
    The first frame of a playback, which a stream waits for.

    @raise LookupError: if nothing was recorded to play.
    """
    if frame is None:
        raise LookupError("nothing was recorded to play")
    return frame
