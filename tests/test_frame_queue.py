"""
Tests for L{camserve.FrameQueue}: every frame of a camera for a consumer
that takes them at its own pace, on a hub driven by a C{Clock}.
"""

from __future__ import annotations

import pytest
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from camserve import CameraClosed, CameraHub, Frame, FrameQueue
from camserve.interfaces import IEveryFrame, IFrameSink
from camserve.testing import PushSource

_RESULTS = SynchronousTestCase()


def frame(number: int) -> Frame:
    return Frame(b"%d" % number, float(number), number, float(number), "cam")


def test_interface() -> None:
    """
    A frame queue is a sink of the kind it is given, asking for every frame.
    """
    queue = FrameQueue("recorder")
    assert verifyObject(IFrameSink, queue)
    assert (queue.kind, queue.every_frame, queue.size) == ("recorder", True, 64)
    with pytest.raises(ValueError, match="at least one frame"):
        FrameQueue("recorder", size=0)


def test_frames_wait_for_their_consumer_in_order() -> None:
    """
    Frames are kept until taken, oldest first; a consumer that asks with
    nothing queued gets the next frame as it comes.
    """
    queue = FrameQueue("recorder")
    queue.send_frame(frame(1))
    queue.send_frame(frame(2))
    assert len(queue) == 2
    assert _RESULTS.successResultOf(queue.get()).number == 1
    assert _RESULTS.successResultOf(queue.get()).number == 2
    waiting = queue.get()
    _RESULTS.assertNoResult(waiting)
    with pytest.raises(RuntimeError):
        queue.get()
    queue.send_frame(frame(3))
    assert _RESULTS.successResultOf(waiting).number == 3
    assert len(queue) == 0
    assert queue.dropped == 0


def test_a_full_queue_drops_its_oldest_and_counts_them() -> None:
    """
    Beyond C{size} frames waiting, the oldest is dropped and counted.
    """
    queue = FrameQueue("recorder", size=3)
    for number in range(1, 6):
        queue.send_frame(frame(number))
    assert queue.dropped == 2
    taken = [_RESULTS.successResultOf(queue.get()).number for _ in range(3)]
    assert taken == [3, 4, 5]


def test_a_closed_camera_leaves_its_frames_to_be_taken() -> None:
    """
    Once the camera is closed, what is queued can still be taken, then
    L{get} fails with L{CameraClosed}; the close fires once all is taken.
    A consumer waiting when the camera closes hears it at once.
    """
    queue = FrameQueue("recorder")
    queue.send_frame(frame(1))
    closing = queue.camera_closed()
    _RESULTS.assertNoResult(closing)
    assert _RESULTS.successResultOf(queue.get()).number == 1
    assert _RESULTS.successResultOf(closing) is None
    _RESULTS.failureResultOf(queue.get(), CameraClosed)
    idle = FrameQueue("recorder")
    waiting = idle.get()
    assert _RESULTS.successResultOf(idle.camera_closed()) is None
    _RESULTS.failureResultOf(waiting, CameraClosed)


@implementer(IEveryFrame)
class EveryFrameSource(PushSource):
    """
    A source that notes what its hub asks of it about every frame.
    """

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[int | None] = []

    def keep_every_frame(self, most: int | None) -> None:
        self.asked.append(most)


def test_a_hub_asks_for_every_frame_while_a_queue_is_subscribed() -> None:
    """
    A frame queue subscribed to a hub makes it ask its source for every
    frame, keeping as many as the largest queue holds; when the last queue
    leaves, for the newest only again.
    """
    source = EveryFrameSource()
    hub = CameraHub("cam", source, Clock())
    small, large = FrameQueue("recorder", size=8), FrameQueue("detector", size=32)
    hub.subscribe(small)
    hub.subscribe(large)
    hub.unsubscribe(large)
    hub.unsubscribe(small)
    assert source.asked == [8, 32, 8, None]
    assert hub.consumers == {}


def test_a_camera_shut_down_waits_for_its_queue_to_be_taken() -> None:
    """
    Shutting a camera down waits, within its close timeout, until the
    consumer has taken every frame its queue held.
    """
    clock = Clock()
    source = PushSource()
    hub = CameraHub("cam", source, clock, close_timeout=5.0)
    queue = FrameQueue("recorder")
    hub.subscribe(queue)
    source.push(b"1")
    source.push(b"2")
    done = hub.shutdown()
    source.finish_stop()
    _RESULTS.assertNoResult(done)
    assert _RESULTS.successResultOf(queue.get()).jpeg == b"1"
    _RESULTS.assertNoResult(done)
    assert _RESULTS.successResultOf(queue.get()).jpeg == b"2"
    assert _RESULTS.successResultOf(done) is None
