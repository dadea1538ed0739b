# -*- test-case-name: tests.test_server_app -*-
"""
A server app's pages: the grid of every camera, and the files pages load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from klein import Klein

from camserve.web._pages import GridPage
from camserve.web._permissions import Permission, allow
from camserve.web._requests import plain_answer
from camserve.web._static import static_file

if TYPE_CHECKING:
    from twisted.web.server import Request

    from camserve.web._cameras_seen import CamerasSeen
    from camserve.web._user import User


class PageRoutes:
    """
    The pages of the cameras a user sees, which a server app serves as its
    own routes.
    """

    app = Klein()

    def __init__(self, seen: CamerasSeen, *, user: User | None = None) -> None:
        """
        @param seen: the cameras the pages show.
        @param user: who logged in, whom the grid names; L{None} without
            logins.
        """
        self._seen = seen
        self._user = user

    @app.route("/", methods=["GET"])
    @allow(Permission.USER)
    def index(self, request: Request) -> GridPage:
        """
        Every camera's live picture in a grid.
        """
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        return GridPage(self._seen.hubs(), viewers=self._seen.viewers, user=self._user)

    @app.route("/static/<name>", methods=["GET"])
    @allow(Permission.USER)
    def static(self, request: Request, name: str) -> bytes:
        """
        The pages' stylesheet, scripts and images.
        """
        content = static_file(request, name)
        return plain_answer(request, 404, "not found") if content is None else content

    @app.route("/favicon.ico", methods=["GET"])
    @allow(Permission.USER)
    def favicon(self, request: Request) -> bytes | None:
        """
        The icon, for browsers that ask for it before reading the page.
        """
        return static_file(request, "favicon.svg")
