# -*- test-case-name: tests.test_hub -*-
"""
How many frames a camera gave, and how fast they come: its frame rate for
health, and the interval that says how long a frame stays fresh.
"""

from __future__ import annotations

_EWMA_WEIGHT = 0.125
"""How much each new frame interval moves the smoothed interval."""


class FrameRate:
    """
    One camera's frames counted, and timed in its current run (a run starts
    with its first frame, after a start or a failure: the time the camera
    was off is no interval between frames).

    All methods are called in the reactor thread; L{add} with every frame.
    """

    def __init__(self) -> None:
        self._last: float | None = None
        self.count = 0
        """Frames added since this was made: the number of the newest."""
        self.interval: float | None = None
        """The interval between frames as received, smoothed; L{None} before
        any was measured. Kept across runs, until the next run measures
        its own."""

    def restart(self) -> None:
        """
        A new run begins: forget the last run's frames.
        """
        self._last = None

    def add(self, received_at: float) -> None:
        """
        A frame was received at C{received_at}, on the hub's clock.
        """
        self.count += 1
        last, self._last = self._last, received_at
        if last is not None:
            gap = received_at - last
            interval = self.interval
            self.interval = (
                gap if interval is None else interval + _EWMA_WEIGHT * (gap - interval)
            )

    def fps(self) -> float:
        """
        Frames a second: the inverse of the smoothed interval; 0 before it
        was measured.
        """
        return 1 / self.interval if self.interval else 0.0
