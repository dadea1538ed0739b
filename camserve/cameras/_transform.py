# -*- test-case-name: tests.test_opencv -*-
"""
Resizing, rotating and mirroring decoded frames, in as few passes as
possible.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import frozen

if TYPE_CHECKING:
    from cv2.typing import MatLike

ROTATIONS = {
    0: (False, False, False),
    90: (True, True, False),
    180: (False, True, True),
    270: (True, False, True),
}
"""Each rotation (clockwise) as a transpose then mirrors: C{(transpose,
left-right, top-bottom)}."""

FLIPS = {
    "none": (False, False),
    "horizontal": (True, False),
    "vertical": (False, True),
    "both": (True, True),
}
"""Each C{flip} as mirrors: C{(left-right, top-bottom)}."""

_FLIP_CODES = {(True, False): 1, (False, True): 0, (True, True): -1}
"""C{cv2.flip}'s code for each pair of mirrors."""


@frozen
class Plan:
    """
    What becomes of a decoded frame: resized to C{size} (before rotation),
    transposed, then mirrored with C{cv2.flip}'s C{flip} code.
    """

    size: tuple[int, int] | None
    transpose: bool
    flip: int | None

    @property
    def identity(self) -> bool:
        """
        Whether frames go out as they come in.
        """
        return self.size is None and not self.transpose and self.flip is None

    def apply(self, image: MatLike) -> MatLike:
        """
        Resize, rotate and mirror C{image}, in at most three passes.
        """
        import cv2  # noqa: PLC0415 - OpenCV is imported only when used

        if self.size is not None:
            shrinking = self.size[0] < image.shape[1]
            method = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
            image = cv2.resize(image, self.size, interpolation=method)
        if self.transpose:
            image = cv2.transpose(image)
        if self.flip is not None:
            image = cv2.flip(image, self.flip)
        return image


def make_plan(
    source_size: tuple[int, int],
    *,
    width: int | None,
    height: int | None,
    rotate: int,
    flip: str,
) -> Plan:
    """
    The L{Plan} for frames of C{source_size}: C{width} and C{height} both
    given are the size; one alone scales keeping the aspect ratio.
    """
    source_width, source_height = source_size
    if width is not None and height is None:
        height = max(1, round(source_height * width / source_width))
    elif height is not None and width is None:
        width = max(1, round(source_width * height / source_height))
    size = None if width is None or height is None else (width, height)
    transpose, left_right, top_bottom = ROTATIONS[rotate]
    # Mirrors after a rotation compose by exclusive or.
    mirrors = (left_right ^ FLIPS[flip][0], top_bottom ^ FLIPS[flip][1])
    return Plan(
        None if size == source_size else size, transpose, _FLIP_CODES.get(mirrors)
    )
