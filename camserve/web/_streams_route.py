# -*- test-case-name: tests.test_server_app,tests.test_multi_viewer,tests.test_wall_routes -*-
"""
The frames of several cameras over one connection, which the grid reads
every tile's pictures from: live, or their recordings played back in step
(a wall's playback) and its control.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from klein import Klein

from camserve.camera._states import CameraUnavailable
from camserve.recording._wall_lane import WallCamera
from camserve.recording._wall_playback import WallPlayback
from camserve.streams._multi_viewer import MultiViewer
from camserve.streams._stream import set_stream_headers
from camserve.web._permissions import Permission, allow
from camserve.web._playback_control import (
    SESSION_HEADER,
    answer_control,
    start_and_speed,
)
from camserve.web._requests import (
    RefusedError,
    json_answer,
    plain_answer,
    query_argument,
    stream_choice,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IReactorTime
    from twisted.python.failure import Failure
    from twisted.web.server import Request

    from camserve.camera._hub import CameraHub
    from camserve.camera._service import CameraService
    from camserve.recording._catalogs import Recordings
    from camserve.web._cameras_seen import CamerasSeen


class StreamsRoute:
    """
    The stream of several of the cameras a user sees, live or played back,
    which a server app serves as its own route.
    """

    app = Klein()

    def __init__(
        self,
        service: CameraService,
        seen: CamerasSeen,
        clock: IReactorTime,
        recordings: Recordings | None = None,
    ) -> None:
        """
        @param service: whose thumbnails the stream may send.
        @param seen: the cameras the stream may send.
        @param clock: the reactor, for viewers' timers.
        @param recordings: where the cameras are recorded, which the stream
            plays back; L{None} for a server that does not record.
        """
        self._service = service
        self._seen = seen
        self._clock = clock
        self._recordings = recordings

    @app.route("/streams", methods=["GET"])
    @allow(Permission.USER)
    def streams(self, request: Request) -> Deferred[Any] | bytes:
        """
        The live frames of several cameras as one stream, each part naming
        its camera in an C{X-Camera} header: C{?cameras=a,b} (every camera
        by default). C{?size=thumbnail} sends every camera's frames about
        320 pixels wide instead of full size; C{?thumbnails=b} only those of
        the cameras named. With C{?start=}, their recordings played back in
        step instead (see L{playback}).
        """
        hubs = self._seen.by_name()
        try:
            wanted, shrunk = stream_choice(request, hubs)
        except RefusedError as refused:
            return plain_answer(request, refused.code, str(refused))
        if query_argument(request, "start") is not None:
            return self.playback(request, hubs, wanted, shrunk)
        if request.method == b"HEAD":
            set_stream_headers(request)
            return b""
        try:
            chosen = [
                self._service.thumbnails(name) if name in shrunk else hubs[name]
                for name in wanted
            ]
            viewer = MultiViewer(
                request,
                chosen,
                self._clock,
                stall_timeout=max(hubs[name].stall_timeout for name in wanted),
            )
            return viewer.start()
        except CameraUnavailable as error:
            return plain_answer(request, 503, str(error))

    def playback(
        self,
        request: Request,
        hubs: Mapping[str, CameraHub],
        wanted: list[str],
        shrunk: set[str],
    ) -> Deferred[Any] | bytes:
        """
        The recordings of the cameras C{wanted} played back in step from
        C{?start=} (an ISO 8601 time or Unix seconds) at C{?speed=} (0.25
        to 16, 1 by default), as one stream in the live one's format, each
        part's C{X-Timestamp} its capture time (see L{WallPlayback}). The
        cameras with no recordings are left out (the state names them);
        thumbnails are of live frames only. The session to control it with
        is in the C{X-Playback-Session} header.
        """
        recordings = self._recordings
        if recordings is None:
            return plain_answer(request, 404, "this server does not record")
        if shrunk:
            return plain_answer(
                request,
                400,
                "a playback sends full frames: leave out size and thumbnails",
            )
        try:
            when, speed = start_and_speed(request)
        except ValueError as error:
            return plain_answer(request, 400, str(error))
        if request.method == b"HEAD":
            set_stream_headers(request)
            return b""
        wall = WallPlayback(
            _recorded(recordings, hubs, wanted), self._clock, speed=speed
        )
        session = recordings.walls.add(wall)
        if session is None:
            return plain_answer(request, 503, "too many playbacks are in progress")
        request.setHeader(SESSION_HEADER, session.encode("ascii"))

        def begin(anything: bool) -> Deferred[None] | bytes:
            if not anything:
                return plain_answer(request, 404, "nothing was recorded then or since")
            viewer = MultiViewer(
                request,
                wall.lanes,
                self._clock,
                stall_timeout=max(hubs[name].stall_timeout for name in wall.names),
            )
            return viewer.start()

        def gone(failure: Failure) -> Failure:
            # The client left before the first frames were found.
            wall.stop()
            return failure

        return wall.start(when).addCallback(begin).addErrback(gone)

    @app.route("/streams/<session>", methods=["GET", "POST"])
    @allow(Permission.USER)
    def control(self, request: Request, session: str) -> Deferred[bytes] | bytes:
        """
        The state of the playback of several cameras C{session} (C{GET}),
        or a change to it (C{POST}, a JSON object from the same origin), as
        a camera's playback's control takes it, for every camera at once.
        Answers its state: the wall's C{time}, whether it is C{paused} or
        C{live}, its C{speed}, whether it is C{at_end} of what is recorded,
        its C{cameras} (each one's C{camera}, whether it has a C{frame} at
        the wall's time, the capture C{time} of the frame it shows and
        whether it is C{live}), and the cameras C{not_recorded}.
        """
        recordings = self._recordings
        if recordings is None:
            # Nothing is played back: the path is as unknown as any.
            return plain_answer(request, 404, "not found")
        wall = recordings.walls.get(session)
        seen = self._seen.by_name()
        if wall is None or any(name not in seen for name in wall.names):
            return json_answer(request, {"error": "no such playback"}, 404)
        return answer_control(
            request, wall, wall.state, no_live="the cameras gave no frame"
        )


def _recorded(
    recordings: Recordings, hubs: Mapping[str, CameraHub], wanted: list[str]
) -> list[WallCamera]:
    """
    The cameras C{wanted} as a wall plays them, with their recordings:
    those whose names are no folder's are never recorded.
    """
    cameras = []
    for name in wanted:
        catalog = recordings.catalog(name)
        if catalog is not None:
            hub = hubs[name]
            cameras.append(WallCamera(name, catalog, hub, hub.keepalive_interval))
    return cameras
