"""
Tests for what health tells, over real HTTP on a loopback port: in front of
logins, C{/healthz} says to everyone only how many cameras there are and
how many failed, and to a logged-in user the health of their cameras; a
camera's health tells a token's bearer all of it. Without logins health
tells everything, but never a password of a camera's source.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
import pytest_twisted  # type: ignore[import-untyped]  # it ships no type hints
from support import assert_no_trouble, free_port, reactor, reactor_test, wait_until
from test_auth import PASSWORDS, Served, basic
from treq.client import HTTPClient
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.server import Site

from camserve import CameraService, make_camera, service_resource
from camserve.testing import PushSource, ScriptedCamera, make_jpeg

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from support import LogRecorder
    from twisted.internet.interfaces import IListeningPort

TIMEOUT = 10
"""Seconds a request may take before the test fails."""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """
    A L{Served}: porch and garage behind the logins of alice (an admin of
    every camera) and bob (a viewer of porch).
    """
    server = Served(tmp_path)
    yield server
    pytest_twisted.blockon(Deferred.fromCoroutine(server.close()))


async def health(
    served: Served,
    path: str,
    user: str | None = None,
    password: str | None = None,
) -> tuple[int, Any]:
    """
    The code and the JSON of GET C{path}, as C{user} (with their password
    unless C{password} is given) or with no login.
    """
    headers = None
    if user is not None:
        headers = basic(user, PASSWORDS[user] if password is None else password)
    response = await served.client.get(
        served.url + path, headers=headers, timeout=TIMEOUT
    )
    body = await response.content()
    code: int = response.code
    return code, json.loads(body) if code in (200, 503) else body


def fail_a_camera(service: CameraService, name: str, reason: str) -> None:
    """
    Add camera C{name} to C{service}, start it and have it fail for
    C{reason}.
    """
    source = PushSource()
    waiting = service.add_source(name, source).next_frame()
    source.fail(OSError(reason))
    waiting.addErrback(lambda _: None)


@reactor_test
async def test_healthz_without_a_login_only_counts(served: Served) -> None:
    """
    In front of logins, C{/healthz} without one says only that all is well
    and how many cameras there are, none failed; when one has failed, C{503}
    with how many, naming neither camera nor reason.
    """
    assert await health(served, "/healthz") == (
        200,
        {"status": "ok", "cameras": 2, "failed": 0},
    )
    fail_a_camera(served.service, "shed", "no such device /dev/video7")
    code, answer = await health(served, "/healthz")
    assert (code, answer) == (503, {"status": "failed", "cameras": 3, "failed": 1})


@reactor_test
async def test_healthz_with_a_login_tells_of_the_users_cameras(
    served: Served, log: LogRecorder
) -> None:
    """
    C{/healthz} with a Basic login tells the health of the cameras its user
    sees, all of it: alice, every camera; bob, porch alone, without a word
    of garage. A wrong password is refused, as elsewhere.
    """
    code, answer = await health(served, "/healthz", "alice")
    assert code == 200
    assert answer["status"] == "ok"
    assert [camera["name"] for camera in answer["cameras"]] == ["porch", "garage"]
    assert {"state", "driver", "details", "last_error"} <= set(answer["cameras"][0])
    code, answer = await health(served, "/healthz", "bob")
    assert code == 200
    assert [camera["name"] for camera in answer["cameras"]] == ["porch"]
    assert "garage" not in json.dumps(answer)
    code, _ = await health(served, "/healthz", "bob", "not-the-password")
    assert code == 401
    fail_a_camera(served.service, "shed", "no such device /dev/video7")
    code, answer = await health(served, "/healthz", "alice")
    assert (code, answer["failed"]) == (503, ["shed"])
    # Bob does not see shed: all is well for him.
    assert (await health(served, "/healthz", "bob"))[0] == 200
    assert [line for line in log.troubles() if "failed" not in line] == []


@reactor_test
async def test_camera_health_by_token_or_in_public(tmp_path: Path) -> None:
    """
    A camera's health needs a login or a token by default; with a token it
    tells all of the camera's health. Made public, it tells everyone the
    camera's name and state alone, and still all of it with a token.
    """
    server = Served(tmp_path, extra='public = ["/healthz", "/cameras/"]')
    try:
        _, minted = await server.post_json("/api/tokens", {"camera": "porch"}, "bob")
        by_token = f"/cameras/porch/healthz?token={minted['token']}"
        code, answer = await health(server, by_token)
        assert code == 200
        assert answer["name"] == "porch"
        assert {"state", "driver", "details", "last_error"} <= set(answer)
        code, answer = await health(server, "/cameras/porch/healthz")
        assert (code, answer) == (200, {"name": "porch", "state": "idle"})
        assert (await health(server, "/cameras/porch/healthz", "bob"))[0] == 200
        assert (await health(server, "/cameras/garage/healthz", "bob"))[0] == 404
    finally:
        await server.close()
    server = Served(tmp_path)
    try:
        assert (await health(server, "/cameras/porch/healthz"))[0] == 401
    finally:
        await server.close()


HIDDEN = "hunter2-secret"


@reactor_test
async def test_no_password_of_a_source_is_shown(log: LogRecorder) -> None:
    """
    Without logins, health and the API tell every camera's source, but
    never the password in a relay's or a stream's URL: not in its details,
    not in its last error, not in the pages.
    """
    service = CameraService(reactor)
    closed = free_port()
    relay = f"http://viewer:{HIDDEN}@127.0.0.1:{closed}/video"
    service.add_driver(
        "relay", make_camera("mjpeg", {"source": relay}, reactor), driver="mjpeg"
    )
    stream = f"rtsp://admin:{HIDDEN}@127.0.0.1:{closed}/stream1"
    service.add_driver(
        "rtsp", make_camera("opencv", {"source": stream}), driver="opencv"
    )
    service.add_camera("porch", ScriptedCamera([make_jpeg(0, 64, 48)], fps=5))
    service.startService()
    port: IListeningPort = reactor.listenTCP(
        0, Site(service_resource(service, reactor)), interface="127.0.0.1"
    )
    address = port.getHost()
    assert isinstance(address, IPv4Address)
    url = f"http://127.0.0.1:{address.port}"
    client = HTTPClient(
        Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))
    )

    async def everything() -> bytes:
        bodies = b""
        for path in [
            "/healthz",
            "/api/cameras",
            "/",
            *(
                each
                for name in ["relay", "rtsp"]
                for each in [
                    f"/api/cameras/{name}",
                    f"/cameras/{name}/healthz",
                    f"/cameras/{name}/",
                ]
            ),
        ]:
            response = await client.get(url + path, timeout=TIMEOUT)
            bodies += await response.content()
        return bodies

    try:
        response = await client.get(url + "/cameras/relay/healthz", timeout=TIMEOUT)
        details = json.loads(await response.content())["details"]
        assert details["source"] == f"http://127.0.0.1:{closed}/video"
        response = await client.get(url + "/cameras/rtsp/healthz", timeout=TIMEOUT)
        details = json.loads(await response.content())["details"]
        assert details["source"] == f"rtsp://admin:***@127.0.0.1:{closed}/stream1"
        assert HIDDEN.encode() not in await everything()
        # The relay tries its source, which refuses it: its error is shown.
        response = await client.get(
            url + "/cameras/relay/snapshot.jpg", timeout=TIMEOUT
        )
        assert response.code == 503
        await response.content()
        await wait_until(
            lambda: service.hubs["relay"].health()["last_error"] is not None,
            "the relay fails",
        )
        assert f"127.0.0.1:{closed}" in service.hubs["relay"].health()["last_error"]
        assert HIDDEN.encode() not in await everything()
    finally:
        await port.stopListening()  # type: ignore[misc]  # a TCP port's is a Deferred
        await service.stopService()
    assert not [text for text in log.troubles() if HIDDEN in text]
    assert HIDDEN not in "".join(log.formatted())


@reactor_test
async def test_healthz_without_logins_tells_everything(log: LogRecorder) -> None:
    """
    A server without logins is open anyway: C{/healthz} names every camera
    with its health, as it always has.
    """
    service = CameraService(reactor)
    service.add_camera("porch", ScriptedCamera([make_jpeg(0, 64, 48)], fps=5))
    service.startService()
    port: IListeningPort = reactor.listenTCP(
        0, Site(service_resource(service, reactor)), interface="127.0.0.1"
    )
    address = port.getHost()
    assert isinstance(address, IPv4Address)
    client = HTTPClient(
        Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))
    )
    try:
        response = await client.get(
            f"http://127.0.0.1:{address.port}/healthz", timeout=TIMEOUT
        )
        answer = json.loads(await response.content())
        assert response.code == 200
        assert answer["status"] == "ok"
        assert answer["failed"] == []
        assert [camera["name"] for camera in answer["cameras"]] == ["porch"]
        assert "details" in answer["cameras"][0]
    finally:
        await port.stopListening()  # type: ignore[misc]  # a TCP port's is a Deferred
        await service.stopService()
    assert_no_trouble(log)
