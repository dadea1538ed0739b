# -*- test-case-name: tests.test_proxies,tests.test_nginx -*-
"""
Reverse proxies trusted to say who their client is: behind one, every
connection comes from the proxy's address, and the client's is the one the
proxy adds to C{X-Forwarded-For}.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.web.server import Request

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from twisted.web.http_headers import Headers

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ForwardedForError(ValueError):
    """
    A trusted proxy's C{X-Forwarded-For} names something that is not an IP
    address where the client's should be, or its C{X-Forwarded-Proto} an
    unknown scheme.
    """


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """
    The networks of C{entries}, each an IP address (C{"127.0.0.1"},
    C{"::1"}) or a network (C{"10.0.0.0/8"}).

    @raise ValueError: naming the first entry that is neither.
    """
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"{entry!r} is not an IP address or network"
                " (e.g. 127.0.0.1, ::1 or 10.0.0.0/8)"
            ) from None
    return tuple(networks)


class TrustedProxies:
    """
    The addresses of the reverse proxies whose C{X-Forwarded-For} is
    believed.
    """

    def __init__(self, networks: Sequence[Network] = ()) -> None:
        self.networks = tuple(networks)

    def trusts(self, host: str | None) -> bool:
        """
        Whether a connection from the address C{host} is from a trusted
        proxy.
        """
        if host is None or not self.networks:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return _within(address, self.networks)

    def client_of(self, peer: str, forwarded: Sequence[bytes]) -> str:
        """
        The client of a request a trusted proxy at C{peer} sent with the
        C{X-Forwarded-For} header values C{forwarded}: the address nearest
        the end of the list (the one the proxy itself added) that is not
        another trusted proxy's; C{peer} if the list has none.

        @raise ForwardedForError: if an entry that would be the client is
            not an IP address.
        """
        entries = [
            entry.strip()
            for value in forwarded
            for entry in value.decode("latin-1").split(",")
        ]
        for entry in reversed(entries):
            try:
                address = ipaddress.ip_address(_without_port(entry))
            except ValueError:
                raise ForwardedForError(
                    f"X-Forwarded-For names {entry[:60]!r}, not an IP address"
                ) from None
            if not _within(address, self.networks):
                return str(address)
        return peer


class CamserveRequest(Request):
    """
    A request whose scheme a trusted proxy may have given.

    @ivar forwarded_scheme: C{b"https"} or C{b"http"} as a trusted proxy's
        C{X-Forwarded-Proto} says; L{None} for the connection's own.
    """

    forwarded_scheme: bytes | None = None

    def isSecure(self) -> bool:
        """
        Whether the client's request came over TLS: to the proxy, if a
        trusted one said so, else to camserve.
        """
        if self.forwarded_scheme is not None:
            return self.forwarded_scheme == b"https"
        return bool(super().isSecure())


def take_forwarded(
    request: Any, proxies: TrustedProxies, peer: str | None
) -> str | None:
    """
    If C{peer}, where C{request} came from, is one of C{proxies}, make the
    request's client and scheme those the proxy forwards (a
    L{CamserveRequest}'s); its client, or L{None} if C{peer} is not trusted.

    @raise ForwardedForError: if the proxy's C{X-Forwarded-For} does not
        name the client by address, or its C{X-Forwarded-Proto} names
        neither C{http} nor C{https}.
    """
    if peer is None or not proxies.trusts(peer):
        return None
    headers: Headers = request.requestHeaders
    client = proxies.client_of(peer, headers.getRawHeaders(b"x-forwarded-for", []))
    schemes = headers.getRawHeaders(b"x-forwarded-proto", [])
    if schemes:
        scheme = schemes[-1].split(b",")[-1].strip().lower()
        if scheme not in (b"http", b"https"):
            raise ForwardedForError("X-Forwarded-Proto is neither http nor https")
        request.forwarded_scheme = scheme
    kind = IPv6Address if ":" in client else IPv4Address
    request.client = kind("TCP", client, 0)
    return client


def _within(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
    networks: Sequence[Network],
) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def _without_port(entry: str) -> str:
    """
    The address of an C{X-Forwarded-For} entry, which some proxies write
    with a port (C{192.0.2.1:5000}, C{[2001:db8::1]:5000}).
    """
    if entry.startswith("["):
        return entry[1:].partition("]")[0]
    if entry.count(":") == 1:
        return entry.partition(":")[0]
    return entry
