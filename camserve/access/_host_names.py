# -*- test-case-name: tests.test_site -*-
"""
The host names a request's C{Host} header may give: IP addresses,
C{localhost}, and the names a site is told of.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Set as AbstractSet


def answers_to(host: bytes, allowed: AbstractSet[str]) -> bool:
    """
    Whether a request whose C{Host} header is C{host} is for a site whose
    names are C{allowed} (lowercased, without a final dot): its host,
    without the port, is an IPv4 address, an IPv6 address in brackets,
    C{localhost}, or one of C{allowed} (in any case, with or without a
    final dot).
    """
    name = host_name(host)
    if name is None:
        return False
    if is_ip_literal(name):
        return True
    name = name.removesuffix(".")
    return name == "localhost" or name in allowed


def host_name(host: bytes) -> str | None:
    """
    The name or address in the C{Host} header value C{host}, lowercased and
    without its port (an IPv6 address keeps its brackets); C{None} if
    C{host} is not a host with an optional port.
    """
    try:
        text = host.decode("ascii").strip().lower()
    except UnicodeDecodeError:
        return None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        name, rest = text[: end + 1], text[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port = rest[1:]
    else:
        name, _, port = text.partition(":")
    if not name or not (port == "" or port.isdigit()):
        return None
    return name


def is_ip_literal(name: str) -> bool:
    """
    Whether the host C{name} is an IPv4 address, or an IPv6 address in
    brackets.
    """
    bracketed = name.startswith("[") and name.endswith("]")
    try:
        address = ipaddress.ip_address(name[1:-1] if bracketed else name)
    except ValueError:
        return False
    return address.version == (6 if bracketed else 4)
