# -*- test-case-name: tests.test_hub -*-
"""
What a camera's hub reports of itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from camserve.camera._states import HubState
from camserve.interfaces import VIEWER, IDroppedFrames, IHealthDetails

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime

    from camserve.camera._frame_rate import FrameRate
    from camserve.camera._sinks import Sinks
    from camserve.camera._source_runner import SourceRunner
    from camserve.interfaces import IFrameSource


class HubHealth:
    """
    The health of one camera's hub, made from its parts when asked.
    """

    def __init__(
        self,
        clock: IReactorTime,
        source: IFrameSource,
        run: SourceRunner,
        sinks: Sinks,
        rate: FrameRate,
    ) -> None:
        """
        @param clock: the hub's clock; its uptime counts from now.
        @param source: where the camera's frames come from, which may count
            frames dropped and have facts of its own.
        @param run: the source's life: what it does, why it last failed.
        @param sinks: whom the camera feeds.
        @param rate: the camera's frames, counted and timed.
        """
        self._clock = clock
        self._source = source
        self._run = run
        self._sinks = sinks
        self._rate = rate
        self._created_at = clock.seconds()

    @property
    def frames_dropped(self) -> int:
        """
        Frames the source replaced with newer ones before they reached the
        hub (newest wins); 0 for a source that does not count them.
        """
        if IDroppedFrames.providedBy(self._source):
            dropped: int = self._source.frames_dropped()
            return dropped
        return 0

    def report(self) -> dict[str, Any]:
        """
        The hub's state as a JSON-ready mapping, but for the camera's name
        and driver, which the hub knows: see L{CameraHub.health
        <camserve.CameraHub.health>}.
        """
        run = self._run
        now = self._clock.seconds()
        fps = self._rate.fps(now) if run.state is HubState.RUNNING else 0.0
        return {
            "state": run.state.value,
            "last_error": run.last_error,
            "viewers": self._sinks.count(VIEWER),
            "consumers": self._sinks.counts,
            "frames_captured": self._rate.count,
            "frames_dropped": self.frames_dropped,
            "fps": round(fps, 2),
            "uptime": round(now - self._created_at, 3),
            "details": (
                self._source.health_details()
                if IHealthDetails.providedBy(self._source)
                else {}
            ),
        }
