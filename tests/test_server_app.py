"""
Tests for L{camserve.service_resource}: the HTTP face of a whole
L{CameraService} (the grid, each camera's routes, the API, health, the first
camera's stream and snapshot, several cameras over one connection, static
files), and the per-camera routes it mounts (L{camserve.web._camera_app.CameraApp}).

Most tests use an in-memory HTTP client: treq's L{HTTPClient} over
L{RequestTraversalAgent}, the two halves of C{treq.testing.StubTreq} (used
directly because they are typed), so a real twisted.web server and a real
HTTP client parser talk in memory. Cameras are hubs fed by hand-driven
L{PushSource}s on a L{Clock}; thumbnails are made at once, in the reactor
thread, rather than in the service's thread pool. The last test serves the
app on a real loopback port with capture threads and thumbnails made in
threads.
"""

from __future__ import annotations

import gc
import json
import re
import socket
import time
import weakref
import xml.etree.ElementTree as ET
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import pytest
import pytest_twisted  # type: ignore[import-untyped]  # it ships no type hints
from attrs import define, field
from klein import Klein
from support import reactor, reactor_test, read_head, read_parts, send_get
from treq import content
from treq.client import HTTPClient
from treq.testing import RequestTraversalAgent
from twisted.internet import tcp
from twisted.internet.defer import inlineCallbacks, succeed
from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock, deferLater
from twisted.internet.threads import deferToThread
from twisted.logger import LogLevel
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from twisted.web.server import Site
from werkzeug.exceptions import MethodNotAllowed, NotFound
from zope.interface import implementer

import camserve.web._server_app
from camserve import (
    THUMBNAIL,
    VIEWER,
    CameraService,
    IHealthDetails,
    service_resource,
)
from camserve._multipart import encode_part
from camserve.testing import MultipartParser, PushSource, ScriptedCamera, make_jpeg
from camserve.web._camera_app import CameraApp
from camserve.web._composition import include
from camserve.web._server_app import ServerApp

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator

    from support import LogRecorder
    from treq.response import _Response
    from twisted.internet.defer import Deferred
    from twisted.python.failure import Failure
    from twisted.web.iweb import IRequest, IResponse
    from twisted.web.resource import IResource

    from camserve import CameraHub
    from camserve.testing import Part

URL = "http://camserve.test"

CAPTURED_AT = 1_700_000_000.5
"""A capture time: 2023-11-14 22:13:20.5 UTC."""

successResultOf = SynchronousTestCase().successResultOf  # noqa: N816 - Twisted's name

STATIC = {
    "camserve.css": b"text/css; charset=utf-8",
    "parts.js": b"text/javascript; charset=utf-8",
    "feed.js": b"text/javascript; charset=utf-8",
    "pictures.js": b"text/javascript; charset=utf-8",
    "layout.js": b"text/javascript; charset=utf-8",
    "arrange.js": b"text/javascript; charset=utf-8",
    "keys.js": b"text/javascript; charset=utf-8",
    "snapshots.js": b"text/javascript; charset=utf-8",
    "reload.js": b"text/javascript; charset=utf-8",
    "grid.js": b"text/javascript; charset=utf-8",
    "decoder.js": b"text/javascript; charset=utf-8",
    "camera.js": b"text/javascript; charset=utf-8",
    "activity.js": b"text/javascript; charset=utf-8",
    "timescale.js": b"text/javascript; charset=utf-8",
    "timeline.js": b"text/javascript; charset=utf-8",
    "wall.js": b"text/javascript; charset=utf-8",
    "favicon.svg": b"image/svg+xml",
}
"""Every static file and its content type."""


def static_bytes(name: str) -> bytes:
    """
    The bytes of static file C{name}, as the package holds them.
    """
    return files("camserve.web").joinpath("static", name).read_bytes()


def header(response: IResponse, name: bytes) -> list[bytes]:
    """
    All values of header C{name}, or an empty list.
    """
    return list(response.headers.getRawHeaders(name, []))


def allowed(response: IResponse) -> list[bytes]:
    """
    The methods the C{Allow} header names, sorted.
    """
    (allow,) = header(response, b"allow")
    return sorted(method.strip() for method in allow.split(b","))


def page(body: bytes) -> ET.Element:
    """
    An HTML page camserve wrote, parsed (its templates are XML).
    """
    assert body.startswith(b"<!DOCTYPE html>\n")
    return ET.fromstring(body)  # noqa: S314 - our own output


def text(element: ET.Element) -> str:
    """
    All the text inside C{element}, whitespace collapsed.
    """
    return " ".join("".join(element.itertext()).split())


def image_size(jpeg: bytes) -> tuple[int, int]:
    """
    The C{(width, height)} OpenCV decodes C{jpeg} to.
    """
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a JPEG OpenCV can decode"
    return int(image.shape[1]), int(image.shape[0])


class InlineThumbnails(CameraService):
    """
    A camera service that makes thumbnails at once, in the reactor thread:
    what a test on a L{Clock} needs, as a thread pool's results would never
    reach it.
    """

    def _shrink_in_thread(
        self, shrink: Callable[[bytes], bytes], jpeg: bytes
    ) -> Deferred[bytes]:
        return succeed(shrink(jpeg))


@implementer(IHealthDetails)
class DetailedSource(PushSource):
    """
    A L{PushSource} with details for health, like a driver's.
    """

    def health_details(self) -> dict[str, Any]:
        """
        The device it pretends to read.
        """
        return {"device": "/dev/video7"}


class Collector(Protocol):
    """
    Collects a response body as it arrives.
    """

    def __init__(self) -> None:
        self.data = b""
        self.ended = False

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Failure | None = None) -> None:  # noqa: ARG002 - Twisted's signature
        self.ended = True

    def leave(self) -> None:
        """
        Go away, as a client that closes the connection does.
        """
        IPushProducer(self.transport).stopProducing()


@define
class Server:
    """
    A camera service served by L{service_resource} to an in-memory client.
    """

    clock: Clock = field(factory=Clock)
    service: CameraService = field(init=False)
    sources: dict[str, PushSource] = field(factory=dict)
    root: IResource | None = None
    agent: RequestTraversalAgent = field(init=False)
    client: HTTPClient = field(init=False)

    def __attrs_post_init__(self) -> None:
        self.service = InlineThumbnails(self.clock)
        if self.root is None:
            self.root = service_resource(self.service, self.clock)
        self.agent = RequestTraversalAgent(self.root)
        self.client = HTTPClient(self.agent)

    def add(
        self, name: str, source: PushSource | None = None, **options: Any
    ) -> PushSource:
        """
        Add camera C{name}, fed by a new L{PushSource} (or C{source}).
        """
        source = PushSource() if source is None else source
        self.service.add_source(name, source, **options)
        self.sources[name] = source
        return source

    def hub(self, name: str) -> CameraHub:
        """
        Camera C{name}'s hub.
        """
        return self.service.hubs[name]

    def request(self, method: str, path: str) -> Deferred[_Response]:
        """
        Send a request (following no redirect); return the response to come.
        """
        deferred = self.client.request(method, URL + path, allow_redirects=False)
        self.agent.flush()
        return deferred

    def get(self, path: str, method: str = "GET") -> tuple[_Response, bytes]:
        """
        A response that the server completes at once, and its body.
        """
        response = successResultOf(self.request(method, path))
        return response, self.body(response)

    def json(self, path: str, method: str = "GET") -> tuple[_Response, Any]:
        """
        A JSON response and its value.
        """
        response, body = self.get(path, method)
        assert header(response, b"content-type") == [b"application/json"]
        assert header(response, b"cache-control") == [b"no-store"]
        assert body.endswith(b"\n")
        return response, json.loads(body)

    def body(self, response: IResponse) -> bytes:
        """
        The complete body of C{response}.
        """
        body = content(response)
        self.agent.flush()
        return successResultOf(body)

    def stream(self, path: str) -> tuple[_Response, Collector]:
        """
        A streamed response, once its headers came, and what collects its
        body.
        """
        response = successResultOf(self.request("GET", path))
        collector = Collector()
        response.deliverBody(collector)
        self.agent.flush()
        return response, collector

    def push(self, name: str, jpeg: bytes, captured_at: float = CAPTURED_AT) -> None:
        """
        Deliver a frame of camera C{name} and let the answers reach the
        client.
        """
        self.sources[name].push(jpeg, captured_at)
        self.agent.flush()

    def run(self, name: str, jpeg: bytes | None = None) -> None:
        """
        Start camera C{name} with a frame, as a snapshot would.
        """
        self.request("GET", f"/cameras/{name}/snapshot.jpg")
        self.push(name, make_jpeg(0) if jpeg is None else jpeg)

    def fail(self, name: str, reason: str = "no such device") -> None:
        """
        Start camera C{name} and have it fail before its first frame.
        """
        self.request("GET", f"/cameras/{name}/snapshot.jpg")
        self.sources[name].fail(OSError(reason))
        self.agent.flush()


@pytest.fixture
def server() -> Server:
    """
    A server of two idle cameras, C{front} and C{back}, in that order.
    """
    server = Server()
    server.add("front", driver="emulated")
    server.add("back", driver="v4l2")
    return server


def parts_of(collector: Collector) -> list[Part]:
    """
    The parts of a multipart stream body so far, parsed strictly: the body
    must end right after a part's closing boundary.
    """
    parser = MultipartParser()
    parts = parser.feed(collector.data)
    assert parser._buffer == b"", "the stream ends inside a part"
    return parts


# The grid


def test_grid_page(server: Server) -> None:
    """
    C{/} is an HTML page that is never cached, with one tile per camera in
    the service's order, each naming its camera and state and linking to
    the camera's page, and a summary of how many cameras are live.
    """
    server.run("back")
    response, body = server.get("/")
    assert response.code == 200
    assert header(response, b"content-type") == [b"text/html; charset=utf-8"]
    assert header(response, b"cache-control") == [b"no-store"]
    root = page(body)
    tiles = root.findall(".//article[@class='tile']")
    assert [tile.get("data-camera") for tile in tiles] == ["front", "back"]
    assert [tile.get("data-state") for tile in tiles] == ["idle", "running"]
    links = [
        link.get("href") for link in root.findall(".//article/a[@class='picture']")
    ]
    assert links == ["cameras/front/", "cameras/back/"]
    summary = root.find(".//span[@id='summary']")
    assert summary is not None
    assert text(summary) == "2 cameras, 1 live"


def test_grid_page_follows_the_service(server: Server) -> None:
    """
    The grid shows cameras added after the resource was made, in the order
    the service is arranged in, and forgets removed ones.
    """
    server.add("side")
    server.service.arrange(["side", "back"])
    server.service.remove_camera("front")
    _, body = server.get("/")
    tiles = page(body).findall(".//article")
    assert [tile.get("data-camera") for tile in tiles] == ["side", "back"]


def test_grid_page_failed_camera(server: Server) -> None:
    """
    A failed camera's tile says why it has no picture.
    """
    server.fail("back", "no such device")
    _, body = server.get("/")
    front, back = page(body).findall(".//article")
    assert back.get("data-state") == "failed"
    overlay = back.find(".//span[@class='overlay']")
    assert overlay is not None
    assert text(overlay) == "No picture: no such device"
    overlay = front.find(".//span[@class='overlay']")
    assert overlay is not None
    assert text(overlay) == ""


def test_grid_page_escapes_names() -> None:
    """
    A camera named with HTML's special characters (an embedding may name
    one so) is escaped in the grid and percent-encoded in its links, which
    lead to the camera.
    """
    server = Server()
    name = '<i>Porch & "gate"</i>'
    server.add(name)
    _, body = server.get("/")
    assert b"<i>" not in body
    tile = page(body).find(".//article")
    assert tile is not None
    assert tile.get("data-camera") == name
    assert tile.findall(".//i") == []
    link = tile.find(".//a[@class='name']")
    assert link is not None
    assert text(link) == name
    href = link.get("href")
    assert href == "cameras/%3Ci%3EPorch%20%26%20%22gate%22%3C%2Fi%3E/"
    response, health = server.json(f"/{href}healthz")
    assert response.code == 200
    assert health["name"] == name


def test_grid_page_counts_thumbnail_viewers(server: Server) -> None:
    """
    A tile counts those who watch its camera's thumbnails, as the API does,
    rather than the thumbnails' one subscription to the camera.
    """
    server.stream("/streams?cameras=front&size=thumbnail")
    server.stream("/streams?cameras=front&size=thumbnail")
    server.push("front", make_jpeg(1, width=640, height=480))
    assert server.hub("front").consumers == {THUMBNAIL: 1}
    _, body = server.get("/")
    stats = page(body).find(".//article[@data-camera='front']//span[@class='stats']")
    assert stats is not None
    assert text(stats).startswith("2 watching \u00b7 ")


# Each camera under /cameras/<name>/


def test_camera_without_slash_redirects(server: Server) -> None:
    """
    C{/cameras/<name>} redirects to the camera's page at C{<name>/}, so that
    its relative links work; the name stays percent-encoded.
    """
    response, _ = server.get("/cameras/front")
    assert response.code == 302
    assert header(response, b"location") == [b"front/"]
    server.add("back yard")
    response, _ = server.get("/cameras/back%20yard")
    assert response.code == 302
    assert header(response, b"location") == [b"back%20yard/"]
    assert server.sources["front"].starts == 0


@pytest.mark.parametrize(
    "path",
    [
        "/cameras/nope",
        "/cameras/nope/",
        "/cameras/nope/video_feed",
        "/cameras/nope/snapshot.jpg",
        "/cameras/Front/",
    ],
)
def test_unknown_camera(server: Server, path: str) -> None:
    """
    Anything of a camera there is not is a short plain-text C{404} naming
    the cameras there are (and not repeating the name asked for), and
    starts no camera.
    """
    response, body = server.get(path)
    assert response.code == 404
    assert header(response, b"content-type") == [b"text/plain; charset=utf-8"]
    assert body == b"no such camera; cameras: back, front\n"
    assert [source.starts for source in server.sources.values()] == [0, 0]


def test_names_with_slashes() -> None:
    """
    A camera whose name holds slashes (sent as C{%2F}) is served under its
    name, as the grid and the API link to it, and is not confused with a
    path below another camera.
    """
    server = Server()
    server.add("garage")
    server.add("garage/left")
    server.add("a//b/")
    response, _ = server.get("/cameras/garage%2Fleft")
    assert response.code == 302
    assert header(response, b"location") == [b"garage%2Fleft/"]
    for name, path in [("garage/left", "garage%2Fleft"), ("a//b/", "a%2F%2Fb%2F")]:
        _, health = server.json(f"/cameras/{path}/healthz")
        assert health["name"] == name
        response, body = server.get(f"/cameras/{path}/")
        heading = page(body).find(".//h1")
        assert heading is not None
        assert text(heading) == name
        _, camera = server.json(f"/api/cameras/{path}")
        assert camera["name"] == name
        assert camera["page"] == f"cameras/{path}/"
    response, body = server.get("/cameras/garage/left/healthz")
    assert (response.code, body) == (404, b"not found\n")
    response, value = server.json("/api/cameras/garage/left")
    assert (response.code, value) == (404, {"error": "not found"})
    # A name that begins with a slash cannot be routed (the path's own
    # slashes and the name's are one to Klein), but is never taken for the
    # name without it.
    server.add("/garage")
    response, body = server.get("/cameras/%2Fgarage/")
    assert (response.code, body) == (404, b"not found\n")
    response, value = server.json("/api/cameras/%2Fgarage")
    assert (response.code, value) == (404, {"error": "not found"})
    server.service.remove_camera("/garage")
    _, body = server.get("/")
    links = [link.get("href") for link in page(body).findall(".//a[@class='name']")]
    assert links == [
        "cameras/garage/",
        "cameras/garage%2Fleft/",
        "cameras/a%2F%2Fb%2F/",
    ]


def test_camera_page_in_the_grid(server: Server) -> None:
    """
    C{/cameras/<name>/} is that camera's page, which links back up to the
    grid and shows the resolution of the camera's newest frame.
    """
    server.run("back", make_jpeg(1, width=48, height=32))
    response, body = server.get("/cameras/back/")
    assert response.code == 200
    assert header(response, b"content-type") == [b"text/html; charset=utf-8"]
    root = page(body)
    heading = root.find(".//h1[@id='name']")
    assert heading is not None
    assert text(heading) == "back"
    up = root.find(".//a[@class='up']")
    assert up is not None
    assert up.get("href") == "../../"
    resolution = root.find(".//span[@id='resolution']")
    assert resolution is not None
    assert text(resolution) == "48\u00d732"
    _, body = server.get("/cameras/front/")
    resolution = page(body).find(".//span[@id='resolution']")
    assert resolution is not None
    assert text(resolution) == "no picture yet"


def test_camera_page_failed(server: Server) -> None:
    """
    A failed camera's page says why it has no picture.
    """
    server.fail("front", "unplugged")
    _, body = server.get("/cameras/front/")
    problem = page(body).find(".//figcaption[@id='problem']")
    assert problem is not None
    assert text(problem) == "No picture: unplugged"


def test_camera_routes_reach_their_camera(server: Server) -> None:
    """
    A camera's snapshot, stream and health under C{/cameras/<name>/} are
    that camera's, and start no other camera.
    """
    jpeg = make_jpeg(5)
    pending = server.request("GET", "/cameras/back/snapshot.jpg")
    server.push("back", jpeg)
    response = successResultOf(pending)
    assert response.code == 200
    assert server.body(response) == jpeg
    assert server.sources["front"].starts == 0

    response, health = server.json("/cameras/back/healthz")
    assert response.code == 200
    assert (health["name"], health["driver"], health["state"]) == (
        "back",
        "v4l2",
        "running",
    )

    response, collector = server.stream("/cameras/back/video_feed")
    assert response.code == 200
    server.push("back", make_jpeg(6), CAPTURED_AT + 1)
    assert collector.data == (
        b"--frame\r\n"
        + encode_part(jpeg, CAPTURED_AT)
        + encode_part(make_jpeg(6), CAPTURED_AT + 1)
    )
    assert server.hub("back").viewers == 1
    assert server.sources["front"].starts == 0


def test_camera_static_files(server: Server) -> None:
    """
    A camera's page finds its stylesheet and script under its own
    C{static/}.
    """
    response, body = server.get("/cameras/front/static/camera.js")
    assert response.code == 200
    assert header(response, b"content-type") == [b"text/javascript; charset=utf-8"]
    assert body == static_bytes("camera.js")
    response, body = server.get("/cameras/front/static/..%2F..%2Fhealthz")
    assert response.code == 404
    assert body == b"not found\n"


@pytest.mark.parametrize("prefix", ["/cameras/back%20yard", ""])
def test_snapshot_download(monkeypatch: pytest.MonkeyPatch, prefix: str) -> None:
    """
    C{snapshot.jpg?download=1} (a camera's, or the first camera's) is the
    JPEG as a file to save, named for the camera (percent-encoded) and its
    capture time in UTC, whatever the server's time zone.
    """
    monkeypatch.setenv("TZ", "IST-5:30")
    time.tzset()
    try:
        server = Server()
        server.add("back yard")
        jpeg = make_jpeg(3)
        pending = server.request("GET", f"{prefix}/snapshot.jpg?download=1")
        server.push("back yard", jpeg, CAPTURED_AT)
        response = successResultOf(pending)
        assert response.code == 200
        assert header(response, b"content-disposition") == [
            b'attachment; filename="back%20yard-20231114-221320.jpg"'
        ]
        assert header(response, b"content-type") == [b"image/jpeg"]
        assert server.body(response) == jpeg
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_snapshot_without_download(server: Server) -> None:
    """
    A snapshot not asked for as a download (C{download=0} or no argument)
    has no C{Content-Disposition}; any other value is a C{400} that starts
    nothing.
    """
    server.run("front")
    for path in ("/snapshot.jpg", "/snapshot.jpg?download=0"):
        response, _ = server.get(f"/cameras/front{path}")
        assert response.code == 200
        assert header(response, b"content-disposition") == []
    response, body = server.get("/cameras/back/snapshot.jpg?download=yes")
    assert response.code == 400
    assert body == b"download must be 0 or 1\n"
    assert server.sources["back"].starts == 0


def test_one_app_per_camera(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Each camera's routes are served by one app, made on first use and kept
    for every later request, not one per request.
    """
    made: list[CameraHub] = []

    class Counted(CameraApp):
        def __init__(self, hub: CameraHub, *args: Any, **kwargs: Any) -> None:
            made.append(hub)
            super().__init__(hub, *args, **kwargs)

    monkeypatch.setattr(camserve.web._server_app, "CameraApp", Counted)
    for _ in range(3):
        assert server.get("/cameras/front/healthz")[0].code == 200
        assert server.get("/cameras/back/")[0].code == 200
    assert made == [server.hub("front"), server.hub("back")]


def test_removed_camera_is_forgotten(server: Server) -> None:
    """
    Once a camera is removed its routes are a C{404}, and the server keeps
    nothing of it: its hub can be collected.
    """
    assert server.get("/cameras/back/")[0].code == 200
    hub = weakref.ref(server.hub("back"))
    server.service.remove_camera("back")
    response, body = server.get("/cameras/back/")
    assert response.code == 404
    assert body == b"no such camera; cameras: front\n"
    gc.collect()
    assert hub() is None


def test_replaced_camera_is_served(server: Server) -> None:
    """
    A camera removed and added again under the same name (as a reload
    does) is served from its new source, not the old one.
    """
    assert server.get("/cameras/back/healthz")[0].code == 200
    server.service.remove_camera("back")
    replacement = server.add("back", driver="opencv")
    _, health = server.json("/cameras/back/healthz")
    assert health["driver"] == "opencv"
    jpeg = make_jpeg(9)
    pending = server.request("GET", "/cameras/back/snapshot.jpg")
    assert replacement.starts == 1
    server.push("back", jpeg)
    assert server.body(successResultOf(pending)) == jpeg


# The API


def test_api_cameras(server: Server) -> None:
    """
    C{/api/cameras} lists every camera in order: name, driver, state, last
    error, viewers, measured frame rate, the size of its newest frame, its
    group, and its page, stream and snapshot relative to the server's root.
    """
    server.add("back yard", group="garden")
    watching = server.request("GET", "/cameras/front/video_feed")
    for number in range(4):
        server.push("front", make_jpeg(number, width=64, height=48))
        server.clock.advance(0.125)
    assert successResultOf(watching).code == 200
    server.fail("back", "no such device")
    response, cameras = server.json("/api/cameras")
    assert response.code == 200
    assert cameras == [
        {
            "name": "front",
            "driver": "emulated",
            "group": None,
            "state": "running",
            "last_error": None,
            "viewers": 1,
            "fps": 8.0,
            "width": 64,
            "height": 48,
            "page": "cameras/front/",
            "stream": "cameras/front/video_feed",
            "snapshot": "cameras/front/snapshot.jpg",
        },
        {
            "name": "back",
            "driver": "v4l2",
            "group": None,
            "state": "failed",
            "last_error": "no such device",
            "viewers": 0,
            "fps": 0.0,
            "width": None,
            "height": None,
            "page": "cameras/back/",
            "stream": "cameras/back/video_feed",
            "snapshot": "cameras/back/snapshot.jpg",
        },
        {
            "name": "back yard",
            "driver": "",
            "group": "garden",
            "state": "idle",
            "last_error": None,
            "viewers": 0,
            "fps": 0.0,
            "width": None,
            "height": None,
            "page": "cameras/back%20yard/",
            "stream": "cameras/back%20yard/video_feed",
            "snapshot": "cameras/back%20yard/snapshot.jpg",
        },
    ]


def test_api_camera() -> None:
    """
    C{/api/cameras/<name>} adds to the camera's entry its frame count,
    uptime, its driver's details and its timeouts.
    """
    server = Server()
    server.add(
        "cam",
        DetailedSource(),
        driver="v4l2",
        idle_timeout=7.0,
        start_timeout=3.0,
        keepalive_interval=1.5,
        stall_timeout=12.0,
    )
    server.clock.advance(2.5)
    server.run("cam", make_jpeg(1, width=32, height=24))
    response, camera = server.json("/api/cameras/cam")
    assert response.code == 200
    assert camera == {
        "name": "cam",
        "driver": "v4l2",
        "group": None,
        "state": "running",
        "last_error": None,
        "viewers": 0,
        "fps": 0.0,
        "width": 32,
        "height": 24,
        "page": "cameras/cam/",
        "stream": "cameras/cam/video_feed",
        "snapshot": "cameras/cam/snapshot.jpg",
        "frames_captured": 1,
        "uptime": 2.5,
        "details": {"device": "/dev/video7"},
        "timeouts": {"idle": 7.0, "start": 3.0, "keepalive": 1.5, "stall": 12.0},
    }


def test_api_unknown_camera(server: Server) -> None:
    """
    C{/api/cameras/<name>} of a camera there is not is a JSON C{404} that
    lists the cameras there are.
    """
    response, value = server.json("/api/cameras/nope")
    assert response.code == 404
    assert value == {"error": "no such camera", "cameras": ["back", "front"]}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api"),
        ("GET", "/api/"),
        ("GET", "/api/nope"),
        ("GET", "/api/cameras/front/extra"),
        ("GET", "/api/cameras/"),
        ("POST", "/api/nope"),
    ],
)
def test_api_unknown_path(server: Server, method: str, path: str) -> None:
    """
    Any other path under C{/api} is a JSON C{404}.
    """
    response, value = server.json(path, method)
    assert response.code == 404
    assert value == {"error": "not found"}


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
@pytest.mark.parametrize("path", ["/api/cameras", "/api/cameras/front"])
def test_api_wrong_method(server: Server, method: str, path: str) -> None:
    """
    An API path asked with a method it does not answer is a JSON C{405}
    whose C{Allow} names GET and HEAD.
    """
    response, value = server.json(path, method)
    assert response.code == 405
    assert allowed(response) == [b"GET", b"HEAD"]
    assert value == {"error": "method not allowed"}


def test_api_counts_thumbnail_viewers(server: Server) -> None:
    """
    A camera's viewers in the API and in C{/healthz} are those of its own
    streams and those of its thumbnails, not the thumbnails' one
    subscription; they fall back when the thumbnail viewers leave.
    """
    thumbnails = [
        server.stream("/streams?cameras=front,back&size=thumbnail")[1] for _ in range(2)
    ]
    watching = server.request("GET", "/cameras/front/video_feed")
    server.push("front", make_jpeg(1, width=640, height=480))
    assert successResultOf(watching).code == 200
    assert server.hub("front").consumers == {VIEWER: 1, THUMBNAIL: 1}
    _, cameras = server.json("/api/cameras")
    assert [camera["viewers"] for camera in cameras] == [3, 2]
    _, camera = server.json("/api/cameras/front")
    assert camera["viewers"] == 3
    _, health = server.json("/healthz")
    assert [camera["viewers"] for camera in health["cameras"]] == [3, 2]

    for collector in thumbnails:
        collector.leave()
    server.agent.flush()
    server.clock.advance(0)
    _, cameras = server.json("/api/cameras")
    assert [camera["viewers"] for camera in cameras] == [1, 0]


# Health


def test_healthz_ok(server: Server) -> None:
    """
    C{/healthz} is C{200} with status C{ok} while no camera has failed, and
    every camera's health.
    """
    server.clock.advance(1.5)
    response, health = server.json("/healthz")
    assert response.code == 200
    idle: dict[str, Any] = {
        "driver": "",
        "state": "idle",
        "last_error": None,
        "viewers": 0,
        "consumers": {},
        "frames_captured": 0,
        "frames_dropped": 0,
        "fps": 0.0,
        "uptime": 1.5,
        "details": {},
    }
    assert health == {
        "status": "ok",
        "failed": [],
        "cameras": [
            {**idle, "name": "front", "driver": "emulated"},
            {**idle, "name": "back", "driver": "v4l2"},
        ],
    }


def test_healthz_failed(server: Server) -> None:
    """
    C{/healthz} is C{503} with status C{failed} naming the failed cameras
    while any has failed.
    """
    server.add("side")
    server.fail("back", "no such device")
    server.fail("side", "gone")
    server.run("front")
    response, health = server.json("/healthz")
    assert response.code == 503
    assert health["status"] == "failed"
    assert health["failed"] == ["back", "side"]
    assert [
        (camera["name"], camera["state"], camera["last_error"])
        for camera in health["cameras"]
    ] == [
        ("front", "running", None),
        ("back", "failed", "no such device"),
        ("side", "failed", "gone"),
    ]


# The first camera, at the server's root


def test_first_camera_snapshot(server: Server) -> None:
    """
    C{/snapshot.jpg} is the first camera's; after the service is arranged
    with another camera first, that camera's.
    """
    pending = server.request("GET", "/snapshot.jpg")
    assert [source.starts for source in server.sources.values()] == [1, 0]
    front = make_jpeg(1)
    server.push("front", front)
    assert server.body(successResultOf(pending)) == front

    server.service.arrange(["back"])
    pending = server.request("GET", "/snapshot.jpg")
    assert server.sources["back"].starts == 1
    back = make_jpeg(2)
    server.push("back", back)
    assert server.body(successResultOf(pending)) == back


def test_first_camera_video_feed(server: Server) -> None:
    """
    C{/video_feed} streams the first camera's frames, with the query options
    of a camera's stream.
    """
    server.service.arrange(["back", "front"])
    pending = server.request("GET", "/video_feed")
    server.push("back", make_jpeg(1))
    response = successResultOf(pending)
    assert response.code == 200
    assert header(response, b"content-type") == [
        b"multipart/x-mixed-replace; boundary=frame"
    ]
    collector = Collector()
    response.deliverBody(collector)
    server.agent.flush()
    assert collector.data == b"--frame\r\n" + encode_part(make_jpeg(1), CAPTURED_AT)
    assert server.sources["front"].starts == 0

    response, body = server.get("/video_feed?fps=abc")
    assert response.code == 400
    assert body == b"fps must be a number from 0.1 to 1000\n"


@pytest.mark.parametrize("path", ["/video_feed", "/snapshot.jpg"])
def test_first_camera_of_none(path: str) -> None:
    """
    Without cameras, the first camera's routes are a plain-text C{404}.
    """
    response, body = Server().get(path)
    assert response.code == 404
    assert header(response, b"content-type") == [b"text/plain; charset=utf-8"]
    assert body == b"no camera is configured\n"


def test_no_cameras() -> None:
    """
    A server without cameras has an empty grid, an empty list of cameras
    and is healthy.
    """
    server = Server()
    _, body = server.get("/")
    root = page(body)
    assert root.findall(".//article") == []
    summary = root.find(".//span[@id='summary']")
    assert summary is not None
    assert text(summary) == "0 cameras, 0 live"
    assert server.json("/api/cameras")[1] == []
    response, health = server.json("/healthz")
    assert response.code == 200
    assert health == {"status": "ok", "failed": [], "cameras": []}


# Several cameras on one connection


def test_streams_every_camera(server: Server) -> None:
    """
    C{/streams} is one multipart stream of every camera's frames, each part
    naming its camera in C{X-Camera}, in the order the frames came.
    """
    response, collector = server.stream("/streams")
    assert response.code == 200
    assert header(response, b"content-type") == [
        b"multipart/x-mixed-replace; boundary=frame"
    ]
    assert [source.starts for source in server.sources.values()] == [1, 1]
    frames = [("back", make_jpeg(1)), ("front", make_jpeg(2)), ("back", make_jpeg(3))]
    for number, (name, jpeg) in enumerate(frames):
        server.push(name, jpeg, CAPTURED_AT + number)
    assert collector.data == b"--frame\r\n" + b"".join(
        encode_part(jpeg, CAPTURED_AT + number, name)
        for number, (name, jpeg) in enumerate(frames)
    )
    assert [part.headers["x-camera"] for part in parts_of(collector)] == [
        "back",
        "front",
        "back",
    ]


def test_streams_chosen_cameras() -> None:
    """
    C{?cameras=} chooses the cameras, percent-encoded names included, and
    leaves the others alone; their frames are not sent.
    """
    server = Server()
    server.add("front")
    server.add("back yard")
    server.add("side")
    _, collector = server.stream("/streams?cameras=back%20yard,side")
    assert [source.starts for source in server.sources.values()] == [0, 1, 1]
    server.run("front")
    server.push("back yard", make_jpeg(1))
    server.push("side", make_jpeg(2))
    parts = parts_of(collector)
    assert [(part.headers["x-camera"], part.body) for part in parts] == [
        ("back%20yard", make_jpeg(1)),
        ("side", make_jpeg(2)),
    ]
    assert server.hub("front").viewers == 0


def test_streams_thumbnails(server: Server) -> None:
    """
    C{?size=thumbnail} sends each camera's frames about 320 pixels wide,
    labelled with their camera; C{size=full} sends them as they are.
    """
    _, thumbnails = server.stream("/streams?cameras=front,back&size=thumbnail")
    _, full = server.stream("/streams?cameras=front,back&size=full")
    server.push("front", make_jpeg(1, width=640, height=480))
    server.push("back", make_jpeg(2, width=1280, height=720))
    assert [
        (part.headers["x-camera"], image_size(part.body))
        for part in parts_of(thumbnails)
    ] == [("front", (320, 240)), ("back", (320, 180))]
    assert [
        (part.headers["x-camera"], image_size(part.body)) for part in parts_of(full)
    ] == [("front", (640, 480)), ("back", (1280, 720))]


def test_streams_thumbnails_of_some_cameras(server: Server) -> None:
    """
    C{?thumbnails=back} sends that camera's frames as thumbnails and the
    others' as they are, making thumbnails of that camera only.
    """
    _, stream = server.stream("/streams?cameras=front,back&thumbnails=back")
    server.push("front", make_jpeg(1, width=640, height=480))
    server.push("back", make_jpeg(2, width=1280, height=720))
    assert [
        (part.headers["x-camera"], image_size(part.body)) for part in parts_of(stream)
    ] == [("front", (640, 480)), ("back", (320, 180))]
    assert list(server.service.thumbnail_hubs) == ["back"]


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        ("size=big", 400, b"size must be full or thumbnail\n"),
        (
            "cameras=front&thumbnails=back",
            400,
            b"thumbnails must name cameras of the stream\n",
        ),
        ("cameras=front&thumbnails=nope", 404, b"no such camera\n"),
        ("cameras=front,front", 400, b"cameras must name each camera once\n"),
        (
            "cameras=front,back,front&size=thumbnail",
            400,
            b"cameras must name each camera once\n",
        ),
        ("cameras=front,nope", 404, b"no such camera\n"),
        ("cameras=Front", 404, b"no such camera\n"),
    ],
)
def test_streams_refused(server: Server, query: str, code: int, message: bytes) -> None:
    """
    A bad size or a camera named twice is a C{400}, an unknown camera a
    C{404}: short plain text, starting no camera and making no thumbnails.
    """
    response, body = server.get(f"/streams?{query}")
    assert response.code == code
    assert header(response, b"content-type") == [b"text/plain; charset=utf-8"]
    assert body == message
    assert [source.starts for source in server.sources.values()] == [0, 0]
    assert server.service.thumbnail_hubs == {}


def test_streams_head(server: Server) -> None:
    """
    HEAD C{/streams} answers with a stream's headers and no body, and
    starts no camera.
    """
    response, body = server.get("/streams", method="HEAD")
    assert response.code == 200
    assert header(response, b"content-type") == [
        b"multipart/x-mixed-replace; boundary=frame"
    ]
    assert body == b""
    assert [source.starts for source in server.sources.values()] == [0, 0]


def test_streams_end_when_the_client_leaves(server: Server) -> None:
    """
    When the client of C{/streams} goes away, the stream lets go of every
    camera, which then stop once idle.
    """
    _, collector = server.stream("/streams")
    server.push("front", make_jpeg(1))
    assert [server.hub(name).viewers for name in ("front", "back")] == [1, 1]
    collector.leave()
    server.agent.flush()
    assert [server.hub(name).viewers for name in ("front", "back")] == [0, 0]
    server.clock.advance(10)
    assert [source.stop_requested for source in server.sources.values()] == [
        True,
        True,
    ]


def test_streams_of_a_stopped_service(server: Server, log: LogRecorder) -> None:
    """
    C{/streams} asked while the service stops (its cameras shut down) is a
    plain-text C{503} saying so, leaving no viewer and logging no error.
    """
    server.service.startService()
    server.service.stopService()
    for query in ("", "&size=thumbnail", "&thumbnails=front"):
        response, body = server.get(f"/streams?cameras=back,front{query}")
        assert response.code == 503
        assert header(response, b"content-type") == [b"text/plain; charset=utf-8"]
        assert body in (b"camera back is shut down\n", b"camera front is shut down\n")
    assert [server.hub(name).viewers for name in ("front", "back")] == [0, 0]
    assert server.service.thumbnail_hubs == {}
    gc.collect()
    assert log.troubles(LogLevel.error) == []


# Static files


def test_every_static_file_is_expected() -> None:
    """
    The tests of the static files know every file of the folder.
    """
    folder = files("camserve.web").joinpath("static")
    assert sorted(path.name for path in folder.iterdir()) == sorted(STATIC)


@pytest.mark.parametrize("name", sorted(STATIC))
@pytest.mark.parametrize("prefix", ["", "/cameras/front"])
def test_static_file(server: Server, prefix: str, name: str) -> None:
    """
    Each of the pages' files is served under C{static/}, exactly, with its
    content type, not to be sniffed, cached for a while.
    """
    response, body = server.get(f"{prefix}/static/{name}")
    assert response.code == 200
    assert header(response, b"content-type") == [STATIC[name]]
    assert header(response, b"x-content-type-options") == [b"nosniff"]
    assert header(response, b"cache-control") == [b"max-age=300"]
    assert body == static_bytes(name)
    assert body


@pytest.mark.parametrize(
    "path",
    [
        "/static/",
        "/static/nope.css",
        "/static/CAMSERVE.CSS",
        "/static/camserve.css/",
        "/static/camserve.css/x",
        "/static/x/camserve.css",
        "/static/__init__.py",
        "/static/..%2F_server_app.py",
        "/static/..%2F..%2Fpyproject.toml",
        "/static/%2e%2e%2f__init__.py",
        "/static/..%5C_static.py",
        "/static/%2Fetc%2Fpasswd",
        "/static/..",
        "/static/grid.xml",
        "/cameras/front/static/..%2F_web.py",
        "/cameras/front/static/nope.js",
    ],
)
def test_static_refuses_other_paths(server: Server, path: str) -> None:
    """
    Nothing but the listed files is served under C{static/}: any other name
    or path trick is a short plain-text C{404}.
    """
    response, body = server.get(path)
    assert response.code == 404
    assert header(response, b"content-type") == [b"text/plain; charset=utf-8"]
    assert body == b"not found\n"


def test_favicon(server: Server) -> None:
    """
    C{/favicon.ico}, asked for by browsers before they read a page, is the
    icon.
    """
    response, body = server.get("/favicon.ico")
    assert response.code == 200
    assert header(response, b"content-type") == [b"image/svg+xml"]
    assert body == static_bytes("favicon.svg")


# Errors


def test_unknown_path(server: Server) -> None:
    """
    An unknown path outside C{/api} is a short plain-text C{404}.
    """
    for path in ("/nope", "/cameras", "/cameras/", "/healthz/x", "/streams/x"):
        response, body = server.get(path)
        assert response.code == 404, path
        assert header(response, b"content-type") == [b"text/plain; charset=utf-8"]
        assert body == b"not found\n"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/streams",
        "/healthz",
        "/video_feed",
        "/snapshot.jpg",
        "/favicon.ico",
        "/static/camserve.css",
        "/cameras/front",
        "/cameras/front/",
        "/cameras/front/snapshot.jpg",
    ],
)
def test_wrong_method(server: Server, path: str) -> None:
    """
    A path asked with a method it does not answer is a plain-text C{405}
    whose C{Allow} names GET and HEAD, and starts nothing.
    """
    response, body = server.get(path, method="POST")
    assert response.code == 405
    assert header(response, b"content-type") == [b"text/plain; charset=utf-8"]
    assert allowed(response) == [b"GET", b"HEAD"]
    assert body == b"method not allowed\n"
    assert [source.starts for source in server.sources.values()] == [0, 0]


# Mounting


def test_mounted_under_a_path() -> None:
    """
    Mounted as a child of another site's root, the app answers below it:
    the grid with links relative to it, a camera's page, the API with JSON
    errors, other unknown paths in plain text.
    """
    root = Resource()
    server = Server(root=root)
    root.putChild(b"cams", service_resource(server.service, server.clock))
    server.add("front")
    response, body = server.get("/cams/")
    assert response.code == 200
    tile = page(body).find(".//article")
    assert tile is not None
    picture = tile.find("a[@class='picture']")
    assert picture is not None
    href = picture.get("href")
    assert href == "cameras/front/"
    response, body = server.get(f"/cams/{href}")
    assert response.code == 200
    heading = page(body).find(".//h1")
    assert heading is not None
    assert text(heading) == "front"
    assert server.json("/cams/api/cameras")[1][0]["name"] == "front"
    response, value = server.json("/cams/api/nope")
    assert (response.code, value) == (404, {"error": "not found"})
    response, body = server.get("/cams/nope")
    assert (response.code, body) == (404, b"not found\n")


def test_a_part_serves_its_routes_in_the_app() -> None:
    """
    A route included from a part's Klein app is served by the app at its
    own path, by the part of the instance serving the request; a path it
    answers with another method is a C{405}, an unknown path a C{404}, in
    the app's own words.
    """

    class Part:
        app = Klein()

        def __init__(self, answer: bytes) -> None:
            self.answer = answer

        @app.route("/recordings/<name>", methods=["GET"])
        def recordings(self, request: IRequest, name: str) -> bytes:  # noqa: ARG002 - Klein passes it
            return self.answer + b" " + name.encode()

    class Whole:
        app = Klein()
        include(app, Part.app, lambda whole: whole.part.app)

        def __init__(self, answer: bytes) -> None:
            self.part = Part(answer)

        @app.handle_errors(NotFound)
        def not_found(self, request: IRequest, failure: Failure) -> bytes:  # noqa: ARG002 - Klein passes it by name
            request.setResponseCode(404)
            return b"whole: not found"

        @app.handle_errors(MethodNotAllowed)
        def not_allowed(self, request: IRequest, failure: Failure) -> bytes:  # noqa: ARG002 - Klein passes it by name
            request.setResponseCode(405)
            return b"whole: method not allowed"

    server = Server(root=Whole(b"mine").app.resource())
    response, body = server.get("/recordings/porch")
    assert (response.code, body) == (200, b"mine porch")
    response, body = server.get("/recordings/porch", method="POST")
    assert (response.code, body) == (405, b"whole: method not allowed")
    response, body = server.get("/recordings/")
    assert (response.code, body) == (404, b"whole: not found")


def test_what_cannot_be_included() -> None:
    """
    A branch route is not included in another app, whose one map cannot
    hand a branch's paths on; nor a route whose name the app has already.
    """

    class Part:
        app = Klein()

        @app.route("/recordings", methods=["GET"])
        def recordings(self, request: IRequest) -> bytes:  # noqa: ARG002 - Klein passes it
            return b""

    class Twice:
        app = Klein()
        include(app, Part.app, lambda _: Part().app)

    with pytest.raises(ValueError, match="recordings"):
        include(Twice.app, Part.app, lambda _: Part().app)
    with pytest.raises(ValueError, match="__rest__"):
        include(Klein(), ServerApp.app, lambda server: server.app)


# On a real port


@define
class Running:
    """
    A real server of real (scripted) cameras on a loopback port.
    """

    service: CameraService
    port: Any
    sockets: list[socket.socket] = field(factory=list)

    def connect(self) -> socket.socket:
        """
        A client socket connected to the server.
        """
        sock = socket.create_connection(
            ("127.0.0.1", self.port.getHost().port), timeout=10
        )
        self.sockets.append(sock)
        return sock


def open_connections() -> list[tcp.Connection]:
    """
    The reactor's TCP connections, client and server side, still open.
    """
    selectables = {*reactor.getReaders(), *reactor.getWriters()}
    return [each for each in selectables if isinstance(each, tcp.Connection)]


@inlineCallbacks
def close(server: Running) -> Generator[Deferred[Any], Any, None]:
    """
    Close the clients, stop the service (and its capture threads) and the
    port, and wait for every connection to be gone.
    """
    for sock in server.sockets:
        sock.close()
    yield server.service.stopService()
    yield server.port.stopListening()
    deadline = time.monotonic() + 10
    while open_connections():
        assert time.monotonic() < deadline, "connections left open"
        yield deferLater(reactor, 0.01, lambda: None)


@pytest.fixture
def running(log: LogRecorder) -> Iterator[Running]:
    """
    Two scripted cameras, C{front} (640x480) and C{back yard} (1280x720),
    served by L{service_resource} on 127.0.0.1; torn down afterwards, with
    no error logged meanwhile.
    """
    service = CameraService(reactor)
    for name, width, height in [("front", 640, 480), ("back yard", 1280, 720)]:
        jpegs = [make_jpeg(number, width, height) for number in range(3)]
        service.add_camera(name, ScriptedCamera(jpegs, fps=20))
    service.startService()
    site = Site(service_resource(service, reactor))
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    server = Running(service, port)
    yield server
    pytest_twisted.blockon(close(server))
    gc.collect()  # Unhandled errors in Deferreds are logged when collected.
    errors = log.troubles(LogLevel.error)
    assert errors == [], "\n".join(errors)


def read_stream(sock: socket.socket, path: str, count: int) -> tuple[int, list[Part]]:
    """
    Ask for C{path} on C{sock} and read C{count} parts (blocking: run it
    in a thread).
    """
    send_get(sock, path)
    deadline = time.monotonic() + 10
    head = read_head(sock, deadline)
    code = int(head.status.split()[1])
    return code, read_parts(sock, count, deadline, head.body)


@reactor_test
async def test_streams_on_a_real_port(running: Running) -> None:
    """
    Over a real connection, C{/streams?size=thumbnail} carries both
    cameras' frames, each labelled with its camera (percent-encoded) and
    shrunk to 320 pixels wide; C{size=full} carries them at full size.
    """
    for size, expected in [
        ("thumbnail", {"front": (320, 240), "back%20yard": (320, 180)}),
        ("full", {"front": (640, 480), "back%20yard": (1280, 720)}),
    ]:
        sock = running.connect()
        code, parts = await deferToThread(
            read_stream, sock, f"/streams?cameras=front,back%20yard&size={size}", 12
        )
        assert code == 200
        labels = [part.headers["x-camera"] for part in parts]
        assert set(labels) == set(expected), labels
        for part in parts:
            assert part.headers["content-type"] == "image/jpeg"
            assert re.fullmatch(r"\d+\.\d{6}", part.headers["x-timestamp"])
            assert image_size(part.body) == expected[part.headers["x-camera"]]
        sock.close()
        running.sockets.remove(sock)
