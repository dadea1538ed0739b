# -*- test-case-name: tests.test_handles -*-
"""
A camera by name: what a consumer holds to follow a camera across reloads,
which may make its hub again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from camserve.camera._events import CameraEvent, Listeners

if TYPE_CHECKING:
    from collections.abc import Callable

    from camserve.camera._hub import CameraHub
    from camserve.interfaces import IFrameSink


class CameraHandle:
    """
    One camera of a L{camserve.CameraService}, by name, for as long as the
    service runs: whatever hub serves the name now, and those who follow it.

    A sink subscribed through the handle is fed by the camera's hub, as if
    subscribed to it directly (nothing stands between them on a frame's
    way), and stays subscribed when a reload makes the camera again; it is
    closed when the camera is removed. Listeners hear every L{CameraEvent}
    of the camera, whichever hub serves it.

    All methods are called in the reactor thread.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._hub: CameraHub | None = None
        self._sinks: dict[IFrameSink, None] = {}
        self._listeners = Listeners(name)

    @property
    def hub(self) -> CameraHub | None:
        """
        The hub serving the camera now; L{None} while it is not served.
        """
        return self._hub

    def subscribe(self, sink: IFrameSink) -> None:
        """
        Feed C{sink} the camera's frames from now on, through every hub the
        camera gets, until it is removed or L{unsubscribe} is called.

        @raise KeyError: if the camera is not served now.
        """
        if self._hub is None:
            raise KeyError(self.name)
        self._hub.subscribe(sink)
        self._sinks[sink] = None

    def unsubscribe(self, sink: IFrameSink) -> None:
        """
        Stop feeding C{sink}; a sink not subscribed is ignored.
        """
        if self._sinks.pop(sink, 0) is None and self._hub is not None:
            self._hub.unsubscribe(sink)

    def follow(self, listener: Callable[[CameraEvent, CameraHandle], object]) -> None:
        """
        Call C{listener} with each L{CameraEvent} of the camera, and this
        handle.
        """
        self._listeners.add(listener)

    def unfollow(self, listener: Callable[[CameraEvent, CameraHandle], object]) -> None:
        """
        Stop calling C{listener}; one not following is ignored.
        """
        self._listeners.remove(listener)

    # Called by the service

    def added(self, hub: CameraHub) -> None:
        """
        The camera is served by C{hub}, new.
        """
        self._attach(hub)
        self._tell(CameraEvent.ADDED)

    def removing(self) -> None:
        """
        The camera is about to be removed: its hub's shutdown closes the
        sinks, which are forgotten.
        """
        if self._hub is not None:
            self._hub.unfollow(self._tell)
        self._hub = None
        self._sinks.clear()
        self._tell(CameraEvent.REMOVED)

    def detach(self) -> None:
        """
        The camera's hub is about to be shut down to be made again: take the
        sinks off it, so that they are not closed.
        """
        hub = self._hub
        if hub is None:
            return
        hub.unfollow(self._tell)
        for sink in self._sinks:
            hub.unsubscribe(sink)
        self._hub = None

    def replaced(self, hub: CameraHub) -> None:
        """
        The camera is served by C{hub}, made again: the sinks follow it.
        """
        self._attach(hub)
        for sink in self._sinks:
            hub.subscribe(sink)
        self._tell(CameraEvent.REPLACED)

    def _attach(self, hub: CameraHub) -> None:
        self._hub = hub
        hub.follow(self._tell)

    def _tell(self, event: CameraEvent) -> None:
        self._listeners.tell(event, self)
