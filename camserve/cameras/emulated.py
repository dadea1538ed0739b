# -*- test-case-name: tests.test_emulated -*-
"""
The emulated camera: a live test pattern, or a folder of JPEGs, at a steady
frame rate.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from zope.interface import implementer

from camserve.cameras._options import check_frame_options
from camserve.interfaces import ICamera

if TYPE_CHECKING:
    from collections.abc import Generator


@implementer(ICamera)
class EmulatedCamera:
    """
    A camera that needs no hardware.

    With no C{source} it draws a test pattern (a moving disc, a frame counter
    and the wall-clock time) and encodes it with OpenCV; with C{source} it
    cycles the folder's C{*.jpg} files in name order, as the seed's
    C{1.jpg}, C{2.jpg}, C{3.jpg} camera did. Either way frames come at C{fps}
    on a fixed schedule that does not drift.
    """

    description = "test pattern, or a folder of JPEGs, at a steady rate"

    def __init__(
        self,
        *,
        fps: float = 30.0,
        width: int = 640,
        height: int = 480,
        quality: int = 80,
        source: str | None = None,
    ) -> None:
        """
        @param fps: frames per second, greater than 0.
        @param width: test pattern width in pixels (16 to 7680).
        @param height: test pattern height in pixels (16 to 4320).
        @param quality: test pattern JPEG quality, 1 to 100.
        @param source: a folder of C{*.jpg} files to cycle instead.

        @raise ValueError: for an option out of range, or a C{source} that
            is not a folder holding C{*.jpg} files.
        """
        check_frame_options(width=width, height=height, fps=fps, quality=quality)
        self.fps = fps
        self.width = width
        self.height = height
        self.quality = quality
        self.source = source
        self._files: list[Path] = []
        if source is not None:
            folder = Path(source)
            if not folder.is_dir():
                raise ValueError(f"source {source!r} is not a folder")
            self._files = sorted(folder.glob("*.jpg"))
            if not self._files:
                raise ValueError(f"source {source!r} holds no *.jpg files")
        else:
            # Importing OpenCV takes over 100 ms: pay it at start, not while
            # the first viewer waits for the first frame.
            import cv2  # noqa: F401, PLC0415

    def frames(self) -> Generator[bytes]:
        """
        Yield frames at C{fps} until closed.
        """
        images = self._folder_frames() if self._files else self._pattern_frames()
        interval = 1 / self.fps
        deadline = time.monotonic()
        for image in images:
            yield image
            deadline += interval
            delay = deadline - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -interval:
                # Fell more than a frame behind (a slow machine, a paused
                # process): start a new schedule rather than burst to catch up.
                deadline = time.monotonic()

    def _folder_frames(self) -> Generator[bytes]:
        # Read once: the folder is the camera's film, not a live source.
        images = [path.read_bytes() for path in self._files]
        while True:
            yield from images

    def _pattern_frames(self) -> Generator[bytes]:
        import cv2  # noqa: PLC0415 - only the test pattern needs OpenCV
        import numpy as np  # noqa: PLC0415

        width, height = self.width, self.height
        columns = np.linspace(0, 255, width, dtype=np.uint8)
        rows = np.linspace(0, 255, height, dtype=np.uint8)
        background = np.empty((height, width, 3), dtype=np.uint8)
        background[:, :, 0] = columns[np.newaxis, :]
        background[:, :, 1] = rows[:, np.newaxis]
        background[:, :, 2] = 96
        scale = max(width, height) / 640
        radius = max(4, int(40 * scale))
        thickness = max(1, int(2 * scale))
        params = [cv2.IMWRITE_JPEG_QUALITY, self.quality]
        number = 0
        while True:
            number += 1
            image = background.copy()
            # The disc sweeps the width every 4 seconds, whatever the rate.
            phase = (number / self.fps / 4) % 1
            x = int(radius + phase * max(1, width - 2 * radius))
            cv2.circle(image, (x, height // 2), radius, (255, 255, 255), -1)
            now = datetime.now(tz=UTC).astimezone()
            lines = (f"frame {number}", now.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3])
            for row, text in enumerate(lines):
                origin = (int(12 * scale), int((30 + 30 * row) * scale))
                cv2.putText(
                    image,
                    text,
                    origin,
                    cv2.FONT_HERSHEY_SIMPLEX,
                    0.8 * scale,
                    (0, 0, 0),
                    thickness + 2,
                    cv2.LINE_AA,
                )
                cv2.putText(
                    image,
                    text,
                    origin,
                    cv2.FONT_HERSHEY_SIMPLEX,
                    0.8 * scale,
                    (255, 255, 255),
                    thickness,
                    cv2.LINE_AA,
                )
            ok, encoded = cv2.imencode(".jpg", image, params)
            if not ok:
                raise RuntimeError("OpenCV could not encode the test pattern")
            yield encoded.tobytes()
