# -*- test-case-name: tests.test_capture -*-
"""
The capture loop: a blocking camera driver run in a thread, handing frames to
the reactor through one coalescing slot.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING

from twisted.python.failure import Failure
from zope.interface import implementer

from camserve.interfaces import (
    ICamera,
    IDroppedFrames,
    IEveryFrame,
    IFrameSource,
    IHealthDetails,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.internet.interfaces import IReactorFromThreads


class CameraEnded(Exception):  # noqa: N818 - it is an event, not a mistake
    """
    A camera's C{frames()} generator returned instead of yielding forever.
    """


@implementer(IFrameSource, IHealthDetails, IDroppedFrames, IEveryFrame)
class ThreadedCameraSource:
    """
    Runs an L{ICamera}'s C{frames()} in a capture thread.

    Frames cross into the reactor through a bounded queue, of one frame
    unless its hub asks for every frame (L{keep_every_frame}): the thread
    puts each frame there and calls C{callFromThread} only when the queue
    was empty, so however slow the reactor is there is at most one hand-off
    pending, and a frame the queue has no room for pushes out the oldest
    untaken one, which is counted.
    """

    def __init__(
        self,
        camera: ICamera,
        reactor: IReactorFromThreads,
        run_in_thread: Callable[[Callable[[], None]], None],
    ) -> None:
        """
        @param run_in_thread: starts a callable in a capture thread, usually
            a camserve-owned L{twisted.python.threadpool.ThreadPool}'s
            C{callInThread}.
        """
        self._camera = camera
        self._reactor = reactor
        self._run_in_thread = run_in_thread
        self._lock = threading.Lock()
        self._queue: deque[tuple[bytes, float]] = deque(maxlen=1)
        self._dropped = 0
        self._stop_requested = threading.Event()
        self._deliver: Callable[[bytes, float], None] | None = None
        self._stopped: Callable[[Failure | None], None] | None = None

    def start(
        self,
        deliver: Callable[[bytes, float], None],
        stopped: Callable[[Failure | None], None],
    ) -> None:
        """
        Start iterating the camera in a capture thread.
        """
        self._deliver = deliver
        self._stopped = stopped
        self._stop_requested.clear()
        self._run_in_thread(self._capture)

    def stop(self) -> None:
        """
        Ask the capture thread to close the camera after its current frame.
        """
        self._stop_requested.set()

    def keep_every_frame(self, most: int | None) -> None:
        """
        Hand the reactor every frame, keeping up to C{most} it has not taken
        yet; or, with L{None}, only the newest again.
        """
        with self._lock:
            kept = self._queue
            self._queue = deque(kept, maxlen=most or 1)
            self._dropped += len(kept) - len(self._queue)

    def frames_dropped(self) -> int:
        """
        How many frames newer ones pushed out of the queue before the
        reactor took them.
        """
        with self._lock:
            return self._dropped

    def health_details(self) -> dict[str, object]:
        """
        The camera's own health details, if it reports any.
        """
        if IHealthDetails.providedBy(self._camera):
            return self._camera.health_details()
        return {}

    def _capture(self) -> None:
        """
        The capture thread: iterate the camera until told to stop, then close
        its generator (which releases the device) and report on the reactor.
        """
        outcome: Failure | None = None
        try:
            frames = self._camera.frames()
            try:
                for item in frames:
                    if self._stop_requested.is_set():
                        break
                    self._hand_off(item)
                else:
                    if not self._stop_requested.is_set():
                        raise CameraEnded("the camera's frames() generator ended")
            finally:
                close = getattr(frames, "close", None)
                if close is not None:
                    close()
        except Exception:  # noqa: BLE001 - any driver error is reported, not raised
            outcome = Failure()
        self._reactor.callFromThread(self._finished, outcome)

    def _hand_off(self, item: bytes | tuple[bytes, float]) -> None:
        """
        Queue a frame; wake the reactor only if the queue was empty.
        """
        if isinstance(item, tuple):
            jpeg, captured_at = item
        else:
            jpeg, captured_at = item, time.time()
        with self._lock:
            queue = self._queue
            was_empty = not queue
            if len(queue) == queue.maxlen:
                self._dropped += 1
            queue.append((jpeg, captured_at))
        if was_empty:
            self._reactor.callFromThread(self._take)

    def _take(self) -> None:
        """
        In the reactor thread: take every frame queued.
        """
        with self._lock:
            taken = self._queue
            # A fresh queue for the thread: this one is read unlocked.
            self._queue = deque(maxlen=taken.maxlen)
        for frame in taken:
            if self._deliver is None:
                return
            self._deliver(*frame)

    def _finished(self, outcome: Failure | None) -> None:
        """
        In the reactor thread: drop any untaken frame, then report.
        """
        with self._lock:
            self._queue.clear()
        stopped, self._stopped, self._deliver = self._stopped, None, None
        if stopped is not None:
            stopped(outcome)
