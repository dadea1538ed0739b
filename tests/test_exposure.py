"""
Tests for L{camserve.access._exposure}: the warning for listeners that other
machines can reach.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import pytest
from twisted.internet import reactor
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.endpoints import serverFromString
from twisted.internet.protocol import Factory, Protocol

from camserve.access._exposure import exposure_warning

if TYPE_CHECKING:
    from pathlib import Path

    from twisted.internet.interfaces import IListeningPort

_ADVICE = (
    "with no login: anyone who can reach this port can watch the cameras; "
    "see the README's Security section"
)


@pytest.mark.parametrize(
    ("address", "where"),
    [
        (IPv4Address("TCP", "0.0.0.0", 8080), "all interfaces"),
        (IPv6Address("TCP", "::", 8080), "all interfaces"),
        (IPv4Address("TCP", "192.168.1.20", 8080), "192.168.1.20"),
        (IPv4Address("TCP", "10.0.0.1", 8080), "10.0.0.1"),
        (IPv6Address("TCP", "fe80::1", 8080), "fe80::1"),
        (IPv6Address("TCP", "2001:db8::1", 8080), "2001:db8::1"),
        (IPv6Address("TCP", "::ffff:192.168.1.20", 8080), "::ffff:192.168.1.20"),
        (IPv4Address("TCP", "camera.example", 8080), "camera.example"),
    ],
)
def test_a_listener_others_reach_is_warned_about(
    address: IPv4Address | IPv6Address, where: str
) -> None:
    """
    A listener on all interfaces, or on an address other than loopback
    (or on a host that is no IP address, being unknown), gets one line that
    says where it listens, on which endpoint, and what that means.
    """
    assert exposure_warning("tcp:8080", address) == (
        f"camserve is listening on {where} (tcp:8080) {_ADVICE}"
    )


@pytest.mark.parametrize(
    "address",
    [
        IPv4Address("TCP", "127.0.0.1", 8080),
        IPv4Address("TCP", "127.1.2.3", 8080),
        IPv6Address("TCP", "::1", 8080),
        IPv6Address("TCP", "::ffff:127.0.0.1", 8080),
        UNIXAddress(b"/run/camserve.sock"),
        UNIXAddress(None),
    ],
)
def test_a_listener_only_this_machine_reaches_is_not_warned_about(
    address: IPv4Address | IPv6Address | UNIXAddress,
) -> None:
    """
    A listener on a loopback address, IPv4 or IPv6, or on a Unix socket,
    gets no warning.
    """
    assert exposure_warning("tcp:8080:interface=127.0.0.1", address) is None


@pytest.mark.parametrize(
    "description", ["tcp:0:interface=127.0.0.1", "unix:{tmp}/camserve.sock"]
)
def test_a_real_loopback_or_unix_listener_is_not_warned_about(
    description: str, tmp_path: Path
) -> None:
    """
    The address a real port on 127.0.0.1, or on a Unix socket, gives as its
    C{getHost()} gets no warning.
    """
    endpoint = serverFromString(reactor, description.format(tmp=tmp_path))
    listening = endpoint.listen(Factory.forProtocol(Protocol))
    port = cast("IListeningPort", listening.result)
    try:
        assert exposure_warning(description, port.getHost()) is None
    finally:
        port.stopListening()
