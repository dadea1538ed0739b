# -*- test-case-name: tests.test_recording_routes -*-
"""
A server app's control and listing of recordings: C{POST
/api/cameras/<name>/recording} starts or stops an C{on_demand} camera's
recording, C{GET /api/cameras/<name>/recordings} lists what was recorded
and C{GET /api/cameras/<name>/activity} how much it moved, for the camera
page's timeline.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TypeVar

from klein import Klein

from camserve.recording._activity_reader import Peaks
from camserve.recording._recorded_spans import recorded_ranges
from camserve.recording._service import RecordingRefusedError
from camserve.web._instants import span
from camserve.web._permissions import Permission, allow
from camserve.web._requests import RefusedError, json_answer, json_body, query_argument
from camserve.web._user import User

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.internet.defer import Deferred
    from twisted.web.server import Request

    from camserve.recording._catalogs import Recordings
    from camserve.recording._service import RecordingService
    from camserve.web._cameras_seen import CamerasSeen

_T = TypeVar("_T")

DAY = 24 * 60 * 60.0
"""The span listed when a request gives no C{start}: the last day."""
BUCKETS = 600
"""The buckets the activity is cut into when a request does not say."""
MOST_BUCKETS = 2000
"""The most buckets a request may ask the activity in."""

_EVERYONE = User("", "admin")
"""Who asks on a server without logins, where anyone may do what an admin
may."""


class RecordingRoutes:
    """
    The recording control and listing of the cameras a user sees, which a
    server app serves as its own routes.
    """

    app = Klein()

    def __init__(
        self,
        seen: CamerasSeen,
        *,
        user: User | None,
        logins: bool,
        recorder: RecordingService | None,
        recordings: Recordings | None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """
        @param seen: the cameras that may be recorded and listed.
        @param user: who logged in; L{None} without logins.
        @param logins: whether the server asks for logins: without, anyone
            may start and stop a recording.
        @param recorder: what records the cameras; L{None} for nothing.
        @param recordings: where the cameras are recorded; L{None} for a
            server that does not record.
        @param wall_clock: the time now, for the default span.
        """
        self._seen = seen
        self._user = user
        self._logins = logins
        self._recorder = recorder
        self._recordings = recordings
        self._wall_clock = wall_clock

    @property
    def user(self) -> User | None:
        """
        Who the routes serve: the logged-in user, or, on a server without
        logins, anyone, as an admin.
        """
        return self._user if self._logins else _EVERYONE

    @app.route("/api/cameras/<name>/recording", methods=["POST"])
    @allow(Permission.ADMIN, action="start or stop recording")
    def recording(self, request: Request, name: str) -> Deferred[bytes] | bytes:
        """
        Start or stop camera C{name}'s recording, asked with a JSON body
        C{{"action": "start"}} or C{{"action": "stop"}} from the same
        origin. Answers the camera's recording report (once its files are
        closed, for a stop); C{400} for another body, C{404} for an unknown
        camera, C{409} for a camera that does not record on demand.
        """
        try:
            action = _action(request)
            if self._seen.hub(name) is None:
                return self._seen.unknown(request)
            recorder = self._recorder
            if recorder is None:
                return json_answer(
                    request, {"error": "this server does not record"}, 409
                )
            if action == "start":
                _refused_as_409(recorder.start, name)
                return json_answer(request, recorder.report(name))
            stopping = _refused_as_409(recorder.stop, name)
        except RefusedError as refused:
            return json_answer(request, {"error": str(refused)}, refused.code)
        return stopping.addCallback(
            lambda _: json_answer(request, recorder.report(name))
        )

    @app.route("/api/cameras/<name>/recordings", methods=["GET"])
    @allow(Permission.USER)
    def recordings(self, request: Request, name: str) -> Deferred[bytes] | bytes:
        """
        What camera C{name} recorded from C{?start=} to C{?end=} (ISO 8601
        times or Unix seconds; the last day by default, any span asked):
        C{[{"start": t, "end": t}, ...]} in Unix seconds, each a stretch
        without a gap, oldest first. C{400} for a bad span, C{404} for an
        unknown camera; nothing for a camera never recorded.
        """
        if self._seen.hub(name) is None:
            return self._seen.unknown(request)
        try:
            start, end = self._span(request)
        except ValueError as error:
            return json_answer(request, {"error": str(error)}, 400)
        recordings = self._recordings
        catalog = None if recordings is None else recordings.catalog(name)
        if catalog is None:
            return json_answer(request, [])

        def answer(ranges: list[tuple[float, float]]) -> bytes:
            return json_answer(
                request, [{"start": first, "end": last} for first, last in ranges]
            )

        return (
            catalog.refresh()
            .addCallback(lambda _: recorded_ranges(catalog, start, end))
            .addCallback(answer)
        )

    def _span(self, request: Request) -> tuple[float, float]:
        """
        The span of time C{request} asks about: C{?start=} and C{?end=},
        the last day by default.

        @raise ValueError: for a time that is not one.
        """
        return span(
            query_argument(request, "start"),
            query_argument(request, "end"),
            now=self._wall_clock(),
            length=DAY,
        )

    @app.route("/api/cameras/<name>/activity", methods=["GET"])
    @allow(Permission.USER)
    def activity(self, request: Request, name: str) -> Deferred[bytes] | bytes:
        """
        How much camera C{name}'s recordings moved from C{?start=} to
        C{?end=} (as for L{recordings}), cut into C{?buckets=} equal
        buckets (L{BUCKETS} by default, 1 to L{MOST_BUCKETS}): C{{"start":
        t, "step": s, "peaks": [...]}}, each bucket's highest activity of
        a second, 0 to 1, or C{null} where no second of it was scored.
        C{400} for a bad span or count, C{404} for an unknown camera or a
        server that does not record.
        """
        if self._seen.hub(name) is None:
            return self._seen.unknown(request)
        recordings = self._recordings
        if recordings is None:
            return json_answer(request, {"error": "this server does not record"}, 404)
        try:
            start, end = self._span(request)
            buckets = _buckets(query_argument(request, "buckets"))
        except ValueError as error:
            return json_answer(request, {"error": str(error)}, 400)
        if end <= start:
            return json_answer(request, {"error": "end must be after start"}, 400)
        catalog = recordings.catalog(name)
        if catalog is None:
            empty = Peaks(start, (end - start) / buckets, [None] * buckets)
            return json_answer(request, empty.as_json())
        return (
            catalog.refresh()
            .addCallback(
                lambda _: recordings.activity.peaks(
                    catalog.segments, start, end, buckets
                )
            )
            .addCallback(lambda peaks: json_answer(request, peaks.as_json()))
        )


def _buckets(text: str | None) -> int:
    """
    The buckets a request asks the activity in: L{BUCKETS} if not given.

    @raise ValueError: for anything but a whole number from 1 to
        L{MOST_BUCKETS}.
    """
    if text is None:
        return BUCKETS
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MOST_BUCKETS:
        raise ValueError(f"buckets must be a whole number from 1 to {MOST_BUCKETS}")
    return int(text)


def _action(request: Request) -> str:
    """
    What a request to start or stop a recording asks: C{"start"} or
    C{"stop"}.

    @raise RefusedError: for a body that does not ask either.
    """
    action = json_body(request).get("action")
    if action not in ("start", "stop"):
        raise RefusedError(400, 'action must be "start" or "stop"')
    return str(action)


def _refused_as_409(change: Callable[[str], _T], name: str) -> _T:
    """
    C{change(name)}, a start or stop of camera C{name}'s recording.

    @raise RefusedError: C{409} if the camera does not record on demand.
    """
    try:
        return change(name)
    except KeyError:
        raise RefusedError(409, f"camera {name} does not record on demand") from None
    except RecordingRefusedError as refused:
        raise RefusedError(409, str(refused)) from None
