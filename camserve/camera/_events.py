# -*- test-case-name: tests.test_handles -*-
"""
What happens to a camera, as those who follow it hear it.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

from twisted.logger import Logger
from twisted.python.failure import Failure

if TYPE_CHECKING:
    from collections.abc import Callable


class CameraEvent(enum.Enum):
    """
    A moment in a camera's life.
    """

    ADDED = "added"
    """The camera is served (at start, or added by a reload)."""
    REMOVED = "removed"
    """The camera is no longer served; those it fed were closed."""
    REPLACED = "replaced"
    """The camera was made again (a reload changed it); those who followed
    it through its handle follow the new one."""
    STARTED = "started"
    """The camera gives frames: its first after a start or a failure."""
    FAILED = "failed"
    """The camera failed; it is retried while someone watches."""
    STOPPED = "stopped"
    """The camera stopped, nobody watching, and released its device."""


class Listeners:
    """
    Those who follow a camera: each called with every event, one that
    raises logged without disturbing the others or the camera.
    """

    _log = Logger()

    def __init__(self, label: str) -> None:
        """
        @param label: what logs call the camera.
        """
        self._label = label
        self._listeners: list[Callable[..., object]] = []

    def add(self, listener: Callable[..., object]) -> None:
        """
        Call C{listener} with each event from now on.
        """
        self._listeners.append(listener)

    def remove(self, listener: Callable[..., object]) -> None:
        """
        Call C{listener} no more; one not following is ignored.
        """
        if listener in self._listeners:
            self._listeners.remove(listener)

    def tell(self, event: CameraEvent, *more: Any) -> None:
        """
        Call every listener with C{event} and C{more}.
        """
        for listener in list(self._listeners):
            try:
                listener(event, *more)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the camera
                self._log.failure(
                    "camera {name}: a listener to its {event} failed",
                    Failure(),
                    name=self._label,
                    event=event.value,
                )
