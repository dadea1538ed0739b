"""
Tests for API tokens (L{camserve.access._tokens}): minted with C{POST /api/tokens}
by a logged-in user, taken with no login for their own camera's stream and
snapshot until they expire, and never written to the log.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
import pytest_twisted  # type: ignore[import-untyped]  # it ships no type hints
from support import assert_no_trouble, reactor, reactor_test, wait_until
from test_auth import PASSWORDS, accounts_of, basic, write_config
from treq.client import HTTPClient
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.logger import formatEvent
from twisted.web.client import Agent, HTTPConnectionPool

from camserve import CameraService, CamserveSite, ConfigError
from camserve._listener import Listener
from camserve.access._auth import LoginThrottle
from camserve.access._login import LoginResource
from camserve.access._tokens import Tokens, scrub, token_camera
from camserve.config._file import load_config
from camserve.tap import JSON_BODY_SIZE, build_service
from camserve.testing import ScriptedCamera, make_jpeg
from camserve.web._user import User

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from support import LogRecorder
    from twisted.internet.interfaces import IListeningPort
    from twisted.python.failure import Failure
    from twisted.web.iweb import IResponse

_Headers = dict[bytes | str, list[bytes | str]]
KEY = b"k" * 32
JPEG_START = b"\xff\xd8"
TIMEOUT = 10
"""Seconds a request, or a stream's first frame, may take before the test
fails."""


class TokenServer:
    """
    A server of two scripted cameras, porch (the first) and garage, asking
    for the logins of L{test_auth.CONFIG}, its tokens told the time by a
    L{Clock} and its users a dict the tests change, on a port of 127.0.0.1.
    """

    def __init__(self, tmp_path: Path, hosts: tuple[str, ...] = ()) -> None:
        """
        @param hosts: the host names its site answers to, beside addresses.
        """
        self.service = CameraService(reactor)
        for name in ["porch", "garage"]:
            jpegs = [make_jpeg(number, 64, 48) for number in range(3)]
            self.service.add_camera(name, ScriptedCamera(jpegs, fps=20))
        self.service.startService()
        accounts = accounts_of(write_config(tmp_path))
        self.users = {name: each.user for name, each in accounts.users.items()}
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        tokens = Tokens(KEY, self.users, self.clock)
        throttle = LoginThrottle(reactor, first=0.01, longest=0.01)
        resource = LoginResource(
            self.service, reactor, accounts, throttle=throttle, tokens=tokens
        )
        site = CamserveSite(
            resource, reactor, max_body_size=JSON_BODY_SIZE, allowed_hosts=hosts
        )
        self.port: IListeningPort = reactor.listenTCP(0, site, interface="127.0.0.1")
        self.url = f"http://127.0.0.1:{self.port.getHost().port}"
        self.client = HTTPClient(
            Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))
        )

    async def mint(
        self,
        body: bytes | dict[str, Any],
        user: str = "bob",
        headers: _Headers | None = None,
    ) -> tuple[int, Any]:
        """
        POST C{body} (as JSON unless bytes) to C{/api/tokens} as C{user};
        the answer's code and JSON.
        """
        sent: _Headers = {
            b"content-type": [b"application/json"],
            **basic(user, PASSWORDS[user]),
            **(headers or {}),
        }
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = await self.client.post(
            self.url + "/api/tokens", data=data, headers=sent, timeout=TIMEOUT
        )
        return response.code, json.loads(await response.content())

    async def token(self, camera: str = "porch", seconds: int = 3600) -> Any:
        """
        A token minted by bob for C{camera}: the whole answer.
        """
        code, answer = await self.mint({"camera": camera, "seconds": seconds})
        assert code == 200, answer
        return answer

    async def get(self, path: str) -> tuple[IResponse, bytes]:
        """
        GET C{path} with no login; the response and its body.
        """
        response = await self.client.get(self.url + path, timeout=TIMEOUT)
        return response, await response.content()

    async def first_frame(self, path: str) -> tuple[IResponse, bytes]:
        """
        GET the stream at C{path} with no login, reading until a JPEG has
        begun, then drop the connection.
        """
        response = await self.client.get(self.url + path, timeout=TIMEOUT)
        if response.code != 200:
            return response, await response.content()
        got: Deferred[bytes] = Deferred()
        response.deliverBody(_UntilJpeg(got))
        return response, await got.addTimeout(TIMEOUT, reactor)

    async def close(self) -> None:
        """
        Stop the cameras and the port.
        """
        await self.service.stopService()
        stopped = self.port.stopListening()
        if stopped is not None:
            await stopped


class _UntilJpeg(Protocol):
    def __init__(self, got: Deferred[bytes]) -> None:
        self._got = got
        self._data = b""

    def dataReceived(self, data: bytes) -> None:
        self._data += data
        if JPEG_START in self._data and not self._got.called:
            self._got.callback(self._data)
            self.transport.stopProducing()  # type: ignore[union-attr]  # set by the client

    def connectionLost(self, reason: Failure | None = None) -> None:  # noqa: ARG002 - IProtocol's
        if not self._got.called:
            self._got.callback(self._data)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[TokenServer]:
    """
    A L{TokenServer}, closed afterwards.
    """
    made = TokenServer(tmp_path)
    yield made
    pytest_twisted.blockon(Deferred.fromCoroutine(made.close()))


@reactor_test
async def test_minted_token_serves_stream_and_snapshot(server: TokenServer) -> None:
    """
    A token bob mints for porch, which he sees, lasts the seconds asked
    for, and serves porch's snapshot (a JPEG) and stream with no login, at
    the URLs the answer gives, and at /video_feed and /snapshot.jpg, porch
    being the first camera.
    """
    answer = await server.token(seconds=60)
    assert answer["expires"] == 1_700_000_060
    token = answer["token"]
    assert answer["stream"] == f"cameras/porch/video_feed?token={token}"
    assert answer["snapshot"] == f"cameras/porch/snapshot.jpg?token={token}"
    for path in [answer["snapshot"], f"snapshot.jpg?token={token}"]:
        response, body = await server.get("/" + path)
        assert response.code == 200, path
        assert body.startswith(JPEG_START)
    for path in [answer["stream"], f"video_feed?token={token}"]:
        response, body = await server.first_frame("/" + path)
        assert response.code == 200, path
        assert JPEG_START in body


@reactor_test
async def test_token_is_only_for_its_camera(server: TokenServer) -> None:
    """
    Alice's token for garage is refused (C{401}) for porch, and for
    /video_feed and /snapshot.jpg, which are porch's; other paths with a
    token still need a login.
    """
    code, answer = await server.mint({"camera": "garage"}, user="alice")
    assert code == 200
    token = answer["token"]
    response, _ = await server.get(f"/cameras/garage/snapshot.jpg?token={token}")
    assert response.code == 200
    for path in [
        "/cameras/porch/snapshot.jpg",
        "/cameras/porch/video_feed",
        "/snapshot.jpg",
        "/video_feed",
    ]:
        response, body = await server.get(f"{path}?token={token}")
        assert (response.code, body) == (401, b"unauthorized\n"), path
    response, _ = await server.get(f"/api/cameras?token={token}")
    assert response.code == 401
    assert response.headers.getRawHeaders(b"www-authenticate")


@reactor_test
async def test_expired_token_is_refused(server: TokenServer) -> None:
    """
    A token serves until just before its expiry, and is C{401} from then on.
    """
    answer = await server.token(seconds=60)
    server.clock.advance(59)
    response, _ = await server.get("/" + answer["snapshot"])
    assert response.code == 200
    server.clock.advance(1)
    response, body = await server.get("/" + answer["snapshot"])
    assert (response.code, body) == (401, b"unauthorized\n")


def test_a_token_lasts_at_least_its_seconds() -> None:
    """
    A token minted late in a second lasts the seconds asked for, not as
    little as one second less: its expiry is counted from the second's end.
    """
    clock = Clock()
    clock.advance(100.9)
    users = {"bob": User("bob", "viewer")}
    tokens = Tokens(b"k" * 32, users, clock)
    token, expires = tokens.mint(users["bob"], "porch", 1)
    assert expires == 102
    clock.advance(0.95)
    assert tokens.user_of(token, "porch") == users["bob"]
    clock.advance(0.15)
    assert tokens.user_of(token, "porch") is None


class _Stream(Protocol):
    """
    Keeps what a stream sends; L{ended} once it ends.
    """

    def __init__(self) -> None:
        self.data = b""
        self.ended = False

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Failure | None = None) -> None:  # noqa: ARG002 - IProtocol's
        self.ended = True


@reactor_test
async def test_a_token_ends_its_stream_at_its_expiry(
    server: TokenServer, log: LogRecorder
) -> None:
    """
    A stream opened with a token goes on until just before the token's
    expiry, and ends at it, logging no trouble.
    """
    answer = await server.token(seconds=2)
    response = await server.client.get(
        server.url + "/" + answer["stream"], timeout=TIMEOUT
    )
    assert response.code == 200
    stream = _Stream()
    response.deliverBody(stream)
    await wait_until(lambda: JPEG_START in stream.data, "the first frame")
    server.clock.advance(1.9)
    seen = stream.data.count(JPEG_START)
    await wait_until(
        lambda: stream.data.count(JPEG_START) > seen or stream.ended,
        "another frame",
    )
    assert not stream.ended
    server.clock.advance(0.1)
    await wait_until(lambda: stream.ended, "the stream ends")
    assert_no_trouble(log)


@reactor_test
async def test_tampered_tokens_are_refused(server: TokenServer) -> None:
    """
    A token whose signature or payload is changed, or that is no token,
    is C{401}.
    """
    token = (await server.token())["token"]
    payload, signature = token.split(".")
    flipped = "A" if signature[0] != "A" else "B"
    other = Tokens(b"x" * 32, server.users, server.clock)
    forged, _ = other.mint(server.users["bob"], "porch", 60)
    for bad in [
        f"{payload}.{flipped}{signature[1:]}",
        f"{payload[:-1]}{'A' if payload[-1] != 'A' else 'B'}.{signature}",
        payload,
        "",
        "...",
        forged,
    ]:
        response, _ = await server.get(f"/cameras/porch/snapshot.jpg?token={bad}")
        assert response.code == 401, bad


@reactor_test
async def test_token_of_a_user_removed_or_denied_is_refused(
    server: TokenServer,
) -> None:
    """
    A token stops working when its camera is taken from its user, and when
    its user is removed.
    """
    snapshot = "/" + (await server.token())["snapshot"]
    server.users["bob"] = User("bob", "viewer", frozenset({"garage"}))
    assert (await server.get(snapshot))[0].code == 401
    server.users["bob"] = User("bob", "viewer", frozenset({"porch"}))
    assert (await server.get(snapshot))[0].code == 200
    del server.users["bob"]
    assert (await server.get(snapshot))[0].code == 401


@reactor_test
async def test_minting_refusals(server: TokenServer) -> None:
    """
    Minting is refused for a camera the user does not see (C{404}), without
    JSON (C{415}), from a foreign origin (C{403}), with a body that is not
    JSON or asks for what cannot be had (C{400}); the same origin is taken.
    """
    assert (await server.mint({"camera": "garage"}))[0] == 404
    assert (await server.mint({"camera": "nowhere"}, user="alice"))[0] == 404
    form: _Headers = {b"content-type": [b"application/x-www-form-urlencoded"]}
    assert (await server.mint(b"camera=porch", headers=form))[0] == 415
    evil: _Headers = {b"origin": [b"http://evil.example"]}
    assert (await server.mint({"camera": "porch"}, headers=evil))[0] == 403
    own: _Headers = {b"origin": [server.url.encode()]}
    assert (await server.mint({"camera": "porch"}, headers=own))[0] == 200
    assert (await server.mint(b"{not json"))[0] == 400
    for body in [
        [],
        {},
        {"camera": 3},
        {"camera": "porch", "seconds": 0},
        {"camera": "porch", "seconds": 7 * 24 * 3600 + 1},
        {"camera": "porch", "seconds": "60"},
        {"camera": "porch", "seconds": True},
    ]:
        assert (await server.mint(body))[0] == 400, body  # type: ignore[arg-type]  # wrong on purpose


@reactor_test
async def test_an_origin_that_only_begins_like_the_host_is_refused(
    tmp_path: Path,
) -> None:
    """
    A request to C{camserve.lan} from the origin
    C{http://camserve.lan.evil.example}, another site whose name begins with
    the host's, is refused C{403} by C{/api/tokens} and C{/api/reload}; the
    same request from C{http://camserve.lan} is served.
    """
    server = TokenServer(tmp_path, hosts=("camserve.lan",))
    try:

        async def post(path: str, user: str, origin: bytes) -> int:
            headers: _Headers = {
                b"host": [b"camserve.lan"],
                b"origin": [origin],
                b"content-type": [b"application/json"],
                **basic(user, PASSWORDS[user]),
            }
            response = await server.client.post(
                server.url + path,
                data=b'{"camera": "porch"}',
                headers=headers,
                timeout=TIMEOUT,
            )
            await response.content()
            code: int = response.code
            return code

        evil = b"http://camserve.lan.evil.example"
        assert await post("/api/tokens", "bob", evil) == 403
        assert await post("/api/reload", "alice", evil) == 403
        own = b"http://camserve.lan"
        assert await post("/api/tokens", "bob", own) == 200
        # Served, as far as a server started from no config file goes.
        assert await post("/api/reload", "alice", own) == 409
    finally:
        await server.close()


@reactor_test
async def test_minting_needs_a_login_and_post(server: TokenServer) -> None:
    """
    C{/api/tokens} without a login is C{401}; asked with GET, C{405}.
    """
    json_type: _Headers = {b"content-type": [b"application/json"]}
    response = await server.client.post(
        server.url + "/api/tokens",
        data=b'{"camera": "porch"}',
        headers=json_type,
        timeout=TIMEOUT,
    )
    assert response.code == 401
    response = await server.client.get(
        server.url + "/api/tokens",
        headers=basic("bob", PASSWORDS["bob"]),
        timeout=TIMEOUT,
    )
    assert response.code == 405
    await response.content()


@reactor_test
async def test_tokens_are_never_logged(server: TokenServer, log: LogRecorder) -> None:
    """
    Requests with a token, valid or not, in the query and in C{Referer},
    leave the token in no log event, while the access log records them.
    """
    token = (await server.token())["token"]
    await server.get(f"/cameras/porch/snapshot.jpg?size=x&token={token}")
    await server.get(f"/cameras/porch/snapshot.jpg?tok%65n={token}x")
    referer: _Headers = {
        b"referer": [f"{server.url}/cameras/porch/?token={token}".encode()]
    }
    response = await server.client.get(
        server.url + "/static/camserve.css", headers=referer, timeout=TIMEOUT
    )
    await response.content()
    texts = [formatEvent(event) + repr(event) for event in log.events]
    assert not [text for text in texts if token in text]
    assert [text for text in texts if "snapshot.jpg?size=x&token=-" in text]


def test_scrub() -> None:
    """
    L{scrub} leaves out each C{token} argument's value, however its name is
    escaped, and nothing else.
    """
    assert scrub(b"/a?token=s&b=1;token=t") == b"/a?token=-&b=1;token=-"
    assert scrub(b"/a?t%6Fken=s") == b"/a?token=-"
    assert scrub(b"/a?tokens=s") == b"/a?tokens=s"
    assert scrub(b"/a/token=s") == b"/a/token=s"


def test_token_camera() -> None:
    """
    Tokens are for a camera's page, stream, snapshot and health, and for
    /video_feed and /snapshot.jpg as the first camera's; nothing else.
    """
    assert token_camera(b"/cameras/a%2Fb/video_feed", "x") == "a/b"
    assert token_camera(b"/cameras/porch/", "x") == "porch"
    assert token_camera(b"/cameras/porch/healthz", "x") == "porch"
    assert token_camera(b"/video_feed", "porch") == "porch"
    assert token_camera(b"/snapshot.jpg", None) is None
    assert token_camera(b"/cameras/porch/other", "x") is None
    assert token_camera(b"/api/cameras", "x") is None


@reactor_test
async def test_build_service_takes_token_bodies_and_key(tmp_path: Path) -> None:
    """
    With C{[auth]}, C{build_service}'s site takes small bodies and its
    tokens are signed with the key of C{token_secret_file}, read relative
    to the config file.
    """
    (tmp_path / "token.key").write_bytes(KEY)
    path = write_config(tmp_path, extra='token_secret_file = "token.key"')
    config = load_config(path)
    assert config.auth is not None
    assert config.auth.token_secret_file == str(tmp_path / "token.key")
    assert accounts_of(path).token_key == KEY
    top = build_service(str(path), reactor)
    top.startService()
    try:
        (listener,) = [child for child in top if isinstance(child, Listener)]
        site = listener.factory
        assert isinstance(site, CamserveSite)
        assert site.max_body_size == JSON_BODY_SIZE
        url = f"http://127.0.0.1:{listener.port.getHost().port}"  # type: ignore[union-attr]  # a listening TCP port's
        client = HTTPClient(
            Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))
        )
        headers: _Headers = {
            b"content-type": [b"application/json; charset=utf-8"],
            **basic("bob", PASSWORDS["bob"]),
        }
        response = await client.post(
            url + "/api/tokens",
            data=b'{"camera": "porch", "seconds": 5}',
            headers=headers,
            timeout=TIMEOUT,
        )
        assert response.code == 200
        token = json.loads(await response.content())["token"]
        bob = User("bob", "viewer", frozenset({"porch"}))
        assert Tokens(KEY, {"bob": bob}, reactor).user_of(token, "porch") == bob
    finally:
        await top.stopService()


@pytest.mark.parametrize(
    ("extra", "key", "message"),
    [
        ('token_secret_file = "token.key"', b"short", "holds 5 bytes, fewer than 32"),
        ('token_secret_file = "missing.key"', None, "cannot read it"),
        ("token_secret_file = 3", None, "token_secret_file must name a file"),
    ],
)
def test_token_key_mistakes(
    tmp_path: Path, extra: str, key: bytes | None, message: str
) -> None:
    """
    A token key file that cannot be read, or is too short to be a key, or
    a C{token_secret_file} that is not a path, stops camserve in one line.
    """
    if key is not None:
        (tmp_path / "token.key").write_bytes(key)
    with pytest.raises(ConfigError, match=message):
        accounts_of(write_config(tmp_path, extra=extra))


@reactor_test
async def test_deeply_nested_json_is_refused(
    server: TokenServer, log: LogRecorder
) -> None:
    """
    A body of JSON nested deeper than the parser goes, small as it is, is
    answered C{400} with a short JSON error by C{/api/tokens} and
    C{/api/reload}, and logs no traceback.
    """
    nested = b"[" * 2040 + b"]" * 2040
    assert len(nested) <= JSON_BODY_SIZE
    deep = {"error": "the body is nested too deeply"}
    assert await server.mint(nested) == (400, deep)
    headers: _Headers = {
        b"content-type": [b"application/json"],
        **basic("alice", PASSWORDS["alice"]),
    }
    response = await server.client.post(
        server.url + "/api/reload", data=nested, headers=headers, timeout=TIMEOUT
    )
    assert response.code == 400
    assert json.loads(await response.content()) == deep
    assert_no_trouble(log)
