# -*- test-case-name: tests.test_frame_queue -*-
"""
Every frame of a camera, for a consumer that takes them at its own pace (a
recorder writing a file) rather than the newest at the moment, as viewers
do.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred, succeed
from zope.interface import implementer

from camserve.interfaces import IFrameSink

if TYPE_CHECKING:
    from camserve._frame import Frame


class CameraClosed(Exception):  # noqa: N818 - an event, like ConnectionDone
    """
    The camera of a L{FrameQueue} was closed and every frame it queued has
    been taken.
    """


@implementer(IFrameSink)
class FrameQueue:
    """
    A sink that keeps every frame its camera gives, in order, until its
    consumer takes it with L{get}: up to C{size} frames, beyond which the
    oldest waiting is dropped and counted in L{dropped}.

    Subscribed to a hub, it asks the hub for every frame (C{every_frame}):
    a source that can (a blocking camera's capture hand-off) then keeps up
    to C{size} frames for the reactor instead of only the newest, while the
    queue is subscribed; viewers are fed as before.

    When the camera is closed, L{get} gives what is still queued, then fails
    with L{CameraClosed}; the camera's shutdown waits (within its close
    timeout) for the consumer to have taken every frame.
    """

    every_frame = True

    def __init__(self, kind: str, size: int = 64) -> None:
        """
        @param kind: what the consumer is (C{"recorder"}, say), as the hub
            counts it.
        @param size: the most frames kept for the consumer.
        """
        if size < 1:
            raise ValueError("a frame queue holds at least one frame")
        self.kind = kind
        self.size = size
        self.dropped = 0
        """Frames dropped because the consumer had C{size} waiting."""
        self._frames: deque[Frame] = deque()
        self._getter: Deferred[Frame] | None = None
        self._closed = False
        self._drained: Deferred[None] | None = None

    def __len__(self) -> int:
        return len(self._frames)

    def get(self) -> Deferred[Frame]:
        """
        The oldest frame not yet taken: at once if one is queued, else when
        the camera gives the next. Fails with L{CameraClosed} once the
        camera is closed and every frame has been taken. One C{get} may wait
        at a time.
        """
        if self._getter is not None:
            raise RuntimeError("a FrameQueue has one consumer, which waits already")
        if self._frames:
            frame = self._frames.popleft()
            self._maybe_drained()
            return succeed(frame)
        if self._closed:
            failed: Deferred[Frame] = Deferred()
            failed.errback(CameraClosed())
            return failed
        self._getter = Deferred(self._cancel_get)
        return self._getter

    def _cancel_get(self, getter: Deferred[Frame]) -> None:
        if self._getter is getter:
            self._getter = None

    # IFrameSink

    def send_frame(self, frame: Frame) -> None:
        """
        Keep C{frame} for the consumer, or hand it over if it waits.
        """
        getter, self._getter = self._getter, None
        if getter is not None:
            getter.callback(frame)
            return
        if len(self._frames) >= self.size:
            self._frames.popleft()
            self.dropped += 1
        self._frames.append(frame)

    def camera_closed(self) -> Deferred[None]:
        """
        No more frames will come: fires once the consumer has taken those
        queued.
        """
        self._closed = True
        getter, self._getter = self._getter, None
        if getter is not None:
            getter.errback(CameraClosed())
        self._drained = Deferred()
        drained = self._drained
        self._maybe_drained()
        return drained

    def _maybe_drained(self) -> None:
        if self._drained is not None and not self._frames:
            drained, self._drained = self._drained, None
            drained.callback(None)
