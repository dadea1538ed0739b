# -*- test-case-name: tests.test_playback -*-
"""
Playing a camera's recording back: a feed of recorded frames that a stream
shows as it shows the camera live, paced by the frames' capture times at a
speed, and controlled while it plays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred, succeed
from zope.interface import implementer

from camserve._defaults import KEEPALIVE
from camserve.interfaces import IFeed
from camserve.recording._catalog import Recorded
from camserve.recording._playback_pacing import Pacer
from camserve.recording._playback_reader import ReadAhead
from camserve.recording._playback_sinks import Sinks
from camserve.recording._recorded_spans import GAP

if TYPE_CHECKING:
    from twisted.internet.interfaces import IDelayedCall, IReactorTime

    from camserve._frame import Frame
    from camserve.interfaces import IFrameSink
    from camserve.recording._catalog import Catalog, Position
    from camserve.recording._playback_pacing import Timed

SLOWEST = 0.25
"""The slowest speed a recording plays at."""
FASTEST = 16.0
"""The fastest speed a recording plays at."""
MAX_RATE = 60.0
"""The most frames a second a playback shows: at a high speed, frames
captured closer together than this, times the speed, are skipped."""
END_POLL = 1.0
"""Seconds between looks for new frames at the end of what is recorded."""


@implementer(IFeed)
class Playback:
    """
    A feed of one camera's recorded frames, played from an instant at a
    speed (see L{Pacer}); the frames are numbered anew as they are given,
    so a frame played again after a seek back is shown. At the end of what
    is recorded, it looks for new frames every L{END_POLL} seconds, so that
    it follows a recording still being made.

    It plays while a sink is subscribed, and stops when the last leaves.
    Paused, or at the end, it gives the sinks that want keepalives (HTTP
    streams) its frame again every keepalive interval.

    All methods are called in the reactor thread.

    @ivar name: the camera's name.
    @ivar paused: whether it is paused.
    @ivar live: whether it gives the camera's live frames (see
        L{LivePlayback <camserve.recording._playback_live.LivePlayback>}).
    @ivar ended: fires when the playback stops.
    """

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
        self.paused = False
        self.live = False
        self.ended: Deferred[None] = Deferred()
        self._catalog = catalog
        self._clock = clock
        self._reader = ReadAhead(catalog, self._recorded)
        self._pacer = self._paced_by(clock, speed)
        self._pacer.use(self._reader)
        self._sinks = Sinks(name, clock, keepalive, lambda: self._pacer.quiet)
        self._position: Position | None = None
        self._moves = 0
        self._polling: IDelayedCall | None = None
        self._at_once: list[Deferred[Frame | None]] = []
        self._stopped = False

    @property
    def speed(self) -> float:
        """
        How many times faster than they were captured the frames are played.
        """
        return self._pacer.speed

    @property
    def at_end(self) -> bool:
        """
        Whether every frame recorded so far has been given.
        """
        return not self.live and self._reader.at_end and self._reader.peek() is None

    # Where to play

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
        Pause, and give the recorded frame after the one given last
        (C{frames} 1) or the one before it (C{frames} -1).

        @return: fires with the frame given, or L{None} if there is none.
        """
        self.pause()
        move = self._catalog.after if frames > 0 else self._catalog.before

        def moved(position: Position | None) -> Deferred[Position | None]:
            return succeed(None) if position is None else move(position)

        return self._recorded_position().addCallback(moved).addCallback(self._go)

    # Control

    def pause(self) -> None:
        """
        Give no new frame until resumed; the last is given again every
        keepalive interval.
        """
        self.paused = True
        self._pacer.hold()

    def resume(self) -> None:
        """
        Go on from the frame given last.
        """
        if self.paused:
            self.paused = False
            self._pacer.run()

    def set_speed(self, speed: float) -> None:
        """
        Play at C{speed} from now on, from the frame given last.
        """
        self._pacer.set_speed(speed)
        if self._position is not None and not self.live:
            self._reader.restart(self._position, step=self._step(), including=False)
        self._pacer.schedule()

    def stop(self) -> None:
        """
        Play no more.
        """
        if self._stopped:
            return
        self._stopped = True
        self._pacer.stop()
        self._sinks.stop()
        if self._polling is not None and self._polling.active():
            self._polling.cancel()
        self._polling = None
        self._reader.stop()
        self._answer(None)
        self.ended.callback(None)

    # IFeed

    def subscribe(self, sink: IFrameSink) -> None:
        """
        Give C{sink} every frame from now on; the first sink starts the
        pacing from the frame given last.
        """
        first = not self._sinks
        self._sinks.add(sink)
        if first and not self.paused:
            self._pacer.run()

    def unsubscribe(self, sink: IFrameSink) -> None:
        """
        Give C{sink} no more frames; without sinks, the playback stops.
        """
        self._sinks.remove(sink)
        if not self._sinks:
            self.stop()

    @property
    def newest(self) -> Frame | None:
        """
        The frame given last, or L{None} before the first.
        """
        return self._sinks.newest

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

    # The recording

    def _paced_by(self, clock: IReactorTime, speed: float) -> Pacer:
        """
        What paces the frames: by their own capture times.
        """
        return Pacer(clock, self._paced, self._idle, speed=speed)

    def _go(self, position: Position | None) -> Deferred[Frame | None]:
        """
        Go on in the recording from C{position}, whose frame is given at
        once.
        """
        if position is None or self._stopped:
            return succeed(None)
        self._moves += 1
        waiter: Deferred[Frame | None] = Deferred()
        self._at_once.append(waiter)
        self._pacer.use(self._reader)
        self._reader.restart(position, step=self._step(), including=True)
        return waiter

    def _recorded_position(self) -> Deferred[Position | None]:
        """
        Where the frame given last is in the recording.
        """
        if self._position is not None:
            return succeed(self._position)
        return self._catalog.at(self._shown_time())

    def _recorded(self) -> None:
        """
        Recorded frames were read, or the end was reached.
        """
        if self._stopped or self.live:
            return
        if self._at_once:
            recorded = self._reader.take()
            if recorded is None and not self._reader.at_end:
                return
            if recorded is not None:
                self._show_now(recorded)
            self._answer(self.newest if recorded is not None else None)
        self._pacer.schedule()

    def _idle(self) -> None:
        """
        The pacing has no frame to give next: wait for it, or, at the end
        of the recording, look for more.
        """
        if self.live or not self._reader.at_end or self._polling is not None:
            return
        if not self._at_recording_end():
            self._polling = self._clock.callLater(self._poll_wait(), self._poll)

    def _at_recording_end(self) -> bool:
        """
        Every frame recorded so far has been given.

        @return: whether the playback went on otherwise than by looking for
            more.
        """
        return False

    def _poll_wait(self) -> float:
        """
        Seconds to wait before looking for more frames at the end.
        """
        return END_POLL

    def _poll(self) -> None:
        self._polling = None
        self._reader.poll()

    # Giving frames

    def _paced(self, timed: Timed) -> None:
        """
        C{timed}'s time has come.
        """
        if isinstance(timed, Recorded):
            self._position = timed.position
        self._show(timed)

    def _show_now(self, timed: Timed) -> None:
        if isinstance(timed, Recorded):
            self._position = timed.position
        self._pacer.given_now(timed)
        self._show(timed)

    def _show(self, timed: Timed) -> None:
        self._sinks.give(timed)

    def _answer(self, frame: Frame | None) -> None:
        waiting, self._at_once = self._at_once, []
        for waiter in waiting:
            if not waiter.called:
                waiter.callback(frame)

    def _step(self) -> float:
        return self._pacer.speed / MAX_RATE

    def _shown_time(self) -> float:
        shown = self._pacer.shown
        return 0.0 if shown is None else shown.captured_at


def _given(frame: Frame | None) -> Frame:
    """
    The first frame of a playback, which a stream waits for.

    @raise LookupError: if nothing was recorded to play.
    """
    if frame is None:
        raise LookupError("nothing was recorded to play")
    return frame
