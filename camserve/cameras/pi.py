# -*- test-case-name: tests.test_pi -*-
"""
The C{pi} driver: a Raspberry Pi camera through picamera, on the legacy
(MMAL) camera stack.
"""

from __future__ import annotations

import importlib
import io
import time
from typing import TYPE_CHECKING, ClassVar

from zope.interface import implementer

from camserve._errors import ConfigError
from camserve.cameras._options import (
    check_frame_options,
    check_positive,
    frame_wait,
)
from camserve.cameras._reasons import innermost_reason
from camserve.interfaces import ICamera, IHealthDetails

if TYPE_CHECKING:
    from collections.abc import Callable, Generator
    from types import ModuleType


@implementer(ICamera, IHealthDetails)
class PiCamera:
    """
    A Raspberry Pi camera module through picamera 1.13.

    Each run opens the camera at C{width}x{height} and C{fps}, turns and
    flips the image, waits C{warmup} seconds for the automatic exposure and
    white balance to settle, then captures JPEGs continuously from the video
    port (the still port would switch sensor modes for every frame) into one
    reused in-memory buffer.

    picamera drives the legacy camera stack, which only 32-bit Raspberry Pi
    OS Bullseye and older have (with the legacy camera enabled in
    C{raspi-config}); on newer systems use the C{picamera2} driver.
    """

    description = "Raspberry Pi camera through picamera (legacy camera stack)"
    requires: ClassVar[dict[str, str]] = {
        "picamera": "pip install 'camserve[pi]' (on a Raspberry Pi)"
    }

    def __init__(
        self,
        *,
        width: int = 640,
        height: int = 480,
        fps: float = 30.0,
        rotation: int = 0,
        hflip: bool = False,
        vflip: bool = False,
        quality: int = 80,
        warmup: float = 2.0,
        camera_num: int = 0,
        frame_timeout: float = 5.0,
    ) -> None:
        """
        @param width: frame width in pixels (16 to 7680); the sensor may
            allow less.
        @param height: frame height in pixels (16 to 4320).
        @param fps: frames per second, greater than 0; picamera allows up
            to 90 (camera module v1) or 120.
        @param rotation: degrees clockwise: 0, 90, 180 or 270.
        @param hflip: mirror the image left to right.
        @param vflip: flip the image upside down.
        @param quality: JPEG quality, 1 to 100.
        @param warmup: seconds to let exposure settle after opening the
            camera, before the first frame; 0 streams the first frames dark.
        @param camera_num: which camera, on boards with two (Compute Module).
        @param frame_timeout: seconds without a frame (at least three frame
            intervals) before the camera counts as failed and is reopened.

        @raise ValueError: for an option out of range, or if picamera is
            installed but cannot be loaded.
        """
        check_frame_options(width=width, height=height, fps=fps, quality=quality)
        if rotation not in (0, 90, 180, 270):
            raise ValueError(f"rotation must be 0, 90, 180 or 270, not {rotation}")
        if not warmup >= 0:
            raise ValueError(f"warmup must be 0 or more seconds, not {warmup}")
        if camera_num < 0:
            raise ValueError(f"camera_num must be 0 or more, not {camera_num}")
        check_positive("frame_timeout", frame_timeout)
        self.width = width
        self.height = height
        self.fps = fps
        self.rotation = rotation
        self.hflip = hflip
        self.vflip = vflip
        self.quality = quality
        self.warmup = warmup
        self.camera_num = camera_num
        self.frame_timeout = frame_timeout
        # Loading picamera at start rather than at the first viewer turns a
        # broken install into one line at start instead of endless retries.
        self._picamera = _load_picamera()
        # Replaced by tests, which check when the warm-up happens without
        # waiting for it.
        self._sleep: Callable[[float], None] = time.sleep

    def frames(self) -> Generator[bytes]:
        """
        Open the camera and yield JPEGs from its video port until closed;
        then, or on any error, close the camera.

        @raise RuntimeError: if the camera cannot be opened.
        """
        try:
            camera = self._picamera.PiCamera(
                camera_num=self.camera_num,
                resolution=(self.width, self.height),
                framerate=self.fps,
            )
        except Exception as error:
            raise RuntimeError(
                f"cannot open the Pi camera: {innermost_reason(error)}"
            ) from error
        try:
            # picamera waits this long for each capture (60 s by default)
            # before it raises; a stalled camera should be noticed sooner.
            camera.CAPTURE_TIMEOUT = frame_wait(self.frame_timeout, self.fps)
            camera.rotation = self.rotation
            camera.hflip = self.hflip
            camera.vflip = self.vflip
            if self.warmup:
                self._sleep(self.warmup)
            stream = io.BytesIO()
            captures = camera.capture_continuous(
                stream, format="jpeg", use_video_port=True, quality=self.quality
            )
            try:
                for _ in captures:
                    jpeg = stream.getvalue()
                    # Empty the one buffer for the next capture, which picamera
                    # writes at the current position.
                    stream.seek(0)
                    stream.truncate()
                    yield jpeg
            finally:
                # Releases the capture's encoder, which picamera's close()
                # would otherwise try to stop as if it were a recording.
                captures.close()
        finally:
            camera.close()

    def health_details(self) -> dict[str, object]:
        """
        The library and port frames come from, and the asked size, rate and
        JPEG quality.
        """
        return {
            "library": "picamera",
            "port": "video",
            "size": [self.width, self.height],
            "fps": self.fps,
            "quality": self.quality,
        }


def _load_picamera() -> ModuleType:
    """
    Import picamera.

    @raise ConfigError: if it cannot be loaded, as on systems without the
        legacy camera stack's C{libmmal}.
    """
    try:
        return importlib.import_module("picamera")
    except Exception as error:  # noqa: BLE001 - a native library fails to load in many ways
        raise ConfigError(
            f"picamera cannot be loaded ({innermost_reason(error)}); it needs the legacy "
            "camera stack of 32-bit Raspberry Pi OS Bullseye or older, "
            "elsewhere use the picamera2 driver"
        ) from None
