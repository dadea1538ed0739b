"""
C{GET /api/cameras/<name>/events} lists a camera's motion events.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from test_recording_reports import Served
from treq import content
from treq.client import HTTPClient
from treq.testing import RequestTraversalAgent
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from camserve import CameraService, service_resource
from camserve.testing import PushSource

if TYPE_CHECKING:
    from pathlib import Path

_RESULTS = SynchronousTestCase()
EVENTS = [
    {"start": 1700000005.0, "end": 1700000008.4, "peak": 0.1722},
    {"start": 1700000020.5, "end": 1700000031.0, "peak": 0.5},
]


def test_events_are_listed(tmp_path: Path) -> None:
    """
    A camera's events kept in its C{motion.jsonl} are listed oldest first;
    a line cut short by a crash is left out.
    """
    served = Served(tmp_path)
    lines = [json.dumps(event) for event in EVENTS]
    (tmp_path / "porch").mkdir(exist_ok=True)
    (tmp_path / "porch" / "motion.jsonl").write_text(
        "\n".join(lines) + '\n{"start": 17000000', encoding="utf-8"
    )
    assert served.json("/api/cameras/porch/events") == (200, EVENTS)
    assert served.json("/api/cameras/garage/events") == (200, [])


def test_events_of_an_unknown_camera_or_server_that_does_not_record(
    tmp_path: Path,
) -> None:
    """
    An unknown camera's events are a C{404} naming the cameras there are,
    as the API answers; a server that does not record has none to list.
    """
    served = Served(tmp_path)
    code, answer = served.json("/api/cameras/nope/events")
    assert code == 404
    assert answer["cameras"] == ["garage", "porch"]
    clock = Clock()
    cameras = CameraService(clock)
    cameras.add_source("porch", PushSource())
    agent = RequestTraversalAgent(service_resource(cameras, clock))
    response = HTTPClient(agent).get("http://camserve.test/api/cameras/porch/events")
    agent.flush()
    answered = _RESULTS.successResultOf(response)
    body = content(answered)
    agent.flush()
    assert answered.code == 404
    assert json.loads(_RESULTS.successResultOf(body)) == {
        "error": "this server does not record"
    }
