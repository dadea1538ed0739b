"""
Tests for L{camserve.CameraHandle} and the events of a camera's life: a
consumer follows a camera by name across reloads that make it again, and
hears it start, fail, stop, be replaced and removed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from camserve import CameraEvent, CameraHandle, CameraService
from camserve.interfaces import IFrameSink
from camserve.testing import PushSource

if TYPE_CHECKING:
    from support import LogRecorder

    from camserve import Frame

_RESULTS = SynchronousTestCase()


@implementer(IFrameSink)
class Recorder:
    """
    A consumer that is no viewer: it keeps every frame's bytes and counts
    how often its camera was closed.
    """

    kind = "recorder"

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.closed = 0

    def send_frame(self, frame: Frame) -> None:
        self.frames.append(frame.jpeg)

    def camera_closed(self) -> None:
        self.closed += 1


class Following:
    """
    A camera service on a clock, a handle of camera C{cam} made before the
    camera is, and the events it told.
    """

    def __init__(self) -> None:
        self.clock = Clock()
        self.service = CameraService(self.clock)
        self.handle = self.service.camera("cam")
        self.events: list[CameraEvent] = []
        self.handle.follow(self.heard)

    def heard(self, event: CameraEvent, handle: CameraHandle) -> None:
        assert handle is self.handle
        self.events.append(event)

    def told(self) -> list[CameraEvent]:
        """
        The events told since the last call.
        """
        told, self.events = self.events, []
        return told


def test_a_handle_is_the_same_for_a_name() -> None:
    """
    A name has one handle for as long as the service runs, whether asked for
    before or after its camera is added; it knows the hub serving it now.
    """
    following = Following()
    assert following.service.camera("cam") is following.handle
    assert following.handle.hub is None
    hub = following.service.add_source("cam", PushSource())
    assert following.handle.hub is hub
    assert following.told() == [CameraEvent.ADDED]
    later = following.service.add_source("other", PushSource())
    assert following.service.camera("other").hub is later


def test_a_camera_tells_it_starts_fails_and_stops() -> None:
    """
    A camera's handle tells when it gives its first frame, when it fails
    (once for a run of failures), when it gives frames again, and when it
    stops for want of viewers.
    """
    following = Following()
    source = PushSource()
    following.service.add_source("cam", source, idle_timeout=1.0, backoff_initial=0.5)
    following.told()
    recorder = Recorder()
    following.handle.subscribe(recorder)
    source.push(b"1")
    assert following.told() == [CameraEvent.STARTED]
    source.push(b"2")
    source.fail(OSError("unplugged"))
    following.clock.advance(0.5)
    source.fail(OSError("unplugged"))
    assert following.told() == [CameraEvent.FAILED]
    following.clock.advance(1.0)
    source.push(b"3")
    assert following.told() == [CameraEvent.STARTED]
    following.handle.unsubscribe(recorder)
    following.clock.advance(1.0)
    source.finish_stop()
    assert following.told() == [CameraEvent.STOPPED]
    assert recorder.frames == [b"1", b"2", b"3"]


def test_a_sink_follows_its_camera_across_a_replacement() -> None:
    """
    A sink subscribed through the handle keeps its subscription when the
    camera is made again (as a reload of changed settings does): it is not
    closed, it keeps the new camera running, and it gets the new camera's
    frames. Viewers subscribed to the old hub directly are closed.
    """
    following = Following()
    old = PushSource()
    old_hub = following.service.add_source("cam", old)
    recorder, viewer = Recorder(), Recorder()
    following.handle.subscribe(recorder)
    old_hub.subscribe(viewer)
    old.push(b"old")
    following.told()
    new = PushSource()
    replacing = following.service.replace_driver("cam", new)
    assert old.stop_requested
    assert following.handle.hub is None
    old.finish_stop()
    new_hub = _RESULTS.successResultOf(replacing)
    assert following.service.hubs["cam"] is new_hub
    assert following.handle.hub is new_hub
    assert following.told() == [CameraEvent.REPLACED]
    assert (recorder.closed, viewer.closed) == (0, 1)
    assert new.running
    assert new_hub.consumers == {"recorder": 1}
    new.push(b"new")
    assert recorder.frames == [b"old", b"new"]
    assert following.told() == [CameraEvent.STARTED]
    assert old_hub.consumers == {}


def test_a_removed_camera_closes_its_sinks() -> None:
    """
    Removing a camera closes the sinks subscribed through its handle and
    tells it; the handle hears when a camera of that name is added again.
    """
    following = Following()
    source = PushSource()
    following.service.add_source("cam", source)
    recorder = Recorder()
    following.handle.subscribe(recorder)
    following.told()
    removed = following.service.remove_camera("cam")
    assert following.told() == [CameraEvent.REMOVED]
    assert following.handle.hub is None
    assert recorder.closed == 1
    source.finish_stop()
    assert _RESULTS.successResultOf(removed) is None
    again = following.service.add_source("cam", PushSource())
    assert following.handle.hub is again
    assert following.told() == [CameraEvent.ADDED]
    assert again.consumers == {}


def test_a_listener_that_raises_disturbs_nothing(log: LogRecorder) -> None:
    """
    A listener that raises is logged; the others hear the event and the
    camera goes on.
    """
    following = Following()

    def broken(event: CameraEvent, handle: CameraHandle) -> None:
        raise ValueError(event)

    following.handle.unfollow(following.heard)
    following.handle.follow(broken)
    following.handle.follow(following.heard)
    source = PushSource()
    following.service.add_source("cam", source)
    following.handle.subscribe(Recorder())
    source.push(b"1")
    assert following.told() == [CameraEvent.ADDED, CameraEvent.STARTED]
    assert len(log.troubles()) == 2
    assert log.troubles()[0].startswith("camera cam: a listener to its added failed")


def test_subscribing_to_a_camera_not_served_fails() -> None:
    """
    A handle of a camera not served now has no hub to feed a sink, and a
    camera not served cannot be replaced.
    """
    following = Following()
    with pytest.raises(KeyError, match="cam"):
        following.handle.subscribe(Recorder())
    with pytest.raises(KeyError, match="cam"):
        following.service.replace_driver("cam", PushSource())
    assert "cam" not in following.service.hubs
