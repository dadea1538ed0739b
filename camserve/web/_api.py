# -*- test-case-name: tests.test_server_app,tests.test_tokens,tests.test_login -*-
"""
A server app's JSON API, under C{/api/}: its cameras, API tokens, and
reloading the config file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from klein import Klein

from camserve.web._permissions import Permission, allow
from camserve.web._reports import camera_details, camera_summary
from camserve.web._requests import (
    RefusedError,
    json_answer,
    json_body,
    token_request,
)

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred
    from twisted.web.server import Request

    from camserve.web._cameras_seen import CamerasSeen
    from camserve.web._collaborators import Reload, Reloaded, TokenMinter
    from camserve.web._user import User


class ApiRoutes:
    """
    The API of the cameras a user sees, which a server app serves as its
    own routes.

    @ivar user: who the API serves; L{None} for everyone, without logins.
    """

    app = Klein()

    def __init__(
        self,
        seen: CamerasSeen,
        *,
        user: User | None = None,
        tokens: TokenMinter | None = None,
        reload: Reload | None = None,
    ) -> None:
        """
        @param seen: the cameras the API tells of.
        @param user: who logged in; L{None} without logins.
        @param tokens: mints API tokens for C{user}; L{None} for none.
        @param reload: what C{POST /api/reload} calls for an admin.
        """
        self._seen = seen
        self.user = user
        self._tokens = tokens
        self._reload = reload

    @app.route("/api/cameras", methods=["GET"])
    @allow(Permission.USER)
    def api_cameras(self, request: Request) -> bytes:
        """
        Every camera's name, driver, state, viewers, frame rate and size.
        """
        seen = self._seen
        summaries = [camera_summary(hub, seen.viewers(hub)) for hub in seen.hubs()]
        return json_answer(request, summaries)

    @app.route("/api/cameras/<path:name>", methods=["GET"])
    @allow(Permission.USER)
    def api_camera(self, request: Request, name: str) -> bytes:
        """
        One camera, with its driver's details and its timeouts.
        """
        if request.postpath:
            # Klein matched the route against the path with every segment
            # decoded; past its three segments, the path goes on below a
            # camera (a%2Fb is camera "a/b", a/b a path below camera "a").
            return json_answer(request, {"error": "not found"}, 404)
        hub = self._seen.hub(name)
        if hub is None:
            return self._seen.unknown(request)
        return json_answer(request, camera_details(hub, self._seen.viewers(hub)))

    @app.route("/api/tokens", methods=["POST"])
    @allow(Permission.USER)
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
        if self._seen.hub(name) is None:
            return self._seen.unknown(request)
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
    @allow(Permission.ADMIN, action="reload")
    def api_reload(self, request: Request) -> Deferred[bytes] | bytes:
        """
        Read the config file again and apply it, as C{SIGHUP} does, asked
        with a JSON body (C{{}}) from the same origin. Answers the cameras
        added, removed, restarted and unchanged and the users whose logins
        changed; or C{400} with the file's mistake, which changes nothing.
        """
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
