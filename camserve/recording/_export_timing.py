# -*- test-case-name: tests.test_avi_layout -*-
"""
When each frame of an export shows: an AVI file has one frame rate, so a
frame that stayed on longer than the others (the camera dropped frames, or
slowed down) is listed again in the file's index, pointing at the same
chunk, until the file's time has caught up with its capture time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from attrs import frozen

from camserve.recording._catalog import GAP

if TYPE_CHECKING:
    from numpy.typing import NDArray

MOST_RATE = 120.0
"""The fastest frame rate an export plays at, whatever its camera's: it
bounds how often one frame may be listed again, to C{GAP} times this."""


@frozen
class Timing:
    """
    When the frames of an export show.

    @ivar rate: the file's frames a second.
    @ivar repeats: how many times each frame is listed in the file's index,
        at least once: each shows for that many frames of the file.
    """

    rate: float
    repeats: NDArray[np.int64]

    @property
    def entries(self) -> int:
        """
        How many frames the file plays, counting those listed again.
        """
        return int(self.repeats.sum())


def frame_timing(times: NDArray[np.float64]) -> Timing:
    """
    The timing of frames captured at C{times}, in order.

    The file's rate is the rate at which the frames were mostly captured
    (the median interval between them, not counting gaps), up to
    L{MOST_RATE}; each frame shows until the next is due, so that the
    file's time follows the capture time. A gap (more than L{GAP} without a
    frame: the camera stopped, or a motion recording between events) takes
    one frame's time, as in playback. A recording of nothing but gaps (a
    time-lapse) plays at its average rate instead, each frame once.
    """
    count = len(times)
    once = np.ones(count, dtype=np.int64)
    steps = np.diff(times)
    close = steps[(steps > 0) & (steps <= GAP)]
    if not len(close):
        elapsed = float(times[-1] - times[0]) if count > 1 else 0.0
        return Timing((count - 1) / elapsed if elapsed > 0 else 1.0, once)
    rate = min(1 / float(np.median(close)), MOST_RATE)
    steps = np.where(steps > GAP, 1 / rate, np.maximum(steps, 0))
    due = np.rint(np.concatenate([[0.0], np.cumsum(steps)]) * rate)
    # Each frame shows at the frame of the file it is due at, or right
    # after the frame before it if that is later: with i the frame's
    # place, its frame of the file is i + the most (due - place) so far.
    places = np.arange(count, dtype=np.int64)
    shown = places + np.maximum.accumulate(due.astype(np.int64) - places)
    repeats = np.diff(shown, append=shown[-1] + 1)
    return Timing(rate, repeats)
