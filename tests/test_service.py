"""
Tests for L{camserve.CameraService}.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import pytest
from support import reactor, reactor_test
from zope.interface import implementer

from camserve import (
    CameraHub,
    CameraService,
    CameraUnavailable,
    Frame,
    HubState,
    ICamera,
    IHealthDetails,
)
from camserve.testing import PushSource, ScriptedCamera, make_jpeg

if TYPE_CHECKING:
    from collections.abc import Iterator

    from support import LogRecorder
    from twisted.internet.defer import Deferred


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
