# -*- test-case-name: tests.test_config_file -*-
"""
Many cameras from one TOML file, with one-line errors naming the file, the
camera and the key.

A file has an optional C{[server]} table and one C{[[cameras]]} table per
camera::

    [server]
    endpoints = ["tcp:8080"]
    idle_timeout = 10

    [[cameras]]
    name = "porch"
    driver = "emulated"
    fps = 15

An optional C{[auth]} table asks for a login on every path but the public
ones (see L{AuthSettings})::

    [auth]
    htpasswd = "users.htpasswd"
    public = ["/healthz"]
    [auth.users.alice]
    role = "admin"
    [auth.users.bob]
    role = "viewer"
    cameras = ["porch"]

A camera's keys other than C{name}, C{driver} and the four timeouts are its
driver's options. L{parse_config} checks all the file alone can tell, with
the command line's rules for the settings the two share; L{check_config}
makes the cameras and endpoints, which finds what only a driver or Twisted
can.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from attrs import evolve, field, frozen
from attrs.validators import min_len
from OpenSSL.crypto import Error as CryptoError
from OpenSSL.SSL import Error as TLSError
from twisted.internet.endpoints import serverFromString
from twisted.internet.error import VerifyError

from camserve._errors import ConfigError
from camserve._frozen import read_only
from camserve.access._certificates import tls_error_reason
from camserve.access._proxies import parse_networks
from camserve.cameras._registry import (
    declared_types,
    driver_names,
    find_driver,
    make_camera,
)
from camserve.config._accounts import AuthSettings, UserSettings, read_accounts
from camserve.config._settings import (
    SETTINGS,
    ServerConfig,
    bounded_number,
    positive_number,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from twisted.internet.interfaces import IStreamServerEndpoint

    from camserve.access._auth import Accounts
    from camserve.cameras._registry import Driver

_DEFAULTS = ServerConfig()
_TIMEOUTS = ("idle_timeout", "start_timeout", "keepalive", "stall_timeout")
_SETTINGS = {setting.attribute: setting for setting in SETTINGS}
_COMMON_OPTIONS = frozenset(
    setting.attribute for setting in SETTINGS if setting.driver_option
)
"""The driver options the command line has its own settings for."""
_TEXT_OPTIONS = frozenset({"source"})
"""The common options given as text; the others are numbers."""
_LIMITS = {
    "header_timeout": positive_number,
    "max_connections": bounded_number(int, 1),
    "max_connections_per_client": bounded_number(int, 1),
}
"""The C{[server]} keys of the HTTP server's limits, with their parsers."""
_SERVER_KEYS = ("endpoints", "hosts", "trusted_proxies", *_TIMEOUTS, *_LIMITS)
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_HOST = re.compile(r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_ROLES = ("admin", "viewer")
"""The roles a user may have: C{viewer} watches, C{admin} may do everything."""
_AUTH_KEYS = ("htpasswd", "public", "token_secret_file", "users")
_USER_KEYS = ("cameras", "role")
_NAME_LIMIT = 64
_POSITION = re.compile(
    r"(?P<message>.*) \((?:at line (?P<line>\d+), column (?P<column>\d+)"
    r"|at end of document)\)"
)
_KIND_WORDS = {
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    str: "a string",
}


@frozen
class Timeouts:
    """
    How long one camera's hub and viewers wait, in seconds; the command
    line's four timeouts.
    """

    idle_timeout: float
    start_timeout: float
    keepalive: float
    stall_timeout: float


@frozen
class ServerSettings:
    """
    The C{[server]} table: where to listen, and the timeouts of every camera
    that does not set its own. The defaults are the command line's.

    @ivar endpoints: Twisted server endpoint descriptions, one listener each.
    @ivar header_timeout: seconds within which a connection must send a
        whole request head.
    @ivar max_connections: connections served at once; more are refused.
    @ivar max_connections_per_client: connections served at once from one
        client address; more from it are refused.
    @ivar hosts: the host names camserve answers to besides IP literals and
        C{localhost}, lower-cased: requests naming another host in their
        C{Host} header are a DNS-rebinding attack's.
    @ivar trusted_proxies: the addresses and networks of the reverse
        proxies whose C{X-Forwarded-For} names the client.
    """

    endpoints: tuple[str, ...] = (_DEFAULTS.endpoint,)
    idle_timeout: float = _DEFAULTS.idle_timeout
    start_timeout: float = _DEFAULTS.start_timeout
    keepalive: float = _DEFAULTS.keepalive
    stall_timeout: float = _DEFAULTS.stall_timeout
    header_timeout: float = _DEFAULTS.header_timeout
    max_connections: int = _DEFAULTS.max_connections
    max_connections_per_client: int = _DEFAULTS.max_connections_per_client
    hosts: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = _DEFAULTS.trusted_proxies


@frozen
class CameraConfig:
    """
    One C{[[cameras]]} table: a camera to make and serve.

    @ivar name: the camera's name in URLs and on pages, unique in its file.
    @ivar driver: the name of the driver that makes it, as C{--camera} takes.
    @ivar options: the driver's keyword options.
    @ivar idle_timeout: the camera's own idle timeout; L{None} for the
        server's. Likewise C{start_timeout}, C{keepalive} and
        C{stall_timeout}.
    """

    name: str
    driver: str
    options: Mapping[str, Any] = field(factory=dict, converter=read_only)
    idle_timeout: float | None = None
    start_timeout: float | None = None
    keepalive: float | None = None
    stall_timeout: float | None = None

    def timeouts(self, server: ServerSettings) -> Timeouts:
        """
        The timeouts the camera runs with: its own where it sets them, else
        C{server}'s.
        """
        chosen = {}
        for name in _TIMEOUTS:
            own = getattr(self, name)
            chosen[name] = getattr(server, name) if own is None else own
        return Timeouts(**chosen)


@frozen
class FileConfig:
    """
    A whole config file: the server's settings and its cameras.

    @ivar cameras: one or more, in the file's order, with distinct names.
    @ivar source: the file it was read from, named in messages; not part of
        its value.
    @ivar auth: the C{[auth]} table; L{None} to serve everyone without a
        login.
    """

    server: ServerSettings
    cameras: tuple[CameraConfig, ...] = field(validator=min_len(1))
    source: str = field(default="config", eq=False)
    auth: AuthSettings | None = field(default=None, kw_only=True)


@frozen
class MadeCamera:
    """
    A camera L{check_config} made, not yet started: what a service serves.

    @ivar camera: what L{make_camera} made from C{config}.
    @ivar timeouts: the timeouts it runs with.
    """

    config: CameraConfig
    camera: Driver
    timeouts: Timeouts


@frozen
class ServerEndpoint:
    """
    An endpoint L{check_config} made from its description, not yet
    listening.
    """

    description: str
    endpoint: IStreamServerEndpoint


@frozen
class CheckedConfig:
    """
    A config file made ready to serve: its cameras made and its endpoints
    parsed, so that the service uses these rather than making them again.
    """

    config: FileConfig
    cameras: tuple[MadeCamera, ...]
    endpoints: tuple[ServerEndpoint, ...]
    accounts: Accounts | None = None
    """The users of C{[auth]} with their password hashes, if it has one."""


def load_config(path: str | os.PathLike[str]) -> FileConfig:
    """
    The config file at C{path}, named in messages as given.

    @raise ConfigError: if it cannot be read, or for its first mistake.
    """
    source = os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read {source}: {error.strerror or error}") from None
    try:
        # A byte order mark, as some editors write, is not a mistake worth a stop.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line_start = data.rfind(b"\n", 0, error.start) + 1
        line = data.count(b"\n", 0, error.start) + 1
        column = len(data[line_start : error.start].decode("utf-8", "replace")) + 1
        raise ConfigError(
            f"{source}: line {line}, column {column}: not UTF-8 text ({error.reason})"
        ) from None
    config = parse_config(text, source)
    if config.auth is not None:
        # Relative to the config file, wherever camserve was started.
        folder = Path(source).parent
        htpasswd = folder / Path(config.auth.htpasswd).expanduser()
        secret = config.auth.token_secret_file
        if secret is not None:
            secret = str(folder / Path(secret).expanduser())
        config = evolve(
            config,
            auth=evolve(config.auth, htpasswd=str(htpasswd), token_secret_file=secret),
        )
    return config


def parse_config(text: str, source: str) -> FileConfig:
    """
    The config in C{text}, checked as far as the text alone allows: its
    shape, the camera names, the timeouts and the options the command line
    has settings for (C{source}, C{fps}, C{width}, C{height}, C{quality}),
    with the command line's rules.

    @param source: where C{text} came from, named in messages.
    @raise ConfigError: for the first mistake, in one line that starts with
        C{source}.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{source}: {_syntax_error(error)}") from None
    try:
        return _file(document, source)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None


def check_config(config: FileConfig, reactor: Any) -> CheckedConfig:
    """
    Make every camera and endpoint of C{config} as serving it would, though
    without starting a camera or listening: what the file names but cannot
    be used (a driver, an option, a missing library, an endpoint) is found
    before anything runs.

    Driver options are checked against the types the driver's constructor
    declares: C{true} or C{false} for C{bool}, a whole number for C{int},
    any number for C{float} and text for C{str}. Text is not converted as it
    is from the command line: C{"15"} is refused where a number is wanted.

    @param reactor: what the endpoints and asynchronous drivers are made for.
    @return: the cameras and endpoints made, for a service to serve.
    @raise ConfigError: for the first that cannot be made, in one line
        naming the file and the camera or endpoint.
    """
    endpoints = tuple(
        _endpoint(config.source, description, reactor)
        for description in config.server.endpoints
    )
    cameras = tuple(
        _make(config.source, camera, config.server, reactor)
        for camera in config.cameras
    )
    accounts = (
        None if config.auth is None else read_accounts(config.source, config.auth)
    )
    return CheckedConfig(config, cameras, endpoints, accounts)


def _syntax_error(error: tomllib.TOMLDecodeError) -> str:
    """
    tomllib's message, with where it happened put first.
    """
    message = str(error)
    match = _POSITION.fullmatch(message)
    if match is None:
        return message
    if match["line"] is None:
        return f"end of file: {match['message']}"
    return f"line {match['line']}, column {match['column']}: {match['message']}"


def _file(document: Mapping[str, Any], source: str) -> FileConfig:
    """
    The config a parsed file describes.
    """
    unknown = sorted(set(document) - {"server", "cameras", "auth"})
    if unknown:
        raise ConfigError(
            f"unknown key {unknown[0]!r} at the top level; "
            "allowed: [server], [[cameras]], [auth]"
        )
    server = _server(document.get("server", {}))
    cameras = _cameras(document.get("cameras", []))
    auth = (
        _auth(document["auth"], {camera.name for camera in cameras})
        if "auth" in document
        else None
    )
    return FileConfig(server, cameras, source, auth=auth)


def _auth(table: object, cameras: set[str]) -> AuthSettings:
    """
    The C{[auth]} table's settings, its users' cameras among C{cameras}.
    """
    if not isinstance(table, dict):
        raise ConfigError(f"auth must be a table ([auth]), not {_shown(table)}")
    _known_keys(table, _AUTH_KEYS, "[auth]")
    htpasswd = table.get("htpasswd")
    if not isinstance(htpasswd, str) or not htpasswd:
        raise ConfigError(
            "[auth] htpasswd must name an htpasswd file of bcrypt hashes "
            f"(htpasswd -B -C 12), not {_shown(htpasswd)}"
        )
    users = table.get("users")
    if not isinstance(users, dict) or not users:
        raise ConfigError(
            "[auth] has no users: add a [auth.users.<name>] table with a role"
        )
    settings = {name: _user(name, value, cameras) for name, value in users.items()}
    public = table.get("public", ["/healthz"])
    if not (
        isinstance(public, list)
        and all(isinstance(path, str) and path.startswith("/") for path in public)
    ):
        raise ConfigError(
            '[auth] public must be a list of paths, e.g. ["/healthz"], '
            f"not {_shown(public)}"
        )
    secret = table.get("token_secret_file")
    if secret is not None and (not isinstance(secret, str) or not secret):
        raise ConfigError(
            "[auth] token_secret_file must name a file of random bytes, "
            f"not {_shown(secret)}"
        )
    return AuthSettings(htpasswd, settings, tuple(public), secret)


def _user(name: str, table: object, cameras: set[str]) -> UserSettings:
    """
    The settings of user C{name}'s C{[auth.users.<name>]} table.
    """
    where = f"[auth.users.{name}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table, not {_shown(table)}")
    _known_keys(table, _USER_KEYS, where)
    role = table.get("role")
    if role not in _ROLES:
        raise ConfigError(
            f"{where} role must be one of {', '.join(_ROLES)}, not {_shown(role)}"
        )
    if "cameras" not in table:
        return UserSettings(role)
    allowed = table["cameras"]
    if not isinstance(allowed, list) or not all(
        isinstance(each, str) for each in allowed
    ):
        raise ConfigError(
            f"{where} cameras must be a list of camera names, not {_shown(allowed)}"
        )
    for each in allowed:
        if each not in cameras:
            raise ConfigError(
                f"{where} cameras: no camera is named {each!r}; "
                f"cameras: {', '.join(sorted(cameras))}"
            )
    return UserSettings(role, frozenset(allowed))


def _known_keys(
    table: Mapping[str, object], known: tuple[str, ...], where: str
) -> None:
    """
    Refuse a key of C{table} not in C{known}.
    """
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ConfigError(
            f"unknown key {unknown[0]!r} in {where}; allowed: {', '.join(known)}"
        )


def _server(table: object) -> ServerSettings:
    """
    The C{[server]} table's settings.
    """
    if not isinstance(table, dict):
        raise ConfigError(f"server must be a table ([server]), not {_shown(table)}")
    unknown = sorted(set(table) - set(_SERVER_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown key {unknown[0]!r} in [server]; "
            f"allowed: {', '.join(sorted(_SERVER_KEYS))}"
        )
    values = {
        key: _setting(key, f"[server] {key}", table[key])
        for key in _TIMEOUTS
        if key in table
    }
    for key, parse in _LIMITS.items():
        if key in table:
            values[key] = parse(f"[server] {key}", _Number(table[key]))
    if "endpoints" in table:
        values["endpoints"] = _endpoints(table["endpoints"])
    if "hosts" in table:
        values["hosts"] = _hosts(table["hosts"])
    if "trusted_proxies" in table:
        values["trusted_proxies"] = _trusted_proxies(table["trusted_proxies"])
    return ServerSettings(**values)


def _trusted_proxies(value: object) -> tuple[str, ...]:
    """
    The C{trusted_proxies} setting: IP addresses and networks.
    """
    if not isinstance(value, list) or not all(isinstance(each, str) for each in value):
        raise ConfigError(
            "[server] trusted_proxies must be a list of IP addresses or networks, "
            f'e.g. ["127.0.0.1", "10.0.0.0/8"], not {_shown(value)}'
        )
    try:
        return tuple(str(network) for network in parse_networks(value))
    except ValueError as error:
        raise ConfigError(f"[server] trusted_proxies: {error}") from None


def _hosts(value: object) -> tuple[str, ...]:
    """
    The C{hosts} setting: host names (no ports), lower-cased.
    """
    if not isinstance(value, list) or not all(isinstance(each, str) for each in value):
        raise ConfigError(
            '[server] hosts must be a list of host names, e.g. ["camera.example"], '
            f"not {_shown(value)}"
        )
    for each in value:
        if not _HOST.fullmatch(each):
            raise ConfigError(
                f"[server] hosts: {each!r} is not a host name "
                "(letters, digits, '-' and '.', without a port)"
            )
    return tuple(each.lower() for each in value)


def _endpoints(value: object) -> tuple[str, ...]:
    """
    The C{endpoints} setting: one or more endpoint descriptions, each once.
    """
    if not (
        isinstance(value, list)
        and value
        and all(isinstance(each, str) and each.strip() for each in value)
    ):
        raise ConfigError(
            "[server] endpoints must be a list of one or more Twisted endpoint "
            f'descriptions, e.g. ["tcp:8080"], not {_shown(value)}'
        )
    for index, description in enumerate(value):
        if description in value[:index]:
            raise ConfigError(f"[server] endpoints lists {description!r} twice")
    return tuple(value)


def _cameras(value: object) -> tuple[CameraConfig, ...]:
    """
    The C{[[cameras]]} tables' cameras.
    """
    if isinstance(value, dict):
        raise ConfigError(
            "cameras must be tables each headed [[cameras]], "
            "not one table headed [cameras]"
        )
    if not isinstance(value, list):
        raise ConfigError(
            f"cameras must be tables each headed [[cameras]], not {_shown(value)}"
        )
    if not value:
        raise ConfigError(
            "no cameras: add a [[cameras]] table with a name and a driver"
        )
    cameras = []
    numbers: dict[str, int] = {}
    for number, table in enumerate(value, start=1):
        camera = _camera(number, table)
        if camera.name in numbers:
            raise ConfigError(
                f"duplicate camera name {camera.name!r} "
                f"(cameras {numbers[camera.name]} and {number})"
            )
        numbers[camera.name] = number
        cameras.append(camera)
    return tuple(cameras)


def _camera(number: int, table: object) -> CameraConfig:
    """
    The camera of the C{number}th C{[[cameras]]} table, counting from 1.
    """
    if not isinstance(table, dict):
        raise ConfigError(f"camera {number} must be a table, not {_shown(table)}")
    name = table.get("name")
    if name is None or name == "":
        raise ConfigError(f"camera {number} has no name")
    if not isinstance(name, str):
        raise ConfigError(f"camera {number}: name must be a string, not {_shown(name)}")
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"camera name {name!r} is not allowed: use letters, digits, '-' and '_'"
        )
    if len(name) > _NAME_LIMIT:
        raise ConfigError(
            f"camera name {name!r} is not allowed: use at most {_NAME_LIMIT} characters"
        )
    where = f"camera {name!r}"
    driver = table.get("driver")
    if driver is None or driver == "":
        raise ConfigError(
            f"{where} has no driver; available: {', '.join(driver_names())}"
        )
    if not isinstance(driver, str):
        raise ConfigError(f"{where}: driver must be a string, not {_shown(driver)}")
    timeouts = {
        key: _setting(key, f"{where}: {key}", table[key])
        for key in _TIMEOUTS
        if key in table
    }
    options = {
        key: _setting(key, f"{where}: option {key!r}", value)
        if key in _COMMON_OPTIONS
        else value
        for key, value in table.items()
        if key not in ("name", "driver", *_TIMEOUTS)
    }
    return CameraConfig(name, driver, options, **timeouts)


def _setting(key: str, name: str, value: object) -> Any:
    """
    C{value} parsed by the command line's parser for the setting C{key}.

    @param name: the setting as the message names it.
    """
    setting = _SETTINGS[key]
    if key not in _TEXT_OPTIONS:
        return setting.parse(name, _Number(value))
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, not {_shown(value)}")
    return setting.parse(name, value)


class _Number(str):  # noqa: SLOT000 - a str subclass cannot have instance slots, and this one keeps its value
    """
    A TOML value as text for the command line's number parsers, which take
    text: a number as its digits, anything else as text no parser takes, so
    that C{"15"} or C{true} is refused in the same words as a number out of
    range. The parsers' messages show it as the file wrote it.
    """

    value: object

    def __new__(cls, value: object) -> Self:
        """
        C{value} as text.
        """
        number = isinstance(value, int | float) and not isinstance(value, bool)
        text = super().__new__(cls, str(value) if number else "")
        text.value = value
        return text

    def __repr__(self) -> str:
        return _shown(self.value)


def _shown(value: object) -> str:
    """
    A value from a TOML file, written for a message much as TOML writes it.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _endpoint(source: str, description: str, reactor: Any) -> ServerEndpoint:
    """
    The server endpoint C{description} names, for C{reactor}.
    """
    where = f"{source}: [server] endpoint {description!r}"
    try:
        endpoint = serverFromString(reactor, description)
    except (OSError, CryptoError, TLSError, VerifyError) as error:
        # For example ssl: without its certificate file, or with a file
        # that holds no certificate or a key that does not match it.
        raise ConfigError(
            f"{where} cannot be used: {tls_error_reason(error)}"
        ) from None
    except (ValueError, TypeError, KeyError) as error:
        raise ConfigError(
            f"{where} is not a valid Twisted endpoint description "
            f"(e.g. tcp:8080, tcp:8080:interface=127.0.0.1): {error}"
        ) from None
    return ServerEndpoint(description, endpoint)


def _make(
    source: str, camera: CameraConfig, server: ServerSettings, reactor: Any
) -> MadeCamera:
    """
    C{camera} made by its driver, with its options of the types the driver
    declares.
    """
    try:
        made = make_camera(camera.driver, _driver_options(camera), reactor)
    except ConfigError as error:
        message = _driver_message(camera.driver, str(error))
        raise ConfigError(f"{source}: camera {camera.name!r}: {message}") from None
    return MadeCamera(camera, made, camera.timeouts(server))


def _driver_options(camera: CameraConfig) -> dict[str, object]:
    """
    C{camera}'s options, each of the type its driver declares.

    @raise ConfigError: for an unknown driver, or an option of a type the
        driver does not take.
    """
    declared = declared_types(find_driver(camera.driver))
    return {
        key: _typed(key, value, declared.get(key, set()))
        for key, value in camera.options.items()
    }


def _typed(key: str, value: object, declared: set[type]) -> object:
    """
    C{value} for driver option C{key} as the driver declares it: a bool for
    C{bool} (never a number), an C{int} for C{int}, any number for
    C{float} (as a float) and text for C{str}; as it is if the driver
    declares none of these.

    @raise ConfigError: for a value of none of the declared types.
    """
    kinds = [kind for kind in _KIND_WORDS if kind in declared]
    if not kinds or type(value) in kinds:
        return value
    if type(value) is int and float in kinds:
        return float(value)
    allowed = " or ".join(
        _KIND_WORDS[kind] for kind in kinds if not (kind is int and float in kinds)
    )
    raise ConfigError(f"option {key!r} must be {allowed}, not {_shown(value)}")


def _driver_message(driver: str, message: str) -> str:
    """
    The registry's message about C{driver}, which calls a driver a camera,
    reworded for a file in which a camera is a C{[[cameras]]} table.
    """
    for said, meant in (
        (f"camera {driver!r}", f"driver {driver!r}"),
        (f"unknown camera {driver!r}", f"unknown driver {driver!r}"),
    ):
        if message.startswith(said):
            return meant + message.removeprefix(said)
    return message
