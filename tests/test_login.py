"""
Tests for the login in front of the routes (L{camserve.access._login}), over real
HTTP on a loopback port: what every route answers to each role, camera
allow list and token; users changed while they watch; and
C{POST /api/reload}.
"""

from __future__ import annotations

import gc
import json
import socket
from typing import TYPE_CHECKING, Any

import pytest
import pytest_twisted  # type: ignore[import-untyped]  # it ships no type hints
from support import assert_no_trouble, reactor, reactor_test, wait_until
from test_auth import (
    PASSWORDS,
    Served,
    accounts_of,
    basic,
    htpasswd_line,
    write_config,
)
from treq.client import HTTPClient
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.protocol import Protocol
from twisted.logger import LogLevel
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.server import Site

from camserve import CameraService, service_resource
from camserve._listener import Listener
from camserve.access._auth import LoginThrottle
from camserve.access._login import LoginResource
from camserve.config._reload import Reloaded
from camserve.tap import build_service
from camserve.testing import ScriptedCamera, make_jpeg

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from support import LogRecorder
    from twisted.internet.interfaces import IListeningPort
    from twisted.python.failure import Failure

JPEG_START = b"\xff\xd8"
TIMEOUT = 10
"""Seconds a request may take before the test fails."""

# Each route, and what it answers: to alice (an admin of every camera), bob
# (a viewer of porch), someone with no login, and bob's token for porch.
# Porch is the first camera, so /video_feed and /snapshot.jpg are its.
ROUTES: list[tuple[str, str, dict[str, Any] | None, int, int, int, int]] = [
    ("GET", "/", None, 200, 200, 401, 401),
    ("GET", "/cameras/porch/", None, 200, 200, 401, 200),
    ("HEAD", "/cameras/porch/video_feed", None, 200, 200, 401, 200),
    ("GET", "/cameras/porch/snapshot.jpg", None, 200, 200, 401, 200),
    ("GET", "/cameras/porch/healthz", None, 200, 200, 401, 200),
    ("GET", "/cameras/porch/static/camserve.css", None, 200, 200, 401, 200),
    ("GET", "/cameras/garage/", None, 200, 404, 401, 401),
    ("HEAD", "/cameras/garage/video_feed", None, 200, 404, 401, 401),
    ("GET", "/cameras/garage/snapshot.jpg", None, 200, 404, 401, 401),
    ("GET", "/cameras/garage/healthz", None, 200, 404, 401, 401),
    ("HEAD", "/video_feed", None, 200, 200, 401, 200),
    ("GET", "/snapshot.jpg", None, 200, 200, 401, 200),
    ("HEAD", "/streams", None, 200, 200, 401, 401),
    ("HEAD", "/streams?cameras=garage", None, 200, 404, 401, 401),
    ("GET", "/api/cameras", None, 200, 200, 401, 401),
    ("GET", "/api/cameras/porch", None, 200, 200, 401, 401),
    ("GET", "/api/cameras/garage", None, 200, 404, 401, 401),
    ("POST", "/api/tokens", {"camera": "porch"}, 200, 200, 401, 401),
    ("POST", "/api/tokens", {"camera": "garage"}, 200, 404, 401, 401),
    ("POST", "/api/reload", {}, 200, 403, 401, 401),
    ("GET", "/static/camserve.css", None, 200, 200, 401, 401),
    ("GET", "/favicon.ico", None, 200, 200, 401, 401),
    ("GET", "/healthz", None, 200, 200, 200, 200),
    ("GET", "/nothing-here", None, 404, 404, 401, 401),
]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """
    A L{Served} whose admins' reloads change nothing.
    """
    server = Served(tmp_path)
    server.resource.reload = lambda: succeed(Reloaded(unchanged=("porch", "garage")))
    yield server
    pytest_twisted.blockon(Deferred.fromCoroutine(server.close()))


async def answer(
    served: Served,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    headers: dict[bytes | str, list[bytes | str]] | None,
) -> int:
    """
    The status code of C{method} C{path} (with C{body} as JSON).
    """
    sent = dict(headers or {})
    data = None
    if body is not None:
        sent[b"content-type"] = [b"application/json"]
        data = json.dumps(body).encode()
    response = await served.client.request(
        method, served.url + path, headers=sent, data=data, timeout=TIMEOUT
    )
    await response.content()
    code: int = response.code
    return code


@reactor_test
async def test_every_route_for_each_role_camera_list_and_token(served: Served) -> None:
    """
    Alice, an admin, may use every route; bob, a viewer of porch, only
    what a viewer may (C{403} for a reload) and only porch's (C{404} for
    garage's, as for a camera that does not exist); without a login
    everything but C{/healthz} asks for one; bob's token for porch opens
    porch's page, stream, snapshot, health and page files, and nothing else.
    """
    token = (await served.post_json("/api/tokens", {"camera": "porch"}, "bob"))[1][
        "token"
    ]
    got: dict[tuple[str, str, str], int] = {}
    wanted: dict[tuple[str, str, str], int] = {}
    for method, path, body, alice, bob, nobody, by_token in ROUTES:
        for who, code in [("alice", alice), ("bob", bob), ("nobody", nobody)]:
            headers = basic(who, PASSWORDS[who]) if who in PASSWORDS else None
            got[method, path, who] = await answer(served, method, path, body, headers)
            wanted[method, path, who] = code
        joined = path + ("&" if "?" in path else "?") + "token=" + token
        got[method, path, "token"] = await answer(served, method, joined, body, None)
        wanted[method, path, "token"] = by_token
    assert got == wanted


class _Watching(Protocol):
    """
    Keeps what a stream sends, and fires L{ended} when it ends.
    """

    def __init__(self) -> None:
        self.data = b""
        self.ended: Deferred[None] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Failure | None = None) -> None:  # noqa: ARG002 - IProtocol's
        self.ended.callback(None)


async def watch(served: Served, path: str, user: str | None = None) -> _Watching:
    """
    Open the stream at C{path} (as C{user}, if given) and wait for its
    first JPEG.
    """
    headers = None if user is None else basic(user, PASSWORDS[user])
    response = await served.client.get(
        served.url + path, headers=headers, timeout=TIMEOUT
    )
    assert response.code == 200, path
    watching = _Watching()
    response.deliverBody(watching)
    await wait_until(lambda: JPEG_START in watching.data, f"a frame of {path}")
    return watching


async def ended(watching: _Watching) -> None:
    """
    Wait for C{watching}'s stream to end; fail the test if it does not
    within L{wait_until}'s bound.
    """
    await wait_until(lambda: watching.ended.called, "the stream ends")


async def still_streaming(watching: _Watching) -> bool:
    """
    Whether C{watching}'s stream goes on: another JPEG arrives.
    """
    seen = watching.data.count(JPEG_START)
    await wait_until(
        lambda: watching.data.count(JPEG_START) > seen or watching.ended.called,
        "another frame",
    )
    return not watching.ended.called


@reactor_test
async def test_a_changed_user_is_let_in_as_changed_at_once(
    served: Served, tmp_path: Path, log: LogRecorder
) -> None:
    """
    Users updated while served take effect at the next request: bob, given
    another password and garage instead of porch, loses his porch stream
    at once, is refused with his old password, and sees garage, not porch,
    with his new one. Alice, unchanged, keeps watching on her connection.
    """
    bobs = await watch(served, "/cameras/porch/video_feed", "bob")
    alices = await watch(served, "/cameras/porch/video_feed", "alice")
    path = tmp_path / "camserve.toml"
    path.write_text(
        path.read_text().replace('cameras = ["porch"]', 'cameras = ["garage"]')
    )
    htpasswd = tmp_path / "users.htpasswd"
    (alice, _) = htpasswd.read_text().splitlines()
    htpasswd.write_text(alice + "\n" + htpasswd_line("bob", "new-password"))
    assert served.resource.update(accounts_of(path)) == ["bob"]
    await ended(bobs)
    assert await still_streaming(alices)
    assert (await served.get("/api/cameras", "bob"))[0].code == 401
    headers = basic("bob", "new-password")
    cameras = await served.client.get(
        served.url + "/api/cameras", headers=headers, timeout=TIMEOUT
    )
    assert [each["name"] for each in json.loads(await cameras.content())] == ["garage"]
    for camera, code in [("porch", 404), ("garage", 200)]:
        response = await served.client.get(
            f"{served.url}/cameras/{camera}/snapshot.jpg",
            headers=headers,
            timeout=TIMEOUT,
        )
        await response.content()
        assert response.code == code, camera
    assert "camserve: logins changed for bob; 1 of their streams ended" in (
        log.formatted(LogLevel.info)
    )


@reactor_test
async def test_tokens_of_a_removed_user_or_an_old_key_end(
    served: Served, tmp_path: Path
) -> None:
    """
    When bob is removed, the stream his token serves ends and his token is
    refused; when the token key changes, every token's stream ends, and
    the old tokens are refused.
    """
    _, minted = await served.post_json("/api/tokens", {"camera": "porch"}, "bob")
    _, alices = await served.post_json("/api/tokens", {"camera": "porch"}, "alice")
    bobs_stream = await watch(served, "/" + minted["stream"])
    alices_stream = await watch(served, "/" + alices["stream"])
    path = tmp_path / "camserve.toml"
    without_bob = path.read_text().split("[auth.users.bob]")[0]
    path.write_text(without_bob)
    htpasswd = tmp_path / "users.htpasswd"
    htpasswd.write_text(htpasswd.read_text().splitlines()[0] + "\n")
    assert served.resource.update(accounts_of(path)) == ["bob"]
    await ended(bobs_stream)
    assert (await served.get("/" + minted["snapshot"]))[0].code == 401
    assert await still_streaming(alices_stream)
    (tmp_path / "key").write_bytes(b"k" * 32)
    path.write_text(without_bob.replace("[auth]", '[auth]\ntoken_secret_file = "key"'))
    assert served.resource.update(accounts_of(path)) == []
    await ended(alices_stream)
    assert (await served.get("/" + alices["snapshot"]))[0].code == 401


@reactor_test
async def test_a_token_stream_ends_when_the_token_expires(
    served: Served, log: LogRecorder
) -> None:
    """
    A stream opened with a token that lasts a second ends when the token
    expires, with a line in the log saying so and no trouble.
    """
    _, minted = await served.post_json(
        "/api/tokens", {"camera": "porch", "seconds": 1}, "bob"
    )
    watching = await watch(served, "/" + minted["stream"])
    await ended(watching)
    assert reactor.seconds() >= minted["expires"]
    assert (
        "camserve: a token expired; its request of /cameras/porch/video_feed ended"
        in log.formatted(LogLevel.info)
    )
    assert_no_trouble(log)


@reactor_test
async def test_a_user_of_no_camera_sees_none(served: Served, tmp_path: Path) -> None:
    """
    Carol, whose camera list is empty, sees no camera: none in the grid, the
    API or her health, C{404} on every camera's routes and the first
    camera's, and no token for any camera.
    """
    carol = '[auth.users.carol]\nrole = "viewer"\ncameras = []\n'
    path = write_config(tmp_path, extra=carol, users={**PASSWORDS, "carol": "hidden"})
    assert "carol" in served.resource.update(accounts_of(path))
    login = basic("carol", "hidden")
    response, body = await served.get("/api/cameras", "carol", "hidden")
    assert (response.code, json.loads(body)) == (200, [])
    response, body = await served.get("/", "carol", "hidden")
    assert response.code == 200
    assert b"cameras/" not in body
    response, body = await served.get("/healthz", "carol", "hidden")
    assert json.loads(body) == {"status": "ok", "failed": [], "cameras": []}
    for name in ["porch", "garage"]:
        for route in [
            "",
            "video_feed",
            "snapshot.jpg",
            "healthz",
            "static/camserve.css",
        ]:
            route_path = f"/cameras/{name}/{route}"
            assert await answer(served, "GET", route_path, None, login) == 404, (
                route_path
            )
        for other in [f"/api/cameras/{name}", f"/streams?cameras={name}"]:
            assert await answer(served, "GET", other, None, login) == 404, other
        minting = {"camera": name}
        assert await answer(served, "POST", "/api/tokens", minting, login) == 404
    for first in ["/video_feed", "/snapshot.jpg"]:
        assert await answer(served, "GET", first, None, login) == 404, first


@reactor_test
async def test_reload_answers_what_it_did(tmp_path: Path) -> None:
    """
    C{POST /api/reload} by an admin reads the config file again and
    answers what changed: a camera added, a user changed; a file with a
    mistake is answered C{400} with the mistake, and changes nothing. A
    viewer gets C{403}; a request from another origin C{403}, one without
    JSON C{415}.
    """
    path = write_config(tmp_path)
    top = build_service(str(path), reactor)
    top.startService()
    try:
        (listener,) = [child for child in top if isinstance(child, Listener)]
        url = f"http://127.0.0.1:{listener.port.getHost().port}"  # type: ignore[union-attr]  # a listening TCP port's
        client = HTTPClient(
            Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))
        )

        async def reload(
            user: str,
            headers: dict[bytes | str, list[bytes | str]] | None = None,
            data: bytes = b"{}",
        ) -> tuple[int, Any]:
            sent: dict[bytes | str, list[bytes | str]] = {
                b"content-type": [b"application/json"],
                **basic(user, PASSWORDS[user]),
                **(headers or {}),
            }
            response = await client.post(
                url + "/api/reload", data=data, headers=sent, timeout=TIMEOUT
            )
            return response.code, json.loads(await response.content())

        assert await reload("bob") == (403, {"error": "only an admin may reload"})
        assert (await reload("alice", {b"origin": [b"http://evil.example"]}))[0] == 403
        assert (await reload("alice", {b"content-type": [b"text/plain"]}))[0] == 415
        assert (await reload("alice", data=b"[]"))[0] == 400
        path.write_text(
            path.read_text()
            .replace('cameras = ["porch"]', 'cameras = ["garage"]')
            .replace(
                "[auth]", '[[cameras]]\nname = "shed"\ndriver = "emulated"\n\n[auth]'
            )
        )
        assert await reload("alice") == (
            200,
            {
                "added": ["shed"],
                "removed": [],
                "restarted": [],
                "unchanged": ["porch", "garage"],
                "users": ["bob"],
            },
        )
        path.write_text(
            path.read_text().replace('driver = "emulated"', "driver = 3", 1)
        )
        code, refused = await reload("alice")
        assert code == 400
        assert "driver" in refused["error"]
        assert str(path) in refused["error"]
        assert await reload("alice") == (400, refused)
    finally:
        await top.stopService()


@reactor_test
async def test_reload_without_logins_or_a_file(tmp_path: Path) -> None:
    """
    Without logins nobody is an admin: C{POST /api/reload} answers C{403}.
    An admin of a server not started from a config file gets C{409}.
    """
    service = CameraService(reactor)
    service.add_camera("porch", ScriptedCamera([make_jpeg(0, 64, 48)], fps=5))
    port: IListeningPort = reactor.listenTCP(
        0, Site(service_resource(service, reactor)), interface="127.0.0.1"
    )
    server = Served(tmp_path)
    try:
        client = HTTPClient(
            Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))
        )
        address = port.getHost()
        assert isinstance(address, IPv4Address)
        json_type: dict[bytes | str, list[bytes | str]] = {
            b"content-type": [b"application/json"]
        }
        response = await client.post(
            f"http://127.0.0.1:{address.port}/api/reload",
            data=b"{}",
            headers=json_type,
            timeout=TIMEOUT,
        )
        assert response.code == 403
        assert json.loads(await response.content()) == {
            "error": "only an admin may reload"
        }
        code, answered = await server.post_json("/api/reload", {}, "alice")
        assert (code, answered) == (409, {"error": "not started from a config file"})
    finally:
        await port.stopListening()  # type: ignore[misc]  # a TCP port's is a Deferred
        await server.close()


@reactor_test
async def test_a_client_gone_before_its_failed_login_is_answered(
    served: Served, tmp_path: Path, log: LogRecorder
) -> None:
    """
    A client that sends a wrong password and closes its connection at once
    is gone when the failure is answered, after the throttle's delay: that
    answer is dropped without a traceback. The next login from the same
    address, which waits for that answer, is served.
    """
    # A delay long enough that the server sees the connection closed first.
    throttle = LoginThrottle(reactor, first=0.2, longest=0.2)
    resource = LoginResource(
        served.service,
        reactor,
        accounts_of(tmp_path / "camserve.toml"),
        throttle=throttle,
    )
    port: IListeningPort = reactor.listenTCP(0, Site(resource), interface="127.0.0.1")
    try:
        address = port.getHost()
        assert isinstance(address, IPv4Address)
        authorization = basic("bob", "not-the-password")[b"authorization"][0]
        assert isinstance(authorization, bytes)
        with socket.create_connection(("127.0.0.1", address.port)) as sock:
            sock.sendall(
                b"GET /api/cameras HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Authorization: " + authorization + b"\r\n\r\n"
            )
        await wait_until(
            lambda: any("failed login" in line for line in log.formatted()),
            "the login is checked",
        )
        # Checked after the failure is answered, the throttle's delay later.
        response = await served.client.get(
            f"http://127.0.0.1:{address.port}/api/cameras",
            headers=basic("alice", PASSWORDS["alice"]),
            timeout=TIMEOUT,
        )
        assert response.code == 200
        await response.content()
    finally:
        await port.stopListening()  # type: ignore[misc]  # a TCP port's is a Deferred
    gc.collect()
    assert [line for line in log.troubles() if "failed login" not in line] == []
