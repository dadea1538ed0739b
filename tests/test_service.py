"""
Tests for L{camserve.CameraService}.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import pytest
from support import reactor, reactor_test
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from camserve import (
    CameraHub,
    CameraService,
    CameraUnavailable,
    Frame,
    HubState,
    ICamera,
    IFrameSink,
    IHealthDetails,
)
from camserve.testing import PushSource, ScriptedCamera, make_jpeg

if TYPE_CHECKING:
    from collections.abc import Iterator

    from support import LogRecorder
    from twisted.internet.defer import Deferred

successResultOf = SynchronousTestCase().successResultOf  # noqa: N816 - Twisted's name
assertNoResult = SynchronousTestCase().assertNoResult  # noqa: N816 - Twisted's name


def test_names_are_unique() -> None:
    """
    Two cameras cannot share a name.
    """
    cameras = CameraService(reactor)
    cameras.add_source("a", PushSource())
    with pytest.raises(ValueError, match=r"already a camera named 'a'"):
        cameras.add_source("a", PushSource())
    assert list(cameras.hubs) == ["a"]
    assert isinstance(cameras.hubs["a"], CameraHub)


@reactor_test
async def test_capture_runs_in_the_service_pool_and_stops_with_it() -> None:
    """
    A camera added to a running service captures in the service's own
    thread pool; stopping the service releases the device.
    """
    camera = ScriptedCamera([make_jpeg(1), make_jpeg(2)], fps=100)
    cameras = CameraService(reactor)
    hub = cameras.add_camera("cam", camera, driver="scripted")
    cameras.startService()
    try:
        first: Frame = await hub.next_frame().addTimeout(5, reactor)
        assert first.jpeg in camera.jpegs
        assert hub.state is HubState.RUNNING
        assert camera.is_open
    finally:
        stopped: Deferred[None] = cameras.stopService()
        await stopped
    assert not camera.is_open
    assert camera.opened == camera.closed == 1
    assert hub.state is HubState.IDLE
    with pytest.raises(CameraUnavailable):
        await hub.next_frame()


@implementer(ICamera)
class StuckCamera:
    """
    A camera whose C{frames()} blocks after its first frame until released.
    """

    def __init__(self) -> None:
        self.release = threading.Event()

    def frames(self) -> Iterator[bytes]:
        yield make_jpeg(1)
        self.release.wait(30)
        yield make_jpeg(2)


@reactor_test
async def test_a_stuck_camera_does_not_hang_the_shutdown(log: LogRecorder) -> None:
    """
    A camera stuck inside C{frames()} delays stopping only for the release
    grace period, is named in a warning, and runs in a daemon thread that
    cannot keep the process alive.
    """
    camera = StuckCamera()
    cameras = CameraService(reactor, release_grace=0.2)
    hub = cameras.add_camera("stuck", camera)
    cameras.startService()
    try:
        await hub.next_frame().addTimeout(5, reactor)
        assert all(thread.daemon for thread in cameras._threadpool.threads)
        started = time.monotonic()
        stopped: Deferred[None] = cameras.stopService()
        await stopped.addTimeout(5, reactor)
        assert 0.15 < time.monotonic() - started < 2
    finally:
        # Read before the camera is released, as its thread then carries on.
        warnings = log.formatted()
        camera.release.set()
    assert warnings == [
        "camera stuck did not release its device within 0.2 s; not waiting for it"
    ]


@implementer(ICamera, IHealthDetails)
class _DetailedCamera(ScriptedCamera):
    """
    A scripted camera that reports which path its frames take.
    """

    def health_details(self) -> dict[str, object]:
        return {"path": "passthrough", "open": self.is_open}


@reactor_test
async def test_add_driver_serves_either_kind() -> None:
    """
    L{CameraService.add_driver} runs a blocking camera in a capture thread
    and serves an asynchronous source as it is; both report the driver's
    health details, if any.
    """
    cameras = CameraService(reactor)
    camera = _DetailedCamera([make_jpeg(1)], fps=100)
    source = PushSource()
    threaded = cameras.add_driver("threaded", camera)
    pushed = cameras.add_driver("pushed", source)
    cameras.startService()
    try:
        frame = await threaded.next_frame().addTimeout(5, reactor)
        assert frame.jpeg == make_jpeg(1)
        assert threaded.health()["details"] == {"path": "passthrough", "open": True}
        waiting = pushed.next_frame()
        assert source.running
        source.push(make_jpeg(2))
        assert (await waiting).jpeg == make_jpeg(2)
        assert pushed.health()["details"] == {}
        assert len(cameras._threadpool.threads) == 1
    finally:
        await cameras.stopService()


# Removing and arranging cameras.


@implementer(IFrameSink)
class _Sink:
    """
    A viewer of a hub, as far as the hub can tell: it notes whether its
    camera was closed.
    """

    def __init__(self) -> None:
        self.closed = 0

    def send_frame(self, frame: Frame) -> None:
        pass

    def keep_alive(self, frame: Frame) -> None:
        pass

    def camera_closed(self) -> None:
        self.closed += 1


def test_remove_camera_ends_its_streams_and_frees_its_name() -> None:
    """
    Removing a camera ends its viewers' streams and those of its
    thumbnails, forgets both, and fires once the driver has let go of the
    device, leaving nothing scheduled; its name can then be used again.
    The other cameras are not touched.
    """
    clock = MemoryReactorClock()
    cameras = CameraService(clock)
    source, other = PushSource(), PushSource()
    cameras.add_source("a", source)
    cameras.add_source("b", other)
    viewer, thumbnail_viewer, other_viewer = _Sink(), _Sink(), _Sink()
    cameras.hubs["a"].subscribe(viewer)
    cameras.thumbnails("a").subscribe(thumbnail_viewer)
    cameras.hubs["b"].subscribe(other_viewer)
    assert source.running
    removed = cameras.remove_camera("a")
    assert (viewer.closed, thumbnail_viewer.closed) == (1, 1)
    assert list(cameras.hubs) == ["b"]
    assert cameras.thumbnail_hubs == {}
    assert source.stop_requested
    assertNoResult(removed)
    source.finish_stop()
    assert successResultOf(removed) is None
    assert clock.getDelayedCalls() == []
    assert (other_viewer.closed, other.stops, cameras.hubs["b"].viewers) == (0, 0, 1)
    again = cameras.add_source("a", PushSource())
    assert cameras.hubs["a"] is again
    with pytest.raises(KeyError):
        cameras.remove_camera("nosuch")


def test_removing_an_idle_camera_is_done_at_once() -> None:
    """
    Removing a camera that is not running is done at once.
    """
    clock = MemoryReactorClock()
    cameras = CameraService(clock)
    cameras.add_source("a", PushSource())
    assert successResultOf(cameras.remove_camera("a")) is None
    assert cameras.hubs == {}
    assert clock.getDelayedCalls() == []


def test_remove_camera_gives_up_after_the_release_grace(log: LogRecorder) -> None:
    """
    Removing a camera whose driver does not let go of its device fires
    after the release grace, with a warning naming the camera; the driver
    letting go later changes nothing.
    """
    clock = MemoryReactorClock()
    cameras = CameraService(clock, release_grace=2.0)
    source = PushSource()
    cameras.add_source("a", source).subscribe(_Sink())
    removed = cameras.remove_camera("a")
    clock.advance(1.5)
    assertNoResult(removed)
    assert log.formatted() == []
    clock.advance(0.5)
    assert successResultOf(removed) is None
    assert log.formatted() == [
        "camera a did not release its device within 2 s; not waiting for it"
    ]
    source.finish_stop()
    assert len(log.formatted()) == 1


def test_arrange_orders_the_cameras() -> None:
    """
    L{CameraService.arrange} lists the cameras named in the order given,
    then those not named in the order they were; unknown names are
    ignored.
    """
    cameras = CameraService(MemoryReactorClock())
    for name in "abcd":
        cameras.add_source(name, PushSource())
    hubs = cameras.hubs
    cameras.arrange(["c", "x", "a"])
    assert list(cameras.hubs) == ["c", "a", "b", "d"]
    assert cameras.hubs == hubs
    cameras.arrange([])
    assert list(cameras.hubs) == ["c", "a", "b", "d"]


@reactor_test
async def test_a_camera_removed_while_stuck_leaves_threads_for_the_others() -> None:
    """
    A camera removed while its driver is stuck inside C{frames()} still
    holds its capture thread; a camera added afterwards gets a thread of
    its own all the same.
    """
    stuck = StuckCamera()
    cameras = CameraService(reactor, release_grace=0.1)
    hub = cameras.add_camera("stuck", stuck)
    cameras.startService()
    try:
        await hub.next_frame().addTimeout(5, reactor)
        await cameras.remove_camera("stuck").addTimeout(5, reactor)
        camera = ScriptedCamera([make_jpeg(1)], fps=100)
        added = cameras.add_camera("added", camera, start_timeout=5)
        frame = await added.next_frame().addTimeout(6, reactor)
        assert frame.jpeg == make_jpeg(1)
    finally:
        stuck.release.set()
        await cameras.stopService()


@reactor_test
async def test_a_camera_removed_while_stuck_does_not_hang_the_shutdown(
    log: LogRecorder,
) -> None:
    """
    Stopping the service does not wait on a camera removed earlier whose
    driver is still stuck inside C{frames()}, beyond the release grace: it
    is named in a warning, and its thread is left behind.
    """
    stuck = StuckCamera()
    cameras = CameraService(reactor, release_grace=0.2)
    hub = cameras.add_camera("stuck", stuck)
    cameras.startService()
    try:
        await hub.next_frame().addTimeout(5, reactor)
        await cameras.remove_camera("stuck").addTimeout(5, reactor)
        started = time.monotonic()
        stopped: Deferred[None] = cameras.stopService()
        await stopped.addTimeout(5, reactor)
        assert time.monotonic() - started < 2
        warnings = log.formatted()
    finally:
        stuck.release.set()
    assert warnings == [
        "camera stuck did not release its device within 0.2 s; not waiting for it",
        "camera stuck did not release its device within 0.2 s; not waiting for it",
    ]
