"""
Tests for the routes of L{camserve.camera_resource} other than the stream
itself (see C{test_viewer} for that), through an in-memory HTTP client.

The client is treq's L{HTTPClient} over L{RequestTraversalAgent}, which is
what C{treq.testing.StubTreq} is made of: a real twisted.web server and a real
HTTP client parser, connected in memory. The camera is a L{CameraHub} fed by a
hand-driven L{PushSource} on a L{Clock}.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from attrs import define, field
from klein import Klein
from treq import content
from treq.client import HTTPClient
from treq.testing import RequestTraversalAgent
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock

from camserve import CameraHub, StreamViewer, camera_resource
from camserve.testing import PushSource, make_jpeg

if TYPE_CHECKING:
    from treq.response import _Response
    from twisted.internet.defer import Deferred
    from twisted.python.failure import Failure
    from twisted.web.iweb import IResponse
    from twisted.web.resource import IResource

T = TypeVar("T")

URL = "http://camserve.test"


def result_of(deferred: Deferred[T]) -> T:
    """
    The result C{deferred} already has; fail the test if it has none yet or
    failed.
    """
    results: list[T] = []
    failures: list[Failure] = []
    deferred.addCallbacks(results.append, failures.append)
    if failures:
        failures[0].raiseException()
    assert results, "the Deferred has not fired"
    return results[0]


def fired(deferred: Deferred[Any]) -> bool:
    """
    Whether C{deferred} has a result yet (not merely a Deferred to wait on).
    """
    outcome: list[object] = []

    def note(value: object) -> object:
        outcome.append(value)
        return value

    deferred.addBoth(note)
    return bool(outcome)


def header(response: IResponse, name: bytes) -> list[bytes]:
    """
    All values of header C{name}, or an empty list.
    """
    return list(response.headers.getRawHeaders(name, []))


@define
class Camera:
    """
    A hub fed by a L{PushSource}, served over an in-memory HTTP client.
    """

    driver: str = "emulated"
    name: str = "cam"
    clock: Clock = field(factory=Clock)
    source: PushSource = field(factory=PushSource)
    hub: CameraHub = field(init=False)
    agent: RequestTraversalAgent = field(init=False)
    client: HTTPClient = field(init=False)

    def __attrs_post_init__(self) -> None:
        self.hub = CameraHub(self.name, self.source, self.clock, driver=self.driver)
        self.agent = RequestTraversalAgent(camera_resource(self.hub, self.clock))
        self.client = HTTPClient(self.agent)

    def request(self, method: str, path: str) -> Deferred[_Response]:
        """
        Send a request; return the response to come.
        """
        deferred = self.client.request(method, URL + path)
        self.agent.flush()
        return deferred

    def get(self, path: str, method: str = "GET") -> tuple[IResponse, bytes]:
        """
        A response that the server completes at once, and its body.
        """
        response = result_of(self.request(method, path))
        return response, self.body(response)

    def body(self, response: IResponse) -> bytes:
        """
        The complete body of C{response}.
        """
        body = content(response)
        self.agent.flush()
        return result_of(body)

    def push(self, jpeg: bytes, captured_at: float = 1_700_000_000.5) -> None:
        """
        Deliver a frame and let the server's answers reach the client.
        """
        self.source.push(jpeg, captured_at)
        self.agent.flush()

    def run(self) -> None:
        """
        Start the camera with a frame, as a snapshot would.
        """
        self.request("GET", "/snapshot.jpg")
        self.push(make_jpeg(0))


@pytest.fixture
def camera() -> Camera:
    """
    An idle camera named C{cam}.
    """
    return Camera()


# The page


def test_page(camera: Camera) -> None:
    """
    C{/} is an HTML page naming the camera and its driver, showing the stream
    in the framing browsers show at once (C{<img src="video_feed?advance_headers=1">})
    and saying there is no picture yet.
    """
    response, body = camera.get("/")
    assert response.code == 200
    assert header(response, b"content-type") == [b"text/html; charset=utf-8"]
    assert header(response, b"cache-control") == [b"no-store"]
    page = body.decode("utf-8")
    assert '<h1 id="name">cam</h1>' in page
    assert "<b>emulated</b>" in page
    assert "<img " in page
    assert 'src="video_feed?advance_headers=1"' in page
    assert '<span id="resolution">no picture yet</span>' in page


def test_page_shows_resolution(camera: Camera) -> None:
    """
    Once the camera has given a frame, the page shows its width and height.
    """
    camera.request("GET", "/snapshot.jpg")
    camera.push(make_jpeg(1, width=64, height=48))
    _, body = camera.get("/")
    page = body.decode("utf-8")
    assert '<span id="resolution">64\u00d748</span>' in page
    assert "no picture yet" not in page


def test_page_escapes_name() -> None:
    """
    The camera's name and driver are HTML-escaped in the page.
    """
    camera = Camera(name="Porch <b>&", driver="<x>")
    _, body = camera.get("/")
    page = body.decode("utf-8")
    assert '<h1 id="name">Porch &lt;b&gt;&amp;</h1>' in page
    assert "<b>&lt;x&gt;</b>" in page
    assert "Porch <b>&" not in page
    assert "<x>" not in page


# Snapshots


def test_snapshot_waits_for_fresh_frame(camera: Camera) -> None:
    """
    C{/snapshot.jpg} on an idle camera starts it, waits for its first frame
    and answers with exactly that JPEG: C{image/jpeg}, exact
    C{Content-Length}, C{no-store} and the capture time.
    """
    pending = camera.request("GET", "/snapshot.jpg")
    assert camera.source.starts == 1
    assert not fired(pending)
    jpeg = make_jpeg(7, width=64, height=48)
    camera.push(jpeg, 1_700_000_000.25)
    response = result_of(pending)
    assert response.code == 200
    assert header(response, b"content-type") == [b"image/jpeg"]
    # The client parser moves Content-Length out of the headers into length.
    assert response.length == len(jpeg)
    assert header(response, b"cache-control") == [b"no-store"]
    assert header(response, b"x-timestamp") == [b"1700000000.250000"]
    assert camera.body(response) == jpeg


def test_snapshot_of_running_camera(camera: Camera) -> None:
    """
    A snapshot of a camera delivering frames is its newest frame, at once.
    """
    camera.run()
    camera.clock.advance(0.125)
    newest = make_jpeg(2)
    camera.push(newest)
    response, body = camera.get("/snapshot.jpg")
    assert response.code == 200
    assert body == newest


def test_snapshot_skips_stale_frame(camera: Camera) -> None:
    """
    A snapshot does not return a frame older than two frame intervals: it
    waits for the next one.
    """
    camera.run()
    for number in (1, 2, 3):
        camera.clock.advance(0.125)
        camera.push(make_jpeg(number))
    camera.clock.advance(1)
    pending = camera.request("GET", "/snapshot.jpg")
    assert not fired(pending)
    fresh = make_jpeg(4)
    camera.push(fresh)
    assert camera.body(result_of(pending)) == fresh


def test_snapshot_camera_fails(camera: Camera) -> None:
    """
    A snapshot of a camera that fails before giving a frame is a C{503} with
    a one-line plain-text reason.
    """
    pending = camera.request("GET", "/snapshot.jpg")
    camera.source.fail(OSError("no such device"))
    camera.agent.flush()
    response = result_of(pending)
    assert response.code == 503
    assert header(response, b"content-type") == [b"text/plain; charset=utf-8"]
    assert camera.body(response) == b"camera cam failed: no such device\n"


def test_snapshot_start_timeout(camera: Camera) -> None:
    """
    A snapshot of a camera that gives no frame within the start timeout is a
    C{503} saying so.
    """
    pending = camera.request("GET", "/snapshot.jpg")
    camera.clock.advance(10)
    camera.agent.flush()
    response = result_of(pending)
    assert response.code == 503
    assert camera.body(response) == b"camera cam gave no frame within 10 s\n"


# Health


def test_healthz_idle(camera: Camera) -> None:
    """
    C{/healthz} of a camera nobody has watched is C{200} JSON with every
    documented field.
    """
    camera.clock.advance(3.5)
    response, body = camera.get("/healthz")
    assert response.code == 200
    assert header(response, b"content-type") == [b"application/json"]
    assert header(response, b"cache-control") == [b"no-store"]
    assert body.endswith(b"\n")
    assert json.loads(body) == {
        "name": "cam",
        "driver": "emulated",
        "state": "idle",
        "last_error": None,
        "viewers": 0,
        "consumers": {},
        "frames_captured": 0,
        "frames_dropped": 0,
        "fps": 0.0,
        "uptime": 3.5,
        "details": {},
    }


def test_healthz_running(camera: Camera) -> None:
    """
    C{/healthz} of a running camera is C{200} with its state, viewers,
    frame count and measured frame rate.
    """
    camera.request("GET", "/video_feed")
    camera.push(make_jpeg(0))
    for number in (1, 2, 3):
        camera.clock.advance(0.125)
        camera.push(make_jpeg(number))
    response, body = camera.get("/healthz")
    assert response.code == 200
    health: dict[str, Any] = json.loads(body)
    assert health == {
        "name": "cam",
        "driver": "emulated",
        "state": "running",
        "last_error": None,
        "viewers": 1,
        "consumers": {"viewer": 1},
        "frames_captured": 4,
        "frames_dropped": 0,
        "fps": 8.0,
        "uptime": 0.375,
        "details": {},
    }


def test_healthz_failed(camera: Camera) -> None:
    """
    C{/healthz} of a failed camera is C{503}, with the state and last error.
    """
    camera.request("GET", "/snapshot.jpg")
    camera.source.fail(OSError("no such device"))
    response, body = camera.get("/healthz")
    assert response.code == 503
    assert header(response, b"content-type") == [b"application/json"]
    health = json.loads(body)
    assert health["state"] == "failed"
    assert health["last_error"] == "no such device"


# Errors


def test_unknown_path(camera: Camera) -> None:
    """
    An unknown path is a short plain-text C{404}.
    """
    response, body = camera.get("/nope")
    assert response.code == 404
    assert header(response, b"content-type") == [b"text/plain; charset=utf-8"]
    assert body == b"not found\n"
    assert len(body) < 100


@pytest.mark.parametrize("path", ["/video_feed", "/snapshot.jpg", "/healthz", "/"])
def test_wrong_method(camera: Camera, path: str) -> None:
    """
    POST to a known path is a short C{405} with an C{Allow} header naming GET
    and HEAD, and starts nothing.
    """
    response, body = camera.get(path, method="POST")
    assert response.code == 405
    (allow,) = header(response, b"allow")
    assert sorted(method.strip() for method in allow.split(b",")) == [
        b"GET",
        b"HEAD",
    ]
    assert body == b"method not allowed\n"
    assert camera.source.starts == 0
    assert camera.hub.viewers == 0


@pytest.mark.parametrize(
    "value",
    ["0", "-1", "abc", "nan", "inf", "-inf", "", "1e-300", "0.099", "1000.1", "1e9"],
)
def test_bad_fps(camera: Camera, value: str) -> None:
    """
    C{?fps=} that is not a number from 0.1 to 1000 (a rate so low the viewer
    would get nothing, not even keepalives, is one) is a short plain-text
    C{400} saying what is allowed without repeating what was sent, and
    starts nothing.
    """
    response, body = camera.get(f"/video_feed?fps={value}")
    assert response.code == 400
    assert header(response, b"content-type") == [b"text/plain; charset=utf-8"]
    assert body == b"fps must be a number from 0.1 to 1000\n"
    assert camera.source.starts == 0
    assert camera.hub.viewers == 0


@pytest.mark.parametrize("value", ["0.1", "1000"])
def test_fps_at_its_limits(camera: Camera, value: str) -> None:
    """
    The frame-rate caps at both limits are taken.
    """
    camera.request("GET", f"/video_feed?fps={value}")
    camera.push(make_jpeg(1))
    assert camera.hub.viewers == 1


@pytest.mark.parametrize("value", ["2", "yes", "true", "", "x" * 500])
def test_bad_advance_headers(camera: Camera, value: str) -> None:
    """
    C{?advance_headers=} other than C{0} or C{1} is a short C{400} naming the
    argument, and starts nothing.
    """
    response, body = camera.get(f"/video_feed?advance_headers={value}")
    assert response.code == 400
    assert body == b"advance_headers must be 0 or 1\n"
    assert camera.source.starts == 0


def test_advance_headers_framing(camera: Camera) -> None:
    """
    With C{?advance_headers=1} each JPEG is followed at once by the boundary
    and the next part's headers, which is when Chromium shows it.
    """
    pending = camera.request("GET", "/video_feed?advance_headers=1")
    first, second = make_jpeg(1), make_jpeg(2)
    camera.push(first)
    response = result_of(pending)
    assert response.code == 200
    received: list[bytes] = []
    response.deliverBody(_Collector(received))
    camera.push(second)
    headers = b"Content-Type: image/jpeg\r\n\r\n"
    assert b"".join(received) == (
        b"--frame\r\n"
        + headers
        + first
        + b"\r\n--frame\r\n"
        + headers
        + second
        + b"\r\n--frame\r\n"
        + headers
    )


class _Collector(Protocol):
    """
    Collects a response body as it arrives.
    """

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    def dataReceived(self, data: bytes) -> None:
        self.chunks.append(data)


def test_fractional_fps(camera: Camera) -> None:
    """
    C{?fps=2.5} is accepted: the stream starts, capped at 2.5 frames a
    second.
    """
    pending = camera.request("GET", "/video_feed?fps=2.5")
    camera.push(make_jpeg(1))
    response = result_of(pending)
    assert response.code == 200
    assert header(response, b"content-type") == [
        b"multipart/x-mixed-replace; boundary=frame"
    ]
    (viewer,) = tuple(camera.hub._sinks)
    assert isinstance(viewer, StreamViewer)
    assert viewer._min_interval == pytest.approx(0.4)


def test_head_video_feed(camera: Camera) -> None:
    """
    HEAD C{/video_feed} is a C{200} with the stream's content type and no
    body, and neither starts the camera nor adds a viewer.
    """
    response, body = camera.get("/video_feed", method="HEAD")
    assert response.code == 200
    assert body == b""
    assert header(response, b"content-type") == [
        b"multipart/x-mixed-replace; boundary=frame"
    ]
    assert camera.source.starts == 0
    assert camera.hub.viewers == 0


# Mounting


def test_mounts_under_a_klein_route_with_branch() -> None:
    """
    Inside another Klein app, under a route with C{branch=True}, the camera
    answers below that route: its page, a snapshot and its health.
    """
    clock = Clock()
    source = PushSource()
    hub = CameraHub("front", source, clock)
    outer = Klein()

    @outer.route("/cameras/front/", branch=True)
    def front(request: object) -> IResource:
        return camera_resource(hub, clock)

    @outer.route("/")
    def home(request: object) -> str:
        return "the host application"

    agent = RequestTraversalAgent(outer.resource())
    client = HTTPClient(agent)

    def get(path: str) -> Deferred[_Response]:
        deferred = client.get(URL + path)
        agent.flush()
        return deferred

    def body(response: IResponse) -> bytes:
        deferred = content(response)
        agent.flush()
        return result_of(deferred)

    home_page = result_of(get("/"))
    assert body(home_page) == b"the host application"
    page = result_of(get("/cameras/front/"))
    assert page.code == 200
    assert 'src="video_feed?advance_headers=1"' in body(page).decode()

    snapshot = get("/cameras/front/snapshot.jpg")
    jpeg = make_jpeg(3)
    source.push(jpeg)
    agent.flush()
    response = result_of(snapshot)
    assert response.code == 200
    assert body(response) == jpeg

    health = result_of(get("/cameras/front/healthz"))
    assert json.loads(body(health))["name"] == "front"
    missing = result_of(get("/cameras/front/nothing"))
    assert missing.code == 404
