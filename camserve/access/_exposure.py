# -*- test-case-name: tests.test_exposure -*-
"""
The warning camserve logs at start for each listener that other machines
can reach, while it has no login: whoever reaches such a port can watch the
cameras.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from twisted.internet.interfaces import IAddress

_ALL_INTERFACES = ("", "0.0.0.0", "::")


def exposure_warning(description: str, address: IAddress) -> str | None:
    """
    The one-line warning for a listener without login on C{address} (the
    listening port's C{getHost()}), described to the user as
    C{description} (its endpoint string); C{None} if only this machine can
    reach it: a loopback address (C{127.0.0.0/8}, C{::1}, or an IPv4 one
    mapped into IPv6) or a Unix socket. An address that is not an IP
    address is warned about, being unknown.
    """
    host = getattr(address, "host", None)
    if host is None or getattr(address, "port", None) is None:
        return None
    if host in _ALL_INTERFACES:
        where = "all interfaces"
    else:
        if _is_loopback(host):
            return None
        where = host
    return (
        f"camserve is listening on {where} ({description}) with no login: "
        "anyone who can reach this port can watch the cameras; "
        "see the README's Security section"
    )


def _is_loopback(host: str) -> bool:
    """
    Whether C{host} is a loopback IP address, including an IPv4 loopback
    address mapped into IPv6.
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
