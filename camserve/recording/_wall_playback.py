# -*- test-case-name: tests.test_wall_playback -*-
"""
Playing several cameras' recordings back in step: one time for the whole
wall, which every camera shows its frame of, and one control.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, DeferredList, succeed

from camserve.recording._recorded_spans import GAP
from camserve.recording._wall_clock import WallClock
from camserve.recording._wall_lane import WallCamera, WallLane

if TYPE_CHECKING:
    from collections.abc import Sequence

    from twisted.internet.interfaces import IReactorTime

    from camserve.recording._wall_lane import Found


class WallPlayback:
    """
    The recordings of several cameras played in step: the wall's time runs
    from an instant at a speed, and each camera (a L{WallLane}, an C{IFeed}
    a stream shows) shows the frame it captured at that time or just
    before. A gap in one camera's recording leaves that camera's last frame
    shown while the others play on; only when every camera is in a gap (none
    has a frame within L{GAP} after the wall's time) does the time jump to
    the first frame recorded after it by any. When none has anything more,
    the wall's time has reached the newest frame recorded by any: every
    camera joins its live frames, together.

    Pause, resume, seek, speed, step and live apply to every camera. The
    playback stops when any camera's stream leaves (they share one).

    All methods are called in the reactor thread.

    @ivar lanes: the cameras played, each an C{IFeed}.
    @ivar left_out: the cameras asked for that have no recordings.
    @ivar paused: whether the wall's time stands still.
    @ivar live: whether the cameras were sent to their live frames.
    @ivar ended: fires when the playback stops.
    """

    def __init__(
        self,
        cameras: Sequence[WallCamera],
        clock: IReactorTime,
        *,
        speed: float = 1.0,
    ) -> None:
        """
        @param cameras: the cameras, each once.
        @param clock: the reactor's clock.
        @param speed: how many times faster than they were captured the
            frames are played.
        """
        self._clock = clock
        self.time_line = WallClock(clock, speed=speed)
        self.lanes: list[WallLane] = [
            WallLane(
                camera.name,
                camera.catalog,
                clock,
                camera.live,
                wall=self.time_line,
                changed=self._settle,
                speed=speed,
                keepalive=camera.keepalive,
            )
            for camera in cameras
        ]
        self.left_out: list[str] = []
        self.paused = False
        self.live = False
        self.ended: Deferred[None] = Deferred()
        self._stopped = False
        self._settling = False
        self._seeks = 0
        self.time_line.when_moved(self._moved)
        for lane in self.lanes:
            lane.ended.addCallback(self._lane_ended, lane)

    @property
    def names(self) -> list[str]:
        """
        The names of the cameras played.
        """
        return [lane.name for lane in self.lanes]

    @property
    def speed(self) -> float:
        """
        How many times faster than real time the wall's time runs.
        """
        return self.time_line.speed

    @property
    def time(self) -> float:
        """
        The wall's time: the recorded time the cameras show, or, live, now.
        """
        return self._clock.seconds() if self.live else self.time_line.time()

    @property
    def at_end(self) -> bool:
        """
        Whether every camera has shown every frame recorded so far.
        """
        return not self.live and all(
            lane.next_time() == math.inf for lane in self.lanes
        )

    # Where to play

    def start(self, when: float) -> Deferred[bool]:
        """
        Play from the wall's time C{when}: each camera that has recordings
        shows its frame captured then (or at most L{GAP} before) at once;
        the others are left out (L{left_out}).

        @return: fires with whether any camera recorded anything at
            C{when} or since; if none did, the playback is stopped.
        """
        refreshed = DeferredList(
            [lane.catalog.refresh() for lane in self.lanes],
            fireOnOneErrback=True,
            consumeErrors=True,
        )

        def recorded(_: object) -> Deferred[bool]:
            every, self.lanes = (
                self.lanes,
                [lane for lane in self.lanes if lane.catalog.segments],
            )
            for lane in every:
                if lane not in self.lanes:
                    self.left_out.append(lane.name)
                    lane.stop()
            return self.seek(when)

        def began(anything: bool) -> bool:
            if anything:
                self.time_line.run()
                self._settle()
            else:
                self.stop()
            return anything

        return refreshed.addCallback(recorded).addCallback(began)

    def seek(self, when: float) -> Deferred[bool]:
        """
        Go on from the wall's time C{when}, even while paused: each camera
        shows its frame captured then (or at most L{GAP} before) at once.

        @return: fires with whether any camera recorded anything at C{when}
            or since; if none did, nothing changes.
        """
        if self._stopped or not self.lanes:
            return succeed(False)
        self._seeks += 1
        seek = self._seeks
        found = DeferredList(
            [lane.find(when) for lane in self.lanes],
            fireOnOneErrback=True,
            consumeErrors=True,
        )

        def go(results: list[tuple[bool, Found]]) -> Deferred[bool]:
            if seek != self._seeks:
                # A later seek, asked while this one looked, is where to go.
                return succeed(True)
            return self._go_to(when, [each for _, each in results])

        return found.addCallback(go)

    def step(self, frames: int) -> Deferred[bool]:
        """
        Pause, and move the wall's time to the next capture time of any
        camera (C{frames} 1) or the one before (C{frames} -1), where each
        camera shows its frame captured then or just before.

        @return: fires with whether there was such a frame.
        """
        self.pause()
        now = self.time_line.time()
        if frames > 0:
            after = math.nextafter(now, math.inf)
            looks = [lane.catalog.following(after) for lane in self.lanes]
        else:
            before = math.nextafter(now, -math.inf)
            looks = [lane.catalog.at(before) for lane in self.lanes]

        def chosen(results: list[tuple[bool, Any]]) -> Deferred[bool]:
            times = [
                position.captured_at for _, position in results if position is not None
            ]
            if not times:
                return succeed(False)
            return self.seek(min(times) if frames > 0 else max(times))

        gathered = DeferredList(looks, fireOnOneErrback=True, consumeErrors=True)
        return gathered.addCallback(chosen)

    # Control

    def pause(self) -> None:
        """
        Stop the wall's time; live, every camera goes on from its
        recording where it is paused.
        """
        live = self.live
        if live:
            self.time_line.set(self._clock.seconds())
            self.live = False
        self.paused = True
        self.time_line.hold()
        for lane in self.lanes:
            lane.pause()
        now = self.time_line.time()
        coming = [lane.next_time() for lane in self.lanes]
        if not live and any(when is None or when <= now for when in coming):
            # A camera's frames were read more slowly than the time ran:
            # paused, each shows its frame at the time it stands at.
            self.seek(now)

    def resume(self) -> None:
        """
        Run the wall's time on from where it stands.
        """
        if not self.paused:
            return
        self.paused = False
        self.time_line.run()
        for lane in self.lanes:
            lane.resume()
        self._settle()

    def set_speed(self, speed: float) -> None:
        """
        Run the wall's time at C{speed} from now on.
        """
        self.time_line.set_speed(speed)
        for lane in self.lanes:
            lane.set_speed(speed)

    def go_live(self) -> Deferred[bool]:
        """
        Give every camera's live frames from now on, the newest of each at
        once.

        @return: fires with whether any camera gave a live frame.
        """
        if self._stopped:
            return succeed(False)
        self._become_live()
        joined = DeferredList(
            [lane.go_live() for lane in self.lanes],
            fireOnOneErrback=True,
            consumeErrors=True,
        )
        return joined.addCallback(
            lambda results: any(frame is not None for _, frame in results)
        )

    def stop(self) -> None:
        """
        Play no more.
        """
        if self._stopped:
            return
        self._stopped = True
        for lane in self.lanes:
            lane.stop()
        self.time_line.hold()
        self.ended.callback(None)

    def state(self) -> dict[str, Any]:
        """
        The playback's state, as its control answers it.
        """
        now = self.time
        return {
            "cameras": [
                {
                    "camera": lane.name,
                    "frame": lane.shows_at(now),
                    "time": None if lane.newest is None else lane.newest.captured_at,
                    "live": lane.live,
                }
                for lane in self.lanes
            ],
            "not_recorded": list(self.left_out),
            "time": now,
            "paused": self.paused,
            "speed": self.speed,
            "live": self.live,
            "at_end": self.at_end,
        }

    # The wall's time

    def _go_to(self, when: float, found: list[Found]) -> Deferred[bool]:
        if self._stopped or not any(each.anything(when) for each in found):
            return succeed(False)
        self.live = False
        self.time_line.set(when)
        # The cameras are moved one after the other: none is to be taken
        # for in a gap before all are.
        self._settling = True
        try:
            shown = [
                lane.go_to(when, each)
                for lane, each in zip(self.lanes, found, strict=True)
            ]
        finally:
            self._settling = False
        gathered = DeferredList(shown, fireOnOneErrback=True, consumeErrors=True)

        def settled(_: object) -> bool:
            self._settle()
            return True

        return gathered.addCallback(settled)

    def _settle(self) -> None:
        """
        A camera's frame shown or next to show changed: if every camera is
        in a gap at the wall's time, the time jumps to the first frame
        recorded after it by any; if none has more, every camera goes live.
        """
        if (
            self._settling
            or self._stopped
            or self.paused
            or self.live
            or not self.time_line.running
        ):
            return
        coming = [lane.next_time() for lane in self.lanes]
        known = [when for when in coming if when is not None]
        if len(known) < len(coming):
            return
        now = self.time_line.time()
        if any(when <= now + GAP for when in known):
            return
        self._settling = True
        try:
            first = min(known, default=math.inf)
            if first < math.inf:
                self.time_line.set(first)
            else:
                # From the time reached, at the speed of the live frames:
                # a recording still being made is played on until it has
                # caught up with them, so that none of its frames is
                # skipped or shown twice.
                self.live = True
                self.time_line.set_speed(1.0)
                for lane in self.lanes:
                    lane.join()
        finally:
            self._settling = False

    def _lane_ended(self, _: object, lane: WallLane) -> None:
        # The cameras share one stream: one that leaves it ends it. One
        # left out at the start was never in it.
        if lane in self.lanes:
            self.stop()

    def _become_live(self) -> None:
        self.live = True
        self.paused = False
        self.time_line.set_speed(1.0)
        self.time_line.set(self._clock.seconds())
        self.time_line.run()

    def _moved(self) -> None:
        for lane in self.lanes:
            lane.reschedule()
