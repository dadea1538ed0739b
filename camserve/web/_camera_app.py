# -*- test-case-name: tests.test_web -*-
"""
The HTTP face of one camera: a Klein app with the page, the stream, a
snapshot and health.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from klein import Klein
from twisted.internet.defer import succeed
from werkzeug.exceptions import MethodNotAllowed, NotFound

from camserve.camera._states import CameraUnavailable, HubState
from camserve.recording._catalog_files import in_threads
from camserve.recording._catalogs import Recordings
from camserve.streams._stream import set_stream_headers
from camserve.streams._viewer import StreamViewer
from camserve.web._composition import include
from camserve.web._pages import CameraPage
from camserve.web._permissions import Permission, allow
from camserve.web._playback_routes import PlaybackRoutes
from camserve.web._reports import camera_health
from camserve.web._requests import plain_answer
from camserve.web._static import static_file
from camserve.web._token_argument import token_of

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IReactorTime
    from twisted.python.failure import Failure
    from twisted.web.iweb import IRequest
    from twisted.web.resource import IResource
    from twisted.web.server import Request

    from camserve._frame import Frame
    from camserve.camera._hub import CameraHub
    from camserve.recording._service import RecordingService


class BadRequestError(ValueError):
    """
    A request camserve cannot serve as asked; the message says why.
    """


class CameraApp:
    """
    Routes for one camera, relative to wherever the app is mounted; the
    playback of its recording (L{PlaybackRoutes}) among them.

    @ivar playback: the playback of the camera's recording.
    """

    app = Klein()
    include(app, PlaybackRoutes.app, lambda camera: camera.playback.app)

    def __init__(
        self,
        hub: CameraHub,
        clock: IReactorTime,
        *,
        stall_timeout: float | None = None,
        in_grid: bool = False,
        share: bool = False,
        details: bool = True,
        recordings: Recordings | None = None,
        recorder: RecordingService | None = None,
        admin: bool = False,
    ) -> None:
        """
        @param stall_timeout: seconds a viewer's connection may stay full
            before the viewer is presumed gone and disconnected; the hub's
            setting by default.
        @param share: whether the camera's page offers to make a link with
            an API token, for a logged-in user who may mint one at
            C{../../api/tokens}.
        @param in_grid: whether the camera is served two levels under a
            grid of cameras, which its page then links to.
        @param details: whether the camera's health tells all about it, or
            (for those who did not log in, in front of logins) only its
            name and state.
        @param recordings: where the camera is recorded, which it plays
            back; L{None} for a server that does not record.
        @param recorder: what records the camera, whose recording its
            health tells; L{None} for nothing.
        @param admin: whether the page, in a grid, offers to start and stop
            the camera's recording (if it records on demand).
        """
        self._hub = hub
        self._clock = clock
        self._stall_timeout = (
            hub.stall_timeout if stall_timeout is None else stall_timeout
        )
        self._in_grid = in_grid
        self._share = share
        self._details = details
        self._recorder = recorder
        self._admin = admin
        self.playback = PlaybackRoutes(
            hub, clock, recordings, stall_timeout=self._stall_timeout
        )

    @app.route("/", methods=["GET"])
    @allow(Permission.CAMERA)
    def index(self, request: Request) -> CameraPage:
        """
        A page showing the camera's live picture large, its state and
        resolution, and controls; with C{?mode=snapshot}, refreshed
        snapshots instead of the stream.
        """
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        snapshots = _argument(request, "mode") == "snapshot"
        return CameraPage(
            self._hub,
            in_grid=self._in_grid,
            snapshots=snapshots,
            share=self._share,
            token=token_of(request),
            recording=(
                None
                if self._recorder is None or not self._in_grid
                else self._recorder.report(self._hub.name)
            ),
            admin=self._admin,
        )

    @app.route("/static/<name>", methods=["GET"])
    @allow(Permission.CAMERA)
    def static(self, request: Request, name: str) -> bytes:
        """
        The page's stylesheet, scripts and images.
        """
        content = static_file(request, name)
        return plain_answer(request, 404, "not found") if content is None else content

    @app.route("/video_feed", methods=["GET"])
    @allow(Permission.CAMERA)
    def video_feed(self, request: Request) -> Deferred[Any] | bytes:
        """
        The live Motion JPEG stream. C{?fps=N} caps this viewer's frame rate;
        C{?advance_headers=1} selects the framing browsers show at once.
        """
        try:
            max_fps = _parse_fps(request)
            advance_headers = _parse_switch(request, "advance_headers")
        except BadRequestError as error:
            return plain_answer(request, 400, str(error))
        if request.method == b"HEAD":
            set_stream_headers(request)
            return b""
        viewer = StreamViewer(
            request,
            self._hub,
            self._clock,
            max_fps=max_fps,
            advance_headers=advance_headers,
            stall_timeout=self._stall_timeout,
        )
        first = self._hub.next_frame()
        return first.addCallbacks(
            viewer.start, self._unavailable, errbackArgs=(request,)
        )

    @app.route("/snapshot.jpg", methods=["GET"])
    @allow(Permission.CAMERA)
    def snapshot(self, request: Request) -> Deferred[bytes]:
        """
        One fresh JPEG; with C{?download=1}, as a file to save, named for
        the camera and the time it was captured.
        """

        try:
            download = _parse_switch(request, "download")
        except BadRequestError as error:
            return succeed(plain_answer(request, 400, str(error)))

        def respond(frame: Frame) -> bytes:
            request.setHeader(b"content-type", b"image/jpeg")
            request.setHeader(b"cache-control", b"no-store")
            request.setHeader(b"x-timestamp", b"%.6f" % (frame.captured_at,))
            request.setHeader(b"content-length", b"%d" % (len(frame.jpeg),))
            if download:
                request.setHeader(
                    b"content-disposition",
                    b'attachment; filename="%s"' % snapshot_name(frame).encode(),
                )
            return frame.jpeg

        return self._hub.next_frame().addCallbacks(
            respond, self._unavailable, errbackArgs=(request,)
        )

    @app.route("/healthz", methods=["GET"])
    @allow(Permission.CAMERA, says_less_in_public=True)
    def healthz(self, request: Request) -> bytes:
        """
        The camera's state as JSON; C{503} while it is failing.
        """
        health = (
            camera_health(self._hub, self._recorder)
            if self._details
            else {"name": self._hub.name, "state": self._hub.state.value}
        )
        if self._hub.state is HubState.FAILED:
            request.setResponseCode(503)
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"cache-control", b"no-store")
        return json.dumps(health).encode("utf-8") + b"\n"

    @app.handle_errors(NotFound)
    def not_found(self, request: IRequest, failure: Failure) -> bytes:  # noqa: ARG002 - Klein passes it by name
        """
        Unknown paths.
        """
        return plain_answer(request, 404, "not found")

    @app.handle_errors(MethodNotAllowed)
    def method_not_allowed(self, request: IRequest, failure: Failure) -> bytes:
        """
        Known paths asked with a method they do not answer.
        """
        set_allow(request, failure)
        return plain_answer(request, 405, "method not allowed")

    @staticmethod
    def _unavailable(failure: Failure, request: IRequest) -> bytes:
        failure.trap(CameraUnavailable)
        return plain_answer(request, 503, str(failure.value))


def camera_resource(
    hub: CameraHub,
    clock: IReactorTime,
    *,
    stall_timeout: float | None = None,
    in_grid: bool = False,
    recordings_dir: str | Path | None = None,
) -> IResource:
    """
    A twisted.web resource serving C{hub}'s camera: mount it anywhere in a
    resource tree, or under a Klein route with C{branch=True}.

    @param clock: the reactor, for viewers' timers (and, with
        C{recordings_dir}, whose threads read the recordings).
    @param stall_timeout: seconds a viewer's connection may stay full
        before the viewer is presumed gone and disconnected; the hub's
        setting by default.
    @param in_grid: whether the camera is served two levels under a grid of
        cameras, which its page then links to.
    @param recordings_dir: the folder of the recordings the camera plays
        back (C{<recordings_dir>/<camera>/}); L{None} for none.
    """
    return CameraApp(
        hub,
        clock,
        stall_timeout=stall_timeout,
        in_grid=in_grid,
        recordings=recordings_in(recordings_dir, clock),
    ).app.resource()


def recordings_in(
    folder: str | Path | None, reactor: Any, recorder: RecordingService | None = None
) -> Recordings | None:
    """
    The recordings in C{folder}, or in the folder C{recorder} records in
    once it has one, read in C{reactor}'s threads; L{None} for neither, a
    server that does not record.
    """
    if folder is None and recorder is None:
        return None
    given = None if folder is None else Path(folder)

    def now() -> Path | None:
        recording = None if recorder is None else recorder.root
        return given if recording is None else recording

    return Recordings(now, in_threads(reactor))


def set_allow(request: IRequest, failure: Failure) -> None:
    """
    Name in C{Allow} the methods the path of a C{405} answers.
    """
    error = failure.value
    assert isinstance(error, MethodNotAllowed)  # noqa: S101 - narrows the type
    if error.valid_methods:
        request.setHeader(b"allow", ", ".join(error.valid_methods).encode())


def snapshot_name(frame: Frame) -> str:
    """
    A file name for a snapshot: the camera's name and the capture time, in
    UTC, safe in a header and on any file system.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(frame.captured_at))
    return f"{quote(frame.camera or 'camera', safe='')}-{stamp}.jpg"


MIN_FPS = 0.1
MAX_FPS = 1000.0
"""The frame-rate caps a viewer may ask for: one frame in ten seconds at
the least (keepalives are capped too), and more than any camera gives."""


def _parse_fps(request: IRequest) -> float | None:
    """
    The C{fps} query argument as a number from L{MIN_FPS} to L{MAX_FPS},
    or L{None} if absent.

    @raise BadRequestError: if it is there and not such a number. The
        message names the argument and what is allowed, and does not
        repeat what was sent.
    """
    raw = _argument(request, "fps")
    if raw is None:
        return None
    try:
        fps = float(raw)
    except ValueError:
        fps = math.nan
    if not (math.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):
        raise BadRequestError(f"fps must be a number from {MIN_FPS:g} to {MAX_FPS:g}")
    return fps


def _parse_switch(request: IRequest, name: str) -> bool:
    """
    A query argument that is C{1} (on) or C{0} (off, as when absent).

    @raise BadRequestError: for any other value.
    """
    raw = _argument(request, name)
    if raw not in (None, "0", "1"):
        raise BadRequestError(f"{name} must be 0 or 1")
    return raw == "1"


def _argument(request: IRequest, name: str) -> str | None:
    """
    The last value of query argument C{name}, or L{None} if absent.
    """
    values = (request.args or {}).get(name.encode("ascii"))
    return values[-1].decode("utf-8", "replace") if values else None
