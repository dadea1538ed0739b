# -*- test-case-name: tests.test_events_route -*-
"""
A server app's list of a camera's motion events: C{GET
/api/cameras/<name>/events}, all of them or those of a span of time.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from klein import Klein

from camserve.web._instants import span
from camserve.web._permissions import Permission, allow
from camserve.web._requests import json_answer, query_argument

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.internet.defer import Deferred
    from twisted.web.server import Request

    from camserve.recording._service import RecordingService
    from camserve.web._cameras_seen import CamerasSeen

DAY = 24 * 60 * 60.0
"""The span whose events are listed when a request gives an C{end} and no
C{start}: the day before it."""
MOST_EVENTS = 1000
"""The most events listed of a span: the newest of it."""


class EventsRoute:
    """
    The motion events of the cameras a user sees, which a server app serves
    as its own route.
    """

    app = Klein()

    def __init__(
        self,
        seen: CamerasSeen,
        recorder: RecordingService | None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """
        @param seen: the cameras whose events may be listed.
        @param recorder: what records the cameras; L{None} for a server that
            does not record.
        @param wall_clock: the time now, for a span without an end.
        """
        self._seen = seen
        self._recorder = recorder
        self._wall_clock = wall_clock

    @app.route("/api/cameras/<name>/events", methods=["GET"])
    @allow(Permission.USER)
    def events(self, request: Request, name: str) -> Deferred[bytes] | bytes:
        """
        Camera C{name}'s motion events as JSON, oldest first: each its
        C{start} and C{end} (Unix seconds; C{end} C{null} for the motion
        going on) and its C{peak} activity, 0 to 1. Given a C{?start=} or
        C{?end=} (ISO 8601 times or Unix seconds; the end now, the start a
        day before the end, if not given), only the events that overlap
        that span, at most the newest L{MOST_EVENTS} of them. C{400} for a
        bad span, C{404} for an unknown camera or a server that does not
        record.
        """
        if self._seen.hub(name) is None:
            return self._seen.unknown(request)
        recorder = self._recorder
        if recorder is None:
            return json_answer(request, {"error": "this server does not record"}, 404)
        first, last = query_argument(request, "start"), query_argument(request, "end")
        within: tuple[float, float] | None = None
        if first is not None or last is not None:
            try:
                within = span(first, last, now=self._wall_clock(), length=DAY)
            except ValueError as error:
                return json_answer(request, {"error": str(error)}, 400)

        def answer(events: list[dict[str, Any]]) -> bytes:
            if within is not None:
                events = overlapping(events, *within)[-MOST_EVENTS:]
            return json_answer(request, events)

        return recorder.motion_events(name).addCallback(answer)


def overlapping(
    events: list[dict[str, Any]], start: float, end: float
) -> list[dict[str, Any]]:
    """
    The C{events} that overlap the span from C{start} to C{end}, both
    included; one going on (its C{end} L{None}) lasts until now. An event
    whose times are not numbers (a file edited by hand) is in no span.
    """
    found = []
    for event in events:
        first, last = event["start"], event["end"]
        if last is None:
            last = float("inf")
        if _number(first) and _number(last) and first <= end and last >= start:
            found.append(event)
    return found


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
