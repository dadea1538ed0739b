# -*- test-case-name: tests.test_server_app -*-
"""
The HTTP face of a whole L{CameraService}: a grid of every camera, each
camera's own routes under C{/cameras/<name>/}, a JSON API, health, and the
stream of several cameras over one connection that the grid uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from klein import Klein
from werkzeug.exceptions import MethodNotAllowed, NotFound

from camserve.camera._states import CameraUnavailable
from camserve.streams._multi_viewer import MultiViewer
from camserve.streams._stream import set_stream_headers
from camserve.web._camera_app import CameraApp, plain_answer, set_allow
from camserve.web._pages import GridPage
from camserve.web._reports import camera_details, camera_summary, health_report
from camserve.web._requests import (
    RefusedError,
    json_answer,
    json_body,
    stream_choice,
    token_request,
    under_api,
    unknown_camera,
)
from camserve.web._resources import Answer, CamerasResource, redirect_to_page
from camserve.web._static import static_file

if TYPE_CHECKING:
    from collections.abc import Mapping

    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IReactorTime
    from twisted.python.failure import Failure
    from twisted.web.iweb import IRequest
    from twisted.web.resource import IResource
    from twisted.web.server import Request

    from camserve.camera._hub import CameraHub
    from camserve.camera._service import CameraService
    from camserve.web._collaborators import Reload, Reloaded, TokenMinter
    from camserve.web._user import User


class ServerApp:
    """
    Routes for every camera of a service, relative to wherever the app is
    mounted. Cameras added to or removed from the service are served or
    forgotten from the next request on.

    An app made for a logged-in L{User} serves only the cameras the user
    sees: to them the others do not exist (left out of the grid, the API,
    C{/streams} and C{/healthz}; C{404} on their routes).

    An app for those who did not log in, in front of logins, tells no
    camera's name, driver or source in C{/healthz}: only whether all is
    well and how many cameras there are and have failed; a camera's own
    health only its name and state.

    @ivar user: who the app serves; L{None} for everyone.
    """

    app = Klein()
    # A camera's name may hold slashes (sent as %2F), which routes see
    # decoded: a path with two in a row must not be redirected to one with
    # one, which would name another camera.
    app.url_map.merge_slashes = False

    def __init__(
        self,
        service: CameraService,
        clock: IReactorTime,
        *,
        user: User | None = None,
        tokens: TokenMinter | None = None,
        reload: Reload | None = None,
        anonymous: bool = False,
    ) -> None:
        """
        @param user: who logged in; L{None} without logins.
        @param tokens: mints API tokens for C{user}; L{None} for none.
        @param reload: what C{POST /api/reload} calls for an admin.
        @param anonymous: whether the app serves those who did not log in,
            in front of logins, whose health then says little.
        """
        self._service = service
        self.user = user
        self._anonymous = anonymous
        self._tokens = tokens
        self._reload = reload
        self._clock = clock
        # One app per camera, made on first use and forgotten on the first
        # request after its camera is removed. By name: an app refers to its
        # hub, so a weak key (the hub) would never be let go of.
        self._camera_apps: dict[str, tuple[CameraHub, CameraApp, IResource]] = {}
        self._cameras = CamerasResource(self.camera)

    # Pages

    @app.route("/", methods=["GET"])
    def index(self, request: Request) -> GridPage:
        """
        Every camera's live picture in a grid.
        """
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        return GridPage(self._hubs(), viewers=self._viewers, user=self.user)

    @app.route("/cameras/", branch=True, strict_slashes=False)
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
        hub = self._hub(name)
        if hub is None:
            return Answer(self._unknown)
        if not request.postpath:
            # A camera's page is at its name with a slash, so that its
            # relative links work.
            return Answer(lambda answered: redirect_to_page(answered, name))
        return self._camera_app(hub)[1]

    @app.route("/static/<name>", methods=["GET"])
    def static(self, request: Request, name: str) -> bytes:
        """
        The pages' stylesheet, scripts and images.
        """
        content = static_file(request, name)
        return plain_answer(request, 404, "not found") if content is None else content

    @app.route("/favicon.ico", methods=["GET"])
    def favicon(self, request: Request) -> bytes | None:
        """
        The icon, for browsers that ask for it before reading the page.
        """
        return static_file(request, "favicon.svg")

    # The first camera, where a one-camera camserve had them

    @app.route("/video_feed", methods=["GET"])
    def video_feed(self, request: Request) -> Deferred[Any] | bytes:
        """
        The first camera's stream, with every query option of a camera's.
        """
        first = self._first_app()
        if first is None:
            return plain_answer(request, 404, "no camera is configured")
        return first.video_feed(request)

    @app.route("/snapshot.jpg", methods=["GET"])
    def snapshot(self, request: Request) -> Deferred[bytes] | bytes:
        """
        A fresh JPEG of the first camera.
        """
        first = self._first_app()
        if first is None:
            return plain_answer(request, 404, "no camera is configured")
        return first.snapshot(request)

    # Several cameras on one connection

    @app.route("/streams", methods=["GET"])
    def streams(self, request: Request) -> Deferred[None] | bytes:
        """
        The live frames of several cameras as one stream, each part naming
        its camera in an C{X-Camera} header: C{?cameras=a,b} (every camera
        by default). C{?size=thumbnail} sends every camera's frames about
        320 pixels wide instead of full size; C{?thumbnails=b} only those of
        the cameras named.
        """
        hubs = self._visible()
        try:
            wanted, shrunk = stream_choice(request, hubs)
        except RefusedError as refused:
            return plain_answer(request, refused.code, str(refused))
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

    # The API and health

    @app.route("/api/cameras", methods=["GET"])
    def api_cameras(self, request: Request) -> bytes:
        """
        Every camera's name, driver, state, viewers, frame rate and size.
        """
        return json_answer(request, [self._summary(hub) for hub in self._hubs()])

    @app.route("/api/cameras/<path:name>", methods=["GET"])
    def api_camera(self, request: Request, name: str) -> bytes:
        """
        One camera, with its driver's details and its timeouts.
        """
        if request.postpath:
            # Klein matched the route against the path with every segment
            # decoded; past its three segments, the path goes on below a
            # camera (a%2Fb is camera "a/b", a/b a path below camera "a").
            return json_answer(request, {"error": "not found"}, 404)
        hub = self._hub(name)
        if hub is None:
            return self._unknown(request)
        return json_answer(request, camera_details(hub, self._viewers(hub)))

    @app.route("/api/tokens", methods=["POST"])
    def api_tokens(self, request: Request) -> bytes:
        """
        Mint an API token for the logged-in user, for one camera they see:
        a JSON body C{{"camera": name, "seconds": n}} (an hour unless
        given), asked with C{Content-Type: application/json} from the same
        origin (C{415} and C{403} otherwise). Answers the token, its expiry
        in Unix time, and the camera's stream and snapshot with it.
        """
        tokens, user = self._tokens, self.user
        if tokens is None or user is None:
            return json_answer(request, {"error": "not found"}, 404)
        try:
            name, seconds = token_request(request, tokens.longest)
        except RefusedError as refused:
            return json_answer(request, {"error": str(refused)}, refused.code)
        if self._hub(name) is None:
            return self._unknown(request)
        token, expires = tokens.mint(user, name, seconds)
        path = f"cameras/{quote(name, safe='')}/"
        query = f"?token={quote(token, safe='')}"
        return json_answer(
            request,
            {
                "token": token,
                "expires": expires,
                "stream": f"{path}video_feed{query}",
                "snapshot": f"{path}snapshot.jpg{query}",
            },
        )

    @app.route("/api/reload", methods=["POST"])
    def api_reload(self, request: Request) -> Deferred[bytes] | bytes:
        """
        Read the config file again and apply it, as C{SIGHUP} does: for a
        logged-in admin (C{403} for anyone else), asked with a JSON body
        (C{{}}) from the same origin. Answers the cameras added, removed,
        restarted and unchanged and the users whose logins changed; or
        C{400} with the file's mistake, which changes nothing.
        """
        user = self.user
        if user is None or not user.may("admin"):
            return json_answer(request, {"error": "only an admin may reload"}, 403)
        try:
            json_body(request)
        except RefusedError as refused:
            return json_answer(request, {"error": str(refused)}, refused.code)
        reloading = None if self._reload is None else self._reload()
        if reloading is None:
            return json_answer(
                request, {"error": "not started from a config file"}, 409
            )

        def answer(done: Reloaded) -> bytes:
            return json_answer(
                request, done.as_json(), 200 if done.error is None else 400
            )

        return reloading.addCallback(answer)

    @app.route("/healthz", methods=["GET"])
    def healthz(self, request: Request) -> bytes:
        """
        Every camera's health; C{503} naming the cameras that are failing.
        For those who did not log in, in front of logins, only whether all
        is well, how many cameras there are and how many are failing.
        """
        report, code = health_report(
            self._hubs(), self._viewers, anonymous=self._anonymous
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

    # Helpers

    def _visible(self) -> Mapping[str, CameraHub]:
        """
        The service's hubs the app's user sees, by name.
        """
        hubs = self._service.hubs
        user = self.user
        if user is None or user.cameras is None:
            return hubs
        return {name: hub for name, hub in hubs.items() if user.sees(name)}

    def _hubs(self) -> list[CameraHub]:
        self._forget_removed()
        return list(self._visible().values())

    def _hub(self, name: str) -> CameraHub | None:
        self._forget_removed()
        return self._visible().get(name)

    def _camera_app(self, hub: CameraHub) -> tuple[CameraApp, IResource]:
        made = self._camera_apps.get(hub.name)
        if made is None or made[0] is not hub:
            app = CameraApp(
                hub,
                self._clock,
                in_grid=True,
                share=self._tokens is not None and self.user is not None,
                details=not self._anonymous,
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
        hubs = self._hubs()
        return self._camera_app(hubs[0])[0] if hubs else None

    def _unknown(self, request: IRequest) -> bytes:
        return unknown_camera(request, sorted(self._visible()))

    def _viewers(self, hub: CameraHub) -> int:
        """
        How many watch C{hub}'s camera: its own viewers, and those of its
        thumbnails.
        """
        thumbnails = self._service.thumbnail_hubs.get(hub.name)
        return hub.viewers + (0 if thumbnails is None else thumbnails.viewers)

    def _summary(self, hub: CameraHub) -> dict[str, Any]:
        return camera_summary(hub, self._viewers(hub))


def service_resource(service: CameraService, clock: IReactorTime) -> IResource:
    """
    A twisted.web resource serving every camera of C{service}: a grid page
    at its root, each camera under C{cameras/<name>/}, the API under
    C{api/}, and C{healthz}. Mount it anywhere in a resource tree, or under
    a Klein route with C{branch=True}.

    @param clock: the reactor, for viewers' timers.
    """
    return ServerApp(service, clock).app.resource()
