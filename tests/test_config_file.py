"""
Tests for L{camserve.config._file}: many cameras from one TOML file.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.testing import MemoryReactor

from camserve import ConfigError, EmulatedCamera, MJPEGRelay, ServerConfig
from camserve.cameras._registry import driver_names, find_driver
from camserve.config._camera_table import CameraConfig, Timeouts
from camserve.config._file import (
    CheckedConfig,
    FileConfig,
    _driver_options,
    _typed,
    check_config,
    load_config,
    parse_config,
)
from camserve.config._server_table import ServerSettings
from camserve.config._settings import SETTINGS
from camserve.testing import self_signed_pem

if TYPE_CHECKING:
    from collections.abc import Callable

EXAMPLE = Path(__file__).parent.parent / "examples" / "cameras.toml"

DOCUMENTED = """
[server]
endpoints = ["tcp:8080"]        # Twisted endpoint descriptions, one or more
idle_timeout = 10

[[cameras]]
name = "porch"
driver = "emulated"
fps = 15

[[cameras]]
name = "garage"
driver = "opencv"
source = "/dev/video0"
width = 1280
height = 720
rotate = 180
idle_timeout = 30               # per-camera overrides
"""

PORCH = '[[cameras]]\nname = "porch"\ndriver = "emulated"\n'
"""One valid camera, for files whose mistake is elsewhere."""


def parse_error(text: str) -> str:
    """
    The one line L{parse_config} refuses C{text} with, as C{cameras.toml}.
    """
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "cameras.toml")
    message = str(caught.value)
    assert "\n" not in message
    return message


def check(text: str) -> CheckedConfig:
    """
    C{text}, as C{cameras.toml}, parsed and checked for a memory reactor.
    """
    return check_config(parse_config(text, "cameras.toml"), MemoryReactor())


def check_error(text: str) -> str:
    """
    The one line L{check_config} refuses C{text} with, as C{cameras.toml}.
    """
    with pytest.raises(ConfigError) as caught:
        check(text)
    message = str(caught.value)
    assert "\n" not in message
    return message


def uncommented(text: str) -> str:
    """
    C{text} with its commented-out TOML lines (C{#} then no space) made live;
    explanations (C{# } then a space) stay comments.
    """
    return re.sub(r"^#(?=[^\s#])", "", text, flags=re.MULTILINE)


def test_documented_shape_parses_to_its_values() -> None:
    """
    The file shape the documentation shows parses to exactly the settings
    and cameras it writes, with numbers of the types the command line gives.
    """
    config = parse_config(DOCUMENTED, "cameras.toml")
    assert config == FileConfig(
        ServerSettings(endpoints=("tcp:8080",), idle_timeout=10.0),
        (
            CameraConfig("porch", "emulated", {"fps": 15.0}),
            CameraConfig(
                "garage",
                "opencv",
                {"source": "/dev/video0", "width": 1280, "height": 720, "rotate": 180},
                idle_timeout=30.0,
            ),
        ),
    )
    assert config.source == "cameras.toml"
    porch, garage = config.cameras
    assert type(porch.options["fps"]) is float
    assert type(garage.options["width"]) is int
    assert type(config.server.idle_timeout) is float
    assert type(garage.idle_timeout) is float


def test_server_defaults_are_the_command_lines() -> None:
    """
    Without a C{[server]} table the server listens and waits as the command
    line does by default.
    """
    config = parse_config(PORCH, "cameras.toml")
    assert config.server == ServerSettings()
    defaults = ServerConfig()
    assert config.server == ServerSettings(
        endpoints=(defaults.endpoint,),
        idle_timeout=defaults.idle_timeout,
        start_timeout=defaults.start_timeout,
        keepalive=defaults.keepalive,
        stall_timeout=defaults.stall_timeout,
    )
    assert config.server.endpoints == ("tcp:8080",)
    assert config.cameras == (CameraConfig("porch", "emulated"),)


def test_every_server_key() -> None:
    """
    Every C{[server]} key is read, with whole numbers of seconds as floats.
    """
    config = parse_config(
        '[server]\nendpoints = ["tcp:8080", "tcp:8443:interface=127.0.0.1"]\n'
        "idle_timeout = 0\nstart_timeout = 4.5\nkeepalive = 1\nstall_timeout = 60\n"
        + PORCH,
        "cameras.toml",
    )
    assert config.server == ServerSettings(
        endpoints=("tcp:8080", "tcp:8443:interface=127.0.0.1"),
        idle_timeout=0.0,
        start_timeout=4.5,
        keepalive=1.0,
        stall_timeout=60.0,
    )
    assert all(
        type(value) is float
        for value in (config.server.idle_timeout, config.server.keepalive)
    )


def test_server_limits() -> None:
    """
    The HTTP server's limits are read from C{[server]}, and default to a
    10 s header timeout, 1000 connections and 50 per client.
    """
    defaults = parse_config(PORCH, "cameras.toml").server
    assert (
        defaults.header_timeout,
        defaults.max_connections,
        defaults.max_connections_per_client,
    ) == (10.0, 1000, 50)
    config = parse_config(
        "[server]\nheader_timeout = 2.5\nmax_connections = 20\n"
        "max_connections_per_client = 4\n" + PORCH,
        "cameras.toml",
    )
    assert (
        config.server.header_timeout,
        config.server.max_connections,
        config.server.max_connections_per_client,
    ) == (2.5, 20, 4)
    assert type(config.server.max_connections) is int
    whole = parse_config("[server]\nheader_timeout = 3\n" + PORCH, "cameras.toml")
    assert type(whole.server.header_timeout) is float


def test_server_hosts() -> None:
    """
    C{[server] hosts} lists the host names camserve answers to besides IP
    literals and C{localhost}, lower-cased; none by default.
    """
    assert parse_config(PORCH, "cameras.toml").server.hosts == ()
    config = parse_config(
        '[server]\nhosts = ["Camera.Example", "cams.lan"]\n' + PORCH, "cameras.toml"
    )
    assert config.server.hosts == ("camera.example", "cams.lan")


def test_server_trusted_proxies() -> None:
    """
    C{[server] trusted_proxies} lists the reverse proxies whose
    C{X-Forwarded-For} is believed, as addresses and networks; none by
    default.
    """
    assert parse_config(PORCH, "cameras.toml").server.trusted_proxies == ()
    config = parse_config(
        '[server]\ntrusted_proxies = ["127.0.0.1", "::1", "10.0.0.0/8"]\n' + PORCH,
        "cameras.toml",
    )
    assert config.server.trusted_proxies == ("127.0.0.1/32", "::1/128", "10.0.0.0/8")


@pytest.mark.parametrize(
    "contents",
    [b"not a certificate", None],
    ids=["garbage", "another key's certificate"],
)
def test_an_unusable_certificate_is_one_line(
    tmp_path: Path, contents: bytes | None
) -> None:
    """
    An C{ssl:} endpoint whose certificate file holds no certificate, or one
    that does not match its key, is refused with one line naming the
    endpoint and OpenSSL's reason, not a traceback.
    """
    key, _ = self_signed_pem()
    (tmp_path / "key.pem").write_bytes(key)
    if contents is None:
        contents = self_signed_pem()[1]
    (tmp_path / "cert.pem").write_bytes(contents)
    description = (
        f"ssl:8443:privateKey={tmp_path / 'key.pem'}:certKey={tmp_path / 'cert.pem'}"
    )
    message = check_error(f'[server]\nendpoints = ["{description}"]\n' + PORCH)
    assert message.startswith(
        f"cameras.toml: [server] endpoint {description!r} cannot be used: "
    )
    assert "[(" not in message


@pytest.mark.parametrize(
    ("hosts", "message"),
    [
        (
            '"camera.example"',
            (
                "cameras.toml: [server] hosts must be a list of host names, "
                "e.g. [\"camera.example\"], not 'camera.example'"
            ),
        ),
        (
            '["camera.example:8080"]',
            (
                "cameras.toml: [server] hosts: 'camera.example:8080' is not a host "
                "name (letters, digits, '-' and '.', without a port)"
            ),
        ),
        (
            '[""]',
            (
                "cameras.toml: [server] hosts: '' is not a host name "
                "(letters, digits, '-' and '.', without a port)"
            ),
        ),
    ],
)
def test_server_hosts_mistakes(hosts: str, message: str) -> None:
    """
    C{[server] hosts} must be a list of host names without ports.
    """
    with pytest.raises(ConfigError) as raised:
        parse_config(f"[server]\nhosts = {hosts}\n" + PORCH, "cameras.toml")
    assert str(raised.value) == message


def test_options_are_read_only() -> None:
    """
    A camera's options cannot be changed after it is parsed.
    """
    camera = parse_config(DOCUMENTED, "cameras.toml").cameras[0]
    with pytest.raises(TypeError):
        camera.options["fps"] = 1  # type: ignore[index]


def test_a_camera_has_a_group() -> None:
    """
    A camera's C{group} is its own, not its driver's option; text only.
    """
    config = parse_config(f'{PORCH}group = "outside"\n', "cameras.toml")
    (porch,) = config.cameras
    assert porch.group == "outside"
    assert "group" not in porch.options
    assert parse_config(PORCH, "cameras.toml").cameras[0].group is None
    with pytest.raises(ConfigError) as raised:
        parse_config(f"{PORCH}group = 3\n", "cameras.toml")
    assert str(raised.value) == (
        "cameras.toml: camera 'porch': group must be a string, not 3"
    )


def test_camera_timeouts_override_the_servers() -> None:
    """
    A camera runs with the timeouts it sets, and the server's for the rest.
    """
    config = parse_config(
        "[server]\nidle_timeout = 5\nstart_timeout = 6\nkeepalive = 7\n"
        "stall_timeout = 8\n"
        '[[cameras]]\nname = "own"\ndriver = "emulated"\n'
        "idle_timeout = 0\nkeepalive = 0.5\n" + PORCH,
        "cameras.toml",
    )
    own, porch = config.cameras
    assert (own.idle_timeout, own.start_timeout) == (0.0, None)
    assert (own.keepalive, own.stall_timeout) == (0.5, None)
    assert own.timeouts(config.server) == Timeouts(
        idle_timeout=0.0, start_timeout=6.0, keepalive=0.5, stall_timeout=8.0
    )
    assert porch.timeouts(config.server) == Timeouts(
        idle_timeout=5.0, start_timeout=6.0, keepalive=7.0, stall_timeout=8.0
    )


def test_a_file_config_has_a_camera() -> None:
    """
    A config with no cameras cannot be made even outside a file.
    """
    with pytest.raises(ValueError, match="cameras"):
        FileConfig(ServerSettings(), ())


def test_where_a_config_came_from_is_not_part_of_its_value() -> None:
    """
    The same text read from two files gives equal configs, each naming its
    own file.
    """
    one = parse_config(DOCUMENTED, "one.toml")
    two = parse_config(DOCUMENTED, "two.toml")
    assert one == two
    assert (one.source, two.source) == ("one.toml", "two.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[server]\nidle_timeout = 10\n  bad bad\n",
            (
                "cameras.toml: line 3, column 7: "
                "Expected '=' after a key in a key/value pair"
            ),
        ),
        (
            '[server]\nendpoints = ["tcp:8080",',
            "cameras.toml: end of file: Invalid value",
        ),
    ],
)
def test_syntax_errors_say_where_in_one_line(text: str, message: str) -> None:
    """
    A file that is not TOML is refused with tomllib's reason, after the
    file's name and the line and column (or the end of the file).
    """
    assert parse_error(text) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "port = 8080\n" + PORCH,
            (
                "cameras.toml: unknown key 'port' at the top level; "
                "allowed: [server], [[cameras]], [auth]"
            ),
        ),
        (
            '[camera]\nname = "porch"\n',
            (
                "cameras.toml: unknown key 'camera' at the top level; "
                "allowed: [server], [[cameras]], [auth]"
            ),
        ),
        (
            "server = 1\n" + PORCH,
            "cameras.toml: server must be a table ([server]), not 1",
        ),
        (
            "[server]\nport = 8080\n" + PORCH,
            (
                "cameras.toml: unknown key 'port' in [server]; allowed: endpoints, "
                "header_timeout, hosts, idle_timeout, keepalive, max_connections, "
                "max_connections_per_client, stall_timeout, start_timeout, "
                "trusted_proxies"
            ),
        ),
        (
            '[server]\ntrusted_proxies = "127.0.0.1"\n' + PORCH,
            (
                "cameras.toml: [server] trusted_proxies must be a list of IP "
                'addresses or networks, e.g. ["127.0.0.1", "10.0.0.0/8"], not '
                "'127.0.0.1'"
            ),
        ),
        (
            '[server]\ntrusted_proxies = ["127.0.0.1", "nginx.lan"]\n' + PORCH,
            (
                "cameras.toml: [server] trusted_proxies: 'nginx.lan' is not an IP "
                "address or network (e.g. 127.0.0.1, ::1 or 10.0.0.0/8)"
            ),
        ),
        (
            '[server]\nendpoints = "tcp:8080"\n' + PORCH,
            (
                "cameras.toml: [server] endpoints must be a list of one or more "
                "Twisted endpoint descriptions, e.g. [\"tcp:8080\"], not 'tcp:8080'"
            ),
        ),
        (
            "[server]\nendpoints = []\n" + PORCH,
            (
                "cameras.toml: [server] endpoints must be a list of one or more "
                'Twisted endpoint descriptions, e.g. ["tcp:8080"], not []'
            ),
        ),
        (
            '[server]\nendpoints = ["tcp:8080", 8081]\n' + PORCH,
            (
                "cameras.toml: [server] endpoints must be a list of one or more "
                "Twisted endpoint descriptions, e.g. [\"tcp:8080\"], not ['tcp:8080', 8081]"
            ),
        ),
        (
            '[server]\nendpoints = [" "]\n' + PORCH,
            (
                "cameras.toml: [server] endpoints must be a list of one or more "
                "Twisted endpoint descriptions, e.g. [\"tcp:8080\"], not [' ']"
            ),
        ),
        (
            '[server]\nendpoints = ["tcp:8080", "tcp:8081", "tcp:8080"]\n' + PORCH,
            "cameras.toml: [server] endpoints lists 'tcp:8080' twice",
        ),
        (
            "[server]\nidle_timeout = -1\n" + PORCH,
            "cameras.toml: [server] idle_timeout must be a number at least 0, not -1",
        ),
        (
            "[server]\nstart_timeout = 0\n" + PORCH,
            (
                "cameras.toml: [server] start_timeout must be a number greater than 0, "
                "not 0"
            ),
        ),
        (
            "[server]\nheader_timeout = 0\n" + PORCH,
            (
                "cameras.toml: [server] header_timeout must be a number greater "
                "than 0, not 0"
            ),
        ),
        (
            '[server]\nheader_timeout = "10"\n' + PORCH,
            (
                "cameras.toml: [server] header_timeout must be a number greater "
                "than 0, not the text '10' (write a number without quotes)"
            ),
        ),
        (
            "[server]\nmax_connections = 0\n" + PORCH,
            (
                "cameras.toml: [server] max_connections must be a whole number "
                "at least 1, not 0"
            ),
        ),
        (
            "[server]\nmax_connections_per_client = 2.5\n" + PORCH,
            (
                "cameras.toml: [server] max_connections_per_client must be a whole "
                "number at least 1, not 2.5"
            ),
        ),
        (
            "[server]\nmax_connections_per_client = true\n" + PORCH,
            (
                "cameras.toml: [server] max_connections_per_client must be a whole "
                "number at least 1, not true"
            ),
        ),
        (
            '[server]\nkeepalive = "2"\n' + PORCH,
            (
                "cameras.toml: [server] keepalive must be a number greater than 0, "
                "not the text '2' (write a number without quotes)"
            ),
        ),
        (
            "[server]\nstall_timeout = true\n" + PORCH,
            (
                "cameras.toml: [server] stall_timeout must be a number greater than 0, "
                "not true"
            ),
        ),
        (
            "[server]\nstall_timeout = nan\n" + PORCH,
            (
                "cameras.toml: [server] stall_timeout must be a number greater than 0, "
                "not nan"
            ),
        ),
        (
            '[server]\nendpoints = ["tcp:8080"]\n',
            "cameras.toml: no cameras: add a [[cameras]] table with a name and a driver",
        ),
        (
            "cameras = []\n",
            "cameras.toml: no cameras: add a [[cameras]] table with a name and a driver",
        ),
        (
            '[cameras]\nname = "porch"\ndriver = "emulated"\n',
            (
                "cameras.toml: cameras must be tables each headed [[cameras]], "
                "not one table headed [cameras]"
            ),
        ),
        (
            'cameras = "porch"\n',
            "cameras.toml: cameras must be tables each headed [[cameras]], not 'porch'",
        ),
        ("cameras = [1]\n", "cameras.toml: camera 1 must be a table, not 1"),
        (
            PORCH
            + '[[cameras]]\nname = "garage"\ndriver = "emulated"\n'
            + '[[cameras]]\ndriver = "emulated"\n',
            "cameras.toml: camera 3 has no name",
        ),
        (
            '[[cameras]]\nname = ""\ndriver = "emulated"\n',
            "cameras.toml: camera 1 has no name",
        ),
        (
            '[[cameras]]\nname = 5\ndriver = "emulated"\n',
            "cameras.toml: camera 1: name must be a string, not 5",
        ),
        (
            '[[cameras]]\nname = "my cam"\ndriver = "emulated"\n',
            (
                "cameras.toml: camera name 'my cam' is not allowed: "
                "use letters, digits, '-' and '_'"
            ),
        ),
        (
            '[[cameras]]\nname = "porch/2"\ndriver = "emulated"\n',
            (
                "cameras.toml: camera name 'porch/2' is not allowed: "
                "use letters, digits, '-' and '_'"
            ),
        ),
        (
            '[[cameras]]\nname = "café"\ndriver = "emulated"\n',
            (
                "cameras.toml: camera name 'café' is not allowed: "
                "use letters, digits, '-' and '_'"
            ),
        ),
        (
            '[[cameras]]\nname = "porch\\n"\ndriver = "emulated"\n',
            (
                "cameras.toml: camera name 'porch\\n' is not allowed: "
                "use letters, digits, '-' and '_'"
            ),
        ),
        (
            f'[[cameras]]\nname = "{"a" * 65}"\ndriver = "emulated"\n',
            (
                f"cameras.toml: camera name '{'a' * 65}' is not allowed: "
                "use at most 64 characters"
            ),
        ),
        (
            PORCH + '[[cameras]]\nname = "garage"\ndriver = "emulated"\n' + PORCH,
            "cameras.toml: duplicate camera name 'porch' (cameras 1 and 3)",
        ),
        (
            '[[cameras]]\nname = "porch"\ndriver = 5\n',
            "cameras.toml: camera 'porch': driver must be a string, not 5",
        ),
        (
            PORCH + "idle_timeout = -1\n",
            (
                "cameras.toml: camera 'porch': idle_timeout must be a number at least 0, "
                "not -1"
            ),
        ),
        (
            PORCH + "keepalive = 0\n",
            (
                "cameras.toml: camera 'porch': keepalive must be a number greater than 0, "
                "not 0"
            ),
        ),
        (
            PORCH + 'stall_timeout = "30"\n',
            (
                "cameras.toml: camera 'porch': stall_timeout must be a number greater "
                "than 0, not the text '30' (write a number without quotes)"
            ),
        ),
        (
            PORCH + "fps = 0\n",
            (
                "cameras.toml: camera 'porch': option 'fps' must be a number greater "
                "than 0, not 0"
            ),
        ),
        (
            PORCH + 'fps = "15"\n',
            (
                "cameras.toml: camera 'porch': option 'fps' must be a number greater "
                "than 0, not the text '15' (write a number without quotes)"
            ),
        ),
        (
            PORCH + "fps = inf\n",
            (
                "cameras.toml: camera 'porch': option 'fps' must be a number greater "
                "than 0, not inf"
            ),
        ),
        (
            PORCH + "width = 9\n",
            (
                "cameras.toml: camera 'porch': option 'width' must be a whole number "
                "from 16 to 7680, not 9"
            ),
        ),
        (
            PORCH + "width = 1280.0\n",
            (
                "cameras.toml: camera 'porch': option 'width' must be a whole number "
                "from 16 to 7680, not 1280.0"
            ),
        ),
        (
            PORCH + "width = true\n",
            (
                "cameras.toml: camera 'porch': option 'width' must be a whole number "
                "from 16 to 7680, not true"
            ),
        ),
        (
            PORCH + 'height = "720"\n',
            (
                "cameras.toml: camera 'porch': option 'height' must be a whole number "
                "from 16 to 4320, not the text '720' (write a number without quotes)"
            ),
        ),
        (
            PORCH + "quality = 101\n",
            (
                "cameras.toml: camera 'porch': option 'quality' must be a whole number "
                "from 1 to 100, not 101"
            ),
        ),
        (
            PORCH + "source = 0\n",
            "cameras.toml: camera 'porch': option 'source' must be a string, not 0",
        ),
        (
            PORCH + 'source = " "\n',
            "cameras.toml: camera 'porch': option 'source' must not be empty",
        ),
    ],
)
def test_mistakes_name_the_file_the_camera_and_the_key(text: str, message: str) -> None:
    """
    Each mistake the file alone shows is refused with one line naming the
    file, the table or camera, the key, what was given and what is allowed.
    """
    assert parse_error(text) == message


def test_a_camera_without_a_driver_is_told_the_drivers() -> None:
    """
    A camera with no driver is refused with the drivers there are.
    """
    assert parse_error('[[cameras]]\nname = "porch"\n') == (
        "cameras.toml: camera 'porch' has no driver; "
        f"available: {', '.join(driver_names())}"
    )


@pytest.mark.parametrize(
    ("option", "lowest", "highest", "allowed"),
    [
        ("width", 16, 7680, "a whole number from 16 to 7680"),
        ("height", 16, 4320, "a whole number from 16 to 4320"),
        ("quality", 1, 100, "a whole number from 1 to 100"),
    ],
)
def test_ranges_are_the_command_lines(
    option: str, lowest: int, highest: int, allowed: str
) -> None:
    """
    A ranged option takes the values at both of the command line's limits,
    and refuses the whole numbers just past them in the same words.
    """
    for value in (lowest, highest):
        config = parse_config(f"{PORCH}{option} = {value}\n", "cameras.toml")
        assert dict(config.cameras[0].options) == {option: value}
    for value in (lowest - 1, highest + 1):
        assert parse_error(f"{PORCH}{option} = {value}\n") == (
            f"cameras.toml: camera 'porch': option {option!r} must be {allowed}, "
            f"not {value}"
        )


def test_idle_timeout_may_be_zero_and_numbers_may_be_whole() -> None:
    """
    An idle timeout of 0 is taken, as on the command line, and a whole
    number where a number is wanted is taken as a float.
    """
    config = parse_config(f"{PORCH}idle_timeout = 0\nfps = 2\n", "cameras.toml")
    camera = config.cameras[0]
    assert camera.idle_timeout == 0.0
    assert camera.options["fps"] == 2.0
    assert type(camera.options["fps"]) is float


def accepts(read: Callable[[], object]) -> bool:
    try:
        read()
    except ConfigError:
        return False
    return True


def test_common_options_are_read_alike_from_the_file_and_the_command_line() -> None:
    """
    A driver option camserve knows is text in the file where the command
    line takes any text, and a number where it takes a number: a file's
    number is no text, and its quoted digits are no number.
    """
    for setting in SETTINGS:
        if not setting.driver_option:
            continue
        takes_text = accepts(partial(setting.parse, "x", "abc"))
        assert accepts(partial(setting.read, "x", "abc")) == takes_text, setting.name
        assert accepts(partial(setting.read, "x", "20")) == takes_text, setting.name
        assert accepts(partial(setting.read, "x", 20)) != takes_text, setting.name


def test_other_options_are_kept_as_written() -> None:
    """
    Options the command line has no setting for reach the config as the
    file wrote them, for the driver's declared types to judge.
    """
    config = parse_config(
        f'{PORCH}loop = false\nrotate = "90"\nflip = "both"\nextra = [1, 2]\n',
        "cameras.toml",
    )
    assert dict(config.cameras[0].options) == {
        "loop": False,
        "rotate": "90",
        "flip": "both",
        "extra": [1, 2],
    }


def test_load_config_reads_a_file(tmp_path: Path) -> None:
    """
    A config file is read from its path, which names it in messages as given.
    """
    path = tmp_path / "cameras.toml"
    path.write_text(DOCUMENTED, encoding="utf-8")
    config = load_config(path)
    assert config == parse_config(DOCUMENTED, "cameras.toml")
    assert config.source == str(path)
    assert load_config(str(path)).source == str(path)


def test_load_config_names_the_file_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A mistake in a file given by a relative path names that path.
    """
    monkeypatch.chdir(tmp_path)
    Path("cameras.toml").write_text(PORCH + "fps = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config("cameras.toml")
    assert str(caught.value) == (
        "cameras.toml: camera 'porch': option 'fps' must be a number greater "
        "than 0, not 0"
    )


def test_unreadable_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """
    A file that is missing, a folder, or not UTF-8 text is refused with one
    line naming it.
    """
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_config("cameras.toml")
    assert str(caught.value) == "cannot read cameras.toml: No such file or directory"
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert str(caught.value) == f"cannot read {tmp_path}: Is a directory"
    Path("latin.toml").write_bytes(b'[[cameras]]\nname = "caf\xe9"\n')
    with pytest.raises(ConfigError) as caught:
        load_config("latin.toml")
    assert str(caught.value) == (
        "latin.toml: line 2, column 12: not UTF-8 text (invalid continuation byte)"
    )


def test_a_byte_order_mark_is_skipped(tmp_path: Path) -> None:
    """
    A file some editors start with a UTF-8 byte order mark reads as without.
    """
    path = tmp_path / "cameras.toml"
    path.write_bytes(b"\xef\xbb\xbf" + PORCH.encode())
    assert load_config(path).cameras == (CameraConfig("porch", "emulated"),)


def test_check_config_makes_the_cameras_and_endpoints() -> None:
    """
    Checking a config makes each camera through its driver with its options,
    and each endpoint, for the given reactor, without listening; each made
    camera comes with its config and the timeouts it runs with.
    """
    reactor = MemoryReactor()
    config = parse_config(
        '[server]\nendpoints = ["tcp:8080", "tcp:8081:interface=127.0.0.1"]\n'
        "keepalive = 3\n"
        '[[cameras]]\nname = "porch"\ndriver = "emulated"\n'
        "fps = 15\nwidth = 320\nheight = 240\nquality = 70\nidle_timeout = 0\n"
        '[[cameras]]\nname = "gate"\ndriver = "mjpeg"\n'
        'source = "http://192.0.2.1:8080/video_feed"\ntimeout = 3\n'
        "tls_verify = false\n",
        "cameras.toml",
    )
    checked = check_config(config, reactor)
    assert checked.config is config
    porch, gate = checked.cameras
    assert porch.config is config.cameras[0]
    assert isinstance(porch.camera, EmulatedCamera)
    camera = porch.camera
    assert (camera.fps, camera.width, camera.height, camera.quality) == (
        15.0,
        320,
        240,
        70,
    )
    assert porch.timeouts == Timeouts(
        idle_timeout=0.0, start_timeout=10.0, keepalive=3.0, stall_timeout=30.0
    )
    assert gate.config is config.cameras[1]
    assert isinstance(gate.camera, MJPEGRelay)
    assert gate.camera.source == "http://192.0.2.1:8080/video_feed"
    assert gate.camera.timeout == 3.0
    assert type(gate.camera.timeout) is float
    assert [endpoint.description for endpoint in checked.endpoints] == [
        "tcp:8080",
        "tcp:8081:interface=127.0.0.1",
    ]
    first, second = (endpoint.endpoint for endpoint in checked.endpoints)
    assert isinstance(first, TCP4ServerEndpoint)
    assert isinstance(second, TCP4ServerEndpoint)
    assert (first._port, first._interface) == (8080, "")
    assert (second._port, second._interface) == (8081, "127.0.0.1")
    assert reactor.tcpServers == []
    assert reactor.tcpClients == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            PORCH + "rotate = 90\n",
            (
                "cameras.toml: camera 'porch': driver 'emulated' does not take option "
                "'rotate'; it takes: fps, height, quality, source, width"
            ),
        ),
        (
            '[[cameras]]\nname = "garage"\ndriver = "opencv"\nrotat = 180\n',
            (
                "cameras.toml: camera 'garage': driver 'opencv' does not take option "
                "'rotat'; it takes: flip, fps, height, loop, quality, rotate, source, "
                "width"
            ),
        ),
        (
            '[[cameras]]\nname = "garage"\ndriver = "opencv"\nrotate = "180"\n',
            (
                "cameras.toml: camera 'garage': option 'rotate' must be a whole number, "
                "not '180'"
            ),
        ),
        (
            '[[cameras]]\nname = "garage"\ndriver = "opencv"\nrotate = true\n',
            (
                "cameras.toml: camera 'garage': option 'rotate' must be a whole number, "
                "not true"
            ),
        ),
        (
            '[[cameras]]\nname = "garage"\ndriver = "opencv"\nrotate = 180.0\n',
            (
                "cameras.toml: camera 'garage': option 'rotate' must be a whole number, "
                "not 180.0"
            ),
        ),
        (
            '[[cameras]]\nname = "garage"\ndriver = "opencv"\nloop = 1\n',
            "cameras.toml: camera 'garage': option 'loop' must be true or false, not 1",
        ),
        (
            '[[cameras]]\nname = "garage"\ndriver = "opencv"\nloop = "false"\n',
            (
                "cameras.toml: camera 'garage': option 'loop' must be true or false, "
                "not 'false'"
            ),
        ),
        (
            '[[cameras]]\nname = "garage"\ndriver = "opencv"\nflip = 0\n',
            "cameras.toml: camera 'garage': option 'flip' must be a string, not 0",
        ),
        (
            '[[cameras]]\nname = "garage"\ndriver = "opencv"\nrotate = 45\n',
            (
                "cameras.toml: camera 'garage': driver 'opencv': rotate must be 0, 90, "
                "180 or 270, not 45"
            ),
        ),
        (
            (
                '[[cameras]]\nname = "gate"\ndriver = "mjpeg"\n'
                'source = "http://h/"\ntimeout = "10"\n'
            ),
            "cameras.toml: camera 'gate': option 'timeout' must be a number, not '10'",
        ),
        (
            '[[cameras]]\nname = "gate"\ndriver = "mjpeg"\nsource = "ftp://h/"\n',
            (
                "cameras.toml: camera 'gate': driver 'mjpeg': source must be an "
                "http:// or https:// URL with a host, not 'ftp://h/'"
            ),
        ),
        (
            PORCH + 'source = "/nonexistent/frames"\n',
            (
                "cameras.toml: camera 'porch': driver 'emulated': source "
                "'/nonexistent/frames' is not a folder"
            ),
        ),
        (
            '[server]\nendpoints = ["tcp:notaport"]\n' + PORCH,
            (
                "cameras.toml: [server] endpoint 'tcp:notaport' is not a valid Twisted "
                "endpoint description (e.g. tcp:8080, tcp:8080:interface=127.0.0.1): "
                "invalid literal for int() with base 10: 'notaport'"
            ),
        ),
        (
            '[server]\nendpoints = ["tcp:8080", "nope:1"]\n' + PORCH,
            (
                "cameras.toml: [server] endpoint 'nope:1' is not a valid Twisted "
                "endpoint description (e.g. tcp:8080, tcp:8080:interface=127.0.0.1): "
                "Unknown endpoint type: 'nope'"
            ),
        ),
        (
            '[server]\nendpoints = ["ssl:8443:privateKey=/nonexistent/key.pem"]\n'
            + PORCH,
            (
                "cameras.toml: [server] endpoint 'ssl:8443:privateKey=/nonexistent/"
                "key.pem' cannot be used: /nonexistent/key.pem: No such file or "
                "directory"
            ),
        ),
    ],
)
def test_check_mistakes_name_the_file_the_camera_and_the_key(
    text: str, message: str
) -> None:
    """
    What only a driver or Twisted can refuse is refused in one line naming
    the file and the camera or endpoint, then the driver's or Twisted's own
    words: unknown options, values of a type the driver does not declare
    (text is not converted as on the command line, and a bool is not a
    number), values the driver refuses, and endpoints.
    """
    assert check_error(text) == message


def test_check_names_an_unknown_driver() -> None:
    """
    A camera whose driver does not exist is refused with the drivers there
    are.
    """
    assert check_error('[[cameras]]\nname = "porch"\ndriver = "nope"\n') == (
        "cameras.toml: camera 'porch': unknown driver 'nope'; available: "
        f"{', '.join(driver_names())}, or a camera_nope.py module in the "
        "working directory"
    )


@pytest.mark.skipif(
    importlib.util.find_spec("picamera2") is not None,
    reason="picamera2 is installed here",
)
def test_check_names_a_missing_library() -> None:
    """
    A camera whose driver needs a library that is not installed is refused
    with what to install.
    """
    assert check_error('[[cameras]]\nname = "hall"\ndriver = "picamera2"\n').startswith(
        "cameras.toml: camera 'hall': driver 'picamera2' needs picamera2, which "
        "is not installed: "
    )


@pytest.mark.parametrize(
    ("value", "declared", "expected"),
    [
        (True, {bool}, True),
        (3, {int}, 3),
        (3, {float}, 3.0),
        (3, {int, float}, 3),
        (2.5, {float}, 2.5),
        ("x", {str}, "x"),
        ("x", {str, int}, "x"),
        ([1, 2], set(), [1, 2]),
        ("x", {Path}, "x"),
    ],
)
def test_values_of_a_declared_type_pass(
    value: object, declared: set[type], expected: object
) -> None:
    """
    A value of a type the driver declares reaches it, a whole number as a
    float where only a float is declared; a value for an option declared as
    none of TOML's types passes as written.
    """
    typed = _typed("x", value, declared)
    assert typed == expected
    assert type(typed) is type(expected)


@pytest.mark.parametrize(
    ("value", "declared", "allowed"),
    [
        (1, {bool}, "true or false"),
        (True, {int}, "a whole number"),
        (True, {float}, "a number"),
        (1.5, {int}, "a whole number"),
        ("1", {int, float}, "a number"),
        (1, {str}, "a string"),
        (1.5, {int, str}, "a whole number or a string"),
    ],
)
def test_values_of_other_types_are_refused(
    value: object, declared: set[type], allowed: str
) -> None:
    """
    A value of none of the types the driver declares is refused with those
    types in words.
    """
    with pytest.raises(ConfigError) as caught:
        _typed("x", value, declared)
    assert str(caught.value).startswith(f"option 'x' must be {allowed}, not ")


def test_the_example_serves_emulated_cameras() -> None:
    """
    The example config parses and checks as it stands, serving emulated
    cameras only, so it runs anywhere.
    """
    config = load_config(EXAMPLE)
    assert config.server == ServerSettings()
    assert [camera.name for camera in config.cameras] == ["porch", "garden"]
    checked = check_config(config, MemoryReactor())
    assert all(isinstance(made.camera, EmulatedCamera) for made in checked.cameras)


def test_the_examples_commented_out_cameras_are_valid() -> None:
    """
    The example's commented-out cameras, made live, parse, and each gives
    only options its driver takes, of the types it declares.
    """
    config = parse_config(uncommented(EXAMPLE.read_text(encoding="utf-8")), "example")
    drivers = {camera.name: camera.driver for camera in config.cameras}
    assert drivers == {
        "porch": "emulated",
        "garden": "emulated",
        "garage": "opencv",
        "desk": "v4l2",
        "gate": "mjpeg",
        "hallway": "picamera2",
    }
    for camera in config.cameras:
        options = _driver_options(camera)
        takes = inspect.signature(find_driver(camera.driver)).parameters
        assert set(options) <= set(takes), camera.name


def test_paths_in_the_file_are_relative_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A camera's relative C{source} path is taken from the config file's
    folder, as C{htpasswd} is, wherever camserve was started; an absolute
    path, a URL, a device number and a GStreamer pipeline are left alone.
    """
    folder = tmp_path / "conf"
    folder.mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    sources = [
        "frames",
        "clips/lobby.avi",
        "/srv/frames",
        "rtsp://cam.lan/stream",
        "0",
        "videotestsrc ! videoconvert ! appsink",
    ]
    tables = "".join(
        f'[[cameras]]\nname = "c{number}"\ndriver = "opencv"\nsource = "{source}"\n'
        for number, source in enumerate(sources)
    )
    (folder / "cameras.toml").write_text(tables)
    config = load_config(str(folder / "cameras.toml"))
    assert [camera.options["source"] for camera in config.cameras] == [
        str(folder / "frames"),
        str(folder / "clips" / "lobby.avi"),
        *sources[2:],
    ]
