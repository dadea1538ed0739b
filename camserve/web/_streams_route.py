# -*- test-case-name: tests.test_server_app,tests.test_multi_viewer -*-
"""
The live frames of several cameras over one connection, which the grid
reads every tile's pictures from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from klein import Klein

from camserve.camera._states import CameraUnavailable
from camserve.streams._multi_viewer import MultiViewer
from camserve.streams._stream import set_stream_headers
from camserve.web._permissions import Permission, allow
from camserve.web._requests import RefusedError, plain_answer, stream_choice

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IReactorTime
    from twisted.web.server import Request

    from camserve.camera._service import CameraService
    from camserve.web._cameras_seen import CamerasSeen


class StreamsRoute:
    """
    The stream of several of the cameras a user sees, which a server app
    serves as its own route.
    """

    app = Klein()

    def __init__(
        self, service: CameraService, seen: CamerasSeen, clock: IReactorTime
    ) -> None:
        """
        @param service: whose thumbnails the stream may send.
        @param seen: the cameras the stream may send.
        @param clock: the reactor, for viewers' timers.
        """
        self._service = service
        self._seen = seen
        self._clock = clock

    @app.route("/streams", methods=["GET"])
    @allow(Permission.USER)
    def streams(self, request: Request) -> Deferred[None] | bytes:
        """
        The live frames of several cameras as one stream, each part naming
        its camera in an C{X-Camera} header: C{?cameras=a,b} (every camera
        by default). C{?size=thumbnail} sends every camera's frames about
        320 pixels wide instead of full size; C{?thumbnails=b} only those of
        the cameras named.
        """
        hubs = self._seen.by_name()
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
