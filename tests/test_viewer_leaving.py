"""
Tests for viewers that leave before their stream begins: a client that
asks for an idle camera's stream and closes its connection before the
camera's first frame logs no traceback, and a stream started for a request
already lost (its client left while its login was checked; see
tests/test_login.py) writes nothing.
"""

from __future__ import annotations

import socket
from typing import Any, cast

from support import LogRecorder, assert_no_trouble, reactor_test, wait_until
from twisted.internet import reactor
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock, deferLater
from twisted.internet.testing import StringTransportWithDisconnection
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.http import HTTPChannel
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from camserve import (
    CameraHub,
    CameraService,
    CamserveSite,
    StreamViewer,
    service_resource,
)
from camserve.testing import PushSource, make_jpeg


async def stop(source: PushSource) -> None:
    """
    Let the camera stop once the hub asks it to (after its idle timeout).
    """
    await wait_until(lambda: source.stop_requested, "the camera is stopped")
    source.finish_stop()


@reactor_test
async def test_a_viewer_gone_before_the_first_frame_logs_nothing(
    log: LogRecorder,
) -> None:
    """
    A client that asks for an idle camera's stream and closes after 50 ms,
    before the camera's first frame, is let go quietly when the frame
    comes: nothing at warning level, no traceback; a viewer after it is
    served the next frame.
    """
    service = CameraService(reactor)
    source = PushSource()
    hub = service.add_source("front", source, idle_timeout=0.1)
    service.startService()
    site = CamserveSite(service_resource(service, reactor), reactor)
    port: Any = reactor.listenTCP(0, cast("Any", site), interface="127.0.0.1")
    number = port.getHost().port
    try:
        for _ in range(3):
            client = socket.create_connection(("127.0.0.1", number), timeout=10)
            client.sendall(
                b"GET /cameras/front/video_feed HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            )
            await wait_until(lambda: source.running, "the camera starts")
            await deferLater(reactor, 0.05, lambda: None)
            client.close()
            await deferLater(reactor, 0.05, lambda: None)
            source.push(make_jpeg(1, 64, 48))
            await wait_until(lambda: hub.viewers == 0, "the viewer is let go")
            await wait_until(lambda: site.open_connections == 0, "it is closed")
            await stop(source)
    finally:
        await service.stopService()
        await port.stopListening()
    assert_no_trouble(log)


def test_a_stream_for_a_request_already_gone_is_not_started() -> None:
    """
    A viewer started for a request whose connection is already lost (its
    client left while a login was checked, say) writes nothing, raises
    nothing and does not follow the camera.
    """
    clock = Clock()
    source = PushSource()
    hub = CameraHub("front", source, clock)
    first = hub.next_frame()
    source.push(make_jpeg(1, 64, 48))
    frame = SynchronousTestCase().successResultOf(first)
    transport = StringTransportWithDisconnection()
    channel: Any = HTTPChannel()
    channel.site = Site(Resource(), reactor=clock)
    channel.makeConnection(transport)
    request = Request(channel)
    request.connectionLost(Failure(ConnectionDone()))
    viewer = StreamViewer(cast("Any", request), hub, clock)
    viewer.start(frame)
    assert transport.value() == b""
    assert hub.viewers == 0
