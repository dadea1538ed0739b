# -*- test-case-name: tests.test_emulated,tests.test_mjpeg_relay -*-
"""
Checking the options most camera drivers share, with the same messages.
"""

from __future__ import annotations

import math

_LIMITS = {"width": (16, 7680), "height": (16, 4320), "quality": (1, 100)}
"""The allowed range of each whole-number option."""


def check_frame_options(
    *,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
    quality: int | None = None,
) -> None:
    """
    Check the frame options a driver was given; L{None} is not given.

    @raise ValueError: naming the first option out of range and its range.
    """
    for name, value in (("width", width), ("height", height), ("quality", quality)):
        low, high = _LIMITS[name]
        if value is not None and not low <= value <= high:
            raise ValueError(f"{name} must be from {low} to {high}, not {value}")
    if fps is not None:
        check_positive("fps", fps)


def check_positive(name: str, value: float) -> None:
    """
    Check that option C{name} is a finite number greater than 0.

    @raise ValueError: if it is not.
    """
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be greater than 0, not {value}")


def frame_wait(frame_timeout: float, fps: float) -> float:
    """
    How long a driver waits for a frame before it counts its camera as
    stuck: C{frame_timeout}, or three frame intervals if longer, so that a
    slow frame rate does not look like a silent camera.
    """
    return max(frame_timeout, 3 / fps)
