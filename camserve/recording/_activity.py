# -*- test-case-name: tests.test_activity -*-
"""
How much a camera's picture changes: each frame, decoded small and grey,
compared with a running background of the frames before it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    from numpy.typing import NDArray

WIDTH = 64
"""The width, in pixels, frames are compared at."""
LEVELS = 25
"""How far (of 255 grey levels) a pixel must be from the background to
count as changed."""
LEARNING = 0.25
"""How much of each frame joins the background: the background forgets a
picture that went in about four frames later."""

Rectangle = tuple[float, float, float, float]
"""A part of the picture: its left, top, width and height, each a fraction
of the picture's width or height."""


class ActivityMeter:
    """
    Scores frames one after another: the fraction of the picture, outside
    the masked rectangles, that differs from the background (0 for a still
    picture, 1 for one that changed everywhere).

    Not thread-safe: it is used by one thread at a time, the recording's
    analysis thread, never the reactor's (decoding takes milliseconds).
    """

    def __init__(self, mask: Sequence[Rectangle] = ()) -> None:
        """
        @param mask: the parts of the picture left out (a tree in the wind,
            a clock).
        """
        self._mask = tuple(mask)
        self._background: NDArray[np.float32] | None = None
        self._counted: NDArray[np.bool_] | None = None

    def score(self, jpeg: bytes) -> float | None:
        """
        The activity of the frame C{jpeg}, from 0 to 1; L{None} for one that
        is not a picture. The first frame, and the first after a change of
        size, scores 0 and starts the background.
        """
        # OpenCV is imported by the first frame's analysis, in the analysis
        # thread: neither camserve's start nor the reactor waits for it.
        import cv2  # noqa: PLC0415 - in the analysis thread
        import numpy as np  # noqa: PLC0415 - in the analysis thread

        small = self._small(jpeg)
        if small is None:
            return None
        background = self._background
        if background is None or background.shape != small.shape:
            self._background = small.astype(np.float32)
            self._counted = self._outside_mask(small.shape)
            return 0.0
        changed = cv2.absdiff(small, cv2.convertScaleAbs(background)) > LEVELS
        cv2.accumulateWeighted(small, background, LEARNING)
        counted = self._counted
        assert counted is not None  # noqa: S101 - made with the background
        total = int(np.count_nonzero(counted))
        if not total:
            return 0.0
        return float(np.count_nonzero(changed & counted)) / total

    def _small(self, jpeg: bytes) -> NDArray[np.uint8] | None:
        """
        C{jpeg} decoded grey at a quarter of its size (which the decoder
        does cheaply), then shrunk to L{WIDTH} pixels wide, and smoothed.
        """
        import cv2  # noqa: PLC0415 - in the analysis thread
        import numpy as np  # noqa: PLC0415 - in the analysis thread

        raw = np.frombuffer(jpeg, dtype=np.uint8)
        try:
            grey = cv2.imdecode(raw, cv2.IMREAD_REDUCED_GRAYSCALE_4)
        except cv2.error:
            return None
        if grey is None or not grey.size:
            return None
        height, width = grey.shape[:2]
        if width > WIDTH:
            size = (WIDTH, max(1, round(height * WIDTH / width)))
            shrunk = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
            grey = np.asarray(shrunk, dtype=np.uint8)
        return np.asarray(cv2.GaussianBlur(grey, (3, 3), 0), dtype=np.uint8)

    def _outside_mask(self, shape: tuple[int, ...]) -> NDArray[np.bool_]:
        """
        Which pixels of a picture of C{shape} are counted.
        """
        import numpy as np  # noqa: PLC0415 - in the analysis thread

        height, width = shape[:2]
        counted = np.ones((height, width), dtype=np.bool_)
        for left, top, across, down in self._mask:
            x0, y0 = round(left * width), round(top * height)
            x1, y1 = round((left + across) * width), round((top + down) * height)
            counted[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)] = False
        return counted
