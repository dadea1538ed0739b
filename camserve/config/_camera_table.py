# -*- test-case-name: tests.test_config_file -*-
"""
A config file's C{[[cameras]]} tables: each camera's name, driver, options,
own timeouts and recording.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from camserve._errors import ConfigError
from camserve._frozen import read_only
from camserve.cameras._registry import driver_names
from camserve.config._settings import TIMEOUTS, Scope, settings_in
from camserve.config._toml_values import shown

if TYPE_CHECKING:
    from collections.abc import Mapping

    from camserve.config._server_table import ServerSettings
    from camserve.config._settings import Setting

_OWN = settings_in(Scope.CAMERA)
"""The settings a camera's table may give: its own, and the driver options
camserve knows."""
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_NAME_LIMIT = 64


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
    @ivar group: the group the grid shows the camera in; L{None} for none.
    @ivar record: when the camera records (a L{RecordingMode}'s value);
        L{None} for never. Likewise C{segment_minutes}, C{max_bytes} and
        C{max_age}, its recording's, and C{motion_threshold}, C{pre_roll},
        C{post_roll} and C{motion_mask}, its motion recording's, each
        L{None} for its default.
    """

    name: str
    driver: str
    options: Mapping[str, Any] = field(factory=dict, converter=read_only)
    idle_timeout: float | None = None
    start_timeout: float | None = None
    keepalive: float | None = None
    stall_timeout: float | None = None
    group: str | None = None
    record: str | None = None
    segment_minutes: float | None = None
    max_bytes: int | None = None
    max_age: float | None = None
    motion_threshold: float | None = None
    pre_roll: float | None = None
    post_roll: float | None = None
    motion_mask: tuple[tuple[float, float, float, float], ...] | None = None

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


def cameras_table(value: object) -> tuple[CameraConfig, ...]:
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
    options = {
        key: value
        for key, value in table.items()
        if key not in ("name", "driver", *(setting.name for setting in _OWN))
    }
    own: dict[str, Any] = {}
    for setting in _OWN:
        if setting.name in table:
            value = _read(setting, where, table[setting.name])
            (options if setting.driver_option else own)[setting.name] = value
    return CameraConfig(name, driver, options, **own)


def _read(setting: Setting, where: str, value: object) -> Any:
    """
    The camera C{where}'s C{value} of C{setting}.
    """
    if setting.driver_option:
        return setting.read(f"{where}: option {setting.name!r}", value)
    return setting.read(f"{where}: {setting.name}", value)
