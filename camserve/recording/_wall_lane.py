# -*- test-case-name: tests.test_wall_playback -*-
"""
One camera of a wall of playbacks: a playback of its recording paced by
the wall's clock, which goes live only when the wall does.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from attrs import frozen
from twisted.internet.defer import DeferredList, succeed

from camserve._defaults import KEEPALIVE
from camserve.recording._catalog import Recorded
from camserve.recording._playback_live import LivePlayback
from camserve.recording._recorded_spans import GAP
from camserve.recording._wall_clock import WallPacer

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IReactorTime

    from camserve.interfaces import IFeed
    from camserve.recording._catalog import Catalog, Position
    from camserve.recording._playback_pacing import Pacer, Timed
    from camserve.recording._wall_clock import WallClock

SHOWN_EARLY = 1e-3
"""Seconds a frame may be captured after the wall's time and still count as
shown at it: the reactor's timers are not exact."""


@frozen
class WallCamera:
    """
    A camera to play on a wall: its name, its recordings, its live feed
    (its hub) and the seconds between keepalives of its streams.
    """

    name: str
    catalog: Catalog
    live: IFeed
    keepalive: float = KEEPALIVE


@frozen
class Found:
    """
    Where a camera's recording is at a time: the frame captured then or
    just before, and the first captured then or after.
    """

    at: Position | None
    following: Position | None

    def anything(self, when: float) -> bool:
        """
        Whether anything was recorded at C{when} (at most L{GAP} before)
        or since.
        """
        at = self.at
        return self.following is not None or (
            at is not None and when - at.captured_at <= GAP
        )


class WallLane(LivePlayback):
    """
    A playback of one camera of a wall: its recorded frames are given when
    the wall's time (L{WallClock}) reaches their capture times, so that,
    when the wall plays, the camera shows the frame it captured at the
    wall's time or just before. A gap in its recording leaves its last
    frame shown, and the wall's time runs on. At the end of what is
    recorded it looks for more, but joins the camera's live frames only
    when the wall asks it to (L{join}, L{go_live}).
    """

    def __init__(
        self,
        name: str,
        catalog: Catalog,
        clock: IReactorTime,
        live: IFeed,
        *,
        wall: WallClock,
        changed: Callable[[], None],
        **options: Any,
    ) -> None:
        """
        @param wall: the wall's clock.
        @param changed: called when the frame shown or the next frame to
            show changes.
        @param options: as L{LivePlayback}'s.
        """
        self._wall = wall
        self._changed = changed
        self._joining = False
        self._nothing = False
        super().__init__(name, catalog, clock, live, **options)

    @property
    def catalog(self) -> Catalog:
        """
        The camera's recordings.
        """
        return self._catalog

    def shows_at(self, when: float) -> bool:
        """
        Whether the frame shown was captured at C{when} or at most L{GAP}
        before: else the camera is in a gap of its recording at C{when}.
        Live, whether it shows a frame at all.
        """
        newest = self.newest
        if newest is None:
            return False
        return self.live or -SHOWN_EARLY <= when - newest.captured_at <= GAP

    def next_time(self) -> float | None:
        """
        The capture time of the next recorded frame to show; infinite if
        every frame recorded so far has been shown, L{None} while it is not
        known yet.
        """
        coming = self._reader.peek()
        if coming is not None:
            return coming.captured_at
        if self._nothing or self._reader.at_end:
            return math.inf
        return None

    # Where to play

    def find(self, when: float) -> Deferred[Found]:
        """
        Where the recording is at C{when}.
        """
        at = self._catalog.at(when)
        following = self._catalog.following(when)
        gathered = DeferredList(
            [at, following], fireOnOneErrback=True, consumeErrors=True
        )
        return gathered.addCallback(lambda results: Found(results[0][1], results[1][1]))

    def go_to(self, when: float, found: Found) -> Deferred[None]:
        """
        Go on from the wall's time C{when}, where the recording is as
        C{found}: its frame captured then or at most L{GAP} before is shown
        at once, unless it is shown already; otherwise the next frame is
        shown when the wall's time reaches it.

        @return: fires once the frame to show at once is shown.
        """
        self._leave_joining()
        self._nothing = False
        at = found.at
        if at is not None and when - at.captured_at <= GAP:
            if at == self._position and not self.live:
                # Shown already: go on after it.
                self._moves += 1
                self._pacer.use(self._reader)
                self._reader.restart(at, step=self._step(), including=False)
                return succeed(None)
            return self._go(at).addCallback(lambda _: None)
        if self.live:
            self._leave_live()
        self._end_since = None
        self._moves += 1
        self._position = None
        self._pacer.use(self._reader)
        start = found.following or at
        self._nothing = start is None
        if start is None:
            self._reader.stop()
        else:
            self._reader.restart(
                start, step=self._step(), including=found.following is not None
            )
        return succeed(None)

    def join(self) -> None:
        """
        Join the camera's live frames: where the recording is still being
        made, once it has caught up with them (as L{LivePlayback} does at
        its end); where it is in a gap at the wall's time, from now on.
        """
        if self.live or self._stopped:
            return
        if not self.shows_at(self._wall.time()):
            self.go_live()
            return
        self._joining = True
        if self._polling is not None and self._polling.active():
            self._polling.cancel()
        self._polling = None
        self._idle()

    def pause(self) -> None:
        """
        Give no new frame until resumed; live or joining, go on from the
        recording.
        """
        self._leave_joining()
        super().pause()

    def reschedule(self) -> None:
        """
        The wall's time was moved: give the next frame when it is due now.
        """
        self._pacer.reschedule()

    # Playback

    def _paced_by(self, clock: IReactorTime, speed: float) -> Pacer:
        pacer = WallPacer(clock, self._paced, self._idle, wall=self._wall, speed=speed)
        pacer.shared = self._reader
        return pacer

    def _paced(self, timed: Timed) -> None:
        if isinstance(timed, Recorded) and self._pacer.source is self._reader:
            coming = self._reader.peek()
            if coming is not None and coming.captured_at <= self._wall.time():
                # Late (the disk was slow, or the recording grew after the
                # wall's time passed): the next frame is due too, and is
                # the one to show.
                self._position = timed.position
                self._end_since = None
                return
        super()._paced(timed)
        self._changed()

    def _recorded(self) -> None:
        super()._recorded()
        self._changed()

    def _at_recording_end(self) -> bool:
        if not self._joining:
            # The wall decides when its cameras go live.
            return False
        return super()._at_recording_end()

    def _leave_joining(self) -> None:
        if self._joining:
            self._joining = False
            if not self.live:
                self._tail.leave()
