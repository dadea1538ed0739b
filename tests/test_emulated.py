"""
Tests for L{camserve.cameras.emulated}.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import cv2
import numpy as np
import pytest
from zope.interface.verify import verifyObject

from camserve import EmulatedCamera, ICamera
from camserve._jpeg import jpeg_size
from camserve.testing import make_jpeg

if TYPE_CHECKING:
    from pathlib import Path


def test_provides_icamera() -> None:
    """
    The emulated camera is an L{ICamera}.
    """
    assert verifyObject(ICamera, EmulatedCamera())


def test_pattern_frames_are_distinct_jpegs_of_the_asked_size() -> None:
    """
    The test pattern is a JPEG of the configured size, and consecutive
    frames differ visibly.
    """
    camera = EmulatedCamera(fps=200, width=320, height=240, quality=70)
    frames = camera.frames()
    try:
        first, second = next(frames), next(frames)
    finally:
        frames.close()
    assert first.startswith(b"\xff\xd8")
    assert first.endswith(b"\xff\xd9")
    assert jpeg_size(first) == (320, 240)
    a = cv2.imdecode(np.frombuffer(first, np.uint8), cv2.IMREAD_GRAYSCALE)
    b = cv2.imdecode(np.frombuffer(second, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert a is not None
    assert b is not None
    assert a.shape == (240, 320)
    # The disc moved and the counter changed: many pixels differ.
    assert np.count_nonzero(cv2.absdiff(a, b) > 40) > 50


def test_rate_is_steady() -> None:
    """
    Frames come at the configured rate, on a schedule that does not drift.
    """
    camera = EmulatedCamera(fps=50, width=64, height=48)
    frames = camera.frames()
    try:
        next(frames)
        started = time.monotonic()
        for _ in range(25):
            next(frames)
        elapsed = time.monotonic() - started
    finally:
        frames.close()
    assert 0.45 <= elapsed < 0.75


def test_folder_source_cycles_files_in_name_order(tmp_path: Path) -> None:
    """
    With a source folder the camera cycles its JPEGs in name order, untouched.
    """
    images = {name: make_jpeg(number) for number, name in enumerate("213")}
    for name, jpeg in images.items():
        (tmp_path / f"{name}.jpg").write_bytes(jpeg)
    (tmp_path / "notes.txt").write_text("not a frame")
    camera = EmulatedCamera(fps=500, source=str(tmp_path))
    frames = camera.frames()
    try:
        got = [next(frames) for _ in range(6)]
    finally:
        frames.close()
    expected = [images["1"], images["2"], images["3"]] * 2
    assert got == expected


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"fps": 0}, "fps must be greater than 0, not 0"),
        ({"width": 8}, "width must be from 16 to 7680, not 8"),
        ({"height": 5000}, "height must be from 16 to 4320, not 5000"),
        ({"quality": 0}, "quality must be from 1 to 100, not 0"),
        (
            {"source": "/nonexistent/frames"},
            "source '/nonexistent/frames' is not a folder",
        ),
    ],
)
def test_bad_options(options: dict[str, object], message: str) -> None:
    """
    Out-of-range options are refused with what is allowed.
    """
    with pytest.raises(ValueError, match=r".+") as caught:
        EmulatedCamera(**options)  # type: ignore[arg-type]
    assert str(caught.value) == message
