"""
Tests for what routes declare of who may use them
(L{camserve.web._permissions}) and what is derived from it
(L{camserve.web._route_table}): every route declares a permission, a route
that declares none stops camserve, an admin's route refuses everyone else,
and the paths an API token opens and the health told to someone are those
the login's own path patterns chose before routes declared them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

import pytest
from klein import Klein
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.web.http import HTTPChannel
from twisted.web.resource import Resource
from twisted.web.server import Request, Site
from werkzeug.exceptions import Forbidden, MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from camserve import CameraService
from camserve.access._login import _as_someone
from camserve.access._tokens import token_camera
from camserve.web._camera_app import CameraApp
from camserve.web._composition import include
from camserve.web._permissions import Permission, allow, declaration_of
from camserve.web._route_table import RouteTable, UndeclaredRouteError
from camserve.web._server_app import SERVER_ROUTES, ServerApp
from camserve.web._token_argument import token_of
from camserve.web._user import User

if TYPE_CHECKING:
    from twisted.web.iweb import IRequest

REPO = Path(__file__).resolve().parent.parent


def request_of(
    path: bytes,
    method: bytes = b"GET",
    headers: dict[bytes, bytes] | None = None,
    args: dict[bytes, list[bytes]] | None = None,
) -> Request:
    """
    A request of C{path} (as sent) with C{method}, C{headers} and query
    C{args}, that answers nobody.
    """
    channel: Any = HTTPChannel()
    channel.site = Site(Resource())
    channel.makeConnection(StringTransport())
    request = Request(channel)
    request.method = method
    request.path = path
    request.args = args or {}
    for name, value in (headers or {}).items():
        request.requestHeaders.setRawHeaders(name, [value])
    return request


# Every route declares who may use it


@pytest.mark.parametrize("app", [ServerApp.app, CameraApp.app])
def test_every_route_declares_who_may_use_it(app: Klein) -> None:
    """
    Every Klein route of the server app (its parts' included) and of a
    camera's app declares a permission, on what Klein calls for it.
    """
    rules = list(app.url_map.iter_rules())
    assert len(rules) >= 5
    undeclared = [
        rule.rule
        for rule in rules
        if declaration_of(app.endpoints[rule.endpoint]) is None
    ]
    assert undeclared == []


def test_who_may_use_each_route() -> None:
    """
    The server's routes, each camera's among them, declare: a logged-in
    user for the pages, the API, C{/streams} and health, and for the
    playback, export, recordings, activity and motion events of the
    cameras they see (which an API token does not open); a viewer of the
    camera (or its token) for each camera's live routes and the first
    camera's stream and snapshot; an admin for a reload and to start or
    stop a recording (anyone, on a server without logins). Health says
    less in public.
    """
    declared = {
        (route.rule, route.permission, route.declaration.says_less_in_public)
        for route in SERVER_ROUTES.routes
    }
    user, camera = Permission.USER, Permission.CAMERA
    assert declared == {
        ("/", user, False),
        ("/static/<name>", user, False),
        ("/favicon.ico", user, False),
        ("/streams", user, False),
        ("/streams/<session>", user, False),
        ("/api/cameras", user, False),
        ("/api/cameras/<path:name>", user, False),
        ("/api/tokens", user, False),
        ("/api/reload", Permission.ADMIN, False),
        ("/healthz", user, True),
        ("/video_feed", camera, False),
        ("/snapshot.jpg", camera, False),
        ("/cameras/", user, False),
        ("/cameras/<path:__rest__>", user, False),
        ("/cameras/<camera>/", camera, False),
        ("/cameras/<camera>/static/<name>", camera, False),
        ("/cameras/<camera>/video_feed", camera, False),
        ("/cameras/<camera>/snapshot.jpg", camera, False),
        ("/cameras/<camera>/healthz", camera, True),
        ("/api/cameras/<name>/export", user, False),
        ("/api/cameras/<name>/events", user, False),
        ("/api/cameras/<name>/recording", Permission.ADMIN, False),
        ("/api/cameras/<name>/recordings", user, False),
        ("/api/cameras/<name>/activity", user, False),
        ("/cameras/<camera>/playback", user, False),
        ("/cameras/<camera>/playback/<session>", user, False),
    }


# A route that declares nothing fails loudly


class Declared:
    """
    An app of one declared route.
    """

    app = Klein()

    @app.route("/recordings", methods=["GET"])
    @allow(Permission.CAMERA)
    def recordings(self, request: IRequest) -> bytes:  # noqa: ARG002 - Klein passes it
        return b"recordings"


def test_a_route_that_declares_nothing_is_refused() -> None:
    """
    The table of an app with a route that declares no permission, or that
    declares it above its C{@app.route} (so that what Klein calls declares
    nothing, and would check nothing), cannot be made: the error names the
    route.
    """

    class Undeclared:
        app = Klein()
        include(app, Declared.app, lambda _: Declared().app)

        @app.route("/api/export", methods=["GET"])
        def export(self, request: IRequest) -> bytes:  # noqa: ARG002 - Klein passes it
            return b"export"

    with pytest.raises(
        UndeclaredRouteError,
        match=r"^route /api/export \(export\) declares no permission",
    ):
        RouteTable(Undeclared.app)

    class Misplaced:
        app = Klein()

        @allow(Permission.USER)
        @app.route("/metrics", methods=["GET"])
        def metrics(self, request: IRequest) -> bytes:  # noqa: ARG002 - Klein passes it
            return b"metrics"

    with pytest.raises(UndeclaredRouteError, match=r"^route /metrics \(metrics\)"):
        RouteTable(Misplaced.app)


def test_a_camera_route_that_declares_nothing_is_refused() -> None:
    """
    A route of each camera below a branch of camera routes that declares
    nothing is refused too, named by its whole path.
    """

    class Cameras:
        app = Klein()

        @app.route("/recordings", methods=["GET"])
        def recordings(self, request: IRequest) -> bytes:  # noqa: ARG002 - Klein passes it
            return b"recordings"

    class Server:
        app = Klein()

        @app.route("/cameras/", branch=True)
        @allow(Permission.USER, camera_routes=Cameras.app)
        def cameras(self, request: IRequest) -> bytes:  # noqa: ARG002 - Klein passes it
            return b""

    with pytest.raises(
        UndeclaredRouteError,
        match=r"^route /cameras/<camera>/recordings \(recordings\) declares no",
    ):
        RouteTable(Server.app)


def test_a_route_that_declares_nothing_stops_camserve(tmp_path: Path) -> None:
    """
    camserve, with a route of each camera written without a declaration,
    does not start: it cannot be imported, and the error names the route.
    """
    copy = tmp_path / "camserve"
    shutil.copytree(REPO / "camserve", copy)

    def start() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", "import camserve"],
            cwd=tmp_path,
            env={"PYTHONPATH": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    clean = start()
    assert (clean.returncode, clean.stderr) == (0, "")
    module = copy / "web" / "_camera_app.py"
    source = module.read_text(encoding="utf-8")
    handler = "    @app.handle_errors(NotFound)\n"
    assert source.count(handler) == 1
    route = (
        '    @app.route("/recordings", methods=["GET"])\n'
        "    def recordings(self, request: Request) -> bytes:\n"
        '        return b""\n\n'
    )
    module.write_text(source.replace(handler, route + handler), encoding="utf-8")
    done = start()
    assert done.returncode == 1
    assert (
        "UndeclaredRouteError: route /cameras/<camera>/recordings (recordings)"
        " declares no permission"
    ) in done.stderr


def test_a_declared_camera_route_is_opened_by_its_token() -> None:
    """
    A new route of each camera, once declared, is matched below the branch
    as the camera's: its token opens it.
    """

    class Server:
        app = Klein()

        @app.route("/cameras/", branch=True)
        @allow(Permission.USER, camera_routes=Declared.app)
        def cameras(self, request: IRequest) -> bytes:  # noqa: ARG002 - Klein passes it
            return b""

    found = RouteTable(Server.app).find(b"/cameras/a%2Fb/recordings", b"GET")
    assert found is not None
    assert found.route.rule == "/cameras/<camera>/recordings"
    assert found.route.permission is Permission.CAMERA
    assert found.camera(None) == "a/b"


# An admin's route


class Admins:
    """
    An app of one admin's route, for C{user}.
    """

    app = Klein()

    def __init__(self, user: User | None) -> None:
        self.user = user

    @app.route("/restart", methods=["POST"])
    @allow(Permission.ADMIN, action="restart")
    def restart(self, request: IRequest) -> bytes:  # noqa: ARG002 - Klein passes it
        return b"restarted"


def test_an_admins_route_refuses_anyone_else() -> None:
    """
    An admin's route serves an admin, and refuses a viewer and everyone
    without logins with L{Forbidden}, saying who may, before it runs.
    """
    request = request_of(b"/restart", b"POST")
    assert Admins(User("alice", "admin")).restart(request) == b"restarted"
    for user in [User("bob", "viewer"), None]:
        with pytest.raises(Forbidden) as refused:
            Admins(user).restart(request)
        assert refused.value.description == "only an admin may restart"


@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        (b"/api/restart", b"application/json", b'{"error": "only an admin may"}\n'),
        (b"/restart", b"text/plain; charset=utf-8", b"only an admin may\n"),
    ],
)
def test_a_refusal_is_answered_as_the_path_is(
    path: bytes, content_type: bytes, body: bytes
) -> None:
    """
    The server app answers a refusal C{403} in JSON under C{/api}, in plain
    text elsewhere, as it answers an unknown path.
    """
    clock = Clock()
    app = ServerApp(CameraService(clock), clock)
    request = request_of(path, b"POST")
    answer = app.forbidden(request, Failure(Forbidden("only an admin may")))
    assert (request.code, answer) == (403, body)
    assert request.responseHeaders.getRawHeaders(b"content-type") == [content_type]


# What is derived is what the login chose by path before

CAMERA_PATH = re.compile(
    rb"/cameras/(?P<name>[^/]+)/(?P<route>|video_feed|snapshot\.jpg|healthz|static/[^/]+)"
)
CAMERA_HEALTH = re.compile(rb"/cameras/[^/]+/healthz")


def token_camera_before(path: bytes, first: str | None) -> str | None:
    """
    The camera whose token opens C{path}, as chosen before routes declared
    who may use them: by these patterns of paths, as sent.
    """
    if path in (b"/video_feed", b"/snapshot.jpg"):
        return first
    match = CAMERA_PATH.fullmatch(path)
    if match is None:
        return None
    try:
        return unquote_to_bytes(match["name"]).decode("utf-8")
    except UnicodeDecodeError:
        return None


def as_someone_before(request: IRequest, path: bytes) -> bool:
    """
    Whether a request of a public C{path} is served as its user, as chosen
    before routes declared who may use them.
    """
    camera = CAMERA_HEALTH.fullmatch(path) is not None
    if request.getHeader(b"authorization") is not None:
        return camera or path == b"/healthz"
    return camera and token_of(request) is not None


NAMES = ["porch", "a%2Fb", "%FF", "back%20yard", "%2E%2E", "video_feed", "x.y"]
BELOW = [
    "",
    "video_feed",
    "snapshot.jpg",
    "healthz",
    "static/camserve.css",
    "static/x",
    "static/",
    "static/a/b",
    "static/a%2Fb",
    "static//x",
    "video_feed/",
    "healthz/x",
    "other",
    "video%5Ffeed",
    "snapshot%2Ejpg",
    "HEALTHZ",
    "/",
    "/healthz",
    "cameras/porch/healthz",
    "playback",
    "playback/abc",
    "playback/",
    "playback/abc/def",
]
PATHS = [
    *(f"/cameras/{name}/{below}" for name in NAMES for below in BELOW),
    *(f"/cameras/{name}" for name in NAMES),
    *(f"{prefix}/cameras/porch/healthz" for prefix in ["", "/", "/api", "/x"]),
    "/video_feed",
    "/snapshot.jpg",
    "/video_feed/",
    "/snapshot.jpg/x",
    "//video_feed",
    "/video%5Ffeed",
    "/api/cameras",
    "/api/cameras/porch",
    "/api/cameras/porch/healthz",
    "/api/cameras/porch/video_feed",
    "/api/cameras/porch/export",
    "/api/cameras/a%2Fb/export",
    "/api/cameras/porch/export/x",
    "/api/cameras//export",
    "/api/tokens",
    "/api/reload",
    "/api",
    "/streams",
    "/streams/porch",
    "/",
    "/healthz",
    "/healthz/",
    "/static/camserve.css",
    "/favicon.ico",
    "/cameras/",
    "/cameras",
    "/cameras//",
    "/cameras//video_feed",
    "/cameras//healthz",
    "/nothing-here",
    "",
    "*",
    "cameras/porch/healthz",
    "/CAMERAS/porch/video_feed",
]
METHODS = [b"GET", b"HEAD", b"POST", b"DELETE"]


def test_a_token_opens_the_paths_it_opened() -> None:
    """
    The paths an API token opens, and the camera it must be of, are derived
    from the routes' declarations and are those the login's patterns chose
    before: a camera's page, its files, stream, snapshot and health, and
    the first camera's stream and snapshot, with any method; nothing else.
    """
    derived, before = {}, {}
    for path in PATHS:
        for first in ["porch", None]:
            for method in METHODS:
                asked = (path, first, method)
                derived[asked] = token_camera(path.encode(), first, method)
                before[asked] = token_camera_before(path.encode(), first)
    assert derived == before
    opened = {camera for camera in before.values() if camera is not None}
    assert opened == {"porch", "a/b", "back yard", "..", "video_feed", "x.y"}
    assert list(before.values()).count(None) > len(before) / 2


def test_health_is_told_to_whom_it_was() -> None:
    """
    A request of a public path is served as its user (who may be told more
    than everyone) where the login chose so before: health, with a login,
    or a camera's health with a token; whether a route says less in public
    is derived from its declaration.
    """
    derived, before = {}, {}
    for path in PATHS:
        headers: dict[bytes, bytes]
        for headers in [{}, {b"authorization": b"Basic eDp5"}]:
            args: dict[bytes, list[bytes]]
            for args in [{}, {b"token": [b"t"]}]:
                request = request_of(path.encode(), headers=headers, args=args)
                asked = (path, bool(headers), bool(args))
                derived[asked] = _as_someone(request, path.encode())
                before[asked] = as_someone_before(request, path.encode())
    assert derived == before
    # A camera's health with a login (with a token or not) or a token, and
    # /healthz with a login.
    assert sum(before.values()) == 3 * len(NAMES) + 2


def klein_route(path: str, method: str) -> str | None:
    """
    The rule Klein routes a request of C{path} to in a server app, below
    C{/cameras/<name>/} the rule of the camera's app (or else the branch's);
    L{None} for a path no route answers with C{method}.
    """
    adapter = ServerApp.app.url_map.bind("camserve.test")
    try:
        rule, arguments = adapter.match(path, method, return_rule=True)
    except (NotFound, MethodNotAllowed, RequestRedirect):
        return None
    _, slash, below = arguments.get("__rest__", "").partition("/")
    if rule.endpoint != "cameras_branch" or not slash:
        return str(rule.rule)
    adapter = CameraApp.app.url_map.bind("camserve.test")
    try:
        rule, _ = adapter.match("/" + below, method, return_rule=True)
    except MethodNotAllowed:
        return None
    except (NotFound, RequestRedirect):
        return "/cameras/<path:__rest__>"
    return "/cameras/<camera>" + str(rule.rule)


def test_the_table_finds_the_route_klein_does() -> None:
    """
    For a path with nothing escaped and no empty segment, the table finds
    the route Klein routes its request to (below the cameras' branch, the
    camera app's). Klein reads C{//} as C{/} where the table, as the
    login's patterns before it, matches the path as sent.
    """
    plain = [
        path
        for path in PATHS
        if path.startswith("/") and "%" not in path and "//" not in path
    ]
    found, routed = {}, {}
    for path in [*plain, "/api/tokens", "/api/reload"]:
        for method in ["GET", "POST"]:
            match = SERVER_ROUTES.find(path.encode(), method.encode())
            answers = match is not None and (
                match.route.methods is None or method in match.route.methods
            )
            found[path, method] = match.route.rule if match and answers else None
            routed[path, method] = klein_route(path, method)
    assert found == routed
    assert len({rule for rule in routed.values() if rule is not None}) >= 15


def test_a_camera_route_names_the_first_camera_or_its_own() -> None:
    """
    A camera's route below the cameras' branch is the camera its path
    names, decoded once; the server's own camera routes are the first
    camera's.
    """
    for path, first, camera in [
        (b"/cameras/back%20yard/healthz", "porch", "back yard"),
        (b"/cameras/a%252Fb/", "porch", "a%2Fb"),
        (b"/snapshot.jpg", "porch", "porch"),
        (b"/video_feed", None, None),
    ]:
        found = SERVER_ROUTES.find(path, b"GET")
        assert found is not None
        assert found.camera(first) == camera, path


def test_served_is_checked_where_it_is_declared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """
    The admin's route of the API checks the user of its own part, which
    the server app gives it.
    """
    clock = Clock()
    viewer = ServerApp(CameraService(clock), clock, user=User("bob", "viewer"))
    assert viewer.api.user == User("bob", "viewer")
    request = request_of(b"/api/reload", b"POST")
    with pytest.raises(Forbidden):
        viewer.api.api_reload(request)
    monkeypatch.setattr(viewer.api, "user", User("alice", "admin"))
    assert viewer.api.api_reload(request) is not None
