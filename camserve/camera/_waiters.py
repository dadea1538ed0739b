# -*- test-case-name: tests.test_hub -*-
"""
Those waiting for a camera's next frame (a snapshot, a stream's first
frame), each with its own time limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred

from camserve.camera._states import CameraUnavailable

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.internet.interfaces import IDelayedCall, IReactorTime

    from camserve._frame import Frame


class Waiters:
    """
    Callers of a hub's L{next_frame<camserve.CameraHub.next_frame>} waiting
    for a frame: each is given the next frame, or fails with
    L{CameraUnavailable} if none comes within the time limit, or may cancel
    its wait.
    """

    def __init__(
        self,
        clock: IReactorTime,
        timeout: float,
        why_none: Callable[[], str],
        changed: Callable[[], None],
    ) -> None:
        """
        @param timeout: seconds a caller waits.
        @param why_none: why no frame came, for a caller that waited long
            enough.
        @param changed: called when a caller stops waiting by itself (it
            cancelled, or gave up): the camera's demand changed.
        """
        self._clock = clock
        self._timeout = timeout
        self._why_none = why_none
        self._changed = changed
        self._waiting: dict[Deferred[Frame], IDelayedCall] = {}

    def __bool__(self) -> bool:
        return bool(self._waiting)

    def __len__(self) -> int:
        return len(self._waiting)

    def wait(self) -> Deferred[Frame]:
        """
        A new caller's wait for the next frame.
        """
        waiter: Deferred[Frame] = Deferred(self._cancel)
        self._waiting[waiter] = self._clock.callLater(
            self._timeout, self._timed_out, waiter
        )
        return waiter

    def give(self, frame: Frame) -> None:
        """
        Give every caller C{frame}.
        """
        waiting, self._waiting = self._waiting, {}
        for waiter, timeout in waiting.items():
            timeout.cancel()
            waiter.callback(frame)

    def fail(self, error: CameraUnavailable) -> None:
        """
        Fail every caller with C{error}.
        """
        waiting, self._waiting = self._waiting, {}
        for waiter, timeout in waiting.items():
            timeout.cancel()
            waiter.errback(error)

    def _cancel(self, waiter: Deferred[Frame]) -> None:
        timeout = self._waiting.pop(waiter, None)
        if timeout is not None:
            timeout.cancel()
            self._changed()

    def _timed_out(self, waiter: Deferred[Frame]) -> None:
        if self._waiting.pop(waiter, None) is None:
            return
        waiter.errback(CameraUnavailable(self._why_none()))
        self._changed()
