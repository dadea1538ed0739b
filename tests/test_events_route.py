"""
C{GET /api/cameras/<name>/events} lists a camera's motion events: all of
them, or those of a span.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from support import reactor_test
from test_recording_reports import Served
from test_recording_routes import Recording
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


@reactor_test
async def test_events_of_a_span(tmp_path: Path) -> None:
    """
    Given a span, only the events that overlap it are listed, on a real
    server; without an end, the span goes on to now, and without a start,
    it is the day before its end; a bad span is a C{400}.
    """
    server = Recording.start(tmp_path)
    (tmp_path / "porch").mkdir(exist_ok=True)
    lines = [json.dumps(event) for event in EVENTS]
    (tmp_path / "porch" / "motion.jsonl").write_text(
        "\n".join(lines) + "\n", encoding="utf-8"
    )

    async def between(query: str) -> tuple[int, Any]:
        return await server.ask(f"/api/cameras/porch/events?{query}", method="GET")

    try:
        assert await between("start=1700000000&end=1700000100") == (200, EVENTS)
        assert await between("start=1700000008.4&end=1700000020.5") == (200, EVENTS)
        assert await between("start=1700000008.5&end=1700000020.4") == (200, [])
        assert await between("start=1700000030") == (200, EVENTS[1:])
        assert await between("end=1700000006") == (200, EVENTS[:1])
        assert await between("end=1700100000") == (200, [])
        iso = "2023-11-14T22:13:25Z"
        assert await between(f"start={iso}&end={iso}") == (200, EVENTS[:1])
        assert await between("start=soon") == (
            400,
            {"error": "start and end must be ISO 8601 times or Unix seconds"},
        )
        assert await server.ask("/api/cameras/porch/events", method="GET") == (
            200,
            EVENTS,
        )
    finally:
        await server.close()


@reactor_test
async def test_a_span_lists_its_newest_events(tmp_path: Path) -> None:
    """
    A span lists at most the newest 1000 of its events; without one, every
    event is listed.
    """
    server = Recording.start(tmp_path)
    (tmp_path / "porch").mkdir(exist_ok=True)
    events = [
        {
            "start": 1700000000.0 + 10 * each,
            "end": 1700000005.0 + 10 * each,
            "peak": 0.5,
        }
        for each in range(1500)
    ]
    (tmp_path / "porch" / "motion.jsonl").write_text(
        "".join(json.dumps(event) + "\n" for event in events), encoding="utf-8"
    )
    try:
        code, listed = await server.ask(
            "/api/cameras/porch/events?start=1700000000&end=1800000000", method="GET"
        )
        assert (code, listed) == (200, events[-1000:])
        code, listed = await server.ask(
            "/api/cameras/porch/events?start=1700000000&end=1700000099", method="GET"
        )
        assert (code, listed) == (200, events[:10])
        _, listed = await server.ask("/api/cameras/porch/events", method="GET")
        assert listed == events
    finally:
        await server.close()
