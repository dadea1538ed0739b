# -*- test-case-name: tests.test_wall_playback -*-
"""
The one clock of a wall of playbacks: the recorded time every camera of
the wall shows, and the pacing of each camera's recorded frames by it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from camserve.recording._playback_pacing import Pacer

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.internet.interfaces import IReactorTime

    from camserve.recording._playback_pacing import Timed, Upcoming


class WallClock:
    """
    A recorded time that runs at a speed while it runs: the time of the
    frames a wall of cameras shows, which a seek, a step or a gap of every
    camera moves.

    All methods are called in the reactor thread.

    @ivar speed: how many times faster than real time it runs.
    @ivar running: whether it runs.
    """

    def __init__(self, clock: IReactorTime, *, speed: float = 1.0) -> None:
        """
        @param clock: the real time it runs by.
        @param speed: how many times faster than real time it runs.
        """
        self._clock = clock
        self.speed = speed
        self.running = False
        self._anchor = (clock.seconds(), 0.0)
        self._moved: list[Callable[[], None]] = []

    def time(self) -> float:
        """
        The recorded time now, Unix seconds.
        """
        wall, recorded = self._anchor
        if not self.running:
            return recorded
        return recorded + (self._clock.seconds() - wall) * self.speed

    def due(self, captured_at: float) -> float | None:
        """
        When, on the real clock, the recorded time reaches C{captured_at}
        (now, if it has); L{None} while the time stands still.
        """
        if not self.running:
            return None
        wall, recorded = self._anchor
        return wall + (captured_at - recorded) / self.speed

    def when_moved(self, moved: Callable[[], None]) -> None:
        """
        Call C{moved} whenever the time is set, stopped, run or sped up,
        which changes when the frames are due.
        """
        self._moved.append(moved)

    def set(self, recorded: float) -> None:
        """
        Go on from the recorded time C{recorded}, from now.
        """
        self._anchor = (self._clock.seconds(), recorded)
        self._changed()

    def run(self) -> None:
        """
        Run on from the time it stood at.
        """
        if not self.running:
            self._anchor = (self._clock.seconds(), self.time())
            self.running = True
            self._changed()

    def hold(self) -> None:
        """
        Stand still at the time it has reached.
        """
        if self.running:
            self._anchor = (self._clock.seconds(), self.time())
            self.running = False
            self._changed()

    def set_speed(self, speed: float) -> None:
        """
        Run at C{speed} from the time it has reached.
        """
        self._anchor = (self._clock.seconds(), self.time())
        self.speed = speed
        self._changed()

    def _changed(self) -> None:
        for moved in list(self._moved):
            moved()


class WallPacer(Pacer):
    """
    Paces the frames of one source, C{shared} (a camera's recording), by a
    wall's clock: each frame is due when the wall's time reaches its capture
    time, however long the camera's gaps. Frames of any other source (the
    camera's live frames) are paced as a L{Pacer} paces them.

    @ivar shared: the source whose frames the wall's clock paces.
    """

    def __init__(
        self,
        clock: IReactorTime,
        give: Callable[[Timed], None],
        idle: Callable[[], None],
        *,
        wall: WallClock,
        speed: float,
    ) -> None:
        """
        @param wall: the wall's clock.
        """
        super().__init__(clock, give, idle, speed=speed)
        self._wall = wall
        self.shared: Upcoming | None = None

    def _due(self, coming: Timed, now: float) -> float | None:
        if self.source is None or self.source is not self.shared:
            return super()._due(coming, now)
        return self._wall.due(coming.captured_at)
