# -*- test-case-name: tests.test_config_file -*-
"""
A config file's C{[server]} table: where to listen, the timeouts of every
camera that does not set its own, the HTTP server's limits, the host names
it answers to and the proxies it trusts.
"""

from __future__ import annotations

import re

from attrs import frozen

from camserve._errors import ConfigError
from camserve.access._proxies import parse_networks
from camserve.config._settings import ServerConfig, bounded_number, positive_number
from camserve.config._toml_values import NumberText, setting_value, shown

_DEFAULTS = ServerConfig()
TIMEOUTS = ("idle_timeout", "start_timeout", "keepalive", "stall_timeout")
"""The keys of the four timeouts a camera may set for itself."""
_LIMITS = {
    "header_timeout": positive_number,
    "max_connections": bounded_number(int, 1),
    "max_connections_per_client": bounded_number(int, 1),
}
"""The C{[server]} keys of the HTTP server's limits, with their parsers."""
_SERVER_KEYS = ("endpoints", "hosts", "trusted_proxies", *TIMEOUTS, *_LIMITS)
_HOST = re.compile(r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


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


def server_table(table: object) -> ServerSettings:
    """
    The C{[server]} table's settings.
    """
    if not isinstance(table, dict):
        raise ConfigError(f"server must be a table ([server]), not {shown(table)}")
    unknown = sorted(set(table) - set(_SERVER_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown key {unknown[0]!r} in [server]; "
            f"allowed: {', '.join(sorted(_SERVER_KEYS))}"
        )
    values = {
        key: setting_value(key, f"[server] {key}", table[key])
        for key in TIMEOUTS
        if key in table
    }
    for key, parse in _LIMITS.items():
        if key in table:
            values[key] = parse(f"[server] {key}", NumberText(table[key]))
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
            f'e.g. ["127.0.0.1", "10.0.0.0/8"], not {shown(value)}'
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
            f"not {shown(value)}"
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
            f'descriptions, e.g. ["tcp:8080"], not {shown(value)}'
        )
    for index, description in enumerate(value):
        if description in value[:index]:
            raise ConfigError(f"[server] endpoints lists {description!r} twice")
    return tuple(value)
