"""
Tests for L{camserve.streams._send_queue}: bounding what a stream's connection
queues, on real TCP connections over loopback.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from support import loopback_connection, reactor_test
from twisted.internet.testing import StringTransport

from camserve.streams import _send_queue
from camserve.streams._send_queue import bound_send_queue, tcp_connection

pytestmark = pytest.mark.skipif(
    _send_queue.NOTSENT_LOWAT is None, reason="the system has no TCP_NOTSENT_LOWAT"
)


class Wrapper:
    """
    A transport layered over another, as Twisted's TLS layer is.
    """

    def __init__(self, transport: object) -> None:
        self.transport = transport


def lowat(connection: Any) -> int:
    """
    The socket's C{TCP_NOTSENT_LOWAT}.
    """
    assert _send_queue.NOTSENT_LOWAT is not None
    value: int = connection.getHandle().getsockopt(
        socket.IPPROTO_TCP, _send_queue.NOTSENT_LOWAT
    )
    return value


@reactor_test
async def test_bounds_twisted_and_the_kernel() -> None:
    """
    On a TCP connection, Twisted pauses the producer at the first byte
    buffered, and the kernel holds at most the given bytes unsent.
    """
    transport, client, port = await loopback_connection()
    try:
        assert bound_send_queue(transport, 40_000)
        assert transport.bufferSize == 0
        assert lowat(transport) == 40_000
    finally:
        client.close()
        transport.abortConnection()
        await port.stopListening()


@reactor_test
async def test_finds_the_connection_under_a_layer() -> None:
    """
    The TCP connection under a layered transport, such as TLS, is the one
    bounded.
    """
    transport, client, port = await loopback_connection()
    try:
        assert bound_send_queue(Wrapper(transport), 5000)
        assert transport.bufferSize == 0
        assert lowat(transport) == 5000
        assert tcp_connection(Wrapper(transport)) == transport
    finally:
        client.close()
        transport.abortConnection()
        await port.stopListening()


@reactor_test
async def test_without_the_option_only_twisted_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """
    Where the system lacks C{TCP_NOTSENT_LOWAT}, Twisted's buffer is still
    bounded, the socket is left as it was, and the answer says so.
    """
    transport, client, port = await loopback_connection()
    before = lowat(transport)
    monkeypatch.setattr(_send_queue, "NOTSENT_LOWAT", None)
    try:
        assert not bound_send_queue(transport, 5000)
        assert transport.bufferSize == 0
        monkeypatch.undo()
        assert lowat(transport) == before
    finally:
        client.close()
        transport.abortConnection()
        await port.stopListening()


def test_other_transports_are_left_alone() -> None:
    """
    A transport with no TCP connection under it is neither changed nor
    reported bounded.
    """
    transport = StringTransport()
    assert tcp_connection(transport) is None
    assert not bound_send_queue(transport, 5000)
    assert not hasattr(transport, "bufferSize")
