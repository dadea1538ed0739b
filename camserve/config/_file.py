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

A camera's keys other than C{name}, C{driver}, C{group}, the four timeouts
and those of its recording are its driver's options. L{parse_config} checks all the file alone can tell, with
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
from camserve.access._certificates import tls_error_reason
from camserve.cameras._registry import (
    declared_types,
    find_driver,
    make_camera,
)
from camserve.config._accounts import AuthSettings, auth_table, read_accounts
from camserve.config._camera_table import CameraConfig, Timeouts, cameras_table
from camserve.config._recording import check_recordings
from camserve.config._server_table import ServerSettings, server_table
from camserve.config._toml_values import shown

if TYPE_CHECKING:
    from collections.abc import Mapping

    from twisted.internet.interfaces import IStreamServerEndpoint

    from camserve.access._auth import Accounts
    from camserve.cameras._registry import Driver

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
    recordings = config.server.recordings_dir
    if recordings is not None:
        recordings = str(folder / Path(recordings).expanduser())
        config = evolve(config, server=evolve(config.server, recordings_dir=recordings))
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
    cameras = cameras_table(document.get("cameras", []))
    check_recordings(server, cameras)
    auth = (
        auth_table(document["auth"], {camera.name for camera in cameras})
        if "auth" in document
        else None
    )
    return FileConfig(server, cameras, source, auth=auth)


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
