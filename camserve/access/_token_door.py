# -*- test-case-name: tests.test_tokens,tests.test_login -*-
"""
The way in for requests that carry an API token: served by the token alone,
as its user would see its camera, until the token expires.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from twisted.logger import Logger
from twisted.web.resource import Resource

from camserve.access._tokens import token_camera
from camserve.web._requests import plain_answer
from camserve.web._server_app import ServerApp
from camserve.web._token_argument import token_of
from camserve.web._user import User

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from twisted.internet.interfaces import IReactorTime
    from twisted.web.iweb import IRequest
    from twisted.web.resource import IResource
    from twisted.web.server import Request

    from camserve.access._tokens import Tokens
    from camserve.camera._service import CameraService


class TokenDoor:
    """
    Serves the requests that carry an API token, by the token alone.
    """

    def __init__(
        self,
        service: CameraService,
        clock: IReactorTime,
        tokens: Tokens,
        tracked: Callable[[str, IResource], IResource],
    ) -> None:
        """
        @param tracked: wraps the resource made for a user's token so that
            their requests are kept under the key given.
        """
        self._service = service
        self._clock = clock
        self._tokens = tokens
        self._tracked = tracked
        self._resources: dict[tuple[str, str], IResource] = {}

    def forget(self, names: Iterable[str] | None) -> None:
        """
        Make the resources of users C{names} (of everyone, for L{None})
        again on their next use.
        """
        if names is None:
            self._resources.clear()
            return
        gone = set(names)
        for key in [key for key in self._resources if key[0] in gone]:
            del self._resources[key]

    def resource(self, request: IRequest) -> IResource | None:
        """
        The resource serving C{request} by its token; L{None} if it has no
        token or is not of a path a token is for, so that it needs a login.
        """
        token = token_of(request)
        if token is None:
            return None
        first = next(iter(self._service.hubs), None)
        camera = token_camera(request.path or b"", first, request.method)
        if camera is None:
            return None
        grant = self._tokens.grant(token, camera)
        if grant is None:
            return Unauthorized()
        user = grant.user
        resource = self._resources.get((user.name, camera))
        if resource is None:
            # Seeing only the token's camera, which /video_feed and
            # /snapshot.jpg then serve, as the first camera.
            only = User(user.name, "viewer", frozenset({camera}))
            app = ServerApp(self._service, self._clock, user=only)
            resource = self._tracked(f"?{user.name}", app.app.resource())
            self._resources[user.name, camera] = resource
        return UntilExpiry(resource, self._tokens.clock, grant.expires)


class UntilExpiry(Resource):
    """
    A leaf resource served as it is, each request it serves ended at the
    expiry of the token that lets it in, if it lasts that long (a stream).
    """

    isLeaf = True
    _log = Logger()

    def __init__(self, resource: IResource, clock: IReactorTime, expires: int) -> None:
        """
        @param expires: when to end the request, in the seconds of C{clock}.
        """
        super().__init__()
        self._resource = resource
        self._clock = clock
        self._expires = expires

    def render(self, request: IRequest) -> Any:
        """
        Serve C{request} as the resource does, until the expiry.
        """
        served = cast("Request", request)
        ending = self._clock.callLater(
            max(0.0, self._expires - self._clock.seconds()), self._expire, served
        )

        def done(_: object) -> None:
            if ending.active():
                ending.cancel()

        served.notifyFinish().addBoth(done)
        return self._resource.render(request)

    def _expire(self, request: Request) -> None:
        if request.finished:
            return
        self._log.info(
            "camserve: a token expired; its request of {path} ended",
            path=request.path.decode("utf-8", "replace"),
        )
        request.loseConnection()


class Unauthorized(Resource):
    """
    The answer to a request whose token is not valid, saying nothing of why.
    """

    isLeaf = True

    def render(self, request: IRequest) -> bytes:
        """
        Answer C{401}.
        """
        return plain_answer(request, 401, "unauthorized")
