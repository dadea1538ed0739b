"""
Tests that each camera's recording is reported where its camera is: its
health (C{/cameras/<name>/healthz}, C{/healthz}) and the API
(C{/api/cameras}, C{/api/cameras/<name>}), served to an in-memory client
from a camera service on a C{Clock} recorded into real files.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from treq import content
from treq.client import HTTPClient
from treq.testing import RequestTraversalAgent
from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from camserve import CameraService, service_resource
from camserve.recording._modes import RecordingMode, RecordingSettings
from camserve.recording._service import RecordingService
from camserve.testing import PushSource, make_jpeg

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

_RESULTS = SynchronousTestCase()
START = 1_700_000_000.0


class Served:
    """
    Cameras C{porch} (recording continuously) and C{garage} (not
    recording), served with their recordings.
    """

    def __init__(self, root: Path) -> None:
        self.clock = Clock()
        self.clock.advance(START)
        self.cameras = CameraService(self.clock)
        self.porch = PushSource()
        self.cameras.add_source("porch", self.porch)
        self.cameras.add_source("garage", PushSource())

        def at_once(job: Callable[[], Any]) -> Any:
            return maybeDeferred(job)

        self.recordings = RecordingService(
            self.cameras, self.clock, in_thread=at_once, wall_clock=self.clock.seconds
        )
        self.recordings.configure(
            root, 0, {"porch": RecordingSettings(RecordingMode.CONTINUOUS)}
        )
        self.recordings.startService()
        self.agent = RequestTraversalAgent(
            service_resource(self.cameras, self.clock, recorder=self.recordings)
        )
        self.client = HTTPClient(self.agent)

    def json(self, path: str) -> tuple[int, Any]:
        response = self.client.get("http://camserve.test" + path)
        self.agent.flush()
        answered = _RESULTS.successResultOf(response)
        body = content(answered)
        self.agent.flush()
        return answered.code, json.loads(_RESULTS.successResultOf(body))


def test_health_and_the_api_report_recording(tmp_path: Path) -> None:
    """
    Each camera's health and its entry in the API tell its recording: its
    mode, state, the bytes it holds, the frames written and dropped, and
    its last error.
    """
    served = Served(tmp_path)
    for number in range(3):
        served.porch.push(make_jpeg(number), START + number)
    written = served.recordings.report("porch")
    assert written["bytes"] > 0
    porch = {
        "mode": "continuous",
        "state": "recording",
        "bytes": written["bytes"],
        "frames_written": 3,
        "frames_dropped": 0,
        "last_error": None,
    }
    garage = {
        "mode": "off",
        "state": "off",
        "bytes": 0,
        "frames_written": 0,
        "frames_dropped": 0,
        "last_error": None,
    }
    code, health = served.json("/cameras/porch/healthz")
    assert (code, health["recording"]) == (200, porch)
    assert health["consumers"] == {"recorder": 1}
    _, cameras = served.json("/api/cameras")
    assert [camera["recording"] for camera in cameras] == [porch, garage]
    _, camera = served.json("/api/cameras/garage")
    assert camera["recording"] == garage
    _, everything = served.json("/healthz")
    assert [camera["recording"] for camera in everything["cameras"]] == [porch, garage]


def test_a_recording_that_failed_is_reported(tmp_path: Path) -> None:
    """
    A recording that cannot be written is reported failed, with why, while
    the camera stays healthy.
    """
    (tmp_path / "porch").write_text("in the way")
    served = Served(tmp_path)
    served.porch.push(make_jpeg(0), START)
    code, health = served.json("/cameras/porch/healthz")
    assert code == 200
    assert health["state"] == "running"
    assert health["recording"]["state"] == "failed"
    assert health["recording"]["last_error"] == (
        f"cannot write {tmp_path / 'porch'}: not a folder"
    )
    assert health["recording"]["frames_dropped"] == 1
    code, everything = served.json("/healthz")
    assert (code, everything["status"]) == (200, "ok")
