# -*- test-case-name: tests.test_playback -*-
"""
What a playback gives its sinks: each frame, numbered anew, and the last
again while nothing new comes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.logger import Logger

from camserve._frame import Frame
from camserve.interfaces import IKeepAliveSink

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.internet.interfaces import IDelayedCall, IReactorTime

    from camserve.interfaces import IFrameSink
    from camserve.recording._playback_pacing import Timed


class Sinks:
    """
    The sinks of a playback of camera C{name}, and the frames given them,
    numbered in the order given; the sinks that want keepalives (HTTP
    streams) get the last one again every keepalive interval without a new
    one.

    @ivar newest: the frame given last, or L{None} before the first.
    """

    _log = Logger()

    def __init__(
        self,
        name: str,
        clock: IReactorTime,
        keepalive: float,
        quiet: Callable[[], float],
    ) -> None:
        """
        @param keepalive: seconds without a new frame before the sinks get
            the last one again.
        @param quiet: the seconds since a frame was last given.
        """
        self._name = name
        self._clock = clock
        self._keepalive = keepalive
        self._quiet = quiet
        self._sinks: list[IFrameSink] = []
        self._number = 0
        self._kept: IDelayedCall | None = None
        self._stopped = False
        self.newest: Frame | None = None

    def __bool__(self) -> bool:
        return bool(self._sinks)

    def add(self, sink: IFrameSink) -> None:
        """
        Give C{sink} every frame from now on.
        """
        self._sinks.append(sink)

    def remove(self, sink: IFrameSink) -> None:
        """
        Give C{sink} no more frames; a sink not there is ignored.
        """
        if sink in self._sinks:
            self._sinks.remove(sink)

    def give(self, timed: Timed) -> Frame:
        """
        Give C{timed} to the sinks, as the next frame; a sink that raises
        is logged and removed.
        """
        self._number += 1
        frame = Frame(
            timed.jpeg,
            timed.captured_at,
            self._number,
            self._clock.seconds(),
            self._name,
        )
        self.newest = frame
        for sink in list(self._sinks):
            try:
                sink.send_frame(frame)
            except Exception:  # noqa: BLE001 - a sink's bug must not stop the others
                self._log.failure(
                    "playback of camera {camera}: a sink failed and was detached",
                    camera=self._name,
                )
                self.remove(sink)
        if self._kept is None and not self._stopped:
            self._kept = self._clock.callLater(self._keepalive, self._keep_alive)
        return frame

    def stop(self) -> None:
        """
        Give nothing more.
        """
        self._stopped = True
        if self._kept is not None and self._kept.active():
            self._kept.cancel()
        self._kept = None

    def _keep_alive(self) -> None:
        self._kept = None
        newest = self.newest
        if newest is None or self._stopped:
            return
        quiet = self._quiet()
        if quiet >= self._keepalive:
            for sink in list(self._sinks):
                if IKeepAliveSink.providedBy(sink):
                    sink.keep_alive(newest)
            quiet = 0.0
        self._kept = self._clock.callLater(self._keepalive - quiet, self._keep_alive)
