"""
Tests for L{camserve.access._proxies} and a L{CamserveSite} behind a proxy that
speaks the PROXY protocol, on Twisted's C{haproxy:} endpoint over real
sockets.
"""

from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING, Any

import pytest
import pytest_twisted  # type: ignore[import-untyped]  # it ships no type hints
from support import reactor, reactor_test, read_head, wait_until
from twisted.internet.endpoints import serverFromString
from twisted.internet.threads import deferToThread
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from camserve import CamserveSite
from camserve.access._proxies import TrustedProxies, parse_networks

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from twisted.web.server import Request

TIMEOUT = 10


def test_parse_networks_names_the_bad_entry() -> None:
    """
    Addresses and networks are read as networks; anything else is refused,
    naming it and what is allowed.
    """
    assert [
        str(each) for each in parse_networks(["127.0.0.1", " ::1 ", "10.0.0.0/8"])
    ] == [
        "127.0.0.1/32",
        "::1/128",
        "10.0.0.0/8",
    ]
    with pytest.raises(
        ValueError, match=r"'proxy\.lan' is not an IP address or network"
    ):
        parse_networks(["127.0.0.1", "proxy.lan"])


def test_an_ipv4_mapped_peer_is_trusted_as_its_ipv4_address() -> None:
    """
    A proxy reached over a dual-stack socket (C{::ffff:127.0.0.1}) is the
    IPv4 proxy it is.
    """
    proxies = TrustedProxies(parse_networks(["127.0.0.1"]))
    assert proxies.trusts("::ffff:127.0.0.1")
    assert not proxies.trusts("::ffff:127.0.0.2")
    assert not proxies.trusts(None)
    assert not TrustedProxies().trusts("127.0.0.1")


class Held(Resource):
    """
    Answers with the client's address; with C{?hold=1}, writes it and
    never finishes.
    """

    isLeaf = True

    def render_GET(self, request: Request) -> object:
        host = getattr(request.getClientAddress(), "host", "?").encode("ascii")
        if b"hold" in (request.args or {}):
            request.write(host)
            return NOT_DONE_YET
        return host


@pytest_twisted.async_yield_fixture  # type: ignore[untyped-decorator]  # pytest-twisted is untyped
async def proxied() -> AsyncIterator[tuple[CamserveSite, int]]:
    site = CamserveSite(
        Held(),
        reactor,
        max_connections_per_client=1,
        trusted_proxies=TrustedProxies(parse_networks(["127.0.0.1"])),
    )
    endpoint = serverFromString(reactor, "haproxy:tcp:0:interface=127.0.0.1")
    port: Any = await endpoint.listen(site)
    yield site, port.getHost().port
    await port.stopListening()
    await wait_until(lambda: site.open_connections == 0, "connections close")


def proxied_get(port: int, client: str, path: str = "/") -> socket.socket:
    """
    A connection to C{port} as a PROXY-protocol proxy for C{client} makes
    it, asking for C{path}.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.sendall(
        f"PROXY TCP4 {client} 127.0.0.1 40000 80\r\n"
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode("ascii")
    )
    return sock


@reactor_test
async def test_the_proxy_protocol_names_each_client(
    proxied: tuple[CamserveSite, int],
) -> None:
    """
    Behind a trusted proxy that speaks the PROXY protocol, each client is
    the one its header names: served as that address, and limited as
    itself (one connection here), not as the proxy.
    """
    site, port = proxied
    first = await deferToThread(proxied_get, port, "203.0.113.7", "/?hold=1")
    head = await deferToThread(read_head, first, time.monotonic() + TIMEOUT)
    assert head.status == b"HTTP/1.1 200 OK"
    assert b"203.0.113.7" in head.body
    second = await deferToThread(proxied_get, port, "203.0.113.7")
    head = await deferToThread(read_head, second, time.monotonic() + TIMEOUT)
    assert head.status == b"HTTP/1.1 503 Service Unavailable"
    other = await deferToThread(proxied_get, port, "198.51.100.3")
    head = await deferToThread(read_head, other, time.monotonic() + TIMEOUT)
    assert head.status == b"HTTP/1.1 200 OK"
    assert b"198.51.100.3" in head.body
    for sock in (first, second, other):
        sock.close()
    await wait_until(lambda: site.open_connections == 0, "connections close")
    again = await deferToThread(proxied_get, port, "203.0.113.7")
    head = await deferToThread(read_head, again, time.monotonic() + TIMEOUT)
    again.close()
    assert head.status == b"HTTP/1.1 200 OK"
