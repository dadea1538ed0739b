# -*- test-case-name: tests.test_thumbnail -*-
"""
Smaller copies of a camera's frames, for pages that show it small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.python.failure import Failure
from zope.interface import implementer

from camserve._jpeg import jpeg_size
from camserve.camera._hub import CameraHub
from camserve.interfaces import THUMBNAIL, IFrameSink, IFrameSource

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IReactorTime

    from camserve._frame import Frame

    InThread = Callable[[Callable[[bytes], bytes], bytes], Deferred[bytes]]

THUMBNAIL_WIDTH = 320
"""The narrowest a thumbnail gets: a tile in a grid of cameras."""

_REDUCTIONS = (
    (8, "IMREAD_REDUCED_COLOR_8"),
    (4, "IMREAD_REDUCED_COLOR_4"),
    (2, "IMREAD_REDUCED_COLOR_2"),
)
"""The scales OpenCV decodes a JPEG at directly, smallest first."""


def shrink(jpeg: bytes, width: int = THUMBNAIL_WIDTH, quality: int = 75) -> bytes:
    """
    C{jpeg} at a half, a quarter or an eighth of its size, whichever is the
    smallest at least C{width} pixels wide; C{jpeg} itself if none is.

    JPEG decoders scale by those factors as they decode, so a thumbnail
    costs much less than a full decode, a resize and an encode. May block:
    call it in a thread (OpenCV lets go of the GIL meanwhile).
    """
    size = jpeg_size(jpeg)
    if size is None:
        return jpeg
    factor, flag = next(
        ((factor, flag) for factor, flag in _REDUCTIONS if size[0] // factor >= width),
        (1, ""),
    )
    if factor == 1:
        return jpeg
    import cv2  # noqa: PLC0415 - OpenCV only once a page asks for thumbnails
    import numpy as np  # noqa: PLC0415

    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), getattr(cv2, flag))
    if image is None:
        return jpeg
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return bytes(encoded.tobytes()) if ok else jpeg


@implementer(IFrameSource, IFrameSink)
class ThumbnailSource:
    """
    A frame source of thumbnails of another hub's frames: made one at a
    time in a thread, each frame once however many viewers watch, and only
    while the thumbnails' own hub has viewers. While one is being made, only
    the camera's newest frame waits; the others are skipped.

    It is a sink of the camera's hub while it runs, so the camera runs for
    as long as anyone watches its thumbnails.
    """

    kind = THUMBNAIL

    def __init__(
        self,
        camera: CameraHub,
        in_thread: InThread,
    ) -> None:
        """
        @param camera: the hub whose frames are shrunk.
        @param in_thread: calls a function with an argument in a thread; its
            result fires in the reactor thread.
        """
        self._camera = camera
        self._in_thread = in_thread
        self._deliver: Callable[[bytes, float], None] | None = None
        self._stopped: Callable[[Failure | None], None] | None = None
        self._waiting: Frame | None = None
        self._busy = False
        # How the thumbnails end once the job in hand is done, when they
        # were asked to stop (None) or the camera was shut down meanwhile.
        self._ending: Failure | None = None

    # IFrameSource

    def start(
        self,
        deliver: Callable[[bytes, float], None],
        stopped: Callable[[Failure | None], None],
    ) -> None:
        """
        Follow the camera.
        """
        self._deliver, self._stopped = deliver, stopped
        # A frame left waiting by a run that failed must not follow this
        # run's frames.
        self._waiting = None
        self._ending = None
        try:
            self._camera.subscribe(self)
        except Exception:  # noqa: BLE001 - reported to the hub as the failure
            self._end(Failure())

    def stop(self) -> None:
        """
        Stop following the camera; stopped once no thumbnail is being made.
        """
        self._camera.unsubscribe(self)
        self._waiting = None
        self._deliver = None
        self._ending = None
        if not self._busy:
            self._end(None)

    # IFrameSink

    def send_frame(self, frame: Frame) -> None:
        """
        Shrink C{frame}, or keep it as the next to shrink.
        """
        if self._busy:
            self._waiting = frame
            return
        self._busy = True
        made = self._in_thread(shrink, frame.jpeg)
        made.addCallbacks(self._made, self._failed, callbackArgs=(frame,))

    def camera_closed(self) -> None:
        """
        The camera was shut down: so are its thumbnails.
        """
        self._waiting = None
        self._deliver = None
        self._ending = Failure(RuntimeError("the camera was shut down"))
        if not self._busy:
            self._end(self._ending)

    def _made(self, thumbnail: bytes, frame: Frame) -> None:
        self._busy = False
        if self._deliver is None:
            self._end(self._ending)
            return
        self._deliver(thumbnail, frame.captured_at)
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            self.send_frame(waiting)

    def _failed(self, failure: Failure) -> None:
        self._busy = False
        if self._deliver is None:
            # Ending anyway: the failure no longer matters.
            self._end(self._ending)
            return
        self._camera.unsubscribe(self)
        self._deliver = None
        self._end(failure)

    def _end(self, failure: Failure | None) -> None:
        stopped, self._stopped = self._stopped, None
        if stopped is not None:
            stopped(failure)


def thumbnail_hub(
    camera: CameraHub, in_thread: InThread, clock: IReactorTime
) -> CameraHub:
    """
    A hub of C{camera}'s thumbnails, under the camera's name: it stops
    following the camera as soon as its last viewer leaves, so that the
    camera's own idle timeout decides when the camera stops.
    """
    return CameraHub(
        camera.name,
        ThumbnailSource(camera, in_thread),
        clock,
        driver=camera.driver,
        idle_timeout=0.0,
        start_timeout=camera.start_timeout,
        keepalive_interval=camera.keepalive_interval,
        label=f"{camera.name} (thumbnails)",
    )
