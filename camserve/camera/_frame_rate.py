# -*- test-case-name: tests.test_hub -*-
"""
How many frames a camera gave, and how fast they come: its frame rate for
health, and the interval that says how long a frame stays fresh.
"""

from __future__ import annotations

import math
from collections import deque

WINDOW = 2.0
"""Seconds of frames the rate is measured over."""

_EWMA_WEIGHT = 0.125
"""How much each new frame interval moves the smoothed interval."""


class FrameRate:
    """
    One camera's frames, counted since it was made and timed in its current
    run (a run starts with its first frame after a start or a failure: the
    time the camera was off is no interval between frames).

    Its rate is the frames received in the last L{WINDOW} seconds (and always
    the newest two, for a camera slower than that) over the time since the
    first of them was received, so that a late frame lowers it at once; but
    never more than the frames' capture times support, so that frames
    captured at their own pace and received in a burst count at that pace.
    Frames that carry one capture time (a recording's last frame held on
    show) are timed by their arrival instead.

    All methods are called in the reactor thread; L{add} with every frame.
    """

    def __init__(self) -> None:
        self._frames: deque[tuple[float, float]] = deque()
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
        self._frames.clear()

    def add(self, received_at: float, captured_at: float) -> None:
        """
        A frame captured at C{captured_at} (on the camera's clock) was
        received at C{received_at} (on the hub's).
        """
        self.count += 1
        frames = self._frames
        if frames:
            gap = received_at - frames[-1][0]
            interval = self.interval
            self.interval = (
                gap if interval is None else interval + _EWMA_WEIGHT * (gap - interval)
            )
        frames.append((received_at, captured_at))
        oldest = received_at - WINDOW
        while len(frames) > 2 and frames[0][0] < oldest:  # noqa: PLR2004 - the newest two
            frames.popleft()

    def fps(self, now: float) -> float:
        """
        Frames a second at C{now}, on the hub's clock: 0 before two frames.
        """
        frames = self._frames
        oldest = now - WINDOW
        first = 0
        # The newest two are always counted: a camera slower than one frame
        # per window still has a rate.
        while first < len(frames) - 2 and frames[first][0] < oldest:
            first += 1
        count = len(frames) - first
        if count < 2:  # noqa: PLR2004 - one interval takes two frames
            return 0.0
        (first_received, first_captured), (last_received, last_captured) = (
            frames[first],
            frames[-1],
        )
        span = last_captured - first_captured
        if span <= 0:
            span = last_received - first_received
        if span <= 0:
            return 0.0
        # Counting the newest frame's own interval, still running, keeps a
        # steady camera at its rate between two frames: only a late frame
        # brings this under the rate its capture times support.
        elapsed = now - first_received
        arrived = count / elapsed if elapsed > 0 else math.inf
        return min((count - 1) / span, arrived)
