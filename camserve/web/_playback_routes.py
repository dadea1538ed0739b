# -*- test-case-name: tests.test_playback_routes -*-
"""
A camera's playback of its recording, which its app serves as its own
routes: the stream of recorded frames from a time at a speed, and the
control of a playback in progress.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from klein import Klein

from camserve.recording._playback_live import LivePlayback
from camserve.streams._stream import set_stream_headers
from camserve.streams._viewer import StreamViewer
from camserve.web._permissions import Permission, allow
from camserve.web._playback_control import (
    SESSION_HEADER,
    answer_control,
    start_and_speed,
)
from camserve.web._requests import json_answer, plain_answer, query_argument

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IReactorTime
    from twisted.python.failure import Failure
    from twisted.web.server import Request

    from camserve._frame import Frame
    from camserve.camera._hub import CameraHub
    from camserve.recording._catalogs import Recordings
    from camserve.recording._playback import Playback


class PlaybackRoutes:
    """
    The routes of a camera's playback, relative to wherever the camera's
    app is mounted.
    """

    app = Klein()

    def __init__(
        self,
        hub: CameraHub,
        clock: IReactorTime,
        recordings: Recordings | None,
        *,
        stall_timeout: float,
    ) -> None:
        """
        @param recordings: where the camera is recorded; L{None} for a
            server that does not record.
        @param stall_timeout: seconds a viewer's connection may stay full
            before the viewer is presumed gone.
        """
        self._hub = hub
        self._clock = clock
        self._recordings = recordings
        self._stall_timeout = stall_timeout

    @app.route("/playback", methods=["GET"])
    @allow(Permission.USER)
    def playback(self, request: Request) -> Deferred[Any] | bytes:
        """
        The camera's recording from C{?start=} (an ISO 8601 time or Unix
        seconds) as a Motion JPEG stream in the live stream's format, each
        part's C{X-Timestamp} its original capture time, played at
        C{?speed=} (0.25 to 16, 1 by default); C{?advance_headers=1} as for
        the live stream. Starts at the frame captured then or just before
        (in a gap, the first after), skips gaps, and at the end of what is
        recorded goes on with the camera's live frames. The session to
        control it with is in the C{X-Playback-Session} header.
        """
        recordings = self._recordings
        catalog = None if recordings is None else recordings.catalog(self._hub.name)
        if recordings is None or catalog is None:
            return plain_answer(request, 404, "this camera is not recorded")
        try:
            when, speed, advance_headers = _playback_request(request)
        except ValueError as error:
            return plain_answer(request, 400, str(error))
        if request.method == b"HEAD":
            set_stream_headers(request)
            return b""
        playback = LivePlayback(
            self._hub.name,
            catalog,
            self._clock,
            self._hub,
            speed=speed,
            keepalive=self._hub.keepalive_interval,
        )
        session = recordings.playbacks.add(playback)
        if session is None:
            return plain_answer(request, 503, "too many playbacks are in progress")
        request.setHeader(SESSION_HEADER, session.encode("ascii"))
        viewer = StreamViewer(
            request,
            playback,
            self._clock,
            advance_headers=advance_headers,
            stall_timeout=self._stall_timeout,
        )

        def begin(first: Frame | None) -> Deferred[None] | bytes:
            if first is None:
                playback.stop()
                return plain_answer(request, 404, "nothing was recorded then or since")
            return viewer.start(first)

        def gone(failure: Failure) -> Failure:
            # The client left before the first frame was found.
            playback.stop()
            return failure

        return playback.start(when).addCallback(begin).addErrback(gone)

    @app.route("/playback/<session>", methods=["GET", "POST"])
    @allow(Permission.USER)
    def control(self, request: Request, session: str) -> Deferred[bytes] | bytes:
        """
        The state of the playback C{session} (C{GET}), or a change to it
        (C{POST}, a JSON object from the same origin): C{{"action":
        "pause"}}, C{"resume"}, C{"seek"} with C{"time"} (as C{?start=}),
        C{"speed"} with C{"speed"}, C{"step"} with C{"frames"} (1 or -1,
        which pauses), C{"live"} (the camera's live frames from now on, on
        the same stream). Answers its state: whether it is C{paused} or
        C{live}, its C{speed}, the capture C{time} of the frame shown, and
        whether it is C{at_end} of what is recorded.
        """
        recordings = self._recordings
        playback = None if recordings is None else recordings.playbacks.get(session)
        if playback is None or playback.name != self._hub.name:
            return json_answer(request, {"error": "no such playback"}, 404)
        return answer_control(
            request,
            playback,
            lambda: _state(playback),
            no_live="the camera gave no frame",
        )


def _state(playback: Playback) -> dict[str, Any]:
    newest = playback.newest
    return {
        "camera": playback.name,
        "paused": playback.paused,
        "live": playback.live,
        "speed": playback.speed,
        "time": None if newest is None else newest.captured_at,
        "at_end": playback.at_end,
    }


def _playback_request(request: Request) -> tuple[float, float, bool]:
    """
    The start, speed and framing a playback's request asks for.

    @raise ValueError: for any of them missing or wrong.
    """
    when, speed = start_and_speed(request)
    advance = query_argument(request, "advance_headers")
    if advance not in (None, "0", "1"):
        raise ValueError("advance_headers must be 0 or 1")
    return when, speed, advance == "1"
