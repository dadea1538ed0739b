"""
Tests for L{camserve.recording._activity}: a frame's activity, against a
running background, on real JPEGs.
"""

from __future__ import annotations

import cv2
import numpy as np

from camserve.recording._activity import ActivityMeter


def picture(block_at: int | None, width: int = 320, height: int = 240) -> bytes:
    """
    A grey JPEG with a white block 60 pixels wide at C{block_at} pixels from
    the left, or none.
    """
    image = np.full((height, width, 3), 100, dtype=np.uint8)
    if block_at is not None:
        image[80:160, block_at : block_at + 60] = 250
    ok, encoded = cv2.imencode(".jpg", image)
    assert ok
    return bytes(encoded.tobytes())


def test_a_still_picture_scores_nothing() -> None:
    """
    The first frame and the same picture again score 0.
    """
    meter = ActivityMeter()
    assert [meter.score(picture(40)) for _ in range(5)] == [0.0] * 5


def test_a_moving_block_scores_the_part_it_changes() -> None:
    """
    A block moving across a still picture scores about the fraction of
    the picture it changes; once it stops, the background learns the
    picture again and the score falls back to 0.
    """
    meter = ActivityMeter()
    meter.score(picture(None))
    moving = [meter.score(picture(20 * step)) for step in range(1, 8)]
    assert all(score is not None and 0.05 < score < 0.4 for score in moving)
    still = [meter.score(picture(140)) for _ in range(15)]
    assert still[0] is not None
    assert still[0] > 0.05
    assert still[-5:] == [0.0] * 5


def test_a_masked_part_is_left_out() -> None:
    """
    Changes inside the mask's rectangles do not count, nor its pixels in
    the fraction: a block moving in the mask scores 0, and one moving in
    the unmasked half scores about twice what it would in the whole.
    """
    left_half = ActivityMeter([(0.0, 0.0, 0.5, 1.0)])
    left_half.score(picture(None))
    assert left_half.score(picture(20)) == 0.0
    right_half, whole = ActivityMeter([(0.0, 0.0, 0.5, 1.0)]), ActivityMeter()
    right_half.score(picture(None))
    whole.score(picture(None))
    masked, unmasked = right_half.score(picture(200)), whole.score(picture(200))
    assert masked is not None
    assert unmasked is not None
    assert abs(masked - 2 * unmasked) < 0.02


def test_large_frames_are_compared_small() -> None:
    """
    A large frame is scored as readily as a small one, and a change of
    shape starts the background again (scoring 0).
    """
    meter = ActivityMeter()
    assert meter.score(picture(None, 1280, 960)) == 0.0
    score = meter.score(picture(600, 1280, 960))
    assert score is not None
    assert score > 0.0
    assert meter.score(picture(None, 320, 320)) == 0.0


def test_what_is_not_a_picture_has_no_score() -> None:
    """
    Bytes that are not a JPEG score L{None}, and leave the background be.
    """
    meter = ActivityMeter()
    meter.score(picture(None))
    assert meter.score(b"not a jpeg") is None
    assert meter.score(picture(None)) == 0.0
