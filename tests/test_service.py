"""
Tests for L{camserve.CameraService}.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from reactor_tests import reactor_test
from twisted.internet import reactor

from camserve import CameraHub, CameraService, CameraUnavailable, Frame, HubState
from camserve.testing import PushSource, ScriptedCamera, make_jpeg

if TYPE_CHECKING:
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
