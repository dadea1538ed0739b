"""
Tests for the C{mjpeg} driver: a relay camserve pulling from an origin
camserve over real loopback connections.

The origin's camera is a L{PushSource}, so each test decides exactly which
frames exist and when; viewers of the relay read its stream on raw sockets
in threads and parse it strictly.
"""

from __future__ import annotations

import gc
import socket
import time
from typing import TYPE_CHECKING, Any

import pytest
import pytest_twisted  # type: ignore[import-untyped]  # it ships no type hints
import treq
from support import (
    free_port,
    reactor,
    reactor_test,
    read_head,
    receive,
    self_signed_tls,
    send_get,
    wait_until,
)
from twisted.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from twisted.cred.portal import IRealm, Portal
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.internet.threads import deferToThread
from twisted.logger import LogLevel
from twisted.python.failure import Failure
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.guard import BasicCredentialFactory, HTTPAuthSessionWrapper
from twisted.web.resource import IResource, Resource
from twisted.web.server import NOT_DONE_YET, Site
from zope.interface import implementer
from zope.interface.verify import verifyObject

from camserve import (
    CameraService,
    ConfigError,
    HubState,
    IFrameSource,
    IHealthDetails,
    camera_resource,
    make_camera,
)
from camserve.cameras.mjpeg import MJPEGRelay
from camserve.testing import MultipartParser, Part, PushSource, make_jpeg

if TYPE_CHECKING:
    from collections.abc import Callable, Generator

    from support import LogRecorder
    from twisted.internet.interfaces import IProtocol
    from twisted.web.server import Request

    from camserve import CameraHub

TIMEOUT = 10.0
JPEGS = [make_jpeg(number) for number in range(1, 9)]


class OriginCamera(PushSource):
    """
    A camera pushed by hand that, like a real driver, releases itself as
    soon as it is told to stop.
    """

    def stop(self) -> None:
        super().stop()
        self.finish_stop()


class Network:
    """
    Origin and relay servers on 127.0.0.1, and viewers' sockets, all torn
    down after the test.
    """

    def __init__(self) -> None:
        self.services: list[CameraService] = []
        self.ports: list[Any] = []
        self.sockets: list[socket.socket] = []
        self.pool = HTTPConnectionPool(reactor, persistent=False)
        self.http = treq.client.HTTPClient(Agent(reactor, pool=self.pool))

    def listen(self, resource: IResource, port: int = 0) -> int:
        """
        Serve C{resource} on C{port} (a fresh one by default); its number.
        """
        listening = reactor.listenTCP(port, Site(resource), interface="127.0.0.1")
        self.ports.append(listening)
        return int(listening.getHost().port)

    def origin(
        self, port: int = 0, wrap: Callable[[IResource], IResource] | None = None
    ) -> tuple[PushSource, CameraHub, int]:
        """
        An origin camserve whose camera is pushed by hand.
        """
        source = OriginCamera()
        service = self._service()
        hub = service.add_source("origin", source, keepalive_interval=60)
        resource = camera_resource(hub, reactor)
        return source, hub, self.listen(wrap(resource) if wrap else resource, port)

    def relay(self, url: str, **options: Any) -> tuple[CameraHub, int]:
        """
        A relay camserve pulling from C{url}, quick to retry and to go idle.
        """
        driver = make_camera("mjpeg", {"source": url, **options}, reactor)
        hub = self._service().add_driver(
            "relay",
            driver,
            driver="mjpeg",
            idle_timeout=0.2,
            backoff_initial=0.05,
            backoff_max=0.4,
            keepalive_interval=60,
        )
        return hub, self.listen(camera_resource(hub, reactor))

    def _service(self) -> CameraService:
        service = CameraService(reactor)
        service.startService()
        self.services.append(service)
        return service

    def viewer(self, port: int) -> Viewer:
        """
        A viewer that has asked C{port} for its stream.
        """
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.sockets.append(sock)
        send_get(sock, "/video_feed")
        return Viewer(sock)

    async def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        for service in self.services:
            await service.stopService()
        for port in self.ports:
            await port.stopListening()
        await self.pool.closeCachedConnections()


@pytest.fixture
def network(log: LogRecorder) -> Generator[Network, None, None]:
    """
    A L{Network}, torn down after the test, which must log no error.
    """
    network = Network()
    yield network
    pytest_twisted.blockon(Deferred.fromCoroutine(network.close()))
    gc.collect()
    errors = log.troubles(LogLevel.error)
    assert errors == [], "\n".join(errors)


class Viewer:
    """
    A viewer of a stream on a raw socket, read in a thread and parsed
    strictly.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.parser = MultipartParser()
        self.status: bytes | None = None
        self.parts: list[Part] = []

    async def next_parts(self, count: int) -> list[Part]:
        """
        The next C{count} parts (after the response's head, first time).
        """
        parts: list[Part] = await deferToThread(self._read, count)
        return parts

    def _read(self, count: int) -> list[Part]:
        deadline = time.monotonic() + TIMEOUT
        if self.status is None:
            response = read_head(self.sock, deadline)
            self.status = response.status
            assert self.status == b"HTTP/1.1 200 OK"
            self.parts += self.parser.feed(response.body)
        while len(self.parts) < count:
            data = receive(self.sock, deadline)
            if not data:
                raise ConnectionError("the stream ended")
            self.parts += self.parser.feed(data)
        parts, self.parts = self.parts[:count], self.parts[count:]
        return parts


async def push(source: PushSource, relay: CameraHub, jpeg: bytes, at: float) -> None:
    """
    Push a frame at the origin and wait until the relay has it.
    """
    captured = relay.frames_captured
    source.push(jpeg, at)
    await wait_until(lambda: relay.frames_captured > captured, "the relay got a frame")


@reactor_test
async def test_frames_arrive_byte_identical_through_one_upstream(
    network: Network,
) -> None:
    """
    Three viewers of a relay get the origin's JPEGs byte for byte, with the
    origin's capture times, while the origin serves the relay alone.
    """
    source, origin, origin_port = network.origin()
    relay, relay_port = network.relay(f"http://127.0.0.1:{origin_port}/video_feed")
    viewers = [network.viewer(relay_port) for _ in range(3)]
    await wait_until(lambda: source.running, "the origin's camera runs")
    await wait_until(lambda: len(relay._waiters) == 3, "three viewers wait")
    for index, jpeg in enumerate(JPEGS[:3]):
        await push(source, relay, jpeg, 1700000000.5 + index)
    assert origin.viewers == 1
    for viewer in viewers:
        parts = await viewer.next_parts(3)
        assert [part.body for part in parts] == JPEGS[:3]
        assert [part.headers["x-timestamp"] for part in parts] == [
            "1700000000.500000",
            "1700000001.500000",
            "1700000002.500000",
        ]
    assert relay.health()["details"] == {
        "source": f"http://127.0.0.1:{origin_port}/video_feed",
        "connected": True,
        "parts_skipped": 0,
    }


@reactor_test
async def test_upstream_restart_is_survived(network: Network) -> None:
    """
    When the origin goes away the relay reports it and retries; once the
    origin is back, the relay's viewers, still connected, get its frames.
    """
    source, _, origin_port = network.origin()
    relay, relay_port = network.relay(f"http://127.0.0.1:{origin_port}/video_feed")
    viewer = network.viewer(relay_port)
    await wait_until(lambda: source.running, "the origin's camera runs")
    await push(source, relay, JPEGS[0], 1.0)
    assert [part.body for part in await viewer.next_parts(1)] == [JPEGS[0]]

    await network.services.pop(0).stopService()
    await network.ports.pop(0).stopListening()
    await wait_until(lambda: relay.state is HubState.FAILED, "the relay notices")
    # The origin ends the stream, then, depending on how quickly the relay
    # reconnects, answers 503 while it shuts down or refuses.
    assert relay.health()["last_error"].startswith(
        f"upstream http://127.0.0.1:{origin_port}/video_feed: "
    )
    assert relay.viewers == 1

    source, origin, _ = network.origin(port=origin_port)
    await wait_until(lambda: source.running, "the relay reconnects")
    await push(source, relay, JPEGS[1], 2.0)
    assert [part.body for part in await viewer.next_parts(1)] == [JPEGS[1]]
    assert relay.state is HubState.RUNNING
    assert origin.viewers == 1


@reactor_test
async def test_idle_relay_closes_its_upstream(network: Network) -> None:
    """
    When the relay's last viewer leaves, the idle timeout stops the relay
    and with it the upstream connection; the origin is left unwatched.
    """
    source, origin, origin_port = network.origin()
    relay, relay_port = network.relay(f"http://127.0.0.1:{origin_port}/video_feed")
    viewer = network.viewer(relay_port)
    await wait_until(lambda: source.running, "the origin's camera runs")
    await push(source, relay, JPEGS[0], 1.0)
    assert origin.viewers == 1
    viewer.sock.close()
    await wait_until(lambda: origin.viewers == 0, "the relay lets go of the origin")
    assert relay.state is HubState.IDLE
    assert relay.health()["details"]["connected"] is False

    network.viewer(relay_port)
    await wait_until(lambda: source.running, "a new viewer starts the relay")
    await push(source, relay, JPEGS[1], 2.0)
    assert origin.viewers == 1


class _Huge(Resource):
    """
    Announces a part larger than any frame.
    """

    isLeaf = True

    def render_GET(self, request: Request) -> object:
        request.setHeader(b"content-type", b"multipart/x-mixed-replace; boundary=x")
        request.write(b"--x\r\nContent-Length: 999999999\r\n\r\n")
        return NOT_DONE_YET


@reactor_test
async def test_upstream_failures_are_reported(network: Network) -> None:
    """
    An upstream that refuses, answers with an error, is not a stream, or
    breaks the stream's framing makes the relay answer C{503} with the
    reason. (An upstream that goes quiet is tested on a clock below.)
    """
    _, _, origin_port = network.origin()
    huge_port = network.listen(_Huge())
    origin = f"http://127.0.0.1:{origin_port}"
    refused = f"http://127.0.0.1:{free_port()}/video_feed"
    cases = {
        refused: "connection refused",
        f"{origin}/nope": "answered 404 Not Found",
        f"{origin}/healthz": (
            "not a Motion JPEG stream (Content-Type: application/json)"
        ),
        f"http://127.0.0.1:{huge_port}/": "a part is too large (999999999 bytes)",
    }
    for url, reason in cases.items():
        relay, relay_port = network.relay(url)
        response = await network.http.get(f"http://127.0.0.1:{relay_port}/snapshot.jpg")
        assert response.code == 503
        body = (await response.text()).strip()
        assert body.startswith(f"camera relay failed: upstream {url}: {reason}"), body
        health = relay.health()
        assert health["last_error"].startswith(f"upstream {url}: {reason}")
        await network.services.pop().stopService()


@implementer(IRealm)
class _Realm:
    """
    Gives every authenticated user the same resource.
    """

    def __init__(self, resource: IResource) -> None:
        self.resource = resource

    def requestAvatar(self, *_: object) -> Any:
        return IResource, self.resource, lambda: None


def _basic_auth(resource: IResource) -> IResource:
    checker = InMemoryUsernamePasswordDatabaseDontUse(viewer=b"s3cret:x")
    return HTTPAuthSessionWrapper(
        Portal(_Realm(resource), [checker]), [BasicCredentialFactory(b"camserve")]
    )


@pytest.mark.parametrize(
    "credentials",
    [
        {"source": "http://viewer:s3cret%3Ax@127.0.0.1:{port}/video_feed"},
        {
            "source": "http://127.0.0.1:{port}/video_feed",
            "username": "viewer",
            "password": "s3cret:x",
        },
    ],
)
@reactor_test
async def test_basic_authentication(
    network: Network, credentials: dict[str, str]
) -> None:
    """
    Credentials in the URL or as options open an origin that asks for
    them; the URL shown in health has none.
    """
    source, _, origin_port = network.origin(wrap=_basic_auth)
    options = {
        key: value.format(port=origin_port) for key, value in credentials.items()
    }
    url = options.pop("source")
    relay, relay_port = network.relay(url, **options)
    viewer = network.viewer(relay_port)
    await wait_until(lambda: source.running, "the relay gets in")
    await push(source, relay, JPEGS[0], 1.0)
    assert [part.body for part in await viewer.next_parts(1)] == [JPEGS[0]]
    assert relay.health()["details"]["source"] == (
        f"http://127.0.0.1:{origin_port}/video_feed"
    )


@reactor_test
async def test_wrong_password(network: Network) -> None:
    """
    Wrong credentials are reported as the origin's 401.
    """
    _, _, origin_port = network.origin(wrap=_basic_auth)
    url = f"http://127.0.0.1:{origin_port}/video_feed"
    _, relay_port = network.relay(url, username="viewer", password="wrong")  # noqa: S106 - a test's password
    response = await network.http.get(f"http://127.0.0.1:{relay_port}/snapshot.jpg")
    assert response.code == 503
    assert (await response.text()).startswith(
        f"camera relay failed: upstream {url}: answered 401 Unauthorized"
    )


def test_is_an_asynchronous_driver() -> None:
    """
    The relay is a frame source with health details, made by the registry
    with the reactor.
    """
    relay = make_camera("mjpeg", {"source": "http://camera.local/stream"}, reactor)
    assert isinstance(relay, MJPEGRelay)
    assert verifyObject(IFrameSource, relay)
    assert verifyObject(IHealthDetails, relay)
    assert relay.health_details() == {
        "source": "http://camera.local/stream",
        "connected": False,
        "parts_skipped": 0,
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {},
            (
                "camera 'mjpeg': source must be the http:// or https:// URL of a "
                "Motion JPEG stream"
            ),
        ),
        (
            {"source": "rtsp://camera/stream"},
            (
                "camera 'mjpeg': source must be an http:// or https:// URL with a host, "
                "not 'rtsp://camera/stream'"
            ),
        ),
        (
            {"source": "http:///stream"},
            (
                "camera 'mjpeg': source must be an http:// or https:// URL with a host, "
                "not 'http:///stream'"
            ),
        ),
        (
            {"source": "http://a:b@camera/", "username": "c"},
            (
                "camera 'mjpeg': give the credentials in the source URL or as username "
                "and password, not both"
            ),
        ),
        (
            {"source": "http://camera/", "password": "c"},
            "camera 'mjpeg': password is given without a username",
        ),
        (
            {"source": "http://camera/", "timeout": "0"},
            "camera 'mjpeg': timeout must be greater than 0, not 0.0",
        ),
        (
            {"source": "http://camera/", "fps": 5.0},
            (
                "camera 'mjpeg' does not take option 'fps'; it takes: password, source, "
                "timeout, tls_verify, username"
            ),
        ),
    ],
)
def test_bad_options(options: dict[str, Any], message: str) -> None:
    """
    Options the relay cannot use are refused in one line.
    """
    with pytest.raises(ConfigError) as caught:
        make_camera("mjpeg", options, reactor)
    assert str(caught.value) == message


@reactor_test
async def test_https_upstream(network: Network) -> None:
    """
    An C{https} origin is relayed; its certificate is checked unless
    C{tls_verify} is off, and a failed check is reported.
    """
    source = OriginCamera()
    service = network._service()
    hub = service.add_source("origin", source, keepalive_interval=60)
    listening = reactor.listenSSL(
        0, Site(camera_resource(hub, reactor)), self_signed_tls(), interface="127.0.0.1"
    )
    network.ports.append(listening)
    url = f"https://127.0.0.1:{listening.getHost().port}/video_feed"

    checked, checked_port = network.relay(url, timeout=2)
    response = await network.http.get(f"http://127.0.0.1:{checked_port}/snapshot.jpg")
    assert response.code == 503
    assert (await response.text()).startswith(
        f"camera relay failed: upstream {url}: connection failed: "
    )
    assert "certificate verify failed" in checked.health()["last_error"]

    relay, relay_port = network.relay(url, tls_verify="false")
    viewer = network.viewer(relay_port)
    await wait_until(lambda: source.running, "the relay gets in")
    await push(source, relay, JPEGS[0], 1.0)
    assert [part.body for part in await viewer.next_parts(1)] == [JPEGS[0]]


# Timing, on a memory reactor: the relay's Agent connects to nothing, and
# each test plays the upstream's part on a StringTransport.


class Upstream:
    """
    A relay started on a L{MemoryReactorClock}, and what it reports.
    """

    def __init__(self, timeout: float = 3.0) -> None:
        self.clock = MemoryReactorClock()
        self.relay = MJPEGRelay(
            reactor=self.clock, source="http://127.0.0.1:9/feed", timeout=timeout
        )
        self.frames: list[tuple[bytes, float]] = []
        self.outcomes: list[Failure | None] = []
        self.relay.start(
            lambda jpeg, at: self.frames.append((jpeg, at)), self.outcomes.append
        )
        self.transport = StringTransport()
        self.protocol: IProtocol | None = None

    def connect(self) -> None:
        """
        Let the relay's connection succeed, and answer with a stream's head.
        """
        [(_, _, factory, _, _)] = self.clock.tcpClients
        protocol = factory.buildProtocol(None)
        assert protocol is not None
        protocol.makeConnection(self.transport)
        self.protocol = protocol
        assert self.transport.value().startswith(b"GET /feed HTTP/1.1\r\n")
        self.send(
            b"HTTP/1.1 200 OK\r\n"
            b"Content-Type: multipart/x-mixed-replace; boundary=x\r\n\r\n--x\r\n"
        )

    def send(self, data: bytes) -> None:
        assert self.protocol is not None
        self.protocol.dataReceived(data)

    @staticmethod
    def part(body: bytes, timestamp: float) -> bytes:
        """
        A part of the stream carrying C{body}, and the boundary after it.
        """
        return b"Content-Length: %d\r\nX-Timestamp: %.1f\r\n\r\n%s\r\n--x\r\n" % (
            len(body),
            timestamp,
            body,
        )

    def send_part(self, body: bytes, timestamp: float) -> None:
        self.send(self.part(body, timestamp))

    def close(self) -> None:
        """
        The connection closes, as it does once the relay has aborted it.
        """
        assert self.protocol is not None
        self.protocol.connectionLost(Failure(ConnectionDone()))


def test_connect_timeout() -> None:
    """
    An upstream that gives no stream within C{timeout} is given up on.
    """
    upstream = Upstream(timeout=3)
    upstream.clock.advance(2.9)
    assert upstream.outcomes == []
    upstream.clock.advance(0.2)
    [failure] = upstream.outcomes
    assert failure is not None
    assert str(failure.value) == (
        "upstream http://127.0.0.1:9/feed: gave no stream for 3 s"
    )


def test_only_frames_are_signs_of_life() -> None:
    """
    Frames keep the upstream connection open however slow they are; parts
    that are not JPEGs do not, and are counted as skipped.
    """
    upstream = Upstream(timeout=3)
    upstream.connect()
    jpegs = [make_jpeg(1), make_jpeg(2)]
    upstream.send_part(jpegs[0], 1.5)
    upstream.clock.advance(2.5)
    upstream.send_part(jpegs[1], 2.5)
    upstream.clock.advance(2.5)
    assert upstream.transport.producerState == "producing"
    assert upstream.frames == [(jpegs[0], 1.5), (jpegs[1], 2.5)]
    for _ in range(3):
        upstream.send_part(b"not a jpeg", 3.0)
        upstream.clock.advance(0.25)
    assert upstream.transport.producerState == "stopped"
    assert upstream.outcomes == []
    upstream.close()
    [failure] = upstream.outcomes
    assert failure is not None
    assert str(failure.value) == (
        "upstream http://127.0.0.1:9/feed: sent no frame for 3 s"
    )
    assert upstream.relay.health_details() == {
        "source": "http://127.0.0.1:9/feed",
        "connected": False,
        "parts_skipped": 3,
    }


def test_newest_whole_part_of_a_read_is_delivered() -> None:
    """
    When one read completes several parts, only the last of them, the
    newest, is delivered, with its own timestamp; the older one would be
    overtaken at once.
    """
    upstream = Upstream()
    upstream.connect()
    jpegs = [make_jpeg(1), make_jpeg(2), make_jpeg(3)]
    upstream.send(upstream.part(jpegs[0], 1.0) + upstream.part(jpegs[1], 2.0))
    assert upstream.frames == [(jpegs[1], 2.0)]
    upstream.send_part(jpegs[2], 3.0)
    assert upstream.frames == [(jpegs[1], 2.0), (jpegs[2], 3.0)]


def test_stop_while_connecting() -> None:
    """
    Stopping before the upstream answers cancels the connection attempt
    and reports a clean stop.
    """
    upstream = Upstream()
    upstream.relay.stop()
    assert upstream.outcomes == [None]
    upstream.clock.advance(10)
    assert upstream.outcomes == [None]


def test_stop_while_streaming() -> None:
    """
    Stopping a streaming relay closes the upstream connection, then reports
    a clean stop; a frame that arrives meanwhile is not delivered.
    """
    upstream = Upstream()
    upstream.connect()
    upstream.relay.stop()
    assert upstream.transport.producerState == "stopped"
    upstream.send_part(make_jpeg(1), 1.0)
    assert upstream.frames == []
    assert upstream.outcomes == []
    upstream.close()
    assert upstream.outcomes == [None]
    upstream.clock.advance(10)
    assert upstream.outcomes == [None]
