# -*- test-case-name: tests.test_hub -*-
"""
Keepalives: a camera's newest frame given again to its streams while it
sends nothing new, so that proxies and players keep their connections open.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from twisted.internet.interfaces import IDelayedCall, IReactorTime

    from camserve._frame import Frame
    from camserve.camera._sinks import Sinks


class KeepAlive:
    """
    Gives the sinks that want keepalives (L{IKeepAliveSink
    <camserve.interfaces.IKeepAliveSink>}, HTTP streams) a camera's newest
    frame again whenever the camera has sent nothing new for the keepalive
    interval, and again every interval after that, for as long as such a sink
    is subscribed.

    All methods are called in the reactor thread.
    """

    def __init__(self, clock: IReactorTime, interval: float, sinks: Sinks) -> None:
        """
        @param clock: schedules the keepalives.
        @param interval: seconds without a new frame before a keepalive.
        @param sinks: the camera's sinks, of which those that want
            keepalives get them.
        """
        self._clock = clock
        self._interval = interval
        self._sinks = sinks
        self._newest: Frame | None = None
        self._call: IDelayedCall | None = None

    @property
    def interval(self) -> float:
        """
        Seconds without a new frame before the sinks get the newest again.
        """
        return self._interval

    def frame_sent(self, frame: Frame) -> None:
        """
        C{frame}, the newest, was sent to the sinks: the next keepalive, of
        this frame, is due an interval from now.
        """
        self._newest = frame
        call = self._call
        if call is not None:
            call.reset(self._interval)
        elif self._sinks.kept_alive:
            self._call = self._clock.callLater(self._interval, self._keep_alive)

    def sinks_changed(self) -> None:
        """
        A sink came or went: a stream joining a camera that sends nothing
        new hears from it all the same.
        """
        if self._sinks.kept_alive and self._call is None and self._newest is not None:
            self._call = self._clock.callLater(self._interval, self._keep_alive)

    def stop(self) -> None:
        """
        Give no more keepalives: the camera is shut down.
        """
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def _keep_alive(self) -> None:
        self._call = None
        newest = self._newest
        if newest is None or not self._sinks.kept_alive:
            return
        self._sinks.keep_alive(newest)
        self._call = self._clock.callLater(self._interval, self._keep_alive)
