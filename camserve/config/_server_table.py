# -*- test-case-name: tests.test_config_file -*-
"""
A config file's C{[server]} table: where to listen, the timeouts of every
camera that does not set its own, the HTTP server's limits, the host names
it answers to and the proxies it trusts.
"""

from __future__ import annotations

from attrs import frozen

from camserve._errors import ConfigError
from camserve.config._settings import Scope, default_of, settings_in
from camserve.config._toml_values import known_keys, shown

_SERVER = settings_in(Scope.SERVER)


@frozen
class ServerSettings:
    """
    The C{[server]} table: where to listen, and the timeouts of every camera
    that does not set its own; each setting's default where the table
    does not set it.

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

    endpoints: tuple[str, ...] = default_of("endpoints")
    idle_timeout: float = default_of("idle_timeout")
    start_timeout: float = default_of("start_timeout")
    keepalive: float = default_of("keepalive")
    stall_timeout: float = default_of("stall_timeout")
    header_timeout: float = default_of("header_timeout")
    max_connections: int = default_of("max_connections")
    max_connections_per_client: int = default_of("max_connections_per_client")
    hosts: tuple[str, ...] = default_of("hosts")
    trusted_proxies: tuple[str, ...] = default_of("trusted_proxies")


def server_table(table: object) -> ServerSettings:
    """
    The C{[server]} table's settings.
    """
    if not isinstance(table, dict):
        raise ConfigError(f"server must be a table ([server]), not {shown(table)}")
    known_keys(table, sorted(setting.name for setting in _SERVER), "[server]")
    return ServerSettings(
        **{
            setting.name: setting.read(f"[server] {setting.name}", table[setting.name])
            for setting in _SERVER
            if setting.name in table
        }
    )
