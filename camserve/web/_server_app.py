# -*- test-case-name: tests.test_server_app -*-
"""
The HTTP face of a whole L{CameraService}: a grid of every camera, each
camera's own routes under C{/cameras/<name>/}, a JSON API, health, and the
stream of several cameras over one connection that the grid uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from klein import Klein
from werkzeug.exceptions import Forbidden, MethodNotAllowed, NotFound

from camserve.web._api import ApiRoutes
from camserve.web._camera_app import CameraApp, recordings_in, set_allow
from camserve.web._cameras_seen import CamerasSeen
from camserve.web._composition import include
from camserve.web._events_route import EventsRoute
from camserve.web._export_route import ExportRoute
from camserve.web._page_routes import PageRoutes
from camserve.web._permissions import Permission, allow
from camserve.web._recording_routes import RecordingRoutes
from camserve.web._reports import health_report
from camserve.web._requests import json_answer, plain_answer, under_api
from camserve.web._resources import Answer, CamerasResource, redirect_to_page
from camserve.web._route_table import RouteTable
from camserve.web._streams_route import StreamsRoute

if TYPE_CHECKING:
    from pathlib import Path

    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IReactorTime
    from twisted.python.failure import Failure
    from twisted.web.iweb import IRequest
    from twisted.web.resource import IResource
    from twisted.web.server import Request

    from camserve.camera._hub import CameraHub
    from camserve.camera._service import CameraService
    from camserve.recording._service import RecordingService
    from camserve.web._collaborators import Reload, TokenMinter
    from camserve.web._user import User


class ServerApp:
    """
    Routes for every camera of a service, relative to wherever the app is
    mounted. Cameras added to or removed from the service are served or
    forgotten from the next request on.

    The app serves its parts' routes as its own: the pages
    (L{PageRoutes}), the stream of several cameras (L{StreamsRoute}) and
    the API (L{ApiRoutes}); its own are each camera's routes, the first
    camera's stream and snapshot, and health. Each route declares who may
    use it (L{allow}); L{SERVER_ROUTES} is what they declare.

    An app made for a logged-in L{User} serves only the cameras the user
    sees: to them the others do not exist (left out of the grid, the API,
    C{/streams} and C{/healthz}; C{404} on their routes).

    An app for those who did not log in, in front of logins, tells no
    camera's name, driver or source in C{/healthz}: only whether all is
    well and how many cameras there are and have failed; a camera's own
    health only its name and state.

    @ivar user: who the app serves; L{None} for everyone.
    @ivar pages: the grid and the files pages load.
    @ivar streams: the stream of several cameras.
    @ivar api: the JSON API.
    @ivar export: the export of recordings.
    @ivar events: the list of motion events.
    @ivar recording: the control and listing of recordings.
    """

    app = Klein()
    # A camera's name may hold slashes (sent as %2F), which routes see
    # decoded: a path with two in a row must not be redirected to one with
    # one, which would name another camera.
    app.url_map.merge_slashes = False
    include(app, PageRoutes.app, lambda server: server.pages.app)
    include(app, StreamsRoute.app, lambda server: server.streams.app)
    include(app, ApiRoutes.app, lambda server: server.api.app)
    include(app, ExportRoute.app, lambda server: server.export.app)
    include(app, EventsRoute.app, lambda server: server.events.app)
    include(app, RecordingRoutes.app, lambda server: server.recording.app)

    def __init__(
        self,
        service: CameraService,
        clock: IReactorTime,
        *,
        user: User | None = None,
        tokens: TokenMinter | None = None,
        reload: Reload | None = None,
        anonymous: bool = False,
        recordings_dir: str | Path | None = None,
        recorder: RecordingService | None = None,
    ) -> None:
        """
        @param clock: the reactor, for viewers' timers (and, with
            C{recordings_dir}, whose threads read the recordings).
        @param user: who logged in; L{None} without logins.
        @param tokens: mints API tokens for C{user}; L{None} for none.
        @param reload: what C{POST /api/reload} calls for an admin.
        @param anonymous: whether the app serves those who did not log in,
            in front of logins, whose health then says little.
        @param recordings_dir: the folder of the cameras' recordings, which
            they play back and export (C{<recordings_dir>/<camera>/});
            L{None} for a server that does not record.
        @param recorder: what records the service's cameras, whose
            recordings health and the API report; L{None} for nothing.
        """
        self._service = service
        self._recorder = recorder
        self.user = user
        self._anonymous = anonymous
        self._share = tokens is not None and user is not None
        # Who may start and stop recordings: anyone without logins.
        self._admin = user.may("admin") if user is not None else not anonymous
        self._clock = clock
        # One app per camera, made on first use and forgotten on the first
        # look-up after its camera is removed. By name: an app refers to its
        # hub, so a weak key (the hub) would never be let go of.
        self._camera_apps: dict[str, tuple[CameraHub, CameraApp, IResource]] = {}
        self._cameras = CamerasResource(self.camera)
        self._seen = CamerasSeen(service, user, self._forget_removed)
        self.pages = PageRoutes(self._seen, user=user)
        self._recordings = recordings_in(recordings_dir, clock, recorder)
        self.streams = StreamsRoute(service, self._seen, clock, self._recordings)
        self.api = ApiRoutes(
            self._seen,
            user=user,
            tokens=tokens,
            reload=reload,
            recorder=recorder,
        )
        self.export = ExportRoute(self._seen, self._recordings, clock)
        self.events = EventsRoute(self._seen, recorder)
        self.recording = RecordingRoutes(
            self._seen,
            user=user,
            logins=user is not None or anonymous,
            recorder=recorder,
            recordings=self._recordings,
        )

    # Each camera

    @app.route("/cameras/", branch=True, strict_slashes=False)
    @allow(Permission.USER, camera_routes=CameraApp.app)
    def cameras(self, request: Request) -> IResource:  # noqa: ARG002 - Klein passes it
        """
        Everything of each camera under its name: its page, stream, snapshot
        and health.
        """
        return self._cameras

    def camera(self, request: IRequest, name: str) -> IResource:
        """
        The resource of camera C{name}, for a request of C{cameras/<name>}
        and the path after it.
        """
        if not name:
            return Answer(lambda answered: plain_answer(answered, 404, "not found"))
        hub = self._seen.hub(name)
        if hub is None:
            return Answer(self._seen.unknown)
        if not request.postpath:
            # A camera's page is at its name with a slash, so that its
            # relative links work.
            return Answer(lambda answered: redirect_to_page(answered, name))
        return self._camera_app(hub)[1]

    # The first camera, where a one-camera camserve had them

    @app.route("/video_feed", methods=["GET"])
    @allow(Permission.CAMERA)
    def video_feed(self, request: Request) -> Deferred[Any] | bytes:
        """
        The first camera's stream, with every query option of a camera's.
        """
        first = self._first_app()
        if first is None:
            return plain_answer(request, 404, "no camera is configured")
        return first.video_feed(request)

    @app.route("/snapshot.jpg", methods=["GET"])
    @allow(Permission.CAMERA)
    def snapshot(self, request: Request) -> Deferred[bytes] | bytes:
        """
        A fresh JPEG of the first camera.
        """
        first = self._first_app()
        if first is None:
            return plain_answer(request, 404, "no camera is configured")
        return first.snapshot(request)

    # Health

    @app.route("/healthz", methods=["GET"])
    @allow(Permission.USER, says_less_in_public=True)
    def healthz(self, request: Request) -> bytes:
        """
        Every camera's health; C{503} naming the cameras that are failing.
        For those who did not log in, in front of logins, only whether all
        is well, how many cameras there are and how many are failing.
        """
        report, code = health_report(
            self._seen.hubs(),
            self._seen.viewers,
            anonymous=self._anonymous,
            recorder=self._recorder,
        )
        return json_answer(request, report, code)

    # Errors

    @app.handle_errors(NotFound)
    def not_found(self, request: IRequest, failure: Failure) -> bytes:  # noqa: ARG002 - Klein passes it by name
        """
        Unknown paths.
        """
        if under_api(request):
            return json_answer(request, {"error": "not found"}, 404)
        return plain_answer(request, 404, "not found")

    @app.handle_errors(MethodNotAllowed)
    def method_not_allowed(self, request: IRequest, failure: Failure) -> bytes:
        """
        Known paths asked with a method they do not answer.
        """
        set_allow(request, failure)
        if under_api(request):
            return json_answer(request, {"error": "method not allowed"}, 405)
        return plain_answer(request, 405, "method not allowed")

    @app.handle_errors(Forbidden)
    def forbidden(self, request: IRequest, failure: Failure) -> bytes:
        """
        Routes their user may not use, saying who may.
        """
        refused = failure.value
        assert isinstance(refused, Forbidden)  # noqa: S101 - narrows the type
        message = str(refused.description)
        if under_api(request):
            return json_answer(request, {"error": message}, 403)
        return plain_answer(request, 403, message)

    # Helpers

    def _camera_app(self, hub: CameraHub) -> tuple[CameraApp, IResource]:
        made = self._camera_apps.get(hub.name)
        if made is None or made[0] is not hub:
            app = CameraApp(
                hub,
                self._clock,
                in_grid=True,
                share=self._share,
                details=not self._anonymous,
                recordings=self._recordings,
                recorder=self._recorder,
                admin=self._admin,
            )
            made = self._camera_apps[hub.name] = (hub, app, app.app.resource())
        return made[1], made[2]

    def _forget_removed(self) -> None:
        """
        Drop the apps of cameras removed (or replaced) since they were made,
        and so the hubs they hold.
        """
        hubs = self._service.hubs
        for name, (known, _, _) in list(self._camera_apps.items()):
            if hubs.get(name) is not known:
                del self._camera_apps[name]

    def _first_app(self) -> CameraApp | None:
        hubs = self._seen.hubs()
        return self._camera_app(hubs[0])[0] if hubs else None


SERVER_ROUTES = RouteTable(ServerApp.app)
"""Every route of a server app, each camera's included, with what it
declares: built as the module is imported, so that a route that declares
nothing stops camserve at once."""


def service_resource(
    service: CameraService,
    clock: IReactorTime,
    *,
    recordings_dir: str | Path | None = None,
    recorder: RecordingService | None = None,
) -> IResource:
    """
    A twisted.web resource serving every camera of C{service}: a grid page
    at its root, each camera under C{cameras/<name>/}, the API under
    C{api/}, and C{healthz}. Mount it anywhere in a resource tree, or under
    a Klein route with C{branch=True}.

    @param clock: the reactor, for viewers' timers (and, with
        C{recordings_dir}, whose threads read the recordings).
    @param recordings_dir: the folder of the cameras' recordings, which
        they play back and export; L{None} for none.
    @param recorder: what records the cameras, whose recordings health
        and the API report; L{None} for nothing.
    """
    return ServerApp(
        service, clock, recordings_dir=recordings_dir, recorder=recorder
    ).app.resource()
