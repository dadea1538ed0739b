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
from typing import TYPE_CHECKING, Any

from attrs import evolve, field, frozen
from attrs.validators import min_len
from OpenSSL.crypto import Error as CryptoError
from OpenSSL.SSL import Error as TLSError
from twisted.internet.endpoints import serverFromString
from twisted.internet.error import VerifyError

from camserve._errors import ConfigError
from camserve._frozen import read_only
from camserve.access._certificates import tls_error_reason
from camserve.cameras._registry import (
    declared_types,
    driver_names,
    find_driver,
    make_camera,
)
from camserve.config._accounts import AuthSettings, UserSettings, read_accounts
from camserve.config._server_table import TIMEOUTS, ServerSettings, server_table
from camserve.config._settings import (
    SETTINGS,
)
from camserve.config._toml_values import known_keys, setting_value, shown

if TYPE_CHECKING:
    from collections.abc import Mapping

    from twisted.internet.interfaces import IStreamServerEndpoint

    from camserve.access._auth import Accounts
    from camserve.cameras._registry import Driver

_COMMON_OPTIONS = frozenset(
    setting.attribute for setting in SETTINGS if setting.driver_option
)
"""The driver options the command line has its own settings for."""
_NAME = re.compile(r"[A-Za-z0-9_-]+")
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
        for name in TIMEOUTS:
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
    # Paths in the file are relative to it, wherever camserve was started.
    folder = Path(source).parent
    config = evolve(
        config,
        cameras=tuple(_sourced_from(folder, camera) for camera in config.cameras),
    )
    if config.auth is not None:
        htpasswd = folder / Path(config.auth.htpasswd).expanduser()
        secret = config.auth.token_secret_file
        if secret is not None:
            secret = str(folder / Path(secret).expanduser())
        config = evolve(
            config,
            auth=evolve(config.auth, htpasswd=str(htpasswd), token_secret_file=secret),
        )
    return config


def _sourced_from(folder: Path, camera: CameraConfig) -> CameraConfig:
    """
    C{camera} with its C{source}, if a relative path, taken from C{folder};
    a URL (C{rtsp://...}), a device number (C{0}) or a GStreamer pipeline
    (with C{!}) is left as it is.
    """
    source = camera.options.get("source")
    if (
        not isinstance(source, str)
        or "://" in source
        or "!" in source
        or source.strip().isdigit()
        or Path(source).expanduser().is_absolute()
    ):
        return camera
    resolved = str(folder / Path(source).expanduser())
    return evolve(camera, options={**camera.options, "source": resolved})


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
    server = server_table(document.get("server", {}))
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
        raise ConfigError(f"auth must be a table ([auth]), not {shown(table)}")
    known_keys(table, _AUTH_KEYS, "[auth]")
    htpasswd = table.get("htpasswd")
    if not isinstance(htpasswd, str) or not htpasswd:
        raise ConfigError(
            "[auth] htpasswd must name an htpasswd file of bcrypt hashes "
            f"(htpasswd -B -C 12), not {shown(htpasswd)}"
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
            f"not {shown(public)}"
        )
    secret = table.get("token_secret_file")
    if secret is not None and (not isinstance(secret, str) or not secret):
        raise ConfigError(
            "[auth] token_secret_file must name a file of random bytes, "
            f"not {shown(secret)}"
        )
    return AuthSettings(htpasswd, settings, tuple(public), secret)


def _user(name: str, table: object, cameras: set[str]) -> UserSettings:
    """
    The settings of user C{name}'s C{[auth.users.<name>]} table.
    """
    where = f"[auth.users.{name}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table, not {shown(table)}")
    known_keys(table, _USER_KEYS, where)
    role = table.get("role")
    if role not in _ROLES:
        raise ConfigError(
            f"{where} role must be one of {', '.join(_ROLES)}, not {shown(role)}"
        )
    if "cameras" not in table:
        return UserSettings(role)
    allowed = table["cameras"]
    if not isinstance(allowed, list) or not all(
        isinstance(each, str) for each in allowed
    ):
        raise ConfigError(
            f"{where} cameras must be a list of camera names, not {shown(allowed)}"
        )
    for each in allowed:
        if each not in cameras:
            raise ConfigError(
                f"{where} cameras: no camera is named {each!r}; "
                f"cameras: {', '.join(sorted(cameras))}"
            )
    return UserSettings(role, frozenset(allowed))


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
            f"cameras must be tables each headed [[cameras]], not {shown(value)}"
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
        raise ConfigError(f"camera {number} must be a table, not {shown(table)}")
    name = table.get("name")
    if name is None or name == "":
        raise ConfigError(f"camera {number} has no name")
    if not isinstance(name, str):
        raise ConfigError(f"camera {number}: name must be a string, not {shown(name)}")
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
        raise ConfigError(f"{where}: driver must be a string, not {shown(driver)}")
    timeouts = {
        key: setting_value(key, f"{where}: {key}", table[key])
        for key in TIMEOUTS
        if key in table
    }
    options = {
        key: setting_value(key, f"{where}: option {key!r}", value)
        if key in _COMMON_OPTIONS
        else value
        for key, value in table.items()
        if key not in ("name", "driver", *TIMEOUTS)
    }
    return CameraConfig(name, driver, options, **timeouts)


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
    raise ConfigError(f"option {key!r} must be {allowed}, not {shown(value)}")


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
