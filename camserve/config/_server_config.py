# -*- test-case-name: tests.test_config -*-
"""
What the command line or the environment asks camserve to serve: one
camera, and the server's settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from camserve._errors import ConfigError
from camserve._frozen import read_only
from camserve.config._server_table import ServerSettings
from camserve.config._settings import Scope, default_of, settings_in

if TYPE_CHECKING:
    from collections.abc import Mapping


@frozen
class ServerConfig:
    """
    Everything camserve's command line and tac file need to serve a camera.
    """

    camera: str = default_of("camera")
    name: str | None = default_of("name")
    endpoint: str = default_of("endpoint")
    camera_options: Mapping[str, Any] = field(factory=dict, converter=read_only)
    idle_timeout: float = default_of("idle_timeout")
    start_timeout: float = default_of("start_timeout")
    keepalive: float = default_of("keepalive")
    stall_timeout: float = default_of("stall_timeout")
    header_timeout: float = default_of("header_timeout")
    max_connections: int = default_of("max_connections")
    max_connections_per_client: int = default_of("max_connections_per_client")
    hosts: tuple[str, ...] = default_of("hosts")
    trusted_proxies: tuple[str, ...] = default_of("trusted_proxies")
    recordings_dir: str | None = default_of("recordings_dir")
    min_free_bytes: int = default_of("min_free_bytes")
    record: str = default_of("record")
    segment_minutes: float = default_of("segment_minutes")
    max_bytes: int | None = default_of("max_bytes")
    max_age: float | None = default_of("max_age")
    motion_threshold: float = default_of("motion_threshold")
    pre_roll: float = default_of("pre_roll")
    post_roll: float = default_of("post_roll")
    motion_mask: tuple[tuple[float, float, float, float], ...] = default_of(
        "motion_mask"
    )

    @property
    def camera_name(self) -> str:
        """
        The name shown for the camera: C{name}, else the driver's name.
        """
        return self.name or self.camera

    @property
    def server(self) -> ServerSettings:
        """
        The server's settings, as a config file's C{[server]} table would
        give them: listening on C{endpoint}.
        """
        shared = {
            setting.name: getattr(self, setting.name)
            for setting in settings_in(Scope.SERVER | Scope.COMMAND_LINE)
        }
        return ServerSettings(endpoints=(self.endpoint,), **shared)

    @classmethod
    def from_strings(
        cls, values: Mapping[str, str | None], *, env: bool = False
    ) -> ServerConfig:
        """
        Parse settings given as strings, keyed by option name (or, with
        C{env}, by environment variable); absent and L{None} values keep
        their defaults.

        @raise ConfigError: for the first value that cannot be used.
        """
        server: dict[str, Any] = {}
        camera_options: dict[str, Any] = {}
        for setting in settings_in(Scope.COMMAND_LINE):
            raw = values.get(setting.env if env else setting.option)
            if raw is None:
                continue
            name = setting.env if env else f"--{setting.option}"
            value = setting.parse(name, raw)
            target = camera_options if setting.driver_option else server
            target[setting.name] = value
        more = server.pop("option", {})
        twice = sorted(set(more) & set(camera_options))
        if twice:
            raise ConfigError(
                f"driver option {twice[0]} is given twice: as its own setting "
                f"and in {'CAMSERVE_OPTIONS' if env else '--option'}"
            )
        return cls(camera_options={**more, **camera_options}, **server)
