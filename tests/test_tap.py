"""
Tests for L{camserve.tap}: the command line's options, the service they
build, and C{twistd camserve --config} and C{CAMSERVE_CONFIG} as people run
them.

The unit tests build services on a memory reactor; the integration tests
run C{twistd} as a subprocess on loopback ports, with the helpers of
L{test_running}.
"""

from __future__ import annotations

import json
import socket
import time
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import pytest
from support import free_port, read_head, read_parts, send_get
from test_running import (
    PYTHON,
    REPO,
    TIMEOUT,
    TWISTD,
    TWISTD_CAMSERVE,
    assert_clean_exit,
    endpoint,
    environment,
    fail_with_one_line,
    get,
    read_stream,
    run_to_end,
    running,
    stop,
    twistd_camserve_fails,
)
from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import IService
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.endpoints import TCP4ServerEndpoint, serverFromString
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogLevel
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.server import Site
from zope.interface import implementer
from zope.interface.verify import verifyObject

from camserve import (
    CameraHub,
    CameraService,
    CamserveSite,
    ConfigError,
    EmulatedCamera,
    ServerConfig,
)
from camserve._listener import Listener, _address
from camserve.config._reload import ConfigReloader
from camserve.config._settings import Scope, Setting, settings_in
from camserve.tap import (
    ListenError,
    Options,
    build_service,
    config_from_environment,
    listen_now,
    makeService,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from support import LogRecorder
    from twisted.application.service import MultiService
    from twisted.internet.interfaces import IAddress, IProtocolFactory

successResultOf = SynchronousTestCase().successResultOf  # noqa: N816 - Twisted's name

EXAMPLE = REPO / "examples" / "cameras.toml"

TWO_CAMERAS = """
[server]
endpoints = {endpoints}
start_timeout = 4
keepalive = 1.5

[[cameras]]
name = "porch"
driver = "emulated"
fps = 10
width = 160
height = 120

[[cameras]]
name = "garden"
driver = "emulated"
fps = 5
width = 128
height = 96
quality = 60
idle_timeout = 0
stall_timeout = 12
"""
"""Two emulated cameras of different sizes, so that a frame tells which."""


def two_cameras(tmp_path: Path, *endpoints: str) -> Path:
    """
    Write L{TWO_CAMERAS}, listening on C{endpoints}, to a file.
    """
    path = tmp_path / "cameras.toml"
    path.write_text(TWO_CAMERAS.format(endpoints=json.dumps(list(endpoints))))
    return path


def children(top: MultiService, kind: type[Any]) -> list[Any]:
    """
    The services of C{kind} in C{top}, in order.
    """
    return [child for child in top if isinstance(child, kind)]


def camera_of(hub: CameraHub) -> EmulatedCamera:
    """
    The emulated camera a hub serves in a capture thread.
    """
    camera = hub._source._camera  # type: ignore[attr-defined] # a ThreadedCameraSource's
    assert isinstance(camera, EmulatedCamera)
    return camera


def timeouts(hub: CameraHub) -> tuple[float, float, float, float]:
    """
    A hub's idle, start, keepalive and stall timeouts.
    """
    return (
        hub.idle_timeout,
        hub.start_timeout,
        hub.keepalive_interval,
        hub.stall_timeout,
    )


def listened(log: LogRecorder) -> list[tuple[str, str]]:
    """
    Where the listeners said they are: each one's address and endpoint, as
    logged in the words of the line C{camserve is at ADDRESS (listening on
    ENDPOINT)}.
    """
    said = [
        event
        for event in log.events
        if event.get("log_namespace") == "camserve._listener.Listener"
        and event["log_format"] != "{warning}"
    ]
    assert all(
        event["log_format"] == "camserve is at {url} (listening on {description})"
        for event in said
    )
    return [(event["url"], event["description"]) for event in said]


# Options.


def test_config_option_names_the_file_to_serve() -> None:
    """
    C{--config FILE} asks to serve the file, named as given.
    """
    options = Options()
    options.parseOptions(["--config", "cameras.toml"])
    assert options["serve"] == "cameras.toml"


@pytest.mark.parametrize(
    "setting", settings_in(Scope.COMMAND_LINE), ids=lambda setting: setting.option
)
@pytest.mark.parametrize("config_first", [True, False])
def test_config_with_a_one_camera_option_is_refused(
    setting: Setting, config_first: bool
) -> None:
    """
    C{--config} with any of the one-camera options is refused in one line
    naming the option, whichever comes first.
    """
    config = ["--config", "cameras.toml"]
    other = [f"--{setting.option}", "x"]
    with pytest.raises(SystemExit) as exited:
        Options().parseOptions(config + other if config_first else other + config)
    assert exited.value.code == (
        f"camserve: --config and --{setting.option} cannot be used together:"
        " set the camera's options in the file"
    )


def check_config_output(
    path: str | Path, capsys: pytest.CaptureFixture[str]
) -> tuple[object, str]:
    """
    Run C{--check-config path}: its exit status and its one line.
    """
    with pytest.raises(SystemExit) as exited:
        Options().parseOptions(["--check-config", str(path)])
    output = capsys.readouterr()
    assert output.err == ""
    assert output.out.endswith("\n")
    (line,) = output.out.splitlines()
    return exited.value.code, line


def test_check_config_of_a_good_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    C{--check-config} of a good file prints one line listing its cameras
    and endpoints and exits 0; so it does for the example file.
    """
    path = two_cameras(tmp_path, "tcp:8080", "tcp:8081:interface=127.0.0.1")
    assert check_config_output(path, capsys) == (
        0,
        (
            f"{path}: OK: cameras porch, garden;"
            " listening on tcp:8080, tcp:8081:interface=127.0.0.1"
        ),
    )
    assert check_config_output(EXAMPLE, capsys) == (
        0,
        f"{EXAMPLE}: OK: cameras porch, garden; listening on tcp:8080",
    )


def test_check_config_does_not_listen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    C{--check-config} checks a file without serving it: a port another
    program listens on is no mistake of the file's.
    """
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        path = two_cameras(tmp_path, endpoint(taken.getsockname()[1]))
        assert check_config_output(path, capsys)[0] == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[cameras]]\nname = "a"\ndriver = "emulated"\nfps = \n',
            "{path}: line 4, column 7: Invalid value",
        ),
        (
            '[[cameras]]\nname = "a"\ndriver = "nosuch"\n',
            "{path}: camera 'a': unknown driver 'nosuch'; available: emulated, ",
        ),
        (
            (
                '[server]\nendpoints = ["tcp:notaport"]\n'
                '[[cameras]]\nname = "a"\ndriver = "emulated"\n'
            ),
            (
                "{path}: [server] endpoint 'tcp:notaport' is not a valid Twisted"
                " endpoint description (e.g. tcp:8080, tcp:8080:interface=127.0.0.1):"
                " invalid literal for int() with base 10: 'notaport'"
            ),
        ),
        (None, "cannot read {path}: No such file or directory"),
    ],
    ids=["syntax", "unknown driver", "bad endpoint", "no file"],
)
def test_check_config_of_a_file_with_a_mistake(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str | None,
    expected: str,
) -> None:
    """
    C{--check-config} of a file with a mistake prints one line, the
    mistake's, naming the file, and exits 1.
    """
    path = tmp_path / "cameras.toml"
    if text is not None:
        path.write_text(text)
    status, line = check_config_output(path, capsys)
    assert status == 1
    assert line.startswith("camserve: " + expected.format(path=path))


def test_camserve_config_in_the_environment() -> None:
    """
    C{CAMSERVE_CONFIG} names a file to serve; empty, it names none.
    """
    assert config_from_environment({"CAMSERVE_CONFIG": "cameras.toml"}) == (
        "cameras.toml"
    )
    assert config_from_environment({"CAMSERVE_CONFIG": ""}) == ServerConfig()


@pytest.mark.parametrize(
    "setting", settings_in(Scope.COMMAND_LINE), ids=lambda setting: setting.env
)
def test_camserve_config_with_a_camera_setting_is_refused(setting: Setting) -> None:
    """
    C{CAMSERVE_CONFIG} with any setting of the one camera (C{CAMERA} or a
    C{CAMSERVE_*} one) is refused, naming the setting, as C{--config} with
    a camera option is.
    """
    with pytest.raises(ConfigError) as refused:
        config_from_environment({"CAMSERVE_CONFIG": "cameras.toml", setting.env: "x"})
    assert str(refused.value) == (
        f"CAMSERVE_CONFIG and {setting.env} cannot be used together:"
        " set the camera's options in the file"
    )


# The service.


@pytest.fixture
def started() -> Iterator[list[MultiService]]:
    """
    Services a test starts, as twistd does; stopped after the test.
    """
    services: list[MultiService] = []
    yield services
    for service in services:
        stopped: Deferred[object] | None = service.stopService()
        if stopped is not None:
            successResultOf(stopped)


def start(top: MultiService, started: list[MultiService]) -> None:
    """
    Start C{top} as twistd does, and have it stopped after the test.
    """
    started.append(top)
    top.privilegedStartService()
    top.startService()


def test_build_service_serves_a_files_cameras(
    tmp_path: Path, log: LogRecorder, started: list[MultiService]
) -> None:
    """
    L{build_service} of a config file serves its cameras in its order, each
    made by its driver with its options and with its timeouts (its own,
    else the server's); one site on every endpoint, each saying where; and
    reloads the file when asked.
    """
    memory = MemoryReactorClock()
    path = two_cameras(tmp_path, "tcp:8080", "tcp:8081:interface=127.0.0.1")
    top = build_service(str(path), memory)
    (cameras,) = children(top, CameraService)
    assert list(cameras.hubs) == ["porch", "garden"]
    porch, garden = cameras.hubs.values()
    assert (porch.driver, garden.driver) == ("emulated", "emulated")
    assert timeouts(porch) == (10, 4, 1.5, 30)
    assert timeouts(garden) == (0, 4, 1.5, 12)
    porch_camera, garden_camera = camera_of(porch), camera_of(garden)
    assert (porch_camera.fps, porch_camera.width, porch_camera.height) == (10, 160, 120)
    assert (garden_camera.fps, garden_camera.width, garden_camera.height) == (
        5,
        128,
        96,
    )
    assert (porch_camera.quality, garden_camera.quality) == (80, 60)
    assert len(children(top, Listener)) == 2
    assert len(children(top, ConfigReloader)) == 1

    start(top, started)
    (first, second) = memory.tcpServers
    assert (first[0], first[3]) == (8080, "")
    assert (second[0], second[3]) == (8081, "127.0.0.1")
    assert isinstance(first[1], Site)
    assert first[1] is second[1]
    assert listened(log) == [
        ("http://localhost:8080/", "tcp:8080"),
        ("http://localhost:8081/", "tcp:8081:interface=127.0.0.1"),
    ]

    path.write_text(path.read_text().replace('name = "garden"', 'name = "yard"'))
    (reloader,) = children(top, ConfigReloader)
    successResultOf(reloader.reload())
    assert list(cameras.hubs) == ["porch", "yard"]


def test_build_service_serves_one_camera_from_options(
    started: list[MultiService],
) -> None:
    """
    L{build_service} of the one-camera options serves that camera under its
    name, with its options and timeouts, on its endpoint, and reloads
    nothing.
    """
    memory = MemoryReactorClock()
    options = Options()
    options.parseOptions(
        [
            *("--name", "porch", "--endpoint", "tcp:9000:interface=127.0.0.1"),
            *("--fps", "5", "--width", "320", "--height", "240"),
            *("--idle-timeout", "3", "--start-timeout", "4"),
            *("--keepalive", "5", "--stall-timeout", "6"),
        ]
    )
    top = build_service(options["serve"], memory)
    (cameras,) = children(top, CameraService)
    (hub,) = cameras.hubs.values()
    assert (hub.name, hub.driver) == ("porch", "emulated")
    assert timeouts(hub) == (3, 4, 5, 6)
    camera = camera_of(hub)
    assert (camera.fps, camera.width, camera.height) == (5, 320, 240)
    assert children(top, ConfigReloader) == []
    start(top, started)
    ((port, factory, _, interface),) = memory.tcpServers
    assert (port, interface) == (9000, "127.0.0.1")
    assert isinstance(factory, Site)


def test_build_service_defaults() -> None:
    """
    Without options camserve serves the emulated camera, as C{emulated}, on
    port 8080, with the documented timeouts.
    """
    memory = MemoryReactorClock()
    top = build_service(ServerConfig(), memory)
    (cameras,) = children(top, CameraService)
    (hub,) = cameras.hubs.values()
    assert (hub.name, hub.driver) == ("emulated", "emulated")
    assert timeouts(hub) == (10, 10, 2, 30)
    (listener,) = children(top, Listener)
    assert listener.description == "tcp:8080"
    site = listener.factory
    assert isinstance(site, CamserveSite)
    assert (
        site.header_timeout,
        site.max_connections,
        site.max_connections_per_client,
        site.max_body_size,
    ) == (10.0, 1000, 50, 0)


def test_build_service_applies_the_servers_limits(tmp_path: Path) -> None:
    """
    The C{[server]} table's header timeout and connection limits are those
    of the site on every endpoint.
    """
    path = tmp_path / "cameras.toml"
    path.write_text(
        '[server]\nendpoints = ["tcp:8080"]\nheader_timeout = 2.5\n'
        "max_connections = 20\nmax_connections_per_client = 4\n\n"
        '[[cameras]]\nname = "porch"\ndriver = "emulated"\n'
    )
    top = build_service(str(path), MemoryReactorClock())
    (listener,) = children(top, Listener)
    site = listener.factory
    assert isinstance(site, CamserveSite)
    assert (
        site.header_timeout,
        site.max_connections,
        site.max_connections_per_client,
    ) == (2.5, 20, 4)


def test_the_command_lines_limits_reach_the_site() -> None:
    """
    The one-camera command line sets the header timeout and connection
    limits too (behind a proxy or a load generator every client has one
    address).
    """
    options = Options()
    options.parseOptions(
        [
            "--header-timeout",
            "4",
            "--max-connections",
            "300",
            "--max-connections-per-client",
            "200",
        ]
    )
    top = build_service(options["serve"], MemoryReactorClock())
    (listener,) = children(top, Listener)
    site = listener.factory
    assert isinstance(site, CamserveSite)
    assert (
        site.header_timeout,
        site.max_connections,
        site.max_connections_per_client,
    ) == (4.0, 300, 200)


@pytest.mark.parametrize(
    ("serve", "message"),
    [
        (
            ServerConfig(endpoint="nonsense:1"),
            (
                "endpoint 'nonsense:1' is not a valid Twisted endpoint description"
                " (e.g. tcp:8080, tcp:8080:interface=127.0.0.1): "
            ),
        ),
        (ServerConfig(camera="nosuch"), "unknown camera 'nosuch'; available: "),
        (
            ServerConfig(camera_options={"fps": 5, "colour": "red"}),
            "camera 'emulated' does not take option 'colour'; it takes: ",
        ),
    ],
    ids=["endpoint", "driver", "option"],
)
def test_build_service_refuses_one_camera_it_cannot_make(
    serve: ServerConfig, message: str
) -> None:
    """
    The one-camera options' mistakes that only making the camera or the
    endpoint finds are refused with one line, as twistd shows them.
    """
    with pytest.raises(ConfigError) as refused:
        build_service(serve, MemoryReactorClock())
    assert str(refused.value).startswith(message)
    options = Options()
    options["serve"] = serve
    with pytest.raises(SystemExit) as exited:
        makeService(options)
    assert exited.value.code == f"camserve: {refused.value}"


def test_make_service_refuses_a_file_with_a_mistake(tmp_path: Path) -> None:
    """
    twistd's C{makeService} of a file with a mistake ends the program with
    the mistake's one line.
    """
    path = tmp_path / "cameras.toml"
    path.write_text('[[cameras]]\nname = "a"\ndriver = "emulated"\nfps = 0\n')
    options = Options()
    options.parseOptions(["--config", str(path)])
    with pytest.raises(SystemExit) as exited:
        makeService(options)
    assert exited.value.code == (
        f"camserve: {path}: camera 'a': option 'fps' must be a number greater"
        " than 0, not 0"
    )


# Listeners.


def test_a_port_that_cannot_be_had_ends_the_program_in_one_line() -> None:
    """
    A listener whose port cannot be had ends the program with one line
    naming the endpoint and the reason.
    """
    error = CannotListenError("", 8080, OSError(98, "Address already in use"))
    listener = Listener("tcp:8080", _FailingEndpoint(error), Site(None))
    with pytest.raises(SystemExit) as exited:
        listener.privilegedStartService()
    assert exited.value.code == (
        "camserve: cannot listen on tcp:8080: [Errno 98] Address already in use"
    )
    # twistd, having daemonized, passes on an Exception only to the process
    # waiting on the terminal.
    assert isinstance(exited.value, Exception)


def test_listen_now_listens_before_the_service_starts(
    tmp_path: Path, started: list[MultiService]
) -> None:
    """
    L{listen_now} listens on every endpoint of a service before it starts,
    and starting it does not listen again.
    """
    memory = MemoryReactorClock()
    path = two_cameras(tmp_path, "tcp:8080", "tcp:8081:interface=127.0.0.1")
    top = build_service(str(path), memory)
    listen_now(top)
    listening = [(port, interface) for port, _, _, interface in memory.tcpServers]
    assert listening == [(8080, ""), (8081, "127.0.0.1")]
    start(top, started)
    assert len(memory.tcpServers) == 2


def test_other_listening_errors_are_raised() -> None:
    """
    A listener raises an error other than a port that cannot be had as it
    is, for its traceback.
    """
    listener = Listener("tcp:8080", _FailingEndpoint(ValueError("odd")), Site(None))
    with pytest.raises(ValueError, match=r"^odd$"):
        listener.startService()


def test_a_listener_listens_once_and_stops(log: LogRecorder) -> None:
    """
    A listener listens before privileges are dropped, not again when
    started, and stops listening when stopped.
    """
    endpoint = _CountingEndpoint()
    listener = Listener("tcp:8080", endpoint, Site(None))
    listener.privilegedStartService()
    listener.startService()
    assert len(endpoint.factories) == 1
    assert endpoint.port.listening
    assert listener.port is endpoint.port
    successResultOf(listener.stopService())
    assert not endpoint.port.listening
    assert listener.port is None
    assert not listener.running


def test_listeners_are_twisteds_endpoint_services(started: list[MultiService]) -> None:
    """
    Each endpoint is listened on by Twisted's own
    L{StreamServerEndpointService}, with the endpoint its description makes
    and the site.
    """
    memory = MemoryReactorClock()
    top = build_service(ServerConfig(endpoint="tcp:8080:interface=127.0.0.1"), memory)
    (listener,) = children(top, StreamServerEndpointService)
    assert verifyObject(IService, listener)
    assert isinstance(listener.endpoint, TCP4ServerEndpoint)
    assert isinstance(listener.factory, CamserveSite)
    start(top, started)
    ((port, factory, _, interface),) = memory.tcpServers
    assert (port, factory, interface) == (8080, listener.factory, "127.0.0.1")


@pytest.mark.parametrize(
    "listen", ["listen_now", "privilegedStartService", "startService"]
)
def test_a_port_in_use_ends_the_program_in_one_line(
    listen: str, log: LogRecorder
) -> None:
    """
    A port another socket listens on ends the program with one line naming
    the endpoint and the reason, whether camserve listens before twistd
    daemonizes (L{listen_now}) or as twistd starts the service; no traceback
    is logged.
    """
    from twisted.internet import reactor  # noqa: PLC0415 - a real port, not listened on by the reactor's loop

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        description = f"tcp:{taken.getsockname()[1]}:interface=127.0.0.1"
        top = build_service(ServerConfig(endpoint=description), reactor)
        (listener,) = children(top, Listener)
        start_listening = (
            (lambda: listen_now(top))
            if listen == "listen_now"
            else getattr(listener, listen)
        )
        with pytest.raises(ListenError) as exited:
            start_listening()
    assert exited.value.code == (
        f"camserve: cannot listen on {description}: [Errno 98] Address already in use"
    )
    assert listener.port is None
    assert log.troubles() == []


def test_a_listen_that_fails_later_is_logged(log: LogRecorder) -> None:
    """
    An endpoint that fails to listen only after the service started (it
    answers later) has its failure logged, and the listener says nothing
    of where it is, and stops all the same.
    """
    endpoint = _LaterEndpoint()
    listener = Listener("tcp:8080", endpoint, Site(None))
    listener.startService()
    endpoint.answer.errback(
        CannotListenError("", 8080, OSError(98, "Address already in use"))
    )
    (trouble,) = log.troubles()
    assert "Address already in use" in trouble
    assert listened(log) == []
    assert listener.port is None
    assert successResultOf(listener.stopService()) is None


def test_a_listen_that_succeeds_later_says_where(log: LogRecorder) -> None:
    """
    An endpoint that listens only after the service started (it answers
    later) is said to listen once it does, and is closed when stopped.
    """
    endpoint = _LaterEndpoint()
    listener = Listener("tcp:8080", endpoint, Site(None))
    listener.startService()
    assert listened(log) == []
    port = _FakePort(IPv4Address("TCP", "127.0.0.1", 8080))
    endpoint.answer.callback(port)
    assert listened(log) == [("http://127.0.0.1:8080/", "tcp:8080")]
    assert listener.port is port
    successResultOf(listener.stopService())
    assert not port.listening


def test_stopping_a_listener_still_trying_cancels_it(log: LogRecorder) -> None:
    """
    A listener stopped before its endpoint has answered gives up listening
    there, and logs no failure for it.
    """
    endpoint = _LaterEndpoint()
    listener = Listener("tcp:8080", endpoint, Site(None))
    listener.startService()
    stopped = listener.stopService()
    assert endpoint.cancelled == [endpoint.answer]
    assert successResultOf(stopped) is None
    assert log.troubles() == []


def test_a_listener_never_started_stops(log: LogRecorder) -> None:
    """
    A listener that never listened (its parent failed to start before it)
    stops without trouble.
    """
    listener = Listener("tcp:8080", _CountingEndpoint(), Site(None))
    assert listener.stopService() is None
    assert not listener.running
    assert log.troubles() == []


@pytest.mark.parametrize(
    ("description", "host", "url"),
    [
        ("tcp:8080", ("0.0.0.0", 8080), "http://localhost:8080/"),
        ("tcp:8080:interface=127.0.0.1", ("127.0.0.1", 8080), "http://127.0.0.1:8080/"),
        ("tcp6:8080", ("::", 8080), "http://localhost:8080/"),
        ("tcp6:8080:interface=\\:\\:1", ("::1", 8080), "http://[::1]:8080/"),
        ("ssl:8443:privateKey=k.pem", ("0.0.0.0", 8443), "https://localhost:8443/"),
    ],
)
def test_where_a_listener_says_it_is(
    description: str, host: tuple[str, int], url: str
) -> None:
    """
    A listener says where a browser on this machine finds it.
    """
    kind = IPv6Address if ":" in host[0] else IPv4Address
    assert _address(description, _FakePort(kind("TCP", *host))) == url


@pytest.mark.parametrize(
    ("host", "login", "warned"),
    [
        ("0.0.0.0", False, True),
        ("192.0.2.7", False, True),
        ("127.0.0.1", False, False),
        ("0.0.0.0", True, False),
    ],
)
def test_a_listener_others_can_reach_without_login_is_warned_about(
    log: LogRecorder, host: str, login: bool, warned: bool
) -> None:
    """
    A listener that other machines can reach, on a server with no login,
    logs one warning saying so; one on loopback, or on a server that asks
    for a login, does not.
    """
    endpoint = _CountingEndpoint()
    endpoint.port = _FakePort(IPv4Address("TCP", host, 8080))
    Listener("tcp:8080", endpoint, Site(None), login=login).startService()
    warnings = log.formatted(LogLevel.warn)
    if warned:
        (line,) = warnings
        assert "with no login" in line
        assert "tcp:8080" in line
    else:
        assert warnings == []


def test_where_a_unix_socket_listener_says_it_is(
    tmp_path: Path, log: LogRecorder
) -> None:
    """
    A listener on a Unix socket names the socket's path, as text.
    """
    path = tmp_path / "camserve.sock"
    description = f"unix:{path}"
    listener = Listener(
        description, serverFromString(MemoryReactorClock(), description), Site(None)
    )
    listener.startService()
    assert listened(log) == [(f"the socket {path}", description)]


# Integration: twistd camserve --config, and CAMSERVE_CONFIG.


def frame_size(port: int, path: str) -> tuple[int, int]:
    """
    The width and height of the frames C{path} streams.
    """
    first = read_stream(port, path, count=2)[0]
    image = cv2.imdecode(np.frombuffer(first.body, dtype=np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image.shape[1], image.shape[0]


def api_cameras(port: int) -> list[dict[str, Any]]:
    """
    The server's C{/api/cameras}.
    """
    status, body = get(port, "/api/cameras")
    assert status == 200, body
    cameras: list[dict[str, Any]] = json.loads(body)
    return cameras


def assert_serves_two_cameras(port: int) -> None:
    """
    The server on C{port} serves L{TWO_CAMERAS}: both in the API, each
    streaming its own frames, the first at C{/video_feed}.
    """
    listed = api_cameras(port)
    assert [(camera["name"], camera["driver"]) for camera in listed] == [
        ("porch", "emulated"),
        ("garden", "emulated"),
    ]
    assert frame_size(port, "/cameras/porch/video_feed") == (160, 120)
    assert frame_size(port, "/cameras/garden/video_feed") == (128, 96)
    assert frame_size(port, "/video_feed") == (160, 120)


def address_line(port: int) -> str:
    """
    What camserve logs once it listens on C{port} on 127.0.0.1.
    """
    return f"camserve is at http://127.0.0.1:{port}/ (listening on {endpoint(port)})"


def test_twistd_serves_a_config_file(tmp_path: Path) -> None:
    """
    C{twistd -n camserve --config FILE} serves the file's cameras on its
    endpoint, says where, and stops cleanly on SIGTERM.
    """
    port = free_port()
    path = two_cameras(tmp_path, endpoint(port))
    log = tmp_path / "out.log"
    args = [*TWISTD_CAMSERVE, "--config", str(path)]
    with running(args, cwd=tmp_path, port=port, log=log, env=environment()) as process:
        assert_serves_two_cameras(port)
        output = stop(process, log)
    assert address_line(port) in output
    assert_clean_exit(output, process.returncode, twistd=True)


def test_tac_file_serves_camserve_config(tmp_path: Path) -> None:
    """
    C{CAMSERVE_CONFIG=FILE twistd -ny camserve.tac} serves the file's
    cameras as C{--config} does.
    """
    port = free_port()
    path = two_cameras(tmp_path, endpoint(port))
    log = tmp_path / "out.log"
    args = [TWISTD, "--pidfile=", "-ny", "camserve.tac"]
    env = environment(CAMSERVE_CONFIG=str(path))
    with running(args, cwd=REPO, port=port, log=log, env=env) as process:
        assert_serves_two_cameras(port)
        output = stop(process, log)
    assert address_line(port) in output
    assert_clean_exit(output, process.returncode, twistd=True)


def test_twistd_listens_on_every_endpoint(tmp_path: Path) -> None:
    """
    A config file with two endpoints is served on both, and camserve says
    where it is for each.
    """
    first, second = free_port(), free_port()
    path = two_cameras(tmp_path, endpoint(first), endpoint(second))
    log = tmp_path / "out.log"
    args = [*TWISTD_CAMSERVE, "--config", str(path)]
    with running(args, cwd=tmp_path, port=first, log=log, env=environment()) as process:
        for port in (first, second):
            assert [camera["name"] for camera in api_cameras(port)] == [
                "porch",
                "garden",
            ]
            assert frame_size(port, "/video_feed") == (160, 120)
        output = stop(process, log)
    assert address_line(first) in output
    assert address_line(second) in output
    assert_clean_exit(output, process.returncode, twistd=True)


def test_twistd_refuses_a_config_file_with_a_mistake(tmp_path: Path) -> None:
    """
    C{twistd -n camserve --config FILE} of a file with a mistake exits
    non-zero with the mistake's one line.
    """
    path = tmp_path / "cameras.toml"
    path.write_text('[[cameras]]\nname = "a"\ndriver = "nosuch"\n')
    line = twistd_camserve_fails(tmp_path, "--config", str(path))
    assert line.startswith(
        f"camserve: {path}: camera 'a': unknown driver 'nosuch'; available: emulated"
    )


def test_twistd_refuses_config_with_a_camera_option(tmp_path: Path) -> None:
    """
    C{twistd -n camserve --config FILE --fps 5} exits non-zero with one
    line, not twistd's usage text.
    """
    path = two_cameras(tmp_path, "tcp:0")
    line = twistd_camserve_fails(tmp_path, "--config", str(path), "--fps", "5")
    assert line == (
        "camserve: --config and --fps cannot be used together:"
        " set the camera's options in the file"
    )


def test_tac_file_refuses_camserve_config_with_a_camera_setting(
    tmp_path: Path,
) -> None:
    """
    C{CAMSERVE_CONFIG} with C{CAMSERVE_FPS} makes C{twistd -ny camserve.tac}
    exit non-zero with one line.
    """
    path = two_cameras(tmp_path, "tcp:0")
    line = fail_with_one_line(
        [TWISTD, "--pidfile=", "-ny", "camserve.tac"],
        cwd=REPO,
        env=environment(CAMSERVE_CONFIG=str(path), CAMSERVE_FPS="5"),
    )
    assert line == (
        "camserve: CAMSERVE_CONFIG and CAMSERVE_FPS cannot be used together:"
        " set the camera's options in the file"
    )


def test_twistd_config_endpoint_in_use(tmp_path: Path) -> None:
    """
    A config file's endpoint that another socket listens on ends twistd
    with one line naming it, and nothing else.
    """
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = two_cameras(tmp_path, endpoint(port))
        line = twistd_camserve_fails(tmp_path, "--config", str(path))
    assert line == (
        f"camserve: cannot listen on {endpoint(port)}: [Errno 98] Address already"
        " in use"
    )


@pytest.mark.parametrize("runner", ["twistd", "python -m"])
def test_check_config_from_the_command_line(tmp_path: Path, runner: str) -> None:
    """
    C{--check-config} prints one line and exits 0 for a good file, 1 for a
    file with a mistake, from twistd as from C{python -m camserve}.
    """
    command = (
        [TWISTD, "--pidfile=", "camserve"]
        if runner == "twistd"
        else [PYTHON, "-m", "camserve"]
    )
    good = two_cameras(tmp_path, "tcp:8080")
    result = run_to_end([*command, "--check-config", str(good)], cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        f"{good}: OK: cameras porch, garden; listening on tcp:8080\n",
        "",
    )
    bad = tmp_path / "bad.toml"
    bad.write_text("[[cameras]]\nname = 'a'\n")
    result = run_to_end([*command, "--check-config", str(bad)], cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.startswith(f"camserve: {bad}: camera 'a' has no driver")
    assert len(result.stdout.splitlines()) == 1
    assert result.stderr == ""


# Many cameras at once.

MANY = 20


def test_twenty_cameras_with_a_viewer_each_at_once(tmp_path: Path) -> None:
    """
    Twenty emulated cameras in one file, each with a viewer, all stream at
    the same time: every viewer receives frames while the API shows every
    camera running with its one viewer.
    """
    port = free_port()
    path = tmp_path / "cameras.toml"
    names = [f"camera-{number:02}" for number in range(MANY)]
    cameras = "".join(
        f'[[cameras]]\nname = "{name}"\ndriver = "emulated"\n'
        "width = 160\nheight = 120\nfps = 5\n"
        for name in names
    )
    path.write_text(f'[server]\nendpoints = ["{endpoint(port)}"]\n{cameras}')
    log = tmp_path / "out.log"
    args = [*TWISTD_CAMSERVE, "--config", str(path)]
    with running(args, cwd=tmp_path, port=port, log=log, env=environment()):
        viewers = [
            socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
            for _ in names
        ]
        try:
            for viewer, name in zip(viewers, names, strict=True):
                send_get(viewer, f"/cameras/{name}/video_feed")
            deadline = time.monotonic() + TIMEOUT
            for viewer in viewers:
                head = read_head(viewer, deadline)
                assert head.status == b"HTTP/1.1 200 OK", head
                frames = read_parts(viewer, 2, deadline, head.body)
                image = cv2.imdecode(
                    np.frombuffer(frames[-1].body, dtype=np.uint8), cv2.IMREAD_COLOR
                )
                assert image is not None
                assert image.shape[:2] == (120, 160)
            listed = api_cameras(port)
            assert [camera["name"] for camera in listed] == names
            assert [(camera["state"], camera["viewers"]) for camera in listed] == [
                ("running", 1)
            ] * MANY
        finally:
            for viewer in viewers:
                viewer.close()


# Test doubles.


@implementer(IStreamServerEndpoint)
class _FailingEndpoint:
    """
    An endpoint that cannot listen, for C{error}.
    """

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.factories: list[IProtocolFactory] = []

    def listen(self, protocolFactory: IProtocolFactory) -> Deferred[IListeningPort]:
        self.factories.append(protocolFactory)
        return fail(self.error)


@implementer(IListeningPort)
class _FakePort:
    """
    A listening port at C{host}, which knows whether it still listens.
    """

    def __init__(self, host: IAddress) -> None:
        self.host = host
        self.listening = True

    def startListening(self) -> None:
        self.listening = True

    def stopListening(self) -> Deferred[None]:
        self.listening = False
        return succeed(None)

    def getHost(self) -> IAddress:
        return self.host


@implementer(IStreamServerEndpoint)
class _LaterEndpoint:
    """
    An endpoint that answers only when the test has C{answer} fire, and
    knows whether the answer was cancelled.
    """

    def __init__(self) -> None:
        self.factories: list[IProtocolFactory] = []
        self.cancelled: list[Deferred[IListeningPort]] = []
        self.answer: Deferred[IListeningPort] = Deferred(self.cancelled.append)

    def listen(self, protocolFactory: IProtocolFactory) -> Deferred[IListeningPort]:
        self.factories.append(protocolFactory)
        return self.answer


@implementer(IStreamServerEndpoint)
class _CountingEndpoint:
    """
    An endpoint that counts how often it is asked to listen.
    """

    def __init__(self) -> None:
        self.factories: list[IProtocolFactory] = []
        self.port = _FakePort(IPv4Address("TCP", "0.0.0.0", 8080))

    def listen(self, protocolFactory: IProtocolFactory) -> Deferred[IListeningPort]:
        self.factories.append(protocolFactory)
        return succeed(self.port)


def test_check_config_looks_for_a_missing_video_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], log: LogRecorder
) -> None:
    """
    C{--check-config} reports a video file that does not exist, taken from
    the config file's folder, in one line, and exits 1; serving the same
    file logs the same line and serves the camera all the same (its failure
    is reported and retried, as the file may yet appear).
    """
    path = tmp_path / "cameras.toml"
    path.write_text(
        '[server]\nendpoints = ["tcp:0:interface=127.0.0.1"]\n'
        '[[cameras]]\nname = "lobby"\ndriver = "opencv"\nsource = "clips/lobby.avi"\n'
    )
    missing = tmp_path / "clips" / "lobby.avi"
    problem = f"camera 'lobby': source {str(missing)!r}: no such video file"
    assert check_config_output(path, capsys) == (1, f"camserve: {path}: {problem}")
    top = build_service(str(path), MemoryReactorClock())
    (service,) = (child for child in top if isinstance(child, CameraService))
    assert list(service.hubs) == ["lobby"]
    assert log.formatted() == [f"camserve: {problem}"]
    missing.parent.mkdir()
    missing.write_bytes(b"")
    assert check_config_output(path, capsys)[0] == 0
