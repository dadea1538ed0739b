# -*- test-case-name: tests.test_server_app -*-
"""
The small resources of a server app: the cameras by name, a fixed answer,
and the redirect to a camera's page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from twisted.web.resource import Resource

from camserve.web._requests import plain_answer

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.web.iweb import IRequest
    from twisted.web.resource import IResource


class CamerasResource(Resource):
    """
    A child per camera, by name: each name is one path segment as sent,
    decoded once, so that a name may hold any character, a slash (C{%2F})
    included, which Klein's routes (matching the decoded path) cannot tell
    from a path's own.
    """

    def __init__(self, camera: Callable[[IRequest, str], IResource]) -> None:
        """
        @param camera: the resource of a camera, by the request and its name.
        """
        super().__init__()
        self._camera = camera

    def getChild(self, path: bytes, request: IRequest) -> IResource:
        """
        The camera named C{path}.
        """
        return self._camera(request, path.decode("utf-8", "replace"))

    def render(self, request: IRequest) -> bytes:
        """
        C{cameras/} itself, which is nothing.
        """
        return plain_answer(request, 404, "not found")


class Answer(Resource):
    """
    A resource that answers every request with C{answer(request)}.
    """

    isLeaf = True

    def __init__(self, answer: Callable[[IRequest], bytes]) -> None:
        super().__init__()
        self._answer = answer

    def render(self, request: IRequest) -> bytes:
        """
        Answer.
        """
        return self._answer(request)


def redirect_to_page(request: IRequest, name: str) -> bytes:
    """
    Redirect a request of C{cameras/<name>} (asked with GET or HEAD) to the
    camera's page at C{<name>/}.
    """
    if request.method not in (b"GET", b"HEAD"):
        request.setHeader(b"allow", b"GET, HEAD")
        return plain_answer(request, 405, "method not allowed")
    request.redirect(quote(name, safe="").encode("ascii") + b"/")
    return b""
