# -*- test-case-name: tests.test_export -*-
"""
A server app's export of recordings: C{GET /api/cameras/<name>/export}, a
span of a camera's recording as an AVI file.
"""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING, Any

from klein import Klein
from twisted.python.failure import Failure

from camserve.recording._avi_plan import TooLargeError, plan_avi
from camserve.recording._export_avi import AviWriter
from camserve.web._instants import span
from camserve.web._permissions import Permission, allow
from camserve.web._requests import json_answer, query_argument

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IReactorTime
    from twisted.web.server import Request

    from camserve.recording._avi_plan import AviPlan
    from camserve.recording._catalog import Catalog, Recorded, Stretch
    from camserve.recording._catalog_files import Worker
    from camserve.recording._catalogs import Recordings
    from camserve.web._cameras_seen import CamerasSeen


class ExportRoute:
    """
    The export of the recordings of the cameras a user sees, which a server
    app serves as its own route.
    """

    app = Klein()

    def __init__(
        self,
        seen: CamerasSeen,
        recordings: Recordings | None,
        clock: IReactorTime,
    ) -> None:
        """
        @param seen: the cameras that may be exported.
        @param recordings: where the cameras are recorded; L{None} for a
            server that does not record.
        @param clock: the reactor, for the stall timeout.
        """
        self._seen = seen
        self._recordings = recordings
        self._clock = clock

    @app.route("/api/cameras/<name>/export", methods=["GET"])
    @allow(Permission.USER)
    def export(self, request: Request, name: str) -> Deferred[Any] | bytes:
        """
        The frames of camera C{name} captured from C{?start=} to C{?end=}
        (both included; ISO 8601 times or Unix seconds), as an AVI file to
        save, named for the camera and the span, streamed as it is read.
        C{400} for a bad span, C{404} for an unknown camera, a server that
        does not record, or a span with nothing recorded; C{413} for a span
        of more frames than an export holds.
        """
        hub = self._seen.hub(name)
        if hub is None:
            return self._seen.unknown(request)
        recordings = self._recordings
        catalog = None if recordings is None else recordings.catalog(name)
        if recordings is None or catalog is None:
            return json_answer(request, {"error": "this camera is not recorded"}, 404)
        work = recordings.work
        try:
            start, end = span(
                query_argument(request, "start"), query_argument(request, "end")
            )
        except ValueError as error:
            return json_answer(request, {"error": str(error)}, 400)

        def found(stretches: list[Stretch]) -> Deferred[Any] | bytes:
            if not stretches:
                return json_answer(request, {"error": "nothing was recorded then"}, 404)
            first = stretches[0].position(0)
            return catalog.read([first]).addCallback(
                self._plan, request, name, catalog, stretches, work=work
            )

        return (
            catalog.refresh()
            .addCallback(lambda _: catalog.between(start, end))
            .addCallback(found)
        )

    def _plan(
        self,
        first: list[Recorded],
        request: Request,
        name: str,
        catalog: Catalog,
        stretches: list[Stretch],
        *,
        work: Worker,
    ) -> Deferred[Any] | bytes:
        """
        Answer with the file of C{stretches}, whose first frame is C{first},
        once it is planned away from the reactor (a long span's plan takes
        a while).
        """
        if not first:
            return json_answer(
                request, {"error": "the recording is damaged there; try again"}, 503
            )

        def planned(plan: AviPlan | Failure) -> Deferred[Any] | bytes:
            if isinstance(plan, Failure):
                plan.trap(TooLargeError)
                return json_answer(request, {"error": str(plan.value)}, 413)
            return self._send(plan, request, name, catalog, stretches)

        return work(partial(plan_avi, stretches, first[0].jpeg)).addBoth(planned)

    def _send(
        self,
        plan: AviPlan,
        request: Request,
        name: str,
        catalog: Catalog,
        stretches: list[Stretch],
    ) -> Deferred[Any] | bytes:
        """
        Answer with the file of C{stretches} as C{plan} lays it out.
        """
        times = [stretches[0].times[0], stretches[-1].times[-1]]
        filename = f"{name}-{'-to-'.join(_stamp(when) for when in times)}.avi"
        request.setHeader(b"content-type", b"video/x-msvideo")
        request.setHeader(b"content-length", b"%d" % (plan.size,))
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(
            b"content-disposition", b'attachment; filename="%s"' % filename.encode()
        )
        request.setHeader(b"x-frames", b"%d" % (plan.count,))
        if request.method == b"HEAD":
            return b""
        return AviWriter(request, catalog, plan, self._clock).start()


def _stamp(when: float) -> str:
    """
    C{when}, in UTC, as a file name writes it.
    """
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime(when))
