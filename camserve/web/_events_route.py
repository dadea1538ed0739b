# -*- test-case-name: tests.test_events_route -*-
"""
A server app's list of a camera's motion events: C{GET
/api/cameras/<name>/events}.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from klein import Klein

from camserve.web._permissions import Permission, allow
from camserve.web._requests import json_answer

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred
    from twisted.web.server import Request

    from camserve.recording._service import RecordingService
    from camserve.web._cameras_seen import CamerasSeen


class EventsRoute:
    """
    The motion events of the cameras a user sees, which a server app serves
    as its own route.
    """

    app = Klein()

    def __init__(self, seen: CamerasSeen, recorder: RecordingService | None) -> None:
        """
        @param seen: the cameras whose events may be listed.
        @param recorder: what records the cameras; L{None} for a server that
            does not record.
        """
        self._seen = seen
        self._recorder = recorder

    @app.route("/api/cameras/<name>/events", methods=["GET"])
    @allow(Permission.USER)
    def events(self, request: Request, name: str) -> Deferred[bytes] | bytes:
        """
        Camera C{name}'s motion events as JSON, oldest first: each its
        C{start} and C{end} (Unix seconds; C{end} C{null} for the motion
        going on) and its C{peak} activity, 0 to 1. C{404} for an unknown
        camera or a server that does not record.
        """
        if self._seen.hub(name) is None:
            return self._seen.unknown(request)
        recorder = self._recorder
        if recorder is None:
            return json_answer(request, {"error": "this server does not record"}, 404)

        def answer(events: list[dict[str, Any]]) -> bytes:
            return json_answer(request, events)

        return recorder.motion_events(name).addCallback(answer)
