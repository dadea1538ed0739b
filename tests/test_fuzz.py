"""
Fuzz tests, with Hypothesis: malformed and hostile requests thrown at a
running camserve over real loopback sockets, and random config files fed to
the config parser. Each is bounded to finish in seconds.
"""

from __future__ import annotations

import itertools
import json
import math
import socket
import threading
import time
import tomllib
from typing import TYPE_CHECKING, Any, cast

import bcrypt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import LogRecorder, reactor_test, read_head, send_get, wait_until
from twisted.internet import reactor
from twisted.internet.testing import MemoryReactor
from twisted.internet.threads import deferToThread

from camserve import CameraService, CamserveSite, service_resource
from camserve._errors import ConfigError
from camserve.config._file import check_config, parse_config
from camserve.testing import MultipartParser, ScriptedCamera, make_jpeg

if TYPE_CHECKING:
    from collections.abc import Callable

CAMERAS = ("front", "back")

_FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""Bounded runs that write no example database into the checkout."""

# Hostile requests

_CONTROL = st.sampled_from(
    [b"\x00", b"\r", b"\n", b"\x7f", b"\x1b", b"\x0b", b"\xff", b"\t", b" "]
)
_TOKEN = st.binary(min_size=0, max_size=20).map(lambda raw: raw.replace(b"\r\n", b""))
_PERCENT = st.sampled_from(
    [
        b"%",
        b"%G1",
        b"%FF",
        b"%C3",
        b"%C3%A9",
        b"%00",
        b"%2F",
        b"%2e%2e",
        b"%25",
        b"%0d%0a",
    ]
)


@st.composite
def _segment(draw: Callable[..., Any]) -> bytes:
    """
    One path segment or query string: printable text, percent-escapes good
    and bad, and control bytes.
    """
    pieces = draw(
        st.lists(
            st.one_of(
                st.text(max_size=12).map(lambda text: text.encode("utf-8")),
                _PERCENT,
                _CONTROL,
                st.sampled_from(
                    [b"front", b"back", b"..", b"/", b"?", b"#", b"&", b"=", b";"]
                ),
            ),
            max_size=6,
        )
    )
    return b"".join(pieces)


@st.composite
def _target(draw: Callable[..., Any]) -> bytes:
    """
    A request target: one of camserve's routes, with a random camera name
    where it takes one, and a random query.
    """
    name = draw(_mostly(st.sampled_from([n.encode() for n in CAMERAS]), _segment()))
    path = draw(
        st.sampled_from(
            [
                b"/video_feed",
                b"/cameras/%s/video_feed",
                b"/cameras/%s/snapshot.jpg",
                b"/cameras/%s/",
                b"/snapshot.jpg",
                b"/streams",
                b"/api/cameras",
                b"/api/cameras/%s",
                b"/",
                b"/healthz",
                b"/static/%s",
                b"*",
                b"http://127.0.0.1/%s",
                b"%s",
            ]
        )
    )
    if b"%s" in path:
        path = path.replace(b"%s", name)
    query = draw(
        st.one_of(
            st.just(b""),
            st.just(b""),
            _segment().map(lambda q: b"?" + q),
            st.sampled_from(
                [b"fps", b"cameras", b"camera", b"width", b"quality", b"fps[]"]
            ).flatmap(
                lambda key: st.one_of(
                    st.floats().map(lambda f: repr(f).encode()),
                    st.integers().map(lambda i: str(i).encode()),
                    _segment(),
                ).map(lambda value: b"?" + key + b"=" + value)
            ),
        )
    )
    return cast("bytes", path + query)


@st.composite
def _header(draw: Callable[..., Any]) -> bytes:
    """
    One header line: a known or random name, with control bytes, huge or
    odd values.
    """
    name = draw(
        st.one_of(
            st.sampled_from(
                [
                    b"Host",
                    b"Content-Length",
                    b"Transfer-Encoding",
                    b"Connection",
                    b"Range",
                    b"Accept",
                    b"Cookie",
                    b"Authorization",
                    b"Expect",
                    b"If-Modified-Since",
                    b"Upgrade",
                ]
            ),
            _TOKEN,
            st.tuples(_TOKEN, _CONTROL, _TOKEN).map(b"".join),
        )
    )
    value = draw(
        st.one_of(
            _TOKEN,
            st.sampled_from(
                [
                    b"127.0.0.1",
                    b"-1",
                    b"99999999999999999999",
                    b"chunked",
                    b"close",
                    b"keep-alive, Upgrade",
                    b"bytes=0-",
                    b"Basic =",
                    b"100-continue",
                    b"h2c",
                    b"rebind.attacker.example",
                ]
            ),
            st.integers(1, 20_000).map(lambda size: b"a" * size),
        )
    )
    separator = draw(st.sampled_from([b": ", b":", b" : ", b"", b":\x00"]))
    return cast("bytes", name + separator + value)


def _mostly(usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> Any:
    """
    C{usual}'s values three times in four, C{odd}'s otherwise: a request
    broken in one or two places reaches further than one broken everywhere.
    """
    return st.integers(0, 3).flatmap(lambda roll: odd if roll == 0 else usual)


_METHOD = _mostly(
    st.sampled_from([b"GET", b"GET", b"HEAD", b"POST"]),
    st.one_of(
        st.sampled_from(
            [b"PUT", b"DELETE", b"OPTIONS", b"TRACE", b"CONNECT", b"PRI", b"get"]
        ),
        st.sampled_from([b"G\x00T", b"", b"GET GET"]),
        _TOKEN,
    ),
)
_VERSION = _mostly(
    st.sampled_from([b"HTTP/1.1", b"HTTP/1.0"]),
    st.sampled_from([b"HTTP/2.0", b"HTTP/1.1 x", b"", b"http/1.1", b"HTTP/9"]),
)
_HOST = _mostly(
    st.sampled_from(
        [[b"Host: 127.0.0.1"], [b"Host: localhost:8080"], [b"Host: [::1]"]]
    ),
    st.one_of(
        st.just([]),
        st.just([b"Host: rebind.attacker.example"]),
        _header().map(lambda line: [b"Host: " + line]),
    ),
)
_HEADERS = _mostly(
    st.lists(
        st.sampled_from(
            [b"Accept: */*", b"Connection: close", b"Range: bytes=0-", b"Cookie: a=b"]
        ),
        max_size=3,
    ),
    st.lists(_header(), min_size=1, max_size=6),
)


@st.composite
def _request(draw: Callable[..., Any]) -> bytes:
    """
    A complete request head, well-formed or broken in places, or random
    bytes.
    """
    roll = draw(st.integers(0, 7))
    if roll == 0:
        return cast("bytes", draw(st.binary(max_size=2000))) + b"\r\n\r\n"
    if roll <= 3:
        # Well-formed but for the target, to reach the routes and queries.
        return b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % draw(_target())
    spaces = draw(_mostly(st.just(b" "), st.sampled_from([b"  ", b"\t", b""])))
    headers = draw(_HOST) + draw(_HEADERS)
    if headers and draw(st.integers(0, 7)) == 0:
        headers += [headers[-1]] * draw(st.integers(1, 200))
    target = draw(_target())
    line = draw(_METHOD) + spaces + target + spaces + draw(_VERSION)
    return b"\r\n".join([line, *headers]) + b"\r\n\r\n"


_KNOWN = {
    b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n": b"200",
    b"GET /cameras/front/video_feed?fps=x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n": (
        b"400"
    ),
    b"GET /cameras/nowhere/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n": b"404",
    b"GET / HTTP/1.1\r\nHost: rebind.attacker.example\r\n\r\n": b"421",
}
"""A request for each answer the random requests reach in most runs but not
in every one, with the status it must get: a route served, a bad query, an
unknown camera, and a C{Host} naming another site (DNS rebinding)."""


def _ask(port: int, request: bytes) -> bytes:
    """
    Send C{request} on a new connection to C{port} and read what comes back
    until the answer's head is complete, the server closes, or a second
    passes; a stream's head is enough.
    """
    deadline = time.monotonic() + 1
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        try:
            sock.sendall(request)
            while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
                sock.settimeout(max(deadline - time.monotonic(), 0.01))
                received = sock.recv(65536)
                if not received:
                    break
                answer += received
        except (ConnectionError, TimeoutError):
            pass
    return answer


class _Viewer:
    """
    A raw-socket viewer of a stream, reading it in a thread and noting when
    each part arrives.
    """

    def __init__(self, port: int, path: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        send_get(self.sock, path)
        head = read_head(self.sock, time.monotonic() + 10)
        assert head.status.startswith(b"HTTP/1.1 200")
        self._parser = MultipartParser()
        self.arrivals = [time.monotonic() for _ in self._parser.feed(head.body)]
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        self.sock.settimeout(None)
        while True:
            try:
                received = self.sock.recv(65536)
            except OSError:
                return
            if not received:
                return
            now = time.monotonic()
            self.arrivals += [now for _ in self._parser.feed(received)]

    def close(self) -> None:
        self.sock.close()
        self._thread.join(5)

    def longest_gap(self, start: float, end: float) -> float:
        """
        The longest time between parts (or between C{start} or C{end} and
        the nearest part) from C{start} to C{end}.
        """
        times = [start, *(t for t in self.arrivals if start <= t <= end), end]
        return max(later - earlier for earlier, later in itertools.pairwise(times))


@reactor_test
async def test_hostile_requests_break_nothing(log: LogRecorder) -> None:
    """
    Malformed requests (random bytes, broken request lines, odd methods,
    control characters in header names and values, huge and repeated
    headers, bad percent-encoding, random queries on every route) get no
    5xx answer and log no trouble, and a viewer watching throughout keeps
    getting frames. So do the requests of L{_KNOWN}, asked after them,
    each answered with its own status.
    """
    service = CameraService(reactor)
    for number, name in enumerate(CAMERAS):
        jpegs = [make_jpeg(number * 3 + each, 32, 24) for each in range(3)]
        service.add_camera(name, ScriptedCamera(jpegs, fps=10))
    service.startService()
    # The fuzzer's connections follow each other faster than the server may
    # notice each one closing: the per-client limit must not refuse them.
    site = CamserveSite(
        service_resource(service, reactor), reactor, max_connections_per_client=500
    )
    port: Any = reactor.listenTCP(0, cast("Any", site), interface="127.0.0.1")
    number = port.getHost().port

    def ask(request: bytes) -> bytes:
        """
        Ask C{request}, which must get no 5xx answer and log no trouble;
        its status line.
        """
        troubles = len(log.troubles())
        answer = _ask(number, request)
        status = answer.split(b"\r\n", 1)[0]
        assert not status[8:].startswith(b" 5"), (request, answer[:300])
        assert b"Traceback" not in answer
        # The trouble a request causes is logged before its answer is sent.
        assert log.troubles()[troubles:] == [], request
        return status

    @_FUZZ
    @given(request=_request())
    def fuzz(request: bytes) -> None:
        ask(request)

    def known() -> None:
        for request, expected in _KNOWN.items():
            status = ask(request)
            assert status[9:12] == expected, (request, status)

    viewer = await deferToThread(_Viewer, number, "/cameras/front/video_feed")
    try:
        started = time.monotonic()
        await deferToThread(fuzz)
        await deferToThread(known)
        ended = time.monotonic()
        seen = len(viewer.arrivals)
        await wait_until(
            lambda: len(viewer.arrivals) >= seen + 3, "the viewer gets new frames"
        )
        assert viewer.longest_gap(started, ended) < 2
        assert log.troubles() == []
    finally:
        viewer.close()
        stopped = service.stopService()
        if stopped is not None:
            await stopped
        await port.stopListening()
        await wait_until(lambda: site.open_connections == 0, "connections close")


# Hostile config files

_KEYS = st.sampled_from(
    [
        "endpoints",
        "idle_timeout",
        "start_timeout",
        "keepalive",
        "stall_timeout",
        "header_timeout",
        "max_connections",
        "max_connections_per_client",
        "name",
        "driver",
        "fps",
        "width",
        "height",
        "quality",
        "source",
        "rotate",
        "flip",
        "loop",
        "hosts",
    ]
)
_SCALARS = st.one_of(
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(["emulated", "opencv", "tcp:0", "unix:/nowhere", "ssl:0", ""]),
)
_VALUES = st.one_of(
    _SCALARS,
    st.lists(_SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=5), _SCALARS, max_size=2),
)


def _toml_value(value: object) -> str:
    """
    C{value}, a scalar or a list or table of them, written as TOML.
    """
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(each) for each in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{_toml_value(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    return _toml_scalar(value)


def _toml_scalar(value: object) -> str:
    """
    The boolean, number or string C{value} written as TOML.
    """
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and math.isnan(value):
        text = "nan"
    elif isinstance(value, float) and math.isinf(value):
        text = "inf" if value > 0 else "-inf"
    elif isinstance(value, str):
        # A JSON string, \uXXXX escapes and all, is a TOML basic string.
        text = json.dumps(value)
    else:
        text = repr(value)
    return text


@st.composite
def _config_text(draw: Callable[..., Any]) -> str:
    """
    A config file: a C{[server]} table and C{[[cameras]]} tables of known
    keys with random values, maybe with random text spliced in.
    """
    lines = []
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["[server]", "[server.x]", "[[server]]"])))
        for key, value in draw(st.dictionaries(_KEYS, _VALUES, max_size=4)).items():
            lines.append(f"{key} = {_toml_value(value)}")
    for _ in range(draw(st.integers(0, 3))):
        lines.append(draw(st.sampled_from(["[[cameras]]", "[cameras]", "[cameras.a]"])))
        table = {"name": draw(st.sampled_from(["porch", "porch", "a/b", ""]))}
        table["driver"] = draw(st.sampled_from(["emulated", "emulated", "nothing"]))
        table.update(draw(st.dictionaries(_KEYS, _VALUES, max_size=4)))
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in table.items())
    if draw(st.integers(0, 4)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.text(max_size=40)))
    return "\n".join(lines) + "\n"


_USER_NAMES = st.sampled_from(["alice", "bob", "mallory", "", "a.b", "é"])


@st.composite
def _auth_text(draw: Callable[..., Any], files: dict[str, str]) -> str:
    """
    An C{[auth]} table and C{[auth.users.<name>]} tables of known keys,
    mostly with values that fit and otherwise random ones, naming one of
    C{files} (an htpasswd file of alice and bob, a file that is not one,
    one that is missing, key files) or anything else.
    """
    lines = [
        draw(_mostly(st.just("[auth]"), st.sampled_from(["[[auth]]", "[auth.x]"])))
    ]
    paths = st.sampled_from(list(files.values()))
    table = draw(
        st.fixed_dictionaries(
            {
                "htpasswd": _mostly(
                    st.just(files["htpasswd"]), st.one_of(paths, _VALUES)
                )
            },
            optional={
                "public": _mostly(
                    st.lists(st.sampled_from(["/healthz", "/static/", "x", ""])),
                    _VALUES,
                ),
                "token_secret_file": _mostly(paths, _VALUES),
            },
        )
    )
    if draw(st.integers(0, 9)) == 0:
        table["other"] = draw(_VALUES)
    lines.extend(f"{key} = {_toml_value(value)}" for key, value in table.items())
    # The users of the htpasswd file, mostly: then the file may be taken.
    users = _mostly(
        st.permutations(["alice", "bob"]),
        st.lists(_USER_NAMES, max_size=3, unique=True),
    )
    for name in draw(users):
        lines.append(f"[auth.users.{json.dumps(name)}]")
        user = draw(
            st.fixed_dictionaries(
                {
                    "role": _mostly(
                        st.sampled_from(["admin", "viewer"]),
                        st.one_of(st.just("root"), _VALUES),
                    )
                },
                optional={
                    "cameras": _mostly(
                        st.lists(st.sampled_from(["porch", "porch", "nothing", ""])),
                        _VALUES,
                    ),
                },
            )
        )
        if draw(st.integers(0, 9)) == 0:
            user["other"] = draw(_VALUES)
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in user.items())
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def auth_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """
    Files an C{[auth]} table may name, by what they are.
    """
    folder = tmp_path_factory.mktemp("auth")
    hashed = bcrypt.hashpw(b"x", bcrypt.gensalt(4)).decode("ascii")
    files = {
        "htpasswd": f"alice:{hashed}\nbob:{hashed}\n",
        "not-htpasswd": "alice:$apr1$abc\nnot a line\n",
        "key": "k" * 40,
        "short-key": "k",
    }
    for name, content in files.items():
        (folder / name).write_text(content)
    return {**{name: str(folder / name) for name in files}, "missing": "missing"}


@_FUZZ
@given(data=st.data())
def test_auth_tables_are_refused_only_with_config_errors(
    auth_files: dict[str, str], data: st.DataObject
) -> None:
    """
    A config file whose C{[auth]} has random values (users, roles, camera
    lists, files of every kind) is taken or refused with a one-line
    L{ConfigError}, and nothing else.
    """
    # A camera that is right, so that the tables after it are checked.
    camera = '[[cameras]]\nname = "porch"\ndriver = "emulated"\n'
    text = camera + data.draw(_auth_text(auth_files))

    def parse_and_check() -> None:
        config = parse_config(text, "fuzz.toml")
        check_config(config, MemoryReactor())

    _refused_in_one_line(parse_and_check)


def test_the_auth_generator_makes_valid_tables_too(
    auth_files: dict[str, str],
) -> None:
    """
    The C{[auth]} fuzzer's generator writes tables that are taken now and
    then: its examples reach the checks of users and files, not only the
    first mistake.
    """
    taken = 0

    @settings(max_examples=400, deadline=None, database=None)
    @given(text=_auth_text(auth_files))
    def count(text: str) -> None:
        nonlocal taken
        camera = '[[cameras]]\nname = "porch"\ndriver = "emulated"\n'
        try:
            checked = check_config(
                parse_config(camera + text, "f.toml"), MemoryReactor()
            )
        except ConfigError:
            return
        taken += checked.accounts is not None

    count()
    assert taken > 0


def _refused_in_one_line(action: Callable[[], object]) -> None:
    """
    Run C{action}, which may succeed or raise L{ConfigError} with a one-line
    message, and nothing else.
    """
    try:
        action()
    except ConfigError as error:
        message = str(error)
        assert message
        assert "\n" not in message
        assert "\r" not in message
        assert "Traceback" not in message


@_FUZZ
@given(text=st.one_of(_config_text(), st.text(max_size=300)))
def test_config_files_are_refused_only_with_config_errors(text: str) -> None:
    """
    Any config text, random or made of known keys with random values, is
    either taken, checked (its cameras and endpoints made for a
    L{MemoryReactor}) or refused with a one-line L{ConfigError}.
    """

    def parse_and_check() -> None:
        config = parse_config(text, "fuzz.toml")
        check_config(config, MemoryReactor())

    _refused_in_one_line(parse_and_check)


def test_the_config_generator_makes_valid_files_too() -> None:
    """
    The config fuzzer's generator writes TOML that parses: its examples
    reach camserve's checks, not only the TOML parser.
    """
    parsed = 0

    # Derandomized: a count over random draws must not depend on the draw.
    @settings(max_examples=50, deadline=None, database=None, derandomize=True)
    @given(text=_config_text())
    def count(text: str) -> None:
        nonlocal parsed
        try:
            tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return
        parsed += 1

    count()
    assert parsed > 10
